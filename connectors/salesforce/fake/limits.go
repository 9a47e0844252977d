package fake

import (
	"fmt"
	"net/http"
	"strings"
	"time"
)

// admit counts the request against the org's daily API request limit and
// its concurrent long-running request limit, and sets Sforce-Limit-Info.
//
// Every REST call but the token endpoint and the Versions resource counts
// ("Limit Info Header", REST API Developer Guide:
// https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/headers_api_usage.htm).
// Past the limit Salesforce answers 403 REQUEST_LIMIT_EXCEEDED "TotalRequests
// Limit exceeded." and refused calls do not count. Requests running longer
// than 20 seconds are long-running; past 25 of them at once (production
// orgs) further requests are refused with REQUEST_LIMIT_EXCEEDED naming
// ConcurrentRequests ("API Request Limits and Allocations",
// https://developer.salesforce.com/docs/atlas.en-us.salesforce_app_limits_cheatsheet.meta/salesforce_app_limits_cheatsheet/salesforce_app_limits_platform_api.htm).
func (s *Server) admit(c *call) bool {
	now := time.Now()
	s.mu.Lock()
	long := 0
	for _, t := range s.inFlight {
		if now.Sub(t) >= s.opts.LongRunning {
			long++
		}
	}
	refusal := ""
	switch {
	case long >= s.opts.MaxConcurrent:
		s.concurrent++
		refusal = "ConcurrentRequests (Concurrent API Requests) Limit exceeded."
	case s.opts.DailyLimit > 0 && s.used >= s.opts.DailyLimit:
		s.limited++
		refusal = "TotalRequests Limit exceeded."
	default:
		s.used++
		s.nextCall++
		c.slot = s.nextCall
		s.inFlight[c.slot] = now
	}
	usage := fmt.Sprintf("api-usage=%d/%d", s.used, s.opts.DailyLimit)
	s.mu.Unlock()
	c.w.Header().Set("Sforce-Limit-Info", usage)
	if refusal != "" {
		c.fail(http.StatusForbidden, "REQUEST_LIMIT_EXCEEDED", refusal)
		return false
	}
	return true
}

// release ends an admitted request's stay among those in flight.
func (s *Server) release(c *call) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.inFlight, c.slot)
}

// UseRequests adds n to the daily counter, as other integrations of the
// org would; a negative n gives requests back, as the 24-hour window
// rolling past them would (the counter stays at 0 or more).
func (s *Server) UseRequests(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.used = max(0, s.used+n)
}

// limits answers the Limits resource's DailyApiRequests entry.
func (s *Server) limits(c *call) {
	s.mu.Lock()
	used, max := s.used, s.opts.DailyLimit
	s.mu.Unlock()
	c.json(http.StatusOK, map[string]any{
		"DailyApiRequests":                  map[string]int{"Max": max, "Remaining": max - used},
		"DailyBulkV2QueryJobs":              map[string]int{"Max": 10000, "Remaining": 10000},
		"DailyBulkApiBatches":               map[string]int{"Max": 15000, "Remaining": 15000},
		"ConcurrentAsyncGetReportInstances": map[string]int{"Max": 200, "Remaining": 200},
	})
}

// routeDef is one resource under /services/data/vNN.N/.
type routeDef struct {
	method  string
	path    string // with {x} for a path parameter
	handler func(s *Server, c *call)
}

var routes = []routeDef{
	{"GET", "", (*Server).versionRoot},
	{"GET", "limits", (*Server).limits},
	{"GET", "sobjects", (*Server).globalDescribe},
	{"GET", "sobjects/{sobject}/describe", (*Server).describe},
	{"GET", "sobjects/{sobject}/{id}", (*Server).getRecord},
	{"PATCH", "composite/sobjects/{sobject}/{field}", (*Server).upsert},
	{"POST", "composite/sobjects", (*Server).insert},
	{"DELETE", "composite/sobjects", (*Server).deleteRecords},
	{"GET", "query", (*Server).query},
	{"GET", "query/{locator}", (*Server).queryMore},
	{"POST", "jobs/ingest", (*Server).createJob},
	{"GET", "jobs/ingest/{jobId}", (*Server).getJob},
	{"PATCH", "jobs/ingest/{jobId}", (*Server).patchJob},
	{"DELETE", "jobs/ingest/{jobId}", (*Server).deleteJob},
	{"PUT", "jobs/ingest/{jobId}/batches", (*Server).upload},
	{"GET", "jobs/ingest/{jobId}/successfulResults", (*Server).successfulResults},
	{"GET", "jobs/ingest/{jobId}/failedResults", (*Server).failedResults},
	{"GET", "jobs/ingest/{jobId}/unprocessedrecords", (*Server).unprocessedRecords},
}

// route finds the resource of a path below the version; pathKnown says
// the path exists for another method.
func route(method, rest string) (*routeDef, map[string]string, bool) {
	segs := strings.Split(rest, "/")
	pathKnown := false
	for i := range routes {
		rt := &routes[i]
		pat := strings.Split(rt.path, "/")
		if len(pat) != len(segs) {
			continue
		}
		params := map[string]string{}
		ok := true
		for j, p := range pat {
			if strings.HasPrefix(p, "{") {
				if segs[j] == "" {
					ok = false
					break
				}
				params[strings.Trim(p, "{}")] = segs[j]
			} else if p != segs[j] {
				ok = false
				break
			}
		}
		if !ok {
			continue
		}
		pathKnown = true
		if rt.method == method {
			return rt, params, true
		}
	}
	return nil, nil, pathKnown
}
