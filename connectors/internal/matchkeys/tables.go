package matchkeys

// latinFold maps lower-case Latin letters with diacritics (Latin-1
// Supplement and Latin Extended-A) to their a-z spelling, for the keys Meta
// wants in a-z only (city, state).
var latinFold = func() map[rune]string {
	groups := map[string]string{
		"a":  "àáâãäåāăą",
		"ae": "æ",
		"c":  "çćĉċč",
		"d":  "ďđð",
		"e":  "èéêëēĕėęě",
		"g":  "ĝğġģ",
		"h":  "ĥħ",
		"i":  "ìíîïĩīĭįı",
		"ij": "ĳ",
		"j":  "ĵ",
		"k":  "ķĸ",
		"l":  "ĺļľŀł",
		"n":  "ñńņňŉŋ",
		"o":  "òóôõöøōŏő",
		"oe": "œ",
		"r":  "ŕŗř",
		"s":  "śŝşšſ",
		"ss": "ß",
		"t":  "ţťŧ",
		"th": "þ",
		"u":  "ùúûüũūŭůűų",
		"w":  "ŵ",
		"y":  "ýÿŷ",
		"z":  "źżž",
	}
	m := make(map[rune]string, 128)
	for ascii, accented := range groups {
		for _, r := range accented {
			m[r] = ascii
		}
	}
	return m
}()

// usStates maps US state, district and territory names (lower-case, a-z
// only, as foldLetters leaves them) and their USPS/ANSI codes to the code
// Meta wants for ST.
var usStates = func() map[string]string {
	names := map[string]string{
		"al": "alabama", "ak": "alaska", "az": "arizona", "ar": "arkansas",
		"ca": "california", "co": "colorado", "ct": "connecticut", "de": "delaware",
		"dc": "districtofcolumbia", "fl": "florida", "ga": "georgia", "hi": "hawaii",
		"id": "idaho", "il": "illinois", "in": "indiana", "ia": "iowa",
		"ks": "kansas", "ky": "kentucky", "la": "louisiana", "me": "maine",
		"md": "maryland", "ma": "massachusetts", "mi": "michigan", "mn": "minnesota",
		"ms": "mississippi", "mo": "missouri", "mt": "montana", "ne": "nebraska",
		"nv": "nevada", "nh": "newhampshire", "nj": "newjersey", "nm": "newmexico",
		"ny": "newyork", "nc": "northcarolina", "nd": "northdakota", "oh": "ohio",
		"ok": "oklahoma", "or": "oregon", "pa": "pennsylvania", "ri": "rhodeisland",
		"sc": "southcarolina", "sd": "southdakota", "tn": "tennessee", "tx": "texas",
		"ut": "utah", "vt": "vermont", "va": "virginia", "wa": "washington",
		"wv": "westvirginia", "wi": "wisconsin", "wy": "wyoming",
		"as": "americansamoa", "gu": "guam", "mp": "northernmarianaislands",
		"pr": "puertorico", "vi": "virginislands", "um": "unitedstatesminoroutlyingislands",
	}
	m := make(map[string]string, 2*len(names))
	for code, name := range names {
		m[code] = code
		m[name] = code
	}
	return m
}()
