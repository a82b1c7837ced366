package sns

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/kumo-run/kumo/internal/awsproto"
)

// CertPath is where the edge serves the certificate of the key
// notifications are signed with (SigningCertURL).
const CertPath = "/SimpleNotificationService-kumo.pem"

// LoadSigningKey reads the RSA key notifications are signed with from
// path (PEM, PKCS#1), creating it (2048 bits, mode 0600) when absent, so
// that signatures verify across restarts.
func LoadSigningKey(path string) (*rsa.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		k, err := ParseSigningKey(b)
		if err != nil {
			return nil, fmt.Errorf("sns: %s: %w", path, err)
		}
		return k, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	b, err = NewSigningKey()
	if err != nil {
		return nil, err
	}
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return nil, err
	}
	if err := os.Rename(tmp, path); err != nil {
		return nil, err
	}
	return ParseSigningKey(b)
}

// NewSigningKey generates a signing key (RSA, 2048 bits) in the form
// LoadSigningKey keeps it: PEM, PKCS#1.
func NewSigningKey() ([]byte, error) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)}), nil
}

// ParseSigningKey reads a signing key kept as NewSigningKey makes it.
func ParseSigningKey(b []byte) (*rsa.PrivateKey, error) {
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, errors.New("no PEM block")
	}
	return x509.ParsePKCS1PrivateKey(blk.Bytes)
}

// certificate is a self-signed certificate of the signing key, PEM.
func certificate(k *rsa.PrivateKey) ([]byte, error) {
	tpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "sns.amazonaws.com", Organization: []string{"Kumo"}},
		NotBefore:    time.Unix(0, 0),
		NotAfter:     time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC),
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &k.PublicKey, k)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), nil
}

// CertHandler serves the signing certificate at CertPath; it needs no
// authentication, as SNS's certificates are public.
func (s *Service) CertHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-pem-file")
		_, _ = w.Write(s.cert)
	})
}

// ConfirmHandler serves the SubscribeURL of a SubscriptionConfirmation:
// GET /?Action=ConfirmSubscription&TopicArn=…&Token=…, without a
// signature, as SNS serves it; the token is the credential. It confirms
// and answers as ConfirmSubscription does.
func (s *Service) ConfirmHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := awsproto.QueryRequest{Action: "ConfirmSubscription", Version: Version, Params: r.URL.Query()}
		out, err := s.confirmSubscription(r.Context(), q)
		if err != nil {
			Errors.WriteError(w, r, err)
			return
		}
		awsproto.WriteQueryResult(w, r, q.Action, Namespace, out)
	})
}

// UnsubscribeHandler serves the UnsubscribeURL of a notification:
// GET /?Action=Unsubscribe&SubscriptionArn=…, without a signature, as SNS
// serves it; the subscription's ARN, which only its endpoint is sent, is
// the credential.
func (s *Service) UnsubscribeHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := awsproto.QueryRequest{Action: "Unsubscribe", Version: Version, Params: r.URL.Query()}
		out, err := s.unsubscribe(r.Context(), q)
		if err != nil {
			Errors.WriteError(w, r, err)
			return
		}
		awsproto.WriteQueryResult(w, r, q.Action, Namespace, out)
	})
}
