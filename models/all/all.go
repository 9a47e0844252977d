// Package all registers every model stage (identity, profiles, segments) and
// every SQL dialect. Import it for its side effects.
package all

import (
	_ "github.com/sluicehq/sluice/models/dialect"
)
