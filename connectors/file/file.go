// Package file is the file destination: each run of a sync writes its
// operations to one new file, JSON Lines or CSV, in a folder:
// PATH/SYNC/RUN_ID.jsonl (or .csv). A run that sends nothing writes no
// file. Each batch is flushed to disk (fsync) before it counts as
// delivered, so a crash never loses an operation; one that was written
// but not yet committed is written again by the next run (at least once).
// Erase removes a person's operations from every file of the sync.
package file

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/connectors/destination"
)

// Spec is the file destination's configuration.
var Spec = config.ComponentSpec{
	Type:    "file",
	Summary: "Write each run's operations to a new file in a folder: PATH/SYNC/RUN_ID.jsonl, one {\"op\", \"key\", \"fields\"} object per line, or .csv with columns op, key and the mapping's fields.",
	Fields: []config.FieldSpec{
		{Name: "path", Kind: config.String, Required: true, Path: config.PathFolder, Doc: "Folder that receives the files, relative to the project directory (and inside it), or absolute."},
		{Name: "file_mode", Kind: config.String, Enum: []string{"private", "group"}, Doc: "Permissions of the files and folders written, which hold personal data: private (default) for their owner only (0600 files, 0700 folders); group lets the owner's group read them too (0640, 0750). See docs/privacy.md."},
		{Name: "format", Kind: config.String, Enum: []string{"jsonl", "csv"}, Doc: "jsonl (default) or csv."},
		{Name: "batch_size", Kind: config.Int, Min: config.Bound(1), Max: config.Bound(1_000_000), Doc: "Records per write (and fsync). Default: 10000."},
	},
}

func init() { destination.Register(Spec, Open) }

// File is an opened file destination.
type File struct {
	cfg      destination.Config
	root     string // the path option, resolved
	dir      string // root/SYNC
	format   string
	batch    int
	fileMode os.FileMode
	dirMode  os.FileMode

	mu   sync.Mutex
	f    *os.File
	w    *bufio.Writer
	csv  *csv.Writer
	cols []string
	name string
}

var _ destination.Destination = (*File)(nil)

// Open reads the options.
func Open(_ context.Context, cfg destination.Config) (destination.Destination, error) {
	path, err := cfg.Options.String("path", "")
	if err != nil {
		return nil, cfg.Errorf("%w", err)
	}
	if strings.TrimSpace(path) == "" {
		return nil, cfg.Errorf("path is empty")
	}
	// Checked again here, not only by validate: a folder replaced by a
	// symlink since must not lead the export out of the project.
	if path, err = config.ResolvePath(cfg.ProjectDir, path); err != nil {
		return nil, cfg.Errorf("path: %w", err)
	}
	mode, err := cfg.Options.String("file_mode", "")
	if err != nil {
		return nil, cfg.Errorf("%w", err)
	}
	fileMode, dirMode, err := config.FileModes(mode)
	if err != nil {
		return nil, cfg.Errorf("%w", err)
	}
	format, err := cfg.Options.String("format", "jsonl")
	if err != nil {
		return nil, cfg.Errorf("%w", err)
	}
	if format != "jsonl" && format != "csv" {
		return nil, cfg.Errorf("format must be jsonl or csv")
	}
	batch, err := cfg.Options.Int("batch_size", 10000)
	if err != nil {
		return nil, cfg.Errorf("%w", err)
	}
	f := &File{cfg: cfg, root: path, dir: filepath.Join(path, safeName(cfg.Sync.Name)), format: format, batch: batch,
		fileMode: fileMode, dirMode: dirMode}
	if err := f.tightenExisting(); err != nil {
		return nil, cfg.Errorf("%w", err)
	}
	return f, nil
}

// tightenExisting restricts the folders and files earlier runs (or
// versions) left looser than the mode, even when this run writes nothing.
func (f *File) tightenExisting() error {
	entries, err := os.ReadDir(f.dir)
	if errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return nil // nothing written yet; Check says what is wrong with the folder
	}
	if err != nil {
		return fmt.Errorf("reading folder %s: %w", f.dir, err)
	}
	errs := []error{config.Tighten(f.dir, f.dirMode)}
	if config.OwnFolder(f.cfg.ProjectDir, f.root) {
		errs = append(errs, config.Tighten(f.root, f.dirMode))
	}
	for _, e := range entries {
		if e.Type().IsRegular() {
			errs = append(errs, config.Tighten(filepath.Join(f.dir, e.Name()), f.fileMode))
		}
	}
	return errors.Join(errs...)
}

// Limits implements destination.Destination: one writer at a time.
func (f *File) Limits() destination.Limits {
	return destination.Limits{BatchSize: f.batch, Concurrency: 1}
}

// Check implements destination.Destination: the folder must be writable.
func (f *File) Check(context.Context) error {
	if err := f.mkdirs(); err != nil {
		return f.cfg.Errorf("%w", err)
	}
	tmp, err := os.CreateTemp(f.dir, ".sluice-check-*")
	if err != nil {
		return f.cfg.Errorf("folder %s is not writable: %w", f.dir, err)
	}
	tmp.Close()
	return os.Remove(tmp.Name())
}

// mkdirs creates the export folder and the sync's folder in it, private,
// and tightens them when an earlier version made them looser. The export
// folder is left as it is when it is the project folder itself, or outside
// the project (written absolute): those are the user's to set.
func (f *File) mkdirs() error {
	if err := config.MkdirPrivate(f.dir, f.dirMode); err != nil {
		return err
	}
	if config.OwnFolder(f.cfg.ProjectDir, f.root) {
		return config.Tighten(f.root, f.dirMode)
	}
	return nil
}

// Path is the file of the current run, once something was written.
func (f *File) Path() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.name
}

func (f *File) open(runID string) error {
	if f.f != nil {
		return nil
	}
	if err := f.mkdirs(); err != nil {
		return err
	}
	name := filepath.Join(f.dir, safeName(runID)+"."+f.format)
	fh, err := os.OpenFile(name, os.O_CREATE|os.O_WRONLY|os.O_APPEND, f.fileMode)
	if err != nil {
		return err
	}
	// A file left by an earlier run (or version) keeps its mode on open.
	if err := config.Tighten(name, f.fileMode); err != nil {
		fh.Close()
		return err
	}
	f.f, f.w, f.name = fh, bufio.NewWriterSize(fh, 1<<16), name
	if f.format == "csv" {
		f.csv = csv.NewWriter(f.w)
		f.cols = f.cfg.Sync.Fields
		if st, err := fh.Stat(); err == nil && st.Size() == 0 {
			if err := f.csv.Write(append([]string{"op", "key"}, f.cols...)); err != nil {
				return err
			}
		}
	}
	return nil
}

// Write implements destination.Destination.
func (f *File) Write(_ context.Context, b *destination.Batch) ([]error, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.open(b.RunID); err != nil {
		return nil, f.cfg.Errorf("opening the run's file: %w", err)
	}
	errs := make([]error, len(b.Records))
	for i, r := range b.Records {
		var err error
		if f.csv != nil {
			err = f.csv.Write(f.csvRow(r))
		} else {
			err = f.jsonLine(r)
		}
		if err != nil {
			errs[i] = err
		}
	}
	if f.csv != nil {
		f.csv.Flush()
		if err := f.csv.Error(); err != nil {
			return nil, f.cfg.Errorf("writing %s: %w", f.name, err)
		}
	}
	if err := f.w.Flush(); err != nil {
		return nil, f.cfg.Errorf("writing %s: %w", f.name, err)
	}
	if err := f.f.Sync(); err != nil {
		return nil, f.cfg.Errorf("flushing %s to disk: %w", f.name, err)
	}
	return errs, nil
}

// Line is one operation of a JSON Lines file.
type Line struct {
	Op     string         `json:"op"`
	Key    string         `json:"key"`
	Fields map[string]any `json:"fields"`
}

func (f *File) jsonLine(r destination.Record) error {
	fields := r.Fields
	if fields == nil {
		fields = map[string]any{}
	}
	b, err := json.Marshal(Line{Op: string(r.Op), Key: r.Key, Fields: fields})
	if err != nil {
		return fmt.Errorf("encoding record: %w", err)
	}
	b = append(b, '\n')
	_, err = f.w.Write(b)
	return err
}

func (f *File) csvRow(r destination.Record) []string {
	row := make([]string, 0, 2+len(f.cols))
	row = append(row, string(r.Op), r.Key)
	for _, c := range f.cols {
		row = append(row, cell(lookup(r.Fields, c)))
	}
	return row
}

// lookup finds a dotted field in nested maps.
func lookup(m map[string]any, path string) any {
	if v, ok := m[path]; ok {
		return v
	}
	head, rest, ok := strings.Cut(path, ".")
	if !ok {
		return nil
	}
	sub, _ := m[head].(map[string]any)
	if sub == nil {
		return nil
	}
	return lookup(sub, rest)
}

func cell(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case map[string]any, []any:
		b, _ := json.Marshal(x)
		return string(b)
	default:
		b, err := json.Marshal(x)
		if err != nil {
			return fmt.Sprint(x)
		}
		return strings.Trim(string(b), `"`)
	}
}

// Close implements destination.Destination.
func (f *File) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.closeLocked()
}

func safeName(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			return r
		}
		return '_'
	}, s)
}

// ReadOps reads back every operation written for a sync under folder, in
// run order: the replay a consumer of the files would do. For tests and
// tools.
func ReadOps(folder, sync string) ([]Line, error) {
	dir := filepath.Join(folder, sync)
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".jsonl") {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	var out []Line
	for _, n := range names {
		data, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			return nil, err
		}
		for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
			if l == "" {
				continue
			}
			var ln Line
			dec := json.NewDecoder(strings.NewReader(l))
			dec.UseNumber()
			if err := dec.Decode(&ln); err != nil {
				return nil, fmt.Errorf("%s: %w", n, err)
			}
			out = append(out, ln)
		}
	}
	return out, nil
}
