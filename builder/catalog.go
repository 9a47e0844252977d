package builder

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/connectors/warehouse"
	"github.com/sluicehq/sluice/models"
)

// SeedCatalog learns the columns of sources that read a seed table, from the
// CSV header: it needs no warehouse, so validate can check columns offline.
func SeedCatalog(p *config.Project) (models.Catalog, error) {
	cat := models.Catalog{}
	for _, src := range p.Sources {
		if src.Table == "" {
			continue
		}
		for _, seed := range p.Seeds {
			if !refersTo(src.Table, seed) {
				continue
			}
			path, err := config.ResolveInProject(p.Dir, seed.Path, p.ExternalPaths...)
			if err != nil {
				continue // outside the project: never read, reported by validation
			}
			if st, err := os.Stat(path); err == nil && !st.Mode().IsRegular() {
				continue // a directory or a pipe: reported by validation
			}
			cols, err := csvHeader(path)
			if errors.Is(err, fs.ErrNotExist) {
				continue // reported by validation, with its position
			}
			if err != nil {
				return nil, fmt.Errorf("reading columns of seed %s: %w", seed.Name, err)
			}
			cat[src.Name] = cols
		}
	}
	return cat, nil
}

func refersTo(table string, seed config.Seed) bool {
	return strings.EqualFold(table, seed.Schema+"."+seed.Name) || strings.EqualFold(table, seed.Name) && seed.Schema == "main"
}

func csvHeader(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := csv.NewReader(f)
	header, err := r.Read()
	if errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s is empty: a seed needs a header row", path)
	}
	if err != nil {
		return nil, err
	}
	// A byte-order mark would make the first column name unmatchable.
	if len(header) > 0 {
		header[0] = strings.TrimPrefix(header[0], "\ufeff")
	}
	return header, nil
}

// WarehouseCatalog adds the columns of sources not already in cat by asking
// the warehouse for an empty result of each. Sources it cannot read yet (a
// table that a later build creates) are left out rather than reported.
func WarehouseCatalog(ctx context.Context, w warehouse.Warehouse, p *config.Project, cat models.Catalog) {
	d := w.Dialect()
	for _, src := range p.Sources {
		if _, ok := cat[src.Name]; ok {
			continue
		}
		body := strings.TrimRight(strings.TrimSpace(src.SQL), ";")
		if src.Table != "" {
			body = "SELECT * FROM " + d.TableRef(src.Table)
		}
		rows, err := w.Query(ctx, "SELECT * FROM ("+body+") AS probe WHERE 1 = 0")
		if err != nil {
			continue
		}
		cols, err := rows.Columns()
		rows.Close()
		if err == nil {
			cat[src.Name] = cols
		}
	}
}
