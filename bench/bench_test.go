package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestQuick runs the quick suite end to end against a freshly built server
// and checks that every section was produced. It asserts what was
// measured, never how fast.
func TestQuick(t *testing.T) {
	if testing.Short() {
		t.Skip("TestQuick builds kumo and the Runtime Interface Emulator and runs the whole quick benchmark suite (minutes); skipped with -short")
	}
	jsonPath := filepath.Join(t.TempDir(), "bench.json")
	opts, err := parseFlags([]string{"-quick", "-json", jsonPath}, os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	// A ceiling for a loaded machine, not a pace: the suite includes
	// building and measuring the Runtime Interface Emulator.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	var out bytes.Buffer
	rep, err := run(ctx, opts, &out)
	t.Log(out.String())
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	for _, p := range rep.Problems {
		t.Errorf("problem: %s", p)
	}

	okOrUnavailable := func(what string, s Section) {
		t.Helper()
		if s.Status != statusOK && s.Status != statusUnavailable {
			t.Errorf("%s: status %q (%s), want ok or not available", what, s.Status, s.Note)
		}
	}
	mustOK := func(what string, s Section) {
		t.Helper()
		if s.Status != statusOK {
			t.Errorf("%s: status %q (%s), want ok", what, s.Status, s.Note)
		}
	}

	if rep.Floor == nil {
		t.Fatal("no host floor")
	}
	for _, key := range []string{floorExec, floorHTTP} {
		if rep.Floor.get(key) == nil {
			t.Errorf("host floor %s not measured", key)
		}
	}

	// Go, Python and Node.js at two sizes each, then Java and Ruby where
	// the host has javac and ruby.
	rows := 6
	for _, tool := range []string{"javac", "ruby"} {
		if _, err := exec.LookPath(tool); err == nil {
			rows++
		}
	}
	if rep.Cold == nil || len(rep.Cold.Runtimes) != rows {
		t.Fatalf("cold start: want %d runtime rows, got %+v", rows, rep.Cold)
	}
	for i, r := range rep.Cold.Runtimes {
		if i < 2 { // Go runs today
			mustOK("cold start "+r.Label, r.Section)
			if r.Client.N != opts.coldN() || r.Init.N != opts.coldN() {
				t.Errorf("cold start %s: %d client samples and %d Init Durations, want %d of each", r.Label, r.Client.N, r.Init.N, opts.coldN())
			}
			continue
		}
		okOrUnavailable("cold start "+r.Label, r.Section)
	}

	if rep.Warm == nil {
		t.Fatal("no warm section")
	}
	mustOK("warm", rep.Warm.Section)
	if rep.Warm.Client.N == 0 || rep.Warm.Report.N == 0 || rep.Warm.Handler.N == 0 {
		t.Errorf("warm: client %d, REPORT %d, handler %d samples; want all", rep.Warm.Client.N, rep.Warm.Report.N, rep.Warm.Handler.N)
	}
	if len(rep.Warm.Throughput) != 5 {
		t.Errorf("warm: %d throughput rows, want 5", len(rep.Warm.Throughput))
	}
	spread := 0
	for _, th := range rep.Warm.Throughput {
		if th.Functions > 0 {
			spread++
		}
	}
	if spread != 1 {
		t.Errorf("warm: %d throughput rows across many functions, want 1", spread)
	}
	for _, th := range rep.Warm.Throughput {
		if th.Invokes == 0 {
			t.Errorf("warm: no invoke completed with %d clients (%s)", th.Parallel, th.FirstError)
		}
	}

	if rep.Churn == nil {
		t.Fatal("no churn section")
	}
	mustOK("churn", rep.Churn.Section)
	if len(rep.Churn.Phases) != 3 {
		t.Errorf("churn: %d phases, want 3", len(rep.Churn.Phases))
	}
	if rep.Churn.DestroyNote != "" || rep.Churn.Destroyed == 0 {
		t.Errorf("churn: destruction not measured: %q (%d sandboxes)", rep.Churn.DestroyNote, rep.Churn.Destroyed)
	}

	if rep.Density == nil {
		t.Fatal("no density section")
	}
	mustOK("density", rep.Density.Section)
	if rep.Density.PSSPerKB <= 0 || rep.Density.PerGB <= 0 {
		t.Errorf("density: %.0f KB PSS per sandbox, %d per GB", rep.Density.PSSPerKB, rep.Density.PerGB)
	}

	if rep.Async == nil {
		t.Fatal("no async section")
	}
	okOrUnavailable("async", rep.Async.Section)

	if rep.DynamoDB == nil {
		t.Fatal("no dynamodb section")
	}
	mustOK("dynamodb", rep.DynamoDB.Section)
	if rep.DynamoDB.Put.N == 0 || rep.DynamoDB.Get.N == 0 || rep.DynamoDB.Query.N == 0 {
		t.Errorf("dynamodb: %d puts, %d gets, %d queries measured", rep.DynamoDB.Put.N, rep.DynamoDB.Get.N, rep.DynamoDB.Query.N)
	}

	if rep.Compare == nil || len(rep.Compare.RuntimeAPI) == 0 {
		t.Fatal("no comparison section")
	}
	mustOK("runtime API (Kumo, in-process)", rep.Compare.RuntimeAPI[0].Section)
	if rep.Compare.RuntimeAPI[0].Platform.N == 0 {
		t.Error("runtime API (Kumo, in-process): no round trip")
	}
	if r := rep.Compare.RIE; r == nil {
		t.Error("no Runtime Interface Emulator section")
	} else {
		mustOK("Runtime Interface Emulator", r.Section)
		if r.Warm == nil || len(r.Warm.Throughput) == 0 || r.Warm.Throughput[0].Invokes == 0 || r.Warm.Throughput[0].ServerCPUUs <= 0 {
			t.Errorf("Runtime Interface Emulator: no warm invoke or server CPU measured: %+v", r.Warm)
		}
		if r.Cold.N != opts.coldN() || r.KumoCold == nil || r.KumoCold.Client.N != opts.coldN() {
			t.Errorf("Runtime Interface Emulator: %d cold starts and Kumo's %+v, want %d of each", r.Cold.N, r.KumoCold, opts.coldN())
		}
	}

	if len(rep.Summary) == 0 {
		t.Error("no summary rows")
	}
	for _, want := range []string{"== Host floor", "== Cold start", "== Warm invoke", "== Warm throughput", "== Sandbox churn",
		"== Density", "== Asynchronous invoke", "== Runtime API round trips", "== Kumo vs the Runtime Interface Emulator", "== Summary", "## Performance", "| measurement | Kumo |"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q", want)
		}
	}

	b, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatalf("the JSON file does not parse: %v", err)
	}
	if back.Warm == nil || back.Cold == nil || back.Churn == nil || back.Density == nil || back.Async == nil || back.Compare == nil || back.Floor == nil {
		t.Error("the JSON file lacks a section")
	}
}

func (o options) coldN() int { return sizesFor(o.Quick).ColdN }

func TestParseReport(t *testing.T) {
	for _, tc := range []struct {
		name string
		tail string
		want reportLine
	}{
		{"cold", "START RequestId: a Version: 1\nEND RequestId: a\nREPORT RequestId: a\tDuration: 1.27 ms\tBilled Duration: 2 ms\tMemory Size: 128 MB\tMax Memory Used: 2 MB\tInit Duration: 100.55 ms\t\n",
			reportLine{Duration: 1.27, InitDuration: 100.55, MaxMemoryMB: 2, Found: true}},
		{"warm", "REPORT RequestId: b\tDuration: 0.41 ms\tBilled Duration: 1 ms\tMemory Size: 1769 MB\tMax Memory Used: 3 MB\t",
			reportLine{Duration: 0.41, MaxMemoryMB: 3, Found: true}},
		{"last of two", "REPORT RequestId: a\tDuration: 9.00 ms\t\nREPORT RequestId: b\tDuration: 1.00 ms\t",
			reportLine{Duration: 1, Found: true}},
		{"timeout", "REPORT RequestId: c\tDuration: 3000.00 ms\tBilled Duration: 3000 ms\tMemory Size: 128 MB\tMax Memory Used: 5 MB\tStatus: timeout",
			reportLine{Duration: 3000, MaxMemoryMB: 5, Found: true}},
		{"none", "hello\nworld\n", reportLine{}},
		{"empty", "", reportLine{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := parseReport(tc.tail); got != tc.want {
				t.Errorf("parseReport = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestDist(t *testing.T) {
	var s []float64
	for i := 100; i >= 1; i-- {
		s = append(s, float64(i))
	}
	d := distOf(s)
	if d.N != 100 || d.P50 != 50 || d.P90 != 90 || d.P99 != 99 || d.Min != 1 || d.Max != 100 || d.Mean != 50.5 {
		t.Errorf("distOf(1..100) = %+v", d)
	}
	if d := distOf([]float64{7}); d.P50 != 7 || d.P99 != 7 {
		t.Errorf("distOf([7]) = %+v", d)
	}
	if d := distOf(nil); d.N != 0 {
		t.Errorf("distOf(nil) = %+v", d)
	}
}

func TestParseFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		ok   bool
	}{
		{nil, true},
		{[]string{"-suite", "cold", "-quick"}, true},
		{[]string{"-suite", "nope"}, false},
		{[]string{"-sandbox", "linux"}, true},
		{[]string{"-sandbox", "vm"}, false},
		{[]string{"-sandbox", "process", "-endpoint", "http://127.0.0.1:9070"}, false},
		{[]string{"extra"}, false},
	} {
		_, err := parseFlags(tc.args, &bytes.Buffer{})
		if (err == nil) != tc.ok {
			t.Errorf("parseFlags(%q): err %v, want ok %v", tc.args, err, tc.ok)
		}
	}
}
