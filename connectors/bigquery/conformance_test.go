package bigquery_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/connectors/warehouse"
	"github.com/sluicehq/sluice/connectors/warehouse/warehousetest"
)

// TestConformance runs the shared warehouse suite against a real BigQuery
// project, given SLUICE_BIGQUERY_PROJECT, with credentials from
// SLUICE_BIGQUERY_CREDENTIALS_FILE (a service-account key) or Application
// Default Credentials, in SLUICE_BIGQUERY_LOCATION (default US). The suite
// creates conf_* datasets in the project.
func TestConformance(t *testing.T) {
	project := os.Getenv("SLUICE_BIGQUERY_PROJECT")
	if project == "" {
		t.Skip("SLUICE_BIGQUERY_PROJECT is not set: the BigQuery conformance suite needs a real project and credentials (see README, Running against BigQuery)")
	}
	location := os.Getenv("SLUICE_BIGQUERY_LOCATION")
	if location == "" {
		location = "US"
	}
	warehousetest.Run(t, func(t *testing.T) warehouse.Warehouse {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		w, err := warehouse.Open(ctx, warehouse.Config{ProjectDir: t.TempDir(), Warehouse: config.Warehouse{
			Type: "bigquery", Project: project, Location: location,
			CredentialsFile: os.Getenv("SLUICE_BIGQUERY_CREDENTIALS_FILE"),
		}})
		if err != nil {
			t.Fatal(err)
		}
		return w
	})
}
