package state

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"time"

	duckdb "github.com/duckdb/duckdb-go/v2"
)

// appendFunc bulk-appends rows to a state table, where the warehouse
// offers a faster path than INSERT ... SELECT from JSON.
type appendFunc func(ctx context.Context, schema, table string, rows [][]driver.Value) error

// duckdbAppender uses DuckDB's appender when the warehouse exposes its
// database handle (connectors/duckdb does): about 2.5 times the rows per
// second of the JSON path, which matters when a sync commits a million
// outcomes.
func duckdbAppender(w any) appendFunc {
	h, ok := w.(interface{ DB() *sql.DB })
	if !ok {
		return nil
	}
	db := h.DB()
	return func(ctx context.Context, schema, table string, rows [][]driver.Value) error {
		conn, err := db.Conn(ctx)
		if err != nil {
			return err
		}
		defer conn.Close()
		return conn.Raw(func(dc any) error {
			c, ok := dc.(driver.Conn)
			if !ok {
				return fmt.Errorf("unexpected driver connection %T", dc)
			}
			a, err := duckdb.NewAppenderFromConn(c, schema, table)
			if err != nil {
				return err
			}
			for _, r := range rows {
				if err := a.AppendRow(r...); err != nil {
					a.Close()
					return err
				}
			}
			return a.Close()
		})
	}
}

func nullable(s string) driver.Value {
	if s == "" {
		return nil
	}
	return s
}

func (s *Store) appendChanges(ctx context.Context, sync, runID string, at time.Time, changes []Change) error {
	rows := make([][]driver.Value, len(changes))
	at = at.UTC()
	for i, c := range changes {
		rows[i] = []driver.Value{runID, sync, c.Seq, c.Key, c.Op, c.Class, c.Status, nullable(c.Error), c.Hash, nullable(c.Fields), at}
	}
	return s.appender(ctx, s.schema, "sync_changes", rows)
}
