package salesforce

import (
	"errors"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/connectors/destination"
	"github.com/sluicehq/sluice/connectors/salesforce/fake"
)

func TestRunSize(t *testing.T) {
	for _, tc := range []struct {
		options string
		size    destination.RunSize
		bulk    bool
		batch   int
	}{
		{"", destination.RunSize{Records: 999}, false, MaxBatch},
		{"", destination.RunSize{Records: 1000}, true, BulkBatch},
		{"", destination.RunSize{Records: 5000, Removals: 4500}, false, MaxBatch},
		{"", destination.RunSize{Records: 1_000_000}, true, BulkBatch},
		{", bulk_batch_size: 50000", destination.RunSize{Records: 1_000_000}, true, 50_000},
		{", bulk_batch_size: 50000, batch_size: 100", destination.RunSize{Records: 999}, false, 100},
	} {
		sf := openSF(t, "https://login.salesforce.com", "bulk_threshold: 1000, concurrency: 3"+tc.options, extSync)
		sf.SizeRun(tc.size)
		l := sf.Limits()
		if sf.bulkRun() != tc.bulk || l.BatchSize != tc.batch || l.Concurrency != 3 {
			t.Errorf("%s %+v: bulk %v, limits %+v", tc.options, tc.size, sf.bulkRun(), l)
		}
	}
}

// TestBulkUpsert sends a run through ingest jobs: results come back
// shuffled and are matched by external id, a refused record gets its own
// error, and no record goes through collections.
func TestBulkUpsert(t *testing.T) {
	for _, tc := range []struct {
		name    string
		maxPart int
		jobs    int
	}{
		{"one job", maxUpload, 1},
		{"split under the upload limit", 8 << 10, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newFake(t, fake.Options{BulkPolls: 2})
			sf := openSF(t, srv.URL, "bulk_threshold: 100", extSync)
			sf.maxPart = tc.maxPart
			sf.SizeRun(destination.RunSize{Records: 600})
			srv.RejectExternalIDs("p36@example.com", "p599@example.com")
			recs := people(600)
			errs := write(t, sf, recs)
			got := contacts(srv)
			for i, err := range errs {
				key := recs[i].Key
				switch key {
				case "p36@example.com", "p599@example.com":
					var ae *APIError
					if !errors.As(err, &ae) || ae.Code != "FIELD_CUSTOM_VALIDATION_EXCEPTION" || strings.Contains(err.Error(), key) {
						t.Errorf("%s: %v", key, err)
					}
				default:
					if err != nil {
						t.Fatalf("%s: %v", key, err)
					}
					if id, _ := got[key]["Id"].(string); id == "" || recs[i].RemoteID != id {
						t.Fatalf("%s: remote id %q, the fake's %q", key, recs[i].RemoteID, id)
					}
				}
			}
			if len(got) != 598 {
				t.Errorf("%d contacts, want 598", len(got))
			}
			jobs, collections := 0, 0
			for _, r := range srv.Requests() {
				switch {
				case r.Method == "POST" && strings.HasSuffix(r.Endpoint, "/jobs/ingest"):
					jobs++
				case strings.Contains(r.Endpoint, "/composite/"):
					collections++
				}
			}
			if jobs < tc.jobs || (tc.jobs == 1 && jobs != 1) || collections != 0 {
				t.Errorf("%d jobs (want %d), %d collection calls (want 0)", jobs, tc.jobs, collections)
			}
		})
	}
}

// TestQuotaReserve stops a run at the reserve, with a message that says
// so, and lets no request eat into it.
func TestQuotaReserve(t *testing.T) {
	srv := newFake(t, fake.Options{DailyLimit: 1000, UsedAtStart: 880})
	sf := openSF(t, srv.URL, "batch_size: 10", extSync)
	var err error
	sent := 0
	for sent < 100 && err == nil {
		_, err = sf.Write(t.Context(), &destination.Batch{Sync: "people", Records: []destination.Record{person(sent)}})
		sent++
	}
	var qe *QuotaReserveError
	if !errors.As(err, &qe) || !strings.Contains(err.Error(), "quota_reserve keeps the last 100") || !strings.Contains(err.Error(), "next run sends the rest") {
		t.Fatalf("after %d writes: %v, want the quota reserve to stop the run", sent, err)
	}
	if used := srv.Stats().APIUsage; used > 900 {
		t.Errorf("the org's usage reached %d, into the reserve (900)", used)
	}
	if n := len(contacts(srv)); n < 15 {
		t.Errorf("only %d records sent before the reserve", n)
	}
}

func TestRequestLimitExceeded(t *testing.T) {
	srv := newFake(t, fake.Options{DailyLimit: 500, UsedAtStart: 500})
	sf := openSF(t, srv.URL, "quota_reserve: 0", extSync)
	_, err := sf.Write(t.Context(), &destination.Batch{Sync: "people", Records: people(2)})
	if err == nil || !strings.Contains(err.Error(), "REQUEST_LIMIT_EXCEEDED") || !strings.Contains(err.Error(), "the next run sends the rest") {
		t.Fatalf("write: %v", err)
	}
}
