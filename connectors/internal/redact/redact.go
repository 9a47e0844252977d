// Package redact masks the identifiers a vendor's error message may quote
// (a duplicate external id, an invalid e-mail address in full): those
// messages go to logs and to a run's rejections, which must hold no
// personal data.
package redact

import (
	"regexp"
	"slices"
	"strings"
)

// Message masks in msg each of values (the record's key and fields),
// whatever their case, as [key], then any other e-mail address as
// [email].
func Message(msg string, values ...string) string {
	var alts []string
	lower := strings.ToLower(msg)
	for _, v := range values {
		if v = strings.TrimSpace(v); v != "" && strings.Contains(lower, strings.ToLower(v)) {
			alts = append(alts, regexp.QuoteMeta(v))
		}
	}
	if len(alts) > 0 {
		// Longest first, so that a value inside another is not masked first.
		slices.SortFunc(alts, func(a, b string) int { return len(b) - len(a) })
		msg = regexp.MustCompile("(?i)"+strings.Join(alts, "|")).ReplaceAllLiteralString(msg, "[key]")
	}
	return emailRE.ReplaceAllString(msg, "[email]")
}

// emailRE is anything around an @ up to a separator a message may put
// around an address (quotes, brackets, punctuation).
var emailRE = regexp.MustCompile(`[^\s"'\\,;:<>()\[\]{}]+@[^\s"'\\,;:<>()\[\]{}]+`)
