// Command kumo-keepalive-sim replays Azure Functions 2019 trace samples
// under several keep-alive policies and prints, per trace, cold-start
// percentages and idle memory-time, normalised to a fixed 10-minute
// keep-alive.
//
//	kumo-keepalive-sim DIR...
//
// Each DIR holds invocations.csv, durations.csv and memory.csv.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"github.com/kumo-run/kumo/internal/keepalive"
)

func main() {
	flag.Usage = func() {
		fmt.Fprintln(flag.CommandLine.Output(), "usage: kumo-keepalive-sim DIR...")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() == 0 {
		flag.Usage()
		os.Exit(2)
	}
	for i, dir := range flag.Args() {
		if i > 0 {
			fmt.Println()
		}
		if err := run(os.Stdout, dir); err != nil {
			fmt.Fprintln(os.Stderr, "kumo-keepalive-sim:", err)
			os.Exit(1)
		}
	}
}

// policies returns fresh policies; the first is the normalisation base.
func policies() []keepalive.Policy {
	return []keepalive.Policy{
		keepalive.Fixed{Idle: 10 * time.Minute},
		keepalive.Fixed{Idle: 0},
		keepalive.Fixed{Idle: 20 * time.Minute},
		keepalive.NewHybrid(keepalive.HybridConfig{}),
		keepalive.NewHybrid(keepalive.HybridConfig{Fallback: 10 * time.Minute}),
	}
}

func run(w io.Writer, dir string) error {
	tr, err := keepalive.ReadTrace(dir)
	if err != nil {
		return err
	}
	var invocations int64
	noMem, noDur := 0, 0
	for _, f := range tr.Functions {
		for _, c := range f.Counts {
			invocations += int64(c)
		}
		if f.MemoryMB == 0 {
			noMem++
		}
		if f.Duration == 0 {
			noDur++
		}
	}
	fmt.Fprintf(w, "trace %s: %d functions, %d minutes from minute %d, %d invocations (%d without memory, %d without duration)\n",
		tr.Name, len(tr.Functions), tr.Minutes, tr.Start, invocations, noMem, noDur)

	var results []keepalive.Result
	for _, p := range policies() {
		results = append(results, keepalive.Simulate(tr, p, keepalive.Options{}))
	}
	base := results[0]
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "policy\tcold %\tp50 fn cold %\tp75 fn cold %\twasted GB-min\tcold / fixed 10m\twasted / fixed 10m\t")
	for _, r := range results {
		fmt.Fprintf(tw, "%s\t%.3f\t%.1f\t%.1f\t%.1f\t%s\t%s\t\n",
			r.Policy, r.ColdPercent(), r.FunctionColdPercentile(50), r.FunctionColdPercentile(75),
			r.WastedGBMinutes, ratio(r.ColdPercent(), base.ColdPercent()), ratio(r.WastedGBMinutes, base.WastedGBMinutes))
	}
	return tw.Flush()
}

func ratio(a, b float64) string {
	if b == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", a/b)
}
