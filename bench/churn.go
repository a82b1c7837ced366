package main

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"time"
)

// ChurnResult is how fast the server creates and destroys sandboxes.
type ChurnResult struct {
	Section
	Phases []ChurnPhase `json:"phases"`
	// Destroy: after deleting the functions of the first two phases, how
	// long until none of their runtime processes was left.
	Destroyed       int     `json:"destroyed"`
	DestroySeconds  float64 `json:"destroy_seconds"`
	DestroyPerSec   float64 `json:"destroyed_per_second"`
	DestroySpan     float64 `json:"destroy_span_seconds"`
	DestroySpanRate float64 `json:"destroyed_per_second_first_to_last"`
	DestroyNote     string  `json:"destroy_note,omitempty"`
}

// ChurnPhase is one way of making sandboxes.
type ChurnPhase struct {
	Name      string  `json:"name"`
	Clients   int     `json:"clients"`
	Sandboxes int     `json:"sandboxes"`
	Seconds   float64 `json:"seconds"`
	PerSec    float64 `json:"sandboxes_per_second"`
	Latency   Dist    `json:"latency"`
}

const churnParallel = 4

func (b *bench) runChurn(ctx context.Context) (*ChurnResult, error) {
	n := b.size.ChurnN
	res := &ChurnResult{Section: Section{Status: statusOK}}
	seq, par, upd := b.prefix+"churn-seq", b.prefix+"churn-par", b.prefix+"churn-update"
	bg := context.WithoutCancel(ctx)
	for _, name := range []string{seq, par, upd} {
		if err := b.dep.create(ctx, name, b.fns.Go, memOneCPU); err != nil {
			return nil, err
		}
		defer b.dep.delete(bg, name)
	}
	// The versions are published before the clock starts: the phases
	// measure sandboxes, not the control plane.
	publish := func(name string) ([]string, error) {
		var vs []string
		for i := range n {
			v, err := b.dep.newVersion(ctx, name, i)
			if err != nil {
				return nil, err
			}
			vs = append(vs, v)
		}
		return vs, nil
	}
	seqV, err := publish(seq)
	if err != nil {
		return nil, err
	}
	parV, err := publish(par)
	if err != nil {
		return nil, err
	}

	run := func(name string, clients int, each func(i int) error) (ChurnPhase, error) {
		ph := ChurnPhase{Name: name, Clients: clients, Sandboxes: n}
		lat := make([]float64, n)
		next := make(chan int, n)
		for i := range n {
			next <- i
		}
		close(next)
		var wg sync.WaitGroup
		var mu sync.Mutex
		var firstErr error
		start := time.Now()
		for range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range next {
					t0 := time.Now()
					if err := each(i); err != nil {
						mu.Lock()
						if firstErr == nil {
							firstErr = err
						}
						mu.Unlock()
						return
					}
					lat[i] = ms(time.Since(t0))
				}
			}()
		}
		wg.Wait()
		ph.Seconds = time.Since(start).Seconds()
		ph.PerSec = float64(n) / ph.Seconds
		ph.Latency = distOf(lat)
		return ph, firstErr
	}
	invokeVersion := func(fn string, vs []string) func(int) error {
		return func(i int) error {
			_, err := invokeOK(ctx, b.inv, invocation{Function: fn, Qualifier: vs[i]})
			return err
		}
	}
	ph, err := run("distinct versions, one after another", 1, invokeVersion(seq, seqV))
	if err != nil {
		return nil, err
	}
	res.Phases = append(res.Phases, ph)
	ph, err = run(fmt.Sprintf("distinct versions, %d clients", churnParallel), churnParallel, invokeVersion(par, parV))
	if err != nil {
		return nil, err
	}
	res.Phases = append(res.Phases, ph)

	// Sustained churn: each round changes $LATEST's configuration, which
	// retires its sandbox, and invokes it, which starts a new one.
	ph, err = run("update $LATEST then invoke it (control plane included)", 1, func(i int) error {
		if _, err := b.dep.api.UpdateFunctionConfiguration(ctx, updateEnv(upd, i)); err != nil {
			return err
		}
		if err := b.dep.wait(ctx, upd); err != nil {
			return err
		}
		_, err := invokeOK(ctx, b.inv, invocation{Function: upd})
		return err
	})
	if err != nil {
		return nil, err
	}
	res.Phases = append(res.Phases, ph)

	// Destroy: delete the functions of every phase and watch their
	// runtimes go. (The node's memory budget may already have evicted
	// the oldest ones; what is still running is what is measured.)
	if b.tgt.PID == 0 {
		res.DestroyNote = "the server's process is not visible from here: destruction not measured"
		return res, nil
	}
	fns := map[string]bool{seq: true, par: true, upd: true}
	live, ok := functionProcs(b.tgt.PID, fns)
	if !ok {
		res.DestroyNote = "cannot read the sandbox processes' environment (needs root or the server's user): destruction not measured"
		return res, nil
	}
	res.Destroyed = live
	t0 := time.Now()
	b.dep.delete(ctx, seq)
	b.dep.delete(ctx, par)
	b.dep.delete(ctx, upd)
	var first time.Time
	deadline := t0.Add(60 * time.Second)
	for {
		c, _ := functionProcs(b.tgt.PID, fns)
		if first.IsZero() && c < live {
			first = time.Now()
		}
		if c == 0 {
			break
		}
		if time.Now().After(deadline) {
			res.DestroyNote = fmt.Sprintf("after 60 s %d of %d sandboxes of the deleted functions were still running", c, live)
			return res, nil
		}
		time.Sleep(5 * time.Millisecond)
	}
	res.DestroySeconds = time.Since(t0).Seconds()
	res.DestroyPerSec = float64(res.Destroyed) / res.DestroySeconds
	if !first.IsZero() {
		res.DestroySpan = time.Since(first).Seconds()
		if res.DestroySpan > 0 {
			res.DestroySpanRate = float64(res.Destroyed) / res.DestroySpan
		}
	}
	return res, nil
}

func (b *bench) printChurn(c *ChurnResult, f *FloorResult) {
	floor, fname := f.execFloor(b.tgt.Driver)
	floorRate := 0.0
	if floor > 0 {
		floorRate = 1000 / floor
	}
	t := &table{title: "Sandbox churn", head: []string{"how", "sandboxes", "sandboxes/s", "p50 per invoke", "p99", "× floor"}}
	for _, p := range c.Phases {
		fr := floorRate * float64(min(p.Clients, runtime.NumCPU()))
		t.add(p.Name, fmt.Sprint(p.Sandboxes), fmtRate(p.PerSec, "/s"), fmtMs(p.Latency.P50), fmtMs(p.Latency.P99), fmtRatio(ratio(fr, p.PerSec)))
	}
	switch {
	case c.DestroyNote != "":
		t.add("destroy (delete the functions)", "", "not measured")
		t.note("%s", c.DestroyNote)
	default:
		t.add("destroy (delete the functions, until gone)", fmt.Sprint(c.Destroyed), fmtRate(c.DestroyPerSec, "/s"), "", "", "")
		t.add("destroy (first to last removal)", fmt.Sprint(c.Destroyed), fmtRate(c.DestroySpanRate, "/s"), "", "", "")
	}
	t.note("Functions of %d MB (one vCPU), so that the function's CPU quota is not what is measured.", memOneCPU)
	t.note("Create: each invoke goes to a version no sandbox has run (versions published beforehand, so the control plane is not timed), so each one starts a sandbox; the server keeps them warm.")
	t.note("Update then invoke: UpdateFunctionConfiguration on $LATEST makes its warm sandbox stale (the reaper retires it) and the next invoke starts a new one: one sandbox created and one destroyed per round.")
	t.note("Destroy: DeleteFunction of every phase's function, then the processes below the server whose environment names them (AWS_LAMBDA_FUNCTION_NAME) are counted every 5 ms until none is left. The server's reaper runs once a second, so the first figure includes up to 1 s of waiting for it; the second runs from the first removal to the last.")
	if floorRate > 0 {
		t.note("× floor: %s per second (1 / %s) times the clients, at most the %d cores, over Kumo's rate.", fname, fmtMs(floor), runtime.NumCPU())
	}
	t.text(b.out)
}
