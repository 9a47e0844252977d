package matchkeys

import (
	"strings"
	"unicode"

	"github.com/nyaruka/phonenumbers"
)

// metaEmail: "Trim leading and trailing whitespace and convert all characters
// to lowercase" (Meta, Hashing and Normalizing Data). Meta has no Gmail rule:
// dots and `+suffix` are kept.
func metaEmail(raw, _ string) (string, error) {
	e := strings.ToLower(strings.TrimSpace(raw))
	if err := checkEmail(e); err != nil {
		return "", err
	}
	return e, nil
}

// googleEmail: lower-case; trim leading, trailing and intermediate whitespace;
// for gmail.com and googlemail.com only, remove every dot before the @ and a
// `+` with what follows it (Data Manager API, "Format user data":
// cloudy.sanfrancisco+shopping@gmail.com → cloudysanfrancisco@gmail.com, but
// user.name+NYC@Example.com → user.name+nyc@example.com).
func googleEmail(raw, _ string) (string, error) {
	e := strings.ToLower(strings.Map(dropSpace, raw))
	if err := checkEmail(e); err != nil {
		return "", err
	}
	at := strings.LastIndexByte(e, '@')
	local, domain := e[:at], e[at+1:]
	if domain != "gmail.com" && domain != "googlemail.com" {
		return e, nil
	}
	if plus := strings.IndexByte(local, '+'); plus >= 0 {
		local = local[:plus]
	}
	local = strings.ReplaceAll(local, ".", "")
	if local == "" {
		return "", skip(Email, "has an empty Gmail local part")
	}
	return local + "@" + domain, nil
}

// checkEmail refuses what cannot be an address (no local part or domain,
// inner whitespace): such a hash matches no one, so the key is skipped rather
// than sent.
func checkEmail(e string) error {
	if e == "" {
		return skip(Email, "is empty")
	}
	at := strings.LastIndexByte(e, '@')
	if at <= 0 || at == len(e)-1 {
		return skip(Email, "is not an address (local@domain)")
	}
	if strings.IndexFunc(e, unicode.IsSpace) >= 0 {
		return skip(Email, "contains whitespace")
	}
	return nil
}

// metaPhone: digits with the country code and no `+`, no symbols, no leading
// zeros (Meta, Hashing and Normalizing Data: "Remove symbols, letters, and
// any leading zeros. You must prefix the country code").
func metaPhone(raw, region string) (string, error) {
	e164, err := e164(raw, region)
	if err != nil {
		return "", err
	}
	return strings.TrimPrefix(e164, "+"), nil
}

// googlePhone: E.164 with the `+` and the country code, digits only after
// it: (800)555-0100 in the US → +18005550100 (Data Manager API, "Format user
// data").
func googlePhone(raw, region string) (string, error) {
	return e164(raw, region)
}

// e164 parses raw with libphonenumber's rules (nyaruka/phonenumbers), reading
// a national number in region, and returns it in E.164. An international
// `00` prefix is understood where the region dials it; when the region is
// unknown or dials another prefix, `00` is read as `+`. Numbers the library
// does not hold valid are skipped: a guessed number would match a stranger.
func e164(raw, region string) (string, error) {
	s := strings.TrimSpace(raw)
	if s == "" {
		return "", skip(Phone, "is empty")
	}
	if strings.IndexFunc(s, unicode.IsDigit) < 0 {
		return "", skip(Phone, "has no digits")
	}
	out, valid, ok := fastE164(s)
	if !ok {
		out, valid, ok = fastNational(s, region)
	}
	if ok {
		if !valid {
			return "", skip(Phone, "is not a valid phone number")
		}
		return out, nil
	}
	return parseE164(s, region)
}

// parseE164 is e164's general path, through phonenumbers.Parse.
func parseE164(s, region string) (string, error) {
	parseRegion := region
	if parseRegion == "" {
		parseRegion = "ZZ" // the library's unknown region: only +E.164 parses
	}
	num, err := phonenumbers.Parse(s, parseRegion)
	if (err != nil || !phonenumbers.IsValidNumber(num)) && strings.HasPrefix(s, "00") {
		num, err = phonenumbers.Parse("+"+s[2:], "ZZ")
	}
	if err != nil {
		if region == "" {
			return "", skip(Phone, "cannot be read without a region (not +E.164, and no country known)")
		}
		return "", skip(Phone, "cannot be read as a phone number in "+region)
	}
	if !phonenumbers.IsValidNumber(num) {
		return "", skip(Phone, "is not a valid phone number")
	}
	return phonenumbers.Format(num, phonenumbers.E164), nil
}

func dropSpace(r rune) rune {
	if unicode.IsSpace(r) {
		return -1
	}
	return r
}
