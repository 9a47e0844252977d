package hubspot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/sluicehq/sluice/connectors/internal/jsonenc"

	"github.com/sluicehq/sluice/connectors/internal/redact"

	"github.com/sluicehq/sluice/connectors/destination"
)

const (
	pathUpsert  = "/crm/v3/objects/contacts/batch/upsert"
	pathRead    = "/crm/v3/objects/contacts/batch/read"
	pathArchive = "/crm/v3/objects/contacts/batch/archive"
)

// errNotAccounted is the error of a record HubSpot's answer says nothing
// about: it is not delivered, and is sent again next run.
var errNotAccounted = errors.New("HubSpot's answer does not account for this record (neither in results nor in errors): not counted as delivered")

// upsertInput is one input of batch/upsert.
type upsertInput struct {
	IDProperty         string         `json:"idProperty"`
	ID                 string         `json:"id"`
	ObjectWriteTraceID string         `json:"objectWriteTraceId"`
	Properties         map[string]any `json:"properties"`
}

// batchAnswer is the answer of batch/upsert and batch/read (200 or 207).
type batchAnswer struct {
	Results []struct {
		ID                 string            `json:"id"`
		ObjectWriteTraceID string            `json:"objectWriteTraceId"`
		Properties         map[string]string `json:"properties"`
	} `json:"results"`
	Errors []errorDoc `json:"errors"`
}

// Write implements destination.Destination: upserts in one batch/upsert
// call, deletes archived (see the package documentation). Rejections are
// per record; an error stops the run.
func (h *HubSpot) Write(ctx context.Context, b *destination.Batch) ([]error, error) {
	errs := make([]error, len(b.Records))
	var upserts, deletes, adds, removes []int
	for i, r := range b.Records {
		if strings.TrimSpace(r.Key) == "" {
			errs[i] = errors.New("the key is empty: HubSpot identifies a contact by its " + h.idProperty)
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
			errs[i] = fmt.Errorf("operation %q is not one HubSpot takes", r.Op)
		}
	}
	if err := h.writeList(ctx, b, adds, removes, errs); err != nil {
		return nil, err
	}
	if len(upserts) > 0 {
		if err := h.ensureProperties(ctx); err != nil {
			return nil, err
		}
	}
	if b.Mode == "update" && len(upserts) > 0 {
		var err error
		if upserts, err = h.onlyExisting(ctx, b.Records, upserts, errs); err != nil {
			return nil, err
		}
	}
	if _, err := h.upsert(ctx, b.Records, upserts, errs); err != nil {
		return nil, err
	}
	if err := h.archive(ctx, b.Records, deletes, errs); err != nil {
		return nil, err
	}
	return errs, nil
}

// idOf is the idProperty value of a record: the mapped field of that name
// when there is one, else the key.
func (h *HubSpot) idOf(r destination.Record) string {
	if v, ok := r.Fields[h.idProperty]; ok && v != nil {
		if s, ok := v.(string); ok {
			return strings.TrimSpace(s)
		}
		return fmt.Sprint(v)
	}
	return strings.TrimSpace(r.Key)
}

// sameID compares idProperty values as HubSpot does (e-mails ignore case).
func (h *HubSpot) sameID(a, b string) bool {
	if h.idProperty == "email" {
		return strings.EqualFold(strings.TrimSpace(a), strings.TrimSpace(b))
	}
	return a == b
}

// upsert sends the records at idx in one batch/upsert call, and returns
// the record id of each one delivered, by record index.
func (h *HubSpot) upsert(ctx context.Context, recs []destination.Record, idx []int, errs []error) (map[int]string, error) {
	inputs := make([]upsertInput, 0, len(idx))
	sent := make([]int, 0, len(idx)) // record index of each input
	for _, i := range idx {
		props, err := h.properties(recs[i])
		if err != nil {
			errs[i] = err
			continue
		}
		inputs = append(inputs, upsertInput{IDProperty: h.idProperty, ID: h.idOf(recs[i]),
			ObjectWriteTraceID: strconv.Itoa(len(inputs)), Properties: props})
		sent = append(sent, i)
	}
	if len(inputs) == 0 {
		return nil, nil
	}
	status, body, err := h.exchange(ctx, http.MethodPost, pathUpsert, map[string]any{"inputs": inputs})
	if err != nil {
		return nil, h.errFatal("upserting contacts", err)
	}
	if status != http.StatusOK && status != http.StatusMultiStatus {
		ae := apiError(status, body)
		if ae.fatal() || status < 400 || destination.Retryable(status) {
			return nil, h.errFatal("upserting contacts", ae)
		}
		// A refusal of the whole call: each record gets it, its own
		// identifier masked.
		for k, i := range sent {
			errs[i] = &APIError{Status: ae.Status, Category: ae.Category, SubCategory: ae.SubCategory, Message: redact.Message(ae.Message, inputs[k].ID)}
		}
		return nil, nil
	}
	var ans batchAnswer
	if err := json.Unmarshal(body, &ans); err != nil {
		return nil, h.cfg.Errorf("upserting contacts: reading HubSpot's answer (HTTP %d): %w", status, err)
	}
	ids := h.readUpsertAnswer(ans, inputs, sent, errs)
	for i, id := range ids {
		recs[i].RemoteID = id // kept by sluice: the exits and deletes of this key need no lookup
	}
	return ids, nil
}

// readUpsertAnswer gives each sent record its outcome: the error HubSpot
// names it in by objectWriteTraceId, else delivered if results list it
// (by trace id, or by its idProperty value), else errNotAccounted. It
// returns the record ids of the delivered ones, by record index.
func (h *HubSpot) readUpsertAnswer(ans batchAnswer, inputs []upsertInput, sent []int, errs []error) map[int]string {
	outcome := make([]error, len(inputs))
	rid := make([]string, len(inputs))
	for k := range outcome {
		outcome[k] = errNotAccounted
	}
	for _, r := range ans.Results {
		if k, err := strconv.Atoi(r.ObjectWriteTraceID); err == nil && k >= 0 && k < len(inputs) {
			outcome[k], rid[k] = nil, r.ID
			continue
		}
		for k, in := range inputs {
			if v, ok := r.Properties[h.idProperty]; ok && h.sameID(v, in.ID) {
				outcome[k], rid[k] = nil, r.ID
			}
		}
	}
	// Errors come after results: an input named in both is not delivered.
	for _, e := range ans.Errors {
		for _, t := range e.Context.ObjectWriteTraceID {
			k, err := strconv.Atoi(t)
			if err != nil || k < 0 || k >= len(inputs) {
				continue
			}
			outcome[k] = &APIError{Category: e.Category, SubCategory: e.SubCategory, Message: redact.Message(e.Message, inputs[k].ID)}
		}
	}
	ids := map[int]string{}
	for k, i := range sent {
		errs[i] = outcome[k]
		if outcome[k] == nil {
			ids[i] = rid[k]
		}
	}
	return ids
}

// properties are a record's mapped fields as HubSpot takes them: strings,
// numbers and booleans as they are, times as ISO 8601, null as "" (which
// clears the property).
func (h *HubSpot) properties(r destination.Record) (map[string]any, error) {
	props := make(map[string]any, len(h.fields))
	if err := jsonenc.Object(props, h.fields, r.Fields, propertyValue); err != nil {
		return nil, err
	}
	return props, nil
}

func propertyValue(v any) (any, error) {
	v, err := jsonenc.Scalar(v)
	if err != nil {
		return nil, fmt.Errorf("not a value HubSpot takes for a property: %w", err)
	}
	switch t := v.(type) {
	case nil:
		return "", nil
	case time.Time:
		return t.UTC().Format("2006-01-02T15:04:05.000Z"), nil
	}
	return v, nil
}

// onlyExisting keeps, for update mode, the records whose contact HubSpot
// has; the others are left alone (nil: update mode creates nothing).
func (h *HubSpot) onlyExisting(ctx context.Context, recs []destination.Record, idx []int, errs []error) ([]int, error) {
	ids, err := h.recordIDs(ctx, recs, idx)
	if err != nil {
		return nil, err
	}
	var keep []int
	for _, i := range idx {
		if _, ok := ids[i]; ok {
			keep = append(keep, i)
		}
		errs[i] = nil
	}
	return keep, nil
}

// recordIDs gives the HubSpot record ids of the records at idx: the one
// sluice kept from the record's last upsert (Record.RemoteID, on
// removals), else looked up by idProperty with batch/read. Records HubSpot
// does not have are absent. A kept id can be stale (the contact merged or
// deleted in HubSpot): list removals and archives of such an id are
// answered as missing or done, as for a contact HubSpot no longer has.
func (h *HubSpot) recordIDs(ctx context.Context, recs []destination.Record, idx []int) (map[int]string, error) {
	out := map[int]string{}
	var values []string
	var at []int // record index of each value looked up
	for _, i := range idx {
		if id := recs[i].RemoteID; id != "" {
			out[i] = id
			continue
		}
		values = append(values, h.idOf(recs[i]))
		at = append(at, i)
	}
	if len(values) == 0 {
		return out, nil
	}
	byValue, err := h.lookup(ctx, values)
	if err != nil {
		return nil, err
	}
	for k, i := range at {
		if id, ok := byValue[k]; ok {
			out[i] = id
		}
	}
	return out, nil
}

// lookup returns the record id of each value (by its index) HubSpot has a
// contact for, at most MaxBatch values per batch/read call.
func (h *HubSpot) lookup(ctx context.Context, values []string) (map[int]string, error) {
	out := map[int]string{}
	for start := 0; start < len(values); start += MaxBatch {
		chunk := values[start:min(len(values), start+MaxBatch)]
		inputs := make([]map[string]string, len(chunk))
		for k, v := range chunk {
			inputs[k] = map[string]string{"id": v}
		}
		req := map[string]any{"idProperty": h.idProperty, "properties": []string{h.idProperty}, "inputs": inputs}
		status, body, err := h.exchange(ctx, http.MethodPost, pathRead, req)
		if err != nil {
			return nil, h.errFatal("looking contacts up", err)
		}
		if status != http.StatusOK && status != http.StatusMultiStatus {
			ae := apiError(status, body)
			ae.Message = redact.Message(ae.Message, chunk...)
			return nil, h.errFatal("looking contacts up", ae)
		}
		var ans batchAnswer
		if err := json.Unmarshal(body, &ans); err != nil {
			return nil, h.cfg.Errorf("looking contacts up: reading HubSpot's answer: %w", err)
		}
		for _, r := range ans.Results {
			v, ok := r.Properties[h.idProperty]
			if !ok || r.ID == "" {
				continue
			}
			for k, want := range chunk {
				if h.sameID(v, want) {
					out[start+k] = r.ID
				}
			}
		}
	}
	return out, nil
}

// archive deletes the contacts of the records at idx: a contact HubSpot
// does not have is already gone.
func (h *HubSpot) archive(ctx context.Context, recs []destination.Record, idx []int, errs []error) error {
	if len(idx) == 0 {
		return nil
	}
	ids, err := h.recordIDs(ctx, recs, idx)
	if err != nil || len(ids) == 0 {
		return err
	}
	inputs := make([]map[string]string, 0, len(ids))
	seen := map[string]bool{}
	for _, i := range idx {
		if id, ok := ids[i]; ok && !seen[id] {
			seen[id] = true // two records of one contact: HubSpot refuses duplicate ids
			inputs = append(inputs, map[string]string{"id": id})
		}
	}
	status, body, err := h.exchange(ctx, http.MethodPost, pathArchive, map[string]any{"inputs": inputs})
	if err != nil {
		return h.errFatal("archiving contacts", err)
	}
	if status >= 200 && status <= 299 {
		return nil // 204: every contact archived
	}
	ae := apiError(status, body)
	if ae.fatal() || destination.Retryable(status) || status < 400 {
		return h.errFatal("archiving contacts", ae)
	}
	for _, i := range idx {
		if _, ok := ids[i]; ok {
			errs[i] = &APIError{Status: ae.Status, Category: ae.Category, SubCategory: ae.SubCategory, Message: redact.Message(ae.Message, h.idOf(recs[i]))}
		}
	}
	return nil
}
