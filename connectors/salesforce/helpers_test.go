package salesforce

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connectors/destination"
	"github.com/sluicehq/sluice/connectors/salesforce/fake"
)

const (
	testClientID = "3MVG9-unit-consumer-key"
	testSecret   = "unit-consumer-secret"
)

var (
	personObject = fake.Object{Name: "Contact", Fields: []fake.Field{fake.ExternalIDField("External_Id__c")}}
)

// newFake starts a fake org on loopback with the unit tests' connected
// app, and checks at cleanup that it saw nothing Salesforce would refuse.
func newFake(t *testing.T, opts fake.Options) *fake.Server {
	t.Helper()
	if opts.ClientID == "" {
		opts.ClientID, opts.ClientSecret = testClientID, testSecret
	}
	if opts.MaxVersion == 0 {
		opts.MaxVersion = 67
	}
	if opts.Objects == nil {
		opts.Objects = []fake.Object{personObject}
	}
	srv := fake.New(t, opts)
	t.Cleanup(func() {
		for _, v := range srv.Violations() {
			t.Errorf("the fake saw a request Salesforce would refuse: %s", v)
		}
	})
	return srv
}

// openSF opens the destination for login URL url with extra options
// (YAML flow entries), waits shortened for tests.
func openSF(t *testing.T, url, extra string, sync destination.SyncInfo) *Salesforce {
	t.Helper()
	d, err := openErr(t.TempDir(), url, extra, sync)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	sf := d.(*Salesforce)
	sf.lockWait, sf.pollMin, sf.pollMax = 5*time.Millisecond, time.Millisecond, 20*time.Millisecond
	return sf
}

func openErr(dir, url, extra string, sync destination.SyncInfo) (destination.Destination, error) {
	src := fmt.Sprintf("{client_id: %q, client_secret: %q, login_url: %q, external_id_field: External_Id__c, max_retries: 2", testClientID, testSecret, url)
	if extra != "" {
		src += ", " + extra
	}
	opts, err := destination.ParseOptions(Spec, src+"}")
	if err != nil {
		return nil, err
	}
	return Open(context.Background(), destination.Config{Name: "sf", Type: "salesforce", Options: opts, Sync: sync, ProjectDir: dir})
}

// person is an upsert of one Contact keyed by an external id.
func person(i int) destination.Record {
	email := fmt.Sprintf("p%d@example.com", i)
	return destination.Record{Op: destination.OpUpsert, Key: email,
		Fields: map[string]any{"External_Id__c": email, "LastName": fmt.Sprintf("Person %d", i), "Email": email}}
}

func people(n int) []destination.Record {
	out := make([]destination.Record, n)
	for i := range out {
		out[i] = person(i)
	}
	return out
}

// extSync is a record sync of Contacts keyed by their external id.
var extSync = destination.SyncInfo{Name: "people", Mode: "mirror", Key: "External_Id__c", Fields: []string{"External_Id__c", "LastName", "Email"}}

// write sends one batch and fails the test on a batch-level error.
func write(t *testing.T, sf *Salesforce, recs []destination.Record) []error {
	t.Helper()
	errs, err := sf.Write(context.Background(), &destination.Batch{Sync: "people", Mode: "mirror", Records: recs})
	if err != nil {
		t.Fatalf("write: %v", err)
	}
	if len(errs) != len(recs) {
		t.Fatalf("%d outcomes for %d records", len(errs), len(recs))
	}
	return errs
}

// contacts returns the fake's Contacts by external id.
func contacts(srv *fake.Server) map[string]map[string]any {
	out := map[string]map[string]any{}
	for _, r := range srv.Records("Contact") {
		k, _ := r["External_Id__c"].(string)
		out[k] = r
	}
	return out
}
