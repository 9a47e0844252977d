package googleads

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	"golang.org/x/time/rate"
)

// retryTransport paces requests with a token bucket and retries those
// answered 429 or 5xx (or that failed to connect), waiting what Google asks.
//
// The shared destination.HTTPClient does the same for the other HTTP
// destinations, but it is not an http.RoundTripper (the generated client
// needs one, under the OAuth transport), and it reads the wait from
// Retry-After, while Google puts it in the error body: a google.rpc.Status
// whose details hold a RetryInfo with retryDelay ("1.5s").
type retryTransport struct {
	base       *http.Transport
	limiter    *rate.Limiter
	maxRetries int
	waitMin    time.Duration
	waitMax    time.Duration
	maxWait    time.Duration // a longer RetryInfo gives up instead of sleeping
	logger     *slog.Logger
}

// maxErrorBody bounds how much of an error answer is read to find its
// RetryInfo.
const maxErrorBody = 1 << 20

func newRetryTransport(reqRate float64, timeout time.Duration, maxRetries int, logger *slog.Logger) *retryTransport {
	base := http.DefaultTransport.(*http.Transport).Clone()
	base.ResponseHeaderTimeout = timeout
	base.MaxIdleConnsPerHost = 4
	return &retryTransport{
		base: base, limiter: rate.NewLimiter(rate.Limit(reqRate), 1), maxRetries: maxRetries,
		waitMin: 500 * time.Millisecond, waitMax: 30 * time.Second, maxWait: 2 * time.Minute, logger: logger,
	}
}

// RoundTrip implements http.RoundTripper.
func (t *retryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	for attempt := 0; ; attempt++ {
		if err := t.limiter.Wait(ctx); err != nil {
			return nil, err
		}
		r, err := rewind(req, attempt)
		if err != nil {
			return nil, err
		}
		resp, err := t.base.RoundTrip(r)
		last := attempt >= t.maxRetries
		if err != nil {
			if last || ctx.Err() != nil {
				return nil, err
			}
			t.logger.Debug("retrying request", "host", req.URL.Host, "attempt", attempt+1, "error", err)
			if werr := sleep(ctx, t.backoff(attempt)); werr != nil {
				return nil, werr
			}
			continue
		}
		if !retryable(resp.StatusCode) || last {
			return resp, nil
		}
		wait, body := t.serverWait(resp)
		if wait > t.maxWait {
			resp.Body = io.NopCloser(bytes.NewReader(body))
			return resp, nil // the caller reports Google's error: too long a wait for a run
		}
		if wait <= 0 {
			wait = t.backoff(attempt)
		}
		t.logger.Debug("retrying request", "host", req.URL.Host, "status", resp.StatusCode, "attempt", attempt+1, "wait", wait)
		if err := sleep(ctx, wait); err != nil {
			return nil, err
		}
	}
}

// rewind returns the request for an attempt: the first as it is, the
// others with a fresh copy of the body.
func rewind(req *http.Request, attempt int) (*http.Request, error) {
	if attempt == 0 || req.Body == nil || req.Body == http.NoBody {
		return req, nil
	}
	if req.GetBody == nil {
		return nil, errors.New("retrying a request whose body cannot be read again")
	}
	body, err := req.GetBody()
	if err != nil {
		return nil, fmt.Errorf("reading the request body again: %w", err)
	}
	r := req.Clone(req.Context())
	r.Body = body
	return r, nil
}

// retryable: 429 and 5xx other than 501 Not Implemented.
func retryable(status int) bool {
	return status == http.StatusTooManyRequests || (status >= 500 && status != http.StatusNotImplemented)
}

// serverWait reads (and closes) an error answer and returns the wait it
// asks for: the RetryInfo of a google.rpc.Status, else Retry-After; 0 when
// neither is there.
func (t *retryTransport) serverWait(resp *http.Response) (time.Duration, []byte) {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	resp.Body.Close()
	if d, ok := retryDelay(body); ok {
		return d, body
	}
	if s := resp.Header.Get("Retry-After"); s != "" {
		if n, err := strconv.Atoi(strings.TrimSpace(s)); err == nil && n >= 0 {
			return time.Duration(n) * time.Second, body
		}
		if at, err := http.ParseTime(s); err == nil {
			return time.Until(at), body
		}
	}
	return 0, body
}

// rpcStatus is Google's error document: {"error": google.rpc.Status}.
type rpcStatus struct {
	Error struct {
		Code    int               `json:"code"`
		Message string            `json:"message"`
		Status  string            `json:"status"`
		Details []json.RawMessage `json:"details"`
	} `json:"error"`
}

// rpcDetail is one detail of a google.rpc.Status, any of the kinds sluice
// reads: RetryInfo, BadRequest, ErrorInfo.
type rpcDetail struct {
	Type            string `json:"@type"`
	RetryDelay      string `json:"retryDelay"`
	Reason          string `json:"reason"`
	FieldViolations []struct {
		Field       string `json:"field"`
		Description string `json:"description"`
	} `json:"fieldViolations"`
}

func parseStatus(body []byte) (*rpcStatus, []rpcDetail, bool) {
	var st rpcStatus
	if json.Unmarshal(body, &st) != nil || (st.Error.Status == "" && st.Error.Code == 0) {
		return nil, nil, false
	}
	var details []rpcDetail
	for _, raw := range st.Error.Details {
		var d rpcDetail
		if json.Unmarshal(raw, &d) == nil {
			details = append(details, d)
		}
	}
	return &st, details, true
}

// retryDelay finds a RetryInfo's retryDelay, a protobuf Duration in JSON
// ("2s", "0.250s").
func retryDelay(body []byte) (time.Duration, bool) {
	_, details, ok := parseStatus(body)
	if !ok {
		return 0, false
	}
	for _, d := range details {
		if !strings.HasSuffix(d.Type, "google.rpc.RetryInfo") || !strings.HasSuffix(d.RetryDelay, "s") {
			continue
		}
		secs, err := strconv.ParseFloat(strings.TrimSuffix(d.RetryDelay, "s"), 64)
		if err != nil || secs < 0 || math.IsInf(secs, 0) || secs > 1e6 {
			continue
		}
		return time.Duration(secs * float64(time.Second)), true
	}
	return 0, false
}

// backoff is exponential with full jitter between waitMin and waitMax.
func (t *retryTransport) backoff(attempt int) time.Duration {
	d := float64(t.waitMin) * math.Pow(2, float64(attempt))
	if d > float64(t.waitMax) || d <= 0 {
		d = float64(t.waitMax)
	}
	return t.waitMin + time.Duration(rand.Float64()*(d-float64(t.waitMin)))
}

func sleep(ctx context.Context, d time.Duration) error {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}

// close releases idle connections (and their goroutines).
func (t *retryTransport) close() { t.base.CloseIdleConnections() }
