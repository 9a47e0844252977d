package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/daemon"
	"github.com/sluicehq/sluice/daemon/metrics"
)

func init() { extraCommands = append(extraCommands, newRunCmd) }

// onListen is told the daemon's address once it listens (tests).
var onListen = func(string) {}

func newRunCmd(g *globals) *cobra.Command {
	var listen, logFormat, logLevel string
	c := &cobra.Command{
		Use:   "run",
		Short: "Run the scheduler daemon: syncs on their cron schedules, metrics, health, status page",
		Long: `run is the long-lived daemon (the Docker image's default command). It fires
each sync on its schedule (in the project's time_zone), builds the models the
syncs of a tick read once, then runs them; a sync still running at its next
tick skips that tick. The state store's locks keep a sync from running twice
at once anywhere (a 'sluice sync' by hand, another daemon), and with several
daemons on one state each tick runs once.

HTTP, on --listen:
  GET  /healthz, /readyz        liveness and readiness probes
  GET  /metrics                 Prometheus metrics
  GET  /status, /status.json    every sync: schedule, next and last run, counts, rejections
  POST /syncs/NAME/run          start a sync now (Authorization: Bearer <daemon.trigger_token>;
                                ?wait=true answers when it is over)

Signals: SIGTERM or SIGINT stop it gracefully (no new runs; runs in flight
get daemon.shutdown_timeout to finish, then are cancelled; what destinations
accepted is committed). SIGHUP reloads the project: a project with problems
is reported and the running configuration stays in force.

An embedded DuckDB file is released between batches, so 'sluice sync' and
'sluice runs' can open it while the daemon is idle; a tick that finds it
open elsewhere is skipped and logged.`,
		Example: `  sluice run --project /project --listen :8080
  sluice run --log-format json --log-level debug
  curl -X POST -H "Authorization: Bearer $SLUICE_TRIGGER_TOKEN" localhost:8080/syncs/vip_to_klaviyo/run?wait=true`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			logger, err := newLogger(cmd.ErrOrStderr(), logFormat, logLevel)
			if err != nil {
				return usageErr("%v", err)
			}
			p, err := loadProject(g, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			return runDaemon(cmd.Context(), g, p, listen, logger)
		},
	}
	c.Flags().StringVar(&listen, "listen", "127.0.0.1:8080", "address of the HTTP server (health, metrics, status, trigger); :8080 for every interface")
	c.Flags().StringVar(&logFormat, "log-format", "text", "log format: text or json")
	c.Flags().StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn or error")
	return c
}

func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: use debug, info, warn or error", level)
	}
	o := &slog.HandlerOptions{Level: lvl}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, o)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, o)), nil
	}
	return nil, fmt.Errorf("--log-format %q: use text or json", format)
}

func runDaemon(ctx context.Context, g *globals, p *config.Project, listen string, logger *slog.Logger) error {
	d, err := daemon.New(daemon.Options{
		Project: p, Metrics: metrics.New(), Logger: logger, Version: version,
		Load: func() (*config.Project, error) { return config.Load(g.project, config.Options{Redactor: g.redact}) },
	})
	if err != nil {
		return &exitError{code: exitFailure, err: err}
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return &exitError{code: exitFailure, err: fmt.Errorf("listening on %s: %w", listen, err)}
	}
	srv := &http.Server{Handler: d.Handler(), ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	logger.Info("listening", "address", ln.Addr().String(), "version", version)
	onListen(ln.Addr().String())

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	go func() {
		for {
			select {
			case <-runCtx.Done():
				return
			case <-hup:
				logger.Info("SIGHUP: reloading the configuration")
				_ = d.Reload()
			}
		}
	}()

	runErr := d.Run(runCtx)
	// Probes and metrics stay up while the runs drain (above); now stop.
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(sctx)
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		logger.Error("HTTP server", "error", err)
	}
	if runErr != nil {
		return &exitError{code: exitFailure, err: runErr}
	}
	return nil
}

func init() { extraCommands = append(extraCommands, newHealthcheckCmd) }

// newHealthcheckCmd probes a running daemon: the Docker image's HEALTHCHECK
// (the slim runtime image has no curl).
func newHealthcheckCmd(*globals) *cobra.Command {
	var url string
	c := &cobra.Command{
		Use:    "healthcheck",
		Short:  "Exit 0 when the daemon at --url answers 200",
		Hidden: true,
		Args:   exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), 4*time.Second)
			defer cancel()
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
			if err != nil {
				return usageErr("--url: %v", err)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return &exitError{code: exitFailure, err: fmt.Errorf("probing %s: %w", url, err)}
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return &exitError{code: exitFailure, err: fmt.Errorf("%s answered HTTP %d", url, resp.StatusCode)}
			}
			return nil
		},
	}
	c.Flags().StringVar(&url, "url", "http://127.0.0.1:8080/healthz", "probe URL")
	return c
}
