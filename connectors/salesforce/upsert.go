package salesforce

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/sluicehq/sluice/connectors/internal/jsonenc"

	"github.com/sluicehq/sluice/connectors/internal/redact"

	"github.com/sluicehq/sluice/connectors/destination"
)

// errNotAccounted is the error of a record Salesforce's answer says
// nothing about: it is not delivered, and is sent again next run.
var errNotAccounted = errors.New("Salesforce's answer does not account for this record: not counted as delivered")

// codeLocked is the per-record error of a record another transaction
// holds: worth sending again shortly.
const codeLocked = "UNABLE_TO_LOCK_ROW"

// saveResult is one record's result in a collection's answer (upsert,
// insert, delete), in request order.
type saveResult struct {
	ID      string      `json:"id"`
	Success bool        `json:"success"`
	Created bool        `json:"created"`
	Errors  []errorItem `json:"errors"`
}

// err is the result's error, nil on success; values are masked in the
// message.
func (r saveResult) err(values ...string) *APIError {
	if r.Success {
		return nil
	}
	if len(r.Errors) == 0 {
		return &APIError{Code: "UNKNOWN", Message: "failed without an error"}
	}
	e := r.Errors[0]
	return &APIError{Code: e.code(), Message: redact.Message(e.Message, values...), Fields: e.Fields}
}

// Write implements destination.Destination: upserts through collections
// or, in a Bulk run, an ingest job; deletes by record id; campaign entries
// and exits (campaign.go). Rejections are per record; an error stops the
// run.
func (sf *Salesforce) Write(ctx context.Context, b *destination.Batch) ([]error, error) {
	errs := make([]error, len(b.Records))
	var upserts, deletes, adds, removes []int
	for i, r := range b.Records {
		if strings.TrimSpace(sf.idOf(r)) == "" {
			errs[i] = fmt.Errorf("the external id is empty: Salesforce upserts %s records by %s", sf.object, sf.extID)
			continue
		}
		switch r.Op {
		case destination.OpUpsert:
			upserts = append(upserts, i)
		case destination.OpDelete:
			deletes = append(deletes, i)
		case destination.OpAdd:
			adds = append(adds, i)
		case destination.OpRemove:
			removes = append(removes, i)
		default:
			errs[i] = fmt.Errorf("operation %q is not one Salesforce takes", r.Op)
		}
	}
	if err := sf.writeCampaign(ctx, b, adds, removes, errs); err != nil {
		return nil, err
	}
	var err error
	if sf.bulkRun() {
		err = sf.bulkUpsert(ctx, b.Records, upserts, errs)
	} else {
		err = sf.upsert(ctx, b.Records, upserts, errs)
	}
	if err != nil {
		return nil, err
	}
	if err := sf.deleteRecords(ctx, b.Records, deletes, errs); err != nil {
		return nil, err
	}
	return errs, nil
}

// idOf is a record's external id: the mapped field of that name when there
// is one, else the key.
func (sf *Salesforce) idOf(r destination.Record) string {
	for k, v := range r.Fields {
		if strings.EqualFold(k, sf.extID) && v != nil {
			if s, ok := v.(string); ok {
				return strings.TrimSpace(s)
			}
			return fmt.Sprint(v)
		}
	}
	return strings.TrimSpace(r.Key)
}

// upsert sends the records at idx through sObject Collections, 200 a
// call, and sets the RemoteID of those accepted.
func (sf *Salesforce) upsert(ctx context.Context, recs []destination.Record, idx []int, errs []error) error {
	for start := 0; start < len(idx); start += MaxBatch {
		if err := sf.upsertChunk(ctx, recs, idx[start:min(len(idx), start+MaxBatch)], errs); err != nil {
			return err
		}
	}
	return nil
}

// upsertChunk sends one call, then sends the records refused with
// UNABLE_TO_LOCK_ROW again, a few times with a growing wait; those still
// locked keep that error and are retried next run.
func (sf *Salesforce) upsertChunk(ctx context.Context, recs []destination.Record, idx []int, errs []error) error {
	wait := sf.lockWait
	for try := 0; ; try++ {
		locked, err := sf.upsertOnce(ctx, recs, idx, errs)
		if err != nil || len(locked) == 0 || try >= sf.lockTries {
			return err
		}
		sf.cfg.Logger.Debug("records locked: sending them again", "records", len(locked), "wait", wait)
		if err := sleep(ctx, wait/2+time.Duration(rand.Int64N(int64(wait/2)+1))); err != nil {
			return err
		}
		wait *= 2
		idx = locked
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// upsertOnce sends one PATCH composite/sobjects/{Object}/{ExtId} call and
// gives each record its outcome; it returns the records refused with
// UNABLE_TO_LOCK_ROW.
func (sf *Salesforce) upsertOnce(ctx context.Context, recs []destination.Record, idx []int, errs []error) ([]int, error) {
	records := make([]map[string]any, 0, len(idx))
	sent := make([]int, 0, len(idx))
	for _, i := range idx {
		rec, err := sf.sObject(recs[i])
		if err != nil {
			errs[i] = err
			continue
		}
		records = append(records, rec)
		sent = append(sent, i)
	}
	if len(records) == 0 {
		return nil, nil
	}
	path := sf.apiPath("/composite/sobjects/" + sf.object + "/" + sf.extID)
	status, body, err := sf.exchange(ctx, http.MethodPatch, path, map[string]any{"allOrNone": false, "records": records})
	if err != nil {
		return nil, sf.fail("upserting "+sf.object+" records", err)
	}
	if status != http.StatusOK {
		return nil, sf.refuseAll(recs, sent, status, body, errs, "upserting "+sf.object+" records")
	}
	var results []saveResult
	if err := json.Unmarshal(body, &results); err != nil {
		return nil, sf.cfg.Errorf("upserting %s records: reading Salesforce's answer: %w", sf.object, err)
	}
	if len(results) != len(sent) {
		// Results come in request order: with a count that differs, no
		// result can be tied to its record.
		for _, i := range sent {
			errs[i] = errNotAccounted
		}
		return nil, nil
	}
	var locked []int
	for k, i := range sent {
		if e := results[k].err(sf.idOf(recs[i]), recs[i].Key); e != nil {
			errs[i] = e
			if e.Code == codeLocked {
				locked = append(locked, i)
			}
			continue
		}
		errs[i] = nil
		recs[i].RemoteID = results[k].ID
	}
	return locked, nil
}

// refuseAll handles a non-200 answer to a collection call: an answer no
// record gets past stops the run; any other refusal (400) is every
// record's error, its own identifiers masked.
func (sf *Salesforce) refuseAll(recs []destination.Record, sent []int, status int, body []byte, errs []error, doing string) error {
	ae := apiError(status, body)
	if ae.fatal() || ae.Code == "REQUEST_LIMIT_EXCEEDED" {
		ae.Message = redact.Message(ae.Message)
		return sf.fail(doing, ae)
	}
	for _, i := range sent {
		errs[i] = &APIError{Status: ae.Status, Code: ae.Code, Fields: ae.Fields, Message: redact.Message(ae.Message, sf.idOf(recs[i]), recs[i].Key)}
	}
	return nil
}

// sObject is a record as collections take it: its type, the external id
// and the mapped fields; null clears a field.
func (sf *Salesforce) sObject(r destination.Record) (map[string]any, error) {
	out := make(map[string]any, len(sf.fields)+2)
	out["attributes"] = map[string]string{"type": sf.object}
	out[sf.extID] = sf.idOf(r)
	if err := jsonenc.Object(out, sf.fields, r.Fields, fieldValue); err != nil {
		return nil, err
	}
	return out, nil
}

// fieldValue is a value as Salesforce's JSON takes it: times as ISO 8601
// (a date alone at midnight UTC, which date fields need).
func fieldValue(v any) (any, error) {
	v, err := jsonenc.Scalar(v)
	if err != nil {
		return nil, fmt.Errorf("not a value Salesforce takes for a field: %w", err)
	}
	if t, ok := v.(time.Time); ok {
		return formatTime(t), nil
	}
	return v, nil
}

func formatTime(t time.Time) string {
	u := t.UTC()
	if u.Hour() == 0 && u.Minute() == 0 && u.Second() == 0 && u.Nanosecond() == 0 {
		return u.Format("2006-01-02")
	}
	return u.Format("2006-01-02T15:04:05.000Z")
}

// recordIDRE matches a Salesforce record id (15 or 18 characters).
var recordIDRE = regexp.MustCompile(`^[a-zA-Z0-9]{15}([a-zA-Z0-9]{3})?$`)

// deleteRecords deletes the records at idx: first by the id Salesforce
// gave at their last upsert, then, for those without one or whose id is
// gone (merged, or deleted meanwhile), by the id an SOQL lookup by
// external id finds. A record Salesforce does not have is already gone.
func (sf *Salesforce) deleteRecords(ctx context.Context, recs []destination.Record, idx []int, errs []error) error {
	if len(idx) == 0 {
		return nil
	}
	byID := map[string][]int{}
	var lookup []int
	for _, i := range idx {
		if id := strings.TrimSpace(recs[i].RemoteID); recordIDRE.MatchString(id) {
			byID[id] = append(byID[id], i)
		} else {
			lookup = append(lookup, i)
		}
	}
	gone, err := sf.deleteIDs(ctx, recs, byID, errs)
	if err != nil {
		return err
	}
	lookup = append(lookup, gone...)
	if len(lookup) == 0 {
		return nil
	}
	values := make([]string, len(lookup))
	for k, i := range lookup {
		values[k] = sf.idOf(recs[i])
	}
	found, err := sf.lookupIDs(ctx, sf.object, sf.extID, values)
	if err != nil {
		return err
	}
	byID = map[string][]int{}
	for k, i := range lookup {
		errs[i] = nil // not found: gone already
		if id, ok := found[values[k]]; ok {
			byID[id] = append(byID[id], i)
		}
	}
	_, err = sf.deleteIDs(ctx, recs, byID, errs)
	return err
}

// goneCodes are the per-record delete errors of a record that is not
// there (any more): the delete is done.
var goneCodes = map[string]bool{"ENTITY_IS_DELETED": true, "INVALID_CROSS_REFERENCE_KEY": true, "NOT_FOUND": true, "INVALID_ID_FIELD": true, "MALFORMED_ID": true}

// deleteIDs deletes records by id, 200 a call, and returns the records
// whose id Salesforce says is not there.
func (sf *Salesforce) deleteIDs(ctx context.Context, recs []destination.Record, byID map[string][]int, errs []error) ([]int, error) {
	ids := make([]string, 0, len(byID))
	for id := range byID {
		ids = append(ids, id)
	}
	outcomes, err := sf.deleteByID(ctx, ids)
	if err != nil {
		return nil, err
	}
	var gone []int
	for id, o := range outcomes {
		for _, i := range byID[id] {
			switch {
			case o == nil:
				errs[i] = nil
			case goneCodes[o.Code]:
				gone = append(gone, i)
			default:
				o := *o
				o.Message = redact.Message(o.Message, sf.idOf(recs[i]), recs[i].Key)
				errs[i] = &o
			}
		}
	}
	return gone, nil
}

// deleteByID sends DELETE /composite/sobjects?ids=...&allOrNone=false, at
// most 200 ids a call, and returns each id's outcome (nil: deleted).
func (sf *Salesforce) deleteByID(ctx context.Context, ids []string) (map[string]*APIError, error) {
	out := make(map[string]*APIError, len(ids))
	for start := 0; start < len(ids); start += MaxBatch {
		chunk := ids[start:min(len(ids), start+MaxBatch)]
		path := sf.apiPath("/composite/sobjects?ids=" + strings.Join(chunk, ",") + "&allOrNone=false")
		status, body, err := sf.exchange(ctx, http.MethodDelete, path, nil)
		if err != nil {
			return nil, sf.fail("deleting records", err)
		}
		if status != http.StatusOK {
			ae := apiError(status, body)
			ae.Message = redact.Message(ae.Message)
			if ae.fatal() || ae.Code == "REQUEST_LIMIT_EXCEEDED" {
				return nil, sf.fail("deleting records", ae)
			}
			for _, id := range chunk {
				out[id] = ae
			}
			continue
		}
		var results []saveResult
		if err := json.Unmarshal(body, &results); err != nil {
			return nil, sf.cfg.Errorf("deleting records: reading Salesforce's answer: %w", err)
		}
		for k, id := range chunk {
			switch {
			case k >= len(results):
				out[id] = &APIError{Code: "NOT_ACCOUNTED", Message: errNotAccounted.Error()}
			default:
				out[id] = results[k].err()
			}
		}
	}
	return out, nil
}
