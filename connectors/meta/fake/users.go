package fake

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// MaxRows is Meta's limit of rows per users request.
const MaxRows = 10000

// schemaKeys are the multi-key schema's keys Meta documents; hashed tells
// whether a cell must be a SHA-256 (lower-case hex).
var schemaKeys = map[string]bool{
	"EMAIL": true, "PHONE": true, "GEN": true, "DOBY": true, "DOBM": true, "DOBD": true,
	"LN": true, "FN": true, "FI": true, "CT": true, "ST": true, "ZIP": true, "COUNTRY": true,
	"EXTERN_ID": false, "MADID": false, "LOOKALIKE_VALUE": false,
}

// identifying keys find a member again: a row sharing one of them is the
// same person.
var identifying = []string{"EMAIL", "PHONE", "EXTERN_ID", "MADID"}

// audience is an Audience with its member store.
type audience struct {
	ID, Name, Subtype, CustomerFileSource, Description string
	members                                            *store
	replace                                            *replaceState
}

type replaceState struct {
	session string
	members *store
}

func (a *audience) snapshot() Audience {
	h := a.head()
	h.Members = a.members.list()
	return h
}

// head is the audience without its members (listings need no copy of
// them).
func (a *audience) head() Audience {
	return Audience{ID: a.ID, Name: a.Name, Subtype: a.Subtype, CustomerFileSource: a.CustomerFileSource, Description: a.Description, size: a.members.len()}
}

// store holds members, indexed by each identifying cell.
type store struct {
	members map[int]map[string]string
	index   map[string]int // "EMAIL:<hash>" → member
	next    int
}

func newStore() *store { return &store{members: map[int]map[string]string{}, index: map[string]int{}} }

func (st *store) len() int { return len(st.members) }

func (st *store) list() []Member {
	ids := make([]int, 0, len(st.members))
	for id := range st.members {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	out := make([]Member, len(ids))
	for i, id := range ids {
		cells := make(map[string]string, len(st.members[id]))
		for k, v := range st.members[id] {
			cells[k] = v
		}
		out[i] = Member{Cells: cells}
	}
	return out
}

func rowIDs(row map[string]string) []string {
	var ids []string
	for _, k := range identifying {
		if v := row[k]; v != "" {
			ids = append(ids, k+":"+v)
		}
	}
	return ids
}

// add merges a row into the member it shares an identifier with, or adds
// a member.
func (st *store) add(row map[string]string) {
	ids := rowIDs(row)
	id, found := -1, false
	for _, k := range ids {
		if m, ok := st.index[k]; ok {
			id, found = m, true
			break
		}
	}
	if !found {
		id = st.next
		st.next++
		st.members[id] = map[string]string{}
	}
	for _, k := range rowIDs(st.members[id]) {
		delete(st.index, k) // re-indexed below, without values replaced
	}
	for k, v := range row {
		if v != "" {
			st.members[id][k] = v
		}
	}
	for _, k := range rowIDs(st.members[id]) {
		st.index[k] = id
	}
}

// matches returns the members a row names by an identifier.
func (st *store) matches(row map[string]string) []int {
	var out []int
	for _, k := range rowIDs(row) {
		if m, ok := st.index[k]; ok && st.members[m] != nil && !slices.Contains(out, m) {
			out = append(out, m)
		}
	}
	return out
}

func (st *store) remove(id int) {
	for _, k := range rowIDs(st.members[id]) {
		delete(st.index, k)
	}
	delete(st.members, id)
}

// session is one upload session, as the first batch declared it.
type session struct {
	op, audience string
	total        int64
	seq          int
	last         bool
}

// usersRequest is a parsed users call.
type usersRequest struct {
	schema  []string
	rows    [][]string
	session *sessionParam
}

type sessionParam struct {
	ID        string
	Seq       int
	Last      bool
	Estimated int64
}

func (s *Server) addUsers(c *call)     { s.users(c, "add") }
func (s *Server) removeUsers(c *call)  { s.users(c, "remove") }
func (s *Server) replaceUsers(c *call) { s.users(c, "replace") }

// users serves the three users calls: parse and check the request, then
// apply its valid rows and answer with counts.
func (s *Server) users(c *call, op string) {
	s.mu.Lock()
	a, ok := s.audiences[c.params["audience_id"]]
	s.mu.Unlock()
	if !ok {
		c.fail(GraphError{Message: "(#100) Invalid custom audience id", Code: 100, Subcode: 33, Type: "GraphMethodException"})
		return
	}
	req, ok := s.parseUsers(c, op)
	if !ok {
		return
	}
	c.rows = len(req.rows)
	s.mu.Lock()
	defer s.mu.Unlock()
	if a.replace != nil && (op != "replace" || req.session.ID != a.replace.session) {
		c.fail(GraphError{Message: "(#2650) Failed to update the custom audience: a replace operation is in progress on this audience", Code: 2650})
		return
	}
	if !s.checkSession(c, a, op, req.session) {
		return
	}
	valid, samples, invalid := s.checkRows(c, req)
	if op == "remove" && s.opts.MinRemovalSize > 0 && a.members.len()-s.removable(a, valid) < s.opts.MinRemovalSize {
		c.fail(ErrAudienceTooSmall)
		return
	}
	s.apply(a, op, req.session, valid)
	s.recordSession(a, op, req.session)
	s.stats.invalid += invalid
	ans := map[string]any{"audience_id": a.ID, "num_received": len(req.rows), "num_invalid_entries": invalid, "invalid_entry_samples": samples}
	if req.session != nil {
		ans["session_id"] = req.session.ID
	}
	c.json(http.StatusOK, ans)
}

func (s *Server) removable(a *audience, rows []map[string]string) int {
	seen := map[int]bool{}
	for _, r := range rows {
		for _, m := range a.members.matches(r) {
			seen[m] = true
		}
	}
	return len(seen)
}

func (s *Server) apply(a *audience, op string, sp *sessionParam, rows []map[string]string) {
	switch op {
	case "add":
		for _, r := range rows {
			a.members.add(r)
		}
		s.stats.rowsAdded += len(rows)
	case "remove":
		for _, r := range rows {
			for _, m := range a.members.matches(r) {
				a.members.remove(m)
			}
		}
		s.stats.rowsRemoved += len(rows)
	case "replace":
		if a.replace == nil {
			a.replace = &replaceState{session: sp.ID, members: newStore()}
		}
		for _, r := range rows {
			a.replace.members.add(r)
		}
		s.stats.rowsAdded += len(rows)
		if sp.Last {
			a.members, a.replace = a.replace.members, nil
		}
	}
}

// parseUsers reads payload and session; a request Meta would refuse is
// answered here (and counted a violation: the client should never send
// it).
func (s *Server) parseUsers(c *call, op string) (*usersRequest, bool) {
	refuse := func(msg string) (*usersRequest, bool) {
		s.violate(c, msg)
		c.invalidParam(msg)
		return nil, false
	}
	raw := c.param("payload")
	if raw == "" {
		return refuse("the parameter payload is required")
	}
	var p struct {
		Schema json.RawMessage   `json:"schema"`
		Data   []json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal([]byte(raw), &p); err != nil {
		return refuse("payload is not a JSON object with schema and data")
	}
	schema, err := parseSchema(p.Schema)
	if err != nil {
		return refuse(err.Error())
	}
	if len(p.Data) == 0 {
		return refuse("Data is missing or does not match schema: data is empty")
	}
	if len(p.Data) > MaxRows {
		return refuse(fmt.Sprintf("Too many rows: %d rows in one request, more than the %d allowed", len(p.Data), MaxRows))
	}
	req := &usersRequest{schema: schema, rows: make([][]string, len(p.Data))}
	for i, d := range p.Data {
		row, err := parseRow(d, len(schema))
		if err != nil {
			return refuse(fmt.Sprintf("Data is missing or does not match schema: row %d: %v", i+1, err))
		}
		req.rows[i] = row
	}
	if v := c.param("session"); v != "" {
		sp, err := parseSession(v)
		if err != nil {
			return refuse("session: " + err.Error())
		}
		req.session = sp
	} else if op == "replace" {
		return refuse("usersreplace needs the parameter session")
	}
	return req, true
}

func parseSchema(raw json.RawMessage) ([]string, error) {
	var schema []string
	var one string
	if err := json.Unmarshal(raw, &one); err == nil {
		schema = []string{one}
	} else if err := json.Unmarshal(raw, &schema); err != nil || len(schema) == 0 {
		return nil, errors.New("schema must be a key or a non-empty array of keys")
	}
	seen := map[string]bool{}
	for _, k := range schema {
		if _, ok := schemaKeys[k]; !ok {
			return nil, fmt.Errorf("Invalid schema key %q", k)
		}
		if seen[k] {
			return nil, fmt.Errorf("schema key %s appears twice", k)
		}
		seen[k] = true
	}
	return schema, nil
}

// parseRow reads one row of data: an array of the schema's length (a
// single-key schema may send bare values), strings or numbers.
func parseRow(raw json.RawMessage, n int) ([]string, error) {
	var cells []any
	if err := json.Unmarshal(raw, &cells); err != nil {
		if n != 1 {
			return nil, errors.New("a row must be an array")
		}
		var one any
		if err := json.Unmarshal(raw, &one); err != nil {
			return nil, errors.New("unreadable row")
		}
		cells = []any{one}
	}
	if len(cells) != n {
		return nil, fmt.Errorf("%d values for a schema of %d keys", len(cells), n)
	}
	out := make([]string, n)
	for i, v := range cells {
		switch v := v.(type) {
		case string:
			out[i] = v
		case float64:
			out[i] = strconv.FormatFloat(v, 'f', -1, 64)
		case nil:
		default:
			return nil, fmt.Errorf("value %d is neither a string nor a number", i+1)
		}
	}
	return out, nil
}

func parseSession(v string) (*sessionParam, error) {
	var raw struct {
		SessionID json.Number `json:"session_id"`
		BatchSeq  json.Number `json:"batch_seq"`
		Last      *bool       `json:"last_batch_flag"`
		Estimated json.Number `json:"estimated_num_total"`
	}
	dec := json.NewDecoder(strings.NewReader(v))
	dec.UseNumber()
	if err := dec.Decode(&raw); err != nil {
		return nil, errors.New("not a JSON object")
	}
	id, err := strconv.ParseInt(raw.SessionID.String(), 10, 64)
	if err != nil || id <= 0 {
		return nil, errors.New("session_id must be a positive integer")
	}
	seq, err := strconv.Atoi(raw.BatchSeq.String())
	if err != nil || seq < 1 {
		return nil, errors.New("batch_seq must be an integer from 1")
	}
	if raw.Last == nil {
		return nil, errors.New("last_batch_flag is required")
	}
	sp := &sessionParam{ID: raw.SessionID.String(), Seq: seq, Last: *raw.Last}
	if raw.Estimated != "" {
		if sp.Estimated, err = strconv.ParseInt(raw.Estimated.String(), 10, 64); err != nil || sp.Estimated < 0 {
			return nil, errors.New("estimated_num_total must be a whole number")
		}
	}
	return sp, nil
}

// checkSession checks a batch against its session so far: one operation
// on one audience, batch_seq from 1 and one more each batch (the same
// again for a retry), the same estimated_num_total, nothing after the
// last batch. Called with s.mu held.
func (s *Server) checkSession(c *call, a *audience, op string, sp *sessionParam) bool {
	if sp == nil {
		return true
	}
	refuse := func(msg string) bool {
		s.violations = append(s.violations, Violation{Time: c.now, Endpoint: c.endpoint, Rule: msg})
		c.invalidParam("Invalid session: " + msg)
		return false
	}
	prev, ok := s.sessions[sp.ID]
	switch {
	case !ok && sp.Seq != 1:
		return refuse(fmt.Sprintf("a new session starts at batch_seq 1, not %d", sp.Seq))
	case !ok:
		return true
	case prev.op != op || prev.audience != a.ID:
		return refuse("a session carries one operation on one audience")
	case prev.last:
		return refuse("a batch came after the session's last batch")
	case sp.Seq != prev.seq+1 && sp.Seq != prev.seq:
		return refuse(fmt.Sprintf("batch_seq %d follows %d", sp.Seq, prev.seq))
	case sp.Estimated != prev.total:
		return refuse("estimated_num_total changed within the session")
	}
	return true
}

func (s *Server) recordSession(a *audience, op string, sp *sessionParam) {
	if sp == nil {
		return
	}
	s.sessions[sp.ID] = &session{op: op, audience: a.ID, total: sp.Estimated, seq: sp.Seq, last: sp.Last}
}

// checkRows checks each row's cells: a row with a malformed cell, or with
// no value at all, is an invalid entry (named in the samples while there
// is room); so is a row holding a hash Reject named. Every cell is also
// judged against the registered identities. Called with s.mu held.
func (s *Server) checkRows(c *call, req *usersRequest) (valid []map[string]string, samples map[string]string, invalid int) {
	samples = map[string]string{}
	note := func(sample, reason string) {
		invalid++
		if len(samples) < s.opts.MaxSamples {
			samples[sample] = reason
		}
	}
	for i, row := range req.rows {
		cells := make(map[string]string, len(row))
		problem, sample := "", ""
		for j, v := range row {
			k := req.schema[j]
			if v == "" {
				continue
			}
			if msg := s.judge(c, k, v); msg != "" && problem == "" {
				problem, sample = msg, v
			}
			if reason, ok := s.rejects[v]; ok && problem == "" {
				problem, sample = reason, v
			}
			cells[k] = v
		}
		switch {
		case problem != "":
			note(sample, problem)
		case len(cells) == 0:
			s.violations = append(s.violations, Violation{Time: c.now, Endpoint: c.endpoint, Rule: fmt.Sprintf("row %d has no value", i+1)})
			note(fmt.Sprintf("row %d", i+1), "The row has no value")
		default:
			valid = append(valid, cells)
		}
	}
	return valid, samples, invalid
}

// parseParams reads a request's parameters: the query, and for POST and
// DELETE a form (application/x-www-form-urlencoded) or JSON body.
func parseParams(r *http.Request) (map[string][]string, error) {
	form := url.Values{}
	for k, v := range r.URL.Query() {
		form[k] = v
	}
	if r.Method != http.MethodPost && r.Method != http.MethodDelete {
		return form, nil
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 64<<20))
	if err != nil || len(body) == 0 {
		return form, err
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch ct {
	case "application/json":
		var m map[string]any
		if err := json.Unmarshal(body, &m); err != nil {
			return nil, errors.New("the JSON body is malformed")
		}
		for k, v := range m {
			if s, ok := v.(string); ok {
				form.Set(k, s)
				continue
			}
			b, _ := json.Marshal(v)
			form.Set(k, string(b))
		}
	default:
		vals, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, errors.New("the form body is malformed")
		}
		for k, v := range vals {
			form[k] = v
		}
	}
	return form, nil
}
