package models

import (
	"strings"
	"unicode/utf8"

	"github.com/sluicehq/sluice/config"
)

// locator turns an offset in a fragment into a position in its file.
type locator struct {
	f     Fragment
	files FileText
}

// line returns the text of the file line holding the value, and the byte
// index of the value in it, or false.
func (l locator) line() (lines []string, col int, ok bool) {
	p := l.f.Pos
	if l.files == nil || p.Line < 1 || p.Col < 1 {
		return nil, 0, false
	}
	data, ok := l.files(p.File)
	if !ok {
		return nil, 0, false
	}
	lines = strings.Split(string(data), "\n")
	if p.Line > len(lines) {
		return nil, 0, false
	}
	// YAML columns count characters; convert to a byte index.
	text, b := lines[p.Line-1], 0
	for c := 1; c < p.Col && b < len(text); c++ {
		_, n := utf8.DecodeRuneInString(text[b:])
		b += n
	}
	return lines, b, true
}

// fromEnv reports whether the value was written as a ${VAR} reference, so
// that messages do not echo what the environment holds.
func (l locator) fromEnv() bool {
	lines, b, ok := l.line()
	return ok && strings.Contains(lines[l.f.Pos.Line-1][b:], "${")
}

// at is the position of byte offset off of the fragment's text: inside
// the value when the file shows the value verbatim up to there (a plain
// or quoted scalar on one line, or a literal block), else the value's own
// position, which is never wrong.
func (l locator) at(off int) config.Pos {
	pos := l.f.Pos
	lines, b, ok := l.line()
	off += l.f.Offset
	if !ok || off < 0 || off > len(l.f.Value) {
		return pos
	}
	prefix := l.f.Value[:off]
	rest := lines[pos.Line-1][b:]
	switch {
	case rest == "":
	case rest[0] == '"' || rest[0] == '\'':
		// Escapes (\x, "" or '') would shift the columns: only a prefix
		// free of them is shown verbatim.
		escapes := `\"`
		if rest[0] == '\'' {
			escapes = "'"
		}
		if !strings.Contains(prefix, "\n") && strings.HasPrefix(rest[1:], prefix) && !strings.ContainsAny(prefix, escapes) {
			pos.Col += 1 + utf8.RuneCountInString(prefix)
		}
	case rest[0] == '|':
		return literalBlock(pos, lines, prefix)
	case rest[0] == '>':
	default:
		if !strings.Contains(prefix, "\n") && strings.HasPrefix(rest, prefix) {
			pos.Col += utf8.RuneCountInString(prefix)
		}
	}
	return pos
}

// literalBlock places prefix's end in a | block scalar that starts on the
// line after pos: lines map one to one, indented alike.
func literalBlock(pos config.Pos, lines []string, prefix string) config.Pos {
	k := strings.Count(prefix, "\n")
	last := prefix[strings.LastIndexByte(prefix, '\n')+1:]
	indent := -1
	for _, l := range lines[pos.Line:] {
		if strings.TrimSpace(l) != "" {
			indent = len(l) - len(strings.TrimLeft(l, " "))
			break
		}
	}
	n := pos.Line + k // 0-based index of the line holding the offset
	if indent < 0 || n >= len(lines) || len(lines[n]) < indent || !strings.HasPrefix(lines[n][indent:], last) {
		return pos
	}
	return config.Pos{File: pos.File, Line: n + 1, Col: indent + 1 + utf8.RuneCountInString(last)}
}
