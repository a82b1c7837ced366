package worker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/kumo-run/kumo/internal/extensions"
	"github.com/kumo-run/kumo/internal/runtimeapi"
	"github.com/kumo-run/kumo/internal/runtimes"
	"github.com/kumo-run/kumo/internal/sandbox"
)

// Extensions in a sandbox (package extensions): the worker finds the
// external ones in the layers' extensions/ directories, starts them
// inside the sandbox through a launcher ahead of the runtime, waits for
// them in the init phase, after each invocation (before the sandbox is
// reused) and at teardown (SHUTDOWN, ShutdownGrace at most).

// ShutdownGrace is how long extensions subscribed to SHUTDOWN get before
// their sandbox is killed (Lambda: 2 s with registered extensions).
const ShutdownGrace = 2 * time.Second

// maxExtensionConns is how many connections one extension may hold to
// the Runtime API listener (a parked /event/next and one more); the
// launcher holds one more while it waits for registration.
const maxExtensionConns = 2

// extensionLauncher is the launcher's script for /bin/sh -c or /bin/bash
// -c (POSIX sh builtins, and bash's /dev/tcp when it runs in bash): it
// starts every argument before "--" in the background (the extensions),
// waits, under bash, until they all registered (the Extensions API's
// extensions.RegisteredPath, asked over /dev/tcp), then replaces itself
// with the command after "--" (the runtime), so that the runtime starts
// after the extensions registered, as on Lambda, and stays the sandbox's
// main process. Under a plain sh the runtime starts at once.
//
// Each extension runs in a subshell that tags its output lines (stdout
// and stderr) "$0 l <name> <line>" and, when it exits, writes "$0 x
// <status> <name>", all to the sandbox's stderr; $0 is the launcher's
// marker, which the worker takes out of the log (launcherLine): extension
// lines go to the function's log untagged, as on Lambda, and to the
// Telemetry API's extension stream; exits go to the extensions' Manager.
const extensionLauncher = `m="$0"
while [ "$1" != -- ]; do
(e="$1"; n="${e##*/}"
{ "$e" 2>&1; printf '\n%s x %s %s\n' "$m" "$?" "$n"; } | while IFS= read -r l || [ -n "$l" ]; do
case "$l" in "") ;; "$m x "*) printf '%s\n' "$l" >&2 ;; *) printf '%s l %s %s\n' "$m" "$n" "$l" >&2 ;; esac
done) &
shift
done
shift
if [ -n "${BASH_VERSION:-}" ]; then
{ printf 'GET ` + extensions.RegisteredPath + ` HTTP/1.0\r\n\r\n' >&3; read -r _ <&3; } 3<>"/dev/tcp/${AWS_LAMBDA_RUNTIME_API%:*}/${AWS_LAMBDA_RUNTIME_API##*:}" 2>/dev/null
fi
exec "$@"`

// launcherShell is the shell the launcher runs in: bash when the host
// has it (the launcher then waits for registration), else sh.
var launcherShell = sync.OnceValue(func() string {
	if fi, err := os.Stat("/bin/bash"); err == nil && fi.Mode()&0o111 != 0 {
		return "/bin/bash"
	}
	return "/bin/sh"
})

// launcherMarkerPrefix starts the launcher's lines; the sandbox's id
// follows, so that a function's output does not produce one by chance (a
// function that forges one misleads its own sandbox, nothing more).
const launcherMarkerPrefix = "kumo-extension:"

// launcherMarker is the marker of sandbox id.
func launcherMarker(id string) string { return launcherMarkerPrefix + id }

// launcherLine is one line of the launcher's, parsed.
type launcherLine struct {
	exited bool   // an exit: Status; else an output line: Text
	name   string // the extension's name
	status int
	text   []byte
}

// parseLauncherLine parses a line "<marker> x <status> <name>" or
// "<marker> l <name> <text>" of the launcher with marker.
func parseLauncherLine(line []byte, marker string) (launcherLine, bool) {
	rest, ok := bytes.CutPrefix(line, []byte(marker+" "))
	if !ok || len(rest) < 2 || rest[1] != ' ' {
		return launcherLine{}, false
	}
	kind, rest := rest[0], rest[2:]
	switch kind {
	case 'x':
		st, name, ok := strings.Cut(string(rest), " ")
		n, err := strconv.Atoi(st)
		if !ok || name == "" || err != nil {
			return launcherLine{}, false
		}
		return launcherLine{exited: true, name: name, status: n}, true
	case 'l':
		name, text, ok := bytes.Cut(rest, []byte(" "))
		if !ok || len(name) == 0 {
			return launcherLine{}, false
		}
		return launcherLine{name: string(name), text: text}, true
	}
	return launcherLine{}, false
}

// extensionNames lists the external extensions of a sandbox whose /opt
// merges layerDirs (later ones win): the executable regular files in
// their extensions/ directories, by name, at most extensions.MaxExtensions.
func extensionNames(layerDirs []string) []string {
	seen := map[string]bool{}
	for _, d := range layerDirs {
		entries, err := os.ReadDir(filepath.Join(d, "extensions"))
		if err != nil {
			continue
		}
		for _, e := range entries {
			fi, err := os.Stat(filepath.Join(d, "extensions", e.Name()))
			if err != nil || !fi.Mode().IsRegular() || fi.Mode()&0o111 == 0 {
				continue
			}
			seen[e.Name()] = true
		}
	}
	names := make([]string, 0, len(seen))
	for n := range seen {
		names = append(names, n)
	}
	sort.Strings(names)
	if len(names) > extensions.MaxExtensions {
		names = names[:extensions.MaxExtensions]
	}
	return names
}

// extensionCommand is args started after the extensions named.
func extensionCommand(args, names []string, marker string) []string {
	out := make([]string, 0, len(args)+len(names)+5)
	out = append(out, launcherShell(), "-c", extensionLauncher, marker)
	for _, n := range names {
		out = append(out, "/opt/extensions/"+n)
	}
	out = append(out, "--")
	return append(out, args...)
}

// sandboxCommand is the command and host paths of spec's sandbox: the
// runtime's, through AWS_LAMBDA_EXEC_WRAPPER when set, after the external
// extensions when there are any (both need a shell in the sandbox).
func sandboxCommand(spec *Spec, launch runtimes.Launch, names []string, marker string) ([]string, []string, error) {
	args := launch.ArgsFor(spec.MemoryMB)
	shell := false
	if w, ok := launch.Wrapped(args, spec.Environment[runtimes.ExecWrapperVar]); ok {
		args, shell = w, true
	}
	if len(names) > 0 {
		args, shell = extensionCommand(args, names, marker), true
	}
	paths := launch.HostPaths
	if shell {
		sp, err := runtimes.ShellPaths()
		if err != nil {
			return nil, nil, err
		}
		paths = mergePaths(paths, sp)
	}
	return args, paths, nil
}

func mergePaths(a, b []string) []string {
	out := append([]string(nil), a...)
	have := map[string]bool{}
	for _, p := range a {
		have[p] = true
	}
	for _, p := range b {
		if !have[p] && !insideAny(p, a) {
			out = append(out, p)
			have[p] = true
		}
	}
	return out
}

// insideAny reports whether p is under one of dirs (bound whole).
func insideAny(p string, dirs []string) bool {
	for _, d := range dirs {
		if strings.HasPrefix(p, d+"/") {
			return true
		}
	}
	return false
}

// accountOf is the account of a role ARN (arn:aws:iam::ACCOUNT:role/x).
func accountOf(arn string) string {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) == 6 {
		return parts[4]
	}
	return ""
}

// extensionsReady ends the extensions' part of the init phase: it waits
// for them under ctx (the Init timeout the runtime's init shares) and
// closes registration. An extension's failure is an Outcome.
func (w *Worker) extensionsReady(ctx context.Context, in *instance, requestID string) (*Outcome, error) {
	err := in.ext.WaitReady(ctx)
	in.ext.CloseRegistration()
	in.extInvoke, _ = in.ext.Subscribed()
	var xe *extensions.Error
	if errors.As(err, &xe) {
		return extensionOutcome(xe, requestID), nil
	}
	if err != nil && isClosed(in.exited) {
		return w.exitOutcome(in, requestID), nil
	}
	return nil, err
}

// extensionOutcome is the function error an extension's failure makes.
func extensionOutcome(xe *extensions.Error, requestID string) *Outcome {
	typ := xe.Type
	if typ == "" {
		typ = extensions.ErrorTypeUnknown
	}
	msg := "failed: " + typ
	if xe.Message != "" {
		msg = xe.Message
	}
	return failed(typ, "RequestId: "+requestID+" Error: extension "+xe.Extension+" "+msg)
}

// finishWait is how long an invocation waits for a sandbox of its key
// whose extensions are finishing the previous invocation, when none is
// idle, before it starts a new one: an extension usually asks for its
// next event within a millisecond of the response, and a sequential
// caller's next request would otherwise often find no idle sandbox and
// cold-start one.
const finishWait = 100 * time.Millisecond

// finishing is the sandboxes of one key whose extensions finish an
// invocation; done is closed and replaced whenever one of them is done.
type finishing struct {
	n       int
	waiting int // invocations waiting for one of them
	done    chan struct{}
}

// startFinishing counts a sandbox of key whose extensions finish.
func (w *Worker) startFinishing(key string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.finishing == nil {
		w.finishing = map[string]*finishing{}
	}
	f := w.finishing[key]
	if f == nil {
		f = &finishing{done: make(chan struct{})}
		w.finishing[key] = f
	}
	f.n++
}

// endFinishing ends what startFinishing counted, after the sandbox went
// back to a pool or was retired, and wakes the invocations waiting.
func (w *Worker) endFinishing(key string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	f := w.finishing[key]
	close(f.done)
	if f.n--; f.n == 0 {
		delete(w.finishing, key)
		return
	}
	f.done = make(chan struct{})
}

// awaitFinishing waits, at most finishWait, for a sandbox of key whose
// extensions are finishing, when no sandbox of key is idle and fewer
// invocations wait than such sandboxes finish.
func (w *Worker) awaitFinishing(ctx context.Context, key string) {
	w.mu.Lock()
	f := w.finishing[key]
	if f == nil || f.waiting >= f.n || w.idleCountLocked(key) > 0 {
		// Nothing to wait for, or as many waiting as there will be
		// sandboxes.
		w.mu.Unlock()
		return
	}
	f.waiting++
	done := f.done
	w.mu.Unlock()
	defer func() {
		w.mu.Lock()
		f.waiting--
		w.mu.Unlock()
	}()
	t := time.NewTimer(finishWait)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
	case <-ctx.Done():
	}
}

// afterExtensions returns in to the pools once its INVOKE-subscribed
// extensions asked for their next event, or retires it when they do not
// by deadline (the invocation's) or one failed. Runs in its own goroutine
// after the caller got the runtime's response.
func (w *Worker) afterExtensions(in *instance, peakBytes int64, deadline time.Time) {
	defer w.endFinishing(in.key)
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	err := in.ext.WaitIdle(ctx)
	if err == nil {
		// The invocation's records reach subscribers before the
		// sandbox is frozen.
		if ferr := in.ext.FlushTelemetry(ctx); ferr != nil && !errors.Is(ferr, context.DeadlineExceeded) {
			err = ferr
		}
	}
	cancel()
	if err != nil {
		w.retire(in, "extensions did not finish the invocation: "+err.Error())
		return
	}
	w.release(in, peakBytes)
}

// shutdownReason is the SHUTDOWN event's reason for a teardown's reason.
func shutdownReason(reason string) string {
	switch {
	case reason == runtimeapi.ErrorTypeTimedOut:
		return extensions.ReasonTimeout
	case strings.HasPrefix(reason, "Runtime.") || strings.HasPrefix(reason, "Function.") ||
		strings.HasPrefix(reason, "Extension.") || strings.HasPrefix(reason, "extensions ") ||
		strings.HasPrefix(reason, "invocation ") || reason == "init failed" || reason == "could not be thawed":
		return extensions.ReasonFailure
	}
	return extensions.ReasonSpindown
}

// shutdownExtensions sends SHUTDOWN to in's extensions and gives them
// ShutdownGrace, before teardown kills the sandbox.
func (w *Worker) shutdownExtensions(in *instance, reason string) {
	if in.ext == nil || isClosed(in.exited) {
		return
	}
	// Asked of the Manager (under its lock): teardown may run while
	// the init phase still decides.
	if _, shutdown := in.ext.Subscribed(); !shutdown {
		return
	}
	if err := in.thaw(); err != nil {
		return
	}
	deadline := time.Now().Add(ShutdownGrace)
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	_ = in.ext.FlushTelemetry(ctx) // the last invocation's records first
	if err := in.ext.Shutdown(ctx, shutdownReason(reason), deadline); err != nil {
		w.log.Debug("worker: extensions did not finish SHUTDOWN", "sandbox", in.id, "err", err)
	}
}

// sandboxDialer is a Sandbox that can open a connection to an address
// inside its own network (an extension's telemetry listener): the linux
// driver's. The process driver's sandboxes share the host's network and
// need no dialer.
type sandboxDialer interface {
	DialContext(ctx context.Context, network, addr string) (net.Conn, error)
}

// sandboxHosts are the names a telemetry destination may use for the
// sandbox itself (Lambda documents sandbox.localdomain).
var sandboxHosts = map[string]bool{"sandbox.localdomain": true, "sandbox": true, "localhost": true, "127.0.0.1": true}

// telemetryDeliverer is how batches reach subscribers in sb: through the
// sandbox's dialer, or, for a sandbox that shares the host's network (not
// isolated), on the host's loopback. nil: this sandbox cannot be reached,
// and subscriptions are refused with a clear error.
func (w *Worker) telemetryDeliverer(sb sandbox.Sandbox) extensions.Deliverer {
	var dial func(ctx context.Context, network, addr string) (net.Conn, error)
	switch d, ok := sb.(sandboxDialer); {
	case ok:
		dial = d.DialContext
	case !w.cfg.Driver.Capabilities().Isolated:
		var nd net.Dialer
		dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
			_, port, err := net.SplitHostPort(addr)
			if err != nil {
				return nil, err
			}
			return nd.DialContext(ctx, network, net.JoinHostPort("127.0.0.1", port))
		}
	default:
		return nil
	}
	client := &http.Client{Transport: &http.Transport{DialContext: dial, DisableKeepAlives: true}}
	return func(ctx context.Context, uri string, body []byte) error {
		u, err := url.Parse(uri)
		if err != nil || !sandboxHosts[u.Hostname()] {
			return fmt.Errorf("telemetry destination %q is not in the sandbox", uri)
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, uri, bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		return nil
	}
}

// Telemetry records of the platform stream (Telemetry API schema
// 2022-12-13).

type initStartRecord struct {
	InitializationType string `json:"initializationType"`
	Phase              string `json:"phase"`
	RuntimeVersion     string `json:"runtimeVersion,omitempty"`
	FunctionName       string `json:"functionName"`
	FunctionVersion    string `json:"functionVersion"`
	InstanceID         string `json:"instanceId"`
	InstanceMaxMemory  int    `json:"instanceMaxMemory"`
}

type initDoneRecord struct {
	InitializationType string       `json:"initializationType"`
	Phase              string       `json:"phase"`
	Status             string       `json:"status"`
	ErrorType          string       `json:"errorType,omitempty"`
	Metrics            *durationRec `json:"metrics,omitempty"`
}

type durationRec struct {
	DurationMs float64 `json:"durationMs"`
}

type startRecord struct {
	RequestID string              `json:"requestId"`
	Version   string              `json:"version"`
	Tracing   *extensions.Tracing `json:"tracing,omitempty"`
}

type runtimeDoneRecord struct {
	RequestID string `json:"requestId"`
	Status    string `json:"status"`
	ErrorType string `json:"errorType,omitempty"`
	Metrics   struct {
		DurationMs    float64 `json:"durationMs"`
		ProducedBytes int     `json:"producedBytes"`
	} `json:"metrics"`
}

type reportRecord struct {
	RequestID string `json:"requestId"`
	Status    string `json:"status"`
	ErrorType string `json:"errorType,omitempty"`
	Metrics   struct {
		DurationMs       float64  `json:"durationMs"`
		BilledDurationMs int64    `json:"billedDurationMs"`
		MemorySizeMB     int      `json:"memorySizeMB"`
		MaxMemoryUsedMB  int      `json:"maxMemoryUsedMB"`
		InitDurationMs   *float64 `json:"initDurationMs,omitempty"`
		// RestoreDurationMs is set on the first invocation of a
		// SnapStart sandbox (snapstart.go).
		RestoreDurationMs *float64 `json:"restoreDurationMs,omitempty"`
	} `json:"metrics"`
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// status is a Telemetry API status for an outcome.
func status(o *Outcome) string {
	switch {
	case o.ErrorType == runtimeapi.ErrorTypeTimedOut:
		return "timeout"
	case o.FunctionError != "" && strings.HasPrefix(o.ErrorType, "Runtime."):
		return "failure"
	case o.FunctionError != "":
		return "error"
	}
	return "success"
}

// emitInvocation sends an invocation's platform.runtimeDone and
// platform.report records.
func (in *instance) emitInvocation(reqID string, out *Outcome) {
	if !in.ext.TelemetrySubscribed() {
		return
	}
	now := time.Now()
	st := status(out)
	rd := runtimeDoneRecord{RequestID: reqID, Status: st}
	if st != "success" {
		rd.ErrorType = out.ErrorType
	}
	rd.Metrics.DurationMs = ms(out.Duration)
	rd.Metrics.ProducedBytes = len(out.Payload)
	in.ext.Emit(now, "platform.runtimeDone", rd)
	in.ext.Emit(now, "platform.report", newReportRecord(reqID, out, in.memoryMB))
}

// newReportRecord is the platform.report record of an invocation.
func newReportRecord(reqID string, out *Outcome, memoryMB int) reportRecord {
	st := status(out)
	rp := reportRecord{RequestID: reqID, Status: st}
	if st != "success" {
		rp.ErrorType = out.ErrorType
	}
	rp.Metrics.DurationMs = ms(out.Duration)
	rp.Metrics.BilledDurationMs = out.BilledMs()
	rp.Metrics.MemorySizeMB = memoryMB
	rp.Metrics.MaxMemoryUsedMB = out.MaxMemoryMB
	if out.InitDuration > 0 {
		d := ms(out.InitDuration)
		rp.Metrics.InitDurationMs = &d
	}
	if out.RestoreDuration > 0 {
		d := ms(out.RestoreDuration)
		rp.Metrics.RestoreDurationMs = &d
	}
	return rp
}
