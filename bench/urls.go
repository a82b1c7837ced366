package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// URLResult is the function URL measurement: the Go no-op behind a NONE
// URL, called with plain HTTP GETs.
type URLResult struct {
	Section
	URL string `json:"url"`
	// Sequential is the latency of one client calling the URL in a loop.
	Sequential Dist `json:"sequential"`
	// Invoke is the same function called through the Invoke API by the
	// same loop, for comparison.
	Invoke     Dist         `json:"invoke"`
	Throughput []Throughput `json:"throughput"`
}

var urlIDPattern = regexp.MustCompile(`^http://([a-z0-9]{32})\.lambda-url\.`)

// runURLs deploys the Go no-op with a NONE function URL and measures
// requests through it: sequential latency next to the Invoke API's, then
// throughput at a few parallelisms. Requests use the URL's path form
// (/lambda-url/<url-id>/) so that no host name needs resolving.
func (b *bench) runURLs(ctx context.Context) (*URLResult, error) {
	name := b.prefix + "url"
	if err := b.dep.create(ctx, name, b.fns.Go, memOneCPU); err != nil {
		return nil, err
	}
	defer b.dep.delete(context.WithoutCancel(ctx), name)
	api := b.dep.api
	cfg, err := api.CreateFunctionUrlConfig(ctx, &lambda.CreateFunctionUrlConfigInput{
		FunctionName: aws.String(name), AuthType: types.FunctionUrlAuthTypeNone})
	if err != nil {
		return nil, err
	}
	if _, err := api.AddPermission(ctx, &lambda.AddPermissionInput{
		FunctionName: aws.String(name), StatementId: aws.String("public"), Action: aws.String("lambda:InvokeFunctionUrl"),
		Principal: aws.String("*"), FunctionUrlAuthType: types.FunctionUrlAuthTypeNone}); err != nil {
		return nil, err
	}
	m := urlIDPattern.FindStringSubmatch(aws.ToString(cfg.FunctionUrl))
	if m == nil {
		return nil, fmt.Errorf("unexpected FunctionUrl %q", aws.ToString(cfg.FunctionUrl))
	}
	target := b.tgt.URL + "/lambda-url/" + m[1] + "/"
	res := &URLResult{Section: Section{Status: statusOK}, URL: aws.ToString(cfg.FunctionUrl)}

	get := func() (time.Duration, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
		if err != nil {
			return 0, err
		}
		start := time.Now()
		resp, err := b.hc.Do(req)
		if err != nil {
			return 0, err
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		d := time.Since(start)
		if err == nil && resp.StatusCode != http.StatusOK {
			err = fmt.Errorf("GET %s: %s", target, resp.Status)
		}
		return d, err
	}
	// Warm the sandbox.
	if _, err := get(); err != nil {
		return nil, err
	}
	n := 2000
	if b.opts.Quick {
		n = 200
	}
	lat := make([]float64, 0, n)
	for range n {
		d, err := get()
		if err != nil {
			return nil, err
		}
		lat = append(lat, ms(d))
	}
	res.Sequential = distOf(lat)
	lat = lat[:0]
	for range n {
		start := time.Now()
		if _, err := b.inv.invoke(ctx, invocation{Function: name, Payload: []byte(`{}`)}); err != nil {
			return nil, err
		}
		lat = append(lat, ms(time.Since(start)))
	}
	res.Invoke = distOf(lat)

	window := 5 * time.Second
	if b.opts.Quick {
		window = time.Second
	}
	for _, par := range []int{1, 4, 16} {
		var mu sync.Mutex
		var all []float64
		errs := 0
		var wg sync.WaitGroup
		deadline := time.Now().Add(window)
		start := time.Now()
		for range par {
			wg.Go(func() {
				var mine []float64
				bad := 0
				for time.Now().Before(deadline) {
					d, err := get()
					if err != nil {
						bad++
						continue
					}
					mine = append(mine, ms(d))
				}
				mu.Lock()
				all = append(all, mine...)
				errs += bad
				mu.Unlock()
			})
		}
		wg.Wait()
		secs := time.Since(start).Seconds()
		res.Throughput = append(res.Throughput, Throughput{Parallel: par, MemoryMB: memOneCPU, Seconds: secs,
			Invokes: len(all), Errors: errs, PerSec: float64(len(all)) / secs, Latency: distOf(all)})
	}
	return res, nil
}

// printURLs prints the function URL measurement.
func (b *bench) printURLs(u *URLResult) {
	t := &table{title: fmt.Sprintf("Function URL: Go no-op (%d MB), NONE auth", memOneCPU), head: []string{"measure", "p50", "p90", "p99", "n"}}
	t.add("GET through the URL (sequential)", fmtMs(u.Sequential.P50), fmtMs(u.Sequential.P90), fmtMs(u.Sequential.P99), fmt.Sprint(u.Sequential.N))
	t.add("Invoke API, same function (sequential)", fmtMs(u.Invoke.P50), fmtMs(u.Invoke.P90), fmtMs(u.Invoke.P99), fmt.Sprint(u.Invoke.N))
	t.note("URL: %s, requested by its path form.", u.URL)
	t.text(b.out)
	tt := &table{title: "Function URL throughput", head: []string{"clients", "requests/s", "p50", "p99", "errors"}}
	for _, th := range u.Throughput {
		tt.add(fmt.Sprint(th.Parallel), fmtRate(th.PerSec, "/s"), fmtMs(th.Latency.P50), fmtMs(th.Latency.P99), fmt.Sprint(th.Errors))
	}
	tt.text(b.out)
}
