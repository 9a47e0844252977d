package brevo

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
)

// batchAnswer is the body of a 2xx answer to POST /contacts/batch. Brevo's
// API reference documents a 207 whose successIds and failureIds are int64
// "IDs" without saying of what: contact ids, or the indexes of the
// request's contacts (which its observed 404 names). So the entries are
// read raw, in whatever form they come.
type batchAnswer struct {
	SuccessIDs json.RawMessage `json:"successIds"`
	FailureIDs json.RawMessage `json:"failureIds"`
}

// outcome is what a 2xx answer says of one contact of the request.
type outcome int8

const (
	unknown    outcome = iota // the answer does not tell: ask again
	applied                   // updated
	notApplied                // listed as not updated: unknown to Brevo, or refused
)

// ref is one entry of successIds or failureIds: a number (an index in the
// request, or a contact id) or an identifier. A ref with neither names no
// contact (an entry of a form Brevo does not document).
type ref struct {
	num    int64
	isNum  bool
	ident  string
	parsed bool
}

// refs reads a list in any plausible form: an array of numbers, of numeric
// strings or of identifiers (e-mails, SMS numbers), a comma-separated
// string ("3,4", the spec's own example), or a single number. present is
// false when the field is absent or null.
func refs(raw json.RawMessage) (out []ref, present bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return nil, false
	}
	var items []json.RawMessage
	if json.Unmarshal(raw, &items) != nil {
		items = []json.RawMessage{raw}
	}
	for _, it := range items {
		var s string
		var n json.Number
		switch {
		case json.Unmarshal(it, &s) == nil:
			for _, f := range strings.Split(s, ",") {
				if f = strings.TrimSpace(f); f != "" {
					out = append(out, textRef(f))
				}
			}
		case json.Unmarshal(it, &n) == nil:
			out = append(out, textRef(n.String()))
		default:
			out = append(out, ref{}) // an object, a list: names no contact
		}
	}
	return out, true
}

func textRef(s string) ref {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return ref{num: n, isNum: true, parsed: true}
	}
	return ref{ident: s, parsed: true}
}

// outcomes reads what a 2xx answer says of each of cs. No failure listed
// means every contact was updated, unless successIds leave some out. An
// identifier names its contact. Numbers are read as 0-based indexes only
// when the two lists together name every contact exactly once (a contact
// id is never 0, so they cannot be ids then); otherwise they may be
// contact ids, which sluice does not know, and what they say is unknown.
func (a batchAnswer) outcomes(cs []*contact) []outcome {
	n := len(cs)
	succ, hasSucc := refs(a.SuccessIDs)
	fail, _ := refs(a.FailureIDs)
	out := make([]outcome, n)
	switch {
	case len(fail) == 0 && (!hasSucc || len(succ) >= n):
		return fill(out, applied)
	case n == 1 || (len(fail) >= n && len(succ) == 0):
		// One contact and a failure listed (or no success): it failed.
		return fill(out, notApplied)
	}
	ids := newIdents(cs)
	asIndex := ids.covers(succ, fail, n)
	failed, allNamed := ids.positions(fail, n, asIndex)
	ok, _ := ids.positions(succ, n, asIndex)
	for _, i := range ok {
		out[i] = applied
	}
	for _, i := range failed {
		out[i] = notApplied // a contact in both lists: not trusted as updated
	}
	// The others were updated if every failure is accounted for and the
	// success count does not say fewer were.
	if allNamed && (!hasSucc || len(succ)+len(failed) >= n) {
		for i := range out {
			if out[i] == unknown {
				out[i] = applied
			}
		}
	}
	return out
}

func fill(out []outcome, o outcome) []outcome {
	for i := range out {
		out[i] = o
	}
	return out
}

// idents finds the request's contacts by the identifiers they were sent
// with.
type idents map[string][]int

func newIdents(cs []*contact) idents {
	m := idents{}
	for i, c := range cs {
		if c.email != "" {
			m[strings.ToLower(c.email)] = append(m[strings.ToLower(c.email)], i)
		}
		if c.sms != "" {
			m[c.sms] = append(m[c.sms], i)
		}
	}
	return m
}

func (m idents) find(s string) []int {
	if p, ok := m[strings.ToLower(strings.TrimSpace(s))]; ok {
		return p
	}
	if sms, err := E164(s); err == nil {
		return m[sms]
	}
	return nil
}

// covers reports whether, numbers read as 0-based indexes, the two lists
// name every one of n contacts exactly once.
func (m idents) covers(succ, fail []ref, n int) bool {
	seen := make([]int, n)
	for _, r := range append(append([]ref(nil), succ...), fail...) {
		switch {
		case r.isNum && r.num >= 0 && r.num < int64(n):
			seen[r.num]++
		case !r.isNum && r.parsed && len(m.find(r.ident)) > 0:
			for _, i := range m.find(r.ident) {
				seen[i]++
			}
		default:
			return false
		}
	}
	for _, k := range seen {
		if k != 1 {
			return false
		}
	}
	return true
}

// positions are the distinct contacts rs name; all is false when some
// entry names none (or is a number not read as an index).
func (m idents) positions(rs []ref, n int, asIndex bool) (pos []int, all bool) {
	all = true
	seen := make(map[int]bool, len(rs))
	add := func(i int) {
		if !seen[i] {
			seen[i] = true
			pos = append(pos, i)
		}
	}
	for _, r := range rs {
		switch {
		case r.isNum && asIndex && r.num >= 0 && r.num < int64(n):
			add(int(r.num))
		case !r.isNum && r.parsed && len(m.find(r.ident)) > 0:
			for _, i := range m.find(r.ident) {
				add(i)
			}
		default:
			all = false
		}
	}
	return pos, all
}
