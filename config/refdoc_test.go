package config

import (
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// The examples shown in the reference decode cleanly and match the schema.
func TestReferenceExamples(t *testing.T) {
	schemas := map[SchemaKind]map[string]any{}
	for _, k := range SchemaKinds {
		schemas[k] = loadSchema(t, k, nil)
	}
	for typ, ex := range refExamples {
		t.Run(typ.Name(), func(t *testing.T) {
			if errs := validateYAML(t, schemas[ex.kind], ex.yaml); len(errs) > 0 {
				t.Errorf("example does not match %s:\n%s", ex.kind.FileName(), strings.Join(errs, "\n"))
			}
			if probs := decodeSample(ex.kind, ex.yaml, nil); len(probs) > 0 {
				t.Errorf("example does not decode:\n%v", probs)
			}
			if !strings.Contains(string(ReferenceMarkdown()), ex.yaml) {
				t.Error("example is not shown")
			}
		})
	}
}

var (
	headingRE = regexp.MustCompile(`(?m)^(#{1,6}) (.+)$`)
	linkRE    = regexp.MustCompile(`\]\(#([^)]+)\)`)
)

func headings(doc string) (titles, anchors []string) {
	w := &refWriter{anchors: map[string]int{}}
	for _, m := range headingRE.FindAllStringSubmatch(doc, -1) {
		titles = append(titles, m[2])
		anchors = append(anchors, w.anchor(m[2]))
	}
	return titles, anchors
}

func TestReferenceStructure(t *testing.T) {
	for _, specs := range [][]ComponentSpec{nil, testSpecs} {
		doc := string(referenceMarkdown(specs))
		titles, anchors := headings(doc)

		// One section per file kind and per struct, in this order.
		want := []string{ProjectFileName, sectionsTitle, "warehouse", "seeds", "sources", "identity", "id_types", "edges",
			"traits", "rfm", "segments", "destinations", "Destination types", "syncs"}
		i := 0
		for _, title := range titles {
			if i < len(want) && title == want[i] {
				i++
			}
		}
		if i < len(want) {
			t.Errorf("section %q missing or out of order; sections: %q", want[i], titles)
		}

		// Every internal link leads to a heading.
		for _, m := range linkRE.FindAllStringSubmatch(doc, -1) {
			if !slices.Contains(anchors, m[1]) {
				t.Errorf("broken link #%s", m[1])
			}
		}

		// Every table row has four cells (pipes in text are escaped), except
		// the two-column and three-column tables of the introduction.
		for _, line := range strings.Split(doc, "\n") {
			if !strings.HasPrefix(line, "| `") && !strings.HasPrefix(line, "| *(") {
				continue
			}
			cells := strings.Split(strings.ReplaceAll(line, `\|`, ""), "|")
			if n := len(cells) - 2; n != 4 && !strings.HasPrefix(line, "| `"+ProjectFileName+"` | [") {
				t.Errorf("row with %d cells: %s", n, line)
			}
		}

		// Every key of every struct has a row, and enums are listed.
		for _, u := range append(schemaStructTypes(reflect.TypeFor[ProjectFile]()), structUse{t: reflect.TypeFor[Sections]()}) {
			fields, _, _, _ := fieldsOf(u.t)
			for _, f := range fields {
				row := "| `" + f.name + "` | "
				if !strings.Contains(doc, row) {
					t.Errorf("%s: no row for key %s", u.t.Name(), f.name)
				}
				for _, e := range f.enum {
					if !strings.Contains(doc, "`"+e+"`") {
						t.Errorf("%s.%s: enum value %s not listed", u.t.Name(), f.name, e)
					}
				}
			}
		}

		for _, s := range []string{"${VAR}", "$${", "path:line:col: message", "include", ProjectSchema.FileName(), SectionsSchema.FileName()} {
			if !strings.Contains(doc, s) {
				t.Errorf("the introduction does not mention %s", s)
			}
		}

		if specs == nil {
			if !strings.Contains(doc, "No destination types are compiled into this build") {
				t.Error("no note about destination types")
			}
			continue
		}
		for _, s := range []string{"#### `webhook`", "#### `file`", "POSTs records as JSON.",
			"| `token` | string | no | Bearer token. **Secret:** write it as a `${VAR}` reference. |",
			"| `url` | string | yes | Endpoint URL. |", "One of: `POST`, `PUT`.", "| `headers` | mapping of string to string |"} {
			if !strings.Contains(doc, s) {
				t.Errorf("destination types: missing %q", s)
			}
		}
		if strings.Index(doc, "#### `file`") > strings.Index(doc, "#### `webhook`") {
			t.Error("destination types are not sorted")
		}
	}
}

func TestMarkdownEscape(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain", "plain"},
		{"count(*)", `count(\*)`},
		{"a | b", `a \| b`},
		{"<entity>_profiles", "&lt;entity&gt;_profiles"},
	}
	for _, tt := range tests {
		if got := mdEscape(tt.in); got != tt.want {
			t.Errorf("mdEscape(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestAnchors(t *testing.T) {
	w := &refWriter{anchors: map[string]int{}}
	for _, tt := range []struct{ in, want string }{
		{"sluice.yml", "sluiceyml"},
		{"Other project files", "other-project-files"},
		{"id_types", "id_types"},
		{"`webhook`", "webhook"},
		{"id_types", "id_types-1"},
	} {
		if got := w.anchor(tt.in); got != tt.want {
			t.Errorf("anchor(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// The example projects shipped with sluice match the schemas.
func TestExampleProjectsMatchSchema(t *testing.T) {
	projects, _ := filepath.Glob(filepath.Join("..", "examples", "*", ProjectFileName))
	if len(projects) == 0 {
		t.Skip("no example projects")
	}
	schemas := map[SchemaKind]map[string]any{}
	for _, k := range SchemaKinds {
		schemas[k] = loadSchema(t, k, DestinationSpecs())
	}
	for _, p := range projects {
		dir := filepath.Dir(p)
		l := &loader{abs: dir, dir: dir}
		files, err := l.findFiles(nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, rel := range append([]string{ProjectFileName}, files...) {
			kind := SectionsSchema
			if rel == ProjectFileName {
				kind = ProjectSchema
			}
			data, err := os.ReadFile(filepath.Join(dir, rel))
			if err != nil {
				t.Fatal(err)
			}
			if errs := validateYAML(t, schemas[kind], string(data)); len(errs) > 0 {
				t.Errorf("%s does not match %s:\n%s", filepath.Join(dir, rel), kind.FileName(), strings.Join(errs, "\n"))
			}
		}
	}
}
