//go:build linux && !amd64 && !arm64

package linux

// The filter is only written for amd64 and arm64; Available refuses other
// architectures.
const (
	seccompSupported = false
	auditArch        = 0
	x32SyscallBit    = 0
)

var archDeniedSyscalls []uintptr
