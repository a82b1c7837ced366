package main

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// ColdResult is the cold start measurement, one entry per runtime.
type ColdResult struct {
	Section
	Runtimes []ColdRuntime `json:"runtimes"`
}

// ColdRuntime is the cold starts of one runtime over fresh versions.
type ColdRuntime struct {
	Section
	Runtime  string `json:"runtime"`
	Label    string `json:"label"`
	MemoryMB int    `json:"memory_mb"`
	// Client is the latency of each version's first invoke (with Tail),
	// Init its REPORT Init Duration, Second the latency of the invoke
	// that follows it (warm, same sandbox), Publish the time
	// UpdateFunctionConfiguration + PublishVersion took before it.
	Client  Dist `json:"client"`
	Init    Dist `json:"init_duration"`
	Second  Dist `json:"second_invoke"`
	Publish Dist `json:"publish"`
	// NoInit counts first invokes whose REPORT had no Init Duration.
	NoInit int `json:"no_init_duration,omitempty"`
}

// coldSettle is the pause between two cold starts of a runtime.
const coldSettle = 1500 * time.Millisecond

func (b *bench) runCold(ctx context.Context) *ColdResult {
	res := &ColdResult{Section: Section{Status: statusOK}}
	// Every runtime at Lambda's default size, and Go, Python and Node.js
	// also at one full vCPU: the CPU quota is proportional to memory, and
	// it applies from the first instruction of init.
	res.Runtimes = append(res.Runtimes, b.coldRuntime(ctx, b.fns.Go, memDefault), b.coldRuntime(ctx, b.fns.Go, memOneCPU))
	for _, rt := range b.fns.all()[1:] {
		res.Runtimes = append(res.Runtimes, b.coldRuntime(ctx, rt, memDefault))
		if rt.ID == b.fns.Python.ID || rt.ID == b.fns.Node.ID {
			res.Runtimes = append(res.Runtimes, b.coldRuntime(ctx, rt, memOneCPU))
		}
	}
	return res
}

// unavailable turns an InvalidRuntimeException into the "not available"
// status; other errors fail the runtime's row.
func unavailable(err error) Section {
	if isErrorType(err, "InvalidRuntimeException") {
		return Section{Status: statusUnavailable, Note: "not available on this server yet (" + errorMessage(err) + ")"}
	}
	return Section{Status: statusFailed, Note: err.Error()}
}

func (b *bench) coldRuntime(ctx context.Context, rt fnRuntime, memoryMB int) ColdRuntime {
	out := ColdRuntime{Runtime: rt.ID, Label: fmt.Sprintf("%s, %d MB", rt.Label, memoryMB), MemoryMB: memoryMB, Section: Section{Status: statusOK}}
	name := fmt.Sprintf("%scold-%s-%d", b.prefix, strings.NewReplacer(".", "", "_", "").Replace(rt.ID), memoryMB)
	if err := b.dep.create(ctx, name, rt, memoryMB); err != nil {
		out.Section = unavailable(err)
		return out
	}
	defer b.dep.delete(context.WithoutCancel(ctx), name)
	var client, initD, second, publish []float64
	for i := range b.size.ColdN {
		if i > 0 {
			// A cold start finds the server's warm sandboxes and
			// pre-started runtimes refilled after the last one, as
			// between real ones (one of each is refilled at a time, in
			// the background).
			select {
			case <-time.After(coldSettle):
			case <-ctx.Done():
			}
		}
		t0 := time.Now()
		v, err := b.dep.newVersion(ctx, name, i)
		if err != nil {
			out.Section = Section{Status: statusFailed, Note: "publishing a version: " + err.Error()}
			return out
		}
		publish = append(publish, ms(time.Since(t0)))
		r, err := invokeOK(ctx, b.inv, invocation{Function: name, Qualifier: v, Tail: true})
		if err != nil {
			out.Section = unavailable(err)
			if i > 0 {
				out.Note += fmt.Sprintf(" (after %d cold starts)", i)
			}
			return out
		}
		client = append(client, ms(r.Latency))
		if rep := parseReport(r.LogTail); rep.InitDuration > 0 {
			initD = append(initD, rep.InitDuration)
		} else {
			out.NoInit++
		}
		r, err = invokeOK(ctx, b.inv, invocation{Function: name, Qualifier: v})
		if err == nil {
			second = append(second, ms(r.Latency))
		}
	}
	out.Client, out.Init, out.Second, out.Publish = distOf(client), distOf(initD), distOf(second), distOf(publish)
	if out.NoInit > 0 {
		out.Note = fmt.Sprintf("%d of %d first invokes had no Init Duration in REPORT (not a cold start?)", out.NoInit, len(client))
	}
	return out
}

// coldFloor is the host primitive a runtime's cold start compares with.
func coldFloor(f *FloorResult, runtimeID, driver string) (float64, string) {
	switch {
	case strings.HasPrefix(runtimeID, "python"):
		return f.p50(floorPython), "python3 -c pass"
	case strings.HasPrefix(runtimeID, "nodejs"):
		return f.p50(floorNode), "node -e 0"
	}
	return f.execFloor(driver)
}

func (b *bench) printCold(c *ColdResult, f *FloorResult) {
	t := &table{title: fmt.Sprintf("Cold start: first invoke of a new function version (%d versions per runtime)", b.size.ColdN),
		head: []string{"runtime", "measure", "p50", "p90", "p99", "n", "× floor"}}
	for _, r := range c.Runtimes {
		if r.Status != statusOK {
			t.add(r.Label, r.Status)
			t.note("%s: %s", r.Label, r.Note)
			continue
		}
		floor, fname := coldFloor(f, r.Runtime, b.tgt.Driver)
		t.add(r.Label, "client latency", fmtMs(r.Client.P50), fmtMs(r.Client.P90), fmtMs(r.Client.P99), fmt.Sprint(r.Client.N), fmtRatio(ratio(r.Client.P50, floor)))
		t.add("", "Init Duration (REPORT)", fmtMs(r.Init.P50), fmtMs(r.Init.P90), fmtMs(r.Init.P99), fmt.Sprint(r.Init.N), fmtRatio(ratio(r.Init.P50, floor)))
		t.add("", "next invoke (warm)", fmtMs(r.Second.P50), fmtMs(r.Second.P90), fmtMs(r.Second.P99), fmt.Sprint(r.Second.N), "")
		t.add("", "update config + publish", fmtMs(r.Publish.P50), fmtMs(r.Publish.P90), fmtMs(r.Publish.P99), fmt.Sprint(r.Publish.N), "")
		if floor > 0 {
			t.note("%s: × floor is p50 over %s (%s).", r.Label, fname, fmtMs(floor))
		}
		if r.Note != "" {
			t.note("%s: %s", r.Label, r.Note)
		}
	}
	t.note("CPU: Kumo, like Lambda, gives a function CPU in proportion to its memory (one vCPU at 1,769 MB; 7%% of one at 128 MB, as a CFS quota per 100 ms).")
	t.note("Method: UpdateFunctionConfiguration (a new environment variable) and PublishVersion, then Invoke of that version with LogType Tail; Init Duration is parsed from the REPORT line of the log tail. Client latency includes the Tail collection (see the warm table for its cost).")
	t.text(b.out)
}
