// Package all registers every connector built into sluice. Import it for its
// side effects: _ "github.com/sluicehq/sluice/connectors/all".
package all

import (
	_ "github.com/sluicehq/sluice/connectors/duckdb"  // embedded default warehouse
	_ "github.com/sluicehq/sluice/connectors/file"    // file destination (JSON Lines, CSV)
	_ "github.com/sluicehq/sluice/connectors/webhook" // webhook destination
)
