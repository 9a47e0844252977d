//go:build unix

package daemon

import (
	"errors"
	"syscall"
)

// processAlive reports whether a process of this host is running.
func processAlive(pid int64) bool {
	if pid <= 0 {
		return false
	}
	err := syscall.Kill(int(pid), 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
