package duckdb

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/sluicehq/sluice/models/sqlfrag"
)

// Parser reads SQL with DuckDB's own parser, in an in-memory database of
// its own, without running it: validate checks project fragments with it.
type Parser struct {
	db *sql.DB
}

// NewParser opens the in-memory database the parser uses.
func NewParser() (*Parser, error) {
	db, err := sql.Open("duckdb", "")
	if err != nil {
		return nil, fmt.Errorf("opening an in-memory duckdb to parse SQL: %w", err)
	}
	return &Parser{db: db}, nil
}

// Close releases the database.
func (p *Parser) Close() error { return p.db.Close() }

// Check returns why text is not exactly one expression (or, when query is
// set, one query) as DuckDB reads it, or nil. An expression is parsed in
// parentheses, so that it cannot reach out of them.
func (p *Parser) Check(text string, query bool) *sqlfrag.Issue {
	prefix, suffix := "SELECT (", "\n)"
	if query {
		prefix, suffix = "", "\n"
	}
	var out string
	// json_serialize_sql parses its argument and serialises the statements;
	// it binds and runs nothing.
	if err := p.db.QueryRow("SELECT json_serialize_sql(?::VARCHAR)::VARCHAR", prefix+text+suffix).Scan(&out); err != nil {
		return &sqlfrag.Issue{Message: "DuckDB could not parse it: " + err.Error()}
	}
	var res struct {
		Error      bool              `json:"error"`
		Type       string            `json:"error_type"`
		Message    string            `json:"error_message"`
		Position   string            `json:"position"`
		Statements []json.RawMessage `json:"statements"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		return &sqlfrag.Issue{Message: "DuckDB's parser answered something unexpected: " + err.Error()}
	}
	switch {
	case res.Error && res.Type == "parser":
		off, _ := strconv.Atoi(res.Position)
		off -= len(prefix)
		if off >= len(text) { // at the closing parenthesis sluice added
			return &sqlfrag.Issue{Offset: len(text), Message: "DuckDB cannot parse it: it ends too early (something is missing at its end)"}
		}
		return &sqlfrag.Issue{Offset: max(off, 0), Message: "DuckDB cannot parse it: " + res.Message}
	case res.Error:
		return nil // parsed, but not serialisable (e.g. PIVOT): nothing to add
	case len(res.Statements) != 1:
		return &sqlfrag.Issue{Message: fmt.Sprintf("DuckDB reads %d statements in it; write exactly one", len(res.Statements))}
	}
	return nil
}
