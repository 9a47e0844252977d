package matchkeys

import (
	"bytes"
	"regexp"
	"strconv"
	"sync"

	"github.com/nyaruka/phonenumbers"
)

// The fast paths below read the two common shapes of a phone number,
// international (+33 6 12 34 56 78) and national in a known region (06 12
// 34 56 78 in FR), with at most spaces, dashes, dots and parentheses
// between the digits. Most of phonenumbers.Parse's time goes to its
// general-purpose expressions (extensions, letters, punctuation), and most
// of IsValidNumber's to building the same expressions' keys again for each
// number; such input cannot exercise the former, and the latter are
// compiled here once per region from the library's own metadata. The steps
// are Parse's for that input; anything they do not cover (an
// international prefix, a national prefix rewritten by a rule, a leading
// zero kept in the national number, a country code shared by several
// regions for validity, any other character) answers ok false, and the
// caller takes the library's way. TestFastPathsMatchParse checks that they
// agree with Parse and IsValidNumber on every region's example numbers,
// their variants and random input.

// fastE164 reads a number written in international form.
func fastE164(s string) (e164 string, valid, ok bool) {
	if len(s) < 2 || s[0] != '+' {
		return "", false, false
	}
	var buf [24]byte
	d, ok := phoneDigits(s[1:], buf[:0])
	// Parse refuses three digits or fewer after the "+", and country codes
	// do not start with 0.
	if !ok || len(d) < 4 || d[0] == '0' {
		return "", false, false
	}
	cc, ccLen := 0, 0
	for l := 1; l <= 3; l++ {
		code, _ := strconv.Atoi(string(d[:l]))
		if len(phonenumbers.GetRegionCodesForCountryCode(code)) > 0 {
			cc, ccLen = code, l
			break
		}
	}
	if cc == 0 {
		return "", false, false
	}
	r := regionRules()[phonenumbers.GetRegionCodeForCountryCode(cc)]
	if r == nil || r.nationalPrefix != nil && r.nationalPrefix.Match(d[ccLen:]) {
		return "", false, false
	}
	return r.finish(d[ccLen:])
}

// fastNational reads a number written in the national form of region.
func fastNational(s, region string) (e164 string, valid, ok bool) {
	r := regionRules()[region]
	if r == nil || r.transform || len(s) > 0 && s[0] == '+' {
		return "", false, false
	}
	var buf [24]byte
	d, ok := phoneDigits(s, buf[:0])
	// An international prefix, or the region's country code written
	// without "+", is read by rules of Parse's own.
	if !ok || len(d) < 4 || bytes.HasPrefix(d, []byte("00")) || r.idd != nil && r.idd.Match(d) || bytes.HasPrefix(d, r.cc) {
		return "", false, false
	}
	nsn := d
	if r.nationalPrefix != nil {
		if loc := r.nationalPrefix.FindIndex(d); loc != nil {
			// maybeStripNationalPrefixAndCarrierCode: keep a number that
			// fits the region only with its prefix; then Parse keeps the
			// stripped number if its length is possible.
			keep := r.general.pattern != nil && r.general.pattern.Match(d) && !r.general.pattern.Match(d[loc[1]:])
			if !keep && r.lengthAccepts(d[loc[1]:]) {
				nsn = d[loc[1]:]
			}
		}
	}
	return r.finish(nsn)
}

// phoneDigits appends the ASCII digits of s to buf; ok is false for any
// character other than a digit, space, dash, dot or parenthesis, or for
// more digits than a phone number has.
func phoneDigits(s string, buf []byte) ([]byte, bool) {
	if len(s) > 40 {
		return nil, false
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case '0' <= c && c <= '9':
			if len(buf) == cap(buf) {
				return nil, false
			}
			buf = append(buf, c)
		case c == ' ' || c == '-' || c == '.' || c == '(' || c == ')':
		default:
			return nil, false
		}
	}
	return buf, true
}

// regionRule is what the fast paths need of a region's metadata, compiled
// once.
type regionRule struct {
	code      int
	cc        []byte // the country code in digits
	shared    bool   // another region has the same country code
	idd       *regexp.Regexp
	transform bool // the national prefix is rewritten, not only removed
	// nationalPrefix is national_prefix_for_parsing anchored at the start
	// as Parse matches it, nil when the region has none.
	nationalPrefix *regexp.Regexp
	general        numberDesc
	localOnly      []int32
	types          []numberDesc
}

// numberDesc is a PhoneNumberDesc as the library matches it: the lengths
// it allows (any when none are listed) and its whole-number pattern.
type numberDesc struct {
	lengths []int32
	pattern *regexp.Regexp
}

func (d numberDesc) match(nsn []byte) bool {
	if d.pattern == nil {
		return false
	}
	if len(d.lengths) > 0 {
		found := false
		for _, l := range d.lengths {
			found = found || int(l) == len(nsn)
		}
		if !found {
			return false
		}
	}
	return d.pattern.Match(nsn)
}

// finish checks the national number's length and validity and writes it
// in E.164.
func (r *regionRule) finish(nsn []byte) (string, bool, bool) {
	// Parse's bounds, and a leading zero, which it keeps apart from the
	// number (Italian numbers): the library's way.
	if len(nsn) < 2 || len(nsn) > 17 || nsn[0] == '0' {
		return "", false, false
	}
	var valid bool
	if r.shared {
		// The library picks the region of a shared code by rules of its
		// own first.
		national, err := strconv.ParseUint(string(nsn), 10, 64)
		if err != nil {
			return "", false, false
		}
		code := int32(r.code)
		valid = phonenumbers.IsValidNumber(&phonenumbers.PhoneNumber{CountryCode: &code, NationalNumber: &national})
	} else {
		valid = r.valid(nsn)
	}
	if !valid {
		return "", false, true
	}
	out := make([]byte, 0, 1+len(r.cc)+len(nsn))
	out = append(append(append(out, '+'), r.cc...), nsn...)
	return string(out), true, true
}

// valid is IsValidNumber for a region that has its country code to
// itself: the number fits the general description and one of the types
// getNumberTypeHelper tries.
func (r *regionRule) valid(nsn []byte) bool {
	if !r.general.match(nsn) {
		return false
	}
	for _, d := range r.types {
		if d.match(nsn) {
			return true
		}
	}
	return false
}

// lengthAccepts is Parse's test of a number left by stripping a national
// prefix: testNumberLength against the general description is not
// TOO_SHORT, IS_POSSIBLE_LOCAL_ONLY or INVALID_LENGTH.
func (r *regionRule) lengthAccepts(n []byte) bool {
	pl := r.general.lengths
	if len(pl) == 0 || pl[0] == -1 {
		return false
	}
	l := int32(len(n))
	for _, x := range r.localOnly {
		if x == l {
			return false
		}
	}
	switch {
	case l == pl[0] || l > pl[len(pl)-1]: // possible, or too long
		return true
	case l < pl[0]:
		return false
	}
	for _, x := range pl[1:] {
		if x == l {
			return true
		}
	}
	return false
}

func compileDesc(d *phonenumbers.PhoneNumberDesc) (numberDesc, error) {
	if d == nil || d.GetNationalNumberPattern() == "" {
		return numberDesc{}, nil // matches no number, as in the library
	}
	re, err := regexp.Compile("^(?:" + d.GetNationalNumberPattern() + ")$")
	return numberDesc{lengths: d.PossibleLength, pattern: re}, err
}

// regionRules holds a regionRule per geographic region; non-geographic
// entities ("001") are left out and take Parse.
var regionRules = sync.OnceValue(func() map[string]*regionRule {
	coll, err := phonenumbers.MetadataCollection()
	if err != nil {
		return nil // no fast path: every number takes Parse
	}
	out := make(map[string]*regionRule, len(coll.GetMetadata()))
	for _, md := range coll.GetMetadata() {
		if r, err := compileRegion(md); err == nil && len(md.GetId()) == 2 {
			out[md.GetId()] = r
		}
	}
	return out
})

func compileRegion(md *phonenumbers.PhoneMetadata) (*regionRule, error) {
	code := int(md.GetCountryCode())
	r := &regionRule{code: code, cc: []byte(strconv.Itoa(code)), shared: len(phonenumbers.GetRegionCodesForCountryCode(code)) > 1,
		transform: md.GetNationalPrefixTransformRule() != "", localOnly: md.GetGeneralDesc().GetPossibleLengthLocalOnly()}
	var err error
	if p := md.GetInternationalPrefix(); p != "" {
		if r.idd, err = regexp.Compile("^(?:" + p + ")"); err != nil {
			return nil, err
		}
	}
	if p := md.GetNationalPrefixForParsing(); p != "" {
		if r.nationalPrefix, err = regexp.Compile("^(?:" + p + ")"); err != nil {
			return nil, err
		}
	}
	if r.general, err = compileDesc(md.GetGeneralDesc()); err != nil {
		return nil, err
	}
	for _, d := range []*phonenumbers.PhoneNumberDesc{md.GetPremiumRate(), md.GetTollFree(), md.GetSharedCost(), md.GetVoip(),
		md.GetPersonalNumber(), md.GetPager(), md.GetUan(), md.GetVoicemail(), md.GetFixedLine(), md.GetMobile()} {
		c, err := compileDesc(d)
		if err != nil {
			return nil, err
		}
		r.types = append(r.types, c)
	}
	return r, nil
}
