package googleads

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	datamanager "google.golang.org/api/datamanager/v1"

	"github.com/sluicehq/sluice/connectors/destination"
	"github.com/sluicehq/sluice/connectors/internal/matchkeys"
)

// Consent values of the Data Manager API.
const (
	consentGranted     = "CONSENT_GRANTED"
	consentDenied      = "CONSENT_DENIED"
	consentUnspecified = "CONSENT_STATUS_UNSPECIFIED"
)

// member turns a record into an audience member: one identifier per
// e-mail and phone value, one address when its four parts are known, at
// most MaxIdentifiers. A record left with no identifier is refused, with
// the reasons (which never quote a value).
func (g *GoogleAds) member(r destination.Record) (*datamanager.AudienceMember, error) {
	region := g.region
	if c := g.value(r, matchkeys.Country); len(c) > 0 {
		if rc, err := matchkeys.Prepare(matchkeys.Google, matchkeys.Country, c[0], ""); err == nil {
			region = rc
		}
	}
	var ids []*datamanager.UserIdentifier
	var skipped []string
	prepare := func(k matchkeys.Key, raw string) (string, bool) {
		v, err := matchkeys.Prepare(matchkeys.Google, k, raw, region)
		if err != nil {
			skipped = append(skipped, reason(err))
			return "", false
		}
		return v, true
	}
	for _, raw := range g.value(r, matchkeys.Email) {
		if v, ok := prepare(matchkeys.Email, raw); ok {
			ids = append(ids, &datamanager.UserIdentifier{EmailAddress: v})
		}
	}
	for _, raw := range g.value(r, matchkeys.Phone) {
		if v, ok := prepare(matchkeys.Phone, raw); ok {
			ids = append(ids, &datamanager.UserIdentifier{PhoneNumber: v})
		}
	}
	if a, ok := g.address(r, region, prepare); ok {
		ids = append(ids, &datamanager.UserIdentifier{Address: a})
	}
	ids = dedupe(ids)
	if len(ids) == 0 {
		if len(skipped) == 0 {
			skipped = append(skipped, "no match key has a value")
		}
		return nil, fmt.Errorf("no identifier Google can match on: %s", strings.Join(skipped, "; "))
	}
	if len(ids) > MaxIdentifiers {
		ids = ids[:MaxIdentifiers]
	}
	return &datamanager.AudienceMember{UserData: &datamanager.UserData{UserIdentifiers: ids}}, nil
}

// address builds the address identifier when the names, the postal code
// and a country are all usable.
func (g *GoogleAds) address(r destination.Record, region string, prepare func(matchkeys.Key, string) (string, bool)) (*datamanager.AddressInfo, bool) {
	given, family, postal := g.value(r, matchkeys.FirstName), g.value(r, matchkeys.LastName), g.value(r, matchkeys.PostalCode)
	if len(given) == 0 || len(family) == 0 || len(postal) == 0 || region == "" {
		return nil, false
	}
	a := &datamanager.AddressInfo{RegionCode: region}
	var ok [3]bool
	a.GivenName, ok[0] = prepare(matchkeys.FirstName, given[0])
	a.FamilyName, ok[1] = prepare(matchkeys.LastName, family[0])
	a.PostalCode, ok[2] = prepare(matchkeys.PostalCode, postal[0])
	return a, ok[0] && ok[1] && ok[2]
}

// value returns a match key's values in a record: none when unmapped or
// NULL, one for a scalar, each element of a list (several e-mails).
func (g *GoogleAds) value(r destination.Record, k matchkeys.Key) []string {
	v, ok := r.Fields[string(k)]
	if !ok && string(k) == g.cfg.Sync.Key {
		v = r.Key
	}
	var out []string
	var add func(any)
	add = func(v any) {
		switch x := v.(type) {
		case nil:
		case string:
			if strings.TrimSpace(x) != "" {
				out = append(out, x)
			}
		case []any:
			for _, e := range x {
				add(e)
			}
		case []string:
			for _, e := range x {
				add(e)
			}
		case float64:
			out = append(out, strconv.FormatFloat(x, 'f', -1, 64))
		case bool, map[string]any:
			// not an identifier
		default:
			out = append(out, fmt.Sprint(x))
		}
	}
	add(v)
	return out
}

func reason(err error) string {
	if errors.Is(err, matchkeys.ErrSkip) {
		// "identifier skipped: email is not an address": the part after
		// the sentinel says what was wrong.
		if _, why, ok := strings.Cut(err.Error(), ": "); ok {
			return why
		}
	}
	return err.Error()
}

// dedupe drops identifiers sent twice (the same e-mail in two fields).
func dedupe(ids []*datamanager.UserIdentifier) []*datamanager.UserIdentifier {
	seen := map[string]bool{}
	out := ids[:0]
	for _, id := range ids {
		k := id.EmailAddress + "|" + id.PhoneNumber
		if a := id.Address; a != nil {
			k = strings.Join([]string{a.GivenName, a.FamilyName, a.RegionCode, a.PostalCode}, "|")
		}
		if !seen[k] {
			seen[k] = true
			out = append(out, id)
		}
	}
	return out
}

// consent maps the sync's consent purposes to Google's: ads_user_data
// must be true (the engine sends no one else; a record without it is
// refused here rather than sent), ads_personalization is granted, denied
// or unspecified (NULL).
func consent(r destination.Record) (*datamanager.Consent, error) {
	ud, ok := r.Consent["ads_user_data"]
	if !ok || ud == nil || !*ud {
		return nil, errors.New("no ads_user_data consent: the person is never sent to Google")
	}
	c := &datamanager.Consent{AdUserData: consentGranted, AdPersonalization: consentUnspecified}
	if p := r.Consent["ads_personalization"]; p != nil {
		c.AdPersonalization = consentDenied
		if *p {
			c.AdPersonalization = consentGranted
		}
	}
	return c, nil
}
