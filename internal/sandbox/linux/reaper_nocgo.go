//go:build linux && !cgo

package linux

// reaperFD is -1: without cgo there is no C PID 1, the Go init is PID 1
// itself (doc.go).
func reaperFD() int { return -1 }

// cReaper: sandboxes get no C PID 1.
const cReaper = false
