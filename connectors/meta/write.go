package meta

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/sluicehq/sluice/connectors/destination"
	"github.com/sluicehq/sluice/connectors/internal/matchkeys"
)

// Operations on an audience's users.
const (
	opAdd     = "add"     // POST /{id}/users
	opRemove  = "remove"  // DELETE /{id}/users
	opReplace = "replace" // POST /{id}/usersreplace
)

var (
	errNoIdentifier = errors.New("no usable identifier: every mapped match key is empty or invalid for this person, so Meta could not match them; nothing was sent")
	errNoConsent    = errors.New("no ads_user_data consent: not sent to Meta")
	errTooSmall     = errors.New("Meta refused to remove people from the audience because it would become too small (error 200/1870047): these exits stay pending and are tried again next run, once the audience has grown")
)

// group is what one batch sends to one endpoint: rows in column order,
// and the records they come from.
type group struct {
	op    string
	idx   []int
	rows  [][]string
	local int // records of this operation refused before sending
}

// Write implements destination.Destination: entries are added to the
// audience, exits removed; each record's outcome is what Meta's counts
// allow to say (see the package comment).
func (m *Meta) Write(ctx context.Context, b *destination.Batch) ([]error, error) {
	errs := make([]error, len(b.Records))
	groups := m.prepare(b.Records, errs)
	if len(groups[0].rows)+len(groups[1].rows) == 0 {
		for _, g := range groups {
			m.advance(g.op, g.local)
		}
		return errs, nil
	}
	id, err := m.audience(ctx, true)
	if errors.Is(err, errNoAudience) {
		return nil, m.cfg.Errorf("%w: create it in Ads Manager (a customer list audience), name it by id, or set create_audiences: true", err)
	}
	if err != nil {
		return nil, err
	}
	for _, g := range groups {
		if err := m.send(ctx, id, g, errs); err != nil {
			return nil, err
		}
	}
	return errs, nil
}

// prepare turns records into rows: entries (or a replace) and exits.
func (m *Meta) prepare(recs []destination.Record, errs []error) [2]*group {
	add, rem := &group{op: opAdd}, &group{op: opRemove}
	if m.replacing() {
		add.op = opReplace
	}
	for i, r := range recs {
		g := add
		if r.Op.IsRemoval() {
			g = rem
		} else if err := consentError(r); err != nil {
			errs[i], g.local = err, g.local+1
			continue
		}
		row, ok := m.row(r)
		if !ok {
			errs[i], g.local = errNoIdentifier, g.local+1
			continue
		}
		g.idx, g.rows = append(g.idx, i), append(g.rows, row)
	}
	return [2]*group{add, rem}
}

// consentError: the engine sends only records whose ads_user_data is
// true; a record that says otherwise is never sent.
func consentError(r destination.Record) error {
	if r.Consent == nil {
		return nil
	}
	if v, ok := r.Consent[PurposeAdsUserData]; ok && (v == nil || !*v) {
		return errNoConsent
	}
	return nil
}

// row prepares a record's cells in column order: each value normalised
// and hashed by Meta's rules; a value that normalises to nothing is an
// empty cell (that key skipped for this person only). ok is false when no
// cell is left.
func (m *Meta) row(r destination.Record) ([]string, bool) {
	region := m.region
	if m.country >= 0 {
		if c := strings.TrimSpace(text(r.Fields[m.columns[m.country].field])); len(c) == 2 {
			region = strings.ToUpper(c)
		}
	}
	row := make([]string, len(m.columns))
	ok := false
	for i, c := range m.columns {
		v, present := r.Fields[c.field]
		raw := text(v)
		if i == m.keyCol && !present {
			raw = r.Key
		}
		if strings.TrimSpace(raw) == "" {
			continue
		}
		cell, err := matchkeys.Prepare(matchkeys.Meta, c.key, raw, region)
		if err != nil {
			continue // ErrSkip: this key only; the value is never logged
		}
		row[i], ok = cell, true
	}
	return row, ok
}

// text renders a mapped value as the string it stands for.
func text(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case float32:
		return strconv.FormatFloat(float64(v), 'f', -1, 32)
	case []byte:
		return string(v)
	}
	return fmt.Sprint(v)
}

// send sends a group in requests of at most MaxRows rows.
func (m *Meta) send(ctx context.Context, id string, g *group, errs []error) error {
	n := len(g.rows)
	if n == 0 {
		m.advance(g.op, g.local)
		return nil
	}
	for start := 0; start < n; start += MaxRows {
		end := min(start+MaxRows, n)
		count := end - start
		if end == n {
			count += g.local // refused records count as done for the session
		}
		if err := m.sendChunk(ctx, id, g.op, g.idx[start:end], g.rows[start:end], count, errs); err != nil {
			return err
		}
	}
	return nil
}

// usersAnswer is Meta's answer to a users call: counts only.
type usersAnswer struct {
	AudienceID  string          `json:"audience_id"`
	SessionID   json.RawMessage `json:"session_id"`
	NumReceived *count          `json:"num_received"`
	NumInvalid  count           `json:"num_invalid_entries"`
	Samples     json.RawMessage `json:"invalid_entry_samples"`
}

// count is a number Graph may write as a JSON number or a numeric string.
type count int64

func (c *count) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	if s == "" || s == "null" {
		*c = 0
		return nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return fmt.Errorf("expected a count, got %s", destination.Snippet(b))
	}
	*c = count(n)
	return nil
}

func (m *Meta) sendChunk(ctx context.Context, id, op string, idx []int, rows [][]string, count int, errs []error) error {
	payload, err := json.Marshal(m.payload(op, rows))
	if err != nil {
		return fmt.Errorf("encoding the payload: %w", err)
	}
	params := url.Values{"payload": {string(payload)}}
	sess := m.beginBatch(op, int64(count))
	if sess != nil {
		b, _ := json.Marshal(sess)
		params.Set("session", string(b))
	}
	method, path := http.MethodPost, "/"+id+"/users"
	switch op {
	case opRemove:
		method = http.MethodDelete
	case opReplace:
		path = "/" + id + "/usersreplace"
	}
	var ans usersAnswer
	err = m.call(ctx, method, path, params, &ans)
	m.endBatch(op, sess, err == nil)
	if err != nil {
		return m.chunkFailed(op, idx, err, errs)
	}
	m.outcomes(op, idx, rows, &ans, errs)
	return nil
}

// payload is {schema, data}. Entries keep every mapped key, so that the
// rows of a session share one schema; exits carry only the keys they
// hold (the sync key, and its removal_fields).
func (m *Meta) payload(op string, rows [][]string) map[string]any {
	keep := make([]int, 0, len(m.columns))
	for j := range m.columns {
		if op != opRemove || hasCell(rows, j) {
			keep = append(keep, j)
		}
	}
	schema := make([]string, len(keep))
	for k, j := range keep {
		schema[k] = m.columns[j].schema
	}
	data := rows
	if len(keep) != len(m.columns) {
		data = make([][]string, len(rows))
		for i, r := range rows {
			d := make([]string, len(keep))
			for k, j := range keep {
				d[k] = r[j]
			}
			data[i] = d
		}
	}
	return map[string]any{"schema": schema, "data": data}
}

func hasCell(rows [][]string, j int) bool {
	for _, r := range rows {
		if r[j] != "" {
			return true
		}
	}
	return false
}

// chunkFailed turns a failed request into the records' outcomes, or into
// an error that stops the run (credentials, permissions, Meta unreachable
// or out of retries).
func (m *Meta) chunkFailed(op string, idx []int, err error, errs []error) error {
	var ge *GraphError
	if !errors.As(err, &ge) || ge.fatal() || ge.rateLimited() || destination.Retryable(ge.Status) {
		return m.explain(opDoing(op), err)
	}
	reason := fmt.Errorf("%s: %w", opDoing(op), ge)
	if op == opRemove && ge.audienceTooSmall() {
		reason = fmt.Errorf("%w [%s]", errTooSmall, ge.Message)
	}
	for _, i := range idx {
		errs[i] = reason
	}
	m.cfg.Logger.Warn("Meta refused a request; its records are rejected and sent again next run", "op", op, "records", len(idx), "code", ge.Code, "subcode", ge.Subcode)
	return nil
}

func opDoing(op string) string {
	switch op {
	case opRemove:
		return "removing people from the audience"
	case opReplace:
		return "replacing the audience's people"
	}
	return "adding people to the audience"
}

// outcomes reads Meta's counts: a row a sample names is rejected with
// Meta's reason; invalid entries no sample names cannot be told apart
// and are logged, their records counted as sent.
func (m *Meta) outcomes(op string, idx []int, rows [][]string, ans *usersAnswer, errs []error) {
	if ans.NumReceived != nil && *ans.NumReceived == 0 && len(rows) > 0 {
		for _, i := range idx {
			errs[i] = errors.New("Meta's answer counts none of this request's rows as received: sent again next run")
		}
		return
	}
	samples := parseSamples(ans.Samples)
	named := 0
	for k, i := range idx {
		for _, c := range rows[k] {
			if reason, ok := samples[c]; c != "" && ok {
				errs[i] = fmt.Errorf("Meta counted this person's entry invalid: %s", reason)
				named++
				break
			}
		}
	}
	log := m.cfg.Logger
	if unnamed := int64(ans.NumInvalid) - int64(named); unnamed > 0 {
		log.Warn("Meta counted invalid entries that its samples do not name: they cannot be matched to records, which count as sent",
			"op", op, "rows", len(rows), "invalid", ans.NumInvalid, "named", named)
	}
	if ans.NumReceived == nil {
		log.Warn("Meta's answer has no num_received: the rows count as sent", "op", op, "rows", len(rows))
	} else if int64(*ans.NumReceived) < int64(len(rows)) {
		log.Warn("Meta received fewer rows than were sent (it drops duplicates)", "op", op, "rows", len(rows), "received", *ans.NumReceived)
	}
}

// parseSamples reads invalid_entry_samples: an object of entry → reason
// (what the API documents), or a list of entries.
func parseSamples(raw json.RawMessage) map[string]string {
	out := map[string]string{}
	var obj map[string]any
	if json.Unmarshal(raw, &obj) == nil {
		for k, v := range obj {
			out[k] = destination.Snippet([]byte(text(v)))
		}
		return out
	}
	var list []any
	if json.Unmarshal(raw, &list) == nil {
		for _, v := range list {
			if s, ok := v.(string); ok {
				out[s] = "invalid entry"
			}
		}
	}
	return out
}

// upload is one upload session of a run: its entries, exits or replace.
type upload struct {
	id     int64
	seq    int
	total  int64
	closed bool
}

// sessionParam is the session parameter of a users call.
type sessionParam struct {
	SessionID         int64 `json:"session_id"`
	BatchSeq          int   `json:"batch_seq"`
	LastBatchFlag     bool  `json:"last_batch_flag"`
	EstimatedNumTotal int64 `json:"estimated_num_total"`
}

// replacing tells whether this run's entries replace the audience: asked
// for, and a run with entries and no exits (see the replace option).
func (m *Meta) replacing() bool {
	m.sessMu.Lock()
	defer m.sessMu.Unlock()
	return m.replace && m.run != nil && m.run.Removals == 0 && m.run.Records > 0
}

// total is the number of records of the run for an operation.
func (m *Meta) total(op string) int64 {
	if op == opRemove {
		return m.run.Removals
	}
	return m.run.Records - m.run.Removals
}

// beginBatch returns the session parameter of the next request of op
// carrying count records (rows, and records refused before sending), or
// nil when the run's records of op fit one request (or the run's size is
// unknown) and need no session. usersreplace always takes one.
func (m *Meta) beginBatch(op string, count int64) *sessionParam {
	m.sessMu.Lock()
	defer m.sessMu.Unlock()
	if m.run == nil {
		return nil
	}
	total := m.total(op)
	if op != opReplace && total <= int64(m.limits.BatchSize) {
		m.progress[op] += count
		return nil
	}
	u := m.sessions[op]
	if u == nil || u.closed {
		u = &upload{id: rand.Int64N(1<<62) + 1, total: total}
		m.sessions[op] = u
	}
	u.seq++
	m.progress[op] += count
	return &sessionParam{SessionID: u.id, BatchSeq: u.seq, LastBatchFlag: m.progress[op] >= u.total, EstimatedNumTotal: u.total}
}

// endBatch settles a session's batch: a failed request gives its
// batch_seq back, so the next request takes it.
func (m *Meta) endBatch(op string, sp *sessionParam, ok bool) {
	if sp == nil {
		return
	}
	m.sessMu.Lock()
	defer m.sessMu.Unlock()
	u := m.sessions[op]
	if u == nil || u.id != sp.SessionID {
		return
	}
	switch {
	case !ok:
		u.seq--
	case sp.LastBatchFlag:
		u.closed = true
	}
}

// advance counts records of op refused before sending, when no request
// carries them: they are part of the run's total all the same.
func (m *Meta) advance(op string, n int) {
	if n == 0 {
		return
	}
	m.sessMu.Lock()
	defer m.sessMu.Unlock()
	m.progress[op] += int64(n)
}
