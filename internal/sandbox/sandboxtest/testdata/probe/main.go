// Command probe is the program the sandbox conformance suite runs inside
// sandboxes, as /var/task/bootstrap. It talks to the suite over the
// Runtime API endpoint in AWS_LAMBDA_RUNTIME_API: a GET of
// /2018-06-01/runtime/invocation/next first, then POSTs of JSON reports to
// /probe/<kind>. It uses only the standard library and is built static.
//
// Usage: probe MODE [ARGS...]
//
//	report CODE        print PROBE_MARKER lines on stdout and stderr, report
//	                   env and cwd, exit with CODE
//	hang TOKEN         ignore SIGTERM, start three children that ignore it
//	                   too (their argv holds TOKEN), report, sleep forever
//	isolation          try everything a sandbox must forbid, report results
//	alloc MB           allocate and touch MB megabytes, report if it lived
//	fill MB            write MB megabytes to /tmp, report the error
//	forkbomb           fork until the process limit stops it, report how far
//	                   it got, wait for the suite's answer, exit
//	cat PATH...        report the contents of the files, in order
//	ls DIR...          report the names in each directory, in order
//	write PATH...      try to write each file, report the errors in order,
//	                   then the hostname
//	next               make the first Runtime API request, then sleep forever
//	child TOKEN        ignore SIGTERM and sleep (started by hang)
//	sleep              sleep forever
//	tick               print a line on stdout every millisecond, forever
//	exit CODE          exit at once
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fatal("usage: probe MODE [ARGS...]")
	}
	arg := func(i int) string {
		if len(os.Args) <= i {
			fatal("missing argument for " + os.Args[1])
		}
		return os.Args[i]
	}
	switch os.Args[1] {
	case "report":
		doReport(atoi(arg(2)))
	case "hang":
		doHang(arg(2))
	case "isolation":
		next()
		post("isolation", isolation())
	case "alloc":
		next()
		doAlloc(atoi(arg(2)))
	case "fill":
		next()
		post("fill", map[string]string{"error": errString(fill(atoi(arg(2))))})
	case "forkbomb":
		doForkBomb()
	case "cat":
		next()
		var r []string // in argument order: the process driver rewrites paths
		for _, p := range os.Args[2:] {
			b, err := os.ReadFile(p)
			if err != nil {
				r = append(r, "error: "+err.Error())
			} else {
				r = append(r, string(b))
			}
		}
		post("cat", r)
	case "ls":
		next()
		var r []string // in argument order: the names in each directory
		for _, p := range os.Args[2:] {
			ents, err := os.ReadDir(p)
			if err != nil {
				r = append(r, "error: "+err.Error())
				continue
			}
			var names []string
			for _, e := range ents {
				names = append(names, e.Name())
			}
			r = append(r, strings.Join(names, " "))
		}
		post("ls", r)
	case "write":
		next()
		var r []string // in argument order; "" where the write worked
		for _, p := range os.Args[2:] {
			f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
			if err == nil {
				_, err = f.Write([]byte("x"))
				f.Close()
			}
			r = append(r, errString(err))
		}
		host, _ := os.Hostname()
		r = append(r, "hostname="+host)
		post("write", r)
	case "next":
		next()
		forever()
	case "child":
		signal.Ignore(syscall.SIGTERM)
		forever()
	case "sleep":
		forever()
	case "tick":
		next()
		for i := 0; ; i++ {
			fmt.Printf("tick %d\n", i)
			time.Sleep(time.Millisecond)
		}
	case "exit":
		os.Exit(atoi(arg(2)))
	default:
		fatal("unknown mode " + os.Args[1])
	}
}

// forever blocks without tripping the runtime's deadlock detector.
func forever() {
	for {
		time.Sleep(time.Hour)
	}
}

func fatal(msg string) {
	fmt.Fprintln(os.Stderr, "probe:", msg)
	os.Exit(2)
}

func atoi(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		fatal(err.Error())
	}
	return n
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

var client = &http.Client{Timeout: 30 * time.Second}

func api(path string) string { return "http://" + os.Getenv("AWS_LAMBDA_RUNTIME_API") + path }

// next does the Runtime API's first call, as any runtime does.
func next() {
	resp, err := client.Get(api("/2018-06-01/runtime/invocation/next"))
	if err != nil {
		fatal("runtime api: " + err.Error())
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
}

// post sends v as JSON to /probe/kind and returns the answer's body.
func post(kind string, v any) string {
	b, _ := json.Marshal(v)
	resp, err := client.Post(api("/probe/"+kind), "application/json", bytes.NewReader(b))
	if err != nil {
		fatal("posting " + kind + ": " + err.Error())
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return string(body)
}

func doReport(code int) {
	marker := os.Getenv("PROBE_MARKER")
	fmt.Println("stdout", marker)
	fmt.Fprintln(os.Stderr, "stderr", marker)
	next()
	cwd, _ := os.Getwd()
	marker2, err := os.ReadFile("marker")
	post("report", map[string]any{
		"env":        os.Environ(),
		"cwd":        cwd,
		"uid":        os.Getuid(),
		"cwd_marker": strings.TrimSpace(string(marker2)) + errString(err),
	})
	os.Exit(code)
}

func doHang(token string) {
	signal.Ignore(syscall.SIGTERM)
	self, err := os.Executable()
	if err != nil {
		fatal(err.Error())
	}
	var pids []int
	for i := 0; i < 3; i++ {
		cmd := exec.Command(self, "child", token)
		if err := cmd.Start(); err != nil {
			fatal(err.Error())
		}
		pids = append(pids, cmd.Process.Pid)
	}
	next()
	post("hang", map[string]any{"pids": pids})
	forever()
}

var sink [][]byte

func doAlloc(mb int) {
	for i := 0; i < mb; i++ {
		b := make([]byte, 1<<20)
		for j := 0; j < len(b); j += 4096 {
			b[j] = 1
		}
		sink = append(sink, b)
	}
	post("alloc", map[string]any{"allocated_mb": mb})
	forever()
}

func fill(mb int) error {
	f, err := os.Create("/tmp/fill")
	if err != nil {
		return err
	}
	defer f.Close()
	buf := bytes.Repeat([]byte{1}, 1<<20)
	for i := 0; i < mb; i++ {
		if _, err := f.Write(buf); err != nil {
			return err
		}
	}
	return f.Sync()
}

// doForkBomb forks children until forking has failed for half a second,
// counts the tasks (threads) it can see, reports, and waits for the
// suite's answer before it lets the children go.
func doForkBomb() {
	next()
	self, err := os.Executable()
	if err != nil {
		fatal(err.Error())
	}
	started, failures := 0, 0
	var lastErr error
	var failingSince time.Time
	for {
		_, err := syscall.ForkExec(self, []string{self, "sleep"}, &syscall.ProcAttr{
			Env: []string{"GOMAXPROCS=1"},
		})
		if err == nil {
			started++
			failingSince = time.Time{}
			continue
		}
		failures++
		lastErr = err
		if failingSince.IsZero() {
			failingSince = time.Now()
		} else if time.Since(failingSince) > 500*time.Millisecond {
			break
		}
		if started+failures > 100000 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	post("forkbomb", map[string]any{
		"started": started, "failures": failures, "error": errString(lastErr), "tasks": countTasks(),
	})
	os.Exit(0)
}

// countTasks sums the threads of every process in /proc.
func countTasks() int {
	ents, _ := os.ReadDir("/proc")
	n := 0
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/status")
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "Threads:"); ok {
				t, _ := strconv.Atoi(strings.TrimSpace(v))
				n += t
			}
		}
	}
	return n
}
