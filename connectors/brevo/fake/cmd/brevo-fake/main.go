// Command brevo-fake runs the fake Brevo API on a loopback address, to try
// the brevo destination (or the quickstart's Brevo syncs) without an
// account:
//
//	go run ./connectors/brevo/fake/cmd/brevo-fake -addr 127.0.0.1:8788 -key dev-key
//
// It prints its base URL (for base_url, or BREVO_BASE_URL in the
// quickstart), keeps contacts and lists in memory (and deletes them, by
// DELETE /contacts/{identifier} and its identifierType), enforces Brevo's
// rate limits and answers with its error shapes. -list creates lists at start.
// -batch-answer picks how POST /contacts/batch answers contacts it cannot
// update: "observed" (the default; Brevo's all-or-nothing 404 naming their
// indexes) or "documented" (the 207 with successIds and failureIds of
// Brevo's API reference).
package main

import (
	"flag"
	"fmt"
	"log"
	"strings"
	"time"

	"github.com/sluicehq/sluice/connectors/brevo/fake"
	"github.com/sluicehq/sluice/connectors/internal/fakeserve"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8788", "loopback address to listen on (port 0: any free port)")
	key := flag.String("key", "", "the api-key requests must carry (required)")
	lists := flag.String("list", "", "comma-separated list names to create at start")
	contactsRate := flag.Int("contacts-rate", 10, "requests a second allowed on /contacts endpoints (-1: no limit)")
	otherRate := flag.Int("other-rate", 100, "requests an hour allowed on the other endpoints (-1: no limit)")
	quiet := flag.Bool("quiet", false, "do not print a line per request")
	batchAnswer := flag.String("batch-answer", fake.BatchObserved, "how POST /contacts/batch answers unknown or refused contacts: "+
		"observed (all-or-nothing 404 naming their indexes, as Brevo answers) or documented (207 with successIds/failureIds, as Brevo documents)")
	flag.Parse()
	if *key == "" {
		log.Fatal("brevo-fake: -key is required (the value of BREVO_API_KEY)")
	}
	if err := fake.CheckBatchAnswer(*batchAnswer); err != nil {
		log.Fatalf("brevo-fake: -batch-answer: %v", err)
	}
	opts := fake.Options{APIKey: *key, ContactsPerSecond: *contactsRate, OtherPerHour: *otherRate, BatchAnswer: *batchAnswer}
	if !*quiet {
		opts.OnRequest = func(_, endpoint string, status int) {
			fmt.Printf("%s %s -> %d\n", time.Now().Format("15:04:05.000"), endpoint, status)
		}
	}
	srv := fake.Handler(opts)
	for _, name := range strings.Split(*lists, ",") {
		if name = strings.TrimSpace(name); name != "" {
			fmt.Printf("list %q has id %d\n", name, srv.AddList(name))
		}
	}
	ln, err := fakeserve.Listen(*addr)
	if err != nil {
		log.Fatalf("brevo-fake: %v", err)
	}
	fmt.Printf("fake Brevo API on %s/v3\n", fakeserve.URL(ln))
	if err := fakeserve.Serve(ln, srv); err != nil {
		log.Fatalf("brevo-fake: %v", err)
	}
}
