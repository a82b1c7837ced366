package lambda

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/kumo-run/kumo/internal/awsproto"
	"github.com/kumo-run/kumo/internal/store"
)

// CodePath is where code zips are downloaded from, with a signed, expiring
// query, the way GetFunction's Code.Location is a presigned S3 URL on AWS.
const CodePath = "/kumo/code/"

// DefaultCodeURLTTL is how long a code download link stays valid, as
// GetFunction's presigned links on AWS do.
const DefaultCodeURLTTL = 10 * time.Minute

// CodeURLs signs and serves the code download links. The links need no
// other authentication: whoever may call GetFunction may hand one on.
type CodeURLs struct {
	Key  []byte // HMAC key, secret, stable across restarts
	Code store.Blobs
	TTL  time.Duration // DefaultCodeURLTTL when zero
	Now  func() time.Time
}

func (c *CodeURLs) sign(blob string, expires int64) string {
	m := hmac.New(sha256.New, c.Key)
	io.WriteString(m, blob)
	io.WriteString(m, "\n")
	io.WriteString(m, strconv.FormatInt(expires, 10))
	return hex.EncodeToString(m.Sum(nil))
}

func (c *CodeURLs) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// URL returns a download link for blob on the host the request came to.
func (c *CodeURLs) URL(r *http.Request, blob string) string {
	ttl := c.TTL
	if ttl == 0 {
		ttl = DefaultCodeURLTTL
	}
	exp := c.now().Add(ttl).Unix()
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + CodePath + blob + "?Expires=" + strconv.FormatInt(exp, 10) + "&Signature=" + c.sign(blob, exp)
}

// ServeHTTP serves GET /kumo/code/<blob>?Expires=..&Signature=.. .
func (c *CodeURLs) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		awsproto.WriteError(w, awsproto.Errorf(awsproto.UnknownOperationException, "Unknown operation %s %s", r.Method, r.URL.Path))
		return
	}
	blob := r.URL.Path[len(CodePath):]
	q := r.URL.Query()
	exp, err := strconv.ParseInt(q.Get("Expires"), 10, 64)
	if err != nil || !hmac.Equal([]byte(q.Get("Signature")), []byte(c.sign(blob, exp))) {
		awsproto.WriteError(w, awsproto.Errorf(awsproto.AccessDeniedException, "Request has an invalid signature."))
		return
	}
	if c.now().Unix() > exp {
		awsproto.WriteError(w, awsproto.Errorf(awsproto.AccessDeniedException, "Request has expired."))
		return
	}
	rc, info, err := c.Code.Get(r.Context(), blob)
	if err != nil {
		awsproto.WriteError(w, awsproto.Errorf(awsproto.ResourceNotFoundException, "The code package no longer exists."))
		return
	}
	defer rc.Close()
	w.Header().Set("Content-Type", "application/zip")
	w.Header().Set("Content-Length", strconv.FormatInt(info.Size, 10))
	if r.Method == http.MethodHead {
		return
	}
	io.Copy(w, rc)
}
