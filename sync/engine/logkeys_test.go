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

// TestLogLinesCarryEachKeyOnce: every JSON log line of sync runs (with
// retries, rejections and debug lines) holds each key once, and the
// destination's lines name the sync and run too.
func TestLogLinesCarryEachKeyOnce(t *testing.T) {
	p, srv := newPeople(t, fake.Options{})
	srv.SetFaults(fake.Faults{RetryAfter: "0", RetryAfter500: "0", P207: 0.5, RejectShare: 0.3, Seed: 3,
		Script: []string{"429", "500", "207"}})
	seedPeople(t, p, 20)
	var buf bytes.Buffer
	eng := p.NewEngine(t)
	eng.Logger = slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctx := context.Background()
	for range 2 {
		eng.Sync(ctx, "people_hook", engine.SyncOptions{Force: true})
	}
	lines, retries := 0, 0
	sc := bufio.NewScanner(&buf)
	for sc.Scan() {
		lines++
		dup, err := duplicateKey(sc.Text())
		if err != nil {
			t.Fatalf("not JSON: %v: %s", err, sc.Text())
		}
		if dup != "" {
			t.Errorf("key %q twice in: %s", dup, sc.Text())
		}
		if strings.Contains(sc.Text(), `"msg":"retrying request"`) {
			retries++
			for _, k := range []string{`"destination":`, `"sync":`, `"run_id":`} {
				if !strings.Contains(sc.Text(), k) {
					t.Errorf("a destination line lacks %s: %s", k, sc.Text())
				}
			}
		}
	}
	if lines == 0 || retries == 0 {
		t.Fatalf("%d lines, %d retries logged: the test no longer exercises the destination's logging", lines, retries)
	}
}
