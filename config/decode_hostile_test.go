package config

import (
	"errors"

	"path/filepath"
	"strings"
	"testing"
)

// hostileCase is a project that must be refused with located problems.
type hostileCase struct {
	name  string
	files map[string]string
	// setup makes what file contents cannot say: pipes, links, sizes.
	setup func(t *testing.T, dir string)
	// want holds "file:line:col: message" prefixes that must each start
	// one of the problems.
	want []string
}

// loadProblems loads dir and returns its problems with dir stripped. Every
// problem must name a file, a line and a column.
func hostileProblems(t *testing.T, dir string) []string {
	t.Helper()
	_, err := Load(dir, Options{Env: env(map[string]string{"SECRET": "hunter2"})})
	if err == nil {
		return nil
	}
	var ps Problems
	if !errors.As(err, &ps) {
		t.Fatalf("want Problems, got %T: %v", err, err)
	}
	out := make([]string, len(ps))
	for i, p := range ps {
		if p.Pos.File == "" || p.Pos.Line == 0 || p.Pos.Col == 0 {
			t.Errorf("problem without a full position: %s", p)
		}
		out[i] = strings.ReplaceAll(p.String(), dir+string(filepath.Separator), "")
	}
	return out
}

func runHostile(t *testing.T, tests []hostileCase) {
	t.Helper()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			files := map[string]string{"sluice.yml": minimalRoot}
			for k, v := range tc.files {
				files[k] = v
			}
			dir := writeProject(t, files)
			if tc.setup != nil {
				tc.setup(t, dir)
			}
			got := hostileProblems(t, dir)
			t.Log(strings.Join(got, "\n"))
			if len(got) == 0 {
				t.Fatalf("project accepted; want %q", tc.want)
			}
			for _, w := range tc.want {
				if !hasPrefixed(got, w) {
					t.Errorf("missing problem %q\ngot:\n  %s", w, strings.Join(got, "\n  "))
				}
			}
			for _, g := range got {
				if strings.Contains(g, "hunter2") {
					t.Errorf("environment value echoed: %s", g)
				}
			}
		})
	}
}

func hasPrefixed(list []string, prefix string) bool {
	for _, s := range list {
		if strings.HasPrefix(s, prefix) {
			return true
		}
	}
	return false
}

// Values of the wrong shape where a mapping of definitions is expected
// used to panic (assignment to entry in nil map).
func TestHostileShapes(t *testing.T) {
	runHostile(t, []hostileCase{
		{name: "trait is a number", files: map[string]string{"t.yml": "traits:\n  vip: 3\n"},
			want: []string{"t.yml:2:8: `vip`: expected a mapping, got a number \"3\""}},
		{name: "trait is a list", files: map[string]string{"t.yml": "traits:\n  vip: [a, b]\n"},
			want: []string{"t.yml:2:8: `vip`: expected a mapping, got a list"}},
		{name: "trait is a string", files: map[string]string{"t.yml": "traits:\n  vip: yes\n  ltv: ${SECRET}\n"},
			want: []string{"t.yml:2:8: `vip`: expected a mapping, got a string \"yes\"", "t.yml:3:8: `ltv`: expected a mapping"}},
		{name: "id type is a scalar", files: map[string]string{"i.yml": "identity:\n  id_types:\n    email: 1\n    phone: [x]\n  edges: []\n"},
			want: []string{"i.yml:3:12: `email`: expected a mapping, got a number", "i.yml:4:12: `phone`: expected a mapping, got a list"}},
		{name: "traits is a scalar", files: map[string]string{"t.yml": "traits: 5\n"},
			want: []string{"t.yml:1:9: `traits`: expected a mapping of name: definition, got a number \"5\""}},
		{name: "file is a list", files: map[string]string{"t.yml": "- a\n- b\n"},
			want: []string{"t.yml:1:1: expected a mapping, got a list"}},
		{name: "key is a list", files: map[string]string{"t.yml": "? [a]\n: 1\n"},
			want: []string{"t.yml:1:3: expected a key, got a list"}},
		{name: "key is a mapping in a trait", files: map[string]string{"t.yml": "traits:\n  ? {a: 1}\n  : {}\n"},
			want: []string{"t.yml:2:5: expected a key, got a mapping"}},
		{name: "binary tag", files: map[string]string{"sluice.yml": "version: 1\nname: !!binary aGVsbG8=\nwarehouse: { type: duckdb }\n"},
			want: []string{"sluice.yml:2:7: unsupported YAML tag \"!!binary\""}},
		{name: "custom tag", files: map[string]string{"t.yml": "sources: !python/object [a]\n"},
			want: []string{"t.yml:1:10: unsupported YAML tag \"!python/object\""}},
		{name: "set tag", files: map[string]string{"t.yml": "sources: !!set {a: null}\n"},
			want: []string{"t.yml:1:10: unsupported YAML tag \"!!set\""}},
		{name: "merge key of a list of scalars", files: map[string]string{"t.yml": "sources:\n  - { <<: [a, b], name: x, table: t, primary_key: id }\n"},
			want: []string{"t.yml:2:12: a merge key (<<) takes a mapping or a list of mappings, got a string"}},
		{name: "sync mapping with a list as key", files: map[string]string{"t.yml": "syncs:\n  - { name: s, from: segment.a, to: d, mapping: { ? [a] : b } }\n"},
			want: []string{"t.yml:2:53: expected a key, got a list"}},
		{name: "merge key of a scalar", files: map[string]string{"t.yml": "sources:\n  - { <<: 3, name: x, table: t, primary_key: id }\n"},
			want: []string{"t.yml:2:11: a merge key (<<) takes a mapping or a list of mappings, got a number"}},
		{name: "numbers out of range", files: map[string]string{"sluice.yml": "version: 99999999999999999999\nname: t\nwarehouse: { type: duckdb, threads: 1e999 }\n"},
			want: []string{"sluice.yml:1:10: `version`: number \"99999999999999999999\" is out of range", "sluice.yml:3:37: `threads`: expected a whole number"}},
		{name: "two documents", files: map[string]string{"t.yml": "sources: []\n---\ntraits: {}\n"},
			want: []string{"t.yml:2:1: a project file holds one YAML document"}},
	})
}

// Aliases expand: a small file can stand for billions of nodes, or for a
// node that contains itself. Such files are refused before decoding; a
// regression would run out of memory or time here rather than fail.
func TestHostileAliases(t *testing.T) {
	laughs := "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
	for i, c := range "bcdefghij" {
		p := string("abcdefghij"[i])
		laughs += string(c) + ": &" + string(c) + " [" + strings.Repeat("*"+p+", ", 8) + "*" + p + "]\n"
	}
	mapLaughs := "a: &a {x: 1, y: 2, z: 3}\n"
	for i, c := range "bcdefghijk" {
		p := string("abcdefghijk"[i])
		mapLaughs += string(c) + ": &" + string(c) + " {x: *" + p + ", y: *" + p + ", z: *" + p + ", w: *" + p + "}\n"
	}
	wide := "base: &b [" + strings.Repeat("x, ", 499) + "x]\nuse: [" + strings.Repeat("*b, ", 299) + "*b]\n"
	runHostile(t, []hostileCase{
		{name: "billion laughs in lists", files: map[string]string{"bomb.yml": laughs},
			want: []string{"bomb.yml:"}},
		{name: "billion laughs in mappings", files: map[string]string{"bomb.yml": mapLaughs},
			want: []string{"bomb.yml:"}},
		{name: "many uses of a wide anchor", files: map[string]string{"bomb.yml": wide},
			want: []string{"bomb.yml:2:"}},
		{name: "alias inside its own anchor", files: map[string]string{"bomb.yml": "sources: &x [*x]\n"},
			want: []string{"bomb.yml:1:14: alias *x refers to a node that contains it"}},
		{name: "mapping containing itself", files: map[string]string{"bomb.yml": "traits: &t\n  vip: *t\n"},
			want: []string{"bomb.yml:2:8: alias *t refers to a node that contains it"}},
		{name: "bomb in sluice.yml", files: map[string]string{"sluice.yml": minimalRoot + laughs},
			want: []string{"sluice.yml:"}},
	})
}

// Aliases and merge keys within the budget are ordinary YAML and work.
func TestAliasesAndMergeKeys(t *testing.T) {
	got := problems(t, map[string]string{
		"sluice.yml": minimalRoot,
		"s.yml": `x-base: &base { table: raw.orders, primary_key: id }
sources:
  - { <<: *base, name: orders }
  - { <<: *base, name: orders2, table: raw.orders2 }
`,
	}, nil)
	// x-base is not a section; everything else decodes.
	if len(got) != 1 || !strings.HasPrefix(got[0], "s.yml:1:1: unknown key `x-base`") {
		t.Errorf("got %q", got)
	}
}

// YAML syntax errors point at the offending token, not at the start of the
// enclosing block as yaml.v3's own line does.
func TestHostileSyntax(t *testing.T) {
	runHostile(t, []hostileCase{
		{name: "bad indentation", files: map[string]string{"s.yml": "sources:\n  - name: a\n    table: t\n     primary_key: id\n"},
			want: []string{"s.yml:4:6: invalid YAML: mapping values are not allowed in this context: this key is not aligned"}},
		{name: "key indented under a value", files: map[string]string{"sluice.yml": "version: 1\nname: t\n  schema: s\nwarehouse: { type: duckdb }\n"},
			want: []string{"sluice.yml:3:3: invalid YAML: mapping values are not allowed in this context: this key is not aligned"}},
		{name: "less indentation in a list", files: map[string]string{"s.yml": "sources:\n  - name: x\n   bad: indent\n"},
			want: []string{"s.yml:3:4: invalid YAML: did not find expected list dash (-)"}},
		{name: "tab", files: map[string]string{"s.yml": "traits:\n  vip:\n\texpression: x\n"},
			want: []string{"s.yml:3:1: invalid YAML: found character that cannot start any token: a tab character"}},
		{name: "unclosed double quote", files: map[string]string{"s.yml": "sources:\n  - name: \"orders\n    table: t\n"},
			want: []string{"s.yml:2:11: invalid YAML: found unexpected end of stream: this quoted string is never closed"}},
		{name: "unclosed single quote", files: map[string]string{"s.yml": "traits:\n  vip: { expression: 'a > 1 }\n"},
			want: []string{"s.yml:2:22: invalid YAML: found unexpected end of stream: this quoted string is never closed"}},
		{name: "unclosed flow mapping", files: map[string]string{"s.yml": "x: 1\nsources:\n  - { name: a, table: t\n  - { name: b }\n"},
			want: []string{"s.yml:3:5: invalid YAML: did not find expected comma (,) or closing brace (})"}},
		{name: "unclosed flow list", files: map[string]string{"s.yml": "segments:\n  - name: a\n    exclude: [b, c\n"},
			want: []string{"s.yml:3:14: invalid YAML: did not find expected comma (,) or closing bracket (])"}},
		{name: "duplicate key", files: map[string]string{"s.yml": "sources:\n  - name: a\n    table: t\n    name: b\n"},
			want: []string{"s.yml:4:5: duplicate key `name` (first at line 2)"}},
		{name: "key: value: other", files: map[string]string{"s.yml": "sources:\n  - name: a: b\n"},
			want: []string{"s.yml:2:12: invalid YAML: mapping values are not allowed in this context"}},
		{name: "mapping key after a list", files: map[string]string{"s.yml": "sources:\n  - { name: a, table: t, primary_key: id }\n  traits: {}\n"},
			want: []string{"s.yml:3:3: invalid YAML: did not find expected list dash (-)"}},
		{name: "list item after a mapping", files: map[string]string{"s.yml": "sources: []\n- b\n"},
			want: []string{"s.yml:2:1: invalid YAML: did not find expected key"}},
		{name: "unknown anchor", files: map[string]string{"s.yml": "sources:\n  - name: *nope\n"},
			want: []string{"s.yml:2:11: invalid YAML: unknown anchor"}},
		{name: "backquote", files: map[string]string{"s.yml": "traits:\n  a: `x`\n"},
			want: []string{"s.yml:2:6: invalid YAML: found character that cannot start any token"}},
	})
}

// Files that are not YAML text are refused at their first bad byte.
func TestHostileContent(t *testing.T) {
	runHostile(t, []hostileCase{
		{name: "NUL byte", files: map[string]string{"a.yml": "sources: []\ntraits: {a\x00: 1}\n"},
			want: []string{"a.yml:2:11: not a YAML text file: a NUL byte"}},
		{name: "binary file", files: map[string]string{"logo.yml": "\x89PNG\r\n\x1a\n\x00\x00"},
			want: []string{"logo.yml:1:1: not a YAML text file: invalid UTF-8 (byte 0x89)"}},
		{name: "invalid UTF-8", files: map[string]string{"a.yml": "sources:\n  - name: caf\xe9\n"},
			want: []string{"a.yml:2:14: not a YAML text file: invalid UTF-8 (byte 0xe9)"}},
		{name: "control character", files: map[string]string{"a.yml": "traits:\n  vé: { expression: \"a\x1bb\" }\n"},
			want: []string{"a.yml:2:23: not a YAML text file: control character U+001B"}},
		{name: "DEL", files: map[string]string{"sluice.yml": minimalRoot + "schema: s\x7f\n"},
			want: []string{"sluice.yml:4:10: not a YAML text file: control character U+007F"}},
		{name: "UTF-16", files: map[string]string{"a.yml": "\xff\xfes\x00:\x00"},
			want: []string{"a.yml:1:1: not a YAML text file: invalid UTF-8"}},
	})
}

// Keys are shown in messages: a hostile one is shortened and escaped so
// that each problem stays one readable line.
func TestHostileKeys(t *testing.T) {
	long := strings.Repeat("k", 1000) // YAML's longest implicit key is 1024
	runHostile(t, []hostileCase{
		{name: "long key", files: map[string]string{"k.yml": long + ": 1\n"},
			want: []string{"k.yml:1:1: unknown key `" + strings.Repeat("k", 77) + "...`"}},
		{name: "megabyte explicit key", files: map[string]string{"k.yml": "? " + strings.Repeat("k", 1<<20) + "\n: 1\n"},
			want: []string{"k.yml:1:3: unknown key `kkkk"}},
		{name: "newline in a key", files: map[string]string{"k.yml": "\"sources\\nsegments\": []\n"},
			want: []string{"k.yml:1:1: unknown key `sources\\nsegments`"}},
		{name: "terminal escape in a key", files: map[string]string{"k.yml": "traits:\n  vip:\n    \"\\e[31mpick\": x\n"},
			want: []string{"k.yml:3:5: unknown key `\\x1b[31mpick`"}},
	})
}
