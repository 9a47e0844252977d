package destination

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

func TestWindowLimiterSchedule(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		windows []Window
		margin  time.Duration
		pause   time.Duration // PauseUntil t0+pause before the first request
		n       int
		want    []time.Duration // offsets from t0 of each grant
	}{
		{name: "burst window", windows: []Window{{3, time.Second}}, n: 7,
			want: []time.Duration{0, 0, 0, time.Second, time.Second, time.Second, 2 * time.Second}},
		{name: "burst and steady", windows: []Window{{3, time.Second}, {5, time.Minute}}, n: 7,
			want: []time.Duration{0, 0, 0, time.Second, time.Second, time.Minute, time.Minute}},
		{name: "margin", windows: []Window{{2, time.Second}}, margin: 50 * time.Millisecond, n: 4,
			want: []time.Duration{0, 0, 1050 * time.Millisecond, 1050 * time.Millisecond}},
		{name: "pause", windows: []Window{{10, time.Second}}, pause: 2 * time.Second, n: 2,
			want: []time.Duration{2 * time.Second, 2 * time.Second}},
		{name: "no windows", n: 3, want: []time.Duration{0, 0, 0}},
		{name: "zero windows are ignored", windows: []Window{{0, time.Second}, {2, 0}}, n: 2, want: []time.Duration{0, 0}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := NewWindowLimiter(tc.margin, tc.windows...)
			l.now = func() time.Time { return t0 }
			if tc.pause > 0 {
				l.PauseUntil(t0.Add(tc.pause))
			}
			for i := range tc.n {
				if got := l.reserve().Sub(t0); got != tc.want[i] {
					t.Errorf("request %d at +%s, want +%s", i, got, tc.want[i])
				}
			}
		})
	}
}

func TestWindowLimiterNeverOverfillsAWindow(t *testing.T) {
	// Requests arriving at random moments: no span of one second holds
	// more than the limit, whatever the arrival pattern.
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now := t0
	l := NewWindowLimiter(0, Window{4, time.Second}, Window{10, 5 * time.Second})
	l.now = func() time.Time { return now }
	var grants []time.Time
	for i := range 60 {
		now = now.Add(time.Duration(i%7) * 97 * time.Millisecond)
		grants = append(grants, l.reserve())
	}
	for _, w := range []Window{{4, time.Second}, {10, 5 * time.Second}} {
		for i := range grants {
			n := 0
			for j := i; j < len(grants) && grants[j].Sub(grants[i]) < w.Per; j++ {
				n++
			}
			if n > w.Limit {
				t.Fatalf("%d requests within %s from grant %d, limit %s", n, w.Per, i, w)
			}
		}
	}
}

func TestEndpointMatching(t *testing.T) {
	limits := []EndpointLimit{
		{Method: "GET", Path: "/api/lists/{id}/relationships/profiles"},
		{Method: "POST", Path: "/api/lists"},
		{Path: "/api/lists/{id}"},
	}
	e := newEndpointLimiters("", limits, 0)
	tests := []struct {
		method, url string
		want        int // index into limits, -1 for none
	}{
		{"GET", "http://x/api/lists/Ab12Cd/relationships/profiles", 0},
		{"POST", "http://x/api/lists/Ab12Cd/relationships/profiles", -1},
		{"POST", "http://x/api/lists", 1},
		{"GET", "http://x/api/lists", -1},
		{"DELETE", "http://x/api/lists/Ab12Cd", 2},
		{"POST", "http://x/proxy/klaviyo/api/lists?x=1", 1}, // a base URL with a path prefix
		{"GET", "http://x/api/profiles", -1},
	}
	for _, tc := range tests {
		r := httptest.NewRequest(tc.method, tc.url, nil)
		got := e.For(r)
		want := (*WindowLimiter)(nil)
		if tc.want >= 0 {
			want = e.limiters[tc.want]
		}
		if got != want {
			t.Errorf("%s %s: matched limiter %p, want %p (limit %d)", tc.method, tc.url, got, want, tc.want)
		}
	}
}

func TestHTTPClientEndpointWindows(t *testing.T) {
	var mu sync.Mutex
	seen := map[string][]time.Time{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen[r.URL.Path] = append(seen[r.URL.Path], time.Now())
		mu.Unlock()
	}))
	defer srv.Close()
	opts := HTTPOptions{
		Name:      "test",
		Endpoints: []EndpointLimit{{Method: "POST", Path: "/slow", Windows: []Window{{2, 300 * time.Millisecond}}}},
		LimitKey:  "account-" + t.Name(),
	}
	// Two clients of the same account share the endpoint's windows.
	a, b := NewHTTPClient(opts), NewHTTPClient(opts)
	defer a.Close()
	defer b.Close()
	var wg sync.WaitGroup
	for i := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := a
			if i%2 == 1 {
				c = b
			}
			for _, path := range []string{"/slow", "/fast"} {
				resp, err := c.Do(context.Background(), "POST", srv.URL+path, nil, []byte("{}"))
				if err != nil {
					t.Error(err)
					return
				}
				resp.Body.Close()
			}
		}()
	}
	wg.Wait()
	slow := seen["/slow"]
	if len(slow) != 6 || len(seen["/fast"]) != 6 {
		t.Fatalf("requests: %d slow, %d fast", len(slow), len(seen["/fast"]))
	}
	// 6 requests at 2 per 300ms need at least two full windows.
	if span := slow[len(slow)-1].Sub(slow[0]); span < 600*time.Millisecond {
		t.Errorf("6 requests within %s: the shared window of 2 per 300ms was not honoured", span)
	}
}
