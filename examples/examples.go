// Package examples ships the example projects inside the sluice binary, so
// that `sluice init` scaffolds the very project the quickstart documents.
package examples

import (
	"embed"
	"io/fs"
)

//go:embed quickstart/*.yml
var quickstart embed.FS

// Quickstart data is generated rather than embedded: the generator is
// deterministic, so the same options give the committed CSV files.
const (
	QuickstartProfiles = 1000
	QuickstartSeed     = 42
	QuickstartDataDir  = "data"
)

// Quickstart returns the quickstart project's YAML files.
func Quickstart() fs.FS {
	sub, err := fs.Sub(quickstart, "quickstart")
	if err != nil {
		panic(err) // the embedded tree is fixed at compile time
	}
	return sub
}
