package klaviyo

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/connectors/destination"

	"github.com/sluicehq/sluice/connectors/internal/jsonenc"
)

// Klaviyo's standard profile attributes, as bulk imports take them.
var (
	identifierAttrs = []string{"email", "phone_number", "external_id"}
	standardAttrs   = []string{"email", "phone_number", "external_id", "first_name", "last_name", "organization", "locale", "title", "image"}
	locationAttrs   = []string{"address1", "address2", "city", "country", "latitude", "longitude", "region", "zip", "timezone", "ip"}
	consentChannels = []string{"email", "sms"}
)

// Channels whose consent a sync can drive, and what identifies a profile
// on each.
var channelIdentifier = map[string]string{"email": "email", "sms": "phone_number"}

// fieldPlan is what a sync's mapping means in Klaviyo's terms, worked out
// once when the destination opens.
type fieldPlan struct {
	// channels are the channels whose consent the mapping carries
	// (subscriptions.CHANNEL.marketing.consent), in a fixed order.
	channels []string
	// custom lists top-level fields that are not Klaviyo attributes: they
	// are sent as custom properties under their own name.
	custom []string
}

// planFields checks a sync's destination fields against Klaviyo's profile:
// standard attributes, location.*, properties.*, and the consent fields
// subscriptions.{email,sms}.marketing.{consent,consented_at}. Any other
// top-level field is a custom property, unless it looks like a misspelt
// attribute, which is an error (a typo would otherwise become a property
// silently).
func planFields(fields []string) (*fieldPlan, error) {
	p := &fieldPlan{}
	var problems []string
	consentAt := map[string]bool{}
	for _, f := range fields {
		parts := strings.Split(f, ".")
		top := parts[0]
		switch {
		case top == "subscriptions":
			if len(parts) != 4 || parts[2] != "marketing" || (parts[3] != "consent" && parts[3] != "consented_at") {
				problems = append(problems, fmt.Sprintf("field %s: consent fields are subscriptions.CHANNEL.marketing.consent and subscriptions.CHANNEL.marketing.consented_at", f))
				continue
			}
			if !slices.Contains(consentChannels, parts[1]) {
				problems = append(problems, fmt.Sprintf("field %s: sluice drives the email and sms channels (got %s)%s", f, parts[1], config.DidYouMean(parts[1], consentChannels)))
				continue
			}
			if parts[3] == "consent" {
				if !slices.Contains(p.channels, parts[1]) {
					p.channels = append(p.channels, parts[1])
				}
			} else {
				consentAt[parts[1]] = true
			}
		case top == "location":
			if len(parts) != 2 || !slices.Contains(locationAttrs, parts[1]) {
				sub := strings.Join(parts[1:], ".")
				problems = append(problems, fmt.Sprintf("field %s: location takes %s%s", f, strings.Join(locationAttrs, ", "), config.DidYouMean(sub, locationAttrs)))
			}
		case top == "properties":
			if len(parts) == 1 {
				problems = append(problems, "field properties: map custom properties one by one, as properties.NAME")
			}
		case top == "id":
			problems = append(problems, "field id: that is Klaviyo's own profile id; sluice identifies profiles by email, phone_number or external_id")
		case slices.Contains(standardAttrs, top):
			if len(parts) > 1 {
				problems = append(problems, fmt.Sprintf("field %s: %s is a text attribute, it has no sub-fields", f, top))
			}
		default:
			if hint := config.DidYouMean(top, append(slices.Clone(standardAttrs), "location", "properties", "subscriptions")); hint != "" {
				problems = append(problems, fmt.Sprintf("field %s is not a Klaviyo profile attribute%s (custom properties are written properties.%s)", f, hint, f))
				continue
			}
			if !slices.Contains(p.custom, top) {
				p.custom = append(p.custom, top)
			}
		}
	}
	for _, ch := range consentChannels {
		if consentAt[ch] && !slices.Contains(p.channels, ch) {
			problems = append(problems, fmt.Sprintf("field subscriptions.%s.marketing.consented_at needs subscriptions.%s.marketing.consent too", ch, ch))
		}
	}
	slices.SortFunc(p.channels, func(a, b string) int { return slices.Index(consentChannels, a) - slices.Index(consentChannels, b) })
	if len(problems) > 0 {
		return nil, errors.New(strings.Join(problems, "; "))
	}
	return p, nil
}

// identifiers name a profile.
type identifiers struct {
	email, phone, external string
}

func (id identifiers) any() bool { return id.email != "" || id.phone != "" || id.external != "" }

// consentState is what a record says of one channel.
type consentState int

const (
	consentUnknown consentState = iota // no value: leave the channel as it is
	consentGiven
	consentWithdrawn
)

type channelConsent struct {
	state consentState
	at    string // consented_at, RFC 3339 in UTC; "" when unknown
}

// profile is one record ready for a bulk import job.
type profile struct {
	idx     int    // the record's place in its batch
	json    []byte // the profile resource: {"type":"profile","attributes":{...}}
	ids     identifiers
	consent map[string]channelConsent // by channel, for the mapped channels
}

// e164 is the shape Klaviyo requires of phone numbers; whether the number
// exists is Klaviyo's to judge (it reports an import error).
var e164 = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)

// maxProfileBytes is Klaviyo's limit per profile in a bulk import.
const maxProfileBytes = 100 << 10

// profile turns a record into a profile resource and its consent. Errors
// reject the record, with what to fix.
func (p *fieldPlan) profile(r destination.Record) (*profile, error) {
	out := &profile{}
	attrs := make([]byte, 0, 256)
	attrs = append(attrs, '{')
	first := true
	field := func(name string) {
		if !first {
			attrs = append(attrs, ',')
		}
		first = false
		attrs = jsonenc.AppendString(attrs, name)
		attrs = append(attrs, ':')
	}
	var properties map[string]any
	var unset []string
	addProperty := func(name string, v any) {
		if v == nil {
			unset = append(unset, name)
			return
		}
		if properties == nil {
			properties = map[string]any{}
		}
		properties[name] = v
	}
	for _, name := range standardAttrs {
		v, ok := r.Fields[name]
		if !ok {
			continue
		}
		if v == nil {
			field(name)
			attrs = append(attrs, "null"...)
			continue
		}
		s, err := text(name, v)
		if err != nil {
			return nil, err
		}
		switch name {
		case "email":
			s = strings.TrimSpace(s)
			out.ids.email = s
		case "phone_number":
			s = strings.TrimSpace(s)
			if !e164.MatchString(s) {
				return nil, errors.New("phone_number is not in E.164 format (+ and country code, like +33612345678): normalise it with transform: phone_e164, or with normalize: phone_e164 on the id type")
			}
			out.ids.phone = s
		case "external_id":
			out.ids.external = s
		}
		field(name)
		attrs = jsonenc.AppendString(attrs, s)
	}
	if v, ok := r.Fields["location"]; ok && v != nil {
		loc, isMap := v.(map[string]any)
		if !isMap {
			return nil, errors.New("location must hold location.* fields")
		}
		field("location")
		attrs = append(attrs, '{')
		n := 0
		for _, k := range locationAttrs {
			lv, ok := loc[k]
			if !ok {
				continue
			}
			if n > 0 {
				attrs = append(attrs, ',')
			}
			n++
			attrs = jsonenc.AppendString(attrs, k)
			attrs = append(attrs, ':')
			switch {
			case lv == nil:
				attrs = append(attrs, "null"...)
			case k == "latitude" || k == "longitude":
				f, err := coordinate(k, lv)
				if err != nil {
					return nil, err
				}
				attrs = strconv.AppendFloat(attrs, f, 'f', -1, 64)
			default:
				s, err := text("location."+k, lv)
				if err != nil {
					return nil, err
				}
				attrs = jsonenc.AppendString(attrs, s)
			}
		}
		attrs = append(attrs, '}')
	}
	if v, ok := r.Fields["properties"]; ok && v != nil {
		m, isMap := v.(map[string]any)
		if !isMap {
			return nil, errors.New("properties must hold properties.* fields")
		}
		for k, pv := range m {
			addProperty(k, pv)
		}
	}
	for _, name := range p.custom {
		if v, ok := r.Fields[name]; ok {
			addProperty(name, v)
		}
	}
	if len(properties) > 0 {
		field("properties")
		var err error
		if attrs, err = jsonenc.AppendValue(attrs, properties); err != nil {
			return nil, fmt.Errorf("properties: %w", err)
		}
	}
	attrs = append(attrs, '}')
	if !out.ids.any() {
		return nil, errors.New("no email, phone_number or external_id: Klaviyo needs one of them to identify the profile")
	}
	if len(p.channels) > 0 {
		c, err := p.consent(r.Fields)
		if err != nil {
			return nil, err
		}
		out.consent = c
	}
	js := make([]byte, 0, len(attrs)+64)
	js = append(js, `{"type":"profile","attributes":`...)
	js = append(js, attrs...)
	if len(unset) > 0 {
		sort.Strings(unset)
		js = append(js, `,"meta":{"patch_properties":{"unset":`...)
		js, _ = jsonenc.AppendValue(js, unset)
		js = append(js, "}}"...)
	}
	js = append(js, '}')
	if len(js) > maxProfileBytes {
		return nil, fmt.Errorf("the profile is %d KB of JSON, above Klaviyo's 100 KB per profile: send fewer or smaller properties", len(js)>>10)
	}
	out.json = js
	return out, nil
}

// consent reads the mapped channels' consent and consent time.
func (p *fieldPlan) consent(fields map[string]any) (map[string]channelConsent, error) {
	subs, _ := fields["subscriptions"].(map[string]any)
	out := make(map[string]channelConsent, len(p.channels))
	for _, ch := range p.channels {
		var c channelConsent
		m, _ := subs[ch].(map[string]any)
		mk, _ := m["marketing"].(map[string]any)
		given, known, err := consentValue(mk["consent"])
		if err != nil {
			return nil, fmt.Errorf("subscriptions.%s.marketing.consent: %w", ch, err)
		}
		switch {
		case !known:
			c.state = consentUnknown
		case given:
			c.state = consentGiven
		default:
			c.state = consentWithdrawn
		}
		if at := mk["consented_at"]; at != nil && c.state == consentGiven {
			t, ok := consentTime(at)
			if !ok {
				return nil, fmt.Errorf("subscriptions.%s.marketing.consented_at is not a date or time (RFC 3339, like 2025-03-01T12:00:00Z)", ch)
			}
			c.at = t
		}
		out[ch] = c
	}
	return out, nil
}

// consentValue reads a consent value: a boolean, or a word that says yes or
// no (Klaviyo's own SUBSCRIBED and UNSUBSCRIBED included). NULL is unknown.
func consentValue(v any) (given, known bool, err error) {
	switch x := v.(type) {
	case nil:
		return false, false, nil
	case bool:
		return x, true, nil
	case int64:
		return x != 0, true, nil
	case float64:
		return x != 0, true, nil
	case json.Number:
		return string(x) != "0", true, nil
	case string:
		switch strings.ToLower(strings.TrimSpace(x)) {
		case "true", "t", "yes", "y", "1", "subscribed", "opt_in", "opted_in":
			return true, true, nil
		case "false", "f", "no", "n", "0", "unsubscribed", "opt_out", "opted_out":
			return false, true, nil
		case "":
			return false, false, nil
		}
	}
	return false, false, errors.New("expected true or false (a boolean trait)")
}

// consentTime reads consented_at: RFC 3339 (what sluice's mapping makes of
// timestamps), a naive timestamp taken as UTC, or a date.
func consentTime(v any) (string, bool) {
	s, ok := v.(string)
	if !ok {
		return "", false
	}
	s = strings.TrimSpace(s)
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05.999999999", "2006-01-02T15:04:05.999999999", time.DateOnly} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC().Format(time.RFC3339), true
		}
	}
	return "", false
}

// text renders a value for a text attribute: numbers (an external id read
// as a number, a zip code) become their digits.
func text(name string, v any) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case int64:
		return strconv.FormatInt(x, 10), nil
	case json.Number:
		return string(x), nil
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1e15 {
			return strconv.FormatInt(int64(x), 10), nil
		}
		return strconv.FormatFloat(x, 'f', -1, 64), nil
	case bool:
		return strconv.FormatBool(x), nil
	}
	return "", fmt.Errorf("%s must be text, not a list or object", name)
}

func coordinate(name string, v any) (float64, error) {
	switch x := v.(type) {
	case float64:
		return x, nil
	case int64:
		return float64(x), nil
	case json.Number:
		if f, err := x.Float64(); err == nil {
			return f, nil
		}
	case string:
		if f, err := strconv.ParseFloat(strings.TrimSpace(x), 64); err == nil {
			return f, nil
		}
	}
	return 0, fmt.Errorf("location.%s must be a number", name)
}

// removalIdentifiers reads the identifiers a removal carries: its key and
// its removal_fields.
func removalIdentifiers(r destination.Record) identifiers {
	var id identifiers
	get := func(name string) string {
		if v, ok := r.Fields[name]; ok && v != nil {
			if s, err := text(name, v); err == nil {
				return strings.TrimSpace(s)
			}
		}
		return ""
	}
	id.email, id.phone, id.external = get("email"), get("phone_number"), get("external_id")
	return id
}
