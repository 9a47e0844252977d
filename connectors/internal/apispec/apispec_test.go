package apispec

import (
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestVendorSpecs(t *testing.T) {
	klaviyo := ForTest(t, "klaviyo-openapi-stable.json")
	brevo := ForTest(t, "brevo-swagger-v3.yaml")
	klaviyoHeaders := map[string]string{
		"Authorization": "Klaviyo-API-Key pk_test", "revision": "2026-07-15",
		"Content-Type": "application/vnd.api+json", "Accept": "application/vnd.api+json",
	}
	brevoHeaders := map[string]string{"api-key": "xkeysib-test", "Content-Type": "application/json"}
	cases := []struct {
		name    string
		spec    *Spec
		method  string
		path    string
		headers map[string]string
		body    string
		wantErr string // "" for a valid request
	}{
		{"klaviyo bulk import", klaviyo, "POST", "/api/profile-bulk-import-jobs", klaviyoHeaders,
			`{"data":{"type":"profile-bulk-import-job","attributes":{"profiles":{"data":[{"type":"profile","attributes":{"email":"a@example.com"}}]}}}}`, ""},
		{"klaviyo bulk import, wrong type", klaviyo, "POST", "/api/profile-bulk-import-jobs", klaviyoHeaders,
			`{"data":{"type":"profile","attributes":{"profiles":{"data":[]}}}}`, "type"},
		{"klaviyo bulk import, no profiles", klaviyo, "POST", "/api/profile-bulk-import-jobs", klaviyoHeaders,
			`{"data":{"type":"profile-bulk-import-job","attributes":{}}}`, "profiles"},
		{"klaviyo without key", klaviyo, "GET", "/api/lists", map[string]string{"revision": "2026-07-15"}, "", "credentials"},
		{"klaviyo unknown path", klaviyo, "GET", "/api/nothing-here", klaviyoHeaders, "", "no such operation"},
		{"brevo list add", brevo, "POST", "/v3/contacts/lists/12/contacts/add", brevoHeaders,
			`{"emails":["a@example.com","b@example.com"]}`, ""},
		{"brevo list add, list id not a number", brevo, "POST", "/v3/contacts/lists/vip/contacts/add", brevoHeaders,
			`{"emails":["a@example.com"]}`, "listId"},
		{"brevo list add, emails not a list", brevo, "POST", "/v3/contacts/lists/12/contacts/add", brevoHeaders,
			`{"emails":"a@example.com"}`, "emails"},
		{"brevo outside base path", brevo, "GET", "/account", brevoHeaders, "", "base path"},
		{"brevo without key", brevo, "GET", "/v3/account", nil, "", "credentials"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var body io.Reader
			if c.body != "" {
				body = strings.NewReader(c.body)
			}
			r := httptest.NewRequest(c.method, c.path, body)
			for k, v := range c.headers {
				r.Header.Set(k, v)
			}
			err := c.spec.ValidateRequest(r)
			switch {
			case c.wantErr == "" && err != nil:
				t.Fatalf("valid request refused: %v", err)
			case c.wantErr != "" && err == nil:
				t.Fatalf("invalid request accepted, want an error about %q", c.wantErr)
			case c.wantErr != "" && !strings.Contains(err.Error(), c.wantErr):
				t.Fatalf("error %q does not mention %q", err, c.wantErr)
			}
			// The body is still there for the handler.
			if c.body != "" {
				got, _ := io.ReadAll(r.Body)
				if string(got) != c.body {
					t.Fatalf("body not restored: %q", got)
				}
			}
		})
	}
}

func TestDir(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "absent")
	t.Setenv(EnvDir, missing)
	if d := Dir(); d != "" {
		t.Fatalf("Dir() = %q for a missing folder, want \"\"", d)
	}
	present := t.TempDir()
	t.Setenv(EnvDir, present)
	if d := Dir(); d != present {
		t.Fatalf("Dir() = %q, want %q", d, present)
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cases := []struct{ name, file, content, want string }{
		{"not a spec", "a.yaml", "title: hello\n", "neither swagger"},
		{"bad yaml", "b.yaml", "openapi: [\n", "reading API spec"},
		{"missing", "", "", "reading API spec"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := filepath.Join(dir, "nope.json")
			if c.file != "" {
				p = write(c.file, c.content)
			}
			_, err := Load(p)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Load error = %v, want it to mention %q", err, c.want)
			}
		})
	}
}
