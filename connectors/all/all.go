// Package all registers every connector built into sluice. Import it for its
// side effects: _ "github.com/sluicehq/sluice/connectors/all".
package all

import (
	_ "github.com/sluicehq/sluice/connectors/bigquery"   // BigQuery warehouse
	_ "github.com/sluicehq/sluice/connectors/brevo"      // Brevo destination
	_ "github.com/sluicehq/sluice/connectors/clickhouse" // ClickHouse warehouse (native protocol)
	_ "github.com/sluicehq/sluice/connectors/duckdb"     // embedded default warehouse
	_ "github.com/sluicehq/sluice/connectors/file"       // file destination (JSON Lines, CSV)
	_ "github.com/sluicehq/sluice/connectors/googleads"  // Google Customer Match destination (Data Manager API)
	_ "github.com/sluicehq/sluice/connectors/hubspot"    // HubSpot destination
	_ "github.com/sluicehq/sluice/connectors/klaviyo"    // Klaviyo destination
	_ "github.com/sluicehq/sluice/connectors/meta"       // Meta Custom Audiences destination
	_ "github.com/sluicehq/sluice/connectors/salesforce" // Salesforce destination
	_ "github.com/sluicehq/sluice/connectors/snowflake"  // Snowflake warehouse
	_ "github.com/sluicehq/sluice/connectors/webhook"    // webhook destination
)
