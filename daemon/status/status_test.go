package status

import (
	"testing"
	"time"
)

func TestMaskKey(t *testing.T) {
	tests := []struct{ in, want string }{
		{"ann.lee@example.com", "a***@e***.com"},
		{"bob@localhost", "b***@l***"},
		{"+33612345678", "+3********"},
		{"C000123", "C0*****"},
		{"abc", "***"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := MaskKey(tt.in); got != tt.want {
			t.Errorf("MaskKey(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestAgo(t *testing.T) {
	now := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		at   time.Time
		want string
	}{
		{now.Add(-30 * time.Second), "30s ago"},
		{now.Add(-90 * time.Minute), "1h30m ago"},
		{now.Add(15 * time.Minute), "in 15m"},
		{now.Add(-72 * time.Hour), "3d ago"},
		{time.Time{}, ""},
	}
	for _, tt := range tests {
		if got := ago(now, tt.at); got != tt.want {
			t.Errorf("ago(%s) = %q, want %q", tt.at, got, tt.want)
		}
	}
}
