package destination

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"
)

// TestRollingLogBook checks when a rolling log lets requests go, against a
// window of one second: a place counts until a span after its answer.
func TestRollingLogBook(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	type step struct {
		at     time.Duration
		op     string // book, answer or cancel
		slot   int    // the booking answered or cancelled
		wantAt time.Duration
	}
	book := func(at, want time.Duration) step { return step{at: at, op: "book", wantAt: want} }
	for _, tc := range []struct {
		name  string
		limit int
		steps []step
	}{
		{"under the limit: at once", 3, []step{book(0, 0), book(0, 0), book(ms(10), ms(10))}},
		{"full: a span after the earliest answer", 2, []step{book(0, 0), book(0, 0),
			{at: ms(200), op: "answer", slot: 0}, {at: ms(100), op: "answer", slot: 1}, book(ms(300), ms(1100))}},
		{"in flight: counted as arriving now", 1, []step{book(0, 0), book(ms(500), ms(1500))}},
		{"given up: frees its place at once", 1, []step{book(0, 0), {at: ms(100), op: "cancel", slot: 0}, book(ms(200), ms(200))}},
		{"limit not known yet: at once", 0, []step{book(0, 0), book(0, 0), book(0, 0)}},
		{"a booking ahead counts from its start", 1, []step{book(0, 0), {at: ms(100), op: "answer", slot: 0},
			book(ms(200), ms(1100)), book(ms(300), ms(2100))}},
		{"places a window old are free", 2, []step{book(0, 0), {at: ms(50), op: "answer", slot: 0}, book(ms(100), ms(100)),
			{at: ms(150), op: "answer", slot: 1}, book(ms(1200), ms(1200)), book(ms(1200), ms(1200))}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var l rollingLog
			var slots []*rollingSlot
			for i, s := range tc.steps {
				now := t0.Add(s.at)
				switch s.op {
				case "book":
					sl := l.book(now, now, tc.limit, time.Second)
					slots = append(slots, sl)
					if got := sl.start.Sub(t0); got != s.wantAt {
						t.Errorf("step %d: booked at +%s, want +%s", i, got, s.wantAt)
					}
				case "answer":
					slots[s.slot].done, slots[s.slot].answered = true, now
				case "cancel":
					slots[s.slot].done, slots[s.slot].answered = true, time.Time{}
				}
			}
		})
	}
}

func TestRollingLogOurs(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
	since, now := t0.Add(time.Second), t0.Add(2*time.Second)
	for _, tc := range []struct {
		name string
		slot rollingSlot
		want int
	}{
		{"answered after since", rollingSlot{start: t0, answered: t0.Add(1500 * time.Millisecond), done: true}, 1},
		{"answered before since", rollingSlot{start: t0, answered: t0.Add(500 * time.Millisecond), done: true}, 0},
		{"in flight", rollingSlot{start: t0}, 1},
		{"booked after now", rollingSlot{start: now.Add(time.Millisecond)}, 0},
		{"given up", rollingSlot{start: t0.Add(1500 * time.Millisecond), done: true}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := rollingLog{slots: []*rollingSlot{&tc.slot}}
			if got := l.ours(since, now); got != tc.want {
				t.Errorf("ours = %d, want %d", got, tc.want)
			}
		})
	}
}

// TestRollingQuotaPacing drives a rolling-window quota (announced limit,
// remaining count and length) one request at a time on a fake clock: each
// request asks at ask, is answered lat later with remaining left (-1: no
// quota headers), and must wait want first. Alone, the client's requests
// explain the server's count and the log paces them; when the server
// counts more, another client shares the quota and the low remainder is
// spread until a reset as well.
func TestRollingQuotaPacing(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	type req struct {
		ask, lat  time.Duration
		remaining int
		want      time.Duration
	}
	for _, tc := range []struct {
		name     string
		limit    int
		interval bool          // announce 1,000 ms in the Interval header
		window   time.Duration // else the declared window
		reqs     []req
	}{
		{name: "alone: the request over the limit waits a window after the first answer", limit: 3, interval: true, reqs: []req{
			{0, ms(50), 2, 0}, {ms(100), ms(50), 1, 0}, {ms(200), ms(50), 0, 0},
			{ms(300), ms(50), 0, ms(760)}, // 50 ms + 1,010 ms
			{ms(1200), ms(50), 0, 0},      // the second answer (150 ms) is a window old
		}},
		{name: "alone: a low remainder is not spread", limit: 2, interval: true, reqs: []req{
			{0, ms(50), 1, 0}, {ms(100), ms(50), 0, 0}, {ms(200), ms(50), 1, ms(860)},
		}},
		{name: "alone, declared window", limit: 1, window: 2 * time.Second, reqs: []req{
			{0, ms(100), 0, 0}, {ms(200), ms(100), 0, ms(1920)}, // 100 ms + 2,020 ms
		}},
		{name: "shared: a low remainder is spread until the reset", limit: 190, interval: true, reqs: []req{
			{0, ms(50), 1, 0}, {ms(100), ms(50), -1, 0}, {ms(200), ms(50), -1, ms(400)}, // spaced 1 s / 2 from the second
		}},
		{name: "shared: used up, held a window", limit: 3, interval: true, reqs: []req{
			{0, ms(50), 0, 0}, {ms(100), ms(50), 2, ms(950)},
			{ms(1200), ms(50), 1, 0}, // the others' requests aged out: the log paces again
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			now := t0
			h := &QuotaHeaders{Name: "10-second", Limit: "L", Remaining: "R", Window: tc.window}
			if tc.interval {
				h.Interval = "I"
			}
			p := newQuotaPacer(h)
			var waited time.Duration
			p.now = func() time.Time { return now }
			p.sleep = func(_ context.Context, d time.Duration) error {
				waited = d
				now = now.Add(d)
				return nil
			}
			r := httptest.NewRequest(http.MethodPost, "/crm", nil)
			for i, rq := range tc.reqs {
				now, waited = t0.Add(rq.ask), 0
				turn, err := p.wait(r, "hubspot", time.Hour)
				if err != nil {
					t.Fatalf("request %d: %v", i, err)
				}
				if waited != rq.want {
					t.Errorf("request %d waited %s, want %s", i, waited, rq.want)
				}
				now = now.Add(rq.lat)
				resp := &http.Response{StatusCode: http.StatusOK, Header: http.Header{}}
				if rq.remaining >= 0 {
					resp.Header.Set("L", strconv.Itoa(tc.limit))
					resp.Header.Set("R", strconv.Itoa(rq.remaining))
					if tc.interval {
						resp.Header.Set("I", "1000")
					}
				}
				p.observe(turn, resp, nil)
			}
		})
	}
}
