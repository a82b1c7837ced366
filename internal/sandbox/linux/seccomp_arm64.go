//go:build linux

package linux

import "golang.org/x/sys/unix"

const (
	seccompSupported = true
	auditArch        = unix.AUDIT_ARCH_AARCH64
	x32SyscallBit    = 0
)

var archDeniedSyscalls []uintptr
