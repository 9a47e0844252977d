package fake

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"unicode"

	"github.com/nyaruka/phonenumbers"
)

// Identity is a test person's raw identifiers, as the warehouse holds them.
// Registered with the fake (Register), they let it compute the hashes
// Google expects for that person, and recognise the usual mistakes (the
// Gmail rule not applied, a phone without its +, a value hashed twice) as
// violations, which a real Google would silently fail to match.
type Identity struct {
	Email      string
	Phone      string
	Region     string // ISO country to read a national phone number in
	FirstName  string
	LastName   string
	Country    string
	PostalCode string
}

// The fake's own reading of Google's formatting rules
// (https://developers.google.com/data-manager/api/get-started/formatting),
// written apart from the destination's so that each checks the other.

// NormalEmail is an e-mail address as Google hashes it: whitespace removed,
// lower-cased, and for gmail.com and googlemail.com addresses the dots of
// the local part and any +suffix removed.
func NormalEmail(raw string) string {
	e := strings.ToLower(strings.Join(strings.Fields(raw), ""))
	local, domain, ok := strings.Cut(e, "@")
	if !ok || local == "" || domain == "" {
		return ""
	}
	if domain == "gmail.com" || domain == "googlemail.com" {
		if i := strings.IndexByte(local, '+'); i >= 0 {
			local = local[:i]
		}
		local = strings.ReplaceAll(local, ".", "")
	}
	return local + "@" + domain
}

// NormalPhone is a phone number in E.164 with its +, read in region when
// national; "" when it is not a valid number.
func NormalPhone(raw, region string) string {
	n, err := phonenumbers.Parse(raw, strings.ToUpper(region))
	if err != nil || !phonenumbers.IsValidNumber(n) {
		return ""
	}
	return phonenumbers.Format(n, phonenumbers.E164)
}

// NormalName is a given or family name lower-cased, without punctuation,
// trimmed, inner runs of whitespace made one space.
func NormalName(raw string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(raw) {
		if !unicode.IsPunct(r) {
			b.WriteRune(r)
		}
	}
	return strings.Join(strings.Fields(b.String()), " ")
}

// Hash is SHA-256 in lower-case hex.
func Hash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// HashEmail is the hash Google expects for a raw e-mail address.
func HashEmail(raw string) string { return Hash(NormalEmail(raw)) }

// HashPhone is the hash Google expects for a raw phone number.
func HashPhone(raw, region string) string {
	if p := NormalPhone(raw, region); p != "" {
		return Hash(p)
	}
	return ""
}

// expected holds what a registered person's identifiers hash to, and the
// hashes of their wrong variants.
type expected struct {
	email, phone, given, family string
	wrong                       map[string]string // hash → what is wrong with it
}

func expect(id Identity) expected {
	x := expected{wrong: map[string]string{}}
	bad := func(value, why string) {
		if value != "" {
			x.wrong[Hash(value)] = why
		}
	}
	if id.Email != "" {
		norm := NormalEmail(id.Email)
		x.email = Hash(norm)
		bad(id.Email, "an e-mail address hashed as written, not normalised")
		bad(strings.TrimSpace(id.Email), "an e-mail address hashed without lower-casing")
		bad(strings.ToLower(strings.TrimSpace(id.Email)), "a Gmail address hashed without removing the dots and +suffix of its local part")
		bad(x.email, "an e-mail address hashed twice")
	}
	region := id.Region
	if region == "" {
		region = id.Country
	}
	if id.Phone != "" {
		if norm := NormalPhone(id.Phone, region); norm != "" {
			x.phone = Hash(norm)
			bad(id.Phone, "a phone number hashed as written, not in E.164")
			bad(strings.TrimPrefix(norm, "+"), "a phone number hashed without the + of E.164")
			if n, err := phonenumbers.Parse(norm, ""); err == nil {
				bad(phonenumbers.Format(n, phonenumbers.NATIONAL), "a phone number hashed in national format, not E.164")
				bad(phonenumbers.Format(n, phonenumbers.INTERNATIONAL), "a phone number hashed with spaces, not E.164")
			}
			bad(x.phone, "a phone number hashed twice")
		}
	}
	for _, n := range []struct {
		raw string
		dst *string
	}{{id.FirstName, &x.given}, {id.LastName, &x.family}} {
		if n.raw == "" {
			continue
		}
		*n.dst = Hash(NormalName(n.raw))
		bad(n.raw, "a name hashed as written, not normalised")
		bad(strings.TrimSpace(n.raw), "a name hashed without lower-casing")
		bad(strings.ToLower(n.raw), "a name hashed without trimming")
		bad(*n.dst, "a name hashed twice")
	}
	for h := range x.wrong {
		if h == x.email || h == x.phone || h == x.given || h == x.family {
			delete(x.wrong, h) // a variant that happens to be the right form
		}
	}
	return x
}
