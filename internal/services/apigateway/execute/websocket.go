package execute

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/coder/websocket"

	"github.com/kumo-run/kumo/internal/funcurl"
	"github.com/kumo-run/kumo/internal/iam/authz"
	"github.com/kumo-run/kumo/internal/invoke"
	"github.com/kumo-run/kumo/internal/services/apigateway"
)

// Limits of WebSocket APIs, as AWS documents them: a connection idle for
// 10 minutes or open for 2 hours is closed with 1001 (going away); a
// message is at most 128 KB (a larger one closes the connection with
// 1009, message too big), as is what @connections sends.
const (
	WebSocketIdleTimeout = 10 * time.Minute
	WebSocketMaxDuration = 2 * time.Hour
	WebSocketMaxMessage  = 128 << 10
)

const (
	// wsSweepEvery is how often connections are checked against the
	// idle and duration limits.
	wsSweepEvery = 10 * time.Second
	// wsWriteTimeout bounds a write to a client that does not read.
	wsWriteTimeout = 10 * time.Second
	// wsMaxConnections bounds the connections one server holds.
	wsMaxConnections = 10000
	// wsIntegrationTimeout is a WebSocket integration's default and
	// largest timeout.
	wsIntegrationTimeout = 29 * time.Second
)

// wsHub holds the WebSocket connections this server has open, by
// connection id.
type wsHub struct {
	mu    sync.Mutex
	conns map[string]*wsConn
}

func newWSHub() *wsHub { return &wsHub{conns: map[string]*wsConn{}} }

func (h *wsHub) get(id string) *wsConn {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.conns[id]
}

// room reports whether the hub may take another connection.
func (h *wsHub) room() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.conns) < wsMaxConnections
}

// add registers a connection being accepted.
func (h *wsHub) add(c *wsConn) {
	h.mu.Lock()
	h.conns[c.id] = c
	h.mu.Unlock()
}

func (h *wsHub) remove(id string) {
	h.mu.Lock()
	delete(h.conns, id)
	h.mu.Unlock()
}

func (h *wsHub) all() []*wsConn {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]*wsConn, 0, len(h.conns))
	for _, c := range h.conns {
		out = append(out, c)
	}
	return out
}

// wsConn is one client's connection.
type wsConn struct {
	id, apiID, stage, domain string
	c                        *websocket.Conn // set before ready is closed; nil if the upgrade failed
	ready                    chan struct{}
	connectedAt              time.Time
	lastActive               atomic.Int64 // unix nanoseconds, by the server's clock
	sourceIP, userAgent      string
	header                   http.Header
	authorizer               map[string]any // requestContext.authorizer: what $connect's authorizer answered
	query                    url.Values
	ctx                      context.Context
	cancel                   context.CancelFunc

	closeMu     sync.Mutex
	closeCode   websocket.StatusCode // set when the server closes the connection
	closeReason string
}

// conn waits for the upgrade and returns the connection, nil if the
// upgrade failed.
func (c *wsConn) conn() *websocket.Conn {
	<-c.ready
	return c.c
}

func (c *wsConn) touch(t time.Time) { c.lastActive.Store(t.UnixNano()) }

// close closes the connection from the server's side with code; the
// client's read loop sees it and runs $disconnect.
func (c *wsConn) close(code websocket.StatusCode, reason string) {
	c.closeMu.Lock()
	if c.closeCode != 0 {
		c.closeMu.Unlock()
		return
	}
	c.closeCode, c.closeReason = code, reason
	c.closeMu.Unlock()
	go func() {
		if conn := c.conn(); conn != nil {
			conn.Close(code, reason)
		}
		c.cancel()
	}()
}

// sweepWebSockets closes the connections past the idle timeout or the
// largest duration, by the server's clock, until ctx is done.
func (s *Server) sweepWebSockets(ctx context.Context) {
	t := time.NewTicker(wsSweepEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.sweep()
		}
	}
}

func (s *Server) sweep() {
	now := s.now()
	for _, c := range s.ws.all() {
		switch {
		case now.Sub(c.connectedAt) >= WebSocketMaxDuration:
			c.close(websocket.StatusGoingAway, "Going away")
		case now.Sub(time.Unix(0, c.lastActive.Load())) >= WebSocketIdleTimeout:
			c.close(websocket.StatusGoingAway, "Going away")
		}
	}
}

// serveWebSocket serves a request addressed to a WEBSOCKET API — a
// connection, or the @connections management API — and reports whether
// it was one.
func (s *Server) serveWebSocket(w http.ResponseWriter, r *http.Request) bool {
	t, ok := s.address(r)
	if !ok {
		return false
	}
	live, ok := s.cfg.State.Live(t.apiID)
	if !ok || live.Doc.API.ProtocolType != apigateway.ProtocolWebSocket {
		return false
	}
	requestID := newRequestID()
	if rep := s.webSocket(w, r, t, live, requestID); rep != nil {
		h := w.Header()
		for k, vs := range rep.Header {
			h[k] = vs
		}
		h["Apigw-Requestid"] = []string{requestID}
		h["Content-Length"] = []string{strconv.Itoa(len(rep.Body))}
		w.WriteHeader(rep.Status)
		if r.Method != http.MethodHead {
			w.Write(rep.Body)
		}
	}
	return true
}

// webSocket answers a request to a WEBSOCKET API: nil when it has been
// answered (the connection was accepted and has ended).
func (s *Server) webSocket(w http.ResponseWriter, r *http.Request, t target, live *apigateway.Live, requestID string) *funcurl.Reply {
	if live.Doc.API.DisableExecuteAPIEndpoint {
		return platform(http.StatusForbidden, msgForbidden)
	}
	first, rest, _ := strings.Cut(strings.TrimPrefix(t.path, "/"), "/")
	ls, ok := live.Stages[unescape(first)]
	path := "/" + rest
	if !ok || first == "" || unescape(first) == apigateway.DefaultStage {
		ls, ok = live.Stages[apigateway.DefaultStage]
		path = t.path
	}
	if !ok {
		return platform(http.StatusNotFound, msgNotFound)
	}
	if id, ok := strings.CutPrefix(path, "/@connections/"); ok || strings.HasPrefix(path, "/%40connections/") {
		if !ok {
			id = strings.TrimPrefix(path, "/%40connections/")
		}
		return s.manage(r, t, ls, unescape(id))
	}
	if path != "/" {
		return platform(http.StatusNotFound, msgNotFound)
	}
	if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		return platform(http.StatusUpgradeRequired, "Upgrade Required")
	}
	sn, ok := s.cfg.State.Snapshot(t.apiID, ls.Stage.DeploymentID)
	if !ok {
		return platform(http.StatusNotFound, msgNotFound)
	}
	now := s.now()
	ctx, cancel := context.WithCancel(context.Background())
	c := &wsConn{id: newConnectionID(), apiID: t.apiID, stage: ls.Stage.StageName, domain: t.domain, connectedAt: now,
		sourceIP: authz.SourceIP(r), userAgent: r.UserAgent(), header: r.Header.Clone(), query: r.URL.Query(), ctx: ctx, cancel: cancel, ready: make(chan struct{})}
	c.header.Set("Host", r.Host)
	c.header.Set("X-Forwarded-For", c.sourceIP)
	c.touch(now)
	// $connect runs before the upgrade: its authorization and its
	// answer can refuse it.
	if b := wsBinding(sn, apigateway.ConnectRoute); b != nil {
		if !s.wsAllow(c, ls, b) {
			cancel()
			return platform(http.StatusTooManyRequests, msgThrottled)
		}
		if b.route.AuthorizationType == apigateway.AuthCustom {
			az := sn.Authorizers[b.route.AuthorizerID]
			if az == nil {
				cancel()
				return platform(http.StatusInternalServerError, msgInternal)
			}
			actx, rep := s.wsAuthorize(r, c, ls, az, requestID, now)
			if rep != nil {
				cancel()
				return rep
			}
			c.authorizer = actx
		}
		if b.route.AuthorizationType == apigateway.AuthIAM {
			res := "arn:aws:execute-api:" + s.cfg.Region + ":" + s.cfg.Account + ":" + t.apiID + "/" + ls.Stage.StageName + "/" + apigateway.ConnectRoute
			if msg := s.signedFor(r, nil, "execute-api:Invoke", res); msg != "" {
				cancel()
				return platform(http.StatusForbidden, msgForbidden)
			}
		}
		ev := s.wsEvent(c, ls.Stage, b.route.RouteKey, "CONNECT", requestID, now)
		ev.Headers, ev.MultiValueHeaders = singleValues(c.header), c.header
		ev.QueryStringParameters, ev.MultiValueQueryStringParameters = singleValues(c.query), c.query
		out, err := s.wsInvoke(ctx, c, b, ev)
		if err != nil || out.FunctionError != "" {
			cancel()
			if errors.Is(err, errTimedOut) {
				return platform(http.StatusGatewayTimeout, "Endpoint request timed out")
			}
			return platform(http.StatusBadGateway, "Internal server error")
		}
		status, header, body, ok := proxyAnswer(out.Payload)
		if !ok || status < 100 || status > 599 {
			cancel()
			return platform(http.StatusBadGateway, "Internal server error")
		}
		if status < 200 || status > 299 {
			cancel()
			return &funcurl.Reply{Status: status, Header: header, Body: []byte(body)}
		}
		// The answer's headers go on the 101 (a subprotocol chosen with
		// Sec-WebSocket-Protocol, as AWS has it), less the handshake's own.
		for k, vs := range header {
			switch k {
			case "Connection", "Upgrade", "Content-Length", "Transfer-Encoding", "Sec-Websocket-Accept", "Sec-Websocket-Extensions":
				continue
			}
			w.Header()[k] = vs
		}
	}
	if !s.ws.room() {
		cancel()
		return platform(http.StatusTooManyRequests, "Limit Exceeded")
	}
	w.Header().Set("Apigw-Requestid", requestID)
	// The connection outlives the request: no deadline of the request's
	// may cut it (the limits above close it).
	rc := http.NewResponseController(w)
	rc.SetReadDeadline(time.Time{})
	rc.SetWriteDeadline(time.Time{})
	// Registered before the client learns of the connection, so that
	// @connections finds it as soon as the client can use it.
	s.ws.add(c)
	conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true, CompressionMode: websocket.CompressionDisabled})
	if err != nil {
		s.ws.remove(c.id)
		close(c.ready)
		cancel()
		s.log.Debug("execute-api: websocket upgrade failed", "connectionId", c.id, "err", err)
		return nil
	}
	conn.SetReadLimit(WebSocketMaxMessage)
	c.c = conn
	close(c.ready)
	s.readLoop(c)
	return nil
}

// readLoop serves a connection's messages, one at a time, until it
// closes; then it runs $disconnect.
func (s *Server) readLoop(c *wsConn) {
	var err error
	for {
		var typ websocket.MessageType
		var data []byte
		typ, data, err = c.c.Read(c.ctx)
		if err != nil {
			break
		}
		c.touch(s.now())
		s.wsMessage(c, typ, data)
	}
	s.ws.remove(c.id)
	code, reason := websocket.CloseStatus(err), ""
	var ce websocket.CloseError
	if errors.As(err, &ce) {
		reason = ce.Reason
	}
	c.closeMu.Lock()
	if c.closeCode != 0 {
		code, reason = c.closeCode, c.closeReason
	}
	c.closeMu.Unlock()
	if code == -1 {
		code = websocket.StatusAbnormalClosure
		if strings.Contains(errString(err), "read limited") {
			code, reason = websocket.StatusMessageTooBig, "Message too big"
		}
	}
	c.c.CloseNow()
	c.cancel()
	s.disconnect(c, int(code), reason)
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// disconnect runs the $disconnect route of a closed connection, best
// effort: its answer is ignored.
func (s *Server) disconnect(c *wsConn, code int, reason string) {
	live, ok := s.cfg.State.Live(c.apiID)
	if !ok {
		return
	}
	ls := live.Stages[c.stage]
	if ls == nil {
		return
	}
	sn, ok := s.cfg.State.Snapshot(c.apiID, ls.Stage.DeploymentID)
	if !ok {
		return
	}
	b := wsBinding(sn, apigateway.DisconnectRoute)
	if b == nil {
		return
	}
	ev := s.wsEvent(c, ls.Stage, b.route.RouteKey, "DISCONNECT", newRequestID(), s.now())
	ev.Headers, ev.MultiValueHeaders = singleValues(c.header), c.header
	ev.RequestContext.DisconnectStatusCode, ev.RequestContext.DisconnectReason = &code, &reason
	if _, err := s.wsInvoke(context.Background(), c, b, ev); err != nil {
		s.log.Debug("execute-api: $disconnect failed", "connectionId", c.id, "err", err)
	}
}

// wsMessage routes one message by the API's route selection expression
// to its route, else $default, and runs the route's integration; a
// two-way route's answer goes back to the client.
func (s *Server) wsMessage(c *wsConn, typ websocket.MessageType, data []byte) {
	live, ok := s.cfg.State.Live(c.apiID)
	var ls *apigateway.LiveStage
	if ok {
		ls = live.Stages[c.stage]
	}
	if ls == nil {
		c.close(websocket.StatusGoingAway, "Going away")
		return
	}
	sn, ok := s.cfg.State.Snapshot(c.apiID, ls.Stage.DeploymentID)
	if !ok {
		c.close(websocket.StatusGoingAway, "Going away")
		return
	}
	requestID := newRequestID()
	var b *wsRoute
	if sel, err := apigateway.ParseSelection(live.Doc.API.RouteSelectionExpression); err == nil && typ == websocket.MessageText {
		if key := sel.Key(data); key != "" && !strings.HasPrefix(key, "$") {
			b = wsBinding(sn, key)
		}
	}
	if b == nil {
		b = wsBinding(sn, apigateway.DefaultRoute)
	}
	if b == nil {
		s.wsError(c, msgForbidden, requestID)
		return
	}
	if !s.wsAllow(c, ls, b) {
		s.wsError(c, msgThrottled, requestID)
		return
	}
	ev := s.wsEvent(c, ls.Stage, b.route.RouteKey, "MESSAGE", requestID, s.now())
	ev.RequestContext.MessageID = newConnectionID()
	body := string(data)
	if typ == websocket.MessageBinary || !utf8.Valid(data) {
		body, ev.IsBase64Encoded = base64.StdEncoding.EncodeToString(data), true
	}
	ev.Body = &body
	out, err := s.wsInvoke(c.ctx, c, b, ev)
	if err != nil || out.FunctionError != "" {
		if c.ctx.Err() == nil {
			s.wsError(c, "Internal server error", requestID)
		}
		return
	}
	if len(sn.RouteResponses[b.route.RouteID]) == 0 {
		return // one-way: the answer is dropped
	}
	_, _, reply, ok := proxyAnswer(out.Payload)
	if !ok {
		s.wsError(c, "Internal server error", requestID)
		return
	}
	if reply != "" {
		s.wsSend(c, []byte(reply))
	}
}

// wsAllow applies the stage's throttling settings for the route, as for
// HTTP APIs' routes.
func (s *Server) wsAllow(c *wsConn, ls *apigateway.LiveStage, b *wsRoute) bool {
	return s.allow(&request{t: target{apiID: c.apiID}, stage: ls, binding: &apigateway.Binding{Route: b.route}, now: s.now()})
}

// wsError sends API Gateway's own error frame.
func (s *Server) wsError(c *wsConn, msg, requestID string) {
	b, _ := json.Marshal(struct {
		Message      string `json:"message"`
		ConnectionID string `json:"connectionId"`
		RequestID    string `json:"requestId"`
	}{msg, c.id, requestID})
	s.wsSend(c, b)
}

// wsSend writes one message to the client: text when it is UTF-8, else
// binary.
func (s *Server) wsSend(c *wsConn, data []byte) error {
	typ := websocket.MessageText
	if !utf8.Valid(data) {
		typ = websocket.MessageBinary
	}
	ctx, cancel := context.WithTimeout(c.ctx, wsWriteTimeout)
	defer cancel()
	conn := c.conn()
	if conn == nil {
		return errors.New("execute-api: the connection was not established")
	}
	err := conn.Write(ctx, typ, data)
	if err == nil {
		c.touch(s.now())
	}
	return err
}

// wsRoute is a WebSocket route of a deployment and its integration (nil
// when it has none).
type wsRoute struct {
	route *apigateway.Route
	integ *apigateway.Integration
}

// wsBinding finds the route of key in a deployment's snapshot.
func wsBinding(sn *apigateway.Snapshot, key string) *wsRoute {
	for _, rt := range sn.Routes {
		if rt.RouteKey == key {
			b := &wsRoute{route: rt}
			if id, ok := strings.CutPrefix(rt.Target, "integrations/"); ok {
				b.integ = sn.Integrations[id]
			}
			return b
		}
	}
	return nil
}

// wsInvoke runs a route's Lambda integration with ev, synchronously, as
// API Gateway, with SourceArn arn:aws:execute-api:REGION:ACCOUNT:API/STAGE/ROUTE-KEY.
func (s *Server) wsInvoke(ctx context.Context, c *wsConn, b *wsRoute, ev *wsEventV1) (*invoke.Output, error) {
	if b.integ == nil {
		return nil, errors.New("execute-api: the route has no integration")
	}
	ref, err := apigateway.FunctionRef(b.integ.IntegrationURI)
	if err != nil {
		return nil, err
	}
	payload, err := json.Marshal(ev)
	if err != nil {
		return nil, err
	}
	timeout := time.Duration(b.integ.TimeoutInMillis) * time.Millisecond
	if timeout <= 0 || timeout > wsIntegrationTimeout {
		timeout = wsIntegrationTimeout
	}
	src := "arn:aws:execute-api:" + s.cfg.Region + ":" + s.cfg.Account + ":" + c.apiID + "/" + c.stage + "/" + b.route.RouteKey
	r, _ := http.NewRequestWithContext(ctx, http.MethodPost, "/", nil)
	return s.invoke(&request{r: r, requestID: ev.RequestContext.RequestID}, ref, src, payload, timeout)
}

// wsEventV1 is the event of a WebSocket route's Lambda proxy integration.
type wsEventV1 struct {
	Headers                         map[string]string   `json:"headers,omitempty"`
	MultiValueHeaders               map[string][]string `json:"multiValueHeaders,omitempty"`
	QueryStringParameters           map[string]string   `json:"queryStringParameters,omitempty"`
	MultiValueQueryStringParameters map[string][]string `json:"multiValueQueryStringParameters,omitempty"`
	StageVariables                  map[string]string   `json:"stageVariables,omitempty"`
	RequestContext                  wsContext           `json:"requestContext"`
	Body                            *string             `json:"body,omitempty"`
	IsBase64Encoded                 bool                `json:"isBase64Encoded"`
}

type wsContext struct {
	RouteKey             string         `json:"routeKey"`
	Authorizer           map[string]any `json:"authorizer,omitempty"`
	DisconnectStatusCode *int           `json:"disconnectStatusCode,omitempty"`
	MessageID            string         `json:"messageId,omitempty"`
	EventType            string         `json:"eventType"`
	ExtendedRequestID    string         `json:"extendedRequestId"`
	RequestTime          string         `json:"requestTime"`
	MessageDirection     string         `json:"messageDirection"`
	DisconnectReason     *string        `json:"disconnectReason,omitempty"`
	Stage                string         `json:"stage"`
	ConnectedAt          int64          `json:"connectedAt"`
	RequestTimeEpoch     int64          `json:"requestTimeEpoch"`
	Identity             wsIdentity     `json:"identity"`
	RequestID            string         `json:"requestId"`
	DomainName           string         `json:"domainName"`
	ConnectionID         string         `json:"connectionId"`
	APIID                string         `json:"apiId"`
}

type wsIdentity struct {
	SourceIP  string `json:"sourceIp"`
	UserAgent string `json:"userAgent,omitempty"`
}

func (s *Server) wsEvent(c *wsConn, st *apigateway.Stage, routeKey, eventType, requestID string, now time.Time) *wsEventV1 {
	ev := &wsEventV1{RequestContext: wsContext{RouteKey: routeKey, EventType: eventType, ExtendedRequestID: requestID,
		RequestTime: now.UTC().Format(funcurl.EventTimeLayout), MessageDirection: "IN", Stage: st.StageName,
		ConnectedAt: c.connectedAt.UnixMilli(), RequestTimeEpoch: now.UnixMilli(),
		Identity:  wsIdentity{SourceIP: c.sourceIP, UserAgent: c.userAgent},
		RequestID: requestID, DomainName: c.domain, ConnectionID: c.id, APIID: c.apiID, Authorizer: c.authorizer}}
	if len(st.StageVariables) > 0 {
		ev.StageVariables = st.StageVariables
	}
	return ev
}

// proxyAnswer reads a Lambda proxy answer: statusCode (200 when absent),
// headers and body. A value that is not an object is an answer of 200
// with no body; ok is false for an object that does not decode.
func proxyAnswer(payload []byte) (status int, header http.Header, body string, ok bool) {
	var v struct {
		StatusCode        *int                `json:"statusCode"`
		Headers           map[string]string   `json:"headers"`
		MultiValueHeaders map[string][]string `json:"multiValueHeaders"`
		Body              *string             `json:"body"`
		IsBase64Encoded   bool                `json:"isBase64Encoded"`
	}
	p := strings.TrimSpace(string(payload))
	if !strings.HasPrefix(p, "{") {
		return http.StatusOK, nil, "", true
	}
	if err := json.Unmarshal(payload, &v); err != nil {
		return 0, nil, "", false
	}
	status = http.StatusOK
	if v.StatusCode != nil {
		status = *v.StatusCode
	}
	header = http.Header{}
	for k, vs := range v.MultiValueHeaders {
		header[http.CanonicalHeaderKey(k)] = vs
	}
	for k, val := range v.Headers {
		header.Set(k, val)
	}
	if v.Body != nil {
		body = *v.Body
		if v.IsBase64Encoded {
			b, err := base64.StdEncoding.DecodeString(body)
			if err != nil {
				return 0, nil, "", false
			}
			body = string(b)
		}
	}
	return status, header, body, true
}

func singleValues(m map[string][]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, vs := range m {
		if len(vs) > 0 {
			out[k] = vs[len(vs)-1]
		}
	}
	return out
}

// newConnectionID is an id in the shape of API Gateway's connection ids:
// 16 characters ending in '=', safe in a path.
func newConnectionID() string {
	b := make([]byte, 11)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b) + "="
}
