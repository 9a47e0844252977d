package dialect

import (
	"strings"
	"testing"
	"time"
)

func TestClickHouseQuotingAndTypes(t *testing.T) {
	old, current := ClickHouse{}, ClickHouse{Version: Version{25, 3}}
	tests := []struct {
		name, got, want string
	}{
		{"ident", old.Ident("orders"), "`orders`"},
		{"ident with quote and backslash", old.Ident("x`; DROP\\"), "`x\\`; DROP\\\\`"},
		{"table", old.Table("sluice", "customer_profiles"), "`sluice`.`customer_profiles`"},
		{"string", old.String(`O'Brien \d`), `'O\'Brien \\d'`},
		{"cast to nullable", old.Cast("x", "bigint"), "CAST(x AS Nullable(Int64))"},
		{"decimal", old.Cast("x", "DECIMAL(12, 2)"), "CAST(x AS Nullable(Decimal(12, 2)))"},
		{"boolean", old.Cast("x", "boolean"), "CAST(x AS Nullable(UInt8))"},
		{"native type passes", old.Cast("x", "LowCardinality(String)"), "CAST(x AS LowCardinality(String))"},
		{"timestamp 18.16", old.Cast("x", "TIMESTAMP"), "CAST(x AS Nullable(DateTime('UTC')))"},
		{"timestamp current", current.Cast("x", "TIMESTAMP"), "CAST(x AS Nullable(DateTime64(6, 'UTC')))"},
		{"typed null text", old.CastText("NULL"), "CAST(NULL AS Nullable(String))"},
		{"literal 18.16 drops fraction", old.TimestampLiteral(time.Date(2026, 1, 2, 3, 4, 5, 600_000_000, time.UTC)), "toDateTime('2026-01-02 03:04:05', 'UTC')"},
		{"bool", old.Bool(true) + old.Bool(false), "10"},
		{"full match", old.RegexpFullMatch("v", `a|b`), `match(v, '^(?:a|b)$')`},
		{"full match or null", old.RegexpFullMatchOrNull("v", `(a)`), `nullif(extract(v, '^((?:(a)))$'), '')`},
		{"md5 like duckdb", old.HexDigest("v"), "lower(hex(MD5(v)))"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.got != tc.want {
				t.Errorf("got %s, want %s", tc.got, tc.want)
			}
		})
	}
}

func TestClickHouseReplaceTableReadsItself(t *testing.T) {
	q := ClickHouse{}.ReplaceTable("`s`.`t`", "SELECT n + 1 AS n FROM `s`.`t`  -- next")
	want := []string{
		"DROP TABLE IF EXISTS `s`.`t__sluice_next`",
		"\nCREATE TABLE `s`.`t__sluice_next` ENGINE = MergeTree ORDER BY tuple() AS\nSELECT n + 1 AS n FROM `s`.`t`  -- next\n",
		"\nDROP TABLE IF EXISTS `s`.`t`",
		"\nRENAME TABLE `s`.`t__sluice_next` TO `s`.`t`",
	}
	if got := strings.Split(q, ";"); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("got %q", got)
	}
}

func TestParseClickHouseVersion(t *testing.T) {
	tests := []struct {
		in   string
		want Version
		ok   bool
	}{
		{"18.16.1", Version{18, 16}, true},
		{"25.3.2.39", Version{25, 3}, true},
		{"v1", Version{}, false},
	}
	for _, tc := range tests {
		got, err := ParseClickHouseVersion(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("%s: got %v, %v", tc.in, got, err)
		}
	}
	if !(Version{20, 1}).AtLeast(20, 1) || (Version{19, 17}).AtLeast(20, 1) {
		t.Error("AtLeast")
	}
}
