package salesforce

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
)

// LimitHeader is the header by which Salesforce announces the org's API
// usage over the last 24 hours: "api-usage=N/M" (other entries, such as
// per-app-api-usage, may follow, comma-separated).
const LimitHeader = "Sforce-Limit-Info"

// quota keeps the org's daily API usage as the answers announce it, and
// refuses requests once the usage reaches the limit less the reserve kept
// for the org's other integrations. Requests sent since the last answer
// count too, so that concurrent requests do not all pass at the line.
type quota struct {
	reserve reserveSpec
	name    string

	mu          sync.Mutex
	used, limit int
	known       bool
}

// reserveSpec is quota_reserve: a share of the limit, or a count.
type reserveSpec struct {
	percent float64
	count   int
}

func parseReserve(s string) (reserveSpec, error) {
	s = strings.TrimSpace(s)
	if p, ok := strings.CutSuffix(s, "%"); ok {
		f, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil || f < 0 || f >= 100 {
			return reserveSpec{}, fmt.Errorf("quota_reserve %q: a percentage must be from 0%% to below 100%%", s)
		}
		return reserveSpec{percent: f}, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return reserveSpec{}, fmt.Errorf("quota_reserve %q: expected a number of requests or a percentage like 10%%", s)
	}
	return reserveSpec{count: n}, nil
}

func (r reserveSpec) of(limit int) int {
	if r.percent > 0 {
		return int(float64(limit)*r.percent/100 + 0.5)
	}
	return r.count
}

// QuotaReserveError stops a run whose requests would eat into the quota
// reserve.
type QuotaReserveError struct {
	Name              string
	Used, Limit, Kept int
}

func (e *QuotaReserveError) Error() string {
	return fmt.Sprintf("%s: the org has used %d of its %d daily API requests, and quota_reserve keeps the last %d for its other integrations: the run stops here, and the next run sends the rest (Salesforce counts requests over the last 24 hours)",
		e.Name, e.Used, e.Limit, e.Kept)
}

// parseUsage reads "api-usage=N/M" from a Sforce-Limit-Info value.
func parseUsage(v string) (used, limit int, ok bool) {
	for _, part := range strings.Split(v, ",") {
		rest, found := strings.CutPrefix(strings.TrimSpace(part), "api-usage=")
		if !found {
			continue
		}
		n, m, found := strings.Cut(rest, "/")
		used, err1 := strconv.Atoi(strings.TrimSpace(n))
		limit, err2 := strconv.Atoi(strings.TrimSpace(m))
		if !found || err1 != nil || err2 != nil || used < 0 || limit <= 0 {
			return 0, 0, false
		}
		return used, limit, true
	}
	return 0, 0, false
}

// observe reads an answer's header. The usage only grows within a run
// (answers may arrive out of order), so the highest count is kept.
func (q *quota) observe(h http.Header) {
	used, limit, ok := parseUsage(h.Get(LimitHeader))
	if !ok {
		return
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.known || limit != q.limit || used > q.used {
		q.used = used
	}
	q.limit, q.known = limit, true
}

// allow takes one request from the quota, or refuses it with a
// *QuotaReserveError once the usage has reached the limit less the
// reserve.
func (q *quota) allow() error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.known {
		return nil
	}
	kept := q.reserve.of(q.limit)
	if q.used >= q.limit-kept {
		return &QuotaReserveError{Name: q.name, Used: q.used, Limit: q.limit, Kept: kept}
	}
	q.used++
	return nil
}
