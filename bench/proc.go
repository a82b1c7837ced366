package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Everything here reads /proc and /sys/fs/cgroup of this machine; on other
// systems the readers return zero values and the figures that need them are
// reported as unavailable.

// procKB reads a "Name:   123 kB" field of /proc/<pid>/status (VmRSS,
// VmHWM) or /proc/<pid>/smaps_rollup (Pss). 0 when unreadable.
func procKB(pid int, file, field string) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/%s", pid, file))
	if err != nil {
		return 0
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				n, _ := strconv.ParseInt(f[0], 10, 64)
				return n
			}
		}
	}
	return 0
}

func rssKB(pid int) int64 { return procKB(pid, "status", "VmRSS") }
func pssKB(pid int) int64 { return procKB(pid, "smaps_rollup", "Pss") }

// children lists the direct children of pid, from every thread's
// children file (a Go server forks from any of its threads).
func children(pid int) []int {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	var out []int
	for _, f := range tasks {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, s := range strings.Fields(string(b)) {
			if n, err := strconv.Atoi(s); err == nil {
				out = append(out, n)
			}
		}
	}
	return out
}

// descendants lists every process below pid.
func descendants(pid int) []int {
	var out []int
	queue := children(pid)
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		out = append(out, p)
		queue = append(queue, children(p)...)
	}
	return out
}

// memSum is the memory of a set of processes.
type memSum struct {
	Procs int
	RSSKB int64 // sum of VmRSS: counts shared pages once per process
	PSSKB int64 // sum of Pss: shared pages split between their users
}

// sumMemByCommand sums the memory of pids by the base name of their
// argv[0] (a re-executed binary's comm is only "exe").
func sumMemByCommand(pids []int) map[string]memSum {
	out := map[string]memSum{}
	for _, p := range pids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", p))
		if err != nil || len(b) == 0 {
			continue
		}
		arg0, _, _ := bytes.Cut(b, []byte{0})
		name := filepath.Base(string(arg0))
		m := sumMem([]int{p})
		t := out[name]
		t.Procs += m.Procs
		t.RSSKB += m.RSSKB
		t.PSSKB += m.PSSKB
		out[name] = t
	}
	return out
}

func sumMem(pids []int) memSum {
	var m memSum
	for _, p := range pids {
		r := rssKB(p)
		if r == 0 {
			continue // gone, or a kernel thread
		}
		m.Procs++
		m.RSSKB += r
		m.PSSKB += pssKB(p)
	}
	return m
}

// cpuTicks is utime+stime of pid in clock ticks (USER_HZ, 100 on Linux).
func cpuTicks(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command name is in parentheses and may hold spaces.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	s, _ := strconv.ParseInt(f[12], 10, 64)
	return u + s
}

const userHZ = 100

// treeCPU is the CPU time, in seconds, of pid and of its descendants
// alive now (the ones that exited are not counted).
func treeCPU(pid int) (self, desc float64) {
	self = float64(cpuTicks(pid)) / userHZ
	for _, p := range descendants(pid) {
		desc += float64(cpuTicks(p)) / userHZ
	}
	return self, desc
}

// cgroupParentFor is the cgroup parent a server with this data dir gives
// its linux driver (internal/app: "kumo-" and the first 4 bytes of the
// SHA-256 of the absolute data dir, in hex).
func cgroupParentFor(dataDir string) string {
	sum := sha256.Sum256([]byte(dataDir))
	return "kumo-" + hex.EncodeToString(sum[:4])
}

// cgroupMemory sums the memory charged to the sandbox cgroups
// (kumo-*) under parent: memory.usage_in_bytes on cgroup v1,
// memory.current on v2. It returns the number of cgroups too.
func cgroupMemory(parent string) (groups int, bytes int64) {
	if parent == "" {
		return 0, 0
	}
	dirs, _ := filepath.Glob(filepath.Join("/sys/fs/cgroup/memory", parent, "kumo-*"))
	file := "memory.usage_in_bytes"
	if len(dirs) == 0 {
		dirs, _ = filepath.Glob(filepath.Join("/sys/fs/cgroup", parent, "kumo-*"))
		file = "memory.current"
	}
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join(d, file))
		if err != nil {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		if err != nil {
			continue
		}
		groups++
		bytes += n
	}
	return groups, bytes
}

// findListener returns the pid of the process listening on the TCP port of
// rawURL when its host is a loopback address, or 0.
func findListener(rawURL string) int {
	u, err := url.Parse(rawURL)
	if err != nil {
		return 0
	}
	host, port := u.Hostname(), u.Port()
	if port == "" {
		port = "80"
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return 0
	}
	p, err := strconv.Atoi(port)
	if err != nil {
		return 0
	}
	inodes := map[string]bool{}
	want := fmt.Sprintf(":%04X", p)
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n")[1:] {
			fs := strings.Fields(line)
			// local_address st ... inode; 0A is LISTEN.
			if len(fs) > 9 && strings.HasSuffix(fs[1], want) && fs[3] == "0A" {
				inodes["socket:["+fs[9]+"]"] = true
			}
		}
	}
	if len(inodes) == 0 {
		return 0
	}
	procs, _ := filepath.Glob("/proc/[0-9]*/fd")
	for _, fdDir := range procs {
		fds, err := os.ReadDir(fdDir)
		if err != nil {
			continue
		}
		for _, fd := range fds {
			if l, err := os.Readlink(filepath.Join(fdDir, fd.Name())); err == nil && inodes[l] {
				pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(fdDir)))
				return pid
			}
		}
	}
	return 0
}

// cgroupParentOf finds the cgroup parent of a server's sandboxes from the
// cgroup of one of its children ("…:/kumo-1a2b3c4d/kumo-<id>"), or "".
func cgroupParentOf(pid int) string {
	for _, c := range children(pid) {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", c))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			f := strings.SplitN(line, ":", 3)
			if len(f) != 3 || (f[1] != "memory" && f[1] != "") {
				continue
			}
			dir, name := filepath.Split(strings.TrimSuffix(f[2], "/"))
			if strings.HasPrefix(name, "kumo-") {
				return strings.Trim(dir, "/")
			}
		}
	}
	return ""
}

// functionProcs counts the processes below pid whose environment says
// they run one of fns (AWS_LAMBDA_FUNCTION_NAME): one per sandbox, its
// runtime. ok is false when no environment below pid could be read.
func functionProcs(pid int, fns map[string]bool) (n int, ok bool) {
	desc := descendants(pid)
	if len(desc) == 0 {
		return 0, true
	}
	for _, p := range desc {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", p))
		if err != nil {
			continue
		}
		ok = true
		for _, kv := range bytes.Split(b, []byte{0}) {
			if v, found := bytes.CutPrefix(kv, []byte("AWS_LAMBDA_FUNCTION_NAME=")); found && fns[string(v)] {
				n++
				break
			}
		}
	}
	return n, ok
}
