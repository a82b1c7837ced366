package e2e

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// The REST API test function (testdata/apigwrestfn), built once.
var apigwRestFnBuild struct {
	once sync.Once
	zip  []byte
	err  error
}

func deployAPIGWRestFn(t *testing.T, lc *lambda.Client, name string) {
	t.Helper()
	apigwRestFnBuild.once.Do(func() {
		out := filepath.Join(filepath.Dir(kumoBin), "apigwrestfn-bootstrap")
		cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", out, "./test/e2e/testdata/apigwrestfn")
		cmd.Dir = repoDir
		cmd.Env = append(cleanEnv(), "CGO_ENABLED=0")
		if b, err := cmd.CombinedOutput(); err != nil {
			apigwRestFnBuild.err = fmt.Errorf("go build ./test/e2e/testdata/apigwrestfn: %v\n%s", err, b)
			return
		}
		bin, err := os.ReadFile(out)
		if err != nil {
			apigwRestFnBuild.err = err
			return
		}
		apigwRestFnBuild.zip = makeZip(t, zipEntry{Name: "bootstrap", Body: string(bin), Mode: 0o755})
	})
	if apigwRestFnBuild.err != nil {
		t.Fatal(apigwRestFnBuild.err)
	}
	must[*lambda.CreateFunctionOutput](t, "CreateFunction "+name)(lc.CreateFunction(t.Context(), &lambda.CreateFunctionInput{
		FunctionName: aws.String(name), Runtime: types.RuntimeProvidedal2023, Role: aws.String(testRole), Handler: aws.String("bootstrap"),
		Code: &types.FunctionCode{ZipFile: apigwRestFnBuild.zip}, MemorySize: aws.Int32(128), Timeout: aws.Int32(10),
	}))
	waitActive(t, lc, name)
}

// TestRESTAPI builds a REST API with the AWS CLI — a {proxy+} resource
// and /items/{id} to a function, a TOKEN authorizer, binary media types
// — calls it with plain HTTP (path parameters, multi-value query
// strings, binary bodies, the 403 Missing Authentication Token, the
// authorizer denying and allowing, a MOCK method behind an API key and a
// usage plan's quota), then runs a 25 % canary to a second
// deployment over 1,000 calls and promotes it.
func TestRESTAPI(t *testing.T) {
	t.Parallel()
	var args []string
	if os.Geteuid() == 0 {
		args = []string{"--sandbox", "linux"}
	}
	s := startServer(t, t.TempDir(), args...)
	lc := newSDK(t, s)
	cli := newCLI(t, s)
	for _, name := range []string{"restv1", "restv2", "restauth"} {
		deployAPIGWRestFn(t, lc, name)
	}
	_, port, _ := net.SplitHostPort(s.addr)
	uri := func(fn string) string {
		return "arn:aws:apigateway:" + region + ":lambda:path/2015-03-31/functions/" + functionARN(fn) + "/invocations"
	}

	api := cli.ok("apigateway", "create-rest-api", "--name", "shop", "--binary-media-types", "image/png")
	id, root := jstr(api, "id"), jstr(api, "rootResourceId")
	if len(id) != 10 || root == "" {
		t.Fatalf("create-rest-api: %v", api)
	}
	for _, fn := range []string{"restv1", "restv2", "restauth"} {
		cli.ok("lambda", "add-permission", "--function-name", fn, "--statement-id", "apigw", "--action", "lambda:InvokeFunction",
			"--principal", "apigateway.amazonaws.com", "--source-arn", "arn:aws:execute-api:"+region+":"+accountID+":"+id+"/*")
	}
	items := jstr(cli.ok("apigateway", "create-resource", "--rest-api-id", id, "--parent-id", root, "--path-part", "items"), "id")
	item := cli.ok("apigateway", "create-resource", "--rest-api-id", id, "--parent-id", items, "--path-part", "{id}")
	expectEq(t, "resource path", jstr(item, "path"), "/items/{id}")
	proxy := jstr(cli.ok("apigateway", "create-resource", "--rest-api-id", id, "--parent-id", root, "--path-part", "{proxy+}"), "id")
	secure := jstr(cli.ok("apigateway", "create-resource", "--rest-api-id", id, "--parent-id", root, "--path-part", "secure"), "id")
	auth := jstr(cli.ok("apigateway", "create-authorizer", "--rest-api-id", id, "--name", "tok", "--type", "TOKEN",
		"--authorizer-uri", uri("restauth"), "--identity-source", "method.request.header.Authorization"), "id")
	for _, m := range []struct{ res, method, fn string }{{jstr(item, "id"), "GET", "restv1"}, {proxy, "ANY", "restv1"}, {secure, "GET", "restv1"}} {
		extra := []string{"--authorization-type", "NONE"}
		if m.res == secure {
			extra = []string{"--authorization-type", "CUSTOM", "--authorizer-id", auth}
		}
		cli.ok(append([]string{"apigateway", "put-method", "--rest-api-id", id, "--resource-id", m.res, "--http-method", m.method}, extra...)...)
		cli.ok("apigateway", "put-integration", "--rest-api-id", id, "--resource-id", m.res, "--http-method", m.method,
			"--type", "AWS_PROXY", "--integration-http-method", "POST", "--uri", uri(m.fn))
	}
	// A MOCK method that needs an API key.
	health := jstr(cli.ok("apigateway", "create-resource", "--rest-api-id", id, "--parent-id", root, "--path-part", "health"), "id")
	cli.ok("apigateway", "put-method", "--rest-api-id", id, "--resource-id", health, "--http-method", "GET", "--authorization-type", "NONE", "--api-key-required")
	cli.ok("apigateway", "put-integration", "--rest-api-id", id, "--resource-id", health, "--http-method", "GET", "--type", "MOCK",
		"--request-templates", `{"application/json":"{\"statusCode\": 200}"}`)
	cli.ok("apigateway", "put-method-response", "--rest-api-id", id, "--resource-id", health, "--http-method", "GET", "--status-code", "200")
	cli.ok("apigateway", "put-integration-response", "--rest-api-id", id, "--resource-id", health, "--http-method", "GET", "--status-code", "200",
		"--response-templates", `{"application/json":"{\"healthy\": true}"}`)
	dep1 := jstr(cli.ok("apigateway", "create-deployment", "--rest-api-id", id, "--stage-name", "prod", "--variables", "color=blue"), "id")
	cli.fail("NotFoundException", "apigateway", "get-rest-api", "--rest-api-id", "zzzzzzzzzz")
	cli.fail("ConflictException", "apigateway", "create-resource", "--rest-api-id", id, "--parent-id", root, "--path-part", "items")

	c := urlClient(s)
	hostURL := "http://" + id + ".execute-api." + region + ".localhost:" + port
	pathURL := s.url + "/execute-api/" + id
	event := func(what string, r *urlResponse) (string, map[string]any) {
		t.Helper()
		if r.Status != 200 {
			t.Fatalf("%s: %s", what, r)
		}
		if r.Header.Get("X-Amzn-Requestid") == "" || r.Header.Get("X-Amz-Apigw-Id") == "" {
			t.Errorf("%s: no x-amzn-RequestId or x-amz-apigw-id header", what)
		}
		var out struct {
			Fn    string         `json:"fn"`
			Event map[string]any `json:"event"`
		}
		if err := json.Unmarshal(r.Body, &out); err != nil {
			t.Fatalf("%s: body is not the event: %v\n%s", what, err, r)
		}
		return out.Fn, out.Event
	}

	_, ev := event("host style", doURL(t, c, newURLRequest(t, "GET", hostURL+"/prod/items/42?a=1&a=2&b=x%20y", nil)))
	expectEq(t, "resource", jstr(ev, "resource"), "/items/{id}")
	expectEq(t, "path", jstr(ev, "path"), "/items/42")
	expectEq(t, "pathParameters.id", jstr(ev, "pathParameters", "id"), "42")
	expectEq(t, "queryStringParameters.b", jstr(ev, "queryStringParameters", "b"), "x y")
	expectEq(t, "multiValueQueryStringParameters.a", fmt.Sprint(jget(ev, "multiValueQueryStringParameters", "a")), "[1 2]")
	expectEq(t, "stageVariables.color", jstr(ev, "stageVariables", "color"), "blue")
	expectEq(t, "requestContext.path", jstr(ev, "requestContext", "path"), "/prod/items/42")
	expectEq(t, "requestContext.resourcePath", jstr(ev, "requestContext", "resourcePath"), "/items/{id}")
	expectEq(t, "requestContext.stage", jstr(ev, "requestContext", "stage"), "prod")
	expectEq(t, "requestContext.apiId", jstr(ev, "requestContext", "apiId"), id)
	_, ev = event("path style", doURL(t, c, newURLRequest(t, "GET", pathURL+"/prod/some/deep/path", nil)))
	expectEq(t, "proxy pathParameters", jstr(ev, "pathParameters", "proxy"), "some/deep/path")
	expectEq(t, "proxy resource", jstr(ev, "resource"), "/{proxy+}")

	// A binary body: base64 to the function, the same bytes back.
	png := []byte{0x89, 'P', 'N', 'G', 0, 0xff, 0x10, 0x80}
	req := newURLRequest(t, "POST", hostURL+"/prod/upload", png)
	req.Header.Set("Content-Type", "image/png")
	req.Header.Set("Accept", "image/png")
	if r := doURL(t, c, req); r.Status != 200 || !bytes.Equal(r.Body, png) {
		t.Fatalf("binary body: %s (want %s)", r, base64.StdEncoding.EncodeToString(png))
	}

	// API keys and a usage plan with a quota of two requests a day.
	key := cli.ok("apigateway", "create-api-key", "--name", "e2e", "--enabled")
	plan := jstr(cli.ok("apigateway", "create-usage-plan", "--name", "basic", "--api-stages", "apiId="+id+",stage=prod",
		"--quota", "limit=2,period=DAY", "--throttle", "burstLimit=10,rateLimit=100"), "id")
	cli.ok("apigateway", "create-usage-plan-key", "--usage-plan-id", plan, "--key-id", jstr(key, "id"), "--key-type", "API_KEY")
	expectMessage(t, "no API key", doURL(t, c, newURLRequest(t, "GET", hostURL+"/prod/health", nil)), 403, "Forbidden")
	for i := 0; i < 2; i++ {
		req := newURLRequest(t, "GET", hostURL+"/prod/health", nil)
		req.Header.Set("x-api-key", jstr(key, "value"))
		if r := doURL(t, c, req); r.Status != 200 || string(r.Body) != `{"healthy": true}` {
			t.Fatalf("keyed call %d: %s", i, r)
		}
	}
	req = newURLRequest(t, "GET", hostURL+"/prod/health", nil)
	req.Header.Set("x-api-key", jstr(key, "value"))
	expectMessage(t, "past the quota", doURL(t, c, req), 429, "Limit Exceeded")

	// REST's answer for a path nothing serves.
	expectMessage(t, "no resource", doURL(t, c, newURLRequest(t, "GET", hostURL+"/prod", nil)), 403, "Missing Authentication Token")
	expectMessage(t, "no stage", doURL(t, c, newURLRequest(t, "GET", hostURL+"/dev/items/1", nil)), 403, "Missing Authentication Token")

	// The TOKEN authorizer.
	expectMessage(t, "no token", doURL(t, c, newURLRequest(t, "GET", hostURL+"/prod/secure", nil)), 401, "Unauthorized")
	req = newURLRequest(t, "GET", hostURL+"/prod/secure", nil)
	req.Header.Set("Authorization", "deny")
	if r := doURL(t, c, req); r.Status != 403 || string(r.Body) != `{"Message":"User is not authorized to access this resource"}` {
		t.Errorf("authorizer denies: %s", r)
	}
	req = newURLRequest(t, "GET", hostURL+"/prod/secure", nil)
	req.Header.Set("Authorization", "allow")
	_, ev = event("authorizer allows", doURL(t, c, req))
	expectEq(t, "authorizer principal", jstr(ev, "requestContext", "authorizer", "principalId"), "e2e-user")
	expectEq(t, "authorizer context", jstr(ev, "requestContext", "authorizer", "who"), "e2e")

	// The canary: the same method to restv2 in a second deployment, 25 %
	// of the stage's traffic, with a stage variable override.
	cli.ok("apigateway", "put-integration", "--rest-api-id", id, "--resource-id", jstr(item, "id"), "--http-method", "GET",
		"--type", "AWS_PROXY", "--integration-http-method", "POST", "--uri", uri("restv2"))
	dep2 := jstr(cli.ok("apigateway", "create-deployment", "--rest-api-id", id, "--stage-name", "prod",
		"--canary-settings", `{"percentTraffic":25,"stageVariableOverrides":{"color":"green"}}`), "id")
	st := cli.ok("apigateway", "get-stage", "--rest-api-id", id, "--stage-name", "prod")
	expectEq(t, "stage deployment", jstr(st, "deploymentId"), dep1)
	expectEq(t, "canary deployment", jstr(st, "canarySettings", "deploymentId"), dep2)

	const calls = 1000
	var mu sync.Mutex
	counts := map[string]int{}
	var wg sync.WaitGroup
	work := make(chan int)
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range work {
				resp, err := c.Get(hostURL + "/prod/items/1")
				if err != nil {
					mu.Lock()
					counts["error "+err.Error()]++
					mu.Unlock()
					continue
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				var out struct {
					Fn    string `json:"fn"`
					Event struct {
						StageVariables map[string]string `json:"stageVariables"`
					} `json:"event"`
				}
				json.Unmarshal(body, &out)
				mu.Lock()
				counts[fmt.Sprint(resp.StatusCode, " ", out.Fn, " ", out.Event.StageVariables["color"])]++
				mu.Unlock()
			}
		}()
	}
	start := time.Now()
	for i := 0; i < calls; i++ {
		work <- i
	}
	close(work)
	wg.Wait()
	t.Logf("%d canary calls in %v: %v", calls, time.Since(start), counts)
	if counts["200 restv1 blue"]+counts["200 restv2 green"] != calls {
		t.Fatalf("answers %v: want only 200 restv1 blue and 200 restv2 green", counts)
	}
	if n := counts["200 restv2 green"]; n < 200 || n > 300 {
		t.Fatalf("canary share %d/%d, want 25 %% ± 5", n, calls)
	}

	// Promotion: the stage takes the canary's deployment.
	cli.ok("apigateway", "update-stage", "--rest-api-id", id, "--stage-name", "prod", "--patch-operations",
		"op=replace,path=/deploymentId,value="+dep2, "op=remove,path=/canarySettings")
	for i := 0; i < 50; i++ {
		fn, ev := event("after promotion", doURL(t, c, newURLRequest(t, "GET", hostURL+"/prod/items/1", nil)))
		if fn != "restv2" || jstr(ev, "stageVariables", "color") != "blue" {
			t.Fatalf("after promotion call %d: %s %v", i, fn, jget(ev, "stageVariables"))
		}
	}
}
