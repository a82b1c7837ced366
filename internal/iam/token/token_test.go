package token

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/kumo-run/kumo/internal/awsproto"
)

func testIssuer(t testing.TB, fill byte, now time.Time) *Issuer {
	t.Helper()
	i, err := New(bytes.Repeat([]byte{fill}, KeySize))
	if err != nil {
		t.Fatal(err)
	}
	i.Now = func() time.Time { return now }
	return i
}

var t0 = time.Date(2026, 12, 5, 8, 0, 0, 0, time.UTC)

func TestMintOpen(t *testing.T) {
	is := testIssuer(t, 1, t0)
	id, err := is.RoleSession("arn:aws:iam::000000000000:role/service-role/lambda-role", "my-function")
	if err != nil {
		t.Fatal(err)
	}
	if id.ARN != "arn:aws:sts::000000000000:assumed-role/lambda-role/my-function" {
		t.Errorf("ARN = %q", id.ARN)
	}
	if !strings.HasPrefix(id.UserID, "AROA") || !strings.HasSuffix(id.UserID, ":my-function") || len(id.UserID) != 21+len(":my-function") {
		t.Errorf("UserID = %q", id.UserID)
	}
	c, err := is.Mint(id, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(c.AccessKeyID, "ASIA") || len(c.AccessKeyID) != 20 || len(c.SecretAccessKey) != 40 {
		t.Errorf("credentials %+v", c)
	}
	if !c.Expiration.Equal(t0.Add(time.Hour)) {
		t.Errorf("Expiration = %s", c.Expiration)
	}
	secret, got, err := is.Open(c.AccessKeyID, c.SessionToken, t0.Add(59*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if secret != c.SecretAccessKey {
		t.Errorf("secret %q, minted %q", secret, c.SecretAccessKey)
	}
	id.Expires = c.Expiration
	if got != id {
		t.Errorf("identity %+v, want %+v", got, id)
	}

	// Another node with the same key verifies it too, and derives the
	// same role id.
	other := testIssuer(t, 1, t0)
	if _, _, err := other.Open(c.AccessKeyID, c.SessionToken, t0); err != nil {
		t.Errorf("same key, other issuer: %v", err)
	}
	if other.RoleID(id.RoleARN) != is.RoleID(id.RoleARN) || is.RoleID(id.RoleARN) == is.RoleID(id.RoleARN+"x") {
		t.Error("role ids are not a function of key and ARN")
	}
}

func TestOpenRefuses(t *testing.T) {
	is := testIssuer(t, 1, t0)
	c, err := is.Mint(Root("aws", "000000000000"), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := base64.RawURLEncoding.DecodeString(c.SessionToken)
	flip := func(i int) string {
		b := bytes.Clone(raw)
		b[i] ^= 1
		return base64.RawURLEncoding.EncodeToString(b)
	}
	other, _ := testIssuer(t, 2, t0).Mint(Root("aws", "000000000000"), time.Hour)
	for _, tc := range []struct {
		name, akid, token string
		now               time.Time
		want              error
	}{
		{"expired at expiry", c.AccessKeyID, c.SessionToken, t0.Add(time.Hour), ErrExpired},
		{"expired later", c.AccessKeyID, c.SessionToken, t0.Add(48 * time.Hour), ErrExpired},
		{"tampered ciphertext", c.AccessKeyID, flip(len(raw) - 20), t0, ErrInvalid},
		{"tampered tag", c.AccessKeyID, flip(len(raw) - 1), t0, ErrInvalid},
		{"tampered nonce", c.AccessKeyID, flip(3), t0, ErrInvalid},
		{"tampered version", c.AccessKeyID, flip(0), t0, ErrInvalid},
		{"truncated", c.AccessKeyID, c.SessionToken[:len(c.SessionToken)-4], t0, ErrInvalid},
		{"empty", c.AccessKeyID, "", t0, ErrInvalid},
		{"not base64", c.AccessKeyID, "!!!!" + c.SessionToken, t0, ErrInvalid},
		{"other key id", other.AccessKeyID, c.SessionToken, t0, ErrInvalid},
		{"sealed with another key", other.AccessKeyID, other.SessionToken, t0, ErrInvalid},
		{"long-term key id", "AKIAKUMOE2ETEST00001", c.SessionToken, t0, ErrInvalid},
		{"huge", c.AccessKeyID, strings.Repeat("A", maxTokenLen+1), t0, ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			secret, _, err := is.Open(tc.akid, tc.token, tc.now)
			if !errors.Is(err, tc.want) || secret != "" {
				t.Errorf("Open = %q, %v; want %v", secret, err, tc.want)
			}
		})
	}
}

func TestStore(t *testing.T) {
	is := testIssuer(t, 1, t0)
	root := Root("aws", "000000000000")
	s := &Store{Issuer: is, RootKeyID: "AKIAROOT", RootSecret: "rootsecret", Root: root}
	id, _ := is.RoleSession("arn:aws:iam::000000000000:role/r", "s")
	c, _ := is.Mint(id, time.Hour)

	code := func(err error) awsproto.Code {
		var e *awsproto.Error
		if errors.As(err, &e) {
			return e.Code
		}
		return ""
	}
	for _, tc := range []struct {
		name, akid, token string
		now               time.Time
		secret            string
		arn               string
		code              awsproto.Code
	}{
		{"root", "AKIAROOT", "", t0, "rootsecret", root.ARN, ""},
		{"unknown key", "AKIAOTHER", "", t0, "", "", awsproto.UnrecognizedClientException},
		{"session", c.AccessKeyID, c.SessionToken, t0, c.SecretAccessKey, id.ARN, ""},
		{"session again (cached)", c.AccessKeyID, c.SessionToken, t0, c.SecretAccessKey, id.ARN, ""},
		{"cached token, another key id", "ASIAAAAAAAAAAAAAAAAA", c.SessionToken, t0, "", "", awsproto.UnrecognizedClientException},
		{"session without token", c.AccessKeyID, "", t0, "", "", awsproto.UnrecognizedClientException},
		{"root key with a token", "AKIAROOT", c.SessionToken, t0, "", "", awsproto.UnrecognizedClientException},
		{"expired", c.AccessKeyID, c.SessionToken, t0.Add(2 * time.Hour), "", "", awsproto.ExpiredTokenException},
	} {
		t.Run(tc.name, func(t *testing.T) {
			secret, got, err := s.Resolve(tc.akid, tc.token, tc.now)
			if code(err) != tc.code || (err != nil) != (tc.code != "") {
				t.Fatalf("err = %v, want %s", err, tc.code)
			}
			if err == nil && (secret != tc.secret || got.ARN != tc.arn) {
				t.Errorf("Resolve = %q %+v", secret, got)
			}
		})
	}
}

func FuzzOpen(f *testing.F) {
	is := testIssuer(f, 1, t0)
	c, _ := is.Mint(Root("aws", "000000000000"), time.Hour)
	f.Add(c.AccessKeyID, c.SessionToken)
	f.Add("ASIA", "AQ")
	f.Fuzz(func(t *testing.T, akid, token string) {
		// Each fuzz worker mints its own seed; what holds for every
		// input is that an opened token gives the key id's own secret
		// and an unexpired identity.
		secret, id, err := is.Open(akid, token, t0)
		if err == nil && (secret != is.secret(akid) || !t0.Before(id.Expires)) {
			t.Fatalf("Open(%q, %q) = %q %+v", akid, token, secret, id)
		}
	})
}

func TestDecodeNeverPanics(t *testing.T) {
	plain := encode("ASIAX", 1, awsproto.Identity{Account: "1", ARN: "a", Expires: t0})
	for n := range len(plain) {
		if _, _, _, ok := decode(plain[:n]); ok {
			t.Errorf("decode accepted %d of %d bytes", n, len(plain))
		}
	}
	if akid, _, id, ok := decode(plain); !ok || akid != "ASIAX" || id.ARN != "a" || !id.Expires.Equal(t0) {
		t.Errorf("decode = %q %+v %v", akid, id, ok)
	}
}

// BenchmarkResolve is what the edge adds to every request signed with
// temporary credentials (opening the token, deriving the secret) and with
// the root key.
func BenchmarkResolve(b *testing.B) {
	is := testIssuer(b, 1, t0)
	id, _ := is.RoleSession("arn:aws:iam::000000000000:role/lambda-role", "my-function")
	c, _ := is.Mint(id, time.Hour)
	s := &Store{Issuer: is, RootKeyID: "AKIAROOT", RootSecret: "rootsecret", Root: Root("aws", "000000000000")}
	b.Run("session first use", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := is.Open(c.AccessKeyID, c.SessionToken, t0); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("session", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := s.Resolve(c.AccessKeyID, c.SessionToken, t0); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("root", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := s.Resolve("AKIAROOT", "", t0); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("mint", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := is.Mint(id, time.Hour); err != nil {
				b.Fatal(err)
			}
		}
	})
}

type userKeys map[string]string

func (k userKeys) AccessKey(akid string) (string, awsproto.Identity, bool) {
	secret, ok := k[akid]
	return secret, awsproto.Identity{Account: "000000000000", ARN: "arn:aws:iam::000000000000:user/bob", UserID: "AIDABOB"}, ok
}

// TestStoreUserKeys: keys Keys knows resolve to their user without a
// session token, never with one; the root key is the root's whatever
// Keys says; a user's GetSessionToken credentials carry the user.
func TestStoreUserKeys(t *testing.T) {
	is := testIssuer(t, 1, t0)
	s := &Store{Issuer: is, RootKeyID: "AKIAROOT", RootSecret: "rootsecret", Root: Root("aws", "000000000000"),
		Keys: userKeys{"AKIABOB": "bobsecret", "AKIAROOT": "not-root"}}
	secret, id, err := s.Resolve("AKIABOB", "", t0)
	if err != nil || secret != "bobsecret" || id.ARN != "arn:aws:iam::000000000000:user/bob" {
		t.Fatalf("user key = %q %+v %v", secret, id, err)
	}
	if secret, id, err := s.Resolve("AKIAROOT", "", t0); err != nil || secret != "rootsecret" || id.ARN != s.Root.ARN {
		t.Errorf("root key = %q %+v %v", secret, id, err)
	}
	if _, _, err := s.Resolve("AKIAOTHER", "", t0); err == nil {
		t.Error("unknown key resolved")
	}
	c, _ := is.Mint(id, time.Hour)
	if _, _, err := s.Resolve("AKIABOB", c.SessionToken, t0); err == nil {
		t.Error("long-term user key with a session token resolved")
	}
	secret, got, err := s.Resolve(c.AccessKeyID, c.SessionToken, t0)
	if err != nil || secret != c.SecretAccessKey || got.ARN != id.ARN || got.UserID != "AIDABOB" {
		t.Errorf("user session = %q %+v %v", secret, got, err)
	}
}

// TestStoredSecrets: the stored-secret cipher is the same for the same
// node key and differs from another key's.
func TestStoredSecrets(t *testing.T) {
	a, b, other := testIssuer(t, 1, t0).StoredSecrets(), testIssuer(t, 1, t0).StoredSecrets(), testIssuer(t, 2, t0).StoredSecrets()
	nonce := make([]byte, a.NonceSize())
	sealed := a.Seal(nil, nonce, []byte("secret"), nil)
	if plain, err := b.Open(nil, nonce, sealed, nil); err != nil || string(plain) != "secret" {
		t.Errorf("same key: %q %v", plain, err)
	}
	if _, err := other.Open(nil, nonce, sealed, nil); err == nil {
		t.Error("another key opened the sealed secret")
	}
}
