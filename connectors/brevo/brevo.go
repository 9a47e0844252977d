// Package brevo is the Brevo (formerly Sendinblue) destination: it keeps
// Brevo contacts, their attributes, their e-mail and SMS blacklist flags
// and their list memberships in step with a sync (docs/destinations/brevo.md).
//
// # How records become API calls
//
// Contact upserts go to POST /contacts/batch, and only the contacts Brevo
// does not know yet are created, by POST /contacts/import when there are
// many of them and a list to import into, else by POST /contacts one at a
// time. Why this combination:
//
//   - Per-record outcomes. /contacts/batch is synchronous and all or
//     nothing: 204 when every contact was updated, 404 "No contact found for
//     indexes i,j" when some do not exist (nothing applied), 400 when one is
//     invalid. The indexes tell exactly which contacts are new; a 400 is
//     narrowed down to the offending contacts by splitting the call in
//     halves. An import, by contrast, answers 202 with a process id and
//     never says which rows it skipped (the process only reports queued,
//     in_process, completed).
//   - Limits. Every /contacts endpoint shares 10 requests a second (36,000
//     an hour); everything else, /account and /processes included, 100 an
//     hour. Creating contacts one POST /contacts each would take a million
//     requests (28 hours) for a first sync of a million people; an import
//     takes up to 10 MB (about 50,000 contacts) per request. Polling
//     /processes for each import would exhaust the hourly quota of "other"
//     endpoints within minutes, so an import is confirmed instead by sending
//     the same contacts to /contacts/batch again: 204 means they exist (and
//     sets what an import cannot: ext_id, blacklist flags per contact),
//     while indexes still missing are checked against the process once, and
//     once it is completed they are created one by one, which gives Brevo's
//     own reason for each contact it refuses.
//   - Latency. In steady state (a run's delta is mostly changes to known
//     contacts) a batch is one synchronous request; only new contacts pay
//     the import's queueing delay, and batches run concurrently so the
//     wait overlaps other batches.
//
// List membership for segment syncs uses POST /contacts/lists/{id}/contacts/add
// and .../remove (150 contacts per call, e-mail identified). Brevo lists
// under contacts.failure both real failures and contacts already in (or
// out of) the list, so a failed add is resolved with /contacts/batch
// (listIds): a contact that exists is then a member; one that does not is
// created, or rejected. A failed removal means the contact is already out
// of the list (or does not exist): the removal's goal holds, so it is
// accepted. Contacts identified by SMS number only go through
// /contacts/batch listIds and unlinkListIds, since the list endpoints take
// e-mails or Brevo ids.
//
// Erasure (destination.Eraser, erase.go) deletes contacts one
// DELETE /contacts/{identifier}?identifierType=… each, Brevo having no
// batch delete.
package brevo

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/connectors/destination"
)

// Spec is the Brevo destination's configuration.
var Spec = config.ComponentSpec{
	Type: "brevo",
	Summary: "Brevo (Sendinblue) contacts: attributes (first_name → FIRSTNAME, other fields upper-cased, attributes.NAME verbatim), the SMS attribute in E.164, " +
		"e-mail and SMS blacklist flags from consent fields, and list membership for segment syncs (list: a list id or name). See docs/destinations/brevo.md.",
	Fields: []config.FieldSpec{
		{Name: "api_key", Kind: config.String, Required: true, Secret: true, Doc: "Brevo API v3 key, sent as the api-key header. Write it as a ${VAR} reference, e.g. ${BREVO_API_KEY}."},
		{Name: "base_url", Kind: config.String, URL: true, Doc: "API root. Default: " + DefaultBaseURL + " (a proxy, or a test server)."},
		{Name: "list", Kind: config.String, Doc: "List of the syncs that name none: a Brevo list id (12) or name. Contacts a record sync creates are imported into it; segment syncs need a list (theirs or this one)."},
		{Name: "create_lists", Kind: config.Bool, Doc: "Create a list named by a sync (or by list) that does not exist yet, on the first run that sends something (check never creates anything). Default: false."},
		{Name: "list_folder_id", Kind: config.Int, Min: config.Bound(1), Doc: "Folder of the lists sluice creates. Default: the account's first folder."},
		{Name: "create_contacts", Kind: config.Bool, Doc: "Create contacts Brevo does not have (upserts and list entries). false: only update existing contacts; the others are rejected, and retried next run. Default: true."},
		{Name: "on_delete", Kind: config.String, Enum: []string{"unsubscribe", "delete_contact"}, Doc: "What a record sync's delete of a record that left the model (mirror mode) does: unsubscribe (default) sets the blacklist flag of the sync's channels (those of its email_consent/sms_consent fields, else the key's) and takes the contact out of the list, keeping it and its history; delete_contact deletes the contact (erasure). Withdrawn consent always unsubscribes, and segment exits always just leave the list."},
		{Name: "import_threshold", Kind: config.Int, Min: config.Bound(1), Max: config.Bound(1_000_000), Doc: "New contacts in one batch from which they are created by one asynchronous import (into the sync's list) rather than one request each. Default: 20."},
		{Name: "import_timeout", Kind: config.DurationKind, Doc: "How long to wait for an import to show its contacts before the run stops (they are sent again next run). Default: 5m."},
		withDefault(destination.BatchSizeField.WithMax(MaxListCall), "150, Brevo's most per list call (also the most allowed)"),
		withDefault(destination.RateField, "10, Brevo's limit for /contacts endpoints"),
		withDefault(destination.ConcurrencyField, "8 (batches wait for imports in parallel; the rate still caps requests)"),
		withDefault(destination.TimeoutField, "30s"),
		withDefault(destination.MaxRetriesField, "5"),
	},
}

func withDefault(f config.FieldSpec, def string) config.FieldSpec {
	f.Doc += " Default: " + def + "."
	return f
}

func init() { destination.Register(Spec, Open) }

// Defaults and Brevo's limits.
const (
	DefaultBaseURL         = "https://api.brevo.com/v3"
	MaxListCall            = 150 // contacts per list add/remove call
	DefaultRate            = 10  // requests a second on /contacts endpoints
	DefaultConcurrency     = 8
	DefaultImportThreshold = 20
	DefaultImportTimeout   = 5 * time.Minute
	// MaxImportBody is the safe size of an import's JSON body (Brevo takes
	// 10 MB and advises 8).
	MaxImportBody = 8 << 20
	maxAnswer     = 4 << 20
)

// Header names of Brevo's rate limit.
const (
	HeaderLimit     = "x-sib-ratelimit-limit"
	HeaderRemaining = "x-sib-ratelimit-remaining"
	HeaderReset     = "x-sib-ratelimit-reset"
)

// Brevo is an opened Brevo destination.
type Brevo struct {
	cfg    destination.Config
	base   string
	header http.Header
	client *destination.HTTPClient
	limits destination.Limits

	key             idKind
	mapping         mapping
	onDelete        string
	createContacts  bool
	importThreshold int
	importTimeout   time.Duration

	listRef     string // the sync's list, else the destination's
	createLists bool
	folderID    int64
	listMu      sync.Mutex
	listID      int64 // resolved, 0 until then

	importMu   sync.Mutex
	importWait time.Duration // how long the last import took to show its contacts

	allNew, skipped atomic.Int64 // batches in a row whose contacts were all new; probes skipped
}

var _ destination.Destination = (*Brevo)(nil)

// Open reads the options and builds the HTTP client.
func Open(_ context.Context, cfg destination.Config) (destination.Destination, error) {
	o := cfg.Options
	key, err1 := o.String("api_key", "")
	base, err2 := o.String("base_url", DefaultBaseURL)
	list, err3 := o.String("list", "")
	createLists, err4 := o.Bool("create_lists", false)
	folder, err5 := o.Int("list_folder_id", 0)
	createContacts, err6 := o.Bool("create_contacts", true)
	onDelete, err7 := o.String("on_delete", "unsubscribe")
	threshold, err8 := o.Int("import_threshold", DefaultImportThreshold)
	importTimeout, err9 := o.Duration("import_timeout", DefaultImportTimeout)
	batch, err10 := o.Int("batch_size", MaxListCall)
	rate, err11 := o.Float("rate", DefaultRate)
	conc, err12 := o.Int("concurrency", DefaultConcurrency)
	timeout, err13 := o.Duration("timeout", 0)
	retries, err14 := o.Int("max_retries", 5)
	if err := errors.Join(err1, err2, err3, err4, err5, err6, err7, err8, err9, err10, err11, err12, err13, err14); err != nil {
		return nil, cfg.Errorf("%w", err)
	}
	if strings.TrimSpace(key) == "" {
		return nil, cfg.Errorf("api_key is empty: set it to a ${VAR} reference to your Brevo API key")
	}
	base = strings.TrimRight(strings.TrimSpace(base), "/")
	if pu, err := url.Parse(base); err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
		return nil, cfg.Errorf("base_url must be an http:// or https:// address, like %s", DefaultBaseURL)
	}
	if cfg.Sync.Rate > 0 {
		rate = cfg.Sync.Rate
	}
	switch {
	case batch <= 0 || batch > MaxListCall:
		return nil, cfg.Errorf("batch_size must be between 1 and %d (Brevo's limit per list call)", MaxListCall)
	case rate <= 0 || conc <= 0:
		return nil, cfg.Errorf("rate and concurrency must be positive")
	case onDelete != "unsubscribe" && onDelete != "delete_contact":
		return nil, cfg.Errorf("on_delete must be unsubscribe or delete_contact, not %q", onDelete)
	case importTimeout <= 0:
		return nil, cfg.Errorf("import_timeout must be positive")
	}
	kind, err := keyKind(cfg.Sync.Key)
	if err != nil {
		return nil, cfg.Errorf("sync %s: %w", cfg.Sync.Name, err)
	}
	m := newMapping(cfg.Sync.Fields, kind)
	if onDelete == "unsubscribe" && !m.email && !m.sms && kind == byExtID && cfg.Sync.Mode == "mirror" {
		return nil, cfg.Errorf("sync %s: on_delete unsubscribe needs a channel: map email_consent or sms_consent, key the sync by email or SMS, or set on_delete: delete_contact", cfg.Sync.Name)
	}
	if retries == 0 {
		retries = -1
	}
	if cfg.Sync.List != "" {
		list = cfg.Sync.List
	}
	h := http.Header{}
	h.Set("api-key", key)
	h.Set("Accept", "application/json")
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", "sluice")
	contactsPath := pathOf(base) + "/contacts"
	b := &Brevo{
		cfg: cfg, base: base, header: h,
		client: destination.NewHTTPClient(destination.HTTPOptions{
			Name: cfg.Name + " (brevo)", Rate: rate, Burst: 1, Timeout: timeout, MaxRetries: retries,
			ResetHeaders: []string{HeaderReset},
			Quota: &destination.QuotaHeaders{
				Limit: HeaderLimit, Remaining: HeaderRemaining, Reset: HeaderReset,
				// Brevo counts /contacts endpoints apart from the others.
				Group: func(r *http.Request) string {
					if strings.HasPrefix(r.URL.Path, contactsPath) {
						return "contacts"
					}
					return "other"
				},
			},
			Logger: cfg.Logger,
		}),
		limits:  destination.Limits{BatchSize: batch, MaxBatchSize: MaxListCall, Concurrency: conc},
		key:     kind,
		mapping: m, onDelete: onDelete, createContacts: createContacts,
		importThreshold: max(1, threshold), importTimeout: importTimeout,
		listRef: strings.TrimSpace(list), createLists: createLists, folderID: int64(folder),
		importWait: time.Second,
	}
	return b, nil
}

func pathOf(base string) string {
	pu, err := url.Parse(base)
	if err != nil {
		return ""
	}
	return strings.TrimRight(pu.Path, "/")
}

// Limits implements destination.Destination.
func (b *Brevo) Limits() destination.Limits { return b.limits }

// Close implements destination.Destination.
func (b *Brevo) Close() error { b.client.Close(); return nil }

// Check implements destination.Destination: the key must open the account
// (GET /account) and the list must exist, or be one sluice may create.
// Nothing is changed.
func (b *Brevo) Check(ctx context.Context) error {
	var acct struct {
		Email       string `json:"email"`
		CompanyName string `json:"companyName"`
	}
	if err := b.call(ctx, http.MethodGet, "/account", nil, &acct); err != nil {
		return b.errFatal("checking the API key", err)
	}
	if b.listRef == "" {
		return nil
	}
	if _, err := b.list(ctx, false); err != nil {
		return b.cfg.Errorf("checking list %q: %w", b.listRef, err)
	}
	return nil
}
