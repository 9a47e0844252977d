// Package all registers every model stage (changes, identity, profiles,
// segments) and every SQL dialect. Import it for its side effects.
package all

import (
	_ "github.com/sluicehq/sluice/models/changes"
	_ "github.com/sluicehq/sluice/models/dialect"
	_ "github.com/sluicehq/sluice/models/identity"
	_ "github.com/sluicehq/sluice/models/profiles"
	_ "github.com/sluicehq/sluice/models/segments"
)
