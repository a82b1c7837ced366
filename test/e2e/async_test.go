package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// recorderSource is a function (aws-lambda-go) that appends one JSON line
// {fn, requestId, event} to $REC_FILE and syncs it, then fails when the
// event says {"fail": true} and otherwise answers {"echo": event}. It runs
// under the process driver so that it can write to the host. It is built
// through an overlay so the repository holds no extra package.
const recorderSource = `package main

import (
	"context"
	"encoding/json"
	"errors"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

func main() { lambda.Start(handle) }

func handle(ctx context.Context, raw json.RawMessage) (any, error) {
	id := ""
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		id = lc.AwsRequestID
	}
	line, _ := json.Marshal(map[string]any{"fn": os.Getenv("AWS_LAMBDA_FUNCTION_NAME"), "requestId": id, "event": raw})
	f, err := os.OpenFile(os.Getenv("REC_FILE"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, err
	}
	_, err = f.Write(append(line, '\n'))
	if err == nil {
		err = f.Sync()
	}
	f.Close()
	if err != nil {
		return nil, err
	}
	var ev struct {
		Fail bool ` + "`json:\"fail\"`" + `
	}
	json.Unmarshal(raw, &ev)
	if ev.Fail {
		return nil, errors.New("asked to fail")
	}
	return map[string]any{"echo": raw}, nil
}
`

var recBuild struct {
	once sync.Once
	zip  []byte
	err  error
}

func recorderZip(t *testing.T) []byte {
	t.Helper()
	recBuild.once.Do(func() {
		dir := filepath.Dir(kumoBin)
		src := filepath.Join(dir, "asyncrec.go")
		if err := os.WriteFile(src, []byte(recorderSource), 0o644); err != nil {
			recBuild.err = err
			return
		}
		ov, _ := json.Marshal(map[string]any{"Replace": map[string]string{
			filepath.Join(repoDir, "test/e2e/testdata/asyncrec/main.go"): src,
		}})
		ovFile := filepath.Join(dir, "asyncrec-overlay.json")
		if err := os.WriteFile(ovFile, ov, 0o644); err != nil {
			recBuild.err = err
			return
		}
		out := filepath.Join(dir, "asyncrec")
		cmd := exec.Command("go", "build", "-overlay", ovFile, "-trimpath", "-ldflags=-s -w", "-o", out, "./test/e2e/testdata/asyncrec")
		cmd.Dir = repoDir
		cmd.Env = append(cleanEnv(), "CGO_ENABLED=0")
		if b, err := cmd.CombinedOutput(); err != nil {
			recBuild.err = fmt.Errorf("building the recorder: %v\n%s", err, b)
			return
		}
		bin, err := os.ReadFile(out)
		if err != nil {
			recBuild.err = err
			return
		}
		recBuild.zip = makeZip(t, zipEntry{Name: "bootstrap", Body: string(bin), Mode: 0o755})
	})
	if recBuild.err != nil {
		t.Fatal(recBuild.err)
	}
	return recBuild.zip
}

// asyncServer starts kumo with the process driver and fast retries.
func asyncServer(t *testing.T, dataDir string, env ...string) *server {
	t.Helper()
	return launch(t, dataDir, append([]string{
		"KUMO_ROOT_ACCESS_KEY_ID=" + rootAccessKeyID,
		"KUMO_ROOT_SECRET_ACCESS_KEY=" + rootSecretAccessKey,
	}, env...), "--sandbox", "process")
}

// recorder deploys the recorder as name, writing to its own file, and
// returns that file.
func deployRecorder(t *testing.T, lc *lambda.Client, name string, dlq string) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), name+".jsonl")
	in := &lambda.CreateFunctionInput{
		FunctionName: aws.String(name),
		Runtime:      types.RuntimeProvidedal2023,
		Role:         aws.String(testRole),
		Handler:      aws.String("bootstrap"),
		Code:         &types.FunctionCode{ZipFile: recorderZip(t)},
		MemorySize:   aws.Int32(128),
		Timeout:      aws.Int32(10),
		Environment:  &types.Environment{Variables: map[string]string{"REC_FILE": file}},
	}
	if dlq != "" {
		in.DeadLetterConfig = &types.DeadLetterConfig{TargetArn: aws.String(dlq)}
	}
	must[*lambda.CreateFunctionOutput](t, "CreateFunction "+name)(lc.CreateFunction(t.Context(), in))
	waitActive(t, lc, name)
	return file
}

type recLine struct {
	Fn        string          `json:"fn"`
	RequestID string          `json:"requestId"`
	Event     json.RawMessage `json:"event"`
}

func readRec(t *testing.T, file string) []recLine {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var out []recLine
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		var l recLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("%s: %v: %q", file, err, sc.Text())
		}
		out = append(out, l)
	}
	return out
}

// waitRec waits until file holds n lines matching keep, checks that no
// more arrive for a moment, and returns them.
func waitRec(t *testing.T, file string, n int, keep func(recLine) bool) []recLine {
	t.Helper()
	var got []recLine
	match := func() []recLine {
		var out []recLine
		for _, l := range readRec(t, file) {
			if keep == nil || keep(l) {
				out = append(out, l)
			}
		}
		return out
	}
	eventually(t, 30*time.Second, file, func() error {
		got = match()
		if len(got) < n {
			return fmt.Errorf("%d records, want %d", len(got), n)
		}
		return nil
	})
	time.Sleep(700 * time.Millisecond)
	if got = match(); len(got) != n {
		t.Fatalf("%s: %d records, want %d: %v", file, len(got), n, got)
	}
	return got
}

func byRequest(id string) func(recLine) bool {
	return func(l recLine) bool { return l.RequestID == id }
}

// invocationRecord is the destination record's JSON.
type invocationRecord struct {
	Version        string `json:"version"`
	Timestamp      string `json:"timestamp"`
	RequestContext struct {
		RequestID              string `json:"requestId"`
		FunctionArn            string `json:"functionArn"`
		Condition              string `json:"condition"`
		ApproximateInvokeCount int    `json:"approximateInvokeCount"`
	} `json:"requestContext"`
	RequestPayload  json.RawMessage `json:"requestPayload"`
	ResponseContext *struct {
		StatusCode      int    `json:"statusCode"`
		ExecutedVersion string `json:"executedVersion"`
		FunctionError   string `json:"functionError"`
	} `json:"responseContext"`
	ResponsePayload json.RawMessage `json:"responsePayload"`
}

func recordFor(t *testing.T, file, requestID string) invocationRecord {
	t.Helper()
	lines := waitRec(t, file, 1, func(l recLine) bool {
		var r invocationRecord
		json.Unmarshal(l.Event, &r)
		return r.RequestContext.RequestID == requestID
	})
	var r invocationRecord
	if err := json.Unmarshal(lines[0].Event, &r); err != nil {
		t.Fatal(err)
	}
	return r
}

// invokeEvent queues an Event invocation and returns its request id.
func invokeEvent(t *testing.T, lc *lambda.Client, name string, payload []byte) string {
	t.Helper()
	out, err := lc.Invoke(t.Context(), &lambda.InvokeInput{FunctionName: aws.String(name), InvocationType: types.InvocationTypeEvent, Payload: payload})
	if err != nil {
		t.Fatalf("Invoke Event %s: %v", name, err)
	}
	if out.StatusCode != 202 {
		t.Fatalf("Invoke Event %s: status %d, want 202", name, out.StatusCode)
	}
	if v := aws.ToString(out.ExecutedVersion); v != "" {
		t.Errorf("Invoke Event %s: X-Amz-Executed-Version %q, want none", name, v)
	}
	id, _ := awsmiddleware.GetRequestIDMetadata(out.ResultMetadata)
	if id == "" {
		t.Fatalf("Invoke Event %s: no request id", name)
	}
	return id
}

func putEIC(t *testing.T, lc *lambda.Client, name string, retries *int32, age *int32, onSuccess, onFailure string) {
	t.Helper()
	in := &lambda.PutFunctionEventInvokeConfigInput{FunctionName: aws.String(name), MaximumRetryAttempts: retries, MaximumEventAgeInSeconds: age}
	dc := &types.DestinationConfig{}
	if onSuccess != "" {
		dc.OnSuccess = &types.OnSuccess{Destination: aws.String(onSuccess)}
	}
	if onFailure != "" {
		dc.OnFailure = &types.OnFailure{Destination: aws.String(onFailure)}
	}
	in.DestinationConfig = dc
	must[*lambda.PutFunctionEventInvokeConfigOutput](t, "PutFunctionEventInvokeConfig "+name)(lc.PutFunctionEventInvokeConfig(t.Context(), in))
}

func TestAsync(t *testing.T) {
	t.Parallel()
	s := asyncServer(t, t.TempDir(), "KUMO_ASYNC_RETRY_DELAYS=200ms,400ms")
	lc := newSDK(t, s)
	recorderZip(t)
	sink := deployRecorder(t, lc, "async-sink", "")

	t.Run("DefaultRetries", func(t *testing.T) {
		t.Parallel()
		dlq := deployRecorder(t, lc, "async-dlq", "")
		putEIC(t, lc, "async-dlq", aws.Int32(0), nil, "", "")
		file := deployRecorder(t, lc, "async-fail", functionARN("async-dlq"))
		putEIC(t, lc, "async-fail", nil, nil, "", functionARN("async-sink"))
		payload := []byte(`{"fail":true,"case":"default"}`)
		id := invokeEvent(t, lc, "async-fail", payload)
		waitRec(t, file, 3, byRequest(id))
		r := recordFor(t, sink, id)
		if r.Version != "1.0" || r.RequestContext.Condition != "RetriesExhausted" || r.RequestContext.ApproximateInvokeCount != 3 ||
			r.RequestContext.FunctionArn != functionARN("async-fail")+":$LATEST" || string(r.RequestPayload) != string(payload) ||
			r.ResponseContext == nil || r.ResponseContext.FunctionError != "Unhandled" || r.ResponseContext.StatusCode != 200 {
			t.Errorf("OnFailure record: %+v", r)
		}
		// The dead-letter target gets the original event (and fails on it once).
		waitRec(t, dlq, 1, func(l recLine) bool { return string(l.Event) == string(payload) })
	})
	t.Run("NoRetries", func(t *testing.T) {
		t.Parallel()
		file := deployRecorder(t, lc, "async-fail0", "")
		putEIC(t, lc, "async-fail0", aws.Int32(0), nil, "", functionARN("async-sink"))
		id := invokeEvent(t, lc, "async-fail0", []byte(`{"fail":true}`))
		waitRec(t, file, 1, byRequest(id))
		if r := recordFor(t, sink, id); r.RequestContext.Condition != "RetriesExhausted" || r.RequestContext.ApproximateInvokeCount != 1 {
			t.Errorf("OnFailure record: %+v", r)
		}
	})
	t.Run("OnSuccess", func(t *testing.T) {
		t.Parallel()
		file := deployRecorder(t, lc, "async-ok", "")
		putEIC(t, lc, "async-ok", nil, nil, functionARN("async-sink"), "")
		id := invokeEvent(t, lc, "async-ok", []byte(`{"hello":"world"}`))
		got := waitRec(t, file, 1, byRequest(id))
		if string(got[0].Event) != `{"hello":"world"}` {
			t.Errorf("event %s", got[0].Event)
		}
		r := recordFor(t, sink, id)
		if r.RequestContext.Condition != "Success" || r.RequestContext.ApproximateInvokeCount != 1 ||
			string(r.ResponsePayload) != `{"echo":{"hello":"world"}}` || r.ResponseContext == nil ||
			r.ResponseContext.StatusCode != 200 || r.ResponseContext.ExecutedVersion != "$LATEST" || r.ResponseContext.FunctionError != "" {
			t.Errorf("OnSuccess record: %+v %s", r, r.ResponsePayload)
		}
		if _, err := time.Parse("2006-01-02T15:04:05.000Z", r.Timestamp); err != nil {
			t.Errorf("timestamp: %v", err)
		}
	})
	t.Run("InvokeAsync", func(t *testing.T) {
		t.Parallel()
		file := deployRecorder(t, lc, "async-legacy", "")
		//lint:ignore SA1019 the deprecated operation is still served, and this checks it
		out, err := lc.InvokeAsync(t.Context(), &lambda.InvokeAsyncInput{FunctionName: aws.String("async-legacy"), InvokeArgs: strings.NewReader(`{"legacy":1}`)})
		if err != nil {
			t.Fatalf("InvokeAsync: %v", err)
		}
		if out.Status != 202 {
			t.Errorf("InvokeAsync status %d, want 202", out.Status)
		}
		id, _ := awsmiddleware.GetRequestIDMetadata(out.ResultMetadata)
		waitRec(t, file, 1, byRequest(id))
		//lint:ignore SA1019 the deprecated operation is still served, and this checks it
		_, err = lc.InvokeAsync(t.Context(), &lambda.InvokeAsyncInput{FunctionName: aws.String("async-nope"), InvokeArgs: strings.NewReader(`{}`)})
		expectAPIError(t, "InvokeAsync of a missing function", err, "ResourceNotFoundException", 404)
	})
	t.Run("Limits", func(t *testing.T) {
		t.Parallel()
		file := deployRecorder(t, lc, "async-big", "")
		big := func(n int) []byte {
			return []byte(`{"a":"` + strings.Repeat("a", n-8) + `"}`)
		}
		id := invokeEvent(t, lc, "async-big", big(1048576))
		got := waitRec(t, file, 1, byRequest(id))
		if len(got[0].Event) != 1048576 {
			t.Errorf("1 MB event arrived with %d bytes", len(got[0].Event))
		}
		_, err := lc.Invoke(t.Context(), &lambda.InvokeInput{FunctionName: aws.String("async-big"), InvocationType: types.InvocationTypeEvent, Payload: big(1048577)})
		expectAPIError(t, "Event over 1 MB", err, "RequestEntityTooLargeException", 413)
		if err != nil && !strings.Contains(err.Error(), "Request must be smaller than 1048576 bytes for the InvokeFunction operation") {
			t.Errorf("message: %v", err)
		}
		_, err = lc.Invoke(t.Context(), &lambda.InvokeInput{FunctionName: aws.String("async-nope"), InvocationType: types.InvocationTypeEvent, Payload: []byte(`{}`)})
		expectAPIError(t, "Event to a missing function", err, "ResourceNotFoundException", 404)
		_, err = lc.Invoke(t.Context(), &lambda.InvokeInput{FunctionName: aws.String("async-big"), Qualifier: aws.String("nope"), InvocationType: types.InvocationTypeEvent, Payload: []byte(`{}`)})
		expectAPIError(t, "Event to a missing alias", err, "ResourceNotFoundException", 404)
	})
	t.Run("ConfigAPI", func(t *testing.T) {
		t.Parallel()
		deployRecorder(t, lc, "async-cfg", "")
		ctx := t.Context()
		_, err := lc.GetFunctionEventInvokeConfig(ctx, &lambda.GetFunctionEventInvokeConfigInput{FunctionName: aws.String("async-cfg")})
		expectAPIError(t, "Get before Put", err, "ResourceNotFoundException", 404)
		if err != nil && !strings.Contains(err.Error(), "The function "+functionARN("async-cfg")+":$LATEST doesn't have an EventInvokeConfig") {
			t.Errorf("message: %v", err)
		}
		_, err = lc.PutFunctionEventInvokeConfig(ctx, &lambda.PutFunctionEventInvokeConfigInput{FunctionName: aws.String("async-cfg"), MaximumRetryAttempts: aws.Int32(3)})
		expectAPIError(t, "MaximumRetryAttempts 3", err, "ValidationException", 400)
		_, err = lc.PutFunctionEventInvokeConfig(ctx, &lambda.PutFunctionEventInvokeConfigInput{FunctionName: aws.String("async-cfg"), MaximumEventAgeInSeconds: aws.Int32(59)})
		expectAPIError(t, "MaximumEventAgeInSeconds 59", err, "ValidationException", 400)
		_, err = lc.PutFunctionEventInvokeConfig(ctx, &lambda.PutFunctionEventInvokeConfigInput{FunctionName: aws.String("async-none"), MaximumRetryAttempts: aws.Int32(1)})
		expectAPIError(t, "Put on a missing function", err, "ResourceNotFoundException", 404)

		sqs := "arn:aws:sqs:us-east-1:000000000000:q"
		put := must[*lambda.PutFunctionEventInvokeConfigOutput](t, "Put")(lc.PutFunctionEventInvokeConfig(ctx, &lambda.PutFunctionEventInvokeConfigInput{
			FunctionName: aws.String("async-cfg"), MaximumRetryAttempts: aws.Int32(1), MaximumEventAgeInSeconds: aws.Int32(600),
			DestinationConfig: &types.DestinationConfig{OnFailure: &types.OnFailure{Destination: aws.String(sqs)}},
		}))
		if aws.ToString(put.FunctionArn) != functionARN("async-cfg")+":$LATEST" || aws.ToInt32(put.MaximumRetryAttempts) != 1 ||
			aws.ToInt32(put.MaximumEventAgeInSeconds) != 600 || put.LastModified == nil ||
			put.DestinationConfig == nil || put.DestinationConfig.OnFailure == nil || aws.ToString(put.DestinationConfig.OnFailure.Destination) != sqs {
			t.Errorf("Put: %+v", put)
		}
		upd := must[*lambda.UpdateFunctionEventInvokeConfigOutput](t, "Update")(lc.UpdateFunctionEventInvokeConfig(ctx, &lambda.UpdateFunctionEventInvokeConfigInput{
			FunctionName: aws.String("async-cfg"), MaximumRetryAttempts: aws.Int32(0),
		}))
		if aws.ToInt32(upd.MaximumRetryAttempts) != 0 || upd.MaximumRetryAttempts == nil || aws.ToInt32(upd.MaximumEventAgeInSeconds) != 600 ||
			upd.DestinationConfig == nil || upd.DestinationConfig.OnFailure == nil {
			t.Errorf("Update: %+v", upd)
		}
		get := must[*lambda.GetFunctionEventInvokeConfigOutput](t, "Get")(lc.GetFunctionEventInvokeConfig(ctx, &lambda.GetFunctionEventInvokeConfigInput{FunctionName: aws.String("async-cfg")}))
		if aws.ToInt32(get.MaximumRetryAttempts) != 0 || aws.ToInt32(get.MaximumEventAgeInSeconds) != 600 {
			t.Errorf("Get: %+v", get)
		}
		list := must[*lambda.ListFunctionEventInvokeConfigsOutput](t, "List")(lc.ListFunctionEventInvokeConfigs(ctx, &lambda.ListFunctionEventInvokeConfigsInput{FunctionName: aws.String("async-cfg")}))
		if len(list.FunctionEventInvokeConfigs) != 1 {
			t.Errorf("List: %+v", list.FunctionEventInvokeConfigs)
		}
		// An event with an SQS destination still runs; the record is only logged.
		invokeEvent(t, lc, "async-cfg", []byte(`{"fail":true}`))
		must[*lambda.DeleteFunctionEventInvokeConfigOutput](t, "Delete")(lc.DeleteFunctionEventInvokeConfig(ctx, &lambda.DeleteFunctionEventInvokeConfigInput{FunctionName: aws.String("async-cfg")}))
		_, err = lc.DeleteFunctionEventInvokeConfig(ctx, &lambda.DeleteFunctionEventInvokeConfigInput{FunctionName: aws.String("async-cfg")})
		expectAPIError(t, "second Delete", err, "ResourceNotFoundException", 404)
	})
}

// An event whose retry would come after its maximum age goes to OnFailure
// with EventAgeExceeded.
func TestAsyncEventAge(t *testing.T) {
	t.Parallel()
	s := asyncServer(t, t.TempDir(), "KUMO_ASYNC_RETRY_DELAYS=90s")
	lc := newSDK(t, s)
	sink := deployRecorder(t, lc, "age-sink", "")
	file := deployRecorder(t, lc, "age-fail", "")
	putEIC(t, lc, "age-fail", nil, aws.Int32(60), "", functionARN("age-sink"))
	id := invokeEvent(t, lc, "age-fail", []byte(`{"fail":true}`))
	waitRec(t, file, 1, byRequest(id))
	r := recordFor(t, sink, id)
	if r.RequestContext.Condition != "EventAgeExceeded" || r.RequestContext.ApproximateInvokeCount != 1 {
		t.Errorf("record: %+v", r)
	}
}

// Events acknowledged with 202 all run although the server is killed three
// times while they drain.
func TestAsyncCrash(t *testing.T) {
	t.Parallel()
	const events = 2000
	dir := t.TempDir()
	env := []string{"KUMO_ASYNC_ACK_WAIT=3s"}
	s := asyncServer(t, dir, env...)
	lc := newSDK(t, s)
	file := deployRecorder(t, lc, "crash-fn", "")

	ids := make([]string, events)
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= events {
					return
				}
				out, err := lc.Invoke(t.Context(), &lambda.InvokeInput{FunctionName: aws.String("crash-fn"),
					InvocationType: types.InvocationTypeEvent, Payload: fmt.Appendf(nil, `{"i":%d}`, i)})
				if err != nil {
					t.Errorf("event %d: %v", i, err)
					return
				}
				ids[i], _ = awsmiddleware.GetRequestIDMetadata(out.ResultMetadata)
			}
		}()
	}
	wg.Wait()
	enqueued := time.Since(start)
	if t.Failed() {
		t.FailNow()
	}
	t.Logf("enqueued %d events in %v (%.0f/s)", events, enqueued.Round(time.Millisecond), events/enqueued.Seconds())

	ran := func() map[string]int {
		n := map[string]int{}
		for _, l := range readRec(t, file) {
			n[l.RequestID]++
		}
		return n
	}
	// The redeliveries a server counted die with it; scraping just before
	// each kill gives a lower bound.
	redelivered := 0.0
	for kill := 1; kill <= 3; kill++ {
		time.Sleep(400 * time.Millisecond)
		redelivered += redeliveries(t, s)
		t.Logf("kill %d: %d events ran so far", kill, len(ran()))
		s.kill9()
		s = asyncServer(t, dir, env...)
	}
	drainStart := time.Now()
	left := events - len(ran())
	eventually(t, 3*time.Minute, "every event ran", func() error {
		n := ran()
		missing := 0
		for _, id := range ids {
			if n[id] == 0 {
				missing++
			}
		}
		if missing > 0 {
			return fmt.Errorf("%d of %d acknowledged events have not run", missing, events)
		}
		return nil
	})
	n := ran()
	twice := 0
	for _, id := range ids {
		if n[id] > 1 {
			twice++
		}
	}
	drained := time.Since(drainStart)
	eventually(t, 30*time.Second, "queue depth 0", func() error {
		for _, line := range strings.Split(asyncMetrics(t, s), "\n") {
			if strings.HasPrefix(line, `kumo_async_queue_depth{function_name="crash-fn"} `) && !strings.HasSuffix(line, " 0") {
				return fmt.Errorf("%s", line)
			}
		}
		return nil
	})
	redelivered += redeliveries(t, s)
	t.Logf("all %d events ran; the last server drained %d in %v (%.0f/s, restart included); %d ran more than once; kumo_async_redeliveries_total (attempts that may have repeated), summed over the servers as scraped before each kill: %.0f",
		events, left, drained.Round(time.Millisecond), float64(left)/drained.Seconds(), twice, redelivered)
}

func redeliveries(t *testing.T, s *server) float64 {
	t.Helper()
	for _, line := range strings.Split(asyncMetrics(t, s), "\n") {
		if v, ok := strings.CutPrefix(line, "kumo_async_redeliveries_total "); ok {
			var f float64
			fmt.Sscan(v, &f)
			return f
		}
	}
	t.Errorf("kumo_async_redeliveries_total not exported")
	return 0
}

func asyncMetrics(t *testing.T, s *server) string {
	t.Helper()
	resp, err := healthClient.Do(metricsRequest(t, s))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	return b.String()
}
