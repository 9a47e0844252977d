package dialect

// Mod is the remainder of integer a divided by b, for every dialect in one
// place: BigQuery has no % operator. DuckDB and ClickHouse write the
// operator itself, unparenthesised, as the SQL compiled before Mod did.

// Mod implements Dialect.
func (DuckDB) Mod(a, b string) string { return a + " % " + b }

// Mod implements Dialect.
func (ClickHouse) Mod(a, b string) string { return a + " % " + b }

// Mod implements Dialect.
func (Snowflake) Mod(a, b string) string { return "MOD(" + a + ", " + b + ")" }

// Mod implements Dialect.
func (BigQuery) Mod(a, b string) string { return "MOD(" + a + ", " + b + ")" }
