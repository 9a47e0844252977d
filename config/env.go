package config

import (
	"regexp"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// interpolate replaces ${VAR} in every scalar value of the tree with the
// variable's value. $${ stands for a literal ${. Nodes that received a value
// are remembered so that no message ever echoes a secret. A variable that is
// not set is a problem at the place that uses it.
func (d *decoder) interpolate(n *yaml.Node, lookup func(string) (string, bool)) {
	if n == nil {
		return
	}
	switch n.Kind {
	case yaml.DocumentNode, yaml.SequenceNode:
		for _, c := range n.Content {
			d.interpolate(c, lookup)
			if n.Kind == yaml.SequenceNode && d.secrets[c] {
				// Messages about a list item are often placed at the list
				// (blocklist_patterns: ...): the list holds the value too.
				d.sink.fromEnvWithin(d.pos(n), c.Value)
			}
		}
	case yaml.MappingNode:
		for i := 1; i < len(n.Content); i += 2 {
			d.interpolate(n.Content[i], lookup)
		}
	case yaml.ScalarNode:
		if !strings.Contains(n.Value, "${") {
			return
		}
		out, vals, literal, ok := d.expand(n, lookup)
		used := len(vals) > 0
		litPos := d.literalPos(n, literal)
		if !ok {
			// The reference is already reported; treat the value as coming
			// from the environment so no second problem (e.g. "a secret must
			// be a ${VAR} reference") piles on; nor does a check of the
			// value left unexpanded.
			d.secrets[n] = true
			d.sink.markUnusable(d.pos(n))
			return
		}
		n.Value = out
		if used {
			d.secrets[n] = true
			d.sink.fromEnv(d.pos(n), out, vals...)
			if literal >= 0 {
				d.sink.literalBeside(d.pos(n), litPos)
			}
			// A value from the environment is text; let the field's type
			// decide how to read it (e.g. a port number).
			n.Tag = "!!str"
		}
	}
}

// expand substitutes the references of n's value. It returns the values
// substituted and the byte offset of literal text glued to one of them
// (see gluedLiteral), which a secret must not have.
func (d *decoder) expand(n *yaml.Node, lookup func(string) (string, bool)) (out string, vals []string, literal int, ok bool) {
	s := n.Value
	var b strings.Builder
	ok, literal = true, gluedLiteral(s)
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			break
		}
		if i > 0 && s[i-1] == '$' {
			b.WriteString(s[:i-1])
			b.WriteString("${")
			s = s[i+2:]
			continue
		}
		b.WriteString(s[:i])
		end := strings.IndexByte(s[i:], '}')
		if end < 0 {
			d.errorf(n, "unterminated ${ in value: write ${NAME}, or $${ for a literal ${")
			return "", nil, -1, false
		}
		name := s[i+2 : i+end]
		if !validEnvName(name) {
			d.errorf(n, "invalid environment variable reference ${%s}: names are letters, digits and _", name)
			ok = false
		} else if val, set := lookup(name); !set {
			d.errorf(n, "environment variable %s is not set (referenced as ${%s})", name, name)
			ok = false
		} else {
			b.WriteString(val)
			vals = append(vals, val)
		}
		s = s[i+end+1:]
	}
	return b.String(), vals, literal, ok
}

// literalPos locates byte offset off of n's (raw) value in the file: after
// the opening quote of a quoted scalar. Escapes in double-quoted text can
// shift it by a few columns, which still points at the right value.
func (d *decoder) literalPos(n *yaml.Node, off int) Pos {
	p := d.pos(n)
	if off < 0 || off > len(n.Value) {
		return p
	}
	if n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0 {
		p.Col++
	}
	p.Col += utf8.RuneCountInString(n.Value[:off])
	return p
}

var envRef = regexp.MustCompile(`\$?\$\{[A-Za-z_][A-Za-z0-9_]*\}`)

// gluedLiteral returns the byte offset of the first word of literal text
// glued to a ${VAR} reference, as in pk_live_abc${SUFFIX}, or -1. Such text
// is a piece of the secret, written into version control. Text set apart by
// a space or punctuation is a format around it ("Bearer ${TOKEN}",
// "clickhouse://user:${PASSWORD}@host") and is allowed.
func gluedLiteral(raw string) int {
	for _, m := range envRef.FindAllStringIndex(raw, -1) {
		a, b := m[0], m[1]
		if raw[a+1] == '$' {
			continue // $${ is a literal ${, not a reference
		}
		if a > 0 && isGlue(raw[a-1]) {
			for a > 0 && isGlue(raw[a-1]) {
				a--
			}
			return a
		}
		if b < len(raw) && isGlue(raw[b]) {
			return b
		}
	}
	return -1
}

func isGlue(c byte) bool {
	return c == '_' || c == '-' || c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z'
}

func validEnvName(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		switch {
		case r == '_', r >= 'A' && r <= 'Z', r >= 'a' && r <= 'z':
		case r >= '0' && r <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}
