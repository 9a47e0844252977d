package destination

import (
	"context"
	"fmt"
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
//     is sent once the quota is used up. A wait longer than MaxRetryAfter
//     fails the request with a *QuotaError instead.
//
// Per-second windows announced in whole seconds carry too little to pace
// by (every answer says "resets in 1 s"): those requests are paced by Rate
// and the endpoint windows, and by the wait after a 429.
type QuotaHeaders struct {
	Limit, Remaining, Reset string
	// Group names the quota a request counts against; nil or "" is one
	// quota for every request.
	Group func(*http.Request) string
}

// longWindow is the reset above which announced quotas are paced by.
const longWindow = 2 * time.Second

// QuotaError says a server's announced quota is used up for longer than a
// run waits.
type QuotaError struct {
	Name, Group string
	Wait        time.Duration
}

func (e *QuotaError) Error() string {
	g := ""
	if e.Group != "" {
		g = " for its " + e.Group + " endpoints"
	}
	return fmt.Sprintf("%s: the rate limit%s is used up for another %s, more than sluice waits within a run; the next run sends the rest", e.Name, g, e.Wait.Round(time.Second))
}

type quotaPacer struct {
	h      QuotaHeaders
	mu     sync.Mutex
	groups map[string]*quotaState
}

// quotaState is what the server last said of one group's quota.
type quotaState struct {
	hold     time.Time     // no request starts before this
	gap      time.Duration // spacing while the quota runs low
	next     time.Time     // the next start under gap
	gapUntil time.Time     // when the low quota resets
	inflight int
}

func newQuotaPacer(h *QuotaHeaders) *quotaPacer {
	if h == nil || (h.Remaining == "" && h.Reset == "") {
		return nil
	}
	return &quotaPacer{h: *h, groups: map[string]*quotaState{}}
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
// returns the group for observe.
func (p *quotaPacer) wait(req *http.Request, name string, maxWait time.Duration) (string, error) {
	p.mu.Lock()
	g, st := p.state(req)
	now := time.Now()
	start := now
	if st.hold.After(start) {
		start = st.hold
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
	st.inflight++
	p.mu.Unlock()
	d := start.Sub(now)
	if d <= 0 {
		return g, nil
	}
	fail := func(err error) (string, error) {
		p.mu.Lock()
		st.inflight--
		p.mu.Unlock()
		return g, err
	}
	if d > maxWait {
		return fail(&QuotaError{Name: name, Group: g, Wait: d})
	}
	return g, sleepCtx(req.Context(), d, fail)
}

func sleepCtx(ctx context.Context, d time.Duration, fail func(error) (string, error)) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		_, err := fail(ctx.Err())
		return err
	}
}

// observe reads the quota an answer announces.
func (p *quotaPacer) observe(group string, resp *http.Response) {
	p.mu.Lock()
	defer p.mu.Unlock()
	st := p.groups[group]
	st.inflight--
	if resp == nil {
		return
	}
	now := time.Now()
	reset, okReset := headerSeconds(resp.Header.Get(p.h.Reset), now)
	if resp.StatusCode == http.StatusTooManyRequests {
		if okReset {
			st.hold = laterOf(st.hold, now.Add(reset))
		}
		return
	}
	remaining, okRem := headerNumber(resp.Header.Get(p.h.Remaining))
	if !okReset || !okRem || reset < longWindow {
		return
	}
	limit, _ := headerNumber(resp.Header.Get(p.h.Limit))
	low := max(1, limit/10, st.inflight)
	switch {
	case remaining <= 0:
		st.hold = laterOf(st.hold, now.Add(reset))
	case remaining <= low:
		// Spread what is left until the reset rather than spending it at
		// once and then standing still.
		st.gap = reset / time.Duration(remaining+1)
		st.gapUntil = now.Add(reset)
	default:
		st.gap = 0
	}
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
