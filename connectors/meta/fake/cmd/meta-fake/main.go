// Command meta-fake runs the fake Meta Marketing API on a loopback
// address, to try the meta destination without an ad account, and for CI:
//
//	go run ./connectors/meta/fake/cmd/meta-fake -addr 127.0.0.1:8792 -token meta-dev -audience VIP
//
// It prints its base URL on the first line, then a line per request (the
// endpoint with identifiers replaced, never an identifier or a hash)
// unless -quiet. -identities names a JSON file (an array of people: email,
// phone, region, first_name, last_name, country, postal_code, city,
// state, external_id) whose expected hashes the fake computes, counting
// any wrong variant sent for them as a violation; POST /_fake/identities
// registers more. GET /_fake/state shows the audiences, their sizes and
// the counts (violations among them), /_fake/violations the broken rules,
// /_fake/requests the request log.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"strings"

	"github.com/sluicehq/sluice/connectors/internal/fakeserve"
	"github.com/sluicehq/sluice/connectors/meta/fake"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8792", "loopback address to listen on (port 0: any free port)")
	token := flag.String("token", "", "the system-user access token requests must carry (required)")
	account := flag.String("ad-account", "1234567890", "the ad account's id (digits, or act_ and digits)")
	audiences := flag.String("audience", "", "comma-separated Customer File Custom Audience names to create at start")
	identities := flag.String("identities", "", "JSON file: an array of test people whose hashes the fake checks")
	hourly := flag.Int("hourly", 0, "calls allowed per hour before error 80003 (0: no limit)")
	minRemoval := flag.Int("min-removal-size", 0, "refuse removals leaving an audience under this size with 200/1870047 (0: never)")
	quiet := flag.Bool("quiet", false, "do not print a line per request")
	flag.Parse()
	if *token == "" {
		log.Fatal("meta-fake: -token is required (the system user's access token the client sends)")
	}
	opts := fake.Options{Token: *token, AdAccount: *account, HourlyCalls: *hourly, RegainMinutes: 1, MinRemovalSize: *minRemoval}
	if !*quiet {
		opts.OnRequest = fakeserve.PrintRequest
	}
	ln, err := fakeserve.Listen(*addr)
	if err != nil {
		log.Fatalf("meta-fake: %v", err)
	}
	srv := fake.Handler(opts)
	srv.URL = fakeserve.URL(ln)
	for _, name := range strings.Split(*audiences, ",") {
		if name = strings.TrimSpace(name); name != "" {
			srv.CreateAudience(name)
		}
	}
	if *identities != "" {
		b, err := os.ReadFile(*identities)
		if err != nil {
			log.Fatalf("meta-fake: %v", err)
		}
		var people []fake.Person
		if err := json.Unmarshal(b, &people); err != nil {
			log.Fatalf("meta-fake: %s: expected a JSON array of people: %v", *identities, err)
		}
		for _, p := range people {
			srv.Register(p)
		}
	}
	fmt.Println(srv.URL)
	if err := fakeserve.Serve(ln, srv); err != nil {
		log.Fatalf("meta-fake: %v", err)
	}
}
