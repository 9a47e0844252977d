package destination

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-retryablehttp"
	"golang.org/x/time/rate"
)

// HTTPOptions configure the shared HTTP client of HTTP destinations.
type HTTPOptions struct {
	Name string // destination name, for logs

	// Rate limits requests per second (every attempt, retries included);
	// 0 means no limit. Burst is the token bucket's size (default 1).
	Rate  float64
	Burst int

	Timeout      time.Duration // per attempt; default 30s
	MaxRetries   int           // default 5; negative means none
	RetryWaitMin time.Duration // default 500ms
	RetryWaitMax time.Duration // default 30s: the exponential backoff's cap
	// MaxRetryAfter caps how long a Retry-After (or vendor header) may make
	// the client wait before one retry; a longer wait gives up on the
	// request instead, so that a run never sleeps for an hour. Default 2m.
	MaxRetryAfter time.Duration
	// ResetHeaders are vendor headers carrying the seconds until a rate
	// limit resets (for example Brevo's x-sib-ratelimit-reset); values
	// above 1e9 are read as Unix times. Retry-After is always honoured.
	ResetHeaders []string
	// Quota names the headers by which the server announces what is left
	// of its limits, to slow down before they run out (see QuotaHeaders).
	Quota *QuotaHeaders
	// Quotas are further quotas counted at the same time (a rolling
	// 10-second window and a daily quota, say): a request waits for each
	// in turn, so the tightest wins. HubSpotQuotas is one such set.
	Quotas []*QuotaHeaders
	// Endpoints limit requests per endpoint, with windows (a burst and a
	// steady window, say) that must all have room, for vendors that
	// publish such limits; the first endpoint a request matches applies.
	// A 429 with a wait holds back every request to that endpoint.
	Endpoints []EndpointLimit
	// LimitKey, when set, shares the endpoint limiters with every client of
	// the process that has the same key and endpoints: use one key per
	// vendor account (a hash of the base URL and credentials), since
	// vendors count per account and each sync run opens its own client.
	LimitKey string
	// WindowMargin is added to every endpoint window (default
	// DefaultWindowMargin; negative: none).
	WindowMargin time.Duration

	// Logger receives the client's debug lines. A destination's logger
	// (Config.Logger) already names the destination, so lines add no
	// destination of their own: a JSON line carries each key once.
	Logger *slog.Logger
}

// HTTPClient sends requests paced by a token bucket and retried on 429,
// 5xx, timeouts and connection errors, waiting what the server asks
// (Retry-After, as seconds or an HTTP date, or a vendor reset header), else
// an exponential backoff.
type HTTPClient struct {
	rc        *retryablehttp.Client
	transport *http.Transport
	limiter   *rate.Limiter
}

// NewHTTPClient builds the client. Close it to release its connections.
func NewHTTPClient(o HTTPOptions) *HTTPClient {
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	if o.MaxRetries == 0 {
		o.MaxRetries = 5
	}
	if o.MaxRetries < 0 {
		o.MaxRetries = 0
	}
	if o.RetryWaitMin <= 0 {
		o.RetryWaitMin = 500 * time.Millisecond
	}
	if o.RetryWaitMax <= 0 {
		o.RetryWaitMax = 30 * time.Second
	}
	if o.MaxRetryAfter <= 0 {
		o.MaxRetryAfter = 2 * time.Minute
	}
	if o.Burst <= 0 {
		o.Burst = 1
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 32
	var limiter *rate.Limiter
	if o.Rate > 0 {
		limiter = rate.NewLimiter(rate.Limit(o.Rate), o.Burst)
	}
	switch {
	case o.WindowMargin == 0:
		o.WindowMargin = DefaultWindowMargin
	case o.WindowMargin < 0:
		o.WindowMargin = 0
	}
	c := &HTTPClient{transport: tr, limiter: limiter}
	rc := retryablehttp.NewClient()
	rc.HTTPClient = &http.Client{Transport: newPacedTransport(o, tr, limiter), Timeout: o.Timeout}
	rc.Logger = nil
	rc.RetryMax = o.MaxRetries
	rc.RetryWaitMin = o.RetryWaitMin
	rc.RetryWaitMax = o.RetryWaitMax
	rc.ErrorHandler = retryablehttp.PassthroughErrorHandler
	rc.CheckRetry = func(ctx context.Context, resp *http.Response, err error) (bool, error) {
		if ctx.Err() != nil {
			return false, ctx.Err()
		}
		if err != nil {
			var qerr *QuotaError
			if errors.As(err, &qerr) {
				return false, err // waiting longer than a run does: stop
			}
			var uerr *url.Error
			if errors.As(err, &uerr) {
				var cert x509.UnknownAuthorityError
				if errors.As(uerr.Err, &cert) {
					return false, err
				}
			}
			return true, nil // connection refused, reset, timeout: try again
		}
		if !Retryable(resp.StatusCode) {
			return false, nil
		}
		if wait, ok := serverWait(resp, o.ResetHeaders); ok && wait > o.MaxRetryAfter {
			return false, fmt.Errorf("%s asks to wait %s before retrying (HTTP %d), more than the %s sluice waits within a run", o.Name, wait.Round(time.Second), resp.StatusCode, o.MaxRetryAfter)
		}
		return true, nil
	}
	rc.Backoff = func(min, max time.Duration, attempt int, resp *http.Response) time.Duration {
		if resp != nil {
			if wait, ok := serverWait(resp, o.ResetHeaders); ok {
				return wait
			}
		}
		// Exponential with full jitter, between min and max.
		d := float64(min) * math.Pow(2, float64(attempt))
		if d > float64(max) || d <= 0 {
			d = float64(max)
		}
		return min + time.Duration(rand.Float64()*(d-float64(min)))
	}
	rc.ResponseLogHook = func(_ retryablehttp.Logger, resp *http.Response) {
		if resp.StatusCode >= 400 {
			o.Logger.Debug("request answered", "status", resp.StatusCode, "retry_after", resp.Header.Get("Retry-After"))
		}
	}
	rc.RequestLogHook = func(_ retryablehttp.Logger, req *http.Request, attempt int) {
		if attempt > 0 {
			o.Logger.Debug("retrying request", "method", req.Method, "host", req.URL.Host, "attempt", attempt)
		}
	}
	c.rc = rc
	return c
}

// Retryable reports whether an HTTP status means "try the same request
// again later": 429 and 5xx other than 501 Not Implemented.
func Retryable(status int) bool {
	return status == http.StatusTooManyRequests || (status >= 500 && status != http.StatusNotImplemented)
}

// Do sends a request with a replayable body.
func (c *HTTPClient) Do(ctx context.Context, method, url string, header http.Header, body []byte) (*http.Response, error) {
	req, err := retryablehttp.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		return nil, err
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	return c.rc.Do(req)
}

// Close releases idle connections (and their goroutines).
func (c *HTTPClient) Close() { c.transport.CloseIdleConnections() }

// pacedTransport waits for a token before every attempt, and tells the
// context's HTTPObserver, if any, how each attempt went.
type pacedTransport struct {
	base    http.RoundTripper
	limiter *rate.Limiter
	name    string
	quotas  []*quotaPacer
	maxWait time.Duration
	// peekBody: some quota reads a 429's body for the policy it names.
	peekBody bool
	// endpoints pace each endpoint's windows; resetHeaders read a 429's
	// wait for them.
	endpoints    *endpointLimiters
	resetHeaders []string
}

func newPacedTransport(o HTTPOptions, base http.RoundTripper, limiter *rate.Limiter) *pacedTransport {
	t := &pacedTransport{base: base, limiter: limiter, name: o.Name, maxWait: o.MaxRetryAfter,
		endpoints: newEndpointLimiters(o.LimitKey, o.Endpoints, o.WindowMargin), resetHeaders: o.ResetHeaders}
	for _, h := range append([]*QuotaHeaders{o.Quota}, o.Quotas...) {
		if q := newQuotaPacer(h); q != nil {
			t.quotas = append(t.quotas, q)
			t.peekBody = t.peekBody || h.PolicyField != ""
		}
	}
	return t
}

func (t *pacedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if t.limiter != nil {
		if err := t.limiter.Wait(req.Context()); err != nil {
			return nil, err
		}
	}
	if len(t.quotas) == 0 {
		return t.roundTrip(req)
	}
	turns := make([]quotaTurn, 0, len(t.quotas))
	for _, q := range t.quotas {
		turn, err := q.wait(req, t.name, t.maxWait)
		if err != nil {
			for i, turn := range turns {
				t.quotas[i].release(turn) // not sent: give back the turns taken
			}
			return nil, err
		}
		turns = append(turns, turn)
	}
	resp, err := t.roundTrip(req)
	var body map[string]any
	if t.peekBody && resp != nil && resp.StatusCode == http.StatusTooManyRequests {
		body = peekPolicyBody(resp)
	}
	var held error
	for i, q := range t.quotas {
		if q.observe(turns[i], resp, body) && held == nil {
			held = q.heldError(turns[i].group, t.name, t.maxWait)
		}
	}
	if held != nil {
		// The 429 names a quota used up for longer than a run waits (a
		// daily one): stop now with its reset rather than retry into it.
		_, _ = ReadBody(resp, 1<<20)
		return nil, held
	}
	return resp, err
}

func (t *pacedTransport) roundTrip(req *http.Request) (*http.Response, error) {
	// The endpoint's turn is taken last, right before sending, so that the
	// times its windows book are the times requests leave.
	if ep := t.endpoints.For(req); ep != nil {
		if err := ep.Wait(req.Context()); err != nil {
			return nil, err
		}
		resp, err := t.observed(req)
		if resp != nil && resp.StatusCode == http.StatusTooManyRequests {
			if wait, ok := serverWait(resp, t.resetHeaders); ok {
				ep.PauseUntil(time.Now().Add(wait))
			}
		}
		return resp, err
	}
	return t.observed(req)
}

func (t *pacedTransport) observed(req *http.Request) (*http.Response, error) {
	observe, _ := req.Context().Value(observerKey{}).(HTTPObserver)
	if observe == nil {
		return t.base.RoundTrip(req)
	}
	start := time.Now()
	resp, err := t.base.RoundTrip(req)
	ev := HTTPEvent{Destination: t.name, Method: req.Method, Duration: time.Since(start), Err: err}
	if resp != nil {
		ev.Status = resp.StatusCode
	}
	observe(ev)
	return resp, err
}

// HTTPEvent is one attempt of a destination request, as its observer sees
// it: no URL, header or body, which may carry secrets or personal data.
type HTTPEvent struct {
	Destination string // HTTPOptions.Name
	Method      string
	Status      int // 0 when no answer came (Err says why)
	Duration    time.Duration
	Err         error
}

// HTTPObserver is told about every attempt (retries included) of the
// requests sent with a context that carries it: metrics, for instance.
type HTTPObserver func(HTTPEvent)

type observerKey struct{}

// WithHTTPObserver returns a context whose destination requests are
// reported to observe.
func WithHTTPObserver(ctx context.Context, observe HTTPObserver) context.Context {
	return context.WithValue(ctx, observerKey{}, observe)
}

// serverWait reads how long the server asks to wait: Retry-After (seconds
// or an HTTP date), else the first vendor reset header present.
func serverWait(resp *http.Response, resetHeaders []string) (time.Duration, bool) {
	if v := strings.TrimSpace(resp.Header.Get("Retry-After")); v != "" {
		if n, err := strconv.ParseFloat(v, 64); err == nil && n >= 0 {
			return time.Duration(n * float64(time.Second)), true
		}
		if t, err := http.ParseTime(v); err == nil {
			return max(0, time.Until(t)), true
		}
	}
	for _, h := range resetHeaders {
		v := strings.TrimSpace(resp.Header.Get(h))
		if v == "" {
			continue
		}
		n, err := strconv.ParseFloat(v, 64)
		if err != nil || n < 0 {
			continue
		}
		if n > 1e9 { // a Unix time
			return max(0, time.Until(time.Unix(int64(n), 0))), true
		}
		return time.Duration(n * float64(time.Second)), true
	}
	return 0, false
}

// ReadBody reads at most limit bytes of a response body and closes it.
func ReadBody(resp *http.Response, limit int64) ([]byte, error) {
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, limit))
	if err != nil {
		return b, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20)) // let the connection be reused
	return b, nil
}

// Snippet shortens a response body for an error message.
func Snippet(b []byte) string {
	s := strings.TrimSpace(string(b))
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 200 {
		s = s[:197] + "..."
	}
	if s == "" {
		return "(empty body)"
	}
	return s
}
