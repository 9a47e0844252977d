package klaviyo

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/sluicehq/sluice/connectors/destination"
)

// contentType is JSON:API's media type, which Klaviyo speaks.
const contentType = "application/vnd.api+json"

// maxAnswer bounds how much of an answer is read.
const maxAnswer = 8 << 20

// endpoint is one Klaviyo operation sluice calls, with the rate limits and
// scopes Klaviyo publishes for it (x-klaviyo-ratelimit and
// x-klaviyo-scopes in the API description of revision 2026-07-15).
type endpoint struct {
	method, path  string
	burst, steady int // per second, per minute
	daily         int
	scopes        string
}

// The endpoints, longest paths first so that the first match is the right
// one.
var (
	epImportErrors   = endpoint{"GET", "/api/profile-bulk-import-jobs/{id}/import-errors", 10, 150, 0, "profiles:read"}
	epGetImportJob   = endpoint{"GET", "/api/profile-bulk-import-jobs/{job_id}", 10, 150, 0, "lists:read, profiles:read"}
	epListImportJobs = endpoint{"GET", "/api/profile-bulk-import-jobs", 10, 150, 0, "lists:read, profiles:read"}
	epImport         = endpoint{"POST", "/api/profile-bulk-import-jobs", 10, 150, 0, "lists:write, profiles:write"}
	epListAdd        = endpoint{"POST", "/api/lists/{id}/relationships/profiles", 10, 150, 0, "lists:write, profiles:write"}
	epListRemove     = endpoint{"DELETE", "/api/lists/{id}/relationships/profiles", 10, 150, 0, "lists:write, profiles:write"}
	epGetList        = endpoint{"GET", "/api/lists/{id}", 75, 750, 0, "lists:read"}
	epGetLists       = endpoint{"GET", "/api/lists", 75, 750, 0, "lists:read"}
	epCreateList     = endpoint{"POST", "/api/lists", 10, 150, 150, "lists:write"}
	epGetProfiles    = endpoint{"GET", "/api/profiles", 75, 750, 0, "profiles:read"}
	epSubscribe      = endpoint{"POST", "/api/profile-subscription-bulk-create-jobs", 75, 750, 0, "lists:write, profiles:write, subscriptions:write"}
	epUnsubscribe    = endpoint{"POST", "/api/profile-subscription-bulk-delete-jobs", 75, 750, 0, "lists:write, profiles:write, subscriptions:write"}
	epDeleteProfile  = endpoint{"POST", "/api/data-privacy-deletion-jobs", 3, 60, 0, "data-privacy:write"}

	endpoints = []endpoint{epImportErrors, epGetImportJob, epListImportJobs, epImport, epListAdd, epListRemove,
		epGetList, epGetLists, epCreateList, epGetProfiles, epSubscribe, epUnsubscribe, epDeleteProfile}
)

// endpointLimits turns the table into the shared client's per-endpoint
// windows; share scales them (0.5 leaves half of each limit to other
// integrations). Only the burst (and daily) windows are counted here: the
// steady minute is paced by what Klaviyo says of it in every answer
// (RateLimit-Remaining and RateLimit-Reset, see quotaHeaders), which counts
// every client of the account and follows Klaviyo's own fixed windows,
// where a window counted on this side could only be as strict as a
// sliding one and waste up to a quarter of the allowance at minute
// boundaries.
func endpointLimits(share float64) []destination.EndpointLimit {
	scale := func(n int) int { return max(1, int(float64(n)*share)) }
	out := make([]destination.EndpointLimit, 0, len(endpoints))
	for _, e := range endpoints {
		ws := []destination.Window{{Limit: scale(e.burst), Per: time.Second}}
		if share < 1 {
			// Klaviyo's headers speak of the whole account: a share is
			// counted here.
			ws = append(ws, destination.Window{Limit: scale(e.steady), Per: time.Minute})
		}
		if e.daily > 0 {
			ws = append(ws, destination.Window{Limit: scale(e.daily), Per: 24 * time.Hour})
		}
		out = append(out, destination.EndpointLimit{Method: e.method, Path: e.path, Windows: ws})
	}
	return out
}

// quotaHeaders reads Klaviyo's RateLimit headers, per endpoint.
func quotaHeaders() *destination.QuotaHeaders {
	return &destination.QuotaHeaders{
		Limit: "RateLimit-Limit", Remaining: "RateLimit-Remaining", Reset: "RateLimit-Reset",
		Group: func(r *http.Request) string {
			if e, ok := endpointOf(r.Method, r.URL.Path); ok {
				return e.method + " " + e.path
			}
			return ""
		},
	}
}

// endpointOf finds the endpoint of a request (the end of its path, so that
// a base URL with a path prefix still matches).
func endpointOf(method, path string) (endpoint, bool) {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	for _, e := range endpoints {
		if e.method != method {
			continue
		}
		pat := strings.Split(strings.Trim(e.path, "/"), "/")
		if len(pat) > len(segs) {
			continue
		}
		tail := segs[len(segs)-len(pat):]
		ok := true
		for i, p := range pat {
			if !strings.HasPrefix(p, "{") && p != tail[i] {
				ok = false
				break
			}
		}
		if ok {
			return e, true
		}
	}
	return endpoint{}, false
}

// api sends requests to Klaviyo.
type api struct {
	base   string // without a trailing slash
	header http.Header
	http   *destination.HTTPClient
	errorf func(format string, args ...any) error // names the destination
}

// apiError is one entry of Klaviyo's error document.
type apiError struct {
	Code   string `json:"code"`
	Title  string `json:"title"`
	Detail string `json:"detail"`
	Source struct {
		Pointer   string `json:"pointer"`
		Parameter string `json:"parameter"`
	} `json:"source"`
}

// answer is a response read whole.
type answer struct {
	status int
	body   []byte
	errors []apiError
}

// message sums up an error answer: HTTP status, Klaviyo's code and detail.
func (a *answer) message() string {
	if len(a.errors) == 0 {
		return fmt.Sprintf("HTTP %d: %s", a.status, destination.Snippet(a.body))
	}
	parts := make([]string, 0, len(a.errors))
	for _, e := range a.errors {
		d := e.Detail
		if d == "" {
			d = e.Title
		}
		parts = append(parts, strings.TrimSpace(e.Code+": "+d))
	}
	return fmt.Sprintf("HTTP %d %s", a.status, strings.Join(parts, "; "))
}

// call sends a request and reads the answer. A transport failure, or a
// 429/5xx still failing after the shared client's retries, is an error
// that stops the run: the outcome is unknown. Every other answer,
// successful or not, is returned for the caller to judge.
func (a *api) call(ctx context.Context, ep endpoint, path string, query url.Values, body []byte) (*answer, error) {
	u := a.base + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	return a.send(ctx, ep, u, body)
}

func (a *api) send(ctx context.Context, ep endpoint, u string, body []byte) (*answer, error) {
	h := a.header
	if body != nil {
		h = h.Clone()
		h.Set("Content-Type", contentType)
	}
	resp, err := a.http.Do(ctx, ep.method, u, h, body)
	if err != nil {
		if resp != nil {
			resp.Body.Close()
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, a.errorf("%s %s: %w", ep.method, ep.path, err)
	}
	b, err := destination.ReadBody(resp, maxAnswer)
	if err != nil {
		return nil, a.errorf("reading the answer to %s %s: %w", ep.method, ep.path, err)
	}
	ans := &answer{status: resp.StatusCode, body: b}
	if resp.StatusCode >= 400 {
		var doc struct {
			Errors []apiError `json:"errors"`
		}
		if json.Unmarshal(b, &doc) == nil {
			ans.errors = doc.Errors
		}
		if destination.Retryable(resp.StatusCode) {
			return nil, a.errorf("%s %s still answered %s after retries", ep.method, ep.path, ans.message())
		}
		if resp.StatusCode == http.StatusUnauthorized {
			return nil, a.errorf("klaviyo refused the API key (%s): api_key must be a private API key (pk_...) of the account", ans.message())
		}
		if resp.StatusCode == http.StatusForbidden {
			return nil, a.errorf("the API key may not call %s %s (%s): give the key the scopes %s", ep.method, ep.path, ans.message(), ep.scopes)
		}
	}
	return ans, nil
}

// profileIndex reads the position of a profile in a request from an error
// pointer such as /data/attributes/profiles/data/3/attributes/email.
func profileIndex(pointer string) (int, bool) {
	const prefix = "/data/attributes/profiles/data/"
	rest, ok := strings.CutPrefix(pointer, prefix)
	if !ok {
		return 0, false
	}
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		rest = rest[:i]
	}
	n, err := strconv.Atoi(rest)
	if err != nil || n < 0 {
		return 0, false
	}
	return n, true
}
