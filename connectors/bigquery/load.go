package bigquery

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	bq "cloud.google.com/go/bigquery"

	"github.com/sluicehq/sluice/models/dialect"
)

// detected are the types a column may be found to hold, most specific
// first; a column whose values all convert to one gets that type, as
// DuckDB's read_csv detects types over the whole file.
var detected = []string{"BOOL", "INT64", "FLOAT64", "DATE", "TIMESTAMP"}

// LoadCSV implements warehouse.CSVLoader. GoogleSQL cannot read a local
// file, so the file goes up with a load job into a scratch table of STRING
// columns (dropped at the end, whatever happens); one query then
// finds which type every value of each column converts to, and the table
// is created from the scratch one with those types, or the project's
// column_types where given.
func (w *Warehouse) LoadCSV(ctx context.Context, schema, table, path string, types []dialect.ColumnType) error {
	header, err := readHeader(path)
	if err != nil {
		return fmt.Errorf("loading %s into %s.%s: %w", path, schema, table, err)
	}
	d := dialect.BigQuery{}
	scratchName := table + "__sluice_load"
	scratch := d.Table(schema, scratchName)
	if err := w.upload(ctx, schema, scratchName, path, header); err != nil {
		return fmt.Errorf("loading %s into %s.%s: %w", path, schema, table, err)
	}
	defer func() {
		// Best effort: the scratch table expires on its own otherwise.
		_ = w.Exec(context.WithoutCancel(ctx), d.DropTable(scratch))
	}()
	pinned := map[string]string{}
	for _, t := range types {
		pinned[strings.ToLower(t.Column)] = dialect.BigQueryType(t.Type)
	}
	colTypes, err := w.detectTypes(ctx, scratch, header, pinned)
	if err != nil {
		return fmt.Errorf("loading %s into %s.%s: detecting column types: %w", path, schema, table, err)
	}
	sel := make([]string, len(header))
	for i, c := range header {
		if colTypes[i] == "STRING" {
			sel[i] = d.Ident(c)
		} else {
			sel[i] = "CAST(" + d.Ident(c) + " AS " + colTypes[i] + ") AS " + d.Ident(c)
		}
	}
	create := d.ReplaceTable(d.Table(schema, table), "SELECT\n    "+strings.Join(sel, ",\n    ")+"\nFROM "+scratch)
	if err := w.Exec(ctx, create); err != nil {
		return fmt.Errorf("loading %s into %s.%s: %w", path, schema, table, err)
	}
	return nil
}

// readHeader reads the CSV file's column names.
func readHeader(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	header, err := csv.NewReader(f).Read()
	if errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("the file is empty: a seed needs a header row")
	}
	if err != nil {
		return nil, fmt.Errorf("reading the header row: %w", err)
	}
	if len(header) > 0 {
		header[0] = strings.TrimPrefix(header[0], "\ufeff")
	}
	return header, nil
}

// upload runs the load job: every column STRING, the header skipped, empty
// fields NULL, quoted line breaks allowed.
func (w *Warehouse) upload(ctx context.Context, schema, table, path string, header []string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	src := bq.NewReaderSource(f)
	src.SourceFormat = bq.CSV
	src.SkipLeadingRows = 1
	src.AllowQuotedNewlines = true
	src.NullMarker = ""
	for _, c := range header {
		src.Schema = append(src.Schema, &bq.FieldSchema{Name: c, Type: bq.StringFieldType})
	}
	loader := w.client.Dataset(schema).Table(table).LoaderFrom(src)
	loader.WriteDisposition = bq.WriteTruncate
	loader.CreateDisposition = bq.CreateIfNeeded
	loader.Labels = jobLabels
	job, err := loader.Run(ctx)
	if err != nil {
		return w.explain("starting the load job", "", err)
	}
	status, err := job.Wait(ctx)
	if err != nil {
		w.cancel(ctx, job)
		return w.explain("loading the file", job.ID(), err)
	}
	if err := status.Err(); err != nil {
		return w.explain("loading the file", job.ID(), err)
	}
	return nil
}

// detectTypes finds each column's type with one scan of the scratch table.
func (w *Warehouse) detectTypes(ctx context.Context, scratch string, header []string, pinned map[string]string) ([]string, error) {
	d := dialect.BigQuery{}
	out := make([]string, len(header))
	var probes []string
	var probed []int
	for i, c := range header {
		if t, ok := pinned[strings.ToLower(c)]; ok {
			out[i] = t
			continue
		}
		col := d.Ident(c)
		for _, t := range detected {
			probes = append(probes, "LOGICAL_AND("+col+" IS NULL OR SAFE_CAST("+col+" AS "+t+") IS NOT NULL)")
		}
		probes = append(probes, "COUNTIF("+col+" IS NOT NULL) > 0")
		probed = append(probed, i)
	}
	if len(probed) == 0 {
		return out, nil
	}
	rows, err := w.Query(ctx, "SELECT\n    "+strings.Join(probes, ",\n    ")+"\nFROM "+scratch)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("the type probe returned no row")
	}
	vals := make([]any, len(probes))
	ptrs := make([]any, len(probes))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := rows.Scan(ptrs...); err != nil {
		return nil, err
	}
	per := len(detected) + 1
	for k, i := range probed {
		out[i] = "STRING"
		if v, _ := vals[k*per+len(detected)].(bool); !v {
			continue // only NULLs: nothing to go by
		}
		for j, t := range detected {
			if v, _ := vals[k*per+j].(bool); v {
				out[i] = t
				break
			}
		}
	}
	return out, rows.Err()
}
