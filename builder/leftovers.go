package builder

import (
	"context"
	"fmt"
	"strings"

	"github.com/sluicehq/sluice/connectors/warehouse"
	"github.com/sluicehq/sluice/models"
	"github.com/sluicehq/sluice/models/dialect"
)

// dropLeftovers drops what a failed run left under staging names in the
// project schema, on a warehouse that publishes in place: there a staging
// name is a view in one build and a table in the next, and DuckDB replaces
// neither with the other.
func dropLeftovers(ctx context.Context, w warehouse.Warehouse, d dialect.Dialect, schema string) error {
	if !dialect.PublishesInPlace(d) || schema == "" {
		return nil
	}
	rows, err := w.Query(ctx, "SELECT table_name, table_type FROM information_schema.tables WHERE table_schema = "+d.String(schema))
	if err != nil {
		return fmt.Errorf("listing the staging tables a failed build left: %w", err)
	}
	var drops []string
	for rows.Next() {
		var name, kind string
		if err := rows.Scan(&name, &kind); err != nil {
			rows.Close()
			return fmt.Errorf("listing the staging tables a failed build left: %w", err)
		}
		if !strings.HasSuffix(name, models.StagingSuffix) {
			continue
		}
		what := "TABLE"
		if strings.Contains(strings.ToUpper(kind), "VIEW") {
			what = "VIEW"
		}
		drops = append(drops, "DROP "+what+" IF EXISTS "+d.Table(schema, name))
	}
	err = rows.Err()
	rows.Close()
	if err != nil {
		return fmt.Errorf("listing the staging tables a failed build left: %w", err)
	}
	for _, q := range drops {
		if err := w.Exec(ctx, q); err != nil {
			return fmt.Errorf("dropping what a failed build left: %w", err)
		}
	}
	return nil
}
