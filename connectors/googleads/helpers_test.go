package googleads_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"log/slog"
	"testing"

	"github.com/sluicehq/sluice/connectors/destination"
	"github.com/sluicehq/sluice/connectors/googleads"
	"github.com/sluicehq/sluice/connectors/googleads/fake"
)

// The test account: a Google Ads customer with one Customer Match list, a
// manager account above it.
const (
	testCustomer = "1234567890"
	testManager  = "9876543210"
	testList     = "555000111"
)

// serviceAccount is a test service account: its key, and its JSON as
// Google issues it, with the token endpoint of a fake.
type serviceAccount struct {
	email string
	key   *rsa.PrivateKey
	json  string
}

func newServiceAccount(t testing.TB, email, tokenURL string) serviceAccount {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(map[string]string{
		"type": "service_account", "project_id": "sluice-test", "private_key_id": "k1",
		"private_key":  string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"client_email": email, "client_id": "1", "token_uri": tokenURL,
	})
	if err != nil {
		t.Fatal(err)
	}
	return serviceAccount{email: email, key: key, json: string(b)}
}

// testEnv is a fake with the test account and a service account it
// trusts.
type testEnv struct {
	srv    *fake.Server
	sa     serviceAccount
	logger *slog.Logger // the destination's; nil: discarded
}

func newTestEnv(t testing.TB, opts fake.Options) *testEnv {
	t.Helper()
	// The token endpoint's address (in the key's JSON) is known once the
	// server listens: the key is trusted after start.
	if opts.Accounts == nil {
		opts.Accounts = map[string][]string{testCustomer: {testList}}
	}
	if opts.Managers == nil {
		opts.Managers = map[string][]string{testManager: {testCustomer}}
	}
	srv := fake.New(t, opts)
	sa := newServiceAccount(t, "sluice@sluice-test.iam.gserviceaccount.com", fake.TokenURL(srv.URL))
	srv.TrustKey(sa.email, &sa.key.PublicKey)
	return &testEnv{srv: srv, sa: sa}
}

// options are the destination's options for the env, with extra ones.
func (e *testEnv) options(extra string) string {
	o := fmt.Sprintf(`{credentials_json: %q, customer_id: "123-456-7890", user_list_id: %q, terms_of_service_accepted: true, base_url: %q}`, e.sa.json, testList, e.srv.URL)
	if extra != "" {
		o = o[:len(o)-1] + ", " + extra + "}"
	}
	return o
}

// open opens the destination for a sync with these fields.
func (e *testEnv) open(t testing.TB, extra string, sync destination.SyncInfo) destination.Destination {
	t.Helper()
	d, err := e.tryOpen(extra, sync)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func (e *testEnv) tryOpen(extra string, sync destination.SyncInfo) (destination.Destination, error) {
	spec, _ := destination.Spec("google_ads")
	opts, err := destination.ParseOptions(spec, e.options(extra))
	if err != nil {
		return nil, err
	}
	if sync.Name == "" {
		sync.Name = "ads"
	}
	if sync.Key == "" {
		sync.Key = "email"
	}
	logger := e.logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return googleads.Open(context.Background(), destination.Config{Name: "google", Type: spec.Type, Options: opts, Sync: sync, Logger: logger})
}
