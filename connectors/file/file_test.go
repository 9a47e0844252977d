package file_test

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/sluicehq/sluice/connectors/destination"
	"github.com/sluicehq/sluice/connectors/destination/destinationtest"
	"github.com/sluicehq/sluice/connectors/file"
)

// TestConformance runs the suite for each format: the erasure cases
// rewrite JSON Lines and CSV files differently.
func TestConformance(t *testing.T) {
	for _, format := range []string{"jsonl", "csv"} {
		t.Run(format, func(t *testing.T) {
			destinationtest.Run(t, destinationtest.Harness{
				Type: "file",
				New: func(t *testing.T) *destinationtest.Env {
					dir := t.TempDir()
					// A folder that cannot be created (below a regular file) is the
					// file destination's "bad credentials".
					blocker := filepath.Join(t.TempDir(), "not-a-folder")
					if err := os.WriteFile(blocker, nil, 0o644); err != nil {
						t.Fatal(err)
					}
					records := func(t *testing.T) map[string]map[string]any { return replay(t, dir) }
					if format == "csv" {
						records = func(t *testing.T) map[string]map[string]any { return replayCSV(t, dir) }
					}
					return &destinationtest.Env{
						Options:        `path: "${OUT}", format: ` + format,
						BadCredentials: `path: "${BAD_OUT}", format: ` + format,
						Vars:           map[string]string{"OUT": dir, "BAD_OUT": filepath.Join(blocker, "out")},
						Records:        records,
					}
				},
			})
		})
	}
}

// replayCSV applies the CSV files' operations in name (run) order; numbers
// come back as text, which the suite's comparison accepts.
func replayCSV(t *testing.T, dir string) map[string]map[string]any {
	t.Helper()
	names, _ := filepath.Glob(filepath.Join(dir, "conf", "*.csv"))
	slices.Sort(names)
	out := map[string]map[string]any{}
	for _, n := range names {
		fh, err := os.Open(n)
		if err != nil {
			t.Fatal(err)
		}
		rows, err := csv.NewReader(fh).ReadAll()
		fh.Close()
		if err != nil || len(rows) == 0 {
			t.Fatalf("%s: %v (%d rows)", n, err, len(rows))
		}
		for _, row := range rows[1:] {
			if row[0] != "upsert" && row[0] != "add" {
				delete(out, row[1])
				continue
			}
			rec := map[string]any{}
			for i, col := range rows[0][2:] {
				rec[col] = row[i+2]
			}
			out[row[1]] = rec
		}
	}
	return out
}

// replay applies the files' operations in order, as a consumer would.
func replay(t *testing.T, dir string) map[string]map[string]any {
	t.Helper()
	ops, err := file.ReadOps(dir, "conf")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]any{}
	for _, o := range ops {
		switch o.Op {
		case "upsert", "add":
			rec := map[string]any{}
			for k, v := range o.Fields {
				if n, ok := v.(json.Number); ok {
					if i, err := n.Int64(); err == nil {
						v = i
					}
				}
				rec[k] = v
			}
			out[o.Key] = rec
		default:
			delete(out, o.Key)
		}
	}
	return out
}

func TestCSVAndJSONLines(t *testing.T) {
	spec := file.Spec
	for _, tc := range []struct {
		format, want string
	}{
		{"csv", "op,key,email,name,properties.ltv\nupsert,a@x.com,a@x.com,\"Ann, Jr\",12.5\ndelete,b@x.com,b@x.com,,\n"},
		{"jsonl", `{"op":"upsert","key":"a@x.com","fields":{"email":"a@x.com","name":"Ann, Jr","properties":{"ltv":12.5}}}` + "\n" +
			`{"op":"delete","key":"b@x.com","fields":{"email":"b@x.com"}}` + "\n"},
	} {
		t.Run(tc.format, func(t *testing.T) {
			dir := t.TempDir()
			opts, err := destination.ParseOptions(spec, "{path: out, format: "+tc.format+"}")
			if err != nil {
				t.Fatal(err)
			}
			d, err := file.Open(context.Background(), destination.Config{
				Name: "files", Type: "file", Options: opts, ProjectDir: dir,
				Sync: destination.SyncInfo{Name: "s", Fields: []string{"email", "name", "properties.ltv"}},
			})
			if err != nil {
				t.Fatal(err)
			}
			errs, err := d.Write(context.Background(), &destination.Batch{Sync: "s", RunID: "20250101T000000.000000Z-abc", Records: []destination.Record{
				{Op: destination.OpUpsert, Key: "a@x.com", Fields: map[string]any{"email": "a@x.com", "name": "Ann, Jr", "properties": map[string]any{"ltv": 12.5}}},
				{Op: destination.OpDelete, Key: "b@x.com", Fields: map[string]any{"email": "b@x.com"}},
			}})
			if err != nil || errs[0] != nil || errs[1] != nil {
				t.Fatal(err, errs)
			}
			if err := d.Close(); err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(filepath.Join(dir, "out", "s", "20250101T000000.000000Z-abc."+tc.format))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("got\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}
