// Package seedcheck checks seed CSV files before anything loads them:
// quoting, field counts, and each value against the type the project pins
// in column_types. Warehouses report such mistakes late and vaguely
// (DuckDB answers a short row with "Columns with names ... do not exist in
// the CSV File"; ClickHouse turns a bad value into NULL), and after
// earlier seeds have been replaced; this reports every one of them at
// once, as file:line: message, with nothing loaded.
//
// Files are streamed: memory is proportional to a record, not to the file.
package seedcheck

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/models/dialect"
)

// MaxPerFile caps the problems listed for one file: past it, a single line
// says how many more there are, since a systematic mistake (a column of
// dates in the wrong format) would otherwise bury everything else.
const MaxPerFile = 20

// MaxRecordBytes bounds one CSV record. A quote that is never closed makes
// the rest of the file a single field; the bound keeps memory small and
// points at where the runaway field began.
const MaxRecordBytes = 16 << 20

// File is one seed file to check.
type File struct {
	Name  string // as the project writes it (relative to the project): the file of every problem
	Path  string // where to read it
	Types []dialect.ColumnType
}

// Check checks every file and returns all their problems; nil when every
// file would load.
func Check(files []File) config.Problems {
	// Files are independent and reading them is CPU-bound: check them side
	// by side, one per core, and report in the order given.
	found := make([]config.Problems, len(files))
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	for i, f := range files {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			found[i] = checkFile(f)
		}()
	}
	wg.Wait()
	var out config.Problems
	for _, probs := range found {
		out = append(out, probs...)
	}
	return out
}

func checkFile(f File) config.Problems {
	fh, err := os.Open(f.Path)
	if err != nil {
		return config.Problems{{Pos: config.Pos{File: f.Name}, Message: fmt.Sprintf("cannot read seed file: %v", unwrapPath(err))}}
	}
	defer fh.Close()
	return CheckReader(f.Name, fh, f.Types)
}

// unwrapPath drops the absolute path of an *os.PathError: the problem
// already names the file as the project writes it.
func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// CheckReader checks one CSV document read from r; name is the file its
// problems point at.
func CheckReader(name string, r io.Reader, types []dialect.ColumnType) config.Problems {
	c := &checker{name: name}
	guard := &limitedRecord{r: r}
	cr := csv.NewReader(guard)
	cr.ReuseRecord = true
	header, err := cr.Read()
	switch {
	case errors.Is(err, io.EOF):
		c.add(1, "empty file: a seed needs a header row naming its columns")
		return c.done()
	case err != nil:
		c.readError(cr, err, nil)
		return c.done()
	}
	cols := c.header(header, types)
	for {
		rec, err := c.next(cr, guard)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if c.readError(cr, err, rec) {
				break
			}
			continue
		}
		c.row(cr, rec, cols)
	}
	return c.done()
}

// next returns the next record, or the one quoteError read ahead.
func (c *checker) next(cr *csv.Reader, guard *limitedRecord) ([]string, error) {
	if c.peeked {
		c.peeked = false
		return c.peekRec, c.peekErr
	}
	guard.n = 0
	return cr.Read()
}

// checker collects the problems of one file.
type checker struct {
	name     string
	problems config.Problems
	more     int
	lastLine int // the line the last good record ended on

	// A record read ahead by quoteError, for the loop to check next.
	peeked  bool
	peekRec []string
	peekErr error
}

func (c *checker) add(line int, format string, args ...any) {
	if len(c.problems) >= MaxPerFile {
		c.more++
		return
	}
	c.problems = append(c.problems, config.Problem{Pos: config.Pos{File: c.name, Line: line}, Message: fmt.Sprintf(format, args...)})
}

func (c *checker) done() config.Problems {
	if c.more > 0 {
		c.problems = append(c.problems, config.Problem{
			Pos:     config.Pos{File: c.name},
			Message: fmt.Sprintf("and %d more %s in this file", c.more, plural(c.more, "problem", "problems")),
		})
	}
	return c.problems
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// typedColumn is a header column whose values are checked.
type typedColumn struct {
	index int
	name  string
	typ   string
	check valueCheck
}

// header checks the column names and matches column_types to them.
func (c *checker) header(header []string, types []dialect.ColumnType) []typedColumn {
	c.lastLine = 1
	if len(header) > 0 {
		header[0] = strings.TrimPrefix(header[0], "\ufeff")
	}
	seen := map[string]bool{}
	for i, h := range header {
		key := strings.ToLower(strings.TrimSpace(h))
		switch {
		case key == "":
			c.add(1, "column %d has no name in the header row", i+1)
		case seen[key]:
			c.add(1, "column %s appears twice in the header row", quote(h))
		}
		seen[key] = true
	}
	var cols []typedColumn
	for _, t := range types {
		i := columnIndex(header, t.Column)
		if i < 0 {
			c.add(1, "column_types names column %s, which the header row does not have (columns: %s)",
				quote(t.Column), short(strings.Join(header, ", "), 200))
			continue
		}
		if chk := checkFor(t.Type); chk != nil {
			cols = append(cols, typedColumn{index: i, name: header[i], typ: t.Type, check: chk})
		}
	}
	return cols
}

// columnIndex finds a column by name, exactly or else ignoring case as SQL
// does.
func columnIndex(header []string, name string) int {
	for i, h := range header {
		if h == name {
			return i
		}
	}
	for i, h := range header {
		if strings.EqualFold(h, name) {
			return i
		}
	}
	return -1
}

// row checks the values of one well-formed record.
func (c *checker) row(cr *csv.Reader, rec []string, cols []typedColumn) {
	for _, col := range cols {
		v := rec[col.index]
		if v == "" {
			continue // NULL
		}
		if why := col.check(v); why != "" {
			line, _ := cr.FieldPos(col.index)
			c.add(line, "column %s: %s is %s, declared %s in column_types", quote(col.name), quote(short(v, 40)), why, col.typ)
		}
	}
	if len(rec) == 0 {
		return
	}
	last := len(rec) - 1
	line, _ := cr.FieldPos(last)
	c.lastLine = line + strings.Count(rec[last], "\n")
}

// readError reports a CSV syntax error; it returns true when the rest of
// the file cannot be read.
func (c *checker) readError(cr *csv.Reader, err error, rec []string) (stop bool) {
	var pe *csv.ParseError
	switch {
	case errors.Is(err, errRecordTooLong):
		c.add(c.lastLine+1, "a record runs on for more than %d MiB: probably a quote opened here or soon after is never closed", MaxRecordBytes>>20)
		return true
	case !errors.As(err, &pe):
		c.add(0, "cannot read seed file: %v", err)
		return true
	case errors.Is(err, csv.ErrFieldCount):
		c.add(pe.StartLine, "%d %s, but the header row has %d", len(rec), plural(len(rec), "field", "fields"), cr.FieldsPerRecord)
		c.lastLine = pe.Line
	case errors.Is(err, csv.ErrBareQuote):
		c.add(pe.Line, `a quote inside an unquoted field: quote the whole field and double the quote ("say ""hi""")`)
		c.lastLine = pe.Line
	case errors.Is(err, csv.ErrQuote):
		return c.quoteError(cr, pe)
	default:
		c.add(pe.Line, "invalid CSV: %v", pe.Err)
		c.lastLine = pe.Line
	}
	return false
}

// quoteError tells a quote that is never closed (the reader ran to the end
// of the file) from a stray quote after a closing one, by reading ahead.
func (c *checker) quoteError(cr *csv.Reader, pe *csv.ParseError) (stop bool) {
	rec, err := cr.Read()
	switch {
	case errors.Is(err, io.EOF) && pe.Line > pe.StartLine:
		c.add(pe.StartLine, "unterminated quoted field: a quote opened on this line is never closed")
		return true
	case errors.Is(err, io.EOF):
		c.add(pe.Line, `unterminated quoted field, or text after a closing quote: close each quoted field and double the quotes inside it ("say ""hi""")`)
		return true
	}
	c.add(pe.Line, `text after a closing quote: a quote inside a quoted field is written twice ("say ""hi""")`)
	c.lastLine = pe.Line
	c.peeked, c.peekRec, c.peekErr = true, rec, err
	return false
}

// quote renders a name or value for a message: Go-quoted, so that control
// characters and odd bytes cannot garble a terminal.
func quote(s string) string { return fmt.Sprintf("%q", s) }

// short truncates s to n runes, marking the cut.
func short(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n]) + "…"
}

var errRecordTooLong = errors.New("record too long")

// limitedRecord fails a read once more than MaxRecordBytes were read since
// n was last reset (before each record). The CSV reader buffers ahead, so
// the bound is approximate, which is all it needs to be.
type limitedRecord struct {
	r io.Reader
	n int
}

func (l *limitedRecord) Read(p []byte) (int, error) {
	if l.n > MaxRecordBytes {
		return 0, errRecordTooLong
	}
	n, err := l.r.Read(p)
	l.n += n
	return n, err
}

// ProjectFiles lists the project's seed files that exist, for checking
// without a plan (sluice validate). A missing file, or one outside the
// project, is left out: validation reports it where the project names it.
func ProjectFiles(p *config.Project) []File {
	var files []File
	for _, s := range p.Seeds {
		if s.Path == "" {
			continue
		}
		// A file outside the project is never read, not even to check it:
		// its content could end up in messages.
		path, err := config.ResolveInProject(p.Dir, s.Path, p.ExternalPaths...)
		if err != nil {
			continue
		}
		if st, err := os.Stat(path); err != nil || !st.Mode().IsRegular() {
			continue
		}
		types := make([]dialect.ColumnType, len(s.ColumnTypes))
		for i, ct := range s.ColumnTypes {
			types[i] = dialect.ColumnType{Column: ct.Key, Type: ct.Value}
		}
		files = append(files, File{Name: s.Path, Path: path, Types: types})
	}
	return files
}
