package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/apigatewayv2"
	agtypes "github.com/aws/aws-sdk-go-v2/service/apigatewayv2/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
)

// APIResult is the HTTP API measurement: the Go no-op behind an HTTP API
// made by quick create (a $default route and stage, payload format 2.0),
// called with plain HTTP GETs, next to the Invoke API and the loopback
// floor measured in the same run.
type APIResult struct {
	Section
	Endpoint string `json:"endpoint"`
	// Sequential is the latency of one client calling the API in a loop;
	// Invoke the same function through the Invoke API; Floor a loopback
	// net/http round trip.
	Sequential Dist            `json:"sequential"`
	Invoke     Dist            `json:"invoke"`
	Floor      Dist            `json:"floor"`
	FloorRates map[int]float64 `json:"floor_rates"`
	Throughput []Throughput    `json:"throughput"`
	// InvokeThroughput is the Invoke API at the same parallelisms.
	InvokeThroughput []Throughput `json:"invoke_throughput"`
}

// runHTTPAPI deploys the Go no-op behind an HTTP API and measures
// requests through it. Requests use the path form
// (/execute-api/<api-id>/) so that no host name needs resolving.
func (b *bench) runHTTPAPI(ctx context.Context) (*APIResult, error) {
	name := b.prefix + "api"
	if err := b.dep.create(ctx, name, b.fns.Go, memOneCPU); err != nil {
		return nil, err
	}
	defer b.dep.delete(context.WithoutCancel(ctx), name)
	fn, err := b.dep.api.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(name)})
	if err != nil {
		return nil, err
	}
	fnARN := aws.ToString(fn.Configuration.FunctionArn)
	cfg, err := config.LoadDefaultConfig(ctx, config.WithRegion(b.tgt.Region),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(b.tgt.Key, b.tgt.Secret, "")),
		config.WithSharedConfigFiles([]string{}), config.WithSharedCredentialsFiles([]string{}))
	if err != nil {
		return nil, err
	}
	gw := apigatewayv2.NewFromConfig(cfg, func(o *apigatewayv2.Options) { o.BaseEndpoint = aws.String(b.tgt.URL) })
	api, err := gw.CreateApi(ctx, &apigatewayv2.CreateApiInput{Name: aws.String(name), ProtocolType: agtypes.ProtocolTypeHttp, Target: aws.String(fnARN)})
	if err != nil {
		return nil, err
	}
	defer gw.DeleteApi(context.WithoutCancel(ctx), &apigatewayv2.DeleteApiInput{ApiId: api.ApiId})
	if _, err := b.dep.api.AddPermission(ctx, &lambda.AddPermissionInput{FunctionName: aws.String(name), StatementId: aws.String("apigw"),
		Action: aws.String("lambda:InvokeFunction"), Principal: aws.String("apigateway.amazonaws.com")}); err != nil {
		return nil, err
	}
	target := b.tgt.URL + "/execute-api/" + aws.ToString(api.ApiId) + "/"
	res := &APIResult{Section: Section{Status: statusOK}, Endpoint: aws.ToString(api.ApiEndpoint)}
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
	invoke := func() (time.Duration, error) {
		start := time.Now()
		_, err := b.inv.invoke(ctx, invocation{Function: name, Payload: []byte(`{}`)})
		return time.Since(start), err
	}
	if _, err := get(); err != nil { // warm the sandbox
		return nil, err
	}
	n, window := 2000, 5*time.Second
	if b.opts.Quick {
		n, window = 200, time.Second
	}
	pars := []int{1, 4, 16}
	if res.Floor, res.FloorRates, err = httpFloor(ctx, n, pars, window); err != nil {
		return nil, err
	}
	for _, m := range []struct {
		f   func() (time.Duration, error)
		out *Dist
	}{{get, &res.Sequential}, {invoke, &res.Invoke}} {
		lat := make([]float64, 0, n)
		for range n {
			d, err := m.f()
			if err != nil {
				return nil, err
			}
			lat = append(lat, ms(d))
		}
		*m.out = distOf(lat)
	}
	for _, par := range pars {
		res.Throughput = append(res.Throughput, loadFor(par, window, get))
		res.InvokeThroughput = append(res.InvokeThroughput, loadFor(par, window, invoke))
	}
	return res, nil
}

// loadFor runs par clients calling f for window.
func loadFor(par int, window time.Duration, f func() (time.Duration, error)) Throughput {
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
				d, err := f()
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
	return Throughput{Parallel: par, MemoryMB: memOneCPU, Seconds: secs, Invokes: len(all), Errors: errs,
		PerSec: float64(len(all)) / secs, Latency: distOf(all)}
}

// printHTTPAPI prints the HTTP API measurement.
func (b *bench) printHTTPAPI(u *APIResult) {
	t := &table{title: fmt.Sprintf("HTTP API: Go no-op (%d MB), payload format 2.0", memOneCPU), head: []string{"measure", "p50", "p90", "p99", "n"}}
	t.add("GET through the HTTP API (sequential)", fmtMs(u.Sequential.P50), fmtMs(u.Sequential.P90), fmtMs(u.Sequential.P99), fmt.Sprint(u.Sequential.N))
	t.add("Invoke API, same function (sequential)", fmtMs(u.Invoke.P50), fmtMs(u.Invoke.P90), fmtMs(u.Invoke.P99), fmt.Sprint(u.Invoke.N))
	t.add("loopback HTTP round trip (floor)", fmtMs(u.Floor.P50), fmtMs(u.Floor.P90), fmtMs(u.Floor.P99), fmt.Sprint(u.Floor.N))
	t.note("API: %s, requested by its path form.", u.Endpoint)
	t.text(b.out)
	tt := &table{title: "HTTP API throughput", head: []string{"clients", "API requests/s", "p50", "p99", "Invoke/s", "p50", "p99", "floor/s", "errors"}}
	for i, th := range u.Throughput {
		iv := u.InvokeThroughput[i]
		tt.add(fmt.Sprint(th.Parallel), fmtRate(th.PerSec, "/s"), fmtMs(th.Latency.P50), fmtMs(th.Latency.P99),
			fmtRate(iv.PerSec, "/s"), fmtMs(iv.Latency.P50), fmtMs(iv.Latency.P99), fmtRate(u.FloorRates[th.Parallel], "/s"), fmt.Sprint(th.Errors+iv.Errors))
	}
	tt.text(b.out)
}
