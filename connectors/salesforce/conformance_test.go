package salesforce_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connectors/destination/destinationtest"
	"github.com/sluicehq/sluice/connectors/salesforce/fake"
)

const (
	testClientID = "3MVG9-test-consumer-key"
	testSecret   = "test-consumer-secret"
)

// suiteObject holds the suite's mapping (email, name, score), keyed by an
// External ID field named email.
var suiteObject = fake.Object{Name: "Conformance__c", Fields: []fake.Field{
	fake.ExternalIDField("email"),
	{Name: "name", Type: "string", Length: 80},
	{Name: "score", Type: "double"},
}}

// rewriter serves the fake, calling before (when set) ahead of each
// request, for tests that act at a given point of a run.
type rewriter struct {
	h      http.Handler
	mu     sync.Mutex
	before func(*http.Request)
}

func (rw *rewriter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rw.mu.Lock()
	before := rw.before
	rw.mu.Unlock()
	if before != nil {
		before(r)
	}
	rw.h.ServeHTTP(w, r)
}

// onePath checks that upserts went through the path the runs asked for
// only: ingest jobs in Bulk runs, collection upserts otherwise.
func onePath(t *testing.T, srv *fake.Server, bulk bool) {
	jobs, patches := 0, 0
	for _, r := range srv.Requests() {
		switch {
		case r.Method == http.MethodPost && strings.HasSuffix(r.Endpoint, "/jobs/ingest"):
			jobs++
		case r.Method == http.MethodPatch && strings.Contains(r.Endpoint, "/composite/sobjects/"):
			patches++
		}
	}
	if (bulk && patches > 0) || (!bulk && jobs > 0) {
		t.Errorf("bulk run %v: %d ingest jobs and %d collection upserts", bulk, jobs, patches)
	}
}

// startFake serves a fake org on loopback.
func startFake(t testing.TB, opts fake.Options) (*fake.Server, *rewriter) {
	t.Helper()
	if opts.ClientID == "" {
		opts.ClientID, opts.ClientSecret = testClientID, testSecret
	}
	srv := fake.Handler(opts)
	rw := &rewriter{h: srv}
	hs := httptest.NewServer(rw)
	srv.URL = hs.URL
	t.Cleanup(func() {
		hs.CloseClientConnections()
		hs.Close()
		for _, v := range srv.Violations() {
			t.Errorf("the fake saw a request Salesforce would refuse: %s", v)
		}
	})
	return srv, rw
}

// TestConformance runs the suite through sObject Collections (the suite's
// runs are below the default bulk_threshold).
func TestConformance(t *testing.T) { conformance(t, "") }

// TestConformanceBulk runs it again with every run on the Bulk path.
func TestConformanceBulk(t *testing.T) {
	if testing.Short() {
		t.Skip("the Bulk path's jobs take a few requests each")
	}
	conformance(t, ", bulk_threshold: 1")
}

func conformance(t *testing.T, extra string) {
	destinationtest.Run(t, destinationtest.Harness{Type: "salesforce", New: func(t *testing.T) *destinationtest.Env {
		srv, _ := startFake(t, fake.Options{Objects: []fake.Object{suiteObject}})
		t.Cleanup(func() { onePath(t, srv, extra != "") })
		opts := `client_id: "${SF_CLIENT_ID}", client_secret: "${SF_SECRET}", login_url: "${SF_URL}", object: Conformance__c, external_id_field: email` + extra
		return &destinationtest.Env{
			Options:        opts,
			BadCredentials: strings.Replace(opts, "${SF_SECRET}", "${SF_BAD_SECRET}", 1),
			Vars:           map[string]string{"SF_CLIENT_ID": testClientID, "SF_SECRET": testSecret, "SF_BAD_SECRET": "not-the-secret", "SF_URL": srv.URL},
			Records: func(t *testing.T) map[string]map[string]any {
				out := map[string]map[string]any{}
				for _, r := range srv.Records("Conformance__c") {
					email, _ := r["email"].(string)
					out[email] = map[string]any{"email": r["email"], "name": r["name"], "score": r["score"]}
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
			Reject: func(msg string, keys ...string) {
				if msg == "" {
					srv.RejectExternalIDs()
					return
				}
				srv.RejectExternalIDsWith(msg, keys...)
			},
			Fail: srv.Fail,
		}
	}})
}
