//go:build linux

package linux

import "golang.org/x/sys/unix"

const (
	seccompSupported = true
	auditArch        = unix.AUDIT_ARCH_X86_64
	// x32SyscallBit marks x32 ABI syscalls, which the filter refuses.
	x32SyscallBit = 0x40000000
)

var archDeniedSyscalls = []uintptr{unix.SYS_IOPL, unix.SYS_IOPERM, unix.SYS_USELIB, unix.SYS__SYSCTL}
