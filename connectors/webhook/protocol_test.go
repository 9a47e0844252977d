package webhook_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connectors/destination"
	"github.com/sluicehq/sluice/connectors/webhook"
)

type reply struct {
	status int
	header map[string]string
	body   string
	hang   time.Duration
}

// scripted answers each request with the next reply (the last repeats).
func scripted(t *testing.T, replies ...reply) (*httptest.Server, *[]webhook.Payload, *[]time.Time, *[]http.Header) {
	var mu sync.Mutex
	var got []webhook.Payload
	var at []time.Time
	var headers []http.Header
	i := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var p webhook.Payload
		if err := json.Unmarshal(b, &p); err != nil {
			t.Errorf("body is not a payload: %s", b)
		}
		mu.Lock()
		got, at, headers = append(got, p), append(at, time.Now()), append(headers, r.Header.Clone())
		rep := replies[min(i, len(replies)-1)]
		i++
		mu.Unlock()
		if rep.hang > 0 {
			select {
			case <-time.After(rep.hang):
			case <-r.Context().Done():
				return
			}
		}
		for k, v := range rep.header {
			w.Header().Set(k, v)
		}
		w.WriteHeader(rep.status)
		_, _ = io.WriteString(w, rep.body)
	}))
	t.Cleanup(srv.Close)
	return srv, &got, &at, &headers
}

func open(t *testing.T, url, extra string) destination.Destination {
	t.Helper()
	opts, err := destination.ParseOptions(webhook.Spec, "{url: '"+url+"', rate: 1000, timeout: 1s"+extra+"}")
	if err != nil {
		t.Fatal(err)
	}
	d, err := webhook.Open(context.Background(), destination.Config{Name: "hook", Type: "webhook", Options: opts, Sync: destination.SyncInfo{Name: "s", Mode: "upsert"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

var batch = &destination.Batch{Sync: "s", RunID: "r1", Mode: "upsert", Records: []destination.Record{
	{Op: destination.OpUpsert, Key: "a", Fields: map[string]any{"email": "a", "n": 1}},
	{Op: destination.OpDelete, Key: "b"},
	{Op: destination.OpUpsert, Key: "c", Fields: map[string]any{"email": "c"}},
}}

func TestProtocol(t *testing.T) {
	tests := []struct {
		name     string
		replies  []reply
		wantErrs []string // per record; "" accepted
		wantErr  string   // batch-level error (run stops)
		reject   string   // batch rejected with this error
		requests int
		minWait  time.Duration
		extra    string
	}{
		{name: "2xx accepts all", replies: []reply{{status: 200}}, wantErrs: []string{"", "", ""}, requests: 1},
		{name: "204 accepts all", replies: []reply{{status: 204}}, wantErrs: []string{"", "", ""}, requests: 1},
		{name: "207 per record", replies: []reply{{status: 207, body: `{"results":[{"key":"a","ok":true},{"key":"b","ok":false,"error":"no such contact"},{"key":"c","ok":false}]}`}},
			wantErrs: []string{"", "no such contact", "rejected by the webhook"}, requests: 1},
		{name: "207 without a result for a key", replies: []reply{{status: 207, body: `{"results":[{"key":"a","ok":true},{"key":"b","ok":true}]}`}},
			wantErrs: []string{"", "", "no result for this key"}, requests: 1},
		{name: "429 honours Retry-After then succeeds", replies: []reply{{status: 429, header: map[string]string{"Retry-After": "1"}}, {status: 200}},
			wantErrs: []string{"", "", ""}, requests: 2, minWait: 900 * time.Millisecond},
		{name: "503 retried", replies: []reply{{status: 503}, {status: 502}, {status: 200}}, wantErrs: []string{"", "", ""}, requests: 3, extra: ", max_retries: 3"},
		{name: "a timeout is retried", replies: []reply{{status: 200, hang: 3 * time.Second}, {status: 200}}, wantErrs: []string{"", "", ""}, requests: 2},
		{name: "5xx after every retry stops the run", replies: []reply{{status: 500, body: "boom"}}, wantErr: "still answered HTTP 500 after retries: boom", requests: 2, extra: ", max_retries: 1"},
		{name: "a Retry-After beyond the cap stops the run", replies: []reply{{status: 429, header: map[string]string{"Retry-After": "7200"}}}, wantErr: "asks to wait 2h0m0s", requests: 1},
		{name: "400 rejects the batch", replies: []reply{{status: 400, body: `{"error":"bad field"}`}}, reject: `HTTP 400: {"error":"bad field"}`, requests: 1},
		{name: "401 stops the run", replies: []reply{{status: 401, body: "no"}}, wantErr: "refused the credentials (HTTP 401", requests: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv, _, at, _ := scripted(t, tc.replies...)
			d := open(t, srv.URL, tc.extra)
			start := time.Now()
			errs, err := d.Write(context.Background(), batch)
			var rej *destination.BatchRejected
			switch {
			case tc.wantErr != "":
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || errors.As(err, &rej) {
					t.Errorf("error = %v, want one containing %q", err, tc.wantErr)
				}
			case tc.reject != "":
				if !errors.As(err, &rej) || rej.Err.Error() != tc.reject {
					t.Errorf("error = %v, want the batch rejected with %q", err, tc.reject)
				}
			default:
				if err != nil {
					t.Fatal(err)
				}
				for i, want := range tc.wantErrs {
					got := ""
					if errs[i] != nil {
						got = errs[i].Error()
					}
					if !strings.Contains(got, want) || (want == "" && got != "") {
						t.Errorf("record %d: %q, want %q", i, got, want)
					}
				}
			}
			if len(*at) != tc.requests {
				t.Errorf("%d requests, want %d", len(*at), tc.requests)
			}
			if tc.minWait > 0 && time.Since(start) < tc.minWait {
				t.Errorf("took %s, the server asked to wait %s", time.Since(start), tc.minWait)
			}
		})
	}
}

func TestPayloadAndHeaders(t *testing.T) {
	srv, got, _, headers := scripted(t, reply{status: 200})
	d := open(t, srv.URL, ", headers: {X-Api-Key: k1, X-Team: data}")
	if err := d.Check(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Write(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	if len(*got) != 2 || (*got)[0].RunID != "check" || len((*got)[0].Operations) != 0 {
		t.Fatalf("check should post an empty batch: %+v", *got)
	}
	p := (*got)[1]
	if p.Sync != "s" || p.RunID != "r1" || p.Mode != "upsert" || len(p.Operations) != 3 ||
		p.Operations[1].Op != "delete" || p.Operations[1].Key != "b" || p.Operations[1].Fields == nil || p.Operations[0].Fields["email"] != "a" {
		t.Errorf("payload = %+v", p)
	}
	h := (*headers)[1]
	if h.Get("X-Api-Key") != "k1" || h.Get("X-Team") != "data" || h.Get("Content-Type") != "application/json" {
		t.Errorf("headers = %v", h)
	}
}

func TestRateLimit(t *testing.T) {
	srv, _, at, _ := scripted(t, reply{status: 200})
	opts, _ := destination.ParseOptions(webhook.Spec, "{url: '"+srv.URL+"', rate: 10}")
	d, err := webhook.Open(context.Background(), destination.Config{Name: "hook", Type: "webhook", Options: opts, Sync: destination.SyncInfo{Name: "s"}})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var wg sync.WaitGroup
	for range 6 {
		wg.Add(1)
		go func() { defer wg.Done(); _, _ = d.Write(context.Background(), batch) }()
	}
	wg.Wait()
	if span := (*at)[len(*at)-1].Sub((*at)[0]); span < 450*time.Millisecond {
		t.Errorf("6 requests at 10/s took %s", span)
	}
}

func TestOptions(t *testing.T) {
	for _, tc := range []struct{ opts, err string }{
		{"{url: 'ftp://x'}", "url must be an http"},
		{"{url: 'http://x', rate: 0}", "must be positive"},
		{"{url: 'http://x', batch_size: -1}", "must be positive"},
	} {
		opts, _ := destination.ParseOptions(webhook.Spec, tc.opts)
		_, err := webhook.Open(context.Background(), destination.Config{Name: "hook", Type: "webhook", Options: opts})
		if err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%s: %v, want %q", tc.opts, err, tc.err)
		}
	}
}
