package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/oauth2/google"

	"github.com/sluicehq/sluice/examples/examplestest"
)

func TestSandboxRefusesBadArguments(t *testing.T) {
	cases := []struct {
		name string
		args []string
		want []string // in stderr
	}{
		{"no vendor", nil, []string{"takes one or more vendors: brevo, google_ads, hubspot, klaviyo, meta, salesforce, webhook"}},
		{"unknown vendor", []string{"hubspt"}, []string{`unknown vendor "hubspt": the sandbox serves brevo, google_ads, hubspot, klaviyo, meta, salesforce, webhook`}},
		{"vendor twice", []string{"klaviyo", "klaviyo"}, []string{"klaviyo given twice"}},
		{"all interfaces", []string{"klaviyo", "--listen", "0.0.0.0:0"}, []string{"loopback only", `not "0.0.0.0"`}},
		{"LAN address", []string{"brevo", "--listen", "brevo=192.168.1.10:8788"}, []string{"loopback only"}},
		{"host name", []string{"webhook", "--listen", "example.com:80"}, []string{"loopback only"}},
		{"no port", []string{"klaviyo", "--listen", "127.0.0.1"}, []string{"not HOST:PORT"}},
		{"bad port", []string{"klaviyo", "--listen", "127.0.0.1:99999"}, []string{"0 to 65535"}},
		{"one port for two", []string{"klaviyo", "brevo", "--listen", "127.0.0.1:8789"}, []string{"klaviyo and brevo would share port 8789"}},
		{"spec for a vendor without", []string{"brevo", "--spec", "spec.json"}, []string{"none of the vendors served (brevo) takes it"}},
		{"spec named for a vendor without", []string{"brevo", "klaviyo", "--spec", "brevo=spec.json"}, []string{"brevo's fake does not take it"}},
		{"key for a vendor not served", []string{"klaviyo", "--key", "brevo=k"}, []string{"brevo is not among the vendors served (klaviyo)"}},
		{"key for an unknown vendor", []string{"klaviyo", "--key", "klavio=k"}, []string{`unknown vendor "klavio"`, "brevo, google_ads, hubspot, klaviyo, meta, salesforce, webhook"}},
		{"empty key", []string{"klaviyo", "--key", "klaviyo="}, []string{"the key for klaviyo is empty"}},
		{"key for Google's fake", []string{"google_ads", "meta", "--key", "google_ads=k"}, []string{"google_ads's fake does not take it"}},
		{"bare key for Google's fake alone", []string{"google_ads", "--key", "k"}, []string{"none of the vendors served (google_ads) takes it"}},
		{"key twice", []string{"klaviyo", "--key", "klaviyo=a", "--key", "klaviyo=b"}, []string{"--key given twice for klaviyo"}},
		{"unknown batch answer", []string{"brevo", "--brevo-batch-answer", "sometimes"}, []string{"--brevo-batch-answer", "observed, documented"}},
		{"batch answer without brevo", []string{"klaviyo", "--brevo-batch-answer", "documented"}, []string{"brevo is not among the vendors served (klaviyo)"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := sluice(t, append([]string{"sandbox"}, tc.args...)...)
			if code != exitUsage || stdout != "" {
				t.Fatalf("exit %d, stdout %q, want exit %d and nothing on stdout\n%s", code, stdout, exitUsage, stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr)
				}
			}
		})
	}
}

// runningSandbox is `sluice sandbox` run in-process.
type runningSandbox struct {
	exports []string          // the lines printed on stdout
	env     map[string]string // the variables they export
	stderr  *lockedBuffer
	cancel  context.CancelFunc
	code    chan int
}

// startSandboxCmd runs the sandbox until the test ends (or stop) and
// returns once it printed its export lines, one per vendor.
func startSandboxCmd(t *testing.T, vendors int, args ...string) *runningSandbox {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	s := &runningSandbox{env: map[string]string{}, stderr: &lockedBuffer{}, cancel: cancel, code: make(chan int, 1)}
	go func() {
		code := run(ctx, append([]string{"sandbox"}, args...), pw, s.stderr)
		pw.Close()
		s.code <- code
	}()
	t.Cleanup(func() { s.stop() })
	sc := bufio.NewScanner(pr)
	for len(s.exports) < vendors && sc.Scan() {
		s.exports = append(s.exports, sc.Text())
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	if len(s.exports) < vendors {
		t.Fatalf("sandbox printed %d export lines, want %d; exit %d\n%s", len(s.exports), vendors, s.stop(), s.stderr)
	}
	for _, line := range s.exports {
		words, err := shellWords(line)
		if err != nil || len(words) < 2 || words[0] != "export" {
			t.Fatalf("not an export line: %q (%v)", line, err)
		}
		for _, w := range words[1:] {
			k, v, ok := strings.Cut(w, "=")
			if !ok {
				t.Fatalf("not NAME=VALUE in %q", line)
			}
			s.env[k] = v
		}
	}
	return s
}

// shellWords splits a line as sh does for the quoting shellQuote writes:
// bare words, single-quoted parts, and backslash escapes ('\” for a
// quote).
func shellWords(line string) ([]string, error) {
	var words []string
	var w strings.Builder
	inWord, quoted, escaped := false, false, false
	for _, r := range line {
		switch {
		case escaped:
			w.WriteRune(r)
			escaped = false
		case quoted && r == '\'':
			quoted = false
		case quoted:
			w.WriteRune(r)
		case r == '\\':
			escaped, inWord = true, true
		case r == '\'':
			quoted, inWord = true, true
		case r == ' ' || r == '\t':
			if inWord {
				words = append(words, w.String())
				w.Reset()
			}
			inWord = false
		default:
			w.WriteRune(r)
			inWord = true
		}
	}
	if quoted || escaped {
		return nil, errors.New("unterminated quote or escape")
	}
	if inWord {
		words = append(words, w.String())
	}
	return words, nil
}

// stop ends the sandbox as SIGINT would and returns its exit code.
func (s *runningSandbox) stop() int {
	s.cancel()
	code := <-s.code
	s.code <- code
	return code
}

func (s *runningSandbox) setenv(t *testing.T) {
	for k, v := range s.env {
		t.Setenv(k, v)
	}
}

// klaviyoSpec is Klaviyo's OpenAPI file when the vendor specs are at hand
// ($SLUICE_SPECS_DIR, or ../shared/specs beside the repository), else "".
func klaviyoSpec() string {
	dir := os.Getenv("SLUICE_SPECS_DIR")
	if dir == "" {
		dir = filepath.Join("..", "..", "..", "shared", "specs")
	}
	p := filepath.Join(dir, "klaviyo-openapi-stable.json")
	if _, err := os.Stat(p); err != nil {
		return ""
	}
	return p
}

// TestSandboxQuickstart is the quickstart's sync step: with the sandbox
// serving every vendor the quickstart names, sync exits 0 having delivered
// each sync, the fakes hold what the plan said, and a second sync sends
// nothing.
func TestSandboxQuickstart(t *testing.T) {
	dir := copyWholeQuickstart(t)
	envFile := filepath.Join(dir, ".sluice", "sandbox.env")
	args := []string{"klaviyo", "brevo", "hubspot", "salesforce", "meta", "google_ads", "--env-file", envFile, "--quiet"}
	if spec := klaviyoSpec(); spec != "" {
		args = append(args, "--spec", "klaviyo="+spec)
	} else {
		t.Log("Klaviyo's OpenAPI file not found: requests are not checked against it")
	}
	sb := startSandboxCmd(t, 6, args...)
	checkEnvFile(t, envFile, sb.exports)
	for _, name := range []string{"KLAVIYO_API_KEY", "KLAVIYO_BASE_URL", "BREVO_API_KEY", "BREVO_BASE_URL", "HUBSPOT_ACCESS_TOKEN", "HUBSPOT_BASE_URL",
		"SALESFORCE_CLIENT_ID", "SALESFORCE_CLIENT_SECRET", "SALESFORCE_LOGIN_URL", "META_TOKEN", "META_URL", "GOOGLE_ADS_CREDENTIALS", "GOOGLE_ADS_BASE_URL"} {
		if sb.env[name] == "" {
			t.Fatalf("the sandbox does not export %s: %q", name, sb.exports)
		}
	}
	if !strings.HasSuffix(sb.env["BREVO_BASE_URL"], "/v3") || !strings.HasPrefix(sb.env["KLAVIYO_API_KEY"], "pk_") {
		t.Errorf("exports not shaped like the vendors': %q", sb.exports)
	}
	sb.setenv(t)

	if code, out, errs := sluice(t, "build", "--project", dir); code != 0 {
		t.Fatalf("build: exit %d\n%s%s", code, out, errs)
	}
	planned := map[string]int64{}
	for _, s := range planJSON(t, dir).Syncs {
		planned[s.Name] = s.Adds
	}
	code, out, errs := sluice(t, "sync", "--project", dir)
	if code != 0 {
		t.Fatalf("sync: exit %d\n%s%s", code, out, errs)
	}
	for _, name := range []string{"vip_to_klaviyo", "profiles_to_klaviyo", "sms_to_brevo", "vip_to_hubspot", "profiles_to_hubspot", "vip_to_salesforce", "profiles_to_salesforce",
		"vip_to_meta", "lapsed_to_meta", "vip_to_google", "lapsed_to_google"} {
		if !strings.Contains(out, name) || planned[name] == 0 {
			t.Errorf("sync %s: planned %d, output:\n%s", name, planned[name], out)
		}
	}
	if got := klaviyoListMembers(t, sb.env["KLAVIYO_BASE_URL"], "VIP customers"); got != planned["vip_to_klaviyo"] {
		t.Errorf("Klaviyo's VIP list has %d members, the plan added %d", got, planned["vip_to_klaviyo"])
	}
	if got := brevoListMembers(t, sb.env["BREVO_BASE_URL"], sb.env["BREVO_API_KEY"], "SMS audience"); got != planned["sms_to_brevo"] {
		t.Errorf("Brevo's SMS audience has %d members, the plan added %d", got, planned["sms_to_brevo"])
	}
	if got := hubspotListMembers(t, sb.env["HUBSPOT_BASE_URL"], "VIP customers"); got != planned["vip_to_hubspot"] {
		t.Errorf("HubSpot's VIP list has %d members, the plan added %d", got, planned["vip_to_hubspot"])
	}
	if got := salesforceRecords(t, sb.env["SALESFORCE_LOGIN_URL"], "CampaignMember"); got != planned["vip_to_salesforce"] {
		t.Errorf("Salesforce's VIP campaign has %d members, the plan added %d", got, planned["vip_to_salesforce"])
	}
	checkAdAudiences(t, sb.env, planned)

	code, out, errs = sluice(t, "sync", "--project", dir)
	if code != 0 || strings.Count(out, "up to date") != len(planned) {
		t.Fatalf("second sync: exit %d, want every one of %d syncs up to date\n%s%s", code, len(planned), out, errs)
	}
	if code := sb.stop(); code != 0 {
		t.Fatalf("sandbox: exit %d\n%s", code, sb.stderr)
	}
	for _, want := range []string{`sandbox klaviyo: `, `"VIP customers" `, ", 0 failed, 0 spec violations", "sandbox brevo: ", "sandbox hubspot: ", "0 GDPR deletions",
		"sandbox salesforce: ", `campaigns: ["VIP customers" `, "0 rule violations",
		"sandbox meta: ", `audiences: ["Lapsed customers" `, "sandbox google_ads: ", "lists: [555000111 ", ", 0 violations\n"} {
		if !strings.Contains(sb.stderr.String(), want) {
			t.Errorf("the sandbox's summary lacks %q:\n%s", want, sb.stderr)
		}
	}
	if _, err := os.Stat(envFile); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the env file outlives the sandbox: %v", err)
	}
}

// checkAdAudiences checks that the fake Meta's audiences and the fake
// Google's Customer Match lists hold the members the plan added, read
// from their inspection pages.
func checkAdAudiences(t *testing.T, env map[string]string, planned map[string]int64) {
	t.Helper()
	var meta struct {
		Audiences []struct {
			Name    string
			Members int64
		}
	}
	getJSON(t, env["META_URL"]+"/_fake/state", nil, &meta)
	var google struct{ Lists map[string]int64 }
	getJSON(t, env["GOOGLE_ADS_BASE_URL"]+"/_fake/state", nil, &google)
	got := map[string]int64{}
	for _, a := range meta.Audiences {
		got[a.Name] = a.Members
	}
	for _, c := range []struct {
		sync string
		held int64
	}{
		{"vip_to_meta", got["VIP customers"]}, {"lapsed_to_meta", got["Lapsed customers"]},
		{"vip_to_google", google.Lists["1234567890/555000111"]}, {"lapsed_to_google", google.Lists["1234567890/555000222"]},
	} {
		if c.held != planned[c.sync] {
			t.Errorf("%s: the audience holds %d members, the plan added %d", c.sync, c.held, planned[c.sync])
		}
	}
}

// copyWholeQuickstart copies the quickstart's project files and data
// into a fresh folder.
func copyWholeQuickstart(t *testing.T) string {
	t.Helper()
	var files []string
	for _, pattern := range []string{"*.yml", "data/*.csv"} {
		m, err := fs.Glob(os.DirFS(examplestest.Dir(t, "quickstart")), pattern)
		if err != nil || len(m) == 0 {
			t.Fatalf("quickstart %s: %v", pattern, err)
		}
		files = append(files, m...)
	}
	return examplestest.CopyQuickstart(t, files...)
}

// checkEnvFile checks that the env file holds the export lines and only
// its owner can read it (it holds keys).
func checkEnvFile(t *testing.T, path string, exports []string) {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("env file mode %v, want 0600", st.Mode().Perm())
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range exports {
		if !strings.Contains(string(data), line+"\n") {
			t.Errorf("env file lacks %q:\n%s", line, data)
		}
	}
}

func getJSON(t *testing.T, rawURL string, header http.Header, v any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, rawURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header = header
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", rawURL, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", rawURL, err)
	}
}

// klaviyoListMembers reads the fake Klaviyo's inspection page.
func klaviyoListMembers(t *testing.T, base, list string) int64 {
	var state struct {
		Lists []struct {
			Name    string
			Members int64
		}
	}
	getJSON(t, base+"/_fake/state", nil, &state)
	for _, l := range state.Lists {
		if l.Name == list {
			return l.Members
		}
	}
	return -1
}

// hubspotListMembers reads the fake HubSpot's inspection page.
func hubspotListMembers(t *testing.T, base, list string) int64 {
	t.Helper()
	resp, err := http.Get(base + "/_fake/state")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st struct {
		Lists []struct {
			Name    string
			Members int64
		} `json:"lists"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatalf("reading the fake HubSpot's state: %v", err)
	}
	for _, l := range st.Lists {
		if l.Name == list {
			return l.Members
		}
	}
	return -1
}

// salesforceRecords reads the fake Salesforce's count of live records of
// an object on its inspection page.
func salesforceRecords(t *testing.T, base, object string) int64 {
	t.Helper()
	resp, err := http.Get(base + "/_fake/state")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st struct{ Records map[string]int64 }
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatalf("reading the fake Salesforce's state: %v", err)
	}
	return st.Records[object]
}

// brevoListMembers asks the fake Brevo as a client asks Brevo.
func brevoListMembers(t *testing.T, base, key, list string) int64 {
	var lists struct {
		Lists []struct {
			Name             string `json:"name"`
			TotalSubscribers int64  `json:"totalSubscribers"`
		} `json:"lists"`
	}
	getJSON(t, base+"/contacts/lists?limit=50", http.Header{"api-key": {key}, "Accept": {"application/json"}}, &lists)
	for _, l := range lists.Lists {
		if l.Name == list {
			return l.TotalSubscribers
		}
	}
	return -1
}

// sandboxProbes are a request each fake refuses without its key, so that
// every vendor of the sandbox is checked to be served with the key it
// prints. A vendor added to the sandbox needs one here.
var sandboxProbes = map[string]struct {
	method, path string
	status       int // the answer without the key; 0: 401
}{
	"klaviyo": {http.MethodGet, "/api/lists", 0},
	"brevo":   {http.MethodGet, "/account", 0},
	"hubspot": {http.MethodGet, "/crm/v3/properties/contacts", 0},
	// An API call without a session (the key is the client secret).
	"salesforce": {http.MethodGet, "/services/data/v60.0/sobjects/Contact/describe", 0},
	"webhook":    {http.MethodPost, "", 0},
	// Graph answers a call without a token 400 (OAuthException 104).
	"meta":       {http.MethodGet, "/v25.0/act_1234567890", http.StatusBadRequest},
	"google_ads": {http.MethodPost, "/v1/audienceMembers:ingest", 0},
}

func TestSandboxServesEveryVendor(t *testing.T) {
	for _, name := range sandboxVendorNames() {
		t.Run(name, func(t *testing.T) {
			probe, ok := sandboxProbes[name]
			if !ok {
				t.Fatalf("no probe for %s in sandboxProbes", name)
			}
			v := sandboxVendors[name]
			args := []string{name, "--key", "given-key"}
			if v.OwnKey {
				args = args[:1]
			}
			sb := startSandboxCmd(t, 1, args...)
			base, err := url.Parse(sb.env[v.URLEnv])
			if err != nil || base.Hostname() != "127.0.0.1" || base.Port() == "0" {
				t.Fatalf("%s=%q is not a loopback URL with its port", v.URLEnv, sb.env[v.URLEnv])
			}
			if got := sb.env[v.KeyEnv]; v.OwnKey {
				checkServiceAccount(t, got, base.String())
			} else if got != "given-key" {
				t.Errorf("%s=%q, want the key given", v.KeyEnv, got)
			}
			req, err := http.NewRequest(probe.method, strings.TrimSuffix(base.String(), "/")+probe.path, strings.NewReader("{}"))
			if err != nil {
				t.Fatal(err)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			want := probe.status
			if want == 0 {
				want = http.StatusUnauthorized
			}
			if resp.StatusCode != want {
				t.Errorf("%s %s without the key: %s, want %d", probe.method, req.URL, resp.Status, want)
			}
			if code := sb.stop(); code != 0 {
				t.Errorf("exit %d\n%s", code, sb.stderr)
			}
			if !strings.Contains(sb.stderr.String(), "sandbox "+name+": 1 request") {
				t.Errorf("no summary line counting the request:\n%s", sb.stderr)
			}
		})
	}
}

// TestSandboxHubSpotSummary: HubSpot's fake ends with contacts, lists
// with member counts and GDPR deletions, and its request log names
// endpoints, never the e-mails or record ids they were called with.
func TestSandboxHubSpotSummary(t *testing.T) {
	sb := startSandboxCmd(t, 1, "hubspot", "--key", "pat-given")
	base := sb.env["HUBSPOT_BASE_URL"]
	call := func(method, path, body string, want int) map[string]any {
		t.Helper()
		req, err := http.NewRequest(method, base+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+sb.env["HUBSPOT_ACCESS_TOKEN"])
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		if resp.StatusCode != want {
			t.Fatalf("%s %s: %s, want %d: %v", method, path, resp.Status, want, out)
		}
		return out
	}
	up := call("POST", "/crm/v3/objects/contacts/batch/upsert", `{"inputs":[
		{"idProperty":"email","id":"ann@example.com","objectWriteTraceId":"0","properties":{}},
		{"idProperty":"email","id":"bob@example.com","objectWriteTraceId":"1","properties":{}}]}`, http.StatusOK)
	var ids []string
	for _, r := range up["results"].([]any) {
		ids = append(ids, fmt.Sprintf("%q", r.(map[string]any)["id"]))
	}
	list := call("POST", "/crm/v3/lists", `{"name":"VIP customers","objectTypeId":"0-1","processingType":"MANUAL"}`, http.StatusOK)
	listID := list["list"].(map[string]any)["listId"].(string)
	call("PUT", "/crm/v3/lists/"+listID+"/memberships/add", "["+strings.Join(ids, ",")+"]", http.StatusOK)
	call("POST", "/crm/v3/objects/contacts/gdpr-delete", `{"objectId":"ann@example.com","idProperty":"email"}`, http.StatusNoContent)
	if code := sb.stop(); code != 0 {
		t.Fatalf("exit %d\n%s", code, sb.stderr)
	}
	logged := sb.stderr.String()
	for _, want := range []string{"sandbox hubspot: 4 requests (0 throttled, 0 answered 429), 1 contacts", `"VIP customers" 1 members`, "1 GDPR deletion (1 contact erased)",
		"PUT /crm/v3/lists/{listId}/memberships/add"} {
		if !strings.Contains(logged, want) {
			t.Errorf("the log lacks %q:\n%s", want, logged)
		}
	}
	if strings.Contains(logged, "@example.com") || strings.Contains(logged, "/lists/"+listID+"/") {
		t.Errorf("the log carries an e-mail or a list id:\n%s", logged)
	}
}

// TestSandboxFailsOnSpecViolations: a request that breaks Klaviyo's API
// description makes the sandbox exit 1 and list it, as CI needs.
func TestSandboxFailsOnSpecViolations(t *testing.T) {
	spec := klaviyoSpec()
	if spec == "" {
		t.Skip("Klaviyo's OpenAPI file not found ($SLUICE_SPECS_DIR or ../shared/specs)")
	}
	sb := startSandboxCmd(t, 1, "klaviyo", "--spec", spec, "--quiet")
	req, err := http.NewRequest(http.MethodPost, sb.env["KLAVIYO_BASE_URL"]+"/api/lists", strings.NewReader(`{"data":{"type":"list","attributes":{"nom":"x"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Klaviyo-API-Key "+sb.env["KLAVIYO_API_KEY"])
	req.Header.Set("revision", "2026-07-15")
	req.Header.Set("Content-Type", "application/vnd.api+json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("a list without a name: %s, want 400", resp.Status)
	}
	code := sb.stop()
	errs := sb.stderr.String()
	if code != exitFailure || !strings.Contains(errs, "1 request did not match Klaviyo's API description") ||
		!strings.Contains(errs, "POST /api/lists") || !strings.Contains(errs, ", 1 spec violation\n") {
		t.Fatalf("exit %d, want %d with the violation listed:\n%s", code, exitFailure, errs)
	}
}

// TestSandboxBrevoBatchAnswer: --brevo-batch-answer picks how Brevo's fake
// answers /contacts/batch for a contact it does not know.
func TestSandboxBrevoBatchAnswer(t *testing.T) {
	cases := []struct {
		args []string
		want int
	}{
		{nil, http.StatusNotFound}, // observed, the default
		{[]string{"--brevo-batch-answer", "observed"}, http.StatusNotFound},
		{[]string{"--brevo-batch-answer", "documented"}, http.StatusMultiStatus},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			sb := startSandboxCmd(t, 1, append([]string{"brevo", "--quiet"}, tc.args...)...)
			body := `{"contacts":[{"email":"nobody@example.com","attributes":{"FIRSTNAME":"N"}}]}`
			req, err := http.NewRequest(http.MethodPost, sb.env["BREVO_BASE_URL"]+"/contacts/batch", strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("api-key", sb.env["BREVO_API_KEY"])
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Errorf("an unknown contact: %s, want %d", resp.Status, tc.want)
			}
		})
	}
}

func TestShellQuote(t *testing.T) {
	cases := map[string]string{
		"pk_sandbox_0a1b":          "pk_sandbox_0a1b",
		"http://127.0.0.1:8789/v3": "http://127.0.0.1:8789/v3",
		"it's a key":               `'it'\''s a key'`,
		"$(rm -rf /)":              `'$(rm -rf /)'`,
		"":                         "''",
	}
	for in, want := range cases {
		if got := shellQuote(in); got != want {
			t.Errorf("shellQuote(%q) = %s, want %s", in, got, want)
		}
		// What the tests read back from export lines is what sh reads.
		if words, err := shellWords("export K=" + shellQuote(in)); err != nil || len(words) != 2 || words[1] != "K="+in {
			t.Errorf("shellWords reads %s back as %q (%v)", shellQuote(in), words, err)
		}
	}
}

// checkServiceAccount checks the Google credentials the sandbox exports:
// a service account key on one line (one export line), whose token
// address is the fake's.
func checkServiceAccount(t *testing.T, js, base string) {
	t.Helper()
	var sa struct {
		Type        string `json:"type"`
		ClientEmail string `json:"client_email"`
		PrivateKey  string `json:"private_key"`
		TokenURI    string `json:"token_uri"`
	}
	if err := json.Unmarshal([]byte(js), &sa); err != nil {
		t.Fatalf("the credentials are not JSON: %v", err)
	}
	if sa.Type != "service_account" || sa.ClientEmail == "" || !strings.Contains(sa.PrivateKey, "PRIVATE KEY") ||
		!strings.HasPrefix(sa.TokenURI, strings.TrimSuffix(base, "/")+"/") || strings.Contains(js, "\n") {
		t.Errorf("not a one-line service account key with its token address at %s: type %q, email %q, token_uri %q", base, sa.Type, sa.ClientEmail, sa.TokenURI)
	}
}

// TestSandboxAdViolations: a request breaking Meta's or Google's rules
// (with the vendor's credentials, so it passes authentication) makes the
// sandbox exit 1 and list it, and neither the list nor the log carries
// the raw e-mail sent.
func TestSandboxAdViolations(t *testing.T) {
	const raw = "ann.violation@example.com"
	cases := []struct {
		vendor, title, rule string
		send                func(t *testing.T, env map[string]string) *http.Request
	}{
		{"meta", "Meta Marketing", "does not pin a Graph API version", func(t *testing.T, env map[string]string) *http.Request {
			req, err := http.NewRequest(http.MethodGet, env["META_URL"]+"/act_1234567890?fields=name&note="+url.QueryEscape(raw), nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Authorization", "Bearer "+env["META_TOKEN"])
			return req
		}},
		{"google_ads", "Google Data Manager", "not a SHA-256 hash", func(t *testing.T, env map[string]string) *http.Request {
			creds, err := google.CredentialsFromJSON(context.Background(), []byte(env["GOOGLE_ADS_CREDENTIALS"]), "https://www.googleapis.com/auth/datamanager")
			if err != nil {
				t.Fatal(err)
			}
			tok, err := creds.TokenSource.Token()
			if err != nil {
				t.Fatalf("the exported service account gets no token from the fake: %v", err)
			}
			body := `{"destinations":[{"operatingAccount":{"accountType":"GOOGLE_ADS","accountId":"1234567890"},"productDestinationId":"555000111"}],
				"audienceMembers":[{"userData":{"userIdentifiers":[{"emailAddress":"` + raw + `"}]}}],
				"consent":{"adUserData":"CONSENT_GRANTED","adPersonalization":"CONSENT_GRANTED"},"encoding":"HEX",
				"termsOfService":{"customerMatchTermsOfServiceStatus":"ACCEPTED"}}`
			req, err := http.NewRequest(http.MethodPost, env["GOOGLE_ADS_BASE_URL"]+"/v1/audienceMembers:ingest", strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/json")
			tok.SetAuthHeader(req)
			return req
		}},
	}
	for _, tc := range cases {
		t.Run(tc.vendor, func(t *testing.T) {
			sb := startSandboxCmd(t, 1, tc.vendor)
			resp, err := http.DefaultClient.Do(tc.send(t, sb.env))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			code := sb.stop()
			errs := sb.stderr.String()
			if code != exitFailure || !strings.Contains(errs, "1 request did not match "+tc.title+"'s API description or rules") ||
				!strings.Contains(errs, tc.rule) || !strings.Contains(errs, ", 1 violation\n") {
				t.Fatalf("exit %d, want %d with the violation listed:\n%s", code, exitFailure, errs)
			}
			if strings.Contains(errs, raw) {
				t.Errorf("the sandbox's output carries the e-mail:\n%s", errs)
			}
		})
	}
}
