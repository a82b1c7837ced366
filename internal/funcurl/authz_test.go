package funcurl

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/kumo-run/kumo/internal/awsproto"
	"github.com/kumo-run/kumo/internal/iam"
	"github.com/kumo-run/kumo/internal/iam/authz"
	"github.com/kumo-run/kumo/internal/iam/token"
)

// TestIAMURLAuthorization: a signed request to an AWS_IAM URL needs
// lambda:InvokeFunctionUrl on the function (with
// lambda:FunctionUrlAuthType AWS_IAM), and the event names the signer.
func TestIAMURLAuthorization(t *testing.T) {
	const (
		bobKey, bobSecret     = "AKIAKUMOURLBOB000001", "kumo-url-test-bob-secret-0000000000000000"
		carolKey, carolSecret = "AKIAKUMOURLCAROL0001", "kumo-url-test-carol-secret-000000000000000"
		bobARN, carolARN      = "arn:aws:iam::000000000000:user/bob", "arn:aws:iam::000000000000:user/carol"
	)
	p, err := iam.Parse(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"lambda:InvokeFunctionUrl",
		"Resource":"arn:aws:lambda:us-east-1:000000000000:function:f","Condition":{"StringEquals":{"lambda:FunctionUrlAuthType":"AWS_IAM"}}}]}`, iam.KindIdentity)
	if err != nil {
		t.Fatal(err)
	}
	dir := &authz.Static{}
	dir.SetUser(awsproto.Identity{Account: "000000000000", ARN: bobARN, UserID: "AIDABOB"}, authz.Principal{Policies: []*iam.Policy{p}})
	dir.SetAccessKey(bobKey, bobSecret, bobARN)
	dir.SetUser(awsproto.Identity{Account: "000000000000", ARN: carolARN, UserID: "AIDACAROL"}, authz.Principal{})
	dir.SetAccessKey(carolKey, carolSecret, carolARN)
	is, err := token.New(bytes.Repeat([]byte{7}, token.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	s := New(Config{Region: "us-east-1", Account: "000000000000", Authorizer: authz.New(authz.Config{Directory: dir, Region: "us-east-1"}),
		Verifier: &awsproto.Verifier{Region: "us-east-1", Credentials: &token.Store{Issuer: is, Keys: dir}}})
	sum := sha256.Sum256([]byte("{}"))
	signed := func(key, secret string) *http.Request {
		r := httptest.NewRequest("POST", "/lambda-url/"+testID+"/", bytes.NewReader([]byte("{}")))
		if err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: key, SecretAccessKey: secret},
			r, hex.EncodeToString(sum[:]), "lambda", "us-east-1", time.Now()); err != nil {
			t.Fatal(err)
		}
		return r
	}
	id, rep := s.authIAM(signed(bobKey, bobSecret), target{function: "f"}, []byte("{}"), "")
	if rep != nil || id == nil || id.UserARN != bobARN || id.UserID != "AIDABOB" {
		t.Fatalf("bob on f: %+v %+v, want allowed with bob in the event", id, rep)
	}
	for _, tc := range []struct {
		name, key, secret, fn string
	}{
		{"bob on another function", bobKey, bobSecret, "g"},
		{"carol, without a policy", carolKey, carolSecret, "f"},
	} {
		if _, rep := s.authIAM(signed(tc.key, tc.secret), target{function: tc.fn}, []byte("{}"), ""); rep == nil || rep.Status != http.StatusForbidden {
			t.Errorf("%s: %+v, want 403", tc.name, rep)
		}
	}
}
