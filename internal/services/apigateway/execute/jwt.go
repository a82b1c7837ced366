package execute

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"

	"github.com/kumo-run/kumo/internal/funcurl"
	"github.com/kumo-run/kumo/internal/services/apigateway"
)

// jwtKeys finds the signing keys of JWT issuers: the JWKS named by each
// issuer's OpenID Connect discovery document
// (<issuer>/.well-known/openid-configuration), fetched once and kept
// fresh by keyfunc in the background. A failed discovery is remembered for
// retryAfter, so that requests do not hammer a broken issuer.
type jwtKeys struct {
	ctx    context.Context // ends the background refreshes (Server.Close)
	client *http.Client

	mu      sync.Mutex
	issuers map[string]*issuerKeys
}

type issuerKeys struct {
	ready  chan struct{} // closed once kf or err is set
	kf     keyfunc.Keyfunc
	err    error
	failed time.Time
}

const (
	jwksRetryAfter = 10 * time.Second
	maxIssuers     = 1000
)

// keyfunc returns the key lookup of an issuer, discovering it on first
// use (concurrent first uses wait for the one discovery).
func (j *jwtKeys) keyfunc(ctx context.Context, issuer string, now time.Time) (keyfunc.Keyfunc, error) {
	j.mu.Lock()
	ik := j.issuers[issuer]
	if ik != nil && ik.err != nil && now.Sub(ik.failed) >= jwksRetryAfter {
		ik = nil
	}
	if ik == nil {
		if len(j.issuers) >= maxIssuers {
			clear(j.issuers)
		}
		ik = &issuerKeys{ready: make(chan struct{})}
		j.issuers[issuer] = ik
		j.mu.Unlock()
		ik.kf, ik.err = j.discover(ctx, issuer)
		if ik.err != nil {
			ik.failed = now
		}
		close(ik.ready)
		return ik.kf, ik.err
	}
	j.mu.Unlock()
	select {
	case <-ik.ready:
		return ik.kf, ik.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// discover reads the issuer's discovery document and starts keyfunc on
// its jwks_uri.
func (j *jwtKeys) discover(ctx context.Context, issuer string) (keyfunc.Keyfunc, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(issuer, "/")+"/.well-known/openid-configuration", nil)
	if err != nil {
		return nil, err
	}
	resp, err := j.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("discovery document of %s: %s", issuer, resp.Status)
	}
	var doc struct {
		JWKSURI string `json:"jwks_uri"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&doc); err != nil || doc.JWKSURI == "" {
		return nil, fmt.Errorf("discovery document of %s has no jwks_uri", issuer)
	}
	return keyfunc.NewDefaultCtx(j.ctx, []string{doc.JWKSURI})
}

// authorizeJWT verifies the bearer token of the authorizer's identity
// source: an RS256 (or other asymmetric) signature by a key of the
// issuer's JWKS, iss, aud or client_id, exp, nbf, and the route's scopes.
// A bad or missing token is 401, a missing scope 403.
func (s *Server) authorizeJWT(q *request, az *apigateway.Authorizer) *funcurl.Reply {
	cfg := az.JWTConfiguration
	vals, ok := s.identityValues(q, az)
	if !ok || len(vals) != 1 || cfg == nil {
		return platform(http.StatusUnauthorized, msgUnauthorized)
	}
	raw := vals[0]
	if len(raw) > 7 && strings.EqualFold(raw[:7], "bearer ") {
		raw = strings.TrimSpace(raw[7:])
	}
	kf, err := s.jwks.keyfunc(q.r.Context(), cfg.Issuer, q.now)
	if err != nil {
		s.log.Debug("execute-api: no keys for the JWT issuer", "requestId", q.requestID, "issuer", cfg.Issuer, "err", err)
		return platform(http.StatusUnauthorized, msgUnauthorized)
	}
	claims := jwt.MapClaims{}
	_, err = jwt.ParseWithClaims(raw, claims, kf.Keyfunc,
		jwt.WithValidMethods([]string{"RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256", "PS384", "PS512"}),
		jwt.WithIssuer(cfg.Issuer), jwt.WithTimeFunc(func() time.Time { return q.now }), jwt.WithExpirationRequired(), jwt.WithLeeway(0))
	if err != nil || !audienceMatches(claims, cfg.Audience) {
		s.log.Debug("execute-api: JWT refused", "requestId", q.requestID, "err", err)
		return platform(http.StatusUnauthorized, msgUnauthorized)
	}
	scopes := tokenScopes(claims)
	if want := q.binding.Route.AuthorizationScopes; len(want) > 0 && !anyIn(want, scopes) {
		return platform(http.StatusForbidden, msgForbidden)
	}
	// API Gateway passes the claims on as strings.
	out := make(map[string]any, len(claims))
	for k, v := range claims {
		switch v := v.(type) {
		case string:
			out[k] = v
		default:
			b, _ := json.Marshal(v)
			out[k] = string(b)
		}
	}
	if scopes == nil {
		scopes = []string{}
	}
	q.authz = &funcurl.Authorizer{JWT: &funcurl.JWT{Claims: out, Scopes: scopes}}
	return nil
}

// audienceMatches: the token's aud, or its client_id when it has no aud,
// names one of the authorizer's audiences.
func audienceMatches(c jwt.MapClaims, want []string) bool {
	aud, _ := c.GetAudience()
	if len(aud) == 0 {
		if id, ok := c["client_id"].(string); ok {
			aud = jwt.ClaimStrings{id}
		}
	}
	return anyIn(want, aud)
}

// tokenScopes reads the scope (space-separated) or scp claim.
func tokenScopes(c jwt.MapClaims) []string {
	switch v := c["scope"].(type) {
	case string:
		return strings.Fields(v)
	}
	switch v := c["scp"].(type) {
	case string:
		return strings.Fields(v)
	case []any:
		var out []string
		for _, x := range v {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

func anyIn(want, have []string) bool {
	for _, w := range want {
		for _, h := range have {
			if w == h {
				return true
			}
		}
	}
	return false
}
