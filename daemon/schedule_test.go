package daemon

import (
	"testing"
	"time"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/models"
)

func TestScheduleNext(t *testing.T) {
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	from := time.Date(2030, 1, 7, 8, 7, 0, 0, time.UTC) // a Monday, 09:07 in Paris
	tests := []struct {
		spec string
		loc  *time.Location
		want []time.Time // the next three firings after from
	}{
		{"*/15 * * * *", time.UTC, []time.Time{at(8, 15), at(8, 30), at(8, 45)}},
		{"@hourly", time.UTC, []time.Time{at(9, 0), at(10, 0), at(11, 0)}},
		{"@every 20m", time.UTC, []time.Time{from.Add(20 * time.Minute), from.Add(40 * time.Minute), from.Add(time.Hour)}},
		// Nine o'clock in the project's time zone is 08:00 UTC in winter.
		{"0 9 * * *", paris, []time.Time{at(8, 0).AddDate(0, 0, 1), at(8, 0).AddDate(0, 0, 2), at(8, 0).AddDate(0, 0, 3)}},
		{"CRON_TZ=UTC 0 9 * * *", paris, []time.Time{at(9, 0), at(9, 0).AddDate(0, 0, 1), at(9, 0).AddDate(0, 0, 2)}},
		{"30 8 * * 1-5", time.UTC, []time.Time{at(8, 30), at(8, 30).AddDate(0, 0, 1), at(8, 30).AddDate(0, 0, 2)}},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			s, err := ParseSchedule(tt.spec, tt.loc)
			if err != nil {
				t.Fatal(err)
			}
			got := from
			for i, want := range tt.want {
				got = s.Next(got)
				if !got.Equal(want) {
					t.Fatalf("firing %d: got %s, want %s", i+1, got, want)
				}
			}
			if after := s.After(from, len(tt.want)); !after.Equal(tt.want[len(tt.want)-1]) {
				t.Errorf("After(from, %d) = %s, want %s", len(tt.want), after, tt.want[len(tt.want)-1])
			}
		})
	}
	for _, bad := range []string{"* * * *", "@fortnightly", "61 * * * *", "0 0 * * * *"} {
		if _, err := ParseSchedule(bad, time.UTC); err == nil {
			t.Errorf("ParseSchedule(%q) accepted", bad)
		}
	}
}

func at(h, m int) time.Time { return time.Date(2030, 1, 7, h, m, 0, 0, time.UTC) }

func TestNeeds(t *testing.T) {
	tests := []struct {
		from string
		want models.StepKind
	}{
		{"source.orders", models.KindSource},
		{"profiles", models.KindProfiles},
		{"segment.vip", models.KindSegment},
	}
	for _, tt := range tests {
		if got := needs(config.Sync{From: tt.from}); got != buildRank[tt.want] {
			t.Errorf("needs(%s) = %d, want %d (%s)", tt.from, got, buildRank[tt.want], tt.want)
		}
	}
}

func TestRedact(t *testing.T) {
	tests := []struct{ in, want string }{
		{`HTTP 400: {"error":"invalid email Ann.Lee@example.co.uk"}`, `HTTP 400: {"error":"invalid email [email]"}`},
		{"phone +33612345678 is not mobile", "phone [phone] is not mobile"},
		{"HTTP 503 after 5 attempts", "HTTP 503 after 5 attempts"},
	}
	for _, tt := range tests {
		if got := Redact(tt.in); got != tt.want {
			t.Errorf("Redact(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
