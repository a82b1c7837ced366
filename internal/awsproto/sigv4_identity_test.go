package awsproto

import (
	"testing"
	"time"
)

// sessionStore accepts testAKID with the token "good" (as a role session)
// and without a token (as the root), refuses "old" as expired.
type sessionStore struct{ lastNow time.Time }

func (s *sessionStore) SecretKey(string) (string, bool) { return "", false }

func (s *sessionStore) Resolve(akid, token string, now time.Time) (string, Identity, error) {
	s.lastNow = now
	switch {
	case akid != testAKID:
	case token == "":
		return testSecret, Identity{ARN: "arn:aws:iam::000000000000:root"}, nil
	case token == "good":
		return testSecret, Identity{ARN: "arn:aws:sts::000000000000:assumed-role/r/s", RoleARN: "arn:aws:iam::000000000000:role/r", SessionName: "s"}, nil
	case token == "old":
		return "", Identity{}, Errorf(ExpiredTokenException, "The security token included in the request is expired")
	}
	return "", Identity{}, Errorf(UnrecognizedClientException, msgUnknownKey)
}

func TestVerifyIdentityStore(t *testing.T) {
	store := &sessionStore{}
	v := &Verifier{Region: "us-east-1", Credentials: store, Now: func() time.Time { return signTime }}
	body := []byte("Action=GetCallerIdentity&Version=2011-06-15")
	for _, tc := range []struct {
		name, token string
		arn         string
		code        Code
	}{
		{name: "long-term", arn: "arn:aws:iam::000000000000:root"},
		{name: "session", token: "good", arn: "arn:aws:sts::000000000000:assumed-role/r/s"},
		{name: "expired", token: "old", code: ExpiredTokenException},
		{name: "forged", token: "forged", code: UnrecognizedClientException},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := newRequest(t, "POST", "/", body, map[string][]string{"Content-Type": {"application/x-www-form-urlencoded"}})
			sdkSign(t, req, body, signOpts{token: tc.token, service: "sts"})
			if tc.token != "" && req.Header.Get(SecurityTokenHeader) != tc.token {
				t.Fatalf("the SDK sent token %q", req.Header.Get(SecurityTokenHeader))
			}
			a, err := v.Verify(req, body)
			if tc.code != "" {
				wantCode(t, err, tc.code, "")
				return
			}
			if err != nil || a.Identity.ARN != tc.arn {
				t.Fatalf("Verify = %+v, %v", a.Identity, err)
			}
			if !store.lastNow.Equal(signTime) {
				t.Errorf("the store saw the clock at %s, want the verifier's", store.lastNow)
			}
		})
	}

	// A token the signature does not cover is refused: every x-amz-*
	// header must be signed.
	req := newRequest(t, "POST", "/", body, nil)
	sdkSign(t, req, body, signOpts{service: "sts"})
	req.Header.Set(SecurityTokenHeader, "good")
	if _, err := v.Verify(req, body); err == nil {
		t.Error("an unsigned session token was accepted")
	}
	// Two tokens are refused.
	req = newRequest(t, "POST", "/", body, nil)
	sdkSign(t, req, body, signOpts{token: "good", service: "sts"})
	req.Header.Add(SecurityTokenHeader, "good")
	if _, err := v.Verify(req, body); err == nil {
		t.Error("two session tokens were accepted")
	}
}
