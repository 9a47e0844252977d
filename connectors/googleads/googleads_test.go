package googleads_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connectors/destination"
	"github.com/sluicehq/sluice/connectors/googleads/fake"
	"github.com/sluicehq/sluice/connectors/internal/matchkeys"
)

func yes() *bool { b := true; return &b }
func no() *bool  { b := false; return &b }

// consented is the consent of a person who agreed to both purposes.
func consented() map[string]*bool {
	return map[string]*bool{"ads_user_data": yes(), "ads_personalization": yes()}
}

func add(fields map[string]any) destination.Record {
	key, _ := fields["email"].(string)
	return destination.Record{Op: destination.OpAdd, Key: key, Fields: fields, Consent: consented()}
}

var allFields = destination.SyncInfo{Key: "email", Fields: []string{"email", "phone", "first_name", "last_name", "country", "postal_code"}}

func write(t *testing.T, d destination.Destination, recs ...destination.Record) []error {
	t.Helper()
	errs, err := d.Write(context.Background(), &destination.Batch{Sync: "ads", Records: recs})
	if err != nil {
		t.Fatalf("Write: %v", err)
	}
	return errs
}

func TestOpenRefuses(t *testing.T) {
	env := newTestEnv(t, fake.Options{})
	cases := []struct {
		name, extra string
		sync        destination.SyncInfo
		want        string
	}{
		{"a field that is not a match key", "", destination.SyncInfo{Fields: []string{"email", "ltv"}}, `cannot take the field "ltv"`},
		{"a match key Google does not take", "", destination.SyncInfo{Fields: []string{"email", "city"}}, `cannot take the field "city"`},
		{"external ids", "", destination.SyncInfo{Fields: []string{"email", "external_id"}}, `cannot take the field "external_id"`},
		{"half an address", "", destination.SyncInfo{Fields: []string{"email", "first_name"}}, "map last_name, postal_code, country (or the option phone_region) too"},
		{"an address without a country", "", destination.SyncInfo{Fields: []string{"email", "first_name", "last_name", "postal_code"}}, "country (or the option phone_region)"},
		{"terms not accepted", "terms_of_service_accepted: false", destination.SyncInfo{Fields: []string{"email"}}, "terms_of_service_accepted must be true"},
		{"two credentials", "credentials_file: sa.json", destination.SyncInfo{Fields: []string{"email"}}, "one of the two"},
		{"a list by name", "", destination.SyncInfo{Fields: []string{"email"}, List: "VIP customers"}, "by its id"},
		{"a dashed customer id gone wrong", `customer_id: "12-34"`, destination.SyncInfo{Fields: []string{"email"}}, "customer_id must be"},
		{"a batch too large", "batch_size: 10001", destination.SyncInfo{Fields: []string{"email"}}, "batch_size must be between 1 and 10000"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d, err := env.tryOpen(c.extra, c.sync)
			if err == nil {
				d.Close()
				t.Fatalf("opened, want an error containing %q", c.want)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not say %q", err, c.want)
			}
		})
	}
}

func TestCredentialKinds(t *testing.T) {
	env := newTestEnv(t, fake.Options{Users: []fake.User{{ClientID: "cid", ClientSecret: "secret", RefreshToken: "1//refresh"}}})
	user, _ := json.Marshal(map[string]string{"type": "authorized_user", "client_id": "cid", "client_secret": "secret", "refresh_token": "1//refresh", "token_uri": fake.TokenURL(env.srv.URL)})
	external := `{"type": "external_account", "audience": "x", "token_url": "http://127.0.0.1:1/"}`
	made, err := env.srv.NewServiceAccount("made@sluice-fake.iam.gserviceaccount.com")
	if err != nil {
		t.Fatal(err)
	}
	trusted := newServiceAccount(t, "trusted@sluice-test.iam.gserviceaccount.com", fake.TokenURL(env.srv.URL))
	if err := env.srv.TrustServiceAccount([]byte(trusted.json)); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, creds string
		want        string // "" for a passing check
	}{
		{"service account", env.sa.json, ""},
		{"user credentials", string(user), ""},
		{"a key the fake made", string(made), ""},
		{"a key the fake was given", trusted.json, ""},
		{"a revoked refresh token", strings.Replace(string(user), "1//refresh", "1//revoked", 1), "access token"},
		{"a service account Google does not know", newServiceAccount(t, "ghost@x.iam.gserviceaccount.com", fake.TokenURL(env.srv.URL)).json, "access token"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := *env
			e.sa.json = c.creds
			d := e.open(t, "", destination.SyncInfo{Fields: []string{"email"}})
			err := d.Check(context.Background())
			if (err == nil) != (c.want == "") || (err != nil && !strings.Contains(err.Error(), c.want)) {
				t.Errorf("Check: %v, want %q", err, c.want)
			}
		})
	}
	t.Run("external accounts are refused", func(t *testing.T) {
		e := *env
		e.sa.json = external
		if _, err := e.tryOpen("", destination.SyncInfo{Fields: []string{"email"}}); err == nil || !strings.Contains(err.Error(), "not supported") {
			t.Errorf("external_account credentials: %v", err)
		}
	})
}

func TestCheck(t *testing.T) {
	env := newTestEnv(t, fake.Options{})
	cases := []struct{ name, extra, want string }{
		{"the list", "", ""},
		{"through the manager account", `login_customer_id: "987-654-3210"`, ""},
		{"a manager that does not manage it", `login_customer_id: "111-111-1111"`, "HTTP 403"},
		{"another account", `customer_id: "2222222222"`, "HTTP 403"},
		{"a list that does not exist", `user_list_id: "42"`, "not a Customer Match list"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := env.open(t, c.extra, destination.SyncInfo{Fields: []string{"email"}})
			err := d.Check(context.Background())
			if (err == nil) != (c.want == "") || (err != nil && !strings.Contains(err.Error(), c.want)) {
				t.Errorf("Check: %v, want %q", err, c.want)
			}
		})
	}
	if n := len(env.srv.Members(testCustomer, testList)); n != 0 {
		t.Errorf("check stored %d members; its request is validate-only", n)
	}
	if v := env.srv.Violations(); len(v) > 0 {
		t.Errorf("violations: %+v", v)
	}
}

// TestIdentifiers sends people with several identifiers each and reads
// back what Google holds: each e-mail, phone and full address is one
// identifier of the member, hashed by Google's rules.
func TestIdentifiers(t *testing.T) {
	env := newTestEnv(t, fake.Options{})
	people := []fake.Identity{
		{Email: "Jane.Doe+x@gmail.com", Phone: "06 12 34 56 78", FirstName: "Zoë", LastName: "O'Brien", Country: "FR", PostalCode: "75011"},
		{Email: " Test@GoogleMail.com ", Phone: "+1 (800) 555-0100"},
		{Email: "dana@example.com"},
	}
	env.srv.Register(people...)
	d := env.open(t, "phone_region: FR", allFields)
	errs := write(t, d,
		add(map[string]any{"email": people[0].Email, "phone": people[0].Phone, "first_name": "Zoë", "last_name": "O'Brien", "country": "fr", "postal_code": "75011"}),
		add(map[string]any{"email": people[1].Email, "phone": people[1].Phone, "country": "US", "first_name": nil}),
		add(map[string]any{"email": matchkeys.Hash("dana@example.com")}),
		add(map[string]any{"email": []any{"a@example.com", "b@example.com"}}),
	)
	for i, err := range errs {
		if err != nil {
			t.Errorf("record %d: %v", i, err)
		}
	}
	got := env.srv.Members(testCustomer, testList)
	if len(got) != 4 {
		t.Fatalf("%d members, want 4", len(got))
	}
	first := got[0]
	if first.Known == nil || first.Known.Email != people[0].Email {
		t.Fatalf("the Gmail address was not hashed by Google's rule (dots and +suffix dropped): %+v", first)
	}
	if !slices.Equal(first.Phones, []string{fake.HashPhone("+33612345678", "")}) {
		t.Errorf("phone read in phone_region FR as +33612345678: got %v", first.Phones)
	}
	wantAddr := fake.Address{GivenName: matchkeys.Hash("zoë"), FamilyName: matchkeys.Hash("obrien"), RegionCode: "FR", PostalCode: "75011"}
	if !slices.Equal(first.Addresses, []fake.Address{wantAddr}) {
		t.Errorf("address: got %+v, want %+v", first.Addresses, wantAddr)
	}
	if got[1].Known == nil || len(got[1].Phones) != 1 || len(got[1].Addresses) != 0 {
		t.Errorf("second person: e-mail and phone, no address without names: %+v", got[1])
	}
	if got[2].Emails[0] != "07e2f1394b0ea80e2adca010ea8318df697001a005ba7452720edda4b0ce57b3" {
		t.Errorf("a hash from the warehouse is sent as it is: %v", got[2].Emails)
	}
	if len(got[3].Emails) != 2 {
		t.Errorf("a list of e-mails is one identifier each: %v", got[3].Emails)
	}
	if v := env.srv.Violations(); len(v) > 0 {
		t.Errorf("violations: %+v", v)
	}
}

// TestJunkIdentifiers: a junk phone is dropped for that person only; a
// person left with nothing Google can match is that record's rejection,
// and everyone else is delivered.
func TestJunkIdentifiers(t *testing.T) {
	env := newTestEnv(t, fake.Options{})
	d := env.open(t, "phone_region: FR", allFields)
	errs := write(t, d,
		add(map[string]any{"email": "ann@example.com", "phone": "not a phone"}),
		add(map[string]any{"email": "no-at-sign", "phone": "12"}),
		add(map[string]any{"email": "bob@example.com", "phone": "+33 6 12 34 56 79"}),
	)
	if errs[0] != nil || errs[2] != nil {
		t.Errorf("the others are delivered: %v", errs)
	}
	if errs[1] == nil || !strings.Contains(errs[1].Error(), "no identifier Google can match on") {
		t.Errorf("a record without a usable identifier is rejected: %v", errs[1])
	} else if strings.Contains(errs[1].Error(), "no-at-sign") {
		t.Errorf("the rejection quotes the value: %v", errs[1])
	}
	got := env.srv.Members(testCustomer, testList)
	if len(got) != 2 || len(got[0].Phones) != 0 || len(got[1].Phones) != 1 {
		t.Errorf("members: %+v", got)
	}
}

func TestConsentMapping(t *testing.T) {
	cases := []struct {
		name        string
		consent     map[string]*bool
		want        string // adPersonalization stored; "" when the record must be refused
		wantRefusal bool
	}{
		{"granted", map[string]*bool{"ads_user_data": yes(), "ads_personalization": yes()}, "CONSENT_GRANTED", false},
		{"personalisation denied", map[string]*bool{"ads_user_data": yes(), "ads_personalization": no()}, "CONSENT_DENIED", false},
		{"personalisation unknown", map[string]*bool{"ads_user_data": yes(), "ads_personalization": nil}, "CONSENT_STATUS_UNSPECIFIED", false},
		{"no ad user data consent", map[string]*bool{"ads_user_data": no(), "ads_personalization": yes()}, "", true},
		{"ad user data unknown", map[string]*bool{"ads_user_data": nil}, "", true},
		{"no consent at all", nil, "", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			env := newTestEnv(t, fake.Options{})
			d := env.open(t, "", destination.SyncInfo{Fields: []string{"email"}})
			errs := write(t, d, destination.Record{Op: destination.OpAdd, Key: "a@example.com", Fields: map[string]any{"email": "a@example.com"}, Consent: c.consent})
			got := env.srv.Members(testCustomer, testList)
			if c.wantRefusal {
				if errs[0] == nil || len(got) != 0 || len(env.srv.Requests()) != 0 {
					t.Errorf("a person without ad user data consent is never sent: %v, %d members, %d requests", errs[0], len(got), len(env.srv.Requests()))
				}
				return
			}
			if errs[0] != nil || len(got) != 1 {
				t.Fatalf("%v, %d members", errs[0], len(got))
			}
			if got[0].AdUserData != "CONSENT_GRANTED" || got[0].AdPersonalization != c.want {
				t.Errorf("consent %s/%s, want CONSENT_GRANTED/%s", got[0].AdUserData, got[0].AdPersonalization, c.want)
			}
		})
	}
}

// TestExits removes members by their key, whatever else they were sent
// with, and a removal of someone Google does not hold is no error.
func TestExits(t *testing.T) {
	env := newTestEnv(t, fake.Options{})
	d := env.open(t, "phone_region: FR", allFields)
	write(t, d, add(map[string]any{"email": "ann@example.com", "phone": "0612345678"}), add(map[string]any{"email": "bob@example.com"}))
	errs := write(t, d,
		destination.Record{Op: destination.OpRemove, Key: "ann@example.com", Fields: map[string]any{"email": "ann@example.com"}, Reason: destination.ReasonConsent},
		destination.Record{Op: destination.OpRemove, Key: "zed@example.com", Fields: map[string]any{"email": "zed@example.com"}},
	)
	if errs[0] != nil || errs[1] != nil {
		t.Errorf("exits: %v", errs)
	}
	got := env.srv.Members(testCustomer, testList)
	if len(got) != 1 || got[0].Emails[0] != fake.HashEmail("bob@example.com") {
		t.Errorf("after the exits: %+v", got)
	}
}

// TestResourceExhausted: a 429 RESOURCE_EXHAUSTED is retried after the
// retryDelay of its RetryInfo; one asking longer than a run waits is not.
func TestResourceExhausted(t *testing.T) {
	env := newTestEnv(t, fake.Options{RetryDelay: 400 * time.Millisecond})
	d := env.open(t, "", destination.SyncInfo{Fields: []string{"email"}})
	if err := d.Check(context.Background()); err != nil { // gets the token first
		t.Fatal(err)
	}
	before := len(env.srv.Requests())
	env.srv.Fail(http.StatusTooManyRequests, 2)
	if errs := write(t, d, add(map[string]any{"email": "ann@example.com"})); errs[0] != nil {
		t.Fatal(errs[0])
	}
	reqs := env.srv.Requests()[before:]
	if len(reqs) < 3 || reqs[0].Status != 429 || reqs[1].Status != 429 || reqs[2].Status != 200 {
		t.Fatalf("requests: %+v", reqs)
	}
	for i := 1; i < 3; i++ {
		if gap := reqs[i].Time.Sub(reqs[i-1].Time); gap < 400*time.Millisecond {
			t.Errorf("retry %d came %s after the 429, before its retryDelay of 400ms", i, gap)
		}
	}

	long := newTestEnv(t, fake.Options{RetryDelay: time.Hour})
	d = long.open(t, "", destination.SyncInfo{Fields: []string{"email"}})
	_ = d.Check(context.Background())
	long.srv.Fail(http.StatusTooManyRequests, 1)
	start := time.Now()
	_, err := d.Write(context.Background(), &destination.Batch{Records: []destination.Record{add(map[string]any{"email": "ann@example.com"})}})
	var br *destination.BatchRejected
	if err == nil || errors.As(err, &br) || !strings.Contains(err.Error(), "RESOURCE_EXHAUSTED") {
		t.Errorf("an hour's wait stops the run with Google's answer: %v", err)
	}
	if time.Since(start) > time.Minute {
		t.Error("waited for the hour")
	}
}

// TestRequestStatus: the status of each request is read back; a request
// Google failed to process rejects its records (sent again next run), one
// still processing after status_wait is taken as delivered.
func TestRequestStatus(t *testing.T) {
	t.Run("failed", func(t *testing.T) {
		env := newTestEnv(t, fake.Options{})
		d := env.open(t, "", destination.SyncInfo{Fields: []string{"email"}})
		env.srv.FailProcessing("PROCESSING_ERROR_REASON_INTERNAL_ERROR", 1)
		errs := write(t, d, add(map[string]any{"email": "ann@example.com"}), add(map[string]any{"email": "bob@example.com"}))
		for i, err := range errs {
			if err == nil || !strings.Contains(err.Error(), "PROCESSING_ERROR_REASON_INTERNAL_ERROR") {
				t.Errorf("record %d: %v", i, err)
			}
		}
		if errs := write(t, d, add(map[string]any{"email": "ann@example.com"})); errs[0] != nil {
			t.Errorf("sent again: %v", errs[0])
		}
	})
	t.Run("partly failed", func(t *testing.T) {
		env := newTestEnv(t, fake.Options{})
		var logs bytes.Buffer
		env.logger = slog.New(slog.NewTextHandler(&logs, nil))
		d := env.open(t, "", destination.SyncInfo{Fields: []string{"email"}})
		env.srv.FailProcessingPartly("PROCESSING_ERROR_REASON_INVALID_FORMAT", 1)
		errs := write(t, d, add(map[string]any{"email": "ann@example.com"}), add(map[string]any{"email": "bob@example.com"}))
		if errs[0] != nil || errs[1] != nil {
			t.Errorf("Google does not say which member failed: none is rejected, got %v", errs)
		}
		if out := logs.String(); !strings.Contains(out, "level=WARN") || !strings.Contains(out, "PROCESSING_ERROR_REASON_INVALID_FORMAT (1 records)") || strings.Contains(out, "example.com") {
			t.Errorf("a warning with the counts, and no address: %s", out)
		}
	})
	t.Run("not read", func(t *testing.T) {
		env := newTestEnv(t, fake.Options{})
		d := env.open(t, "read_status: false", destination.SyncInfo{Fields: []string{"email"}})
		env.srv.FailProcessing("PROCESSING_ERROR_REASON_INTERNAL_ERROR", 1)
		if errs := write(t, d, add(map[string]any{"email": "ann@example.com"})); errs[0] != nil {
			t.Errorf("without reading the status, an accepted request is delivered: %v", errs[0])
		}
		if n := countEndpoint(env.srv, "/v1/requestStatus:retrieve"); n != 0 {
			t.Errorf("%d status reads with read_status false", n)
		}
	})
	t.Run("processing, then done", func(t *testing.T) {
		env := newTestEnv(t, fake.Options{ProcessingPolls: 2})
		d := env.open(t, "status_wait: 10s", destination.SyncInfo{Fields: []string{"email"}})
		if errs := write(t, d, add(map[string]any{"email": "ann@example.com"})); errs[0] != nil {
			t.Fatal(errs[0])
		}
		if n := countEndpoint(env.srv, "/v1/requestStatus:retrieve"); n != 3 {
			t.Errorf("%d status reads, want 3 (two PROCESSING, then SUCCESS)", n)
		}
	})
	t.Run("still processing", func(t *testing.T) {
		env := newTestEnv(t, fake.Options{ProcessingPolls: 1000})
		d := env.open(t, "status_wait: 1s", destination.SyncInfo{Fields: []string{"email"}})
		if errs := write(t, d, add(map[string]any{"email": "ann@example.com"})); errs[0] != nil {
			t.Fatal(errs[0])
		}
		if n := countEndpoint(env.srv, "/v1/requestStatus:retrieve"); n < 1 || n > 3 {
			t.Errorf("%d status reads within a status_wait of 1s (pauses from 500ms): want 1 to 3", n)
		}
	})
}

func countEndpoint(srv *fake.Server, endpoint string) int {
	n := 0
	for _, r := range srv.Requests() {
		if r.Endpoint == endpoint {
			n++
		}
	}
	return n
}

// TestFieldViolations: members Google refuses by name are rejected alone
// and the rest delivered; a request refused as a whole rejects the batch.
func TestFieldViolations(t *testing.T) {
	env := newTestEnv(t, fake.Options{})
	d := env.open(t, "", destination.SyncInfo{Fields: []string{"email"}})
	env.srv.RejectEmails("this address is on a suppression list", "bob@example.com")
	errs := write(t, d, add(map[string]any{"email": "ann@example.com"}), add(map[string]any{"email": "bob@example.com"}), add(map[string]any{"email": "cat@example.com"}))
	if errs[0] != nil || errs[2] != nil || errs[1] == nil || !strings.Contains(errs[1].Error(), "suppression list") {
		t.Errorf("outcomes: %v", errs)
	}
	if n := len(env.srv.Members(testCustomer, testList)); n != 2 {
		t.Errorf("%d members, want 2", n)
	}

	wrongList := env.open(t, `user_list_id: "42"`, destination.SyncInfo{Fields: []string{"email"}})
	_, err := wrongList.Write(context.Background(), &destination.Batch{Records: []destination.Record{add(map[string]any{"email": "ann@example.com"})}})
	var br *destination.BatchRejected
	if !errors.As(err, &br) || !strings.Contains(err.Error(), "not a Customer Match list") {
		t.Errorf("an unknown list rejects the batch with Google's message: %v", err)
	}
}

func TestValidateOnly(t *testing.T) {
	env := newTestEnv(t, fake.Options{})
	d := env.open(t, "validate_only: true", destination.SyncInfo{Fields: []string{"email"}})
	errs := write(t, d, add(map[string]any{"email": "ann@example.com"}))
	if errs[0] == nil || !strings.Contains(errs[0].Error(), "validate_only") {
		t.Errorf("under validate_only the record stays to be sent: %v", errs[0])
	}
	if n := len(env.srv.Members(testCustomer, testList)); n != 0 {
		t.Errorf("%d members stored", n)
	}
}

// TestNoRawIdentifiers reads every request body: only hashes, and the
// address's region and postal code in clear, as Google documents.
func TestNoRawIdentifiers(t *testing.T) {
	env := newTestEnv(t, fake.Options{})
	var mu sync.Mutex
	var bodies []string
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, string(b))
		mu.Unlock()
		r.Body = io.NopCloser(bytes.NewReader(b))
		env.srv.ServeHTTP(w, r)
	}))
	defer proxy.Close()
	d := env.open(t, `phone_region: FR, base_url: "`+proxy.URL+`"`, allFields)
	raw := map[string]any{"email": "Jane.Doe@Example.com", "phone": "06 12 34 56 78", "first_name": "Jane", "last_name": "Doe", "country": "FR", "postal_code": "75011"}
	write(t, d, add(raw))
	write(t, d, destination.Record{Op: destination.OpRemove, Key: "Jane.Doe@Example.com", Fields: map[string]any{"email": "Jane.Doe@Example.com"}})
	if len(bodies) < 2 {
		t.Fatalf("%d requests seen", len(bodies))
	}
	for _, b := range bodies {
		for _, v := range []string{"jane", "Jane", "doe", "Doe", "example.com", "612345678", "06 12"} {
			if strings.Contains(b, v) {
				t.Errorf("a request body holds %q in clear: %s", v, b)
			}
		}
	}
	if !strings.Contains(bodies[0], `"regionCode":"FR"`) || !strings.Contains(bodies[0], `"postalCode":"75011"`) {
		t.Errorf("region and postal code travel in clear: %s", bodies[0])
	}
}

func TestErasePhoneKey(t *testing.T) {
	env := newTestEnv(t, fake.Options{})
	d := env.open(t, "phone_region: FR", destination.SyncInfo{Key: "phone", Fields: []string{"phone", "email"}})
	write(t, d, destination.Record{Op: destination.OpAdd, Key: "06 12 34 56 78", Fields: map[string]any{"phone": "06 12 34 56 78", "email": "ann@example.com"}, Consent: consented()})
	e, _ := destination.CanErase(d)
	out, err := e.Erase(context.Background(), &destination.Erasure{Sync: "ads", Keys: []string{"+33 6 12 34 56 78", "junk"}})
	if err != nil || out[0].Err != nil || out[1].Err != nil {
		t.Fatalf("erase: %v %+v", err, out)
	}
	if n := len(env.srv.Members(testCustomer, testList)); n != 0 {
		t.Errorf("%d members left", n)
	}
}

// TestRulesAgree compares sluice's preparation of identifiers with the
// fake's own reading of Google's rules, written apart: where they differ,
// one of them misreads Google.
func TestRulesAgree(t *testing.T) {
	cases := []struct {
		key       matchkeys.Key
		raw, want string // want: the normal form, before hashing
		region    string
	}{
		{matchkeys.Email, "Jane.Doe+x@gmail.com", "janedoe@gmail.com", ""},
		{matchkeys.Email, "Test@GoogleMail.com", "test@googlemail.com", ""},
		{matchkeys.Email, " User.Name+NYC@Example.com ", "user.name+nyc@example.com", ""},
		{matchkeys.Email, "dana@example.com", "dana@example.com", ""},
		{matchkeys.Phone, "06 12 34 56 78", "+33612345678", "FR"},
		{matchkeys.Phone, "(800) 555-0100", "+18005550100", "US"},
		{matchkeys.Phone, "+44 20 7946 0958", "+442079460958", ""},
		{matchkeys.FirstName, "  Zoë ", "zoë", ""},
		{matchkeys.LastName, "O'Brien-Smith", "obriensmith", ""},
		{matchkeys.FirstName, "Mary  Ann", "mary ann", ""},
	}
	for _, c := range cases {
		t.Run(string(c.key)+" "+c.raw, func(t *testing.T) {
			got, err := matchkeys.Prepare(matchkeys.Google, c.key, c.raw, c.region)
			if err != nil {
				t.Fatal(err)
			}
			var fakes string
			switch c.key {
			case matchkeys.Email:
				fakes = fake.NormalEmail(c.raw)
			case matchkeys.Phone:
				fakes = fake.NormalPhone(c.raw, c.region)
			default:
				fakes = fake.NormalName(c.raw)
			}
			if fakes != c.want {
				t.Errorf("the fake reads %q as %q, want %q", c.raw, fakes, c.want)
			}
			if got != fake.Hash(c.want) {
				t.Errorf("sluice sends %s for %q, want the hash of %q", got, c.raw, c.want)
			}
		})
	}
	if h := fake.HashEmail("dana@example.com"); h != "07e2f1394b0ea80e2adca010ea8318df697001a005ba7452720edda4b0ce57b3" {
		t.Errorf("test vector: %s", h)
	}
}
