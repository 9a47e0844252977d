package config

// sqlSection documents what the SQL written in a project may contain; the
// checks live in models/sqlfrag and models.CheckFragments.
func (w *refWriter) sqlSection() {
	w.heading(2, "SQL in a project")
	w.p("Some values are SQL that sluice splices into the statements it compiles. Each of these must be **exactly one SQL expression**: a segment's `where`, a trait's `expression`, `where` and the argument of its `aggregate` (`sum(ARGUMENT)`), an rfm trait's `where` and an identity edge's `where`. A source's or a segment's `sql` must be **exactly one query**. sluice reads them with the quoting rules of the warehouse's dialect (`''` inside strings everywhere, a backslash escape on ClickHouse, BigQuery and Snowflake, `\"names\"`, and `` `names` `` on ClickHouse and BigQuery) and refuses, at the `path:line:col` of the offending character:")
	w.p("- **`;`** outside a string: it would end the statement and start another. A query may end with `;`; nothing may follow it.\n" +
		"- **Comments** (`--`, `/* */`) in an expression: a `--` would swallow the rest of the compiled statement. A YAML `#` comment outside the value is fine, and a query (`sql:`) may hold comments.\n" +
		"- **Brackets** that close nothing opened in the value (`)`, `]`, `}`), or that the value never closes; an unterminated string, quoted name or `/*` comment.\n" +
		"- **Statement keywords**, anywhere outside strings: `DROP`, `INSERT`, `UPDATE`, `DELETE`, `CREATE`, `ALTER`, `ATTACH`, `DETACH`, `COPY`, `PRAGMA`, `INSTALL`, `LOAD`, `SET`, `CALL`, `EXPORT`, `IMPORT`, `GRANT`, `REVOKE`, `TRUNCATE`, `MERGE`, `VACUUM`, `CHECKPOINT`, `EXECUTE`, `PREPARE`, `DEALLOCATE`, `USE`. A column so named must be quoted (`\"load\" > 0`); a function so named, followed by `(`, and a qualified name (`t.load`) are fine.\n" +
		"- **`SELECT` outside parentheses** in an expression. A subquery in parentheses is fine: `profile_id IN (SELECT profile_id FROM crm.vips)`.\n" +
		"- A `sql` that does not start with `SELECT`, `WITH`, `FROM`, `VALUES` or `(`.")
	w.p("On a DuckDB project, `validate` also reads every expression and query with DuckDB's own parser (in a throwaway in-memory database: nothing is bound or run) and reports what it cannot parse.")
	w.p("Names are checked where they can be. A bare name in a segment's `where` or a trait's `expression` must be a profile column (a trait, an rfm trait's columns, or `profile_id`): ``segments.yml:7:21: unknown trait `lifetime_valu` in where; did you mean `lifetime_value`?``. A bare name in a trait's `where` or `aggregate`, or an edge's `where`, must be a column of the source when `validate` knows its columns (from a seed's header, or from the warehouse). Function names, keywords and type names, qualified names (`t.col`), named arguments, strings, and expressions holding a lambda (`x -> ...`) or a subquery are left to the warehouse.")
	w.p("`compile` and `build` refuse the same values before anything runs. `build` also runs each compiled statement only if it holds as many statements as the compiler wrote (on DuckDB, through DuckDB's single-statement prepare), so SQL written in a project can never run a statement of its own. When building the profiles fails, the error points at the trait whose SQL the warehouse rejected, not at the first trait of the file.")
}
