package dialect

import (
	"regexp"
	"strings"
	"testing"
)

// Patterns of the kinds identity normalisation writes (white space with
// no-break spaces, case-insensitive junk words, classes excluding all
// non-ASCII, the phone rule's anchored alternatives) and users write
// (blocklist patterns).
var re2Patterns = []string{
	`^(?:(?i)[\s\x{00A0}\x{202F}]*(?:null|undefined|none|n/a|nil|nan|[0.()/+_\-\s\x{00A0}\x{202F}]*)[\s\x{00A0}\x{202F}]*)$`,
	`^(?:[^A-Z\s@\x{0080}-\x{10FFFF}]+@[^A-Z\s@\x{0080}-\x{10FFFF}]+\.[^A-Z\s@\x{0080}-\x{10FFFF}]+)$`,
	`^[\s\x{00A0}\x{202F}]+|[\s\x{00A0}\x{202F}]+$`,
	`\(0\)|[\s.\-/()\x{00A0}\x{202F}]`,
	`^(?:\+33(?:[1-9]\d{8})|\+(?:20|27|30)[1-9]\d{5,12})$`,
	`^(?:^0+(-0+)*$)$`,
	`^(?:[^\s@]+@[^\s@]+\.[^\s@]+)$`,
	`^[\]\[^\\-]+$`,
	`(?s)^a.b$`,
	`^x{2,}y?$`,
}

var subjects = []string{
	"", " ", "null", "NULL", " Null ", "n/a", "N/A", "0000", "00-00", "\u00a0\u00a0", "none\t", "nan", "Nancy",
	"alice@example.com", "Alice@Example.com", "bob@mail", "zoé@exemple.fr", "a b@c.d", " x@y.z ",
	"0612345678", "+33612345678", "+33 6 12 34 56 78", "(0)6.12-34/56 78", "+201234567", "+2012345678901",
	"000-000", "0-0-", "[]^\\-", "a^b", "a\nb", "axb", "xx", "xxxy", "x",
}

// The translation matches exactly the texts the RE2 pattern matches, under
// a POSIX engine (Go's POSIX mode: leftmost-longest, ERE syntax only).
func TestPOSIXMatchesLikeRE2(t *testing.T) {
	for _, p := range re2Patterns {
		re2 := regexp.MustCompile(p)
		tp, err := toPOSIX(p)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if strings.Contains(tp.pattern, "(?") || strings.Contains(tp.pattern, `\x{`) || strings.Contains(tp.pattern, `\s`) || strings.Contains(tp.pattern, `\d`) {
			t.Errorf("%s -> %q still holds RE2-only syntax", p, tp.pattern)
		}
		posix, err := regexp.CompilePOSIX(tp.pattern)
		if err != nil {
			t.Fatalf("%s -> %q is not POSIX ERE: %v", p, tp.pattern, err)
		}
		for _, s := range subjects {
			if got, want := posix.MatchString(s), re2.MatchString(s); got != want {
				t.Errorf("%s -> %q on %q: POSIX %v, RE2 %v", p, tp.pattern, s, got, want)
			}
		}
	}
}

func TestPOSIXRejectsLazyRepetition(t *testing.T) {
	if _, err := toPOSIX(`a+?`); err == nil {
		t.Fatal("want an error for lazy repetition")
	}
}

// emulateSnowflakeReplace runs what Snowflake{}.RegexpReplace writes for
// an anchored alternation: the first alternative that matches the whole
// text replaces it, each with its own renumbered replacement.
func emulateSnowflakeReplace(t *testing.T, pattern, repl, s string) string {
	branches, caps, ok := anchoredBranches(pattern)
	if !ok {
		t.Fatalf("%s: not an anchored alternation", pattern)
	}
	for i, br := range branches {
		tp, err := toPOSIX(br)
		if err != nil {
			t.Fatal(err)
		}
		local := map[int]int{}
		for j, global := range caps[i] {
			if g, ok := tp.groups[j+1]; ok {
				local[global] = g
			}
		}
		r := posixPattern{groups: local}.replacement(repl)
		re := regexp.MustCompilePOSIX(tp.pattern)
		if re.MatchString(s) {
			return re.ReplaceAllString(s, goReplacement(r))
		}
	}
	return s
}

// goReplacement turns \N group references into Go's ${N}.
func goReplacement(r string) string {
	return regexp.MustCompile(`\\(\d)`).ReplaceAllString(strings.ReplaceAll(r, "$", "$$"), "$${$1}")
}

// The phone rule (identity's, for FR) gives the same numbers through the
// per-alternative CASE as through RE2's first-match replacement.
func TestSnowflakeReplaceKeepsFirstMatchOrder(t *testing.T) {
	pattern := `^\d+\|(?:\+|00)(32|41|49|33|44|31)0(.*)$|^\d+\|(?:\+|00)(.*)$|^(\d+)\|33([1-9]\d{8})$|^(\d+)\|0?([1-9].*)$`
	repl := `+\1\2\3\4\5\6\7`
	re2 := regexp.MustCompile(pattern)
	for _, s := range []string{
		"33|0612345678", "33|612345678", "33|+330612345678", "33|+33612345678", "33|0033612345678",
		"33|33612345678", "33|+4915112345678", "33|00441234567890", "33|abc", "33|", "33|+", "33|0",
	} {
		want := re2.ReplaceAllString(s, goReplacement(repl))
		if got := emulateSnowflakeReplace(t, pattern, repl, s); got != want {
			t.Errorf("%q: Snowflake form gives %q, RE2 %q", s, got, want)
		}
	}
	sql := Snowflake{}.RegexpReplace("x", pattern, repl)
	if strings.Count(sql, "WHEN REGEXP_LIKE(") != 4 || !strings.Contains(sql, "ELSE x") {
		t.Errorf("want one WHEN per alternative and the text unchanged otherwise:\n%s", sql)
	}
}

func TestPOSIXReplacementRenumbersGroups(t *testing.T) {
	tp, err := toPOSIX(`(?:ab|cd)(c)(?:d)(e)`)
	if err != nil {
		t.Fatal(err)
	}
	if got := tp.replacement(`<\2\1\3>`); got != `<\3\2>` {
		t.Errorf("replacement %q (pattern %q)", got, tp.pattern)
	}
}
