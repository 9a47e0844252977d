package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	brevofake "github.com/sluicehq/sluice/connectors/brevo/fake"
)

func init() { extraCommands = append(extraCommands, newSandboxCmd) }

type sandboxFlags struct {
	listen, keys, specs []string
	envFile             string
	quiet, noLimits     bool
	brevoBatchAnswer    string
}

func newSandboxCmd(*globals) *cobra.Command {
	f := &sandboxFlags{}
	c := &cobra.Command{
		Use:   "sandbox VENDOR...",
		Short: "Serve faithful fakes of vendor APIs on loopback and print the variables that point a project at them",
		Long: `sandbox serves the project's fake of each VENDOR's API (` + strings.Join(sandboxVendorNames(), ", ") + `) on a
loopback address, with a key it generates, and prints on stdout, first, one shell line per
vendor exporting the variables the examples read (KLAVIYO_API_KEY and KLAVIYO_BASE_URL,
BREVO_API_KEY and BREVO_BASE_URL, HUBSPOT_ACCESS_TOKEN and HUBSPOT_BASE_URL,
SALESFORCE_CLIENT_SECRET, SALESFORCE_LOGIN_URL and SALESFORCE_CLIENT_ID, META_TOKEN and
META_URL, GOOGLE_ADS_CREDENTIALS and GOOGLE_ADS_BASE_URL, WEBHOOK_TOKEN and WEBHOOK_URL).
Google's credentials are a service account key's JSON, on one line, that the fake makes and
trusts (its token address is the fake's). Then it logs a line per request on stderr until
SIGINT or SIGTERM.

The fakes answer as the vendors do: their authentication, error documents, batch limits and
rate limits (--no-limits lifts those), asynchronous jobs. They keep everything in memory:
after a restart, ` + "`sluice state reset SYNC`" + ` makes the next sync send everything again.

--listen, --key and --spec take VALUE (for every vendor served that takes it) or
VENDOR=VALUE. With --spec, Klaviyo's fake checks every request against Klaviyo's OpenAPI file
(klaviyo-openapi-stable.json); google_ads takes no --key. On shutdown sandbox prints a
summary line per vendor, and exits 1 after listing the requests that broke the vendor's API
description or rules, if any did.`,
		Example: `  # Two terminals: serve here, paste the export line in the other one.
  sluice sandbox klaviyo brevo hubspot salesforce meta google_ads

  # One shell, or CI: the variables in a file (mode 0600) to source once it exists.
  sluice sandbox klaviyo brevo hubspot salesforce meta google_ads --env-file .sluice/sandbox.env 2>sandbox.log &
  until [ -s .sluice/sandbox.env ]; do sleep 0.1; done
  . .sluice/sandbox.env && sluice sync

  sluice sandbox klaviyo --spec klaviyo-openapi-stable.json --listen 127.0.0.1:8789`,
		Args: func(c *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageErr("%s takes one or more vendors: %s (see %s --help)", c.CommandPath(), strings.Join(sandboxVendorNames(), ", "), c.CommandPath())
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return runSandbox(cmd.Context(), f, args, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	fl := c.Flags()
	fl.StringArrayVar(&f.listen, "listen", []string{"127.0.0.1:0"}, "`[VENDOR=]ADDR` to listen on, loopback only; port 0 picks a free port per vendor")
	fl.StringArrayVar(&f.keys, "key", nil, "`[VENDOR=]KEY` the fake accepts (default: a random one; google_ads's fake makes its own service account key)")
	fl.StringArrayVar(&f.specs, "spec", nil, "`[VENDOR=]FILE`: check every request against the vendor's API description (klaviyo)")
	fl.StringVar(&f.envFile, "env-file", "", "also write the export lines to `PATH` (mode 0600; removed on shutdown)")
	fl.BoolVar(&f.quiet, "quiet", false, "no line per request")
	fl.BoolVar(&f.noLimits, "no-limits", false, "lift the vendors' rate limits")
	fl.StringVar(&f.brevoBatchAnswer, "brevo-batch-answer", brevofake.BatchObserved, "how Brevo's POST /contacts/batch answers unknown or refused contacts: `"+
		strings.Join(brevofake.BatchAnswers, "|")+"` (observed: Brevo's all-or-nothing 404; documented: the 207 with successIds/failureIds of its API reference)")
	return c
}

// sandboxPlan is one vendor to serve, as the flags ask.
type sandboxPlan struct {
	name   string
	vendor sandboxVendor
	listen string
	key    string // "" until generated
	spec   string
}

// planSandbox checks the vendors and flags, all before listening.
func planSandbox(f *sandboxFlags, args []string) ([]*sandboxPlan, error) {
	var plans []*sandboxPlan
	for _, name := range args {
		v, ok := sandboxVendors[name]
		if !ok {
			return nil, usageErr("unknown vendor %q: the sandbox serves %s", name, strings.Join(sandboxVendorNames(), ", "))
		}
		if slices.ContainsFunc(plans, func(p *sandboxPlan) bool { return p.name == name }) {
			return nil, usageErr("vendor %s given twice", name)
		}
		plans = append(plans, &sandboxPlan{name: name, vendor: v})
	}
	listen, err := perVendor("--listen", f.listen, args, nil)
	if err != nil {
		return nil, err
	}
	keys, err := perVendor("--key", f.keys, args, func(n string) bool { return !sandboxVendors[n].OwnKey })
	if err != nil {
		return nil, err
	}
	specs, err := perVendor("--spec", f.specs, args, func(n string) bool { return sandboxVendors[n].Spec })
	if err != nil {
		return nil, err
	}
	if err := brevofake.CheckBatchAnswer(f.brevoBatchAnswer); err != nil {
		return nil, usageErr("--brevo-batch-answer: %w", err)
	}
	if f.brevoBatchAnswer != brevofake.BatchObserved && !slices.Contains(args, "brevo") {
		return nil, usageErr("--brevo-batch-answer: brevo is not among the vendors served (%s)", strings.Join(args, ", "))
	}
	ports := map[string]string{} // fixed port -> vendor
	for _, p := range plans {
		p.listen, p.key, p.spec = listen[p.name], keys[p.name], specs[p.name]
		port, err := loopbackPort(p.listen)
		if err != nil {
			return nil, usageErr("--listen %s: %w", p.listen, err)
		}
		if other, taken := ports[port]; taken && port != "0" {
			return nil, usageErr("--listen: %s and %s would share port %s; give each its own (--listen VENDOR=ADDR) or use port 0", other, p.name, port)
		}
		ports[port] = p.name
		if _, given := keys[p.name]; given && strings.TrimSpace(p.key) == "" {
			return nil, usageErr("--key: the key for %s is empty", p.name)
		}
	}
	return plans, nil
}

var vendorPrefix = regexp.MustCompile(`^[a-z][a-z0-9_-]*$`)

// perVendor spreads a flag's [VENDOR=]VALUE values over the vendors
// served: a bare VALUE goes to every served vendor that takes it (takes
// nil: all), VENDOR=VALUE to that vendor, overriding a bare one.
func perVendor(flag string, values, served []string, takes func(string) bool) (map[string]string, error) {
	if takes == nil {
		takes = func(string) bool { return true }
	}
	out := map[string]string{}
	specific := map[string]bool{}
	for _, raw := range values {
		name, value, found := strings.Cut(raw, "=")
		if !found || !vendorPrefix.MatchString(name) {
			n := 0
			for _, s := range served {
				if takes(s) && !specific[s] {
					out[s], n = raw, n+1
				}
			}
			if n == 0 {
				return nil, usageErr("%s %s: none of the vendors served (%s) takes it", flag, raw, strings.Join(served, ", "))
			}
			continue
		}
		switch _, known := sandboxVendors[name]; {
		case !known:
			return nil, usageErr("%s %s: unknown vendor %q: the sandbox serves %s", flag, raw, name, strings.Join(sandboxVendorNames(), ", "))
		case !slices.Contains(served, name):
			return nil, usageErr("%s %s: %s is not among the vendors served (%s)", flag, raw, name, strings.Join(served, ", "))
		case !takes(name):
			return nil, usageErr("%s: %s's fake does not take it", flag, name)
		case specific[name]:
			return nil, usageErr("%s given twice for %s", flag, name)
		}
		out[name], specific[name] = value, true
	}
	return out, nil
}

// loopbackPort returns the port of addr, which must be on loopback: the
// fakes accept any request carrying the key they print, and are no
// service to expose.
func loopbackPort(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("not HOST:PORT: %w", err)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return "", fmt.Errorf("port %q is not a number from 0 to 65535", port)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return "", fmt.Errorf("the sandbox listens on loopback only (127.0.0.1, ::1 or localhost), not %q", host)
	}
	return port, nil
}

// sandboxRunning is one vendor being served.
type sandboxRunning struct {
	*sandboxPlan
	url  string
	srv  sandboxServer
	http *http.Server
}

func runSandbox(ctx context.Context, f *sandboxFlags, args []string, stdout, stderr io.Writer) error {
	plans, err := planSandbox(f, args)
	if err != nil {
		return err
	}
	log := &sandboxLog{w: stderr}
	served, serveErr, err := startSandbox(plans, f, log)
	if err != nil {
		return &exitError{code: exitFailure, err: err}
	}
	lines := make([]string, len(served))
	for i, r := range served {
		lines[i] = exportLine(r)
	}
	if f.envFile != "" {
		if err := writeEnvFile(f.envFile, lines); err != nil {
			stopSandbox(served)
			return &exitError{code: exitFailure, err: err}
		}
		defer os.Remove(f.envFile) // its key dies with the sandbox
	}
	// The export lines come first, alone on stdout, so that a script can
	// read or eval them; everything else goes to stderr.
	fmt.Fprint(stdout, strings.Join(lines, "\n")+"\n")
	// Requests may arrive from here on: stderr is the log's.
	for _, r := range served {
		log.printf("sandbox: fake %s API on %s%s\n", r.vendor.Title, r.url, sandboxNotes(r, f))
	}
	where := "printed on stdout"
	if f.envFile != "" {
		where += " and written to " + f.envFile
	}
	log.printf("sandbox: export the variables %s in the shell that runs sluice; Ctrl-C stops\n", where)
	select {
	case <-ctx.Done():
	case err = <-serveErr:
	}
	stopSandbox(served)
	if err != nil {
		return &exitError{code: exitFailure, err: fmt.Errorf("sandbox: %w", err)}
	}
	return sandboxReport(served, log)
}

func sandboxNotes(r *sandboxRunning, f *sandboxFlags) string {
	var notes []string
	if f.noLimits {
		notes = append(notes, "no rate limits")
	}
	if r.spec != "" {
		notes = append(notes, "requests checked against "+r.spec)
	}
	if n, ok := r.srv.(notedServer); ok && n.Note() != "" {
		notes = append(notes, n.Note())
	}
	if r.name == "brevo" && f.brevoBatchAnswer != brevofake.BatchObserved {
		notes = append(notes, "/contacts/batch answered as "+f.brevoBatchAnswer)
	}
	if len(notes) == 0 {
		return ""
	}
	return " (" + strings.Join(notes, ", ") + ")"
}

// startSandbox listens and serves every plan; serveErr reports a server
// that stopped by itself.
func startSandbox(plans []*sandboxPlan, f *sandboxFlags, log *sandboxLog) (served []*sandboxRunning, serveErr <-chan error, err error) {
	errc := make(chan error, len(plans))
	for _, p := range plans {
		r, err := serveVendor(p, f, log, errc)
		if err != nil {
			stopSandbox(served)
			return nil, nil, fmt.Errorf("sandbox %s: %w", p.name, err)
		}
		served = append(served, r)
	}
	return served, errc, nil
}

func serveVendor(p *sandboxPlan, f *sandboxFlags, log *sandboxLog, errc chan<- error) (*sandboxRunning, error) {
	if p.key == "" && !p.vendor.OwnKey {
		p.key = p.vendor.KeyPrefix + randomHex(16)
	}
	cfg := sandboxConfig{Key: p.key, Spec: p.spec, NoLimits: f.noLimits, BrevoBatchAnswer: f.brevoBatchAnswer}
	if !f.quiet {
		cfg.Log = log.vendor(p.name)
	}
	ln, err := net.Listen("tcp", p.listen)
	if err != nil {
		return nil, fmt.Errorf("listening: %w", err)
	}
	cfg.BaseURL = "http://" + ln.Addr().String() + p.vendor.URLPath
	srv, err := p.vendor.New(cfg)
	if err != nil {
		ln.Close()
		return nil, err
	}
	if p.vendor.OwnKey {
		p.key = srv.(ownKeyServer).Key()
	}
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errc <- fmt.Errorf("%s: %w", p.name, err)
		}
	}()
	return &sandboxRunning{sandboxPlan: p, url: cfg.BaseURL, srv: srv, http: hs}, nil
}

// stopSandbox lets requests under way finish (a sync mid-batch gets its
// answer), then stops the fakes.
func stopSandbox(served []*sandboxRunning) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, r := range served {
		if err := r.http.Shutdown(ctx); err != nil {
			_ = r.http.Close()
		}
		r.srv.Close()
	}
}

// sandboxReport prints what each fake holds and fails when a request broke
// the vendor's API description, so that CI dry runs catch it.
func sandboxReport(served []*sandboxRunning, log *sandboxLog) error {
	broken := 0
	for _, r := range served {
		log.printf("sandbox %s: %s\n", r.name, r.srv.Summary())
	}
	for _, r := range served {
		v := r.srv.Violations()
		if len(v) == 0 {
			continue
		}
		broken += len(v)
		log.printf("%s did not match %s's API description or rules:\n", plural(len(v), "request", "requests"), r.vendor.Title)
		for _, x := range v {
			log.printf("  %s\n", x)
		}
	}
	if broken > 0 {
		return &exitError{code: exitFailure, err: fmt.Errorf("sandbox: %s broke the vendors' API descriptions", plural(broken, "request", "requests"))}
	}
	return nil
}

func exportLine(r *sandboxRunning) string {
	line := fmt.Sprintf("export %s=%s %s=%s", r.vendor.KeyEnv, shellQuote(r.key), r.vendor.URLEnv, shellQuote(r.url))
	for _, kv := range r.vendor.Fixed {
		line += fmt.Sprintf(" %s=%s", kv[0], shellQuote(kv[1]))
	}
	return line
}

var shellSafe = regexp.MustCompile(`^[A-Za-z0-9_./:@%+,-]+$`)

// shellQuote quotes s for sh when it needs it (a key given with --key may
// hold anything).
func shellQuote(s string) string {
	if shellSafe.MatchString(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// writeEnvFile writes the export lines to path, owner-only since they hold
// keys, and whole: it is renamed into place, so a script that waits for
// the file never reads half of it.
func writeEnvFile(path string, lines []string) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil { // a folder it creates is private too
		return fmt.Errorf("--env-file: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".sluice-sandbox-*.env")
	if err != nil {
		return fmt.Errorf("--env-file: %w", err)
	}
	body := fmt.Sprintf("# Written by sluice sandbox (PID %d), removed when it stops.\n%s\n", os.Getpid(), strings.Join(lines, "\n"))
	_, werr := tmp.WriteString(body)
	cerr := tmp.Chmod(0o600)
	if err := errors.Join(werr, cerr, tmp.Close()); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("--env-file: writing %s: %w", tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("--env-file: %w", err)
	}
	return nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return hex.EncodeToString(b)
}

// sandboxLog writes the fakes' lines to stderr, one at a time, from the
// servers' goroutines.
type sandboxLog struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *sandboxLog) printf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.w, format, args...)
}

// vendor returns the request logger of one vendor: time, vendor, line.
func (l *sandboxLog) vendor(name string) func(string, ...any) {
	return func(format string, args ...any) {
		l.printf("%s %s %s\n", time.Now().Format("15:04:05.000"), name, fmt.Sprintf(format, args...))
	}
}
