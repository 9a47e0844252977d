package erasure_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/connectors/warehouse"
	"github.com/sluicehq/sluice/models"
	"github.com/sluicehq/sluice/models/identity"
	"github.com/sluicehq/sluice/sync/engine"
	"github.com/sluicehq/sluice/sync/erasure"
)

// erasureState is what the scenario carries from step to step.
type erasureState struct {
	requestID  string
	bProfile   string
	bIDs       []string
	heldBefore int64
}

// TestErasure follows one request for person A through the build, a
// destination that fails once, the sync that erases, and the close, on
// each warehouse; B, who shares a blocklisted device with A, must come out
// untouched.
func TestErasure(t *testing.T) {
	forEachWarehouse(t, func(t *testing.T, kind string) {
		for _, regions := range []bool{false, true} {
			name := "e-mail, user id and device"
			if regions {
				name = "and phones read per row's country"
			}
			t.Run(name, func(t *testing.T) { erasureScenario(t, newShop(t, kind, shopOptions{regions: regions})) })
		}
	})
}

// erasureScenario runs the steps of TestErasure on a shop.
func erasureScenario(t *testing.T, s *shop) {
	st := &erasureState{}
	steps := []struct {
		name string
		run  func(t *testing.T, s *shop, st *erasureState)
	}{
		{"the first sync sends both people", firstSync},
		{"the SQL digest is the Go digest", sqlDigest},
		{"queue resolves the whole person", queueA},
		{"the build drops A and keeps B", buildDropsA},
		{"a failing destination keeps the request pending", failingDestination},
		{"the next sync erases A and purges the state", syncErases},
		{"close completes the request", closeCompletes},
		{"a later build and sync bring nothing of A back", nothingComesBack},
		{"the erasure tables hold no raw value", noRawValues},
	}
	for _, step := range steps {
		if !t.Run(step.name, func(t *testing.T) { step.run(t, s, st) }) {
			return // the next steps build on this one
		}
	}
}

func firstSync(t *testing.T, s *shop, st *erasureState) {
	s.sync(t)
	recs := s.srv.Records()
	for _, k := range []string{"alice@example.com", "bob@example.com"} {
		if _, ok := recs[k]; !ok {
			t.Fatalf("the destination does not hold %s after the first sync: %v", k, recs)
		}
	}
	st.heldBefore = s.Int(t, "SELECT count(*) FROM "+s.Engine.Store().SnapshotTable("people_hook"))
	if st.heldBefore != 2 {
		t.Fatalf("snapshot holds %d records, want 2", st.heldBefore)
	}
	st.bProfile, st.bIDs = profileOf(t, s, "bob@example.com")
	if st.bProfile == "" || len(st.bIDs) != 2 {
		t.Fatalf("B: profile %q identifiers %v, want a profile with email and user_id", st.bProfile, st.bIDs)
	}
}

// profileOf is the profile holding an e-mail and its identifiers.
func profileOf(t *testing.T, s *shop, email string) (string, []string) {
	t.Helper()
	m := s.compiler().IdentityMapTable()
	ids := s.strings(t, "SELECT profile_id FROM "+m+" WHERE id_type = 'email' AND id_value = "+s.W.Dialect().String(email))
	if len(ids) != 1 {
		return "", nil
	}
	vals := s.strings(t, "SELECT concat(id_type, ':', id_value) FROM "+m+" WHERE profile_id = "+s.W.Dialect().String(ids[0]))
	slices.Sort(vals)
	return ids[0], vals
}

func sqlDigest(t *testing.T, s *shop, _ *erasureState) {
	svc := s.service(t)
	plan, err := models.Compile(s.P, s.W.Dialect())
	if err != nil {
		t.Fatal(err)
	}
	d := s.W.Dialect()
	for _, v := range []string{"alice@example.com", "", "é+\"'\\x"} {
		q := strings.ReplaceAll("SELECT "+plan.Erasure.DigestExpr(d, "'email'", d.String(v)), plan.Erasure.KeyPlaceholder, svc.Key())
		var got string
		if err := warehouse.QueryRow(context.Background(), s.W, q, &got); err != nil {
			t.Fatal(err)
		}
		if want := models.ErasureDigest(svc.Key(), "email", v); got != want {
			t.Errorf("digest of %q: SQL %s, Go %s", v, got, want)
		}
	}
}

func queueA(t *testing.T, s *shop, st *erasureState) {
	svc := s.service(t)
	q, err := svc.Queue(context.Background(), erasure.Request{IDType: "email", Value: " Alice@Example.COM ", Reason: "asked by mail", Origin: erasure.FromForget})
	if err != nil {
		t.Fatalf("queue: %v", err)
	}
	st.requestID = q.ID
	tg := q.Target
	var ids []string
	for _, i := range tg.Identifiers {
		ids = append(ids, i.Type+":"+i.Value)
	}
	slices.Sort(ids)
	want := []string{"device:dev-alice", "email:alice@example.com", "user_id:u1"}
	if s.regions {
		want = []string{"device:dev-alice", "email:alice@example.com", "phone:+33612345678", "user_id:u1"}
	}
	if !tg.Found || !slices.Equal(ids, want) {
		t.Fatalf("target found=%v identifiers %v, want %v", tg.Found, ids, want)
	}
	if len(tg.Rows) != 2 {
		t.Errorf("target rows %v, want A's 2 rows", tg.Rows)
	}
	if len(tg.Syncs) != 1 || tg.Syncs[0].Sync != "people_hook" || !slices.Equal(tg.Syncs[0].Keys, []string{"alice@example.com"}) {
		t.Errorf("target syncs %+v, want people_hook with alice's key", tg.Syncs)
	}
	a := audit(t, s, q.ID)
	if a.Status != erasure.StatusPending || len(a.Syncs) != 1 || a.Syncs[0].Outcome != erasure.Pending || a.Syncs[0].Keys != 1 || a.Profiles != 1 || a.Identifiers != int64(len(want)) {
		t.Errorf("audit after queue: %+v", a)
	}
	if a.SourceRows["contacts"] != 2 || a.Reason != "asked by mail" || a.Origin != erasure.FromForget {
		t.Errorf("audit after queue: source rows %v reason %q origin %q", a.SourceRows, a.Reason, a.Origin)
	}
}

// audit is one request as List shows it.
func audit(t *testing.T, s *shop, id string) erasure.Audit {
	t.Helper()
	list, err := s.service(t).List(context.Background())
	if err != nil {
		t.Fatalf("list: %v", err)
	}
	for _, a := range list {
		if a.ID == id {
			return a
		}
	}
	t.Fatalf("request %s is not listed: %+v", id, list)
	return erasure.Audit{}
}

func buildDropsA(t *testing.T, s *shop, st *erasureState) {
	s.Build(t)
	checkAGone(t, s)
	profile, ids := profileOf(t, s, "bob@example.com")
	if profile != st.bProfile || !slices.Equal(ids, st.bIDs) {
		t.Errorf("B changed: profile %s %v, was %s %v", profile, ids, st.bProfile, st.bIDs)
	}
	if n := s.Int(t, "SELECT count(*) FROM "+s.compiler().ProfilesTable()); n != 1 {
		t.Errorf("%d profiles, want B's only", n)
	}
	// B's blocklisted device is still reported, with B's row.
	rej := s.strings(t, "SELECT "+s.text("row_key")+" FROM "+identity.RejectsTable(s.compiler())+" WHERE status = 'blocklisted'")
	if !slices.Equal(rej, []string{"3"}) {
		t.Errorf("blocklisted rejects of rows %v, want B's row 3 only", rej)
	}
}

// checkAGone checks that no table of the build holds A's rows or values.
func checkAGone(t *testing.T, s *shop) {
	t.Helper()
	c, d := s.compiler(), s.W.Dialect()
	in := func(vals ...string) string {
		l := make([]string, len(vals))
		for i, v := range vals {
			l[i] = d.String(v)
		}
		return "(" + strings.Join(l, ", ") + ")"
	}
	aRows, aVals := in("1", "2"), in(rawOfA...)
	checks := []struct{ name, q string }{
		{"identity map", "SELECT count(*) FROM " + c.IdentityMapTable() + " WHERE id_value IN " + aVals},
		{"profiles", "SELECT count(*) FROM " + c.ProfilesTable() + " WHERE email IN " + aVals + " OR name = 'Alice'"},
		{"identity rows", "SELECT count(*) FROM " + identity.RowsTable(c) + " WHERE " + s.text("row_key") + " IN " + aRows},
		{"identity rejects", "SELECT count(*) FROM " + identity.RejectsTable(c) + " WHERE " + s.text("row_key") + " IN " + aRows + " OR raw IN " + aVals},
		{"row map", "SELECT count(*) FROM " + identity.RowMapTable(c) + " WHERE " + s.text("row_key") + " IN " + aRows},
	}
	for _, ch := range checks {
		if n := s.Int(t, ch.q); n != 0 {
			t.Errorf("%s: %d rows of A left", ch.name, n)
		}
	}
	// The rows tables still hold B's row: the checks above can see rows.
	if n := s.Int(t, "SELECT count(*) FROM "+identity.RowsTable(c)+" WHERE "+s.text("row_key")+" = '3'"); n != 1 {
		t.Errorf("identity rows: %d rows of B, want 1", n)
	}
}

func failingDestination(t *testing.T, s *shop, st *erasureState) {
	s.srv.Fail(500, 2) // the request and its one retry
	res, err := s.Engine.Erase(context.Background(), "people_hook")
	if err != nil {
		t.Fatalf("erase: %v", err)
	}
	if res.Failed != 1 || res.Done != 0 || res.Err == nil {
		t.Errorf("erase result %+v, want one failure", res)
	}
	if _, ok := s.srv.Records()["alice@example.com"]; !ok {
		t.Error("the destination lost A although it failed")
	}
	a := audit(t, s, st.requestID)
	sa := a.Syncs[0]
	if a.Status != erasure.StatusPending || sa.Outcome != erasure.Failed || sa.Attempts != 1 || sa.Error == "" || sa.SentAt == nil {
		t.Errorf("audit after a failure: %s %+v", a.Status, sa)
	}
	// Nothing purged yet: the destination still holds A.
	if n := s.Int(t, "SELECT count(*) FROM "+s.Engine.Store().SnapshotTable("people_hook")); n != st.heldBefore {
		t.Errorf("snapshot holds %d records after a failed erasure, want %d", n, st.heldBefore)
	}
}

func syncErases(t *testing.T, s *shop, st *erasureState) {
	s.srv.ClearLog()
	res := s.sync(t)
	if res.Erasure == nil || res.Erasure.Done != 1 || res.Erasure.Keys != 1 || res.Erasure.Failed != 0 {
		t.Fatalf("sync's erasure: %+v", res.Erasure)
	}
	recs := s.srv.Records()
	if _, ok := recs["alice@example.com"]; ok {
		t.Error("the destination still holds A")
	}
	if _, ok := recs["bob@example.com"]; !ok {
		t.Error("the destination lost B")
	}
	if !slices.Contains(s.srv.Erased(), "alice@example.com") {
		t.Errorf("erased %v, want A's key", s.srv.Erased())
	}
	// The erase is all the run sent: A is gone from the model and from
	// the snapshot, so the diff neither removes nor re-adds anything.
	for _, op := range s.srv.Log() {
		if op.Op != "erase" || op.Key != "alice@example.com" {
			t.Errorf("the run sent %s %s", op.Op, op.Key)
		}
	}
	checkStatePurged(t, s)
	a := audit(t, s, st.requestID)
	sa := a.Syncs[0]
	if sa.Outcome != erasure.Done || sa.Attempts != 2 || sa.DoneAt == nil || sa.Error != "" || a.Status != erasure.StatusWaiting {
		t.Errorf("audit after the erasure: %s %+v", a.Status, sa)
	}
}

// checkStatePurged checks the sync's state keeps nothing of A's key and
// still has B's.
func checkStatePurged(t *testing.T, s *shop) {
	t.Helper()
	st := s.Engine.Store()
	key := s.W.Dialect().Ident("key")
	tables := []struct {
		name string
		from string
		b    int64 // rows with B's key
	}{
		{"snapshot", st.SnapshotTable("people_hook"), 1},
		{"sync_changes", st.Table("sync_changes") + " WHERE sync = 'people_hook'", 1},
		{"sync_rejections", st.Table("sync_rejections") + " WHERE sync = 'people_hook'", 0},
	}
	for _, tb := range tables {
		where := " AND "
		if !strings.Contains(tb.from, " WHERE ") {
			where = " WHERE "
		}
		if n := s.Int(t, "SELECT count(*) FROM "+tb.from+where+key+" = 'alice@example.com'"); n != 0 {
			t.Errorf("%s: %d rows of A's key left", tb.name, n)
		}
		if n := s.Int(t, "SELECT count(*) FROM "+tb.from+where+key+" = 'bob@example.com'"); n < tb.b {
			t.Errorf("%s: %d rows of B's key, want at least %d", tb.name, n, tb.b)
		}
	}
}

func closeCompletes(t *testing.T, s *shop, st *erasureState) {
	ctx := context.Background()
	closed, err := s.service(t).Close(ctx)
	if err != nil {
		t.Fatalf("close: %v", err)
	}
	if !slices.Equal(closed, []string{st.requestID}) {
		t.Errorf("closed %v, want %s", closed, st.requestID)
	}
	a := audit(t, s, st.requestID)
	if a.Status != erasure.StatusDone || a.CompletedAt == nil || a.Overdue {
		t.Errorf("audit after close: %+v", a)
	}
	if again, err := s.service(t).Close(ctx); err != nil || len(again) != 0 {
		t.Errorf("a second close completed %v (%v)", again, err)
	}
}

func nothingComesBack(t *testing.T, s *shop, st *erasureState) {
	s.srv.ClearLog()
	s.Build(t)
	checkAGone(t, s)
	res := s.sync(t)
	if res.Erasure != nil {
		t.Errorf("nothing was left to erase, got %+v", res.Erasure)
	}
	if ops := s.srv.Log(); len(ops) != 0 {
		t.Errorf("the run sent %v", ops)
	}
	if _, ok := s.srv.Records()["alice@example.com"]; ok {
		t.Error("A is back at the destination")
	}
}

// erasureColumns are the text columns of the four erasure tables.
var erasureColumns = map[string][]string{
	"erasure_requests":    {"request_id", "origin", "intake", "id_type", "id_digest", "reason", "source_rows", "key_check"},
	"erasure_identifiers": {"request_id", "id_type", "digest"},
	"erasure_keys":        {"request_id", "sync", "destination", "key_digest"},
	"erasure_events":      {"request_id", "sync", "destination", "outcome", "ref", "error"},
}

func noRawValues(t *testing.T, s *shop, _ *erasureState) {
	checkNoRaw(t, s, rawOfA)
}

// checkNoRaw scans the erasure tables' text for raw values.
func checkNoRaw(t *testing.T, s *shop, raw []string) {
	t.Helper()
	seen := 0
	for table, cols := range erasureColumns {
		for _, col := range cols {
			for _, v := range s.strings(t, "SELECT "+s.text(s.W.Dialect().Ident(col))+" FROM "+s.stateTable(table)) {
				seen++
				for _, r := range raw {
					if strings.Contains(strings.ToLower(v), strings.ToLower(strings.TrimSpace(r))) {
						t.Errorf("%s.%s holds %q", table, col, v)
					}
				}
			}
		}
	}
	if seen == 0 {
		t.Error("the erasure tables are empty")
	}
}

// TestErasureRequests covers requests on fresh shops, each on every
// warehouse.
func TestErasureRequests(t *testing.T) {
	cases := []struct {
		name string
		shop shopOptions
		run  func(t *testing.T, s *shop)
	}{
		{name: "an identifier nobody holds is no_match and closed", run: noMatch},
		{name: "a blocklisted value erases nobody", run: blocklisted},
		{name: "intake queues each row of the requests table once", shop: shopOptions{erasure: "  requests: {table: RAW.erasure_requests}\n"}, run: intake},
		{name: "intake reads a requests query too", shop: shopOptions{erasure: "  requests: {sql: \"SELECT id_type, id_value, requested_at FROM RAW.erasure_requests WHERE id_type <> 'none'\"}\n"}, run: intake},
		{name: "a changed secret is refused", run: changedSecret},
		{name: "an empty secret passes while nothing was erased", run: emptySecret},
		{name: "purge clears the snapshot, the change log and the rejections", run: purge},
		{name: "a request open past its deadline is overdue", run: overdue},
		{name: "a destination that cannot erase is manual action needed", shop: shopOptions{more: noEraseSync}, run: manual},
		{name: "a source sync's keys are found through the person's rows", shop: shopOptions{more: contactsSync}, run: sourceSync},
	}
	forEachWarehouse(t, func(t *testing.T, kind string) {
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				c.run(t, newShop(t, kind, c.shop))
			})
		}
	})
}

func noMatch(t *testing.T, s *shop) {
	ctx := context.Background()
	q, err := s.service(t).Queue(ctx, erasure.Request{IDType: "email", Value: "nobody@example.com", Origin: erasure.FromForget})
	if err != nil {
		t.Fatalf("queue: %v", err)
	}
	if q.Target.Found || len(q.Target.Syncs) != 0 {
		t.Errorf("target %+v, want nobody", q.Target)
	}
	a := audit(t, s, q.ID)
	if a.Status != erasure.StatusNoMatch || a.CompletedAt == nil || a.Profiles != 0 || len(a.Syncs) != 0 {
		t.Errorf("audit: %+v", a)
	}
	if closed, err := s.service(t).Close(ctx); err != nil || len(closed) != 0 {
		t.Errorf("close completed %v again (%v)", closed, err)
	}
	s.Build(t)
	if n := s.Int(t, "SELECT count(*) FROM "+s.compiler().ProfilesTable()); n != 2 {
		t.Errorf("%d profiles after a request that matched nobody, want 2", n)
	}
	checkNoRaw(t, s, []string{"nobody@example.com"})
}

func blocklisted(t *testing.T, s *shop) {
	q, err := s.service(t).Queue(context.Background(), erasure.Request{IDType: "device", Value: "unknown", Origin: erasure.FromForget})
	if err != nil {
		t.Fatalf("queue: %v", err)
	}
	if q.Target.Found {
		t.Errorf("target %+v, want nobody", q.Target)
	}
	if a := audit(t, s, q.ID); a.Status != erasure.StatusNoMatch {
		t.Errorf("audit: %+v", a)
	}
	// The junk value links nobody: suppressing it must not drop the rows
	// of the people who carry it.
	before := s.Int(t, "SELECT count(*) FROM "+identity.RowsTable(s.compiler()))
	s.Build(t)
	for _, email := range []string{"alice@example.com", "bob@example.com"} {
		if p, ids := profileOf(t, s, email); p == "" || len(ids) < 2 {
			t.Errorf("%s lost their profile: %q %v", email, p, ids)
		}
	}
	if after := s.Int(t, "SELECT count(*) FROM "+identity.RowsTable(s.compiler())); after != before {
		t.Errorf("identity rows: %d, were %d", after, before)
	}
}

func intake(t *testing.T, s *shop) {
	ctx := context.Background()
	s.request(t, "email", "ALICE@example.com", "2024-03-01 09:00:00")
	s.request(t, "email", "nobody@example.com", "2024-03-02 09:00:00")
	s.request(t, "email", "not an e-mail", "2024-03-03 09:00:00")
	svc := s.service(t)
	p, err := svc.Prepare(ctx)
	if err != nil {
		t.Fatalf("prepare: %v", err)
	}
	if p.Queued != 3 || len(p.Problems) != 1 || p.Skipped {
		t.Fatalf("prepare: %+v, want 3 queued, 1 problem", p)
	}
	if msg := p.Problems[0].Error(); strings.Contains(msg, "not an e-mail") {
		t.Errorf("the problem quotes the raw value: %s", msg)
	}
	p, err = svc.Prepare(ctx)
	if err != nil || p.Queued != 0 {
		t.Fatalf("second prepare: %+v %v, want nothing queued", p, err)
	}
	list, err := svc.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	statuses := map[string]int{}
	for _, a := range list {
		if a.Origin != erasure.FromRequests || a.RequestedAt.Year() != 2024 {
			t.Errorf("audit %+v: want origin requests, requested in 2024", a)
		}
		statuses[a.Status]++
	}
	// Nothing was synced yet: A's request waits for the build only.
	if len(list) != 3 || statuses[erasure.StatusWaiting] != 1 || statuses[erasure.StatusNoMatch] != 2 {
		t.Errorf("statuses %v of %d requests, want 1 waiting_for_the_build and 2 no_match", statuses, len(list))
	}
	checkNoRaw(t, s, []string{"alice@example.com", "nobody@example.com", "not an e-mail", "u1", "dev-alice"})
}

func changedSecret(t *testing.T, s *shop) {
	ctx := context.Background()
	if _, err := s.service(t).Queue(ctx, erasure.Request{IDType: "email", Value: "alice@example.com", Origin: erasure.FromForget}); err != nil {
		t.Fatal(err)
	}
	other := s.serviceWith(t, "another-secret-0123456789")
	if _, err := other.Prepare(ctx); err == nil || !strings.Contains(err.Error(), "not the secret") {
		t.Errorf("prepare with another secret: %v, want a refusal", err)
	}
	if _, err := other.Queue(ctx, erasure.Request{IDType: "email", Value: "bob@example.com", Origin: erasure.FromForget}); err == nil {
		t.Error("queue with another secret was accepted")
	}
	if _, err := s.service(t).Prepare(ctx); err != nil {
		t.Errorf("prepare with the secret: %v", err)
	}
}

func emptySecret(t *testing.T, s *shop) {
	ctx := context.Background()
	empty := s.serviceWith(t, "")
	p, err := empty.Prepare(ctx)
	if err != nil || !p.Skipped {
		t.Fatalf("prepare with an empty secret and nothing erased: %+v %v", p, err)
	}
	if _, err := empty.Queue(ctx, erasure.Request{IDType: "email", Value: "alice@example.com"}); !errors.Is(err, erasure.ErrSecretUnset) {
		t.Errorf("queue with an empty secret: %v, want ErrSecretUnset", err)
	}
	if _, err := s.service(t).Queue(ctx, erasure.Request{IDType: "email", Value: "alice@example.com", Origin: erasure.FromForget}); err != nil {
		t.Fatal(err)
	}
	if _, err := empty.Prepare(ctx); !errors.Is(err, erasure.ErrSecretUnset) {
		t.Errorf("prepare with an empty secret after an erasure: %v, want ErrSecretUnset", err)
	}
}

func purge(t *testing.T, s *shop) {
	ctx := context.Background()
	// The vendor's message about B quotes A's key, as a batch refusal can.
	s.srv.RejectKeys("refused next to alice@example.com", "bob@example.com")
	if _, err := s.Engine.Sync(ctx, "people_hook", engine.SyncOptions{}); err == nil || !strings.Contains(err.Error(), "rejected") {
		t.Fatalf("sync: %v, want B's record rejected", err)
	}
	st, key := s.Engine.Store(), s.W.Dialect().Ident("key")
	count := func(from, k string) int64 {
		return s.Int(t, "SELECT count(*) FROM "+from+" AND "+key+" = "+s.W.Dialect().String(k))
	}
	tables := []struct {
		name, from string
		key        string // a key the table holds before the purge
	}{
		{"snapshot", st.SnapshotTable("people_hook") + " WHERE 1 = 1", "alice@example.com"},
		{"sync_changes", st.Table("sync_changes") + " WHERE sync = 'people_hook'", "alice@example.com"},
		{"sync_changes", st.Table("sync_changes") + " WHERE sync = 'people_hook'", "bob@example.com"},
		{"sync_rejections", st.Table("sync_rejections") + " WHERE sync = 'people_hook'", "bob@example.com"},
	}
	for _, tb := range tables {
		if n := count(tb.from, tb.key); n == 0 {
			t.Fatalf("%s holds no row of %s before the purge", tb.name, tb.key)
		}
	}
	if err := st.PurgeKeys(ctx, "people_hook", []string{"alice@example.com"}); err != nil {
		t.Fatalf("purge: %v", err)
	}
	for _, from := range []string{st.Table("sync_changes"), st.Table("sync_rejections"), st.Table("sync_runs")} {
		if n := s.Int(t, "SELECT count(*) FROM "+from+" WHERE sync = 'people_hook' AND error LIKE '%alice@example.com%'"); n != 0 {
			t.Errorf("%s: %d errors still quote the erased key", from, n)
		}
	}
	if n := s.Int(t, "SELECT count(*) FROM "+st.Table("sync_rejections")+" WHERE sync = 'people_hook' AND error LIKE '%[erased key]%'"); n != 1 {
		t.Errorf("B's rejection: %d errors with the key taken out, want 1", n)
	}
	if err := st.PurgeKeys(ctx, "people_hook", []string{"bob@example.com"}); err != nil {
		t.Fatalf("purge: %v", err)
	}
	for _, tb := range tables {
		if n := count(tb.from, tb.key); n != 0 {
			t.Errorf("%s: %d rows of %s after the purge", tb.name, n, tb.key)
		}
	}
	if err := st.PurgeKeys(ctx, "people_hook", nil); err != nil {
		t.Errorf("purging no key: %v", err)
	}
}

// contactsSync sends the contacts source as it is, keyed by its primary
// key: the person's keys are found through their source rows.
const contactsSync = `syncs:
  - name: contacts_hook
    from: source.contacts
    to: hook
    key: contact_id
    mapping:
      contact_id: id
      name: name
`

func sourceSync(t *testing.T, s *shop) {
	ctx := context.Background()
	if _, err := s.Engine.Sync(ctx, "contacts_hook", engine.SyncOptions{}); err != nil {
		t.Fatalf("sync: %v", err)
	}
	q, err := s.service(t).Queue(ctx, erasure.Request{IDType: "user_id", Value: "u1", Origin: erasure.FromForget})
	if err != nil {
		t.Fatalf("queue: %v", err)
	}
	var keys []string
	for _, sk := range q.Target.Syncs {
		if sk.Sync == "contacts_hook" {
			keys = sk.Keys
		}
	}
	if !slices.Equal(keys, []string{"1", "2"}) {
		t.Fatalf("keys of contacts_hook %v (syncs %+v), want A's rows 1 and 2", keys, q.Target.Syncs)
	}
	s.Build(t)
	res, err := s.Engine.Erase(ctx, "contacts_hook")
	if err != nil || res.Done != 1 || res.Keys != 2 {
		t.Fatalf("erase: %+v %v", res, err)
	}
	recs := s.srv.Records()
	for k, want := range map[string]bool{"1": false, "2": false, "3": true} {
		if _, ok := recs[k]; ok != want {
			t.Errorf("the destination holds %s: %v, want %v", k, ok, want)
		}
	}
	if n := s.Int(t, "SELECT count(*) FROM "+s.Engine.Store().SnapshotTable("contacts_hook")); n != 1 {
		t.Errorf("the snapshot holds %d records after the purge, want B's", n)
	}
	// A's rows are still in the source: the sync reads the source's live
	// table, which leaves them out, so nothing is sent again.
	s.Build(t)
	again, err := s.Engine.Sync(ctx, "contacts_hook", engine.SyncOptions{Erase: true})
	if err != nil || again.Sent != 0 {
		t.Fatalf("a sync after the erasure: sent %d, %v; want nothing", again.Sent, err)
	}
	if _, ok := s.srv.Records()["1"]; ok {
		t.Errorf("A's row went back to the destination")
	}
}

// noEraseSync sends profiles to a webhook that does not take erasures.
const noEraseSync = `destinations:
  - {name: no_erase, type: webhook, url: "${HOOK_URL}", bearer_token: "${HOOK_TOKEN}", erase: false}
syncs:
  - name: people_no_erase
    from: profiles
    to: no_erase
    key: email
    mapping:
      email: email
`

func manual(t *testing.T, s *shop) {
	ctx := context.Background()
	if _, err := s.Engine.Sync(ctx, "people_no_erase", engine.SyncOptions{}); err != nil {
		t.Fatalf("sync: %v", err)
	}
	svc := s.service(t)
	q, err := svc.Queue(ctx, erasure.Request{IDType: "email", Value: "alice@example.com", Origin: erasure.FromForget})
	if err != nil {
		t.Fatalf("queue: %v", err)
	}
	s.Build(t)
	res, err := s.Engine.Erase(ctx, "people_no_erase")
	if err != nil || res.Manual != 1 || res.Done != 0 {
		t.Fatalf("erase: %+v %v", res, err)
	}
	if len(s.srv.Erased()) != 0 {
		t.Errorf("the destination erased %v", s.srv.Erased())
	}
	if _, err := svc.Close(ctx); err != nil {
		t.Fatal(err)
	}
	a := audit(t, s, q.ID)
	if a.Status != erasure.StatusManual || a.CompletedAt == nil || len(a.Syncs) != 1 || a.Syncs[0].Outcome != erasure.Manual || a.Syncs[0].Error == "" {
		t.Errorf("audit: %+v", a)
	}
	// sluice's own copy is purged all the same.
	if n := s.Int(t, "SELECT count(*) FROM "+s.Engine.Store().SnapshotTable("people_no_erase")); n != 1 {
		t.Errorf("the snapshot holds %d records, want B's", n)
	}
}

func overdue(t *testing.T, s *shop) {
	ctx := context.Background()
	s.sync(t)
	svc := s.service(t)
	asked := time.Now().UTC().Add(-40 * 24 * time.Hour).Truncate(time.Second)
	q, err := svc.Queue(ctx, erasure.Request{IDType: "email", Value: "alice@example.com", RequestedAt: asked, Origin: erasure.FromForget})
	if err != nil {
		t.Fatalf("queue: %v", err)
	}
	list, err := svc.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	a := audit(t, s, q.ID)
	if !a.RequestedAt.Equal(asked) || !a.Deadline.Equal(asked.Add(config.DefaultErasureDeadline)) || !a.Overdue || erasure.Overdue(list) != 1 {
		t.Errorf("audit: requested %v deadline %v overdue %v (%d overdue), want requested %v", a.RequestedAt, a.Deadline, a.Overdue, erasure.Overdue(list), asked)
	}
	s.Build(t)
	s.sync(t)
	if _, err := svc.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if a := audit(t, s, q.ID); a.Overdue || a.Status != erasure.StatusDone {
		t.Errorf("a completed request: %s overdue %v", a.Status, a.Overdue)
	}
}
