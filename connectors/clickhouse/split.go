package clickhouse

import "strings"

// SplitStatements cuts a script into statements at the semicolons that
// are outside string literals, quoted names and comments. Statements made
// only of comments and white space are dropped.
func SplitStatements(script string) []string {
	var out []string
	start := 0
	flush := func(end int) {
		if stmt := strings.TrimSpace(script[start:end]); !onlyComments(stmt) {
			out = append(out, stmt)
		}
	}
	for i := 0; i < len(script); i++ {
		switch c := script[i]; {
		case c == '\'' || c == '"' || c == '`':
			i = skipQuoted(script, i)
		case c == '-' && strings.HasPrefix(script[i:], "--"):
			if nl := strings.IndexByte(script[i:], '\n'); nl >= 0 {
				i += nl
			} else {
				i = len(script)
			}
		case c == '/' && strings.HasPrefix(script[i:], "/*"):
			if end := strings.Index(script[i+2:], "*/"); end >= 0 {
				i += end + 3
			} else {
				i = len(script)
			}
		case c == ';':
			flush(i)
			start = i + 1
		}
	}
	if start < len(script) {
		flush(len(script))
	}
	return out
}

// skipQuoted returns the index of the quote closing the literal or name
// opened at i: ClickHouse escapes with a backslash or by doubling.
func skipQuoted(s string, i int) int {
	q := s[i]
	for j := i + 1; j < len(s); j++ {
		switch s[j] {
		case '\\':
			j++
		case q:
			if j+1 < len(s) && s[j+1] == q {
				j++
				continue
			}
			return j
		}
	}
	return len(s)
}

// onlyComments reports whether a statement holds nothing but comments.
func onlyComments(stmt string) bool {
	return strings.TrimSpace(stripLeadingComments(stmt)) == ""
}

// stripLeadingComments removes the comments and white space a statement
// starts with.
func stripLeadingComments(s string) string {
	for {
		s = strings.TrimLeft(s, " \t\r\n")
		switch {
		case strings.HasPrefix(s, "--"):
			if nl := strings.IndexByte(s, '\n'); nl >= 0 {
				s = s[nl+1:]
			} else {
				return ""
			}
		case strings.HasPrefix(s, "/*"):
			if end := strings.Index(s, "*/"); end >= 0 {
				s = s[end+2:]
			} else {
				return ""
			}
		default:
			return s
		}
	}
}
