// Package invoke is the invoke frontend: it checks an Invoke request the way
// Lambda does (invocation type, payload size and JSON, client context),
// resolves the qualifier to a version (alias weights included) through a
// Resolver (the registry's in-memory view), accounts for concurrency, and
// runs the invocation through a Runner (the worker) with a worker.Spec it
// builds from the version, or hands an Event invocation to a Queue. It
// never reads the store and knows the registry and the worker only through
// those interfaces. It also hands the worker the provisioned-concurrency
// targets (Provisioned). An Input with a Stream receives a streamed
// response as it arrives (stream.go), and nothing after Invoke returned.
package invoke

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	randv2 "math/rand/v2"
	"strconv"
	"time"

	"github.com/kumo-run/kumo/internal/awsproto"
	"github.com/kumo-run/kumo/internal/metrics"
	"github.com/kumo-run/kumo/internal/registry"
	"github.com/kumo-run/kumo/internal/runtimeapi"
	"github.com/kumo-run/kumo/internal/runtimes"
	"github.com/kumo-run/kumo/internal/worker"
)

// Lambda's invoke limits.
const (
	MaxSyncPayload     = 6 * 1024 * 1024 // 6291456 bytes, request and response
	MaxAsyncPayload    = 1024 * 1024     // 1048576 bytes, an Event invocation's request
	MaxClientContext   = 3583
	TypeRequestReponse = "RequestResponse"
	TypeEvent          = "Event"
	TypeDryRun         = "DryRun"
)

// Input is one Invoke request.
type Input struct {
	Ref            registry.Ref
	InvocationType string
	LogType        string
	// ClientContext is the X-Amz-Client-Context header: base64 JSON.
	ClientContext string
	Payload       []byte
	RequestID     string
	// Stream, if set, receives the response as the function streams it
	// (stream.go); a function that does not stream answers in Payload.
	Stream Stream
}

// Output is the Invoke response.
type Output struct {
	Status          int
	Payload         []byte
	FunctionError   string
	ExecutedVersion string
	// LogResult is base64 of the invocation's last 4 KB of log (Tail).
	LogResult string
	// Streamed: the function streamed its response to Input.Stream;
	// Payload holds only an error that ended it (FunctionError set).
	Streamed bool
}

// Invoker runs invocations: what the HTTP front ends (the Lambda API,
// function URLs) and the async queue need of a Frontend.
type Invoker interface {
	Invoke(ctx context.Context, in *Input) (*Output, error)
}

// Resolver picks the version an invocation runs, from memory: the
// registry's ResolveInvoke. roll is uniform in [0,1) for alias weights.
type Resolver interface {
	ResolveInvoke(ref registry.Ref, roll float64) (registry.Target, error)
}

// Runner runs one invocation in a sandbox: the worker's Invoke. It returns
// worker.ErrCapacity when the node has no room.
type Runner interface {
	Invoke(ctx context.Context, spec *worker.Spec, req *worker.Request) (*worker.Outcome, error)
}

// Queue stores Event invocations: Enqueue returns once the event is stored
// durably. in is validated and in.Payload is the event.
type Queue interface {
	Enqueue(ctx context.Context, in *Input) error
}

// Frontend runs invocations. Resolver and Runner are required.
type Frontend struct {
	Resolver Resolver
	Runner   Runner
	// Queue, if set, accepts Event invocations.
	Queue Queue
	// Metrics, if set, counts invocations.
	Metrics *metrics.Metrics

	limits limiter
}

var _ Invoker = (*Frontend)(nil)

// Invoke validates, resolves and runs one invocation.
func (f *Frontend) Invoke(ctx context.Context, in *Input) (*Output, error) {
	switch in.InvocationType {
	case "":
		in.InvocationType = TypeRequestReponse
	case TypeRequestReponse, TypeDryRun:
	case TypeEvent:
		if f.Queue != nil {
			break
		}
		return nil, awsproto.Errorf(awsproto.InvalidParameterValueException,
			"InvocationType Event (asynchronous invocation) is not available on this server yet; use RequestResponse.")
	default:
		return nil, awsproto.Errorf(awsproto.ValidationException,
			"1 validation error detected: Value '%s' at 'invocationType' failed to satisfy constraint: Member must satisfy enum value set: [Event, RequestResponse, DryRun]", in.InvocationType)
	}
	tail := false
	switch in.LogType {
	case "", "None":
	case "Tail":
		tail = true
	default:
		return nil, awsproto.Errorf(awsproto.ValidationException,
			"1 validation error detected: Value '%s' at 'logType' failed to satisfy constraint: Member must satisfy enum value set: [None, Tail]", in.LogType)
	}
	limit := MaxSyncPayload
	if in.InvocationType == TypeEvent {
		limit = MaxAsyncPayload
	}
	if len(in.Payload) > limit {
		return nil, awsproto.Errorf(awsproto.RequestEntityTooLargeException,
			"Request must be smaller than %d bytes for the InvokeFunction operation", limit)
	}
	var clientContext string
	if in.ClientContext != "" {
		b, err := base64.StdEncoding.DecodeString(in.ClientContext)
		if err != nil || !json.Valid(b) {
			return nil, awsproto.Errorf(awsproto.InvalidRequestContentException, "Client context must be a valid Base64-encoded JSON object.")
		}
		if len(b) > MaxClientContext {
			return nil, awsproto.Errorf(awsproto.InvalidParameterValueException, "Client context must be smaller than %d bytes.", MaxClientContext)
		}
		clientContext = string(b)
	}
	payload := in.Payload
	if len(payload) == 0 {
		payload = []byte("{}")
	} else if !json.Valid(payload) {
		return nil, awsproto.Errorf(awsproto.InvalidRequestContentException,
			"Could not parse request body into json: Could not parse payload into json: the payload is not valid JSON")
	}
	t, err := f.Resolver.ResolveInvoke(in.Ref, randv2.Float64())
	if err != nil {
		return nil, err
	}
	if in.InvocationType == TypeEvent {
		ev := *in
		ev.Payload = payload
		if err := f.Queue.Enqueue(ctx, &ev); err != nil {
			return nil, awsproto.Internal(err)
		}
		return &Output{Status: 202}, nil
	}
	if t.EnvErr != nil {
		// The environment variables cannot be decrypted: the sandbox
		// cannot start (KMSDisabledException and its kin, 502).
		return nil, t.EnvErr
	}
	c := &t.Version.Config
	if in.InvocationType == TypeDryRun {
		return &Output{Status: 204, ExecutedVersion: c.Version}, nil
	}
	release, err := f.limits.acquire(c.FunctionName, t.Reserved, t.Unreserved)
	if err != nil {
		if f.Metrics != nil {
			f.Metrics.Throttled(c.FunctionName, resourceName(c.FunctionName, in.Ref.Qualifier))
		}
		return nil, err
	}
	defer release()
	req := &worker.Request{
		Invocation: runtimeapi.Invocation{
			RequestID:     in.RequestID,
			Payload:       payload,
			FunctionARN:   t.ARN,
			TraceID:       traceID(),
			ClientContext: clientContext,
		},
		Tail: tail,
	}
	var guard *streamGuard
	if in.Stream != nil {
		guard = newStreamGuard(in.Stream, c.Version)
		req.Invocation.Stream = guard
		defer guard.detach()
	}
	if f.Metrics != nil {
		f.Metrics.Running(c.FunctionName, 1)
	}
	spec := Spec(t.Key, &t.Version)
	spec.ReservedConcurrency, spec.UnreservedConcurrency = t.Reserved, t.Unreserved
	res, err := f.Runner.Invoke(ctx, spec, req)
	if f.Metrics != nil {
		f.Metrics.Running(c.FunctionName, -1)
		if err == nil {
			f.Metrics.Invoked(metrics.Invocation{
				Function: c.FunctionName, Resource: resourceName(c.FunctionName, in.Ref.Qualifier), ExecutedVersion: c.Version,
				Error: res.FunctionError != "", ColdStart: res.ColdStart, Duration: res.Duration,
				BilledMs: res.BilledMs(), MemoryMB: c.MemorySize,
			})
		}
	}
	if err != nil {
		if errors.Is(err, worker.ErrCapacity) {
			if f.Metrics != nil {
				f.Metrics.Throttled(c.FunctionName, resourceName(c.FunctionName, in.Ref.Qualifier))
			}
			return nil, throttled(ReasonAccountLimit)
		}
		if le := (*worker.LimitError)(nil); errors.As(err, &le) {
			// No node of the cluster had room in its share of the limit.
			if f.Metrics != nil {
				f.Metrics.Throttled(c.FunctionName, resourceName(c.FunctionName, in.Ref.Qualifier))
			}
			reason := ReasonAccountLimit
			if le.Reserved {
				reason = ReasonReservedLimit
			}
			return nil, throttled(reason)
		}
		var ue *runtimes.UnsupportedError
		if errors.As(err, &ue) {
			return nil, awsproto.Errorf(awsproto.InvalidRuntimeException, "%s", ue.Error())
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, awsproto.Internal(err)
	}
	out := &Output{Status: 200, Payload: res.Payload, FunctionError: res.FunctionError, ExecutedVersion: c.Version}
	if guard != nil {
		out.Streamed = guard.detach()
	}
	if tail {
		out.LogResult = base64.StdEncoding.EncodeToString(res.LogTail)
	}
	return out, nil
}

// Spec is what the worker runs for version v under version key key.
func Spec(key string, v *registry.Version) *worker.Spec {
	c := &v.Config
	s := &worker.Spec{
		Key:          key,
		FunctionName: c.FunctionName,
		Version:      c.Version,
		Runtime:      c.Runtime,
		Handler:      c.Handler,
		MemoryMB:     c.MemorySize,
		Timeout:      time.Duration(c.Timeout) * time.Second,
		EphemeralMB:  c.EphemeralStorage.Size,
		Code:         v.Code.Blob,
		LogGroup:     c.LoggingConfig.LogGroup,
		Role:         c.Role,
		// What the version says (published with SnapStart: On).
		SnapStart: c.Version != registry.Latest && c.SnapStart.OptimizationStatus == "On",
	}
	if c.Environment != nil {
		s.Environment = c.Environment.Variables
	}
	if vc := c.VpcConfig; vc != nil && len(vc.SubnetIds) > 0 {
		s.Vpc = &worker.Vpc{SubnetIDs: vc.SubnetIds, SecurityGroupIDs: vc.SecurityGroupIds}
	}
	if im := v.Code.Image; im != nil {
		s.Image = &worker.Image{URI: im.Resolved, Arch: "x86_64"}
		if len(c.Architectures) > 0 {
			s.Image.Arch = c.Architectures[0]
		}
		if r := c.ImageConfigResponse; r != nil && r.ImageConfig != nil {
			s.Image.EntryPoint, s.Image.Command, s.Image.WorkingDir = r.ImageConfig.EntryPoint, r.ImageConfig.Command, r.ImageConfig.WorkingDirectory
		}
	}
	if len(c.Layers) > 0 {
		s.Layers = make([]worker.Layer, len(c.Layers))
		for i, l := range c.Layers {
			s.Layers[i] = worker.Layer{ARN: l.Arn, Blob: l.Blob()}
		}
	}
	return s
}

// resourceName is CloudWatch's Resource dimension: the function, or
// function:qualifier when invoked with one.
func resourceName(fn, qualifier string) string {
	if qualifier == "" {
		return fn
	}
	return fn + ":" + qualifier
}

// traceID is an X-Ray trace header for an invocation that was not traced.
func traceID() string {
	var b [20]byte
	rand.Read(b[:])
	return "Root=1-" + strconv.FormatInt(time.Now().Unix(), 16) + "-" + hex.EncodeToString(b[:12]) +
		";Parent=" + hex.EncodeToString(b[12:]) + ";Sampled=0"
}
