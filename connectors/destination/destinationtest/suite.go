// Package destinationtest is the conformance suite every destination type
// passes. A destination's tests call Run with a Harness that starts what the
// destination talks to (a fake server, a folder) and can read back what it
// holds:
//
//	func TestConformance(t *testing.T) {
//		destinationtest.Run(t, destinationtest.Harness{Type: "webhook", New: newEnv})
//	}
//
// The suite drives the destination through the real sync engine on an
// embedded DuckDB and checks: missing required options fail (at validation
// and at open); check catches bad credentials; plan sends nothing; a re-plan
// right after a successful apply is empty and the destination equals the
// model; per-record failures come back per record and are retried; the
// configured rate is honoured; no goroutine is left behind; erasure
// (destination.Eraser) removes exactly the keys asked, ignores unknown ones,
// is retried on 429 and 5xx and is idempotent.
package destinationtest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/connectors/destination"
	"github.com/sluicehq/sluice/sync/engine"
	"github.com/sluicehq/sluice/sync/synctest"
)

// Harness describes a destination type under test.
type Harness struct {
	Type string
	// New starts a fresh destination environment for one subtest.
	New func(t *testing.T) *Env
	// CannotErase declares that the type cannot erase people: the erasure
	// cases then only check that it does not implement destination.Eraser
	// or that Erase returns destination.ErrCannotErase. Without it, a type
	// that is not an Eraser fails the suite.
	CannotErase bool
}

// Env is one destination environment.
type Env struct {
	// Options are the destination's options as YAML flow-mapping entries,
	// e.g. `url: "${URL}", bearer_token: "${TOKEN}"`, valid for this Env.
	Options string
	// BadCredentials are options that connect but that Check must refuse;
	// empty when the type has no credentials (the subtest is skipped).
	BadCredentials string
	// Vars are the environment variables the options refer to.
	Vars map[string]string
	// Records returns what the destination holds from the sync "conf", by
	// key, with the fields as the destination stores them.
	Records func(t *testing.T) map[string]map[string]any
	// Requests returns the time of every request the destination received;
	// nil when the type makes no requests (the rate subtest is skipped).
	Requests func() []time.Time
	// Reject makes the destination reject these keys per record, with msg,
	// until called again with msg "". Nil when the type cannot reject
	// single records (the subtest is skipped).
	Reject func(msg string, keys ...string)
	// Fail makes the destination answer its next n requests with status
	// (429 with the vendor's rate-limit headers, or a 5xx), then recover.
	// Nil when the type makes no requests (the erasure retry case is
	// skipped).
	Fail func(status, n int)
	// Mapping and Consent, when set, replace the sync's mapping ({email:
	// email, name: name, score: score}) and consent (opt_in), in YAML flow
	// style, for types that take only some destination fields or require
	// consent purposes: an ad audience takes match keys (email,
	// first_name...) and needs ads_user_data. The key stays email, the
	// model's name and score must still reach the destination, and
	// Records still reports each record's email, name and score.
	Mapping, Consent string
}

// Run runs the suite.
func Run(t *testing.T, h Harness) {
	spec, ok := destination.Spec(h.Type)
	if !ok {
		t.Fatalf("destination type %q is not registered", h.Type)
	}
	t.Run("missing required options fail", func(t *testing.T) { missingRequired(t, h, spec) })
	t.Run("check catches bad credentials", func(t *testing.T) { badCredentials(t, h) })
	t.Run("plan sends nothing", func(t *testing.T) { planSendsNothing(t, h) })
	t.Run("replan after apply is empty", func(t *testing.T) { replanEmpty(t, h) })
	t.Run("per-record failures", func(t *testing.T) { perRecord(t, h) })
	t.Run("rate limit honoured", func(t *testing.T) { rateLimit(t, h) })
	t.Run("no goroutine leaks", func(t *testing.T) { noLeaks(t, h) })
	t.Run("erasure", func(t *testing.T) { erasure(t, h) })
}

const rows = 25

func project(t *testing.T, env *Env, typ, extra, syncExtra string) *synctest.Project {
	t.Helper()
	opts := env.Options
	if extra != "" {
		opts += ", " + extra
	}
	mapping, consent := "{email: email, name: name, score: score}", "opt_in"
	if env.Mapping != "" {
		mapping = env.Mapping
	}
	if env.Consent != "" {
		consent = env.Consent
	}
	yml := fmt.Sprintf(`sources:
  - {name: items, table: raw.items, primary_key: id}
destinations:
  - {name: dest, type: %s, %s}
syncs:
  - name: conf
    from: source.items
    to: dest
    mode: mirror
    key: email
    mapping: %s
    consent: %s
    max_removals: 100%%
%s`, typ, opts, mapping, consent, syncExtra)
	p := synctest.New(t, synctest.Options{Files: map[string]string{"sync.yml": yml}, Env: env.Vars})
	p.Exec(t,
		"CREATE SCHEMA raw",
		"CREATE TABLE raw.items (id INTEGER, email VARCHAR, name VARCHAR, score BIGINT, opt_in BOOLEAN)",
		fmt.Sprintf("INSERT INTO raw.items SELECT i, 'item' || i || '@example.com', 'Item ' || i, i * 10, i %% 5 <> 0 FROM range(%d) t(i)", rows),
	)
	p.Build(t)
	return p
}

// model is what the destination must hold.
func model(t *testing.T, p *synctest.Project) map[string]map[string]any {
	t.Helper()
	r, err := p.W.Query(context.Background(), "SELECT email, name, score FROM raw.items WHERE opt_in ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	out := map[string]map[string]any{}
	for r.Next() {
		var email, name string
		var score int64
		if err := r.Scan(&email, &name, &score); err != nil {
			t.Fatal(err)
		}
		out[email] = map[string]any{"email": email, "name": name, "score": score}
	}
	return out
}

func sameRecords(t *testing.T, got, want map[string]map[string]any) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("destination holds %d records, the model %d", len(got), len(want))
	}
	for _, k := range slices.Sorted(maps.Keys(want)) {
		if fmt.Sprint(got[k]) != fmt.Sprint(want[k]) {
			t.Errorf("record %s: destination has %v, model %v", k, got[k], want[k])
		}
	}
}

func missingRequired(t *testing.T, h Harness, spec config.ComponentSpec) {
	env := h.New(t)
	for _, f := range spec.Fields {
		if !f.Required {
			continue
		}
		t.Run(f.Name, func(t *testing.T) {
			// Validation reports it at the destination...
			dir := t.TempDir()
			opts := dropOption(env.Options, f.Name)
			files := map[string]string{
				"sluice.yml": "version: 1\nname: conformance\nwarehouse: {type: duckdb}\n",
				"dest.yml":   fmt.Sprintf("destinations:\n  - {name: dest, type: %s%s}\n", h.Type, prefixComma(opts)),
			}
			for n, b := range files {
				if err := os.WriteFile(filepath.Join(dir, n), []byte(b), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			_, err := config.Load(dir, config.Options{Env: lookup(env.Vars)})
			var probs config.Problems
			if !errors.As(err, &probs) || !strings.Contains(probs.Error(), "missing required key `"+f.Name+"`") {
				t.Errorf("validation should report the missing %s, got %v", f.Name, err)
			}
			// ...and opening without it fails too.
			d := config.Destination{Name: "dest", Type: h.Type, Options: map[string]config.Value{}}
			if _, err := destination.Open(context.Background(), d, dir, destination.SyncInfo{Name: "conf"}, nil); err == nil {
				t.Errorf("opening without %s should fail", f.Name)
			}
		})
	}
}

func prefixComma(s string) string {
	if strings.TrimSpace(s) == "" {
		return ""
	}
	return ", " + s
}

// dropOption removes one "name: value" entry from flow-mapping entries.
func dropOption(opts, name string) string {
	var keep []string
	for _, e := range splitEntries(opts) {
		k, _, _ := strings.Cut(e, ":")
		if strings.TrimSpace(k) != name {
			keep = append(keep, strings.TrimSpace(e))
		}
	}
	return strings.Join(keep, ", ")
}

// splitEntries splits "a: 1, b: {x: 1, y: 2}, c: \"d, e\"" at top-level commas.
func splitEntries(s string) []string {
	var out []string
	depth, quote, start := 0, byte(0), 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '{' || c == '[':
			depth++
		case c == '}' || c == ']':
			depth--
		case c == ',' && depth == 0:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	if strings.TrimSpace(s[start:]) != "" {
		out = append(out, s[start:])
	}
	return out
}

func lookup(vars map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
}

func openDest(t *testing.T, p *synctest.Project) destination.Destination {
	t.Helper()
	var fields []string
	for _, f := range p.P.Syncs[0].Mapping {
		fields = append(fields, f.Field)
	}
	d, err := destination.Open(context.Background(), p.P.Destinations[0], p.Dir, destination.SyncInfo{Name: "conf", Mode: "mirror", Key: "email", Fields: fields}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func badCredentials(t *testing.T, h Harness) {
	env := h.New(t)
	if env.BadCredentials == "" {
		t.Skip(h.Type + " has no credentials")
	}
	good := project(t, env, h.Type, "", "")
	d := openDest(t, good)
	if err := d.Check(context.Background()); err != nil {
		t.Errorf("check with good credentials: %v", err)
	}
	d.Close()
	badEnv := *env
	badEnv.Options = env.BadCredentials
	bad := project(t, &badEnv, h.Type, "", "")
	d = openDest(t, bad)
	defer d.Close()
	if err := d.Check(context.Background()); err == nil {
		t.Error("check accepted bad credentials")
	}
	res, err := bad.Engine.Sync(context.Background(), "conf", engine.SyncOptions{})
	if err == nil || res.Status != "failed" {
		t.Errorf("a sync with bad credentials must fail, got %v (%s)", err, res.Status)
	}
	if n := len(env.Records(t)); n != 0 {
		t.Errorf("bad credentials delivered %d records", n)
	}
}

func planSendsNothing(t *testing.T, h Harness) {
	env := h.New(t)
	p := project(t, env, h.Type, "", "")
	var before int
	if env.Requests != nil {
		before = len(env.Requests())
	}
	pl, err := p.Engine.Plan(context.Background(), "conf", engine.PlanOptions{Samples: 3})
	if err != nil {
		t.Fatal(err)
	}
	if want := int64(len(model(t, p))); pl.Adds != want {
		t.Errorf("plan: %d adds, want %d", pl.Adds, want)
	}
	if env.Requests != nil && len(env.Requests()) != before {
		t.Errorf("plan sent %d requests", len(env.Requests())-before)
	}
	if n := len(env.Records(t)); n != 0 {
		t.Errorf("plan delivered %d records", n)
	}
	if ok, _ := p.W.TableExists(context.Background(), p.P.StateSchema, "sync_runs"); ok {
		t.Error("plan wrote sync state")
	}
}

func replanEmpty(t *testing.T, h Harness) {
	env := h.New(t)
	p := project(t, env, h.Type, "", "")
	ctx := context.Background()
	res, err := p.Engine.Sync(ctx, "conf", engine.SyncOptions{})
	if err != nil {
		t.Fatalf("sync: %v", err)
	}
	if res.Accepted != int64(len(model(t, p))) {
		t.Errorf("accepted %d records, want %d", res.Accepted, len(model(t, p)))
	}
	sameRecords(t, env.Records(t), model(t, p))
	pl, err := p.Engine.Plan(ctx, "conf", engine.PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if pl.Adds+pl.Updates+pl.Removes != 0 {
		t.Errorf("re-plan after a successful apply: %d adds, %d updates, %d removes", pl.Adds, pl.Updates, pl.Removes)
	}
	// A change round trip: update, delete, consent withdrawn.
	p.Exec(t, "UPDATE raw.items SET name = 'changed' WHERE id = 1", "DELETE FROM raw.items WHERE id = 2", "UPDATE raw.items SET opt_in = false WHERE id = 3")
	res, err = p.Engine.Sync(ctx, "conf", engine.SyncOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Updates != 1 || res.Removes != 2 {
		t.Errorf("second run: %d updates, %d removes; want 1 and 2", res.Updates, res.Removes)
	}
	sameRecords(t, env.Records(t), model(t, p))
	if pl, _ := p.Engine.Plan(ctx, "conf", engine.PlanOptions{}); pl.Adds+pl.Updates+pl.Removes != 0 {
		t.Errorf("re-plan after the second apply is not empty: %+v", pl)
	}
}

func perRecord(t *testing.T, h Harness) {
	env := h.New(t)
	if env.Reject == nil {
		t.Skip(h.Type + " cannot reject single records")
	}
	p := project(t, env, h.Type, "", "")
	ctx := context.Background()
	bad := []string{"item1@example.com", "item7@example.com"}
	env.Reject("rejected by the conformance suite", bad...)
	res, err := p.Engine.Sync(ctx, "conf", engine.SyncOptions{})
	var rerr *engine.RejectedError
	if !errors.As(err, &rerr) || res.Rejected != 2 {
		t.Fatalf("want 2 records rejected, got %v (rejected %d)", err, res.Rejected)
	}
	got := env.Records(t)
	for _, k := range bad {
		if _, ok := got[k]; ok {
			t.Errorf("rejected record %s is at the destination", k)
		}
	}
	if len(got) != len(model(t, p))-2 {
		t.Errorf("the other records should be delivered: %d of %d", len(got), len(model(t, p))-2)
	}
	keys := []string{res.Rejections[0].Key, res.Rejections[1].Key}
	slices.Sort(keys)
	if !slices.Equal(keys, bad) || !strings.Contains(res.Rejections[0].Error, "rejected by the conformance suite") {
		t.Errorf("rejections come back per record with their error: %+v", res.Rejections)
	}
	env.Reject("", bad...)
	res, err = p.Engine.Sync(ctx, "conf", engine.SyncOptions{})
	if err != nil || res.Sent != 2 {
		t.Fatalf("the next run retries exactly the rejected records: sent %d, %v", res.Sent, err)
	}
	sameRecords(t, env.Records(t), model(t, p))
}

func rateLimit(t *testing.T, h Harness) {
	env := h.New(t)
	if env.Requests == nil {
		t.Skip(h.Type + " makes no requests")
	}
	const rate = 25.0
	p := project(t, env, h.Type, "", "    batch_size: 1\n    rate: 25\n")
	p.Exec(t, "DELETE FROM raw.items WHERE id >= 12")
	before := len(env.Requests())
	if _, err := p.Engine.Sync(context.Background(), "conf", engine.SyncOptions{}); err != nil {
		t.Fatal(err)
	}
	reqs := env.Requests()[before:]
	if len(reqs) < 8 {
		t.Fatalf("expected one request per record, got %d", len(reqs))
	}
	// A token bucket of one: n requests take at least (n-1)/rate.
	span := reqs[len(reqs)-1].Sub(reqs[0])
	if min := time.Duration(float64(len(reqs)-1) / rate * float64(time.Second) * 0.9); span < min {
		t.Errorf("%d requests in %s: faster than %g per second (at least %s)", len(reqs), span, rate, min)
	}
	// No one-second window holds more than rate+1 requests.
	for i := range reqs {
		j := i
		for j < len(reqs) && reqs[j].Sub(reqs[i]) < time.Second {
			j++
		}
		if j-i > int(rate)+1 {
			t.Errorf("%d requests within one second", j-i)
			break
		}
	}
}

func noLeaks(t *testing.T, h Harness) {
	env := h.New(t)
	p := project(t, env, h.Type, "", "")
	runtime.GC()
	before := runtime.NumGoroutine()
	ctx := context.Background()
	for range 2 {
		d := openDest(t, p)
		_ = d.Check(ctx)
		d.Close()
		if _, err := p.Engine.Sync(ctx, "conf", engine.SyncOptions{}); err != nil {
			t.Fatal(err)
		}
		p.Exec(t, "UPDATE raw.items SET score = score + 1")
	}
	var now int
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if now = runtime.NumGoroutine(); now <= before {
			return
		}
	}
	buf := make([]byte, 1<<16)
	n := runtime.Stack(buf, true)
	t.Errorf("goroutines: %d before, %d after the runs settled\n%s", before, now, buf[:n])
}
