package models

import (
	"testing"

	"github.com/sluicehq/sluice/config"
)

// TestLocate: an offset inside a fragment maps to its line and column in
// the file where the file shows the value verbatim, and to the value's
// own position otherwise (never to a wrong place).
func TestLocate(t *testing.T) {
	tests := []struct {
		name, file string
		pos        config.Pos // of the value
		value      string
		off        int
		want       config.Pos
	}{
		{"plain", "  where: a = 1; b\n", config.Pos{Line: 1, Col: 10}, "a = 1; b", 5, config.Pos{Line: 1, Col: 15}},
		{"double-quoted", "  where: \"a = 'x'; b\"\n", config.Pos{Line: 1, Col: 10}, "a = 'x'; b", 7, config.Pos{Line: 1, Col: 18}},
		{"single-quoted", "  where: 'a = 1; b'\n", config.Pos{Line: 1, Col: 10}, "a = 1; b", 5, config.Pos{Line: 1, Col: 16}},
		{"single-quoted with an escape", "  where: 'a = ''x''; b'\n", config.Pos{Line: 1, Col: 10}, "a = 'x'; b", 7, config.Pos{Line: 1, Col: 10}},
		{"double-quoted with an escape", "  where: \"a = \\\"x\\\"; b\"\n", config.Pos{Line: 1, Col: 10}, `a = "x"; b`, 7, config.Pos{Line: 1, Col: 10}},
		{"literal block", "  where: |\n    a = 1\n    AND b; c\n", config.Pos{Line: 1, Col: 10}, "a = 1\nAND b; c\n", 11, config.Pos{Line: 3, Col: 10}},
		{"literal block, blank line", "  where: |\n    a = 1\n\n    AND b; c\n", config.Pos{Line: 1, Col: 10}, "a = 1\n\nAND b; c\n", 12, config.Pos{Line: 4, Col: 10}},
		{"folded block", "  where: >\n    a = 1\n    AND b; c\n", config.Pos{Line: 1, Col: 10}, "a = 1 AND b; c\n", 11, config.Pos{Line: 1, Col: 10}},
		{"multi-line plain", "  where: a = 1\n    AND b; c\n", config.Pos{Line: 1, Col: 10}, "a = 1 AND b; c", 11, config.Pos{Line: 1, Col: 10}},
		{"after a multi-byte character", "  where: \"é = 1; b\"\n", config.Pos{Line: 1, Col: 10}, "é = 1; b", 6, config.Pos{Line: 1, Col: 16}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.pos.File, tt.want.File = "f.yml", "f.yml"
			files := func(string) ([]byte, bool) { return []byte(tt.file), true }
			l := locator{f: Fragment{Text: tt.value, Value: tt.value, Pos: tt.pos}, files: files}
			if got := l.at(tt.off); got != tt.want {
				t.Errorf("at(%d) = %v, want %v", tt.off, got, tt.want)
			}
		})
	}
}
