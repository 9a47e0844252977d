package fake

import (
	"net/http"
	"strconv"
	"time"
)

// Interval is the length of HubSpot's rolling burst window.
const Interval = 10 * time.Second

func tenSecondlyError() hsError {
	return hsError{Message: "You have reached your ten_secondly_rolling limit.", ErrorType: "RATE_LIMIT", PolicyName: "TEN_SECONDLY_ROLLING"}
}

// admit counts the request against the ten-second sliding window (the
// requests admitted in the last 10 s, not a clock-aligned bucket) and the
// daily limit (reset at midnight UTC; HubSpot uses the account's time
// zone), sets the X-HubSpot-RateLimit-* headers, and answers 429 with
// HubSpot's document when a limit is reached. Refused requests do not
// count, so the window frees up 10 s after the oldest admitted request.
// HubSpot sends no Retry-After, and neither does the fake.
func (s *Server) admit(c *call) bool {
	now := c.now
	s.mu.Lock()
	cut := 0
	for cut < len(s.window) && !s.window[cut].After(now.Add(-Interval)) {
		cut++
	}
	s.window = s.window[cut:]
	if d := now.UTC().Format(time.DateOnly); d != s.day {
		s.day, s.inDay = d, 0
	}
	ten, daily := s.opts.TenSecondly, s.opts.Daily
	var policy string
	switch {
	case daily > 0 && s.inDay >= daily:
		policy = "DAILY"
	case ten > 0 && len(s.window) >= ten:
		policy = "TEN_SECONDLY_ROLLING"
	default:
		s.window = append(s.window, now)
		s.inDay++
	}
	inTen, inDay := len(s.window), s.inDay
	inSecond := 0
	for _, t := range s.window {
		if t.After(now.Add(-time.Second)) {
			inSecond++
		}
	}
	s.mu.Unlock()

	h := c.w.Header()
	if ten > 0 {
		h.Set("X-HubSpot-RateLimit-Max", strconv.Itoa(ten))
		h.Set("X-HubSpot-RateLimit-Remaining", strconv.Itoa(max(0, ten-inTen)))
		h.Set("X-HubSpot-RateLimit-Interval-Milliseconds", strconv.Itoa(int(Interval/time.Millisecond)))
		// HubSpot still sends the per-second pair, documented as no longer
		// enforced; the fake reports it and does not enforce it either.
		perSecond := (ten + 9) / 10
		h.Set("X-HubSpot-RateLimit-Secondly", strconv.Itoa(perSecond))
		h.Set("X-HubSpot-RateLimit-Secondly-Remaining", strconv.Itoa(max(0, perSecond-inSecond)))
	}
	if daily > 0 {
		h.Set("X-HubSpot-RateLimit-Daily", strconv.Itoa(daily))
		h.Set("X-HubSpot-RateLimit-Daily-Remaining", strconv.Itoa(max(0, daily-inDay)))
	}
	switch policy {
	case "":
		return true
	case "DAILY":
		c.fail(http.StatusTooManyRequests, hsError{Message: "You have reached your daily limit.", ErrorType: "RATE_LIMIT", PolicyName: "DAILY"})
	default:
		c.fail(http.StatusTooManyRequests, tenSecondlyError())
	}
	return false
}
