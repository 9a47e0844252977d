package seedcheck

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/models/dialect"
)

func types(pairs ...string) []dialect.ColumnType {
	var out []dialect.ColumnType
	for i := 0; i+1 < len(pairs); i += 2 {
		out = append(out, dialect.ColumnType{Column: pairs[i], Type: pairs[i+1]})
	}
	return out
}

// TestCheckReader checks whole files: each wanted problem is "line:
// fragment of the message", in order.
func TestCheckReader(t *testing.T) {
	cases := []struct {
		name  string
		csv   string
		types []dialect.ColumnType
		want  []string
	}{
		{"valid", "id,n\n1,2\n3,\n", types("n", "INTEGER"), nil},
		{"empty file", "", nil, []string{"1: empty file"}},
		{"header only", "id,n\n", types("n", "INTEGER"), nil},
		{"header only without newline", "id,n", types("n", "INTEGER"), nil},
		{"byte-order mark", "\ufeffid,n\n1,2\n", types("id", "INTEGER"), nil},
		{"CRLF", "id,n\r\n1,2\r\n3,x\r\n", types("n", "INTEGER"), []string{`3: column "n": "x" is not a whole number, declared INTEGER`}},
		{"blank lines are skipped", "id,n\n1,2\n\n3,4\n", nil, nil},
		{"unterminated quote", "id,name\n1,\"Ann\n2,Bob\n3,Cy\n", nil, []string{"2: unterminated quoted field: a quote opened on this line is never closed"}},
		{"unterminated quote on the last line", "id,name\n1,Ann\n2,\"Bob\n", nil, []string{"3: unterminated quoted field, or text after a closing quote"}},
		{"text after a closing quote", "id,name\n1,\"Ann\"x\n2,Bob\n3,\"Cy\"z\n", nil, []string{"2: text after a closing quote", "4: unterminated quoted field, or text after a closing quote"}},
		{"bare quote", "id,name\n1,An\"n\n2,Bob\n", nil, []string{"2: a quote inside an unquoted field"}},
		{"too few fields", "id,name,email\n1,Ann\n2,Bob,b@x.org\n", nil, []string{"2: 2 fields, but the header row has 3"}},
		{"too many fields", "id,name\n1,Ann,x\n2,Bob\n", nil, []string{"2: 3 fields, but the header row has 2"}},
		{"quoted newlines keep line numbers", "id,note,n\n1,\"a\nb\nc\",1\n2,\"d\",x\n3,\"e\n\",4\n4,f,y\n", types("n", "BIGINT"),
			[]string{`5: column "n": "x"`, `8: column "n": "y"`}},
		{"value on a later line of its record", "id,note,n\n1,\"a\nb\",x\n", types("n", "BIGINT"), []string{`3: column "n": "x"`}},
		{"bad values of every type", "i,d,ts,b,f,dec\nabc,2026-02-30,2026-12-01 25:00:00,maybe,1,50\n1,2026-13-01,yesterday,1,one,1.5\n",
			types("i", "integer", "d", "date", "ts", "timestamp", "b", "boolean", "f", "double", "dec", "DECIMAL(3,2)"),
			[]string{`2: column "i": "abc" is not a whole number`, `2: column "d": "2026-02-30" is not a real date`,
				`2: column "ts": "2026-12-01 25:00:00" is not a real time of day`, `2: column "b": "maybe" is not a boolean`,
				`2: column "dec": "50" is too large: at most 1 digits before the point`,
				`3: column "d": "2026-13-01" is not a real date`, `3: column "ts": "yesterday" is not a valid timestamp`, `3: column "f": "one" is not a number`}},
		{"out of range", "n\n128\n-128\n", types("n", "TINYINT"), []string{`2: column "n": "128" is out of range (-128 to 127)`}},
		{"column_types names a missing column", "id,n\n1,2\n", types("amount", "INTEGER"), []string{`1: column_types names column "amount", which the header row does not have (columns: id, n)`}},
		{"column_types match ignoring case", "id,Amount\n1,x\n", types("amount", "INTEGER"), []string{`2: column "Amount": "x"`}},
		{"duplicate and empty column names", "id,email,,EMAIL\n1,a,b,c\n", nil, []string{"1: column 3 has no name", `1: column "EMAIL" appears twice`}},
		{"text types are not checked", "id,phone\n1,+33 6 12\n", types("phone", "VARCHAR"), nil},
		{"long values are cut", "n\n" + strings.Repeat("z", 100) + "\n", types("n", "INTEGER"), []string{`2: column "n": "` + strings.Repeat("z", 40) + `…" is not`}},
		{"control characters are escaped", "n\n\"a\x1b[31m\"\n", types("n", "INTEGER"), []string{`2: column "n": "a\x1b[31m" is not`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := CheckReader("data/x.csv", strings.NewReader(tc.csv), tc.types)
			if len(got) != len(tc.want) {
				t.Fatalf("got %d problems, want %d:\n%v", len(got), len(tc.want), got)
			}
			for i, p := range got {
				if !strings.HasPrefix(p.String(), "data/x.csv:"+tc.want[i]) {
					t.Errorf("problem %d:\n got %s\nwant data/x.csv:%s...", i, p, tc.want[i])
				}
			}
		})
	}
}

func TestCheckReaderCapsProblemsPerFile(t *testing.T) {
	var b strings.Builder
	b.WriteString("n\n")
	for i := 0; i < MaxPerFile+7; i++ {
		b.WriteString("x\n")
	}
	got := CheckReader("data/x.csv", strings.NewReader(b.String()), types("n", "INTEGER"))
	if len(got) != MaxPerFile+1 {
		t.Fatalf("got %d problems, want %d", len(got), MaxPerFile+1)
	}
	if last := got[len(got)-1].String(); last != "data/x.csv: and 7 more problems in this file" {
		t.Errorf("last problem %q", last)
	}
}

// TestCheckReaderRunawayQuote: a quote never closed in a big file stops at
// MaxRecordBytes instead of holding the rest of the file.
func TestCheckReaderRunawayQuote(t *testing.T) {
	row := strings.Repeat("y", 1023) + "\n"
	r := strings.NewReader("id,note\n1,ok\n2,\"" + strings.Repeat(row, MaxRecordBytes/1024+64))
	got := CheckReader("data/x.csv", r, nil)
	if len(got) != 1 || !strings.HasPrefix(got[0].String(), "data/x.csv:3: a record runs on for more than 16 MiB") {
		t.Fatalf("got %v", got)
	}
}

func TestCheckFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	intN := types("n", "INTEGER")
	got := Check([]File{
		{Name: "data/a.csv", Path: write("a.csv", "id,n\n1,x\n"), Types: intN},
		{Name: "data/ok.csv", Path: write("ok.csv", "id,n\n1,2\n"), Types: intN},
		{Name: "data/b.csv", Path: write("b.csv", "id,n\n1\n"), Types: intN},
		{Name: "data/gone.csv", Path: filepath.Join(dir, "gone.csv")},
	})
	want := []string{
		`data/a.csv:2: column "n": "x" is not a whole number, declared INTEGER in column_types`,
		"data/b.csv:2: 1 field, but the header row has 2",
		"data/gone.csv: cannot read seed file: no such file or directory",
	}
	if len(got) != len(want) {
		t.Fatalf("got %d problems, want %d:\n%v", len(got), len(want), got)
	}
	for i := range want {
		if got[i].String() != want[i] {
			t.Errorf("problem %d:\n got %s\nwant %s", i, got[i], want[i])
		}
	}
}

// BenchmarkCheckReader measures the common case: typed columns of valid
// values, which every build pays for before its first step.
func BenchmarkCheckReader(b *testing.B) {
	var sb strings.Builder
	sb.WriteString("id,email,amount,at,ok\n")
	for i := 0; i < 10000; i++ {
		fmt.Fprintf(&sb, "%d,user%d@example.org,%d.%02d,2026-03-%02d 10:%02d:00,%t\n", i, i, i%1000, i%100, 1+i%28, i%60, i%2 == 0)
	}
	data := sb.String()
	ts := types("id", "BIGINT", "amount", "DECIMAL(12,2)", "at", "TIMESTAMP", "ok", "BOOLEAN")
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if probs := CheckReader("data/x.csv", strings.NewReader(data), ts); len(probs) > 0 {
			b.Fatal(probs)
		}
	}
}

// FuzzCheckReader: no input makes the checker panic, and every problem
// points into the file.
func FuzzCheckReader(f *testing.F) {
	for _, s := range []string{"id,n\n1,2\n", "a,b\n\"x\n", "n\n\"a\"b\n1\n", "\ufeffn\r\n1e999\r\n", "n,d\n,\n1,2026-02-30\n"} {
		f.Add(s)
	}
	ts := types("n", "DECIMAL(5,2)", "d", "TIMESTAMP", "b", "BOOLEAN", "a", "TINYINT")
	f.Fuzz(func(t *testing.T, s string) {
		for _, p := range CheckReader("f.csv", strings.NewReader(s), ts) {
			if p.Pos.File != "f.csv" || p.Pos.Line < 0 || p.Pos.Line > strings.Count(s, "\n")+1 {
				t.Errorf("problem outside the file: %s", p)
			}
		}
	})
}
