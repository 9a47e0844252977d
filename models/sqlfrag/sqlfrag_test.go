package sqlfrag

import (
	"slices"
	"strings"
	"testing"
)

func TestCheckExpr(t *testing.T) {
	tests := []struct {
		name, dialect, expr string
		at                  int    // offset of the issue, -1 for none
		msg                 string // part of the message
	}{
		// one expression: accepted
		{"comparison", "duckdb", "orders_90d = 0 AND lifetime_value > 0", -1, ""},
		{"string with semicolon", "duckdb", "status = 'a;b'", -1, ""},
		{"string with doubled quote", "duckdb", "name = 'O''Brien; --'", -1, ""},
		{"quoted name with parenthesis", "duckdb", `"weird)name" > 1`, -1, ""},
		{"subquery", "duckdb", "profile_id IN (SELECT profile_id FROM x)", -1, ""},
		{"case", "duckdb", "CASE WHEN vip THEN 'gold' ELSE 'bronze' END", -1, ""},
		{"list literal", "duckdb", "tags && ['a', 'b']", -1, ""},
		{"clickhouse backslash", "clickhouse", `name = 'it\'s; fine'`, -1, ""},
		{"bigquery double-quoted string", "bigquery", `status = "a;b"`, -1, ""},
		{"cast with time zone", "duckdb", "ts::TIMESTAMP WITH TIME ZONE > now()", -1, ""},
		{"function named like a keyword", "duckdb", "replace(name, 'a', 'b') <> ''", -1, ""},
		{"qualified name like a keyword", "duckdb", "s.load > 1", -1, ""},

		// ending the statement
		{"semicolon", "duckdb", "1=1; DROP TABLE raw.orders", 3, "`;` ends the statement"},
		{"close and drop", "duckdb", "1=1); DROP TABLE raw.orders; --", 3, "unbalanced `)`"},
		{"semicolon after string", "duckdb", "status = 'x'; DELETE FROM raw.orders", 12, "`;`"},
		{"backslash is no escape in duckdb", "duckdb", `name = 'a\'; DROP TABLE t; --'`, 11, "`;`"},

		// comments
		{"line comment", "duckdb", "vip -- and more", 4, "comments are not allowed"},
		{"block comment", "duckdb", "vip /* x */ AND b", 4, "comments are not allowed"},
		{"comment after string", "clickhouse", `a = 'x\'' --`, 10, "comments"},

		// balance
		{"unclosed paren", "duckdb", "coalesce(a, 0", 8, "`(` is never closed"},
		{"stray bracket", "duckdb", "a]", 1, "unbalanced `]`"},
		{"crossed", "duckdb", "f(a]", 3, "unbalanced `]`"},

		// unterminated
		{"unterminated string", "duckdb", "status = 'open", 9, "unterminated string"},
		{"unterminated name", "duckdb", `"abc = 1`, 0, "unterminated quoted name"},
		{"unterminated comment", "duckdb", "a /* b", 2, "unterminated /* comment"},
		{"unterminated dollar", "duckdb", "a = $x$abc", 4, "unterminated dollar"},

		// statement words
		{"drop inside parens", "duckdb", "(DROP TABLE x)", 1, "`DROP` starts a statement"},
		{"attach", "duckdb", "ATTACH 'x.db'", 0, "`ATTACH`"},
		{"copy in subquery", "duckdb", "a IN (SELECT 1) OR (COPY t TO 'f')", 20, "`COPY`"},
		{"top-level select", "duckdb", "SELECT 1", 0, "SELECT outside parentheses"},
		{"empty", "duckdb", "   ", 0, "empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			issue := CheckExpr(For(tt.dialect), tt.expr)
			switch {
			case tt.at < 0 && issue != nil:
				t.Fatalf("CheckExpr(%q) = %v, want nil", tt.expr, issue)
			case tt.at < 0:
			case issue == nil:
				t.Fatalf("CheckExpr(%q) = nil, want an issue at %d", tt.expr, tt.at)
			case issue.Offset != tt.at || !strings.Contains(issue.Message, tt.msg):
				t.Fatalf("CheckExpr(%q) = %d %q, want %d %q", tt.expr, issue.Offset, issue.Message, tt.at, tt.msg)
			}
		})
	}
}

func TestCheckQuery(t *testing.T) {
	tests := []struct {
		name, query string
		at          int
		msg         string
	}{
		{"select", "SELECT * FROM raw.orders WHERE status <> 'cancelled'", -1, ""},
		{"with", "WITH a AS (SELECT 1 AS x) SELECT * FROM a", -1, ""},
		{"trailing semicolons", "select 1;;\n", -1, ""},
		{"comments", "-- members\nSELECT profile_id -- the id\nFROM t /* all */", -1, ""},
		{"two statements", "SELECT 1; DROP TABLE raw.orders", 8, "`;` ends the query"},
		{"comment after the end", "SELECT 1; -- done", 8, "`;` ends the query"},
		{"not a select", "DROP TABLE raw.orders", 0, "must be one query"},
		{"pragma", "PRAGMA version", 0, "must be one query"},
		{"insert in cte", "WITH x AS (INSERT INTO t VALUES (1)) SELECT 1", 11, "`INSERT`"},
		{"unbalanced", "SELECT 1) AS q; DROP TABLE t; --", 8, "unbalanced"},
		{"unterminated", "SELECT 'x", 7, "unterminated"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			issue := CheckQuery(For("duckdb"), tt.query)
			switch {
			case tt.at < 0 && issue != nil:
				t.Fatalf("CheckQuery(%q) = %v, want nil", tt.query, issue)
			case tt.at < 0:
			case issue == nil:
				t.Fatalf("CheckQuery(%q) = nil, want an issue at %d", tt.query, tt.at)
			case issue.Offset != tt.at || !strings.Contains(issue.Message, tt.msg):
				t.Fatalf("CheckQuery(%q) = %d %q, want %d %q", tt.query, issue.Offset, issue.Message, tt.at, tt.msg)
			}
		})
	}
}

func TestStatements(t *testing.T) {
	tests := []struct {
		dialect, sql string
		want         int
	}{
		{"duckdb", "SELECT 1", 1},
		{"duckdb", "SELECT 1;", 1},
		{"duckdb", "SELECT ';' -- ;\n; ; SELECT 2", 2},
		{"duckdb", "CREATE TABLE t AS SELECT 1 WHERE (1=1); DROP TABLE raw.orders; --)", 2},
		{"clickhouse", "DROP TABLE IF EXISTS v;\nCREATE VIEW v AS SELECT 'a\\';'", 2},
		{"duckdb", "-- only a comment", 0},
	}
	for _, tt := range tests {
		got, err := Statements(For(tt.dialect), tt.sql)
		if err != nil || got != tt.want {
			t.Errorf("Statements(%s, %q) = %d, %v; want %d", tt.dialect, tt.sql, got, err, tt.want)
		}
	}
}

func TestRefs(t *testing.T) {
	tests := []struct {
		expr string
		want []string // nil: not analysable
	}{
		{"vip AND email_opt_in", []string{"vip", "email_opt_in"}},
		{"coalesce(lifetime_valu, 0) >= 500", []string{"lifetime_valu"}},
		{"status = 'completed' AND \"Total\" > 1", []string{"status", "Total"}},
		{"CAST(x AS DECIMAL(10,2)) > 1 AND y::VARCHAR <> ''", []string{"x", "y"}},
		{"ts >= DATE '2025-01-01' - INTERVAL 90 DAY", []string{"ts"}},
		{"extract(year FROM ts) = 2025 AND s.field IS NOT NULL", []string{"ts"}},
		{"CASE WHEN vip THEN 'gold' ELSE 'bronze' END", []string{"vip"}},
		{"count(*) OVER w > 1", []string{}},
		{"list_filter(tags, x -> x > 1)", nil},
		{"profile_id IN (SELECT id FROM t)", nil},
		{"struct_pack(a := 1, b => 2)", []string{}},
		{"date_diff('day', last_order_at, current_date) > 30", []string{"last_order_at"}},
		{"last_order_at >= now() - INTERVAL 30 DAY", []string{"last_order_at"}},
		{"DATEADD(day, -30, CURRENT_DATE()) < last_order_at", []string{"last_order_at"}},
		{"email SIMILAR TO '%@acme.com' AND x IS DISTINCT FROM y", []string{"email", "x", "y"}},
		{"trim(BOTH ' ' FROM name) COLLATE nocase = 'a'", []string{"name"}},
		{"SAFE.DIVIDE(ltv, n) > 1e3", []string{"ltv", "n"}},
		{"tier IN ('gold', 'silver') AND NOT vip", []string{"tier", "vip"}},
		{"lifetime_valu > 1", []string{"lifetime_valu"}},
	}
	for _, tt := range tests {
		refs, ok := Refs(For("duckdb"), tt.expr)
		if tt.want == nil {
			if ok {
				t.Errorf("Refs(%q) analysed, want not analysable", tt.expr)
			}
			continue
		}
		got := []string{}
		for _, r := range refs {
			got = append(got, r.Name)
		}
		if !ok || !slices.Equal(got, tt.want) {
			t.Errorf("Refs(%q) = %v, %v; want %v", tt.expr, got, ok, tt.want)
		}
	}
}

func TestVolatile(t *testing.T) {
	tests := []struct{ fragment, want string }{
		{"", ""},
		{"spent > 0 AND email IS NOT NULL", ""},
		{"last_order_at > now() - INTERVAL 30 DAY", "reads now"},
		{"CURRENT_DATE - first_seen < 7", "reads current_date"},
		{"random() < 0.1", "reads random"},
		{"profile_id IN (SELECT profile_id FROM raw.vips)", "reads a table through a subquery"},
		{"'now' = note", ""}, // a string, not the clock
		{"note = 'unterminated", "cannot be read"},
	}
	for _, tt := range tests {
		if got := Volatile("duckdb", tt.fragment); got != tt.want {
			t.Errorf("Volatile(%q) = %q, want %q", tt.fragment, got, tt.want)
		}
	}
}

func TestMentions(t *testing.T) {
	names := []string{"rfm_r", "RFM"}
	tests := []struct {
		dialect, fragment string
		want              bool
	}{
		{"duckdb", "rfm_r >= 4", true},
		{"duckdb", "RFM_R >= 4", true},
		{"duckdb", `"rfm_r" >= 4`, true},
		{"duckdb", `"RFM" = '555'`, true},
		{"duckdb", "p.rfm_r >= 4", true},
		{"duckdb", "rfm_rr >= 4 AND rfm_f >= 4", false},
		{"duckdb", "orders_count > 0 AND note = 'rfm_r'", false},
		{"duckdb", "coalesce(lifetime_value, 0) * 2 > 10", false},
		{"duckdb", "list_max([COLUMNS('rfm_.*')]) > 3", true},
		{"duckdb", "hash(*) % 2 = 0", true},
		{"duckdb", "'unterminated", true},
		{"clickhouse", "`rfm_r` > 1", true},
		{"bigquery", `"rfm_r" = 'x'`, false}, // a string in BigQuery
	}
	for _, tc := range tests {
		if got := Mentions(tc.dialect, tc.fragment, names); got != tc.want {
			t.Errorf("Mentions(%s, %q) = %v, want %v", tc.dialect, tc.fragment, got, tc.want)
		}
	}
}
