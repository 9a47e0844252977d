package config

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// closest returns the candidate nearest to s by edit distance when it is close
// enough to be a plausible typo, or "".
func closest(s string, candidates []string) string {
	if len(s) > 128 {
		return "" // no name is that long, and the distance costs len(s) per candidate
	}
	best, bestD := "", -1
	for _, c := range candidates {
		d := editDistance(s, c)
		if bestD < 0 || d < bestD {
			best, bestD = c, d
		}
	}
	limit := max(1, len(s)/3)
	if bestD < 0 || bestD > limit {
		return ""
	}
	return best
}

// suggestionPrefix starts every suggestion, so that the message function
// (problemSink.add) can drop one that would name a value from the
// environment.
const suggestionPrefix = "; did you mean "

// didYouMean formats a suggestion suffix for an error message.
func didYouMean(s string, candidates []string) string {
	if c := closest(s, candidates); c != "" {
		return suggestionPrefix + quote(c) + "?"
	}
	return ""
}

// editDistance is the optimal-string-alignment distance: Levenshtein plus
// adjacent transpositions, the commonest typo.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev2 := make([]int, len(rb)+1)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(rb)]
}

// quote shows a name in a message: in backquotes, shortened when long, and
// with control characters escaped, so that a hostile key (a megabyte long,
// or holding a newline or a terminal escape) cannot flood or break the
// one-line-per-problem output.
func quote(s string) string {
	if len(s) > 80 {
		cut := 77
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "..."
	}
	if strings.IndexFunc(s, func(r rune) bool { return unicode.IsControl(r) || r == utf8.RuneError }) >= 0 {
		q := strconv.Quote(s)
		s = q[1 : len(q)-1]
	}
	return "`" + s + "`"
}

// DidYouMean returns "; did you mean `x`?" when a candidate is close to s,
// else "". Other packages use it to keep suggestions alike.
func DidYouMean(s string, candidates []string) string { return didYouMean(s, candidates) }
