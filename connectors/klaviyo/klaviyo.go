// Package klaviyo is the Klaviyo destination: profiles, list membership and
// e-mail/SMS consent, through Klaviyo's API at revision 2026-07-15.
//
// How records become Klaviyo calls (docs/destinations/klaviyo.md):
//
//   - An upsert (record syncs) or add (segment syncs) is a profile in a bulk
//     import job (POST /api/profile-bulk-import-jobs, up to 10,000 profiles
//     and 5 MB a job). Jobs run asynchronously: sluice polls them and reads
//     their import errors, which reject the records they name. When the
//     sync has a list, the job adds its profiles to it
//     (relationships.lists): Klaviyo's list endpoint wants profile ids,
//     which a bulk import resolves by e-mail, phone or external id for
//     free, where adding afterwards would cost a lookup per 100 profiles
//     and a second write per 1,000. Profiles a job refuses are not added.
//   - Fields shaped like Klaviyo's profile are attributes (email,
//     phone_number in E.164, external_id, first_name, last_name,
//     organization, locale, title, image, location.*), properties.* are
//     custom properties, and other top-level fields are custom properties
//     under their own name.
//   - subscriptions.email.marketing.consent and
//     subscriptions.sms.marketing.consent (and their consented_at) are not
//     attributes: after the import, true subscribes the channel
//     (profile-subscription-bulk-create-jobs, as a historical import dated
//     consented_at when it is known), false unsubscribes it
//     (profile-subscription-bulk-delete-jobs), NULL leaves it alone.
//   - A removal never deletes a Klaviyo profile (that is an erasure, not a
//     sync). A segment exit takes the profile off the list. In a record
//     sync, a consent withdrawal unsubscribes the channels whose consent
//     the mapping carries, and a record that left the model (mirror mode)
//     keeps its consent; both take the profile off the sync's list, if it
//     has one. Removing from a list needs the profile's id: it is looked
//     up by the e-mail, phone or external id the removal carries.
//   - Every endpoint is paced to Klaviyo's published burst and steady
//     limits, shared by every sync of the process that uses the same
//     account; 429 and 5xx answers are retried honouring Retry-After.
package klaviyo

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/connectors/destination"
)

// Defaults.
const (
	DefaultBaseURL      = "https://a.klaviyo.com"
	DefaultRevision     = "2026-07-15"
	DefaultBatchSize    = 10000
	DefaultConcurrency  = 10
	DefaultTimeout      = 60 * time.Second
	DefaultJobTimeout   = 30 * time.Minute
	DefaultPollInterval = time.Second
	DefaultCustomSource = "sluice"
)

func withDefault(f config.FieldSpec, def string) config.FieldSpec {
	f.Doc += " Default: " + def + "."
	return f
}

// Spec is the klaviyo destination's configuration.
var Spec = config.ComponentSpec{
	Type: "klaviyo",
	Summary: "Klaviyo profiles, lists and consent (API revision 2026-07-15). Profiles go through bulk import jobs, whose import errors reject records; a segment sync keeps a list (list:, an id or a name) in step; " +
		"subscriptions.email.marketing.consent and subscriptions.sms.marketing.consent mapping fields subscribe (true) or unsubscribe (false) those channels, and a consent withdrawal unsubscribes them; syncs never delete profiles, only an erasure (sluice forget) does, through a data-privacy deletion job. " +
		"Every endpoint is paced to Klaviyo's burst and steady limits. See docs/destinations/klaviyo.md.",
	Fields: []config.FieldSpec{
		{Name: "api_key", Kind: config.String, Required: true, Secret: true, Doc: "Private API key (pk_...), sent as Authorization: Klaviyo-API-Key KEY. Scopes: profiles:read and profiles:write, lists:read and lists:write, subscriptions:write when the mapping carries consent, and data-privacy:write for erasure (sluice forget)."},
		{Name: "base_url", Kind: config.String, URL: true, Doc: "API address, for a proxy or a test server. Default: " + DefaultBaseURL + "."},
		{Name: "revision", Kind: config.String, Pattern: `\d{4}-\d{2}-\d{2}(\.[a-z]+)?`, PatternHint: "a Klaviyo API revision, YYYY-MM-DD (like " + DefaultRevision + ")", Doc: "API revision sent in the revision header (YYYY-MM-DD). sluice is built and tested against " + DefaultRevision + "; another revision may change what Klaviyo accepts. Default: " + DefaultRevision + "."},
		{Name: "list", Kind: config.String, Doc: "List (id or name) for syncs that set no list: of their own: record syncs add their profiles to it and remove them from it."},
		{Name: "create_list", Kind: config.Bool, Doc: "When a list given by name does not exist, create it at the first send (check only looks). Default: false: a missing list is an error."},
		{Name: "custom_source", Kind: config.String, Doc: "Source recorded with the consent sluice gives (custom_source of subscription jobs). Default: " + DefaultCustomSource + "."},
		withDefault(destination.BatchSizeField.WithMax(maxJobProfiles), "10000 (Klaviyo's limit per bulk import job; larger jobs are refused)"),
		{Name: "rate", Kind: config.Number, Min: config.Bound(0), Max: config.Bound(100_000), Doc: "Requests per second at most over every endpoint, on top of Klaviyo's per-endpoint limits, which sluice always honours. A sync's rate overrides it. Default: none."},
		{Name: "rate_limit_share", Kind: config.Number, Positive: true, Max: config.Bound(1), Doc: "Share of Klaviyo's per-endpoint limits sluice uses, between 0 and 1: 0.5 leaves half of each to other integrations of the account. Default: 1."},
		withDefault(destination.ConcurrencyField, "10 (bulk import jobs run for a while: several in flight keep the import endpoint busy)"),
		withDefault(destination.TimeoutField, "60s"),
		withDefault(destination.MaxRetriesField, "5"),
		{Name: "job_timeout", Kind: config.DurationKind, Doc: "How long a bulk import job may run before the run stops (its records are sent again next run). Default: 30m."},
		{Name: "poll_interval", Kind: config.DurationKind, Doc: "How often bulk import jobs in flight are polled (one request for all of them). Default: 1s."},
	},
}

func init() { destination.Register(Spec, Open) }

// Klaviyo is an opened klaviyo destination.
type Klaviyo struct {
	cfg          destination.Config
	api          *api
	watcher      *jobWatcher
	fields       *fieldPlan
	limits       destination.Limits
	listRef      string
	createList   bool
	customSource string
	jobTimeout   time.Duration
	log          *slog.Logger

	listMu   sync.Mutex
	resolved string

	stats struct {
		jobs       atomic.Int64
		smsSkipped atomic.Int64
	}
}

var _ destination.Destination = (*Klaviyo)(nil)

var revisionShape = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}(\.[a-z]+)?$`)

// Open reads the options, checks the sync's mapping against Klaviyo's
// profile, and builds the client.
func Open(_ context.Context, cfg destination.Config) (destination.Destination, error) {
	o := cfg.Options
	key, err1 := o.String("api_key", "")
	base, err2 := o.String("base_url", DefaultBaseURL)
	rev, err3 := o.String("revision", DefaultRevision)
	listRef, err4 := o.String("list", "")
	createList, err5 := o.Bool("create_list", false)
	source, err6 := o.String("custom_source", DefaultCustomSource)
	batch, err7 := o.Int("batch_size", DefaultBatchSize)
	rate, err8 := o.Float("rate", 0)
	share, err9 := o.Float("rate_limit_share", 1)
	conc, err10 := o.Int("concurrency", DefaultConcurrency)
	timeout, err11 := o.Duration("timeout", DefaultTimeout)
	retries, err12 := o.Int("max_retries", 5)
	jobTimeout, err13 := o.Duration("job_timeout", DefaultJobTimeout)
	poll, err14 := o.Duration("poll_interval", DefaultPollInterval)
	if err := errors.Join(err1, err2, err3, err4, err5, err6, err7, err8, err9, err10, err11, err12, err13, err14); err != nil {
		return nil, cfg.Errorf("%w", err)
	}
	var problems []string
	if strings.TrimSpace(key) == "" {
		problems = append(problems, "api_key is empty: set the variable it refers to to a private API key")
	}
	pu, perr := url.Parse(base)
	if perr != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
		problems = append(problems, "base_url must be an http:// or https:// address, like "+DefaultBaseURL)
	}
	if !revisionShape.MatchString(rev) {
		problems = append(problems, fmt.Sprintf("revision %q is not a Klaviyo API revision (YYYY-MM-DD, like %s)", rev, DefaultRevision))
	}
	if batch <= 0 || batch > maxJobProfiles {
		problems = append(problems, fmt.Sprintf("batch_size must be between 1 and %d (Klaviyo's limit per bulk import job)", maxJobProfiles))
	}
	if rate < 0 || conc <= 0 || jobTimeout <= 0 || poll <= 0 {
		problems = append(problems, "rate must not be negative; concurrency, job_timeout and poll_interval must be positive")
	}
	if share <= 0 || share > 1 {
		problems = append(problems, "rate_limit_share must be above 0 and at most 1")
	}
	if cfg.Sync.List != "" {
		listRef = cfg.Sync.List
	}
	fields, err := planFields(cfg.Sync.Fields)
	if err != nil {
		problems = append(problems, "mapping: "+err.Error())
	}
	if cfg.Sync.Mode == "mirror" && listRef == "" {
		problems = append(problems, "mode mirror removes records that leave the model, but sluice never deletes Klaviyo profiles: give the sync a list: (they leave it), or use mode upsert (consent withdrawals still unsubscribe)")
	}
	if len(problems) > 0 {
		return nil, cfg.Errorf("%s", strings.Join(problems, "; "))
	}
	if cfg.Sync.Rate > 0 {
		rate = cfg.Sync.Rate
	}
	if retries == 0 {
		retries = -1
	}
	base = strings.TrimRight(base, "/")
	h := http.Header{}
	h.Set("Authorization", "Klaviyo-API-Key "+key)
	h.Set("revision", rev)
	h.Set("Accept", contentType)
	h.Set("User-Agent", "sluice")
	// Klaviyo counts per account: every client of the process that uses
	// this key on this address shares the endpoints' windows.
	sum := sha256.Sum256([]byte(base + "\x00" + key))
	k := &Klaviyo{
		cfg: cfg, fields: fields, listRef: listRef, createList: createList, customSource: source,
		jobTimeout: jobTimeout, log: cfg.Logger,
		limits: destination.Limits{BatchSize: batch, MaxBatchSize: maxJobProfiles, Concurrency: conc},
	}
	if k.log == nil {
		k.log = slog.New(slog.DiscardHandler)
	}
	k.api = &api{
		base: base, header: h, errorf: cfg.Errorf,
		http: destination.NewHTTPClient(destination.HTTPOptions{
			Name: cfg.Name, Rate: rate, Burst: 1, Timeout: timeout, MaxRetries: retries,
			Endpoints: endpointLimits(share), LimitKey: "klaviyo:" + hex.EncodeToString(sum[:16]),
			Quota:  quotaHeaders(),
			Logger: k.log,
		}),
	}
	k.watcher = newJobWatcher(k.api, poll, k.log)
	return k, nil
}

// Limits implements destination.Destination.
func (k *Klaviyo) Limits() destination.Limits { return k.limits }

// Close implements destination.Destination.
func (k *Klaviyo) Close() error {
	k.watcher.close()
	k.api.http.Close()
	if n := k.stats.smsSkipped.Load(); n > 0 {
		k.log.Info("sms consent without a phone_number was not sent to klaviyo", "records", n)
	}
	k.log.Debug("klaviyo bulk import jobs completed", "jobs", k.stats.jobs.Load())
	return nil
}

// Check implements destination.Destination: it reads the account's bulk
// import jobs (one job), which proves the key and the read scopes syncs
// need, and looks the list up, without changing anything.
func (k *Klaviyo) Check(ctx context.Context) error {
	q := url.Values{}
	q.Set("page[size]", "1")
	q.Set("fields[profile-bulk-import-job]", "status")
	ans, err := k.api.call(ctx, epListImportJobs, "/api/profile-bulk-import-jobs", q, nil)
	if err != nil {
		return err
	}
	if ans.status != http.StatusOK {
		return k.cfg.Errorf("checking the API key at %s: %s", k.api.base, ans.message())
	}
	if k.listRef == "" {
		return nil
	}
	k.listMu.Lock()
	defer k.listMu.Unlock()
	l, found, err := k.findList(ctx, k.listRef)
	switch {
	case err != nil:
		return err
	case found:
		k.resolved = l.id
	case !k.createList:
		return k.cfg.Errorf("klaviyo has no list %q: create it in Klaviyo, set list: to an existing list's id or name, or set create_list: true on the destination", k.listRef)
	}
	return nil
}

// Write implements destination.Destination.
func (k *Klaviyo) Write(ctx context.Context, b *destination.Batch) ([]error, error) {
	errs := make([]error, len(b.Records))
	segment := false
	var ups []*profile
	var rems []removal
	for i, r := range b.Records {
		switch r.Op {
		case destination.OpAdd, destination.OpRemove:
			segment = true
		}
		switch r.Op {
		case destination.OpUpsert, destination.OpAdd:
			p, err := k.fields.profile(r)
			if err != nil {
				errs[i] = err
				continue
			}
			p.idx = i
			ups = append(ups, p)
		case destination.OpDelete, destination.OpRemove:
			rems = append(rems, removal{idx: i, ids: removalIdentifiers(r), reason: r.Reason})
		default:
			errs[i] = fmt.Errorf("unknown operation %q", r.Op)
		}
	}
	if segment && len(k.fields.channels) > 0 {
		return nil, k.cfg.Errorf("segment sync %s maps subscriptions.*: a segment exit is not a consent withdrawal, so a segment sync cannot carry consent; map consent in a record sync (from: profiles) and keep the segment sync for the list", b.Sync)
	}
	if segment && k.listRef == "" {
		return nil, k.cfg.Errorf("segment sync %s has no list: set list: on the sync (a Klaviyo list id or name)", b.Sync)
	}
	listID := ""
	if k.listRef != "" {
		id, err := k.listID(ctx)
		if err != nil {
			return nil, err
		}
		listID = id
	}
	if len(rems) > 0 {
		if err := k.remove(ctx, rems, listID, segment, errs); err != nil {
			return nil, err
		}
	}
	if len(ups) > 0 {
		if err := k.upsert(ctx, ups, listID, errs); err != nil {
			return nil, err
		}
	}
	return errs, nil
}

// upsert imports profiles, then applies the consent they carry.
func (k *Klaviyo) upsert(ctx context.Context, ps []*profile, listID string, errs []error) error {
	if err := k.importProfiles(ctx, ps, listID, errs); err != nil {
		return fmt.Errorf("uploading batch to klaviyo: %w", err)
	}
	if len(k.fields.channels) == 0 {
		return nil
	}
	var give, withdraw []consentChange
	for _, p := range ps {
		if errs[p.idx] != nil {
			continue // not imported: no consent either, it is retried whole
		}
		// Channels consented at the same time go in one change; a channel
		// consented at another time goes apart, with its own date.
		var on []consentChange
		var off []string
		for _, ch := range k.fields.channels {
			c := p.consent[ch]
			if c.state == consentUnknown {
				continue
			}
			if !k.hasIdentifier(p.ids, ch) {
				if c.state == consentGiven {
					k.stats.smsSkipped.Add(1) // no number to text: nothing to subscribe
				}
				continue
			}
			if c.state == consentWithdrawn {
				off = append(off, ch)
				continue
			}
			i := slices.IndexFunc(on, func(x consentChange) bool { return x.at == c.at })
			if i < 0 {
				on = append(on, consentChange{idx: p.idx, ids: p.ids, at: c.at})
				i = len(on) - 1
			}
			on[i].channels = append(on[i].channels, ch)
		}
		give = append(give, on...)
		if len(off) > 0 {
			withdraw = append(withdraw, consentChange{idx: p.idx, ids: p.ids, channels: off})
		}
	}
	if err := k.subscribe(ctx, give, errs); err != nil {
		return fmt.Errorf("subscribing profiles in klaviyo: %w", err)
	}
	if err := k.unsubscribe(ctx, withdraw, errs); err != nil {
		return fmt.Errorf("unsubscribing profiles in klaviyo: %w", err)
	}
	return nil
}

// hasIdentifier reports whether the profile can be named on a channel:
// e-mail consent needs the e-mail, SMS consent the phone number.
func (k *Klaviyo) hasIdentifier(ids identifiers, channel string) bool {
	if channel == "sms" {
		return ids.phone != ""
	}
	return ids.email != ""
}

// remove applies removals. A segment exit leaves the list. In a record
// sync, a consent withdrawal unsubscribes the channels the mapping
// carries, and a record that left the model (mode mirror) keeps its
// consent, which it did not withdraw; both leave the sync's list if it has
// one. A removal whose reason is not given is taken as a withdrawal: the
// safe side for consent.
func (k *Klaviyo) remove(ctx context.Context, rs []removal, listID string, segment bool, errs []error) error {
	if !segment && len(k.fields.channels) > 0 {
		var withdraw []consentChange
		for _, r := range rs {
			if r.reason == destination.ReasonGone {
				continue
			}
			var missing []string
			for _, ch := range k.fields.channels {
				if !k.hasIdentifier(r.ids, ch) {
					missing = append(missing, channelIdentifier[ch])
				}
			}
			if len(missing) > 0 {
				errs[r.idx] = fmt.Errorf("cannot unsubscribe: the removal carries no %s; add it to the sync's removal_fields (or make it the key)", strings.Join(missing, " or "))
				continue
			}
			withdraw = append(withdraw, consentChange{idx: r.idx, ids: r.ids, channels: slices.Clone(k.fields.channels)})
		}
		if err := k.unsubscribe(ctx, withdraw, errs); err != nil {
			return fmt.Errorf("unsubscribing profiles in klaviyo: %w", err)
		}
	}
	if listID != "" {
		var left []removal
		for _, r := range rs {
			if errs[r.idx] == nil {
				left = append(left, r)
			}
		}
		if err := k.removeFromList(ctx, listID, left, errs); err != nil {
			return fmt.Errorf("removing profiles from the klaviyo list: %w", err)
		}
		return nil
	}
	if !segment && len(k.fields.channels) == 0 {
		for _, r := range rs {
			if r.reason != destination.ReasonGone {
				errs[r.idx] = errors.New("a consent withdrawal must change something in Klaviyo, and sluice never deletes profiles: map subscriptions.*.marketing.consent (a withdrawal unsubscribes), or give the sync a list: (a withdrawal leaves it)")
			}
		}
	}
	return nil
}
