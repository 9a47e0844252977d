package main

import (
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// queryProject writes a project that only names a warehouse, for query.
func queryProject(t *testing.T, warehouse string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "sluice.yml"), []byte("version: 1\nname: q\nwarehouse: "+warehouse+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// queryCell runs a one-cell query in a format and returns the cell as the
// format shows it: the table's text, the CSV field, the JSON value.
func queryCell(t *testing.T, dir, sql, format string) any {
	t.Helper()
	code, stdout, stderr := sluice(t, "query", sql, "--format", format, "--project", dir)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	switch format {
	case "csv":
		recs, err := csv.NewReader(strings.NewReader(stdout)).ReadAll()
		if err != nil || len(recs) != 2 || len(recs[1]) != 1 {
			t.Fatalf("csv output %q: %v", stdout, err)
		}
		return recs[1][0]
	case "json":
		var rows []map[string]any
		if err := json.Unmarshal([]byte(stdout), &rows); err != nil || len(rows) != 1 {
			t.Fatalf("json output %q: %v", stdout, err)
		}
		return rows[0]["a"]
	default:
		lines := strings.Split(stdout, "\n")
		if len(lines) < 3 {
			t.Fatalf("table output %q", stdout)
		}
		return strings.TrimSpace(lines[2])
	}
}

type timeCase struct {
	name, sql string
	want      string // in every format; "" is NULL
}

// checkTimes runs every case in every format: a timestamp keeps its time
// part even at midnight (as syncs send it), a date stays a date.
func checkTimes(t *testing.T, dir string, cases []timeCase) {
	for _, tc := range cases {
		for _, format := range []string{"table", "json", "csv"} {
			t.Run(tc.name+"/"+format, func(t *testing.T) {
				var want any = tc.want
				switch {
				case tc.want == "" && format == "table":
					want = "NULL"
				case tc.want == "" && format == "json":
					want = nil
				}
				if got := queryCell(t, dir, tc.sql, format); got != want {
					t.Errorf("got %#v, want %#v", got, want)
				}
			})
		}
	}
}

func TestQueryTimesDuckDB(t *testing.T) {
	checkTimes(t, queryProject(t, "{ type: duckdb }"), []timeCase{
		{"timestamp at midnight", "SELECT TIMESTAMP '2026-12-01 00:00:00' AS a", "2026-12-01T00:00:00Z"},
		{"timestamp", "SELECT TIMESTAMP '2026-12-01 10:30:00.25' AS a", "2026-12-01T10:30:00.25Z"},
		{"timestamptz", "SELECT TIMESTAMPTZ '2026-12-01 02:00:00+02' AS a", "2026-12-01T00:00:00Z"},
		{"date", "SELECT DATE '2026-12-01' AS a", "2026-12-01"},
		{"time", "SELECT TIME '10:30:05' AS a", "10:30:05"},
		{"null timestamp", "SELECT CAST(NULL AS TIMESTAMP) AS a", ""},
	})
}

func TestQueryTimesClickHouse(t *testing.T) {
	if os.Getenv("SLUICE_CLICKHOUSE_DSN") == "" {
		t.Skip("SLUICE_CLICKHOUSE_DSN is not set: start a server with `. .ci/clickhouse.sh` to run the ClickHouse tests")
	}
	checkTimes(t, queryProject(t, `{ type: clickhouse, dsn: "${SLUICE_CLICKHOUSE_DSN}" }`), []timeCase{
		{"datetime at midnight", "SELECT toDateTime('2026-12-01 00:00:00', 'UTC') AS a", "2026-12-01T00:00:00Z"},
		{"datetime", "SELECT toDateTime('2026-12-01 10:30:00', 'UTC') AS a", "2026-12-01T10:30:00Z"},
		{"datetime in another zone", "SELECT toDateTime('2026-12-01 01:00:00', 'Europe/Paris') AS a", "2026-12-01T00:00:00Z"},
		{"nullable datetime", "SELECT toNullable(toDateTime('2026-12-01 00:00:00', 'UTC')) AS a", "2026-12-01T00:00:00Z"},
		{"date", "SELECT toDate('2026-12-01') AS a", "2026-12-01"},
		{"nullable date", "SELECT toNullable(toDate('2026-12-01')) AS a", "2026-12-01"},
		{"null", "SELECT CAST(NULL AS Nullable(DateTime)) AS a", ""},
	})
}

func TestTimeKindOf(t *testing.T) {
	cases := []struct {
		dbType string
		want   timeKind
	}{
		{"DATE", dateOnly}, {"Date32", dateOnly}, {"Nullable(Date)", dateOnly},
		{"TIMESTAMP", pointInTime}, {"TIMESTAMPTZ", pointInTime}, {"TIMESTAMP_NS", pointInTime}, {"TIMESTAMP_NTZ", pointInTime},
		{"DateTime", pointInTime}, {"DateTime('UTC')", pointInTime}, {"Nullable(DateTime64(6, 'UTC'))", pointInTime},
		{"LowCardinality(Nullable(DateTime))", pointInTime},
		{"TIME", timeOfDay}, {"TIMETZ", timeOfDay},
		{"", pointInTime}, {"VARCHAR", pointInTime},
	}
	for _, tc := range cases {
		if got := timeKindOf(tc.dbType); got != tc.want {
			t.Errorf("timeKindOf(%q) = %d, want %d", tc.dbType, got, tc.want)
		}
	}
}
