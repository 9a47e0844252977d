package duckdb

import (
	"context"
	"database/sql/driver"
	"fmt"

	duckdbdriver "github.com/duckdb/duckdb-go/v2"
)

// ExecOne runs query when DuckDB's own parser reads exactly one statement
// in it, and refuses it otherwise, without running any part of it. The
// builder runs compiled steps through it: SQL a project wrote cannot end
// a statement and start another.
func (w *Warehouse) ExecOne(ctx context.Context, query string) error {
	conn, err := w.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("duckdb: %w", err)
	}
	defer conn.Close()
	err = conn.Raw(func(dc any) error {
		c, ok := dc.(*duckdbdriver.Conn)
		if !ok {
			return fmt.Errorf("unexpected driver connection %T", dc)
		}
		// Prepare (unlike PrepareContext) accepts exactly one statement.
		stmt, err := c.Prepare(query)
		if err != nil {
			return err
		}
		defer stmt.Close()
		_, err = stmt.(driver.StmtExecContext).ExecContext(ctx, nil)
		return err
	})
	if err != nil {
		return fmt.Errorf("duckdb: %w", explainAccess(err))
	}
	return nil
}
