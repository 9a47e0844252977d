package config

import (
	"fmt"
	"sort"
	"strings"
)

// Pos is a place in a project file. Line and Col are 1-based; zero means unknown.
type Pos struct {
	File string
	Line int
	Col  int
}

func (p Pos) String() string {
	switch {
	case p.Line == 0:
		return p.File
	case p.Col == 0:
		return fmt.Sprintf("%s:%d", p.File, p.Line)
	default:
		return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)
	}
}

// Problem is one mistake in a project, tied to where it was made.
type Problem struct {
	Pos     Pos
	Message string
}

func (p Problem) String() string { return p.Pos.String() + ": " + p.Message }

// Problems collects every mistake of a load so users fix them in one pass
// instead of one per run.
type Problems []Problem

func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// Sorted returns the problems ordered by file, line and column, which is the
// order an editor walks them in.
func (ps Problems) Sorted() Problems {
	out := append(Problems(nil), ps...)
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i].Pos, out[j].Pos
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Col < b.Col
	})
	return out
}

// problemSink collects the problems of a load. Every message goes through
// add, which hides values from the environment (see Redactor).
type problemSink struct {
	list   Problems
	redact *Redactor
	envAt  map[Pos][]string // positions of values from the environment (or of lists holding them), with the values
	// literalAt maps the position of a value mixing ${VAR} references with
	// literal text to where that text starts: in a secret, it is a literal
	// secret.
	literalAt map[Pos]Pos
	unusable  map[Pos]bool // see unreadable
}

func (s *problemSink) literalBeside(value, literal Pos) {
	if s.literalAt == nil {
		s.literalAt = map[Pos]Pos{}
	}
	s.literalAt[value] = literal
}

// literalSecret reports a secret whose value has literal text beside its
// ${VAR} references, at that text. The text is not quoted: it is part of
// the secret.
func (s *problemSink) literalSecret(value Pos, key string) bool {
	lit, ok := s.literalAt[value]
	if ok {
		s.add(lit, "%s is a secret, and this literal text beside the ${VAR} reference is part of it, so it would sit in version control: put the whole value in the environment variable", quote(key))
	}
	return ok
}

func (s *problemSink) add(p Pos, format string, args ...any) {
	if s.unusable[p] {
		return // the value there is already reported as unreadable
	}
	if s.redact != nil {
		args = s.redact.redactArgs(s.envAt[p], args)
	}
	s.list = append(s.list, Problem{Pos: p, Message: fmt.Sprintf(format, args...)})
}

// unreadable adds a problem with the value at p (wrong shape or type,
// invalid value) and drops any later one there: a check of what decoding
// left behind (a zero, an empty definition) would only repeat it.
func (s *problemSink) unreadable(p Pos, format string, args ...any) {
	s.add(p, format, args...)
	s.markUnusable(p)
}

func (s *problemSink) markUnusable(p Pos) {
	if s.unusable == nil {
		s.unusable = map[Pos]bool{}
	}
	s.unusable[p] = true
}

// fromEnv records that the value at p came from the environment.
func (s *problemSink) fromEnv(p Pos, value string, parts ...string) {
	if s.redact == nil {
		s.redact = &Redactor{}
	}
	s.fromEnvWithin(p, value)
	for _, v := range parts {
		s.redact.Add(v)
	}
}

// fromEnvWithin records that the value at p holds value, from the
// environment.
func (s *problemSink) fromEnvWithin(p Pos, value string) {
	if s.redact == nil {
		s.redact = &Redactor{}
	}
	if s.envAt == nil {
		s.envAt = map[Pos][]string{}
	}
	s.envAt[p] = append(s.envAt[p], value)
	s.redact.Add(value)
}

// redacted returns the problems with every value from the environment
// hidden, including values learnt after a message was made (a name from
// one file suggested in a message about another).
func (s *problemSink) redacted() Problems {
	if s.redact == nil {
		return s.list
	}
	for i := range s.list {
		s.list[i].Message = s.redact.Redact(s.list[i].Message)
	}
	return s.list
}
