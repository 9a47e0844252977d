package config

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

// TestRedactorHidesValuesInLogs: text and JSON log lines escape quotes and
// special characters, and errors quote a URL's parts on their own.
func TestRedactorHidesValuesInLogs(t *testing.T) {
	const canary = "CANARY_S3CR3T_x9"
	values := []string{
		canary,
		`pa"ss\` + canary,
		"https://user:" + canary + "@canary-host.invalid/p?t=" + canary,
		"line\n" + canary + "<&>",
	}
	for i, v := range values {
		r := NewRedactor(v)
		for _, format := range []string{"text", "json"} {
			t.Run(fmt.Sprint(i, format), func(t *testing.T) {
				var buf bytes.Buffer
				var h slog.Handler = slog.NewTextHandler(r.Writer(&buf), nil)
				if format == "json" {
					h = slog.NewJSONHandler(r.Writer(&buf), nil)
				}
				err := fmt.Errorf("posting: %w", errors.New(`Post "`+v+`": dial tcp: lookup canary-host.invalid: no such host`))
				slog.New(h).Error("sync failed", "url", v, "error", err)
				if strings.Contains(buf.String(), canary) || (strings.Contains(v, "canary-host") && strings.Contains(buf.String(), "canary-host")) {
					t.Errorf("value shown: %s", buf.String())
				}
				if !strings.Contains(buf.String(), EnvMarker) {
					t.Errorf("no marker: %s", buf.String())
				}
			})
		}
	}
}

// TestRedactorLeavesShortValuesInPositions: a short value (a port, a
// thread count) is hidden where a message quotes it whole, never inside
// positions and numbers.
func TestRedactorLeavesShortValuesInPositions(t *testing.T) {
	r := NewRedactor("4", "9000", "user")
	cases := map[string]string{
		"sluice.yml:4:9000: threads must be 1 or more": "sluice.yml:4:9000: threads must be 1 or more",
		"connecting as user to db":                     "connecting as " + EnvMarker + " to db",
		"column user_id is unknown":                    "column user_id is unknown",
	}
	for in, want := range cases {
		if got := r.Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
	if got := r.Quote("4"); got != EnvMarker {
		t.Errorf("Quote(4) = %q", got)
	}
}
