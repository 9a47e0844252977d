// Package webhook is the webhook destination: sluice POSTs each batch as
// JSON to a URL of yours.
//
// Protocol (docs/syncs.md):
//
//	POST <url>
//	{"sync": NAME, "run_id": ID, "mode": MODE,
//	 "operations": [{"op": "upsert"|"delete"|"add"|"remove", "key": KEY, "fields": {...}}]}
//
// An erasure (a person to forget, GDPR article 17) is a request of its own
// whose operations are all {"op": "erase", "key": KEY, "fields": {}}, with
// the erasure request's id as run_id and no mode; the answers mean the same.
// A receiver that cannot erase is configured with erase: false.
//
// A 2xx answer (other than 207) accepts every operation. 207 carries
// {"results": [{"key": KEY, "ok": bool, "error": "..."}]}, one per key. 429
// and 5xx are retried, honouring Retry-After; 401 and 403 stop the run (bad
// credentials); any other 4xx rejects the batch's records, which are stored
// with the error and sent again on the next run. Before the first batch of
// a run, and for `check`, sluice POSTs an empty operations list, which a
// receiver must accept.
package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/connectors/destination"
)

// Spec is the webhook's configuration.
var Spec = config.ComponentSpec{
	Type:    "webhook",
	Summary: "POST each batch as JSON to your own service: {\"sync\", \"run_id\", \"operations\": [{\"op\", \"key\", \"fields\"}]}. 2xx accepts the batch, 207 answers per record, 429 and 5xx are retried honouring Retry-After, other 4xx reject the batch's records. See docs/syncs.md.",
	Fields: []config.FieldSpec{
		{Name: "url", Kind: config.String, Required: true, URL: true, Doc: "Endpoint that receives the batches (http or https)."},
		{Name: "bearer_token", Kind: config.String, Secret: true, Doc: "Sent as Authorization: Bearer TOKEN."},
		{Name: "headers", Kind: config.StrMap, Headers: true, Doc: "Extra request headers; write secret values as ${VAR}."},
		withDefault(destination.BatchSizeField, "500"),
		withDefault(destination.RateField, "20"),
		withDefault(destination.ConcurrencyField, "4"),
		withDefault(destination.TimeoutField, "30s"),
		withDefault(destination.MaxRetriesField, "5"),
		{Name: "erase", Kind: config.Bool, Doc: "Whether the receiver handles erase operations, people to forget (see docs/syncs.md). false: sluice sends none, and the erasure audit lists this destination as needing manual action. Default: true."},
	},
}

func withDefault(f config.FieldSpec, def string) config.FieldSpec {
	f.Doc += " Default: " + def + "."
	return f
}

func init() { destination.Register(Spec, Open) }

// Defaults.
const (
	DefaultBatchSize   = 500
	DefaultRate        = 20
	DefaultConcurrency = 4
	maxBody            = 4 << 20
)

// Webhook is an opened webhook destination.
type Webhook struct {
	cfg    destination.Config
	url    string
	where  string           // the URL as messages show it
	hide   *config.Redactor // what error texts must not quote
	header http.Header
	client *destination.HTTPClient
	limits destination.Limits
	erase  bool // the receiver handles erase operations
}

var (
	_ destination.Destination = (*Webhook)(nil)
	_ destination.Eraser      = (*Webhook)(nil)
)

// Open reads the options and builds the HTTP client.
func Open(_ context.Context, cfg destination.Config) (destination.Destination, error) {
	o := cfg.Options
	u, err := o.String("url", "")
	if err != nil {
		return nil, cfg.Errorf("%w", err)
	}
	pu, perr := url.Parse(u)
	if perr != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
		return nil, cfg.Errorf("url must be an http:// or https:// address")
	}
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", "sluice")
	headers, err := o.StringMap("headers")
	if err != nil {
		return nil, cfg.Errorf("%w", err)
	}
	for _, kv := range headers {
		h.Set(kv[0], kv[1])
	}
	if tok, _ := o.String("bearer_token", ""); tok != "" {
		h.Set("Authorization", "Bearer "+tok)
	}
	batch, err1 := o.Int("batch_size", DefaultBatchSize)
	rate, err2 := o.Float("rate", DefaultRate)
	conc, err3 := o.Int("concurrency", DefaultConcurrency)
	timeout, err4 := o.Duration("timeout", 0)
	retries, err5 := o.Int("max_retries", 5)
	erase, err6 := o.Bool("erase", true)
	if err := errors.Join(err1, err2, err3, err4, err5, err6); err != nil {
		return nil, cfg.Errorf("%w", err)
	}
	if cfg.Sync.Rate > 0 {
		rate = cfg.Sync.Rate
	}
	if batch <= 0 || rate <= 0 || conc <= 0 {
		return nil, cfg.Errorf("batch_size, rate and concurrency must be positive")
	}
	if retries == 0 {
		retries = -1
	}
	where, hide := shownURL(u, o.FromEnv("url"))
	return &Webhook{
		cfg: cfg, url: u, header: h, where: where, hide: hide,
		client: destination.NewHTTPClient(destination.HTTPOptions{
			Name: cfg.Name, Rate: rate, Burst: 1, Timeout: timeout, MaxRetries: retries,
			ResetHeaders: []string{"X-RateLimit-Reset", "RateLimit-Reset"},
			Logger:       cfg.Logger,
		}),
		limits: destination.Limits{BatchSize: batch, Concurrency: conc},
		erase:  erase,
	}, nil
}

// Limits implements destination.Destination.
func (w *Webhook) Limits() destination.Limits { return w.limits }

// Close implements destination.Destination.
func (w *Webhook) Close() error { w.client.Close(); return nil }

// Payload is the body of a request.
type Payload struct {
	Sync       string      `json:"sync"`
	RunID      string      `json:"run_id"`
	Mode       string      `json:"mode,omitempty"`
	List       string      `json:"list,omitempty"`
	Operations []Operation `json:"operations"`
}

// Operation is one record of a Payload.
type Operation struct {
	Op     string         `json:"op"`
	Key    string         `json:"key"`
	Fields map[string]any `json:"fields"`
	// Consent is the record's per-purpose consent (true, false, null for
	// unspecified), for syncs whose consent maps purposes; left out
	// otherwise.
	Consent map[string]*bool `json:"consent,omitempty"`
}

// Response is the body of a 207 answer.
type Response struct {
	Results []Result `json:"results"`
}

// Result is one record's outcome in a 207 answer.
type Result struct {
	Key   string `json:"key"`
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
}

// Check implements destination.Destination: an empty batch must be
// accepted, which proves the URL answers and the credentials are good.
func (w *Webhook) Check(ctx context.Context) error {
	_, err := w.post(ctx, &Payload{Sync: w.cfg.Sync.Name, RunID: "check", Mode: w.cfg.Sync.Mode, Operations: []Operation{}}, nil)
	if err != nil {
		var rej *destination.BatchRejected
		if errors.As(err, &rej) {
			return w.cfg.Errorf("checking %s: %w", w.where, w.hide.Error(rej.Err))
		}
		return err
	}
	return nil
}

// Write implements destination.Destination.
func (w *Webhook) Write(ctx context.Context, b *destination.Batch) ([]error, error) {
	p := &Payload{Sync: b.Sync, RunID: b.RunID, Mode: b.Mode, List: b.List, Operations: make([]Operation, len(b.Records))}
	for i, r := range b.Records {
		fields := r.Fields
		if fields == nil {
			fields = map[string]any{}
		}
		p.Operations[i] = Operation{Op: string(r.Op), Key: r.Key, Fields: fields, Consent: r.Consent}
	}
	return w.post(ctx, p, b.Records)
}

func (w *Webhook) post(ctx context.Context, p *Payload, records []destination.Record) ([]error, error) {
	body, err := appendPayload(make([]byte, 0, 256*len(p.Operations)+128), p)
	if err != nil {
		return nil, w.cfg.Errorf("encoding batch: %w", err)
	}
	resp, err := w.client.Do(ctx, http.MethodPost, w.url, w.header, body)
	if err != nil {
		if resp != nil {
			resp.Body.Close()
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, w.cfg.Errorf("posting to %s: %w", w.where, w.hide.Error(err))
	}
	rb, err := destination.ReadBody(resp, maxBody)
	if err != nil {
		return nil, w.cfg.Errorf("reading the answer of %s: %w", w.where, w.hide.Error(err))
	}
	status := resp.StatusCode
	switch {
	case status == http.StatusMultiStatus:
		return w.perRecord(rb, records)
	case status >= 200 && status < 300:
		return make([]error, len(records)), nil
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return nil, w.cfg.Errorf("%s refused the credentials (HTTP %d: %s): check bearer_token and headers", w.where, status, w.hide.Redact(destination.Snippet(rb)))
	case destination.Retryable(status):
		return nil, w.cfg.Errorf("%s still answered HTTP %d after retries: %s", w.where, status, w.hide.Redact(destination.Snippet(rb)))
	default:
		return nil, destination.RejectBatch(fmt.Errorf("HTTP %d: %s", status, destination.Snippet(rb)))
	}
}

func (w *Webhook) perRecord(body []byte, records []destination.Record) ([]error, error) {
	var r Response
	if err := json.NewDecoder(bytes.NewReader(body)).Decode(&r); err != nil {
		return nil, w.cfg.Errorf("reading the 207 answer: %w (body: %s)", err, destination.Snippet(body))
	}
	byKey := make(map[string]Result, len(r.Results))
	for _, res := range r.Results {
		byKey[res.Key] = res
	}
	errs := make([]error, len(records))
	for i, rec := range records {
		res, ok := byKey[rec.Key]
		switch {
		case !ok:
			errs[i] = errors.New("the webhook's 207 answer has no result for this key")
		case !res.OK:
			msg := strings.TrimSpace(res.Error)
			if msg == "" {
				msg = "rejected by the webhook"
			}
			errs[i] = errors.New(msg)
		}
	}
	return errs, nil
}

// shownURL tells how messages name the webhook's URL, and what their error
// texts must hide: Go's HTTP errors quote the whole URL (Post "URL": ...)
// and DNS errors its host. A URL from the environment is a secret (the path
// of a Slack-style hook is its token), so none of it is shown; a literal
// one loses its credentials and query string.
func shownURL(u string, fromEnv bool) (string, *config.Redactor) {
	if fromEnv {
		return "url " + config.EnvMarker, config.NewRedactor(u)
	}
	hide := &config.Redactor{}
	if pu, err := url.Parse(u); err == nil && pu.User != nil {
		hide.Add(pu.User.String())
	}
	if pu, err := url.Parse(u); err == nil && pu.RawQuery != "" {
		hide.Add(pu.RawQuery)
	}
	return redact(u), hide
}

// redact drops credentials and the query string from a URL for messages.
func redact(u string) string {
	pu, err := url.Parse(u)
	if err != nil {
		return "the webhook"
	}
	pu.User = nil
	pu.RawQuery = ""
	return pu.String()
}

// opErase is the operation of an erasure request.
const opErase destination.Op = "erase"

// Erase implements destination.Eraser: the keys go in requests of
// batch_size erase operations, one after the other (erasures are few). A
// batch the receiver rejects (a 4xx other than 401 and 403) gives its keys
// that error as outcome; credentials refused, retries exhausted or a
// network failure fail the whole call, so that every key is tried again.
func (w *Webhook) Erase(ctx context.Context, e *destination.Erasure) ([]destination.ErasureOutcome, error) {
	if !w.erase {
		return nil, w.cfg.Errorf("erase is false for this receiver: %w", destination.ErrCannotErase)
	}
	sync := e.Sync
	if sync == "" {
		sync = w.cfg.Sync.Name
	}
	out := make([]destination.ErasureOutcome, 0, len(e.Keys))
	for start := 0; start < len(e.Keys); start += w.limits.BatchSize {
		keys := e.Keys[start:min(start+w.limits.BatchSize, len(e.Keys))]
		p := &Payload{Sync: sync, RunID: e.RequestID, Operations: make([]Operation, 0, len(keys))}
		records := make([]destination.Record, len(keys))
		seen := make(map[string]bool, len(keys))
		for i, k := range keys {
			records[i] = destination.Record{Op: opErase, Key: k}
			// A key appears once per request (the protocol's promise); a
			// repeated one gets the same outcome.
			if !seen[k] {
				seen[k] = true
				p.Operations = append(p.Operations, Operation{Op: string(opErase), Key: k, Fields: map[string]any{}})
			}
		}
		errs, err := w.post(ctx, p, records)
		var rej *destination.BatchRejected
		switch {
		case errors.As(err, &rej):
			rerr := w.cfg.Errorf("erasing: %w", w.hide.Error(rej.Err))
			for range keys {
				out = append(out, destination.ErasureOutcome{Err: rerr})
			}
		case err != nil:
			return nil, fmt.Errorf("erasing %d keys: %w", len(e.Keys), err)
		default:
			for _, err := range errs {
				out = append(out, destination.ErasureOutcome{Err: err})
			}
		}
	}
	return out, nil
}
