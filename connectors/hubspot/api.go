package hubspot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/sluicehq/sluice/connectors/destination"
)

// APIError is one of HubSpot's error documents: a whole answer's, or one
// input's in a 207.
type APIError struct {
	Status      int // HTTP status; 0 for one input of a 207
	Category    string
	SubCategory string
	Message     string
}

func (e *APIError) Error() string {
	var b strings.Builder
	b.WriteString("HubSpot")
	if e.Status != 0 {
		fmt.Fprintf(&b, " answered HTTP %d", e.Status)
	}
	if e.Category != "" {
		b.WriteString(" " + e.Category)
		if e.SubCategory != "" {
			b.WriteString("/" + e.SubCategory)
		}
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	return b.String()
}

// fatal tells an answer that no record of the run can get past: the token
// refused or lacking a scope.
func (e *APIError) fatal() bool {
	return e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden
}

// errorDoc is HubSpot's error document.
type errorDoc struct {
	Status      string `json:"status"`
	Message     string `json:"message"`
	Category    string `json:"category"`
	SubCategory string `json:"subCategory"`
	Context     struct {
		ObjectWriteTraceID []string `json:"objectWriteTraceId"`
		IDs                []string `json:"ids"`
	} `json:"context"`
}

func apiError(status int, body []byte) *APIError {
	var d errorDoc
	if err := json.Unmarshal(body, &d); err != nil || (d.Message == "" && d.Category == "") {
		return &APIError{Status: status, Message: destination.Snippet(body)}
	}
	return &APIError{Status: status, Category: d.Category, SubCategory: d.SubCategory, Message: d.Message}
}

// exchange sends one request (retried on 429 and 5xx by the shared
// client) and returns the status and body of the final answer.
func (h *HubSpot) exchange(ctx context.Context, method, path string, in any) (int, []byte, error) {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return 0, nil, fmt.Errorf("encoding the request to %s: %w", path, err)
		}
	}
	resp, err := h.client.Do(ctx, method, h.base+path, h.header, body)
	if err != nil {
		return 0, nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	b, err := destination.ReadBody(resp, maxAnswer)
	if err != nil {
		return 0, nil, fmt.Errorf("%s %s: reading the answer: %w", method, path, err)
	}
	return resp.StatusCode, b, nil
}

// call is exchange for calls that answer 2xx with JSON, decoded into out
// (nil: ignored); any other answer is an *APIError.
func (h *HubSpot) call(ctx context.Context, method, path string, in, out any) error {
	status, body, err := h.exchange(ctx, method, path, in)
	if err != nil {
		return err
	}
	if status < 200 || status > 299 {
		return apiError(status, body)
	}
	if out != nil && len(body) > 0 {
		if err := json.Unmarshal(body, out); err != nil {
			return fmt.Errorf("%s %s: reading HubSpot's answer: %w", method, path, err)
		}
	}
	return nil
}

// errFatal wraps an error that stops the run, with a hint for refused
// credentials.
func (h *HubSpot) errFatal(doing string, err error) error {
	return h.cfg.Errorf("%w", explain(doing, err))
}

// explain says what was being done, with a hint for refused credentials.
func explain(doing string, err error) error {
	var ae *APIError
	if errors.As(err, &ae) {
		switch ae.Status {
		case http.StatusUnauthorized:
			return fmt.Errorf("%s: the access token was refused (%w): check access_token", doing, err)
		case http.StatusForbidden:
			return fmt.Errorf("%s: the private app lacks a scope (%w): see docs/destinations/hubspot.md for the scopes", doing, err)
		}
	}
	return fmt.Errorf("%s: %w", doing, err)
}
