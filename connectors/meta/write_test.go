package meta

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/connectors/destination"
	"github.com/sluicehq/sluice/connectors/meta/fake"
)

var hexRE = regexp.MustCompile(`^[0-9a-f]{64}$`)

// TestMultiKeyRows: every mapped key in one row per person, in schema
// order; a key that normalises to nothing is an empty cell for that
// person only; a value hashed upstream passes through; a person with no
// usable key is refused alone; nothing raw leaves the process.
func TestMultiKeyRows(t *testing.T) {
	e := newEnv(t, fake.Options{})
	people := []fake.Person{
		{Email: " Jane.Doe+ads@Gmail.com ", Phone: "06 12 34 56 78", Region: "FR", FirstName: "Zoë", LastName: "O'Brien", Country: "FR", PostalCode: "75011", ExternalID: "c-1"},
		{Email: "dana@example.com", Phone: "12", FirstName: "Dana"},
		{Email: "hashed@example.com"},
	}
	for _, p := range people {
		e.srv.Register(p)
	}
	m, _, _ := e.open(t, "phone_region: US")
	pre := strings.ToUpper(sum("hashed@example.com")) // hashed in the warehouse, upper-case hex
	errs := write(t, m,
		add(map[string]any{"email": people[0].Email, "phone": people[0].Phone, "first_name": "Zoë", "last_name": "O'Brien", "country": "fr", "postal_code": "75011", "external_id": "c-1"}),
		add(map[string]any{"email": "dana@example.com", "phone": "12", "first_name": "Dana"}), // junk phone
		add(map[string]any{"email": pre}),
		add(map[string]any{"email": "not an address", "phone": "junk"}), // nothing usable
	)
	for i, want := range []error{nil, nil, nil, errNoIdentifier} {
		if !errors.Is(errs[i], want) && errs[i] != want {
			t.Errorf("record %d: %v, want %v", i, errs[i], want)
		}
	}
	calls := e.users()
	if len(calls) != 1 || calls[0].method != "POST" {
		t.Fatalf("want one POST users, got %+v", calls)
	}
	p := calls[0].payload(t)
	if want := []string{"EMAIL", "PHONE", "FN", "LN", "COUNTRY", "ZIP", "EXTERN_ID"}; !slices.Equal(p.Schema, want) {
		t.Errorf("schema %v, want %v", p.Schema, want)
	}
	if len(p.Data) != 3 {
		t.Fatalf("%d rows, want 3 (the person without a usable key is not sent)", len(p.Data))
	}
	want := [][]string{
		{sum("jane.doe+ads@gmail.com"), sum("33612345678"), sum("zoë"), sum("obrien"), sum("fr"), sum("75011"), "c-1"},
		{sum("dana@example.com"), "", sum("dana"), "", "", "", ""},
		{sum("hashed@example.com"), "", "", "", "", "", ""},
	}
	for i := range want {
		if !slices.Equal(p.Data[i], want[i]) {
			t.Errorf("row %d:\n got %v\nwant %v", i, p.Data[i], want[i])
		}
	}
	assertNoRaw(t, e, people)
	if st := e.srv.Stats(); st.Verified < 10 || st.Violations != 0 {
		t.Errorf("the fake verified %d cells against the registered people, with %d violations", st.Verified, st.Violations)
	}
}

// assertNoRaw: request bodies hold only hashes, empty cells, and the
// plain fields Meta documents (EXTERN_ID); never a raw identifier.
func assertNoRaw(t *testing.T, e *env, people []fake.Person) {
	t.Helper()
	for _, r := range e.users() {
		for _, p := range people {
			for _, raw := range []string{p.Email, strings.TrimSpace(p.Email), p.Phone, p.FirstName, p.LastName, p.PostalCode} {
				if len(raw) > 3 && strings.Contains(strings.ToLower(r.body), strings.ToLower(raw)) {
					t.Errorf("a request body holds a raw identifier")
				}
			}
		}
		pl := r.payload(t)
		for _, row := range pl.Data {
			for j, c := range row {
				if c != "" && pl.Schema[j] != "EXTERN_ID" && !hexRE.MatchString(c) {
					t.Errorf("%s cell %q is not a lower-case SHA-256", pl.Schema[j], c)
				}
			}
		}
	}
}

// TestSessions: a run whose entries take several requests sends them as
// one session, numbered from 1, the last flagged, with the run's
// estimate; exits that fit one request, and writes of an unsized run,
// take none.
func TestSessions(t *testing.T) {
	e := newEnv(t, fake.Options{})
	m, _, _ := e.open(t, "batch_size: 4", "email")
	m.SizeRun(destination.RunSize{Records: 11, Removals: 3})
	var recs []destination.Record
	for i := range 8 {
		recs = append(recs, add(map[string]any{"email": fmt.Sprintf("p%d@example.com", i)}))
	}
	for i := 0; i < 8; i += 4 {
		for _, err := range write(t, m, recs[i:i+4]...) {
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	write(t, m, remove("p0@example.com"), remove("p1@example.com"), remove("p2@example.com"))
	calls := e.users()
	if len(calls) != 3 {
		t.Fatalf("%d users calls, want 3", len(calls))
	}
	s1, s2 := calls[0].session(t), calls[1].session(t)
	if s1 == nil || s2 == nil {
		t.Fatalf("entries over two requests need a session: %v %v", s1, s2)
	}
	if s1.SessionID != s2.SessionID || s1.BatchSeq != 1 || s2.BatchSeq != 2 || s1.LastBatchFlag || !s2.LastBatchFlag ||
		s1.EstimatedNumTotal != 8 || s2.EstimatedNumTotal != 8 {
		t.Errorf("session fields: %+v then %+v", s1, s2)
	}
	if calls[2].method != "DELETE" || calls[2].session(t) != nil {
		t.Errorf("three exits fit one request and need no session: %s %v", calls[2].method, calls[2].session(t))
	}
	a, _ := e.srv.AudienceByName("VIP")
	if len(a.Members) != 5 {
		t.Errorf("the audience holds %d people, want 5", len(a.Members))
	}

	// Without SizeRun (a direct Write), each request stands alone.
	m2, _, _ := e.open(t, "batch_size: 4", "email")
	write(t, m2, add(map[string]any{"email": "solo@example.com"}))
	if s := e.users()[3].session(t); s != nil {
		t.Errorf("an unsized write carried a session: %+v", s)
	}
}

// TestRateLimitRetry: Graph's rate-limit errors come as 400s; they are
// waited out (Meta's estimate when its usage header gives one) and
// retried, and a wait longer than a run's stops the run.
func TestRateLimitRetry(t *testing.T) {
	cases := []struct {
		name    string
		err     fake.GraphError
		n       int
		regain  int // minutes; -1: no header
		fails   bool
		minWait float64 // seconds, of the first wait
	}{
		{"code 4", fake.ErrAppLimit, 2, -1, false, 0},
		{"code 17 subcode 2446079", fake.ErrUserLimit, 1, 0, false, 0},
		{"code 613 subcode 1487742 with Meta's estimate", fake.ErrAccountLimit, 1, 1, false, 60},
		{"80003 with a wait longer than a run's", fake.GraphError{Message: "(#80003) There have been too many calls to this ad-account.", Code: 80003, Subcode: 2446079}, 1, 30, true, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, fake.Options{})
			m, logs, sl := e.open(t, "", "email")
			e.srv.InjectError("POST", c.err, c.n, c.regain)
			// The audience is created by a POST too: create it first.
			e.srv.CreateAudience("VIP")
			_, err := m.Write(context.Background(), &destination.Batch{Records: []destination.Record{add(map[string]any{"email": "a@example.com"})}})
			if c.fails {
				if err == nil || !strings.Contains(err.Error(), "asks to wait 30m0s") {
					t.Fatalf("want the run stopped with Meta's wait, got %v", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Write: %v", err)
			}
			waits := sl.all()
			if len(waits) != c.n || waits[0].Seconds() < c.minWait {
				t.Errorf("waits %v, want %d (first at least %gs)", waits, c.n, c.minWait)
			}
			if a, _ := e.srv.AudienceByName("VIP"); len(a.Members) != 1 {
				t.Errorf("the retried request did not land: %d members", len(a.Members))
			}
			if !strings.Contains(logs.String(), "Meta rate limit reached") {
				t.Errorf("no warning logged: %s", logs.String())
			}
		})
	}
	t.Run("hourly limit", func(t *testing.T) {
		e := newEnv(t, fake.Options{HourlyCalls: 3})
		m, _, _ := e.open(t, "max_retries: 2", "email")
		_, err := m.Write(context.Background(), &destination.Batch{Records: []destination.Record{add(map[string]any{"email": "a@example.com"})}})
		_, err = m.Write(context.Background(), &destination.Batch{Records: []destination.Record{add(map[string]any{"email": "b@example.com"})}})
		var ge *GraphError
		if !errors.As(err, &ge) || ge.Code != 80003 {
			t.Fatalf("past the hour's calls and the retries, want the run stopped with 80003, got %v", err)
		}
	})
}

// TestAudienceTooSmall: Meta's 200/1870047 on removal rejects that
// request's exits (pending, retried next run), never accepts them; the
// batch's entries are unaffected.
func TestAudienceTooSmall(t *testing.T) {
	e := newEnv(t, fake.Options{MinRemovalSize: 3})
	m, logs, _ := e.open(t, "", "email")
	var recs []destination.Record
	for i := range 3 {
		recs = append(recs, add(map[string]any{"email": fmt.Sprintf("p%d@example.com", i)}))
	}
	write(t, m, recs...)
	errs := write(t, m, add(map[string]any{"email": "new@example.com"}), remove("p0@example.com"), remove("p1@example.com"))
	if errs[0] != nil {
		t.Errorf("the entry: %v", errs[0])
	}
	for _, err := range errs[1:] {
		if !errors.Is(err, errTooSmall) || !strings.Contains(err.Error(), "pending") {
			t.Errorf("an exit refused as too small: %v", err)
		}
	}
	if a, _ := e.srv.AudienceByName("VIP"); len(a.Members) != 4 {
		t.Errorf("the audience holds %d people, want 4 (no exit done)", len(a.Members))
	}
	if !strings.Contains(logs.String(), `"subcode":1870047`) {
		t.Errorf("the refusal is not logged: %s", logs.String())
	}
	// Erasure under the same refusal leaves every key pending.
	_, err := m.Erase(context.Background(), &destination.Erasure{RequestID: "r1", Keys: []string{"p0@example.com", "p1@example.com"}})
	var br *destination.BatchRejected
	if !errors.As(err, &br) || !errors.Is(err, errTooSmall) {
		t.Errorf("erasure refused as too small: want a batch rejection, got %v", err)
	}
}

// TestInvalidSamples: a row named in invalid_entry_samples is that
// record's rejection with Meta's reason; invalid entries the samples do
// not name are logged for the batch (counts only, no identifier), and
// their records are not blamed.
func TestInvalidSamples(t *testing.T) {
	e := newEnv(t, fake.Options{MaxSamples: 1})
	m, logs, _ := e.open(t, "", "email")
	e.srv.Reject("Invalid entry", "p1@example.com", "p2@example.com", "p3@example.com")
	var recs []destination.Record
	for i := range 5 {
		recs = append(recs, add(map[string]any{"email": fmt.Sprintf("p%d@example.com", i)}))
	}
	errs := write(t, m, recs...)
	var rejected []int
	for i, err := range errs {
		if err != nil {
			rejected = append(rejected, i)
			if !strings.Contains(err.Error(), "Invalid entry") {
				t.Errorf("record %d: %v", i, err)
			}
		}
	}
	if len(rejected) != 1 || rejected[0] < 1 || rejected[0] > 3 {
		t.Errorf("want exactly the sampled record rejected, got %v", rejected)
	}
	l := logs.String()
	if !strings.Contains(l, "samples do not name") || !strings.Contains(l, `"invalid":3`) || !strings.Contains(l, `"named":1`) {
		t.Errorf("the unnamed invalid entries are not logged: %s", l)
	}
	if strings.Contains(l, "@example.com") || strings.Contains(l, sum("p1@example.com")) {
		t.Errorf("the log holds an identifier: %s", l)
	}
}

// TestConsent: a record without ads_user_data consent is never sent.
func TestConsent(t *testing.T) {
	e := newEnv(t, fake.Options{})
	m, _, _ := e.open(t, "", "email")
	no := add(map[string]any{"email": "no@example.com"})
	no.Consent = map[string]*bool{PurposeAdsUserData: ptr(false)}
	unknown := add(map[string]any{"email": "unknown@example.com"})
	unknown.Consent = map[string]*bool{PurposeAdsUserData: nil}
	errs := write(t, m, add(map[string]any{"email": "yes@example.com"}), no, unknown)
	if errs[0] != nil || !errors.Is(errs[1], errNoConsent) || !errors.Is(errs[2], errNoConsent) {
		t.Errorf("outcomes %v", errs)
	}
	if calls := e.users(); len(calls) != 1 || len(calls[0].payload(t).Data) != 1 {
		t.Errorf("only the consenting person is sent: %d calls", len(calls))
	}
}

// TestReplace: a mirror sync with replace, on a run with entries and no
// exits, replaces the audience's people with usersreplace, in a session.
func TestReplace(t *testing.T) {
	e := newEnv(t, fake.Options{})
	e.srv.Register(fake.Person{Email: "old@example.com"})
	m, _, _ := e.open(t, "", "email")
	write(t, m, add(map[string]any{"email": "old@example.com"}))
	r, _, _ := e.open(t, "replace: true", "email")
	r.SizeRun(destination.RunSize{Records: 2})
	write(t, r, add(map[string]any{"email": "a@example.com"}), add(map[string]any{"email": "b@example.com"}))
	calls := e.users()
	last := calls[len(calls)-1]
	if !strings.HasSuffix(last.path, "/usersreplace") {
		t.Fatalf("want usersreplace, got %s %s", last.method, last.path)
	}
	if s := last.session(t); s == nil || s.BatchSeq != 1 || !s.LastBatchFlag || s.EstimatedNumTotal != 2 {
		t.Errorf("session %+v", s)
	}
	a, _ := e.srv.AudienceByName("VIP")
	if len(a.Members) != 2 || len(e.srv.People("EMAIL", a.Members[0].Cells["EMAIL"])) != 0 {
		t.Errorf("the audience should hold exactly the run's 2 entries: %+v", a.Members)
	}
	// With exits in the run, replace never applies.
	r.SizeRun(destination.RunSize{Records: 2, Removals: 1})
	write(t, r, add(map[string]any{"email": "c@example.com"}), remove("a@example.com"))
	if calls := e.users(); strings.HasSuffix(calls[len(calls)-2].path, "/usersreplace") {
		t.Error("a run with exits used usersreplace")
	}
}
