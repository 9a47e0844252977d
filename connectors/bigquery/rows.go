package bigquery

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"time"

	bq "cloud.google.com/go/bigquery"
	"cloud.google.com/go/civil"
	"google.golang.org/api/iterator"

	"github.com/sluicehq/sluice/connectors/internal/rowscan"
	"github.com/sluicehq/sluice/connectors/warehouse"
)

// rows streams a job's result; the iterator fetches one page at a time.
type rows struct {
	ctx   context.Context
	w     *Warehouse
	jobID string
	it    *bq.RowIterator
	cols  []string
	cur   []bq.Value
	err   error
	done  bool
}

func newRows(ctx context.Context, w *Warehouse, jobID string, it *bq.RowIterator) *rows {
	cols := make([]string, len(it.Schema))
	for i, f := range it.Schema {
		cols[i] = f.Name
	}
	return &rows{ctx: ctx, w: w, jobID: jobID, it: it, cols: cols}
}

var _ warehouse.TypedRows = (*rows)(nil)

// Columns implements warehouse.Rows.
func (r *rows) Columns() ([]string, error) { return r.cols, nil }

// ColumnTypeNames implements warehouse.TypedRows: DATE, TIMESTAMP,
// DATETIME, TIME... as the result's schema gives them.
func (r *rows) ColumnTypeNames() ([]string, error) {
	names := make([]string, len(r.it.Schema))
	for i, f := range r.it.Schema {
		names[i] = string(f.Type)
	}
	return names, nil
}

// Next implements warehouse.Rows.
func (r *rows) Next() bool {
	if r.done {
		return false
	}
	var vals []bq.Value
	err := r.it.Next(&vals)
	if errors.Is(err, iterator.Done) {
		r.done = true
		return false
	}
	if err != nil {
		r.err = r.w.explain("reading results", r.jobID, err)
		r.done = true
		return false
	}
	r.cur = vals
	return true
}

// Scan implements warehouse.Rows: BigQuery's values converted to what
// database/sql callers expect (DATE and DATETIME as UTC times, NUMERIC
// exactly).
func (r *rows) Scan(dest ...any) error {
	if r.cur == nil {
		return fmt.Errorf("bigquery: scan called without a row")
	}
	if len(dest) != len(r.cur) {
		return fmt.Errorf("bigquery: scan: %d destinations for %d columns", len(dest), len(r.cur))
	}
	for i, v := range r.cur {
		if err := rowscan.Assign(dest[i], plain(v)); err != nil {
			return fmt.Errorf("bigquery: scan: column %s: %w", r.cols[i], err)
		}
	}
	return nil
}

// plain turns civil dates and times into the values other warehouses give.
func plain(v bq.Value) any {
	switch x := v.(type) {
	case civil.Date:
		return x.In(time.UTC)
	case civil.DateTime:
		return x.In(time.UTC)
	case civil.Time:
		return x.String()
	case *big.Rat:
		return rowscan.Decimal{Rat: x}
	}
	return v
}

// Err implements warehouse.Rows.
func (r *rows) Err() error { return r.err }

// Close implements warehouse.Rows. Pages not read are never fetched.
func (r *rows) Close() error {
	r.done = true
	return nil
}
