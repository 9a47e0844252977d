package dialect

import (
	"strings"
	"testing"
)

// TestPublish pins the statements that put staging tables in place on
// every warehouse, for two tables (one with a quote in its name).
func TestPublish(t *testing.T) {
	tables := []Staged{
		{Schema: "s", Name: "map", Staging: "map__sluice_next"},
		{Schema: "s", Name: `o"dd`, Staging: `o"dd__sluice_next`},
	}
	tests := []struct {
		name string
		d    Dialect
		want []string
	}{
		{"duckdb", DuckDB{}, []string{`BEGIN TRANSACTION;
DROP TABLE IF EXISTS "s"."map";
ALTER TABLE "s"."map__sluice_next" RENAME TO "map";
DROP TABLE IF EXISTS "s"."o""dd";
ALTER TABLE "s"."o""dd__sluice_next" RENAME TO "o""dd";
COMMIT`}},
		{"clickhouse", ClickHouse{}, []string{
			"DROP TABLE IF EXISTS `s`.`map__sluice_old`",
			"DROP TABLE IF EXISTS `s`.`o\"dd__sluice_old`",
			"CREATE TABLE IF NOT EXISTS `s`.`map` AS `s`.`map__sluice_next`",
			"CREATE TABLE IF NOT EXISTS `s`.`o\"dd` AS `s`.`o\"dd__sluice_next`",
			"RENAME TABLE `s`.`map` TO `s`.`map__sluice_old`, `s`.`map__sluice_next` TO `s`.`map`, `s`.`o\"dd` TO `s`.`o\"dd__sluice_old`, `s`.`o\"dd__sluice_next` TO `s`.`o\"dd`",
			"DROP TABLE IF EXISTS `s`.`map__sluice_old`",
			"DROP TABLE IF EXISTS `s`.`o\"dd__sluice_old`",
		}},
		{"snowflake", Snowflake{}, []string{ // plain names upper-cased, as Snowflake folds them
			`CREATE TRANSIENT TABLE IF NOT EXISTS "S"."MAP" LIKE "S"."MAP__SLUICE_NEXT"`,
			`CREATE TRANSIENT TABLE IF NOT EXISTS "S"."o""dd" LIKE "S"."o""dd__sluice_next"`,
			`ALTER TABLE "S"."MAP" SWAP WITH "S"."MAP__SLUICE_NEXT"`,
			`ALTER TABLE "S"."o""dd" SWAP WITH "S"."o""dd__sluice_next"`,
			`DROP TABLE IF EXISTS "S"."MAP__SLUICE_NEXT"`,
			`DROP TABLE IF EXISTS "S"."o""dd__sluice_next"`,
		}},
		{"bigquery", BigQuery{}, []string{
			"CREATE OR REPLACE TABLE `s`.`map` COPY `s`.`map__sluice_next`",
			"CREATE OR REPLACE TABLE `s`.`o\"dd` COPY `s`.`o\"dd__sluice_next`",
			"DROP TABLE IF EXISTS `s`.`map__sluice_next`",
			"DROP TABLE IF EXISTS `s`.`o\"dd__sluice_next`",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Publish(tc.d, tables)
			if strings.Join(got, "\n---\n") != strings.Join(tc.want, "\n---\n") {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n---\n"), strings.Join(tc.want, "\n---\n"))
			}
		})
	}
}

// A dialect that is no Publisher copies each table into place.
func TestPublishFallback(t *testing.T) {
	got := Publish(plain{DuckDB{}}, []Staged{{Schema: "s", Name: "t", Staging: "t__sluice_next"}})
	want := []string{
		"CREATE OR REPLACE TABLE \"s\".\"t\" AS\nSELECT * FROM \"s\".\"t__sluice_next\"",
		`DROP TABLE IF EXISTS "s"."t__sluice_next"`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got %q, want %q", got, want)
	}
}

// plain hides every optional method of a dialect.
type plain struct{ Dialect }

// A table published in place (an incremental build on DuckDB): its rows
// are deleted and inserted inside the transaction, the staging view
// dropped there too; the work tables go after the commit, as a
// transaction writing the main database cannot touch the work one.
func TestPublishInPlace(t *testing.T) {
	tables := []Staged{
		{Schema: "s", Name: "map", Staging: "map__sluice_next", Delta: &Delta{
			Apply: []string{`DELETE FROM "s"."map" WHERE c IN (SELECT c FROM w.gone)`, `INSERT INTO "s"."map" BY NAME SELECT * FROM w.added`},
			Drop:  []string{`DROP TABLE IF EXISTS w.gone`, `DROP TABLE IF EXISTS w.added`},
		}},
		{Schema: "s", Name: "stats", Staging: "stats__sluice_next"},
	}
	got := Publish(DuckDB{}, tables)
	want := []string{`BEGIN TRANSACTION;
DELETE FROM "s"."map" WHERE c IN (SELECT c FROM w.gone);
INSERT INTO "s"."map" BY NAME SELECT * FROM w.added;
DROP VIEW IF EXISTS "s"."map__sluice_next";
DROP TABLE IF EXISTS "s"."stats";
ALTER TABLE "s"."stats__sluice_next" RENAME TO "stats";
COMMIT`, `DROP TABLE IF EXISTS w.gone`, `DROP TABLE IF EXISTS w.added`}
	if strings.Join(got, "\n---\n") != strings.Join(want, "\n---\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n---\n"), strings.Join(want, "\n---\n"))
	}
	// A compacting publish runs DuckDB's vacuum at a checkpoint of its own,
	// then turns it off again.
	tables[0].Delta.Compact = true
	got = Publish(DuckDB{}, tables)
	if !strings.HasPrefix(got[0], "SET max_vacuum_tasks = 100;\nBEGIN TRANSACTION;\n") || !strings.HasSuffix(got[0], "\nCOMMIT;\nCHECKPOINT;\nSET max_vacuum_tasks = 0") {
		t.Errorf("compacting publish:\n%s", got[0])
	}
	for _, d := range []Dialect{DuckDB{}, ClickHouse{}, Snowflake{}, BigQuery{}} {
		if got, want := PublishesInPlace(d), d.Name() == "duckdb"; got != want {
			t.Errorf("%s publishes in place: %v, want %v", d.Name(), got, want)
		}
	}
}
