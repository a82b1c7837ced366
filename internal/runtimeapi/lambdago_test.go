package runtimeapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda/messages"
)

// lockedBuffer collects a child's output.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// buildGoFn builds testdata/gofn, a function on aws-lambda-go.
func buildGoFn(t *testing.T) string {
	t.Helper()
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go tool not on PATH: cannot build the aws-lambda-go function")
	}
	bin := filepath.Join(t.TempDir(), "gofn")
	// lambda.norpc: the function speaks only the Runtime API, as
	// provided.al2023 functions do.
	out, err := exec.Command(gobin, "build", "-tags", "lambda.norpc", "-o", bin, "./testdata/gofn").CombinedOutput()
	if err != nil {
		t.Fatalf("building testdata/gofn: %v\n%s", err, out)
	}
	return bin
}

// fn is one sandbox-like run of the function: a Server and the process
// talking to it.
type fn struct {
	s      *Server
	cmd    *exec.Cmd
	exited chan struct{}
	out    *lockedBuffer
}

func startFn(t *testing.T, bin string, opts Options) *fn {
	t.Helper()
	opts.Logger = quiet()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fn{s: New(opts), exited: make(chan struct{}), out: &lockedBuffer{}}
	go f.s.Serve(l)
	f.cmd = exec.Command(bin)
	// Only AWS_LAMBDA_RUNTIME_API is needed: aws-lambda-go's runtime loop
	// starts on it. _LAMBDA_SERVER_PORT (the retired go1.x RPC mode) must
	// not be set; it would win.
	f.cmd.Env = []string{
		"AWS_LAMBDA_RUNTIME_API=" + l.Addr().String(),
		"AWS_LAMBDA_FUNCTION_NAME=gofn",
		"AWS_LAMBDA_FUNCTION_VERSION=$LATEST",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=128",
	}
	f.cmd.Stdout, f.cmd.Stderr = f.out, f.out
	if err := f.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		err := f.cmd.Wait()
		f.s.RuntimeExited(err)
		close(f.exited)
	}()
	t.Cleanup(func() {
		f.cmd.Process.Kill()
		<-f.exited
		f.s.Close()
		if t.Failed() {
			t.Logf("function output:\n%s", f.out)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := f.s.WaitInit(ctx); err != nil {
		t.Fatalf("WaitInit: %v", err)
	}
	return f
}

func (f *fn) invoke(t *testing.T, id, payload string, timeout time.Duration) (*Result, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return f.s.Invoke(ctx, &Invocation{
		RequestID:       id,
		Payload:         []byte(payload),
		Deadline:        time.Now().Add(timeout),
		FunctionARN:     "arn:aws:lambda:us-east-1:000000000000:function:gofn",
		TraceID:         "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
		ClientContext:   `{"custom":{"tenant":"acme"}}`,
		CognitoIdentity: `{"cognitoIdentityId":"us-east-1:1234","cognitoIdentityPoolId":"us-east-1:pool"}`,
	})
}

func TestAWSLambdaGo(t *testing.T) {
	bin := buildGoFn(t)

	t.Run("warm sandbox: echo, context, errors", func(t *testing.T) {
		f := startFn(t, bin, Options{})

		res, err := f.invoke(t, "req-echo", `{"op":"echo","data":{"a":[1,2,"three"]}}`, 10*time.Second)
		if err != nil || res.Error || string(res.Payload) != `{"a":[1,2,"three"]}` {
			t.Fatalf("echo: %+v (%s) %v", res, res.Payload, err)
		}

		deadline := time.Now().Add(7 * time.Second)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		res, err = f.s.Invoke(ctx, &Invocation{
			RequestID:       "req-context",
			Payload:         []byte(`{"op":"context"}`),
			Deadline:        deadline,
			FunctionARN:     "arn:aws:lambda:us-east-1:000000000000:function:gofn:live",
			TraceID:         "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
			ClientContext:   `{"custom":{"tenant":"acme"}}`,
			CognitoIdentity: `{"cognitoIdentityId":"us-east-1:1234","cognitoIdentityPoolId":"us-east-1:pool"}`,
		})
		cancel()
		if err != nil || res.Error {
			t.Fatalf("context: %+v (%s) %v", res, res.Payload, err)
		}
		var got struct {
			RequestID, FunctionARN, TraceID, CognitoID, CognitoPool string
			DeadlineMs                                              int64
			Custom                                                  map[string]string
		}
		if err := json.Unmarshal(res.Payload, &got); err != nil {
			t.Fatalf("context payload %s: %v", res.Payload, err)
		}
		if got.RequestID != "req-context" || got.FunctionARN != "arn:aws:lambda:us-east-1:000000000000:function:gofn:live" ||
			got.DeadlineMs != deadline.UnixMilli() || !strings.HasPrefix(got.TraceID, "Root=1-5759e988") ||
			got.Custom["tenant"] != "acme" || got.CognitoID != "us-east-1:1234" || got.CognitoPool != "us-east-1:pool" {
			t.Errorf("the handler saw %+v", got)
		}

		for _, c := range []struct{ op, msg, typ string }{
			{"error", "boom", "errorString"},
			{"typed error", "over quota", "quotaError"},
		} {
			res, err = f.invoke(t, "req-"+c.op, `{"op":"`+c.op+`"}`, 10*time.Second)
			if err != nil || !res.Error || res.ErrorType != c.typ {
				t.Fatalf("%s: %+v (%s) %v", c.op, res, res.Payload, err)
			}
			var e messages.InvokeResponse_Error
			if err := json.Unmarshal(res.Payload, &e); err != nil || e.Message != c.msg || e.Type != c.typ {
				t.Errorf("%s payload %s", c.op, res.Payload)
			}
		}

		// Still warm after the errors.
		if res, err := f.invoke(t, "req-echo2", `{"op":"echo","data":"again"}`, 10*time.Second); err != nil || string(res.Payload) != `"again"` {
			t.Fatalf("echo after errors: %+v %v", res, err)
		}
	})

	t.Run("panic is reported, then the process exits", func(t *testing.T) {
		f := startFn(t, bin, Options{})
		res, err := f.invoke(t, "req-panic", `{"op":"panic"}`, 10*time.Second)
		if err != nil || !res.Error || res.ErrorType != "string" {
			t.Fatalf("panic: %+v (%s) %v", res, res.Payload, err)
		}
		var e messages.InvokeResponse_Error
		if err := json.Unmarshal(res.Payload, &e); err != nil || e.Message != "kaboom" || len(e.StackTrace) == 0 {
			t.Errorf("panic payload %s", res.Payload)
		}
		select {
		case <-f.exited:
		case <-time.After(10 * time.Second):
			t.Fatal("the process did not exit after a panic")
		}
		if _, err := f.invoke(t, "req-after", `{"op":"echo"}`, time.Second); !errors.Is(err, ErrRuntimeExited) {
			t.Errorf("Invoke after exit = %v", err)
		}
	})

	t.Run("response too large", func(t *testing.T) {
		f := startFn(t, bin, Options{MaxResponseBytes: 1000})
		res, err := f.invoke(t, "req-big", `{"op":"big","size":2000}`, 10*time.Second)
		if err != nil || !res.Error || res.ErrorType != ErrorTypeResponseSizeTooLarge {
			t.Fatalf("big: %+v (%s) %v", res, res.Payload, err)
		}
		want := `{"errorMessage":"Response payload size exceeded maximum allowed payload size (1000 bytes).","errorType":"Function.ResponseSizeTooLarge"}`
		if string(res.Payload) != want {
			t.Errorf("payload %s", res.Payload)
		}
		// aws-lambda-go treats the 413 as fatal and exits, as on Lambda.
		select {
		case <-f.exited:
		case <-time.After(10 * time.Second):
			t.Fatal("the process did not exit after its response was refused")
		}
	})

	t.Run("timeout", func(t *testing.T) {
		f := startFn(t, bin, Options{})
		_, err := f.invoke(t, "req-hang", `{"op":"hang"}`, 200*time.Millisecond)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("hang: %v", err)
		}
		if _, err := f.invoke(t, "req-after", `{"op":"echo"}`, time.Second); !errors.Is(err, ErrAbandoned) {
			t.Errorf("Invoke after a timeout = %v", err)
		}
	})
}
