package sqlfrag

import (
	"strings"
)

// statementWords start statements that never belong in an expression or a
// query. A bare word spelled like one is refused wherever it appears
// (outside strings and quoted names), unless it is a function call or part
// of a qualified name: a column so named must be quoted.
var statementWords = wordSet(`drop insert update delete create alter attach detach copy pragma install load
	set call export import grant revoke truncate merge vacuum checkpoint execute prepare deallocate use`)

func wordSet(s string) map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(s) {
		m[w] = true
	}
	return m
}

// CheckExpr returns why s is not exactly one expression, or nil. Only the
// first problem is returned: it is the one that explains the others.
func CheckExpr(d Dialect, s string) *Issue {
	if strings.TrimSpace(s) == "" {
		return &Issue{0, "empty SQL: write a condition or expression"}
	}
	toks, lexIssue := Lex(d, s)
	issue := walk(toks, false)
	return earliest(issue, lexIssue)
}

// CheckQuery returns why s is not exactly one query (a SELECT, possibly
// WITH ...), or nil. Comments are allowed: the compiler ends the query
// with a line break, so a -- comment cannot swallow what follows.
func CheckQuery(d Dialect, s string) *Issue {
	if strings.TrimSpace(s) == "" {
		return &Issue{0, "empty SQL: write a SELECT"}
	}
	toks, lexIssue := Lex(d, s)
	// A query may end with semicolons; nothing may follow them.
	var code []Token
	semi := -1
	for _, t := range toks {
		switch {
		case t.Kind == Punct && t.Text == ";":
			if semi < 0 {
				semi = t.Offset
			}
		case semi >= 0:
			lexIssue = earliest(&Issue{semi, "`;` ends the query: sql must be exactly one query; remove it and what follows"}, lexIssue)
		case t.Kind != Comment:
			code = append(code, t)
		}
	}
	if lexIssue == nil && len(code) == 0 {
		return &Issue{0, "empty SQL: write a SELECT"}
	}
	if len(code) > 0 && !startsQuery(code[0]) {
		return &Issue{code[0].Offset, "sql must be one query starting with SELECT or WITH"}
	}
	return earliest(walk(code, true), lexIssue)
}

func startsQuery(t Token) bool {
	if t.Kind == Punct {
		return t.Text == "("
	}
	switch strings.ToLower(t.Text) {
	case "select", "with", "from", "values":
		return t.Kind == Word
	}
	return false
}

func earliest(a, b *Issue) *Issue {
	switch {
	case a == nil:
		return b
	case b == nil || a.Offset <= b.Offset:
		return a
	}
	return b
}

var closers = map[string]string{")": "(", "]": "[", "}": "{"}

// walk finds the first token that could end, extend or comment out the
// statement a fragment is spliced into; query tells a whole query (SELECT
// allowed at the top level, comments already dropped) from an expression.
func walk(toks []Token, query bool) *Issue {
	var open []Token
	for i, t := range toks {
		switch t.Kind {
		case Comment:
			return &Issue{t.Offset, "comments are not allowed here: a comment could swallow the rest of the compiled statement; remove it (a YAML # comment outside the quotes is fine)"}
		case Punct:
			switch t.Text {
			case ";":
				if query {
					return &Issue{t.Offset, "`;` ends the query: sql must be exactly one query; remove it and what follows"}
				}
				return &Issue{t.Offset, "`;` ends the statement: this must be exactly one SQL expression; remove it"}
			case "(", "[", "{":
				open = append(open, t)
			case ")", "]", "}":
				if len(open) == 0 || open[len(open)-1].Text != closers[t.Text] {
					return &Issue{t.Offset, "unbalanced `" + t.Text + "`: it closes nothing opened here (it would close SQL around it)"}
				}
				open = open[:len(open)-1]
			}
		case Word:
			w := strings.ToLower(t.Text)
			if statementWords[w] && !qualifiedOrCalled(toks, i) {
				return &Issue{t.Offset, "`" + strings.ToUpper(w) + "` starts a statement, which is not allowed here (quote a column with that name: \"" + t.Text + "\")"}
			}
			if !query && w == "select" && len(open) == 0 {
				return &Issue{t.Offset, "SELECT outside parentheses: this must be one expression; write a subquery as (SELECT ...)"}
			}
		}
	}
	if len(open) > 0 {
		t := open[len(open)-1]
		return &Issue{t.Offset, "`" + t.Text + "` is never closed"}
	}
	return nil
}

// qualifiedOrCalled reports whether the word at i is a function call
// (followed by "(") or part of a dotted name.
func qualifiedOrCalled(toks []Token, i int) bool {
	if i+1 < len(toks) && toks[i+1].Kind == Punct && (toks[i+1].Text == "(" || toks[i+1].Text == ".") {
		return true
	}
	return i > 0 && toks[i-1].Kind == Punct && toks[i-1].Text == "."
}
