package invoke

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kumo-run/kumo/internal/awsproto"
	"github.com/kumo-run/kumo/internal/registry"
	"github.com/kumo-run/kumo/internal/runtimeapi"
	"github.com/kumo-run/kumo/internal/runtimes"
	"github.com/kumo-run/kumo/internal/worker"
)

// fakeResolver knows functions by name.
type fakeResolver map[string]registry.Target

func (r fakeResolver) ResolveInvoke(ref registry.Ref, _ float64) (registry.Target, error) {
	t, ok := r[ref.Name]
	if !ok {
		return registry.Target{}, awsproto.Errorf(awsproto.ResourceNotFoundException, "Function not found: %s", ref.Name)
	}
	return t, nil
}

// fakeRunner answers with out/err, after release is closed when set.
type fakeRunner struct {
	mu      sync.Mutex
	specs   []*worker.Spec
	reqs    []*worker.Request
	out     *worker.Outcome
	err     error
	started chan struct{}
	release chan struct{}
}

func (r *fakeRunner) Invoke(ctx context.Context, spec *worker.Spec, req *worker.Request) (*worker.Outcome, error) {
	r.mu.Lock()
	r.specs = append(r.specs, spec)
	r.reqs = append(r.reqs, req)
	r.mu.Unlock()
	if r.started != nil {
		r.started <- struct{}{}
	}
	if r.release != nil {
		<-r.release
	}
	if r.err != nil {
		return nil, r.err
	}
	if r.out != nil {
		return r.out, nil
	}
	return &worker.Outcome{Payload: req.Invocation.Payload}, nil
}

func (r *fakeRunner) calls() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.specs)
}

type fakeQueue struct{ got []*Input }

func (q *fakeQueue) Enqueue(_ context.Context, in *Input) error {
	q.got = append(q.got, in)
	return nil
}

func target(name string, mutate ...func(*registry.Version)) registry.Target {
	v := registry.Version{Config: registry.FunctionConfig{FunctionName: name, Version: "$LATEST", Runtime: "provided.al2023",
		Handler: "h", MemorySize: 256, Timeout: 7, State: registry.StateActive,
		EphemeralStorage: registry.EphemeralStorage{Size: 512}, LoggingConfig: registry.LoggingConfig{LogGroup: "/aws/lambda/" + name}}}
	v.Code.Blob = "blob-" + name
	for _, m := range mutate {
		m(&v)
	}
	return registry.Target{Version: v, Key: name + ":$LATEST:rev", ARN: "arn:aws:lambda:us-east-1:123456789012:function:" + name, Unreserved: 100}
}

func frontend(r *fakeRunner, q Queue) *Frontend {
	res := fakeResolver{"f": target("f")}
	return &Frontend{Resolver: res, Runner: r, Queue: q}
}

func code(t *testing.T, err error) awsproto.Code {
	t.Helper()
	var e *awsproto.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v is not an awsproto.Error", err)
	}
	return e.Code
}

// TestInvokeValidation: bad requests get Lambda's 4xx and never reach the
// runner.
func TestInvokeValidation(t *testing.T) {
	big := make([]byte, MaxSyncPayload+1)
	for i := range big {
		big[i] = ' '
	}
	big[0], big[len(big)-1] = '"', '"'
	ctx := base64.StdEncoding.EncodeToString([]byte(`{"custom":{"` + strings.Repeat("a", MaxClientContext) + `":1}}`))
	for _, tc := range []struct {
		name string
		in   Input
		want awsproto.Code
	}{
		{"invocation type", Input{InvocationType: "Later"}, awsproto.ValidationException},
		{"log type", Input{LogType: "Head"}, awsproto.ValidationException},
		{"payload over 6 MB", Input{Payload: big}, awsproto.RequestEntityTooLargeException},
		{"event payload over 1 MB", Input{InvocationType: TypeEvent, Payload: big[:MaxAsyncPayload+1]}, awsproto.RequestEntityTooLargeException},
		{"payload not JSON", Input{Payload: []byte("{")}, awsproto.InvalidRequestContentException},
		{"client context not base64", Input{ClientContext: "%%%"}, awsproto.InvalidRequestContentException},
		{"client context not JSON", Input{ClientContext: base64.StdEncoding.EncodeToString([]byte("nope"))}, awsproto.InvalidRequestContentException},
		{"client context too large", Input{ClientContext: ctx}, awsproto.InvalidParameterValueException},
		{"unknown function", Input{Ref: registry.Ref{Name: "nope"}}, awsproto.ResourceNotFoundException},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &fakeRunner{}
			in := tc.in
			if in.Ref.Name == "" {
				in.Ref.Name = "f"
			}
			_, err := frontend(r, &fakeQueue{}).Invoke(context.Background(), &in)
			if got := code(t, err); got != tc.want {
				t.Fatalf("code %s, want %s (%v)", got, tc.want, err)
			}
			if r.calls() != 0 {
				t.Fatal("a refused request reached the runner")
			}
		})
	}
}

// TestInvokeRuns: a valid request runs with a Spec built from the resolved
// version and answers with the outcome.
func TestInvokeRuns(t *testing.T) {
	r := &fakeRunner{out: &worker.Outcome{Payload: []byte(`{"x":1}`), FunctionError: runtimeapi.FunctionErrorUnhandled,
		ErrorType: "Boom", LogTail: []byte("tail\n")}}
	tg := target("f", func(v *registry.Version) {
		v.Config.Environment = &registry.Environment{Variables: map[string]string{"K": "V"}}
	})
	f := &Frontend{Resolver: fakeResolver{"f": tg}, Runner: r}
	cc := base64.StdEncoding.EncodeToString([]byte(`{"custom":{"a":"b"}}`))
	out, err := f.Invoke(context.Background(), &Input{Ref: registry.Ref{Name: "f"}, LogType: "Tail", ClientContext: cc,
		Payload: []byte(`{"in":1}`), RequestID: "req-1"})
	if err != nil {
		t.Fatal(err)
	}
	if out.Status != 200 || string(out.Payload) != `{"x":1}` || out.FunctionError != "Unhandled" || out.ExecutedVersion != "$LATEST" {
		t.Fatalf("output %+v", out)
	}
	if tail, _ := base64.StdEncoding.DecodeString(out.LogResult); string(tail) != "tail\n" {
		t.Fatalf("log result %q", out.LogResult)
	}
	s, req := r.specs[0], r.reqs[0]
	want := worker.Spec{Key: tg.Key, FunctionName: "f", Version: "$LATEST", Runtime: "provided.al2023", Handler: "h",
		MemoryMB: 256, Timeout: 7 * time.Second, EphemeralMB: 512, Code: "blob-f", LogGroup: "/aws/lambda/f"}
	got := *s
	got.Environment = nil
	if !specEqual(got, want) || s.Environment["K"] != "V" {
		t.Fatalf("spec %+v, want %+v with K=V", *s, want)
	}
	inv := req.Invocation
	if inv.RequestID != "req-1" || string(inv.Payload) != `{"in":1}` || inv.FunctionARN != tg.ARN ||
		inv.ClientContext != `{"custom":{"a":"b"}}` || !strings.HasPrefix(inv.TraceID, "Root=1-") || !req.Tail {
		t.Fatalf("request %+v", req)
	}

	// An empty payload is the empty object.
	if _, err := f.Invoke(context.Background(), &Input{Ref: registry.Ref{Name: "f"}, RequestID: "req-2"}); err != nil {
		t.Fatal(err)
	}
	if got := string(r.reqs[1].Invocation.Payload); got != "{}" {
		t.Fatalf("empty payload sent as %q", got)
	}
}

func specEqual(a, b worker.Spec) bool {
	return a.Key == b.Key && a.FunctionName == b.FunctionName && a.Version == b.Version && a.Runtime == b.Runtime &&
		a.Handler == b.Handler && a.MemoryMB == b.MemoryMB && a.Timeout == b.Timeout && a.EphemeralMB == b.EphemeralMB &&
		a.Code == b.Code && a.LogGroup == b.LogGroup && a.Provisioned == b.Provisioned && len(a.Layers) == len(b.Layers)
}

// TestInvokeDryRunAndEvent: DryRun checks and runs nothing; Event goes to
// the queue, validated; without a queue Event is refused.
func TestInvokeDryRunAndEvent(t *testing.T) {
	r, q := &fakeRunner{}, &fakeQueue{}
	f := frontend(r, q)
	out, err := f.Invoke(context.Background(), &Input{Ref: registry.Ref{Name: "f"}, InvocationType: TypeDryRun})
	if err != nil || out.Status != 204 || out.ExecutedVersion != "$LATEST" {
		t.Fatalf("DryRun: %+v, %v", out, err)
	}
	if _, err := f.Invoke(context.Background(), &Input{Ref: registry.Ref{Name: "nope"}, InvocationType: TypeDryRun}); code(t, err) != awsproto.ResourceNotFoundException {
		t.Fatalf("DryRun of an unknown function: %v", err)
	}
	out, err = f.Invoke(context.Background(), &Input{Ref: registry.Ref{Name: "f"}, InvocationType: TypeEvent, RequestID: "ev-1"})
	if err != nil || out.Status != 202 {
		t.Fatalf("Event: %+v, %v", out, err)
	}
	if len(q.got) != 1 || q.got[0].RequestID != "ev-1" || string(q.got[0].Payload) != "{}" {
		t.Fatalf("queued %+v", q.got)
	}
	if r.calls() != 0 {
		t.Fatal("DryRun or Event ran the function")
	}
	f.Queue = nil
	if _, err := f.Invoke(context.Background(), &Input{Ref: registry.Ref{Name: "f"}, InvocationType: TypeEvent}); code(t, err) != awsproto.InvalidParameterValueException {
		t.Fatalf("Event without a queue: %v", err)
	}
}

// TestInvokeThrottles: reserved concurrency and the node's capacity both
// answer 429 TooManyRequestsException with Lambda's reason.
func TestInvokeThrottles(t *testing.T) {
	one := 1
	r := &fakeRunner{started: make(chan struct{}, 1), release: make(chan struct{})}
	tg := target("f")
	tg.Reserved = &one
	f := &Frontend{Resolver: fakeResolver{"f": tg}, Runner: r}
	done := make(chan error, 1)
	go func() {
		_, err := f.Invoke(context.Background(), &Input{Ref: registry.Ref{Name: "f"}})
		done <- err
	}()
	<-r.started
	_, err := f.Invoke(context.Background(), &Input{Ref: registry.Ref{Name: "f"}})
	if got := reason(t, err); got != ReasonReservedLimit {
		t.Fatalf("reason %q", got)
	}
	if e := awsproto.AsError(err); e.Status() != 429 || e.Header.Get("Retry-After") == "" {
		t.Fatalf("status %d, header %v", e.Status(), e.Header)
	}
	close(r.release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	// The node is full.
	full := &Frontend{Resolver: fakeResolver{"f": target("f")}, Runner: &fakeRunner{err: worker.ErrCapacity}}
	_, err = full.Invoke(context.Background(), &Input{Ref: registry.Ref{Name: "f"}})
	if got := reason(t, err); got != ReasonAccountLimit {
		t.Fatalf("capacity: reason %q", got)
	}
	if _, total := full.limits.Running(); total != 0 {
		t.Fatalf("%d invocations still counted after a throttle", total)
	}
}

// TestInvokeClusterLimit: a cluster whose nodes have no share left of a
// limit throttles with that limit's reason; the Runner is given the
// function's limits to share.
func TestInvokeClusterLimit(t *testing.T) {
	for _, tc := range []struct {
		err  *worker.LimitError
		want string
	}{
		{&worker.LimitError{Reserved: true}, ReasonReservedLimit},
		{&worker.LimitError{}, ReasonAccountLimit},
	} {
		r := &fakeRunner{err: fmt.Errorf("wrapped: %w", tc.err)}
		f := &Frontend{Resolver: fakeResolver{"f": target("f")}, Runner: r}
		_, err := f.Invoke(context.Background(), &Input{Ref: registry.Ref{Name: "f"}})
		if got := reason(t, err); got != tc.want {
			t.Errorf("%v: reason %q, want %q", tc.err, got, tc.want)
		}
		if len(r.specs) != 1 || r.specs[0].UnreservedConcurrency != target("f").Unreserved {
			t.Errorf("the Runner was not given the account's unreserved concurrency: %+v", r.specs)
		}
	}
}

// TestInvokeRunnerErrors: an unsupported runtime is InvalidRuntimeException;
// other platform failures are a ServiceException.
func TestInvokeRunnerErrors(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want awsproto.Code
	}{
		{&runtimes.UnsupportedError{Runtime: "cobol85"}, awsproto.InvalidRuntimeException},
		{errors.New("disk on fire"), awsproto.ServiceException},
	} {
		f := &Frontend{Resolver: fakeResolver{"f": target("f")}, Runner: &fakeRunner{err: tc.err}}
		_, err := f.Invoke(context.Background(), &Input{Ref: registry.Ref{Name: "f"}})
		if got := code(t, err); got != tc.want {
			t.Errorf("runner error %v: code %s, want %s", tc.err, got, tc.want)
		}
	}
}
