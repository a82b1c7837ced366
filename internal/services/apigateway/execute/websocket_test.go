package execute_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/apigatewayv2"
	"github.com/aws/aws-sdk-go-v2/service/apigatewayv2/types"
	"github.com/coder/websocket"

	"github.com/kumo-run/kumo/internal/awsproto"
	"github.com/kumo-run/kumo/internal/iam"
	"github.com/kumo-run/kumo/internal/iam/authz"
	"github.com/kumo-run/kumo/internal/invoke"
	"github.com/kumo-run/kumo/internal/poll"
)

func (h *harness) wsAPI(t testing.TB, name string) string {
	t.Helper()
	out, err := h.cl.CreateApi(t.Context(), &apigatewayv2.CreateApiInput{Name: aws.String(name), ProtocolType: types.ProtocolTypeWebsocket,
		RouteSelectionExpression: aws.String("$request.body.action")})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(aws.ToString(out.ApiEndpoint), "ws://") {
		t.Fatalf("ApiEndpoint %s", aws.ToString(out.ApiEndpoint))
	}
	return aws.ToString(out.ApiId)
}

func (h *harness) wsIntegration(t testing.TB, apiID, function string) string {
	t.Helper()
	out, err := h.cl.CreateIntegration(t.Context(), &apigatewayv2.CreateIntegrationInput{ApiId: &apiID, IntegrationType: types.IntegrationTypeAwsProxy,
		IntegrationUri: aws.String(fnARN(function))})
	if err != nil {
		t.Fatal(err)
	}
	return "integrations/" + aws.ToString(out.IntegrationId)
}

// wsRoute adds a route to function; twoWay gives it a route response.
func (h *harness) wsRoute(t testing.TB, apiID, key, function string, twoWay bool) {
	t.Helper()
	in := &apigatewayv2.CreateRouteInput{ApiId: &apiID, RouteKey: &key, Target: aws.String(h.wsIntegration(t, apiID, function))}
	if twoWay {
		in.RouteResponseSelectionExpression = aws.String("$default")
	}
	out, err := h.cl.CreateRoute(t.Context(), in)
	if err != nil {
		t.Fatalf("CreateRoute %s: %v", key, err)
	}
	if twoWay {
		if _, err := h.cl.CreateRouteResponse(t.Context(), &apigatewayv2.CreateRouteResponseInput{ApiId: &apiID, RouteId: out.RouteId,
			RouteResponseKey: aws.String("$default")}); err != nil {
			t.Fatal(err)
		}
	}
}

// dial connects to an API's stage by host name, or by path with pathStyle.
func (h *harness) dial(t testing.TB, apiID, stagePath string, header http.Header, pathStyle bool) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	opts := &websocket.DialOptions{HTTPHeader: header, HTTPClient: h.srv.Client()}
	u := "ws://" + h.host + stagePath
	if pathStyle {
		u = "ws://" + h.host + "/execute-api/" + apiID + stagePath
	} else {
		opts.Host = apiID + ".execute-api.us-east-1.localhost:" + strings.Split(h.host, ":")[1]
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	c, resp, err := websocket.Dial(ctx, u, opts)
	if c != nil {
		t.Cleanup(func() { c.CloseNow() })
	}
	return c, resp, err
}

// dialProtocol connects by host name asking for a subprotocol.
func (h *harness) dialProtocol(t testing.TB, apiID, stagePath, protocol string) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	c, resp, err := websocket.Dial(ctx, "ws://"+h.host+stagePath, &websocket.DialOptions{HTTPClient: h.srv.Client(), Subprotocols: []string{protocol},
		Host: apiID + ".execute-api.us-east-1.localhost:" + strings.Split(h.host, ":")[1]})
	if c != nil {
		t.Cleanup(func() { c.CloseNow() })
	}
	return c, resp, err
}

func readText(t *testing.T, c *websocket.Conn) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	_, b, err := c.Read(ctx)
	if err != nil {
		t.Fatalf("reading a message: %v", err)
	}
	return string(b)
}

func writeText(t *testing.T, c *websocket.Conn, s string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if err := c.Write(ctx, websocket.MessageText, []byte(s)); err != nil {
		t.Fatalf("writing a message: %v", err)
	}
}

// closeStatus reads until the connection closes and returns its status.
func closeStatus(t *testing.T, c *websocket.Conn) websocket.StatusCode {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	for {
		if _, _, err := c.Read(ctx); err != nil {
			if ctx.Err() != nil {
				t.Fatal("the connection did not close")
			}
			return websocket.CloseStatus(err)
		}
	}
}

// manage calls the @connections API, SigV4-signed for execute-api unless
// key is "".
func (h *harness) manage(t *testing.T, method, apiID, stage, connID, key, secret, body string) response {
	t.Helper()
	req, err := http.NewRequest(method, h.srv.URL+"/execute-api/"+apiID+"/"+stage+"/@connections/"+connID, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		sum := sha256.Sum256([]byte(body))
		if err := v4.NewSigner().SignHTTP(t.Context(), aws.Credentials{AccessKeyID: key, SecretAccessKey: secret}, req,
			hex.EncodeToString(sum[:]), "execute-api", "us-east-1", time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	resp, err := h.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{resp.StatusCode, resp.Header, string(b)}
}

func waitCalls(t *testing.T, h *harness, name string, n int) {
	t.Helper()
	poll.Until(t, time.Minute, name+" invoked", func() error {
		if got := h.fns.count(name); got < n {
			return fmt.Errorf("%d invocations of %d", got, n)
		}
		return nil
	})
}

// TestWebSocket: $connect with the upgrade's headers and query, messages
// routed by the route selection expression to custom routes or
// $default, a two-way route's answer sent back, one-way answers dropped,
// the @connections API (POST, GET, DELETE, GoneException) signed for
// execute-api, and $disconnect when the connection closes.
func TestWebSocket(t *testing.T) {
	h := newHarness(t)
	id := h.wsAPI(t, "chat")
	arn := "arn:aws:execute-api:us-east-1:" + account + ":" + id + "/prod/"
	h.function("conn", arn+"$connect", answer(map[string]any{"statusCode": 200}))
	h.function("disc", arn+"$disconnect", answer(map[string]any{"statusCode": 200}))
	h.function("send", arn+"sendmessage", answer(map[string]any{"statusCode": 200, "body": "dropped"}))
	h.function("def", arn+"$default", answer(map[string]any{"statusCode": 200, "body": "dropped too"}))
	h.function("echo", arn+"echo", func(_ context.Context, ev []byte) (*invoke.Output, error) {
		var e struct{ Body string }
		json.Unmarshal(ev, &e)
		b, _ := json.Marshal(map[string]any{"statusCode": 200, "body": "echo:" + e.Body})
		return &invoke.Output{Status: 200, Payload: b}, nil
	})
	h.wsRoute(t, id, "$connect", "conn", false)
	h.wsRoute(t, id, "$disconnect", "disc", false)
	h.wsRoute(t, id, "$default", "def", false)
	h.wsRoute(t, id, "sendmessage", "send", false)
	h.wsRoute(t, id, "echo", "echo", true)
	h.stage(t, id, "prod", nil)

	c, _, err := h.dial(t, id, "/prod?user=ann", http.Header{"X-Test": {"a"}, "User-Agent": {"chat-test"}}, false)
	if err != nil {
		t.Fatal(err)
	}
	ev := h.fns.event(t, "conn")
	connID, _ := jget(ev, "requestContext", "connectionId").(string)
	for _, want := range []struct {
		got, want any
	}{
		{jget(ev, "requestContext", "eventType"), "CONNECT"},
		{jget(ev, "requestContext", "routeKey"), "$connect"},
		{jget(ev, "requestContext", "stage"), "prod"},
		{jget(ev, "requestContext", "apiId"), id},
		{jget(ev, "requestContext", "messageDirection"), "IN"},
		{jget(ev, "requestContext", "domainName"), id + ".execute-api.us-east-1.localhost"},
		{jget(ev, "requestContext", "identity", "sourceIp"), "127.0.0.1"},
		{jget(ev, "requestContext", "identity", "userAgent"), "chat-test"},
		{jget(ev, "queryStringParameters", "user"), "ann"},
		{jget(ev, "headers", "X-Test"), "a"},
		{jget(ev, "isBase64Encoded"), false},
	} {
		if want.got != want.want {
			t.Errorf("$connect event: %v, want %v (event %v)", want.got, want.want, ev)
		}
	}
	if len(connID) != 16 || jget(ev, "requestContext", "connectedAt") == nil || jget(ev, "requestContext", "requestId") == nil {
		t.Errorf("$connect event: connectionId %q, %v", connID, ev)
	}

	writeText(t, c, `{"action":"sendmessage","text":"hi"}`)
	writeText(t, c, `not json`)
	writeText(t, c, `{"action":"echo","n":1}`)
	// Messages are served in order: the first answer to arrive is the
	// two-way route's; the one-way routes' answers were dropped.
	if got := readText(t, c); got != `echo:{"action":"echo","n":1}` {
		t.Fatalf("first message back %q", got)
	}
	ev = h.fns.event(t, "send")
	if jget(ev, "requestContext", "eventType") != "MESSAGE" || jget(ev, "requestContext", "routeKey") != "sendmessage" ||
		jget(ev, "body") != `{"action":"sendmessage","text":"hi"}` || jget(ev, "requestContext", "connectionId") != connID ||
		jget(ev, "requestContext", "messageId") == nil {
		t.Errorf("message event %v", ev)
	}
	if jget(h.fns.event(t, "def"), "requestContext", "routeKey") != "$default" || jget(h.fns.event(t, "def"), "body") != "not json" {
		t.Errorf("$default event %v", h.fns.event(t, "def"))
	}

	// @connections, path style, signed for execute-api.
	if r := h.manage(t, "POST", id, "prod", connID, rootKey, rootSecret, "pushed"); r.status != 200 {
		t.Fatalf("PostToConnection: %d %s", r.status, r.body)
	}
	if got := readText(t, c); got != "pushed" {
		t.Errorf("pushed message %q", got)
	}
	r := h.manage(t, "GET", id, "prod", connID, rootKey, rootSecret, "")
	var info struct {
		ConnectedAt, LastActiveAt string
		Identity                  struct{ SourceIP, UserAgent string }
	}
	if err := json.Unmarshal([]byte(r.body), &info); r.status != 200 || err != nil || info.ConnectedAt != "2026-12-05T12:00:00.000Z" ||
		info.Identity.SourceIP != "127.0.0.1" || info.Identity.UserAgent != "chat-test" || info.LastActiveAt == "" {
		t.Errorf("GetConnection: %d %s", r.status, r.body)
	}
	// By host name, as the SDKs address it on AWS.
	req, err := http.NewRequest("GET", h.srv.URL+"/prod/@connections/"+connID, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = id + ".execute-api.us-east-1.localhost:" + strings.Split(h.host, ":")[1]
	sum := sha256.Sum256(nil)
	if err := v4.NewSigner().SignHTTP(t.Context(), aws.Credentials{AccessKeyID: rootKey, SecretAccessKey: rootSecret}, req,
		hex.EncodeToString(sum[:]), "execute-api", "us-east-1", time.Now()); err != nil {
		t.Fatal(err)
	}
	if resp, err := h.srv.Client().Do(req); err != nil || resp.StatusCode != 200 {
		t.Errorf("GetConnection by host name: %v %v", err, resp)
	} else {
		resp.Body.Close()
	}
	if r := h.manage(t, "POST", id, "prod", connID, "", "", "x"); r.status != 403 || r.header.Get("X-Amzn-Errortype") != "ForbiddenException" {
		t.Errorf("unsigned PostToConnection: %d %s", r.status, r.body)
	}
	if r := h.manage(t, "POST", id, "prod", "AAAAAAAAAAAAAAA=", rootKey, rootSecret, "x"); r.status != 410 || r.header.Get("X-Amzn-Errortype") != "GoneException" {
		t.Errorf("unknown connection: %d %s", r.status, r.body)
	}
	if r := h.manage(t, "POST", id, "prod", connID, rootKey, rootSecret, strings.Repeat("x", 128<<10+1)); r.status != 413 ||
		r.header.Get("X-Amzn-Errortype") != "PayloadTooLargeException" {
		t.Errorf("a payload over 128 KB: %d %s", r.status, r.body)
	}
	if r := h.manage(t, "DELETE", id, "prod", connID, rootKey, rootSecret, ""); r.status != 204 {
		t.Fatalf("DeleteConnection: %d %s", r.status, r.body)
	}
	if st := closeStatus(t, c); st != websocket.StatusNormalClosure {
		t.Errorf("closed with %d", st)
	}
	waitCalls(t, h, "disc", 1)
	ev = h.fns.event(t, "disc")
	if jget(ev, "requestContext", "eventType") != "DISCONNECT" || jget(ev, "requestContext", "connectionId") != connID ||
		jget(ev, "requestContext", "disconnectStatusCode") != float64(1000) {
		t.Errorf("$disconnect event %v", ev)
	}
	if r := h.manage(t, "POST", id, "prod", connID, rootKey, rootSecret, "late"); r.status != 410 {
		t.Errorf("PostToConnection after the close: %d %s", r.status, r.body)
	}

	// Path style; the client closes; a message over 128 KB closes with 1009.
	c2, _, err := h.dial(t, id, "/prod", nil, true)
	if err != nil {
		t.Fatal(err)
	}
	writeText(t, c2, `{"action":"echo"}`)
	if got := readText(t, c2); got != `echo:{"action":"echo"}` {
		t.Errorf("path style: %q", got)
	}
	c2.Close(websocket.StatusNormalClosure, "bye")
	waitCalls(t, h, "disc", 2)
	if got := jget(h.fns.event(t, "disc"), "requestContext", "disconnectReason"); got != "bye" {
		t.Errorf("disconnectReason %v", got)
	}
	c3, _, err := h.dial(t, id, "/prod", nil, false)
	if err != nil {
		t.Fatal(err)
	}
	c3.SetReadLimit(1 << 20)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	c3.Write(ctx, websocket.MessageText, []byte(strings.Repeat("y", 128<<10+1)))
	if st := closeStatus(t, c3); st != websocket.StatusMessageTooBig {
		t.Errorf("a message over 128 KB closed with %d", st)
	}
}

// TestWebSocketRefusals: $connect's answer refuses the connection with
// its status; a function error with 502; a message no route matches on
// an API without $default gets API Gateway's Forbidden frame; a function
// error on a message gets its Internal server error frame; a plain
// request is told to upgrade.
func TestWebSocketRefusals(t *testing.T) {
	h := newHarness(t)
	id := h.wsAPI(t, "refuse")
	arn := "arn:aws:execute-api:us-east-1:" + account + ":" + id + "/*"
	h.function("gate", arn, func(_ context.Context, ev []byte) (*invoke.Output, error) {
		if strings.Contains(string(ev), `"proto":"1"`) {
			return &invoke.Output{Status: 200, Payload: []byte(`{"statusCode":200,"headers":{"Sec-WebSocket-Protocol":"chat.v1","Connection":"close"}}`)}, nil
		}
		if strings.Contains(string(ev), `"token":"ok"`) {
			return &invoke.Output{Status: 200, Payload: []byte(`{"statusCode":200}`)}, nil
		}
		if strings.Contains(string(ev), `"token":"zero"`) {
			return &invoke.Output{Status: 200, Payload: []byte(`{"statusCode":0}`)}, nil
		}
		if strings.Contains(string(ev), `"token":"crash"`) {
			return &invoke.Output{Status: 200, FunctionError: "Unhandled", Payload: []byte(`{"errorMessage":"boom"}`)}, nil
		}
		return &invoke.Output{Status: 200, Payload: []byte(`{"statusCode":401,"body":"no"}`)}, nil
	})
	h.function("crash", arn, func(context.Context, []byte) (*invoke.Output, error) {
		return &invoke.Output{Status: 200, FunctionError: "Unhandled", Payload: []byte(`{"errorMessage":"boom"}`)}, nil
	})
	h.wsRoute(t, id, "$connect", "gate", false)
	h.wsRoute(t, id, "crash", "crash", true)
	h.stage(t, id, "dev", nil)

	if _, resp, err := h.dial(t, id, "/dev?token=bad", nil, false); err == nil || resp == nil || resp.StatusCode != 401 {
		t.Errorf("$connect answering 401: %v %v", err, resp)
	}
	if _, resp, err := h.dial(t, id, "/dev?token=crash", nil, false); err == nil || resp == nil || resp.StatusCode != 502 {
		t.Errorf("$connect failing: %v %v", err, resp)
	}
	if _, resp, err := h.dial(t, id, "/dev?token=zero", nil, false); err == nil || resp == nil || resp.StatusCode != 502 {
		t.Errorf("$connect answering status 0: %v %v", err, resp)
	}
	if r := h.call(t, id, "GET", "/dev", nil, nil, false); r.status != http.StatusUpgradeRequired {
		t.Errorf("a plain GET: %d %s", r.status, r.body)
	}
	c, _, err := h.dial(t, id, "/dev?token=ok", nil, false)
	if err != nil {
		t.Fatal(err)
	}
	// $connect's headers reach the handshake: a subprotocol it chooses.
	sub, _, err := h.dialProtocol(t, id, "/dev?token=ok&proto=1", "chat.v1")
	if err != nil {
		t.Errorf("subprotocol chosen by $connect: %v", err)
	} else if sub.Subprotocol() != "chat.v1" {
		t.Errorf("subprotocol chosen by $connect: %q", sub.Subprotocol())
	}
	var frame struct{ Message, ConnectionID, RequestID string }
	writeText(t, c, `{"action":"nothing"}`)
	if err := json.Unmarshal([]byte(readText(t, c)), &frame); err != nil || frame.Message != "Forbidden" || len(frame.ConnectionID) != 16 || frame.RequestID == "" {
		t.Errorf("no route: %+v %v", frame, err)
	}
	writeText(t, c, `{"action":"crash"}`)
	if err := json.Unmarshal([]byte(readText(t, c)), &frame); err != nil || frame.Message != "Internal server error" {
		t.Errorf("a failing function: %+v %v", frame, err)
	}
}

// TestWebSocketLimits: a connection idle for 10 minutes, and one open
// for 2 hours however active, is closed with 1001 and runs $disconnect.
func TestWebSocketLimits(t *testing.T) {
	h := newHarness(t)
	id := h.wsAPI(t, "limits")
	arn := "arn:aws:execute-api:us-east-1:" + account + ":" + id + "/*"
	h.function("echo", arn, answer(map[string]any{"statusCode": 200, "body": "ok"}))
	h.function("disc", arn, answer(nil))
	h.wsRoute(t, id, "$default", "echo", true)
	h.wsRoute(t, id, "$disconnect", "disc", false)
	h.stage(t, id, "prod", nil)

	idle, _, err := h.dial(t, id, "/prod", nil, false)
	if err != nil {
		t.Fatal(err)
	}
	h.clock.add(9 * time.Minute)
	h.data.Sweep()
	writeText(t, idle, "still here")
	if got := readText(t, idle); got != "ok" {
		t.Fatalf("after 9 idle minutes: %q", got)
	}
	h.clock.add(9 * time.Minute)
	h.data.Sweep() // 9 minutes since the last message: open
	writeText(t, idle, "again")
	if got := readText(t, idle); got != "ok" {
		t.Fatalf("after another 9 minutes: %q", got)
	}
	h.clock.add(10 * time.Minute)
	h.data.Sweep()
	if st := closeStatus(t, idle); st != websocket.StatusGoingAway {
		t.Errorf("idle for 10 minutes: closed with %d", st)
	}
	waitCalls(t, h, "disc", 1)

	long, _, err := h.dial(t, id, "/prod", nil, false)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 13; i++ { // active every 9 minutes: 117 minutes
		h.clock.add(9 * time.Minute)
		h.data.Sweep()
		writeText(t, long, "tick")
		if got := readText(t, long); got != "ok" {
			t.Fatalf("minute %d: %q", 9*(i+1), got)
		}
	}
	h.clock.add(3 * time.Minute)
	h.data.Sweep()
	if st := closeStatus(t, long); st != websocket.StatusGoingAway {
		t.Errorf("open for 2 hours: closed with %d", st)
	}
	waitCalls(t, h, "disc", 2)
}

// BenchmarkWebSocketMessage is one message's round trip through a
// two-way route to an in-process function and back, over a real
// WebSocket connection on loopback.
func BenchmarkWebSocketMessage(b *testing.B) {
	h := newHarness(b)
	id := h.wsAPI(b, "bench")
	h.function("echo", "arn:aws:execute-api:us-east-1:"+account+":"+id+"/*", answer(map[string]any{"statusCode": 200, "body": "ok"}))
	h.wsRoute(b, id, "echo", "echo", true)
	h.stage(b, id, "prod", nil)
	c, _, err := h.dial(b, id, "/prod", nil, false)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	msg := []byte(`{"action":"echo","n":1}`)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if err := c.Write(ctx, websocket.MessageText, msg); err != nil {
			b.Fatal(err)
		}
		if _, got, err := c.Read(ctx); err != nil || string(got) != "ok" {
			b.Fatalf("%q %v", got, err)
		}
	}
}

// TestWebSocketIAM: a $connect route with AWS_IAM authorization admits
// an upgrade signed for execute-api by a caller allowed
// execute-api:Invoke on API/STAGE/$connect, and refuses the unsigned and
// the not allowed with 403; authorization on another route is refused.
func TestWebSocketIAM(t *testing.T) {
	h := newHarness(t)
	id := h.wsAPI(t, "iam")
	h.function("conn", "arn:aws:execute-api:us-east-1:"+account+":"+id+"/*", answer(map[string]any{"statusCode": 200}))
	integ := h.wsIntegration(t, id, "conn")
	if _, err := h.cl.CreateRoute(t.Context(), &apigatewayv2.CreateRouteInput{ApiId: &id, RouteKey: aws.String("$connect"), Target: &integ,
		AuthorizationType: types.AuthorizationTypeAwsIam}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.cl.CreateRoute(t.Context(), &apigatewayv2.CreateRouteInput{ApiId: &id, RouteKey: aws.String("other"), Target: &integ,
		AuthorizationType: types.AuthorizationTypeAwsIam}); err == nil {
		t.Error("AWS_IAM on a route other than $connect: accepted")
	}
	h.stage(t, id, "prod", nil)
	userARN := "arn:aws:iam::" + account + ":user/reader"
	pol, err := iam.Parse(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"execute-api:ManageConnections","Resource":"*"}]}`, iam.KindIdentity)
	if err != nil {
		t.Fatal(err)
	}
	h.dir.SetUser(awsproto.Identity{ARN: userARN, Account: account, UserID: "AIDAREADER"}, authz.Principal{Policies: []*iam.Policy{pol}})
	h.dir.SetAccessKey("AKIAREADER0000000001", "reader-secret", userARN)

	signed := func(key, secret string) http.Header {
		req, err := http.NewRequest("GET", h.srv.URL+"/execute-api/"+id+"/prod", nil)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(nil)
		if err := v4.NewSigner().SignHTTP(t.Context(), aws.Credentials{AccessKeyID: key, SecretAccessKey: secret}, req,
			hex.EncodeToString(sum[:]), "execute-api", "us-east-1", time.Now()); err != nil {
			t.Fatal(err)
		}
		return req.Header
	}
	if _, resp, err := h.dial(t, id, "/prod", nil, true); err == nil || resp == nil || resp.StatusCode != 403 {
		t.Errorf("unsigned: %v %v", err, resp)
	}
	if _, resp, err := h.dial(t, id, "/prod", signed("AKIAREADER0000000001", "reader-secret"), true); err == nil || resp == nil || resp.StatusCode != 403 {
		t.Errorf("not allowed execute-api:Invoke: %v %v", err, resp)
	}
	if h.fns.count("conn") != 0 {
		t.Errorf("$connect ran %d times for refused upgrades", h.fns.count("conn"))
	}
	if _, _, err := h.dial(t, id, "/prod", signed(rootKey, rootSecret), true); err != nil {
		t.Errorf("signed by the account root: %v", err)
	}
	if h.fns.count("conn") != 1 {
		t.Errorf("$connect ran %d times", h.fns.count("conn"))
	}
	// @connections: the reader may manage connections, a user without a
	// policy may not.
	connID, _ := jget(h.fns.event(t, "conn"), "requestContext", "connectionId").(string)
	if r := h.manage(t, "GET", id, "prod", connID, "AKIAREADER0000000001", "reader-secret", ""); r.status != 200 {
		t.Errorf("GetConnection by a caller allowed ManageConnections: %d %s", r.status, r.body)
	}
	h.dir.SetUser(awsproto.Identity{ARN: "arn:aws:iam::" + account + ":user/nobody", Account: account, UserID: "AIDANOBODY"}, authz.Principal{})
	h.dir.SetAccessKey("AKIANOBODY0000000001", "nobody-secret", "arn:aws:iam::"+account+":user/nobody")
	if r := h.manage(t, "POST", id, "prod", connID, "AKIANOBODY0000000001", "nobody-secret", "x"); r.status != 403 ||
		r.header.Get("X-Amzn-Errortype") != "ForbiddenException" || !strings.Contains(r.body, "execute-api:ManageConnections") {
		t.Errorf("PostToConnection by a caller without a policy: %d %s", r.status, r.body)
	}
}

// TestWebSocketThrottling: a stage's throttling settings for a route
// apply to its messages, by the server's clock; a throttled message gets
// API Gateway's error frame and does not reach the function.
func TestWebSocketThrottling(t *testing.T) {
	h := newHarness(t)
	id := h.wsAPI(t, "throttle")
	h.function("echo", "arn:aws:execute-api:us-east-1:"+account+":"+id+"/*", answer(map[string]any{"statusCode": 200, "body": "ok"}))
	h.wsRoute(t, id, "echo", "echo", true)
	h.stage(t, id, "prod", func(in *apigatewayv2.CreateStageInput) {
		in.RouteSettings = map[string]types.RouteSettings{"echo": {ThrottlingBurstLimit: aws.Int32(1), ThrottlingRateLimit: aws.Float64(1)}}
	})
	c, _, err := h.dial(t, id, "/prod", nil, false)
	if err != nil {
		t.Fatal(err)
	}
	writeText(t, c, `{"action":"echo"}`)
	if got := readText(t, c); got != "ok" {
		t.Fatalf("first message: %q", got)
	}
	writeText(t, c, `{"action":"echo"}`)
	var frame struct{ Message string }
	if err := json.Unmarshal([]byte(readText(t, c)), &frame); err != nil || frame.Message != "Too Many Requests" || h.fns.count("echo") != 1 {
		t.Errorf("second message at once: %+v %v (%d invocations)", frame, err, h.fns.count("echo"))
	}
	h.clock.add(2 * time.Second)
	writeText(t, c, `{"action":"echo"}`)
	if got := readText(t, c); got != "ok" {
		t.Errorf("a message 2 s later: %q", got)
	}
}

// TestWebSocketAuthorizer: a Lambda REQUEST authorizer on $connect with
// a query string identity source: missing → 401, a Deny policy → 403, an
// Allow policy admits the connection and its context reaches $connect's
// and every message's requestContext.authorizer; answers are cached for
// the TTL.
func TestWebSocketAuthorizer(t *testing.T) {
	h := newHarness(t)
	id := h.wsAPI(t, "authz")
	h.function("gate", "arn:aws:execute-api:us-east-1:"+account+":"+id+"/authorizers/*", func(_ context.Context, ev []byte) (*invoke.Output, error) {
		var e struct {
			MethodArn             string `json:"methodArn"`
			Type                  string `json:"type"`
			QueryStringParameters map[string]string
		}
		json.Unmarshal(ev, &e)
		effect := "Deny"
		if e.QueryStringParameters["token"] == "allow" && e.Type == "REQUEST" {
			effect = "Allow"
		}
		b, _ := json.Marshal(map[string]any{"principalId": "ann", "context": map[string]any{"user": "ann"},
			"policyDocument": map[string]any{"Version": "2012-10-17", "Statement": []any{map[string]any{"Action": "execute-api:Invoke", "Effect": effect, "Resource": e.MethodArn}}}})
		return &invoke.Output{Status: 200, Payload: b}, nil
	})
	h.function("conn", "arn:aws:execute-api:us-east-1:"+account+":"+id+"/*", answer(map[string]any{"statusCode": 200}))
	h.function("msg", "arn:aws:execute-api:us-east-1:"+account+":"+id+"/*", answer(map[string]any{"statusCode": 200, "body": "ok"}))
	if _, err := h.cl.CreateAuthorizer(t.Context(), &apigatewayv2.CreateAuthorizerInput{ApiId: &id, Name: aws.String("bad"), AuthorizerType: types.AuthorizerTypeRequest,
		AuthorizerUri: aws.String(fnARN("gate")), IdentitySource: []string{"$request.header.Authorization"}}); err == nil {
		t.Error("an HTTP API identity source on a WebSocket authorizer: accepted")
	}
	az, err := h.cl.CreateAuthorizer(t.Context(), &apigatewayv2.CreateAuthorizerInput{ApiId: &id, Name: aws.String("gate"), AuthorizerType: types.AuthorizerTypeRequest,
		AuthorizerUri: aws.String(fnARN("gate")), IdentitySource: []string{"route.request.querystring.token"}, AuthorizerResultTtlInSeconds: aws.Int32(300)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.cl.CreateRoute(t.Context(), &apigatewayv2.CreateRouteInput{ApiId: &id, RouteKey: aws.String("$connect"), Target: aws.String(h.wsIntegration(t, id, "conn")),
		AuthorizationType: types.AuthorizationTypeCustom, AuthorizerId: az.AuthorizerId}); err != nil {
		t.Fatal(err)
	}
	h.wsRoute(t, id, "$default", "msg", true)
	h.stage(t, id, "prod", nil)

	if _, resp, err := h.dial(t, id, "/prod", nil, false); err == nil || resp == nil || resp.StatusCode != 401 {
		t.Errorf("no token: %v %v", err, resp)
	}
	if _, resp, err := h.dial(t, id, "/prod?token=deny", nil, false); err == nil || resp == nil || resp.StatusCode != 403 {
		t.Errorf("denied: %v %v", err, resp)
	}
	if h.fns.count("conn") != 0 {
		t.Errorf("$connect ran %d times for refused connections", h.fns.count("conn"))
	}
	c, _, err := h.dial(t, id, "/prod?token=allow", nil, false)
	if err != nil {
		t.Fatal(err)
	}
	if got := jget(h.fns.event(t, "conn"), "requestContext", "authorizer", "user"); got != "ann" {
		t.Errorf("$connect's requestContext.authorizer.user = %v", got)
	}
	if got := jget(h.fns.event(t, "conn"), "requestContext", "authorizer", "principalId"); got != "ann" {
		t.Errorf("$connect's requestContext.authorizer.principalId = %v", got)
	}
	writeText(t, c, "hello")
	if got := readText(t, c); got != "ok" {
		t.Fatalf("message: %q", got)
	}
	if got := jget(h.fns.event(t, "msg"), "requestContext", "authorizer", "user"); got != "ann" {
		t.Errorf("a message's requestContext.authorizer.user = %v", got)
	}
	if _, _, err := h.dial(t, id, "/prod?token=allow", nil, false); err != nil {
		t.Fatal(err)
	}
	if n := h.fns.count("gate"); n != 2 {
		t.Errorf("the authorizer ran %d times, want 2 (the second allow cached)", n)
	}
}
