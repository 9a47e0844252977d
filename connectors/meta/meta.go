// Package meta is the Meta Custom Audiences destination: it keeps the
// people of a Customer File Custom Audience in step with a segment sync (or
// a record sync: every record is a member), and removes people on erasure
// requests (docs/destinations/meta.md).
//
// # How records become API calls
//
// The sync's mapping names match keys (email, phone, first_name...,
// matchkeys.Key names); each record becomes one row of a multi-key
// payload {schema: [EMAIL, PHONE, FN...], data: [[hash, hash, ...]]},
// every value normalised and hashed by Meta's rules (matchkeys), a key
// that normalises to nothing left as an empty cell. Entries go to POST
// /{audience_id}/users, exits to DELETE /{audience_id}/users, at most
// 10,000 rows a request; a run whose entries (or exits) take several
// requests sends them as one upload session (session_id, batch_seq,
// last_batch_flag, estimated_num_total from the run's size).
//
// Meta answers with counts only (num_received, num_invalid_entries and a
// few invalid_entry_samples): a record counts as accepted when its
// request was received and no sample names one of its cells; invalid
// entries the samples do not name are logged per batch, never blamed on
// records at random. Graph's rate-limit errors (codes 4, 17, 32, 613,
// 80000-80014) are waited out and retried here, since Graph sends them as
// 400s that the shared client does not retry; "audience too small to
// remove users" (200/1870047) rejects the exits of its request, which
// stay pending and are tried again next run.
package meta

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/connectors/destination"
	"github.com/sluicehq/sluice/connectors/internal/matchkeys"
)

// Meta's limits and sluice's defaults.
const (
	DefaultBaseURL = "https://graph.facebook.com"
	// DefaultVersion is the Graph API version sluice is written and
	// tested against; api_version pins another.
	DefaultVersion = "v25.0"
	// MaxRows is Meta's limit of rows per users request.
	MaxRows = 10000
	// DefaultRate stays well under the custom_audience business use case
	// limit of an ad account, which Meta counts per hour.
	DefaultRate    = 5
	DefaultRetries = 5
	maxAnswer      = 8 << 20
	// PurposeAdsUserData is the consent purpose that gates sending.
	PurposeAdsUserData = "ads_user_data"
)

// CustomerFileSources are the values of customer_file_source.
var CustomerFileSources = []string{"USER_PROVIDED_ONLY", "PARTNER_PROVIDED_ONLY", "BOTH_USER_AND_PARTNER_PROVIDED"}

// Spec is the Meta destination's configuration.
var Spec = config.ComponentSpec{
	Type: "meta",
	Summary: "Meta Custom Audiences: a segment's members (or a record sync's records) kept in a Customer File Custom Audience, " +
		"identifiers normalised and SHA-256 hashed by Meta's rules, up to 10,000 rows a request; erasure removes people from the audience. See docs/destinations/meta.md.",
	Fields: []config.FieldSpec{
		{Name: "access_token", Kind: config.String, Required: true, Secret: true, Doc: "System user access token with ads_management on the ad account, sent as a Bearer token. Write it as a ${VAR} reference, e.g. ${META_TOKEN}."},
		{Name: "ad_account_id", Kind: config.String, Required: true, Pattern: `(act_)?[0-9]+`, PatternHint: "act_ followed by digits, or the digits alone", Doc: "The ad account holding the audiences, e.g. act_1234567890."},
		{Name: "customer_file_source", Kind: config.String, Required: true, Enum: CustomerFileSources, Doc: "Where the people's data comes from, as Meta requires of customer file audiences: USER_PROVIDED_ONLY (collected from the people themselves), PARTNER_PROVIDED_ONLY, or BOTH_USER_AND_PARTNER_PROVIDED. Used when sluice creates an audience."},
		{Name: "audience", Kind: config.String, Doc: "Audience of the syncs that name no list: an audience id (all digits) or name in the ad account."},
		{Name: "create_audiences", Kind: config.Bool, Doc: "Create an audience named by a sync (or by audience) that does not exist yet, as a Customer File Custom Audience (subtype CUSTOM), on the first run that sends something (check creates nothing). Default: false."},
		{Name: "phone_region", Kind: config.String, Pattern: `[A-Za-z]{2}`, PatternHint: "an ISO 3166-1 alpha-2 code such as FR", Doc: "Country of phone numbers written without an international prefix, when the record maps no country (a mapped country wins). Without either, only numbers starting with + are sent."},
		{Name: "replace", Kind: config.Bool, Doc: "Mirror syncs only: a run that sends entries and no exits replaces the audience's people with that run's entries (usersreplace) instead of adding them. Meant for a rebuild: after `sluice state reset`, the next run sends every member. Default: false."},
		{Name: "api_version", Kind: config.String, Pattern: `v[0-9]+\.[0-9]+`, PatternHint: "a Graph API version such as " + DefaultVersion, Doc: "Graph API version. Default: " + DefaultVersion + "."},
		{Name: "base_url", Kind: config.String, URL: true, Doc: "API root. Default: " + DefaultBaseURL + " (a proxy, or a test server)."},
		withDefault(destination.BatchSizeField.WithMax(MaxRows), "10000, Meta's most per request (also the most allowed)"),
		withDefault(destination.RateField, "5"),
		withDefault(destination.TimeoutField, "60s"),
		withDefault(destination.MaxRetriesField, "5; Meta's rate-limit errors are retried as often"),
	},
	ConsentPurposes: []config.ConsentPurpose{
		{Name: PurposeAdsUserData, Required: true, Gate: true, Doc: "Consent to send the person's data to Meta for advertising: only people for whom it is true are sent; a person whose consent turns false is removed from the audience."},
	},
}

func withDefault(f config.FieldSpec, def string) config.FieldSpec {
	f.Doc += " Default: " + def + "."
	return f
}

func init() { destination.Register(Spec, Open) }

// column is one mapped match key, in schema order.
type column struct {
	field  string // the mapping's destination field
	key    matchkeys.Key
	schema string // Meta's schema key
}

// schemaKeys are Meta's multi-key schema names of the match keys.
var schemaKeys = map[matchkeys.Key]string{
	matchkeys.Email: "EMAIL", matchkeys.Phone: "PHONE", matchkeys.FirstName: "FN", matchkeys.LastName: "LN",
	matchkeys.Country: "COUNTRY", matchkeys.PostalCode: "ZIP", matchkeys.City: "CT", matchkeys.State: "ST",
	matchkeys.ExternalID: "EXTERN_ID",
}

// Meta is an opened Meta destination.
type Meta struct {
	cfg     destination.Config
	root    string // base URL and version: https://graph.facebook.com/v25.0
	account string // act_<digits>
	header  http.Header
	client  *destination.HTTPClient
	limits  destination.Limits
	retry   retryPolicy

	columns []column
	keyCol  int // the sync key's column
	country int // the country column, -1 when none
	region  string
	source  string
	replace bool

	audienceRef     string
	createAudiences bool
	audMu           sync.Mutex
	audienceID      string // resolved; "" until then

	sessMu   sync.Mutex
	run      *destination.RunSize
	sessions map[string]*upload
	progress map[string]int64 // records of the run done, by operation
}

var (
	_ destination.Destination = (*Meta)(nil)
	_ destination.Eraser      = (*Meta)(nil)
	_ destination.RunSizer    = (*Meta)(nil)
)

var accountRE = regexp.MustCompile(`^(act_)?([0-9]+)$`)

// options are the destination's settings as read.
type options struct {
	token, account, source, audience, region, version, base string
	create, replace                                         bool
	batch, retries                                          int
	rate                                                    float64
	timeout                                                 time.Duration
}

func readOptions(cfg destination.Config) (options, error) {
	o := cfg.Options
	var v options
	var errs [13]error
	v.token, errs[0] = o.String("access_token", "")
	v.account, errs[1] = o.String("ad_account_id", "")
	v.source, errs[2] = o.String("customer_file_source", "")
	v.audience, errs[3] = o.String("audience", "")
	v.create, errs[4] = o.Bool("create_audiences", false)
	v.region, errs[5] = o.String("phone_region", "")
	v.replace, errs[6] = o.Bool("replace", false)
	v.version, errs[7] = o.String("api_version", DefaultVersion)
	v.base, errs[8] = o.String("base_url", DefaultBaseURL)
	v.batch, errs[9] = o.Int("batch_size", MaxRows)
	v.rate, errs[10] = o.Float("rate", DefaultRate)
	v.timeout, errs[11] = o.Duration("timeout", 60*time.Second)
	v.retries, errs[12] = o.Int("max_retries", DefaultRetries)
	return v, errors.Join(errs[:]...)
}

// Open reads the options and the sync's mapping and builds the HTTP
// client; it sends nothing.
func Open(_ context.Context, cfg destination.Config) (destination.Destination, error) {
	v, err := readOptions(cfg)
	if err != nil {
		return nil, cfg.Errorf("%w", err)
	}
	if err := v.check(cfg); err != nil {
		return nil, err
	}
	cols, keyCol, err := mapColumns(cfg.Sync)
	if err != nil {
		return nil, cfg.Errorf("sync %s: %w", cfg.Sync.Name, err)
	}
	m := &Meta{
		cfg: cfg, root: strings.TrimRight(strings.TrimSpace(v.base), "/") + "/" + v.version,
		account: "act_" + accountRE.FindStringSubmatch(strings.TrimSpace(v.account))[2],
		limits:  destination.Limits{BatchSize: v.batch, MaxBatchSize: MaxRows, Concurrency: 1},
		retry:   defaultRetry(v.retries), columns: cols, keyCol: keyCol, country: -1,
		region: strings.ToUpper(strings.TrimSpace(v.region)), source: v.source, replace: v.replace,
		audienceRef: strings.TrimSpace(v.audience), createAudiences: v.create, sessions: map[string]*upload{}, progress: map[string]int64{},
	}
	if cfg.Sync.List != "" {
		m.audienceRef = strings.TrimSpace(cfg.Sync.List)
	}
	for i, c := range cols {
		if c.key == matchkeys.Country {
			m.country = i
		}
	}
	retries := v.retries
	if retries == 0 {
		retries = -1 // the client reads 0 as its default
	}
	m.header = http.Header{}
	m.header.Set("Authorization", "Bearer "+strings.TrimSpace(v.token))
	m.header.Set("Accept", "application/json")
	m.header.Set("User-Agent", "sluice")
	m.client = destination.NewHTTPClient(destination.HTTPOptions{
		Name: cfg.Name + " (meta)", Rate: v.rate, Burst: 1, Timeout: v.timeout, MaxRetries: retries, Logger: cfg.Logger,
	})
	return m, nil
}

// check validates the options that the spec cannot, and applies the
// sync's overrides.
func (v *options) check(cfg destination.Config) error {
	if cfg.Sync.BatchSize > 0 {
		v.batch = cfg.Sync.BatchSize
	}
	if cfg.Sync.Rate > 0 {
		v.rate = cfg.Sync.Rate
	}
	pu, perr := url.Parse(strings.TrimSpace(v.base))
	switch {
	case strings.TrimSpace(v.token) == "":
		return cfg.Errorf("access_token is empty: set it to a ${VAR} reference to your system user's token")
	case !accountRE.MatchString(strings.TrimSpace(v.account)):
		return cfg.Errorf("ad_account_id must be act_ followed by digits (or the digits alone), like act_1234567890")
	case !slices.Contains(CustomerFileSources, v.source):
		return cfg.Errorf("customer_file_source must be one of %s", strings.Join(CustomerFileSources, ", "))
	case !regexp.MustCompile(`^v[0-9]+\.[0-9]+$`).MatchString(v.version):
		return cfg.Errorf("api_version must be a Graph API version such as %s", DefaultVersion)
	case perr != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "":
		return cfg.Errorf("base_url must be an http:// or https:// address, like %s", DefaultBaseURL)
	case v.batch <= 0 || v.batch > MaxRows:
		return cfg.Errorf("batch_size must be between 1 and %d (Meta's limit per request)", MaxRows)
	case v.rate <= 0:
		return cfg.Errorf("rate must be positive")
	case v.region != "" && len(strings.TrimSpace(v.region)) != 2:
		return cfg.Errorf("phone_region must be an ISO 3166-1 alpha-2 country code such as FR")
	}
	switch cfg.Sync.Mode {
	case "", "upsert", "insert", "mirror":
	default:
		return cfg.Errorf("sync %s: mode %s does not suit an audience (upsert, insert and mirror do)", cfg.Sync.Name, cfg.Sync.Mode)
	}
	if v.replace && cfg.Sync.Mode != "mirror" {
		return cfg.Errorf("sync %s: replace needs mode mirror (the audience then holds exactly the sync's members)", cfg.Sync.Name)
	}
	return nil
}

// mapColumns checks the sync's mapping: every destination field is a
// match key Meta takes, and the key is one of them.
func mapColumns(s destination.SyncInfo) ([]column, int, error) {
	var names []string
	for _, k := range matchkeys.SupportedKeys(matchkeys.Meta) {
		names = append(names, string(k))
	}
	var cols []column
	var unknown []string
	for _, f := range s.Fields {
		k := matchkeys.Key(f)
		if !matchkeys.Supports(matchkeys.Meta, k) {
			unknown = append(unknown, f)
			continue
		}
		cols = append(cols, column{field: f, key: k, schema: schemaKeys[k]})
	}
	if len(unknown) > 0 {
		return nil, 0, fmt.Errorf("the mapping's fields %s are not match keys Meta takes: map identifiers to %s", strings.Join(unknown, ", "), strings.Join(names, ", "))
	}
	if len(cols) == 0 {
		return nil, 0, fmt.Errorf("the mapping has no match key: map identifiers to %s", strings.Join(names, ", "))
	}
	i := slices.IndexFunc(cols, func(c column) bool { return c.field == s.Key })
	if i < 0 {
		return nil, 0, fmt.Errorf("the sync's key %q is not a mapped match key: key the sync by one of them, usually email", s.Key)
	}
	return cols, i, nil
}

// Limits implements destination.Destination.
func (m *Meta) Limits() destination.Limits { return m.limits }

// Close implements destination.Destination.
func (m *Meta) Close() error { m.client.Close(); return nil }

// SizeRun implements destination.RunSizer: the run's entries and exits
// are counted for the upload sessions' estimated_num_total and
// last_batch_flag.
func (m *Meta) SizeRun(r destination.RunSize) {
	m.sessMu.Lock()
	defer m.sessMu.Unlock()
	m.run = &r
	m.sessions = map[string]*upload{}
	m.progress = map[string]int64{}
	if m.replace && r.Removals == 0 && r.Records > 0 {
		m.cfg.Logger.Warn("replace is set and this run has no exits: its entries replace the audience's people (usersreplace)", "entries", r.Records)
	}
}
