// Command webhook-receiver runs the fake webhook receiver on a loopback
// address, to try the webhook destination locally:
//
//	go run ./connectors/webhook/fake/cmd/webhook-receiver -addr 127.0.0.1:8787 -token dev-token
//
// With port 0 (-addr 127.0.0.1:0) the system picks a free port, which the
// first line printed names.
//
// It accepts the sluice webhook protocol, keeps the records in memory and
// prints one line per batch.
package main

import (
	"flag"
	"fmt"
	"log"
	"sort"
	"strings"
	"time"

	"github.com/sluicehq/sluice/connectors/internal/fakeserve"
	"github.com/sluicehq/sluice/connectors/webhook/fake"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8787", "loopback address to listen on")
	token := flag.String("token", "", "bearer token to require (empty: none)")
	maxBatch := flag.Int("max-batch", 0, "reject requests with more operations than this (413)")
	flag.Parse()
	srv := fake.Handler(fake.Options{Token: *token, MaxBatch: *maxBatch, OnBatch: func(runID string, ops map[string]int, held int) {
		var parts []string
		for op, n := range ops {
			parts = append(parts, fmt.Sprintf("%s %d", op, n))
		}
		sort.Strings(parts)
		fmt.Printf("%s run %s: %s; holding %d records\n", time.Now().Format("15:04:05"), runID, strings.Join(parts, ", "), held)
	}})
	// Listen first, so that with port 0 the line below says which port the
	// system chose (scripts read it).
	ln, err := fakeserve.Listen(*addr)
	if err != nil {
		log.Fatalf("webhook-receiver: %v", err)
	}
	fmt.Printf("webhook receiver on %s/ (token: %q)\n", fakeserve.URL(ln), *token)
	if err := fakeserve.Serve(ln, srv); err != nil {
		log.Fatalf("webhook-receiver: %v", err)
	}
}
