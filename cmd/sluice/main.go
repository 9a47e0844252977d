// Command sluice is the command-line interface of sluice, a warehouse-native
// activation engine. It stays thin: it parses flags and calls packages.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/sluicehq/sluice/config"
	_ "github.com/sluicehq/sluice/connectors/all"
	_ "github.com/sluicehq/sluice/models/all"
)

// Exit codes, documented in the README.
const (
	exitOK      = 0
	exitFailure = 1 // invalid project, failed build, SQL error
	exitUsage   = 2 // bad flags or arguments
)

// exitError carries an exit code through cobra.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func usageErr(format string, args ...any) error {
	return &exitError{code: exitUsage, err: fmt.Errorf(format, args...)}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	g := &globals{redact: &config.Redactor{}}
	cmd := newRoot(g)
	cmd.SetArgs(args)
	// Messages and logs never show a value from the environment (see
	// config.Redactor). compile and query print SQL and data, not messages:
	// their output is left as it is.
	if sub, _, err := cmd.Find(args); err != nil || (sub.Name() != "compile" && sub.Name() != "query") {
		stdout = g.redact.Writer(stdout)
	}
	stderr = g.redact.Writer(stderr)
	cmd.SetOut(stdout)
	cmd.SetErr(stderr)
	err := cmd.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil && ee.err.Error() != "" {
			fmt.Fprintln(cmd.ErrOrStderr(), "error:", ee.err)
		}
		return ee.code
	}
	fmt.Fprintln(cmd.ErrOrStderr(), "error:", err)
	return exitFailure
}
