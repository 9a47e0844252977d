// Command googleads-fake runs the fake Data Manager API (Google Customer
// Match) on a loopback address, to try the google_ads destination without
// a Google Ads account, and for CI:
//
//	go run ./connectors/googleads/fake/cmd/googleads-fake -addr 127.0.0.1:8792 \
//	    -customer 1234567890 -list 555000111 -write-credentials .sluice/google-sa.json
//
// -write-credentials writes a new service account key (token_uri pointing
// at this fake) that the fake trusts: give its content to the destination
// as credentials_json, or its path as credentials_file. -service-account
// trusts an existing service account JSON instead. It prints its base URL
// on the first line, then a line per request (the endpoint, never an
// identifier) unless -quiet. GET /_fake/state shows the lists' sizes, the
// violations and the requests by status.
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"strings"

	"github.com/sluicehq/sluice/connectors/googleads/fake"
	"github.com/sluicehq/sluice/connectors/internal/fakeserve"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8792", "loopback address to listen on (port 0: any free port)")
	customer := flag.String("customer", "1234567890", "the Google Ads customer id (10 digits) holding the lists")
	lists := flag.String("list", "1", "comma-separated ids of the customer's Customer Match lists")
	manager := flag.String("manager", "", "a manager account id that may operate the customer (login_customer_id)")
	writeCreds := flag.String("write-credentials", "", "write a new service account JSON the fake trusts to this file")
	trust := flag.String("service-account", "", "trust this service account JSON (its private key's public half)")
	tokens := flag.String("token", "", "comma-separated access tokens taken as they are (no OAuth)")
	perMinute := flag.Int("per-minute", 300, "requests allowed in any minute (-1: no limit)")
	polls := flag.Int("processing-polls", 0, "status reads answering PROCESSING before the final status")
	quiet := flag.Bool("quiet", false, "do not print a line per request")
	flag.Parse()
	if *writeCreds == "" && *trust == "" && *tokens == "" {
		log.Fatal("googleads-fake: give -write-credentials FILE, -service-account FILE or -token: the destination needs credentials the fake trusts")
	}
	opts := fake.Options{
		Accounts: map[string][]string{*customer: split(*lists)}, Tokens: split(*tokens), PerMinute: *perMinute, ProcessingPolls: *polls,
	}
	if *manager != "" {
		opts.Managers = map[string][]string{*manager: {*customer}}
	}
	if !*quiet {
		opts.OnRequest = fakeserve.PrintRequest
	}
	ln, err := fakeserve.Listen(*addr)
	if err != nil {
		log.Fatalf("googleads-fake: %v", err)
	}
	srv := fake.Handler(opts)
	srv.URL = fakeserve.URL(ln)
	if err := credentials(srv, *trust, *writeCreds); err != nil {
		log.Fatalf("googleads-fake: %v", err)
	}
	if !srv.CheckedAgainstDiscovery() {
		log.Printf("googleads-fake: the Data Manager API's discovery document was not found (set %s): requests are not checked against it", fake.EnvDiscovery)
	}
	fmt.Println(srv.URL)
	if err := fakeserve.Serve(ln, srv); err != nil {
		log.Fatalf("googleads-fake: %v", err)
	}
}

func split(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// credentials trusts the service account of the file trust, and writes a
// new one the fake trusts to the file write (readable by its owner only:
// it holds a private key).
func credentials(srv *fake.Server, trust, write string) error {
	if trust != "" {
		b, err := os.ReadFile(trust)
		if err != nil {
			return err
		}
		if err := srv.TrustServiceAccount(b); err != nil {
			return fmt.Errorf("%s: %w", trust, err)
		}
	}
	if write != "" {
		b, err := srv.NewServiceAccount("sluice-sandbox@sluice-fake.iam.gserviceaccount.com")
		if err != nil {
			return err
		}
		if err := os.WriteFile(write, b, 0o600); err != nil {
			return fmt.Errorf("writing the service account: %w", err)
		}
	}
	return nil
}
