package meta

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/sluicehq/sluice/connectors/destination"
)

// GraphError is a Graph API error document: {"error": {"message",
// "type", "code", "error_subcode", "fbtrace_id", ...}}.
type GraphError struct {
	Status      int // HTTP status
	Code        int
	Subcode     int
	Type        string
	Message     string
	UserTitle   string
	UserMessage string
	TraceID     string
	Transient   bool
}

func (e *GraphError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Meta answered HTTP %d", e.Status)
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	if e.UserMessage != "" && !strings.Contains(e.Message, e.UserMessage) {
		b.WriteString(" (" + e.UserMessage + ")")
	}
	if e.Code != 0 {
		fmt.Fprintf(&b, " [code %d", e.Code)
		if e.Subcode != 0 {
			fmt.Fprintf(&b, ", subcode %d", e.Subcode)
		}
		if e.TraceID != "" {
			b.WriteString(", fbtrace_id " + e.TraceID)
		}
		b.WriteString("]")
	}
	return b.String()
}

// Graph error codes sluice acts on
// (https://developers.facebook.com/docs/graph-api/guides/error-handling,
// https://developers.facebook.com/docs/graph-api/overview/rate-limiting).
const (
	codeAppLimit      = 4   // application request limit
	codeUserLimit     = 17  // user request limit (subcode 2446079: ad account)
	codePageLimit     = 32  // page request limit
	codeAccountLimit  = 613 // calls exceeded the rate limit (subcode 1487742)
	codeAudienceSmall = 200 // with subcode 1870047
	subAudienceSmall  = 1870047
	codeTokenInvalid  = 190 // OAuthException: expired, revoked or malformed token
)

// rateLimited tells Graph's rate-limit errors: wait, then retry.
func (e *GraphError) rateLimited() bool {
	switch e.Code {
	case codeAppLimit, codeUserLimit, codePageLimit, codeAccountLimit:
		return true
	}
	return e.Code >= 80000 && e.Code <= 80014 // business use case limits (80003: custom audiences)
}

// audienceTooSmall is 200/1870047: Meta refuses removals that would leave
// the audience too small.
func (e *GraphError) audienceTooSmall() bool {
	return e.Code == codeAudienceSmall && e.Subcode == subAudienceSmall
}

// fatal tells an answer no request of the run can get past: the token
// refused, or a permission missing (codes 10 and 200-299, the
// too-small-audience subcode aside).
func (e *GraphError) fatal() bool {
	switch {
	case e.audienceTooSmall():
		return false
	case e.Code == codeTokenInvalid, e.Code == 102, e.Code == 104, e.Code == 10, e.Code >= 200 && e.Code <= 299:
		return true
	}
	return e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden
}

func graphError(status int, body []byte) *GraphError {
	var d struct {
		Error *struct {
			Message     string `json:"message"`
			Type        string `json:"type"`
			Code        int    `json:"code"`
			Subcode     int    `json:"error_subcode"`
			UserTitle   string `json:"error_user_title"`
			UserMessage string `json:"error_user_msg"`
			TraceID     string `json:"fbtrace_id"`
			Transient   bool   `json:"is_transient"`
		} `json:"error"`
	}
	if err := json.Unmarshal(body, &d); err != nil || d.Error == nil {
		return &GraphError{Status: status, Message: destination.Snippet(body)}
	}
	x := d.Error
	return &GraphError{Status: status, Code: x.Code, Subcode: x.Subcode, Type: x.Type, Message: x.Message,
		UserTitle: x.UserTitle, UserMessage: x.UserMessage, TraceID: x.TraceID, Transient: x.Transient}
}

// retryPolicy is how Graph's rate-limit errors are waited out: the time
// Meta estimates in its usage headers when it gives one, else an
// exponential backoff; a wait longer than maxWait stops the run.
type retryPolicy struct {
	retries int
	waitMin time.Duration
	waitMax time.Duration
	maxWait time.Duration
	sleep   func(context.Context, time.Duration) error
}

func defaultRetry(retries int) retryPolicy {
	return retryPolicy{retries: retries, waitMin: 2 * time.Second, waitMax: time.Minute, maxWait: 2 * time.Minute, sleep: sleepCtx}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// backoff is the wait before retry attempt (0-based): what Meta's usage
// headers announce, else exponential with jitter.
func (p retryPolicy) backoff(attempt int, h http.Header) time.Duration {
	if d, ok := usageWait(h); ok && d > 0 {
		return d
	}
	d := p.waitMin << min(attempt, 20)
	if d > p.waitMax || d <= 0 {
		d = p.waitMax
	}
	return p.waitMin + time.Duration(rand.Float64()*float64(d-p.waitMin))
}

// usageWait reads the longest estimated_time_to_regain_access (minutes)
// of X-Business-Use-Case-Usage, else X-Ad-Account-Usage's
// reset_time_duration (seconds).
func usageWait(h http.Header) (time.Duration, bool) {
	if v := h.Get("X-Business-Use-Case-Usage"); v != "" {
		var u map[string][]struct {
			Regain json.Number `json:"estimated_time_to_regain_access"`
		}
		if json.Unmarshal([]byte(v), &u) == nil {
			var most float64
			found := false
			for _, entries := range u {
				for _, e := range entries {
					if f, err := e.Regain.Float64(); err == nil {
						most, found = max(most, f), true
					}
				}
			}
			if found {
				return time.Duration(most * float64(time.Minute)), true
			}
		}
	}
	if v := h.Get("X-Ad-Account-Usage"); v != "" {
		var u struct {
			Reset json.Number `json:"reset_time_duration"`
		}
		if json.Unmarshal([]byte(v), &u) == nil {
			if f, err := u.Reset.Float64(); err == nil {
				return time.Duration(f * float64(time.Second)), true
			}
		}
	}
	return 0, false
}

// call sends one Graph request, its parameters in the query for GET and
// as a form body otherwise, and decodes a 2xx answer into out (nil:
// ignored). Rate-limit errors are waited out and retried; any other
// error answer is a *GraphError. 429 and 5xx are the shared client's to
// retry.
func (m *Meta) call(ctx context.Context, method, path string, params url.Values, out any) error {
	for attempt := 0; ; attempt++ {
		status, header, body, err := m.exchange(ctx, method, path, params)
		if err != nil {
			return err
		}
		if status >= 200 && status <= 299 {
			if out != nil {
				if err := json.Unmarshal(body, out); err != nil {
					return fmt.Errorf("%s %s: reading Meta's answer: %w", method, endpoint(path), err)
				}
			}
			return nil
		}
		ge := graphError(status, body)
		if !ge.rateLimited() || attempt >= m.retry.retries {
			return ge
		}
		wait := m.retry.backoff(attempt, header)
		if wait > m.retry.maxWait {
			return fmt.Errorf("Meta's rate limit for this ad account asks to wait %s, more than the %s sluice waits within a run; the records are sent again next run: %w",
				wait.Round(time.Second), m.retry.maxWait, ge)
		}
		m.cfg.Logger.Warn("Meta rate limit reached; waiting before retrying", "code", ge.Code, "subcode", ge.Subcode,
			"endpoint", endpoint(path), "wait_seconds", wait.Seconds(), "attempt", attempt+1)
		if err := m.retry.sleep(ctx, wait); err != nil {
			return err
		}
	}
}

func (m *Meta) exchange(ctx context.Context, method, path string, params url.Values) (int, http.Header, []byte, error) {
	target := m.root + path
	var body []byte
	h := m.header
	if method == http.MethodGet {
		if len(params) > 0 {
			target += "?" + params.Encode()
		}
	} else {
		body = []byte(params.Encode())
		h = h.Clone()
		h.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := m.client.Do(ctx, method, target, h, body)
	if err != nil {
		// The shared client's error quotes the URL: name the endpoint only.
		return 0, nil, nil, fmt.Errorf("%s %s: %w", method, endpoint(path), unwrapURL(err))
	}
	b, err := destination.ReadBody(resp, maxAnswer)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("%s %s: reading the answer: %w", method, endpoint(path), err)
	}
	return resp.StatusCode, resp.Header, b, nil
}

// unwrapURL drops the *url.Error's URL (it may carry a query).
func unwrapURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// endpoint names a path without its ids, for messages and logs.
func endpoint(path string) string {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	for i, s := range segs {
		if _, err := strconv.ParseUint(strings.TrimPrefix(s, "act_"), 10, 64); err == nil {
			if strings.HasPrefix(s, "act_") {
				segs[i] = "act_{id}"
			} else {
				segs[i] = "{id}"
			}
		}
	}
	return "/" + strings.Join(segs, "/")
}

// explain says what was being done, with a hint for the usual causes.
func (m *Meta) explain(doing string, err error) error {
	var ge *GraphError
	if errors.As(err, &ge) {
		switch {
		case ge.Code == codeTokenInvalid || ge.Code == 102 || ge.Code == 104:
			return m.cfg.Errorf("%s: the access token was refused (%w): check access_token (a system user token that has not expired or been revoked)", doing, err)
		case ge.fatal():
			return m.cfg.Errorf("%s: permission refused (%w): the system user needs ads_management and access to ad account %s (Business Settings > System users > Assign assets)", doing, err, m.account)
		}
	}
	return m.cfg.Errorf("%s: %w", doing, err)
}
