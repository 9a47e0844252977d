package destinationtest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/connectors/destination"
	"github.com/sluicehq/sluice/sync/engine"
	"github.com/sluicehq/sluice/sync/synctest"
)

// erasureRetries is the retry budget the erasure cases give a destination
// that has a max_retries option: enough for the two 503s of the retry case,
// small enough that a persistent failure gives up within seconds.
const erasureRetries = 3

// persistentFailureDeadline bounds the persistent-failure case for a
// destination without a max_retries option: giving up by the deadline is
// an error, which is what the case expects.
const persistentFailureDeadline = 20 * time.Second

// erasure checks the destination.Eraser capability: it erases exactly the
// keys it is given, ignores keys it never received, survives 429 and 5xx,
// never reports a key erased when it was not, and is idempotent.
func erasure(t *testing.T, h Harness) {
	if h.CannotErase {
		t.Run("cannot erase", func(t *testing.T) { cannotErase(t, h) })
		return
	}
	t.Run("erases what it was sent", func(t *testing.T) { erasesSent(t, h) })
	t.Run("unknown person is not an error", func(t *testing.T) { erasesUnknown(t, h) })
	t.Run("retried on 429 and 5xx", func(t *testing.T) { erasureRetried(t, h) })
	t.Run("idempotent", func(t *testing.T) { erasureIdempotent(t, h) })
}

// erasureEnv is a destination environment after one successful sync, with
// the destination opened for erasing.
type erasureEnv struct {
	env *Env
	p   *synctest.Project
	d   destination.Destination
	e   destination.Eraser
}

// syncedForErasure starts an environment, syncs the model to it and opens
// the destination the way the engine does. A destination that is not an
// Eraser fails the test (the caller handles CannotErase types).
func syncedForErasure(t *testing.T, h Harness) *erasureEnv {
	t.Helper()
	env := h.New(t)
	penv := *env
	extra := ""
	if spec, _ := destination.Spec(h.Type); hasField(spec.Fields, "max_retries") {
		penv.Options = dropOption(env.Options, "max_retries")
		extra = fmt.Sprintf("max_retries: %d", erasureRetries)
	}
	p := project(t, &penv, h.Type, extra, "")
	if _, err := p.Engine.Sync(context.Background(), "conf", engine.SyncOptions{}); err != nil {
		t.Fatalf("sync before erasing: %v", err)
	}
	sameRecords(t, env.Records(t), model(t, p))
	d := openDest(t, p)
	t.Cleanup(func() { d.Close() })
	e, ok := destination.CanErase(d)
	if !ok {
		t.Fatalf("%s does not implement destination.Eraser; set Harness.CannotErase if it cannot erase people", h.Type)
	}
	return &erasureEnv{env: env, p: p, d: d, e: e}
}

func hasField(fields []config.FieldSpec, name string) bool {
	return slices.ContainsFunc(fields, func(f config.FieldSpec) bool { return f.Name == name })
}

// erase calls Erase and checks the shape of its answer: one outcome per
// key, and no Ref that quotes a key.
func (x *erasureEnv) erase(t *testing.T, ctx context.Context, id string, keys ...string) ([]destination.ErasureOutcome, error) {
	t.Helper()
	out, err := x.e.Erase(ctx, &destination.Erasure{RequestID: id, Sync: "conf", Keys: keys})
	if err != nil {
		return nil, err
	}
	if len(out) != len(keys) {
		t.Fatalf("Erase of %d keys gave %d outcomes", len(keys), len(out))
	}
	for i, o := range out {
		for _, k := range keys {
			if strings.Contains(o.Ref, k) {
				t.Errorf("outcome %d: Ref %q quotes a key; refs go to the audit and must not hold identifiers", i, o.Ref)
			}
		}
	}
	return out, nil
}

// mustErase erases keys and requires every outcome to be nil.
func (x *erasureEnv) mustErase(t *testing.T, id string, keys ...string) {
	t.Helper()
	out, err := x.erase(t, context.Background(), id, keys...)
	if err != nil {
		t.Fatalf("Erase: %v", err)
	}
	for i, o := range out {
		if o.Err != nil {
			t.Errorf("outcome %d (key %s): %v", i, keys[i], o.Err)
		}
	}
}

// holdsAllBut checks the destination holds the model without the erased
// keys.
func (x *erasureEnv) holdsAllBut(t *testing.T, erased ...string) {
	t.Helper()
	want := maps.Clone(model(t, x.p))
	for _, k := range erased {
		delete(want, k)
	}
	got := x.env.Records(t)
	for _, k := range erased {
		if _, ok := got[k]; ok {
			t.Errorf("erased record %s is still at the destination", k)
		}
	}
	sameRecords(t, got, want)
}

func cannotErase(t *testing.T, h Harness) {
	env := h.New(t)
	p := project(t, env, h.Type, "", "")
	if _, err := p.Engine.Sync(context.Background(), "conf", engine.SyncOptions{}); err != nil {
		t.Fatalf("sync: %v", err)
	}
	d := openDest(t, p)
	defer d.Close()
	e, ok := destination.CanErase(d)
	if !ok {
		return
	}
	_, err := e.Erase(context.Background(), &destination.Erasure{RequestID: "conf-erasure", Sync: "conf", Keys: []string{"item1@example.com"}})
	if !errors.Is(err, destination.ErrCannotErase) {
		t.Errorf("Harness.CannotErase is set, so Erase must return ErrCannotErase, got %v", err)
	}
}

func erasesSent(t *testing.T, h Harness) {
	x := syncedForErasure(t, h)
	keys := []string{"item1@example.com", "item7@example.com", "item13@example.com"}
	x.mustErase(t, "erasure-sent", keys...)
	x.holdsAllBut(t, keys...)
}

func erasesUnknown(t *testing.T, h Harness) {
	x := syncedForErasure(t, h)
	x.mustErase(t, "erasure-unknown", "nobody-1@example.com", "nobody-2@example.com")
	x.holdsAllBut(t)
	// A key never sent, among keys that were: each gets its own outcome.
	keys := []string{"item2@example.com", "nobody-3@example.com", "item3@example.com"}
	x.mustErase(t, "erasure-mixed", keys...)
	x.holdsAllBut(t, keys[0], keys[2])
}

func erasureRetried(t *testing.T, h Harness) {
	x := syncedForErasure(t, h)
	if x.env.Fail == nil {
		t.Skip(h.Type + " makes no requests")
	}
	var erased []string
	for _, c := range []struct {
		status, n int
		keys      []string
	}{
		{429, 1, []string{"item1@example.com", "item2@example.com"}},
		{503, 2, []string{"item3@example.com", "item4@example.com"}},
	} {
		before := x.requests()
		x.env.Fail(c.status, c.n)
		x.mustErase(t, fmt.Sprintf("erasure-%d", c.status), c.keys...)
		if x.env.Requests != nil && x.requests()-before < c.n+1 {
			t.Errorf("after %d answers %d, Erase made %d requests: the failures were not retried (or Env.Fail did nothing)", c.n, c.status, x.requests()-before)
		}
		erased = append(erased, c.keys...)
		x.holdsAllBut(t, erased...)
	}

	// A failure that does not end: Erase gives up, and never claims a key
	// it did not erase.
	keys := []string{"item6@example.com", "item8@example.com"}
	x.env.Fail(500, 1000)
	ctx, cancel := context.WithTimeout(context.Background(), persistentFailureDeadline)
	defer cancel()
	out, err := x.erase(t, ctx, "erasure-500", keys...)
	if err != nil {
		return
	}
	got := x.env.Records(t)
	for i, o := range out {
		if _, held := got[keys[i]]; o.Err == nil && held {
			t.Errorf("key %s: nil outcome under a persistent HTTP 500, but the record is still held", keys[i])
		}
	}
	if !slices.ContainsFunc(out, func(o destination.ErasureOutcome) bool { return o.Err != nil }) {
		t.Error("Erase under a persistent HTTP 500 returned no error and no failed outcome")
	}
}

func (x *erasureEnv) requests() int {
	if x.env.Requests == nil {
		return 0
	}
	return len(x.env.Requests())
}

func erasureIdempotent(t *testing.T, h Harness) {
	x := syncedForErasure(t, h)
	keys := []string{"item4@example.com", "item9@example.com"}
	x.mustErase(t, "erasure-once", keys...)
	x.holdsAllBut(t, keys...)
	x.mustErase(t, "erasure-twice", keys...)
	x.holdsAllBut(t, keys...)
}
