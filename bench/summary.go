package main

import (
	"fmt"
	"runtime"
	"strings"
)

// summary is the README table: the headline figure of every section, the
// host floor it compares with, and the ratio (Kumo / floor for times and
// memory, floor / Kumo for rates: how many times further from what the
// machine allows).
func (b *bench) summary(rep *Report) []SummaryRow {
	var rows []SummaryRow
	f := rep.Floor
	add := func(name, kumo, floor string, r float64) {
		rows = append(rows, SummaryRow{Measurement: name, Kumo: kumo, Floor: floor, Ratio: r})
	}
	p50p99 := func(d Dist) string { return fmtMs(d.P50) + " (p99 " + fmtMs(d.P99) + ")" }

	if c := rep.Cold; c != nil {
		for _, r := range c.Runtimes {
			if r.Status != statusOK {
				msg := r.Status
				if r.Status == statusUnavailable {
					msg = "not available on this server yet"
				}
				add("Cold start, "+r.Label, msg, "", 0)
				continue
			}
			floor, fname := coldFloor(f, r.Runtime, rep.Server.Driver)
			fl := ""
			if floor > 0 {
				fl = fname + ": " + fmtMs(floor)
			}
			add("Cold start, "+r.Label+": first invoke, client", p50p99(r.Client), fl, ratio(r.Client.P50, floor))
			add("Cold start, "+r.Label+": Init Duration", p50p99(r.Init), fl, ratio(r.Init.P50, floor))
		}
	}
	rtt := f.p50(floorHTTP)
	rttName := ""
	if rtt > 0 {
		rttName = "loopback HTTP round trip: " + fmtMs(rtt)
	}
	if w := rep.Warm; w != nil && w.Status == statusOK {
		add(fmt.Sprintf("Warm invoke, Go no-op (%d MB): client latency", memOneCPU), p50p99(w.Client), rttName, ratio(w.Client.P50, rtt))
		if w.Overhead.N > 0 {
			add("Warm invoke: platform overhead (client − handler)", p50p99(w.Overhead), rttName, ratio(w.Overhead.P50, rtt))
		}
		for _, r := range w.Runtimes {
			if r.Status != statusOK {
				add("Warm invoke, "+r.Label+" hello world", r.Status, "", 0)
				continue
			}
			add(fmt.Sprintf("Warm invoke, %s hello world (%d MB): client latency", r.Label, memOneCPU), p50p99(r.Client), rttName, ratio(r.Client.P50, rtt))
		}
		for _, th := range w.Throughput {
			floor, fl := 0.0, ""
			if it := f.get(fmt.Sprintf("%s%d", floorHTTPPar, th.Parallel)); it != nil {
				floor, fl = it.Rate, "loopback HTTP: "+fmtRate(it.Rate, "req/s")
			}
			name := fmt.Sprintf("Warm throughput, %s, %d MB function", clients(th.Parallel), th.MemoryMB)
			if th.Functions > 0 {
				name = fmt.Sprintf("Warm throughput, %s across %d functions, %d MB", clients(th.Parallel), th.Functions, th.MemoryMB)
			}
			add(name, fmtRate(th.PerSec, "invokes/s"), fl, ratio(floor, th.PerSec))
		}
	}
	if c := rep.Churn; c != nil && c.Status == statusOK {
		floor, fname := f.execFloor(rep.Server.Driver)
		for _, p := range c.Phases {
			fr, fl := 0.0, ""
			if floor > 0 {
				k := min(p.Clients, runtime.NumCPU())
				fr = 1000 / floor * float64(k)
				fl = fmt.Sprintf("%s × %d: %s", fname, k, fmtRate(fr, "/s"))
			}
			add("Sandboxes created: "+p.Name, fmtRate(p.PerSec, "/s"), fl, ratio(fr, p.PerSec))
		}
		if c.DestroyNote == "" {
			add("Sandboxes destroyed (after DeleteFunction, incl. reaper tick)", fmtRate(c.DestroyPerSec, "/s"), "", 0)
		}
	}
	if d := rep.Density; d != nil && d.Status == statusOK {
		idle, fl := 0.0, ""
		if it := f.get(floorIdleProc); it != nil {
			idle, fl = it.KB, "bare no-op runtime process (PSS): "+fmtMB(it.KB)
		}
		add("Memory per idle warm Go sandbox (server RSS + sandbox PSS)", fmtMB(d.TotalPerKB), fl, ratio(d.TotalPerKB, idle))
		add("Idle warm Go sandboxes per GiB", fmt.Sprint(d.PerGB), "", 0)
	}
	if a := rep.Async; a != nil {
		switch {
		case a.Status == statusOK && a.DrainNote == "":
			add("Async invoke: enqueue / drain", fmtRate(a.EnqueuePerSec, "events/s")+" / "+fmtRate(a.DrainPerSec, "events/s"), "", 0)
		case a.Status == statusOK:
			add("Async invoke: enqueue", fmtRate(a.EnqueuePerSec, "events/s"), "", 0)
		case a.Status == statusUnavailable:
			add("Async invoke", "not available on this server yet", "", 0)
		default:
			add("Async invoke", a.Status, "", 0)
		}
	}
	if c := rep.Compare; c != nil {
		for _, r := range c.RuntimeAPI {
			if r.Status != statusOK {
				continue
			}
			add("Runtime API, response→next invocation: "+r.Name, p50p99(r.RuntimeSide), rttName, ratio(r.RuntimeSide.P50, rtt))
		}
	}
	return rows
}

func (b *bench) printSummary(rep *Report) {
	t := &table{title: "Summary", head: []string{"measurement", "Kumo", "host floor", "× floor"}}
	for _, r := range rep.Summary {
		t.add(r.Measurement, r.Kumo, r.Floor, fmtRatio(r.Ratio))
	}
	t.text(b.out)

	m := rep.Machine
	fmt.Fprintln(b.out, "\n---- markdown for README.md ----")
	fmt.Fprintln(b.out, "## Performance")
	fmt.Fprintln(b.out)
	mode := "`go run ./bench`"
	if rep.Quick {
		mode = "`go run ./bench -quick`"
	}
	driver := rep.Server.Driver
	if driver == "" {
		driver = "unknown"
	}
	fmt.Fprintf(b.out, "Measured with %s on %s (%d cores, %.0f GB, Linux %s, %s, load average %.1f at the start), sandbox driver `%s`, %s.\n",
		mode, m.CPU, m.Cores, m.MemoryGB, m.Kernel, m.Go, m.Load, driver, rep.Started.Format("2006-01-02"))
	fmt.Fprintln(b.out, "The host floor is the same primitive measured on the same machine in the same run;")
	fmt.Fprintln(b.out, "× floor is Kumo / floor for times and memory, floor / Kumo for rates (1× is what the machine allows).")
	fmt.Fprintln(b.out)
	t.notes = nil
	t.markdown(b.out)
	var missing []string
	for _, r := range rep.Summary {
		if strings.Contains(r.Kumo, "not available") {
			missing = append(missing, strings.TrimPrefix(r.Measurement, "Cold start, "))
		}
	}
	if len(missing) > 0 {
		fmt.Fprintf(b.out, "\nNot available on this server yet: %s.\n", strings.Join(missing, "; "))
	}
	fmt.Fprintln(b.out, "---- end ----")
}
