// Package linux is the sandbox driver that isolates function code with
// the Linux kernel: namespaces, cgroups, pivot_root into a minimal
// read-only root, an unprivileged user without capabilities, no_new_privs,
// a seccomp filter and rlimits. It needs root on Linux (amd64 or arm64)
// with cgroup v1 (memory, cpu, pids, freezer) or v2 (memory, cpu, pids);
// Available says whether this host qualifies and why not.
//
// Each sandbox is an init process, the current binary re-executed as
// kumo-sandbox-init (this package's init function takes over before main,
// so any binary importing the package can serve), started with new mount,
// pid, ipc, uts and network namespaces and a parent-death signal. The
// init, PID 1 of its namespaces:
//   - brings up lo and creates the Runtime API socket, listening on
//     127.0.0.1:9001 inside the sandbox, and passes it to the driver over
//     a socket pair (SCM_RIGHTS): the server accepts on it from the host,
//     so no host process joins the sandbox's namespaces and no route
//     leads into or out of it (lo is its only interface, unless
//     Config.Network gives it one more: the driver attaches every
//     sandbox when it makes it, warm ones included, before any function
//     code runs, and detaches it when the sandbox is gone);
//   - builds the root file system on a tmpfs in its own mount namespace
//     (layout in rootfs.go), makes it read-only and pivots into it;
//   - sets the hostname (sandbox) and rlimits (RLIMIT_NOFILE 1024,
//     RLIMIT_CORE 0, RLIMIT_NPROC as a host-wide backstop);
//   - forks the runtime from a thread that has dropped its bounding and
//     inheritable capabilities, set no_new_privs and loaded the seccomp
//     filter (seccomp.go); the child becomes the sandbox user (Config.UID,
//     GID, no supplementary groups), which leaves it no capabilities;
//   - stays PID 1: reaps orphans, forwards SIGTERM, SIGINT and SIGHUP to
//     the runtime, reports the runtime's exit status and exits with it;
//     the kernel then kills whatever is left in the pid namespace.
//
// PID 1 is split in two when the binary is built with cgo (reaper_cgo.go):
// a constructor in C runs before the Go runtime starts, waits for the
// driver's go-ahead (fd 4: the driver has put it in the sandbox's
// cgroups), forks, and stays PID 1 while its child, the Go init, does all
// of the above up to starting the runtime. The Go init then hands over —
// the cgroups' directories, for abandoning, as soon as it has them; the
// runtime's pid once it runs — and exits, so the runtime becomes the C
// PID 1's child, and that process, which reaps, forwards, reports the exit
// and abandons as the Go init would, is all a running sandbox keeps of its
// init: one thread and about 100 KB of its own memory instead of the Go
// runtime's few MB and threads, which count against the function's memory
// and pids limits. Without cgo the Go init stays PID 1 itself.
//
// The driver moves the init into the sandbox's cgroups and only then
// sends it the spec, so no function code runs outside them: memory
// limited to MemoryMB without swap (v1: memory and memsw limits,
// swappiness 0; v2: memory.max, memory.swap.max 0), CPU shares and CFS
// quota in proportion to memory (sandbox.CPUShares, sandbox.CPUQuota),
// pids.max = MaxProcs (threads included, the init's too). Before the spec,
// while the init sets the sandbox up, its cgroup has the CPU weight of the
// smallest function (128 MB), so that sandboxes starting in numbers do
// not take the CPU from those serving invocations. Stats reads the peak
// memory and OOM kills from the cgroup (the peak includes the Go init's
// few MB while it sets the sandbox up).
//
// A sandbox is a sandbox.Freezer: Freeze and Thaw use the cgroup freezer
// (v1 freezer.state, v2 cgroup.freeze) and wait until the kernel reports
// the change; Destroy thaws a frozen sandbox after sending the kill, since
// v1 holds even SIGKILL for frozen tasks.
//
// Starting an init is most of a cold start, so a small pool of warm ones
// (namespaces, cgroup, lo and socket, the function-independent part of
// the root, a restricted thread) is kept; Start takes one when it can and
// only sets limits, adds the function's mounts, pivots and executes the
// runtime.
//
// Runtime snapshots (snapshot.go): for the managed runtimes whose
// bootstrap has a wait-for-spec mode (Kumo's Python and Node.js ones),
// the driver keeps, per runtime in demand, sandboxes in which the
// interpreter has already started and loaded the bootstrap; the code and
// layers arrive later as detached mount trees (open_tree on the host,
// move_mount in the sandbox), behind overlays of neutral names, and the
// environment over its stdin (a socket), after the function's limits
// are set. The driver never writes state to disk for them: a snapshot is
// a process, and dies with the server like any warm sandbox.
//
// Where a cold start goes (spans.go; every start logs its spans at debug
// level, BenchmarkStart prints their means). On the 2-core development VM
// at load ~2.5, BenchmarkStart (the probe, no network), cold: clone and
// exec of the init 1.6 ms, into its cgroups (v1, four hierarchies)
// 1.0 ms, the init ready 19 ms after the clone (the re-executed binary's
// Go runtime and package initialization, then lo, the socket, /proc,
// /dev, /etc), the function's limits 0.2 ms, its mounts, pivot, fork and
// exec 3 ms: Start 23 ms, the first Runtime API request 31 ms. From the
// warm pool: Start 4.4 ms, first request 21 ms (11.8 and 29 ms while the
// pool's refill still ran during the start). In the kumo binary the init
// first pays the Go runtime's start and the package initialization that
// Go's order puts before this package's init: about 37 ms of CPU per
// init at load ~15 (a static hello-world binary: 7 ms), mostly the page
// faults of a 43 MB binary (~880 minor faults against ~150) and
// third-party package initializers ordered first (cockroachdb/apd's
// tables alone 565 KB and 4–6 ms). Kumo's own package-level tables are
// built on first use (package lazyregexp, sync.OnceValue), which takes
// `kumo version` from 44,000 allocations and ~74 ms of CPU to 9,600 and
// ~41 ms, but most of them initialize after this package's init, so a
// sandbox's init gains little; only a small init binary, or this
// package's init code in a package with few imports, would remove the
// rest. The warm pool and snapshots keep it off the start's path, not
// off the CPU: each refill of the pool pays it, and it bounds how many
// sandboxes a second the node creates — `go run ./bench -suite churn
// -quick` with debug logs at load 4.5: 15.9 sandboxes/s for distinct
// versions in sequence, 11 of 30 starts found the pool empty, init ready
// p50 90 ms; a start from the pool took 3–11 ms and its first request
// 31–41 ms. Attaching the bridge network takes 5–30 ms, in parallel with
// the init.
//
// A refill starts once the runtime of the sandbox the start took has
// ended its init (EndInit; at most 2 s later), not while it runs: on two
// cores the refill's init and interpreter start took the CPU from the
// start that took a sandbox. `go run ./bench -suite cold -quick` at load
// ~0.5, Init Duration p50 at 1,769 MB before and after: Go 38.8 → 24.8 ms,
// Python 12.6 → 6.6 ms, Node.js (an .mjs handler) 46.7 → 24.5 ms, and 18
// ms once the Node.js snapshot has also loaded its ES module loader.
//
// The runtime's own start is the rest, which snapshots take off the
// path: `go run ./bench -suite cold -quick`, the trees without and with
// snapshots one after the other at load 3–6 (python3.12 served by the
// host's python3.11), Init Duration p50: python 200 → 53 ms at 1,769 MB
// and 200 → 64 ms at 128 MB; Node.js 410 → 98 ms at 1,769 MB and
// 458 → 93 ms at 128 MB (p90s are starts that found no refilled
// snapshot).
//
// A start from a snapshot has its own spans (take, limits, trees, the
// init's mounts, the handoff to the runtime) and every start logs, at
// debug level, when the runtime's first Runtime API connection arrived
// ("linux sandbox first request"). BenchmarkSnapshotStart (1,769 MB, a
// handler that echoes, load 11–14, medians of interleaved runs): Start
// 12–24 ms, of which limits 0.5–1, open_tree 0.03, mounts 2–10 and the
// handoff 8–12 (messages and wake-ups of the init, the runtime and the
// driver, which load stretches); the first /next 18–32 ms after Start
// was called for Python and 28–33 ms for Node.js. A snapshot is offered
// only once its runtime has loaded and says so (one byte on its stdin);
// before, one taken right after it was made paid the rest of the
// interpreter's start (the same benchmark: first /next 367 ms for Python,
// 147 ms for Node.js). Node.js's snapshot makes one GET and one POST to a
// throwaway loopback server before it waits, so the first /next and
// response skip compiling the HTTP client (outside a sandbox at load 20,
// first /next 92 → 41 ms and response 175 → 69 ms after the spec).
//
// Waiting snapshots hold memory (each one's peak while its runtime
// started, 10–40 MB); the driver reports it as a sandbox.Reserver and
// the worker counts it against the node's memory budget.
//
// Destroy kills the init (and so the pid namespace), waits for it, checks
// the cgroups are empty (freezing and killing what is left, or cgroup.kill
// on v2) and removes them. Mounts need no cleanup: they live in the
// sandbox's mount namespace and vanish with it. If the server dies, every
// init is told (parent-death signal, or its control socket failing): it
// kills everything else in its pid namespace, reaps it, moves itself to
// the hierarchies' roots and removes its cgroups through directory
// descriptors it opened before pivoting (abandon in init.go), then exits.
// Cleanup, at the next start, kills anything still left in kumo-* cgroups
// under Config.CgroupParent (a sandbox frozen when the server died: v1
// holds even SIGKILL for it) and removes them.
//
// Limits of this driver worth knowing:
//   - /tmp and /dev/shm are tmpfs: their pages count against the memory
//     limit, unlike Lambda's disk-backed /tmp.
//   - /proc shows the host's cpuinfo, meminfo and uptime.
//   - Every sandbox runs as the same uid; RLIMIT_NPROC is per uid on the
//     host, so it cannot limit one sandbox (pids.max does).
//   - CodeDir, layers, RuntimeDir and HostPaths must be readable by the
//     sandbox user; the host directories above them need not be.
package linux
