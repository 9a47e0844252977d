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
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/sluicehq/sluice/connectors/hubspot/fake"
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
	host, _, err := net.SplitHostPort(*addr)
	if err != nil {
		log.Fatalf("hubspot-fake: -addr: %v", err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		log.Fatalf("hubspot-fake: listen on a loopback address (127.0.0.1, ::1 or localhost), not %s", host)
	}
	opts := fake.Options{Token: *token, TenSecondly: *tenSecondly, Daily: *daily}
	if !*quiet {
		opts.OnRequest = func(method, endpoint string, status int) {
			fmt.Printf("%s %s %s -> %d\n", time.Now().Format("15:04:05.000"), method, endpoint, status)
		}
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatalf("hubspot-fake: listening on %s: %v", *addr, err)
	}
	srv := fake.Handler(opts)
	srv.URL = "http://" + ln.Addr().String()
	for _, name := range strings.Split(*lists, ",") {
		if name = strings.TrimSpace(name); name != "" {
			srv.CreateList(name, "MANUAL")
		}
	}
	fmt.Println(srv.URL)
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = hs.Shutdown(shut)
	}()
	if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatalf("hubspot-fake: serving: %v", err)
	}
}
