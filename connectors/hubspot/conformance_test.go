package hubspot_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connectors/destination/destinationtest"
	"github.com/sluicehq/sluice/connectors/hubspot/fake"
)

const testToken = "pat-test-token"

// suiteProperties are the properties the suite's mapping (email, name,
// score) needs besides HubSpot's email.
var suiteProperties = []fake.Property{
	{Name: "name", Label: "Name", Type: "string", FieldType: "text"},
	{Name: "score", Label: "Score", Type: "number", FieldType: "number"},
}

func TestConformance(t *testing.T) {
	destinationtest.Run(t, destinationtest.Harness{Type: "hubspot", New: func(t *testing.T) *destinationtest.Env {
		srv := fake.New(t, fake.Options{Token: testToken, Properties: suiteProperties})
		f := newFront(t, srv)
		return &destinationtest.Env{
			Options:        `access_token: "${HS_TOKEN}", base_url: "${HS_URL}"`,
			BadCredentials: `access_token: "${HS_BAD_TOKEN}", base_url: "${HS_URL}"`,
			Vars:           map[string]string{"HS_TOKEN": testToken, "HS_BAD_TOKEN": "pat-not-the-token", "HS_URL": f.URL},
			Records: func(t *testing.T) map[string]map[string]any {
				out := map[string]map[string]any{}
				for _, c := range srv.Contacts() {
					out[c.Properties["email"]] = map[string]any{"email": c.Properties["email"], "name": c.Properties["name"], "score": c.Properties["score"]}
				}
				return out
			},
			Requests: func() []time.Time {
				var out []time.Time
				for _, r := range srv.Requests() {
					out = append(out, r.Time)
				}
				return out
			},
			Reject: f.Reject,
			Fail:   srv.Fail,
		}
	}})
}

// front stands before the fake for what the fake does not do: batch
// archive (served as a deletion of each record id, which is what the
// suite observes of an archive: the contact is gone), and per-record
// rejections on demand (Env.Reject), answered as HubSpot answers a failed
// input: in a 207, by objectWriteTraceId.
type front struct {
	*httptest.Server
	srv    *fake.Server
	mu     sync.Mutex
	reject map[string]string // lower-cased e-mail → message
}

func newFront(t *testing.T, srv *fake.Server) *front {
	f := &front{srv: srv, reject: map[string]string{}}
	f.Server = httptest.NewServer(f)
	t.Cleanup(f.Close)
	return f
}

func (f *front) Reject(msg string, keys ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, k := range keys {
		if msg == "" {
			delete(f.reject, strings.ToLower(k))
		} else {
			f.reject[strings.ToLower(k)] = msg
		}
	}
}

func (f *front) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/crm/v3/objects/contacts/batch/archive":
		f.archive(w, r)
	case r.Method == http.MethodPost && r.URL.Path == "/crm/v3/objects/contacts/batch/upsert":
		f.upsert(w, r)
	default:
		f.srv.ServeHTTP(w, r)
	}
}

// forward sends a request to the fake with the caller's headers.
func (f *front) forward(r *http.Request, path string, body []byte) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
	req.Header = r.Header.Clone()
	rec := httptest.NewRecorder()
	f.srv.ServeHTTP(rec, req)
	return rec
}

func (f *front) archive(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Inputs []struct {
			ID string `json:"id"`
		} `json:"inputs"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || len(body.Inputs) == 0 || len(body.Inputs) > fake.MaxBatch {
		http.Error(w, `{"status":"error","message":"Invalid input JSON","category":"VALIDATION_ERROR"}`, http.StatusBadRequest)
		return
	}
	for _, in := range body.Inputs {
		b, _ := json.Marshal(map[string]string{"objectId": in.ID})
		rec := f.forward(r, "/crm/v3/objects/contacts/gdpr-delete", b)
		if rec.Code != http.StatusNoContent && rec.Code != http.StatusNotFound {
			copyAnswer(w, rec)
			return
		}
	}
	w.WriteHeader(http.StatusNoContent)
}

func copyAnswer(w http.ResponseWriter, rec *httptest.ResponseRecorder) {
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(rec.Body.Bytes())
}

func (f *front) upsert(w http.ResponseWriter, r *http.Request) {
	raw, _ := io.ReadAll(r.Body)
	var body struct {
		Inputs []json.RawMessage `json:"inputs"`
	}
	if json.Unmarshal(raw, &body) != nil {
		copyAnswer(w, f.forward(r, r.URL.Path, raw))
		return
	}
	var keep []json.RawMessage
	var failures []map[string]any
	f.mu.Lock()
	for _, in := range body.Inputs {
		var x struct{ ID, ObjectWriteTraceID string }
		_ = json.Unmarshal(in, &x)
		if msg, ok := f.reject[strings.ToLower(x.ID)]; ok {
			failures = append(failures, map[string]any{"status": "error", "category": "VALIDATION_ERROR", "message": msg,
				"context": map[string]any{"objectWriteTraceId": []string{x.ObjectWriteTraceID}}})
			continue
		}
		keep = append(keep, in)
	}
	f.mu.Unlock()
	if len(failures) == 0 {
		copyAnswer(w, f.forward(r, r.URL.Path, raw))
		return
	}
	ans := map[string]any{"status": "COMPLETE", "results": []any{}}
	if len(keep) > 0 {
		b, _ := json.Marshal(map[string]any{"inputs": keep})
		rec := f.forward(r, r.URL.Path, b)
		if rec.Code != http.StatusOK && rec.Code != http.StatusMultiStatus {
			copyAnswer(w, rec)
			return
		}
		_ = json.Unmarshal(rec.Body.Bytes(), &ans)
	}
	errs, _ := ans["errors"].([]any)
	for _, fl := range failures {
		errs = append(errs, fl)
	}
	ans["errors"], ans["numErrors"] = errs, len(errs)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusMultiStatus)
	_ = json.NewEncoder(w).Encode(ans)
}
