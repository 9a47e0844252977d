package fake

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Bulk API 2.0 ingest ("Bulk API 2.0 and Bulk API Developer Guide",
// https://developer.salesforce.com/docs/atlas.en-us.api_asynch.meta/api_asynch/bulk_api_2_0.htm):
// create a job, PUT CSV to its batches URL, PATCH state UploadComplete,
// poll until JobComplete or Failed, then read successfulResults
// (sf__Id,sf__Created,<columns>), failedResults (sf__Id,sf__Error,<columns>)
// and unprocessedrecords (<columns>). Result rows come in no particular
// order; the fake shuffles them (seeded) so clients match by key.

// job is one ingest job.
type job struct {
	id, object, extField, operation, state, lineEnding string
	created                                            time.Time
	version                                            int
	header                                             []string
	rows                                               [][]string
	pollsLeft                                          int
	uploaded                                           bool   // Salesforce takes one upload per job
	uploadErr                                          string // why the upload cannot be processed
	errorMessage                                       string
	success, failed                                    []outcome
	// processed is closed when processing ends (nil until the upload is
	// complete), next is the rows processed so far and final the state
	// processing ended in, shown from the poll that completes the job.
	processed chan struct{}
	next      int
	final     string
}

// bulkChunk is the rows processed between two releases of the org's lock:
// Salesforce processes a job in chunks, and other requests go on meanwhile.
const bulkChunk = 1000

// outcome is the result of one uploaded row; the result CSVs are written
// from it and the row when read, not kept as text.
type outcome struct {
	row     int    // index in job.rows
	id      string // sf__Id ("" when none)
	created bool
	err     string // sf__Error of a failed row
}

// jobRequest is the body of a job creation.
type jobRequest struct {
	Object              string `json:"object"`
	ExternalIDFieldName string `json:"externalIdFieldName"`
	ContentType         string `json:"contentType"`
	Operation           string `json:"operation"`
	LineEnding          string `json:"lineEnding"`
	ColumnDelimiter     string `json:"columnDelimiter"`
}

// createJob serves POST jobs/ingest.
func (s *Server) createJob(c *call) {
	var req jobRequest
	if !c.decode(&req) {
		return
	}
	o := s.object(req.Object)
	switch {
	case o == nil:
		c.fail(http.StatusBadRequest, "INVALIDENTITY", fmt.Sprintf("sObject type '%s' is not supported.", req.Object))
		return
	case !slices.Contains([]string{"insert", "upsert", "delete"}, req.Operation):
		c.fail(http.StatusBadRequest, "INVALIDJOB", "Invalid operation: "+req.Operation)
		return
	case req.ContentType != "" && req.ContentType != "CSV":
		c.fail(http.StatusBadRequest, "INVALIDJOB", "Invalid content type: "+req.ContentType)
		return
	case req.ColumnDelimiter != "" && req.ColumnDelimiter != "COMMA":
		c.fail(http.StatusBadRequest, "INVALIDJOB", "The fake supports only the COMMA column delimiter")
		return
	case req.LineEnding != "" && req.LineEnding != "LF" && req.LineEnding != "CRLF":
		c.fail(http.StatusBadRequest, "INVALIDJOB", "Invalid line ending: "+req.LineEnding)
		return
	}
	ext := ""
	if req.Operation == "upsert" {
		f := o.field(req.ExternalIDFieldName)
		if f == nil || !(f.ExternalID || f.IDLookup) {
			c.fail(http.StatusBadRequest, "INVALIDJOB", fmt.Sprintf("The field %q is not an External ID or indexed field for %s", req.ExternalIDFieldName, o.Name))
			return
		}
		ext = f.Name
	}
	j := &job{object: o.Name, extField: ext, operation: req.Operation, state: "Open",
		lineEnding: cmpOr(req.LineEnding, "LF"), created: c.now, version: c.version, pollsLeft: s.opts.BulkPolls}
	s.mu.Lock()
	j.id = s.newID("750")
	s.jobs[j.id] = j
	s.mu.Unlock()
	c.json(http.StatusOK, j.info(false))
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// info is the job's JobInfo document.
func (j *job) info(counts bool) map[string]any {
	stamp := j.created.UTC().Format("2006-01-02T15:04:05.000+0000")
	out := map[string]any{
		"id": j.id, "operation": j.operation, "object": j.object, "createdById": userID + "AAA",
		"createdDate": stamp, "systemModstamp": stamp, "state": j.state, "concurrencyMode": "Parallel",
		"contentType": "CSV", "apiVersion": float64(j.version), "jobType": "V2Ingest", "lineEnding": j.lineEnding,
		"columnDelimiter": "COMMA", "contentUrl": fmt.Sprintf("services/data/v%d.0/jobs/ingest/%s/batches", j.version, j.id),
	}
	if j.extField != "" {
		out["externalIdFieldName"] = j.extField
	}
	if counts {
		out["numberRecordsProcessed"] = len(j.success) + len(j.failed)
		out["numberRecordsFailed"] = len(j.failed)
		out["retries"], out["totalProcessingTime"], out["apiActiveProcessingTime"], out["apexProcessingTime"] = 0, 0, 0, 0
		if j.errorMessage != "" {
			out["errorMessage"] = j.errorMessage
		}
	}
	return out
}

// theJob finds the job of the path, answering 404 when there is none.
func (s *Server) theJob(c *call) *job {
	s.mu.Lock()
	j := s.jobs[c.params["jobId"]]
	s.mu.Unlock()
	if j == nil {
		c.notFound()
	}
	return j
}

// upload serves PUT jobs/ingest/{id}/batches: text/csv, at most
// MaxUploadBytes ("Upload Job Data": 150 MB after base64, so 100 MB of
// raw CSV), only while the job is Open. The guide leaves open whether a job
// takes several uploads; real orgs refuse a second PUT with "Found multiple
// contents for job: ..., please 'Close' / 'Abort' / 'Delete' the current
// Job then create a new Job and make sure you only do 'PUT' once on a
// given Job." (observed), so the fake takes one upload per job.
func (s *Server) upload(c *call) {
	j := s.theJob(c)
	if j == nil {
		return
	}
	if mt, _, _ := mime.ParseMediaType(c.r.Header.Get("Content-Type")); mt != "text/csv" {
		s.violation("PUT batches: Content-Type " + mt + ", want text/csv")
		c.fail(http.StatusUnsupportedMediaType, "INVALIDCONTENTTYPE", "Content-Type must be text/csv")
		return
	}
	body, ok := c.readBody(s.opts.MaxUploadBytes)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case j.state != "Open":
		s.violationLocked("PUT batches: job in state " + j.state)
		c.fail(http.StatusBadRequest, "INVALIDJOBSTATE", "Job is not in the Open state; data can be uploaded only to an Open job")
		return
	case j.uploaded:
		s.violationLocked("PUT batches: a second upload to one job")
		c.fail(http.StatusBadRequest, "INVALIDJOBSTATE", "Found multiple contents for job: "+j.id+
			", please 'Close' / 'Abort' / 'Delete' the current Job then create a new Job and make sure you only do 'PUT' once on a given Job.")
		return
	}
	j.uploaded = true
	s.parseUpload(j, body)
	c.status = http.StatusCreated
	c.w.WriteHeader(http.StatusCreated)
}

// parseUpload keeps an upload's header and rows; a CSV Salesforce cannot
// read fails the job once it is processed, not at upload. s.mu held.
func (s *Server) parseUpload(j *job, body []byte) {
	if j.lineEnding == "LF" && bytes.Contains(body, []byte("\r\n")) {
		j.uploadErr = "ClientInputError : LineEnding is invalid on user data. Current LineEnding setting is LF"
		return
	}
	r := csv.NewReader(bytes.NewReader(body))
	r.FieldsPerRecord = -1
	rows, err := r.ReadAll()
	switch {
	case err != nil:
		j.uploadErr = "InvalidBatch : Failed to parse CSV: " + csvProblem(err)
	case len(rows) == 0:
		j.uploadErr = "InvalidBatch : No content in the uploaded data"
	default:
		j.header, j.rows = rows[0], rows[1:]
	}
}

func csvProblem(err error) string {
	if pe, ok := err.(*csv.ParseError); ok {
		return fmt.Sprintf("line %d: %v", pe.Line, pe.Err)
	}
	return "malformed CSV"
}

func (s *Server) violationLocked(what string) {
	s.violations = append(s.violations, what)
}

// patchJob serves PATCH jobs/ingest/{id}: state UploadComplete (from
// Open) or Aborted (before completion).
func (s *Server) patchJob(c *call) {
	j := s.theJob(c)
	if j == nil {
		return
	}
	var req struct {
		State string `json:"state"`
	}
	if !c.decode(&req) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case req.State == "UploadComplete" && j.state == "Open":
		j.state = "UploadComplete"
		j.processed = make(chan struct{})
		go s.process(j, c.now)
	case req.State == "Aborted" && slices.Contains([]string{"Open", "UploadComplete", "InProgress"}, j.state):
		j.state = "Aborted"
	default:
		c.fail(http.StatusBadRequest, "INVALIDJOBSTATE", fmt.Sprintf("Invalid state transition from %s to %s", j.state, req.State))
		return
	}
	c.json(http.StatusOK, j.info(false))
}

// getJob serves GET jobs/ingest/{id}: a completed upload shows InProgress
// for BulkPolls polls; the next poll waits for the processing, which began
// with UploadComplete, to end and shows the job's final state. Waiting (a
// slow answer) rather than answering InProgress until it ends keeps the
// number of polls a client makes the same on a fast or a loaded machine.
func (s *Server) getJob(c *call) {
	j := s.theJob(c)
	if j == nil {
		return
	}
	s.mu.Lock()
	running := j.state == "UploadComplete" || j.state == "InProgress"
	if running && j.pollsLeft > 0 {
		j.pollsLeft--
		j.state, running = "InProgress", false
	}
	done := j.processed
	s.mu.Unlock()
	if running && done != nil {
		<-done
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if running && (j.state == "UploadComplete" || j.state == "InProgress") {
		j.state = j.final
	}
	c.json(http.StatusOK, j.info(true))
}

// deleteJob serves DELETE jobs/ingest/{id}, allowed once the job is
// closed (UploadComplete, JobComplete, Aborted or Failed).
func (s *Server) deleteJob(c *call) {
	j := s.theJob(c)
	if j == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if j.state == "Open" || j.state == "InProgress" {
		c.fail(http.StatusBadRequest, "INVALIDJOBSTATE", "Job can be deleted only when it is UploadComplete, JobComplete, Aborted or Failed")
		return
	}
	delete(s.jobs, j.id)
	c.status = http.StatusNoContent
	c.w.WriteHeader(http.StatusNoContent)
}

// process applies the job's rows with the collections' record rules, a
// chunk at a time, until done or aborted; it runs from UploadComplete.
func (s *Server) process(j *job, now time.Time) {
	defer close(j.processed)
	s.mu.Lock()
	defer s.mu.Unlock()
	o, cols, seen, failure := s.prepare(j)
	if failure != "" {
		j.final, j.errorMessage = "Failed", failure
		return
	}
	j.success = make([]outcome, 0, len(j.rows))
	for ; j.next < len(j.rows) && j.state != "Aborted"; j.next++ {
		if j.next > 0 && j.next%bulkChunk == 0 {
			s.mu.Unlock()
			s.mu.Lock()
		}
		id, created, e := s.processRow(j, o, cols, j.rows[j.next], seen, now)
		if e != nil {
			j.failed = append(j.failed, outcome{row: j.next, id: id, err: fmt.Sprintf("%s:%s:%s --", e.StatusCode, e.Message, strings.Join(e.Fields, ","))})
			continue
		}
		j.success = append(j.success, outcome{row: j.next, id: id, created: created})
	}
	j.final = "JobComplete"
	s.rng.Shuffle(len(j.success), func(a, b int) { j.success[a], j.success[b] = j.success[b], j.success[a] })
	s.rng.Shuffle(len(j.failed), func(a, b int) { j.failed[a], j.failed[b] = j.failed[b], j.failed[a] })
}

// prepare checks a job's upload and header before its rows are processed,
// returning why the job fails, if it does, and counting the keys of the
// rows (a key twice fails both rows). s.mu held.
func (s *Server) prepare(j *job) (*Object, []*Field, map[string]int, string) {
	if j.uploadErr != "" || !j.uploaded {
		return nil, nil, nil, cmpOr(j.uploadErr, "InvalidBatch : No content uploaded for the job")
	}
	o := s.object(j.object)
	cols := make([]*Field, len(j.header))
	for i, h := range j.header {
		if cols[i] = o.field(h); cols[i] == nil {
			return nil, nil, nil, "InvalidBatch : Field name not found : " + h
		}
	}
	key := j.extField
	if j.operation == "delete" {
		key = "Id"
	}
	if key != "" && !slices.ContainsFunc(cols, func(f *Field) bool { return f.Name == key }) {
		return nil, nil, nil, "InvalidBatch : Field name not found : " + key
	}
	seen := map[string]int{}
	if key != "" {
		kf := o.field(key)
		for _, row := range j.rows {
			if v := column(cols, row, key); v != "" {
				seen[kf.matchKey(v)]++
			}
		}
	}
	return o, cols, seen, ""
}

func column(cols []*Field, row []string, name string) string {
	for i, f := range cols {
		if f.Name == name && i < len(row) {
			return row[i]
		}
	}
	return ""
}

// processRow writes one CSV row: an empty value leaves the field alone,
// #N/A sets it to null. s.mu held.
func (s *Server) processRow(j *job, o *Object, cols []*Field, row []string, seen map[string]int, now time.Time) (string, bool, *recError) {
	if len(row) != len(cols) {
		return "", false, recErr("INVALID_FIELD", fmt.Sprintf("row has %d columns, the header %d", len(row), len(cols)))
	}
	if j.operation == "delete" {
		return s.deleteRow(column(cols, row, "Id"))
	}
	values := map[string]any{}
	for i, f := range cols {
		switch row[i] {
		case "":
			continue
		case "#N/A":
			values[f.Name] = nil
			continue
		}
		v, err := coerce(f, row[i], true)
		if err != nil {
			return "", false, recErr("INVALID_TYPE_ON_FIELD_IN_RECORD", err.Error(), f.Name)
		}
		values[f.Name] = v
	}
	var target *record
	if j.operation == "upsert" {
		key := column(cols, row, j.extField)
		switch {
		case key == "":
			return "", false, recErr("MISSING_ARGUMENT", j.extField+" not specified", j.extField)
		case seen[o.field(j.extField).matchKey(key)] > 1:
			return "", false, recErr("DUPLICATE_EXTERNAL_ID", "Duplicate external id specified: "+key, j.extField)
		}
		if e := s.knobs(key); e != nil {
			return "", false, e
		}
		matched := s.matches(o, j.extField, values[j.extField])
		if len(matched) > 1 {
			return "", false, recErr("DUPLICATE_EXTERNAL_ID", j.extField+": more than one record found for external id field", j.extField)
		}
		if len(matched) == 1 {
			target = matched[0]
		}
	} else if e := s.knobs(""); e != nil {
		return "", false, e
	}
	if e := s.validate(o, values, target); e != nil {
		return "", false, e
	}
	r, _ := s.apply(o, values, target, now)
	return r.id, target == nil, nil
}

func (s *Server) deleteRow(id string) (string, bool, *recError) {
	full, ok := normalID(id)
	r := s.find(id)
	switch {
	case !ok:
		return "", false, recErr("MALFORMED_ID", "malformed id "+id, "Id")
	case r == nil:
		return "", false, recErr("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id")
	case r.deleted:
		return full, false, recErr("ENTITY_IS_DELETED", "entity is deleted")
	}
	if e := s.knobs(""); e != nil {
		return full, false, e
	}
	s.remove(r)
	return full, false, nil
}

// Result sets of a job.
const (
	successful = iota
	failed
	unprocessed
)

// results streams one result set as CSV. A finished job's rows and
// outcomes no longer change, so they are written without holding s.mu,
// row by row: a million results cost one row's memory, not a copy.
func (s *Server) results(c *call, set int) {
	j := s.theJob(c)
	if j == nil {
		return
	}
	s.mu.Lock()
	state, done := j.state, j.processed
	s.mu.Unlock()
	if state != "JobComplete" && state != "Failed" && state != "Aborted" {
		c.fail(http.StatusBadRequest, "INVALIDJOBSTATE", "Results are available once the job is JobComplete, Failed or Aborted; it is "+state)
		return
	}
	if done != nil {
		<-done // an aborted job stops at the end of its chunk
	}
	s.mu.Lock()
	rows, next := j.rows, j.next
	outs := map[int][]outcome{successful: j.success, failed: j.failed}[set]
	s.mu.Unlock()
	c.status = http.StatusOK
	c.w.Header().Set("Content-Type", "text/csv")
	c.w.WriteHeader(http.StatusOK)
	w := csv.NewWriter(c.w)
	w.UseCRLF = j.lineEnding == "CRLF"
	head := map[int][]string{successful: {"sf__Id", "sf__Created"}, failed: {"sf__Id", "sf__Error"}}[set]
	line := slices.Concat(head, j.header)
	if err := w.Write(line); err != nil {
		return // the client went away
	}
	switch {
	case set != unprocessed:
		for _, o := range outs {
			line = append(line[:0], o.id, o.err)
			if set == successful {
				line[1] = strconv.FormatBool(o.created)
			}
			if err := w.Write(append(line, rows[o.row]...)); err != nil {
				return
			}
		}
	case state != "JobComplete":
		for _, row := range rows[next:] {
			if err := w.Write(row); err != nil {
				return
			}
		}
	}
	w.Flush()
}

func (s *Server) successfulResults(c *call)  { s.results(c, successful) }
func (s *Server) failedResults(c *call)      { s.results(c, failed) }
func (s *Server) unprocessedRecords(c *call) { s.results(c, unprocessed) }
