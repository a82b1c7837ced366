package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// The function URL test function (testdata/urlfn), built once.
var urlFnBuild struct {
	once sync.Once
	zip  []byte
	err  error
}

func urlFnZip(t testing.TB) []byte {
	t.Helper()
	urlFnBuild.once.Do(func() {
		out := filepath.Join(filepath.Dir(kumoBin), "urlfn-bootstrap")
		cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", out, "./test/e2e/testdata/urlfn")
		cmd.Dir = repoDir
		cmd.Env = append(cleanEnv(), "CGO_ENABLED=0")
		if b, err := cmd.CombinedOutput(); err != nil {
			urlFnBuild.err = fmt.Errorf("go build ./test/e2e/testdata/urlfn: %v\n%s", err, b)
			return
		}
		bin, err := os.ReadFile(out)
		if err != nil {
			urlFnBuild.err = err
			return
		}
		urlFnBuild.zip = makeZip(t, zipEntry{Name: "bootstrap", Body: string(bin), Mode: 0o755})
	})
	if urlFnBuild.err != nil {
		t.Fatal(urlFnBuild.err)
	}
	return urlFnBuild.zip
}

func deployURLFn(t *testing.T, lc *lambda.Client, name string) {
	t.Helper()
	must[*lambda.CreateFunctionOutput](t, "CreateFunction "+name)(lc.CreateFunction(t.Context(), &lambda.CreateFunctionInput{
		FunctionName: aws.String(name),
		Runtime:      types.RuntimeProvidedal2023,
		Role:         aws.String(testRole),
		Handler:      aws.String("bootstrap"),
		Code:         &types.FunctionCode{ZipFile: urlFnZip(t)},
		MemorySize:   aws.Int32(128),
		Timeout:      aws.Int32(10),
	}))
	waitActive(t, lc, name)
}

var urlPattern = regexp.MustCompile(`^http://([a-z0-9]{32})\.lambda-url\.us-east-1\.localhost:(\d+)/$`)

// urlID checks a FunctionUrl's shape and returns its url-id.
func urlID(t *testing.T, s *server, functionURL string) string {
	t.Helper()
	m := urlPattern.FindStringSubmatch(functionURL)
	_, port, _ := net.SplitHostPort(s.addr)
	if m == nil || m[2] != port {
		t.Fatalf("FunctionUrl = %q, want http://<32 [a-z0-9]>.lambda-url.%s.localhost:%s/", functionURL, region, port)
	}
	return m[1]
}

// urlClient sends every request to the server whatever the URL's host, as
// a resolver mapping *.localhost to loopback would.
func urlClient(s *server) *http.Client {
	d := &net.Dialer{Timeout: 5 * time.Second}
	return &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return d.DialContext(ctx, network, s.addr)
		}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// urlResponse is one answer from a function URL.
type urlResponse struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r *urlResponse) String() string {
	return fmt.Sprintf("%d %v\n%s", r.Status, r.Header, r.Body)
}

func doURL(t *testing.T, c *http.Client, req *http.Request) *urlResponse {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return &urlResponse{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

func newURLRequest(t *testing.T, method, u string, body []byte) *http.Request {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, u, rd)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// expectStatus fails unless r has the status and a request id.
func expectStatus(t *testing.T, what string, r *urlResponse, status int) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("%s: got %s, want status %d", what, r, status)
	}
	if r.Header.Get("X-Amzn-Requestid") == "" {
		t.Errorf("%s: no x-amzn-RequestId header", what)
	}
}

func TestFunctionURLs(t *testing.T) {
	t.Parallel()
	var args []string
	if os.Geteuid() == 0 {
		args = []string{"--sandbox", "linux"}
	}
	s := startServer(t, t.TempDir(), args...)
	lc := newSDK(t, s)
	ctx := t.Context()
	deployURLFn(t, lc, "web")
	_, port, _ := net.SplitHostPort(s.addr)

	// The configuration API.
	created := must[*lambda.CreateFunctionUrlConfigOutput](t, "CreateFunctionUrlConfig")(lc.CreateFunctionUrlConfig(ctx, &lambda.CreateFunctionUrlConfigInput{
		FunctionName: aws.String("web"),
		AuthType:     types.FunctionUrlAuthTypeNone,
		Cors: &types.Cors{AllowOrigins: []string{"https://app.example"}, AllowMethods: []string{"GET", "POST"},
			AllowHeaders: []string{"x-custom"}, ExposeHeaders: []string{"x-custom"}, MaxAge: aws.Int32(600)},
	}))
	id := urlID(t, s, aws.ToString(created.FunctionUrl))
	expectEq(t, "FunctionArn", aws.ToString(created.FunctionArn), functionARN("web"))
	expectEq(t, "InvokeMode", created.InvokeMode, types.InvokeModeBuffered)
	_, err := lc.CreateFunctionUrlConfig(ctx, &lambda.CreateFunctionUrlConfigInput{FunctionName: aws.String("web"), AuthType: types.FunctionUrlAuthTypeNone})
	expectAPIError(t, "duplicate CreateFunctionUrlConfig", err, "ResourceConflictException", 409)
	_, err = lc.CreateFunctionUrlConfig(ctx, &lambda.CreateFunctionUrlConfigInput{FunctionName: aws.String("web"), Qualifier: aws.String("1"), AuthType: types.FunctionUrlAuthTypeNone})
	expectAPIError(t, "CreateFunctionUrlConfig on a version", err, "ValidationException", 400)
	_, err = lc.CreateFunctionUrlConfig(ctx, &lambda.CreateFunctionUrlConfigInput{FunctionName: aws.String("web"), Qualifier: aws.String("nope"), AuthType: types.FunctionUrlAuthTypeNone})
	expectAPIError(t, "CreateFunctionUrlConfig on a missing alias", err, "ResourceNotFoundException", 404)
	_, err = lc.GetFunctionUrlConfig(ctx, &lambda.GetFunctionUrlConfigInput{FunctionName: aws.String("missing")})
	expectAPIError(t, "GetFunctionUrlConfig of a missing function", err, "ResourceNotFoundException", 404)
	got := must[*lambda.GetFunctionUrlConfigOutput](t, "GetFunctionUrlConfig")(lc.GetFunctionUrlConfig(ctx, &lambda.GetFunctionUrlConfigInput{FunctionName: aws.String("web")}))
	expectEq(t, "Get FunctionUrl", aws.ToString(got.FunctionUrl), aws.ToString(created.FunctionUrl))
	expectEq(t, "Get MaxAge", aws.ToInt32(got.Cors.MaxAge), 600)
	if aws.ToString(got.LastModifiedTime) == "" || aws.ToString(got.CreationTime) != aws.ToString(created.CreationTime) {
		t.Errorf("times: created %v, got %v / %v", aws.ToString(created.CreationTime), aws.ToString(got.CreationTime), aws.ToString(got.LastModifiedTime))
	}

	must[*lambda.PublishVersionOutput](t, "PublishVersion")(lc.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: aws.String("web")}))
	must[*lambda.CreateAliasOutput](t, "CreateAlias")(lc.CreateAlias(ctx, &lambda.CreateAliasInput{FunctionName: aws.String("web"), Name: aws.String("live"), FunctionVersion: aws.String("1")}))
	iamCfg := must[*lambda.CreateFunctionUrlConfigOutput](t, "CreateFunctionUrlConfig live")(lc.CreateFunctionUrlConfig(ctx, &lambda.CreateFunctionUrlConfigInput{
		FunctionName: aws.String("web"), Qualifier: aws.String("live"), AuthType: types.FunctionUrlAuthTypeAwsIam}))
	iamID := urlID(t, s, aws.ToString(iamCfg.FunctionUrl))
	expectEq(t, "alias FunctionArn", aws.ToString(iamCfg.FunctionArn), functionARN("web")+":live")
	list := must[*lambda.ListFunctionUrlConfigsOutput](t, "ListFunctionUrlConfigs")(lc.ListFunctionUrlConfigs(ctx, &lambda.ListFunctionUrlConfigsInput{FunctionName: aws.String("web")}))
	if len(list.FunctionUrlConfigs) != 2 || aws.ToString(list.FunctionUrlConfigs[1].FunctionUrl) != aws.ToString(iamCfg.FunctionUrl) {
		t.Errorf("ListFunctionUrlConfigs = %+v", list.FunctionUrlConfigs)
	}

	c := urlClient(s)
	hostURL := aws.ToString(created.FunctionUrl)

	// NONE without a permission is forbidden; AddPermission opens it.
	r := doURL(t, c, newURLRequest(t, "GET", hostURL+"echo", nil))
	expectStatus(t, "NONE URL without permission", r, 403)
	expectEq(t, "403 body", string(r.Body), `{"Message":"Forbidden"}`)
	must[*lambda.AddPermissionOutput](t, "AddPermission")(lc.AddPermission(ctx, &lambda.AddPermissionInput{
		FunctionName: aws.String("web"), StatementId: aws.String("public-url"), Action: aws.String("lambda:InvokeFunctionUrl"),
		Principal: aws.String("*"), FunctionUrlAuthType: types.FunctionUrlAuthTypeNone,
	}))

	t.Run("echo", func(t *testing.T) {
		req := newURLRequest(t, "GET", hostURL+"echo?a=1&b=two%20words&a=3", nil)
		req.Header.Add("Cookie", "c1=v1; c2=v2")
		req.Header.Add("X-Dup", "x")
		req.Header.Add("X-Dup", "y")
		req.Header.Set("User-Agent", "kumo-e2e")
		r := doURL(t, c, req)
		expectStatus(t, "GET echo", r, 200)
		var e map[string]any
		if err := json.Unmarshal(r.Body, &e); err != nil {
			t.Fatalf("echo body: %v\n%s", err, r.Body)
		}
		expectEq(t, "version", jstr(e, "version"), "2.0")
		expectEq(t, "routeKey", jstr(e, "routeKey"), "$default")
		expectEq(t, "rawPath", jstr(e, "rawPath"), "/echo")
		expectEq(t, "rawQueryString", jstr(e, "rawQueryString"), "a=1&b=two%20words&a=3")
		expectEq(t, "query a", jstr(e, "queryStringParameters", "a"), "1,3")
		expectEq(t, "query b", jstr(e, "queryStringParameters", "b"), "two words")
		expectEq(t, "cookies", fmt.Sprint(jget(e, "cookies")), "[c1=v1 c2=v2]")
		expectEq(t, "x-dup", jstr(e, "headers", "x-dup"), "x,y")
		expectEq(t, "host", jstr(e, "headers", "host"), id+".lambda-url.us-east-1.localhost:"+port)
		expectEq(t, "apiId", jstr(e, "requestContext", "apiId"), id)
		expectEq(t, "domainName", jstr(e, "requestContext", "domainName"), id+".lambda-url.us-east-1.localhost")
		expectEq(t, "method", jstr(e, "requestContext", "http", "method"), "GET")
		expectEq(t, "sourceIp", jstr(e, "requestContext", "http", "sourceIp"), "127.0.0.1")
		expectEq(t, "userAgent", jstr(e, "requestContext", "http", "userAgent"), "kumo-e2e")
		expectEq(t, "stage", jstr(e, "requestContext", "stage"), "$default")
		expectEq(t, "requestId", jstr(e, "requestContext", "requestId"), r.Header.Get("X-Amzn-Requestid"))
		if tm := jstr(e, "requestContext", "time"); !regexp.MustCompile(`^\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d \+0000$`).MatchString(tm) {
			t.Errorf("requestContext.time = %q", tm)
		}

		// The path form reaches the same function with the same path.
		r = doURL(t, c, newURLRequest(t, "POST", s.url+"/lambda-url/"+id+"/echo", []byte(`{"x":1}`)))
		expectStatus(t, "POST path form", r, 200)
		if err := json.Unmarshal(r.Body, &e); err != nil {
			t.Fatal(err)
		}
		expectEq(t, "path form rawPath", jstr(e, "rawPath"), "/echo")
		expectEq(t, "path form body", jstr(e, "body"), base64.StdEncoding.EncodeToString([]byte(`{"x":1}`)))
		expectEq(t, "path form isBase64Encoded", jget(e, "isBase64Encoded"), any(true)) // no content type: binary
	})

	t.Run("binary", func(t *testing.T) {
		bin := make([]byte, 4096)
		for i := range bin {
			bin[i] = byte(i * 7)
		}
		req := newURLRequest(t, "POST", hostURL+"binary", bin)
		req.Header.Set("Content-Type", "application/octet-stream")
		r := doURL(t, c, req)
		expectStatus(t, "POST binary", r, 200)
		if !bytes.Equal(r.Body, bin) {
			t.Errorf("binary round trip: got %d bytes, want %d", len(r.Body), len(bin))
		}
		expectEq(t, "content-type", r.Header.Get("Content-Type"), "application/octet-stream")
	})

	t.Run("status", func(t *testing.T) {
		r := doURL(t, c, newURLRequest(t, "GET", hostURL+"status/418", nil))
		expectStatus(t, "custom status", r, 418)
		expectEq(t, "x-custom", r.Header.Get("X-Custom"), "urlfn")
		expectEq(t, "set-cookie", fmt.Sprint(r.Header.Values("Set-Cookie")), "[session=abc; Path=/ theme=dark]")
		expectEq(t, "body", string(r.Body), "status 418")
		r = doURL(t, c, newURLRequest(t, "GET", hostURL+"plain", nil))
		expectStatus(t, "plain object", r, 200)
		expectEq(t, "plain content-type", r.Header.Get("Content-Type"), "application/json")
		expectEq(t, "plain body", string(r.Body), `{"method":"GET","plain":true}`)
		r = doURL(t, c, newURLRequest(t, "GET", hostURL+"string", nil))
		expectStatus(t, "plain string", r, 200)
		expectEq(t, "string body", string(r.Body), "hello from urlfn")
	})

	t.Run("error", func(t *testing.T) {
		r := doURL(t, c, newURLRequest(t, "GET", hostURL+"error", nil))
		expectStatus(t, "function error", r, 502)
		expectEq(t, "502 body", string(r.Body), `{"Message":"Internal Server Error"}`)
		big := bytes.Repeat([]byte("a"), 6*1024*1024+1)
		r = doURL(t, c, newURLRequest(t, "POST", hostURL+"echo", big))
		expectStatus(t, "large body", r, 413)
		r = doURL(t, c, newURLRequest(t, "GET", "http://"+strings.Repeat("z", 32)+".lambda-url.us-east-1.localhost:"+port+"/", nil))
		expectStatus(t, "unknown url-id", r, 404)
	})

	t.Run("cors", func(t *testing.T) {
		req := newURLRequest(t, "OPTIONS", hostURL+"echo", nil)
		req.Header.Set("Origin", "https://app.example")
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "x-custom")
		r := doURL(t, c, req)
		expectStatus(t, "preflight", r, 200)
		expectEq(t, "allow-origin", r.Header.Get("Access-Control-Allow-Origin"), "https://app.example")
		expectEq(t, "allow-methods", r.Header.Get("Access-Control-Allow-Methods"), "GET,POST")
		expectEq(t, "allow-headers", r.Header.Get("Access-Control-Allow-Headers"), "x-custom")
		expectEq(t, "max-age", r.Header.Get("Access-Control-Max-Age"), "600")
		expectEq(t, "preflight body", string(r.Body), "")

		req = newURLRequest(t, "GET", hostURL+"cors", nil)
		req.Header.Set("Origin", "https://app.example")
		r = doURL(t, c, req)
		expectStatus(t, "CORS GET", r, 200)
		expectEq(t, "allow-origin on GET", r.Header.Get("Access-Control-Allow-Origin"), "https://app.example")
		expectEq(t, "expose-headers on GET", r.Header.Get("Access-Control-Expose-Headers"), "x-custom")

		req = newURLRequest(t, "GET", hostURL+"cors", nil)
		req.Header.Set("Origin", "https://evil.example")
		r = doURL(t, c, req)
		expectStatus(t, "CORS GET from another origin", r, 200)
		expectEq(t, "no allow-origin", r.Header.Get("Access-Control-Allow-Origin"), "")
	})

	t.Run("iam", func(t *testing.T) {
		iamURL := aws.ToString(iamCfg.FunctionUrl) + "echo"
		r := doURL(t, c, newURLRequest(t, "GET", iamURL, nil))
		expectStatus(t, "unsigned AWS_IAM", r, 403)
		expectEq(t, "unsigned body", string(r.Body), `{"Message":"Forbidden"}`)

		body := []byte(`{"signed":true}`)
		req := newURLRequest(t, "POST", iamURL+"?q=1", body)
		req.Header.Set("Content-Type", "application/json")
		sum := sha256.Sum256(body)
		creds := aws.Credentials{AccessKeyID: rootAccessKeyID, SecretAccessKey: rootSecretAccessKey}
		if err := v4.NewSigner().SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), "lambda", region, time.Now()); err != nil {
			t.Fatal(err)
		}
		r = doURL(t, c, req)
		expectStatus(t, "signed AWS_IAM", r, 200)
		var e map[string]any
		if err := json.Unmarshal(r.Body, &e); err != nil {
			t.Fatal(err)
		}
		expectEq(t, "apiId", jstr(e, "requestContext", "apiId"), iamID)
		expectEq(t, "authorizer accessKey", jstr(e, "requestContext", "authorizer", "iam", "accessKey"), rootAccessKeyID)
		expectEq(t, "signed body", jstr(e, "body"), `{"signed":true}`)

		req = newURLRequest(t, "GET", iamURL, nil)
		bad := aws.Credentials{AccessKeyID: rootAccessKeyID, SecretAccessKey: "wrong"}
		if err := v4.NewSigner().SignHTTP(ctx, bad, req, hex.EncodeToString(sha256.New().Sum(nil)), "lambda", region, time.Now()); err != nil {
			t.Fatal(err)
		}
		expectStatus(t, "badly signed AWS_IAM", doURL(t, c, req), 403)
	})

	t.Run("curl", func(t *testing.T) {
		if _, err := exec.LookPath("curl"); err != nil {
			t.Skip("curl is not installed")
		}
		host := id + ".lambda-url.us-east-1.localhost"
		res := runCmd(t, cleanEnv(), nil, 30*time.Second, "curl", "-sS", "-i", "-H", "Host: "+host, "-b", "k=v", s.url+"/status/201?x=1")
		if res.Code != 0 || !strings.Contains(res.Stdout, "HTTP/1.1 201") || !strings.Contains(strings.ToLower(res.Stdout), "x-custom: urlfn") {
			t.Errorf("curl with a Host header:\n%s", res)
		}
		res = runCmd(t, cleanEnv(), []byte("\x89PNG\r\n"), 30*time.Second, "curl", "-sS", "--resolve", host+":"+port+":127.0.0.1",
			"-H", "Content-Type: image/png", "--data-binary", "@-", "http://"+host+":"+port+"/echo")
		var e map[string]any
		if res.Code != 0 || json.Unmarshal([]byte(res.Stdout), &e) != nil {
			t.Fatalf("curl --resolve:\n%s", res)
		}
		expectEq(t, "curl body base64", jget(e, "isBase64Encoded"), any(true))
		expectEq(t, "curl method", jstr(e, "requestContext", "http", "method"), "POST")
		expectEq(t, "curl body", jstr(e, "body"), base64.StdEncoding.EncodeToString([]byte("\x89PNG\r\n")))
	})

	t.Run("chromium", func(t *testing.T) {
		chromium := ""
		for _, name := range []string{"chromium", "chromium-browser"} {
			if p, err := exec.LookPath(name); err == nil {
				chromium = p
				break
			}
		}
		if chromium == "" {
			t.Skip("chromium is not installed")
		}
		res := runCmd(t, cleanEnv(), nil, 90*time.Second, chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
			"--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
			"--user-data-dir="+t.TempDir(), "--dump-dom", hostURL+"page")
		if res.Code != 0 || !strings.Contains(res.Stdout, "rendered-by-script 42") {
			t.Errorf("chromium did not render the page's script output:\n%s", res)
		}
	})

	t.Run("cli", func(t *testing.T) {
		cli := newCLI(t, s)
		cli.ok("lambda", "create-alias", "--function-name", "web", "--name", "cli", "--function-version", "1")
		out := cli.ok("lambda", "create-function-url-config", "--function-name", "web", "--qualifier", "cli",
			"--auth-type", "NONE", "--cors", `{"AllowOrigins":["*"],"AllowMethods":["GET"],"MaxAge":10}`)
		cliURL := jstr(out, "FunctionUrl")
		urlID(t, s, cliURL)
		expectEq(t, "cli FunctionArn", jstr(out, "FunctionArn"), functionARN("web")+":cli")
		cli.fail("ResourceConflictException", "lambda", "create-function-url-config", "--function-name", "web", "--qualifier", "cli", "--auth-type", "NONE")
		cli.fail("ValidationException", "lambda", "create-function-url-config", "--function-name", "web", "--qualifier", "1", "--auth-type", "NONE")
		out = cli.ok("lambda", "update-function-url-config", "--function-name", "web", "--qualifier", "cli", "--cors", `{"AllowOrigins":["https://x.example"],"MaxAge":20}`)
		expectEq(t, "cli updated MaxAge", jnum(out, "Cors", "MaxAge"), 20)
		expectEq(t, "cli updated FunctionUrl", jstr(out, "FunctionUrl"), cliURL)
		out = cli.ok("lambda", "get-function-url-config", "--function-name", "web", "--qualifier", "cli")
		expectEq(t, "cli get origin", jstr(out, "Cors", "AllowOrigins", "0"), "https://x.example")
		out = cli.ok("lambda", "list-function-url-configs", "--function-name", "web")
		if n := len(jget(out, "FunctionUrlConfigs").([]any)); n != 3 {
			t.Errorf("list-function-url-configs: %d configs, want 3: %v", n, out)
		}
		cli.ok("lambda", "add-permission", "--function-name", "web", "--qualifier", "cli", "--statement-id", "url",
			"--action", "lambda:InvokeFunctionUrl", "--principal", "*", "--function-url-auth-type", "NONE")
		expectStatus(t, "alias URL after add-permission", doURL(t, c, newURLRequest(t, "GET", cliURL+"plain", nil)), 200)
		cli.ok("lambda", "delete-function-url-config", "--function-name", "web", "--qualifier", "cli")
		cli.fail("ResourceNotFoundException", "lambda", "get-function-url-config", "--function-name", "web", "--qualifier", "cli")
	})

	// Update and delete.
	up := must[*lambda.UpdateFunctionUrlConfigOutput](t, "UpdateFunctionUrlConfig")(lc.UpdateFunctionUrlConfig(ctx, &lambda.UpdateFunctionUrlConfigInput{
		FunctionName: aws.String("web"), AuthType: types.FunctionUrlAuthTypeAwsIam}))
	expectEq(t, "updated FunctionUrl", aws.ToString(up.FunctionUrl), hostURL)
	expectStatus(t, "NONE URL turned AWS_IAM", doURL(t, c, newURLRequest(t, "GET", hostURL+"echo", nil)), 403)
	if _, err := lc.DeleteFunctionUrlConfig(ctx, &lambda.DeleteFunctionUrlConfigInput{FunctionName: aws.String("web")}); err != nil {
		t.Fatal(err)
	}
	_, err = lc.GetFunctionUrlConfig(ctx, &lambda.GetFunctionUrlConfigInput{FunctionName: aws.String("web")})
	expectAPIError(t, "GetFunctionUrlConfig after delete", err, "ResourceNotFoundException", 404)
	expectStatus(t, "deleted URL", doURL(t, c, newURLRequest(t, "GET", hostURL+"echo", nil)), 404)
}
