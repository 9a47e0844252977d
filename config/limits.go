package config

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// Limits on what the loader reads. They are far above any real project and
// keep a hostile file from taking the process's memory or time.
const (
	// MaxFileSize is the largest project YAML file read, in bytes.
	MaxFileSize = 10 << 20
	// MaxAliasExpansion is how many nodes the aliases of one file may
	// bring in, counting every use of an anchor with all it contains.
	MaxAliasExpansion = 100_000
)

// fileProblem is a project file that cannot be read as YAML text, located
// at the file (line 1, column 1) or at its first bad byte.
type fileProblem struct {
	pos Pos
	msg string
}

func (e *fileProblem) Error() string { return e.pos.String() + ": " + e.msg }

// readProjectFile reads a YAML file of the project, refusing anything that
// is not a regular file of at most MaxFileSize bytes. The mode is checked
// before opening, so a FIFO is never opened (opening one blocks), and again
// on the opened file, in case it was swapped in between.
func readProjectFile(path, name string) ([]byte, error) {
	at := Pos{File: name, Line: 1, Col: 1}
	fi, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			if _, lerr := os.Lstat(path); lerr == nil {
				return nil, &fileProblem{at, "broken symbolic link: its target does not exist"}
			}
		}
		return nil, &fileProblem{at, fmt.Sprintf("cannot read this file: %v", unwrapPath(err))}
	}
	if msg := irregular(fi); msg != "" {
		return nil, &fileProblem{at, msg}
	}
	f, err := os.OpenFile(path, os.O_RDONLY|openNonBlock, 0)
	if err != nil {
		return nil, &fileProblem{at, fmt.Sprintf("cannot read this file: %v", unwrapPath(err))}
	}
	defer f.Close()
	if fi, err = f.Stat(); err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	if msg := irregular(fi); msg != "" {
		return nil, &fileProblem{at, msg}
	}
	// Read one byte past the limit to tell a file of exactly the limit
	// from a larger one, whatever size Stat claimed.
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	if len(data) > MaxFileSize {
		return nil, &fileProblem{at, fmt.Sprintf("file is larger than %d MiB, the limit for a project file", MaxFileSize>>20)}
	}
	return data, nil
}

// irregular says why a file is not one the loader reads, or "" if it is.
func irregular(fi fs.FileInfo) string {
	m := fi.Mode()
	switch {
	case m.IsRegular():
		if fi.Size() > MaxFileSize {
			return fmt.Sprintf("file is larger than %d MiB, the limit for a project file", MaxFileSize>>20)
		}
		return ""
	case m.IsDir():
		return "is a directory, not a YAML file"
	case m&fs.ModeNamedPipe != 0:
		return "is a named pipe (FIFO), not a regular file; it is not read"
	case m&fs.ModeSocket != 0:
		return "is a socket, not a regular file; it is not read"
	case m&fs.ModeDevice != 0:
		return "is a device, not a regular file; it is not read"
	}
	return "is not a regular file; it is not read"
}

func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// checkText finds the first byte that cannot be in a YAML text file: a NUL
// (binary files), invalid UTF-8, or a control character other than tab, CR
// and LF. It returns its position (1-based line, column in characters) and
// what it is, or ok.
func checkText(data []byte) (line, col int, what string, ok bool) {
	line, col = 1, 1
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		switch {
		case r == 0:
			return line, col, "a NUL byte (is this a binary file?)", false
		case r == utf8.RuneError && size <= 1:
			return line, col, fmt.Sprintf("invalid UTF-8 (byte 0x%02x); save the file as UTF-8", data[i]), false
		case r == '\n':
			line, col = line+1, 0
		case r == '\t', r == '\r', r == 0xFEFF:
		case r < 0x20, r == 0x7f, r >= 0x80 && r < 0xa0 && r != 0x85, r == 0xFFFE, r == 0xFFFF:
			return line, col, fmt.Sprintf("control character U+%04X, which YAML does not allow", r), false
		}
		i += size
		col++
	}
	return 0, 0, "", true
}

// treeCheck refuses, before decoding, what the decoder must never walk:
// aliases that expand beyond MaxAliasExpansion nodes (a "billion laughs"
// file is a few hundred bytes), aliases to a node that contains them (which
// would expand forever), and explicit tags naming types a project file has
// no use for (!!binary, !!set, custom tags).
type treeCheck struct {
	d        *decoder
	size     map[*yaml.Node]int // expanded size of a node, aliases followed
	busy     map[*yaml.Node]bool
	expanded int // nodes brought in by aliases so far
}

// checkTree reports the problems of doc and says whether it is safe to decode.
func (d *decoder) checkTree(doc *yaml.Node) bool {
	c := &treeCheck{d: d, size: map[*yaml.Node]int{}, busy: map[*yaml.Node]bool{}}
	return c.walk(doc)
}

// walk visits the tree as written (not through aliases); each alias adds the
// expanded size of its target to the budget.
func (c *treeCheck) walk(n *yaml.Node) bool {
	if n.Kind == yaml.AliasNode {
		if n.Alias == nil {
			c.d.errorf(n, "alias *%s refers to no anchor", n.Value)
			return false
		}
		s, ok := c.expand(n.Alias, n)
		if !ok {
			return false
		}
		if c.expanded += s; c.expanded > MaxAliasExpansion {
			c.d.errorf(n, "aliases in this file expand to more than %d nodes: refusing it (write the values out, or use fewer nested aliases)", MaxAliasExpansion)
			return false
		}
		return true
	}
	ok := c.checkTag(n)
	for _, ch := range n.Content {
		if !c.walk(ch) {
			return false
		}
	}
	return ok
}

// expand returns n's size with aliases followed, saturating past the budget.
func (c *treeCheck) expand(n, from *yaml.Node) (int, bool) {
	if s, done := c.size[n]; done {
		return s, true
	}
	if c.busy[n] {
		c.d.errorf(from, "alias *%s refers to a node that contains it: it would expand forever", from.Value)
		return 0, false
	}
	c.busy[n] = true
	defer delete(c.busy, n)
	total := 1
	for _, ch := range n.Content {
		target := ch
		if ch.Kind == yaml.AliasNode && ch.Alias != nil {
			target = ch.Alias
		}
		s, ok := c.expand(target, ch)
		if !ok {
			return 0, false
		}
		if total += s; total > MaxAliasExpansion {
			total = MaxAliasExpansion + 1
			break
		}
	}
	c.size[n] = total
	return total, true
}

// plainTags are the explicit tags a project file may use, by node kind.
var plainTags = map[yaml.Kind][]string{
	yaml.ScalarNode:   {"!!str", "!!int", "!!float", "!!bool", "!!null", "!!timestamp", "!!merge"},
	yaml.MappingNode:  {"!!map"},
	yaml.SequenceNode: {"!!seq"},
}

func (c *treeCheck) checkTag(n *yaml.Node) bool {
	if n.Style&yaml.TaggedStyle == 0 || n.Tag == "" {
		return true
	}
	for _, t := range plainTags[n.Kind] {
		if n.Tag == t {
			return true
		}
	}
	c.d.errorf(n, "unsupported YAML tag %s here: project files hold plain strings, numbers, booleans, lists and mappings", tagShown(n.Tag))
	return false
}

// tagShown keeps a hostile tag short in a message.
func tagShown(tag string) string {
	if len(tag) > 40 {
		tag = tag[:37] + "..."
	}
	return fmt.Sprintf("%q", tag)
}

// limitsSection documents, in the configuration reference, what the loader
// refuses; it reads the limits above so the page cannot drift from them.
func (w *refWriter) limitsSection() {
	w.heading(2, "Limits and refused files")
	w.p("sluice treats every project file as untrusted input. What it refuses is reported by `sluice validate` like any other problem, at `path:line:col`, with the other files still checked:")
	w.p("- **Regular files only.** A file matched by `include` must be a regular file or a symbolic link to one. A named pipe (FIFO), socket, device, directory or broken symbolic link is an error at `path:1:1`; it is never opened, so a pipe cannot make sluice wait.\n"+
		"- **Size.** A project file holds at most %d MiB.\n"+
		"- **Text.** Files are UTF-8 text. A NUL byte (a binary file), invalid UTF-8 (a file saved as Latin-1 or UTF-16) or a control character other than tab, carriage return and line feed is an error at its line and column.\n"+
		"- **Anchors, aliases and merge keys** (`&base`, `*base`, `<<: *base`) work as in YAML; keys written in a mapping win over merged ones. The aliases of one file may expand to at most %d nodes, every use of an anchor counting all it contains: a file beyond that (a \"billion laughs\" file) is refused at the alias that crosses the limit, and so is an alias inside its own anchor.\n"+
		"- **Tags.** Explicit tags other than %s are refused (`!!binary`, `!!set`, custom tags such as `!python/object`).\n"+
		"- **Keys** are plain names: a list or a mapping used as a key is an error.\n"+
		"- **Numbers.** An integer must fit in 64 bits; a number must be finite (`.nan` and `.inf` are refused).\n"+
		"- **Syntax errors** are reported at the offending character: a key out of line with the keys above it, the unexpected `:`, the tab, the opening quote or bracket that is never closed. In files over %d KiB, at the line the YAML parser names.",
		MaxFileSize>>20, MaxAliasExpansion, codeList(allowedTags()), maxLocateSize>>10)
}

func allowedTags() []string {
	var out []string
	for _, k := range []yaml.Kind{yaml.ScalarNode, yaml.MappingNode, yaml.SequenceNode} {
		for _, t := range plainTags[k] {
			if t != "!!merge" {
				out = append(out, t)
			}
		}
	}
	return out
}

// ReadProjectFile reads a project file again after Load (to show the text
// of a fragment, say) with the loader's guards: a regular file of at most
// MaxFileSize bytes, never blocking on a FIFO swapped in meanwhile.
func ReadProjectFile(path string) ([]byte, error) {
	return readProjectFile(path, path)
}
