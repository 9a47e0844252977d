package matchkeys

import (
	"strings"
	"unicode"
)

// metaName (FN, LN): lower-case, no punctuation, letters only, "special
// characters in UTF-8 format" (Meta, Hashing and Normalizing Data): accents
// are kept (zoë stays zoë), spaces, hyphens, apostrophes and digits go.
func metaName(raw, _ string) (string, error) {
	n := strings.Map(func(r rune) rune {
		if unicode.IsLetter(r) || unicode.Is(unicode.Mn, r) {
			return unicode.ToLower(r)
		}
		return -1
	}, raw)
	if n == "" {
		return "", skip("name", "has no letters")
	}
	return n, nil
}

// googleName (given_name, family_name): "all lowercase, with no punctuation,
// no leading or trailing whitespace" (Data Manager API, AddressInfo). Letters
// keep their accents and inner spaces are kept, one at a time. Google also
// asks for no prefixes (Mrs.) or suffixes (Jr.): those are the data's to
// leave out, they are not guessed away here.
func googleName(raw, _ string) (string, error) {
	var b strings.Builder
	b.Grow(len(raw))
	space := false
	for _, r := range raw {
		switch {
		case unicode.IsSpace(r):
			space = b.Len() > 0
		case unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r):
			if space {
				b.WriteByte(' ')
				space = false
			}
			b.WriteRune(unicode.ToLower(r))
		}
		// Punctuation and symbols are dropped without leaving a space:
		// Jean-Pierre → jeanpierre, O'Brien → obrien.
	}
	if b.Len() == 0 {
		return "", skip("name", "has no letters")
	}
	return b.String(), nil
}

// metaCountry (COUNTRY): "lowercase, 2-letter country codes in ISO 3166-1
// alpha-2" (Meta, Hashing and Normalizing Data), then hashed.
func metaCountry(raw, _ string) (string, error) {
	c, err := country(raw)
	return strings.ToLower(c), err
}

// googleCountry (region_code): "The 2-letter region code in ISO-3166-1
// alpha-2" (Data Manager API, AddressInfo), sent in clear; upper-case as ISO
// writes it.
func googleCountry(raw, _ string) (string, error) {
	return country(raw)
}

// country accepts an ISO 3166-1 alpha-2 code in any case (UK read as GB);
// names and alpha-3 codes are skipped rather than guessed.
func country(raw string) (string, error) {
	c := cleanRegion(raw)
	if c == "" {
		if strings.TrimSpace(raw) == "" {
			return "", skip(Country, "is empty")
		}
		return "", skip(Country, "is not an ISO 3166-1 alpha-2 code")
	}
	return c, nil
}

// metaPostalCode (ZIP): "lowercase, no white space. Use only the first 5
// digits for U.S. Use Area/District/Sector format for the UK" (Meta, Hashing
// and Normalizing Data).
func metaPostalCode(raw, region string) (string, error) {
	p := strings.ToLower(strings.Map(dropSpace, raw))
	if p == "" {
		return "", skip(PostalCode, "is empty")
	}
	if zip, ok := usZip(p, region); ok {
		return zip, nil
	}
	if region == "GB" && len(p) >= 5 && len(p) <= 7 {
		// A full UK postcode ends with the two letters of the unit
		// (SW1A 1AA); area, district and sector are what is left: sw1a1.
		return p[:len(p)-2], nil
	}
	return p, nil
}

// googlePostalCode (postal_code): sent in clear, "The postal code of the
// user's address" (Data Manager API, AddressInfo). Whitespace is trimmed and
// collapsed, letters upper-cased as postal services write them, and a US
// ZIP+4 cut to its 5-digit ZIP, the form Customer Match documents for the US.
func googlePostalCode(raw, region string) (string, error) {
	p := strings.ToUpper(strings.Join(strings.Fields(raw), " "))
	if p == "" {
		return "", skip(PostalCode, "is empty")
	}
	if zip, ok := usZip(strings.ReplaceAll(p, " ", ""), region); ok {
		return zip, nil
	}
	return p, nil
}

// usZip returns the 5-digit ZIP of p (spaces removed) when p is a US ZIP or
// ZIP+4: in the US, or when the region is unknown and p has the unmistakable
// ZIP+4 shape (12345-6789).
func usZip(p, region string) (string, bool) {
	digits := func(s string) bool {
		for i := 0; i < len(s); i++ {
			if s[i] < '0' || s[i] > '9' {
				return false
			}
		}
		return true
	}
	zipPlus4 := len(p) == 10 && p[5] == '-' && digits(p[:5]) && digits(p[6:])
	if region == "" {
		return p[:min(5, len(p))], zipPlus4
	}
	if region != "US" {
		return "", false
	}
	if zipPlus4 || (len(p) == 5 || len(p) == 9) && digits(p) {
		return p[:5], true
	}
	return "", false
}

// metaCity (CT): "a-z only. Lowercase only, no punctuation, no special
// characters, no white space" (Meta, Hashing and Normalizing Data): Latin
// accents are folded (São Paulo → saopaulo); letters of other scripts are
// kept rather than dropped.
func metaCity(raw, _ string) (string, error) {
	c := foldLetters(raw)
	if c == "" {
		return "", skip(City, "has no letters")
	}
	return c, nil
}

// metaState (ST): "the 2-character ANSI abbreviation code, lowercase" for
// the US (a full state name is turned into it); elsewhere "lowercase, no
// punctuation, no special characters, no white space" (Meta, Hashing and
// Normalizing Data).
func metaState(raw, region string) (string, error) {
	s := foldLetters(raw)
	if s == "" {
		return "", skip(State, "has no letters")
	}
	if region == "US" || region == "" {
		if code, ok := usStates[s]; ok {
			return code, nil
		}
		if region == "US" && len(s) != 2 {
			return "", skip(State, "is not a US state name or code")
		}
	}
	return s, nil
}

// metaExternalID (EXTERN_ID): the advertiser's own id, which Meta's table
// does not require hashed; sent trimmed and otherwise as is, since ids may
// be case-sensitive.
func metaExternalID(raw, _ string) (string, error) {
	id := strings.TrimSpace(raw)
	if id == "" {
		return "", skip(ExternalID, "is empty")
	}
	return id, nil
}

// foldLetters lower-cases s, folds Latin accents to a-z and drops everything
// that is not a letter.
func foldLetters(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		if !unicode.IsLetter(r) {
			continue
		}
		r = unicode.ToLower(r)
		if f, ok := latinFold[r]; ok {
			b.WriteString(f)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}
