package sqlfrag

import "strings"

// Mentions tells whether a fragment may read one of the named columns: a
// word or quoted name in it equals one of names, whatever its case and
// whatever its place (a keyword, a function or a qualified name counts
// too). It errs towards true: it is true when the fragment cannot be read,
// or may read columns without naming them (a star in a call or list,
// COLUMNS(...)). A caller skips work on its answer false only.
func Mentions(dialect, fragment string, names []string) bool {
	toks, issue := Lex(For(dialect), fragment)
	if issue != nil {
		return true
	}
	want := make(map[string]bool, len(names))
	for _, n := range names {
		want[strings.ToLower(n)] = true
	}
	for i, t := range toks {
		if t.Kind == Punct && t.Text == "*" && i > 0 && toks[i-1].Kind == Punct && strings.Contains("(,.", toks[i-1].Text) {
			return true
		}
		if t.Kind == Word && strings.EqualFold(t.Text, "columns") {
			return true
		}
		var w string
		switch t.Kind {
		case Word:
			w = t.Text
		case Name:
			w = strings.ReplaceAll(t.Text[1:len(t.Text)-1], t.Text[:1]+t.Text[:1], t.Text[:1])
		default:
			continue
		}
		if want[strings.ToLower(w)] {
			return true
		}
	}
	return false
}
