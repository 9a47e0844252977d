package webhook_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connectors/destination"
	"github.com/sluicehq/sluice/connectors/destination/destinationtest"
	"github.com/sluicehq/sluice/connectors/webhook"
	"github.com/sluicehq/sluice/connectors/webhook/fake"
)

// TestEraseProtocol: erasures are requests of erase operations, batched by
// batch_size, and their answers mean what they mean for other operations.
func TestEraseProtocol(t *testing.T) {
	keys := []string{"a@x.com", "b@x.com", "c@x.com"}
	retryNow := map[string]string{"Retry-After": "0"}
	tests := []struct {
		name     string
		extra    string
		keys     []string // default: keys
		replies  []reply
		requests int      // requests the receiver gets
		errs     []string // per key: "" for a nil outcome, else part of its error
		callErr  string   // part of the call's error, "" for none
	}{
		{name: "2xx erases every key", extra: ", batch_size: 2", replies: []reply{{status: 200}},
			requests: 2, errs: []string{"", "", ""}},
		{name: "207 answers per key, in order", replies: []reply{{status: 207, body: `{"results": [{"key": "c@x.com", "ok": true}, {"key": "b@x.com", "ok": false, "error": "legal hold"}, {"key": "a@x.com", "ok": true}]}`}},
			requests: 1, errs: []string{"", "legal hold", ""}},
		{name: "a 207 without a key's result fails that key", replies: []reply{{status: 207, body: `{"results": [{"key": "a@x.com", "ok": true}]}`}},
			requests: 1, errs: []string{"", "no result", "no result"}},
		{name: "4xx rejects the keys of its batch only", extra: ", batch_size: 2", replies: []reply{{status: 200}, {status: 422, body: `{"error": "cannot erase"}`}},
			requests: 2, errs: []string{"", "", "HTTP 422"}},
		{name: "429 and 5xx are retried", replies: []reply{{status: 429, header: retryNow}, {status: 503, header: retryNow}, {status: 200}},
			requests: 3, errs: []string{"", "", ""}},
		{name: "retries exhausted fail the call", extra: ", max_retries: 1", replies: []reply{{status: 500, header: retryNow}},
			requests: 2, callErr: "HTTP 500 after retries"},
		{name: "refused credentials fail the call", replies: []reply{{status: 401}},
			requests: 1, callErr: "refused the credentials"},
		{name: "a repeated key is sent once, and gets the same outcome", keys: []string{"a@x.com", "b@x.com", "a@x.com"},
			replies:  []reply{{status: 207, body: `{"results": [{"key": "a@x.com", "ok": false, "error": "legal hold"}, {"key": "b@x.com", "ok": true}]}`}},
			requests: 1, errs: []string{"legal hold", "", "legal hold"}},
		{name: "erase false", extra: ", erase: false", replies: []reply{{status: 200}},
			requests: 0, callErr: destination.ErrCannotErase.Error()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			keys := keys
			if tc.keys != nil {
				keys = tc.keys
			}
			srv, got, _, _ := scripted(t, tc.replies...)
			d := open(t, srv.URL, tc.extra).(destination.Eraser)
			out, err := d.Erase(context.Background(), &destination.Erasure{RequestID: "er-1", Sync: "s", Keys: keys})
			if len(*got) != tc.requests {
				t.Errorf("%d requests, want %d", len(*got), tc.requests)
			}
			checkErasePayloads(t, *got, keys)
			if tc.callErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.callErr) || out != nil {
					t.Fatalf("want the call to fail with %q and no outcomes, got %v, %+v", tc.callErr, err, out)
				}
				if tc.callErr == destination.ErrCannotErase.Error() && !errors.Is(err, destination.ErrCannotErase) {
					t.Errorf("%v does not wrap ErrCannotErase", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(out) != len(keys) {
				t.Fatalf("%d outcomes for %d keys", len(out), len(keys))
			}
			for i, o := range out {
				if msg := fmt.Sprint(o.Err); (tc.errs[i] == "") != (o.Err == nil) || !strings.Contains(msg, tc.errs[i]) {
					t.Errorf("outcome %d: %v, want %q", i, o.Err, tc.errs[i])
				}
				if strings.Contains(o.Ref, "@") {
					t.Errorf("outcome %d: ref %q quotes a key", i, o.Ref)
				}
			}
		})
	}
}

// checkErasePayloads checks every request carried erase operations only,
// with empty fields, the erasure's id as run_id and no mode, and that the
// keys went in order.
func checkErasePayloads(t *testing.T, got []webhook.Payload, keys []string) {
	t.Helper()
	var sent []string
	for _, p := range got {
		if p.Sync != "s" || p.RunID != "er-1" || p.Mode != "" {
			t.Errorf("envelope: sync %q, run_id %q, mode %q; want s, er-1 and no mode", p.Sync, p.RunID, p.Mode)
		}
		for _, op := range p.Operations {
			if op.Op != "erase" || op.Fields == nil || len(op.Fields) != 0 {
				t.Errorf("operation %+v: want op erase with fields {}", op)
			}
			sent = append(sent, op.Key)
		}
		if len(slices.Compact(slices.Sorted(slices.Values(keysOf(p))))) != len(p.Operations) {
			t.Errorf("a key appears twice in one request: %v", keysOf(p))
		}
	}
	// Retried requests repeat their keys; each new batch continues the list.
	var distinct []string
	for _, k := range sent {
		if !slices.Contains(distinct, k) {
			distinct = append(distinct, k)
		}
	}
	var want []string
	for _, k := range keys {
		if !slices.Contains(want, k) {
			want = append(want, k)
		}
	}
	if len(got) > 0 && strings.Join(distinct, ",") != strings.Join(want[:min(len(distinct), len(want))], ",") {
		t.Errorf("keys sent %v, want a prefix of %v in order", distinct, keys)
	}
}

func keysOf(p webhook.Payload) []string {
	var out []string
	for _, op := range p.Operations {
		out = append(out, op.Key)
	}
	return out
}

// TestEraseFake: the fake receiver deletes erased records, remembers the
// keys, and an erased key that it never held is fine.
func TestEraseFake(t *testing.T) {
	srv := fake.New(t, fake.Options{Token: "tok"})
	srv.Apply("r0", "upsert", "a@x.com", map[string]any{"email": "a@x.com"})
	srv.Apply("r0", "upsert", "b@x.com", map[string]any{"email": "b@x.com"})
	d := open(t, srv.URL, ", bearer_token: tok").(destination.Eraser)
	out, err := d.Erase(context.Background(), &destination.Erasure{RequestID: "er-1", Sync: "s", Keys: []string{"a@x.com", "z@x.com"}})
	if err != nil || len(out) != 2 || out[0].Err != nil || out[1].Err != nil {
		t.Fatalf("Erase: %+v, %v", out, err)
	}
	if _, held := srv.Records()["a@x.com"]; held || len(srv.Records()) != 1 {
		t.Errorf("records after erasing a@x.com: %v", srv.Records())
	}
	if got := strings.Join(srv.Erased(), ","); got != "a@x.com,z@x.com" {
		t.Errorf("Erased() = %s", got)
	}
}

// TestConformanceEraseFalse runs the suite against a receiver configured
// with erase: false: the erasure cases expect ErrCannotErase.
func TestConformanceEraseFalse(t *testing.T) {
	destinationtest.Run(t, destinationtest.Harness{
		Type:        "webhook",
		CannotErase: true,
		New: func(t *testing.T) *destinationtest.Env {
			srv := fake.New(t, fake.Options{Token: "good-token", MaxBatch: 100})
			return &destinationtest.Env{
				Options:        `url: "${HOOK_URL}", bearer_token: "${HOOK_TOKEN}", rate: 500, batch_size: 10, erase: false`,
				BadCredentials: `url: "${HOOK_URL}", bearer_token: "${BAD_TOKEN}", rate: 500, batch_size: 10, erase: false`,
				Vars:           map[string]string{"HOOK_URL": srv.URL, "HOOK_TOKEN": "good-token", "BAD_TOKEN": "nope"},
				Records:        func(*testing.T) map[string]map[string]any { return srv.Records() },
				Requests:       func() []time.Time { return srv.Requests() },
				Reject:         srv.RejectKeys,
				Fail:           srv.Fail,
			}
		},
	})
}
