package engine_test

import (
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/sluicehq/sluice/sync/engine"
	"github.com/sluicehq/sluice/sync/state"
)

// A lock's holder is dead, and its lock taken over, when its process of
// this host is gone, or when its heartbeat from another host is older than
// the lease; `sluice state show` says so by the same rule.
func TestDead(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	exited := exec.Command("true")
	if err := exited.Run(); err != nil {
		t.Skipf("no process to watch exit: %v", err)
	}
	e := &engine.Engine{Now: func() time.Time { return now }, Lease: 5 * time.Minute}
	cases := []struct {
		name      string
		host      string
		pid       int
		heartbeat time.Duration // ago
		dead      bool
	}{
		{"another host, fresh heartbeat", "elsewhere.example", 1, time.Minute, false},
		{"another host, heartbeat past the lease", "elsewhere.example", 1, 6 * time.Minute, true},
		{"this host, live process, old heartbeat", host, os.Getppid(), time.Hour, false},
		{"this host, process gone, fresh heartbeat", host, exited.Process.Pid, 0, true},
		{"this process, run no longer active", host, os.Getpid(), 0, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := state.Holder{RunID: "r", Host: tc.host, PID: int64(tc.pid), AcquiredAt: now.Add(-time.Hour), HeartbeatAt: now.Add(-tc.heartbeat)}
			if got := e.Dead(h); got != tc.dead {
				t.Errorf("Dead(%+v) = %v, want %v", h, got, tc.dead)
			}
		})
	}
}
