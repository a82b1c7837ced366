package execute_test

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigatewayv2"
	"github.com/aws/aws-sdk-go-v2/service/apigatewayv2/types"
	"github.com/golang-jwt/jwt/v5"
)

// issuer is an OpenID Connect issuer serving its discovery document and
// JWKS, with the key it signs tokens with.
type issuer struct {
	srv  *httptest.Server
	key  *rsa.PrivateKey
	hits atomic.Int32
}

func newIssuer(t *testing.T) *issuer {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	is := &issuer{key: key}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		is.hits.Add(1)
		json.NewEncoder(w).Encode(map[string]string{"issuer": is.srv.URL, "jwks_uri": is.srv.URL + "/jwks.json"})
	})
	mux.HandleFunc("GET /jwks.json", func(w http.ResponseWriter, r *http.Request) {
		b64 := base64.RawURLEncoding.EncodeToString
		json.NewEncoder(w).Encode(map[string]any{"keys": []map[string]string{{"kty": "RSA", "kid": "k1", "alg": "RS256", "use": "sig",
			"n": b64(key.N.Bytes()), "e": b64(big.NewInt(int64(key.E)).Bytes())}}})
	})
	is.srv = httptest.NewServer(mux)
	t.Cleanup(is.srv.Close)
	return is
}

func (is *issuer) token(t *testing.T, key *rsa.PrivateKey, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
	tok.Header["kid"] = "k1"
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestJWTAuthorizer: tokens are verified against the issuer's JWKS, with
// issuer, audience, expiry and the route's scopes checked; the claims
// reach the integration.
func TestJWTAuthorizer(t *testing.T) {
	h := newHarness(t)
	is := newIssuer(t)
	id := h.api(t, "jwt")
	h.function("f", "arn:aws:execute-api:us-east-1:"+account+":"+id+"/*", answer("ok"))
	az, err := h.cl.CreateAuthorizer(t.Context(), &apigatewayv2.CreateAuthorizerInput{ApiId: &id, Name: aws.String("jwt"), AuthorizerType: types.AuthorizerTypeJwt,
		IdentitySource: []string{"$request.header.Authorization"}, JwtConfiguration: &types.JWTConfiguration{Issuer: aws.String(is.srv.URL), Audience: []string{"my-app"}}})
	if err != nil {
		t.Fatal(err)
	}
	integ := h.integration(t, id, "f", "2.0", 30000)
	h.route(t, id, "GET /me", integ, func(in *apigatewayv2.CreateRouteInput) {
		in.AuthorizationType, in.AuthorizerId = types.AuthorizationTypeJwt, az.AuthorizerId
	})
	h.route(t, id, "GET /admin", integ, func(in *apigatewayv2.CreateRouteInput) {
		in.AuthorizationType, in.AuthorizerId, in.AuthorizationScopes = types.AuthorizationTypeJwt, az.AuthorizerId, []string{"admin"}
	})
	h.stage(t, id, "$default", nil)

	now := h.clock.now()
	claims := func(mod func(jwt.MapClaims)) jwt.MapClaims {
		c := jwt.MapClaims{"iss": is.srv.URL, "aud": "my-app", "sub": "alice", "exp": now.Add(time.Hour).Unix(), "iat": now.Unix(), "scope": "read write"}
		if mod != nil {
			mod(c)
		}
		return c
	}
	bearer := func(tok string) map[string]string { return map[string]string{"Authorization": "Bearer " + tok} }

	r := h.call(t, id, "GET", "/me", nil, bearer(is.token(t, is.key, claims(nil))), false)
	if r.status != 200 {
		t.Fatalf("valid token: %d %s", r.status, r.body)
	}
	ev := h.fns.event(t, "f")
	if jget(ev, "requestContext", "authorizer", "jwt", "claims", "sub") != "alice" {
		t.Errorf("claims in the event = %v", jget(ev, "requestContext", "authorizer"))
	}
	if sc, _ := jget(ev, "requestContext", "authorizer", "jwt", "scopes").([]any); len(sc) != 2 || sc[0] != "read" {
		t.Errorf("scopes in the event = %v", jget(ev, "requestContext", "authorizer", "jwt", "scopes"))
	}

	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		what   string
		header map[string]string
	}{
		{"no token", nil},
		{"not a JWT", bearer("nonsense")},
		{"signed by another key", bearer(is.token(t, other, claims(nil)))},
		{"another audience", bearer(is.token(t, is.key, claims(func(c jwt.MapClaims) { c["aud"] = "someone-else" })))},
		{"another issuer", bearer(is.token(t, is.key, claims(func(c jwt.MapClaims) { c["iss"] = "https://evil.example" })))},
		{"expired", bearer(is.token(t, is.key, claims(func(c jwt.MapClaims) { c["exp"] = now.Add(-time.Second).Unix() })))},
		{"no expiry", bearer(is.token(t, is.key, claims(func(c jwt.MapClaims) { delete(c, "exp") })))},
	} {
		wantMessage(t, tc.what, h.call(t, id, "GET", "/me", nil, tc.header, false), 401, "Unauthorized")
	}
	// A client_id stands for the audience in access tokens without aud.
	if r := h.call(t, id, "GET", "/me", nil, bearer(is.token(t, is.key, claims(func(c jwt.MapClaims) { delete(c, "aud"); c["client_id"] = "my-app" }))), false); r.status != 200 {
		t.Errorf("client_id as audience: %d %s", r.status, r.body)
	}
	wantMessage(t, "missing scope", h.call(t, id, "GET", "/admin", nil, bearer(is.token(t, is.key, claims(nil))), false), 403, "Forbidden")
	if r := h.call(t, id, "GET", "/admin", nil, bearer(is.token(t, is.key, claims(func(c jwt.MapClaims) { c["scope"] = "admin" }))), false); r.status != 200 {
		t.Errorf("token with the scope: %d %s", r.status, r.body)
	}
	if n := is.hits.Load(); n != 1 {
		t.Errorf("the discovery document was fetched %d times, want once", n)
	}
}
