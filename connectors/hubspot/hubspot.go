// Package hubspot is the HubSpot destination: it keeps HubSpot contacts and
// their properties in step with a record sync, the members of a static
// list in step with a segment sync (lists.go), and erases contacts on
// request (erase.go; docs/destinations/hubspot.md).
//
// # How records become API calls
//
// Upserts go to POST /crm/v3/objects/contacts/batch/upsert, at most 100
// inputs a call, identified by idProperty (email, or a property with
// unique values). Every input carries objectWriteTraceId, its index in the
// call: without it HubSpot fails the whole batch with the first input's
// error, with it HubSpot answers 207 and names each failed input, so one
// bad record never holds back the others. A record counts as delivered
// only when the answer lists it in results; a 2xx that does not account
// for a record leaves it rejected, to be sent again next run.
//
// Deletes (mirror mode: the record left the model, or its consent was
// withdrawn) archive the contact: its record id is looked up with
// POST /crm/v3/objects/contacts/batch/read by idProperty, then
// POST /crm/v3/objects/contacts/batch/archive. Archiving is HubSpot's own
// delete (the contact can be restored for 90 days, and the e-mail can come
// back), unlike a GDPR deletion, which forbids the address for good and
// is kept for erasure (erase.go). A contact HubSpot does not have is
// already gone: its delete is accepted.
package hubspot

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/connectors/destination"
)

// HubSpot's limits and sluice's defaults.
const (
	DefaultBaseURL = "https://api.hubapi.com"
	// MaxBatch is HubSpot's limit of inputs per batch call.
	MaxBatch = 100
	// DefaultRate keeps under a private app's 190 requests per 10 s
	// (Professional and Enterprise), with room for other clients.
	DefaultRate    = 19
	DefaultRetries = 5
	maxAnswer      = 8 << 20
)

// Spec is the HubSpot destination's configuration.
var Spec = config.ComponentSpec{
	Type: "hubspot",
	Summary: "HubSpot contacts: each mapped field is a contact property, upserted in batches of up to 100 by email or a unique property; " +
		"deletes archive the contact; segment syncs keep a static list's members (list: an id or name); erasure uses HubSpot's GDPR delete. See docs/destinations/hubspot.md.",
	Fields: []config.FieldSpec{
		{Name: "access_token", Kind: config.String, Required: true, Secret: true, Doc: "Private app access token, sent as a Bearer token. Scopes: crm.objects.contacts.read and .write, crm.schemas.contacts.read (and .write with create_properties), crm.lists.read and .write for segment syncs. Write it as a ${VAR} reference, e.g. ${HUBSPOT_TOKEN}."},
		{Name: "base_url", Kind: config.String, URL: true, Doc: "API root. Default: " + DefaultBaseURL + " (a proxy, or a test server)."},
		{Name: "id_property", Kind: config.String, Doc: "Contact property that identifies a record: email, or a property with unique values. Its value is the sync's key, or the mapped field of that name. Default: the sync's key field."},
		{Name: "list", Kind: config.String, Doc: "Contact list of the segment syncs that name none: a list id (all digits) or name. It must be a static (MANUAL or SNAPSHOT) list: HubSpot fills active (DYNAMIC) lists itself."},
		{Name: "create_lists", Kind: config.Bool, Doc: "Create a list named by a sync (or by list) that does not exist yet, as a static (MANUAL) list, on the first run that sends something (check creates nothing). Default: false."},
		{Name: "time_zone", Kind: config.String, Doc: "The HubSpot account's time zone (Settings > Account Defaults), an IANA name such as America/New_York: HubSpot resets the daily request quota at midnight there, which is when a run stopped by it can resume. Default: UTC."},
		{Name: "create_properties", Kind: config.Bool, Doc: "Create the mapped fields that are not contact properties yet, as single-line text properties, before the first records are sent (check creates nothing). Default: false: check names the missing ones."},
		withDefault(destination.BatchSizeField.WithMax(MaxBatch), "100, HubSpot's most per batch call (also the most allowed)"),
		withDefault(destination.RateField, "19, under a private app's 190 requests per 10 seconds"),
		withDefault(destination.TimeoutField, "30s"),
		withDefault(destination.MaxRetriesField, "5"),
	},
}

func withDefault(f config.FieldSpec, def string) config.FieldSpec {
	f.Doc += " Default: " + def + "."
	return f
}

func init() { destination.Register(Spec, Open) }

// HubSpot is an opened HubSpot destination.
type HubSpot struct {
	cfg    destination.Config
	base   string
	header http.Header
	client *destination.HTTPClient
	limits destination.Limits

	idProperty  string
	fields      []string // mapped fields sent as properties (the idProperty aside)
	createProps bool

	propsMu    sync.Mutex
	propsReady bool // create_properties done

	listRef     string // the sync's list, else the destination's: an id or a name
	createLists bool
	listMu      sync.Mutex
	listID      string // resolved; "" until then
}

var (
	_ destination.Destination = (*HubSpot)(nil)
	_ destination.Eraser      = (*HubSpot)(nil)
)

// Open reads the options and builds the HTTP client; it sends nothing.
func Open(_ context.Context, cfg destination.Config) (destination.Destination, error) {
	o := cfg.Options
	token, err1 := o.String("access_token", "")
	base, err2 := o.String("base_url", DefaultBaseURL)
	idProp, err3 := o.String("id_property", cfg.Sync.Key)
	create, err4 := o.Bool("create_properties", false)
	batch, err5 := o.Int("batch_size", MaxBatch)
	rate, err6 := o.Float("rate", DefaultRate)
	timeout, err7 := o.Duration("timeout", 0)
	retries, err8 := o.Int("max_retries", DefaultRetries)
	list, err9 := o.String("list", "")
	createLists, err10 := o.Bool("create_lists", false)
	tz, err11 := o.String("time_zone", "")
	if err := errors.Join(err1, err2, err3, err4, err5, err6, err7, err8, err9, err10, err11); err != nil {
		return nil, cfg.Errorf("%w", err)
	}
	loc, err := accountZone(tz)
	if err != nil {
		return nil, cfg.Errorf("%w", err)
	}
	if strings.TrimSpace(token) == "" {
		return nil, cfg.Errorf("access_token is empty: set it to a ${VAR} reference to your private app's token")
	}
	base = strings.TrimRight(strings.TrimSpace(base), "/")
	if pu, err := url.Parse(base); err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
		return nil, cfg.Errorf("base_url must be an http:// or https:// address, like %s", DefaultBaseURL)
	}
	if cfg.Sync.BatchSize > 0 {
		batch = cfg.Sync.BatchSize
	}
	if cfg.Sync.Rate > 0 {
		rate = cfg.Sync.Rate
	}
	switch {
	case batch <= 0 || batch > MaxBatch:
		return nil, cfg.Errorf("batch_size must be between 1 and %d (HubSpot's limit per batch call)", MaxBatch)
	case rate <= 0:
		return nil, cfg.Errorf("rate must be positive")
	}
	switch cfg.Sync.Mode {
	case "", "upsert", "update", "mirror":
	default:
		return nil, cfg.Errorf("sync %s: mode %s is not supported by HubSpot yet (upsert, update and mirror are)", cfg.Sync.Name, cfg.Sync.Mode)
	}
	fields, err := propertyFields(cfg.Sync, idProp)
	if err != nil {
		return nil, cfg.Errorf("sync %s: %w", cfg.Sync.Name, err)
	}
	if cfg.Sync.List != "" {
		list = cfg.Sync.List
	}
	if retries == 0 {
		retries = -1 // the client reads 0 as its default
	}
	h := http.Header{}
	h.Set("Authorization", "Bearer "+strings.TrimSpace(token))
	h.Set("Accept", "application/json")
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", "sluice")
	return &HubSpot{
		cfg: cfg, base: base, header: h,
		client: destination.NewHTTPClient(destination.HTTPOptions{
			Name: cfg.Name + " (hubspot)", Rate: rate, Burst: 1, Timeout: timeout, MaxRetries: retries,
			// X-HubSpot-RateLimit-* pace the requests; a 429 naming DAILY
			// stops the run with the reset time, TEN_SECONDLY_ROLLING waits.
			Quotas: destination.HubSpotQuotas(loc),
			Logger: cfg.Logger,
		}),
		limits:     destination.Limits{BatchSize: batch, MaxBatchSize: MaxBatch, Concurrency: 1},
		idProperty: idProp, fields: fields, createProps: create,
		listRef: strings.TrimSpace(list), createLists: createLists,
	}, nil
}

// accountZone reads time_zone: the account's zone, UTC when unset.
func accountZone(name string) (*time.Location, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return time.UTC, nil
	}
	loc, err := time.LoadLocation(name)
	if err != nil || strings.EqualFold(name, "local") {
		return nil, fmt.Errorf("time_zone %q is not an IANA time zone name: write the account's zone as HubSpot shows it, such as Europe/Paris or America/New_York", name)
	}
	return loc, nil
}

// propertyFields checks the sync's mapping against what HubSpot takes and
// returns the fields sent as properties: top-level names only (a contact
// property is flat), the idProperty left out since it travels as the id.
func propertyFields(s destination.SyncInfo, idProp string) ([]string, error) {
	if idProp == "" {
		return nil, errors.New("id_property is empty and the sync has no key field")
	}
	if idProp != s.Key && s.Key != "" && !contains(s.Fields, idProp) {
		return nil, errors.New("id_property " + idProp + " is neither the sync's key nor a mapped field: map it, or leave id_property unset to use the key")
	}
	var out, nested []string
	for _, f := range s.Fields {
		if strings.Contains(f, ".") {
			nested = append(nested, f)
			continue
		}
		if f != idProp {
			out = append(out, f)
		}
	}
	if len(nested) > 0 {
		return nil, errors.New("HubSpot contact properties are flat, but the mapping has nested fields (" + strings.Join(nested, ", ") + "): map each to a property name without a dot")
	}
	return out, nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// Limits implements destination.Destination.
func (h *HubSpot) Limits() destination.Limits { return h.limits }

// Close implements destination.Destination.
func (h *HubSpot) Close() error { h.client.Close(); return nil }
