package identity

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/models/dialect"
)

// Normalisation turns a raw identifier into the form that is compared, in
// SQL, in three stages:
//
//  1. junk: values that are never identifiers, whatever their type: blank,
//     'null', 'undefined', 'none', 'n/a', 'nil', 'nan' (any case), and values
//     made only of zeros and separators ('0', '0000000000', the nil UUID
//     00000000-0000-0000-0000-000000000000, '-', '+0', ...). They are counted
//     as blocklisted.
//  2. format: the id type's normalize rule (below). A value it cannot read
//     (an e-mail without @, a phone number of the wrong length) becomes NULL
//     and is counted as rejected.
//  3. blocklist: the type's blocklist values (normalised the same way) and
//     blocklist_patterns (RE2, matched against the whole normalised value).
//
// Rules:
//
//	none        the value as text, unchanged
//	trim        leading and trailing white space removed (the default)
//	lower       trimmed and lower-cased
//	email       trimmed and lower-cased; must be LOCAL@DOMAIN.TLD with no
//	            white space and a single @
//	phone_e164  E.164 (+ country code + national significant number), read
//	            with the default region's numbering plan (see phoneRegions)

// ws is a white-space character: what \s matches in RE2 (space, tab, line
// breaks, form feed) and the no-break spaces copy-pasted values carry.
const ws = `[\s\x{00A0}\x{202F}]`

// trimPattern matches leading and trailing white space.
const trimPattern = `^` + ws + `+|` + ws + `+$`

// junkPattern matches (in full, ignoring case) the built-in junk values:
// blank, null, undefined, none, n/a, nil, nan, and values made only of
// zeros and separators.
const junkPattern = `(?i)` + ws + `*(?:null|undefined|none|n/a|nil|nan|[0.()/+_\-\s\x{00A0}\x{202F}]*)` + ws + `*`

// phoneSeparatorPattern matches what is deleted from phone numbers: a trunk
// prefix written "(0)" after the country code, white space, dots, dashes,
// slashes and parentheses. Anything else that is not a digit or a leading
// '+' (letters, an extension, "tel:") makes the number unreadable.
const phoneSeparatorPattern = `\(0\)|[\s.\-/()\x{00A0}\x{202F}]`

// emailPattern is what a normalised e-mail address must look like.
const emailPattern = `[^\s@]+@[^\s@]+\.[^\s@]+`

// phoneRegion is one country's numbering plan, as far as reading a phone
// number written the way people of that country write it needs.
type phoneRegion struct {
	cc    string // country calling code
	idd   string // international call prefix dialled from the country ("00", "011")
	trunk string // national (trunk) prefix, dropped in E.164 ("0"; "1" in North America)
	nsn   string // RE2: the national significant number (what follows the country code)
	// bare: a national number that is really the country code and the
	// national number without '+' (a spreadsheet ate the '+': 33612345678)
	// is read as international. Only where it cannot be mistaken for a
	// national number.
	bare bool
}

// phoneRegions are the default regions phone_e164 supports. The national
// significant number patterns are deliberately a little looser than the
// operators' allocations (ITU-T E.164 national plans): they check the
// length and leading digit, which is what decides how a number is read; a
// number in an unallocated range keeps its (correct) E.164 form.
var phoneRegions = map[string]phoneRegion{
	"FR": {cc: "33", idd: "00", trunk: "0", nsn: `[1-9]\d{8}`, bare: true},
	"GB": {cc: "44", idd: "00", trunk: "0", nsn: `[1-9]\d{8,9}`, bare: true},
	"US": {cc: "1", idd: "011", trunk: "1", nsn: `[2-9]\d{2}[2-9]\d{6}`},
	"CA": {cc: "1", idd: "011", trunk: "1", nsn: `[2-9]\d{2}[2-9]\d{6}`},
	"DE": {cc: "49", idd: "00", trunk: "0", nsn: `[1-9]\d{5,12}`},
	"ES": {cc: "34", idd: "00", nsn: `[5-9]\d{8}`, bare: true},
	"IT": {cc: "39", idd: "00", nsn: `0\d{5,10}|3\d{8,9}`},
	"BE": {cc: "32", idd: "00", trunk: "0", nsn: `4\d{8}|[1-9]\d{7}`, bare: true},
	"NL": {cc: "31", idd: "00", trunk: "0", nsn: `[1-9]\d{8}`, bare: true},
	"CH": {cc: "41", idd: "00", trunk: "0", nsn: `[1-9]\d{8}`, bare: true},
}

// PhoneRegions lists the default regions phone_e164 supports.
func PhoneRegions() []string {
	out := make([]string, 0, len(phoneRegions))
	for r := range phoneRegions {
		out = append(out, r)
	}
	sort.Strings(out)
	return out
}

// validate checks id types' default_region against the regions above, so
// that a region this normalisation lacks is refused before build.
func init() { config.SetIDTypePhoneRegions(PhoneRegions()) }

// otherCallingCodes are the country calling codes (ITU-T E.164 assignments,
// as in libphonenumber's metadata) of countries without a plan above. A
// number written with '+' or the international prefix and one of these
// codes passes through when its length is plausible: 8 to 15 digits in all
// and a national part that does not start with 0 (which could be a trunk
// prefix to drop; such numbers become NULL rather than risk a wrong one).
var otherCallingCodes = []string{
	"7", "20", "27", "30", "36", "40", "43", "45", "46", "47", "48", "51", "52", "53", "54", "55", "56", "57", "58",
	"60", "61", "62", "63", "64", "65", "66", "81", "82", "84", "86", "90", "91", "92", "93", "94", "95", "98",
	"211", "212", "213", "216", "218", "220", "221", "222", "223", "224", "225", "226", "227", "228", "229",
	"230", "231", "232", "233", "234", "235", "236", "237", "238", "239", "240", "241", "242", "243", "244",
	"245", "246", "247", "248", "249", "250", "251", "252", "253", "254", "255", "256", "257", "258", "260",
	"261", "262", "263", "264", "265", "266", "267", "268", "269", "290", "291", "297", "298", "299", "350",
	"351", "352", "353", "354", "355", "356", "357", "358", "359", "370", "371", "372", "373", "374", "375",
	"376", "377", "378", "380", "381", "382", "383", "385", "386", "387", "389", "420", "421", "423", "500",
	"501", "502", "503", "504", "505", "506", "507", "508", "509", "590", "591", "592", "593", "594", "595",
	"596", "597", "598", "599", "670", "672", "673", "674", "675", "676", "677", "678", "679", "680", "681",
	"682", "683", "685", "686", "687", "688", "689", "690", "691", "692", "850", "852", "853", "855", "856",
	"880", "886", "960", "961", "962", "963", "964", "965", "966", "967", "968", "970", "971", "972", "973",
	"974", "975", "976", "977", "992", "993", "994", "995", "996", "998",
}

// phoneRule says how a number written in region, separators deleted,
// becomes E.164 in one replacement. The country code and a bar are put in
// front ("33|0612345678"), then the first matching alternative rewrites the
// whole value (repl concatenates the groups of all alternatives; those of
// the others are empty):
//
//  1. '+' or the international prefix, the code of a covered country whose
//     national numbers never start with 0, then a 0: that 0 is a trunk
//     prefix written after the country code, and is dropped;
//  2. '+' or the international prefix: the rest is the number;
//  3. the country code without '+' (a spreadsheet ate the '+'), where that
//     cannot be a national number;
//  4. a national number, with or without the trunk prefix: the country code
//     is added.
//
// A value that none matches keeps the bar and fails the final check,
// valid, which the result must match in full.
type phoneRule struct {
	prefix, pattern, repl, valid string
	branches                     []string // what each alternative does, for comments
}

func phoneRuleFor(region string) (phoneRule, error) {
	r, ok := phoneRegions[region]
	if !ok {
		return phoneRule{}, fmt.Errorf("phone_e164: default_region %q is not supported (supported: %s)", region, strings.Join(PhoneRegions(), ", "))
	}
	intl := `(?:\+|` + r.idd + `)`
	alts := []string{
		`^\d+\|` + intl + `(` + strings.Join(trunkZeroCodes(), "|") + `)0(.*)$`,
		`^\d+\|` + intl + `(.*)$`,
	}
	why := []string{
		"'+' or " + r.idd + ", a country code, and a trunk prefix 0 to drop",
		"'+' or " + r.idd + ": international",
	}
	if r.bare {
		alts = append(alts, `^(\d+)\|`+r.cc+`(`+r.nsn+`)$`)
		why = append(why, "country code "+r.cc+" without '+'")
	}
	if r.trunk != "" {
		alts = append(alts, `^(\d+)\|`+r.trunk+`?([`+nsnFirstDigits(r.nsn)+`].*)$`)
		why = append(why, "national, with or without trunk prefix "+r.trunk)
	} else {
		alts = append(alts, `^(\d+)\|([0-9].*)$`)
		why = append(why, "national")
	}
	groups := 0
	for _, a := range alts {
		groups += strings.Count(a, "(") - strings.Count(a, "(?:")
	}
	repl := "+"
	for g := 1; g <= groups; g++ {
		repl += fmt.Sprintf(`\%d`, g)
	}
	return phoneRule{prefix: r.cc + "|", pattern: strings.Join(alts, "|"), repl: repl, valid: validE164(), branches: why}, nil
}

// nsnFirstDigits is the character class of the digits a national
// significant number may start with (the plans above all start with a
// digit class or a digit).
func nsnFirstDigits(nsn string) string {
	switch {
	case strings.HasPrefix(nsn, "[2-9]"):
		return "2-9"
	default:
		return "1-9"
	}
}

// trunkZeroCodes are the covered country codes whose national numbers never
// start with 0 after the country code (a 0 there is the trunk prefix).
func trunkZeroCodes() []string {
	seen := map[string]bool{}
	var out []string
	for _, reg := range PhoneRegions() {
		r := phoneRegions[reg]
		if r.trunk == "0" && !seen[r.cc] {
			seen[r.cc] = true
			out = append(out, r.cc)
		}
	}
	return out
}

// validE164 is the pattern a normalised number must match: the plan of a
// covered country, or a plausible number of another country.
func validE164() string {
	seen := map[string]bool{}
	var alts []string
	for _, reg := range PhoneRegions() {
		r := phoneRegions[reg]
		if seen[r.cc] {
			continue
		}
		seen[r.cc] = true
		alts = append(alts, `\+`+r.cc+`(?:`+r.nsn+`)`)
	}
	byLen := map[int][]string{}
	for _, cc := range otherCallingCodes {
		byLen[len(cc)] = append(byLen[len(cc)], cc)
	}
	for n := 1; n <= 3; n++ {
		if len(byLen[n]) == 0 {
			continue
		}
		// 8 to 15 digits in all; the national part starts with 1-9.
		alts = append(alts, fmt.Sprintf(`\+(?:%s)[1-9]\d{%d,%d}`, strings.Join(byLen[n], "|"), 7-n, 14-n))
	}
	return strings.Join(alts, "|")
}

// NormalizeExpr is the SQL normalisation of one identifier type applied to
// expr: the value that is stitched, or NULL when expr is blank, junk,
// unreadable for the type or blocklisted. The project's validation
// guarantees a supported default_region for phone_e164; an unsupported one
// gives an expression that is always NULL.
func NormalizeExpr(d dialect.Dialect, t config.IDType, expr string) string {
	x := d.CastText(expr)
	return "CASE WHEN " + junkExpr(d, x) + " THEN NULL ELSE " + blocklistFilter(d, t, formatExpr(d, t, x)) + " END"
}

// junkExpr is true for a built-in junk value (and for a blank one); x is
// a text expression.
func junkExpr(d dialect.Dialect, x string) string { return d.RegexpFullMatch(x, junkPattern) }

// trimExpr removes leading and trailing white space. Most values have none:
// they are returned as they are, which saves building a new string.
func trimExpr(d dialect.Dialect, x string) string {
	return "CASE WHEN " + d.RegexpMatches(x, edgeSpacePattern) + " THEN " + d.RegexpReplace(x, trimPattern, "") + " ELSE " + x + " END"
}

// edgeSpacePattern finds white space at either end.
const edgeSpacePattern = `^` + ws + `|` + ws + `$`

// Fast paths: a value that these patterns match in full is already in
// normal form (ASCII without capitals or surrounding space; for e-mails,
// also well formed), so it is kept as it is. Anything else takes the full
// rule, which gives the same result on these values.
const (
	cleanChar  = `[^A-Z\s\x{0080}-\x{10FFFF}]`
	cleanLower = cleanChar + `(?:[^A-Z\x{0080}-\x{10FFFF}]*` + cleanChar + `)?`
	cleanEmail = `[^A-Z\s@\x{0080}-\x{10FFFF}]+@[^A-Z\s@\x{0080}-\x{10FFFF}]+\.[^A-Z\s@\x{0080}-\x{10FFFF}]+`
)

// formatExpr applies the type's normalize rule to the text expression x;
// NULL when unreadable. The phone rule spans several lines, one per step,
// each with a comment saying what it does.
func formatExpr(d dialect.Dialect, t config.IDType, x string) string {
	return formatExprIn(d, t, x, "")
}

// formatExprIn is formatExpr where region, when not empty, is an SQL
// expression giving each row's ISO country: national phone numbers are read
// in that country when it is supported, else in the type's default region.
func formatExprIn(d dialect.Dialect, t config.IDType, x, region string) string {
	fast := func(pattern, full string) string {
		return "CASE WHEN " + d.RegexpFullMatch(x, pattern) + " THEN " + x + " ELSE " + full + " END"
	}
	switch t.Normalize {
	case "none":
		return x
	case "lower":
		return fast(cleanLower, d.Lower(trimExpr(d, x)))
	case "email":
		return fast(cleanEmail, d.RegexpFullMatchOrNull(d.Lower(trimExpr(d, x)), emailPattern))
	case "phone_e164":
		rule, err := phoneRuleFor(t.DefaultRegion)
		if err != nil {
			return d.CastText("NULL")
		}
		// Built inside out; printed outside in, so the comments read from
		// the last step (top) to the first (bottom).
		wrap := func(n int, why, v string) string {
			return fmt.Sprintf(" -- %d. %s\n", n, why) + dialect.Indent(v, "    ") + "\n"
		}
		v := d.RegexpReplace(wrap(1, `delete separators: white space, dots, dashes, slashes, parentheses, "(0)"`, x), phoneSeparatorPattern, "")
		v2 := d.RegexpReplace(wrap(2, "put the country code in front, then the first that applies: "+strings.Join(rule.branches, "; "), d.Concat(d.String(rule.prefix), v)), rule.pattern, rule.repl)
		if region != "" {
			// Each supported country has its own step 2; the separators
			// are deleted (step 1) and the result checked (step 3) alike.
			var whens []string
			for _, r := range PhoneRegions() {
				if r == t.DefaultRegion {
					continue
				}
				rr, err := phoneRuleFor(r)
				if err != nil {
					continue
				}
				whens = append(whens, "WHEN "+region+" = "+d.String(r)+" THEN "+d.RegexpReplace(d.Concat(d.String(rr.prefix), v), rr.pattern, rr.repl))
			}
			v2 = "CASE\n" + strings.Join(whens, "\n") + "\nELSE " + v2 + "\nEND"
		}
		v = v2
		v = d.RegexpFullMatchOrNull(wrap(3, "the result must be a valid E.164 number (letters and the like fail here)", v), rule.valid)
		// A number already in E.164 is left as it is (the steps would not change it).
		return "CASE WHEN " + d.RegexpFullMatch(x, rule.valid) + " THEN " + x + "  -- already E.164\nELSE " + v + "END"
	default: // trim
		return trimExpr(d, x)
	}
}

// blocklistFilter turns a normalised value that the type's blocklist names
// into NULL. value appears once in the result.
func blocklistFilter(d dialect.Dialect, t config.IDType, value string) string {
	v := value
	for _, b := range normalizedBlocklist(t) {
		v = "nullif(" + v + ", " + d.String(b) + ")"
	}
	if len(t.BlocklistPatterns) > 0 {
		alts := make([]string, len(t.BlocklistPatterns))
		for i, p := range t.BlocklistPatterns {
			alts[i] = "(?:" + p + ")"
		}
		// A value the patterns match in full becomes '' and then NULL.
		v = "nullif(" + d.RegexpReplace(v, "^(?:"+strings.Join(alts, "|")+")$", "") + ", '')"
	}
	return v
}

// blockedExpr is true when value (already formatted, not NULL) is
// blocklisted by the type's own blocklist.
func blockedExpr(d dialect.Dialect, t config.IDType, value string) string {
	var conds []string
	if list := normalizedBlocklist(t); len(list) > 0 {
		lits := make([]string, len(list))
		for i, b := range list {
			lits[i] = d.String(b)
		}
		conds = append(conds, value+" IN ("+strings.Join(lits, ", ")+")")
	}
	for _, p := range t.BlocklistPatterns {
		conds = append(conds, d.RegexpFullMatch(value, p))
	}
	if len(conds) == 0 {
		return d.Bool(false)
	}
	return "(" + strings.Join(conds, " OR ") + ")"
}

// normalizedBlocklist normalises the type's blocklist values the way the
// SQL normalises data (Normalize mirrors it in Go, and a test checks both
// agree), so that "Test@Example.com " blocks test@example.com. Entries that
// do not normalise can match nothing and are left out.
func normalizedBlocklist(t config.IDType) []string {
	seen := map[string]bool{}
	var out []string
	for _, b := range t.Blocklist {
		v, ok := formatGo(t, b)
		if ok && !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}

// Status says what normalisation made of a raw value.
type Status string

// Normalisation outcomes.
const (
	StatusOK          Status = "ok"
	StatusJunk        Status = "junk"        // blank or a built-in junk value, ignored like a blocklisted one
	StatusRejected    Status = "rejected"    // unreadable for the type (normalize rule)
	StatusBlocklisted Status = "blocklisted" // named by the type's blocklist or blocklist_patterns
)

// Normalize is the Go mirror of NormalizeExpr, for messages and for
// normalising blocklist entries at compile time. The warehouse's SQL is
// authoritative; a test checks that both agree on a table of inputs.
func Normalize(t config.IDType, raw string) (string, Status) {
	if regexpCache(`^(?:` + junkPattern + `)$`).MatchString(raw) {
		return "", StatusJunk
	}
	v, ok := formatGo(t, raw)
	if !ok {
		return "", StatusRejected
	}
	for _, b := range normalizedBlocklist(t) {
		if v == b {
			return "", StatusBlocklisted
		}
	}
	for _, p := range t.BlocklistPatterns {
		if re, err := regexp.Compile(`^(?:` + p + `)$`); err == nil && re.MatchString(v) {
			return "", StatusBlocklisted
		}
	}
	return v, StatusOK
}

// formatGo mirrors formatExpr.
func formatGo(t config.IDType, raw string) (string, bool) {
	trimmed := regexpCache(trimPattern).ReplaceAllString(raw, "")
	switch t.Normalize {
	case "none":
		return raw, true
	case "lower":
		return strings.ToLower(trimmed), true
	case "email":
		v := strings.ToLower(trimmed)
		return v, regexpCache(`^(?:` + emailPattern + `)$`).MatchString(v)
	case "phone_e164":
		rule, err := phoneRuleFor(t.DefaultRegion)
		if err != nil {
			return "", false
		}
		v := regexpCache(phoneSeparatorPattern).ReplaceAllString(raw, "")
		v = regexpCache(rule.pattern).ReplaceAllString(rule.prefix+v, goRepl(rule.repl))
		return v, regexpCache(`^(?:` + rule.valid + `)$`).MatchString(v)
	default:
		return trimmed, true
	}
}

// goRepl turns SQL-style group references (\1) into Go's (${1}).
func goRepl(sqlRepl string) string { return regexpCache(`\\(\d)`).ReplaceAllString(sqlRepl, "$${$1}") }

var (
	regexpMu sync.Mutex
	regexps  = map[string]*regexp.Regexp{}
)

// regexpCache compiles the package's own (constant) patterns once.
func regexpCache(p string) *regexp.Regexp {
	regexpMu.Lock()
	defer regexpMu.Unlock()
	re, ok := regexps[p]
	if !ok {
		re = regexp.MustCompile(p)
		regexps[p] = re
	}
	return re
}
