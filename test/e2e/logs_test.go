package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
)

// Function logs are read back with the clients Lambda users have: the AWS
// CLI, boto3 and aws-sdk-go-v2's CloudWatch Logs client. The installed CLI
// is v1, which has no "aws logs tail"; "aws logs filter-log-events" and
// "aws logs get-log-events" are what it offers instead.

// newLogsClient returns an aws-sdk-go-v2 CloudWatch Logs client for s.
func newLogsClient(s *server) *cloudwatchlogs.Client {
	return cloudwatchlogs.NewFromConfig(aws.Config{
		Region:           region,
		Credentials:      credentials.NewStaticCredentialsProvider(rootAccessKeyID, rootSecretAccessKey, ""),
		RetryMaxAttempts: 1,
	}, func(o *cloudwatchlogs.Options) { o.BaseEndpoint = aws.String(s.url) })
}

// logLine is one stored log event.
type logLine struct {
	Stream    string `json:"stream"`
	Timestamp int64  `json:"timestamp"`
	Message   string `json:"message"`
}

func (l logLine) String() string {
	return fmt.Sprintf("%s %d %q", l.Stream, l.Timestamp, l.Message)
}

func dumpLines(lines []logLine) string {
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(l.String())
		b.WriteByte('\n')
	}
	return b.String()
}

// allLogEvents returns every event of group through FilterLogEvents, page
// after page, in the order served.
func allLogEvents(t *testing.T, cl *cloudwatchlogs.Client, group, pattern string) ([]logLine, error) {
	in := &cloudwatchlogs.FilterLogEventsInput{LogGroupName: aws.String(group)}
	if pattern != "" {
		in.FilterPattern = aws.String(pattern)
	}
	var out []logLine
	p := cloudwatchlogs.NewFilterLogEventsPaginator(cl, in)
	for pages := 0; p.HasMorePages(); pages++ {
		if pages > 100 {
			return out, fmt.Errorf("FilterLogEvents %s: more than 100 pages", group)
		}
		page, err := p.NextPage(t.Context())
		if err != nil {
			return out, err
		}
		for _, e := range page.Events {
			out = append(out, logLine{Stream: aws.ToString(e.LogStreamName), Timestamp: aws.ToInt64(e.Timestamp), Message: aws.ToString(e.Message)})
		}
	}
	return out, nil
}

// waitForReports polls FilterLogEvents until group holds a REPORT line for
// every request id, and returns all its events.
func waitForReports(t *testing.T, cl *cloudwatchlogs.Client, group string, rids ...string) []logLine {
	t.Helper()
	var events []logLine
	eventually(t, 15*time.Second, "REPORT lines of "+strings.Join(rids, ", ")+" in "+group, func() error {
		var err error
		events, err = allLogEvents(t, cl, group, "")
		if err != nil {
			return err
		}
		for _, rid := range rids {
			if !hasLine(events, "REPORT RequestId: "+rid+"\t") {
				return fmt.Errorf("no REPORT line for %s yet; events:\n%s", rid, dumpLines(events))
			}
		}
		return nil
	})
	return events
}

func hasLine(events []logLine, prefix string) bool {
	for _, e := range events {
		if strings.HasPrefix(e.Message, prefix) {
			return true
		}
	}
	return false
}

// printed is what the test function's "print" action writes for n lines.
func printed(n int) []string {
	var out []string
	for i := 1; i <= n; i++ {
		out = append(out, fmt.Sprintf("fn line %d of %d", i, n))
	}
	return out
}

// checkRequests checks that events hold, for each request id in want,
// START, the function's lines, END and REPORT, in that order and in one
// log stream; want maps a request id to the lines the function printed.
func checkRequests(t *testing.T, what string, events []logLine, want map[string][]string) {
	t.Helper()
	got := map[string][]string{}
	streamOf := map[string]string{}
	current := map[string]string{} // log stream -> request id between START and REPORT
	var bad []string
	for _, e := range events {
		msg := strings.TrimRight(e.Message, "\n")
		cur := current[e.Stream]
		switch {
		case strings.HasPrefix(msg, "START RequestId: "):
			rid, _, _ := strings.Cut(strings.TrimPrefix(msg, "START RequestId: "), " ")
			if cur != "" {
				bad = append(bad, fmt.Sprintf("START of %s before the REPORT of %s", rid, cur))
			}
			if _, dup := got[rid]; dup {
				bad = append(bad, "a second START line for "+rid)
			}
			if want := "START RequestId: " + rid + " Version: $LATEST"; msg != want {
				bad = append(bad, fmt.Sprintf("START line %q, want %q", msg, want))
			}
			current[e.Stream] = rid
			streamOf[rid] = e.Stream
			got[rid] = []string{"START"}
		case strings.HasPrefix(msg, "END RequestId: "):
			rid := strings.TrimPrefix(msg, "END RequestId: ")
			if rid != cur {
				bad = append(bad, fmt.Sprintf("END line of %s while %q is running in %s", rid, cur, e.Stream))
				continue
			}
			got[rid] = append(got[rid], "END")
		case strings.HasPrefix(msg, "REPORT RequestId: "):
			m := reportRE.FindStringSubmatch(msg)
			if m == nil {
				bad = append(bad, fmt.Sprintf("REPORT line not in Lambda's format: %q", msg))
				continue
			}
			if m[1] != cur {
				bad = append(bad, fmt.Sprintf("REPORT line of %s while %q is running in %s", m[1], cur, e.Stream))
				continue
			}
			got[cur] = append(got[cur], "REPORT")
			current[e.Stream] = ""
		case cur != "":
			got[cur] = append(got[cur], msg)
		}
	}
	for rid, lines := range want {
		w := append(append([]string{"START"}, lines...), "END", "REPORT")
		if !reflect.DeepEqual(got[rid], w) {
			bad = append(bad, fmt.Sprintf("request %s: lines %q, want %q", rid, got[rid], w))
		}
		if s := streamOf[rid]; s != "" && !streamRE.MatchString(s) {
			bad = append(bad, fmt.Sprintf("log stream name %q is not in Lambda's format YYYY/MM/DD/[$LATEST]<32 hex>", s))
		}
	}
	if len(bad) > 0 {
		t.Errorf("%s:\n%s\nevents:\n%s", what, strings.Join(bad, "\n"), dumpLines(events))
	}
}

// cliLogLines converts the events of a CLI filter-log-events or
// get-log-events answer; stream names the events of get-log-events.
func cliLogLines(out map[string]any, stream string) []logLine {
	var lines []logLine
	evs, _ := out["events"].([]any)
	for _, e := range evs {
		l := logLine{Stream: jstr(e, "logStreamName"), Timestamp: int64(jnum(e, "timestamp")), Message: jstr(e, "message")}
		if l.Stream == "" {
			l.Stream = stream
		}
		lines = append(lines, l)
	}
	return lines
}

const logsBoto3Script = `
import json, sys
import boto3
from botocore.config import Config

cfg = json.loads(sys.argv[1])
logs = boto3.client(
    "logs", endpoint_url=cfg["endpoint"], region_name=cfg["region"],
    aws_access_key_id=cfg["key"], aws_secret_access_key=cfg["secret"],
    config=Config(retries={"total_max_attempts": 1}, connect_timeout=10, read_timeout=60))
G = cfg["group"]


def line(e, stream=None):
    return {"stream": e.get("logStreamName", stream), "timestamp": e["timestamp"], "message": e["message"]}


def filtered(pattern):
    out = []
    for page in logs.get_paginator("filter_log_events").paginate(logGroupName=G, filterPattern=pattern):
        out += [line(e) for e in page["events"]]
    return out


out = {"streams": [], "get": []}
for s in logs.describe_log_streams(logGroupName=G)["logStreams"]:
    name = s["logStreamName"]
    out["streams"].append(name)
    token = None
    for _ in range(100):
        kw = dict(logGroupName=G, logStreamName=name, startFromHead=True)
        if token:
            kw["nextToken"] = token
        r = logs.get_log_events(**kw)
        out["get"] += [line(e, name) for e in r["events"]]
        if r["nextForwardToken"] == token:
            break
        token = r["nextForwardToken"]
out["term"] = filtered("REPORT")
out["phrase"] = filtered('"fn line 3 of 4"')
out["term_and_phrase"] = filtered('fn "of 3"')
print(json.dumps(out))
`

// TestLogs invokes the test function a few times and reads its logs back
// with the AWS CLI, boto3 and aws-sdk-go-v2. It uses the default sandbox
// driver (linux when running as root), whose output capture differs from
// the process driver's.
func TestLogs(t *testing.T) {
	t.Parallel()
	var args []string
	if os.Geteuid() == 0 {
		args = []string{"--sandbox", "linux"}
	}
	s := startServer(t, t.TempDir(), args...)
	lc := newSDK(t, s)
	cl := newLogsClient(s)
	const fn = "logs-fn"
	group := "/aws/lambda/" + fn
	day := time.Now().UTC().Format("2006/01/02")
	deployFn(t, lc, fn, "logs", fnConfig{})

	want := map[string][]string{}
	var rids []string
	for _, n := range []int{2, 3, 4} {
		r := call(t, lc, fn, "", event("print", "lines", n))
		r.ok(t, fmt.Sprintf("print %d lines", n))
		if !uuidRE.MatchString(r.RequestID) {
			t.Fatalf("request id %q is not a UUID", r.RequestID)
		}
		rids = append(rids, r.RequestID)
		want[r.RequestID] = printed(n)
	}
	events := waitForReports(t, cl, group, rids...)
	checkRequests(t, "FilterLogEvents (aws-sdk-go-v2)", events, want)

	cli := newCLI(t, s)
	t.Run("CLI", func(t *testing.T) {
		groups := cli.ok("logs", "describe-log-groups", "--log-group-name-prefix", "/aws/lambda/")
		if names := collect(groups, "logGroups", "logGroupName"); !reflect.DeepEqual(names, []string{group}) {
			t.Errorf("describe-log-groups: groups %q, want [%s]", names, group)
		}
		streams := collect(cli.ok("logs", "describe-log-streams", "--log-group-name", group), "logStreams", "logStreamName")
		if len(streams) == 0 {
			t.Fatalf("describe-log-streams: no log streams in %s", group)
		}
		for _, st := range streams {
			if !streamRE.MatchString(st) || !strings.HasPrefix(st, day) && !strings.HasPrefix(st, time.Now().UTC().Format("2006/01/02")) {
				t.Errorf("describe-log-streams: stream %q is not in Lambda's format %s/[$LATEST]<32 hex>", st, day)
			}
		}
		// Three sequential invocations run in one warm sandbox.
		if len(streams) != 1 {
			t.Errorf("describe-log-streams: %d streams %q for three sequential invocations, want 1", len(streams), streams)
		}

		checkRequests(t, "aws logs filter-log-events", cliLogLines(cli.ok("logs", "filter-log-events", "--log-group-name", group), ""), want)

		var got []logLine
		for _, st := range streams {
			got = append(got, cliLogLines(cli.ok("logs", "get-log-events", "--log-group-name", group,
				"--log-stream-name", st, "--start-from-head"), st)...)
		}
		checkRequests(t, "aws logs get-log-events --start-from-head", got, want)

		phrase := cliLogLines(cli.ok("logs", "filter-log-events", "--log-group-name", group,
			"--filter-pattern", `"fn line 2 of 3"`), "")
		if len(phrase) != 1 || strings.TrimRight(phrase[0].Message, "\n") != "fn line 2 of 3" {
			t.Errorf(`filter-log-events --filter-pattern '"fn line 2 of 3"': got\n%s`, dumpLines(phrase))
		}
	})

	t.Run("Boto3", func(t *testing.T) {
		cfg, _ := json.Marshal(map[string]string{"endpoint": s.url, "region": region, "key": rootAccessKeyID,
			"secret": rootSecretAccessKey, "group": group})
		r := runCmd(t, s.env(), nil, 60*time.Second, "python3", "-c", logsBoto3Script, string(cfg))
		if r.Code != 0 {
			t.Fatalf("boto3 script failed:\n%s", r)
		}
		var out struct {
			Streams       []string  `json:"streams"`
			Get           []logLine `json:"get"`
			Term          []logLine `json:"term"`
			Phrase        []logLine `json:"phrase"`
			TermAndPhrase []logLine `json:"term_and_phrase"`
		}
		if err := json.Unmarshal([]byte(r.Stdout), &out); err != nil {
			t.Fatalf("boto3 output: %v\n%s", err, r)
		}
		for _, st := range out.Streams {
			if !streamRE.MatchString(st) {
				t.Errorf("describe_log_streams: stream %q is not in Lambda's format", st)
			}
		}
		checkRequests(t, "get_log_events(startFromHead=True)", out.Get, want)

		var reports []string
		for _, e := range out.Term {
			m := reportRE.FindStringSubmatch(e.Message)
			if m == nil {
				t.Errorf("filter_log_events(filterPattern='REPORT') returned a line that is not a REPORT line: %s", e)
				continue
			}
			reports = append(reports, m[1])
		}
		if !reflect.DeepEqual(reports, rids) {
			t.Errorf("filter_log_events(filterPattern='REPORT'): REPORT lines of %q, want %q in invocation order\n%s", reports, rids, dumpLines(out.Term))
		}

		if len(out.Phrase) != 1 || strings.TrimRight(out.Phrase[0].Message, "\n") != "fn line 3 of 4" {
			t.Errorf(`filter_log_events(filterPattern='"fn line 3 of 4"'): got\n%s`, dumpLines(out.Phrase))
		}
		var lines []string
		for _, e := range out.TermAndPhrase {
			lines = append(lines, strings.TrimRight(e.Message, "\n"))
		}
		if !reflect.DeepEqual(lines, printed(3)) {
			t.Errorf(`filter_log_events(filterPattern='fn "of 3"'): got %q, want %q`, lines, printed(3))
		}
	})
}

// TestLogsSurviveRestart checks that stored logs outlive a clean shutdown
// and a kill -9 of the server.
func TestLogsSurviveRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	const fn = "logs-restart"
	group := "/aws/lambda/" + fn
	want := map[string][]string{}
	var rids []string
	invoke := func(lc *lambda.Client, n int) {
		t.Helper()
		r := call(t, lc, fn, "", event("print", "lines", n))
		r.ok(t, fmt.Sprintf("print %d lines", n))
		rids = append(rids, r.RequestID)
		want[r.RequestID] = printed(n)
	}
	// sameEvents waits until a restarted server serves exactly before.
	sameEvents := func(s *server, when string, before []logLine) {
		t.Helper()
		var after []logLine
		err := poll(10*time.Second, func() error {
			var err error
			after, err = allLogEvents(t, newLogsClient(s), group, "")
			if err != nil {
				return err
			}
			if !reflect.DeepEqual(after, before) {
				return fmt.Errorf("events differ")
			}
			return nil
		})
		if err != nil {
			t.Fatalf("%s: %v\nbefore:\n%s\nafter:\n%s", when, err, dumpLines(before), dumpLines(after))
		}
	}

	s1 := startServer(t, dir, "--sandbox", "process")
	lc := newSDK(t, s1)
	deployFn(t, lc, fn, "restart", fnConfig{})
	invoke(lc, 2)
	cl1 := newLogsClient(s1)
	waitForReports(t, cl1, group, rids...)
	must[*cloudwatchlogs.PutRetentionPolicyOutput](t, "PutRetentionPolicy")(cl1.PutRetentionPolicy(t.Context(),
		&cloudwatchlogs.PutRetentionPolicyInput{LogGroupName: aws.String(group), RetentionInDays: aws.Int32(7)}))
	// The last invocation's lines may still be in the write batch when
	// SIGTERM arrives; a clean shutdown must not lose them.
	invoke(lc, 3)
	s1.stop()

	s2 := startServer(t, dir, "--sandbox", "process")
	cl2 := newLogsClient(s2)
	before := waitForReports(t, cl2, group, rids...)
	checkRequests(t, "after SIGTERM and restart", before, want)
	lc = newSDK(t, s2)
	waitActive(t, lc, fn)
	invoke(lc, 4)
	before = waitForReports(t, cl2, group, rids...)
	checkRequests(t, "after an invocation on the restarted server", before, want)
	streams := map[string]bool{}
	for _, e := range before {
		streams[e.Stream] = true
	}
	if len(streams) != 2 {
		t.Errorf("want 2 log streams (one per sandbox, one sandbox per server run), got %d:\n%s", len(streams), dumpLines(before))
	}
	s2.kill9()

	s3 := startServer(t, dir, "--sandbox", "process")
	sameEvents(s3, "after kill -9 and restart", before)
	groups := must[*cloudwatchlogs.DescribeLogGroupsOutput](t, "DescribeLogGroups")(newLogsClient(s3).DescribeLogGroups(t.Context(),
		&cloudwatchlogs.DescribeLogGroupsInput{LogGroupNamePrefix: aws.String(group)}))
	if len(groups.LogGroups) != 1 || aws.ToInt32(groups.LogGroups[0].RetentionInDays) != 7 {
		t.Errorf("DescribeLogGroups after two restarts: want %s with retentionInDays 7, got %s", group, toJSON(groups.LogGroups))
	}
	lc = newSDK(t, s3)
	waitActive(t, lc, fn)
	invoke(lc, 1)
	after := waitForReports(t, newLogsClient(s3), group, rids...)
	checkRequests(t, "after an invocation on the server restarted after kill -9", after, want)
}

// promSample is one sample of the Prometheus text format.
type promSample struct {
	Name   string
	Labels map[string]string
	Value  float64
}

// parseProm parses the Prometheus text exposition format (comments,
// "name value" and "name{k="v",...} value [timestamp]").
func parseProm(r io.Reader) ([]promSample, error) {
	var out []promSample
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		s := promSample{Labels: map[string]string{}}
		rest := line
		if i := strings.IndexAny(rest, "{ "); i < 0 {
			return nil, fmt.Errorf("bad sample line %q", line)
		} else {
			s.Name = rest[:i]
			rest = rest[i:]
		}
		if strings.HasPrefix(rest, "{") {
			rest = rest[1:]
			for {
				rest = strings.TrimLeft(rest, " ,")
				if strings.HasPrefix(rest, "}") {
					rest = rest[1:]
					break
				}
				k, v, ok := strings.Cut(rest, "=\"")
				if !ok {
					return nil, fmt.Errorf("bad labels in %q", line)
				}
				var val strings.Builder
				i := 0
				for ; i < len(v) && v[i] != '"'; i++ {
					if v[i] == '\\' && i+1 < len(v) {
						i++
						switch v[i] {
						case 'n':
							val.WriteByte('\n')
						default:
							val.WriteByte(v[i])
						}
						continue
					}
					val.WriteByte(v[i])
				}
				if i >= len(v) {
					return nil, fmt.Errorf("unterminated label value in %q", line)
				}
				s.Labels[strings.TrimSpace(k)] = val.String()
				rest = v[i+1:]
			}
		}
		fields := strings.Fields(rest)
		if len(fields) < 1 {
			return nil, fmt.Errorf("no value in %q", line)
		}
		v, err := strconv.ParseFloat(fields[0], 64)
		if err != nil {
			return nil, fmt.Errorf("bad value in %q: %v", line, err)
		}
		s.Value = v
		out = append(out, s)
	}
	return out, sc.Err()
}

// scrape GETs /metrics, signed, and parses it.
func scrape(t *testing.T, s *server) ([]promSample, string) {
	t.Helper()
	resp, err := http.DefaultClient.Do(metricsRequest(t, s))
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %s\n%s", resp.Status, body)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("GET /metrics: Content-Type %q, want the text format", ct)
	}
	samples, err := parseProm(strings.NewReader(string(body)))
	if err != nil {
		t.Fatalf("GET /metrics: %v\n%s", err, body)
	}
	return samples, string(body)
}

// promSum adds the samples of name whose labels include match; n is how
// many there were.
func promSum(samples []promSample, name string, match map[string]string) (sum float64, n int) {
next:
	for _, s := range samples {
		if s.Name != name {
			continue
		}
		for k, v := range match {
			if s.Labels[k] != v {
				continue next
			}
		}
		sum += s.Value
		n++
	}
	return sum, n
}

// TestMetrics invokes functions and checks what GET /metrics counts.
func TestMetrics(t *testing.T) {
	t.Parallel()
	s := startServer(t, t.TempDir(), "--sandbox", "process")
	lc := newSDK(t, s)
	const fn, other = "metrics-fn", "metrics-other"
	deployFn(t, lc, fn, "metrics", fnConfig{Memory: 256})
	deployFn(t, lc, other, "metrics", fnConfig{})

	const okN, errM = 4, 2
	for i := 0; i < okN; i++ {
		call(t, lc, fn, "", event("sleep", "ms", 5)).ok(t, "sleep")
	}
	for i := 0; i < errM; i++ {
		call(t, lc, fn, "", event("error", "message", "metrics")).failed(t, "error", "TestError")
	}
	call(t, lc, other, "", event("echo")).ok(t, "echo")

	series := map[string]string{"function_name": fn, "resource": fn, "executed_version": "$LATEST"}
	fnOnly := map[string]string{"function_name": fn}
	var samples []promSample
	var body string
	// Counters are updated when an invocation finishes, which may be just
	// after its response was sent.
	err := poll(5*time.Second, func() error {
		samples, body = scrape(t, s)
		if v, _ := promSum(samples, "kumo_lambda_invocations_total", fnOnly); v != okN+errM {
			return fmt.Errorf("kumo_lambda_invocations_total{function_name=%q} = %v, want %d", fn, v, okN+errM)
		}
		if v, _ := promSum(samples, "kumo_lambda_duration_seconds_count", fnOnly); v != okN+errM {
			return fmt.Errorf("kumo_lambda_duration_seconds_count{function_name=%q} = %v, want %d", fn, v, okN+errM)
		}
		if v, _ := promSum(samples, "kumo_lambda_concurrent_executions", fnOnly); v != 0 {
			return fmt.Errorf("kumo_lambda_concurrent_executions{function_name=%q} = %v, want 0 once every invocation returned", fn, v)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("%v\n/metrics:\n%s", err, body)
	}
	check := func(name string, match map[string]string, ok func(float64) bool, want string) {
		t.Helper()
		v, n := promSum(samples, name, match)
		if n == 0 || !ok(v) {
			t.Errorf("%s%v = %v (%d series), want %s", name, match, v, n, want)
		}
	}
	eq := func(w float64) func(float64) bool { return func(v float64) bool { return v == w } }
	check("kumo_lambda_invocations_total", series, eq(okN+errM), strconv.Itoa(okN+errM))
	check("kumo_lambda_errors_total", series, eq(errM), strconv.Itoa(errM))
	check("kumo_lambda_cold_starts_total", series, func(v float64) bool { return v >= 1 && v <= okN+errM }, "between 1 and the invocations")
	check("kumo_lambda_duration_seconds_count", series, eq(okN+errM), strconv.Itoa(okN+errM))
	check("kumo_lambda_duration_seconds_bucket", map[string]string{"function_name": fn, "le": "+Inf"}, eq(okN+errM), strconv.Itoa(okN+errM))
	// Four invocations slept 5 ms each.
	durSum, _ := promSum(samples, "kumo_lambda_duration_seconds_sum", fnOnly)
	check("kumo_lambda_duration_seconds_sum", series, func(v float64) bool { return v >= okN*0.005 }, "at least the 20 ms slept")
	// Billed duration is the duration rounded up to the ms, times 0.25 GB.
	check("kumo_lambda_billed_gb_seconds_total", fnOnly, func(v float64) bool {
		return v > 0 && v >= durSum*0.25-1e-9 && v <= (durSum+float64(okN+errM)*0.001)*0.25+1e-9
	}, fmt.Sprintf("between %g and %g (duration %g s rounded up to the ms, times 0.25 GB)",
		durSum*0.25, (durSum+float64(okN+errM)*0.001)*0.25, durSum))

	check("kumo_lambda_invocations_total", map[string]string{"function_name": other}, eq(1), "1")
	if v, _ := promSum(samples, "kumo_lambda_errors_total", map[string]string{"function_name": other}); v != 0 {
		t.Errorf("kumo_lambda_errors_total{function_name=%q} = %v, want 0", other, v)
	}
	check("kumo_sandboxes", map[string]string{"state": "Idle"}, func(v float64) bool { return v >= 1 }, "at least 1")
	if t.Failed() {
		t.Logf("/metrics:\n%s", body)
	}
}
