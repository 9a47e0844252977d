// Package googleads is the Google Customer Match destination: it keeps the
// members of a Customer Match list (a Google Ads audience) in step with a
// segment sync, through Google's Data Manager API, which Google requires
// of new Customer Match integrations, with Google's generated Go client
// (google.golang.org/api/datamanager/v1). See docs/destinations/google.md.
//
// # How records become API calls
//
// The sync's mapping names match keys (email, phone, first_name,
// last_name, country, postal_code: package matchkeys), prepared by
// Google's rules: e-mail and phone normalised then SHA-256 hashed in
// lower-case hex, names hashed, country and postal code in clear; the
// four make one address identifier, sent only when all four are known.
// Each record is one AudienceMember carrying up to 10 identifiers, with
// consent (adUserData, adPersonalization) from the sync's consent
// purposes. Entries (and upserts) go to audienceMembers:ingest, with the
// Customer Match terms of service accepted as configured; exits (and
// deletes, and erasure) to audienceMembers:remove; at most 10,000 members
// a request.
//
// Google answers a request with a request id, processes it later (up to a
// day), and tells the outcome through requestStatus:retrieve, as counts.
// After each request the status is read for a bounded time: a request that
// FAILED rejects its records (they are sent again next run), a partial
// success is logged with its counts, one still processing is taken as
// delivered.
package googleads

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/oauth2"
	datamanager "google.golang.org/api/datamanager/v1"
	"google.golang.org/api/option"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/connectors/destination"
	"github.com/sluicehq/sluice/connectors/internal/matchkeys"
)

// The Data Manager API's limits
// (https://developers.google.com/data-manager/api/devguides/limits) and
// sluice's defaults.
const (
	DefaultBaseURL = "https://datamanager.googleapis.com/"
	// MaxMembers is the most audience members a request takes.
	MaxMembers = 10000
	// MaxIdentifiers is the most user identifiers an audience member takes.
	MaxIdentifiers = 10
	// DefaultRate keeps under a Google Cloud project's 300 requests a
	// minute, with room for other clients.
	DefaultRate       = 4
	DefaultRetries    = 5
	DefaultStatusWait = 10 * time.Second
)

// Spec is the Google Customer Match destination's configuration.
var Spec = config.ComponentSpec{
	Type: "google_ads",
	Summary: "Google Customer Match through the Data Manager API: a segment sync keeps a Customer Match list's members " +
		"(e-mail, phone and address, hashed by Google's rules, with consent); exits and erasure remove them. See docs/destinations/google.md.",
	Fields: []config.FieldSpec{
		{Name: "credentials_json", Kind: config.String, Secret: true, Doc: "A service account key or user credentials (authorized_user) as JSON, with access to the Google Ads account; the scope asked is https://www.googleapis.com/auth/datamanager. Write it as a ${VAR} reference. Give this or credentials_file."},
		{Name: "credentials_file", Kind: config.String, Path: config.PathFile, Doc: "The same JSON in a file, relative to the project (keep it out of version control). Give this or credentials_json."},
		{Name: "customer_id", Kind: config.String, Required: true, Pattern: `[0-9]{3}-?[0-9]{3}-?[0-9]{4}|[0-9]+`, PatternHint: "digits, such as 123-456-7890", Doc: "The operating account: the Google Ads customer id that owns the Customer Match list (dashes allowed)."},
		{Name: "account_type", Kind: config.String, Enum: []string{"GOOGLE_ADS", "DISPLAY_VIDEO_ADVERTISER", "DISPLAY_VIDEO_PARTNER", "DATA_PARTNER"}, Doc: "Type of the operating account. Default: GOOGLE_ADS."},
		{Name: "login_customer_id", Kind: config.String, Pattern: `[0-9]{3}-?[0-9]{3}-?[0-9]{4}|[0-9]+`, PatternHint: "digits, such as 123-456-7890", Doc: "The manager account the credentials belong to, when they reach customer_id through it (a Google Ads manager account). Default: none (direct access)."},
		{Name: "login_account_type", Kind: config.String, Enum: []string{"GOOGLE_ADS", "DISPLAY_VIDEO_ADVERTISER", "DISPLAY_VIDEO_PARTNER", "DATA_PARTNER"}, Doc: "Type of the login account. Default: GOOGLE_ADS."},
		{Name: "user_list_id", Kind: config.String, Pattern: `[0-9]+`, PatternHint: "the list's id, digits", Doc: "The Customer Match list of the syncs that name none with list: (its id, as Google Ads shows it under Audience manager). Lists are created in Google Ads."},
		{Name: "terms_of_service_accepted", Kind: config.Bool, Required: true, Doc: "Set true to accept Google's Customer Match terms of service on the account's behalf, as every upload must (https://support.google.com/adspolicy/answer/6299717). false refuses to send."},
		{Name: "phone_region", Kind: config.String, Pattern: `[A-Za-z]{2}`, PatternHint: "an ISO 3166-1 alpha-2 code such as FR", Doc: "Country in which national phone numbers are read, and the address country of people without a mapped country. A person's mapped country wins. Default: none (only +E.164 numbers are read, and addresses need a country)."},
		{Name: "base_url", Kind: config.String, URL: true, Doc: "API root. Default: " + DefaultBaseURL + " (a proxy, or a test server)."},
		{Name: "validate_only", Kind: config.Bool, Doc: "Send every request with validateOnly: Google checks it and stores nothing, and the records are reported rejected with what Google said, to be sent for real on a later run. Default: false."},
		{Name: "read_status", Kind: config.Bool, Doc: "Read each request's processing status back (requestStatus:retrieve), to reject the records of a request Google failed to process. false sends one request per batch and nothing more; what Google reports later shows in Google Ads only. Default: true."},
		{Name: "status_wait", Kind: config.DurationKind, Doc: "How long to wait, after each request, for Google's processing status (requestStatus:retrieve), e.g. 10s; it is read at least once. Default: 10s."},
		withDefault(destination.BatchSizeField.WithMax(MaxMembers), "10000, the most members per request (also the most allowed)"),
		withDefault(destination.RateField, "4, under a project's 300 requests a minute"),
		withDefault(destination.TimeoutField, "60s"),
		withDefault(destination.MaxRetriesField, "5"),
	},
	ConsentPurposes: []config.ConsentPurpose{
		{Name: "ads_user_data", Required: true, Gate: true, Doc: "Consent to send the person's data to Google for advertising (adUserData): only people for whom it is true are sent."},
		{Name: "ads_personalization", Required: true, Doc: "Consent to personalised advertising (adPersonalization): sent as CONSENT_GRANTED, CONSENT_DENIED, or CONSENT_STATUS_UNSPECIFIED when NULL."},
	},
}

func withDefault(f config.FieldSpec, def string) config.FieldSpec {
	f.Doc += " Default: " + def + "."
	return f
}

func init() { destination.Register(Spec, Open) }

// GoogleAds is an opened Google Customer Match destination.
type GoogleAds struct {
	cfg       destination.Config
	svc       *datamanager.Service
	transport *retryTransport
	tokens    oauth2.TokenSource
	limits    destination.Limits

	dest         *datamanager.Destination
	region       string // phone_region, upper-case
	validateOnly bool
	readStatus   bool
	statusWait   time.Duration
}

var (
	_ destination.Destination = (*GoogleAds)(nil)
	_ destination.Eraser      = (*GoogleAds)(nil)
)

// settings are the options as read.
type settings struct {
	credsJSON, credsFile                string
	customer, accountType, login, lType string
	listID, region, base                string
	tos, validateOnly, readStatus       bool
	batch, retries                      int
	rate                                float64
	timeout, statusWait                 time.Duration
}

func readSettings(cfg destination.Config) (settings, error) {
	o := cfg.Options
	var s settings
	var errs [17]error
	s.credsJSON, errs[0] = o.String("credentials_json", "")
	s.credsFile, errs[1] = o.String("credentials_file", "")
	s.customer, errs[2] = o.String("customer_id", "")
	s.accountType, errs[3] = o.String("account_type", "GOOGLE_ADS")
	s.login, errs[4] = o.String("login_customer_id", "")
	s.lType, errs[5] = o.String("login_account_type", "GOOGLE_ADS")
	s.listID, errs[6] = o.String("user_list_id", "")
	s.tos, errs[7] = o.Bool("terms_of_service_accepted", false)
	s.region, errs[8] = o.String("phone_region", "")
	s.base, errs[9] = o.String("base_url", DefaultBaseURL)
	s.validateOnly, errs[10] = o.Bool("validate_only", false)
	s.statusWait, errs[11] = o.Duration("status_wait", DefaultStatusWait)
	s.batch, errs[12] = o.Int("batch_size", MaxMembers)
	s.rate, errs[13] = o.Float("rate", DefaultRate)
	s.timeout, errs[14] = o.Duration("timeout", 60*time.Second)
	s.retries, errs[15] = o.Int("max_retries", DefaultRetries)
	s.readStatus, errs[16] = o.Bool("read_status", true)
	if cfg.Sync.BatchSize > 0 {
		s.batch = cfg.Sync.BatchSize
	}
	if cfg.Sync.Rate > 0 {
		s.rate = cfg.Sync.Rate
	}
	if cfg.Sync.List != "" {
		s.listID = cfg.Sync.List
	}
	return s, errors.Join(errs[:]...)
}

// Open reads the options, the credentials and the mapping; it sends
// nothing.
func Open(ctx context.Context, cfg destination.Config) (destination.Destination, error) {
	s, err := readSettings(cfg)
	if err != nil {
		return nil, cfg.Errorf("%w", err)
	}
	if err := s.check(); err != nil {
		return nil, cfg.Errorf("%w", err)
	}
	if _, err := mappedKeys(cfg.Sync, s.region); err != nil {
		return nil, cfg.Errorf("sync %s: %w", cfg.Sync.Name, err)
	}
	creds, err := s.credentials(cfg.ProjectDir)
	if err != nil {
		return nil, cfg.Errorf("%w", err)
	}
	if s.timeout <= 0 {
		s.timeout = 60 * time.Second
	}
	retries := max(s.retries, 0)
	tr := newRetryTransport(s.rate, s.timeout, retries, cfg.Logger)
	// Retries happen inside the transport: a call's time limit covers every
	// attempt and the waits between them.
	total := s.timeout*time.Duration(retries+1) + tr.maxWait*time.Duration(retries)
	ts, err := tokenSource(creds, &http.Client{Transport: tr, Timeout: total})
	if err != nil {
		tr.close()
		return nil, cfg.Errorf("%w", err)
	}
	client := &http.Client{Transport: &oauth2.Transport{Source: ts, Base: tr}, Timeout: total}
	svc, err := datamanager.NewService(ctx, option.WithHTTPClient(client), option.WithEndpoint(s.base))
	if err != nil {
		tr.close()
		return nil, cfg.Errorf("building the Data Manager API client: %w", err)
	}
	svc.UserAgent = "sluice"
	return &GoogleAds{
		cfg: cfg, svc: svc, transport: tr, tokens: ts,
		limits:       destination.Limits{BatchSize: s.batch, MaxBatchSize: MaxMembers, Concurrency: 1},
		dest:         s.destination(),
		region:       strings.ToUpper(s.region),
		validateOnly: s.validateOnly,
		readStatus:   s.readStatus,
		statusWait:   s.statusWait,
	}, nil
}

// check validates the settings together.
func (s *settings) check() error {
	s.customer = strings.ReplaceAll(strings.TrimSpace(s.customer), "-", "")
	s.login = strings.ReplaceAll(strings.TrimSpace(s.login), "-", "")
	s.listID = strings.TrimSpace(s.listID)
	s.base = strings.TrimSpace(s.base)
	pu, err := url.Parse(s.base)
	switch {
	case !s.tos:
		return errors.New("terms_of_service_accepted must be true: Google takes Customer Match data only with its terms of service accepted (https://support.google.com/adspolicy/answer/6299717)")
	case (s.credsJSON == "") == (s.credsFile == ""):
		return errors.New("give the credentials with credentials_json (a ${VAR} reference) or credentials_file, one of the two")
	case !digits(s.customer) || (s.accountType == "GOOGLE_ADS" && len(s.customer) != 10):
		return errors.New("customer_id must be the Google Ads customer id, 10 digits such as 123-456-7890")
	case s.login != "" && (!digits(s.login) || (s.lType == "GOOGLE_ADS" && len(s.login) != 10)):
		return errors.New("login_customer_id must be the manager account's customer id, digits such as 123-456-7890")
	case s.listID == "":
		return errors.New("no Customer Match list: set user_list_id, or list: on the sync, to the list's id (lists are created in Google Ads, Tools > Audience manager)")
	case !digits(s.listID):
		return errors.New("the Customer Match list must be given by its id (digits, as Google Ads shows it under Audience manager), not by name")
	case err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "":
		return fmt.Errorf("base_url must be an http:// or https:// address, like %s", DefaultBaseURL)
	case s.batch <= 0 || s.batch > MaxMembers:
		return fmt.Errorf("batch_size must be between 1 and %d (the Data Manager API's limit per request)", MaxMembers)
	case s.rate <= 0:
		return errors.New("rate must be positive")
	case s.statusWait < 0:
		return errors.New("status_wait must not be negative")
	}
	if !strings.HasSuffix(s.base, "/") {
		s.base += "/"
	}
	return nil
}

func (s *settings) destination() *datamanager.Destination {
	d := &datamanager.Destination{
		OperatingAccount:     &datamanager.ProductAccount{AccountType: s.accountType, AccountId: s.customer},
		ProductDestinationId: s.listID,
	}
	if s.login != "" {
		d.LoginAccount = &datamanager.ProductAccount{AccountType: s.lType, AccountId: s.login}
	}
	return d
}

// credentials returns the credentials JSON, from the option or the file.
func (s *settings) credentials(projectDir string) ([]byte, error) {
	if s.credsJSON != "" {
		return []byte(s.credsJSON), nil
	}
	p := s.credsFile
	if !filepath.IsAbs(p) {
		p = filepath.Join(projectDir, p)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("reading credentials_file: %w", err)
	}
	return b, nil
}

func digits(s string) bool {
	return s != "" && strings.Trim(s, "0123456789") == ""
}

// mappedKeys checks the sync's destination fields: each must be a match
// key Google takes, and the address keys come together.
func mappedKeys(s destination.SyncInfo, region string) ([]matchkeys.Key, error) {
	var keys []matchkeys.Key
	for _, f := range s.Fields {
		k := matchkeys.Key(f)
		if !slices.Contains(matchkeys.Keys(), k) || !matchkeys.Supports(matchkeys.Google, k) {
			return nil, fmt.Errorf("Google Customer Match cannot take the field %q: map match keys only (%s)", f, supportedNames())
		}
		keys = append(keys, k)
	}
	if s.Key != "" && !slices.Contains(keys, matchkeys.Key(s.Key)) {
		if !matchkeys.Supports(matchkeys.Google, matchkeys.Key(s.Key)) {
			return nil, fmt.Errorf("the sync's key %q is not a match key Google takes (%s)", s.Key, supportedNames())
		}
		keys = append([]matchkeys.Key{matchkeys.Key(s.Key)}, keys...)
	}
	addr := []matchkeys.Key{matchkeys.FirstName, matchkeys.LastName, matchkeys.PostalCode}
	var have, miss []string
	for _, k := range addr {
		if slices.Contains(keys, k) {
			have = append(have, string(k))
		} else {
			miss = append(miss, string(k))
		}
	}
	if !slices.Contains(keys, matchkeys.Country) && region == "" {
		miss = append(miss, "country (or the option phone_region)")
	}
	if len(have) > 0 && len(miss) > 0 {
		return nil, fmt.Errorf("Google matches a name and postal code only as a whole address: map %s too, or none of %s", strings.Join(miss, ", "), strings.Join(have, ", "))
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("map at least one match key (%s)", supportedNames())
	}
	return keys, nil
}

func supportedNames() string {
	var names []string
	for _, k := range matchkeys.SupportedKeys(matchkeys.Google) {
		names = append(names, string(k))
	}
	return strings.Join(names, ", ")
}

// Limits implements destination.Destination.
func (g *GoogleAds) Limits() destination.Limits { return g.limits }

// Close implements destination.Destination.
func (g *GoogleAds) Close() error { g.transport.close(); return nil }
