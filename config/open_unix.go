//go:build unix

package config

import "syscall"

// openNonBlock keeps opening a FIFO that appeared after the mode check from
// blocking until a writer comes.
const openNonBlock = syscall.O_NONBLOCK
