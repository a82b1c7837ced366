//go:build linux

package linux

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/kumo-run/kumo/internal/netns"
	"github.com/kumo-run/kumo/internal/sandbox"
	"github.com/kumo-run/kumo/internal/sandbox/internal/base"
)

// box is one sandbox.
type box struct {
	d    *Driver
	id   string
	cmd  *exec.Cmd // the init
	ctrl *net.UnixConn
	cg   *group
	ln   net.Listener
	// detach takes the sandbox off Config.Network (nil if none).
	detach func() error
	// setPolicy restricts the sandbox's traffic (nil when the network
	// cannot).
	setPolicy func(*netns.Policy) error
	// spans times the start (spans.go); request is the time from Start
	// until the runtime's first Runtime API connection (ns, 0 before).
	spans   spans
	request atomic.Int64
	// cpuQuota is the CFS quota after the init phase (µs per 100 ms).
	cpuQuota int
	// initDone, when set, runs once: at EndInit, or initDoneBound after
	// the start if the runtime's init never reports its end (it failed,
	// or the sandbox is gone). The driver refills what the start took
	// from then on, so that the refill does not compete for the CPU with
	// the runtime's own init.
	initDone func()

	// stdout and stderr are the read ends of the output pipes; pumping
	// says whether copying them has started (run).
	stdout, stderr *os.File
	pumping        bool

	exited           chan struct{}
	outDone, errDone chan struct{}
	outFlow, errFlow *base.Flow

	mu      sync.Mutex // guards the fields below
	stats   sandbox.Stats
	gotExit bool // the init reported the runtime's exit
	final   bool // stats are final: the init is gone

	destroyMu sync.Mutex // serializes Destroy, Freeze and Thaw
	destroyed bool
	frozen    bool // Freeze was called last, not Thaw
}

func (b *box) ID() string              { return b.id }
func (b *box) Listener() net.Listener  { return b.ln }
func (b *box) RuntimeAPI() string      { return runtimeAPI }
func (b *box) Exited() <-chan struct{} { return b.exited }

// Stats reads memory use from the cgroup while the sandbox runs, and
// returns what was read when it exited afterwards.
// EndInit applies the regular CPU quota once the init phase is over.
func (b *box) EndInit() error {
	if b.initDone != nil {
		b.initDone()
	}
	return b.cg.cpuLimit(b.cpuQuota)
}

// initDoneBound is how long a start's refill waits at most for the
// runtime's init to end (Driver.initDoneBound, which tests change).
const initDoneBound = 2 * time.Second

// afterInit arranges for f to run once, when the runtime's init has
// ended or the driver's initDoneBound after now, whichever comes first.
func (b *box) afterInit(f func()) {
	once := sync.OnceFunc(f)
	t := time.AfterFunc(b.d.initDoneBound, once)
	b.initDone = func() {
		t.Stop()
		once()
	}
}

// DrainOutput waits until the output written so far reached the writers.
func (b *box) DrainOutput(max time.Duration) { base.Drain(max, b.outFlow, b.errFlow) }

func (b *box) Stats() sandbox.Stats {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.final {
		return b.stats
	}
	st := b.stats
	st.MaxMemoryBytes = b.cg.peak()
	// Only a dead runtime can have been killed for memory: a live one
	// (every warm invocation asks) costs one file read, not two.
	select {
	case <-b.exited:
		st.OOMKilled = b.cg.oomKills() > 0
	default:
	}
	return st
}

// handle records what a message from the init says.
func (b *box) handle(m message) {
	if m.Kind != msgExit {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.gotExit = true
	b.stats.ExitCode, b.stats.Signal = base.Status(syscall.WaitStatus(m.Status))
}

// watch follows the init until it is gone, then makes the stats final and
// closes exited. The init exits right after the runtime; with it goes
// every other process in the pid namespace, so the output pipes reach EOF.
func (b *box) watch() {
	for {
		m, fd, err := receive(b.ctrl)
		if err != nil {
			break
		}
		if fd >= 0 {
			syscall.Close(fd)
		}
		b.handle(m)
	}
	b.cmd.Wait()
	<-b.outDone
	<-b.errDone
	b.mu.Lock()
	if !b.gotExit {
		// The init itself was killed (Destroy, or the OOM killer took it).
		b.stats.ExitCode, b.stats.Signal = -1, "SIGKILL"
		if ws, ok := b.cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			_, b.stats.Signal = base.Status(ws)
		}
	}
	b.stats.MaxMemoryBytes = b.cg.peak()
	b.stats.OOMKilled = b.cg.oomKills() > 0
	b.final = true
	b.mu.Unlock()
	close(b.exited)
}

// abort undoes a spawn or run that failed half way, or a warm box no
// longer wanted.
func (b *box) abort() {
	b.cmd.Process.Kill()
	b.cmd.Wait()
	b.ctrl.Close()
	if b.ln != nil {
		b.ln.Close()
	}
	if b.pumping {
		<-b.outDone
		<-b.errDone
	} else {
		b.stdout.Close()
		b.stderr.Close()
	}
	if b.detach != nil {
		b.detach()
	}
	if b.cg != nil {
		ctx := context.Background()
		if err := b.cg.kill(ctx); err == nil {
			if err := b.cg.remove(ctx); err != nil {
				b.d.log.Error("linux sandbox: removing cgroup", "id", b.id, "err", err)
			}
		}
		b.d.release(b.cg.name)
	}
}

// Destroy kills the init, and so the whole pid namespace, waits for it,
// makes sure the cgroups are empty and removes them.
func (b *box) Destroy(ctx context.Context) error {
	b.destroyMu.Lock()
	defer b.destroyMu.Unlock()
	if b.destroyed {
		return nil
	}
	b.cmd.Process.Kill()
	if b.frozen {
		// cgroup v1 holds even SIGKILL until the group is thawed.
		if err := b.cg.thaw(ctx); err != nil {
			return fmt.Errorf("linux: destroying sandbox %s: %w", b.id, err)
		}
		b.frozen = false
	}
	select {
	case <-b.exited:
	case <-ctx.Done():
		return fmt.Errorf("linux: destroying sandbox %s: %w", b.id, ctx.Err())
	}
	// Nothing can have left the pid namespace, but the cgroup is the
	// ground truth.
	if err := b.cg.kill(ctx); err != nil {
		return fmt.Errorf("linux: destroying sandbox %s: %w", b.id, err)
	}
	if err := b.cg.remove(ctx); err != nil {
		return fmt.Errorf("linux: destroying sandbox %s: %w", b.id, err)
	}
	b.d.release(b.cg.name)
	if b.detach != nil {
		b.detach()
	}
	b.ln.Close()
	b.ctrl.Close()
	b.destroyed = true
	return nil
}

// errDestroyed is what Freeze and Thaw say after Destroy.
var errDestroyed = errors.New("linux: sandbox destroyed")

// Freeze stops every process of the sandbox (cgroup freezer) and returns
// once they all are stopped.
func (b *box) Freeze(ctx context.Context) error {
	b.destroyMu.Lock()
	defer b.destroyMu.Unlock()
	if b.destroyed {
		return errDestroyed
	}
	b.frozen = true
	if err := b.cg.freeze(ctx); err != nil {
		return fmt.Errorf("linux: freezing sandbox %s: %w", b.id, err)
	}
	return nil
}

// Thaw lets the sandbox's processes run again.
func (b *box) Thaw(ctx context.Context) error {
	b.destroyMu.Lock()
	defer b.destroyMu.Unlock()
	if b.destroyed {
		return errDestroyed
	}
	if err := b.cg.thaw(ctx); err != nil {
		return fmt.Errorf("linux: thawing sandbox %s: %w", b.id, err)
	}
	b.frozen = false
	return nil
}

var (
	_ sandbox.Freezer       = (*box)(nil)
	_ sandbox.Sandbox       = (*box)(nil)
	_ sandbox.OutputDrainer = (*box)(nil)
	_ sandbox.InitBooster   = (*box)(nil)
)
