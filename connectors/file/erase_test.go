package file_test

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/connectors/destination"
	"github.com/sluicehq/sluice/connectors/file"
)

// runs are the exports the erase tests start from: three runs of sync
// "s", the last holding none of the keys erased.
var eraseRuns = []struct {
	id      string
	records []destination.Record
}{
	{"run1", []destination.Record{
		upsert("a@x.com", "Ann"),
		upsert("b@x.com", "two\nlines, \"quoted\""), // kept: its bytes must survive the rewrite
		upsert("c@x.com", "Cy"),
	}},
	{"run2", []destination.Record{
		upsert("c@x.com", "Cy again"),
		{Op: destination.OpDelete, Key: "a@x.com", Fields: map[string]any{"email": "a@x.com"}},
		upsert("d@x.com", "Di"),
	}},
	{"run3", []destination.Record{upsert("e@x.com", "Ed")}},
}

func upsert(key, name string) destination.Record {
	return destination.Record{Op: destination.OpUpsert, Key: key, Fields: map[string]any{"email": key, "name": name}}
}

// export writes the runs into dir/out, skipping the records of the keys in
// skip, and returns the destination (still usable for Erase).
func export(t *testing.T, dir, options string, skip ...string) *file.File {
	t.Helper()
	var d *file.File
	for _, run := range eraseRuns {
		var recs []destination.Record
		for _, r := range run.records {
			if !slices.Contains(skip, r.Key) {
				recs = append(recs, r)
			}
		}
		if d != nil {
			must(t, d.Close())
		}
		dd, err := openSync(t, dir, options)
		if err != nil {
			t.Fatal(err)
		}
		d = dd.(*file.File)
		if len(recs) == 0 {
			continue
		}
		errs, err := d.Write(context.Background(), &destination.Batch{Sync: "s", RunID: run.id, Records: recs})
		if err != nil || slices.ContainsFunc(errs, func(e error) bool { return e != nil }) {
			t.Fatal(err, errs)
		}
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func openSync(t *testing.T, dir, options string) (destination.Destination, error) {
	t.Helper()
	opts, err := destination.ParseOptions(file.Spec, options)
	if err != nil {
		t.Fatal(err)
	}
	return file.Open(context.Background(), destination.Config{
		Name: "files", Type: "file", Options: opts, ProjectDir: dir,
		Sync: destination.SyncInfo{Name: "s", Key: "email", Fields: []string{"email", "name"}},
	})
}

// TestErase: erased keys leave every file, byte for byte as if they had
// never been exported; files without them are not rewritten; modes stay.
func TestErase(t *testing.T) {
	tests := []struct {
		name, options, ext string
		mode               fs.FileMode
	}{
		{"jsonl private", "{path: out}", "jsonl", 0o600},
		{"jsonl group", "{path: out, file_mode: group}", "jsonl", 0o640},
		{"csv private", "{path: out, format: csv}", "csv", 0o600},
		{"csv group", "{path: out, format: csv, file_mode: group}", "csv", 0o640},
	}
	keys := []string{"a@x.com", "nobody@x.com", "c@x.com"}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir, wantDir := t.TempDir(), t.TempDir()
			d := export(t, dir, tc.options)
			export(t, wantDir, tc.options, keys...) // what the files must become
			folder := filepath.Join(dir, "out", "s")
			before, err := os.Stat(filepath.Join(folder, "run3."+tc.ext))
			must(t, err)

			// Erasing twice: the second call finds nothing and rewrites nothing.
			wantRefs := []string{"s/run1." + tc.ext + ", s/run2." + tc.ext, "", "s/run1." + tc.ext + ", s/run2." + tc.ext}
			for _, refs := range [][]string{wantRefs, {"", "", ""}} {
				out, err := d.Erase(context.Background(), &destination.Erasure{RequestID: "r1", Sync: "s", Keys: keys})
				if err != nil {
					t.Fatal(err)
				}
				if len(out) != len(keys) {
					t.Fatalf("%d outcomes for %d keys", len(out), len(keys))
				}
				for i, o := range out {
					if o.Err != nil || o.Ref != refs[i] {
						t.Errorf("outcome %d: ref %q, err %v; want ref %q and no error", i, o.Ref, o.Err, refs[i])
					}
				}
			}
			for _, run := range []string{"run1", "run2", "run3"} {
				name := run + "." + tc.ext
				got, err := os.ReadFile(filepath.Join(folder, name))
				must(t, err)
				want, err := os.ReadFile(filepath.Join(wantDir, "out", "s", name))
				must(t, err)
				if !bytes.Equal(got, want) {
					t.Errorf("%s after erasing:\n%s\nwant:\n%s", name, got, want)
				}
				if st, err := os.Stat(filepath.Join(folder, name)); err != nil || st.Mode().Perm() != tc.mode {
					t.Errorf("%s: mode %v, want %04o (%v)", name, st.Mode().Perm(), tc.mode, err)
				}
			}
			after, err := os.Stat(filepath.Join(folder, "run3."+tc.ext))
			must(t, err)
			if !os.SameFile(before, after) || !before.ModTime().Equal(after.ModTime()) {
				t.Error("run3 holds none of the keys but was rewritten")
			}
			noTempFiles(t, folder)
		})
	}
}

func noTempFiles(t *testing.T, folder string) {
	t.Helper()
	entries, err := os.ReadDir(folder)
	must(t, err)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			t.Errorf("temporary file %s left behind", e.Name())
		}
	}
}

// TestEraseThenWrite: a run whose file was rewritten by an erasure goes on
// appending to it.
func TestEraseThenWrite(t *testing.T) {
	for _, format := range []string{"jsonl", "csv"} {
		t.Run(format, func(t *testing.T) {
			dir := t.TempDir()
			d := export(t, dir, "{path: out, format: "+format+"}")
			if _, err := d.Erase(context.Background(), &destination.Erasure{Sync: "s", Keys: []string{"e@x.com"}}); err != nil {
				t.Fatal(err)
			}
			if _, err := d.Write(context.Background(), &destination.Batch{Sync: "s", RunID: "run3", Records: []destination.Record{upsert("f@x.com", "Fi")}}); err != nil {
				t.Fatal(err)
			}
			must(t, d.Close())
			got, err := os.ReadFile(filepath.Join(dir, "out", "s", "run3."+format))
			must(t, err)
			want := `{"op":"upsert","key":"f@x.com","fields":{"email":"f@x.com","name":"Fi"}}` + "\n"
			if format == "csv" {
				want = "op,key,email,name\nupsert,f@x.com,f@x.com,Fi\n"
			}
			if string(got) != want {
				t.Errorf("run3 after erasing and writing:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

// TestEraseBadFiles: a file that cannot be read as an export fails the
// call (every key stays pending) without quoting its content, and is left
// as it was.
func TestEraseBadFiles(t *testing.T) {
	tests := []struct{ name, file, body string }{
		{"jsonl line not json", "bad.jsonl", "{\"op\":\"upsert\",\"key\":\"a@x.com\"}\nsecret@x.com not json\n"},
		{"jsonl line without key", "bad.jsonl", "{\"op\":\"upsert\",\"fields\":{\"email\":\"secret@x.com\"}}\n"},
		{"csv without key column", "bad.csv", "op,email\nupsert,secret@x.com\n"},
		{"csv row too short", "bad.csv", "op,key,email\nupsert,a@x.com,a@x.com\nupsert,secret@x.com\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			d := export(t, dir, "{path: out}")
			path := filepath.Join(dir, "out", "s", tc.file)
			must(t, os.WriteFile(path, []byte(tc.body), 0o600))
			out, err := d.Erase(context.Background(), &destination.Erasure{Sync: "s", Keys: []string{"a@x.com"}})
			if err == nil {
				t.Fatalf("want an error, got outcomes %+v", out)
			}
			if strings.Contains(err.Error(), "secret@x.com") {
				t.Errorf("the error quotes the file's content: %v", err)
			}
			if got, _ := os.ReadFile(path); string(got) != tc.body {
				t.Errorf("the bad file was changed:\n%s", got)
			}
			noTempFiles(t, filepath.Join(dir, "out", "s"))
		})
	}
}

// TestEraseNothingExported: a sync that never wrote anything holds no key.
func TestEraseNothingExported(t *testing.T) {
	d, err := openSync(t, t.TempDir(), "{path: out}")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	out, err := d.(destination.Eraser).Erase(context.Background(), &destination.Erasure{Sync: "s", Keys: []string{"a@x.com", "b@x.com"}})
	if err != nil || len(out) != 2 || out[0] != (destination.ErasureOutcome{}) || out[1] != (destination.ErasureOutcome{}) {
		t.Errorf("got %+v, %v; want two empty outcomes", out, err)
	}
}
