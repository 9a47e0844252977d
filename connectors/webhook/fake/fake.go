// Package fake is a webhook receiver for tests: an httptest server on
// loopback that speaks the webhook protocol (see package webhook), stores
// the records it receives per key, checks a bearer token or a header,
// enforces a batch limit, and can be told to misbehave: random 500s, 429s
// with Retry-After, timeouts, and 207 answers rejecting some records.
// Erase operations delete the record and are remembered (Erased).
package fake

import (
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Options configure a Server.
type Options struct {
	Token       string // required bearer token; empty: none
	HeaderName  string // or a required header...
	HeaderValue string // ...with this value
	MaxBatch    int    // operations per request at most (413 above); 0: none
	Latency     time.Duration
	// Discard decodes and checks requests but keeps no records (for
	// benchmarks: memory stays flat).
	Discard bool
	// OnBatch, when set, is called after each applied request with its run,
	// the operations applied per op, and the records now held.
	OnBatch func(runID string, ops map[string]int, held int)
}

// Faults make the server misbehave at random, per request. Probabilities
// are checked in order: 500, 429, timeout, 207.
type Faults struct {
	P500       float64
	P429       float64
	RetryAfter string // Retry-After of 429 answers, e.g. "1" or "0"
	// RetryAfter500, when set, is sent with 500 answers too (else the
	// client backs off exponentially).
	RetryAfter500 string
	PTimeout      float64
	Hang          time.Duration // how long a timeout hangs (the client should give up first)
	P207          float64
	RejectShare   float64 // share of a 207's operations that are rejected
	// PApplyFirst is the probability that a 500 or a timeout happens after
	// the batch was applied: the server did the work, the client never heard.
	PApplyFirst float64
	Seed        uint64
	// Script forces the faults of the next requests, one per request, in
	// order, before the random ones apply: "500", "500-applied" (after
	// applying the batch), "429", "timeout", "timeout-applied", "207".
	Script []string
}

// Op is one operation received, for tests that check what was sent.
type Op struct {
	RunID string
	Op    string
	Key   string
}

// Server is the fake receiver.
type Server struct {
	URL string

	srv  *httptest.Server
	opts Options

	mu       sync.Mutex
	records  map[string]map[string]any
	log      []Op
	requests []time.Time
	sizes    []int
	faults   Faults
	rng      *rand.Rand
	reject   map[string]string // key -> error, rejected whenever sent
	injected map[string]int
	erased   []string
	// failStatus answers the next failLeft requests (see Fail).
	failStatus, failLeft int
}

// New starts a server on loopback; it stops with t's cleanup when t is
// given (pass nil and call Close yourself otherwise).
func New(t interface{ Cleanup(func()) }, opts Options) *Server {
	s := &Server{opts: opts, records: map[string]map[string]any{}, reject: map[string]string{}, rng: rand.New(rand.NewPCG(1, 2))}
	s.srv = httptest.NewServer(s)
	s.URL = s.srv.URL
	if t != nil {
		t.Cleanup(s.Close)
	}
	return s
}

// Handler returns a server that is not listening, to mount on a listener
// of your own (see cmd/fakewebhook).
func Handler(opts Options) *Server {
	return &Server{opts: opts, records: map[string]map[string]any{}, reject: map[string]string{}, rng: rand.New(rand.NewPCG(1, 2))}
}

// Close stops the server.
func (s *Server) Close() {
	if s.srv != nil {
		s.srv.CloseClientConnections()
		s.srv.Close()
	}
}

// SetFaults changes the misbehaviour; the zero Faults stops it.
func (s *Server) SetFaults(f Faults) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = f
	if f.Seed != 0 {
		s.rng = rand.New(rand.NewPCG(f.Seed, f.Seed^0x9e3779b97f4a7c15))
	}
}

// RejectKeys makes every operation on these keys fail with msg in a 207
// answer (nil msg map entries clear).
func (s *Server) RejectKeys(msg string, keys ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, k := range keys {
		if msg == "" {
			delete(s.reject, k)
		} else {
			s.reject[k] = msg
		}
	}
}

// Fail makes the server answer its next n requests with status (a 429
// carries Retry-After, Faults.RetryAfter or 1 second), then recover. The
// requests are counted (Requests) but not applied.
func (s *Server) Fail(status, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failStatus, s.failLeft = status, n
}

// Erased returns the keys of every erase operation applied, in order,
// including keys the server did not hold.
func (s *Server) Erased() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.erased)
}

// Injected counts the faults injected so far, by kind: 500, 429,
// timeout, 207.
func (s *Server) Injected() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.injected)
}

func (s *Server) count(kind string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.injected == nil {
		s.injected = map[string]int{}
	}
	s.injected[kind]++
}

// Records returns a copy of what the server holds, by key.
func (s *Server) Records() map[string]map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]map[string]any, len(s.records))
	for k, v := range s.records {
		out[k] = maps.Clone(v)
	}
	return out
}

// Log returns the operations applied so far, in order.
func (s *Server) Log() []Op {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.log)
}

// ClearLog forgets the operations applied so far (records stay).
func (s *Server) ClearLog() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.log = nil
}

// Requests returns the arrival time of every request, including refused ones.
func (s *Server) Requests() []time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

// BatchSizes returns the number of operations of every request.
func (s *Server) BatchSizes() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.sizes)
}

type payload struct {
	Sync       *string `json:"sync"`
	RunID      *string `json:"run_id"`
	Operations []struct {
		Op     string         `json:"op"`
		Key    *string        `json:"key"`
		Fields map[string]any `json:"fields"`
	} `json:"operations"`
}

type result struct {
	Key   string `json:"key"`
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.requests = append(s.requests, time.Now())
	f := s.faults
	roll := func() float64 { return s.rng.Float64() }
	failStatus := 0
	if s.failLeft > 0 {
		s.failLeft--
		failStatus = s.failStatus
	}
	s.mu.Unlock()
	if failStatus != 0 {
		if failStatus == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", cmpOr(f.RetryAfter, "1"))
		}
		http.Error(w, `{"error":"failure asked by the test"}`, failStatus)
		return
	}

	if s.opts.Latency > 0 {
		select {
		case <-time.After(s.opts.Latency):
		case <-r.Context().Done():
			return
		}
	}
	if r.Method != http.MethodPost {
		http.Error(w, `{"error":"POST only"}`, http.StatusMethodNotAllowed)
		return
	}
	if s.opts.Token != "" && r.Header.Get("Authorization") != "Bearer "+s.opts.Token {
		http.Error(w, `{"error":"invalid or missing bearer token"}`, http.StatusUnauthorized)
		return
	}
	if s.opts.HeaderName != "" && r.Header.Get(s.opts.HeaderName) != s.opts.HeaderValue {
		http.Error(w, `{"error":"invalid or missing `+s.opts.HeaderName+`"}`, http.StatusUnauthorized)
		return
	}
	var p payload
	dec := json.NewDecoder(r.Body)
	dec.UseNumber()
	if err := dec.Decode(&p); err != nil {
		http.Error(w, `{"error":"body is not the webhook JSON"}`, http.StatusBadRequest)
		return
	}
	if p.Sync == nil || p.RunID == nil || p.Operations == nil {
		http.Error(w, `{"error":"sync, run_id and operations are required"}`, http.StatusBadRequest)
		return
	}
	for _, o := range p.Operations {
		if o.Key == nil || !slices.Contains([]string{"upsert", "delete", "add", "remove", "erase"}, o.Op) {
			http.Error(w, `{"error":"each operation needs op (upsert, delete, add, remove, erase) and key"}`, http.StatusBadRequest)
			return
		}
		if o.Op == "erase" && len(o.Fields) > 0 {
			http.Error(w, `{"error":"an erase operation carries no fields"}`, http.StatusBadRequest)
			return
		}
	}
	s.mu.Lock()
	s.sizes = append(s.sizes, len(p.Operations))
	s.mu.Unlock()
	if s.opts.MaxBatch > 0 && len(p.Operations) > s.opts.MaxBatch {
		http.Error(w, fmt.Sprintf(`{"error":"at most %d operations per request"}`, s.opts.MaxBatch), http.StatusRequestEntityTooLarge)
		return
	}

	s.mu.Lock()
	r500, r429, rTimeout, r207, rApply := roll(), roll(), roll(), roll(), roll()
	if len(s.faults.Script) > 0 {
		forced := s.faults.Script[0]
		s.faults.Script = s.faults.Script[1:]
		r500, r429, rTimeout, r207, rApply = 1, 1, 1, 1, 1
		switch forced {
		case "500", "500-applied":
			r500, f.P500 = 0, 1
		case "429":
			r429, f.P429 = 0, 1
		case "timeout", "timeout-applied":
			rTimeout, f.PTimeout = 0, 1
			if f.Hang == 0 {
				f.Hang = time.Minute
			}
		case "207":
			r207, f.P207 = 0, 1
			if f.RejectShare == 0 {
				f.RejectShare = 0.5
			}
		}
		if strings.HasSuffix(forced, "-applied") {
			rApply, f.PApplyFirst = 0, 1
		}
	}
	s.mu.Unlock()
	applyFirst := rApply < f.PApplyFirst
	switch {
	case r500 < f.P500:
		s.count("500")
		if applyFirst {
			s.apply(*p.RunID, p.Operations, nil)
		}
		if f.RetryAfter500 != "" {
			w.Header().Set("Retry-After", f.RetryAfter500)
		}
		http.Error(w, `{"error":"injected failure"}`, http.StatusInternalServerError)
		return
	case r429 < f.P429:
		s.count("429")
		w.Header().Set("Retry-After", cmpOr(f.RetryAfter, "1"))
		http.Error(w, `{"error":"slow down"}`, http.StatusTooManyRequests)
		return
	case rTimeout < f.PTimeout:
		s.count("timeout")
		if applyFirst {
			s.apply(*p.RunID, p.Operations, nil)
		}
		select {
		case <-time.After(f.Hang):
		case <-r.Context().Done():
		}
		return
	}
	var rejected map[int]string
	s.mu.Lock()
	for i, o := range p.Operations {
		if msg, ok := s.reject[*o.Key]; ok {
			if rejected == nil {
				rejected = map[int]string{}
			}
			rejected[i] = msg
		}
	}
	if r207 < f.P207 {
		for i := range p.Operations {
			if s.rng.Float64() < f.RejectShare {
				if rejected == nil {
					rejected = map[int]string{}
				}
				rejected[i] = "injected rejection"
			}
		}
	}
	s.mu.Unlock()
	if r207 < f.P207 {
		s.count("207")
	}
	s.apply(*p.RunID, p.Operations, rejected)
	if s.opts.OnBatch != nil && len(p.Operations) > 0 {
		counts := map[string]int{}
		for i, o := range p.Operations {
			if _, bad := rejected[i]; !bad {
				counts[o.Op]++
			}
		}
		s.mu.Lock()
		held := len(s.records)
		s.mu.Unlock()
		s.opts.OnBatch(*p.RunID, counts, held)
	}
	w.Header().Set("Content-Type", "application/json")
	if rejected == nil {
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte(`{"ok":true}`))
		return
	}
	res := make([]result, len(p.Operations))
	for i, o := range p.Operations {
		res[i] = result{Key: *o.Key, OK: true}
		if msg, bad := rejected[i]; bad {
			res[i] = result{Key: *o.Key, Error: msg}
		}
	}
	w.WriteHeader(http.StatusMultiStatus)
	_ = json.NewEncoder(w).Encode(map[string]any{"results": res})
}

// Apply applies one operation as if it had been received, e.g. to put a
// record at the destination that sluice did not send.
func (s *Server) Apply(runID, op, key string, fields map[string]any) {
	k := key
	s.apply(runID, []struct {
		Op     string         `json:"op"`
		Key    *string        `json:"key"`
		Fields map[string]any `json:"fields"`
	}{{Op: op, Key: &k, Fields: fields}}, nil)
}

func (s *Server) apply(runID string, ops []struct {
	Op     string         `json:"op"`
	Key    *string        `json:"key"`
	Fields map[string]any `json:"fields"`
}, skip map[int]string) {
	if s.opts.Discard {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, o := range ops {
		if _, bad := skip[i]; bad {
			continue
		}
		k := *o.Key
		s.log = append(s.log, Op{RunID: runID, Op: o.Op, Key: k})
		switch o.Op {
		case "upsert", "add":
			rec := s.records[k]
			if rec == nil {
				rec = map[string]any{}
				s.records[k] = rec
			}
			mergeInto(rec, o.Fields)
		case "delete", "remove":
			delete(s.records, k)
		case "erase":
			delete(s.records, k)
			s.erased = append(s.erased, k)
		}
	}
}

// mergeInto merges fields like a PATCH: nested objects merge, other values
// replace, and null is stored as null.
func mergeInto(dst, src map[string]any) {
	for k, v := range src {
		if sub, ok := v.(map[string]any); ok {
			d, ok := dst[k].(map[string]any)
			if !ok {
				d = map[string]any{}
				dst[k] = d
			}
			mergeInto(d, sub)
			continue
		}
		dst[k] = normalise(v)
	}
}

// normalise turns JSON numbers into int64 or float64 for comparisons.
func normalise(v any) any {
	if n, ok := v.(json.Number); ok {
		if i, err := strconv.ParseInt(string(n), 10, 64); err == nil {
			return i
		}
		f, _ := n.Float64()
		return f
	}
	return v
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
