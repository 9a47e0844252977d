// Package apispec checks HTTP requests against a vendor's published API
// description (OpenAPI 3, or Swagger 2 converted to OpenAPI 3), so that the
// fake servers standing in for Klaviyo, Brevo and the like refuse exactly
// what the real service would refuse for its shape. The vendors' files are
// reference data kept outside the project (../shared/specs); tests find them
// with Dir or ForTest and skip when they are absent.
package apispec

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"

	"github.com/getkin/kin-openapi/openapi2"
	"github.com/getkin/kin-openapi/openapi2conv"
	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
	"gopkg.in/yaml.v3"
)

// EnvDir names the environment variable that overrides where the vendor
// specs are looked for.
const EnvDir = "SLUICE_SPECS_DIR"

// Dir returns the folder holding the vendor specs: $SLUICE_SPECS_DIR, else
// ../shared/specs beside the module root (found by walking up from the
// working directory to go.mod). It returns "" when the folder does not
// exist.
func Dir() string {
	if d := os.Getenv(EnvDir); d != "" {
		if isDir(d) {
			return d
		}
		return ""
	}
	wd, err := os.Getwd()
	if err != nil {
		return ""
	}
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			specs := filepath.Join(filepath.Dir(d), "shared", "specs")
			if isDir(specs) {
				return specs
			}
			return ""
		}
		if filepath.Dir(d) == d {
			return ""
		}
	}
}

func isDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

// TB is the part of testing.TB ForTest uses; an interface of its own keeps
// package testing out of the binaries that embed the fakes (sluice sandbox).
type TB interface {
	Helper()
	Skipf(format string, args ...any)
	Fatalf(format string, args ...any)
}

// ForTest loads the named spec file from Dir, or skips the test when the
// specs folder or the file is absent. A file that exists but does not load
// fails the test.
func ForTest(t TB, name string) *Spec {
	t.Helper()
	dir := Dir()
	if dir == "" {
		t.Skipf("vendor specs folder not found (../shared/specs or $%s): skipping checks against %s", EnvDir, name)
	}
	path := filepath.Join(dir, name)
	if _, err := os.Stat(path); err != nil {
		t.Skipf("vendor spec %s not found: %v", path, err)
	}
	cacheMu.Lock()
	defer cacheMu.Unlock()
	if s, ok := cache[path]; ok {
		return s
	}
	s, err := Load(path)
	if err != nil {
		t.Fatalf("loading vendor spec: %v", err)
	}
	cache[path] = s
	return s
}

// Specs take about half a second to index; a test binary loads each once.
// A Spec is safe for concurrent use.
var (
	cacheMu sync.Mutex
	cache   = map[string]*Spec{}
)

// Spec is a loaded API description ready to check requests.
type Spec struct {
	doc      *openapi3.T
	router   routers.Router
	basePath string // path prefix of the servers, e.g. /v3
	title    string
}

// Load reads an OpenAPI 3 document (JSON or YAML) or a Swagger 2 document,
// which is converted to OpenAPI 3.
func Load(path string) (*Spec, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading API spec: %w", err)
	}
	var head struct {
		Swagger string `yaml:"swagger"`
		OpenAPI string `yaml:"openapi"`
	}
	// JSON is YAML: one decoder tells the version of either.
	if err := yaml.Unmarshal(raw, &head); err != nil {
		return nil, fmt.Errorf("reading API spec %s: %w", path, err)
	}
	var doc *openapi3.T
	switch {
	case strings.HasPrefix(head.Swagger, "2"):
		var v2 openapi2.T
		if err := unmarshalAny(raw, &v2); err != nil {
			return nil, fmt.Errorf("reading Swagger 2 spec %s: %w", path, err)
		}
		dropBrokenResponseRefs(&v2)
		doc, err = openapi2conv.ToV3(&v2)
		if err != nil {
			return nil, fmt.Errorf("converting Swagger 2 spec %s to OpenAPI 3: %w", path, err)
		}
	case strings.HasPrefix(head.OpenAPI, "3"):
		loader := openapi3.NewLoader()
		doc, err = loader.LoadFromData(raw)
		if err != nil {
			return nil, fmt.Errorf("reading OpenAPI spec %s: %w", path, err)
		}
	default:
		return nil, fmt.Errorf("reading API spec %s: neither swagger: 2.x nor openapi: 3.x", path)
	}
	return fromDoc(doc)
}

// unmarshalAny decodes JSON or YAML into a kin-openapi type, which only
// knows JSON: YAML is converted first.
func unmarshalAny(raw []byte, v any) error {
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) > 0 && trimmed[0] == '{' {
		return jsonUnmarshal(trimmed, v)
	}
	var tree any
	if err := yaml.Unmarshal(raw, &tree); err != nil {
		return err
	}
	j, err := toJSON(tree)
	if err != nil {
		return err
	}
	return jsonUnmarshal(j, v)
}

// dropBrokenResponseRefs removes responses written as a $ref to a schema
// definition instead of a response (Brevo's file has one), which the
// conversion refuses; only requests are checked, so nothing is lost.
func dropBrokenResponseRefs(v2 *openapi2.T) {
	for _, item := range v2.Paths {
		for _, op := range item.Operations() {
			if op == nil || op.Responses == nil {
				continue
			}
			for code, resp := range op.Responses.Map() {
				if resp != nil && strings.HasPrefix(resp.Ref, "#/definitions/") {
					op.Responses.Delete(code)
				}
			}
		}
	}
}

func fromDoc(doc *openapi3.T) (*Spec, error) {
	s := &Spec{doc: doc}
	if doc.Info != nil {
		s.title = doc.Info.Title
	}
	// Requests reach a fake on loopback, not the vendor's host: route on
	// the path alone, after the servers' common base path.
	for _, srv := range doc.Servers {
		if u, err := url.Parse(srv.URL); err == nil && u.Path != "" && u.Path != "/" {
			s.basePath = strings.TrimSuffix(u.Path, "/")
			break
		}
	}
	doc.Servers = nil
	dropConflictingPaths(doc)
	// Vendor files carry examples and formats that do not always match
	// their own schemas; those are documentation, not request rules.
	r, err := legacy.NewRouter(doc,
		openapi3.DisableExamplesValidation(),
		openapi3.DisableSchemaDefaultsValidation(),
		openapi3.DisableSchemaPatternValidation(),
		openapi3.DisableSchemaFormatValidation(),
		openapi3.AllowExtraSiblingFields("description", "example", "examples", "deprecated", "readOnly", "nullable"),
	)
	if err != nil {
		return nil, fmt.Errorf("indexing API spec %q: %w", s.title, err)
	}
	s.router = r
	return s, nil
}

// dropConflictingPaths keeps one of paths that differ only in parameter
// names (Brevo's has /smtp/emailStatus/{messageId} and .../{batchId}):
// they match the same requests, and the router refuses the ambiguity.
func dropConflictingPaths(doc *openapi3.T) {
	paths := doc.Paths.InMatchingOrder()
	seen := map[string]bool{}
	for _, p := range paths {
		shape := paramName.ReplaceAllString(p, "{}")
		if seen[shape] {
			doc.Paths.Delete(p)
			continue
		}
		seen[shape] = true
	}
}

var paramName = regexp.MustCompile(`\{[^}]*\}`)

// BasePath is the path prefix of the API's servers (e.g. /v3), or "".
func (s *Spec) BasePath() string { return s.basePath }

// ValidateRequest checks a request's method and path against the spec's
// operations, its path and query parameters, the presence of the
// credentials one of its security schemes asks for, and its JSON body
// against the operation's schema. It reads r.Body and puts it back.
func (s *Spec) ValidateRequest(r *http.Request) error {
	var body []byte
	if r.Body != nil {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			return fmt.Errorf("reading request body: %w", err)
		}
		r.Body.Close()
		body = b
		r.Body = io.NopCloser(bytes.NewReader(body))
	}
	// Route a copy whose path has the base path taken off.
	rr := r.Clone(r.Context())
	rr.Body = io.NopCloser(bytes.NewReader(body))
	u := *r.URL
	if s.basePath != "" {
		if !strings.HasPrefix(u.Path, s.basePath+"/") {
			return fmt.Errorf("%s %s: not under the API's base path %s", r.Method, r.URL.Path, s.basePath)
		}
		u.Path = strings.TrimPrefix(u.Path, s.basePath)
		u.RawPath = ""
	}
	rr.URL = &u
	route, params, err := s.router.FindRoute(rr)
	if err != nil {
		return fmt.Errorf("%s %s: no such operation in %s: %w", r.Method, r.URL.Path, s.title, err)
	}
	in := &openapi3filter.RequestValidationInput{
		Request:    rr,
		PathParams: params,
		Route:      route,
		Options: &openapi3filter.Options{
			MultiError:         true,
			AuthenticationFunc: credentialsPresent,
			// The vendor decides about formats (e-mail, date-time); the
			// fakes check the ones that matter themselves.
			SkipSettingDefaults: true,
		},
	}
	if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
		return fmt.Errorf("%s %s (%s): %w", r.Method, r.URL.Path, route.Operation.OperationID, flatten(err))
	}
	return nil
}

// credentialsPresent accepts a security scheme when the request carries
// what it names (an API key header, query parameter or cookie, or an
// Authorization header for http schemes); checking the value is the fake's
// job, as the vendor's answer to a wrong key is a 401 of its own shape.
func credentialsPresent(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	sch := in.SecurityScheme
	req := in.RequestValidationInput.Request
	switch sch.Type {
	case "apiKey":
		switch sch.In {
		case "header":
			if req.Header.Get(sch.Name) != "" {
				return nil
			}
		case "query":
			if req.URL.Query().Get(sch.Name) != "" {
				return nil
			}
		case "cookie":
			if _, err := req.Cookie(sch.Name); err == nil {
				return nil
			}
		}
		return fmt.Errorf("missing %s %s credentials", sch.In, sch.Name)
	case "http", "oauth2", "openIdConnect":
		if req.Header.Get("Authorization") != "" {
			return nil
		}
		return errors.New("missing Authorization header")
	}
	return fmt.Errorf("unsupported security scheme type %q", sch.Type)
}

// flatten keeps a multi-error readable on one line per problem.
func flatten(err error) error {
	var me openapi3.MultiError
	if errors.As(err, &me) {
		msgs := make([]string, 0, len(me))
		for _, e := range me {
			msgs = append(msgs, e.Error())
		}
		return errors.New(strings.Join(msgs, "; "))
	}
	return err
}
