package models

import (
	"strings"

	"github.com/sluicehq/sluice/config"
)

// BooleanColumns lists the columns of what a sync reads (from: profiles,
// segment.NAME or source.NAME) that hold true/false values, as far as the
// project tells. A warehouse without a boolean type (ClickHouse before
// 21.x stores booleans as 0 and 1) loses the distinction; this restores it,
// so that the same sync sends the same JSON from every warehouse.
//
// A trait is boolean when its type: says so; when it is an expression whose
// outermost operator is a comparison or a logical one (a > 1, x IS NULL,
// a AND b, NOT a...), a boolean literal or another boolean trait; when it
// picks a column a seed declares boolean in column_types; or when it picks
// a column and some sync uses it as its consent gate (consent is yes or
// no). A source column is boolean when its seed declares it so, or when a
// sync reading the source uses it as consent. Anything else (counts, sums,
// CASE ... THEN 1 ...) is not, which only means it is sent as it is.
func BooleanColumns(p *config.Project, from string) []string {
	kind, name, _ := strings.Cut(from, ".")
	var out []string
	switch {
	case from == "profiles" || kind == "segment":
		bools := booleanTraits(p)
		for _, t := range p.Traits {
			if bools[strings.ToLower(t.Name)] {
				out = append(out, t.Name)
			}
		}
	case kind == "source":
		seen := map[string]bool{}
		add := func(col string) {
			if col != "" && !seen[strings.ToLower(col)] {
				seen[strings.ToLower(col)] = true
				out = append(out, col)
			}
		}
		for _, s := range p.Syncs {
			if s.From == from {
				for _, c := range s.Consent.Columns() {
					add(c)
				}
			}
		}
		if seed, ok := seedOf(p, name); ok {
			for _, ct := range seed.ColumnTypes {
				if isBooleanType(ct.Value) {
					add(ct.Key)
				}
			}
		}
	}
	return out
}

// booleanTraits finds the boolean traits, by lower-cased name. Expressions
// may read other expressions, so it repeats until nothing changes.
func booleanTraits(p *config.Project) map[string]bool {
	consent := map[string]bool{}
	for _, s := range p.Syncs {
		if s.From == "profiles" || strings.HasPrefix(s.From, "segment.") {
			for _, c := range s.Consent.Columns() {
				consent[strings.ToLower(c)] = true
			}
		}
	}
	out := map[string]bool{}
	for changed := true; changed; {
		changed = false
		for _, t := range p.Traits {
			n := strings.ToLower(t.Name)
			if !out[n] && booleanTrait(p, t, out, consent[n]) {
				out[n] = true
				changed = true
			}
		}
	}
	return out
}

func booleanTrait(p *config.Project, t config.Trait, known map[string]bool, consent bool) bool {
	if t.Type != "" {
		return isBooleanType(t.Type)
	}
	switch t.Kind() {
	case config.TraitExpression:
		return IsPredicate(t.Expression, known)
	case config.TraitColumn:
		return consent || seedBoolean(p, t.From, t.Pick)
	case config.TraitSourcePriority:
		if consent {
			return true
		}
		for _, s := range t.Priority {
			if seedBoolean(p, s, t.Pick) {
				return true
			}
		}
	}
	return false
}

func isBooleanType(typ string) bool {
	switch strings.ToUpper(strings.TrimSpace(typ)) {
	case "BOOLEAN", "BOOL", "LOGICAL":
		return true
	}
	return false
}

// seedOf finds the seed a table source reads.
func seedOf(p *config.Project, source string) (config.Seed, bool) {
	for _, s := range p.Sources {
		if s.Name != source || s.Table == "" {
			continue
		}
		schema, table, ok := strings.Cut(s.Table, ".")
		if !ok {
			schema, table = "", s.Table
		}
		for _, seed := range p.Seeds {
			ss := seed.Schema
			if ss == "" {
				ss = "raw"
			}
			if strings.EqualFold(seed.Name, table) && (schema == "" || strings.EqualFold(ss, schema)) {
				return seed, true
			}
		}
	}
	return config.Seed{}, false
}

func seedBoolean(p *config.Project, source, column string) bool {
	seed, ok := seedOf(p, source)
	if !ok {
		return false
	}
	for _, ct := range seed.ColumnTypes {
		if strings.EqualFold(ct.Key, column) {
			return isBooleanType(ct.Value)
		}
	}
	return false
}

// IsPredicate reports whether a SQL expression is boolean by its outermost
// operator: a comparison (= <> != < > <= >=), IS, IN, LIKE, ILIKE, BETWEEN,
// EXISTS, AND, OR or NOT outside any parentheses and CASE ... END; a
// boolean literal; a cast to a boolean type; or a bare name that known
// (lower-cased) says is boolean.
func IsPredicate(expr string, known map[string]bool) bool {
	toks := tokens(expr)
	if len(toks) == 0 {
		return false
	}
	if len(toks) == 1 {
		w := strings.ToLower(unquote(toks[0]))
		return w == "true" || w == "false" || known[w]
	}
	if isBooleanCast(toks) {
		return true
	}
	depth := 0
	for _, t := range toks {
		switch u := strings.ToUpper(t); u {
		case "(", "CASE":
			depth++
		case ")", "END":
			depth--
		case "=", "==", "<>", "!=", "<", ">", "<=", ">=", "IS", "IN", "LIKE", "ILIKE", "BETWEEN", "EXISTS", "AND", "OR", "NOT":
			if depth == 0 {
				return true
			}
		}
	}
	return false
}

// isBooleanCast reports whether the tokens are one CAST(... AS BOOLEAN).
func isBooleanCast(toks []string) bool {
	n := len(toks)
	if n < 6 || !strings.EqualFold(toks[0], "CAST") || toks[1] != "(" || toks[n-1] != ")" || !strings.EqualFold(toks[n-3], "AS") || !isBooleanType(toks[n-2]) {
		return false
	}
	depth := 0
	for _, t := range toks[1 : n-1] {
		switch t {
		case "(":
			depth++
		case ")":
			depth--
			if depth == 0 {
				return false // the CAST closes before the end
			}
		}
	}
	return true
}

// tokens splits SQL into words, quoted names and strings (whole), numbers
// and operators; enough to find the outermost operator.
func tokens(s string) []string {
	var out []string
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '\'' || c == '"' || c == '`':
			j := i + 1
			for j < len(s) {
				if s[j] == '\\' && c != '"' {
					j += 2
					continue
				}
				if s[j] == c {
					if j+1 < len(s) && s[j+1] == c {
						j += 2
						continue
					}
					break
				}
				j++
			}
			j = min(j+1, len(s))
			out = append(out, s[i:j])
			i = j
		case isIdentByte(c):
			j := i
			for j < len(s) && (isIdentByte(s[j]) || s[j] == '.') {
				j++
			}
			out = append(out, s[i:j])
			i = j
		case strings.HasPrefix(s[i:], "<=") || strings.HasPrefix(s[i:], ">=") || strings.HasPrefix(s[i:], "<>") ||
			strings.HasPrefix(s[i:], "!=") || strings.HasPrefix(s[i:], "==") || strings.HasPrefix(s[i:], "||") ||
			strings.HasPrefix(s[i:], "->") || strings.HasPrefix(s[i:], "::"):
			out = append(out, s[i:i+2])
			i += 2
		default:
			out = append(out, s[i:i+1])
			i++
		}
	}
	return out
}

func isIdentByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c >= 0x80
}

// unquote strips the quotes of a quoted name.
func unquote(t string) string {
	if len(t) >= 2 && (t[0] == '"' || t[0] == '`') && t[len(t)-1] == t[0] {
		return t[1 : len(t)-1]
	}
	return t
}
