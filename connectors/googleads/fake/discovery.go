package fake

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// apiModule is the Go module whose datamanager/v1 folder ships Google's
// discovery document of the Data Manager API, next to the generated client.
const apiModule = "google.golang.org/api"

// discoveryFile is the document's path inside that module.
const discoveryFile = "datamanager/v1/datamanager-api.json"

// EnvDiscovery names the environment variable that points at the discovery
// document, overriding the search in the module cache.
const EnvDiscovery = "SLUICE_DATAMANAGER_DISCOVERY"

// Discovery is Google's description of the Data Manager API (a discovery
// document): the fake checks every request against it, as Google's
// front end does, so that a field the API does not have, a value of the
// wrong type or an enum value it does not know is refused.
type Discovery struct {
	Revision string
	params   map[string]docSchema // parameters every method takes
	schemas  map[string]docSchema
	methods  []docMethod
}

type docMethod struct {
	ID         string               `json:"id"`
	HTTPMethod string               `json:"httpMethod"`
	Path       string               `json:"path"`
	FlatPath   string               `json:"flatPath"` // {+name} paths spelled out segment by segment
	Parameters map[string]docSchema `json:"parameters"`
	Request    *docSchema           `json:"request"`
}

// docSchema is a schema or a property of one, in the discovery format.
type docSchema struct {
	ID                   string               `json:"id"`
	Type                 string               `json:"type"`
	Format               string               `json:"format"`
	Ref                  string               `json:"$ref"`
	Enum                 []string             `json:"enum"`
	Items                *docSchema           `json:"items"`
	Properties           map[string]docSchema `json:"properties"`
	AdditionalProperties *docSchema           `json:"additionalProperties"`
	Location             string               `json:"location"`
	Repeated             bool                 `json:"repeated"`
}

// LoadDiscovery reads a discovery document.
func LoadDiscovery(path string) (*Discovery, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the Data Manager API's discovery document: %w", err)
	}
	var doc struct {
		Revision   string               `json:"revision"`
		Parameters map[string]docSchema `json:"parameters"`
		Schemas    map[string]docSchema `json:"schemas"`
		Resources  map[string]docResource
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("parsing %s: %w", path, err)
	}
	if len(doc.Schemas) == 0 {
		return nil, fmt.Errorf("%s holds no schemas: not a discovery document", path)
	}
	d := &Discovery{Revision: doc.Revision, params: doc.Parameters, schemas: doc.Schemas}
	var walk func(map[string]docResource)
	walk = func(rs map[string]docResource) {
		for _, r := range rs {
			for _, m := range r.Methods {
				d.methods = append(d.methods, m)
			}
			walk(r.Resources)
		}
	}
	walk(doc.Resources)
	return d, nil
}

type docResource struct {
	Methods   map[string]docMethod   `json:"methods"`
	Resources map[string]docResource `json:"resources"`
}

// FindDiscovery locates the discovery document: $SLUICE_DATAMANAGER_DISCOVERY,
// else the google.golang.org/api module this program was built with, in
// the module cache, else the one `go list` names for the current module.
// It returns "" when none is found.
func FindDiscovery() string {
	if p := os.Getenv(EnvDiscovery); p != "" {
		return p
	}
	version := builtVersion()
	// Cheap places first; asking the go command costs a process.
	for _, caches := range [][]string{cheapCaches(), goEnvCache()} {
		for _, cache := range caches {
			if version == "" {
				continue
			}
			if p := inModule(filepath.Join(cache, apiModule+"@"+version)); p != "" {
				return p
			}
		}
	}
	if dir, err := goCmd("list", "-m", "-f", "{{.Dir}}", apiModule); err == nil && dir != "" {
		return inModule(dir)
	}
	return ""
}

var (
	defaultOnce sync.Once
	defaultDisc *Discovery
)

// defaultDiscovery loads the document FindDiscovery finds, once per
// process (it does not change); nil when there is none.
func defaultDiscovery() *Discovery {
	defaultOnce.Do(func() {
		if p := FindDiscovery(); p != "" {
			defaultDisc, _ = LoadDiscovery(p) // unreadable: requests go unchecked
		}
	})
	return defaultDisc
}

func inModule(dir string) string {
	p := filepath.Join(dir, filepath.FromSlash(discoveryFile))
	if _, err := os.Stat(p); err != nil {
		return ""
	}
	return p
}

// builtVersion is the version of google.golang.org/api this program was
// built with ("" when unknown).
func builtVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	for _, dep := range bi.Deps {
		if dep.Path == apiModule {
			if dep.Replace != nil {
				return dep.Replace.Version
			}
			return dep.Version
		}
	}
	return ""
}

func cheapCaches() []string {
	var out []string
	if c := os.Getenv("GOMODCACHE"); c != "" {
		out = append(out, c)
	}
	if gp := os.Getenv("GOPATH"); gp != "" {
		out = append(out, filepath.Join(filepath.SplitList(gp)[0], "pkg", "mod"))
	}
	if home, err := os.UserHomeDir(); err == nil {
		out = append(out, filepath.Join(home, "go", "pkg", "mod"))
	}
	return out
}

func goEnvCache() []string {
	if c, err := goCmd("env", "GOMODCACHE"); err == nil && c != "" {
		return []string{c}
	}
	return nil
}

func goCmd(args ...string) (string, error) {
	cmd := exec.Command("go", args...)
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod")
	done := make(chan struct{})
	var out []byte
	var err error
	go func() { out, err = cmd.Output(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		return "", errors.New("go " + strings.Join(args, " ") + " took too long")
	}
	return strings.TrimSpace(string(out)), err
}

// method finds the method of a request by its HTTP method and path (with
// the leading slash).
func (d *Discovery) method(httpMethod, path string) (*docMethod, bool) {
	path = strings.TrimPrefix(path, "/")
	for i := range d.methods {
		m := &d.methods[i]
		tpl := m.FlatPath
		if tpl == "" {
			tpl = m.Path
		}
		if m.HTTPMethod == httpMethod && pathMatches(tpl, path) {
			return m, true
		}
	}
	return nil, false
}

// pathMatches compares a path with a discovery path template (a flat
// path), in which {name} takes one segment.
func pathMatches(tpl, path string) bool {
	ts, ps := strings.Split(tpl, "/"), strings.Split(path, "/")
	if len(ts) != len(ps) {
		return false
	}
	for i := range ts {
		if strings.HasPrefix(ts[i], "{") {
			if ps[i] == "" {
				return false
			}
			continue
		}
		if ts[i] != ps[i] {
			return false
		}
	}
	return true
}

// CheckQuery reports query parameters the method does not take.
func (d *Discovery) checkQuery(m *docMethod, query map[string][]string) []string {
	var bad []string
	for name, vals := range query {
		p, ok := m.Parameters[name]
		if !ok {
			p, ok = d.params[name]
		}
		if !ok {
			bad = append(bad, fmt.Sprintf("Invalid JSON payload received. Unknown name %q: Cannot bind query parameter.", name))
			continue
		}
		for _, v := range vals {
			if len(p.Enum) > 0 && !slices.Contains(p.Enum, v) {
				bad = append(bad, fmt.Sprintf("Invalid value at '%s' (%s), %q", name, p.Type, v))
			}
		}
	}
	slices.Sort(bad)
	return bad
}

// CheckBody validates a request body against the method's request schema:
// every field known, of the right JSON type, enum values among those
// listed. It returns Google's wording for each problem, at most 20.
func (d *Discovery) checkBody(m *docMethod, body []byte) []string {
	if m.Request == nil {
		if len(bytes.TrimSpace(body)) > 0 {
			return []string{"this method takes no request body"}
		}
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return []string{"Invalid JSON payload received. " + err.Error()}
	}
	if dec.More() {
		return []string{"Invalid JSON payload received. Unexpected data after the JSON value."}
	}
	var probs []string
	d.check(*m.Request, v, "", &probs)
	return probs
}

func (d *Discovery) check(s docSchema, v any, at string, probs *[]string) {
	if len(*probs) >= 20 {
		return
	}
	add := func(format string, args ...any) { *probs = append(*probs, fmt.Sprintf(format, args...)) }
	if s.Ref != "" {
		ref, ok := d.schemas[s.Ref]
		if !ok {
			add("schema %s is missing from the discovery document", s.Ref)
			return
		}
		s = ref
	}
	if v == nil {
		return // JSON null: the field is unset
	}
	where := at
	if where == "" {
		where = "(root)"
	}
	switch s.Type {
	case "object", "":
		obj, ok := v.(map[string]any)
		if !ok {
			add("Invalid value at '%s' (type.googleapis.com/%s), %s", where, s.ID, describe(v))
			return
		}
		for _, k := range sortedKeys(obj) {
			ps, ok := s.Properties[k]
			if !ok {
				// Google's JSON parser also takes the proto's own
				// snake_case names.
				ps, ok = s.Properties[camel(k)]
			}
			switch {
			case ok:
				d.check(ps, obj[k], join(at, k), probs)
			case s.AdditionalProperties != nil:
				d.check(*s.AdditionalProperties, obj[k], join(at, k), probs)
			default:
				add("Invalid JSON payload received. Unknown name %q at '%s': Cannot find field.", k, where)
			}
		}
	case "array":
		arr, ok := v.([]any)
		if !ok {
			add("Invalid value at '%s', %s: expected a list", where, describe(v))
			return
		}
		for i, e := range arr {
			if s.Items != nil {
				d.check(*s.Items, e, fmt.Sprintf("%s[%d]", at, i), probs)
			}
		}
	case "string":
		checkString(s, v, where, add)
	case "boolean":
		if _, ok := v.(bool); !ok {
			add("Invalid value at '%s' (TYPE_BOOL), %s", where, describe(v))
		}
	case "integer", "number":
		n, ok := v.(json.Number)
		if !ok {
			add("Invalid value at '%s' (TYPE_%s), %s", where, strings.ToUpper(s.Format), describe(v))
			return
		}
		if s.Type == "integer" {
			if _, err := strconv.ParseInt(n.String(), 10, 32); err != nil {
				add("Invalid value at '%s' (TYPE_INT32), %s", where, n)
			}
		}
	case "any":
	default:
		add("schema type %q at '%s' is not understood", s.Type, where)
	}
}

// checkString checks a string field, int64 values included (which JSON
// carries as strings, though Google also takes numbers).
func checkString(s docSchema, v any, where string, add func(string, ...any)) {
	if s.Format == "int64" || s.Format == "uint64" {
		var txt string
		switch x := v.(type) {
		case string:
			txt = x
		case json.Number:
			txt = x.String()
		default:
			add("Invalid value at '%s' (TYPE_INT64), %s", where, describe(v))
			return
		}
		if _, err := strconv.ParseInt(txt, 10, 64); err != nil {
			add("Invalid value at '%s' (TYPE_INT64), %q", where, txt)
		}
		return
	}
	str, ok := v.(string)
	if !ok {
		add("Invalid value at '%s' (TYPE_STRING), %s", where, describe(v))
		return
	}
	if len(s.Enum) > 0 && !slices.Contains(s.Enum, str) {
		add("Invalid value at '%s' (enum), %q", where, str)
	}
}

// camel turns a snake_case proto field name into its JSON name.
func camel(k string) string {
	parts := strings.Split(k, "_")
	for i := 1; i < len(parts); i++ {
		if parts[i] != "" {
			parts[i] = strings.ToUpper(parts[i][:1]) + parts[i][1:]
		}
	}
	return strings.Join(parts, "")
}

func join(at, k string) string {
	if at == "" {
		return k
	}
	return at + "." + k
}

func describe(v any) string {
	switch x := v.(type) {
	case string:
		return "a string"
	case json.Number:
		return "the number " + x.String()
	case bool:
		return "a boolean"
	case []any:
		return "a list"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
