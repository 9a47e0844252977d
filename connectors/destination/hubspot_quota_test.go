package destination

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// slidingWindow serves like HubSpot: at most limit requests in any span of
// window (a sliding log), rate-limit headers on every answer, and a 429
// whose body names the policy when the window is full.
type slidingWindow struct {
	limit          int
	window         time.Duration
	intervalHeader bool // announce the window in -Interval-Milliseconds

	mu       sync.Mutex
	sent     []time.Time
	ok, r429 int
	seen     map[string]bool // request ids answered 200
}

func (s *slidingWindow) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	kept := s.sent[:0]
	for _, t := range s.sent {
		if now.Sub(t) < s.window {
			kept = append(kept, t)
		}
	}
	s.sent = kept
	h := w.Header()
	h.Set("X-HubSpot-RateLimit-Max", strconv.Itoa(s.limit))
	if s.intervalHeader {
		h.Set("X-HubSpot-RateLimit-Interval-Milliseconds", strconv.FormatInt(s.window.Milliseconds(), 10))
	}
	h.Set("X-HubSpot-RateLimit-Daily", "500000")
	h.Set("X-HubSpot-RateLimit-Daily-Remaining", "400000")
	if len(s.sent) >= s.limit {
		s.r429++
		h.Set("X-HubSpot-RateLimit-Remaining", "0")
		h.Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusTooManyRequests)
		fmt.Fprint(w, `{"status":"error","message":"You have reached your ten_secondly_rolling limit.","errorType":"RATE_LIMIT","policyName":"TEN_SECONDLY_ROLLING"}`)
		return
	}
	s.sent = append(s.sent, now)
	s.ok++
	s.seen[r.URL.Query().Get("id")] = true
	h.Set("X-HubSpot-RateLimit-Remaining", strconv.Itoa(s.limit-len(s.sent)))
	w.WriteHeader(http.StatusOK)
}

// TestRollingWindowPacing sends 1,000 requests, four at a time, to a server
// holding HubSpot's Professional limit (190 in 10 s) scaled down to 19 in
// 100 ms so the test is quick: fewer than 1% may be refused, none lost.
func TestRollingWindowPacing(t *testing.T) {
	const n, workers = 1000, 4
	for _, tc := range []struct {
		name           string
		intervalHeader bool
		window         time.Duration // declared
	}{
		{"window from the Interval-Milliseconds header", true, 0},
		{"declared window", false, 100 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := &slidingWindow{limit: 19, window: 100 * time.Millisecond, intervalHeader: tc.intervalHeader, seen: map[string]bool{}}
			ts := httptest.NewServer(srv)
			defer ts.Close()
			quotas := HubSpotQuotas(nil)
			if tc.window > 0 {
				quotas[1].Window = tc.window
			}
			c := NewHTTPClient(HTTPOptions{Name: "hubspot", Quotas: quotas, RetryWaitMin: 10 * time.Millisecond, RetryWaitMax: 100 * time.Millisecond})
			defer c.Close()
			var next, failed atomic.Int64
			var wg sync.WaitGroup
			for range workers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := next.Add(1); i <= n; i = next.Add(1) {
						resp, err := c.Do(context.Background(), http.MethodPost, fmt.Sprintf("%s/crm?id=%d", ts.URL, i), nil, []byte("{}"))
						if err != nil {
							failed.Add(1)
							continue
						}
						if resp.StatusCode != http.StatusOK {
							failed.Add(1)
						}
						_, _ = ReadBody(resp, 1<<10)
					}
				}()
			}
			wg.Wait()
			srv.mu.Lock()
			defer srv.mu.Unlock()
			t.Logf("%d answered 200, %d refused with 429", srv.ok, srv.r429)
			if failed.Load() != 0 || len(srv.seen) != n {
				t.Errorf("%d requests failed, %d of %d arrived", failed.Load(), len(srv.seen), n)
			}
			if srv.r429*100 >= srv.ok+srv.r429 {
				t.Errorf("%d of %d requests refused with 429, want under 1%%", srv.r429, srv.ok+srv.r429)
			}
		})
	}
}

// TestHubSpotPolicies checks what each kind of HubSpot 429 (and a used-up
// daily quota announced on a 200) does to the request and the next one.
func TestHubSpotPolicies(t *testing.T) {
	loc := time.FixedZone("account", -5*3600)
	midnight := NextMidnight(loc)(time.Now())
	body := func(policy string) string {
		return `{"status":"error","message":"You have reached your limit.","errorType":"RATE_LIMIT","policyName":"` + policy + `"}`
	}
	for _, tc := range []struct {
		name        string
		status      int
		header      map[string]string
		body        string
		maxRetries  int
		wantUntil   bool   // a *QuotaError until the next midnight
		wantQuota   string // else a *QuotaError of this quota
		wantStatus  int    // else the caller's status
		wantBody    string // else the body the caller reads
		secondCalls int    // requests the server saw
	}{
		{name: "DAILY 429 stops with the reset time", status: 429, body: body("DAILY"),
			header: map[string]string{"X-HubSpot-RateLimit-Daily-Remaining": "0"}, wantUntil: true, secondCalls: 1},
		{name: "daily quota used up on a 200: the next request stops", status: 200,
			header: map[string]string{"X-HubSpot-RateLimit-Daily": "500000", "X-HubSpot-RateLimit-Daily-Remaining": "0"}, wantUntil: true, secondCalls: 1},
		{name: "daily quota running low is not spread over the day", status: 200,
			header: map[string]string{"X-HubSpot-RateLimit-Daily": "500000", "X-HubSpot-RateLimit-Daily-Remaining": "10"}, wantStatus: 200, secondCalls: 3},
		{name: "10-second window running low is spread", status: 200, wantUntil: false, wantQuota: "10-second",
			header: map[string]string{"X-HubSpot-RateLimit-Max": "190", "X-HubSpot-RateLimit-Remaining": "1", "X-HubSpot-RateLimit-Interval-Milliseconds": "10000"}, secondCalls: 2},
		{name: "TEN_SECONDLY_ROLLING 429 is retried after the window", status: 429, body: body("TEN_SECONDLY_ROLLING"),
			header: map[string]string{"X-HubSpot-RateLimit-Remaining": "0", "X-HubSpot-RateLimit-Interval-Milliseconds": "200"}, wantStatus: 200, secondCalls: 2},
		// A 10 s window would exceed MaxRetryAfter: only honouring
		// Retry-After lets the retry go.
		{name: "TEN_SECONDLY_ROLLING 429 honours Retry-After", status: 429, body: body("TEN_SECONDLY_ROLLING"),
			header: map[string]string{"Retry-After": "0.2", "X-HubSpot-RateLimit-Interval-Milliseconds": "10000"}, wantStatus: 200, secondCalls: 2},
		{name: "SECONDLY 429 is retried", status: 429, body: body("SECONDLY"),
			header: map[string]string{"X-HubSpot-RateLimit-Secondly-Remaining": "0"}, wantStatus: 200, secondCalls: 2},
		{name: "a 429 not retried keeps its body for the caller", status: 429, body: body("TEN_SECONDLY_ROLLING"), maxRetries: -1,
			header: map[string]string{"Retry-After": "0"}, wantStatus: 429, wantBody: body("TEN_SECONDLY_ROLLING"), secondCalls: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var calls atomic.Int64
			ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if calls.Add(1) > 1 {
					w.WriteHeader(http.StatusOK)
					return
				}
				for k, v := range tc.header {
					w.Header().Set(k, v)
				}
				w.WriteHeader(tc.status)
				fmt.Fprint(w, tc.body)
			}))
			defer ts.Close()
			c := NewHTTPClient(HTTPOptions{Name: "hubspot", Quotas: HubSpotQuotas(loc), MaxRetries: tc.maxRetries,
				MaxRetryAfter: 2 * time.Second, RetryWaitMin: 10 * time.Millisecond})
			defer c.Close()
			ctx := context.Background()
			resp, err := c.Do(ctx, http.MethodPost, ts.URL, nil, []byte("{}"))
			// After an answer of 200, two more requests: the first after a
			// low quota goes at once, the one after waits its turn.
			for i := 0; i < 2 && err == nil && tc.status == 200; i++ {
				_, _ = ReadBody(resp, 1<<10)
				resp, err = c.Do(ctx, http.MethodPost, ts.URL, nil, []byte("{}"))
			}
			if got := calls.Load(); got != int64(tc.secondCalls) {
				t.Errorf("server saw %d requests, want %d", got, tc.secondCalls)
			}
			if tc.wantUntil {
				var qe *QuotaError
				if !errors.As(err, &qe) {
					t.Fatalf("got %v, want a QuotaError", err)
				}
				if !qe.Until.Equal(midnight) || qe.Quota != "daily" {
					t.Errorf("quota %q until %s, want daily until %s", qe.Quota, qe.Until, midnight)
				}
				if want := midnight.UTC().Format("2006-01-02 15:04:05 UTC"); !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say the reset time %s", err, want)
				}
				return
			}
			if tc.wantQuota != "" {
				// The wait (10 s / 2) exceeds MaxRetryAfter: the error says
				// how long it would be, without sleeping.
				var qe *QuotaError
				if !errors.As(err, &qe) || qe.Quota != tc.wantQuota || qe.Wait < 4*time.Second || qe.Wait > 5*time.Second {
					t.Fatalf("got %v, want a wait of about 5 s for the %s quota", err, tc.wantQuota)
				}
				return
			}
			if err != nil {
				t.Fatalf("got %v, want HTTP %d", err, tc.wantStatus)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.wantStatus || (tc.wantBody != "" && string(b) != tc.wantBody) {
				t.Errorf("got HTTP %d %q, want %d %q", resp.StatusCode, b, tc.wantStatus, tc.wantBody)
			}
		})
	}
}

func TestNextMidnight(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Skipf("no time zone database: %v", err)
	}
	for _, tc := range []struct {
		name string
		loc  *time.Location
		now  time.Time
		want time.Time
	}{
		{"UTC by default", nil, time.Date(2026, 12, 7, 5, 0, 0, 0, time.UTC), time.Date(2026, 12, 8, 0, 0, 0, 0, time.UTC)},
		{"the account's day, not UTC's", ny, time.Date(2026, 12, 7, 3, 0, 0, 0, time.UTC), time.Date(2026, 12, 7, 0, 0, 0, 0, ny)},
		{"a day of 23 hours", ny, time.Date(2026, 3, 8, 1, 0, 0, 0, ny), time.Date(2026, 3, 9, 0, 0, 0, 0, ny)},
		{"at midnight: the next one", ny, time.Date(2026, 12, 7, 0, 0, 0, 0, ny), time.Date(2026, 12, 8, 0, 0, 0, 0, ny)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := NextMidnight(tc.loc)(tc.now); !got.Equal(tc.want) {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}
