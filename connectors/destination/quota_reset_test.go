package destination

import (
	"errors"
	"net/http/httptest"
	"testing"
	"time"
)

// TestQuotaSpacingEndsAtTheReset: requests queued while a quota ran low
// (spaced until its reset) go at the reset, not at the old spacing, which
// would leave the next window mostly unused.
func TestQuotaSpacingEndsAtTheReset(t *testing.T) {
	p := newQuotaPacer(&QuotaHeaders{Limit: "L", Remaining: "R", Reset: "S"})
	r := httptest.NewRequest("POST", "/jobs", nil)
	now := time.Now()
	_, st := p.state(r)
	st.gap, st.gapUntil, st.next = 4*time.Second, now.Add(6*time.Second), now.Add(5*time.Second)
	var waits []time.Duration
	for range 3 {
		// A wait above maxWait comes back as a *QuotaError saying how long
		// it would be: the booking, without sleeping.
		_, err := p.wait(r, "vendor", 10*time.Millisecond)
		var qe *QuotaError
		if !errors.As(err, &qe) {
			t.Fatalf("want a wait, got %v", err)
		}
		waits = append(waits, qe.Wait.Round(time.Second))
	}
	want := []time.Duration{5 * time.Second, 6 * time.Second, 6 * time.Second}
	for i := range want {
		if waits[i] != want[i] {
			t.Fatalf("waits %v, want %v (the spacing must stop at the reset)", waits, want)
		}
	}
}
