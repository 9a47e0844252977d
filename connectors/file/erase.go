package file

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/sluicehq/sluice/connectors/destination"
)

var _ destination.Eraser = (*File)(nil)

// errHolds stops a scan at the first record to erase.
var errHolds = errors.New("the file holds a key to erase")

// Erase implements destination.Eraser: it removes the records of e.Keys
// from every export file of the sync, rewriting only the files that hold
// one. A file is read one record at a time and rewritten through a
// temporary file in the same folder, flushed to disk and renamed over the
// original, so that a crash leaves either the old file or the new one. The
// outcome's Ref lists the files rewritten for that key, relative to the
// export folder: file names are run ids, never personal data.
func (f *File) Erase(ctx context.Context, e *destination.Erasure) ([]destination.ErasureOutcome, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	// The file of a run in progress is rewritten like the others; it is
	// closed first, and the next Write appends to the rewritten file.
	if err := f.closeLocked(); err != nil {
		return nil, f.cfg.Errorf("erasing: closing the run's file: %w", err)
	}
	sync := e.Sync
	if sync == "" {
		sync = f.cfg.Sync.Name
	}
	dir := filepath.Join(f.root, safeName(sync))
	names, err := exportFiles(dir)
	if err != nil {
		return nil, f.cfg.Errorf("erasing: %w", err)
	}
	erase := make(map[string]bool, len(e.Keys))
	for _, k := range e.Keys {
		erase[k] = true
	}
	rewritten := map[string][]string{} // key -> files it was removed from
	for _, n := range names {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		path := filepath.Join(dir, n)
		found, err := eraseFrom(path, erase)
		if err != nil {
			return nil, f.cfg.Errorf("erasing from %s: %w", path, err)
		}
		rel := filepath.ToSlash(filepath.Join(safeName(sync), n))
		for _, k := range found {
			rewritten[k] = append(rewritten[k], rel)
		}
	}
	out := make([]destination.ErasureOutcome, len(e.Keys))
	for i, k := range e.Keys {
		out[i].Ref = strings.Join(rewritten[k], ", ")
	}
	return out, nil
}

// closeLocked closes the current run's file, if any; f.mu is held.
func (f *File) closeLocked() error {
	if f.f == nil {
		return nil
	}
	err := errors.Join(f.w.Flush(), f.f.Close())
	f.f, f.w, f.csv = nil, nil, nil
	return err
}

// exportFiles lists the sync's export files, in run order; a folder not
// created yet holds none.
func exportFiles(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading folder %s: %w", dir, err)
	}
	var names []string
	for _, e := range entries {
		n := e.Name()
		if e.Type().IsRegular() && !strings.HasPrefix(n, ".") && (strings.HasSuffix(n, ".jsonl") || strings.HasSuffix(n, ".csv")) {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	return names, nil
}

// span is where one record lies in a file, [start, end) in bytes.
type span struct{ start, end int64 }

// scanFunc reads a file's records in order, calling fn with each record's
// key and span; an error from fn stops the scan and is returned.
type scanFunc func(r io.Reader, fn func(key string, s span) error) error

func scannerFor(path string) scanFunc {
	if strings.HasSuffix(path, ".csv") {
		return scanCSV
	}
	return scanJSONL
}

// eraseFrom removes the records whose key is in erase from the file at
// path, and returns the keys it removed (each once). A file holding none
// is not written.
func eraseFrom(path string, erase map[string]bool) ([]string, error) {
	scan := scannerFor(path)
	in, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer in.Close()
	// A first pass only looks, so that untouched files keep their bytes,
	// times and inode.
	err = scan(bufio.NewReaderSize(in, 1<<16), func(key string, _ span) error {
		if erase[key] {
			return errHolds
		}
		return nil
	})
	if err == nil {
		return nil, nil
	}
	if !errors.Is(err, errHolds) {
		return nil, err
	}
	if _, err := in.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	return rewrite(path, in, scan, erase)
}

// rewrite copies the records of in to keep through a temporary file that
// replaces path; in is read twice, through two offsets: once to find the
// records, once (raw) to copy the bytes of those kept, unchanged.
func rewrite(path string, in *os.File, scan scanFunc, erase map[string]bool) (found []string, err error) {
	st, err := in.Stat()
	if err != nil {
		return nil, err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".sluice-erase-*")
	if err != nil {
		return nil, fmt.Errorf("creating a temporary file: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := tmp.Chmod(st.Mode().Perm()); err != nil {
		return nil, fmt.Errorf("setting the temporary file's mode: %w", err)
	}
	raw := io.NewSectionReader(in, 0, st.Size())
	w := bufio.NewWriterSize(tmp, 1<<16)
	var pos int64 // raw bytes up to pos are copied or skipped
	seen := map[string]bool{}
	err = scan(bufio.NewReaderSize(io.NewSectionReader(in, 0, st.Size()), 1<<16), func(key string, s span) error {
		if !erase[key] {
			return nil
		}
		if !seen[key] {
			seen[key] = true
			found = append(found, key)
		}
		if _, err := io.CopyN(w, raw, s.start-pos); err != nil {
			return err
		}
		_, err := raw.Seek(s.end, io.SeekStart)
		pos = s.end
		return err
	})
	if err != nil {
		return nil, err
	}
	if _, err := io.Copy(w, raw); err != nil {
		return nil, err
	}
	if err := errors.Join(w.Flush(), tmp.Sync(), tmp.Close()); err != nil {
		return nil, fmt.Errorf("writing the temporary file: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return nil, fmt.Errorf("replacing the file: %w", err)
	}
	return found, syncDir(filepath.Dir(path))
}

// syncDir flushes a folder's entries, so that a rename survives a crash.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("flushing folder %s: %w", dir, err)
	}
	return nil
}

// scanJSONL reads one operation per line; blank lines are skipped.
func scanJSONL(r io.Reader, fn func(key string, s span) error) error {
	br, ok := r.(*bufio.Reader)
	if !ok {
		br = bufio.NewReader(r)
	}
	var off int64
	for n := 1; ; n++ {
		line, err := br.ReadBytes('\n')
		if len(line) > 0 {
			s := span{off, off + int64(len(line))}
			off = s.end
			if len(bytes.TrimSpace(line)) > 0 {
				var l struct {
					Key *string `json:"key"`
				}
				if jerr := json.Unmarshal(line, &l); jerr != nil || l.Key == nil {
					return fmt.Errorf("line %d is not an operation with a key", n)
				}
				if ferr := fn(*l.Key, s); ferr != nil {
					return ferr
				}
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// scanCSV reads the header, finds its key column, then one operation per
// row.
func scanCSV(r io.Reader, fn func(key string, s span) error) error {
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading the header: %w", err)
	}
	col := slices.Index(header, "key")
	if col < 0 {
		return errors.New("the header has no key column")
	}
	for {
		start := cr.InputOffset()
		row, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			// csv's errors quote no cell, only positions.
			return err
		}
		if err := fn(row[col], span{start, cr.InputOffset()}); err != nil {
			return err
		}
	}
}
