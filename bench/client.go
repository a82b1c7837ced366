package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
)

// maxParallel is the most concurrent clients any benchmark runs; the HTTP
// client keeps that many connections so it is never what limits them.
const maxParallel = 64

// newHTTPClient returns the client every request goes through: keep-alive
// connections for maxParallel clients and then some, no compression, no
// proxy.
func newHTTPClient() *http.Client {
	return &http.Client{
		Timeout: 2 * time.Minute,
		Transport: &http.Transport{
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:        4 * maxParallel,
			MaxIdleConnsPerHost: 4 * maxParallel,
			IdleConnTimeout:     2 * time.Minute,
			DisableCompression:  true,
		},
	}
}

// newLambdaClient is the aws-sdk-go-v2 client the benchmarks deploy with
// (the SDK's own buildable HTTP client, so that AWS_CA_BUNDLE still works):
// static credentials, BaseEndpoint, no shared configuration.
func newLambdaClient(ctx context.Context, base, region, key, secret string) (*lambda.Client, error) {
	hc := awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) {
		t.MaxIdleConns, t.MaxIdleConnsPerHost = 4*maxParallel, 4*maxParallel
	})
	cfg, err := config.LoadDefaultConfig(ctx,
		config.WithRegion(region),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(key, secret, "")),
		config.WithSharedConfigFiles([]string{}),
		config.WithSharedCredentialsFiles([]string{}),
		config.WithHTTPClient(hc),
		config.WithRetryMaxAttempts(3),
	)
	if err != nil {
		return nil, err
	}
	return lambda.NewFromConfig(cfg, func(o *lambda.Options) { o.BaseEndpoint = aws.String(base) }), nil
}

// invoker sends Invoke requests as plain signed HTTP requests: SigV4 by the
// SDK's signer on a net/http request, without the SDK's middleware stack,
// so that the client spends as little CPU per invoke as it can and the
// latency measured is the server's.
type invoker struct {
	base   string
	region string
	creds  aws.Credentials
	signer *v4.Signer
	hc     *http.Client
}

func newInvoker(base, region, key, secret string, hc *http.Client) *invoker {
	return &invoker{
		base: strings.TrimRight(base, "/"), region: region,
		creds:  aws.Credentials{AccessKeyID: key, SecretAccessKey: secret, Source: "kumo-bench"},
		signer: v4.NewSigner(), hc: hc,
	}
}

// invocation is one Invoke request.
type invocation struct {
	Function  string
	Qualifier string
	Type      string // "" is RequestResponse
	Tail      bool
	Payload   []byte
}

// reply is what came back and how long it took.
type reply struct {
	Status        int
	Payload       []byte
	FunctionError string
	// ErrorType and ErrorMessage: the AWS error, for a non-2xx status.
	ErrorType    string
	ErrorMessage string
	// LogTail is the decoded X-Amz-Log-Result.
	LogTail string
	// Latency runs from sending the request to reading the whole body;
	// signing is not in it.
	Latency time.Duration
}

// apiError is an AWS error answer to an Invoke.
type apiError struct {
	Status  int
	Type    string
	Message string
}

func (e *apiError) Error() string { return fmt.Sprintf("%s (%d): %s", e.Type, e.Status, e.Message) }

var emptyPayloadHash = sha256hex([]byte("{}"))

func sha256hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// invoke sends one Invoke. A non-2xx answer is an *apiError, with the
// reply still filled in.
func (iv *invoker) invoke(ctx context.Context, in invocation) (reply, error) {
	u := iv.base + "/2015-03-31/functions/" + url.PathEscape(in.Function) + "/invocations"
	if in.Qualifier != "" {
		u += "?Qualifier=" + url.QueryEscape(in.Qualifier)
	}
	payload, hash := in.Payload, ""
	if payload == nil {
		payload, hash = []byte("{}"), emptyPayloadHash
	} else {
		hash = sha256hex(payload)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(payload))
	if err != nil {
		return reply{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	if in.Type != "" {
		req.Header.Set("X-Amz-Invocation-Type", in.Type)
	}
	if in.Tail {
		req.Header.Set("X-Amz-Log-Type", "Tail")
	}
	if err := iv.signer.SignHTTP(ctx, iv.creds, req, hash, "lambda", iv.region, time.Now()); err != nil {
		return reply{}, err
	}
	t0 := time.Now()
	resp, err := iv.hc.Do(req)
	if err != nil {
		return reply{}, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	r := reply{Status: resp.StatusCode, Payload: body, Latency: time.Since(t0),
		FunctionError: resp.Header.Get("X-Amz-Function-Error")}
	if err != nil {
		return r, err
	}
	if lr := resp.Header.Get("X-Amz-Log-Result"); lr != "" {
		if b, err := base64.StdEncoding.DecodeString(lr); err == nil {
			r.LogTail = string(b)
		}
	}
	if resp.StatusCode >= 300 {
		r.ErrorType, r.ErrorMessage = parseAWSError(resp.Header, body)
		return r, &apiError{Status: resp.StatusCode, Type: r.ErrorType, Message: r.ErrorMessage}
	}
	return r, nil
}

// parseAWSError reads the error type from x-amzn-ErrorType (or the body's
// __type / Type) and the message from the body.
func parseAWSError(h http.Header, body []byte) (typ, msg string) {
	var v struct {
		Type     string `json:"__type"`
		TypeAlt  string `json:"Type"`
		Message  string `json:"message"`
		MessageA string `json:"Message"`
	}
	json.Unmarshal(body, &v)
	typ = h.Get("X-Amzn-Errortype")
	if typ == "" {
		typ = v.Type
	}
	if typ == "" {
		typ = v.TypeAlt
	}
	if i := strings.IndexByte(typ, ':'); i >= 0 {
		typ = typ[:i]
	}
	if i := strings.LastIndexByte(typ, '#'); i >= 0 {
		typ = typ[i+1:]
	}
	msg = v.Message
	if msg == "" {
		msg = v.MessageA
	}
	if msg == "" && typ == "" {
		msg = strings.TrimSpace(string(body))
		if len(msg) > 200 {
			msg = msg[:200]
		}
	}
	return typ, msg
}

// isErrorType reports whether err is an AWS error of type typ, from this
// program's invoker or from the SDK.
func isErrorType(err error, typ string) bool {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae.Type == typ
	}
	var se interface{ ErrorCode() string }
	if errors.As(err, &se) {
		return se.ErrorCode() == typ
	}
	return false
}

// errorMessage is the AWS error message of err when it has one.
func errorMessage(err error) string {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae.Message
	}
	var se interface{ ErrorMessage() string }
	if errors.As(err, &se) {
		return se.ErrorMessage()
	}
	return err.Error()
}

// reportLine is Lambda's REPORT line, parsed.
type reportLine struct {
	Duration     float64 // ms
	InitDuration float64 // ms, 0 when warm
	MaxMemoryMB  float64
	Found        bool
}

// parseReport finds the last REPORT line in a log tail.
func parseReport(tail string) reportLine {
	var r reportLine
	lines := strings.Split(tail, "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		line := lines[i]
		if !strings.HasPrefix(line, "REPORT RequestId:") {
			continue
		}
		r.Found = true
		for _, f := range strings.Split(line, "\t") {
			f = strings.TrimSpace(f)
			var v float64
			switch {
			case strings.HasPrefix(f, "Duration: "):
				fmt.Sscanf(f, "Duration: %f ms", &v)
				r.Duration = v
			case strings.HasPrefix(f, "Init Duration: "):
				fmt.Sscanf(f, "Init Duration: %f ms", &v)
				r.InitDuration = v
			case strings.HasPrefix(f, "Max Memory Used: "):
				fmt.Sscanf(f, "Max Memory Used: %f MB", &v)
				r.MaxMemoryMB = v
			}
		}
		break
	}
	return r
}
