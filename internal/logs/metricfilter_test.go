package logs

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	cwl "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
	"github.com/prometheus/client_golang/prometheus"
)

// metricValue is the value of family{namespace="Web",name,dimensions} as
// the store's collectors export it; 0 when it has none.
func metricValue(t *testing.T, st *Store, family, name, dims string) float64 {
	t.Helper()
	reg := prometheus.NewRegistry()
	for _, c := range st.Collectors() {
		reg.MustRegister(c)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != family {
			continue
		}
		for _, m := range mf.GetMetric() {
			l := map[string]string{}
			for _, p := range m.GetLabel() {
				l[p.GetName()] = p.GetValue()
			}
			if l["namespace"] == "Web" && l["name"] == name && l["dimensions"] == dims {
				if g := m.GetGauge(); g != nil {
					return g.GetValue()
				}
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

func TestMetricFilters(t *testing.T) {
	h := newHarness(t, "", Config{})
	ctx := ctxT(t)
	put := func(group, name, pattern string, tr types.MetricTransformation) error {
		_, err := h.cl.PutMetricFilter(ctx, &cwl.PutMetricFilterInput{LogGroupName: aws.String(group), FilterName: aws.String(name),
			FilterPattern: aws.String(pattern), MetricTransformations: []types.MetricTransformation{tr}})
		return err
	}
	bytes5xx := types.MetricTransformation{MetricName: aws.String("ServerErrorBytes"), MetricNamespace: aws.String("Web"), MetricValue: aws.String("$bytes")}
	wantCode(t, put("/missing", "f", "", bytes5xx), "ResourceNotFoundException")
	h.cl.CreateLogGroup(ctx, &cwl.CreateLogGroupInput{LogGroupName: aws.String("/web")})
	h.cl.CreateLogStream(ctx, &cwl.CreateLogStreamInput{LogGroupName: aws.String("/web"), LogStreamName: aws.String("s")})
	wantCode(t, put("/web", "f", "[a", bytes5xx), "InvalidParameterException")
	wantCode(t, put("/web", "f", "", types.MetricTransformation{MetricName: aws.String("x:y"), MetricNamespace: aws.String("Web"), MetricValue: aws.String("1")}), "InvalidParameterException")
	wantCode(t, put("/web", "f", "", types.MetricTransformation{MetricName: aws.String("x"), MetricNamespace: aws.String("Web"), MetricValue: aws.String("one")}), "InvalidParameterException")
	wantCode(t, put("/web", "f", "", types.MetricTransformation{MetricName: aws.String("x"), MetricNamespace: aws.String("Web"), MetricValue: aws.String("1"),
		DefaultValue: aws.Float64(0), Dimensions: map[string]string{"fn": "$.fn"}}), "InvalidParameterException")

	if err := put("/web", "server-errors", "[ip, user, ..., status_code=5*, bytes]", bytes5xx); err != nil {
		t.Fatal(err)
	}
	if err := put("/web", "slow", `{ $.latency > 100 }`, types.MetricTransformation{MetricName: aws.String("SlowLatency"), MetricNamespace: aws.String("Web"),
		MetricValue: aws.String("$.latency"), Dimensions: map[string]string{"Function": "$.fn"}}); err != nil {
		t.Fatal(err)
	}
	if err := put("/web", "errors", "ERROR", types.MetricTransformation{MetricName: aws.String("Errors"), MetricNamespace: aws.String("Web"), MetricValue: aws.String("1")}); err != nil {
		t.Fatal(err)
	}
	putEvents(t, h, "/web", "s",
		`127.0.0.1 - frank [10/Oct/2000:13:25:15 -0700] "GET / HTTP/1.0" 200 1534`,
		`127.0.0.1 - frank [10/Oct/2000:13:25:16 -0700] "GET / HTTP/1.0" 500 100`,
		`127.0.0.1 - frank [10/Oct/2000:13:25:17 -0700] "GET / HTTP/1.0" 503 23`,
		`{"fn":"a","latency":150}`, `{"fn":"a","latency":50}`, `{"fn":"b","latency":300.5}`,
		"ERROR one", "ERROR two", "fine")
	sum := func(name, dims string) float64 { return metricValue(t, h.st, "kumo_logs_metric", name, dims) }
	if got := sum("ServerErrorBytes", ""); got != 123 {
		t.Errorf("ServerErrorBytes = %v, want 123", got)
	}
	if a, b := sum("SlowLatency", "Function=a"), sum("SlowLatency", "Function=b"); a != 150 || b != 300.5 {
		t.Errorf("SlowLatency a=%v b=%v, want 150 and 300.5", a, b)
	}
	if got := sum("Errors", ""); got != 2 {
		t.Errorf("Errors = %v, want 2", got)
	}
	if n := metricValue(t, h.st, "kumo_logs_metric_samples_total", "ServerErrorBytes", ""); n != 2 {
		t.Errorf("ServerErrorBytes samples = %v, want 2", n)
	}

	out, err := h.cl.DescribeMetricFilters(ctx, &cwl.DescribeMetricFiltersInput{LogGroupName: aws.String("/web")})
	if err != nil || len(out.MetricFilters) != 3 || *out.MetricFilters[0].FilterName != "errors" ||
		*out.MetricFilters[1].MetricTransformations[0].MetricValue != "$bytes" || *out.MetricFilters[2].FilterPattern != `{ $.latency > 100 }` {
		t.Fatalf("describe: %v %+v", err, out)
	}
	out, err = h.cl.DescribeMetricFilters(ctx, &cwl.DescribeMetricFiltersInput{MetricName: aws.String("SlowLatency"), MetricNamespace: aws.String("Web")})
	if err != nil || len(out.MetricFilters) != 1 || *out.MetricFilters[0].FilterName != "slow" || *out.MetricFilters[0].LogGroupName != "/web" {
		t.Fatalf("describe by metric: %v %+v", err, out)
	}
	_, err = h.cl.DescribeMetricFilters(ctx, &cwl.DescribeMetricFiltersInput{LogGroupName: aws.String("/missing")})
	wantCode(t, err, "ResourceNotFoundException")

	tm, err := h.cl.TestMetricFilter(ctx, &cwl.TestMetricFilterInput{FilterPattern: aws.String("[ip, user, ..., status_code=5*, bytes]"),
		LogEventMessages: []string{`1.2.3.4 - - [x] "GET /" 200 5`, `1.2.3.4 - - [x] "GET /" 502 7`}})
	if err != nil || len(tm.Matches) != 1 || tm.Matches[0].EventNumber != 2 || tm.Matches[0].ExtractedValues["$status_code"] != "502" ||
		tm.Matches[0].ExtractedValues["$bytes"] != "7" {
		t.Fatalf("test-metric-filter: %v %+v", err, tm)
	}

	// The filters survive a restart; deleting one stops its counting.
	h.restart(t, Config{})
	_, err = h.cl.DeleteMetricFilter(ctx, &cwl.DeleteMetricFilterInput{LogGroupName: aws.String("/web"), FilterName: aws.String("nope")})
	wantCode(t, err, "ResourceNotFoundException")
	if _, err := h.cl.DeleteMetricFilter(ctx, &cwl.DeleteMetricFilterInput{LogGroupName: aws.String("/web"), FilterName: aws.String("slow")}); err != nil {
		t.Fatal(err)
	}
	putEvents(t, h, "/web", "s", "ERROR three", `{"fn":"a","latency":150}`)
	if got := sum("Errors", ""); got != 1 {
		t.Errorf("Errors after restart = %v, want 1 (counted since the restart)", got)
	}
	if got := sum("SlowLatency", "Function=a"); got != 0 {
		t.Errorf("SlowLatency after its filter was deleted = %v", got)
	}
	out, err = h.cl.DescribeMetricFilters(ctx, &cwl.DescribeMetricFiltersInput{LogGroupName: aws.String("/web")})
	if err != nil || len(out.MetricFilters) != 2 {
		t.Fatalf("describe after restart: %v %+v", err, out)
	}
}
