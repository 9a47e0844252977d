// Package matchkeys prepares the identifiers ad platforms match people on:
// each vendor's normal form of an e-mail, phone, name, country, postal code,
// city, state or external id, then SHA-256 in lower-case hex where the vendor
// wants it hashed. Match rates are lost to small mistakes (a Gmail dot, a
// `+` kept in a phone for Meta, a value hashed twice), so every rule here is
// the vendor's documented one, with its source next to it:
//
//   - Meta: https://developers.facebook.com/docs/marketing-api/audiences/guides/custom-audiences
//     ("Hashing and Normalizing Data").
//   - Google (Data Manager API): https://developers.google.com/data-manager/api/get-started/formatting
//     and the AddressInfo reference
//     https://developers.google.com/data-manager/api/reference/rest/v1/UserData.
//
// Errors never carry the raw value: callers log them.
package matchkeys

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// Vendor is an ad platform whose matching rules this package knows.
type Vendor string

// The vendors with rules here.
const (
	Meta   Vendor = "meta"
	Google Vendor = "google"
)

// Key is a kind of match identifier a sync maps (the destination field names
// users write).
type Key string

// The keys a sync may map. Not every vendor matches on every key: see
// Supports.
const (
	Email      Key = "email"
	Phone      Key = "phone"
	FirstName  Key = "first_name"
	LastName   Key = "last_name"
	Country    Key = "country" // ISO 3166-1 alpha-2
	PostalCode Key = "postal_code"
	City       Key = "city"
	State      Key = "state"
	ExternalID Key = "external_id"
)

// allKeys is in the order documentation and messages list them.
var allKeys = []Key{Email, Phone, FirstName, LastName, Country, PostalCode, City, State, ExternalID}

// ErrSkip (wrapped with the reason) means the value normalises to nothing
// usable for this key: the caller drops this key for this person only, never
// the record or the batch.
var ErrSkip = errors.New("identifier skipped")

// ErrUnsupported means the vendor does not match on the key (or the vendor is
// unknown): a configuration error, reported when a destination opens.
var ErrUnsupported = errors.New("identifier not supported")

// normalizer turns a raw value into the vendor's normal form; region is the
// person's ISO country (upper-case, or "" when unknown).
type normalizer func(raw, region string) (string, error)

type rule struct {
	hashed    bool
	normalize normalizer
}

// rules is the whole contract, one line per vendor and key; the functions
// carry the source of each rule.
var rules = map[Vendor]map[Key]rule{
	Meta: {
		Email:      {true, metaEmail},
		Phone:      {true, metaPhone},
		FirstName:  {true, metaName},
		LastName:   {true, metaName},
		Country:    {true, metaCountry},
		PostalCode: {true, metaPostalCode},
		City:       {true, metaCity},
		State:      {true, metaState},
		ExternalID: {false, metaExternalID},
	},
	Google: {
		Email:      {true, googleEmail},
		Phone:      {true, googlePhone},
		FirstName:  {true, googleName},
		LastName:   {true, googleName},
		Country:    {false, googleCountry},
		PostalCode: {false, googlePostalCode},
		// City and State are not part of Customer Match's AddressInfo (they
		// are used only for Google Analytics), and ExternalID is not a
		// userIdentifier at all: the Data Manager API matches on e-mail,
		// phone and address only.
	},
}

// Keys returns every key a sync may map, supported by some vendor or not.
func Keys() []Key { return append([]Key(nil), allKeys...) }

// SupportedKeys returns the keys v matches on, in documentation order.
func SupportedKeys(v Vendor) []Key {
	var keys []Key
	for _, k := range allKeys {
		if Supports(v, k) {
			keys = append(keys, k)
		}
	}
	return keys
}

// Supports reports whether the vendor matches on k.
func Supports(v Vendor, k Key) bool {
	_, ok := rules[v][k]
	return ok
}

// Hashed reports whether the vendor takes k SHA-256 hashed (lower-case hex).
func Hashed(v Vendor, k Key) bool {
	return rules[v][k].hashed
}

// Normalize returns the vendor's normal form of raw for k, not hashed.
// region is the ISO 3166-1 alpha-2 country used to read national phone
// numbers and country-specific postal codes and states ("" when unknown).
// A value that normalises to nothing returns an error wrapping ErrSkip; a key
// the vendor does not match on returns one wrapping ErrUnsupported.
func Normalize(v Vendor, k Key, raw, region string) (string, error) {
	r, ok := rules[v][k]
	if !ok {
		return "", unsupported(v, k)
	}
	return r.normalize(raw, cleanRegion(region))
}

// Prepare returns what is sent to the vendor for k: the normal form, then
// SHA-256 in lower-case hex where the vendor wants k hashed. A raw value that
// is already 64 hex characters is taken as hashed upstream (in the warehouse)
// and passed through lower-cased for hashed keys, never hashed twice.
func Prepare(v Vendor, k Key, raw, region string) (string, error) {
	r, ok := rules[v][k]
	if !ok {
		return "", unsupported(v, k)
	}
	if r.hashed {
		if t := strings.TrimSpace(raw); IsHash(t) {
			return strings.ToLower(t), nil
		}
	}
	n, err := r.normalize(raw, cleanRegion(region))
	if err != nil {
		return "", err
	}
	if !r.hashed {
		return n, nil
	}
	return Hash(n), nil
}

// Hash is SHA-256 of s in lower-case hex, the encoding both vendors accept.
func Hash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// IsHash reports whether s looks like a SHA-256 digest in hex (64 hex
// characters, either case).
func IsHash(s string) bool {
	if len(s) != sha256.Size*2 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

func unsupported(v Vendor, k Key) error {
	if _, ok := rules[v]; !ok {
		return fmt.Errorf("%w: unknown vendor %q", ErrUnsupported, v)
	}
	names := make([]string, 0, len(allKeys))
	for _, s := range SupportedKeys(v) {
		names = append(names, string(s))
	}
	return fmt.Errorf("%w: %s does not match on %q (supported: %s)", ErrUnsupported, v, k, strings.Join(names, ", "))
}

// skip wraps ErrSkip with a reason; the reason never quotes the value.
func skip(k Key, reason string) error {
	return fmt.Errorf("%w: %s %s", ErrSkip, k, reason)
}

// cleanRegion returns region as an upper-case ISO alpha-2 code, or "" when
// it is not one (an unknown region is better than a wrong one).
func cleanRegion(region string) string {
	r := strings.ToUpper(strings.TrimSpace(region))
	if r == "UK" {
		// Common in warehouses; ISO's code for the United Kingdom is GB.
		return "GB"
	}
	if len(r) != 2 || !isASCIIUpper(r[0]) || !isASCIIUpper(r[1]) {
		return ""
	}
	return r
}

func isASCIIUpper(c byte) bool { return 'A' <= c && c <= 'Z' }
