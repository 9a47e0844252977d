package meta

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connectors/destination"
	"github.com/sluicehq/sluice/connectors/meta/fake"
)

const (
	token   = "meta-test-token"
	account = "1234567890"
)

func sum(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// recorded is one request as it left the destination.
type recorded struct {
	method, path string
	form         url.Values
	body         string
}

// env is a fake Meta behind a recorder of every request body.
type env struct {
	srv  *fake.Server
	url  string
	mu   sync.Mutex
	reqs []recorded
}

func newEnv(t *testing.T, opts fake.Options) *env {
	t.Helper()
	opts.Token, opts.AdAccount = token, account
	e := &env{srv: fake.Handler(opts)}
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		form, _ := url.ParseQuery(string(b))
		if r.Method == http.MethodGet {
			form = r.URL.Query()
		}
		e.mu.Lock()
		e.reqs = append(e.reqs, recorded{method: r.Method, path: r.URL.Path, form: form, body: string(b)})
		e.mu.Unlock()
		r.Body = io.NopCloser(bytes.NewReader(b))
		e.srv.ServeHTTP(w, r)
	}))
	t.Cleanup(hs.Close)
	e.srv.URL, e.url = hs.URL, hs.URL
	t.Cleanup(func() {
		if v := e.srv.Violations(); len(v) > 0 {
			t.Errorf("the fake counted %d violations: %+v", len(v), v)
		}
	})
	return e
}

// users returns the users calls recorded, in order.
func (e *env) users() []recorded {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []recorded
	for _, r := range e.reqs {
		if strings.HasSuffix(r.path, "/users") || strings.HasSuffix(r.path, "/usersreplace") {
			out = append(out, r)
		}
	}
	return out
}

type payload struct {
	Schema []string   `json:"schema"`
	Data   [][]string `json:"data"`
}

func (r recorded) payload(t *testing.T) payload {
	t.Helper()
	var p payload
	if err := json.Unmarshal([]byte(r.form.Get("payload")), &p); err != nil {
		t.Fatalf("payload of %s %s: %v", r.method, r.path, err)
	}
	return p
}

func (r recorded) session(t *testing.T) *sessionParam {
	t.Helper()
	v := r.form.Get("session")
	if v == "" {
		return nil
	}
	var s sessionParam
	if err := json.Unmarshal([]byte(v), &s); err != nil {
		t.Fatalf("session: %v", err)
	}
	return &s
}

// logs collects a destination's log lines.
type logs struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logs) Write(p []byte) (int, error) { l.mu.Lock(); defer l.mu.Unlock(); return l.buf.Write(p) }
func (l *logs) String() string              { l.mu.Lock(); defer l.mu.Unlock(); return l.buf.String() }

// sleeps records the waits of Meta's rate-limit retries, without waiting.
type sleeps struct {
	mu sync.Mutex
	d  []time.Duration
}

func (s *sleeps) sleep(_ context.Context, d time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.d = append(s.d, d)
	return nil
}

func (s *sleeps) all() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.d...)
}

var allKeys = []string{"email", "phone", "first_name", "last_name", "country", "postal_code", "external_id"}

// open opens the destination on e with extra options, for a sync mapping
// fields (key email); its retries do not wait.
func (e *env) open(t *testing.T, extra string, fields ...string) (*Meta, *logs, *sleeps) {
	t.Helper()
	if len(fields) == 0 {
		fields = allKeys
	}
	src := "{access_token: " + token + ", ad_account_id: act_" + account + ", customer_file_source: USER_PROVIDED_ONLY, audience: VIP, create_audiences: true, base_url: " + e.url
	if extra != "" {
		src += ", " + extra
	}
	d, l, s, err := openWith(src+"}", destination.SyncInfo{Name: "vip", Mode: "mirror", Key: "email", Fields: fields})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d, l, s
}

func openWith(opts string, sync destination.SyncInfo) (*Meta, *logs, *sleeps, error) {
	o, err := destination.ParseOptions(Spec, opts)
	if err != nil {
		return nil, nil, nil, err
	}
	l, s := &logs{}, &sleeps{}
	d, err := Open(context.Background(), destination.Config{Name: "ads", Type: "meta", Options: o, Sync: sync,
		Logger: slog.New(slog.NewJSONHandler(l, nil))})
	if err != nil {
		return nil, nil, nil, err
	}
	m := d.(*Meta)
	m.retry.sleep = s.sleep
	m.retry.waitMin, m.retry.waitMax = time.Millisecond, 10*time.Millisecond
	return m, l, s, nil
}

func add(fields map[string]any) destination.Record {
	return destination.Record{Op: destination.OpAdd, Key: text(fields["email"]), Fields: fields, Consent: map[string]*bool{PurposeAdsUserData: ptr(true)}}
}

func remove(email string) destination.Record {
	return destination.Record{Op: destination.OpRemove, Key: email, Fields: map[string]any{"email": email}, Reason: destination.ReasonGone}
}

func ptr[T any](v T) *T { return &v }

func write(t *testing.T, m *Meta, recs ...destination.Record) []error {
	t.Helper()
	errs, err := m.Write(context.Background(), &destination.Batch{Sync: "vip", Mode: "mirror", List: "VIP", Records: recs})
	if err != nil {
		t.Fatalf("Write: %v", err)
	}
	if len(errs) != len(recs) {
		t.Fatalf("%d outcomes for %d records", len(errs), len(recs))
	}
	return errs
}
