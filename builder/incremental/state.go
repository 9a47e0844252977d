package incremental

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/connectors/warehouse"
	"github.com/sluicehq/sluice/models/dialect"
)

// StateTableName is the table, in the state schema, where every successful
// build records what it was built from: one row per item, the rows of a
// build sharing its build_id (a sortable UTC timestamp), so that writing
// is an INSERT on every warehouse and the latest build is the greatest id.
const StateTableName = "build_state"

// State is what the last recorded build was built from.
type State struct {
	BuildID  string
	Now      time.Time // the build's reference time (windows, recency)
	Complete bool      // every step of the project ran
	// Steps holds the fingerprint of every step's compiled SQL.
	Steps map[string]string
	// Sources holds each source's rows and checksum (or high-water mark).
	Sources map[string]SourceState
	// Suppression is the erasure suppression list's checksum.
	Suppression string
	// Seeds holds the fingerprint of each seed file loaded.
	Seeds map[string]string
	// UniqueKeys names the sources whose rows all had a primary key, each
	// a different one (the key check of the source step found no NULL and
	// no shared key): their change detection can pair rows with a join.
	UniqueKeys map[string]bool
	// DeletedFloor is the share of deleted rows stored in a table
	// published in place that the last compaction left (see CompactAt).
	DeletedFloor float64
}

// SourceState is a source as a build saw it.
type SourceState struct {
	Rows     int64
	Checksum string // the sum of its row hashes; empty for append_only
	Mark     string // append_only: the latest timestamp, as the warehouse wrote it
}

func (s SourceState) encode() string {
	return strconv.FormatInt(s.Rows, 10) + "|" + s.Checksum + "|" + s.Mark
}

func decodeSource(v string) (SourceState, error) {
	parts := strings.SplitN(v, "|", 3)
	if len(parts) != 3 {
		return SourceState{}, fmt.Errorf("unreadable source state %q", v)
	}
	n, err := strconv.ParseInt(parts[0], 10, 64)
	if err != nil {
		return SourceState{}, fmt.Errorf("unreadable source state %q: %w", v, err)
	}
	return SourceState{Rows: n, Checksum: parts[1], Mark: parts[2]}, nil
}

// store reads and writes the build state of one project.
type store struct {
	w     warehouse.Warehouse
	d     dialect.Dialect
	table string
	ddl   []string
}

func newStore(w warehouse.Warehouse, p *config.Project) store {
	d := w.Dialect()
	t := d.Table(p.StateSchema, StateTableName)
	text := dialect.TextType(d)
	return store{w: w, d: d, table: t, ddl: []string{
		d.CreateSchema(p.StateSchema),
		dialect.CreateTableIfMissing(d, t, []dialect.TableColumn{
			{Name: "build_id", Type: text}, {Name: "item", Type: text}, {Name: "value", Type: text},
		}),
	}}
}

func (s store) ensure(ctx context.Context) error {
	for _, q := range s.ddl {
		if err := s.w.Exec(ctx, q); err != nil {
			return fmt.Errorf("creating the build state table %s: %w", s.table, err)
		}
	}
	return nil
}

// latest reads the last recorded build, nil when there is none.
func (s store) latest(ctx context.Context) (*State, error) {
	// A build that fails before its end creates nothing: the table comes
	// with the first record.
	if !tableExists(ctx, s.w, s.table) {
		return nil, nil
	}
	rows, err := s.w.Query(ctx, "SELECT build_id, item, value FROM "+s.table+
		" WHERE build_id = (SELECT max(build_id) FROM "+s.table+")")
	if err != nil {
		return nil, fmt.Errorf("reading the build state: %w", err)
	}
	defer rows.Close()
	var st *State
	for rows.Next() {
		var id, item, value string
		if err := rows.Scan(&id, &item, &value); err != nil {
			return nil, fmt.Errorf("reading the build state: %w", err)
		}
		if st == nil {
			st = &State{BuildID: id, Steps: map[string]string{}, Sources: map[string]SourceState{}, Seeds: map[string]string{}, UniqueKeys: map[string]bool{}}
		}
		if err := st.set(item, value); err != nil {
			return nil, fmt.Errorf("reading the build state of build %s: %w", id, err)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading the build state: %w", err)
	}
	return st, nil
}

func (st *State) set(item, value string) error {
	kind, name, _ := strings.Cut(item, ":")
	switch kind {
	case "now":
		t, err := time.Parse(time.RFC3339Nano, value)
		if err != nil {
			return fmt.Errorf("unreadable build time %q: %w", value, err)
		}
		st.Now = t
	case "complete":
		st.Complete = value == "true"
	case "step":
		st.Steps[name] = value
	case "seed":
		st.Seeds[name] = value
	case "suppression":
		st.Suppression = value
	case "unique_keys":
		st.UniqueKeys[name] = value == "true"
	case "deleted_floor":
		f, err := strconv.ParseFloat(value, 64)
		if err != nil {
			return fmt.Errorf("unreadable share of deleted rows %q: %w", value, err)
		}
		st.DeletedFloor = f
	case "source":
		s, err := decodeSource(value)
		if err != nil {
			return err
		}
		st.Sources[name] = s
	}
	return nil
}

func (st *State) items() [][2]string {
	out := [][2]string{{"now", st.Now.UTC().Format(time.RFC3339Nano)}, {"complete", strconv.FormatBool(st.Complete)}}
	if st.Suppression != "" {
		out = append(out, [2]string{"suppression", st.Suppression})
	}
	if st.DeletedFloor > 0 {
		out = append(out, [2]string{"deleted_floor", strconv.FormatFloat(st.DeletedFloor, 'f', 4, 64)})
	}
	for _, k := range sortedKeys(st.Steps) {
		out = append(out, [2]string{"step:" + k, st.Steps[k]})
	}
	for _, k := range sortedKeys(st.Seeds) {
		out = append(out, [2]string{"seed:" + k, st.Seeds[k]})
	}
	for _, k := range sortedKeys(st.Sources) {
		out = append(out, [2]string{"source:" + k, st.Sources[k].encode()})
	}
	for _, k := range sortedKeys(st.UniqueKeys) {
		if st.UniqueKeys[k] {
			out = append(out, [2]string{"unique_keys:" + k, "true"})
		}
	}
	return out
}

// record writes a build's state, then drops older builds' rows where the
// warehouse deletes cheaply (ClickHouse keeps them: a DELETE there is an
// asynchronous mutation, and the rows are few).
func (s store) record(ctx context.Context, st *State) error {
	items := st.items()
	// INSERT ... SELECT: ClickHouse's driver takes INSERT ... VALUES for
	// the start of a batch of bound rows.
	values := make([]string, len(items))
	for i, it := range items {
		values[i] = "SELECT " + s.d.String(st.BuildID) + ", " + s.d.String(it[0]) + ", " + s.d.String(it[1])
	}
	if err := s.w.Exec(ctx, "INSERT INTO "+s.table+" (build_id, item, value) "+strings.Join(values, " UNION ALL ")); err != nil {
		return fmt.Errorf("recording the build state: %w", err)
	}
	if strings.HasPrefix(s.d.Name(), "clickhouse") {
		return nil
	}
	if err := s.w.Exec(ctx, "DELETE FROM "+s.table+" WHERE build_id < "+s.d.String(st.BuildID)); err != nil {
		return fmt.Errorf("pruning the build state: %w", err)
	}
	return nil
}

// buildID is a UTC timestamp that sorts as text in time order.
func buildID(t time.Time) string { return t.UTC().Format("20060102T150405.000000000Z") }

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
