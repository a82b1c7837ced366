//go:build linux

package linux

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/kumo-run/kumo/internal/sandbox"
)

// cgroups is the cgroup file system the driver places sandboxes in: v2
// (one unified hierarchy) or v1 (one hierarchy per controller). Every
// sandbox's cgroup is <hierarchy>/<parent>/<name>, name starting with
// "kumo-".
type cgroups struct {
	v2     bool
	parent string
	// dirs are the hierarchies' <root>/<parent> directories: v2 one; v1
	// memory, cpu, pids and freezer, in that order.
	dirs  []string
	roots []string // the hierarchies' roots, in dirs order
	memsw bool     // v1: memory.memsw.* exists (swap accounting)
}

// v1Controllers are the v1 hierarchies a sandbox joins, in dirs order.
var v1Controllers = []string{"memory", "cpu", "pids", "freezer"}

const (
	v1Memory = iota
	v1CPU
	v1Pids
	v1Freezer
)

// detectCgroups finds the cgroup version mounted at root and checks the
// controllers the driver needs; it creates nothing.
func detectCgroups(root, parent string) (*cgroups, error) {
	if b, err := os.ReadFile(filepath.Join(root, "cgroup.controllers")); err == nil {
		have := strings.Fields(string(b))
		for _, c := range []string{"memory", "cpu", "pids"} {
			if !contains(have, c) {
				return nil, fmt.Errorf("cgroup v2 at %s lacks the %s controller (have %q)", root, c, have)
			}
		}
		return &cgroups{v2: true, parent: parent, dirs: []string{filepath.Join(root, parent)}, roots: []string{root}}, nil
	}
	cg := &cgroups{parent: parent}
	for _, c := range v1Controllers {
		dir := filepath.Join(root, c)
		if _, err := os.Stat(filepath.Join(dir, "cgroup.procs")); err != nil {
			return nil, fmt.Errorf("no cgroup v2 at %s and no cgroup v1 %s hierarchy at %s", root, c, dir)
		}
		cg.dirs = append(cg.dirs, filepath.Join(dir, parent))
		cg.roots = append(cg.roots, dir)
	}
	_, err := os.Stat(filepath.Join(root, "memory", "memory.memsw.limit_in_bytes"))
	cg.memsw = err == nil
	return cg, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (c *cgroups) version() string {
	if c.v2 {
		return "v2"
	}
	return "v1"
}

// ensureParent creates the parent cgroups (and on v2 delegates the
// controllers to them). Idempotent.
func (c *cgroups) ensureParent() error {
	for _, dir := range c.dirs {
		if c.v2 {
			// The controllers must be enabled in every ancestor.
			if err := writeFile(filepath.Join(filepath.Dir(dir), "cgroup.subtree_control"), "+memory +cpu +pids"); err != nil {
				return fmt.Errorf("enabling cgroup controllers: %w", err)
			}
		}
		if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
			return err
		}
		if c.v2 {
			if err := writeFile(filepath.Join(dir, "cgroup.subtree_control"), "+memory +cpu +pids"); err != nil {
				return fmt.Errorf("enabling cgroup controllers: %w", err)
			}
		}
	}
	return nil
}

// removeParent removes the parent cgroups if they are empty.
func (c *cgroups) removeParent() {
	for _, dir := range c.dirs {
		unix.Rmdir(dir)
	}
}

// group is one sandbox's cgroups.
type group struct {
	c    *cgroups
	name string
	dirs []string // as cgroups.dirs, with name appended

	peakMu sync.Mutex
	peakFD int // the peak memory file, opened on first read; -1 once removed
}

// open returns the group called name without touching the file system.
func (c *cgroups) open(name string) *group {
	g := &group{c: c, name: name}
	for _, d := range c.dirs {
		g.dirs = append(g.dirs, filepath.Join(d, name))
	}
	return g
}

// setupCPUShares is a new group's CPU weight, the smallest function's
// (128 MB). Until limits gives a sandbox its function's share, its
// processes do Kumo's set-up (the init, a pool's refill); at the kernel's
// default weight (1,024 shares, a 1,769 MB function's) a hundred sandboxes
// starting at once took 14 times a 128 MB function's share each, and
// that function's warm sandboxes, starved, timed out on a 3 s echo.
var setupCPUShares = sandbox.CPUShares(128)

// create makes a new group called name, at setupCPUShares.
func (c *cgroups) create(name string) (*group, error) {
	g := c.open(name)
	for i, d := range g.dirs {
		if err := os.Mkdir(d, 0o755); err != nil {
			for _, made := range g.dirs[:i] {
				os.Remove(made)
			}
			return nil, fmt.Errorf("creating cgroup: %w", err)
		}
	}
	file, value := filepath.Join(g.dirs[v1CPU], "cpu.shares"), strconv.Itoa(setupCPUShares)
	if c.v2 {
		file, value = filepath.Join(g.dirs[0], "cpu.weight"), strconv.Itoa(cpuWeight(setupCPUShares))
	}
	if err := writeFile(file, value); err != nil {
		for _, d := range g.dirs {
			os.Remove(d)
		}
		return nil, fmt.Errorf("cgroup weight: %w", err)
	}
	return g, nil
}

// leftovers lists the names of the "kumo-" groups under the parent in any
// hierarchy.
func (c *cgroups) leftovers() ([]string, error) {
	seen := map[string]bool{}
	var names []string
	for _, d := range c.dirs {
		ents, err := os.ReadDir(d)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		for _, e := range ents {
			if e.IsDir() && strings.HasPrefix(e.Name(), "kumo-") && !seen[e.Name()] {
				seen[e.Name()] = true
				names = append(names, e.Name())
			}
		}
	}
	return names, nil
}

// limits sets the memory (no swap), CPU and process limits.
// cpuLimit sets the CFS quota alone (µs per 100 ms period).
func (g *group) cpuLimit(cpuQuotaUS int) error {
	if g.c.v2 {
		return writeFile(filepath.Join(g.dirs[0], "cpu.max"), strconv.Itoa(cpuQuotaUS)+" 100000")
	}
	return writeFile(filepath.Join(g.dirs[v1CPU], "cpu.cfs_quota_us"), strconv.Itoa(cpuQuotaUS))
}

func (g *group) limits(memoryMB, cpuShares, cpuQuotaUS, maxProcs int) error {
	mem := strconv.FormatInt(int64(memoryMB)<<20, 10)
	var w []struct{ dir, file, value string }
	add := func(dir, file, value string) { w = append(w, struct{ dir, file, value string }{dir, file, value}) }
	if g.c.v2 {
		d := g.dirs[0]
		add(d, "memory.max", mem)
		add(d, "memory.swap.max", "0")
		add(d, "cpu.weight", strconv.Itoa(cpuWeight(cpuShares)))
		add(d, "cpu.max", strconv.Itoa(cpuQuotaUS)+" 100000")
		add(d, "pids.max", strconv.Itoa(maxProcs))
	} else {
		add(g.dirs[v1Memory], "memory.limit_in_bytes", mem)
		if g.c.memsw {
			add(g.dirs[v1Memory], "memory.memsw.limit_in_bytes", mem)
		}
		add(g.dirs[v1Memory], "memory.swappiness", "0")
		add(g.dirs[v1CPU], "cpu.shares", strconv.Itoa(cpuShares))
		add(g.dirs[v1CPU], "cpu.cfs_period_us", "100000")
		add(g.dirs[v1CPU], "cpu.cfs_quota_us", strconv.Itoa(cpuQuotaUS))
		add(g.dirs[v1Pids], "pids.max", strconv.Itoa(maxProcs))
	}
	for _, x := range w {
		err := writeFile(filepath.Join(x.dir, x.file), x.value)
		if x.file == "memory.limit_in_bytes" && g.c.memsw && errors.Is(err, unix.EINVAL) {
			// v1 keeps memory ≤ memsw: raising a limit (a pre-started
			// sandbox's, snapshot.go) raises memsw first.
			if err = writeFile(filepath.Join(x.dir, "memory.memsw.limit_in_bytes"), x.value); err == nil {
				err = writeFile(filepath.Join(x.dir, x.file), x.value)
			}
		}
		if err != nil && !(x.file == "memory.swap.max" && errors.Is(err, os.ErrNotExist)) {
			return fmt.Errorf("cgroup limit %s=%s: %w", x.file, x.value, err)
		}
	}
	return nil
}

// cpuWeight converts v1 cpu.shares [2, 262144] to v2 cpu.weight
// [1, 10000] the way runc and systemd do.
func cpuWeight(shares int) int {
	w := 1 + ((shares-2)*9999)/262142
	return min(max(w, 1), 10000)
}

// add moves pid (the whole thread group) into the group.
func (g *group) add(pid int) error {
	p := strconv.Itoa(pid)
	for _, d := range g.dirs {
		if err := writeFile(filepath.Join(d, "cgroup.procs"), p); err != nil {
			return fmt.Errorf("joining cgroup %s: %w", d, err)
		}
	}
	return nil
}

// procs lists the processes in the group.
func (g *group) procs() ([]int, error) {
	d := g.dirs[0]
	if !g.c.v2 {
		d = g.dirs[v1Pids]
	}
	b, err := os.ReadFile(filepath.Join(d, "cgroup.procs"))
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, f := range strings.Fields(string(b)) {
		if p, err := strconv.Atoi(f); err == nil {
			pids = append(pids, p)
		}
	}
	return pids, nil
}

// kill kills every process in the group and waits until it is empty. On
// v2 with cgroup.kill the kernel does it atomically; otherwise the group is
// frozen first, so nothing can fork while it is being killed.
func (g *group) kill(ctx context.Context) error {
	pids, err := g.procs()
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if len(pids) == 0 {
		return nil
	}
	if g.c.v2 {
		err := writeFile(filepath.Join(g.dirs[0], "cgroup.kill"), "1")
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		if err != nil {
			if err := g.killFrozen(ctx, filepath.Join(g.dirs[0], "cgroup.freeze"), "1", "0", nil); err != nil {
				return err
			}
		}
	} else {
		state := filepath.Join(g.dirs[v1Freezer], "freezer.state")
		if err := g.killFrozen(ctx, state, "FROZEN", "THAWED", func() bool {
			b, _ := os.ReadFile(state)
			return strings.TrimSpace(string(b)) == "FROZEN"
		}); err != nil {
			return err
		}
	}
	return g.waitEmpty(ctx)
}

// freeze stops every process in the group and waits until the kernel
// reports them all frozen.
func (g *group) freeze(ctx context.Context) error {
	if g.c.v2 {
		if err := writeFile(filepath.Join(g.dirs[0], "cgroup.freeze"), "1"); err != nil {
			return fmt.Errorf("freezing cgroup: %w", err)
		}
		return g.waitFreezer(ctx, func() (bool, error) { return v2Frozen(g.dirs[0], true) })
	}
	state := filepath.Join(g.dirs[v1Freezer], "freezer.state")
	return g.waitFreezer(ctx, func() (bool, error) {
		// Writing FROZEN again retries the tasks that were not frozen
		// yet (FREEZING).
		if err := writeFile(state, "FROZEN"); err != nil {
			return false, err
		}
		b, err := os.ReadFile(state)
		return strings.TrimSpace(string(b)) == "FROZEN", err
	})
}

// thaw lets the group's processes run again and waits until the kernel
// reports the group thawed.
func (g *group) thaw(ctx context.Context) error {
	if g.c.v2 {
		if err := writeFile(filepath.Join(g.dirs[0], "cgroup.freeze"), "0"); err != nil {
			return fmt.Errorf("thawing cgroup: %w", err)
		}
		return g.waitFreezer(ctx, func() (bool, error) { return v2Frozen(g.dirs[0], false) })
	}
	if err := writeFile(filepath.Join(g.dirs[v1Freezer], "freezer.state"), "THAWED"); err != nil {
		return fmt.Errorf("thawing cgroup: %w", err)
	}
	return nil
}

// v2Frozen reports whether cgroup.events says frozen is want.
func v2Frozen(dir string, want bool) (bool, error) {
	b, err := os.ReadFile(filepath.Join(dir, "cgroup.events"))
	if err != nil {
		return false, err
	}
	frozen := false
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "frozen "); ok {
			frozen = strings.TrimSpace(v) == "1"
		}
	}
	return frozen == want, nil
}

// waitFreezer polls done until it says so, fails, or ctx ends.
func (g *group) waitFreezer(ctx context.Context, done func() (bool, error)) error {
	for d := 100 * time.Microsecond; ; d = min(2*d, 10*time.Millisecond) {
		ok, err := done()
		if err != nil {
			return fmt.Errorf("cgroup %s freezer: %w", g.name, err)
		}
		if ok {
			return nil
		}
		if err := sleepCtx(ctx, d); err != nil {
			return fmt.Errorf("cgroup %s freezer: %w", g.name, err)
		}
	}
}

// killFrozen freezes the group by writing freeze to file, waits until
// frozen() (nil: no way to tell, go on), SIGKILLs every process and thaws
// the group so that the kills are delivered.
func (g *group) killFrozen(ctx context.Context, file, freeze, thaw string, frozen func() bool) error {
	if err := writeFile(file, freeze); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil // removed meanwhile: empty
		}
		return fmt.Errorf("freezing cgroup: %w", err)
	}
	defer writeFile(file, thaw)
	for frozen != nil && !frozen() {
		if _, err := os.Stat(file); errors.Is(err, os.ErrNotExist) {
			return nil // removed meanwhile: empty
		}
		if err := sleepCtx(ctx, time.Millisecond); err != nil {
			return fmt.Errorf("freezing cgroup: %w", err)
		}
	}
	pids, err := g.procs()
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	for _, p := range pids {
		syscall.Kill(p, syscall.SIGKILL)
	}
	return nil
}

func (g *group) waitEmpty(ctx context.Context) error {
	for d := 100 * time.Microsecond; ; d = min(2*d, 10*time.Millisecond) {
		pids, err := g.procs()
		if errors.Is(err, os.ErrNotExist) {
			return nil // removed meanwhile: empty
		}
		if err != nil || len(pids) == 0 {
			return err
		}
		if err := sleepCtx(ctx, d); err != nil {
			return fmt.Errorf("cgroup %s still holds %v: %w", g.name, pids, err)
		}
	}
}

// remove deletes the group's directories; it must be empty. Missing
// directories are fine. A directory the kernel still reports busy (a
// process on its way out) is retried until ctx ends.
func (g *group) remove(ctx context.Context) error {
	g.closePeak()
	for _, d := range g.dirs {
		for delay := 100 * time.Microsecond; ; delay = min(2*delay, 10*time.Millisecond) {
			err := unix.Rmdir(d)
			if err == nil || err == unix.ENOENT {
				break
			}
			if err != unix.EBUSY {
				return fmt.Errorf("removing cgroup %s: %w", d, err)
			}
			if err := sleepCtx(ctx, delay); err != nil {
				return fmt.Errorf("removing cgroup %s: busy: %w", d, err)
			}
		}
	}
	return nil
}

// peak returns the highest memory use seen, in bytes (0 if unknown). The
// file stays open for the group's life: every warm invocation reads it,
// and one pread costs a fraction of an open, read and close.
func (g *group) peak() int64 {
	g.peakMu.Lock()
	defer g.peakMu.Unlock()
	if g.peakFD == 0 {
		file := filepath.Join(g.dirs[v1Memory], "memory.max_usage_in_bytes")
		if g.c.v2 {
			file = filepath.Join(g.dirs[0], "memory.peak")
		}
		fd, err := unix.Open(file, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return 0
		}
		g.peakFD = fd + 1 // 0 stays "not opened"
	}
	if g.peakFD < 0 {
		return 0
	}
	var buf [32]byte
	n, err := unix.Pread(g.peakFD-1, buf[:], 0)
	if err != nil || n <= 0 {
		return 0
	}
	v, _ := strconv.ParseInt(strings.TrimSpace(string(buf[:n])), 10, 64)
	return v
}

// closePeak closes the peak memory file, for good.
func (g *group) closePeak() {
	g.peakMu.Lock()
	defer g.peakMu.Unlock()
	if g.peakFD > 0 {
		unix.Close(g.peakFD - 1)
	}
	g.peakFD = -1
}

// oomKills returns how many processes the memory limit killed.
func (g *group) oomKills() int {
	file := filepath.Join(g.dirs[v1Memory], "memory.oom_control")
	if g.c.v2 {
		file = filepath.Join(g.dirs[0], "memory.events")
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return 0
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "oom_kill "); ok {
			n, _ := strconv.Atoi(v)
			return n
		}
	}
	return 0
}

// writeFile writes value to an existing cgroup file.
func writeFile(path, value string) error {
	fd, err := unix.Open(path, unix.O_WRONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: path, Err: err}
	}
	defer unix.Close(fd)
	if _, err := unix.Write(fd, []byte(value)); err != nil {
		return &os.PathError{Op: "write", Path: path, Err: err}
	}
	return nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
