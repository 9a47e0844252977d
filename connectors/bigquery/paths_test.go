package bigquery_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/connectors/bigquery"
	"github.com/sluicehq/sluice/connectors/warehouse"
)

// TestCredentialsFileStaysInProject: credentials_file is checked where it
// is used too: relative paths stay in the project, absolute ones are taken
// as written.
func TestCredentialsFileStaysInProject(t *testing.T) {
	elsewhere := filepath.Join(t.TempDir(), "sa.json")
	tests := []struct {
		name, path string
		setup      func(t *testing.T, dir string)
		outside    bool
	}{
		{"inside", "keys/sa.json", nil, false},
		{"absolute", elsewhere, nil, false},
		{"dotdot", "../sa.json", nil, true},
		{"symlink out", "sa.json", func(t *testing.T, dir string) {
			if err := os.Symlink(elsewhere, filepath.Join(dir, "sa.json")); err != nil {
				t.Skip(err)
			}
		}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if tc.setup != nil {
				tc.setup(t, dir)
			}
			_, err := bigquery.SettingsFrom(warehouse.Config{ProjectDir: dir, Warehouse: config.Warehouse{Type: "bigquery", Project: "p", CredentialsFile: tc.path}})
			if got := errors.Is(err, config.ErrOutsideProject); got != tc.outside {
				t.Errorf("err = %v, want outside=%v", err, tc.outside)
			}
		})
	}
}
