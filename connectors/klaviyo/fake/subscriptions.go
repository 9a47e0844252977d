package fake

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Per-call limits Klaviyo documents for subscription jobs.
const (
	MaxSubscribe   = 1000
	MaxUnsubscribe = 100
)

// Subscription reports a profile's consent on a channel (email or sms),
// found by e-mail or phone number.
func (s *Server) Subscription(identifier, channel string) (Subscription, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.find(identifiers{Email: identifier, Phone: identifier})
	if p == nil {
		return Subscription{}, false
	}
	sub, ok := p.Subscriptions[channel]
	return sub, ok
}

type subscriptionBody struct {
	Data struct {
		Type       string `json:"type"`
		Attributes struct {
			CustomSource     *string `json:"custom_source"`
			HistoricalImport *bool   `json:"historical_import"`
			Profiles         *struct {
				Data []struct {
					Type       string `json:"type"`
					Attributes struct {
						Email         *string                               `json:"email"`
						PhoneNumber   *string                               `json:"phone_number"`
						Subscriptions map[string]map[string]json.RawMessage `json:"subscriptions"`
					} `json:"attributes"`
				} `json:"data"`
			} `json:"profiles"`
		} `json:"attributes"`
		Relationships *struct {
			List *struct {
				Data *struct {
					Type string `json:"type"`
					ID   string `json:"id"`
				} `json:"data"`
			} `json:"list"`
		} `json:"relationships"`
	} `json:"data"`
}

type consentEntry struct {
	Consent     string  `json:"consent"`
	ConsentedAt *string `json:"consented_at"`
}

// change is one profile's subscription change, validated.
type change struct {
	ids      identifiers
	channels map[string]consentEntry
}

// readSubscriptions validates a subscribe or unsubscribe body: the job
// type, the per-call limit, an identifier for each channel (e-mail for
// email, a valid phone number for sms), and for historical imports a past
// consented_at. It answers 400 with a pointer to the first bad profile.
func readSubscriptions(c *call, typ, consent string, limit int) (*subscriptionBody, []change, bool) {
	var body subscriptionBody
	if err := json.Unmarshal(c.body, &body); err != nil {
		c.invalid("Invalid JSON in request body: "+err.Error(), pointer("/data"))
		return nil, nil, false
	}
	if body.Data.Type != typ {
		c.invalid(fmt.Sprintf("The type of the resource must be '%s'.", typ), pointer("/data/type"))
		return nil, nil, false
	}
	if body.Data.Attributes.Profiles == nil || len(body.Data.Attributes.Profiles.Data) == 0 {
		c.invalid("At least one profile is required.", pointer("/data/attributes/profiles/data"))
		return nil, nil, false
	}
	profiles := body.Data.Attributes.Profiles.Data
	if len(profiles) > limit {
		c.invalid(fmt.Sprintf("A maximum of %d profiles can be provided per request.", limit), pointer("/data/attributes/profiles/data"))
		return nil, nil, false
	}
	historical := body.Data.Attributes.HistoricalImport != nil && *body.Data.Attributes.HistoricalImport
	now := time.Now()
	out := make([]change, len(profiles))
	for i, p := range profiles {
		at := fmt.Sprintf("/data/attributes/profiles/data/%d", i)
		ch := change{channels: map[string]consentEntry{}}
		if p.Attributes.Email != nil {
			ch.ids.Email = strings.TrimSpace(*p.Attributes.Email)
		}
		if p.Attributes.PhoneNumber != nil {
			ch.ids.Phone = strings.TrimSpace(*p.Attributes.PhoneNumber)
		}
		if ch.ids.Email != "" && !validEmail(ch.ids.Email) {
			c.invalid(fmt.Sprintf("Invalid email address: %s", ch.ids.Email), pointer(at+"/attributes/email"))
			return nil, nil, false
		}
		if ch.ids.Phone != "" && !(e164.MatchString(ch.ids.Phone) && realPhone(ch.ids.Phone)) {
			c.invalid("Invalid phone number format (Example of a valid format: +13239169023)", pointer(at+"/attributes/phone_number"))
			return nil, nil, false
		}
		if len(p.Attributes.Subscriptions) == 0 {
			c.invalid("'subscriptions' is a required field.", pointer(at+"/attributes/subscriptions"))
			return nil, nil, false
		}
		for channel, kinds := range p.Attributes.Subscriptions {
			raw, ok := kinds["marketing"]
			if !ok {
				continue // transactional, open tracking: not modelled
			}
			var e consentEntry
			if err := json.Unmarshal(raw, &e); err != nil || e.Consent != consent {
				c.invalid(fmt.Sprintf("consent must be %s.", consent), pointer(at+"/attributes/subscriptions/"+channel+"/marketing/consent"))
				return nil, nil, false
			}
			switch channel {
			case "email":
				if ch.ids.Email == "" {
					c.invalid("An email address is required to change email marketing consent.", pointer(at+"/attributes/email"))
					return nil, nil, false
				}
			case "sms":
				if ch.ids.Phone == "" {
					c.invalid("A phone number is required to change SMS marketing consent.", pointer(at+"/attributes/phone_number"))
					return nil, nil, false
				}
			}
			if historical {
				if e.ConsentedAt == nil {
					c.invalid("consented_at is required when historical_import is true.", pointer(at+"/attributes/subscriptions/"+channel+"/marketing/consented_at"))
					return nil, nil, false
				}
				t, err := time.Parse(time.RFC3339, *e.ConsentedAt)
				if err != nil || t.After(now) {
					c.invalid("consented_at must be a date-time in the past.", pointer(at+"/attributes/subscriptions/"+channel+"/marketing/consented_at"))
					return nil, nil, false
				}
			}
			ch.channels[channel] = e
		}
		out[i] = ch
	}
	return &body, out, true
}

// listOf returns the list a subscription body names, or answers 404.
func (s *Server) listOf(c *call, body *subscriptionBody) (*List, bool) {
	rel := body.Data.Relationships
	if rel == nil || rel.List == nil || rel.List.Data == nil {
		return nil, true
	}
	l := s.lists[rel.List.Data.ID]
	if l == nil {
		return nil, false
	}
	return l, true
}

// subscribe serves POST /api/profile-subscription-bulk-create-jobs. Klaviyo
// runs it in the background; the fake applies it at once.
func (s *Server) subscribe(c *call) {
	body, changes, ok := readSubscriptions(c, "profile-subscription-bulk-create-job", "SUBSCRIBED", MaxSubscribe)
	if !ok {
		return
	}
	historical := body.Data.Attributes.HistoricalImport != nil && *body.Data.Attributes.HistoricalImport
	source := ""
	if body.Data.Attributes.CustomSource != nil {
		source = *body.Data.Attributes.CustomSource
	}
	now := time.Now()
	s.mu.Lock()
	l, ok := s.listOf(c, body)
	if !ok {
		s.mu.Unlock()
		s.listNotFound(c, body.Data.Relationships.List.Data.ID)
		return
	}
	if !s.refuseInjected(c, changes) {
		s.mu.Unlock()
		return
	}
	for _, ch := range changes {
		p := s.upsert(ch.ids, now)
		if p.Subscriptions == nil {
			p.Subscriptions = map[string]Subscription{}
		}
		for channel, e := range ch.channels {
			sub := Subscription{Consent: "SUBSCRIBED", Historical: historical, CustomSource: source, At: now}
			if e.ConsentedAt != nil {
				sub.ConsentedAt = *e.ConsentedAt
			}
			if l != nil {
				sub.ListID = l.ID
			}
			p.Subscriptions[channel] = sub
		}
		if l != nil {
			l.join(p.ID)
		}
	}
	s.mu.Unlock()
	c.noContent(http.StatusAccepted)
}

// unsubscribe serves POST /api/profile-subscription-bulk-delete-jobs: the
// channels given are unsubscribed; with a list, members of the list leave
// it and others are unsubscribed everywhere (Klaviyo's warning).
func (s *Server) unsubscribe(c *call) {
	body, changes, ok := readSubscriptions(c, "profile-subscription-bulk-delete-job", "UNSUBSCRIBED", MaxUnsubscribe)
	if !ok {
		return
	}
	now := time.Now()
	s.mu.Lock()
	l, ok := s.listOf(c, body)
	if !ok {
		s.mu.Unlock()
		s.listNotFound(c, body.Data.Relationships.List.Data.ID)
		return
	}
	for _, ch := range changes {
		p := s.upsert(ch.ids, now)
		if p.Subscriptions == nil {
			p.Subscriptions = map[string]Subscription{}
		}
		for channel := range ch.channels {
			sub := Subscription{Consent: "UNSUBSCRIBED", At: now}
			if l != nil && l.members[p.ID] {
				sub.ListID = l.ID
				l.leave(p.ID)
			}
			p.Subscriptions[channel] = sub
		}
	}
	s.mu.Unlock()
	c.noContent(http.StatusAccepted)
}

// refuseInjected answers 400 for the first profile whose identifier a test
// made Klaviyo refuse (RejectIdentifier); the caller holds s.mu.
func (s *Server) refuseInjected(c *call, changes []change) bool {
	for i, ch := range changes {
		for field, v := range map[string]string{"email": ch.ids.Email, "phone_number": ch.ids.Phone} {
			if d, bad := s.rejects[strings.ToLower(v)]; v != "" && bad {
				c.invalid(d, pointer(fmt.Sprintf("/data/attributes/profiles/data/%d/attributes/%s", i, field)))
				return false
			}
		}
	}
	return true
}
