package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Duration is a time span written as a number and a unit: 90d, 12h, 30m, 4w.
// Days and weeks are calendar-free multiples of 24 hours.
type Duration struct {
	D    time.Duration
	Text string
}

// MaxDuration bounds every duration of a project: longer spans are typos,
// and much longer ones would overflow.
const MaxDuration = 3650 * 24 * time.Hour

var durationUnits = map[string]time.Duration{
	"s": time.Second, "m": time.Minute, "h": time.Hour,
	"d": 24 * time.Hour, "w": 7 * 24 * time.Hour,
}

func (d *Duration) decodeScalar(s string) error {
	s = strings.TrimSpace(s)
	i := strings.IndexFunc(s, func(r rune) bool { return r < '0' || r > '9' })
	if i <= 0 {
		return fmt.Errorf("write a whole number and a unit (s, m, h, d, w), e.g. 90d")
	}
	n, err := strconv.Atoi(s[:i])
	if err != nil || n <= 0 {
		return fmt.Errorf("write a positive whole number and a unit, e.g. 90d")
	}
	unit, ok := durationUnits[s[i:]]
	if !ok {
		return fmt.Errorf("unknown unit %q: use s, m, h, d or w", s[i:])
	}
	if time.Duration(n) > MaxDuration/unit {
		return fmt.Errorf("at most 3650d (ten years)")
	}
	d.D, d.Text = time.Duration(n)*unit, s
	return nil
}

// IsZero reports whether no duration was given.
func (d Duration) IsZero() bool { return d.D == 0 }
