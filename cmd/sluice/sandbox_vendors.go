package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"

	brevofake "github.com/sluicehq/sluice/connectors/brevo/fake"
	googleadsfake "github.com/sluicehq/sluice/connectors/googleads/fake"
	hubspotfake "github.com/sluicehq/sluice/connectors/hubspot/fake"
	klaviyofake "github.com/sluicehq/sluice/connectors/klaviyo/fake"
	metafake "github.com/sluicehq/sluice/connectors/meta/fake"
	salesforcefake "github.com/sluicehq/sluice/connectors/salesforce/fake"
	webhookfake "github.com/sluicehq/sluice/connectors/webhook/fake"
)

// sandboxVendors are the vendor APIs `sluice sandbox` serves: the
// project's fakes of them. A destination with a fake joins with one entry.
var sandboxVendors = map[string]sandboxVendor{
	"klaviyo": {
		Title: "Klaviyo", KeyEnv: "KLAVIYO_API_KEY", URLEnv: "KLAVIYO_BASE_URL",
		KeyPrefix: "pk_sandbox_", Spec: true, New: newKlaviyoSandbox,
	},
	"brevo": {
		Title: "Brevo", KeyEnv: "BREVO_API_KEY", URLEnv: "BREVO_BASE_URL",
		KeyPrefix: "xkeysib-sandbox-", URLPath: "/v3", New: newBrevoSandbox,
	},
	"hubspot": {
		Title: "HubSpot", KeyEnv: "HUBSPOT_ACCESS_TOKEN", URLEnv: "HUBSPOT_BASE_URL",
		KeyPrefix: "pat-sandbox-", New: newHubSpotSandbox,
	},
	"salesforce": {
		Title: "Salesforce", KeyEnv: "SALESFORCE_CLIENT_SECRET", URLEnv: "SALESFORCE_LOGIN_URL",
		Fixed:     [][2]string{{"SALESFORCE_CLIENT_ID", salesforceSandboxClient}},
		KeyPrefix: "sfsandbox", New: newSalesforceSandbox,
	},
	"meta": {
		Title: "Meta Marketing", KeyEnv: "META_TOKEN", URLEnv: "META_URL",
		KeyPrefix: "EAAsandbox", New: newMetaSandbox,
	},
	"google_ads": {
		Title: "Google Data Manager", KeyEnv: "GOOGLE_ADS_CREDENTIALS", URLEnv: "GOOGLE_ADS_BASE_URL",
		OwnKey: true, New: newGoogleAdsSandbox,
	},
	"webhook": {
		Title: "webhook receiver", KeyEnv: "WEBHOOK_TOKEN", URLEnv: "WEBHOOK_URL",
		KeyPrefix: "whsandbox_", URLPath: "/", New: newWebhookSandbox,
	},
}

// sandboxVendor is one vendor API the sandbox serves. The variable names
// are the ones the examples' YAML references (examples/quickstart,
// examples/webhook).
type sandboxVendor struct {
	Title     string // for messages
	KeyEnv    string // variable for the API key or token
	URLEnv    string // variable for the base URL
	KeyPrefix string // generated keys start with it, shaped like the vendor's
	URLPath   string // appended to http://ADDR for the base URL (Brevo's /v3)
	// Fixed are more variables the examples read, with set values (the
	// client id of Salesforce's connected app).
	Fixed [][2]string
	Spec  bool // requests can be checked against the vendor's API description (--spec)
	// OwnKey: the fake makes the credentials it accepts (Google's service
	// account key, whose token address is the fake's), so --key does not
	// apply and the server, an ownKeyServer, gives the key to export.
	OwnKey bool
	New    func(sandboxConfig) (sandboxServer, error)
}

// sandboxConfig is what a vendor's fake is started with.
type sandboxConfig struct {
	Key      string
	Spec     string // API description file; "" for none
	BaseURL  string
	NoLimits bool
	// BrevoBatchAnswer is how Brevo's fake answers /contacts/batch for
	// contacts it cannot update (brevofake.BatchAnswers).
	BrevoBatchAnswer string
	Log              func(format string, args ...any) // nil: quiet
}

// sandboxServer is a running fake: its handler, and what it says on
// shutdown.
type sandboxServer interface {
	http.Handler
	Summary() string
	Violations() []string // requests that broke the vendor's API description
	Close()
}

// ownKeyServer is the server of a vendor with OwnKey.
type ownKeyServer interface{ Key() string }

// notedServer is a server with something to say when it starts (what it
// checks requests against).
type notedServer interface{ Note() string }

func sandboxVendorNames() []string { return slices.Sorted(maps.Keys(sandboxVendors)) }

// logStatus wraps a handler with a line per request: method, path (no
// query, which may carry identifiers) and status.
func logStatus(h http.Handler, logf func(string, ...any)) http.Handler {
	if logf == nil {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		h.ServeHTTP(rec, r)
		logf("%s %s -> %d", r.Method, r.URL.Path, rec.status)
	})
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

// --- Klaviyo ---

type klaviyoSandbox struct {
	*klaviyofake.Server
	h http.Handler
}

func newKlaviyoSandbox(c sandboxConfig) (sandboxServer, error) {
	opts := klaviyofake.Options{APIKey: c.Key}
	if !c.NoLimits {
		opts.Limits = klaviyofake.KlaviyoLimits()
	}
	if c.Log != nil {
		opts.OnJob = func(j klaviyofake.JobInfo) {
			c.Log("job %s: %d profiles, %d imported, %d failed", j.ID, j.Total, j.Imported, j.Failed)
		}
	}
	if c.Spec != "" {
		v, err := klaviyofake.LoadSpec(c.Spec)
		if err != nil {
			return nil, fmt.Errorf("--spec: %w", err)
		}
		opts.Validator = v
	}
	srv := klaviyofake.Handler(opts)
	srv.URL = c.BaseURL
	return &klaviyoSandbox{Server: srv, h: logStatus(srv, c.Log)}, nil
}

func (k *klaviyoSandbox) ServeHTTP(w http.ResponseWriter, r *http.Request) { k.h.ServeHTTP(w, r) }

func (k *klaviyoSandbox) Summary() string {
	st := k.Stats()
	var lists []string
	for _, l := range k.Lists() {
		lists = append(lists, fmt.Sprintf("%q %d members", l.Name, len(l.Members)))
	}
	return fmt.Sprintf("%s (%d throttled), %d profiles, lists: [%s], %s, bulk imports: %d imported, %d failed, %s",
		plural(st.Requests, "request", "requests"), st.Throttled, st.Profiles, strings.Join(lists, ", "),
		plural(st.Deletions, "deletion request", "deletion requests"), st.Imported, st.ImportFails,
		plural(len(k.Violations()), "spec violation", "spec violations"))
}

// --- Brevo ---

type brevoSandbox struct{ *brevofake.Server }

func newBrevoSandbox(c sandboxConfig) (sandboxServer, error) {
	opts := brevofake.Options{APIKey: c.Key, BatchAnswer: c.BrevoBatchAnswer}
	if c.NoLimits {
		opts.ContactsPerSecond, opts.OtherPerHour = -1, -1
	}
	if c.Log != nil {
		// The fake names endpoints with identifiers (e-mails, phone
		// numbers) replaced, so the log carries no personal data.
		opts.OnRequest = func(method, endpoint string, status int) { c.Log("%s -> %d", endpoint, status) }
	}
	srv := brevofake.Handler(opts)
	srv.URL = c.BaseURL
	return brevoSandbox{srv}, nil
}

func (b brevoSandbox) Summary() string {
	st := b.Stats()
	contacts := b.Contacts()
	members := map[int64]int{}
	for _, c := range contacts {
		for _, l := range c.Lists {
			members[l]++
		}
	}
	var lists []string
	for _, id := range slices.Sorted(maps.Keys(members)) {
		lists = append(lists, fmt.Sprintf("id %d %d members", id, members[id]))
	}
	return fmt.Sprintf("%s (%d throttled), %d contacts, %d deleted, lists: [%s], imports: %d started, %d rows, %s",
		plural(st.Requests, "request", "requests"), st.TooMany, len(contacts), st.Deleted, strings.Join(lists, ", "), st.Imports, st.ImportedRow,
		plural(len(b.Violations()), "spec violation", "spec violations"))
}

// --- HubSpot ---

type hubspotSandbox struct{ *hubspotfake.Server }

func newHubSpotSandbox(c sandboxConfig) (sandboxServer, error) {
	opts := hubspotfake.Options{Token: c.Key}
	if c.NoLimits {
		opts.TenSecondly, opts.Daily = -1, -1
	}
	if c.Log != nil {
		// The fake names endpoints with identifiers replaced ({listId},
		// {name}), so the log carries no record ids or list names.
		opts.OnRequest = func(method, endpoint string, status int) { c.Log("%s %s -> %d", method, endpoint, status) }
	}
	srv := hubspotfake.Handler(opts)
	srv.URL = c.BaseURL
	return hubspotSandbox{srv}, nil
}

func (h hubspotSandbox) Summary() string {
	st := h.Stats()
	var lists []string
	for _, l := range h.Lists() {
		lists = append(lists, fmt.Sprintf("%q %d members", l.Name, len(l.Members)))
	}
	// One person erased through several syncs is one deletion request per
	// sync; the contacts they removed say how many people went.
	erased := 0
	for _, d := range h.GDPRDeletions() {
		if d.RecordID != "" {
			erased++
		}
	}
	return fmt.Sprintf("%s (%d throttled, %d answered 429), %d contacts, %d archived, lists: [%s], %s (%s erased)",
		plural(st.Requests, "request", "requests"), st.Throttled, st.Failed429, st.Contacts, st.Archived, strings.Join(lists, ", "),
		plural(st.Deletions, "GDPR deletion", "GDPR deletions"), plural(erased, "contact", "contacts"))
}

func (hubspotSandbox) Violations() []string { return nil }

// --- webhook ---

type webhookSandbox struct{ *webhookfake.Server }

func newWebhookSandbox(c sandboxConfig) (sandboxServer, error) {
	opts := webhookfake.Options{Token: c.Key}
	if c.Log != nil {
		opts.OnBatch = func(runID string, ops map[string]int, held int) {
			var parts []string
			for _, op := range slices.Sorted(maps.Keys(ops)) {
				parts = append(parts, fmt.Sprintf("%s %d", op, ops[op]))
			}
			c.Log("run %s: %s; holding %d records", runID, strings.Join(parts, ", "), held)
		}
	}
	srv := webhookfake.Handler(opts)
	srv.URL = c.BaseURL
	return webhookSandbox{srv}, nil
}

func (w webhookSandbox) Summary() string {
	return fmt.Sprintf("%s, %d operations applied, %s received, %d records held", plural(len(w.Requests()), "request", "requests"), len(w.Log()),
		plural(len(w.Erased()), "erasure", "erasures"), len(w.Records()))
}

func (webhookSandbox) Violations() []string { return nil }

// --- Salesforce ---

// salesforceSandboxClient is the sandbox org's connected app; the key is
// its consumer secret.
const salesforceSandboxClient = "sluice-sandbox"

type salesforceSandbox struct{ *salesforcefake.Server }

// salesforceQuickstartObjects are the custom fields of Contact that
// examples/quickstart/salesforce.yml maps: the External ID field holding
// the e-mail, and the lifetime value.
func salesforceQuickstartObjects() []salesforcefake.Object {
	return []salesforcefake.Object{{Name: "Contact", Fields: []salesforcefake.Field{
		salesforcefake.ExternalIDField("Sluice_Email__c"),
		{Name: "Lifetime_Value__c", Type: "double"},
	}}}
}

func newSalesforceSandbox(c sandboxConfig) (sandboxServer, error) {
	opts := salesforcefake.Options{ClientID: salesforceSandboxClient, ClientSecret: c.Key, Objects: salesforceQuickstartObjects()}
	if c.NoLimits {
		opts.DailyLimit = -1
	}
	if c.Log != nil {
		// Endpoints come with identifiers replaced ({id}, {version}).
		opts.OnRequest = func(method, endpoint string, status int) { c.Log("%s %s -> %d", method, endpoint, status) }
	}
	srv := salesforcefake.Handler(opts)
	srv.URL = c.BaseURL
	return salesforceSandbox{srv}, nil
}

func (s salesforceSandbox) Summary() string {
	st := s.Stats()
	var campaigns []string
	members := map[string]int{}
	for _, m := range s.Records("CampaignMember") {
		if id, ok := m["CampaignId"].(string); ok {
			members[id]++
		}
	}
	for _, c := range s.Records("Campaign") {
		id, _ := c["Id"].(string)
		campaigns = append(campaigns, fmt.Sprintf("%q %d members", c["Name"], members[id]))
	}
	slices.Sort(campaigns)
	return fmt.Sprintf("%s (%d API, %d Bulk jobs, %d refused for the daily limit), %d contacts, %d leads, campaigns: [%s], %s",
		plural(st.Requests, "request", "requests"), st.APIUsage, st.Jobs, st.Limited, st.Records["Contact"], st.Records["Lead"],
		strings.Join(campaigns, ", "), plural(st.Violations, "rule violation", "rule violations"))
}

// --- Meta ---

// metaSandboxAccount is the ad account of examples/quickstart/ads.yml.
const metaSandboxAccount = "1234567890"

type metaSandbox struct{ *metafake.Server }

func newMetaSandbox(c sandboxConfig) (sandboxServer, error) {
	// Meta's hourly limits depend on the app's tier: the fake sets none
	// unless told (meta-fake -hourly), so --no-limits changes nothing.
	opts := metafake.Options{Token: c.Key, AdAccount: metaSandboxAccount}
	if c.Log != nil {
		// Endpoints come with identifiers replaced ({version}, {audience_id}).
		opts.OnRequest = func(method, endpoint string, status int) { c.Log("%s %s -> %d", method, endpoint, status) }
	}
	srv := metafake.Handler(opts)
	srv.URL = c.BaseURL
	return metaSandbox{srv}, nil
}

func (m metaSandbox) Summary() string {
	st := m.Stats()
	var audiences []string
	for _, a := range m.Audiences() {
		audiences = append(audiences, fmt.Sprintf("%q %d members", a.Name, len(a.Members)))
	}
	slices.Sort(audiences)
	errs := 0
	for _, n := range st.ErrorsByCode {
		errs += n
	}
	return fmt.Sprintf("%s (%s), audiences: [%s], %d rows added, %d removed, %s",
		plural(st.Requests, "request", "requests"), plural(errs, "Graph error", "Graph errors"), strings.Join(audiences, ", "),
		st.RowsAdded, st.RowsRemoved, plural(st.Violations, "violation", "violations"))
}

// Violations are the broken rules: never an identifier, at most a hash.
func (m metaSandbox) Violations() []string {
	var out []string
	for _, v := range m.Server.Violations() {
		out = append(out, v.Endpoint+": "+v.Rule)
	}
	return out
}

// --- Google Customer Match (Data Manager API) ---

// The Google Ads account and Customer Match lists of
// examples/quickstart/ads.yml.
var (
	googleAdsSandboxCustomer = "1234567890"
	googleAdsSandboxLists    = []string{"555000111", "555000222"}
)

const googleAdsSandboxAccount = "sluice-sandbox@sluice-fake.iam.gserviceaccount.com"

type googleAdsSandbox struct {
	*googleadsfake.Server
	key string // the service account key's JSON, on one line
}

func newGoogleAdsSandbox(c sandboxConfig) (sandboxServer, error) {
	opts := googleadsfake.Options{Accounts: map[string][]string{googleAdsSandboxCustomer: googleAdsSandboxLists}}
	if c.NoLimits {
		opts.PerMinute = -1
	}
	if c.Log != nil {
		// Endpoints come with identifiers replaced ({accountId}, {userListId}).
		opts.OnRequest = func(method, endpoint string, status int) { c.Log("%s %s -> %d", method, endpoint, status) }
	}
	srv := googleadsfake.Handler(opts)
	srv.URL = c.BaseURL
	// A key the fake trusts, with its token address at the fake: the
	// destination's real OAuth path, JWT signed and checked, is exercised.
	sa, err := srv.NewServiceAccount(googleAdsSandboxAccount)
	if err != nil {
		return nil, fmt.Errorf("making a service account key: %w", err)
	}
	var line bytes.Buffer
	if err := json.Compact(&line, sa); err != nil {
		return nil, fmt.Errorf("making a service account key: %w", err)
	}
	return &googleAdsSandbox{Server: srv, key: line.String()}, nil
}

func (g *googleAdsSandbox) Key() string { return g.key }

func (g *googleAdsSandbox) Note() string {
	if g.CheckedAgainstDiscovery() {
		return "requests checked against the Data Manager API's discovery document"
	}
	return "the Data Manager API's discovery document was not found (set " + googleadsfake.EnvDiscovery + "): request shapes are not checked"
}

func (g *googleAdsSandbox) Summary() string {
	reqs := g.Requests()
	limited, calls := 0, map[string]int{}
	for _, r := range reqs {
		if r.Status == http.StatusTooManyRequests {
			limited++
		}
		if r.Status == http.StatusOK {
			calls[r.Endpoint]++
		}
	}
	var lists []string
	for _, id := range googleAdsSandboxLists {
		lists = append(lists, fmt.Sprintf("%s %d members", id, len(g.Members(googleAdsSandboxCustomer, id))))
	}
	return fmt.Sprintf("%s (%d answered 429), %d ingest, %d remove, %d status reads, lists: [%s], %s",
		plural(len(reqs), "request", "requests"), limited, calls["/v1/audienceMembers:ingest"], calls["/v1/audienceMembers:remove"],
		calls["/v1/requestStatus:retrieve"], strings.Join(lists, ", "), plural(len(g.Server.Violations()), "violation", "violations"))
}

// Violations are the requests that broke the API's rules or its discovery
// document.
func (g *googleAdsSandbox) Violations() []string {
	var out []string
	for _, v := range g.Server.Violations() {
		out = append(out, v.Endpoint+": "+v.Rule)
	}
	return out
}
