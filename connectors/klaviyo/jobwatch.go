package klaviyo

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// jobWatcher waits for bulk import jobs. Polling each job on its own would
// cost one request per job per poll, against an endpoint limited to 150
// requests a minute, while several jobs are in flight; instead one request
// per poll lists the account's newest jobs (100 a page, newest first) and
// settles every job in flight it finds done. A job not met in the listing
// (older than a page's worth of newer jobs) is read by its id.
type jobWatcher struct {
	api   *api
	every time.Duration
	log   *slog.Logger

	mu      sync.Mutex
	waits   map[string]*jobWait
	running bool
	quit    chan struct{}
	wg      sync.WaitGroup
}

type jobWait struct {
	created time.Time
	ch      chan jobResult // buffered: the watcher never blocks on it
}

type jobResult struct {
	state jobState
	err   error
}

func newJobWatcher(a *api, every time.Duration, log *slog.Logger) *jobWatcher {
	return &jobWatcher{api: a, every: every, log: log, waits: map[string]*jobWait{}, quit: make(chan struct{})}
}

// wait returns the job once it is complete or cancelled.
func (w *jobWatcher) wait(ctx context.Context, st jobState, timeout time.Duration) (jobState, error) {
	if st.done() {
		return st, nil
	}
	created, err := time.Parse(time.RFC3339Nano, st.CreatedAt)
	if err != nil {
		created = time.Now().Add(-time.Minute)
	}
	jw := &jobWait{created: created, ch: make(chan jobResult, 1)}
	w.mu.Lock()
	w.waits[st.ID] = jw
	if !w.running {
		w.running = true
		w.wg.Add(1)
		go w.loop()
	}
	w.mu.Unlock()
	defer func() {
		w.mu.Lock()
		delete(w.waits, st.ID)
		w.mu.Unlock()
	}()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case r := <-jw.ch:
		return r.state, r.err
	case <-ctx.Done():
		return st, ctx.Err()
	case <-t.C:
		return st, w.api.errorf("bulk import job %s is still %s after %s (job_timeout): its records are sent again next run", st.ID, st.Status, timeout)
	}
}

// close stops polling.
func (w *jobWatcher) close() {
	w.mu.Lock()
	select {
	case <-w.quit:
	default:
		close(w.quit)
	}
	w.mu.Unlock()
	w.wg.Wait()
}

// loop polls while jobs are waited for, then ends.
func (w *jobWatcher) loop() {
	defer w.wg.Done()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-w.quit:
			cancel()
		case <-ctx.Done():
		}
	}()
	// Small jobs finish fast: the first polls come sooner, then the
	// interval doubles up to every.
	delay := min(firstPoll, w.every)
	t := time.NewTimer(delay)
	defer t.Stop()
	for {
		select {
		case <-w.quit:
			w.mu.Lock()
			w.running = false
			w.mu.Unlock()
			return
		case <-t.C:
		}
		delay = min(2*delay, w.every)
		t.Reset(delay)
		w.mu.Lock()
		if len(w.waits) == 0 {
			w.running = false
			w.mu.Unlock()
			return
		}
		waits := make(map[string]*jobWait, len(w.waits))
		for id, jw := range w.waits {
			waits[id] = jw
		}
		w.mu.Unlock()
		w.poll(ctx, waits)
	}
}

func deliver(jw *jobWait, r jobResult) {
	select {
	case jw.ch <- r:
	default:
	}
}

// firstPoll is the delay before the first poll of a run of polls.
const firstPoll = 200 * time.Millisecond

// maxListPages bounds the pages read per poll before falling back to
// reading jobs by id.
const maxListPages = 5

func (w *jobWatcher) poll(ctx context.Context, waits map[string]*jobWait) {
	fail := func(err error) {
		for _, jw := range waits {
			deliver(jw, jobResult{err: err})
		}
	}
	oldest := time.Now()
	for _, jw := range waits {
		if jw.created.Before(oldest) {
			oldest = jw.created
		}
	}
	q := url.Values{}
	q.Set("sort", "-created_at")
	q.Set("page[size]", "100")
	q.Set("fields[profile-bulk-import-job]", "status,created_at,total_count,completed_count,failed_count")
	next := w.api.base + "/api/profile-bulk-import-jobs?" + q.Encode()
	seen := map[string]bool{}
	for pages := 0; next != "" && pages < maxListPages && len(seen) < len(waits); pages++ {
		ans, err := w.api.send(ctx, epListImportJobs, next, nil)
		if err != nil {
			if ctx.Err() == nil {
				fail(err)
			}
			return
		}
		if ans.status != http.StatusOK {
			fail(w.api.errorf("listing bulk import jobs: %s", ans.message()))
			return
		}
		var doc struct {
			Data  []jobResource `json:"data"`
			Links struct {
				Next string `json:"next"`
			} `json:"links"`
		}
		if err := json.Unmarshal(ans.body, &doc); err != nil {
			fail(w.api.errorf("reading the list of bulk import jobs: %w", err))
			return
		}
		older := false
		for _, r := range doc.Data {
			st := r.state()
			if jw, ok := waits[st.ID]; ok {
				seen[st.ID] = true
				if st.done() {
					deliver(jw, jobResult{state: st})
				}
			}
			// Jobs come newest first: past the oldest waited-for job (with
			// a second's slack for clocks), no later page can hold one.
			if c, err := time.Parse(time.RFC3339Nano, st.CreatedAt); err == nil && c.Before(oldest.Add(-time.Second)) {
				older = true
			}
		}
		if older {
			break
		}
		next = doc.Links.Next
	}
	for id, jw := range waits {
		if seen[id] {
			continue
		}
		ans, err := w.api.call(ctx, epGetImportJob, "/api/profile-bulk-import-jobs/"+url.PathEscape(id), nil, nil)
		if err != nil {
			if ctx.Err() == nil {
				deliver(jw, jobResult{err: err})
			}
			continue
		}
		if ans.status != http.StatusOK {
			deliver(jw, jobResult{err: w.api.errorf("reading bulk import job %s: %s", id, ans.message())})
			continue
		}
		var doc struct {
			Data jobResource `json:"data"`
		}
		if err := json.Unmarshal(ans.body, &doc); err != nil {
			deliver(jw, jobResult{err: fmt.Errorf("reading bulk import job %s: %w", id, err)})
			continue
		}
		if st := doc.Data.state(); st.done() {
			deliver(jw, jobResult{state: st})
		}
	}
}
