package main

import (
	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/connectors/duckdb"
	"github.com/sluicehq/sluice/models"
)

// fragmentFileText reads project files by the names positions give them, so
// that a problem inside a SQL fragment points at its own column.
func fragmentFileText(name string) ([]byte, bool) {
	b, err := config.ReadProjectFile(name)
	return b, err == nil
}

// checkFragments checks every SQL fragment of the project: one expression
// (or one query) each, naming only known traits; on DuckDB projects, also
// with DuckDB's own parser, in a throwaway in-memory database.
func checkFragments(p *config.Project) config.Problems {
	var parse models.Parser
	if p.Warehouse.Type == "duckdb" {
		if dp, err := duckdb.NewParser(); err == nil {
			defer dp.Close()
			parse = dp.Check
		}
	}
	return models.CheckFragments(p, p.Warehouse.Type, fragmentFileText, parse)
}
