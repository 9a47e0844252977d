package config

import (
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// EnvMarker stands, in every message sluice prints or logs, for a value
// that came from a ${VAR} reference: such values are secrets (tokens,
// passwords, webhook URLs) and are never echoed.
const EnvMarker = "(value from environment)"

// minAnywhere is the length from which a value is hidden wherever it
// appears in a text; shorter values are hidden only as whole words, so that
// `threads: ${N}` with N=4 does not mangle "line 4" into nonsense.
const minAnywhere = 8

// Redactor is the one place that hides values from the environment in
// text. Load fills one per project (Project.Redactor) with every value a
// ${VAR} reference produced, and the parts of those values that error texts
// quote on their own (a URL's host, user and path, which DNS and HTTP errors
// repeat). Messages that quote a user value go through it: configuration
// problems (problemSink.add), and the CLI's error output and logs.
//
// The zero value is ready to use and safe for concurrent use.
type Redactor struct {
	mu     sync.RWMutex
	values map[string]bool
	sorted []string // longest first, so a value is hidden before its parts
}

// NewRedactor returns a redactor hiding the given values.
func NewRedactor(values ...string) *Redactor {
	r := &Redactor{}
	for _, v := range values {
		r.Add(v)
	}
	return r
}

// Add records a value from the environment. A URL also has its host, user
// info, path and query recorded: error texts quote them separately (e.g.
// "dial tcp: lookup HOST: no such host").
func (r *Redactor) Add(v string) {
	if r == nil || strings.TrimSpace(v) == "" {
		return
	}
	parts := []string{v}
	if u, err := url.Parse(v); err == nil && u.Host != "" {
		parts = append(parts, u.Host, u.Hostname(), u.RawQuery, u.Fragment)
		if u.User != nil {
			parts = append(parts, u.User.String(), u.User.Username())
			if p, ok := u.User.Password(); ok {
				parts = append(parts, p)
			}
		}
		if len(u.Path) > 1 {
			parts = append(parts, u.Path, strings.TrimPrefix(u.EscapedPath(), "/"))
		}
	}
	// Text and JSON logs escape quotes, backslashes and control
	// characters: hide the escaped forms too.
	for _, p := range parts[:len(parts):len(parts)] {
		q := strconv.Quote(p)
		parts = append(parts, q[1:len(q)-1])
		if j, err := json.Marshal(p); err == nil {
			parts = append(parts, string(j[1:len(j)-1]))
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.values == nil {
		r.values = map[string]bool{}
	}
	changed := false
	for _, p := range parts {
		if strings.TrimSpace(p) != "" && !r.values[p] {
			r.values[p] = true
			changed = true
		}
	}
	if changed {
		r.sorted = r.sorted[:0]
		for p := range r.values {
			r.sorted = append(r.sorted, p)
		}
		sort.Slice(r.sorted, func(i, j int) bool {
			if len(r.sorted[i]) != len(r.sorted[j]) {
				return len(r.sorted[i]) > len(r.sorted[j])
			}
			return r.sorted[i] < r.sorted[j]
		})
	}
}

// Merge records every value of o.
func (r *Redactor) Merge(o *Redactor) {
	if r == nil || o == nil {
		return
	}
	for _, v := range o.list() {
		r.Add(v)
	}
}

func (r *Redactor) list() []string {
	if r == nil {
		return nil
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	return append([]string(nil), r.sorted...)
}

// Is reports whether s, once stripped of the quotes messages put around
// values, is a value from the environment.
func (r *Redactor) Is(s string) bool {
	if r == nil {
		return false
	}
	s = strings.Trim(s, "`\"'")
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.values[s] {
		return true
	}
	// A long value is quoted cut short (shortQuote): "abc...".
	if cut, ok := strings.CutSuffix(s, "..."); ok && len(cut) >= minAnywhere {
		for v := range r.values {
			if strings.HasPrefix(v, cut) {
				return true
			}
		}
	}
	return false
}

// Redact returns s with every value from the environment replaced by
// EnvMarker.
func (r *Redactor) Redact(s string) string {
	for _, v := range r.list() {
		if len(v) < 4 || (len(v) < minAnywhere && allDigits(v)) {
			// Too short to find safely in free text (positions hold
			// numbers); messages that quote such a value whole still hide
			// it (redactArgs).
			continue
		}
		if len(v) >= minAnywhere {
			s = strings.ReplaceAll(s, v, EnvMarker)
		} else {
			s = replaceWord(s, v)
		}
	}
	return s
}

// Quote renders a user value for a message: quoted, or EnvMarker when it
// came from the environment.
func (r *Redactor) Quote(s string) string {
	if r.Is(s) {
		return EnvMarker
	}
	return quote(s)
}

// Error returns err with its text redacted; errors.Is and errors.As still
// see the original chain.
func (r *Redactor) Error(err error) error {
	if err == nil {
		return nil
	}
	msg := r.Redact(err.Error())
	if msg == err.Error() {
		return err
	}
	return &redactedError{msg: msg, err: err}
}

type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// Writer redacts what is written through it. Values split across two
// writes are not caught, which is why messages and log lines are written
// whole.
func (r *Redactor) Writer(w io.Writer) io.Writer { return redactWriter{r: r, w: w} }

type redactWriter struct {
	r *Redactor
	w io.Writer
}

func (rw redactWriter) Write(p []byte) (int, error) {
	s := rw.r.Redact(string(p))
	if _, err := io.WriteString(rw.w, s); err != nil {
		return 0, err
	}
	return len(p), nil
}

// replaceWord replaces v where it stands as a whole word (not inside a
// longer identifier or number).
func replaceWord(s, v string) string {
	var b strings.Builder
	for {
		i := strings.Index(s, v)
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		end := i + len(v)
		if (i > 0 && isWordByte(s[i-1])) || (end < len(s) && isWordByte(s[end])) {
			b.WriteString(s[:i+1])
			s = s[i+1:]
			continue
		}
		b.WriteString(s[:i])
		b.WriteString(EnvMarker)
		s = s[end:]
	}
}

func allDigits(s string) bool {
	return strings.Trim(s, "0123456789") == ""
}

func isWordByte(c byte) bool {
	return c == '_' || c == '.' || c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z'
}

// leaks reports whether text repeats value, or a piece of it long enough to
// matter: parse errors quote the part of the input they choke on.
func leaks(text, value string) bool {
	const piece = 4
	if len(value) <= piece {
		return value != "" && strings.Contains(text, value)
	}
	for i := 0; i+piece <= len(value); i++ {
		if strings.Contains(text, value[i:i+piece]) {
			return true
		}
	}
	return false
}

// redactArgs prepares the arguments of a problem message. At a position
// whose value came from the environment, an error that repeats any piece of
// the value loses its text, and no "did you mean" is offered (it would tell
// what the secret is close to). Anywhere, an argument that is a value from
// the environment becomes EnvMarker, and a suggestion of one is dropped.
func (r *Redactor) redactArgs(envValues []string, args []any) []any {
	atEnv := len(envValues) > 0
	leaky := func(s string) bool {
		for _, v := range envValues {
			if leaks(s, v) {
				return true
			}
		}
		return false
	}
	out := make([]any, len(args))
	for i, a := range args {
		switch a := a.(type) {
		case Pos:
			out[i] = a
		case public:
			out[i] = r.Redact(string(a))
		case error:
			if atEnv {
				// Parser errors quote pieces of their input, some too short
				// to recognise (a regexp's `z-a`): at a value from the
				// environment none is shown.
				out[i] = withheld
				continue
			}
			out[i] = r.redactString(a.Error(), atEnv, leaky)
		case string:
			out[i] = r.redactString(a, atEnv, leaky)
		case fmt.Stringer:
			out[i] = r.redactString(a.String(), atEnv, leaky)
		default:
			out[i] = a
		}
	}
	return out
}

// public is message text that sluice wrote itself, such as the list of
// allowed values of an enum: it may resemble a value from the environment
// (a typo of an allowed value) without quoting it, so it is never withheld.
type public string

// withheld replaces the explanation of a parser (cron, regexp, number)
// that quotes a piece of a value from the environment.
const withheld = "(details not shown: they would quote the value from the environment)"

func (r *Redactor) redactString(s string, atEnv bool, leaky func(string) bool) string {
	switch {
	case strings.HasPrefix(s, suggestionPrefix):
		if atEnv || r.Redact(s) != s || r.Is(strings.TrimSuffix(strings.TrimPrefix(s, suggestionPrefix), "?")) {
			return ""
		}
		return s
	case r.Is(s):
		return EnvMarker
	case atEnv && leaky(s) && isQuoted(s):
		return EnvMarker
	case atEnv && leaky(s):
		return withheld
	}
	return r.Redact(s)
}

func isQuoted(s string) bool {
	return len(s) >= 2 && (s[0] == '`' || s[0] == '"' || s[0] == '\'') && s[len(s)-1] == s[0]
}

// yamlQuoted matches the parts of a YAML parser error that quote the file
// (e.g. "unknown anchor 'x' referenced"); single characters are tokens the
// parser expected.
var yamlQuoted = regexp.MustCompile("'[^']*'|\"[^\"]*\"|`[^`]*`")

// yamlErrorText keeps a YAML parser error to its explanation: a file that
// is not what it claims (a symlink to a .env file, say) must not have its
// content quoted in a message.
func yamlErrorText(msg string) string {
	msg = yamlQuoted.ReplaceAllStringFunc(msg, func(q string) string {
		if len(q) <= 3 {
			return q // a token the parser expected, such as '-'
		}
		return "(…)"
	})
	if len(msg) > 160 {
		msg = msg[:157] + "..."
	}
	return msg
}
