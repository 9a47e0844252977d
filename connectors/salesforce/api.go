package salesforce

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/sluicehq/sluice/connectors/destination"
)

// APIError is one of Salesforce's errors: a whole answer's (Status set),
// or one record's in a collection's results (Status 0).
type APIError struct {
	Status  int
	Code    string // errorCode, or a record's statusCode
	Message string
	Fields  []string
}

func (e *APIError) Error() string {
	var b strings.Builder
	if e.Status != 0 {
		fmt.Fprintf(&b, "Salesforce answered HTTP %d", e.Status)
	} else {
		b.WriteString("Salesforce refused the record")
	}
	if e.Code != "" {
		b.WriteString(" " + e.Code)
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	if len(e.Fields) > 0 {
		b.WriteString(" (fields: " + strings.Join(e.Fields, ", ") + ")")
	}
	return b.String()
}

// errorItem is one error of Salesforce's error arrays: errorCode in whole
// answers, statusCode in per-record results.
type errorItem struct {
	Message    string   `json:"message"`
	ErrorCode  string   `json:"errorCode"`
	StatusCode string   `json:"statusCode"`
	Fields     []string `json:"fields"`
}

func (e errorItem) code() string {
	if e.ErrorCode != "" {
		return e.ErrorCode
	}
	return e.StatusCode
}

// apiError reads a whole answer's error: a JSON array of errors, an
// object (the OAuth shape), or anything else quoted short.
func apiError(status int, body []byte) *APIError {
	var items []errorItem
	if json.Unmarshal(body, &items) == nil && len(items) > 0 {
		return &APIError{Status: status, Code: items[0].code(), Message: items[0].Message, Fields: items[0].Fields}
	}
	var one struct {
		errorItem
		Error            string `json:"error"`
		ErrorDescription string `json:"error_description"`
	}
	if json.Unmarshal(body, &one) == nil && (one.code() != "" || one.Error != "") {
		if one.code() == "" {
			return &APIError{Status: status, Code: one.Error, Message: one.ErrorDescription}
		}
		return &APIError{Status: status, Code: one.code(), Message: one.Message, Fields: one.Fields}
	}
	return &APIError{Status: status, Message: destination.Snippet(body)}
}

// fatal tells an answer no record of the run can get past: the session or
// permissions refused, the object unknown, the org's quota used up.
func (e *APIError) fatal() bool {
	return e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden || e.Status == http.StatusNotFound ||
		e.Status < 400 || destination.Retryable(e.Status)
}

// do sends one request with the session's token; the shared client
// retries 429 and 5xx. An answer 401 INVALID_SESSION_ID (the session
// expired or was revoked) fetches a new token and sends the request once
// more. path is under the instance (it starts with /services/).
func (sf *Salesforce) do(ctx context.Context, method, path string, header http.Header, body []byte) (*http.Response, error) {
	for attempt := 0; ; attempt++ {
		if err := sf.quota.allow(); err != nil {
			return nil, err
		}
		tok, base, err := sf.auth.token(ctx)
		if err != nil {
			return nil, err
		}
		h := header.Clone()
		if h == nil {
			h = http.Header{}
		}
		h.Set("Authorization", "Bearer "+tok)
		h.Set("User-Agent", "sluice")
		if h.Get("Accept") == "" {
			h.Set("Accept", "application/json")
		}
		resp, err := sf.client.Do(ctx, method, base+path, h, body)
		if err != nil {
			return nil, err
		}
		sf.quota.observe(resp.Header)
		if resp.StatusCode != http.StatusUnauthorized || attempt > 0 {
			return resp, nil
		}
		b, err := destination.ReadBody(resp, 64<<10)
		if err != nil {
			return nil, fmt.Errorf("reading a 401 answer: %w", err)
		}
		if apiError(resp.StatusCode, b).Code != "INVALID_SESSION_ID" {
			resp.Body = io.NopCloser(bytes.NewReader(b))
			return resp, nil
		}
		sf.cfg.Logger.Debug("session expired: fetching a new token")
		sf.auth.invalidate(tok)
	}
}

// exchange sends a JSON request and returns the final answer's status and
// body.
func (sf *Salesforce) exchange(ctx context.Context, method, path string, in any) (int, []byte, error) {
	var body []byte
	h := http.Header{}
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return 0, nil, fmt.Errorf("encoding the request: %w", err)
		}
		h.Set("Content-Type", "application/json")
	}
	resp, err := sf.do(ctx, method, path, h, body)
	if err != nil {
		return 0, nil, err
	}
	b, err := destination.ReadBody(resp, maxAnswer)
	if err != nil {
		return 0, nil, fmt.Errorf("reading the answer: %w", err)
	}
	return resp.StatusCode, b, nil
}

// call is exchange for calls answered 2xx with JSON, decoded into out
// (nil: ignored); any other answer is an *APIError.
func (sf *Salesforce) call(ctx context.Context, method, path string, in, out any) error {
	status, body, err := sf.exchange(ctx, method, path, in)
	if err != nil {
		return err
	}
	if status < 200 || status > 299 {
		return apiError(status, body)
	}
	if out != nil && len(body) > 0 {
		if err := json.Unmarshal(body, out); err != nil {
			return fmt.Errorf("reading Salesforce's answer (HTTP %d): %w", status, err)
		}
	}
	return nil
}

// fail wraps an error that stops the run with what was being done and a
// hint.
func (sf *Salesforce) fail(doing string, err error) error {
	return sf.cfg.Errorf("%w", explain(doing, err))
}

// explain says what was being done, with a hint for the answers a user
// can act on.
func explain(doing string, err error) error {
	var ae *APIError
	if errors.As(err, &ae) {
		switch {
		case ae.Code == "REQUEST_LIMIT_EXCEEDED" && strings.Contains(ae.Message, "Concurrent"):
			return fmt.Errorf("%s: the org has too many long-running requests at once (%w): lower concurrency, or sync when the org is quieter; the next run sends the rest", doing, err)
		case ae.Code == "REQUEST_LIMIT_EXCEEDED":
			return fmt.Errorf("%s: Salesforce refuses more API requests (%w): the org's API request limit is used up; the run stops, and the next run sends the rest once the org's usage over the last 24 hours falls", doing, err)
		case ae.Status == http.StatusUnauthorized:
			return fmt.Errorf("%s: the session was refused (%w): check the connected app's credentials and its OAuth policies", doing, err)
		case ae.Status == http.StatusForbidden:
			return fmt.Errorf("%s: the user lacks a permission (%w): see docs/destinations/salesforce.md for the permissions", doing, err)
		case ae.Status == http.StatusNotFound:
			return fmt.Errorf("%s: not found (%w): check object and api_version", doing, err)
		}
	}
	return fmt.Errorf("%s: %w", doing, err)
}
