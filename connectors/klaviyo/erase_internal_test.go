package klaviyo

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/sluicehq/sluice/connectors/internal/apispec"
)

// TestDeletionBodyMatchesSpec checks the deletion request against
// Klaviyo's API description (request_profile_deletion), and its exact
// shape: one identifier, where the description puts it.
func TestDeletionBodyMatchesSpec(t *testing.T) {
	spec := apispec.ForTest(t, "klaviyo-openapi-stable.json")
	validate := func(t *testing.T, body []byte) error {
		t.Helper()
		r, err := http.NewRequest(http.MethodPost, "https://a.klaviyo.com/api/data-privacy-deletion-jobs", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		r.Header.Set("Content-Type", contentType)
		r.Header.Set("Authorization", "Klaviyo-API-Key pk_test")
		r.Header.Set("revision", DefaultRevision)
		return spec.ValidateRequest(r)
	}
	for _, tc := range []struct {
		by, value string
		want      string // the profile resource object, as JSON
	}{
		{"email", "ann@example.com", `{"type":"profile","attributes":{"email":"ann@example.com"}}`},
		{"email", `o"brien\x@example.com`, `{"type":"profile","attributes":{"email":"o\"brien\\x@example.com"}}`},
		{"phone_number", "+33612345678", `{"type":"profile","attributes":{"phone_number":"+33612345678"}}`},
		{"id", "01GDDKASAP8TKDDA2GRZDSVP4H", `{"type":"profile","id":"01GDDKASAP8TKDDA2GRZDSVP4H","attributes":{}}`},
		{"id", "<é&>", `{"type":"profile","id":"\u003cé\u0026\u003e","attributes":{}}`},
	} {
		t.Run(tc.by+" "+tc.value, func(t *testing.T) {
			body := deletionBody(tc.by, tc.value)
			if err := validate(t, body); err != nil {
				t.Fatalf("%s: %v", body, err)
			}
			var doc struct {
				Data struct {
					Type       string `json:"type"`
					Attributes struct {
						Profile struct {
							Data json.RawMessage `json:"data"`
						} `json:"profile"`
					} `json:"attributes"`
				} `json:"data"`
			}
			if err := json.Unmarshal(body, &doc); err != nil {
				t.Fatalf("%s: %v", body, err)
			}
			if doc.Data.Type != "data-privacy-deletion-job" || string(doc.Data.Attributes.Profile.Data) != tc.want {
				t.Errorf("body %s\nwant type data-privacy-deletion-job and profile data %s", body, tc.want)
			}
		})
	}
	// The check can fail: a body Klaviyo's description does not allow.
	bad := bytes.Replace(deletionBody("email", "ann@example.com"), []byte("data-privacy-deletion-job"), []byte("profile-deletion-job"), 1)
	if err := validate(t, bad); err == nil {
		t.Errorf("validator accepted a body of the wrong type: %s", bad)
	}
}

func TestRedact(t *testing.T) {
	for _, tc := range []struct {
		msg    string
		values []string
		want   string
	}{
		{"HTTP 400 invalid: Invalid email Ann@Example.com", []string{"ann@example.com"}, "HTTP 400 invalid: Invalid email [key]"},
		{"HTTP 400 invalid: bad +33612345678, +33612345678", []string{"+33612345678"}, "HTTP 400 invalid: bad [key], [key]"},
		{"HTTP 400 invalid: Invalid email", []string{"ann@example.com"}, "HTTP 400 invalid: Invalid email"},
		{"id a.b", []string{"a.b"}, "id [key]"},
		{"id axb", []string{"a.b"}, "id axb"}, // the value is not a pattern
		{"anything", []string{""}, "anything"},
		{`bad filter any(external_id,["c-1","c-10"])`, []string{"c-1", "c-10", "c-2"}, `bad filter any(external_id,["[key]","[key]"])`},
	} {
		got := redactAll(errors.New(tc.msg), tc.values).Error()
		if got != tc.want {
			t.Errorf("redactAll(%q, %q) = %q, want %q", tc.msg, tc.values, got, tc.want)
		}
	}
	// Nothing to mask: the error still wraps its cause.
	cause := errors.New("connection reset")
	if err := redact(fmt.Errorf("posting: %w", cause), "ann@example.com"); !errors.Is(err, cause) {
		t.Errorf("redact lost the cause of %v", err)
	}
}
