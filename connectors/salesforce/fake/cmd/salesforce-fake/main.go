// Command salesforce-fake runs the fake Salesforce org (login server and
// instance in one) on a loopback address, to try the salesforce
// destination without an org, and for CI:
//
//	go run ./connectors/salesforce/fake/cmd/salesforce-fake -addr 127.0.0.1:8791 \
//	    -client-id dev-key -client-secret dev-secret
//
// It prints its base URL on the first line (the login URL and, from the
// token answer, the instance URL), then a line per request (the endpoint
// with identifiers replaced, never a record's values) unless -quiet.
// GET /_fake/state shows the counts, /_fake/requests the request log and
// /_fake/violations the requests that broke a documented rule.
package main

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"strings"

	"github.com/sluicehq/sluice/connectors/internal/fakeserve"
	"github.com/sluicehq/sluice/connectors/salesforce/fake"
)

func main() {
	cfg, err := parseFlags(os.Args[1:])
	if err != nil {
		log.Fatalf("salesforce-fake: %v", err)
	}
	if !cfg.quiet {
		cfg.opts.OnRequest = fakeserve.PrintRequest
	}
	ln, err := fakeserve.Listen(cfg.addr)
	if err != nil {
		log.Fatalf("salesforce-fake: listening on %s: %v", cfg.addr, err)
	}
	srv := fake.Handler(cfg.opts)
	srv.URL = fakeserve.URL(ln)
	for _, name := range cfg.campaigns {
		if _, err := srv.Seed("Campaign", map[string]any{"Name": name, "IsActive": true}); err != nil {
			log.Fatalf("salesforce-fake: -campaign: %v", err)
		}
	}
	fmt.Println(srv.URL)
	if err := fakeserve.Serve(ln, srv); err != nil {
		log.Fatalf("salesforce-fake: %v", err)
	}
}

// config is what the command line asks for.
type config struct {
	addr      string
	opts      fake.Options
	campaigns []string
	quiet     bool
}

// parseFlags reads the command line into the fake's options.
func parseFlags(args []string) (config, error) {
	fs := flag.NewFlagSet("salesforce-fake", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:0", "loopback address to listen on (port 0: any free port)")
	clientID := fs.String("client-id", "", "the connected app's consumer key (required)")
	secret := fs.String("client-secret", "", "the consumer secret for the client credentials flow")
	username := fs.String("username", "", "the user JWT assertions must name as sub (empty: any)")
	pubKey := fs.String("jwt-public-key", "", "PEM file of the RSA public key (or certificate) that verifies JWT bearer assertions")
	extID := fs.String("external-id", "External_Id__c", "custom External ID field added to Contact and Lead (empty: none)")
	daily := fs.Int("daily-limit", 100000, "the org's daily API request limit")
	used := fs.Int("used", 0, "API requests already used today")
	minVersion := fs.Int("min-version", 46, "the oldest API version served (vNN.0)")
	maxVersion := fs.Int("max-version", fake.DefaultMaxVersion, "the newest API version served (vNN.0)")
	polls := fs.Int("bulk-polls", 1, "polls a Bulk API 2.0 job answers InProgress before completing")
	campaigns := fs.String("campaign", "", "comma-separated Campaign names to create at start")
	quiet := fs.Bool("quiet", false, "do not print a line per request")
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	if *clientID == "" {
		return config{}, errors.New("-client-id is required (the consumer key the client sends)")
	}
	host, _, err := net.SplitHostPort(*addr)
	if err != nil {
		return config{}, fmt.Errorf("-addr: %w", err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return config{}, fmt.Errorf("listen on a loopback address (127.0.0.1, ::1 or localhost), not %s", host)
	}
	if *minVersion < 1 || *maxVersion < *minVersion {
		return config{}, fmt.Errorf("-min-version %d and -max-version %d: want 1 <= min <= max", *minVersion, *maxVersion)
	}
	cfg := config{addr: *addr, quiet: *quiet, opts: fake.Options{ClientID: *clientID, ClientSecret: *secret, Username: *username,
		DailyLimit: *daily, UsedAtStart: *used, BulkPolls: *polls, MinVersion: *minVersion, MaxVersion: *maxVersion}}
	if *pubKey != "" {
		if cfg.opts.JWTPublicKey, err = readPublicKey(*pubKey); err != nil {
			return config{}, fmt.Errorf("-jwt-public-key: %w", err)
		}
	}
	if *extID != "" {
		f := fake.ExternalIDField(*extID)
		cfg.opts.Objects = []fake.Object{{Name: "Contact", Fields: []fake.Field{f}}, {Name: "Lead", Fields: []fake.Field{f}}}
	}
	for _, name := range strings.Split(*campaigns, ",") {
		if name = strings.TrimSpace(name); name != "" {
			cfg.campaigns = append(cfg.campaigns, name)
		}
	}
	return cfg, nil
}

// readPublicKey reads an RSA public key from a PEM file: PUBLIC KEY
// (PKIX), RSA PUBLIC KEY (PKCS #1) or a CERTIFICATE, as a connected app's
// uploaded certificate is.
func readPublicKey(path string) (*rsa.PublicKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, fmt.Errorf("%s holds no PEM block", path)
	}
	var key any
	switch block.Type {
	case "CERTIFICATE":
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parsing the certificate in %s: %w", path, err)
		}
		key = cert.PublicKey
	case "RSA PUBLIC KEY":
		key, err = x509.ParsePKCS1PublicKey(block.Bytes)
	default:
		key, err = x509.ParsePKIXPublicKey(block.Bytes)
	}
	if err != nil {
		return nil, fmt.Errorf("parsing the key in %s: %w", path, err)
	}
	rsaKey, ok := key.(*rsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("the key in %s is not an RSA key", path)
	}
	return rsaKey, nil
}
