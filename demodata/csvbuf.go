package demodata

import (
	"fmt"
	"io"
)

// flushAt is the buffered size at which a file's rows are handed to the
// underlying writer; large writes keep syscalls off the profile.
const flushAt = 1 << 20

// rowWriter accumulates CSV rows in one byte slice. It replaces encoding/csv
// and bufio so a row is built with appends only, with no per-field calls
// through interfaces and no string conversions.
type rowWriter struct {
	name  string
	w     io.Writer
	buf   []byte
	rows  int64 // data rows, header excluded
	bytes int64
	err   error
}

func newRowWriter(name string, w io.Writer, header string) *rowWriter {
	rw := &rowWriter{name: name, w: w, buf: make([]byte, 0, flushAt+64<<10)}
	rw.buf = append(rw.buf, header...)
	rw.buf = append(rw.buf, '\n')
	return rw
}

// endRow terminates the current row. Fields are separated by the callers
// (sep) so that the hot path stays a sequence of appends.
func (rw *rowWriter) endRow() {
	rw.buf = append(rw.buf, '\n')
	rw.rows++
	if len(rw.buf) >= flushAt {
		rw.flush()
	}
}

func (rw *rowWriter) flush() {
	if rw.err == nil && len(rw.buf) > 0 {
		n, err := rw.w.Write(rw.buf)
		rw.bytes += int64(n)
		if err == nil && n < len(rw.buf) {
			err = io.ErrShortWrite
		}
		if err != nil {
			rw.err = fmt.Errorf("demodata: write %s: %w", rw.name, err)
		}
	}
	rw.buf = rw.buf[:0]
}

// needsQuotes mirrors encoding/csv.Writer's rule so that the output is
// byte-identical to what encoding/csv would write for the same records
// (quote on comma, quote, CR, LF, a leading space, or the value `\.`).
func needsQuotes[T string | []byte](s T) bool {
	if len(s) == 0 {
		return false
	}
	if len(s) == 2 && s[0] == '\\' && s[1] == '.' {
		return true
	}
	switch s[0] {
	case ' ', '\t', '\n', '\v', '\f', '\r':
		return true
	}
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case ',', '"', '\n', '\r':
			return true
		}
	}
	return false
}

// appendField appends s as a CSV field, quoting it only when required.
func appendField[T string | []byte](dst []byte, s T) []byte {
	if !needsQuotes(s) {
		return append(dst, s...)
	}
	dst = append(dst, '"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' {
			dst = append(dst, '"')
		}
		dst = append(dst, s[i])
	}
	return append(dst, '"')
}

// appendID appends prefix followed by n zero-padded to at least width digits.
func appendID(dst []byte, prefix byte, n uint64, width int) []byte {
	dst = append(dst, prefix)
	var tmp [20]byte
	i := len(tmp)
	for n > 0 || len(tmp)-i < width {
		i--
		tmp[i] = byte('0' + n%10)
		n /= 10
	}
	return append(dst, tmp[i:]...)
}
