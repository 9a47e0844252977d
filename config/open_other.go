//go:build !unix

package config

// openNonBlock: elsewhere the mode check before opening is the guard.
const openNonBlock = 0
