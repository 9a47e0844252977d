package duckdb

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/sluicehq/sluice/connectors/warehouse"
)

// errAccessHint is added to DuckDB's refusal of a file outside the allowed
// folders, which names the setting but not how to change it in a project.
const errAccessHint = "sluice lets DuckDB read only the project folder, the folders under external_paths and the database file's folder: list the folder under external_paths, or set external_access: true on the warehouse to allow any file or URL"

// restrictAccess confines SQL run on the database to the project's own
// folders: a source, a fragment or a query cannot read /etc/passwd or a
// home directory, write files elsewhere, attach other databases or load
// extensions. DuckDB cannot lift the restriction while the database runs,
// so nothing later in the process can undo it.
func (w *Warehouse) restrictAccess(ctx context.Context, cfg warehouse.Config) error {
	if cfg.ProjectDir == "" || cfg.Warehouse.ExternalAccess {
		return nil
	}
	dirs := []string{cfg.ProjectDir}
	for _, p := range cfg.ExternalPaths {
		if !filepath.IsAbs(p) {
			p = filepath.Join(cfg.ProjectDir, p)
		}
		dirs = append(dirs, p)
	}
	if w.path != "" {
		dirs = append(dirs, filepath.Dir(w.path))
	}
	quoted := make([]string, 0, 2*len(dirs))
	for _, d := range dirs {
		for _, form := range folderForms(d) {
			quoted = append(quoted, "'"+strings.ReplaceAll(form, "'", "''")+"'")
		}
	}
	for _, q := range []string{
		"SET allowed_directories = [" + strings.Join(quoted, ", ") + "]",
		"SET enable_external_access = false",
	} {
		if _, err := w.db.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("restricting duckdb's file access to the project: %w", err)
		}
	}
	return nil
}

// folderForms gives a folder as written and with its symbolic links
// resolved, each ending in a separator so that /p does not admit /p2.
func folderForms(d string) []string {
	d = filepath.Clean(d)
	forms := []string{d + string(filepath.Separator)}
	if real, err := filepath.EvalSymlinks(d); err == nil && real != d {
		forms = append(forms, real+string(filepath.Separator))
	}
	return forms
}

// explainAccess adds errAccessHint to DuckDB's refusal of a file.
func explainAccess(err error) error {
	if err != nil && strings.Contains(err.Error(), "disabled by configuration") {
		return fmt.Errorf("%w (%s)", err, errAccessHint)
	}
	return err
}
