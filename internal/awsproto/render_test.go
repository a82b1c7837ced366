package awsproto_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/protocol/ec2query"
	awsxml "github.com/aws/aws-sdk-go-v2/aws/protocol/xml"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/kumo-run/kumo/internal/awsproto"
)

// testMessage has what a message may carry that a protocol must escape.
const testMessage = `Value '<a&b>' at "name" failed: ünïcode ]]> \ done`

const testRequestID = "11111111-2222-4333-8444-555555555555"

// protocols are the renderers the walk uses, as the services that will use
// them configure them.
var protocols = []struct {
	name     string // botocore's protocol name
	r        awsproto.Renderer
	queryish bool // sends the Spec's QueryCode
}{
	{"rest-json", awsproto.Lambda, false},
	{"json", awsproto.JSON{Version: "1.1"}, false},
	{"json", awsproto.JSON{Version: "1.0", TypePrefix: "com.amazonaws.sqs#", QueryCompatible: true}, true},
	{"query", awsproto.Query{Namespace: "https://iam.amazonaws.com/doc/2010-05-08/"}, true},
	{"ec2", awsproto.EC2Query{}, true},
	{"rest-xml", awsproto.RESTXML{}, true},
	{"rest-xml", awsproto.RESTXML{Wrapped: true, Namespace: "https://route53.amazonaws.com/doc/2013-04-01/"}, true},
}

// wireCode is the code a client of protocol p must see for s.
// stsShapeCodes are STS's modeled error shapes whose wire codes differ
// from their names (botocore's sts model, "error": {"code": …}).
var stsShapeCodes = map[string]string{
	"MalformedPolicyDocumentException": "MalformedPolicyDocument",
	"PackedPolicyTooLargeException":    "PackedPolicyTooLarge",
	"IDPRejectedClaimException":        "IDPRejectedClaim",
	"IDPCommunicationErrorException":   "IDPCommunicationError",
	"InvalidIdentityTokenException":    "InvalidIdentityToken",
}

func wireCode(s awsproto.Spec, queryish bool) string {
	if queryish && s.QueryCode != "" {
		return s.QueryCode
	}
	return s.Code.Name()
}

func render(p awsproto.Renderer, method string, err error) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(method, "/", nil)
	req = req.WithContext(awsproto.WithRequestID(req.Context(), testRequestID))
	p.WriteError(rec, req, err)
	return rec
}

// TestCatalogueShape checks every entry the way Register does and that the
// entries the wire depends on hold the model's values.
func TestCatalogueShape(t *testing.T) {
	specs := awsproto.Specs()
	if len(specs) < 100 {
		t.Fatalf("catalogue has %d codes; Lambda alone has 47", len(specs))
	}
	for _, s := range specs {
		if s.Status < 400 || s.Status > 599 {
			t.Errorf("%s: status %d", s.Code, s.Status)
		}
		if (s.Fault == awsproto.Server) != (s.Status >= 500) && s.Code != awsproto.NotImplementedException {
			t.Errorf("%s: fault %v with status %d", s.Code, s.Fault, s.Status)
		}
		if s.Status == 429 && !s.Retryable {
			t.Errorf("%s: throttling is retryable", s.Code)
		}
	}
	for _, c := range []struct {
		code      awsproto.Code
		status    int
		key       string
		retryable bool
	}{
		{awsproto.ResourceNotFoundException, 404, "Message", false},
		{awsproto.InvalidParameterValueException, 400, "message", false},
		{awsproto.TooManyRequestsException, 429, "message", true},
		{awsproto.ServiceException, 500, "Message", true},
		{awsproto.ResourceNotReadyException, 502, "message", true},
		{awsproto.InvalidZipFileException, 502, "Message", false},
		{awsproto.InvalidRuntimeException, 502, "Message", false},
		{awsproto.LogsResourceNotFound, 400, "", false},
		{awsproto.LogsServiceUnavailable, 500, "", true},
		{awsproto.S3NoSuchKey, 404, "", false},
		{awsproto.IAMNoSuchEntity, 404, "", false},
	} {
		s, ok := awsproto.Lookup(c.code)
		if !ok || s.Status != c.status || s.MessageKey != c.key || s.Retryable != c.retryable {
			t.Errorf("%s = %+v (registered %v), want status %d key %q retryable %v", c.code, s, ok, c.status, c.key, c.retryable)
		}
		if got := awsproto.Errorf(c.code, "x").Retryable(); got != c.retryable {
			t.Errorf("Errorf(%s).Retryable() = %v", c.code, got)
		}
	}
}

// TestEveryCodeConstantRegistered reads the package's source for Code
// constants, so a constant added without a catalogue entry fails here.
func TestEveryCodeConstantRegistered(t *testing.T) {
	files, _ := filepath.Glob("*.go")
	fset := token.NewFileSet()
	n := 0
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		af, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range af.Decls {
			gd, ok := d.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				continue
			}
			for _, sp := range gd.Specs {
				vs := sp.(*ast.ValueSpec)
				if id, ok := vs.Type.(*ast.Ident); !ok || id.Name != "Code" {
					continue
				}
				for i, name := range vs.Names {
					lit := vs.Values[i].(*ast.BasicLit)
					v, _ := strconv.Unquote(lit.Value)
					n++
					if _, ok := awsproto.Lookup(awsproto.Code(v)); !ok {
						t.Errorf("%s (%s) = %q is not in the catalogue", name.Name, f, v)
					}
				}
			}
		}
	}
	if n < 100 {
		t.Fatalf("found %d Code constants; the parse missed them", n)
	}
}

func TestRegisterRefusesBadSpecs(t *testing.T) {
	for name, s := range map[string]awsproto.Spec{
		"duplicate":      {Code: awsproto.ServiceException, Status: 500, Fault: awsproto.Server},
		"no code":        {Code: "svc#", Status: 400},
		"not an error":   {Code: "test#Fine", Status: 200},
		"bad casing":     {Code: "test#Casing", Status: 400, MessageKey: "MESSAGE"},
		"bad characters": {Code: "test#A<B", Status: 400},
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Fatal("Register did not panic")
				}
			}()
			awsproto.Register(s)
		})
	}
}

// TestRenderersSpeakTheSDKs renders every code of the catalogue in every
// protocol and parses it back the way the SDKs do: aws-sdk-go-v2's generated
// Lambda (rest-json), CloudWatch Logs (JSON 1.1) and STS (query) clients
// against a server that renders it, aws-sdk-go-v2's own EC2 and S3 error
// readers, and botocore's parsers for all of them.
func TestRenderersSpeakTheSDKs(t *testing.T) {
	t.Parallel()
	specs := awsproto.Specs()

	t.Run("aws-sdk-go-v2 clients", func(t *testing.T) {
		var mu sync.Mutex
		var cur awsproto.Renderer
		var curCode awsproto.Code
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			p, c := cur, curCode
			mu.Unlock()
			r = r.WithContext(awsproto.WithRequestID(r.Context(), testRequestID))
			w.Header().Set("x-amzn-RequestId", testRequestID)
			p.WriteError(w, r, awsproto.Errorf(c, "%s", testMessage))
		}))
		defer srv.Close()
		cfg := aws.Config{
			Region:      "us-east-1",
			Credentials: credentials.NewStaticCredentialsProvider("AKID", "SECRET", ""),
			Retryer:     func() aws.Retryer { return aws.NopRetryer{} },
		}
		lc := lambda.NewFromConfig(cfg, func(o *lambda.Options) { o.BaseEndpoint = aws.String(srv.URL) })
		cw := cloudwatchlogs.NewFromConfig(cfg, func(o *cloudwatchlogs.Options) { o.BaseEndpoint = aws.String(srv.URL) })
		sc := sts.NewFromConfig(cfg, func(o *sts.Options) { o.BaseEndpoint = aws.String(srv.URL) })
		clients := []struct {
			name     string
			r        awsproto.Renderer
			queryish bool
			call     func() error
		}{
			{"lambda rest-json", awsproto.Lambda, false, func() error {
				_, err := lc.GetFunction(t.Context(), &lambda.GetFunctionInput{FunctionName: aws.String("f")})
				return err
			}},
			{"logs json-1.1", awsproto.JSON{Version: "1.1"}, false, func() error {
				_, err := cw.DescribeLogGroups(t.Context(), &cloudwatchlogs.DescribeLogGroupsInput{})
				return err
			}},
			{"sts query", awsproto.Query{Namespace: "https://sts.amazonaws.com/doc/2011-06-15/"}, true, func() error {
				_, err := sc.GetCallerIdentity(t.Context(), &sts.GetCallerIdentityInput{})
				return err
			}},
		}
		for _, cl := range clients {
			t.Run(cl.name, func(t *testing.T) {
				for _, s := range specs {
					mu.Lock()
					cur, curCode = cl.r, s.Code
					mu.Unlock()
					err := cl.call()
					var ae smithy.APIError
					if !errors.As(err, &ae) {
						t.Errorf("%s: %v is not an API error", s.Code, err)
						continue
					}
					want := wireCode(s, cl.queryish)
					if cl.queryish {
						// The STS client reads an error named like one of
						// its own modeled shapes as that shape, whose code
						// it reports (KMS's MalformedPolicyDocumentException
						// becomes STS's MalformedPolicyDocument).
						if c, ok := stsShapeCodes[want]; ok {
							want = c
						}
					}
					if ae.ErrorCode() != want || ae.ErrorMessage() != testMessage {
						t.Errorf("%s: client saw code %q message %q", s.Code, ae.ErrorCode(), ae.ErrorMessage())
					}
					var re *awshttp.ResponseError
					if !errors.As(err, &re) || re.HTTPStatusCode() != s.Status || re.ServiceRequestID() != testRequestID {
						t.Errorf("%s: response error %v, want status %d and the request id", s.Code, err, s.Status)
					}
				}
			})
		}
	})

	t.Run("aws-sdk-go-v2 xml readers", func(t *testing.T) {
		for _, s := range specs {
			rec := render(awsproto.EC2Query{}, "POST", awsproto.Errorf(s.Code, "%s", testMessage))
			ec, err := ec2query.GetErrorResponseComponents(rec.Body)
			if err != nil || ec.Code != wireCode(s, true) || ec.Message != testMessage || ec.RequestID != testRequestID {
				t.Errorf("ec2 %s: %+v %v", s.Code, ec, err)
			}
			rec = render(awsproto.RESTXML{}, "GET", awsproto.Errorf(s.Code, "%s", testMessage))
			xc, err := awsxml.GetErrorResponseComponents(rec.Body, true) // what S3's client calls
			if err != nil || xc.Code != wireCode(s, true) || xc.Message != testMessage || xc.RequestID != testRequestID || rec.Code != s.Status {
				t.Errorf("rest-xml %s: %d %+v %v", s.Code, rec.Code, xc, err)
			}
		}
	})

	t.Run("botocore", func(t *testing.T) {
		type wire struct {
			Protocol string            `json:"protocol"`
			Status   int               `json:"status"`
			Headers  map[string]string `json:"headers"`
			Body     string            `json:"body"`
		}
		type want struct {
			what   string
			code   string
			status int
		}
		var in []wire
		var wants []want
		for _, p := range protocols {
			for _, s := range specs {
				rec := render(p.r, "POST", awsproto.Errorf(s.Code, "%s", testMessage))
				h := map[string]string{}
				for k, vs := range rec.Header() {
					h[k] = vs[0]
				}
				h["x-amzn-RequestId"] = testRequestID
				in = append(in, wire{p.name, rec.Code, h, base64.StdEncoding.EncodeToString(rec.Body.Bytes())})
				wants = append(wants, want{p.name + " " + string(s.Code), wireCode(s, p.queryish), s.Status})
			}
		}
		b, _ := json.Marshal(in)
		out := python(t, bytes.NewReader(b), botocoreParse)
		var got []struct {
			Code, Message, RequestID string
			Status                   int
		}
		if err := json.Unmarshal(out, &got); err != nil || len(got) != len(wants) {
			t.Fatalf("botocore answered %d results (%v) for %d responses", len(got), err, len(wants))
		}
		for i, w := range wants {
			g := got[i]
			if g.Code != w.code || g.Message != testMessage || g.RequestID != testRequestID || g.Status != w.status {
				t.Errorf("%s: botocore saw %+v, want code %q", w.what, g, w.code)
			}
		}
	})
}

// botocoreParse reads rendered responses as JSON on stdin and prints what
// botocore's parser for each protocol makes of them.
const botocoreParse = `
import base64, json, sys
from botocore.parsers import create_parser
from botocore.awsrequest import HeadersDict
out = []
for r in json.load(sys.stdin):
    p = create_parser(r["protocol"])
    resp = {"status_code": r["status"], "headers": HeadersDict(r["headers"]), "body": base64.b64decode(r["body"])}
    parsed = p.parse(resp, None)
    err = parsed.get("Error", {})
    md = parsed.get("ResponseMetadata", {})
    out.append({"Code": err.get("Code", ""), "Message": err.get("Message", ""),
                "RequestID": md.get("RequestId", ""), "Status": md.get("HTTPStatusCode", r["status"])})
json.dump(out, sys.stdout)
`

// TestInternalFailures checks that a failure the client must not see the
// cause of, and a code outside the catalogue, go out as the service's own
// internal error in every protocol.
func TestInternalFailures(t *testing.T) {
	cause := errors.New("disk on fire")
	for _, c := range []struct {
		r    awsproto.Renderer
		code string
		msg  string
	}{
		{awsproto.Lambda, "ServiceException", "An internal error occurred"},
		{awsproto.JSON{Version: "1.1", Internal: awsproto.InternalSpec{Code: awsproto.LogsServiceUnavailable, Message: "The service cannot complete the request."}},
			"ServiceUnavailableException", "The service cannot complete the request."},
		{awsproto.Query{Internal: awsproto.InternalSpec{Code: awsproto.InternalFailure}}, "InternalFailure", "An internal error occurred"},
		{awsproto.RESTXML{Internal: awsproto.InternalSpec{Code: awsproto.InternalError}}, "InternalError", "An internal error occurred"},
	} {
		for _, err := range []error{cause, awsproto.Internal(cause), awsproto.Errorf("NoSuchCodeAnywhere", "x")} {
			rec := render(c.r, "POST", err)
			body := rec.Body.String() + rawHeader(rec.Header(), "x-amzn-ErrorType")
			if rec.Code < 500 || !strings.Contains(body, c.code) || !strings.Contains(body, c.msg) ||
				strings.Contains(body, "fire") || strings.Contains(body, "NoSuchCodeAnywhere") {
				t.Errorf("%T %v: %d %s", c.r, err, rec.Code, body)
			}
		}
	}
}

func TestRESTJSONKeepsLambdaWireForm(t *testing.T) {
	rec := httptest.NewRecorder()
	awsproto.WriteError(rec, awsproto.Errorf(awsproto.TooManyRequestsException, "Rate exceeded").
		With("Reason", "ReservedFunctionConcurrentInvocationLimitExceeded"))
	var body map[string]string
	json.Unmarshal(rec.Body.Bytes(), &body)
	if rec.Code != 429 || rawHeader(rec.Header(), "x-amzn-ErrorType") != "TooManyRequestsException" ||
		body["Type"] != "User" || body["message"] != "Rate exceeded" || body["Reason"] != "ReservedFunctionConcurrentInvocationLimitExceeded" {
		t.Fatalf("%d %v %v", rec.Code, rec.Header(), body)
	}
}

func TestRESTXMLHeadHasNoBody(t *testing.T) {
	rec := render(awsproto.RESTXML{}, http.MethodHead, awsproto.Errorf(awsproto.S3NoSuchKey, "The specified key does not exist."))
	if rec.Code != 404 || rec.Body.Len() != 0 || rec.Header().Get("x-amz-request-id") != testRequestID {
		t.Fatalf("%d %q %v", rec.Code, rec.Body.String(), rec.Header())
	}
	rec = render(awsproto.RESTXML{}, http.MethodGet, awsproto.Errorf(awsproto.S3NoSuchKey, "The specified key does not exist.").With("Key", "a.txt"))
	want := `<?xml version="1.0" encoding="UTF-8"?>` + "\n" +
		`<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message><Key>a.txt</Key><RequestId>` + testRequestID + `</RequestId></Error>`
	if rec.Body.String() != want {
		t.Fatalf("got  %s\nwant %s", rec.Body.String(), want)
	}
}

// TestCatalogueMatchesBotocoreModels compares the Lambda and CloudWatch
// Logs tables with the exception shapes of botocore's models: every
// exception is registered, with the model's status, fault and message
// casing. (The SDKs read either casing, so only the model can tell.)
func TestCatalogueMatchesBotocoreModels(t *testing.T) {
	t.Parallel()
	out := python(t, nil, botocoreExceptions)
	var models map[string][]struct {
		Name   string
		Status int
		Key    string
		Server bool
	}
	if err := json.Unmarshal(out, &models); err != nil {
		t.Fatal(err)
	}
	for svc, prefix := range map[string]string{"lambda": "", "logs": "logs#"} {
		if len(models[svc]) < 20 {
			t.Fatalf("%s: %d exceptions in the model", svc, len(models[svc]))
		}
		for _, m := range models[svc] {
			s, ok := awsproto.Lookup(awsproto.Code(prefix + m.Name))
			if !ok {
				t.Errorf("%s: %s is not in the catalogue", svc, m.Name)
				continue
			}
			if m.Server != (s.Fault == awsproto.Server) || m.Status != 0 && m.Status != s.Status ||
				m.Key != "" && m.Key != s.MessageKey && !(m.Key == "message" && s.MessageKey == "") {
				t.Errorf("%s: catalogue %+v, model %+v", svc, s, m)
			}
		}
	}
}

const botocoreExceptions = `
import glob, gzip, json, os, sys, botocore
out = {}
for svc in ("lambda", "logs"):
    f = sorted(glob.glob(os.path.join(os.path.dirname(botocore.__file__), "data", svc, "*", "service-2.json*")))[-1]
    m = json.load((gzip.open if f.endswith(".gz") else open)(f))
    ex = []
    for name, s in m["shapes"].items():
        if not s.get("exception"):
            continue
        keys = [k for k in s.get("members", {}) if k.lower() == "message"]
        ex.append({"Name": name, "Status": (s.get("error") or {}).get("httpStatusCode", 0),
                   "Key": keys[0] if keys else "", "Server": bool(s.get("fault"))})
    out[svc] = ex
json.dump(out, sys.stdout)
`

// rawHeader reads a header set in AWS's casing, which http.Header.Get
// would canonicalise away.
func rawHeader(h http.Header, name string) string { return strings.Join(h[name], ",") }

// python runs script with botocore, skipping the test where botocore is
// not installed (the aws-sdk-go-v2 checks still run there).
func python(t *testing.T, stdin io.Reader, script string) []byte {
	t.Helper()
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 is not installed")
	}
	cmd := exec.Command("python3", "-c", script)
	cmd.Stdin = stdin
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		if strings.Contains(stderr.String(), "No module named 'botocore'") {
			t.Skip("botocore is not installed for python3")
		}
		t.Fatalf("python3: %v\n%s", err, stderr.String())
	}
	return out
}
