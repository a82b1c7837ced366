//go:build linux

package linux

import (
	"context"
	"sync"
	"time"
)

// pool keeps warm sandboxes: inits that are in their namespaces and
// cgroup, with lo up and the Runtime API socket made, waiting for a spec.
// Creating those (the clone, the init's start, the move into the cgroups)
// is most of a cold start; with a warm one, Start only sets the limits,
// builds the root and executes the runtime. One goroutine refills the
// pool whenever a sandbox is taken.
type pool struct {
	warm   chan *box // nil when the pool is off
	refill chan struct{}

	startOnce sync.Once
	closeOnce sync.Once
	closed    chan struct{}
	done      chan struct{} // closed when the filler has stopped
}

func (p *pool) init(size int) {
	p.closed = make(chan struct{})
	p.done = make(chan struct{})
	if size > 0 {
		p.warm = make(chan *box, size)
		p.refill = make(chan struct{}, 1)
	}
}

// start starts the filler, once.
func (p *pool) start(d *Driver) {
	if p.warm == nil {
		return
	}
	p.startOnce.Do(func() { go p.fill(d) })
}

func (p *pool) fill(d *Driver) {
	defer close(p.done)
	for {
		for len(p.warm) < cap(p.warm) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			b, err := d.spawn(ctx)
			cancel()
			if err != nil {
				d.log.Error("linux sandbox: making a warm sandbox", "err", err)
				select {
				case <-time.After(time.Second):
					continue
				case <-p.closed:
					return
				}
			}
			select {
			case p.warm <- b:
			case <-p.closed:
				b.abort()
				return
			}
		}
		select {
		case <-p.refill:
		case <-p.closed:
			return
		}
	}
}

// take returns a warm sandbox, or nil if there is none ready. The
// caller calls kick once the runtime of the sandbox it took has ended its
// init (or the start failed): the refill's spawn then does not compete
// with that start for the CPU.
func (p *pool) take() *box {
	if p.warm == nil {
		return nil
	}
	select {
	case b := <-p.warm:
		return b
	default:
		p.kick() // none ready: the filler may be idle
		return nil
	}
}

// kick wakes the filler.
func (p *pool) kick() {
	if p.warm == nil {
		return
	}
	// After the take, so that the filler sees the pool short of one.
	select {
	case p.refill <- struct{}{}:
	default:
	}
}

// close stops the filler and removes the warm sandboxes.
func (p *pool) close() {
	p.closeOnce.Do(func() { close(p.closed) })
	if p.warm == nil {
		return
	}
	p.startOnce.Do(func() { close(p.done) }) // never started: nothing to wait for
	<-p.done
	for {
		select {
		case b := <-p.warm:
			b.abort()
		default:
			return
		}
	}
}
