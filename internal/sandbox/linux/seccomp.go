//go:build linux

package linux

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The seccomp filter every sandboxed process runs under. It is a deny
// list on top of what an unprivileged user without capabilities may do
// anyway: it closes kernel attack surface (bpf, io_uring, keyrings,
// userfaultfd, perf) and keeps the sandbox's namespaces and mounts as the
// driver made them.
//
// Denied with EPERM:
//   - every syscall in deniedSyscalls (and archDeniedSyscalls);
//   - clone with any CLONE_NEW* flag;
//   - socket(AF_PACKET, ...), socket(*, SOCK_RAW, ...) and AF_NETLINK
//     with any protocol but NETLINK_ROUTE (which libcs and language
//     runtimes use to list interfaces: the sandbox only has lo, and
//     changing it needs CAP_NET_ADMIN).
//
// clone3 gets ENOSYS, so that libcs fall back to clone, whose flags the
// filter can see (clone3 passes them in memory). A syscall of another
// architecture (i386 or x32 on amd64) kills the process.

// deniedSyscalls exist on every supported architecture.
var deniedSyscalls = []uintptr{
	unix.SYS_PTRACE, unix.SYS_PROCESS_VM_READV, unix.SYS_PROCESS_VM_WRITEV,
	unix.SYS_MOUNT, unix.SYS_UMOUNT2, unix.SYS_PIVOT_ROOT, unix.SYS_CHROOT,
	unix.SYS_FSOPEN, unix.SYS_FSCONFIG, unix.SYS_FSMOUNT, unix.SYS_FSPICK,
	unix.SYS_MOVE_MOUNT, unix.SYS_OPEN_TREE, unix.SYS_MOUNT_SETATTR,
	unix.SYS_UNSHARE, unix.SYS_SETNS,
	unix.SYS_BPF, unix.SYS_PERF_EVENT_OPEN, unix.SYS_USERFAULTFD,
	unix.SYS_IO_URING_SETUP, unix.SYS_IO_URING_ENTER, unix.SYS_IO_URING_REGISTER,
	unix.SYS_KEYCTL, unix.SYS_ADD_KEY, unix.SYS_REQUEST_KEY,
	unix.SYS_OPEN_BY_HANDLE_AT, unix.SYS_NAME_TO_HANDLE_AT,
	unix.SYS_KEXEC_LOAD, unix.SYS_KEXEC_FILE_LOAD,
	unix.SYS_INIT_MODULE, unix.SYS_FINIT_MODULE, unix.SYS_DELETE_MODULE,
	unix.SYS_REBOOT, unix.SYS_SWAPON, unix.SYS_SWAPOFF, unix.SYS_ACCT,
	unix.SYS_QUOTACTL, unix.SYS_SYSLOG, unix.SYS_VHANGUP,
	unix.SYS_SETTIMEOFDAY, unix.SYS_CLOCK_SETTIME, unix.SYS_CLOCK_ADJTIME,
}

// The flags of clone that create namespaces. CLONE_NEWTIME is left out:
// its bit is part of the exit signal in clone's flags.
const cloneNamespaceFlags = unix.CLONE_NEWNS | unix.CLONE_NEWCGROUP | unix.CLONE_NEWUTS |
	unix.CLONE_NEWIPC | unix.CLONE_NEWUSER | unix.CLONE_NEWPID | unix.CLONE_NEWNET

// Offsets in struct seccomp_data; arguments are read by their low 32 bits
// (little-endian), which is all the kernel reads of an int argument.
const (
	offNr   = 0
	offArch = 4
)

func offArg(i int) uint32 { return 16 + 8*uint32(i) }

// insn is one instruction before assembly: jumps name labels ("" is the
// next instruction); an insn with label set is a position, not code.
type insn struct {
	code   uint16
	k      uint32
	jt, jf string
	label  string
}

func ld(off uint32) insn { return insn{code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, k: off} }
func and(k uint32) insn  { return insn{code: unix.BPF_ALU | unix.BPF_AND | unix.BPF_K, k: k} }
func jeq(k uint32, jt, jf string) insn {
	return insn{code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, k: k, jt: jt, jf: jf}
}
func jge(k uint32, jt, jf string) insn {
	return insn{code: unix.BPF_JMP | unix.BPF_JGE | unix.BPF_K, k: k, jt: jt, jf: jf}
}
func jset(k uint32, jt, jf string) insn {
	return insn{code: unix.BPF_JMP | unix.BPF_JSET | unix.BPF_K, k: k, jt: jt, jf: jf}
}
func ret(k uint32) insn      { return insn{code: unix.BPF_RET | unix.BPF_K, k: k} }
func label(name string) insn { return insn{label: name} }

const (
	retAllow  = unix.SECCOMP_RET_ALLOW
	retKill   = unix.SECCOMP_RET_KILL_PROCESS
	retEPERM  = unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM)
	retENOSYS = unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS)
)

// seccompProgram returns the filter, assembled.
func seccompProgram() ([]unix.SockFilter, error) {
	p := []insn{
		ld(offArch),
		jeq(auditArch, "", "kill"),
		ld(offNr),
	}
	if x32SyscallBit != 0 {
		p = append(p, jge(x32SyscallBit, "kill", ""))
	}
	for _, nr := range append(append([]uintptr(nil), deniedSyscalls...), archDeniedSyscalls...) {
		p = append(p, jeq(uint32(nr), "eperm", ""))
	}
	p = append(p,
		jeq(unix.SYS_CLONE3, "enosys", ""),
		jeq(unix.SYS_CLONE, "clone", ""),
		jeq(unix.SYS_SOCKET, "socket", ""),
		ret(retAllow),

		label("clone"),
		ld(offArg(0)),
		jset(cloneNamespaceFlags, "eperm", "allow"),

		label("socket"),
		ld(offArg(0)),
		jeq(unix.AF_PACKET, "eperm", ""),
		jeq(unix.AF_NETLINK, "netlink", ""),
		ld(offArg(1)),
		and(0xf), // SOCK_TYPE_MASK: drops SOCK_NONBLOCK and SOCK_CLOEXEC
		jeq(unix.SOCK_RAW, "eperm", "allow"),

		label("netlink"),
		ld(offArg(2)),
		jeq(unix.NETLINK_ROUTE, "allow", "eperm"),

		label("allow"), ret(retAllow),
		label("eperm"), ret(retEPERM),
		label("enosys"), ret(retENOSYS),
		label("kill"), ret(retKill),
	)
	return assemble(p)
}

// assemble resolves labels into the forward jump offsets of classic BPF.
func assemble(p []insn) ([]unix.SockFilter, error) {
	pos := map[string]int{}
	n := 0
	for _, in := range p {
		if in.label != "" {
			pos[in.label] = n
			continue
		}
		n++
	}
	out := make([]unix.SockFilter, 0, n)
	for _, in := range p {
		if in.label != "" {
			continue
		}
		i := len(out)
		off := func(l string) (uint8, error) {
			if l == "" {
				return 0, nil
			}
			t, ok := pos[l]
			if !ok {
				return 0, fmt.Errorf("seccomp: no label %q", l)
			}
			d := t - i - 1
			if d < 0 || d > 255 {
				return 0, fmt.Errorf("seccomp: jump to %q out of range (%d)", l, d)
			}
			return uint8(d), nil
		}
		jt, err := off(in.jt)
		if err != nil {
			return nil, err
		}
		jf, err := off(in.jf)
		if err != nil {
			return nil, err
		}
		out = append(out, unix.SockFilter{Code: in.code, Jt: jt, Jf: jf, K: in.k})
	}
	return out, nil
}

// installSeccomp loads the filter for the calling thread only (no TSYNC):
// the thread that then forks the sandboxed process. no_new_privs must be
// set on the thread already.
func installSeccomp(filter []unix.SockFilter) error {
	prog := unix.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]}
	_, _, errno := unix.RawSyscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, 0, uintptr(unsafe.Pointer(&prog)))
	if errno != 0 {
		return fmt.Errorf("seccomp: %w", errno)
	}
	return nil
}
