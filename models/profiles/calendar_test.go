package profiles_test

import (
	"testing"
	"time"

	"github.com/sluicehq/sluice/models/profiles"
)

func TestCalendarDays(t *testing.T) {
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		from, to time.Time
		want     int
	}{
		{time.Date(2026, 3, 28, 23, 0, 0, 0, paris), time.Date(2026, 3, 29, 0, 30, 0, 0, paris), 1},  // 1h30 later, next day
		{time.Date(2026, 3, 28, 0, 0, 0, 0, paris), time.Date(2026, 3, 29, 23, 59, 0, 0, paris), 1},  // across the 23-hour day
		{time.Date(2026, 10, 24, 12, 0, 0, 0, paris), time.Date(2026, 10, 26, 1, 0, 0, 0, paris), 2}, // across the 25-hour day
		{time.Date(2026, 3, 1, 10, 0, 0, 0, paris), time.Date(2026, 3, 1, 23, 0, 0, 0, paris), 0},
		{time.Date(2026, 3, 2, 1, 0, 0, 0, paris), time.Date(2026, 3, 1, 23, 0, 0, 0, paris), -1},
	}
	for _, tc := range tests {
		if got := profiles.CalendarDays(tc.from, tc.to); got != tc.want {
			t.Errorf("CalendarDays(%s, %s) = %d, want %d", tc.from, tc.to, got, tc.want)
		}
	}
}
