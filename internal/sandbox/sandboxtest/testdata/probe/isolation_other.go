//go:build !linux

package main

import "runtime"

// isolation has no checks to run outside Linux: a driver that claims
// isolation there fails the suite.
func isolation() map[string]string {
	return map[string]string{"isolation checks on " + runtime.GOOS: ""}
}
