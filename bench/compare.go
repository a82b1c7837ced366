package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/kumo-run/kumo/internal/runtimeapi"
)

// CompareResult puts Kumo next to other Lambda-compatible endpoints.
type CompareResult struct {
	Section
	Invoke     *CompareInvoke     `json:"invoke,omitempty"`
	RuntimeAPI []RuntimeAPIResult `json:"runtime_api"`
	// RIE is the Runtime Interface Emulator built and run by this program
	// when no -compare-invoke is given.
	RIE *RIEResult `json:"rie,omitempty"`
}

// CompareInvoke is the warm measurement against -compare-invoke.
type CompareInvoke struct {
	Section
	URL      string      `json:"url"`
	Function string      `json:"function"`
	Deploy   string      `json:"deploy,omitempty"`
	Other    *WarmResult `json:"other,omitempty"`
}

// RuntimeAPIResult is next/response round trips against one Runtime API.
type RuntimeAPIResult struct {
	Section
	Name string `json:"name"`
	URL  string `json:"url,omitempty"`
	// Platform is the time from handing an invocation to the Runtime API
	// to getting its response back (Kumo in-process only).
	Platform Dist `json:"platform_round_trip,omitempty"`
	// RuntimeSide is what the runtime sees: from starting to POST a
	// response to /next returning the next invocation.
	RuntimeSide Dist    `json:"runtime_round_trip"`
	Response    Dist    `json:"post_response"`
	PerSec      float64 `json:"round_trips_per_second"`
	Driver      string  `json:"invocations_from"`
}

const compareUsage = `Without -compare-invoke, -suite compare builds the Runtime Interface Emulator (go install of
    ` + rieModule + `@` + rieVersion + ` into the user's cache dir) and measures
    it next to Kumo with the same Go no-op: warm latency, CPU per invoke, cold start.
  -compare-invoke URL [-compare-function NAME]: the warm measurement (latency, throughput)
    against another Lambda Invoke endpoint, side by side with Kumo's. The bench tries to deploy
    the same no-op there with CreateFunction (credentials from AWS_ACCESS_KEY_ID and
    AWS_SECRET_ACCESS_KEY when set, else Kumo's); otherwise a function of that name must exist.
    For the Runtime Interface Emulator use -compare-function function.
  -compare-runtime-api URL [-compare-runtime-invoke URL]: this program acts as the runtime
    (GET /next, POST /response) of another Runtime API endpoint, next to Kumo's own
    (internal/runtimeapi, in-process). It sends the invocations itself, one at a time, to
    -compare-runtime-invoke (default: -compare-invoke), or else waits for whoever invokes that
    server. Nothing else may poll that /next: start that server with a runtime that never does.`

func (b *bench) runCompare(ctx context.Context) *CompareResult {
	res := &CompareResult{Section: Section{Status: statusOK}}
	key, secret := envOr("AWS_ACCESS_KEY_ID", b.tgt.Key), envOr("AWS_SECRET_ACCESS_KEY", b.tgt.Secret)
	if u := b.opts.CompareInvoke; u != "" {
		other := newInvoker(u, b.tgt.Region, key, secret, b.hc)
		ci := &CompareInvoke{Section: Section{Status: statusOK}, URL: u, Function: b.noopName()}
		if api, err := newLambdaClient(ctx, u, b.tgt.Region, key, secret); err == nil {
			d := &deployer{api: api}
			if err := d.create(ctx, b.noopName(), b.fns.Go, memOneCPU); err != nil {
				ci.Deploy = "could not deploy there (" + truncate(errorMessage(err), 160) + "); invoking " + b.noopName() + " as it is"
			} else {
				ci.Deploy = "deployed " + b.noopName() + " there with CreateFunction (deleted afterwards)"
				defer d.delete(context.WithoutCancel(ctx), b.noopName())
			}
		}
		w, err := b.measureWarm(ctx, other, b.noopName(), findListener(u))
		if err != nil {
			ci.Section = Section{Status: statusFailed, Note: err.Error()}
		}
		ci.Other = w
		res.Invoke = ci
	} else {
		res.RIE = b.runRIE(ctx)
	}
	res.RuntimeAPI = append(res.RuntimeAPI, b.kumoRuntimeAPI(ctx))
	if u := b.opts.CompareRuntimeAPI; u != "" {
		var feed *invoker
		if f := b.opts.CompareRuntimeInvoke; f != "" {
			feed = newInvoker(f, b.tgt.Region, key, secret, b.hc)
		}
		res.RuntimeAPI = append(res.RuntimeAPI, b.externalRuntimeAPI(ctx, u, feed))
	}
	return res
}

// runtimeClient is a bare runtime: GET /next, POST /response "{}".
type runtimeClient struct {
	base string
	hc   *http.Client
}

// loop answers invocations until ctx ends or stop is reached, recording
// the runtime's view. first, when not nil, is closed at the first
// invocation.
func (rc *runtimeClient) loop(ctx context.Context, first chan<- struct{}) (roundTrip, post []float64, err error) {
	var postStart time.Time
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, rc.base+"/2018-06-01/runtime/invocation/next", nil)
		resp, err := rc.hc.Do(req)
		if err != nil {
			if ctx.Err() != nil {
				return roundTrip, post, nil
			}
			return roundTrip, post, err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		id := resp.Header.Get("Lambda-Runtime-Aws-Request-Id")
		if resp.StatusCode != http.StatusOK || id == "" {
			return roundTrip, post, fmt.Errorf("GET /next: %s", resp.Status)
		}
		if !postStart.IsZero() {
			roundTrip = append(roundTrip, ms(time.Since(postStart)))
		} else if first != nil {
			close(first)
		}
		postStart = time.Now()
		req, _ = http.NewRequestWithContext(ctx, http.MethodPost, rc.base+"/2018-06-01/runtime/invocation/"+id+"/response", strings.NewReader("{}"))
		resp, err = rc.hc.Do(req)
		if err != nil {
			if ctx.Err() != nil {
				return roundTrip, post, nil
			}
			return roundTrip, post, err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted && resp.StatusCode != http.StatusOK {
			return roundTrip, post, fmt.Errorf("POST /response: %s", resp.Status)
		}
		post = append(post, ms(time.Since(postStart)))
	}
}

// kumoRuntimeAPI drives Kumo's Runtime API server in-process: Invoke from
// Go, this program's runtime over loopback HTTP.
func (b *bench) kumoRuntimeAPI(ctx context.Context) RuntimeAPIResult {
	res := RuntimeAPIResult{Section: Section{Status: statusOK}, Name: "Kumo internal/runtimeapi (in-process)", Driver: "Server.Invoke, in-process"}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		res.Section = Section{Status: statusFailed, Note: err.Error()}
		return res
	}
	srv := runtimeapi.New(runtimeapi.Options{Logger: slog.New(slog.DiscardHandler)})
	go srv.Serve(l)
	defer srv.Close()
	rc := &runtimeClient{base: "http://" + l.Addr().String(), hc: newHTTPClient()}
	defer rc.hc.CloseIdleConnections()
	res.URL = rc.base
	rctx, stop := context.WithCancel(ctx)
	var rt, post []float64
	var rerr error
	done := make(chan struct{})
	go func() { rt, post, rerr = rc.loop(rctx, nil); close(done) }()
	if err := srv.WaitInit(ctx); err != nil {
		stop()
		res.Section = Section{Status: statusFailed, Note: err.Error()}
		return res
	}
	var plat []float64
	payload := []byte("{}")
	deadline := time.Now().Add(b.size.Window)
	start := time.Now()
	for i := 0; time.Now().Before(deadline); i++ {
		ictx, cancel := context.WithTimeout(ctx, 10*time.Second)
		t0 := time.Now()
		_, err := srv.Invoke(ictx, &runtimeapi.Invocation{RequestID: "bench-" + strconv.Itoa(i), Payload: payload})
		cancel()
		if err != nil {
			res.Section = Section{Status: statusFailed, Note: err.Error()}
			break
		}
		plat = append(plat, ms(time.Since(t0)))
	}
	elapsed := time.Since(start).Seconds()
	stop()
	srv.Close()
	<-done
	if rerr != nil && res.Status == statusOK {
		res.Section = Section{Status: statusFailed, Note: rerr.Error()}
	}
	res.Platform, res.RuntimeSide, res.Response = distOf(plat), distOf(rt), distOf(post)
	res.PerSec = float64(len(plat)) / elapsed
	return res
}

// externalRuntimeAPI acts as the runtime of another Runtime API for the
// window. Invocations come from other (its Invoke endpoint) when given.
func (b *bench) externalRuntimeAPI(ctx context.Context, u string, other *invoker) RuntimeAPIResult {
	u = strings.TrimRight(u, "/")
	if !strings.Contains(u, "://") {
		u = "http://" + u
	}
	res := RuntimeAPIResult{Section: Section{Status: statusOK}, Name: "compared Runtime API", URL: u, Driver: "whoever invokes that server"}
	rc := &runtimeClient{base: u, hc: newHTTPClient()}
	defer rc.hc.CloseIdleConnections()
	rctx, stop := context.WithCancel(ctx)
	defer stop()
	first := make(chan struct{})
	var rt, post []float64
	var rerr error
	done := make(chan struct{})
	go func() { rt, post, rerr = rc.loop(rctx, first); close(done) }()
	drive := make(chan struct{})
	if other != nil {
		res.Driver = "Invoke on " + other.base + " (1 client)"
		go func() {
			defer close(drive)
			for rctx.Err() == nil {
				if _, err := other.invoke(rctx, invocation{Function: b.noopName()}); err != nil && rctx.Err() == nil {
					time.Sleep(10 * time.Millisecond)
				}
			}
		}()
	} else {
		close(drive)
	}
	select {
	case <-first:
	case <-done:
	case <-time.After(10 * time.Second):
		stop()
		<-done
		res.Section = Section{Status: statusFailed, Note: "no invocation arrived within 10 s: invoke that server meanwhile, or give -compare-runtime-invoke"}
		return res
	}
	start := time.Now()
	select {
	case <-time.After(b.size.Window):
	case <-done:
	}
	stop()
	<-done
	<-drive
	elapsed := time.Since(start).Seconds()
	if rerr != nil && !errors.Is(rerr, context.Canceled) {
		res.Section = Section{Status: statusFailed, Note: rerr.Error()}
	}
	res.RuntimeSide, res.Response = distOf(rt), distOf(post)
	res.PerSec = float64(len(post)) / elapsed
	return res
}

func (b *bench) printCompare(c *CompareResult, kumo *WarmResult) {
	fmt.Fprintf(b.out, "\nComparison mode:\n  %s\n", compareUsage)
	if c.RIE != nil {
		b.printRIE(c.RIE, kumo)
	}
	if ci := c.Invoke; ci != nil {
		t := &table{title: "Warm invoke side by side: Kumo vs " + ci.URL, head: []string{"measure", "Kumo", "other", "other / Kumo"}}
		if ci.Other == nil || kumo == nil {
			t.add("warm invoke", ci.Status)
			t.note("%s", ci.Note)
		} else {
			o := ci.Other
			t.add("client latency p50", fmtMs(kumo.Client.P50), fmtMs(o.Client.P50), fmtRatio(ratio(o.Client.P50, kumo.Client.P50)))
			t.add("client latency p99", fmtMs(kumo.Client.P99), fmtMs(o.Client.P99), fmtRatio(ratio(o.Client.P99, kumo.Client.P99)))
			if kumo.Report.N > 0 && o.Report.N > 0 {
				t.add("REPORT Duration p50", fmtMs(kumo.Report.P50), fmtMs(o.Report.P50), fmtRatio(ratio(o.Report.P50, kumo.Report.P50)))
			}
			for i, th := range kumo.Throughput {
				if i < len(o.Throughput) {
					ot := o.Throughput[i]
					t.add("invokes/s, "+clients(th.Parallel), fmtRate(th.PerSec, ""), fmtRate(ot.PerSec, ""), fmtRatio(ratio(ot.PerSec, th.PerSec)))
				}
			}
		}
		if ci.Deploy != "" {
			t.note("%s", ci.Deploy)
		}
		t.text(b.out)
	}
	t := &table{title: "Runtime API round trips (this program as the runtime)", head: []string{"Runtime API", "platform round trip p50", "p99", "response→next p50", "p99", "POST /response p50", "round trips/s"}}
	for _, r := range c.RuntimeAPI {
		if r.Status != statusOK && r.RuntimeSide.N == 0 {
			t.add(r.Name, r.Status)
			t.note("%s: %s", r.Name, r.Note)
			continue
		}
		t.add(r.Name, fmtMs(r.Platform.P50), fmtMs(r.Platform.P99), fmtMs(r.RuntimeSide.P50), fmtMs(r.RuntimeSide.P99), fmtMs(r.Response.P50), fmtRate(r.PerSec, ""))
		t.note("%s: invocations from %s.", r.Name, r.Driver)
		if r.Note != "" {
			t.note("%s: %s", r.Name, r.Note)
		}
	}
	t.note("Platform round trip: from handing an invocation to the Runtime API until its response is back (Kumo in-process only). Response→next: from the runtime starting to POST /response until /next returns the next invocation, which includes getting that invocation to the server.")
	if b.opts.CompareRuntimeAPI == "" {
		t.note("Add -compare-runtime-api URL to measure another Runtime API next to it.")
	}
	t.text(b.out)
}
