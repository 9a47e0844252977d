package salesforce

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/connectors/destination"
)

// bulkServer plays one ingest job that ends in state, whose results list
// the uploaded rows as results(rows) says, in that order.
func bulkServer(t *testing.T, state string, results func(rows []string) (ok, failed, unprocessed []string)) *httptest.Server {
	var srv *httptest.Server
	var rows []string
	base := "/services/data/" + DefaultAPIVersion + "/jobs/ingest"
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == tokenPath:
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"access_token":"00D!tok","instance_url":%q}`, srv.URL)
		case r.Method == http.MethodPost && r.URL.Path == base:
			fmt.Fprint(w, `{"id":"7500000000000AAAAA","state":"Open"}`)
		case r.Method == http.MethodPut:
			b, _ := io.ReadAll(r.Body)
			lines := strings.Split(strings.TrimSpace(string(b)), "\n")
			rows = lines[1:]
			w.WriteHeader(http.StatusCreated)
		case r.Method == http.MethodPatch:
			fmt.Fprint(w, `{"id":"7500000000000AAAAA","state":"UploadComplete"}`)
		case r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/7500000000000AAAAA"):
			fmt.Fprintf(w, `{"id":"7500000000000AAAAA","state":%q,"errorMessage":"InvalidBatch : something went wrong"}`, state)
		case r.Method == http.MethodGet:
			ok, failed, unprocessed := results(rows)
			switch {
			case strings.HasSuffix(r.URL.Path, "/successfulResults"):
				fmt.Fprint(w, "\"sf__Id\",\"sf__Created\",External_Id__c,LastName,Email\n"+strings.Join(ok, ""))
			case strings.HasSuffix(r.URL.Path, "/failedResults"):
				fmt.Fprint(w, "\"sf__Id\",\"sf__Error\",External_Id__c,LastName,Email\n"+strings.Join(failed, ""))
			default:
				fmt.Fprint(w, "External_Id__c,LastName,Email\n"+strings.Join(unprocessed, ""))
			}
		default:
			t.Errorf("unexpected %s %s", r.Method, r.URL.Path)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestBulkResultsByKey: results in reverse order, one failed, one
// unprocessed and one the job does not mention; each record gets its own.
func TestBulkResultsByKey(t *testing.T) {
	for _, state := range []string{jobComplete, jobFailed} {
		t.Run(state, func(t *testing.T) {
			srv := bulkServer(t, state, func(rows []string) (ok, failed, unprocessed []string) {
				for k := len(rows) - 1; k >= 0; k-- {
					switch k {
					case 3:
						failed = append(failed, "\"\",\"REQUIRED_FIELD_MISSING:Required fields are missing: [LastName]:LastName --\","+rows[k]+"\n")
					case 5:
						unprocessed = append(unprocessed, rows[k]+"\n")
					case 7:
					default:
						ok = append(ok, fmt.Sprintf("\"003%015d\",\"true\",%s\n", k, rows[k]))
					}
				}
				return ok, failed, unprocessed
			})
			sf := openSF(t, srv.URL, "", extSync)
			sf.SizeRun(destination.RunSize{Records: 5000})
			recs := people(10)
			errs := write(t, sf, recs)
			for k, err := range errs {
				var ae *APIError
				switch k {
				case 3:
					if !errors.As(err, &ae) || ae.Code != "REQUIRED_FIELD_MISSING" || ae.Fields[0] != "LastName" {
						t.Errorf("failed row: %v", err)
					}
				case 5, 7:
					if err == nil || (state == jobComplete && k == 5 && !errors.Is(err, errNotProcessed)) ||
						(state == jobComplete && k == 7 && !errors.Is(err, errNotAccounted)) ||
						(state == jobFailed && !strings.Contains(err.Error(), "ended Failed (InvalidBatch : something went wrong)")) {
						t.Errorf("row %d: %v", k, err)
					}
				default:
					if err != nil || recs[k].RemoteID != fmt.Sprintf("003%015d", k) {
						t.Errorf("row %d: %v, remote id %q", k, err, recs[k].RemoteID)
					}
				}
			}
		})
	}
}
