package klaviyo

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/sluicehq/sluice/connectors/internal/jsonenc"
)

// Klaviyo's limits for one bulk import job.
const (
	maxJobProfiles = 10000
	// maxJobBytes stays under the 5 MB payload limit with room for the
	// envelope.
	maxJobBytes = 5_000_000 - 1024
)

// splitJobs cuts profiles into jobs of at most maxProfiles profiles and
// maxBytes of JSON.
func splitJobs(ps []*profile, maxProfiles, maxBytes int) [][]*profile {
	var out [][]*profile
	start, size := 0, 0
	for i, p := range ps {
		n := len(p.json) + 1 // and its comma
		if i > start && (i-start >= maxProfiles || size+n > maxBytes) {
			out = append(out, ps[start:i])
			start, size = i, 0
		}
		size += n
	}
	if start < len(ps) {
		out = append(out, ps[start:])
	}
	return out
}

// jobBody is a bulk import job's request: the profiles, and the list they
// join when listID is set.
func jobBody(ps []*profile, listID string) []byte {
	size := 256
	for _, p := range ps {
		size += len(p.json) + 1
	}
	b := make([]byte, 0, size)
	b = append(b, `{"data":{"type":"profile-bulk-import-job","attributes":{"profiles":{"data":[`...)
	for i, p := range ps {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, p.json...)
	}
	b = append(b, "]}}"...)
	if listID != "" {
		b = append(b, `,"relationships":{"lists":{"data":[{"type":"list","id":`...)
		b = jsonenc.AppendString(b, listID)
		b = append(b, "}]}}"...)
	}
	return append(b, "}}"...)
}

// importProfiles upserts profiles through bulk import jobs (adding them to
// listID when set) and records per-profile failures in errs. The error is
// a failure that stops the run.
func (k *Klaviyo) importProfiles(ctx context.Context, ps []*profile, listID string, errs []error) error {
	jobs := splitJobs(ps, maxJobProfiles, maxJobBytes)
	if len(jobs) == 1 {
		return k.runJob(ctx, jobs[0], listID, errs)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	for _, j := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := k.runJob(ctx, j, listID, errs); err != nil {
				mu.Lock()
				if first == nil {
					first = err
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return first
}

// jobState is what Klaviyo says of a bulk import job.
type jobState struct {
	ID         string
	Status     string
	CreatedAt  string
	Total      int
	Completed  int
	Failed     int
	importErrs string // the job's import-errors link, when given
}

func (j jobState) done() bool { return j.Status == "complete" || j.Status == "cancelled" }

type jobResource struct {
	Type       string `json:"type"`
	ID         string `json:"id"`
	Attributes struct {
		Status         string `json:"status"`
		CreatedAt      string `json:"created_at"`
		TotalCount     int    `json:"total_count"`
		CompletedCount *int   `json:"completed_count"`
		FailedCount    *int   `json:"failed_count"`
	} `json:"attributes"`
	Relationships struct {
		ImportErrors struct {
			Links struct {
				Related string `json:"related"`
			} `json:"links"`
		} `json:"import-errors"`
	} `json:"relationships"`
}

func (r jobResource) state() jobState {
	s := jobState{ID: r.ID, Status: r.Attributes.Status, CreatedAt: r.Attributes.CreatedAt, Total: r.Attributes.TotalCount,
		importErrs: r.Relationships.ImportErrors.Links.Related}
	if r.Attributes.CompletedCount != nil {
		s.Completed = *r.Attributes.CompletedCount
	}
	if r.Attributes.FailedCount != nil {
		s.Failed = *r.Attributes.FailedCount
	}
	return s
}

// maxJobAttempts bounds how often a job is sent again without the profiles
// Klaviyo pointed at in a 400 answer.
const maxJobAttempts = 3

// runJob creates one job, waits for it and reads its import errors.
func (k *Klaviyo) runJob(ctx context.Context, ps []*profile, listID string, errs []error) error {
	var st jobState
	for attempt := 1; ; attempt++ {
		ans, err := k.api.call(ctx, epImport, "/api/profile-bulk-import-jobs", nil, jobBody(ps, listID))
		if err != nil {
			return err
		}
		if ans.status == http.StatusAccepted || ans.status == http.StatusOK || ans.status == http.StatusCreated {
			var doc struct {
				Data jobResource `json:"data"`
			}
			if err := json.Unmarshal(ans.body, &doc); err != nil || doc.Data.ID == "" {
				return k.cfg.Errorf("reading the bulk import job klaviyo created: %s", snippetOrErr(ans.body, err))
			}
			st = doc.Data.state()
			// Klaviyo has the profiles: only their identifiers are needed
			// now, to read import errors, while the job runs for a while.
			for _, p := range ps {
				p.json = nil
			}
			break
		}
		// A 400 that points at profiles rejects them; the others go again.
		rest, pointed := rejectPointed(ans, ps, errs, "klaviyo refused the profile")
		if pointed && len(rest) > 0 && attempt < maxJobAttempts {
			ps = rest
			continue
		}
		if !pointed {
			for _, p := range ps {
				errs[p.idx] = fmt.Errorf("klaviyo refused the bulk import job: %s", ans.message())
			}
		} else {
			for _, p := range rest {
				errs[p.idx] = fmt.Errorf("klaviyo refused the bulk import job: %s", ans.message())
			}
		}
		return nil
	}
	st, err := k.watcher.wait(ctx, st, k.jobTimeout)
	if err != nil {
		return err
	}
	if st.Status == "cancelled" {
		for _, p := range ps {
			errs[p.idx] = fmt.Errorf("klaviyo cancelled bulk import job %s", st.ID)
		}
		return nil
	}
	k.stats.jobs.Add(1)
	if st.Failed == 0 {
		return nil
	}
	return k.importErrors(ctx, st, ps, errs)
}

func snippetOrErr(b []byte, err error) string {
	if err != nil {
		return err.Error()
	}
	return "no job id in " + strings.TrimSpace(string(b[:min(len(b), 200)]))
}

// rejectPointed rejects the profiles a 400 answer's error pointers name,
// and returns the others. pointed is false when no error named a profile.
func rejectPointed(ans *answer, ps []*profile, errs []error, what string) (rest []*profile, pointed bool) {
	if ans.status != http.StatusBadRequest {
		return ps, false
	}
	bad := map[int]string{}
	for _, e := range ans.errors {
		if i, ok := profileIndex(e.Source.Pointer); ok && i < len(ps) {
			bad[i] = firstNonEmpty(e.Detail, e.Title, e.Code)
		}
	}
	if len(bad) == 0 {
		return ps, false
	}
	for i, p := range ps {
		if msg, ok := bad[i]; ok {
			errs[p.idx] = fmt.Errorf("%s: %s", what, msg)
			continue
		}
		rest = append(rest, p)
	}
	return rest, true
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if strings.TrimSpace(x) != "" {
			return strings.TrimSpace(x)
		}
	}
	return ""
}

// importError is one entry of a job's import errors.
type importError struct {
	Attributes struct {
		Code   string `json:"code"`
		Title  string `json:"title"`
		Detail string `json:"detail"`
		Source struct {
			Pointer string `json:"pointer"`
		} `json:"source"`
		OriginalPayload map[string]any `json:"original_payload"`
	} `json:"attributes"`
}

// importErrors reads a job's import errors and rejects the profiles they
// name: by the identifiers of the original payload, else by the pointer's
// position in the job. When some errors cannot be tied to a profile, every
// profile of the job that no error names is rejected too (they are sent
// again next run, which is harmless): accepting them could lose a failed
// one.
func (k *Klaviyo) importErrors(ctx context.Context, st jobState, ps []*profile, errs []error) error {
	byEmail, byPhone, byExternal := map[string][]int{}, map[string][]int{}, map[string][]int{}
	for i, p := range ps {
		if p.ids.email != "" {
			byEmail[strings.ToLower(p.ids.email)] = append(byEmail[strings.ToLower(p.ids.email)], i)
		}
		if p.ids.phone != "" {
			byPhone[p.ids.phone] = append(byPhone[p.ids.phone], i)
		}
		if p.ids.external != "" {
			byExternal[p.ids.external] = append(byExternal[p.ids.external], i)
		}
	}
	q := url.Values{}
	q.Set("page[size]", "100")
	next := k.api.base + "/api/profile-bulk-import-jobs/" + url.PathEscape(st.ID) + "/import-errors?" + q.Encode()
	named := map[int]bool{}
	unmatched := 0
	var sample string
	for pages := 0; next != "" && pages < 1+maxJobProfiles/100; pages++ {
		ans, err := k.api.send(ctx, epImportErrors, next, nil)
		if err != nil {
			return err
		}
		if ans.status != http.StatusOK {
			return k.cfg.Errorf("reading the import errors of job %s: %s", st.ID, ans.message())
		}
		var doc struct {
			Data  []importError `json:"data"`
			Links struct {
				Next string `json:"next"`
			} `json:"links"`
		}
		if err := json.Unmarshal(ans.body, &doc); err != nil {
			return k.cfg.Errorf("reading the import errors of job %s: %w", st.ID, err)
		}
		for _, e := range doc.Data {
			a := e.Attributes
			msg := firstNonEmpty(a.Detail, a.Title, a.Code)
			var hits []int
			if s, _ := a.OriginalPayload["email"].(string); s != "" {
				hits = byEmail[strings.ToLower(strings.TrimSpace(s))]
			}
			if s, _ := a.OriginalPayload["phone_number"].(string); s != "" && len(hits) == 0 {
				hits = byPhone[strings.TrimSpace(s)]
			}
			if s, _ := a.OriginalPayload["external_id"].(string); s != "" && len(hits) == 0 {
				hits = byExternal[s]
			}
			if len(hits) == 0 {
				if i, ok := profileIndex(a.Source.Pointer); ok && i < len(ps) {
					hits = []int{i}
				}
			}
			if len(hits) == 0 {
				unmatched++
				sample = msg
				continue
			}
			for _, i := range hits {
				named[i] = true
				errs[ps[i].idx] = fmt.Errorf("klaviyo import error: %s", msg)
			}
		}
		next = doc.Links.Next
	}
	if unmatched > 0 || len(named) < st.Failed {
		k.log.Warn("klaviyo import errors not tied to a profile: the job's other profiles are sent again next run", "job", st.ID, "failed", st.Failed, "tied", len(named))
		for i, p := range ps {
			if !named[i] {
				errs[p.idx] = fmt.Errorf("klaviyo reported %d import errors in job %s that could not be tied to profiles (%s); sent again next run", st.Failed-len(named), st.ID, firstNonEmpty(sample, "no detail"))
			}
		}
	}
	return nil
}
