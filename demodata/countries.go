package demodata

import (
	"math/rand/v2"
	"strings"
	"unicode"
)

// name is a built-in first or last name with the variants precomputed once,
// so no string work happens per row.
type name struct {
	display string // as typed in the CRM, may need CSV quoting
	upper   string // ALL CAPS variant (common for French last names)
	fold    string // lower-case ASCII used to build e-mail addresses
}

// country holds everything that depends on where a person lives.
type country struct {
	code     string // ISO-2
	lower    string // lower-case ISO-2, a mess variant
	currency string
	firsts   []name
	lasts    []name
	domains  []string // repeated entries act as weights
	// mobile appends a valid mobile national significant number (no trunk 0).
	mobile func(r *rand.Rand, dst []byte) []byte
	// formats are phone templates: 'd' takes the next digit of the national
	// significant number, '*' takes all remaining digits, other bytes are
	// literal. Repeated entries act as weights.
	formats []string
	// short is the prefix of a too-short (invalid) number.
	short string
}

// countryCum is the cumulative distribution over countries, in per mille:
// FR 45%, GB 20%, US 20%, DE 15%.
var countryCum = [...]int{450, 650, 850, 1000}

var countries = [...]*country{
	{
		code: "FR", lower: "fr", currency: "EUR",
		firsts: names("Hélène", "Jean", "Marie", "Léa", "Chloé", "François", "Amélie", "Benoît", "Zoé", "Thomas",
			"Camille", "Lucas", "Inès", "Mathéo", "Élodie", "Noël", "Gaëlle", "Jérôme", "Jean-Pierre", "Céline",
			"Nathalie", "Sébastien", "Manon", "Hugo", "Émilie", "Louis", "Anaïs", "Théo", "Sophie", "Raphaël"),
		lasts: names("Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy", "Moreau",
			"Lefèvre", "Girard", "Bonnet", "Dupont", "Lambert", "Fontaine", "Rousseau", "Vincent", "Mercier", "Boyer",
			"Faure", "André", "Gauthier", "Garçon", "Müller", "Le Gall", "D'Arcy", "Lefebvre", "Roux", "Chevalier"),
		domains: []string{"gmail.com", "gmail.com", "gmail.com", "gmail.com", "orange.fr", "orange.fr", "free.fr",
			"hotmail.fr", "laposte.net", "yahoo.fr", "sfr.fr", "outlook.fr", "wanadoo.fr"},
		mobile: func(r *rand.Rand, dst []byte) []byte {
			// libphonenumber FR mobile: 6[0-24-8]… or 7[3-9]… (9 digits).
			if r.IntN(4) != 0 {
				dst = append(dst, '6', "0124578"[r.IntN(7)])
			} else {
				dst = append(dst, '7', "3456789"[r.IntN(7)])
			}
			return appendDigits(r, dst, 7)
		},
		formats: weighted(
			"0d dd dd dd dd", 30,
			"0*", 20,
			"0d.dd.dd.dd.dd", 8,
			"0d-dd-dd-dd-dd", 4,
			"+33 d dd dd dd dd", 15,
			"+33*", 13,
			"0033*", 6,
			"+33 (0)d dd dd dd dd", 4,
		),
		short: "0",
	},
	{
		code: "GB", lower: "gb", currency: "GBP",
		firsts: names("Oliver", "Amelia", "George", "Isla", "Harry", "Ava", "Jack", "Emily", "Siobhán", "Niamh",
			"Charlotte", "William", "Sophie", "James", "Olivia", "Noah", "Ffion", "Rhys", "Eilidh", "Callum"),
		lasts: names("Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "O'Brien", "Davies", "Evans", "Thomas",
			"Roberts", "Walker", "Wright", "Robinson", "Thompson", "White", "Hughes", "Edwards", "Green", "Hall",
			"Wood", "Harris", "MacDonald", "Ó Súilleabháin", "Patel", "Khan"),
		domains: []string{"gmail.com", "gmail.com", "gmail.com", "gmail.com", "hotmail.co.uk", "hotmail.co.uk",
			"outlook.com", "outlook.com", "btinternet.com", "yahoo.co.uk", "sky.com", "icloud.com"},
		mobile: func(r *rand.Rand, dst []byte) []byte {
			// libphonenumber GB mobile includes 7[1-3]xxxxxxxx and
			// 79[024-9]xxxxxxx (10 digits). 07700 900xxx (Ofcom drama
			// range) is deliberately avoided: it is not valid.
			if r.IntN(5) != 0 {
				dst = append(dst, '7', "123"[r.IntN(3)])
				return appendDigits(r, dst, 8)
			}
			dst = append(dst, '7', '9', "02456789"[r.IntN(8)])
			return appendDigits(r, dst, 7)
		},
		formats: weighted(
			"0dddd dddddd", 30,
			"0*", 20,
			"0dddd ddd ddd", 8,
			"0dddd-ddd-ddd", 3,
			"+44 dddd dddddd", 15,
			"+44*", 13,
			"0044 dddd dddddd", 5,
			"+44 (0)dddd dddddd", 6,
		),
		short: "07",
	},
	{
		code: "US", lower: "us", currency: "USD",
		firsts: names("James", "Mary", "Michael", "Jennifer", "José", "María", "David", "Linda", "Chloe", "Ethan",
			"Zoë", "Emma", "Liam", "Madison", "Tyler", "Ashley", "DeShawn", "Robert \"Bob\"", "Mia", "Daniel"),
		lasts: names("Johnson", "Garcia", "Rodríguez", "Miller", "Davis", "Martínez", "Lee", "Nguyen", "Smith, Jr.",
			"O'Connor", "Anderson", "Jackson", "Hernández", "Lopez", "Kim", "Washington", "Peña", "Cohen",
			"Schmidt", "Brooks"),
		domains: []string{"gmail.com", "gmail.com", "gmail.com", "gmail.com", "gmail.com", "yahoo.com", "yahoo.com",
			"outlook.com", "hotmail.com", "icloud.com", "icloud.com", "aol.com", "comcast.net"},
		mobile: func(r *rand.Rand, dst []byte) []byte {
			// Real area codes; exchange 2xx–9xx, never 555 (fictional,
			// rejected by libphonenumber) nor N11 (service codes).
			dst = append(dst, usAreaCodes[r.IntN(len(usAreaCodes))]...)
			for {
				a, b, c := byte('2'+r.IntN(8)), byte('0'+r.IntN(10)), byte('0'+r.IntN(10))
				if (a == '5' && b == '5' && c == '5') || (b == '1' && c == '1') {
					continue
				}
				dst = append(dst, a, b, c)
				break
			}
			return appendDigits(r, dst, 4)
		},
		formats: weighted(
			"(ddd) ddd-dddd", 30,
			"ddd-ddd-dddd", 20,
			"ddd.ddd.dddd", 6,
			"*", 12,
			"+1 ddd-ddd-dddd", 10,
			"+1*", 12,
			"1-ddd-ddd-dddd", 5,
			"+1 (ddd) ddd-dddd", 5,
		),
		short: "",
	},
	{
		code: "DE", lower: "de", currency: "EUR",
		firsts: names("Jürgen", "Lukas", "Sophie", "Mia", "Jonas", "Günter", "Anna", "Leon", "Käthe", "Björn",
			"Maximilian", "Hannah", "Felix", "Lena", "Jörg", "Ursula", "Paul", "Emilia", "Matthias", "Sören"),
		lasts: names("Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Schäfer",
			"Koch", "Groß", "Hoffmann", "Schröder", "Neumann", "Schwarz", "Zimmermann", "Krüger", "Hofmann",
			"Hartmann", "von Bülow"),
		domains: []string{"gmail.com", "gmail.com", "web.de", "web.de", "web.de", "gmx.de", "gmx.de", "gmx.de",
			"t-online.de", "t-online.de", "gmx.net", "outlook.de"},
		mobile: func(r *rand.Rand, dst []byte) []byte {
			// libphonenumber DE mobile: 15[0-25-9]xx+6 (11 digits),
			// 16[023]+7 (10 digits), 17x+7 (10 digits).
			switch r.IntN(3) {
			case 0:
				dst = append(dst, '1', '5', "1257"[r.IntN(4)])
				return appendDigits(r, dst, 8)
			case 1:
				dst = append(dst, '1', '6', "023"[r.IntN(3)])
				return appendDigits(r, dst, 7)
			default:
				dst = append(dst, '1', '7', byte('0'+r.IntN(10)))
				return appendDigits(r, dst, 7)
			}
		},
		formats: weighted(
			"0ddd *", 30,
			"0*", 18,
			"0ddd-*", 6,
			"0ddd/*", 8,
			"+49 ddd *", 15,
			"+49*", 12,
			"0049 ddd *", 5,
			"+49 (0)ddd *", 6,
		),
		short: "0",
	},
}

var usAreaCodes = []string{"212", "310", "415", "617", "646", "773", "312", "206", "303", "512", "404", "305"}

func pickCountry(r *rand.Rand) *country {
	n := r.IntN(1000)
	for i, c := range countryCum {
		if n < c {
			return countries[i]
		}
	}
	return countries[len(countries)-1]
}

func appendDigits(r *rand.Rand, dst []byte, n int) []byte {
	for range n {
		dst = append(dst, byte('0'+r.IntN(10)))
	}
	return dst
}

// appendPhone formats the national significant number nsn with template tpl.
func appendPhone(dst []byte, tpl string, nsn []byte) []byte {
	k := 0
	for i := 0; i < len(tpl); i++ {
		switch c := tpl[i]; c {
		case 'd':
			if k < len(nsn) {
				dst = append(dst, nsn[k])
				k++
			}
		case '*':
			dst = append(dst, nsn[k:]...)
			k = len(nsn)
		default:
			dst = append(dst, c)
		}
	}
	return dst
}

// weighted expands (value, weight) pairs into a slice where each value is
// repeated weight times, so a uniform index draws with those weights.
func weighted(pairs ...any) []string {
	var out []string
	for i := 0; i < len(pairs); i += 2 {
		for range pairs[i+1].(int) {
			out = append(out, pairs[i].(string))
		}
	}
	return out
}

func names(display ...string) []name {
	out := make([]name, len(display))
	for i, d := range display {
		out[i] = name{display: d, upper: strings.ToUpper(d), fold: foldASCII(d)}
	}
	return out
}

// foldASCII turns a display name into the lower-case ASCII letters people use
// in e-mail addresses: accents stripped (German umlauts spelled out), only the
// first word kept ("Smith, Jr." -> "smith"), punctuation dropped.
func foldASCII(s string) string {
	var b strings.Builder
	for _, r := range s {
		r = unicode.ToLower(r)
		switch {
		case r >= 'a' && r <= 'z':
			b.WriteRune(r)
		case r == ' ' || r == ',':
			if b.Len() > 0 && (r == ',' || !isParticle(b.String())) {
				return b.String()
			}
		default:
			if t, ok := translit[r]; ok {
				b.WriteString(t)
			}
		}
	}
	return b.String()
}

// isParticle reports name prefixes that belong to the surname ("Le Gall",
// "von Bülow"), which people keep in addresses (legall, vonbulow).
func isParticle(s string) bool {
	switch s {
	case "le", "von", "van", "de", "o":
		return true
	}
	return false
}

var translit = map[rune]string{
	'à': "a", 'á': "a", 'â': "a", 'ã': "a", 'å': "a", 'ä': "ae",
	'ç': "c", 'é': "e", 'è': "e", 'ê': "e", 'ë': "e",
	'í': "i", 'ì': "i", 'î': "i", 'ï': "i", 'ñ': "n",
	'ó': "o", 'ò': "o", 'ô': "o", 'õ': "o", 'ö': "oe", 'ø': "o",
	'ú': "u", 'ù': "u", 'û': "u", 'ü': "ue", 'ß': "ss", 'æ': "ae", 'œ': "oe",
}
