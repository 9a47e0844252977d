package demodata

import (
	"bytes"
	"encoding/csv"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

func TestAppendTimeMatchesTimeFormat(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	secs := []int64{0, 86399, 86400, 951782400 /* 2000-02-29 */, 4102444799, DefaultNow.Unix(), DefaultNow.Unix() - 1}
	for range 100000 {
		secs = append(secs, r.Int64N(4102444800)) // 1970..2099
	}
	for _, s := range secs {
		got := string(appendTime(nil, s))
		want := time.Unix(s, 0).UTC().Format(time.RFC3339)
		if got != want {
			t.Fatalf("appendTime(%d) = %s, want %s", s, got, want)
		}
	}
}

func TestAppendFieldMatchesEncodingCSV(t *testing.T) {
	tests := []string{"", "plain", "Hélène", "Smith, Jr.", `Robert "Bob"`, " jane@x.com", "jane@x.com ", "\tx", `\.`, "a\nb", "a\rb", "O'Brien"}
	for _, in := range tests {
		var want bytes.Buffer
		w := csv.NewWriter(&want)
		_ = w.Write([]string{in})
		w.Flush()
		got := string(appendField(nil, in)) + "\n"
		if got != want.String() {
			t.Errorf("appendField(%q) = %q, want %q", in, got, want.String())
		}
		if gotB := string(appendField(nil, []byte(in))) + "\n"; gotB != want.String() {
			t.Errorf("appendField([]byte %q) = %q, want %q", in, gotB, want.String())
		}
	}
}

func TestAppendID(t *testing.T) {
	tests := []struct {
		prefix byte
		n      uint64
		width  int
		want   string
	}{
		{'C', 123, 6, "C000123"},
		{'E', 1, 7, "E0000001"},
		{'O', 12345678, 7, "O12345678"},
		{'C', 0, 6, "C000000"},
	}
	for _, tt := range tests {
		if got := string(appendID(nil, tt.prefix, tt.n, tt.width)); got != tt.want {
			t.Errorf("appendID(%c, %d, %d) = %s, want %s", tt.prefix, tt.n, tt.width, got, tt.want)
		}
	}
}

func TestAppendAmount(t *testing.T) {
	tests := map[uint64]string{0: "0.00", 5: "0.05", 4990: "49.90", 123456: "1234.56"}
	for in, want := range tests {
		if got := string(appendAmount(nil, in)); got != want {
			t.Errorf("appendAmount(%d) = %s, want %s", in, got, want)
		}
	}
}

func TestFoldASCII(t *testing.T) {
	tests := map[string]string{
		"Hélène":         "helene",
		"Müller":         "mueller",
		"Groß":           "gross",
		"Smith, Jr.":     "smith",
		`Robert "Bob"`:   "robert",
		"D'Arcy":         "darcy",
		"Le Gall":        "legall",
		"von Bülow":      "vonbuelow",
		"Ó Súilleabháin": "osuilleabhain",
		"Jean-Pierre":    "jeanpierre",
	}
	for in, want := range tests {
		if got := foldASCII(in); got != want {
			t.Errorf("foldASCII(%q) = %q, want %q", in, got, want)
		}
	}
}

// Every name must fold to a non-empty, digit-free local part: e-mail
// uniqueness relies on the person number being the only digits.
func TestNamesFoldToLetters(t *testing.T) {
	for _, c := range countries {
		for _, list := range [][]name{c.firsts, c.lasts} {
			for _, n := range list {
				if n.fold == "" || strings.ContainsFunc(n.fold, func(r rune) bool { return r < 'a' || r > 'z' }) {
					t.Errorf("%s: name %q folds to %q", c.code, n.display, n.fold)
				}
			}
		}
	}
}

// Each phone template must use exactly the digits of the number, otherwise a
// formatted number would silently lose or repeat digits.
func TestPhoneTemplatesKeepAllDigits(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, c := range countries {
		for range 200 {
			nsn := c.mobile(r, nil)
			for _, tpl := range c.formats {
				got := appendPhone(nil, tpl, nsn)
				digits := strings.Map(func(r rune) rune {
					if r >= '0' && r <= '9' {
						return r
					}
					return -1
				}, string(got))
				if !strings.HasSuffix(digits, string(nsn)) {
					t.Fatalf("%s: template %q on %s gives %q", c.code, tpl, nsn, got)
				}
				if strings.Count(tpl, "d") > len(nsn) || (!strings.Contains(tpl, "*") && strings.Count(tpl, "d") != len(nsn)) {
					t.Fatalf("%s: template %q does not fit %d-digit number %s", c.code, tpl, len(nsn), nsn)
				}
			}
		}
	}
}
