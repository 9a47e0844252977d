package erasure

import (
	"testing"
	"time"
)

func TestScrub(t *testing.T) {
	cases := []struct {
		name, msg string
		keys      []string
		want      string
	}{
		{"no key quoted", "HTTP 500: boom", []string{"a@x.com"}, "HTTP 500: boom"},
		{"a key quoted twice", "a@x.com refused: a@x.com unknown", []string{"a@x.com"}, "[erased key] refused: [erased key] unknown"},
		{"several keys", "a@x.com, b@x.com", []string{"a@x.com", "b@x.com"}, "[erased key], [erased key]"},
		{"an empty key changes nothing", "HTTP 500", []string{""}, "HTTP 500"},
		{"no keys", "a@x.com", nil, "a@x.com"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := scrub(c.msg, c.keys); got != c.want {
				t.Errorf("scrub(%q) = %q, want %q", c.msg, got, c.want)
			}
		})
	}
}

func TestStatus(t *testing.T) {
	done := time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)
	sync := func(outcome string) SyncAudit { return SyncAudit{Sync: "s_" + outcome, Outcome: outcome} }
	cases := []struct {
		name string
		a    Audit
		want string
	}{
		{"a sync pending", Audit{Profiles: 1, Syncs: []SyncAudit{sync(Done), sync(Pending)}}, StatusPending},
		{"a sync failed", Audit{Profiles: 1, Syncs: []SyncAudit{sync(Failed)}}, StatusPending},
		{"every sync through, not closed", Audit{Profiles: 1, Syncs: []SyncAudit{sync(Done), sync(NotHeld)}}, StatusWaiting},
		{"nothing synced, not closed", Audit{Profiles: 1}, StatusWaiting},
		{"closed", Audit{Profiles: 1, CompletedAt: &done, Syncs: []SyncAudit{sync(Done)}}, StatusDone},
		{"closed with a manual sync", Audit{Profiles: 1, CompletedAt: &done, Syncs: []SyncAudit{sync(Done), sync(Manual)}}, StatusManual},
		{"closed, nobody held it", Audit{CompletedAt: &done}, StatusNoMatch},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := status(&c.a); got != c.want {
				t.Errorf("status = %s, want %s", got, c.want)
			}
		})
	}
}

func TestApply(t *testing.T) {
	at := func(h int) time.Time { return time.Date(2026, 1, 1, h, 0, 0, 0, time.UTC) }
	msg := "HTTP 500"
	events := []eventRow{
		{Outcome: Pending, Keys: 2, At: at(1)},
		{Outcome: Failed, Keys: 2, At: at(2), Error: &msg},
		{Outcome: Done, Keys: 2, At: at(3)},
	}
	cases := []struct {
		name     string
		n        int // events applied
		outcome  string
		attempts int
		err      string
		doneAt   bool
	}{
		{"queued", 1, Pending, 0, "", false},
		{"failed once", 2, Failed, 1, msg, false},
		{"done on the retry", 3, Done, 2, "", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sa := &SyncAudit{}
			for _, e := range events[:c.n] {
				apply(sa, e)
			}
			if sa.Outcome != c.outcome || sa.Attempts != c.attempts || sa.Error != c.err || (sa.DoneAt != nil) != c.doneAt || sa.Keys != 2 {
				t.Errorf("after %d events: %+v", c.n, sa)
			}
			if c.attempts > 0 && (sa.SentAt == nil || !sa.SentAt.Equal(at(2))) {
				t.Errorf("sent at %v, want the first attempt's time", sa.SentAt)
			}
		})
	}
}
