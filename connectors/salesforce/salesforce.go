// Package salesforce is the Salesforce destination: it keeps the records of
// an sObject (Contact, Lead, or any object the sync names) in step with a
// record sync, upserted by an External ID field; the members of a Campaign
// in step with a segment sync (campaign.go); and deletes records on an
// erasure request (erase.go). See docs/destinations/salesforce.md.
//
// # How records become API calls
//
// Authentication is OAuth 2.0 (auth.go): the client credentials flow of a
// connected app, or the JWT bearer flow; the token answer's instance_url
// is the API root, and every path is pinned to api_version.
//
// A run sends its upserts one way or the other, never both (SizeRun):
//
//   - below bulk_threshold, sObject Collections: PATCH
//     /composite/sobjects/{Object}/{ExternalIdField} with at most 200
//     records and allOrNone false. Salesforce answers one result per record
//     in request order, which become the per-record outcomes; a record
//     refused with UNABLE_TO_LOCK_ROW is sent again a few times first.
//   - at or above it, Bulk API 2.0 (bulk.go): one ingest upsert job per
//     Write (more when its CSV would pass the upload limit), whose results
//     come back unordered and are matched back by external id.
//
// Deletes (mirror mode) delete the records by id with DELETE
// /composite/sobjects?ids=..., on either path: the id Salesforce gave at
// the last accepted upsert (Record.RemoteID), else the one an SOQL lookup
// by external id finds. A record Salesforce does not have is already gone.
//
// Every answer's Sforce-Limit-Info header tells how much of the org's
// daily API quota is used: the run stops before the reserve
// (quota_reserve) is touched, leaving the rest for the next run (quota.go).
package salesforce

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/connectors/destination"
)

// Salesforce's limits and sluice's defaults.
const (
	DefaultLoginURL = "https://login.salesforce.com"
	// DefaultAPIVersion is Summer '26, the newest version generally
	// available in every org when this was written (Winter '27, v68.0, was
	// still in preview); pinning it keeps answers stable across releases.
	DefaultAPIVersion = "v67.0"
	DefaultObject     = "Contact"
	// MaxBatch is the most records of one sObject Collections call.
	MaxBatch = 200
	// DefaultBulkThreshold is the number of upserts in a run at and above
	// which the run goes through Bulk API 2.0.
	DefaultBulkThreshold = 2000
	// BulkBatch is the most records of one Write on the Bulk path (and the
	// default): one ingest job each, so that a million records take seven
	// jobs.
	BulkBatch = 150_000
	// DefaultConcurrency stays far below the org's 25 long-running
	// requests, which other integrations share.
	DefaultConcurrency = 2
	DefaultRate        = 20
	DefaultRetries     = 5
	DefaultReserve     = "10%"
	maxAnswer          = 16 << 20
)

// Spec is the Salesforce destination's configuration.
var Spec = config.ComponentSpec{
	Type: "salesforce",
	Summary: "Salesforce records (Contact, Lead or any sObject) upserted by an External ID field, with sObject Collections (200 a call) or Bulk API 2.0 above bulk_threshold; " +
		"deletes delete the record; segment syncs keep a Campaign's members; erasure deletes the records. See docs/destinations/salesforce.md.",
	Fields: []config.FieldSpec{
		{Name: "auth", Kind: config.String, Enum: []string{"client_credentials", "jwt"}, Doc: "OAuth 2.0 flow of the connected app: client_credentials (client_id and client_secret, the app's Run As user) or jwt (the JWT bearer flow: client_id, username and private_key or private_key_file). Default: client_credentials."},
		{Name: "client_id", Kind: config.String, Required: true, Secret: true, Doc: "The connected app's consumer key, as a ${VAR} reference, e.g. ${SALESFORCE_CLIENT_ID}."},
		{Name: "client_secret", Kind: config.String, Secret: true, Doc: "The connected app's consumer secret, for auth: client_credentials, as a ${VAR} reference."},
		{Name: "username", Kind: config.String, Doc: "For auth: jwt, the Salesforce username the token is issued for (the assertion's sub); the user must be pre-authorized for the app."},
		{Name: "private_key", Kind: config.String, Secret: true, Doc: "For auth: jwt, the PEM RSA private key whose certificate the connected app holds, as a ${VAR} reference. Or private_key_file."},
		{Name: "private_key_file", Kind: config.String, Path: config.PathFile, Doc: "For auth: jwt, a file holding the PEM RSA private key, relative to the project folder and inside it."},
		{Name: "login_url", Kind: config.String, URL: true, Doc: "Where tokens are requested (login_url/services/oauth2/token), also the JWT audience: https://test.salesforce.com for a sandbox, or the org's My Domain address. Default: " + DefaultLoginURL + "."},
		{Name: "api_version", Kind: config.String, Pattern: `v[0-9]{2,3}\.0`, PatternHint: "vNN.0, e.g. " + DefaultAPIVersion, Doc: "REST API version every path is pinned to. Default: " + DefaultAPIVersion + " (Summer '26)."},
		{Name: "object", Kind: config.String, Pattern: `[A-Za-z][A-Za-z0-9_]*`, PatternHint: "an sObject API name, e.g. Contact", Doc: "sObject the records are upserted into: Contact, Lead, or any object with an External ID field (Custom__c). Default: Contact."},
		{Name: "external_id_field", Kind: config.String, Pattern: `[A-Za-z][A-Za-z0-9_]*`, PatternHint: "a field API name, e.g. External_Id__c", Doc: "Field of the object marked External ID (and preferably Unique) by which records are upserted: its value is the mapped field of that name, else the sync's key. Default: the sync's key field."},
		{Name: "bulk_threshold", Kind: config.Int, Min: config.Bound(1), Doc: "Upserts in a run at and above which the run goes through Bulk API 2.0 (ingest jobs of up to 150,000 records) instead of sObject Collections (200 records a call). Default: 2000."},
		{Name: "bulk_batch_size", Kind: config.Int, Min: config.Bound(1), Max: config.Bound(BulkBatch), Doc: "Records of one Bulk API 2.0 ingest job. A job costs about seven API requests, and sluice holds about two batches of mapped records at once (about 1.2 KB a record): lower it on a host short of memory, at the cost of more requests. Default: 150000."},
		{Name: "quota_reserve", Kind: config.String, Pattern: `[0-9]+%?`, PatternHint: "a number of requests, or a percentage like 10%", Doc: "Part of the org's daily API requests left to its other integrations: a run stops (and the next one resumes) before its requests eat into it. A number of requests or a percentage of the daily limit. Default: 10%."},
		{Name: "campaign", Kind: config.String, Doc: "Campaign of the segment syncs that name no list: a Campaign id (701...) or name. Entries become CampaignMember records of the Contact or Lead."},
		{Name: "create_campaigns", Kind: config.Bool, Doc: "Create a campaign named by a sync (or by campaign) that does not exist yet, on the first run that sends something (check creates nothing). Default: false."},
		withDefault(destination.BatchSizeField.WithMax(MaxBatch), "200, the most per sObject Collections call (Bulk runs send up to 150,000 records a job)"),
		withDefault(destination.ConcurrencyField.WithMax(10), "2: the org allows 25 long-running requests at once, shared with its other integrations"),
		withDefault(destination.RateField, "20"),
		withDefault(destination.TimeoutField, "30s"),
		withDefault(destination.MaxRetriesField, "5"),
	},
}

func withDefault(f config.FieldSpec, def string) config.FieldSpec {
	f.Doc += " Default: " + def + "."
	return f
}

func init() { destination.Register(Spec, Open) }

// Salesforce is an opened Salesforce destination.
type Salesforce struct {
	cfg    destination.Config
	auth   *authenticator
	client *destination.HTTPClient
	quota  *quota

	version                string // v67.0
	object                 string
	extID                  string   // external id field
	fields                 []string // mapped fields sent besides extID
	batch, bulkBatch, conc int

	bulkThreshold int64
	sizeMu        sync.Mutex
	bulk          bool // this run goes through Bulk API 2.0

	campaignRef     string
	createCampaigns bool
	campaignMu      sync.Mutex
	campaignID      string

	// Waits, shortened by tests.
	lockWait         time.Duration // first wait before resending UNABLE_TO_LOCK_ROW records
	pollMin, pollMax time.Duration // Bulk job polling
	maxPart          int           // Bulk upload bytes per job
	lockTries        int
}

var (
	_ destination.Destination = (*Salesforce)(nil)
	_ destination.Eraser      = (*Salesforce)(nil)
	_ destination.RunSizer    = (*Salesforce)(nil)
)

// settings are the options as read.
type settings struct {
	authKind, clientID, secret, username, key, keyFile, loginURL string
	version, object, extID, reserve, campaign                    string
	threshold, batch, bulkBatch, conc, retries                   int
	rate                                                         float64
	timeout                                                      time.Duration
	createCampaigns                                              bool
}

func readSettings(cfg destination.Config) (settings, error) {
	o := cfg.Options
	var s settings
	var errs [16]error
	s.authKind, errs[0] = o.String("auth", "client_credentials")
	s.clientID, errs[1] = o.String("client_id", "")
	s.secret, errs[2] = o.String("client_secret", "")
	s.username, errs[3] = o.String("username", "")
	s.key, errs[4] = o.String("private_key", "")
	s.keyFile, errs[5] = o.String("private_key_file", "")
	s.loginURL, errs[6] = o.String("login_url", DefaultLoginURL)
	s.version, errs[7] = o.String("api_version", DefaultAPIVersion)
	s.object, errs[8] = o.String("object", DefaultObject)
	s.extID, errs[9] = o.String("external_id_field", cfg.Sync.Key)
	s.reserve, errs[10] = o.String("quota_reserve", DefaultReserve)
	s.campaign, errs[11] = o.String("campaign", "")
	s.threshold, errs[12] = o.Int("bulk_threshold", DefaultBulkThreshold)
	s.batch, errs[13] = o.Int("batch_size", MaxBatch)
	s.conc, errs[14] = o.Int("concurrency", DefaultConcurrency)
	var err15, err16, err17, err18, err19 error
	s.retries, err15 = o.Int("max_retries", DefaultRetries)
	s.rate, err16 = o.Float("rate", DefaultRate)
	s.timeout, err17 = o.Duration("timeout", 0)
	s.createCampaigns, err18 = o.Bool("create_campaigns", false)
	s.bulkBatch, err19 = o.Int("bulk_batch_size", BulkBatch)
	return s, errors.Join(append(errs[:], err15, err16, err17, err18, err19)...)
}

var (
	versionRE = regexp.MustCompile(`^v[0-9]{2,3}\.0$`)
	nameRE    = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*$`)
)

// Open reads the options, loads the JWT key, and builds the HTTP client; it
// sends nothing (the token is requested by the first call).
func Open(_ context.Context, cfg destination.Config) (destination.Destination, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s, err := readSettings(cfg)
	if err != nil {
		return nil, cfg.Errorf("%w", err)
	}
	if err := s.validate(cfg); err != nil {
		return nil, cfg.Errorf("%w", err)
	}
	fields, err := mappedFields(cfg.Sync, s.extID)
	if err != nil {
		return nil, cfg.Errorf("sync %s: %w", cfg.Sync.Name, err)
	}
	reserve, err := parseReserve(s.reserve)
	if err != nil {
		return nil, cfg.Errorf("%w", err)
	}
	auth, err := newAuthenticator(cfg, s)
	if err != nil {
		return nil, cfg.Errorf("%w", err)
	}
	if cfg.Sync.List != "" {
		s.campaign = cfg.Sync.List
	}
	retries := s.retries
	if retries == 0 {
		retries = -1 // the client reads 0 as its default
	}
	sf := &Salesforce{
		cfg: cfg, auth: auth, quota: &quota{reserve: reserve, name: cfg.Name + " (salesforce)"},
		client: destination.NewHTTPClient(destination.HTTPOptions{
			Name: cfg.Name + " (salesforce)", Rate: s.rate, Burst: 1, Timeout: s.timeout, MaxRetries: retries,
			Logger: cfg.Logger,
		}),
		version: s.version, object: s.object, extID: s.extID, fields: fields,
		batch: s.batch, bulkBatch: s.bulkBatch, conc: s.conc, bulkThreshold: int64(s.threshold),
		campaignRef: strings.TrimSpace(s.campaign), createCampaigns: s.createCampaigns,
		lockWait: time.Second, lockTries: 3, pollMin: 2 * time.Second, pollMax: time.Minute, maxPart: maxUpload,
	}
	return sf, nil
}

// validate checks the options that the spec cannot, and applies the
// sync's overrides.
func (s *settings) validate(cfg destination.Config) error {
	s.loginURL = strings.TrimRight(strings.TrimSpace(s.loginURL), "/")
	if pu, err := url.Parse(s.loginURL); err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
		return fmt.Errorf("login_url must be an http:// or https:// address, like %s", DefaultLoginURL)
	}
	if cfg.Sync.BatchSize > 0 {
		s.batch = cfg.Sync.BatchSize
	}
	if cfg.Sync.Rate > 0 {
		s.rate = cfg.Sync.Rate
	}
	switch {
	case !versionRE.MatchString(s.version):
		return fmt.Errorf("api_version %q is not a version like %s", s.version, DefaultAPIVersion)
	case !nameRE.MatchString(s.object):
		return fmt.Errorf("object %q is not an sObject API name, like Contact or My_Object__c", s.object)
	case s.extID == "":
		return errors.New("external_id_field is not set and the sync has no key field: name the object's External ID field, e.g. External_Id__c")
	case !nameRE.MatchString(s.extID):
		return fmt.Errorf("external_id_field %q is not a field API name, like External_Id__c", s.extID)
	case s.batch <= 0 || s.batch > MaxBatch:
		return fmt.Errorf("batch_size must be between 1 and %d (Salesforce's limit per sObject Collections call)", MaxBatch)
	case s.rate <= 0:
		return errors.New("rate must be positive")
	case s.conc <= 0:
		return errors.New("concurrency must be at least 1")
	case s.threshold <= 0:
		return errors.New("bulk_threshold must be at least 1")
	case s.bulkBatch <= 0 || s.bulkBatch > BulkBatch:
		return fmt.Errorf("bulk_batch_size must be between 1 and %d", BulkBatch)
	}
	switch cfg.Sync.Mode {
	case "", "upsert", "mirror":
	default:
		return fmt.Errorf("sync %s: mode %s is not supported by Salesforce (upsert and mirror are: records are upserted by external id)", cfg.Sync.Name, cfg.Sync.Mode)
	}
	return nil
}

// mappedFields checks the sync's mapping and returns the fields sent
// besides the external id: an sObject's fields are flat.
func mappedFields(s destination.SyncInfo, extID string) ([]string, error) {
	var out, nested []string
	for _, f := range s.Fields {
		switch {
		case strings.Contains(f, "."):
			nested = append(nested, f)
		case strings.EqualFold(f, extID):
		default:
			out = append(out, f)
		}
	}
	if len(nested) > 0 {
		return nil, fmt.Errorf("Salesforce fields are flat, but the mapping has nested fields (%s): map each to a field API name without a dot", strings.Join(nested, ", "))
	}
	return out, nil
}

// SizeRun implements destination.RunSizer: a run with at least
// bulk_threshold upserts goes through Bulk API 2.0. Removals never count:
// they are deletes by id on both paths. Campaign entries and exits always
// go through collections (200 a call, however large the Write).
func (sf *Salesforce) SizeRun(rs destination.RunSize) {
	sf.sizeMu.Lock()
	defer sf.sizeMu.Unlock()
	sf.bulk = rs.Records-rs.Removals >= sf.bulkThreshold
}

func (sf *Salesforce) bulkRun() bool {
	sf.sizeMu.Lock()
	defer sf.sizeMu.Unlock()
	return sf.bulk
}

// Limits implements destination.Destination.
func (sf *Salesforce) Limits() destination.Limits {
	if sf.bulkRun() {
		return destination.Limits{BatchSize: sf.bulkBatch, Concurrency: sf.conc}
	}
	return destination.Limits{BatchSize: sf.batch, MaxBatchSize: MaxBatch, Concurrency: sf.conc}
}

// Close implements destination.Destination.
func (sf *Salesforce) Close() error { sf.client.Close(); sf.auth.close(); return nil }

// apiPath is the path of a REST resource under the pinned version.
func (sf *Salesforce) apiPath(rest string) string {
	return "/services/data/" + sf.version + rest
}
