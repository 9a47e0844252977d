// Package bigquery is the Google BigQuery warehouse, through the official
// client (cloud.google.com/go/bigquery). Schemas are datasets of the
// configured project; credentials come from a service-account key file or
// Application Default Credentials.
//
// Every statement runs as a query job (jobs.insert), is waited for
// (getQueryResults), and its rows are read page by page, so memory stays
// proportional to a page. A job whose caller gives up (a cancelled
// context) is cancelled in BigQuery too, so that it stops costing.
package bigquery

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	bq "cloud.google.com/go/bigquery"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/option"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/connectors/warehouse"
	"github.com/sluicehq/sluice/models/dialect"
)

func init() { warehouse.Register("bigquery", Open) }

// Warehouse is a BigQuery client bound to a project.
type Warehouse struct {
	client   *bq.Client
	project  string
	dataset  string // default dataset of queries, may be empty
	location string
}

var (
	_ warehouse.Warehouse = (*Warehouse)(nil)
	_ warehouse.CSVLoader = (*Warehouse)(nil)
)

// Settings are what a connection needs, from the project's warehouse
// section.
type Settings struct {
	Project         string
	Dataset         string
	Location        string
	CredentialsFile string // absolute; empty for Application Default Credentials
}

// SettingsFrom reads the project's warehouse section.
func SettingsFrom(cfg warehouse.Config) (Settings, error) {
	w := cfg.Warehouse
	if w.Project == "" {
		return Settings{}, fmt.Errorf("bigquery warehouse needs project (the Google Cloud project id)")
	}
	s := Settings{Project: w.Project, Dataset: w.Dataset, Location: w.Location}
	if w.CredentialsFile != "" {
		path, err := config.ResolvePath(cfg.ProjectDir, w.CredentialsFile)
		if err != nil {
			return Settings{}, fmt.Errorf("bigquery credentials_file: %w", err)
		}
		s.CredentialsFile = path
	}
	return s, nil
}

// Open connects with the project's settings and checks the credentials.
func Open(ctx context.Context, cfg warehouse.Config) (warehouse.Warehouse, error) {
	s, err := SettingsFrom(cfg)
	if err != nil {
		return nil, err
	}
	var opts []option.ClientOption
	if s.CredentialsFile != "" {
		opts = append(opts, option.WithAuthCredentialsFile(option.ServiceAccount, s.CredentialsFile))
	}
	return OpenClient(ctx, s, opts...)
}

// OpenClient connects with explicit client options (an endpoint and no
// authentication for tests, for instance) and checks the connection.
func OpenClient(ctx context.Context, s Settings, opts ...option.ClientOption) (*Warehouse, error) {
	client, err := bq.NewClient(ctx, s.Project, opts...)
	if err != nil {
		if s.CredentialsFile != "" {
			return nil, fmt.Errorf("bigquery: reading credentials_file %s: %w", s.CredentialsFile, err)
		}
		return nil, fmt.Errorf("bigquery: finding Application Default Credentials (set credentials_file, or GOOGLE_APPLICATION_CREDENTIALS, or run gcloud auth application-default login): %w", err)
	}
	client.Location = s.Location
	w := &Warehouse{client: client, project: s.Project, dataset: s.Dataset, location: s.Location}
	if err := w.Check(ctx); err != nil {
		client.Close()
		return nil, err
	}
	return w, nil
}

// Dialect implements warehouse.Warehouse.
func (w *Warehouse) Dialect() dialect.Dialect { return dialect.BigQuery{} }

// Check implements warehouse.Warehouse.
func (w *Warehouse) Check(ctx context.Context) error {
	rows, err := w.query(ctx, "checking the connection", "SELECT 1", nil)
	if err != nil {
		return err
	}
	defer rows.Close()
	var one int64
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return err
		}
		return fmt.Errorf("bigquery: checking the connection: SELECT 1 returned no row")
	}
	return rows.Scan(&one)
}

// newQuery prepares a job: the statement, positional parameters (? in the
// SQL), the default dataset.
func (w *Warehouse) newQuery(sql string, args []any) *bq.Query {
	q := w.client.Query(sql)
	q.Labels = jobLabels
	if w.dataset != "" {
		q.DefaultProjectID = w.project
		q.DefaultDatasetID = w.dataset
	}
	for _, a := range args {
		q.Parameters = append(q.Parameters, bq.QueryParameter{Value: a})
	}
	return q
}

// jobLabels mark sluice's jobs, so that their cost shows in billing
// reports and INFORMATION_SCHEMA.JOBS.
var jobLabels = map[string]string{"tool": "sluice"}

// run starts a job and waits for it to finish.
func (w *Warehouse) run(ctx context.Context, doing string, q *bq.Query) (*bq.Job, error) {
	job, err := q.Run(ctx)
	if err != nil {
		return nil, w.explain(doing, "", err)
	}
	status, err := job.Wait(ctx)
	if err != nil {
		w.cancel(ctx, job)
		return nil, w.explain(doing, job.ID(), err)
	}
	if err := status.Err(); err != nil {
		return nil, w.explain(doing, job.ID(), err)
	}
	return job, nil
}

// cancel asks BigQuery to stop a job its caller gave up on.
func (w *Warehouse) cancel(ctx context.Context, job *bq.Job) {
	if ctx.Err() == nil {
		return
	}
	cctx, stop := context.WithTimeout(context.Background(), 10*time.Second)
	defer stop()
	_ = job.Cancel(cctx)
}

// Exec implements warehouse.Warehouse.
func (w *Warehouse) Exec(ctx context.Context, query string, args ...any) error {
	_, err := w.run(ctx, "running a statement", w.newQuery(query, args))
	return err
}

// Query implements warehouse.Warehouse.
func (w *Warehouse) Query(ctx context.Context, query string, args ...any) (warehouse.Rows, error) {
	return w.query(ctx, "running a query", query, args)
}

func (w *Warehouse) query(ctx context.Context, doing, query string, args []any) (*rows, error) {
	job, err := w.run(ctx, doing, w.newQuery(query, args))
	if err != nil {
		return nil, err
	}
	it, err := job.Read(ctx)
	if err != nil {
		w.cancel(ctx, job)
		return nil, w.explain("reading results", job.ID(), err)
	}
	return newRows(ctx, w, job.ID(), it), nil
}

// CreateSchema implements warehouse.Warehouse: a dataset, created in the
// connection's location.
func (w *Warehouse) CreateSchema(ctx context.Context, schema string) error {
	return w.Exec(ctx, w.Dialect().CreateSchema(schema))
}

// TableExists implements warehouse.Warehouse (tables and views).
func (w *Warehouse) TableExists(ctx context.Context, schema, table string) (bool, error) {
	_, err := w.client.Dataset(schema).Table(table).Metadata(ctx)
	var ge *googleapi.Error
	if errors.As(err, &ge) && ge.Code == http.StatusNotFound {
		return false, nil
	}
	if err != nil {
		return false, w.explain(fmt.Sprintf("looking up table %s.%s", schema, table), "", err)
	}
	return true, nil
}

// Close implements warehouse.Warehouse.
func (w *Warehouse) Close() error { return w.client.Close() }
