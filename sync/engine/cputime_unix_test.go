//go:build unix

package engine_test

import (
	"syscall"
	"time"
)

// cpuTime is the process's user+system CPU time so far (DuckDB's threads
// and the in-process fake webhook included).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
