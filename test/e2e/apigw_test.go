package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// The API Gateway test function (testdata/apigwfn), built once.
var apigwFnBuild struct {
	once sync.Once
	zip  []byte
	err  error
}

func apigwFnZip(t testing.TB) []byte {
	t.Helper()
	apigwFnBuild.once.Do(func() {
		out := filepath.Join(filepath.Dir(kumoBin), "apigwfn-bootstrap")
		cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", out, "./test/e2e/testdata/apigwfn")
		cmd.Dir = repoDir
		cmd.Env = append(cleanEnv(), "CGO_ENABLED=0")
		if b, err := cmd.CombinedOutput(); err != nil {
			apigwFnBuild.err = fmt.Errorf("go build ./test/e2e/testdata/apigwfn: %v\n%s", err, b)
			return
		}
		bin, err := os.ReadFile(out)
		if err != nil {
			apigwFnBuild.err = err
			return
		}
		apigwFnBuild.zip = makeZip(t, zipEntry{Name: "bootstrap", Body: string(bin), Mode: 0o755})
	})
	if apigwFnBuild.err != nil {
		t.Fatal(apigwFnBuild.err)
	}
	return apigwFnBuild.zip
}

func deployAPIGWFn(t *testing.T, lc *lambda.Client, name string) {
	t.Helper()
	must[*lambda.CreateFunctionOutput](t, "CreateFunction "+name)(lc.CreateFunction(t.Context(), &lambda.CreateFunctionInput{
		FunctionName: aws.String(name),
		Runtime:      types.RuntimeProvidedal2023,
		Role:         aws.String(testRole),
		Handler:      aws.String("bootstrap"),
		Code:         &types.FunctionCode{ZipFile: apigwFnZip(t)},
		MemorySize:   aws.Int32(128),
		Timeout:      aws.Int32(10),
	}))
	waitActive(t, lc, name)
}

var apiEndpoint = regexp.MustCompile(`^http://([a-z0-9]{10})\.execute-api\.us-east-1\.localhost:(\d+)$`)

// TestHTTPAPI builds an HTTP API with the AWS CLI — routes to two
// functions with payload formats 2.0 and 1.0, a Lambda authorizer, a
// route to a function without permission — and calls it with plain
// HTTP, by host name and by path.
func TestHTTPAPI(t *testing.T) {
	t.Parallel()
	var args []string
	if os.Geteuid() == 0 {
		args = []string{"--sandbox", "linux"}
	}
	dataDir := t.TempDir()
	s := startServer(t, dataDir, args...)
	lc := newSDK(t, s)
	cli := newCLI(t, s)
	for _, name := range []string{"v2fn", "v1fn", "authfn", "nopermfn"} {
		deployAPIGWFn(t, lc, name)
	}
	_, port, _ := net.SplitHostPort(s.addr)

	api := cli.ok("apigatewayv2", "create-api", "--name", "shop", "--protocol-type", "HTTP")
	id := jstr(api, "ApiId")
	if m := apiEndpoint.FindStringSubmatch(jstr(api, "ApiEndpoint")); m == nil || m[1] != id || m[2] != port {
		t.Fatalf("ApiEndpoint %q (ApiId %q, port %s)", jstr(api, "ApiEndpoint"), id, port)
	}
	for _, name := range []string{"v2fn", "v1fn", "authfn"} {
		cli.ok("lambda", "add-permission", "--function-name", name, "--statement-id", "apigw", "--action", "lambda:InvokeFunction",
			"--principal", "apigateway.amazonaws.com", "--source-arn", "arn:aws:execute-api:"+region+":"+accountID+":"+id+"/*")
	}
	v2 := jstr(cli.ok("apigatewayv2", "create-integration", "--api-id", id, "--integration-type", "AWS_PROXY",
		"--integration-uri", functionARN("v2fn"), "--payload-format-version", "2.0"), "IntegrationId")
	v1 := jstr(cli.ok("apigatewayv2", "create-integration", "--api-id", id, "--integration-type", "AWS_PROXY",
		"--integration-uri", "arn:aws:apigateway:"+region+":lambda:path/2015-03-31/functions/"+functionARN("v1fn")+"/invocations",
		"--payload-format-version", "1.0"), "IntegrationId")
	noperm := jstr(cli.ok("apigatewayv2", "create-integration", "--api-id", id, "--integration-type", "AWS_PROXY",
		"--integration-uri", functionARN("nopermfn"), "--payload-format-version", "2.0"), "IntegrationId")
	authz := jstr(cli.ok("apigatewayv2", "create-authorizer", "--api-id", id, "--name", "gate", "--authorizer-type", "REQUEST",
		"--authorizer-uri", functionARN("authfn"), "--authorizer-payload-format-version", "2.0", "--enable-simple-responses",
		"--identity-source", "$request.header.Authorization", "--authorizer-result-ttl-in-seconds", "0"), "AuthorizerId")
	for _, r := range [][]string{
		{"GET /items/{id}", v2}, {"POST /upload", v2}, {"POST /v1/{proxy+}", v1}, {"GET /noperm", noperm},
	} {
		cli.ok("apigatewayv2", "create-route", "--api-id", id, "--route-key", r[0], "--target", "integrations/"+r[1])
	}
	cli.ok("apigatewayv2", "create-route", "--api-id", id, "--route-key", "GET /private", "--target", "integrations/"+v2,
		"--authorization-type", "CUSTOM", "--authorizer-id", authz)
	st := cli.ok("apigatewayv2", "create-stage", "--api-id", id, "--stage-name", "prod", "--auto-deploy", "--stage-variables", "color=blue")
	if jstr(st, "DeploymentId") == "" {
		t.Fatalf("the auto-deployed stage has no deployment: %v", st)
	}
	cli.fail("NotFoundException", "apigatewayv2", "get-api", "--api-id", "zzzzzzzzzz")
	cli.fail("ConflictException", "apigatewayv2", "create-route", "--api-id", id, "--route-key", "GET /items/{id}")

	c := urlClient(s)
	hostURL := "http://" + id + ".execute-api." + region + ".localhost:" + port
	pathURL := s.url + "/execute-api/" + id
	event := func(what string, r *urlResponse) map[string]any {
		t.Helper()
		if r.Status != 200 {
			t.Fatalf("%s: %s", what, r)
		}
		if r.Header.Get("Apigw-Requestid") == "" {
			t.Errorf("%s: no apigw-requestid header", what)
		}
		var ev map[string]any
		if err := json.Unmarshal(r.Body, &ev); err != nil {
			t.Fatalf("%s: body is not the event: %v\n%s", what, err, r)
		}
		return ev
	}

	// Payload format 2.0, by host name: path parameters, query strings,
	// stage variables.
	ev := event("host style", doURL(t, c, newURLRequest(t, "GET", hostURL+"/prod/items/42?a=1&a=2&b=x%20y", nil)))
	expectEq(t, "version", jstr(ev, "version"), "2.0")
	expectEq(t, "routeKey", jstr(ev, "routeKey"), "GET /items/{id}")
	expectEq(t, "pathParameters.id", jstr(ev, "pathParameters", "id"), "42")
	expectEq(t, "queryStringParameters.a", jstr(ev, "queryStringParameters", "a"), "1,2")
	expectEq(t, "queryStringParameters.b", jstr(ev, "queryStringParameters", "b"), "x y")
	expectEq(t, "stageVariables.color", jstr(ev, "stageVariables", "color"), "blue")
	expectEq(t, "requestContext.stage", jstr(ev, "requestContext", "stage"), "prod")
	expectEq(t, "requestContext.apiId", jstr(ev, "requestContext", "apiId"), id)
	expectEq(t, "requestContext.http.method", jstr(ev, "requestContext", "http", "method"), "GET")

	// By path, for clients that cannot set a Host.
	ev = event("path style", doURL(t, c, newURLRequest(t, "GET", pathURL+"/prod/items/7", nil)))
	expectEq(t, "path style pathParameters.id", jstr(ev, "pathParameters", "id"), "7")

	// A binary body reaches the function in base64 and comes back as
	// the same bytes.
	bin := []byte{0, 0xff, 0x10, 0x80, 'k', 'u', 'm', 'o'}
	req := newURLRequest(t, "POST", hostURL+"/prod/upload", bin)
	req.Header.Set("Content-Type", "application/octet-stream")
	r := doURL(t, c, req)
	if r.Status != 200 || !bytes.Equal(r.Body, bin) {
		t.Fatalf("binary body: %s", r)
	}

	// Payload format 1.0.
	req = newURLRequest(t, "POST", hostURL+"/prod/v1/a/b?x=1&x=2", []byte(`{"k":"v"}`))
	req.Header.Set("Content-Type", "application/json")
	ev = event("payload 1.0", doURL(t, c, req))
	expectEq(t, "1.0 version", jstr(ev, "version"), "1.0")
	expectEq(t, "1.0 resource", jstr(ev, "resource"), "/v1/{proxy+}")
	expectEq(t, "1.0 httpMethod", jstr(ev, "httpMethod"), "POST")
	expectEq(t, "1.0 pathParameters.proxy", jstr(ev, "pathParameters", "proxy"), "a/b")
	expectEq(t, "1.0 multiValueQueryStringParameters.x", fmt.Sprint(jget(ev, "multiValueQueryStringParameters", "x")), "[1 2]")
	expectEq(t, "1.0 body", jstr(ev, "body"), `{"k":"v"}`)

	// The Lambda authorizer: no identity source, a deny, an allow.
	expectMessage(t, "no Authorization header", doURL(t, c, newURLRequest(t, "GET", hostURL+"/prod/private", nil)), 401, "Unauthorized")
	req = newURLRequest(t, "GET", hostURL+"/prod/private", nil)
	req.Header.Set("Authorization", "deny")
	expectMessage(t, "authorizer denies", doURL(t, c, req), 403, "Forbidden")
	req = newURLRequest(t, "GET", hostURL+"/prod/private", nil)
	req.Header.Set("Authorization", "allow")
	ev = event("authorizer allows", doURL(t, c, req))
	expectEq(t, "authorizer context", jstr(ev, "requestContext", "authorizer", "lambda", "who"), "e2e")

	// A function without a permission for API Gateway; a path no route
	// takes.
	expectMessage(t, "missing permission", doURL(t, c, newURLRequest(t, "GET", hostURL+"/prod/noperm", nil)), 500, "Internal Server Error")
	expectMessage(t, "no route", doURL(t, c, newURLRequest(t, "GET", hostURL+"/prod/nothing", nil)), 404, "Not Found")
	expectMessage(t, "no stage", doURL(t, c, newURLRequest(t, "GET", pathURL+"/dev/items/1", nil)), 404, "Not Found")

	// boto3 sees the same API.
	out := runCmd(t, s.env(), nil, 60*time.Second, "python3", "-c", `
import boto3, json, sys
c = boto3.client("apigatewayv2")
routes = c.get_routes(ApiId=sys.argv[1])["Items"]
print(json.dumps(sorted(r["RouteKey"] for r in routes)))
`, id)
	if out.Code != 0 {
		t.Fatalf("boto3 get_routes: %s", out)
	}
	expectEq(t, "boto3 route keys", string(bytes.TrimSpace([]byte(out.Stdout))), `["GET /items/{id}", "GET /noperm", "GET /private", "POST /upload", "POST /v1/{proxy+}"]`)

	// The API outlives the server: after a restart on the same data dir
	// its stage serves it as before (at the new port).
	s.stop()
	s = startServer(t, dataDir, args...)
	_, port, _ = net.SplitHostPort(s.addr)
	ev = event("after a restart", doURL(t, urlClient(s), newURLRequest(t, "GET", "http://"+id+".execute-api."+region+".localhost:"+port+"/prod/items/9", nil)))
	expectEq(t, "after a restart pathParameters.id", jstr(ev, "pathParameters", "id"), "9")
}

// expectMessage fails unless r is API Gateway's own {"message": …} answer.
func expectMessage(t *testing.T, what string, r *urlResponse, status int, msg string) {
	t.Helper()
	if r.Status != status || string(r.Body) != `{"message":"`+msg+`"}` {
		t.Errorf("%s: got %s, want %d {\"message\":%q}", what, r, status, msg)
	}
}
