package config

import (
	"strings"

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
		}
	case yaml.MappingNode:
		for i := 1; i < len(n.Content); i += 2 {
			d.interpolate(n.Content[i], lookup)
		}
	case yaml.ScalarNode:
		if !strings.Contains(n.Value, "${") {
			return
		}
		out, used, ok := d.expand(n, lookup)
		if !ok {
			// The reference is already reported; treat the value as coming
			// from the environment so no second problem (e.g. "a secret must
			// be a ${VAR} reference") piles on.
			d.secrets[n] = true
			return
		}
		n.Value = out
		if used {
			d.secrets[n] = true
			// A value from the environment is text; let the field's type
			// decide how to read it (e.g. a port number).
			n.Tag = "!!str"
		}
	}
}

func (d *decoder) expand(n *yaml.Node, lookup func(string) (string, bool)) (out string, used, ok bool) {
	s := n.Value
	var b strings.Builder
	ok = true
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
			return "", false, false
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
			used = true
		}
		s = s[i+end+1:]
	}
	return b.String(), used, ok
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
