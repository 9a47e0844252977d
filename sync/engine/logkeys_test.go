package engine_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/connectors/webhook/fake"
	"github.com/sluicehq/sluice/sync/engine"
)

// duplicateKey returns the first key that an object of the JSON text
// holds twice (at any depth), or "". encoding/json keeps the last of
// duplicates silently, so the text is walked token by token.
func duplicateKey(line string) (string, error) {
	dec := json.NewDecoder(strings.NewReader(line))
	var walk func() (string, error)
	walk = func() (string, error) {
		tok, err := dec.Token()
		if err != nil {
			return "", err
		}
		switch tok {
		case json.Delim('{'):
			seen := map[string]bool{}
			for dec.More() {
				k, err := dec.Token()
				if err != nil {
					return "", err
				}
				key := k.(string)
				if seen[key] {
					return key, nil
				}
				seen[key] = true
				if dup, err := walk(); dup != "" || err != nil {
					return dup, err
				}
			}
			_, err = dec.Token() // }
			return "", err
		case json.Delim('['):
			for dec.More() {
				if dup, err := walk(); dup != "" || err != nil {
					return dup, err
				}
			}
			_, err = dec.Token() // ]
			return "", err
		}
		return "", nil
	}
	dup, err := walk()
	if err == nil && dup == "" {
		if _, err := dec.Token(); err != io.EOF {
			return "", fmt.Errorf("trailing data after the JSON value")
		}
	}
	return dup, err
}

func TestDuplicateKeyDetector(t *testing.T) {
	tests := []struct{ line, dup string }{
		{`{"a":1,"b":2}`, ""},
		{`{"a":1,"a":2}`, "a"},
		{`{"msg":"x","destination":"hook","sync":"s","destination":"hook"}`, "destination"},
		{`{"a":{"b":1,"b":2}}`, "b"},
		{`{"a":[{"c":1},{"c":1,"c":2}]}`, "c"},
		{`{"a":{"b":1},"b":{"a":1}}`, ""},
	}
	for _, tc := range tests {
		got, err := duplicateKey(tc.line)
		if err != nil || got != tc.dup {
			t.Errorf("duplicateKey(%s) = %q, %v; want %q", tc.line, got, err, tc.dup)
		}
	}
}

// TestLogLinesCarryEachKeyOnce: every JSON log line of sync runs holds
// each key once, and the destination's lines name the sync and run too:
// runs that retry, that get records rejected, and that fail.
func TestLogLinesCarryEachKeyOnce(t *testing.T) {
	tests := []struct {
		name   string
		faults fake.Faults
		want   string // a message that must be logged
	}{
		{"retries", fake.Faults{RetryAfter: "0", RetryAfter500: "0", Script: []string{"429", "500", "429"}}, "retrying request"},
		{"rejections", fake.Faults{RetryAfter: "0", RetryAfter500: "0", Script: []string{"429", "207", "207"}, P207: 1, RejectShare: 0.5, Seed: 3}, "retrying request"},
		{"failure", fake.Faults{RetryAfter500: "0", P500: 1, Seed: 5}, "request answered"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, srv := newPeople(t, fake.Options{})
			srv.SetFaults(tc.faults)
			seedPeople(t, p, 20)
			var buf bytes.Buffer
			eng := p.NewEngine(t)
			eng.Logger = slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
			eng.Sync(context.Background(), "people_hook", engine.SyncOptions{Force: true})
			checkLogLines(t, &buf, tc.want)
		})
	}
}

// checkLogLines checks every line of buf for duplicate keys, and that the
// destination's want lines name destination, sync and run.
func checkLogLines(t *testing.T, buf *bytes.Buffer, want string) {
	t.Helper()
	text := buf.String()
	lines, wanted := 0, 0
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		lines++
		dup, err := duplicateKey(sc.Text())
		if err != nil {
			t.Fatalf("not JSON: %v: %s", err, sc.Text())
		}
		if dup != "" {
			t.Errorf("key %q twice in: %s", dup, sc.Text())
		}
		if strings.Contains(sc.Text(), `"msg":"`+want+`"`) {
			wanted++
			for _, k := range []string{`"destination":`, `"sync":`, `"run_id":`} {
				if !strings.Contains(sc.Text(), k) {
					t.Errorf("a destination line lacks %s: %s", k, sc.Text())
				}
			}
		}
	}
	if wanted == 0 {
		t.Fatalf("%d lines, none %q: the test no longer exercises the destination's logging:\n%s", lines, want, text)
	}
}
