//go:build linux

package main

import (
	"os/exec"
	"syscall"
)

// nsFlags are the namespaces a linux sandbox gets: mount, pid, ipc, uts
// and network.
const nsFlags = syscall.CLONE_NEWNS | syscall.CLONE_NEWPID | syscall.CLONE_NEWIPC | syscall.CLONE_NEWUTS | syscall.CLONE_NEWNET

// inNamespaces makes cmd start in new namespaces as a linux sandbox's init
// does. It needs root.
func inNamespaces(cmd *exec.Cmd) bool {
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: nsFlags}
	return true
}

// processCPU is the CPU time, in seconds, this process has used.
func processCPU() float64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}
