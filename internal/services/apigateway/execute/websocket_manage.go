package execute

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"time"

	"github.com/coder/websocket"

	"github.com/kumo-run/kumo/internal/awsproto"
	"github.com/kumo-run/kumo/internal/funcurl"
	"github.com/kumo-run/kumo/internal/iam/authz"
	"github.com/kumo-run/kumo/internal/services/apigateway"
)

// The @connections management API (apigatewaymanagementapi): POST sends
// data to a connection, GET describes it, DELETE closes it. Requests are
// signed for service execute-api and authorized as
// execute-api:ManageConnections on
// arn:aws:execute-api:REGION:ACCOUNT:API/STAGE/METHOD/@connections/ID.

// manageError is an apigatewaymanagementapi error: REST-JSON, its code in
// x-amzn-ErrorType.
func manageError(status int, code, msg string) *funcurl.Reply {
	b, _ := json.Marshal(struct {
		Message string `json:"message"`
	}{msg})
	return &funcurl.Reply{Status: status, Header: http.Header{"Content-Type": {"application/json"}, "X-Amzn-Errortype": {code}}, Body: b}
}

func gone(id string) *funcurl.Reply {
	return manageError(http.StatusGone, "GoneException", "The connection with the provided id no longer exists: "+id)
}

type connectionOut struct {
	ConnectedAt  string     `json:"connectedAt"`
	Identity     wsIdentity `json:"identity"`
	LastActiveAt string     `json:"lastActiveAt"`
}

const isoMillis = "2006-01-02T15:04:05.000Z"

// manage serves one @connections request for a connection of the stage.
func (s *Server) manage(r *http.Request, t target, ls *apigateway.LiveStage, id string) *funcurl.Reply {
	switch r.Method {
	case http.MethodPost, http.MethodGet, http.MethodDelete:
	default:
		return manageError(http.StatusForbidden, "ForbiddenException", "Missing Authentication Token")
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, WebSocketMaxMessage+1))
	if err != nil {
		return manageError(http.StatusBadRequest, "BadRequestException", "Could not read the request body")
	}
	if len(body) > WebSocketMaxMessage {
		return manageError(http.StatusRequestEntityTooLarge, "PayloadTooLargeException", "Message too long. Max is 131072 bytes")
	}
	if rep := s.authorizeManage(r, t, ls, id, body); rep != nil {
		return rep
	}
	c := s.ws.get(id)
	if c == nil || c.apiID != t.apiID || c.stage != ls.Stage.StageName {
		return gone(id)
	}
	switch r.Method {
	case http.MethodPost:
		if err := s.wsSend(c, body); err != nil {
			return gone(id)
		}
		return &funcurl.Reply{Status: http.StatusOK}
	case http.MethodGet:
		b, _ := json.Marshal(connectionOut{ConnectedAt: c.connectedAt.UTC().Format(isoMillis),
			Identity:     wsIdentity{SourceIP: c.sourceIP, UserAgent: c.userAgent},
			LastActiveAt: time.Unix(0, c.lastActive.Load()).UTC().Format(isoMillis)})
		return &funcurl.Reply{Status: http.StatusOK, Header: http.Header{"Content-Type": {"application/json"}}, Body: b}
	default:
		c.close(websocket.StatusNormalClosure, "")
		return &funcurl.Reply{Status: http.StatusNoContent}
	}
}

// authorizeManage checks the request's SigV4 signature (service
// execute-api) and that the signer may call execute-api:ManageConnections
// on the connection; nil lets it through.
func (s *Server) authorizeManage(r *http.Request, t target, ls *apigateway.LiveStage, id string, body []byte) *funcurl.Reply {
	res := "arn:aws:execute-api:" + s.cfg.Region + ":" + s.cfg.Account + ":" + t.apiID + "/" + ls.Stage.StageName + "/" + r.Method + "/@connections/" + id
	if msg := s.signedFor(r, body, "execute-api:ManageConnections", res); msg != "" {
		return manageError(http.StatusForbidden, "ForbiddenException", msg)
	}
	return nil
}

// signedFor checks that r is signed with SigV4 for service execute-api
// and that the signer may call action on resource: "" when it is, else
// why not. Without a Verifier (authentication off) every request is.
func (s *Server) signedFor(r *http.Request, body []byte, action, resource string) string {
	v := s.cfg.Verifier
	if v == nil {
		return ""
	}
	if len(r.Header["Authorization"]) == 0 && r.URL.Query().Get("X-Amz-Signature") == "" {
		return "Missing Authentication Token"
	}
	sum := sha256.Sum256(body)
	hash := hex.EncodeToString(sum[:])
	if c := r.Header.Get("X-Amz-Content-Sha256"); c == "UNSIGNED-PAYLOAD" {
		hash = c
	} else if c != "" && c != hash {
		return awsproto.PayloadHashMismatch().Message
	}
	a, err := v.VerifyHash(r, hash)
	if err != nil {
		return awsproto.AsError(err).Message
	}
	if a.Service != "execute-api" {
		return "Credential should be scoped to correct service: 'execute-api'. "
	}
	if az := s.cfg.Authorizer; az != nil {
		ctx := awsproto.WithCaller(r.Context(), awsproto.Caller{AccessKeyID: a.AccessKeyID, Identity: a.Identity})
		if err := az.Authorize(ctx, authz.Check{Action: action, Resource: resource, SourceIP: authz.SourceIP(r),
			Denied: awsproto.APIGatewayAccessDenied}); err != nil {
			who := a.Identity.ARN
			if who == "" {
				who = "arn:aws:iam::" + s.cfg.Account + ":root"
			}
			return "User: " + who + " is not authorized to perform: " + action + " on resource: " + resource
		}
	}
	return ""
}
