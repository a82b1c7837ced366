//go:build !linux

package process

import (
	"runtime"
	"syscall"
)

// procAttr puts the child in its own process group. Without a
// parent-death signal, a child outlives a crashed server.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}

// maxrssUnit is the unit of rusage's ru_maxrss: bytes on macOS,
// kilobytes elsewhere.
var maxrssUnit int64 = 1024

func init() {
	if runtime.GOOS == "darwin" || runtime.GOOS == "ios" {
		maxrssUnit = 1
	}
}
