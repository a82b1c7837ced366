package main

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"
)

// DensityResult is the memory an idle warm sandbox costs.
type DensityResult struct {
	Section
	Sandboxes int `json:"sandboxes"`
	// Server: VmRSS of the server process with half and with all the
	// sandboxes, and the difference per sandbox.
	ServerBeforeKB int64   `json:"server_rss_before_kb"`
	ServerAfterKB  int64   `json:"server_rss_after_kb"`
	ServerPerKB    float64 `json:"server_kb_per_sandbox"`
	// Sandbox processes: everything below the server, before and after.
	ProcsPer    float64 `json:"processes_per_sandbox"`
	RSSPerKB    float64 `json:"sandbox_rss_kb_per_sandbox"`
	PSSPerKB    float64 `json:"sandbox_pss_kb_per_sandbox"`
	CgroupPerKB float64 `json:"cgroup_kb_per_sandbox,omitempty"`
	// TotalPerKB is ServerPerKB + PSSPerKB, and PerGB how many idle
	// sandboxes of the Go no-op fit in 1 GiB at that cost.
	TotalPerKB float64 `json:"total_kb_per_sandbox"`
	PerGB      int     `json:"idle_go_sandboxes_per_gb"`
	// ByCommand splits PSSPerKB by the processes' command names.
	ByCommand map[string]float64 `json:"sandbox_pss_kb_per_sandbox_by_command,omitempty"`
	// MaxMemoryMB is the REPORT line's Max Memory Used of the first
	// invokes (what the function is told it used).
	MaxMemoryMB Dist `json:"report_max_memory_used_mb"`
}

type memSnapshot struct {
	server  int64
	procs   memSum
	byComm  map[string]memSum
	groups  int
	cgBytes int64
}

// memSnapshot reads the memory of the server and of everything below it
// once the server's RSS has settled — the Go runtime returns freed heap to
// the system gradually, and the store drops its block caches some seconds
// after a write —: stable within 256 KB for the stable time, or maxWait.
func (b *bench) memSnapshot(stable, maxWait time.Duration) memSnapshot {
	lo, hi := rssKB(b.tgt.PID), rssKB(b.tgt.PID)
	since := time.Now()
	for deadline := time.Now().Add(maxWait); time.Now().Before(deadline) && time.Since(since) < stable; {
		time.Sleep(250 * time.Millisecond)
		cur := rssKB(b.tgt.PID)
		lo, hi = min(lo, cur), max(hi, cur)
		if hi-lo > 256 {
			lo, hi, since = cur, cur, time.Now()
		}
	}
	desc := descendants(b.tgt.PID)
	s := memSnapshot{server: rssKB(b.tgt.PID), procs: sumMem(desc), byComm: sumMemByCommand(desc)}
	if b.tgt.CgroupParent == "" {
		b.tgt.CgroupParent = cgroupParentOf(b.tgt.PID)
	}
	s.groups, s.cgBytes = cgroupMemory(b.tgt.CgroupParent)
	return s
}

func (b *bench) runDensity(ctx context.Context) (*DensityResult, error) {
	k := b.size.DensityK
	res := &DensityResult{Section: Section{Status: statusOK}, Sandboxes: k}
	if b.tgt.PID == 0 {
		return &DensityResult{Section: Section{Status: statusSkipped, Note: "the server's process is not visible from here (not on this machine?)"}}, nil
	}
	bg := context.WithoutCancel(ctx)
	names := make([]string, k)
	for i := range k {
		names[i] = fmt.Sprintf("%sdensity-%03d", b.prefix, i)
		if err := b.dep.create(ctx, names[i], b.fns.Go, memDefault); err != nil {
			return nil, err
		}
		defer b.dep.delete(bg, names[i])
	}
	// The functions exist before the first snapshot: only their
	// sandboxes are between the two.
	stable, settle := 3*time.Second, 20*time.Second
	if b.opts.Quick {
		stable, settle = time.Second, 5*time.Second
	}
	before := b.memSnapshot(stable, settle)
	var mem []float64
	var mu sync.Mutex
	// warm invokes each function once, two at a time: one idle warm
	// sandbox each.
	warm := func(names []string) error {
		var wg sync.WaitGroup
		errs := make(chan error, len(names))
		sem := make(chan struct{}, 2)
		for _, name := range names {
			wg.Add(1)
			go func() {
				defer wg.Done()
				sem <- struct{}{}
				defer func() { <-sem }()
				r, err := invokeOK(ctx, b.inv, invocation{Function: name, Tail: true})
				if err != nil {
					errs <- err
					return
				}
				if rep := parseReport(r.LogTail); rep.Found {
					mu.Lock()
					mem = append(mem, rep.MaxMemoryMB)
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		close(errs)
		return <-errs
	}
	// The server's own share is the growth from k/2 to k sandboxes: the
	// first half brings its Go heap to working size, which creating the
	// functions may have left above or below it.
	half := k / 2
	if err := warm(names[:half]); err != nil {
		return nil, err
	}
	mid := b.memSnapshot(stable, settle)
	if err := warm(names[half:]); err != nil {
		return nil, err
	}
	after := b.memSnapshot(stable, settle)

	fk := float64(k)
	res.ServerBeforeKB, res.ServerAfterKB = mid.server, after.server
	res.ServerPerKB = float64(after.server-mid.server) / float64(k-half)
	res.ProcsPer = float64(after.procs.Procs-before.procs.Procs) / fk
	res.RSSPerKB = float64(after.procs.RSSKB-before.procs.RSSKB) / fk
	res.PSSPerKB = float64(after.procs.PSSKB-before.procs.PSSKB) / fk
	res.ByCommand = map[string]float64{}
	for name, m := range after.byComm {
		if d := float64(m.PSSKB-before.byComm[name].PSSKB) / fk; d > 0 {
			res.ByCommand[name] = d
		}
	}
	if after.groups > 0 {
		res.CgroupPerKB = float64(after.cgBytes-before.cgBytes) / 1024 / fk
	}
	res.TotalPerKB = max(res.ServerPerKB, 0) + res.PSSPerKB
	if res.TotalPerKB > 0 {
		res.PerGB = int((1 << 20) / res.TotalPerKB)
	}
	res.MaxMemoryMB = distOf(mem)
	return res, nil
}

func (b *bench) printDensity(d *DensityResult, f *FloorResult) {
	t := &table{title: fmt.Sprintf("Density: memory per idle warm sandbox (%d Go no-op functions)", d.Sandboxes), head: []string{"measure", "per sandbox", "× floor"}}
	if d.Status != statusOK {
		t.add("density", d.Status)
		t.note("%s", d.Note)
		t.text(b.out)
		return
	}
	idle := 0.0
	if it := f.get(floorIdleProc); it != nil {
		idle = it.KB
	}
	server := fmtMB(d.ServerPerKB)
	if d.ServerPerKB <= 0 {
		server = "below noise"
		t.note("The server's RSS did not grow: the Go heap it had already (and returns to the system slowly) held the sandboxes' state; counted as 0.")
	}
	t.add(fmt.Sprintf("kumo server RSS (%s → %s, %d → %d sandboxes)", fmtMB(float64(d.ServerBeforeKB)), fmtMB(float64(d.ServerAfterKB)), d.Sandboxes/2, d.Sandboxes), server, "")
	t.add(fmt.Sprintf("sandbox processes, RSS (%.1f processes each)", d.ProcsPer), fmtMB(d.RSSPerKB), "")
	t.add("sandbox processes, PSS", fmtMB(d.PSSPerKB), fmtRatio(ratio(d.PSSPerKB, idle)))
	names := make([]string, 0, len(d.ByCommand))
	for n := range d.ByCommand {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		t.add("  of which "+n+" (PSS)", fmtMB(d.ByCommand[n]), "")
	}
	if d.CgroupPerKB > 0 {
		t.add("sandbox cgroups' memory charge", fmtMB(d.CgroupPerKB), "")
	}
	t.add("total: server + sandbox PSS", fmtMB(d.TotalPerKB), fmtRatio(ratio(d.TotalPerKB, idle)))
	t.add("idle Go sandboxes per GiB", fmt.Sprint(d.PerGB), "")
	if d.MaxMemoryMB.N > 0 {
		t.add("REPORT Max Memory Used (p50)", fmt.Sprintf("%.0f MB", d.MaxMemoryMB.P50), "")
	}
	t.note("Method: %d functions created first, then one invoke of each makes one idle warm sandbox each. Sandbox processes: RSS/PSS of every process below the server (/proc/<pid>/smaps_rollup) and the sandboxes' cgroup charge (memory.usage_in_bytes or memory.current), before the first invoke and after the last, divided by %d. Server: its VmRSS (/proc/<pid>/status) with %d and with %d sandboxes, the difference divided by %d. Every reading waits until the server's RSS has settled.",
		d.Sandboxes, d.Sandboxes, d.Sandboxes/2, d.Sandboxes, d.Sandboxes-d.Sandboxes/2)
	t.note("RSS counts pages shared between processes (the Go runtime's text, a re-executed server binary) once per process; PSS splits them, so PSS is the cost of one more sandbox. The server's RSS also holds Go heap it has not returned to the system.")
	if idle > 0 {
		t.note("× floor: over the mean PSS of %d Go no-op runtime processes started by hand (no sandbox), idle in /next (%s).", d.Sandboxes, fmtMB(idle))
	}
	t.text(b.out)
}
