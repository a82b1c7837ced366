package lambda_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/smithy-go"

	"github.com/kumo-run/kumo/internal/invoke"
	lambdaapi "github.com/kumo-run/kumo/internal/services/lambda"
)

// streamer answers as the invoke frontend does for a function that
// streams its pieces, waiting before each piece after the first until the
// test lets it go; or, with no pieces, as for a buffered function.
type streamer struct {
	pieces []string
	next   chan struct{} // one receive before every piece after the first
	out    invoke.Output
	got    chan *invoke.Input
}

func (s *streamer) Invoke(_ context.Context, in *invoke.Input) (*invoke.Output, error) {
	s.got <- in
	if len(s.pieces) > 0 {
		in.Stream.Begin("7", "text/plain")
		for i, p := range s.pieces {
			if i > 0 {
				<-s.next
			}
			if _, err := in.Stream.Write([]byte(p)); err != nil {
				return nil, err
			}
		}
	}
	out := s.out
	return &out, nil
}

func streamClient(t *testing.T, inv invoke.Invoker) *lambda.Client {
	t.Helper()
	srv := httptest.NewServer(lambdaapi.New(lambdaapi.Config{ARNs: arns, Invoker: inv}))
	t.Cleanup(srv.Close)
	return lambda.NewFromConfig(aws.Config{
		Region:           "us-east-1",
		Credentials:      credentials.NewStaticCredentialsProvider(rootKey, rootSecret, ""),
		HTTPClient:       srv.Client(),
		RetryMaxAttempts: 1,
	}, func(o *lambda.Options) { o.BaseEndpoint = aws.String(srv.URL) })
}

// nextEvent reads one event of the stream, or fails the test.
func nextEvent(t *testing.T, ch <-chan types.InvokeWithResponseStreamResponseEvent) types.InvokeWithResponseStreamResponseEvent {
	t.Helper()
	select {
	case ev, ok := <-ch:
		if !ok {
			t.Fatal("event stream ended early")
		}
		return ev
	case <-time.After(10 * time.Second):
		t.Fatal("no event")
		return nil
	}
}

func chunk(t *testing.T, ev types.InvokeWithResponseStreamResponseEvent) string {
	t.Helper()
	c, ok := ev.(*types.InvokeWithResponseStreamResponseEventMemberPayloadChunk)
	if !ok {
		t.Fatalf("event %T, want PayloadChunk", ev)
	}
	return string(c.Value.Payload)
}

func complete(t *testing.T, ev types.InvokeWithResponseStreamResponseEvent) types.InvokeWithResponseStreamCompleteEvent {
	t.Helper()
	c, ok := ev.(*types.InvokeWithResponseStreamResponseEventMemberInvokeComplete)
	if !ok {
		t.Fatalf("event %T, want InvokeComplete", ev)
	}
	return c.Value
}

func TestInvokeWithResponseStreamIncremental(t *testing.T) {
	s := &streamer{pieces: []string{"one", "two", "three"}, next: make(chan struct{}), got: make(chan *invoke.Input, 1),
		out: invoke.Output{Status: 200, Streamed: true, ExecutedVersion: "7", LogResult: base64.StdEncoding.EncodeToString([]byte("log"))}}
	lc := streamClient(t, s)
	out, err := lc.InvokeWithResponseStream(t.Context(), &lambda.InvokeWithResponseStreamInput{
		FunctionName: aws.String("f"), Qualifier: aws.String("live"), Payload: []byte(`{"k":1}`), LogType: types.LogTypeTail})
	if err != nil {
		t.Fatal(err)
	}
	stream := out.GetStream()
	defer stream.Close()
	in := <-s.got
	if in.Ref.Name != "f" || in.Ref.Qualifier != "live" || string(in.Payload) != `{"k":1}` || in.LogType != "Tail" || in.Stream == nil {
		t.Errorf("Input = %+v", in)
	}
	if out.StatusCode != 200 || aws.ToString(out.ExecutedVersion) != "7" || aws.ToString(out.ResponseStreamContentType) != "application/vnd.amazon.eventstream" {
		t.Errorf("head: %d %q %q", out.StatusCode, aws.ToString(out.ExecutedVersion), aws.ToString(out.ResponseStreamContentType))
	}
	// Each piece is read before the function writes the next one.
	for i, want := range s.pieces {
		if i > 0 {
			s.next <- struct{}{}
		}
		if got := chunk(t, nextEvent(t, stream.Events())); got != want {
			t.Fatalf("chunk %d = %q, want %q", i, got, want)
		}
	}
	done := complete(t, nextEvent(t, stream.Events()))
	if done.ErrorCode != nil || done.ErrorDetails != nil || aws.ToString(done.LogResult) != s.out.LogResult {
		t.Errorf("InvokeComplete = %+v", done)
	}
	if _, ok := <-stream.Events(); ok {
		t.Error("events after InvokeComplete")
	}
	if err := stream.Err(); err != nil {
		t.Error(err)
	}
}

func TestInvokeWithResponseStreamBuffered(t *testing.T) {
	for _, c := range []struct {
		name                 string
		out                  invoke.Output
		chunks               []string
		errorCode, errorInfo string
	}{
		{"whole response as one chunk", invoke.Output{Status: 200, Payload: []byte(`{"a":1}`), ExecutedVersion: "$LATEST"}, []string{`{"a":1}`}, "", ""},
		{"function error", invoke.Output{Status: 200, FunctionError: "Unhandled", ExecutedVersion: "$LATEST",
			Payload: []byte(`{"errorMessage":"boom","errorType":"Error","trace":[]}`)}, nil, "Error", "boom"},
		{"error mid-stream", invoke.Output{Status: 200, Streamed: true, FunctionError: "Unhandled", ExecutedVersion: "$LATEST",
			Payload: []byte(`{"errorMessage":"Task timed out after 3.00 seconds","errorType":"Sandbox.Timedout"}`)}, nil, "Sandbox.Timedout", "Task timed out after 3.00 seconds"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := &streamer{out: c.out, got: make(chan *invoke.Input, 1)}
			out, err := streamClient(t, s).InvokeWithResponseStream(t.Context(), &lambda.InvokeWithResponseStreamInput{FunctionName: aws.String("f")})
			if err != nil {
				t.Fatal(err)
			}
			stream := out.GetStream()
			defer stream.Close()
			if aws.ToString(out.ExecutedVersion) != "$LATEST" {
				t.Errorf("ExecutedVersion %q", aws.ToString(out.ExecutedVersion))
			}
			for _, want := range c.chunks {
				if got := chunk(t, nextEvent(t, stream.Events())); got != want {
					t.Errorf("chunk %q, want %q", got, want)
				}
			}
			done := complete(t, nextEvent(t, stream.Events()))
			if aws.ToString(done.ErrorCode) != c.errorCode || aws.ToString(done.ErrorDetails) != c.errorInfo {
				t.Errorf("InvokeComplete = %q %q, want %q %q", aws.ToString(done.ErrorCode), aws.ToString(done.ErrorDetails), c.errorCode, c.errorInfo)
			}
		})
	}
}

func TestInvokeWithResponseStreamRefusals(t *testing.T) {
	s := &streamer{out: invoke.Output{Status: 204, ExecutedVersion: "$LATEST"}, got: make(chan *invoke.Input, 1)}
	lc := streamClient(t, s)
	_, err := lc.InvokeWithResponseStream(t.Context(), &lambda.InvokeWithResponseStreamInput{FunctionName: aws.String("f"),
		InvocationType: types.ResponseStreamingInvocationType("Event")})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "ValidationException" {
		t.Fatalf("Event: err = %v, want ValidationException", err)
	}
	if len(s.got) != 0 {
		t.Error("an Event invocation reached the invoker")
	}
	out, err := lc.InvokeWithResponseStream(t.Context(), &lambda.InvokeWithResponseStreamInput{FunctionName: aws.String("f"),
		InvocationType: types.ResponseStreamingInvocationTypeDryRun})
	if err != nil || out.StatusCode != 204 {
		t.Fatalf("DryRun: %+v %v", out, err)
	}
}

func TestInvokeWithResponseStreamAuthorized(t *testing.T) {
	h := newHarness(t)
	h.create(t, "f")
	h.create(t, "g")
	bob := h.client(bobKey, bobSecret)
	out, err := bob.InvokeWithResponseStream(t.Context(), &lambda.InvokeWithResponseStreamInput{FunctionName: aws.String("f")})
	if err != nil {
		t.Fatalf("bob streams f: %v", err)
	}
	out.GetStream().Close()
	_, err = bob.InvokeWithResponseStream(t.Context(), &lambda.InvokeWithResponseStreamInput{FunctionName: aws.String("g")})
	wantDenied(t, err, "User: arn:aws:iam::123456789012:user/bob is not authorized to perform: lambda:InvokeFunction on resource: arn:aws:lambda:us-east-1:123456789012:function:g because no identity-based policy allows the lambda:InvokeFunction action")
}

// stallInvoker streams 1 MB pieces until a write fails, and reports the
// failure.
type stallInvoker struct{ failed chan error }

func (s *stallInvoker) Invoke(_ context.Context, in *invoke.Input) (*invoke.Output, error) {
	in.Stream.Begin("$LATEST", "application/octet-stream")
	piece := make([]byte, 1<<20)
	for i := 0; i < 4096; i++ {
		if _, err := in.Stream.Write(piece); err != nil {
			s.failed <- err
			return &invoke.Output{Status: 200, Streamed: true}, nil
		}
	}
	s.failed <- nil
	return &invoke.Output{Status: 200, Streamed: true}, nil
}

// TestInvokeWithResponseStreamStalledClient: a client that stops reading
// fails the stream's writes, so the invocation ends and frees its
// concurrency instead of waiting on the client for ever.
func TestInvokeWithResponseStreamStalledClient(t *testing.T) {
	defer lambdaapi.SetMaxStall(200 * time.Millisecond)()
	inv := &stallInvoker{failed: make(chan error, 1)}
	srv := httptest.NewServer(lambdaapi.New(lambdaapi.Config{ARNs: arns, Invoker: inv}))
	defer srv.Close()
	c, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// Send the request and never read the answer.
	fmt.Fprintf(c, "POST /2021-11-15/functions/f/response-streaming-invocations HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}")
	select {
	case err := <-inv.failed:
		if err == nil {
			t.Fatal("4 GB went to a client that reads nothing")
		}
	case <-time.After(2 * time.Minute):
		t.Fatal("the stream still waits on a client that stopped reading")
	}
}
