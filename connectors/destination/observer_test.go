package destination

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The observer hears every attempt, retries included, without the URL.
func TestHTTPObserver(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch n.Add(1) {
		case 1:
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(http.StatusTooManyRequests)
		case 2:
			w.WriteHeader(http.StatusBadGateway)
		default:
			w.WriteHeader(http.StatusOK)
		}
	}))
	defer srv.Close()
	c := NewHTTPClient(HTTPOptions{Name: "crm", RetryWaitMin: time.Millisecond, RetryWaitMax: time.Millisecond})
	defer c.Close()
	var mu sync.Mutex
	var got []HTTPEvent
	ctx := WithHTTPObserver(context.Background(), func(ev HTTPEvent) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, ev)
	})
	resp, err := c.Do(ctx, http.MethodPost, srv.URL, nil, []byte("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	want := []int{429, 502, 200}
	if len(got) != len(want) {
		t.Fatalf("observed %d attempts, want %d: %+v", len(got), len(want), got)
	}
	for i, ev := range got {
		if ev.Status != want[i] || ev.Destination != "crm" || ev.Method != http.MethodPost || ev.Err != nil || ev.Duration < 0 {
			t.Errorf("attempt %d: %+v, want status %d", i+1, ev, want[i])
		}
	}
	// Without an observer in the context nothing is reported, nothing breaks.
	resp, err = c.Do(context.Background(), http.MethodPost, srv.URL, nil, []byte("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if len(got) != 3 {
		t.Errorf("an attempt without observer was reported")
	}
	// A connection that fails is reported with no status.
	srv.Close()
	c2 := NewHTTPClient(HTTPOptions{Name: "crm", MaxRetries: -1})
	defer c2.Close()
	if _, err := c2.Do(ctx, http.MethodPost, srv.URL, nil, nil); err == nil {
		t.Fatal("request to a closed server succeeded")
	}
	if last := got[len(got)-1]; last.Status != 0 || last.Err == nil {
		t.Errorf("failed attempt observed as %+v", last)
	}
}
