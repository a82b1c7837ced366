package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"
)

// isolation tries each forbidden thing; the value is "" when it worked
// (a breach) and the error otherwise, except "proc" which lists the pids
// the probe can see.
func isolation() map[string]string {
	r := map[string]string{}
	try := func(name string, f func() error) { r[name] = errString(f()) }

	try("read /etc/shadow", func() error { _, err := os.ReadFile("/etc/shadow"); return err })
	try("list /root", func() error { _, err := os.ReadDir("/root"); return err })
	if p := os.Getenv("PROBE_SECRET"); p != "" {
		try("read host secret file", func() error { _, err := os.ReadFile(p); return err })
	}
	if p := os.Getenv("PROBE_OTHER_CODE"); p != "" {
		try("read other sandbox's code dir", func() error { _, err := os.ReadFile(filepath.Join(p, "marker")); return err })
	}
	try("ptrace(PTRACE_TRACEME)", func() error { return ptrace(0 /* PTRACE_TRACEME */, 0) })
	try("ptrace(PTRACE_ATTACH, 1)", func() error { return ptrace(syscall.PTRACE_ATTACH, 1) })
	try("mount tmpfs", func() error { return syscall.Mount("tmpfs", "/tmp", "tmpfs", 0, "size=1m") })
	try("unshare(CLONE_NEWUSER)", func() error { return unshare(syscall.CLONE_NEWUSER) })
	try("unshare(CLONE_NEWNS)", func() error { return unshare(syscall.CLONE_NEWNS) })
	try("clone(CLONE_NEWUSER)", func() error { return spawn(&syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWUSER}) })
	try("clone(CLONE_NEWNET)", func() error { return spawn(&syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET}) })
	try("socket(AF_PACKET)", func() error { return socket(syscall.AF_PACKET, syscall.SOCK_RAW, 0x0300) })
	try("socket(AF_INET, SOCK_RAW)", func() error { return socket(syscall.AF_INET, syscall.SOCK_RAW, syscall.IPPROTO_ICMP) })
	try("socket(AF_NETLINK, NETLINK_AUDIT)", func() error { return socket(syscall.AF_NETLINK, syscall.SOCK_RAW, 9) })
	try("write /var/task", func() error { return os.WriteFile("/var/task/written", []byte("x"), 0o644) })
	try("setuid(0)", func() error { return syscall.Setuid(0) })
	try("add_key", func() error {
		typ, desc := []byte("user\x00"), []byte("kumo\x00")
		payload := []byte("x")
		_, _, e := syscall.Syscall6(syscall.SYS_ADD_KEY, uintptr(unsafe.Pointer(&typ[0])), uintptr(unsafe.Pointer(&desc[0])),
			uintptr(unsafe.Pointer(&payload[0])), 1, ^uintptr(1) /* KEY_SPEC_PROCESS_KEYRING = -2 */, 0)
		return errno(e)
	})
	try("io_uring_setup", func() error {
		var params [120]byte
		fd, _, e := syscall.Syscall(425 /* SYS_io_uring_setup, same on amd64 and arm64 */, 4, uintptr(unsafe.Pointer(&params[0])), 0)
		if e == 0 {
			syscall.Close(int(fd))
		}
		return errno(e)
	})
	try("run as root", func() error {
		if os.Getuid() == 0 || os.Geteuid() == 0 {
			return nil
		}
		return fmt.Errorf("uid %d", os.Getuid())
	})
	try("hold capabilities, lack no_new_privs or seccomp", func() error {
		b, err := os.ReadFile("/proc/self/status")
		if err != nil {
			return nil // cannot tell: count it as a breach
		}
		want := map[string]string{"CapInh": "0000000000000000", "CapPrm": "0000000000000000", "CapEff": "0000000000000000",
			"CapBnd": "0000000000000000", "CapAmb": "0000000000000000", "NoNewPrivs": "1", "Seccomp": "2"}
		var got []string
		for _, line := range strings.Split(string(b), "\n") {
			k, v, _ := strings.Cut(line, ":")
			if w, ok := want[k]; ok {
				if strings.TrimSpace(v) != w {
					return nil
				}
				got = append(got, k+"="+strings.TrimSpace(v))
			}
		}
		if len(got) != len(want) {
			return nil
		}
		return fmt.Errorf("%s", strings.Join(got, " "))
	})
	for _, name := range []string{"PROBE_HOST_LO", "PROBE_HOST_IP"} {
		if addr := os.Getenv(name); addr != "" {
			try("connect "+addr, func() error {
				c, err := net.DialTimeout("tcp", addr, 2*time.Second)
				if err == nil {
					c.Close()
				}
				return err
			})
		}
	}
	ents, _ := os.ReadDir("/proc")
	var pids []string
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err == nil {
			pids = append(pids, e.Name())
		}
	}
	r["proc"] = strings.Join(pids, " ")
	return r
}

func errno(e syscall.Errno) error {
	if e == 0 {
		return nil
	}
	return e
}

func ptrace(req, pid int) error {
	_, _, e := syscall.RawSyscall6(syscall.SYS_PTRACE, uintptr(req), uintptr(pid), 0, 0, 0, 0)
	if e == 0 && req == syscall.PTRACE_ATTACH {
		syscall.RawSyscall6(syscall.SYS_PTRACE, syscall.PTRACE_DETACH, uintptr(pid), 0, 0, 0, 0)
	}
	return errno(e)
}

// unshare runs on a thread of its own that is thrown away afterwards, so a
// success cannot leak into the rest of the probe.
func unshare(flags int) error {
	ch := make(chan error)
	go func() {
		runtime.LockOSThread()
		_, _, e := syscall.RawSyscall(syscall.SYS_UNSHARE, uintptr(flags), 0, 0)
		ch <- errno(e)
	}()
	return <-ch
}

func spawn(attr *syscall.SysProcAttr) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	cmd := exec.Command(self, "exit", "0")
	cmd.SysProcAttr = attr
	return cmd.Run()
}

func socket(domain, typ, proto int) error {
	fd, err := syscall.Socket(domain, typ, proto)
	if err == nil {
		syscall.Close(fd)
	}
	return err
}
