package clickhouse

import (
	"reflect"
	"testing"
)

func TestSplitStatements(t *testing.T) {
	tests := []struct {
		name, script string
		want         []string
	}{
		{"one", "SELECT 1", []string{"SELECT 1"}},
		{"two", "DROP TABLE a;\nCREATE TABLE a AS SELECT 1;", []string{"DROP TABLE a", "CREATE TABLE a AS SELECT 1"}},
		{"semicolon in literal", `SELECT 'a;b', 'it\'s;', 'x'';y'; SELECT 2`, []string{`SELECT 'a;b', 'it\'s;', 'x'';y'`, "SELECT 2"}},
		{"semicolon in names", "SELECT `a;b`, \"c;d\" FROM t; SELECT 2", []string{"SELECT `a;b`, \"c;d\" FROM t", "SELECT 2"}},
		{"semicolon in comments", "SELECT 1 -- no; split\n; /* nor; here */ SELECT 2", []string{"SELECT 1 -- no; split", "/* nor; here */ SELECT 2"}},
		{"comment-only statements dropped", "-- just a note\n;\nSELECT 1;\n-- trailing", []string{"SELECT 1"}},
		{"empty", " ; ;\n", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := SplitStatements(tc.script); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestParseInfile(t *testing.T) {
	tests := []struct {
		name string
		stmt string
		want infileLoad
		ok   bool
	}{
		{"qualified", "INSERT INTO `raw`.`orders` FROM INFILE '/d/orders.csv' FORMAT CSVWithNames",
			infileLoad{schema: "raw", table: "orders", path: "/d/orders.csv"}, true},
		{"hints and comment", "-- load\nINSERT INTO `raw`.`o``k` FROM INFILE '/d/it\\'s.csv'\nSETTINGS schema_inference_hints = '`phone` String, `amount` Decimal(12, 2), `at` DateTime(\\'UTC\\')'\nFORMAT CSVWithNames",
			infileLoad{schema: "raw", table: "o`k", path: "/d/it's.csv", hints: map[string]string{"phone": "String", "amount": "Decimal(12, 2)", "at": "DateTime('UTC')"}}, true},
		{"unqualified", "insert into people from infile 'p.csv' format CSVWithNames", infileLoad{table: "people", path: "p.csv"}, true},
		{"other format", "INSERT INTO t FROM INFILE 'p.tsv' FORMAT TSV", infileLoad{}, false},
		{"ordinary insert", "INSERT INTO t SELECT 1", infileLoad{}, false},
		{"trailing text", "INSERT INTO t FROM INFILE 'p.csv' FORMAT CSVWithNames; DROP TABLE x", infileLoad{}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := parseInfile(tc.stmt)
			if ok != tc.ok || ok && !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v, %v; want %+v, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestInferCSVTypes(t *testing.T) {
	tests := []struct {
		values []string
		want   string
	}{
		{[]string{"1", "", "-42"}, "BIGINT"},
		{[]string{"0612345678"}, "BIGINT"},
		{[]string{"1.5", "2"}, "DOUBLE"},
		{[]string{"true", "False"}, "BOOLEAN"},
		{[]string{"2026-02-22"}, "DATE"},
		{[]string{"2026-02-22T09:21:54Z", "2026-02-22 09:21:54"}, "TIMESTAMP"},
		{[]string{"2026-02-22", "x"}, "VARCHAR"},
		{[]string{"", ""}, "VARCHAR"},
		{[]string{"0x1F"}, "VARCHAR"},
	}
	for _, tc := range tests {
		var k kind
		for _, v := range tc.values {
			k.observe(v)
		}
		if got := k.sqlType(); got != tc.want {
			t.Errorf("%q: got %s, want %s", tc.values, got, tc.want)
		}
	}
}
