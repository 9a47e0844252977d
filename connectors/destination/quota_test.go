package destination

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestQuotaHeaders checks what the announced quota of a first answer does
// to the next request. Waits longer than MaxRetryAfter fail at once with a
// *QuotaError saying how long the wait would be, which lets the test read
// the pacing without sleeping.
func TestQuotaHeaders(t *testing.T) {
	for _, tc := range []struct {
		name                    string
		status                  int
		limit, remaining, reset string
		path                    string // of the second request
		wantWait                time.Duration
	}{
		{"plenty left", 200, "100", "50", "1800", "/a", 0},
		{"used up: wait for the reset", 200, "100", "0", "1800", "/a", 1800 * time.Second},
		// The next request goes at once; the one after waits its turn.
		{"running low: spread until the reset", 200, "100", "9", "1800", "/a", 180 * time.Second},
		{"429: everyone waits for the reset", 429, "10", "0", "30", "/a", 30 * time.Second},
		{"per-second window: paced by rate, not headers", 200, "10", "0", "1", "/a", 0},
		{"another group's quota is its own", 200, "100", "0", "1800", "/other/b", 0},
		{"reset as a Unix time", 200, "100", "0", "unix+600", "/a", 600 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			first := true
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if first {
					first = false
					reset := tc.reset
					if strings.HasPrefix(reset, "unix+") {
						reset = strconv.FormatInt(time.Now().Unix()+600, 10)
					}
					w.Header().Set("X-Limit", tc.limit)
					w.Header().Set("X-Remaining", tc.remaining)
					w.Header().Set("X-Reset", reset)
					w.WriteHeader(tc.status)
					return
				}
				w.WriteHeader(200)
			}))
			defer srv.Close()
			c := NewHTTPClient(HTTPOptions{Name: "vendor", MaxRetries: -1, MaxRetryAfter: time.Second,
				Quota: &QuotaHeaders{Limit: "X-Limit", Remaining: "X-Remaining", Reset: "X-Reset", Group: func(r *http.Request) string {
					if strings.HasPrefix(r.URL.Path, "/other") {
						return "other"
					}
					return "main"
				}}})
			defer c.Close()
			ctx := context.Background()
			resp, err := c.Do(ctx, http.MethodGet, srv.URL+"/a", nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if strings.HasPrefix(tc.name, "running low") {
				if resp, err = c.Do(ctx, http.MethodGet, srv.URL+tc.path, nil, nil); err != nil {
					t.Fatalf("the first request after a low quota goes at once: %v", err)
				}
				resp.Body.Close()
			}
			resp, err = c.Do(ctx, http.MethodGet, srv.URL+tc.path, nil, nil)
			var qe *QuotaError
			switch {
			case tc.wantWait == 0 && err != nil:
				t.Fatalf("second request: %v", err)
			case tc.wantWait == 0:
				resp.Body.Close()
			case !errors.As(err, &qe):
				t.Fatalf("second request: %v, want a QuotaError", err)
			case qe.Wait < tc.wantWait-2*time.Second || qe.Wait > tc.wantWait:
				t.Errorf("wait %s, want about %s", qe.Wait, tc.wantWait)
			}
		})
	}
}
