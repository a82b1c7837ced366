package process

import "syscall"

// procAttr puts the child in its own process group and kills it when the
// server dies.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// maxrssUnit is the unit of rusage's ru_maxrss: kilobytes on Linux.
const maxrssUnit = 1024
