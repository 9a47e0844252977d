package destination

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// QuotaHeaders name the response headers by which a server announces what
// is left of its rate limit (Brevo's x-sib-ratelimit-limit, -remaining and
// -reset; the IETF RateLimit-Limit, -Remaining and -Reset). Reset is read
// in seconds, or as a Unix time above 1e9; a value like "10, 10;w=1" is
// read by its first number. With them the client slows down before the
// quota runs out instead of running into 429s, per group of endpoints (a
// vendor counts its contacts endpoints apart from the others, say):
//
//   - after a 429, every request of the group waits for the reset, since
//     the others would be refused too;
//   - for windows longer than two seconds (an hourly quota), when the
//     remaining requests run low (a tenth of the limit, or fewer than the
//     requests in flight) they are spread evenly until the reset, and none
//     is sent once the quota is used up or the requests in flight may use
//     it up. A wait longer than MaxRetryAfter fails the request with a
//     *QuotaError instead, saying when the quota resets.
//
// Per-second windows announced in whole seconds carry too little to pace
// by (every answer says "resets in 1 s"): those requests are paced by Rate
// and the endpoint windows, and by the wait after a 429. A rolling window
// whose length is announced in milliseconds (Interval) or declared
// (Window), with its Limit, is paced by whatever its length as a sliding
// log of the client's own requests: at most Limit of them in any span of
// the window plus a hundredth, each counted until a window after its
// answer. While the server's count (Limit less Remaining) is no more than
// those requests, that is all the pacing; when it is more, another client
// spends the same quota, at moments the log cannot know, and the requests
// are also paced as above, as a window reset at the next one of its
// length: conservative, since a rolling window frees up gradually. A
// calendar quota (ResetAt) is paced until its reset; the 429 policies of
// a body (PolicyField) tell which of several quotas was hit.
type QuotaHeaders struct {
	Limit, Remaining, Reset string
	// Group names the quota a request counts against; nil or "" is one
	// quota for every request.
	Group func(*http.Request) string

	// Name says which quota this is in errors ("daily"); optional.
	Name string
	// Interval is a header carrying the length of a rolling window in
	// milliseconds (HubSpot's X-HubSpot-RateLimit-Interval-Milliseconds),
	// for servers that announce no reset. Read in milliseconds, even a
	// one-second window is paced by.
	Interval string
	// Window is the window's length when no header says it (known
	// exactly, so even a one-second window is paced by).
	Window time.Duration
	// ResetAt gives when a calendar quota resets (a daily quota at
	// midnight in the account's time zone: NextMidnight).
	ResetAt func(now time.Time) time.Time
	// PolicyField is a field of a 429's JSON body naming the limit that
	// was hit, and Policies the values naming this quota (HubSpot's
	// policyName, DAILY). A 429 that names this quota holds its requests
	// until its reset (Retry-After if the server sends one and the quota
	// has no reset of its own), and fails the request with a *QuotaError
	// at once when that is longer than MaxRetryAfter; a 429 that names
	// another quota leaves this one alone. With Policies set, a 429 naming
	// none counts against this quota only when its Remaining header is 0.
	PolicyField string
	Policies    []string
	// NoSpread stops requests only once the quota is used up, without
	// spreading its last tenth until the reset: for a daily quota that
	// would slow every run to a crawl for hours.
	NoSpread bool
}

// NextMidnight returns a ResetAt for a quota that resets at midnight in
// loc (nil: UTC).
func NextMidnight(loc *time.Location) func(time.Time) time.Time {
	if loc == nil {
		loc = time.UTC
	}
	return func(now time.Time) time.Time {
		y, m, d := now.In(loc).Date()
		return time.Date(y, m, d+1, 0, 0, 0, 0, loc)
	}
}

// longWindow is the reset above which announced quotas are paced by.
const longWindow = 2 * time.Second

// QuotaError says a server's announced quota is used up for longer than a
// run waits.
type QuotaError struct {
	Name, Group string
	Quota       string // QuotaHeaders.Name, if any
	Wait        time.Duration
	Until       time.Time // when the quota is whole again
}

func (e *QuotaError) Error() string {
	g, q := "", ""
	if e.Group != "" {
		g = " for its " + e.Group + " endpoints"
	}
	if e.Quota != "" {
		q = e.Quota + " "
	}
	until := ""
	if !e.Until.IsZero() {
		until = " until " + e.Until.UTC().Format("2006-01-02 15:04:05 MST") + ","
	}
	return fmt.Sprintf("%s: the %srate limit%s is used up%s for another %s, more than sluice waits within a run; the next run sends the rest", e.Name, q, g, until, e.Wait.Round(time.Second))
}

type quotaPacer struct {
	h      QuotaHeaders
	mu     sync.Mutex
	groups map[string]*quotaState
	now    func() time.Time
	sleep  func(context.Context, time.Duration) error
}

// quotaState is what the server last said of one group's quota.
type quotaState struct {
	hold     time.Time     // no request starts before this
	gap      time.Duration // spacing while the quota runs low
	next     time.Time     // the next start under gap
	gapUntil time.Time     // when the low quota resets
	inflight int
	// A rolling window's announced limit and length (0: not known yet),
	// and the requests sent into it.
	limit  int
	window time.Duration
	log    rollingLog
}

// quotaTurn is a request's turn in a group: its place in the rolling log,
// if the quota keeps one.
type quotaTurn struct {
	group string
	slot  *rollingSlot
}

// rolling says whether the quota is a rolling window of announced limit,
// paced by a log of the requests sent.
func (p *quotaPacer) rolling() bool {
	return p.h.Limit != "" && p.h.Reset == "" && p.h.ResetAt == nil && (p.h.Interval != "" || p.h.Window > 0)
}

// logSpan is how long a request counts against a rolling window of d: a
// hundredth more, for servers that count in buckets and so free up a
// little late.
func logSpan(d time.Duration) time.Duration { return d + d/100 }

func newQuotaPacer(h *QuotaHeaders) *quotaPacer {
	if h == nil || (h.Remaining == "" && h.Reset == "" && len(h.Policies) == 0) {
		return nil
	}
	return &quotaPacer{h: *h, groups: map[string]*quotaState{}, now: time.Now, sleep: sleepCtx}
}

func (p *quotaPacer) state(req *http.Request) (string, *quotaState) {
	g := ""
	if p.h.Group != nil {
		g = p.h.Group(req)
	}
	st := p.groups[g]
	if st == nil {
		st = &quotaState{}
		p.groups[g] = st
	}
	return g, st
}

// wait blocks until the request's group may send one more request, and
// returns its turn for observe (or release, if it is not sent).
func (p *quotaPacer) wait(req *http.Request, name string, maxWait time.Duration) (quotaTurn, error) {
	p.mu.Lock()
	g, st := p.state(req)
	turn := quotaTurn{group: g}
	now := p.now()
	start := now
	if st.hold.After(start) {
		start = st.hold
	}
	if p.rolling() {
		if st.window == 0 {
			st.window = p.h.Window
		}
		turn.slot = st.log.book(start, now, st.limit, logSpan(st.window))
		start = turn.slot.start
	}
	if st.gap > 0 && start.Before(st.gapUntil) {
		if st.next.After(start) {
			start = st.next
		}
		if start.Before(st.gapUntil) {
			st.next = start.Add(st.gap)
		} else {
			// Past the reset the quota is whole again: requests queued
			// while it ran low go at once, not at the old spacing.
			start = st.gapUntil
		}
	}
	if turn.slot != nil {
		turn.slot.start = start
	}
	st.inflight++
	p.mu.Unlock()
	d := start.Sub(now)
	if d <= 0 {
		return turn, nil
	}
	fail := func(err error) (quotaTurn, error) {
		p.release(turn)
		return turn, err
	}
	if d > maxWait {
		return fail(&QuotaError{Name: name, Group: g, Quota: p.h.Name, Wait: d, Until: start})
	}
	if err := p.sleep(req.Context(), d); err != nil {
		return fail(err)
	}
	return turn, nil
}

// release gives back a turn whose request was not sent.
func (p *quotaPacer) release(turn quotaTurn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.groups[turn.group].inflight--
	if turn.slot != nil {
		turn.slot.done, turn.slot.answered = true, time.Time{}
	}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// observe reads the quota an answer announces; body is a 429's JSON body,
// if it was read; resp is nil when the attempt failed (it may have reached
// the server all the same). It reports whether a 429 named this quota's
// policy.
func (p *quotaPacer) observe(turn quotaTurn, resp *http.Response, body map[string]any) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	st := p.groups[turn.group]
	st.inflight--
	now := p.now()
	if turn.slot != nil {
		turn.slot.done, turn.slot.answered = true, now
	}
	if resp == nil {
		return false
	}
	window, paced, okWindow := p.window(resp, now)
	remaining, okRem := headerNumber(resp.Header.Get(p.h.Remaining))
	if resp.StatusCode == http.StatusTooManyRequests {
		named, ours := p.claims(body, okRem && remaining <= 0)
		if !ours {
			return false
		}
		hold, ok := window, okWindow
		_, hasReset := headerSeconds(resp.Header.Get(p.h.Reset), now)
		if wait, okWait := serverWait(resp, nil); okWait && !hasReset && (p.h.ResetAt == nil || wait > hold) {
			// A rolling window frees up before its full length: the
			// server's Retry-After says when, unless the quota announces
			// its reset or resets later on the calendar.
			hold, ok = wait, true
		}
		if ok {
			st.hold = laterOf(st.hold, now.Add(hold))
		}
		return named
	}
	if !okWindow || !okRem || !paced {
		return false
	}
	limit, _ := headerNumber(resp.Header.Get(p.h.Limit))
	if turn.slot != nil && limit > 0 {
		st.limit, st.window = limit, window
		if limit-remaining <= st.log.ours(turn.slot.start.Add(-window), now) {
			// Every request the server counts is ours: the log paces them
			// exactly, with no slowing down as the window fills.
			st.gap = 0
			return false
		}
	}
	low := max(1, limit/10, st.inflight)
	// The requests still in flight may take what the answer says is left
	// (the server counted them after it, or is counting them now).
	left := remaining - st.inflight
	switch {
	case left <= 0:
		st.hold = laterOf(st.hold, now.Add(window))
	case remaining <= low && !p.h.NoSpread:
		// Spread what is left until the reset rather than spending it at
		// once and then standing still.
		st.gap = window / time.Duration(left+1)
		st.gapUntil = now.Add(window)
	default:
		st.gap = 0
	}
	return false
}

// window reads when the quota is whole again, and whether that is long
// enough (or announced precisely enough) to pace by.
func (p *quotaPacer) window(resp *http.Response, now time.Time) (d time.Duration, paced, ok bool) {
	if reset, ok := headerSeconds(resp.Header.Get(p.h.Reset), now); ok {
		return reset, reset >= longWindow, true
	}
	if p.h.ResetAt != nil {
		d := p.h.ResetAt(now).Sub(now)
		return d, d >= longWindow, d > 0
	}
	if ms, ok := headerNumber(resp.Header.Get(p.h.Interval)); ok && ms > 0 {
		return time.Duration(ms) * time.Millisecond, true, true
	}
	return p.h.Window, p.h.Window > 0, p.h.Window > 0
}

// claims says whether a 429 counts against this quota: named, when its
// body names one of the quota's policies.
func (p *quotaPacer) claims(body map[string]any, exhausted bool) (named, ours bool) {
	if len(p.h.Policies) == 0 {
		return false, true
	}
	policy, _ := body[p.h.PolicyField].(string)
	if policy == "" {
		return false, exhausted
	}
	for _, v := range p.h.Policies {
		if strings.EqualFold(v, policy) {
			return true, true
		}
	}
	return false, false
}

// heldError is the *QuotaError of a group held longer than maxWait.
func (p *quotaPacer) heldError(group, name string, maxWait time.Duration) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	hold := p.groups[group].hold
	if d := hold.Sub(p.now()); d > maxWait {
		return &QuotaError{Name: name, Group: group, Quota: p.h.Name, Wait: d, Until: hold}
	}
	return nil
}

// peekPolicyBody decodes a 429's JSON body for the quotas' policy fields,
// and puts the body back whole for the caller.
func peekPolicyBody(resp *http.Response) map[string]any {
	if resp.Body == nil {
		return nil
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	resp.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(b), resp.Body), resp.Body}
	if err != nil {
		return nil
	}
	var m map[string]any
	if json.Unmarshal(b, &m) != nil {
		return nil
	}
	return m
}

func laterOf(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// firstValue keeps the first item of a list-valued header ("10, 10;w=1").
func firstValue(v string) string {
	v = strings.TrimSpace(v)
	if i := strings.IndexAny(v, ",;"); i >= 0 {
		v = strings.TrimSpace(v[:i])
	}
	return v
}

func headerNumber(v string) (int, bool) {
	f, err := strconv.ParseFloat(firstValue(v), 64)
	if err != nil || f < 0 {
		return 0, false
	}
	return int(f), true
}

// headerSeconds reads a duration in seconds, or a Unix time above 1e9.
func headerSeconds(v string, now time.Time) (time.Duration, bool) {
	n, err := strconv.ParseFloat(firstValue(v), 64)
	if err != nil || n < 0 {
		return 0, false
	}
	if n > 1e9 {
		return max(0, time.Unix(int64(n), 0).Sub(now)), true
	}
	return time.Duration(n * float64(time.Second)), true
}
