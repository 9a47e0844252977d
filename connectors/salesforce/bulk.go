package salesforce

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/sluicehq/sluice/connectors/internal/redact"

	"github.com/sluicehq/sluice/connectors/destination"
)

// Bulk API 2.0 ingest jobs (the Bulk path of a large run): for each Write,
// create an upsert job, upload its records as one CSV (a job takes one
// upload of at most 100 MB: a Write whose CSV would be larger runs several
// jobs, one after the other), close it (UploadComplete), poll its state
// with a growing wait, then read its successful, failed and unprocessed
// results. Their order is not the upload's, so they are matched back to
// the records by external id. Memory holds one CSV part and one result row
// at a time besides the batch itself.

// maxUpload is the most CSV bytes sent in one job: under Salesforce's
// 100 MB upload limit (150 MB once base64-encoded), with room to spare.
const maxUpload = 90 << 20

// Job states.
const (
	jobComplete = "JobComplete"
	jobFailed   = "Failed"
	jobAborted  = "Aborted"
)

// errNotProcessed is the error of a record a job left unprocessed (it
// failed or was aborted first).
var errNotProcessed = errors.New("Salesforce's Bulk job did not process this record: it is sent again next run")

// jobInfo is what sluice reads of an ingest job.
type jobInfo struct {
	ID             string `json:"id"`
	State          string `json:"state"`
	ErrorMessage   string `json:"errorMessage"`
	Processed      int64  `json:"numberRecordsProcessed"`
	Failed         int64  `json:"numberRecordsFailed"`
	ContentURL     string `json:"contentUrl"`
	Object         string `json:"object"`
	ExternalIDName string `json:"externalIdFieldName"`
}

// bulkPart is the CSV of one job and the records it holds, by key.
type bulkPart struct {
	csv   bytes.Buffer
	byKey map[string][]int // external id, lower-cased: record indexes
	n     int
}

// bulkUpsert sends the records at idx through ingest jobs.
func (sf *Salesforce) bulkUpsert(ctx context.Context, recs []destination.Record, idx []int, errs []error) error {
	if len(idx) == 0 {
		return nil
	}
	header := append([]string{sf.extID}, sf.fields...)
	part := sf.newPart(header)
	var row bytes.Buffer
	for _, i := range idx {
		key := strings.ToLower(sf.idOf(recs[i]))
		if _, dup := part.byKey[key]; dup {
			errs[i] = errors.New("another record of this batch has the same external id: this one is sent again next run")
			continue
		}
		row.Reset()
		if err := sf.csvRow(&row, recs[i]); err != nil {
			errs[i] = err
			continue
		}
		if part.n > 0 && part.csv.Len()+row.Len() > sf.maxPart {
			if err := sf.runJob(ctx, part, recs, errs); err != nil {
				return err
			}
			part = sf.newPart(header)
		}
		part.csv.Write(row.Bytes())
		part.byKey[key] = append(part.byKey[key], i)
		part.n++
		// The row is the record from now on (results name it by external
		// id): the mapped fields need not wait through the job.
		recs[i].Fields = nil
	}
	if part.n == 0 {
		return nil
	}
	return sf.runJob(ctx, part, recs, errs)
}

func (sf *Salesforce) newPart(header []string) *bulkPart {
	p := &bulkPart{byKey: map[string][]int{}}
	w := csv.NewWriter(&p.csv)
	_ = w.Write(header)
	w.Flush()
	return p
}

// csvRow writes a record as a CSV line: #N/A clears a field (an empty
// value would leave it as it is).
func (sf *Salesforce) csvRow(buf *bytes.Buffer, r destination.Record) error {
	row := make([]string, 0, len(sf.fields)+1)
	row = append(row, sf.idOf(r))
	for _, f := range sf.fields {
		v, ok := r.Fields[f]
		if !ok {
			row = append(row, "")
			continue
		}
		s, err := csvValue(v)
		if err != nil {
			return fmt.Errorf("field %s: %w", f, err)
		}
		row = append(row, s)
	}
	w := csv.NewWriter(buf)
	if err := w.Write(row); err != nil {
		return err
	}
	w.Flush()
	return w.Error()
}

func csvValue(v any) (string, error) {
	switch t := v.(type) {
	case nil:
		return "#N/A", nil
	case string:
		return t, nil
	case []byte:
		return string(t), nil
	case bool:
		return strconv.FormatBool(t), nil
	case float32:
		return csvValue(float64(t))
	case float64:
		if math.IsNaN(t) || math.IsInf(t, 0) {
			return "", errors.New("Salesforce takes no NaN or infinite number")
		}
		return strconv.FormatFloat(t, 'f', -1, 64), nil
	case time.Time:
		return formatTime(t), nil
	case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, json.Number:
		return fmt.Sprint(t), nil
	}
	return "", fmt.Errorf("a %T is not a value Salesforce takes for a field (strings, numbers, booleans, times)", v)
}

// runJob creates, fills, closes and waits for one job, then reads its
// results into errs. A job Salesforce refuses at creation (an unknown
// field, say) refuses every record of the part.
func (sf *Salesforce) runJob(ctx context.Context, p *bulkPart, recs []destination.Record, errs []error) error {
	var job jobInfo
	create := map[string]string{"object": sf.object, "externalIdFieldName": sf.extID, "contentType": "CSV",
		"operation": "upsert", "lineEnding": "LF", "columnDelimiter": "COMMA"}
	status, body, err := sf.exchange(ctx, http.MethodPost, sf.apiPath("/jobs/ingest"), create)
	if err != nil {
		return sf.fail("creating a Bulk API job", err)
	}
	if status < 200 || status > 299 {
		return sf.refuseAll(recs, p.indexes(), status, body, errs, "creating a Bulk API job")
	}
	if err := json.Unmarshal(body, &job); err != nil || job.ID == "" {
		return sf.cfg.Errorf("creating a Bulk API job: Salesforce's answer has no job id")
	}
	if err := sf.uploadAndClose(ctx, job.ID, p); err != nil {
		sf.abortJob(job.ID)
		return err
	}
	if job, err = sf.waitJob(ctx, job.ID, p.n); err != nil {
		return err
	}
	return sf.readResults(ctx, job, p, recs, errs)
}

func (p *bulkPart) indexes() []int {
	out := make([]int, 0, p.n)
	for _, idx := range p.byKey {
		out = append(out, idx...)
	}
	return out
}

func (sf *Salesforce) uploadAndClose(ctx context.Context, id string, p *bulkPart) error {
	h := http.Header{}
	h.Set("Content-Type", "text/csv")
	resp, err := sf.do(ctx, http.MethodPut, sf.apiPath("/jobs/ingest/"+id+"/batches"), h, p.csv.Bytes())
	if err != nil {
		return sf.fail("uploading a Bulk API job's records", err)
	}
	b, err := destination.ReadBody(resp, 1<<20)
	if err != nil {
		return sf.fail("uploading a Bulk API job's records", err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return sf.fail("uploading a Bulk API job's records", apiError(resp.StatusCode, b))
	}
	if err := sf.call(ctx, http.MethodPatch, sf.apiPath("/jobs/ingest/"+id), map[string]string{"state": "UploadComplete"}, nil); err != nil {
		return sf.fail("closing a Bulk API job", err)
	}
	return nil
}

// abortJob tells Salesforce to drop a job that will not be closed, on a
// context of its own (the run's may be cancelled); best effort.
func (sf *Salesforce) abortJob(id string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := sf.call(ctx, http.MethodPatch, sf.apiPath("/jobs/ingest/"+id), map[string]string{"state": "Aborted"}, nil); err != nil {
		sf.cfg.Logger.Debug("aborting a Bulk API job", "job", id, "error", err)
	}
}

// waitJob polls a job until it ends, waiting longer between polls (from
// 2 s, doubling up to a minute): each poll is one API request, and a job
// of 150,000 records that takes three minutes costs seven, which keeps a
// million records under a hundred requests. A small job is polled at once
// (it is often done); a large one is given the first wait first.
func (sf *Salesforce) waitJob(ctx context.Context, id string, records int) (jobInfo, error) {
	wait := sf.pollMin
	if records > 10_000 {
		if err := sleep(ctx, wait); err != nil {
			return jobInfo{}, err
		}
		wait *= 2
	}
	for {
		var job jobInfo
		if err := sf.call(ctx, http.MethodGet, sf.apiPath("/jobs/ingest/"+id), nil, &job); err != nil {
			return job, sf.fail("reading a Bulk API job's state", err)
		}
		switch job.State {
		case jobComplete, jobFailed, jobAborted:
			job.ID = id
			return job, nil
		}
		if err := sleep(ctx, wait); err != nil {
			return job, err
		}
		wait = min(wait*2, sf.pollMax)
	}
}

// readResults gives every record of the part its outcome from the job's
// three result sets, matched by external id; a record none of them lists
// is not delivered.
func (sf *Salesforce) readResults(ctx context.Context, job jobInfo, p *bulkPart, recs []destination.Record, errs []error) error {
	seen := make(map[int]bool, p.n)
	var jobErr error = errNotProcessed
	if job.State != jobComplete && job.ErrorMessage != "" {
		jobErr = fmt.Errorf("Salesforce's Bulk job ended %s (%s): this record is sent again next run", job.State, redact.Message(job.ErrorMessage))
	}
	sets := []struct {
		name string
		row  func(i int, get func(string) string)
	}{
		{"successfulResults", func(i int, get func(string) string) { errs[i], recs[i].RemoteID = nil, get("sf__Id") }},
		{"failedResults", func(i int, get func(string) string) {
			errs[i] = bulkError(get("sf__Error"), get(sf.extID), recs[i].Key)
		}},
		{"unprocessedrecords", func(i int, _ func(string) string) { errs[i] = jobErr }},
	}
	for _, set := range sets {
		if err := sf.readResultSet(ctx, job.ID, set.name, p, seen, set.row); err != nil {
			return err
		}
	}
	for _, idx := range p.byKey {
		for _, i := range idx {
			if !seen[i] {
				errs[i] = errNotAccounted
				if job.State != jobComplete {
					errs[i] = jobErr
				}
			}
		}
	}
	return nil
}

// readResultSet streams one result CSV and calls row for each record it
// names.
func (sf *Salesforce) readResultSet(ctx context.Context, id, name string, p *bulkPart, seen map[int]bool, row func(int, func(string) string)) error {
	h := http.Header{}
	h.Set("Accept", "text/csv")
	doing := "reading a Bulk API job's " + name
	resp, err := sf.do(ctx, http.MethodGet, sf.apiPath("/jobs/ingest/"+id+"/"+name), h, nil)
	if err != nil {
		return sf.fail(doing, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := destination.ReadBody(resp, 64<<10)
		return sf.fail(doing, apiError(resp.StatusCode, b))
	}
	r := csv.NewReader(resp.Body)
	r.FieldsPerRecord = -1
	r.ReuseRecord = true
	head, err := r.Read()
	if errors.Is(err, io.EOF) {
		return nil
	}
	if err != nil {
		return sf.fail(doing, err)
	}
	col := map[string]int{}
	for k, c := range head {
		col[strings.ToLower(strings.TrimPrefix(c, "\ufeff"))] = k
	}
	keyCol, ok := col[strings.ToLower(sf.extID)]
	if !ok {
		return sf.cfg.Errorf("%s: the results have no %s column to match records by", doing, sf.extID)
	}
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return sf.fail(doing, err)
		}
		get := func(c string) string {
			if k, ok := col[strings.ToLower(c)]; ok && k < len(rec) {
				return rec[k]
			}
			return ""
		}
		if keyCol >= len(rec) {
			continue
		}
		for _, i := range p.byKey[strings.ToLower(rec[keyCol])] {
			seen[i] = true
			row(i, get)
		}
	}
}

// bulkError reads a failed result's sf__Error: "STATUS_CODE:message:fields --"
// (the message may hold colons itself; fields may be empty).
func bulkError(s string, values ...string) *APIError {
	code, rest, ok := strings.Cut(s, ":")
	if !ok || !codeRE.MatchString(code) {
		return &APIError{Code: "BULK_ERROR", Message: redact.Message(s, values...)}
	}
	rest = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "--"))
	var fields []string
	if k := strings.LastIndex(rest, ":"); k >= 0 && fieldListRE.MatchString(strings.TrimSpace(rest[k+1:])) {
		for _, f := range strings.Split(rest[k+1:], ",") {
			if f = strings.TrimSpace(f); f != "" {
				fields = append(fields, f)
			}
		}
		rest = rest[:k]
	}
	return &APIError{Code: code, Message: redact.Message(strings.TrimSpace(rest), values...), Fields: fields}
}

var (
	codeRE      = regexp.MustCompile(`^[A-Z][A-Z0-9_]*$`)
	fieldListRE = regexp.MustCompile(`^([A-Za-z][A-Za-z0-9_]*(\s*,\s*[A-Za-z][A-Za-z0-9_]*)*)?$`)
)
