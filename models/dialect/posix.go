package dialect

import (
	"fmt"
	"regexp/syntax"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// sluice writes its patterns in RE2 syntax (DuckDB, ClickHouse and BigQuery
// read RE2). Snowflake reads POSIX extended regular expressions instead: no
// (?i) flags, no non-capturing groups, no \x{...} escapes, and every group
// captures. toPOSIX rewrites an RE2 pattern into an equivalent POSIX ERE by
// walking its parse tree:
//
//   - literals are escaped; case-insensitive letters become [aA] classes;
//   - character classes are written out as bracket expressions with the
//     characters themselves (string literals escape the invisible ones),
//     so \s, \d and \x{00A0} need no support from the engine;
//   - non-capturing groups become groups, and the replacement's \N group
//     references are renumbered to match;
//   - what POSIX cannot say (lazy repetition) is an error.
//
// Character classes never list U+0000 (no text sluice reads holds it, and
// a NUL in a pattern ends it in C-based engines): a class that should
// contain it does not, and a negated class that should exclude it does
// not.

// posixPattern is an RE2 pattern rewritten for a POSIX engine.
type posixPattern struct {
	pattern string
	groups  map[int]int // RE2 capture index -> POSIX group number
}

// toPOSIX translates an RE2 pattern.
func toPOSIX(re2 string) (posixPattern, error) {
	re, err := syntax.Parse(re2, syntax.Perl)
	if err != nil {
		return posixPattern{}, fmt.Errorf("regular expression %q: %w", re2, err)
	}
	w := &posixWriter{groups: map[int]int{}}
	if err := w.write(re, false); err != nil {
		return posixPattern{}, fmt.Errorf("regular expression %q cannot be written for a POSIX engine: %w", re2, err)
	}
	return posixPattern{pattern: w.b.String(), groups: w.groups}, nil
}

// replacement rewrites an RE2-style replacement (\1 .. \9 refer to groups)
// for the translated pattern: references follow the renumbered groups, and
// a reference to a group the pattern lacks becomes empty.
func (p posixPattern) replacement(repl string) string {
	var b strings.Builder
	for i := 0; i < len(repl); i++ {
		if repl[i] == '\\' && i+1 < len(repl) && repl[i+1] >= '0' && repl[i+1] <= '9' {
			n := int(repl[i+1] - '0')
			if n == 0 {
				b.WriteString(`\0`)
			} else if g, ok := p.groups[n]; ok {
				b.WriteString(`\` + strconv.Itoa(g))
			}
			i++
			continue
		}
		if repl[i] == '\\' && i+1 < len(repl) && repl[i+1] == '\\' {
			b.WriteString(`\\`)
			i++
			continue
		}
		b.WriteByte(repl[i])
	}
	return b.String()
}

type posixWriter struct {
	b      strings.Builder
	n      int         // groups written so far
	groups map[int]int // RE2 capture index -> group number
}

// group opens a group and returns its number.
func (w *posixWriter) group() int {
	w.n++
	w.b.WriteByte('(')
	return w.n
}

// write emits re; atom asks for a single unit that a repetition operator
// can follow.
func (w *posixWriter) write(re *syntax.Regexp, atom bool) error {
	switch re.Op {
	case syntax.OpNoMatch:
		return fmt.Errorf("a pattern that matches nothing")
	case syntax.OpEmptyMatch:
		if atom {
			w.group()
			w.b.WriteByte(')')
		}
	case syntax.OpLiteral:
		fold := re.Flags&syntax.FoldCase != 0
		if atom && len(re.Rune) > 1 {
			w.group()
			defer w.b.WriteByte(')')
		}
		for _, r := range re.Rune {
			if fold && hasOtherCase(r) {
				w.class(foldRanges(r))
			} else {
				w.literal(r)
			}
		}
	case syntax.OpCharClass:
		w.class(re.Rune)
	case syntax.OpAnyCharNotNL:
		w.b.WriteByte('.')
	case syntax.OpAnyChar:
		w.anyChar()
	case syntax.OpBeginLine, syntax.OpBeginText:
		w.b.WriteByte('^')
	case syntax.OpEndLine, syntax.OpEndText:
		w.b.WriteByte('$')
	case syntax.OpWordBoundary:
		w.b.WriteString(`\b`)
	case syntax.OpNoWordBoundary:
		w.b.WriteString(`\B`)
	case syntax.OpCapture:
		w.groups[re.Cap] = w.group()
		if err := w.write(re.Sub[0], false); err != nil {
			return err
		}
		w.b.WriteByte(')')
	case syntax.OpStar, syntax.OpPlus, syntax.OpQuest, syntax.OpRepeat:
		if re.Flags&syntax.NonGreedy != 0 {
			return fmt.Errorf("lazy repetition (*?, +?, ??) has no POSIX equivalent")
		}
		if atom {
			w.group()
			defer w.b.WriteByte(')')
		}
		if err := w.write(re.Sub[0], true); err != nil {
			return err
		}
		switch re.Op {
		case syntax.OpStar:
			w.b.WriteByte('*')
		case syntax.OpPlus:
			w.b.WriteByte('+')
		case syntax.OpQuest:
			w.b.WriteByte('?')
		default:
			switch {
			case re.Max == -1:
				fmt.Fprintf(&w.b, "{%d,}", re.Min)
			case re.Min == re.Max:
				fmt.Fprintf(&w.b, "{%d}", re.Min)
			default:
				fmt.Fprintf(&w.b, "{%d,%d}", re.Min, re.Max)
			}
		}
	case syntax.OpConcat:
		if atom && len(re.Sub) > 1 {
			w.group()
			defer w.b.WriteByte(')')
		}
		for _, s := range re.Sub {
			// An alternation inside a concatenation needs a group.
			if err := w.write(s, s.Op == syntax.OpAlternate); err != nil {
				return err
			}
		}
	case syntax.OpAlternate:
		if atom {
			w.group()
			defer w.b.WriteByte(')')
		}
		for i, s := range re.Sub {
			if i > 0 {
				w.b.WriteByte('|')
			}
			if err := w.write(s, false); err != nil {
				return err
			}
		}
	default:
		return fmt.Errorf("unsupported construct %s", re)
	}
	return nil
}

func hasOtherCase(r rune) bool { return unicode.SimpleFold(r) != r }

// foldRanges is the class of r and its other cases.
func foldRanges(r rune) []rune {
	var out []rune
	for f := r; ; {
		out = append(out, f, f)
		if f = unicode.SimpleFold(f); f == r {
			break
		}
	}
	return out
}

// anyChar matches any character, line breaks included: . does not match
// a line break in Snowflake without the 's' parameter.
func (w *posixWriter) anyChar() {
	w.group()
	w.b.WriteString(".|\n)")
}

// literal writes one character, escaped when POSIX gives it a meaning.
func (w *posixWriter) literal(r rune) {
	if strings.ContainsRune(`\.[]()*+?{}|^$`, r) {
		w.b.WriteByte('\\')
	}
	w.b.WriteRune(r)
}

// class writes a bracket expression for ranges (pairs lo, hi). A class
// reaching the last code point is written negated (what it excludes),
// which is shorter and needs no exotic characters.
func (w *posixWriter) class(ranges []rune) {
	rs := normalizeRanges(ranges)
	negated := len(rs) > 0 && rs[len(rs)-1] == unicode.MaxRune
	if negated {
		rs = complementRanges(rs)
	}
	rs = dropNUL(rs)
	if !negated && len(rs) == 2 && rs[0] == rs[1] {
		w.literal(rs[0]) // a one-character class is a literal
		return
	}
	if negated && len(rs) == 0 {
		w.anyChar()
		return
	}
	// Characters that bracket expressions treat specially are never range
	// ends: ] goes first, [ and ^ after the ranges, - last, and a backslash
	// is written twice (a literal to POSIX, an escaped backslash to engines
	// that read escapes in brackets: one backslash either way).
	special := map[rune]bool{']': false, '[': false, '^': false, '-': false, '\\': false}
	var plain [][2]rune
	for i := 0; i < len(rs); i += 2 {
		lo, hi := rs[i], rs[i+1]
		start := lo
		for c := lo; c <= hi; c++ {
			if _, ok := special[c]; ok {
				if start < c {
					plain = append(plain, [2]rune{start, c - 1})
				}
				special[c] = true
				start = c + 1
			}
			if c >= 0x7f { // no special character beyond ASCII
				break
			}
		}
		if start <= hi {
			plain = append(plain, [2]rune{start, hi})
		}
	}
	w.b.WriteByte('[')
	if negated {
		w.b.WriteByte('^')
	}
	if special[']'] {
		w.b.WriteByte(']')
	}
	for _, p := range plain {
		w.b.WriteRune(p[0])
		switch {
		case p[1] == p[0]:
		case p[1] == p[0]+1:
			w.b.WriteRune(p[1])
		default:
			w.b.WriteByte('-')
			w.b.WriteRune(p[1])
		}
	}
	if special['\\'] {
		w.b.WriteString(`\\`)
	}
	if special['['] {
		w.b.WriteByte('[')
	}
	first := !negated && !special[']'] && len(plain) == 0 && !special['\\'] && !special['[']
	if special['^'] && first && special['-'] {
		w.b.WriteString("-^") // ^ first would negate; - first is a member
	} else {
		if special['^'] {
			w.b.WriteByte('^') // never first: a positive class of ^ alone is a literal
		}
		if special['-'] {
			w.b.WriteByte('-')
		}
	}
	w.b.WriteByte(']')
}

// normalizeRanges sorts and merges ranges.
func normalizeRanges(ranges []rune) []rune {
	type rr struct{ lo, hi rune }
	list := make([]rr, 0, len(ranges)/2)
	for i := 0; i+1 < len(ranges); i += 2 {
		list = append(list, rr{ranges[i], ranges[i+1]})
	}
	sort.Slice(list, func(i, j int) bool { return list[i].lo < list[j].lo })
	var out []rune
	for _, r := range list {
		if n := len(out); n > 0 && r.lo <= out[n-1]+1 {
			out[n-1] = max(out[n-1], r.hi)
			continue
		}
		out = append(out, r.lo, r.hi)
	}
	return out
}

// complementRanges is every code point that normalized ranges exclude.
func complementRanges(rs []rune) []rune {
	var out []rune
	next := rune(0)
	for i := 0; i < len(rs); i += 2 {
		if rs[i] > next {
			out = append(out, next, rs[i]-1)
		}
		next = rs[i+1] + 1
	}
	if next <= unicode.MaxRune {
		out = append(out, next, unicode.MaxRune)
	}
	return out
}

// dropNUL removes U+0000 from ranges; surrogates cannot be written in
// UTF-8 and are removed too.
func dropNUL(rs []rune) []rune {
	var out []rune
	for i := 0; i < len(rs); i += 2 {
		lo, hi := rs[i], rs[i+1]
		if lo == 0 {
			lo = 1
		}
		if lo > hi {
			continue
		}
		if lo < 0xD800 && hi > 0xDFFF {
			out = append(out, lo, 0xD7FF, 0xE000, hi)
			continue
		}
		if lo >= 0xD800 && hi <= 0xDFFF {
			continue
		}
		if lo >= 0xD800 && lo <= 0xDFFF {
			lo = 0xE000
		}
		if hi >= 0xD800 && hi <= 0xDFFF {
			hi = 0xD7FF
		}
		if lo <= hi && utf8.ValidRune(lo) && utf8.ValidRune(hi) {
			out = append(out, lo, hi)
		}
	}
	return out
}

// anchoredBranches splits an RE2 pattern made of alternatives that each
// match a whole text (^...$) into those alternatives, with the capture
// groups each holds (RE2 numbering). ok is false for any other pattern.
// Replacing with such a pattern picks the first alternative that matches,
// in RE2; a POSIX engine picks the longest match, and among equally long
// ones its rules need not agree. Snowflake's REGEXP_REPLACE is therefore
// applied one alternative at a time, in order.
func anchoredBranches(re2 string) (branches []string, caps [][]int, ok bool) {
	parts := splitTopLevel(re2)
	if len(parts) < 2 {
		return nil, nil, false
	}
	base := 0
	for _, p := range parts {
		re, err := syntax.Parse(p, syntax.Perl)
		if err != nil {
			return nil, nil, false
		}
		if !anchoredBothEnds(re) {
			return nil, nil, false
		}
		n := re.MaxCap()
		ids := make([]int, n)
		for i := range ids {
			ids[i] = base + i + 1
		}
		base += n
		branches = append(branches, p)
		caps = append(caps, ids)
	}
	return branches, caps, true
}

func anchoredBothEnds(re *syntax.Regexp) bool {
	if re.Op != syntax.OpConcat || len(re.Sub) < 2 {
		return false
	}
	first, last := re.Sub[0], re.Sub[len(re.Sub)-1]
	return first.Op == syntax.OpBeginText && last.Op == syntax.OpEndText
}

// splitTopLevel splits a pattern at the | that are outside groups and
// classes.
func splitTopLevel(p string) []string {
	var parts []string
	depth, start, inClass := 0, 0, false
	for i := 0; i < len(p); i++ {
		switch c := p[i]; {
		case c == '\\':
			i++
		case inClass:
			if c == ']' {
				inClass = false
			}
		case c == '[':
			inClass = true
			// A ] right after [ or [^ is a member, not the end.
			if i+1 < len(p) && p[i+1] == '^' {
				i++
			}
			if i+1 < len(p) && p[i+1] == ']' {
				i++
			}
		case c == '(':
			depth++
		case c == ')':
			depth--
		case c == '|' && depth == 0:
			parts = append(parts, p[start:i])
			start = i + 1
		}
	}
	return append(parts, p[start:])
}
