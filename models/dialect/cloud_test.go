package dialect

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestSnowflakeRendering(t *testing.T) {
	d := Snowflake{}
	at := time.Date(2024, 6, 15, 9, 30, 45, 123456000, time.UTC)
	tests := []struct {
		name, got, want string
	}{
		// Plain lower-case names are stored upper-case by Snowflake; the
		// quoted upper-case name is what an unquoted reference finds.
		{"folded ident", d.Ident("first_name"), `"FIRST_NAME"`},
		{"upper ident", d.Ident("FIRST_NAME"), `"FIRST_NAME"`},
		{"mixed case kept", d.Ident("firstName"), `"firstName"`},
		{"space kept", d.Ident("Mixed Case"), `"Mixed Case"`},
		{"hostile ident", d.Ident(`x"; DROP TABLE y; --`), `"x""; DROP TABLE y; --"`},
		{"table", d.Table("sluice", "customer_profiles"), `"SLUICE"."CUSTOMER_PROFILES"`},
		{"table ref", d.TableRef("analytics.raw.orders"), `"ANALYTICS"."RAW"."ORDERS"`},
		{"string quote", d.String("O'Brien"), `'O''Brien'`},
		{"string backslash", d.String(`a\b`), `'a\\b'`},
		{"string line break", d.String("a\nb"), `'a\nb'`},
		{"string no-break space", d.String("a\u00a0b"), `'a\u00A0b'`},
		{"string accents kept", d.String("Zoé"), `'Zoé'`},
		{"schema", d.CreateSchema("sluice"), `CREATE SCHEMA IF NOT EXISTS "SLUICE"`},
		{"transient table", d.ReplaceTable(`"S"."T"`, "SELECT 1"), "CREATE OR REPLACE TRANSIENT TABLE \"S\".\"T\" AS\nSELECT 1"},
		{"cast timestamp", d.Cast("x", "timestamp"), "CAST(x AS TIMESTAMP_NTZ)"},
		{"cast decimal", d.Cast("x", "decimal(12,2)"), "CAST(x AS decimal(12,2))"},
		{"try cast through text", d.TryCast("s.ts", "TIMESTAMP"), "TRY_CAST(CAST(s.ts AS VARCHAR) AS TIMESTAMP_NTZ)"},
		{"try cast to text", d.TryCast("s.id", "varchar"), "CAST(s.id AS VARCHAR)"},
		{"now", d.Now("Europe/Paris"), "CAST(CONVERT_TIMEZONE('Europe/Paris', CURRENT_TIMESTAMP()) AS TIMESTAMP_NTZ)"},
		{"literal", d.TimestampLiteral(at), "CAST('2024-06-15 09:30:45.123456' AS TIMESTAMP_NTZ)"},
		{"minus days", d.TimestampMinus("ts", 90*24*time.Hour), "DATEADD(DAY, -90, ts)"},
		{"minus minutes", d.TimestampMinus("ts", 90*time.Minute), "DATEADD(MINUTE, -90, ts)"},
		{"days between", d.DaysBetween("a", "b"), "DATEDIFF(DAY, a, b)"},
		{"first by", d.FirstBy("v", "t = 'email'", []SortKey{{Expr: "seen", Desc: true}, {Expr: "v"}}),
			"ARRAY_AGG(IFF(t = 'email', v, NULL)) WITHIN GROUP (ORDER BY seen DESC NULLS LAST, v ASC NULLS LAST)[0]"},
		{"full match", d.RegexpFullMatch("v", `\d+|x`), `REGEXP_LIKE(v, '^([0-9]+|x)$')`},
		{"matches", d.RegexpMatches("v", `^\s`), `(REGEXP_INSTR(v, '^[\t\n\x0C\r ]') > 0)`},
		{"replace", d.RegexpReplace("v", `(?:a|bc)(d)`, `<\1>`), `REGEXP_REPLACE(v, '(a|bc)(d)', '<\\2>')`},
		{"full match or null", d.RegexpFullMatchOrNull("v", `[a-z]+`), `REGEXP_SUBSTR(v, '^[a-z]+$')`},
		{"hash", d.Hash64("a", "b"), "HASH(a, b)"},
		{"md5", d.HexDigest("v"), "MD5(v)"},
		{"arg min", d.ArgMin("a", "k"), "MIN_BY(a, k)"},
		{"mod", d.Mod("a", "7"), "MOD(a, 7)"},
		{"row number", d.RowNumber(), "ROW_NUMBER() OVER (ORDER BY NULL)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.got != tc.want {
				t.Errorf("got  %s\nwant %s", tc.got, tc.want)
			}
		})
	}
}

func TestBigQueryRendering(t *testing.T) {
	d := BigQuery{}
	at := time.Date(2024, 6, 15, 9, 30, 45, 0, time.UTC)
	tests := []struct {
		name, got, want string
	}{
		{"ident", d.Ident("first_name"), "`first_name`"},
		{"hostile ident", d.Ident("x`; DROP TABLE y; --"), "`x\\`; DROP TABLE y; --`"},
		{"table", d.Table("sluice", "customer_profiles"), "`sluice`.`customer_profiles`"},
		{"table ref with project", d.TableRef("my-project.raw.orders"), "`my-project`.`raw`.`orders`"},
		{"string quote", d.String("O'Brien"), `'O\'Brien'`},
		{"string backslash", d.String(`a\b`), `'a\\b'`},
		{"string line break", d.String("a\nb"), `'a\nb'`},
		{"string control", d.String("a\x01b"), `'a\x01b'`},
		{"schema is a dataset", d.CreateSchema("sluice"), "CREATE SCHEMA IF NOT EXISTS `sluice`"},
		{"replace table", d.ReplaceTable("`s`.`t`", "SELECT 1"), "CREATE OR REPLACE TABLE `s`.`t` AS\nSELECT 1"},
		{"scratch table expires", d.ScratchTable("`s`.`t`", "SELECT 1"),
			"CREATE OR REPLACE TABLE `s`.`t`\nOPTIONS (expiration_timestamp = TIMESTAMP_ADD(CURRENT_TIMESTAMP(), INTERVAL 1 DAY)) AS\nSELECT 1"},
		{"cast varchar", d.Cast("x", "varchar"), "CAST(x AS STRING)"},
		{"cast decimal", d.Cast("x", "decimal(12,2)"), "CAST(x AS NUMERIC(12, 2))"},
		{"cast wide decimal", d.Cast("x", "DECIMAL(38, 10)"), "CAST(x AS BIGNUMERIC(38, 10))"},
		{"cast double", d.Cast("x", "double"), "CAST(x AS FLOAT64)"},
		{"cast own type", d.Cast("x", "INT64"), "CAST(x AS INT64)"},
		{"try cast", d.TryCast("s.ts", "TIMESTAMP"), "SAFE_CAST(s.ts AS TIMESTAMP)"},
		{"now", d.Now("Europe/Paris"), "TIMESTAMP(CURRENT_DATETIME('Europe/Paris'))"},
		{"literal", d.TimestampLiteral(at), "TIMESTAMP '2024-06-15 09:30:45'"},
		{"minus", d.TimestampMinus("ts", 30*24*time.Hour), "TIMESTAMP_SUB(ts, INTERVAL 30 DAY)"},
		{"days between", d.DaysBetween("a", "b"), "DATE_DIFF(DATE(b), DATE(a), DAY)"},
		{"first by", d.FirstBy("v", "t = 'email'", []SortKey{{Expr: "seen", Desc: true}, {Expr: "v"}}),
			"ARRAY_AGG(IF(t = 'email', v, NULL) IGNORE NULLS ORDER BY seen IS NULL, seen DESC, v IS NULL, v LIMIT 1)[SAFE_OFFSET(0)]"},
		{"full match raw string", d.RegexpFullMatch("v", `\d+`), `REGEXP_CONTAINS(v, r'^(?:\d+)$')`},
		{"quote in pattern", d.RegexpMatches("v", `it's`), `REGEXP_CONTAINS(v, r"it's")`},
		{"replace", d.RegexpReplace("v", `^0(\d)`, `+33\1`), `REGEXP_REPLACE(v, r'^0(\d)', r'+33\1')`},
		{"extract strips groups", d.RegexpFullMatchOrNull("v", `([a-z]+)@(x)`), `REGEXP_EXTRACT(v, r'^(?:[a-z]+@x)$')`},
		{"hash", d.Hash64("a", "b"), "FARM_FINGERPRINT(FORMAT('%T|%T', a, b))"},
		{"md5 hex", d.HexDigest("v"), "TO_HEX(MD5(v))"},
		{"mod", d.Mod("a", "7"), "MOD(a, 7)"},
		{"arg min", d.ArgMin("a", "k"), "MIN_BY(a, k)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.got != tc.want {
				t.Errorf("got  %s\nwant %s", tc.got, tc.want)
			}
		})
	}
}

// REGEXP_EXTRACT returns the whole match only when the pattern has no
// capturing group; stripping groups must not change what matches.
func TestWithoutCapturesMatchesTheSame(t *testing.T) {
	for _, p := range []string{`([a-z]+)@(x)`, `^0+(-0+)*$`, `(?i)(null|none)`, `plain`} {
		stripped := withoutCaptures(p)
		if regexp.MustCompile(stripped).NumSubexp() != 0 {
			t.Errorf("%s -> %s still captures", p, stripped)
		}
		for _, s := range []string{"abc@x", "0-0", "NULL", "None", "plain", "x", ""} {
			if regexp.MustCompile(p).MatchString(s) != regexp.MustCompile(stripped).MatchString(s) {
				t.Errorf("%s and %s disagree on %q", p, stripped, s)
			}
		}
	}
}

func TestCloudLoadCSV(t *testing.T) {
	sf, err := Snowflake{}.LoadCSVStatements(`"RAW"."PEOPLE"`, "/data/people.csv", []ColumnType{{Column: "phone", Type: "varchar"}, {Column: "born", Type: "timestamp"}})
	if err != nil {
		t.Fatal(err)
	}
	all := strings.Join(sf, "\n")
	for _, want := range []string{
		`PUT 'file:///data/people.csv' @~/sluice_seeds/RAW.PEOPLE/`,
		`WHEN 'phone' THEN 'varchar' WHEN 'born' THEN 'TIMESTAMP_NTZ' ELSE TYPE END`,
		`INFER_SCHEMA(LOCATION => '@~/sluice_seeds/RAW.PEOPLE/', FILE_FORMAT => '"RAW"."SLUICE_SEED_CSV"')`,
		`MATCH_BY_COLUMN_NAME = CASE_INSENSITIVE`,
	} {
		if !strings.Contains(all, want) {
			t.Errorf("snowflake load lacks %q:\n%s", want, all)
		}
	}
	if _, err := (Snowflake{}).LoadCSVStatements("people", "/x.csv", nil); err == nil {
		t.Error("an unqualified table should be refused: the file format lives in its schema")
	}
	bq, err := BigQuery{}.LoadCSV("`raw`.`people`", "/data/people.csv", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(bq, "DROP TABLE IF EXISTS `raw`.`people__sluice_load`") {
		t.Errorf("bigquery load should end with the scratch table's drop:\n%s", bq)
	}
}

func TestCompactSQL(t *testing.T) {
	in := "('33|' || REGEXP_REPLACE( -- 1. delete ' separators\n    raw\n, '--kept (x)', ''))"
	want := "('33|' || REGEXP_REPLACE(raw, '--kept (x)', ''))"
	if got := compactSQL(in); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}
