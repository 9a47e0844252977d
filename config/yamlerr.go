package config

import (
	"bytes"
	"errors"
	"io"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

var yamlLine = regexp.MustCompile(`^yaml: (?:line (\d+): )?(.*)$`)

// maxLocateSize bounds the files whose syntax errors are located exactly:
// each step of the search parses the file again. Larger files (far larger
// than any hand-written one) get the line yaml.v3 names.
const maxLocateSize = 512 << 10

// syntaxProblem turns a yaml.v3 parse error into a message at the offending
// token. yaml.v3 names a line only, and often that of the enclosing block
// (or one off), so the place is found by parsing shorter prefixes of the
// file: the shortest prefix that fails the same way ends at the offending
// character. Parsing is linear, and the search takes about log2(size)
// parses, so it runs on files up to maxLocateSize.
func syntaxProblem(name string, data []byte, err error) Problem {
	full := err.Error()
	msg, line := full, 0
	if m := yamlLine.FindStringSubmatch(full); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = m[2]
	}
	off, found := 0, false
	if len(data) <= maxLocateSize {
		off, found = shortestFailingPrefix(data, full)
	}
	if !found {
		return Problem{Pos: Pos{File: name, Line: max(line, 1), Col: 1}, Message: "invalid YAML: " + yamlErrorText(yamlTokens.Replace(msg))}
	}
	at := off - 1
	switch {
	case strings.Contains(msg, "did not find expected ',' or '}'"):
		at = unclosed(data[:off], '{', at)
	case strings.Contains(msg, "did not find expected ',' or ']'"):
		at = unclosed(data[:off], '[', at)
	case strings.HasPrefix(msg, "unknown anchor"):
		if i := bytes.LastIndexByte(data[:off], '*'); i >= 0 {
			at = i
		}
	case strings.HasPrefix(msg, "did not find expected") && at < len(data) && data[at] == ':':
		// The parser noticed at the key's colon; the key starts the line.
		if key, ok := misindentedKey(data, at); ok {
			at = key
		}
	case strings.Contains(msg, "mapping values are not allowed"):
		if key, ok := misindentedKey(data, at); ok {
			l, c := lineCol(data, key)
			return Problem{Pos: Pos{File: name, Line: l, Col: c}, Message: "invalid YAML: " + msg + ": this key is not aligned with the keys above it; check its indentation"}
		}
	}
	l, c := lineCol(data, at)
	return Problem{Pos: Pos{File: name, Line: l, Col: c}, Message: "invalid YAML: " + yamlErrorText(yamlTokens.Replace(msg)) + syntaxHint(msg, data, at)}
}

// misindentedKey tells a key indented differently from its siblings (the
// unexpected colon at colon is the first of its line) from a value holding
// ": " (key: value: other), and returns where the key starts.
func misindentedKey(data []byte, colon int) (int, bool) {
	start := bytes.LastIndexByte(data[:colon], '\n') + 1
	line := data[start:colon]
	key := bytes.TrimLeft(line, " ")
	if len(key) == 0 || key[0] == '-' || bytes.Contains(key, []byte(": ")) || bytes.ContainsAny(key, "{[\"'#") {
		return 0, false
	}
	return start + len(line) - len(key), true
}

// yamlTokens names the punctuation yaml.v3 quotes, so that hiding quoted
// text (which may come from the file) keeps the message readable.
var yamlTokens = strings.NewReplacer(
	"'-' indicator", "list dash (-)",
	"',' or '}'", "comma (,) or closing brace (})",
	"',' or ']'", "comma (,) or closing bracket (])",
	"':'", "colon (:)",
)

// shortestFailingPrefix bisects for the shortest prefix of data whose parse
// fails with the message want, cutting only between characters.
func shortestFailingPrefix(data []byte, want string) (int, bool) {
	fails := func(n int) bool {
		var doc yaml.Node
		dec := yaml.NewDecoder(bytes.NewReader(data[:n]))
		for {
			err := dec.Decode(&doc)
			if err == nil {
				continue
			}
			return !errors.Is(err, io.EOF) && err.Error() == want
		}
	}
	if !fails(len(data)) {
		return 0, false
	}
	lo, hi := 0, len(data)
	for hi-lo > 1 {
		mid := lo + (hi-lo)/2
		for mid < hi && !utf8.RuneStart(data[mid]) {
			mid++
		}
		if mid == hi {
			break
		}
		if fails(mid) {
			hi = mid
		} else {
			lo = mid
		}
	}
	return hi, true
}

// unclosed finds the innermost opening bracket left open in data (outside
// quotes and comments), or returns def.
func unclosed(data []byte, open byte, def int) int {
	var stack []int
	var quote byte
	comment := false
	for i, b := range data {
		switch {
		case comment:
			comment = b != '\n'
		case quote != 0:
			if b == quote {
				quote = 0
			}
		case b == '"' || b == '\'':
			quote = b
		case b == '#' && (i == 0 || data[i-1] == ' ' || data[i-1] == '\t' || data[i-1] == '\n'):
			comment = true
		case b == '{' || b == '[':
			stack = append(stack, i)
		case (b == '}' || b == ']') && len(stack) > 0:
			stack = stack[:len(stack)-1]
		}
	}
	for i := len(stack) - 1; i >= 0; i-- {
		if data[stack[i]] == open {
			return stack[i]
		}
	}
	return def
}

// lineCol converts a byte offset to a 1-based line and column (in characters).
func lineCol(data []byte, off int) (line, col int) {
	off = min(max(off, 0), len(data))
	line = 1 + bytes.Count(data[:off], []byte{'\n'})
	start := bytes.LastIndexByte(data[:off], '\n') + 1
	return line, 1 + utf8.RuneCount(data[start:off])
}

// syntaxHint adds what to do about the commonest mistakes.
func syntaxHint(msg string, data []byte, at int) string {
	var c byte
	if at >= 0 && at < len(data) {
		c = data[at]
	}
	switch {
	case c == '\t' && strings.Contains(msg, "tab"):
		return ": YAML indents with spaces only"
	case c == '\t':
		return ": a tab character; YAML indents with spaces only"
	case strings.Contains(msg, "mapping values are not allowed"):
		return ": an unexpected `:`; quote a value that contains \": \", or check this line's indentation"
	case strings.Contains(msg, "did not find expected key"):
		return ": check this line's indentation"
	case strings.Contains(msg, "end of stream") && (c == '"' || c == '\''):
		return ": this quoted string is never closed"
	case (c == '{' || c == '[') && strings.Contains(msg, "did not find expected ','"):
		return ": this bracket is never closed (or a comma is missing)"
	case strings.Contains(msg, "cannot start any token") && c != 0:
		return ": quote a value that starts with " + strconv.QuoteRune(rune(c))
	}
	return ""
}
