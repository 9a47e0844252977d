package klaviyo

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connectors/destination"
)

// watchServer answers job listings with the given jobs (newest first) and
// single-job reads from byID, counting requests.
type watchServer struct {
	mu      sync.Mutex
	listing []string // job resources as JSON
	byID    map[string]string
	calls   map[string]int
}

func (s *watchServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	w.Header().Set("Content-Type", contentType)
	switch {
	case r.URL.Path == "/api/profile-bulk-import-jobs":
		s.calls["list"]++
		fmt.Fprintf(w, `{"data":[%s],"links":{"self":"x"}}`, strings.Join(s.listing, ","))
	case strings.HasPrefix(r.URL.Path, "/api/profile-bulk-import-jobs/"):
		id := strings.TrimPrefix(r.URL.Path, "/api/profile-bulk-import-jobs/")
		s.calls["get "+id]++
		if j, ok := s.byID[id]; ok {
			fmt.Fprintf(w, `{"data":%s}`, j)
			return
		}
		w.WriteHeader(404)
		fmt.Fprint(w, `{"errors":[{"code":"not_found","title":"Not found.","detail":"no such job"}]}`)
	default:
		w.WriteHeader(404)
	}
}

func jobJSON(id, status string, created time.Time, total, failed int) string {
	return fmt.Sprintf(`{"type":"profile-bulk-import-job","id":%q,"attributes":{"status":%q,"created_at":%q,"total_count":%d,"completed_count":%d,"failed_count":%d}}`,
		id, status, created.UTC().Format(time.RFC3339Nano), total, total-failed, failed)
}

func newWatchAPI(t *testing.T, s *watchServer) *api {
	t.Helper()
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	c := destination.NewHTTPClient(destination.HTTPOptions{Name: "test", MaxRetries: -1})
	t.Cleanup(c.Close)
	return &api{base: srv.URL, header: http.Header{}, http: c, errorf: fmt.Errorf}
}

func TestJobWatcher(t *testing.T) {
	now := time.Now()
	tests := []struct {
		name    string
		listing []string
		byID    map[string]string
		want    string // status, or the error
		calls   string // a call that must have happened
	}{
		{name: "found done in the listing",
			listing: []string{jobJSON("NEWER", "processing", now.Add(time.Second), 1, 0), jobJSON("J1", "complete", now, 5, 2)},
			want:    "complete 5 3 2", calls: "list"},
		{name: "older than the listing reaches: read by id",
			listing: []string{jobJSON("OTHER", "complete", now.Add(-time.Hour), 1, 0)},
			byID:    map[string]string{"J1": jobJSON("J1", "cancelled", now, 5, 0)},
			want:    "cancelled 5 5 0", calls: "get J1"},
		{name: "gone: the wait fails",
			listing: []string{jobJSON("OTHER", "complete", now.Add(-time.Hour), 1, 0)},
			want:    "reading bulk import job J1: HTTP 404 not_found: no such job", calls: "get J1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := &watchServer{listing: tc.listing, byID: tc.byID, calls: map[string]int{}}
			w := newJobWatcher(newWatchAPI(t, s), 50*time.Millisecond, nil)
			defer w.close()
			st, err := w.wait(context.Background(), jobState{ID: "J1", Status: "queued", CreatedAt: now.UTC().Format(time.RFC3339Nano)}, 5*time.Second)
			got := fmt.Sprintf("%s %d %d %d", st.Status, st.Total, st.Completed, st.Failed)
			if err != nil {
				got = err.Error()
			}
			if got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
			s.mu.Lock()
			defer s.mu.Unlock()
			if s.calls[tc.calls] == 0 {
				t.Errorf("no %s request: %v", tc.calls, s.calls)
			}
		})
	}
}

func TestJobWatcherPollsOnceForManyJobsAndStops(t *testing.T) {
	now := time.Now()
	var listing []string
	for i := range 20 {
		listing = append(listing, jobJSON(fmt.Sprintf("J%d", i), "complete", now, 1, 0))
	}
	s := &watchServer{listing: listing, calls: map[string]int{}}
	before := runtime.NumGoroutine()
	w := newJobWatcher(newWatchAPI(t, s), 50*time.Millisecond, nil)
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := w.wait(context.Background(), jobState{ID: fmt.Sprintf("J%d", i), Status: "queued", CreatedAt: now.UTC().Format(time.RFC3339Nano)}, 5*time.Second); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	s.mu.Lock()
	lists := s.calls["list"]
	s.mu.Unlock()
	if lists > 3 {
		t.Errorf("%d listings for 20 jobs done at the first poll", lists)
	}
	// With nothing to wait for, the watcher's goroutine ends by itself.
	for deadline := time.Now().Add(2 * time.Second); runtime.NumGoroutine() > before && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	w.mu.Lock()
	running := w.running
	w.mu.Unlock()
	if running {
		t.Error("the watcher still polls with no job to wait for")
	}
	w.close()
}
