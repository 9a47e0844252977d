package klaviyo

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/sluicehq/sluice/connectors/internal/jsonenc"
)

// Klaviyo's limits per subscription call.
const (
	maxSubscribe   = 1000
	maxUnsubscribe = 100
)

// consentChange is one record's change of subscription on some channels.
type consentChange struct {
	idx      int
	ids      identifiers
	channels []string
	at       string // consented_at (subscriptions only); "" when unknown
}

var errNoIdentifier = errors.New("the removal carries no email, phone_number or external_id to find the Klaviyo profile by: make the sync's key one of them, or add one to removal_fields")

// subscribe gives consent on the channels of each change. Changes whose
// consent time is known are sent as a historical import, which Klaviyo
// takes as consent already collected: no double opt-in message, no
// "added to list" flows, and the consent dated when it was given. The
// others are subscribed now, under the account's opt-in setting.
func (k *Klaviyo) subscribe(ctx context.Context, cs []consentChange, errs []error) error {
	var historical, current []consentChange
	now := time.Now()
	for _, c := range cs {
		if t, err := time.Parse(time.RFC3339, c.at); c.at != "" && err == nil && t.Before(now) {
			historical = append(historical, c)
		} else {
			c.at = ""
			current = append(current, c)
		}
	}
	for _, group := range []struct {
		cs         []consentChange
		historical bool
	}{{historical, true}, {current, false}} {
		for start := 0; start < len(group.cs); start += maxSubscribe {
			chunk := group.cs[start:min(len(group.cs), start+maxSubscribe)]
			build := func(cs []consentChange) []byte {
				b := append([]byte(nil), `{"data":{"type":"profile-subscription-bulk-create-job","attributes":{"custom_source":`...)
				b = jsonenc.AppendString(b, k.customSource)
				b = append(b, `,"profiles":{"data":[`...)
				b = appendSubscriptions(b, cs, "SUBSCRIBED")
				b = append(b, `]},"historical_import":`...)
				if group.historical {
					b = append(b, "true"...)
				} else {
					b = append(b, "false"...)
				}
				return append(b, "}}}"...)
			}
			if err := k.postConsent(ctx, epSubscribe, chunk, build, errs, "klaviyo refused to subscribe the profile"); err != nil {
				return err
			}
		}
	}
	return nil
}

// unsubscribe withdraws consent on the channels of each change. No list is
// named: consent on a channel belongs to the profile, and Klaviyo
// unsubscribes profiles outside a named list globally anyway; naming one
// would only make the outcome depend on membership. Only the channels the
// sync maps are touched, and no profile is ever suppressed.
func (k *Klaviyo) unsubscribe(ctx context.Context, cs []consentChange, errs []error) error {
	for start := 0; start < len(cs); start += maxUnsubscribe {
		chunk := cs[start:min(len(cs), start+maxUnsubscribe)]
		build := func(cs []consentChange) []byte {
			b := append([]byte(nil), `{"data":{"type":"profile-subscription-bulk-delete-job","attributes":{"profiles":{"data":[`...)
			b = appendSubscriptions(b, cs, "UNSUBSCRIBED")
			return append(b, "]}}}}"...)
		}
		if err := k.postConsent(ctx, epUnsubscribe, chunk, build, errs, "klaviyo refused to unsubscribe the profile"); err != nil {
			return err
		}
	}
	return nil
}

func appendSubscriptions(b []byte, cs []consentChange, consent string) []byte {
	for i, c := range cs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"type":"profile","attributes":{`...)
		sep := false
		if c.ids.email != "" {
			b = append(b, `"email":`...)
			b = jsonenc.AppendString(b, c.ids.email)
			sep = true
		}
		if c.ids.phone != "" {
			if sep {
				b = append(b, ',')
			}
			b = append(b, `"phone_number":`...)
			b = jsonenc.AppendString(b, c.ids.phone)
		}
		b = append(b, `,"subscriptions":{`...)
		for j, ch := range c.channels {
			if j > 0 {
				b = append(b, ',')
			}
			b = jsonenc.AppendString(b, ch)
			b = append(b, `:{"marketing":{"consent":"`...)
			b = append(b, consent...)
			b = append(b, '"')
			if c.at != "" {
				b = append(b, `,"consented_at":`...)
				b = jsonenc.AppendString(b, c.at)
			}
			b = append(b, "}}"...)
		}
		b = append(b, "}}}"...)
	}
	return b
}

// postConsent sends one subscription call. A 400 that points at profiles
// rejects them and the call goes again without them; another refusal
// rejects every record of the call.
func (k *Klaviyo) postConsent(ctx context.Context, ep endpoint, cs []consentChange, build func([]consentChange) []byte, errs []error, what string) error {
	for attempt := 1; len(cs) > 0; attempt++ {
		ans, err := k.api.call(ctx, ep, ep.path, nil, build(cs))
		if err != nil {
			return err
		}
		if ans.status == http.StatusAccepted || ans.status == http.StatusNoContent || ans.status == http.StatusOK {
			return nil
		}
		var rest []consentChange
		pointed := false
		if ans.status == http.StatusBadRequest {
			bad := map[int]string{}
			for _, e := range ans.errors {
				if i, ok := profileIndex(e.Source.Pointer); ok && i < len(cs) {
					bad[i] = firstNonEmpty(e.Detail, e.Title, e.Code)
				}
			}
			pointed = len(bad) > 0
			for i, c := range cs {
				if msg, ok := bad[i]; ok {
					errs[c.idx] = fmt.Errorf("%s: %s", what, msg)
				} else {
					rest = append(rest, c)
				}
			}
		}
		if !pointed || attempt >= maxJobAttempts {
			if !pointed {
				rest = cs
			}
			for _, c := range rest {
				errs[c.idx] = fmt.Errorf("%s: %s", what, ans.message())
			}
			return nil
		}
		cs = rest
	}
	return nil
}
