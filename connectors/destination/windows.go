package destination

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// Window is a rate limit over a period: at most Limit requests in any
// span of Per (for example 10 per second, or 150 per minute).
type Window struct {
	Limit int
	Per   time.Duration
}

func (w Window) String() string {
	switch w.Per {
	case time.Second:
		return fmt.Sprintf("%d/s", w.Limit)
	case time.Minute:
		return fmt.Sprintf("%d/m", w.Limit)
	case 24 * time.Hour:
		return fmt.Sprintf("%d/d", w.Limit)
	}
	return fmt.Sprintf("%d/%s", w.Limit, w.Per)
}

// EndpointLimit limits the requests to one endpoint of an API. Vendors
// publish limits per endpoint, often as a burst window and a steady window
// that must both have room (Klaviyo: 10/s and 150/m for bulk imports).
type EndpointLimit struct {
	Method string // empty: any method
	// Path is the URL path, with {name} standing for one path segment:
	// /api/lists/{id}/relationships/profiles. It matches the end of the
	// request's path.
	Path    string
	Windows []Window
}

func (e EndpointLimit) matches(method string, segs []string) bool {
	if e.Method != "" && !strings.EqualFold(e.Method, method) {
		return false
	}
	pat := splitPath(e.Path)
	if len(pat) > len(segs) {
		return false
	}
	// Match the end of the path, so that a base URL with a path prefix (a
	// proxy) keeps its limits.
	segs = segs[len(segs)-len(pat):]
	for i, p := range pat {
		if strings.HasPrefix(p, "{") && strings.HasSuffix(p, "}") {
			if segs[i] == "" {
				return false
			}
			continue
		}
		if p != segs[i] {
			return false
		}
	}
	return true
}

func splitPath(p string) []string { return strings.Split(strings.Trim(p, "/"), "/") }

// WindowLimiter admits requests so that every window holds: for each
// window, a request goes no sooner than Per after the request Limit places
// before it (a sliding log, stricter than the fixed windows vendors count
// in, so that the server never sees more than its limit in any window). A
// margin absorbs the jitter between sending and the server's clock.
type WindowLimiter struct {
	mu      sync.Mutex
	windows []windowLog
	margin  time.Duration
	paused  time.Time // no request before this (a 429's Retry-After)
	now     func() time.Time
}

type windowLog struct {
	Window
	times []time.Time // ring of the last Limit grant times
	next  int
}

// DefaultWindowMargin is added to every window: 50 ms.
const DefaultWindowMargin = 50 * time.Millisecond

// NewWindowLimiter returns a limiter enforcing every window. Windows with
// a non-positive limit or period are ignored.
func NewWindowLimiter(margin time.Duration, windows ...Window) *WindowLimiter {
	l := &WindowLimiter{margin: margin, now: time.Now}
	for _, w := range windows {
		if w.Limit > 0 && w.Per > 0 {
			l.windows = append(l.windows, windowLog{Window: w, times: make([]time.Time, 0, w.Limit)})
		}
	}
	return l
}

// reserve books the earliest moment a request may go, and returns it.
func (l *WindowLimiter) reserve() time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	at := l.now()
	if l.paused.After(at) {
		at = l.paused
	}
	for i := range l.windows {
		w := &l.windows[i]
		if len(w.times) < w.Limit {
			continue
		}
		// The ring is full: times[next] is the grant Limit places back.
		if t := w.times[w.next].Add(w.Per + l.margin); t.After(at) {
			at = t
		}
	}
	for i := range l.windows {
		w := &l.windows[i]
		if len(w.times) < w.Limit {
			w.times = append(w.times, at)
			continue
		}
		w.times[w.next] = at
		w.next = (w.next + 1) % w.Limit
	}
	return at
}

// Wait blocks until a request may go, or the context ends.
func (l *WindowLimiter) Wait(ctx context.Context) error {
	at := l.reserve()
	d := time.Until(at)
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// PauseUntil holds every request back until t, for instance when the
// server answered 429 with a Retry-After: the other requests in flight to
// the same endpoint would only be refused too.
func (l *WindowLimiter) PauseUntil(t time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if t.After(l.paused) {
		l.paused = t
	}
}

// endpointLimiters finds the limiter of a request.
type endpointLimiters struct {
	limits   []EndpointLimit
	limiters []*WindowLimiter
}

// sharedLimiters keeps endpoint limiters by HTTPOptions.LimitKey, for the
// life of the process: vendors count per account, and one process may open
// the same account many times (one destination per sync and per run).
var sharedLimiters sync.Map // string -> *WindowLimiter

func newEndpointLimiters(key string, limits []EndpointLimit, margin time.Duration) *endpointLimiters {
	if len(limits) == 0 {
		return nil
	}
	e := &endpointLimiters{limits: limits}
	for _, lim := range limits {
		fresh := NewWindowLimiter(margin, lim.Windows...)
		if key == "" {
			e.limiters = append(e.limiters, fresh)
			continue
		}
		id := key + " " + strings.ToUpper(lim.Method) + " " + lim.Path + " " + windowsKey(lim.Windows)
		got, _ := sharedLimiters.LoadOrStore(id, fresh)
		e.limiters = append(e.limiters, got.(*WindowLimiter))
	}
	return e
}

func windowsKey(ws []Window) string {
	parts := make([]string, len(ws))
	for i, w := range ws {
		parts[i] = w.String()
	}
	return strings.Join(parts, ",")
}

// For returns the limiter of the first endpoint the request matches, or nil.
func (e *endpointLimiters) For(r *http.Request) *WindowLimiter {
	if e == nil {
		return nil
	}
	segs := splitPath(r.URL.Path)
	for i, lim := range e.limits {
		if lim.matches(r.Method, segs) {
			return e.limiters[i]
		}
	}
	return nil
}

// rollingLog books a client's requests into a server's rolling window (at
// most limit requests in any span of its length), by the answers: the
// server counted a request at some moment before answering it, so the
// request holds a place until a window after its answer, and no
// send-to-arrival jitter can make the server see more than the limit. A
// request still in flight is taken to have arrived at the latest now.
type rollingLog struct {
	slots []*rollingSlot
}

// rollingSlot is one request's place in a rollingLog.
type rollingSlot struct {
	start    time.Time // when the request may go (its booking)
	answered time.Time // when its answer came, once done
	done     bool      // answered, or given up (answered zero: never sent)
}

// free says when the slot stops counting against a window of span.
func (s *rollingSlot) free(now time.Time, span time.Duration) time.Time {
	if s.done {
		return s.answered.Add(span)
	}
	return laterOf(s.start, now).Add(span)
}

// book takes a place for a request that may go at at, or later: once fewer
// than limit of the places taken still count against a window of span. A
// limit or span of 0 (not known yet) books without waiting.
func (l *rollingLog) book(at, now time.Time, limit int, span time.Duration) *rollingSlot {
	l.prune(now, span)
	if n := len(l.slots); limit > 0 && span > 0 && n >= limit {
		frees := make([]time.Time, n)
		for i, s := range l.slots {
			frees[i] = s.free(now, span)
		}
		slices.SortFunc(frees, time.Time.Compare)
		// With the earliest n-limit+1 places free, limit-1 still count.
		at = laterOf(at, frees[n-limit])
	}
	s := &rollingSlot{start: at}
	l.slots = append(l.slots, s)
	return s
}

// prune drops the answered places that no longer count, keeping a second
// window of them for ours.
func (l *rollingLog) prune(now time.Time, span time.Duration) {
	kept := l.slots[:0]
	for _, s := range l.slots {
		if !s.done || (span > 0 && now.Sub(s.answered) < 2*span) {
			kept = append(kept, s)
		}
	}
	clear(l.slots[len(kept):])
	l.slots = kept
}

// ours counts at most how many of the client's requests a server counting
// from since on could hold in its window at now: those not answered
// before since, and not booked after now.
func (l *rollingLog) ours(since, now time.Time) int {
	n := 0
	for _, s := range l.slots {
		if !s.start.After(now) && (!s.done || s.answered.After(since)) {
			n++
		}
	}
	return n
}
