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

// TestClickHouseFlavours pins what differs between the SQL for current
// servers (clickhouse) and for 18.16-era ones (clickhouse-18), and what
// both state: the session settings their SQL relies on.
func TestClickHouseFlavours(t *testing.T) {
	current, err := Get("clickhouse")
	if err != nil {
		t.Fatal(err)
	}
	legacy, err := Get("clickhouse-18")
	if err != nil {
		t.Fatal(err)
	}
	server := func(major, minor int) ClickHouse { return ClickHouse{Version: Version{major, minor}} }
	tests := []struct {
		name, got, want string
	}{
		{"current name", current.Name(), "clickhouse"},
		{"18.16 name", legacy.Name(), "clickhouse-18"},
		{"26.7 server is current", server(26, 7).Name(), "clickhouse"},
		{"19.17 server is 18.16-era", server(19, 17).Name(), "clickhouse-18"},
		{"current trim", current.Trim("x"), "trimBoth(x)"},
		{"18.16 trim", legacy.Trim("x"), "replaceRegexpAll(x, '^ +| +$', '')"},
		{"current timestamps", current.Cast("x", "timestamp"), "CAST(x AS Nullable(DateTime64(6, 'UTC')))"},
		{"18.16 timestamps", legacy.Cast("x", "timestamp"), "CAST(x AS Nullable(DateTime('UTC')))"},
		{"current session", strings.Join(current.(Session).SessionStatements(), ";"), "SET join_use_nulls = 1"},
		{"18.16 session", strings.Join(legacy.(Session).SessionStatements(), ";"), "SET join_use_nulls = 1"},
		{"current and 26.7 write the same", current.TryCast("x", "timestamp"), server(26, 7).TryCast("x", "timestamp")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.got != tc.want {
				t.Errorf("got %s, want %s", tc.got, tc.want)
			}
		})
	}
}

func TestClickHouseLoadCSVDescribesTheConnector(t *testing.T) {
	q, err := ClickHouse{}.LoadCSV("`raw`.`people`", "/d/people.csv", []ColumnType{{Column: "phone", Type: "varchar"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"/d/people.csv", "phone String", "\nDROP TABLE IF EXISTS `raw`.`people__sluice_load`"} {
		if !strings.Contains(q, want) {
			t.Errorf("%q lacks %q", q, want)
		}
	}
	if _, err := (ClickHouse{}).LoadCSV("t", "", nil); err == nil {
		t.Error("an empty path must be an error")
	}
}
