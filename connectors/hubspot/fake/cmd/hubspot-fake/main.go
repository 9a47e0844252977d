// Command hubspot-fake runs the fake HubSpot on a loopback address, to try
// the hubspot destination without an account, and for CI:
//
//	go run ./connectors/hubspot/fake/cmd/hubspot-fake -addr 127.0.0.1:8790 -token pat-dev
//
// It prints its base URL on the first line, then a line per request (the
// endpoint with identifiers replaced, never an e-mail or record id) unless
// -quiet. GET /_fake/state shows the lists, the number of contacts, GDPR
// deletions and 429s; GET /_fake/requests the request log.
package main

import (
	"flag"
	"fmt"
	"log"
	"strings"

	"github.com/sluicehq/sluice/connectors/hubspot/fake"
	"github.com/sluicehq/sluice/connectors/internal/fakeserve"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8790", "loopback address to listen on (port 0: any free port)")
	token := flag.String("token", "", "the private-app access token requests must carry as Bearer (required)")
	tenSecondly := flag.Int("ten-secondly", 190, "requests allowed in any 10 seconds (-1: no limit)")
	daily := flag.Int("daily", 650000, "requests allowed a day (-1: no limit)")
	lists := flag.String("list", "", "comma-separated MANUAL list names to create at start")
	quiet := flag.Bool("quiet", false, "do not print a line per request")
	flag.Parse()
	if *token == "" {
		log.Fatal("hubspot-fake: -token is required (the private app's access token the client sends)")
	}
	opts := fake.Options{Token: *token, TenSecondly: *tenSecondly, Daily: *daily}
	if !*quiet {
		opts.OnRequest = fakeserve.PrintRequest
	}
	ln, err := fakeserve.Listen(*addr)
	if err != nil {
		log.Fatalf("hubspot-fake: %v", err)
	}
	srv := fake.Handler(opts)
	srv.URL = fakeserve.URL(ln)
	for _, name := range strings.Split(*lists, ",") {
		if name = strings.TrimSpace(name); name != "" {
			srv.CreateList(name, "MANUAL")
		}
	}
	fmt.Println(srv.URL)
	if err := fakeserve.Serve(ln, srv); err != nil {
		log.Fatalf("hubspot-fake: %v", err)
	}
}
