package identity

import (
	"context"
	"errors"
	"strings"
	"testing"
)

func TestExplainGolden(t *testing.T) {
	w := openDuckDB(t)
	exec(t, w, guardData...)
	p := loadProject(t, map[string]string{"identity.yml": guardProject})
	c := newCompiler(p)

	// Before any build, the tables are missing.
	if _, err := Explain(context.Background(), w, c, "email", "jane@example.com"); !errors.Is(err, ErrNotBuilt) {
		t.Fatalf("before build: err = %v, want ErrNotBuilt", err)
	}
	build(t, w, p)

	var b strings.Builder
	for _, q := range []struct{ typ, value string }{
		{"email", " JANE@example.com"},
		{"anonymous_id", "a1"},
		{"user_id", "C3"},
		{"phone", "01 23 45 67 89"},
	} {
		ex, err := Explain(context.Background(), w, c, q.typ, q.value)
		if err != nil {
			t.Fatalf("%s:%s: %v", q.typ, q.value, err)
		}
		b.WriteString("$ sluice identity explain " + q.typ + ":" + q.value + "\n")
		if err := ex.Render(&b); err != nil {
			t.Fatal(err)
		}
		b.WriteString("\n")
	}
	for _, q := range []struct {
		typ, value string
		want       error
	}{
		{"email", "nobody@example.com", ErrNotFound},
		{"email", "not an email", ErrRejected},
		{"email", "TEST@example.com", ErrBlocklisted},
		{"email", "someone@mailinator.com", ErrBlocklisted},
		{"phone", "0000000000", ErrBlocklisted},
		{"phone", "06 12", ErrRejected},
		{"emial", "x", ErrUnknownType},
	} {
		_, err := Explain(context.Background(), w, c, q.typ, q.value)
		if !errors.Is(err, q.want) {
			t.Errorf("%s:%s: err = %v, want %v", q.typ, q.value, err, q.want)
		}
		b.WriteString("$ sluice identity explain " + q.typ + ":" + q.value + "\nerror: " + err.Error() + "\n\n")
	}
	golden(t, "explain.golden", b.String())
}

func TestParseIdentifier(t *testing.T) {
	for _, tc := range []struct{ in, typ, value string }{
		{"email:a@b.co", "email", "a@b.co"},
		{"user_id:urn:x:1", "user_id", "urn:x:1"},
		{"phone:", "phone", ""},
	} {
		typ, value, err := ParseIdentifier(tc.in)
		if err != nil || typ != tc.typ || value != tc.value {
			t.Errorf("ParseIdentifier(%q) = %q, %q, %v", tc.in, typ, value, err)
		}
	}
	for _, bad := range []string{"", "email", ":x"} {
		if _, _, err := ParseIdentifier(bad); err == nil {
			t.Errorf("ParseIdentifier(%q): want an error", bad)
		}
	}
}

// An identity map from an earlier release (no id_no) asks for a build
// instead of failing on SQL.
func TestExplainAsksForABuildOnAnOldIdentityMap(t *testing.T) {
	w := openDuckDB(t)
	exec(t, w, guardData...)
	p := loadProject(t, map[string]string{"identity.yml": guardProject})
	c := newCompiler(p)
	build(t, w, p)
	if err := w.Exec(context.Background(), "ALTER TABLE "+MapTable(c)+" DROP COLUMN id_no"); err != nil {
		t.Fatal(err)
	}
	_, err := Explain(context.Background(), w, c, "email", "jane@example.com")
	if !errors.Is(err, ErrNotBuilt) || !strings.Contains(err.Error(), "run sluice build") {
		t.Fatalf("want ErrNotBuilt asking for a build, got %v", err)
	}
}
