// Command fn is the Lambda function the invoke end-to-end tests deploy as
// a provided.al2023 bootstrap. It uses the real Go runtime client
// (aws-lambda-go) and does what the event's "action" asks:
//
//	echo       return the event, the environment, the invocation's context
//	           and a counter kept across warm invocations
//	error      return an error of type TestError with "message"
//	panic      panic with "message"
//	exit       os.Exit("code")
//	sleep      sleep "ms" milliseconds, then answer
//	membomb    allocate and touch memory until the sandbox is killed
//	hold       allocate, touch and keep "size" MB, then answer
//	print      print "lines" lines to stdout, then answer
//	respond    answer a JSON string whose encoding is exactly "size" bytes
//	size       answer the size of the event (for large requests)
//	forkbomb   start copies of itself until the process limit stops it,
//	           hold them for "holdMs", clean up and report
//	probe      try what a sandbox must forbid and report what happened
//	aws        call STS GetCallerIdentity and Lambda ListFunctions with
//	           aws-sdk-go-v2 configured from the environment alone (no
//	           endpoint, key or region in this code), report the answers
//	connflood  open "size" connections to the Runtime API and keep them
//	           open after answering (until the sandbox goes)
//	dial       connect to "addr" over TCP, read a line if one comes, report
//	fetch      GET "url", report the status and body
//	listen     listen on a TCP port of every interface (kept for the life
//	           of the sandbox), check it from inside, report the address
//	accepted   report how many connections the listener accepted
//	netinfo    report /etc/resolv.conf and the interfaces' addresses
//
// Most answers carry "tag", the contents of $LAMBDA_TASK_ROOT/tag.txt, so
// tests can tell code versions apart with one binary.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/config"
	awslambda "github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// Argument values for the child processes of the fork bomb.
const (
	argBomber  = "kumo-e2e-bomber"
	argSleeper = "kumo-e2e-sleeper"
)

func main() {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case argSleeper:
			for {
				time.Sleep(time.Hour)
			}
		case argBomber:
			bomb()
			return
		}
	}
	lambda.Start(handle)
}

// event is every action's input; each uses the fields it needs.
type event struct {
	Action  string `json:"action"`
	Message string `json:"message"`
	Code    int    `json:"code"`
	MS      int    `json:"ms"`
	Lines   int    `json:"lines"`
	Size    int    `json:"size"`
	HoldMS  int    `json:"holdMs"`
	// Connect lists host:port addresses the probe tries to reach.
	Connect []string `json:"connect"`
	// FillMB is how much the probe writes to /tmp.
	FillMB int `json:"fillMb"`
	// Addr and URL are what dial and fetch reach.
	Addr string `json:"addr"`
	URL  string `json:"url"`
}

// TestError is the error type the "error" action returns; the runtime
// client reports its type name as errorType.
type TestError struct{ msg string }

func (e *TestError) Error() string { return e.msg }

// invocations counts the invocations this process served: it survives
// warm invocations and starts again in a new sandbox.
var invocations int

func handle(ctx context.Context, raw json.RawMessage) (any, error) {
	invocations++
	var ev event
	if err := json.Unmarshal(raw, &ev); err != nil {
		return nil, err
	}
	tag := readTag()
	switch ev.Action {
	case "echo":
		return echo(ctx, raw, tag), nil
	case "error":
		return nil, &TestError{ev.Message}
	case "panic":
		panic(ev.Message)
	case "exit":
		os.Exit(ev.Code)
	case "sleep":
		time.Sleep(time.Duration(ev.MS) * time.Millisecond)
		return map[string]any{"slept": ev.MS, "tag": tag, "invocations": invocations}, nil
	case "membomb":
		membomb()
	case "hold":
		// Size MB touched and kept for the life of the sandbox.
		b := make([]byte, ev.Size<<20)
		for i := 0; i < len(b); i += 4096 {
			b[i] = 1
		}
		hoard = append(hoard, b)
		return map[string]any{"held": ev.Size, "tag": tag, "invocations": invocations}, nil
	case "flood":
		// Size MB of log lines, written as fast as the pipe takes them.
		line := []byte("flood flood flood flood flood flood flood flood flood flood flood flood flood flood flood\n")
		chunk := bytes.Repeat(line, 65536/len(line))
		total := 0
		for total < ev.Size<<20 {
			n, err := os.Stdout.Write(chunk)
			if err != nil {
				return nil, err
			}
			total += n
		}
		return map[string]any{"flooded": total, "tag": tag}, nil
	case "print":
		for i := 1; i <= ev.Lines; i++ {
			fmt.Printf("fn line %d of %d\n", i, ev.Lines)
		}
		return map[string]any{"printed": ev.Lines, "tag": tag}, nil
	case "respond":
		if ev.Size < 2 {
			return nil, errors.New("size must be at least 2")
		}
		return json.RawMessage(`"` + strings.Repeat("a", ev.Size-2) + `"`), nil
	case "size":
		return map[string]any{"size": len(raw), "tag": tag}, nil
	case "forkbomb":
		return forkbomb(ev.HoldMS), nil
	case "probe":
		return probe(ev), nil
	case "aws":
		return callAWS(ctx)
	case "connflood":
		return connFlood(ev.Size, tag), nil
	case "dial", "fetch", "listen", "accepted", "netinfo":
		return network(ev), nil
	}
	return nil, fmt.Errorf("unknown action %q", ev.Action)
}

func readTag() string {
	b, err := os.ReadFile(filepath.Join(os.Getenv("LAMBDA_TASK_ROOT"), "tag.txt"))
	if err != nil {
		return "error: " + err.Error()
	}
	return strings.TrimSpace(string(b))
}

func echo(ctx context.Context, raw json.RawMessage, tag string) map[string]any {
	env := map[string]string{}
	for _, kv := range os.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	out := map[string]any{
		"event":       raw,
		"env":         env,
		"invocations": invocations,
		"tag":         tag,
		"pid":         os.Getpid(),
	}
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		out["requestId"] = lc.AwsRequestID
		out["functionArn"] = lc.InvokedFunctionArn
		out["clientContext"] = lc.ClientContext
	}
	if d, ok := ctx.Deadline(); ok {
		out["deadlineMs"] = d.UnixMilli()
	}
	return out
}

var hoard [][]byte

// flooded holds the connections connflood opened, so that they outlive
// the invocation.
var flooded []net.Conn

// connFlood dials the Runtime API n times and keeps what connected.
func connFlood(n int, tag string) map[string]any {
	opened, failed := 0, 0
	firstErr := ""
	for range n {
		c, err := net.Dial("tcp", os.Getenv("AWS_LAMBDA_RUNTIME_API"))
		if err != nil {
			failed++
			if firstErr == "" {
				firstErr = err.Error()
			}
			continue
		}
		opened++
		flooded = append(flooded, c)
	}
	return map[string]any{"opened": opened, "failed": failed, "firstError": firstErr, "tag": tag}
}

// membomb allocates and touches memory in 4 MB steps, forever.
func membomb() {
	for {
		b := make([]byte, 4<<20)
		for i := 0; i < len(b); i += 4096 {
			b[i] = 1
		}
		hoard = append(hoard, b)
	}
}

// forkbomb runs the bomb in a child process, so that the runtime client's
// own process never needs a thread while the process limit is reached.
// It then kills whatever the bomb left behind.
func forkbomb(holdMS int) map[string]any {
	cmd := exec.Command("/proc/self/exe", argBomber)
	cmd.Env = append(os.Environ(), "GOMAXPROCS=1", "KUMO_E2E_HOLD_MS="+strconv.Itoa(holdMS))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	res := map[string]any{}
	if jerr := json.Unmarshal(out, &res); jerr != nil {
		res["bomberFailed"] = fmt.Sprintf("%v; output %q; stderr %q", err, out, tail(stderr.String(), 500))
	}
	res["leftoverKilled"] = killSleepers()
	return res
}

// bomb starts sleepers until starting has failed for half a second, holds
// them, counts the tasks it can see, kills the sleepers and prints a JSON
// report on stdout.
func bomb() {
	hold, _ := strconv.Atoi(os.Getenv("KUMO_E2E_HOLD_MS"))
	var pids []int
	failures := 0
	var lastErr error
	var failingSince time.Time
	for len(pids)+failures < 100000 {
		pid, err := syscall.ForkExec("/proc/self/exe", []string{"/proc/self/exe", argSleeper},
			&syscall.ProcAttr{Env: []string{"GOMAXPROCS=1"}})
		if err == nil {
			pids = append(pids, pid)
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
		time.Sleep(time.Millisecond)
	}
	time.Sleep(time.Duration(hold) * time.Millisecond)
	tasks := countTasks()
	for _, pid := range pids {
		syscall.Kill(pid, syscall.SIGKILL)
	}
	for range pids {
		var ws syscall.WaitStatus
		syscall.Wait4(-1, &ws, 0, nil)
	}
	errText := ""
	if lastErr != nil {
		errText = lastErr.Error()
	}
	json.NewEncoder(os.Stdout).Encode(map[string]any{
		"started": len(pids), "failures": failures, "error": errText, "tasks": tasks,
	})
}

// killSleepers kills every sleeper still visible in /proc.
func killSleepers() int {
	n := 0
	for _, pid := range procPIDs() {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
		if err == nil && strings.Contains(string(b), argSleeper) {
			if syscall.Kill(pid, syscall.SIGKILL) == nil {
				n++
			}
		}
	}
	return n
}

func procPIDs() []int {
	ents, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range ents {
		if pid, err := strconv.Atoi(e.Name()); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids
}

// countTasks sums the threads of every process in /proc.
func countTasks() int {
	n := 0
	for _, pid := range procPIDs() {
		f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "Threads:"); ok {
				t, _ := strconv.Atoi(strings.TrimSpace(v))
				n += t
			}
		}
		f.Close()
	}
	return n
}

// probe tries each thing a sandbox must forbid. Each entry of "errors" is
// the error the attempt met, "" when it worked.
func probe(ev event) map[string]any {
	errs := map[string]string{}
	try := func(name string, f func() error) {
		if err := f(); err != nil {
			errs[name] = err.Error()
		} else {
			errs[name] = ""
		}
	}
	try("read /etc/shadow", func() error { _, err := os.ReadFile("/etc/shadow"); return err })
	try("list /root", func() error { _, err := os.ReadDir("/root"); return err })
	try("write /var/task", func() error { return os.WriteFile("/var/task/written", []byte("x"), 0o644) })
	for _, addr := range ev.Connect {
		try("connect "+addr, func() error {
			c, err := net.DialTimeout("tcp", addr, 2*time.Second)
			if err == nil {
				c.Close()
			}
			return err
		})
	}
	written := 0
	try("fill /tmp", func() error {
		defer os.Remove("/tmp/fill")
		f, err := os.Create("/tmp/fill")
		if err != nil {
			return err
		}
		defer f.Close()
		buf := make([]byte, 1<<20)
		for i := range buf {
			buf[i] = 1
		}
		for i := 0; i < ev.FillMB; i++ {
			n, err := f.Write(buf)
			written += n
			if err != nil {
				return err
			}
		}
		return f.Sync()
	})
	var procs []map[string]any
	for _, pid := range procPIDs() {
		cmd, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
		procs = append(procs, map[string]any{"pid": pid, "cmdline": strings.ReplaceAll(string(cmd), "\x00", " ")})
	}
	hostname, _ := os.Hostname()
	return map[string]any{
		"errors":     errs,
		"tmpWritten": written,
		"procs":      procs,
		"pid":        os.Getpid(),
		"uid":        os.Getuid(),
		"hostname":   hostname,
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// callAWS calls AWS the way a function on Lambda does: the SDK's default
// configuration, which reads the region, the role's credentials and the
// endpoint (AWS_ENDPOINT_URL) from the environment.
func callAWS(ctx context.Context) (map[string]any, error) {
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("loading the SDK's configuration: %w", err)
	}
	id, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return nil, fmt.Errorf("sts GetCallerIdentity: %w", err)
	}
	var names []string
	p := awslambda.NewListFunctionsPaginator(awslambda.NewFromConfig(cfg), &awslambda.ListFunctionsInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("lambda ListFunctions: %w", err)
		}
		for _, f := range page.Functions {
			names = append(names, *f.FunctionName)
		}
	}
	creds, err := cfg.Credentials.Retrieve(ctx)
	if err != nil {
		return nil, err
	}
	return map[string]any{
		"arn": *id.Arn, "userId": *id.UserId, "account": *id.Account, "functions": names,
		"accessKeyId": creds.AccessKeyID, "credentialSource": creds.Source,
		"endpoint": os.Getenv("AWS_ENDPOINT_URL"),
	}, nil
}

// The listener of the listen action and what it accepted, for the life of
// the sandbox.
var (
	listener net.Listener
	accepted atomic.Int64
)

// network does the network actions; every failure is reported in
// "error", never returned.
func network(ev event) map[string]any {
	out := map[string]any{}
	fail := func(err error) map[string]any { out["error"] = err.Error(); return out }
	switch ev.Action {
	case "dial":
		c, err := net.DialTimeout("tcp", ev.Addr, 10*time.Second)
		if err != nil {
			return fail(err)
		}
		defer c.Close()
		out["connected"] = true
		c.SetReadDeadline(time.Now().Add(3 * time.Second))
		line, _ := bufio.NewReader(c).ReadString('\n')
		out["read"] = line
	case "fetch":
		cl := &http.Client{Timeout: 10 * time.Second}
		resp, err := cl.Get(ev.URL)
		if err != nil {
			return fail(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		out["status"] = resp.StatusCode
		out["body"] = string(b)
	case "listen":
		if listener == nil {
			ln, err := net.Listen("tcp", "0.0.0.0:0")
			if err != nil {
				return fail(err)
			}
			listener = ln
			go func() {
				for {
					c, err := ln.Accept()
					if err != nil {
						return
					}
					accepted.Add(1)
					fmt.Fprintln(c, "hello from the function")
					c.Close()
				}
			}()
		}
		out["port"] = listener.Addr().(*net.TCPAddr).Port
		// The listener works: the function reaches it itself.
		c, err := net.DialTimeout("tcp", listener.Addr().String(), 10*time.Second)
		if err != nil {
			return fail(err)
		}
		// The greeting comes after the count went up.
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, err = bufio.NewReader(c).ReadString('\n')
		c.Close()
		if err != nil {
			return fail(err)
		}
		out["accepted"] = accepted.Load()
	case "accepted":
		out["accepted"] = accepted.Load()
	case "netinfo":
		b, err := os.ReadFile("/etc/resolv.conf")
		if err != nil {
			return fail(err)
		}
		out["resolvConf"] = string(b)
		var addrs []string
		ifs, _ := net.Interfaces()
		for _, i := range ifs {
			as, _ := i.Addrs()
			for _, a := range as {
				addrs = append(addrs, i.Name+" "+a.String())
			}
		}
		out["addrs"] = addrs
	}
	return out
}
