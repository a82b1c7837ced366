// Command gofn is a Lambda function built on aws-lambda-go, the Go runtime
// client users ship, for the runtimeapi tests. The event's op says what to
// do.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

type event struct {
	Op   string          `json:"op"`
	Data json.RawMessage `json:"data,omitempty"`
	Size int             `json:"size,omitempty"`
}

// seen is what the handler learned from its context.
type seen struct {
	RequestID   string            `json:"requestId"`
	FunctionARN string            `json:"functionArn"`
	DeadlineMs  int64             `json:"deadlineMs"`
	TraceID     string            `json:"traceId"`
	Custom      map[string]string `json:"custom"`
	CognitoID   string            `json:"cognitoId"`
	CognitoPool string            `json:"cognitoPool"`
}

type quotaError struct{}

func (*quotaError) Error() string { return "over quota" }

func handle(ctx context.Context, ev event) (any, error) {
	switch ev.Op {
	case "echo":
		return ev.Data, nil
	case "context":
		lc, _ := lambdacontext.FromContext(ctx)
		dl, _ := ctx.Deadline()
		trace, _ := ctx.Value("x-amzn-trace-id").(string)
		return seen{
			RequestID:   lc.AwsRequestID,
			FunctionARN: lc.InvokedFunctionArn,
			DeadlineMs:  dl.UnixMilli(),
			TraceID:     trace,
			Custom:      lc.ClientContext.Custom,
			CognitoID:   lc.Identity.CognitoIdentityID,
			CognitoPool: lc.Identity.CognitoIdentityPoolID,
		}, nil
	case "error":
		return nil, errors.New("boom")
	case "typed error":
		return nil, &quotaError{}
	case "panic":
		panic("kaboom")
	case "big":
		return strings.Repeat("x", ev.Size), nil
	case "hang":
		<-ctx.Done()
		select {} // past the deadline, as a stuck function would
	}
	return nil, fmt.Errorf("unknown op %q", ev.Op)
}

func main() { lambda.Start(handle) }
