package config

import (
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nyaruka/phonenumbers"
	"github.com/robfig/cron/v3"
)

// checkURL returns what is wrong with an address sluice sends requests to,
// or "". literal tells that the value is written in the file: a password
// there would end up in version control.
func checkURL(s string, literal bool) string {
	if strings.ContainsAny(s, " \t\r\n") {
		return "an address has no spaces (encode them as %20)"
	}
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return "write an absolute http:// or https:// address"
	case u.Scheme != "http" && u.Scheme != "https":
		return "write an absolute http:// or https:// address"
	case u.Hostname() == "":
		return "the address has no host name"
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return "the port must be between 1 and 65535"
		}
	}
	if _, hasPassword := u.User.Password(); literal && hasPassword {
		return "the address carries a password: pass credentials as a ${VAR} reference (bearer_token, headers), never in the file"
	}
	return ""
}

// shownURL renders an address for a message: hidden when it came from the
// environment, with its password masked otherwise.
func shownURL(s string, fromEnv bool) string {
	if fromEnv {
		return "(value from environment)"
	}
	if u, err := url.Parse(s); err == nil && u.User != nil {
		return shortQuote(u.Redacted())
	}
	return shortQuote(s)
}

// Schedules of `@every D` run at most once a second: robfig/cron rounds
// shorter delays up, and reads a negative one as one second.
const minEvery = time.Second

// checkSchedule returns what is wrong with a sync's cron schedule, or "".
func checkSchedule(s string) string {
	if rest, ok := strings.CutPrefix(strings.TrimSpace(s), "@every"); ok {
		d, err := time.ParseDuration(strings.TrimSpace(rest))
		switch {
		case err != nil:
			return "write @every and a Go duration such as 15m or 1h30m"
		case d < minEvery:
			return "the interval must be at least 1s"
		case d%time.Second != 0:
			return "the interval must be a whole number of seconds"
		}
		return ""
	}
	if _, err := cron.ParseStandard(s); err != nil {
		return err.Error() + " (write five cron fields such as */15 * * * *, or @hourly, @daily, @every 15m)"
	}
	return ""
}

var (
	phoneRegionsMu  sync.RWMutex
	sqlPhoneRegions []string
)

// SetIDTypePhoneRegions tells validation which default_region codes the
// phone_e164 normalisation of id types supports: it runs in SQL, for a
// subset of the regions the phone library knows. The identity model calls
// it when it is linked in.
func SetIDTypePhoneRegions(regions []string) {
	phoneRegionsMu.Lock()
	defer phoneRegionsMu.Unlock()
	sqlPhoneRegions = slices.Sorted(slices.Values(regions))
}

// idTypePhoneRegions lists the regions id types may use.
func idTypePhoneRegions() []string {
	phoneRegionsMu.RLock()
	defer phoneRegionsMu.RUnlock()
	if sqlPhoneRegions != nil {
		return sqlPhoneRegions
	}
	return phoneLibraryRegions()
}

// phoneLibraryRegions lists the regions nyaruka/phonenumbers knows, which
// is what the phone_e164 mapping transform reads numbers with.
var phoneLibraryRegions = sync.OnceValue(func() []string {
	var out []string
	for r := range phonenumbers.GetSupportedRegions() {
		out = append(out, r)
	}
	slices.Sort(out)
	return out
})

// checkRegion returns what is wrong with a region code, or "".
func checkRegion(s string, known []string) string {
	if slices.Contains(known, s) {
		return ""
	}
	// Two-letter codes are all one typo apart: suggest only a case fix.
	hint := ""
	if up := strings.ToUpper(strings.TrimSpace(s)); up != s && slices.Contains(known, up) {
		hint = "; did you mean " + quote(up) + "?"
	}
	if len(known) > 40 {
		return fmt.Sprintf("not a region code: write a two-letter ISO 3166 code such as FR or US%s", hint)
	}
	return fmt.Sprintf("not a supported region: use one of %s%s", strings.Join(known, ", "), hint)
}
