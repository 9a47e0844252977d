package incremental

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"os"
	"strings"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/connectors/warehouse"
	"github.com/sluicehq/sluice/models"
)

// fingerprints hashes every step's SQL, compiled without a fixed build time
// so that only a change of the project (or of sluice) changes them.
func fingerprints(plan *models.Plan) map[string]string {
	out := make(map[string]string, len(plan.Steps))
	for _, s := range plan.Steps {
		h := sha256.New()
		h.Write([]byte(s.Kind))
		for _, q := range s.Strings() {
			h.Write([]byte{0})
			h.Write([]byte(q))
		}
		out[s.Name] = hex.EncodeToString(h.Sum(nil))[:32]
	}
	return out
}

// definitionReasons names the steps whose SQL differs from the last
// build's: a change of identity, trait or segment definitions.
func definitionReasons(plan *models.Plan, now, prev map[string]string) []string {
	var changed []string
	for _, s := range plan.Steps {
		if s.Kind == models.KindSeed {
			continue // seeds are compared by their files
		}
		old, ok := prev[s.Name]
		switch {
		case !ok:
			changed = append(changed, describeStep(s, "is new"))
		case old != now[s.Name]:
			changed = append(changed, describeStep(s, "changed"))
		}
	}
	for _, name := range sortedKeys(prev) {
		if _, ok := now[name]; !ok && !strings.HasPrefix(name, "seed_") {
			changed = append(changed, "step "+name+" is gone")
		}
	}
	return changed
}

func describeStep(s models.Step, what string) string {
	if s.Origin.File != "" {
		return fmt.Sprintf("%s: the SQL of step %s %s", s.Origin, s.Name, what)
	}
	return fmt.Sprintf("the SQL of step %s %s", s.Name, what)
}

// seedFingerprint identifies a seed file's content by size and
// modification time, and the load by its SQL.
func seedFingerprint(s models.Step, fp string) (string, error) {
	fi, err := os.Stat(s.Seed.Path)
	if err != nil {
		return "", fmt.Errorf("seed %s: %w", s.Seed.File, err)
	}
	return fmt.Sprintf("%d|%d|%s", fi.Size(), fi.ModTime().UnixNano(), fp), nil
}

// sourceStates reads every source's row count and checksum (or, for an
// append_only source, the rows before and after its mark), and tells which
// changed since prev and why a full build is needed, if it is.
func sourceStates(ctx context.Context, w warehouse.Warehouse, c *models.Compiler, prev *State) (map[string]SourceState, []string, []string, error) {
	states := map[string]SourceState{}
	var changed, reasons []string
	for _, s := range c.P.Sources {
		old, had := SourceState{}, false
		if prev != nil {
			old, had = prev.Sources[s.Name]
		}
		var st SourceState
		var err error
		if s.AppendOnly {
			var why string
			st, why, err = appended(ctx, w, c, s, old, had)
			if why != "" {
				reasons = append(reasons, why)
			}
		} else {
			err = warehouse.QueryRow(ctx, w, c.SourceChecksumSQL(s.Name), &st.Rows, &st.Checksum)
		}
		if err != nil {
			return nil, nil, nil, fmt.Errorf("%s: source %s: reading its checksum: %w", s.At.Of("name"), s.Name, err)
		}
		states[s.Name] = st
		if !had || st != old {
			changed = append(changed, s.Name)
		}
	}
	return states, changed, reasons, nil
}

// appended reads an append_only source from its mark: the rows up to the
// mark must be those the last build saw, else the source is not append-only
// after all and the reason says so.
func appended(ctx context.Context, w warehouse.Warehouse, c *models.Compiler, s config.Source, old SourceState, had bool) (SourceState, string, error) {
	mark := c.D.Cast("NULL", "TIMESTAMP")
	if had && old.Mark != "" {
		mark = c.D.TryCast(c.D.String(old.Mark), "TIMESTAMP")
	}
	var before, after sql.NullInt64
	var latest sql.NullString
	if err := warehouse.QueryRow(ctx, w, c.AppendedSQL(s.Name, s.Timestamp, mark), &before, &after, &latest); err != nil {
		return SourceState{}, "", err
	}
	st := SourceState{Rows: before.Int64 + after.Int64, Mark: old.Mark}
	if after.Int64 > 0 || !had || old.Mark == "" {
		st.Mark = latest.String
	}
	if had && before.Int64 != old.Rows {
		return st, fmt.Sprintf("%s: source %s is append_only, but %d rows are at or before the last build's latest %s %s, where that build saw %d: rows were deleted or rewritten",
			s.At.Of("append_only"), s.Name, before.Int64, s.Timestamp, old.Mark, old.Rows), nil
	}
	return st, "", nil
}

// suppressionChecksum reads the erasure suppression list's size and
// checksum: erasing someone changes what the identity steps stitch.
func suppressionChecksum(ctx context.Context, w warehouse.Warehouse, plan *models.Plan) (string, error) {
	if plan.Erasure == nil {
		return "", nil
	}
	d := w.Dialect()
	var n int64
	var sum string
	q := "SELECT count(*), " + models.SumHashes(d, d.Hash64("digest")) + " FROM " + plan.Erasure.SuppressionTable
	if err := warehouse.QueryRow(ctx, w, q, &n, &sum); err != nil {
		return "", fmt.Errorf("reading the erasure suppression list: %w", err)
	}
	return fmt.Sprintf("%d|%s", n, sum), nil
}
