// Package metrics exposes Kumo's Prometheus metrics: Lambda's CloudWatch
// metrics per function, resource (function, function:version or
// function:alias) and executed version, and the platform's own (cold
// starts, billed GB-seconds, sandboxes by state). It only counts; it never
// decides anything.
package metrics

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics holds every metric Kumo exports. Safe for concurrent use.
type Metrics struct {
	reg         *prometheus.Registry
	invocations *prometheus.CounterVec
	errors      *prometheus.CounterVec
	throttles   *prometheus.CounterVec
	coldStarts  *prometheus.CounterVec
	duration    *prometheus.HistogramVec
	billed      *prometheus.CounterVec
	concurrent  *prometheus.GaugeVec
	concurrentT prometheus.Gauge
}

var lambdaLabels = []string{"function_name", "resource", "executed_version"}

// New creates the metrics and registers them, with the Go runtime's and
// the process's own collectors.
func New() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		invocations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kumo_lambda_invocations_total", Help: "Invocations (Lambda's Invocations metric): every invocation that ran, successful or not.",
		}, lambdaLabels),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kumo_lambda_errors_total", Help: "Invocations that resulted in a function error (Lambda's Errors metric).",
		}, lambdaLabels),
		throttles: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kumo_lambda_throttles_total", Help: "Invocation requests refused for lack of concurrency (Lambda's Throttles metric).",
		}, []string{"function_name", "resource"}),
		coldStarts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kumo_lambda_cold_starts_total", Help: "Invocations that started a new sandbox.",
		}, lambdaLabels),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "kumo_lambda_duration_seconds",
			Help:    "Time the function spent processing an invocation (Lambda's Duration metric).",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 900},
		}, lambdaLabels),
		billed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kumo_lambda_billed_gb_seconds_total", Help: "Billed duration times memory size, in GB-seconds.",
		}, []string{"function_name"}),
		concurrent: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "kumo_lambda_concurrent_executions", Help: "Invocations running now (Lambda's ConcurrentExecutions metric).",
		}, []string{"function_name"}),
		concurrentT: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "kumo_lambda_account_concurrent_executions", Help: "Invocations running now across all functions.",
		}),
	}
	m.reg.MustRegister(m.invocations, m.errors, m.throttles, m.coldStarts, m.duration, m.billed, m.concurrent, m.concurrentT,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// Register adds a collector (sandboxes by state, queue depth, …).
func (m *Metrics) Register(c prometheus.Collector) { m.reg.MustRegister(c) }

// Invocation is what one finished invocation reports.
type Invocation struct {
	Function, Resource, ExecutedVersion string
	Error                               bool
	ColdStart                           bool
	Duration                            time.Duration
	BilledMs                            int64
	MemoryMB                            int
}

// Invoked records a finished invocation.
func (m *Metrics) Invoked(in Invocation) {
	m.invocations.WithLabelValues(in.Function, in.Resource, in.ExecutedVersion).Inc()
	if in.Error {
		m.errors.WithLabelValues(in.Function, in.Resource, in.ExecutedVersion).Inc()
	}
	if in.ColdStart {
		m.coldStarts.WithLabelValues(in.Function, in.Resource, in.ExecutedVersion).Inc()
	}
	m.duration.WithLabelValues(in.Function, in.Resource, in.ExecutedVersion).Observe(in.Duration.Seconds())
	m.billed.WithLabelValues(in.Function).Add(float64(in.BilledMs) / 1000 * float64(in.MemoryMB) / 1024)
}

// Throttled records an invocation refused for lack of concurrency.
func (m *Metrics) Throttled(function, resource string) {
	m.throttles.WithLabelValues(function, resource).Inc()
}

// Running adjusts the concurrent executions of a function by delta (+1 when
// an invocation starts, -1 when it ends).
func (m *Metrics) Running(function string, delta float64) {
	m.concurrent.WithLabelValues(function).Add(delta)
	m.concurrentT.Add(delta)
}

// GaugeFunc returns a collector of one gauge per label value, read from fn
// at scrape time.
func GaugeFunc(name, help, label string, fn func() map[string]float64) prometheus.Collector {
	return &gaugeFunc{desc: prometheus.NewDesc(name, help, []string{label}, nil), fn: fn}
}

type gaugeFunc struct {
	desc *prometheus.Desc
	fn   func() map[string]float64
}

func (g *gaugeFunc) Describe(ch chan<- *prometheus.Desc) { ch <- g.desc }

func (g *gaugeFunc) Collect(ch chan<- prometheus.Metric) {
	for k, v := range g.fn() {
		ch <- prometheus.MustNewConstMetric(g.desc, prometheus.GaugeValue, v, k)
	}
}
