package builder

import (
	"strings"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/models"
	"github.com/sluicehq/sluice/models/sqlfrag"
)

// blame finds which part of a step (which trait of the profiles step) a
// warehouse error is about, by what the error quotes: the part's SQL as
// written (DuckDB shows the failing line), or a name its SQL uses (every
// warehouse names the column or function it could not resolve). Names the
// error quotes beat bare words; among equals, the one the error mentions
// first wins, since errors name their subject before listing candidates.
func blame(parts []models.Part, dialect, msg string) (models.Part, config.Pos, bool) {
	lower := strings.ToLower(msg)
	best, bestScore, bestAt := -1, 0, len(lower)
	var bestPos config.Pos
	for i, p := range parts {
		for _, f := range p.Fragments {
			score, at := match(f.Text, dialect, lower)
			if score > bestScore || score == bestScore && score > 0 && at < bestAt {
				best, bestScore, bestAt, bestPos = i, score, at, f.Pos
			}
		}
	}
	if best < 0 {
		return models.Part{}, config.Pos{}, false
	}
	return parts[best], bestPos, true
}

// match scores how clearly msg (lower-cased) mentions a fragment: 3 for
// its whole text, 2 for a quoted name of it, 1 for a bare word; and where.
func match(text, dialect, msg string) (score, at int) {
	toks, _ := sqlfrag.Lex(sqlfrag.For(dialect), text)
	// A single name is no evidence as a whole: candidate lists name them.
	if t := strings.ToLower(strings.Join(strings.Fields(text), " ")); len(toks) >= 3 {
		if i := strings.Index(msg, t); i >= 0 {
			return 3, i
		}
	}
	at = len(msg)
	for _, tok := range toks {
		if tok.Kind != sqlfrag.Word && tok.Kind != sqlfrag.Name || tok.Kind == sqlfrag.Word && sqlfrag.IsKeyword(tok.Text) {
			continue
		}
		w := strings.ToLower(strings.Trim(tok.Text, "\"`"))
		for _, q := range []string{`"`, `'`, "`"} {
			if i := strings.Index(msg, q+w+q); i >= 0 && (score < 2 || i < at) {
				score, at = 2, i
			}
		}
		if score < 2 {
			if i := wordIndex(msg, w); i >= 0 && i < at {
				score, at = 1, i
			}
		}
	}
	return score, at
}

// wordIndex finds w in s as a whole word.
func wordIndex(s, w string) int {
	for off := 0; off < len(s); {
		i := strings.Index(s[off:], w)
		if i < 0 {
			return -1
		}
		i += off
		end := i + len(w)
		if (i == 0 || !isWordByte(s[i-1])) && (end == len(s) || !isWordByte(s[end])) {
			return i
		}
		off = i + 1
	}
	return -1
}

func isWordByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}
