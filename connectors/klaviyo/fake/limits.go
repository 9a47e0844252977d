package fake

import (
	"net/http"
	"strconv"
	"time"
)

// Limit is an operation's rate limit in Klaviyo's fixed windows: at most
// Burst requests in each second and Steady in each minute (and Daily in
// each day, when set). Zero fields do not limit.
type Limit struct {
	Burst, Steady, Daily int
}

// KlaviyoLimits returns the limits Klaviyo publishes for the operations the
// fake serves (x-klaviyo-ratelimit in its API description, revision
// 2026-07-15).
func KlaviyoLimits() map[string]Limit {
	m := Limit{Burst: 10, Steady: 150}
	l := Limit{Burst: 75, Steady: 750}
	return map[string]Limit{
		"get_accounts":                            {Burst: 1, Steady: 15},
		"get_lists":                               l,
		"create_list":                             {Burst: 10, Steady: 150, Daily: 150},
		"get_list":                                l,
		"get_profile_ids_for_list":                l,
		"add_profiles_to_list":                    m,
		"remove_profiles_from_list":               m,
		"get_profiles":                            l,
		"bulk_import_profiles":                    m,
		"get_bulk_import_profiles_jobs":           m,
		"get_bulk_import_profiles_job":            m,
		"get_errors_for_bulk_import_profiles_job": m,
		"bulk_subscribe_profiles":                 l,
		"bulk_unsubscribe_profiles":               l,
		"request_profile_deletion":                {Burst: 3, Steady: 60},
	}
}

// windowCounts counts one operation's requests in the current windows.
type windowCounts struct {
	second, minute, day       int64 // window numbers
	inSecond, inMinute, inDay int
}

// admit counts the request against its operation's limits, or answers 429
// with Retry-After (whole seconds until the window that is full resets)
// and Klaviyo's throttled document. Windows are fixed and aligned to the
// clock, as Klaviyo documents.
func (s *Server) admit(c *call, now time.Time) bool {
	lim, ok := s.opts.Limits[c.op.id]
	if !ok {
		return true
	}
	steadyLen := s.opts.SteadyWindow
	if steadyLen <= 0 {
		steadyLen = time.Minute
	}
	window := func(d time.Duration) (n int64, end time.Time) {
		n = now.UnixNano() / int64(d)
		return n, time.Unix(0, (n+1)*int64(d))
	}
	sec, secEnd := window(time.Second)
	min, minEnd := window(steadyLen)
	day, dayEnd := window(24 * time.Hour)
	s.mu.Lock()
	wc := s.windows[c.op.id]
	if wc == nil {
		wc = &windowCounts{}
		s.windows[c.op.id] = wc
	}
	if wc.second != sec {
		wc.second, wc.inSecond = sec, 0
	}
	if wc.minute != min {
		wc.minute, wc.inMinute = min, 0
	}
	if wc.day != day {
		wc.day, wc.inDay = day, 0
	}
	var wait time.Duration
	switch {
	case lim.Daily > 0 && wc.inDay >= lim.Daily:
		wait = dayEnd.Sub(now)
	case lim.Steady > 0 && wc.inMinute >= lim.Steady:
		wait = minEnd.Sub(now)
	case lim.Burst > 0 && wc.inSecond >= lim.Burst:
		wait = secEnd.Sub(now)
	}
	if wait == 0 {
		wc.inSecond++
		wc.inMinute++
		wc.inDay++
	}
	remaining := lim.Steady - wc.inMinute
	s.mu.Unlock()
	if wait > 0 {
		secs := int((wait + time.Second - 1) / time.Second)
		c.w.Header().Set("Retry-After", strconv.Itoa(secs))
		c.fail(http.StatusTooManyRequests, apiError{Code: "throttled", Title: "Request was throttled.",
			Detail: "Request was throttled. Expected available in " + strconv.Itoa(secs) + " second" + plural(secs) + "."})
		return false
	}
	if lim.Steady > 0 {
		// The steady window's state, as Klaviyo reports it on answers that
		// are not 429s.
		h := c.w.Header()
		h.Set("RateLimit-Limit", strconv.Itoa(lim.Steady))
		h.Set("RateLimit-Remaining", strconv.Itoa(max(0, remaining)))
		h.Set("RateLimit-Reset", strconv.Itoa(int((minEnd.Sub(now)+time.Second-1)/time.Second)))
	}
	return true
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
