// Command klaviyo-fake runs the fake Klaviyo on a loopback address, to try
// the klaviyo destination without an account, and for CI:
//
//	go run ./connectors/klaviyo/fake/cmd/klaviyo-fake -addr 127.0.0.1:8789 -key pk_dev
//	export KLAVIYO_API_KEY=pk_dev KLAVIYO_BASE_URL=http://127.0.0.1:8789
//
// It prints its URL on the first line, then a line per bulk import job.
// GET /_fake/state shows the lists, the number of profiles, the requests
// throttled, the profile deletion requests (erasures) and, with -spec, the
// requests that did not match Klaviyo's API description; GET
// /_fake/profiles lists every profile.
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/sluicehq/sluice/connectors/internal/apispec"
	"github.com/sluicehq/sluice/connectors/internal/fakeserve"
	"github.com/sluicehq/sluice/connectors/klaviyo/fake"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8789", "loopback address to listen on (port 0 picks a free one)")
	key := flag.String("key", "pk_dev", "private API key to accept")
	limits := flag.String("limits", "klaviyo", "rate limits: klaviyo (the published ones) or none")
	jobTime := flag.Duration("job-time", 200*time.Millisecond, "how long a bulk import job processes")
	deletionTime := flag.Duration("deletion-time", 0, "how long after a deletion request its job deletes the profile (Klaviyo's run asynchronously); 0: at once")
	spec := flag.String("spec", "", "Klaviyo's OpenAPI file (klaviyo-openapi-stable.json): check every request against it")
	flag.Parse()
	opts := fake.Options{APIKey: *key, JobProcessing: *jobTime, DeletionDelay: *deletionTime, OnJob: func(j fake.JobInfo) {
		fmt.Printf("%s job %s: %d profiles, %d imported, %d failed\n", time.Now().Format("15:04:05"), j.ID, j.Total, j.Imported, j.Failed)
	}}
	switch *limits {
	case "klaviyo":
		opts.Limits = fake.KlaviyoLimits()
	case "none":
	default:
		log.Fatalf("-limits: klaviyo or none, not %q", *limits)
	}
	if *spec != "" {
		s, err := apispec.Load(*spec)
		if err != nil {
			log.Fatal(err)
		}
		opts.Validator = s
	}
	ln, err := fakeserve.Listen(*addr)
	if err != nil {
		log.Fatal(err)
	}
	srv := fake.Handler(opts)
	srv.URL = fakeserve.URL(ln)
	fmt.Printf("%s (key %s, limits %s)\n", srv.URL, *key, *limits)
	if err := fakeserve.Serve(ln, srv); err != nil {
		log.Fatal(err)
	}
	srv.Close()
	if v := srv.Violations(); len(v) > 0 {
		fmt.Fprintf(os.Stderr, "%d requests did not match Klaviyo's API description:\n", len(v))
		for _, x := range v {
			fmt.Fprintln(os.Stderr, "  "+x)
		}
		os.Exit(1)
	}
}
