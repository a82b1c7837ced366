package awsproto

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// S3's x-amz-content-sha256 values for bodies whose hash the seed
// signature does not cover.
const (
	// StreamingSignedPayload: an aws-chunked body whose every chunk is
	// signed, chained from the seed signature.
	StreamingSignedPayload = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
	// StreamingSignedPayloadTrailer: the same, with signed trailers.
	StreamingSignedPayloadTrailer = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
	// StreamingUnsignedPayloadTrailer: an aws-chunked body without
	// chunk signatures, its checksum in a trailer.
	StreamingUnsignedPayloadTrailer = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
	// UnsignedPayload: a plain body the signature does not cover.
	UnsignedPayload = unsignedPayload
)

// VerifyS3 checks r's SigV4 header signature the way S3 does: the
// canonical URI is the request target's path exactly as sent (S3 neither
// encodes it a second time nor removes dot segments), and the payload hash
// is the value of x-amz-content-sha256, which S3 requires. The body is not
// read: when the header is a hex SHA-256 the caller must check the body
// against it (PayloadHashMismatch); for a streaming signed payload the
// returned ChunkVerifier checks each chunk's signature. Errors are *Error
// in the catalogue's shared SigV4 codes; S3 maps them to its own.
func (v *Verifier) VerifyS3(r *http.Request) (Authorization, *ChunkVerifier, error) {
	a, amzDate, secret, err := v.checkHeaders(r)
	if err != nil {
		return a, nil, err
	}
	cs := r.Header["X-Amz-Content-Sha256"]
	if len(cs) != 1 || cs[0] == "" {
		return a, nil, Errorf(InvalidSignatureException, "Missing required header for this request: x-amz-content-sha256")
	}
	sc := scratchPool.Get().(*scratch)
	sc.rawPath = true
	defer func() { sc.rawPath = false; scratchPool.Put(sc) }()
	if !v.matches(sc, r, &a, rawPath(r), amzDate, []byte(cs[0]), secret) {
		return a, nil, Errorf(InvalidSignatureException, msgMismatch)
	}
	v.keys.remember(secret, &a)
	var cv *ChunkVerifier
	if cs[0] == StreamingSignedPayload || cs[0] == StreamingSignedPayloadTrailer {
		cv = &ChunkVerifier{key: v.keys.get(secret, &a), prev: strings.Clone(a.Signature),
			prefix: "AWS4-HMAC-SHA256-PAYLOAD\n" + amzDate + "\n" + a.Date + "/" + a.Region + "/" + a.Service + "/" + sigV4Terminator + "\n"}
	}
	return a, cv, nil
}

// emptySHA256 is the hex SHA-256 of nothing.
const emptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

// ChunkVerifier checks the chain of chunk signatures of an aws-chunked body
// signed with STREAMING-AWS4-HMAC-SHA256-PAYLOAD: each chunk's signature
// signs the previous one (the seed signature first) and the chunk's
// SHA-256. It is used by one body reader at a time.
type ChunkVerifier struct {
	key    [32]byte
	prefix string
	prev   string
}

// Verify checks sig against the chunk whose SHA-256 is sum and advances the
// chain. It reports false for a signature that does not match.
func (c *ChunkVerifier) Verify(sum [sha256.Size]byte, sig string) bool {
	h := hmac.New(sha256.New, c.key[:])
	h.Write([]byte(c.prefix))
	h.Write([]byte(c.prev))
	h.Write([]byte("\n" + emptySHA256 + "\n"))
	var hx [64]byte
	hex.Encode(hx[:], sum[:])
	h.Write(hx[:])
	var want [64]byte
	hex.Encode(want[:], h.Sum(nil))
	if len(sig) != 64 || !hmac.Equal(want[:], []byte(sig)) {
		return false
	}
	c.prev = string(want[:])
	return true
}

// MaxPresignedExpiry is the longest X-Amz-Expires SigV4 allows: 7 days.
const MaxPresignedExpiry = 7 * 24 * time.Hour

// ErrPresignedExpired is the error for a presigned URL past its expiry; S3
// answers it with AccessDenied "Request has expired".
var ErrPresignedExpired = errors.New("awsproto: presigned request has expired")

// VerifyPresigned checks a SigV4 query-string signature (a presigned URL:
// X-Amz-Algorithm, X-Amz-Credential, X-Amz-Date, X-Amz-Expires,
// X-Amz-SignedHeaders, X-Amz-Signature and X-Amz-Security-Token for
// temporary credentials) as S3 computes it: the canonical query is every
// parameter but X-Amz-Signature, the path is as sent, the payload hash is
// UNSIGNED-PAYLOAD unless X-Amz-Content-Sha256 is given. The request is
// valid from its X-Amz-Date (within MaxSkew) until X-Amz-Expires seconds
// later. Errors are *Error in the shared SigV4 codes; an expired URL is an
// *Error wrapping ErrPresignedExpired.
func (v *Verifier) VerifyPresigned(r *http.Request) (Authorization, error) {
	q := r.URL.Query()
	var a Authorization
	if q.Get("X-Amz-Algorithm") != sigV4Algorithm {
		return a, Errorf(IncompleteSignatureException, "X-Amz-Algorithm only supports \"%s\"", sigV4Algorithm)
	}
	a, err := ParseAuthorization(sigV4Algorithm + " Credential=" + q.Get("X-Amz-Credential") +
		", SignedHeaders=" + q.Get("X-Amz-SignedHeaders") + ", Signature=" + q.Get("X-Amz-Signature"))
	if err != nil {
		return a, err
	}
	amzDate := q.Get("X-Amz-Date")
	signedAt, err := time.Parse(amzDateLayout, amzDate)
	if err != nil || len(amzDate) != len(amzDateLayout) {
		return a, Errorf(IncompleteSignatureException, "X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"")
	}
	expires, err := strconv.Atoi(q.Get("X-Amz-Expires"))
	if err != nil || expires < 0 {
		return a, Errorf(IncompleteSignatureException, "X-Amz-Expires should be a number")
	}
	if time.Duration(expires)*time.Second > MaxPresignedExpiry {
		return a, Errorf(IncompleteSignatureException, "X-Amz-Expires must be less than a week (in seconds) that is 604800")
	}
	if a.Date != amzDate[:8] {
		return a, Errorf(InvalidSignatureException, "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '%s' != '%s', from '%s'.", clip(a.Date), amzDate[:8], amzDate)
	}
	if a.Region != v.Region || a.terminator != sigV4Terminator || a.Service == "" {
		return a, Errorf(InvalidSignatureException, "Credential should be scoped to a valid region, service and terminator, not '%s'. ", clip(q.Get("X-Amz-Credential")))
	}
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	skew := v.MaxSkew
	if skew <= 0 {
		skew = DefaultMaxSkew
	}
	at := now().UTC()
	var secret string
	switch cs := v.Credentials.(type) {
	case nil:
		return a, Errorf(UnrecognizedClientException, msgUnknownKey)
	case IdentityStore:
		if secret, a.Identity, err = cs.Resolve(a.AccessKeyID, q.Get(SecurityTokenHeader), at); err != nil {
			return a, err
		}
	default:
		ok := false
		if secret, ok = cs.SecretKey(a.AccessKeyID); !ok {
			return a, Errorf(UnrecognizedClientException, msgUnknownKey)
		}
	}
	if signedAt.After(at.Add(skew)) {
		return a, Errorf(InvalidSignatureException, "Signature not yet current: %s is still later than %s", amzDate, at.Add(skew).Format(amzDateLayout))
	}
	if at.After(signedAt.Add(time.Duration(expires) * time.Second)) {
		e := Errorf(InvalidSignatureException, "Request has expired")
		e.cause = ErrPresignedExpired
		return a, e
	}
	if !a.signs("host") {
		return a, Errorf(InvalidSignatureException, msgHostNotSigned)
	}
	payload := unsignedPayload
	if p := q.Get("X-Amz-Content-Sha256"); p != "" {
		payload = p
	}
	// The canonical query: the raw query without X-Amz-Signature.
	var kept []string
	for pair := range strings.SplitSeq(r.URL.RawQuery, "&") {
		if !strings.HasPrefix(pair, "X-Amz-Signature=") {
			kept = append(kept, pair)
		}
	}
	r2 := *r
	u := *r.URL
	u.RawQuery = strings.Join(kept, "&")
	r2.URL = &u
	sc := scratchPool.Get().(*scratch)
	sc.rawPath = true
	defer func() { sc.rawPath = false; scratchPool.Put(sc) }()
	if !v.matches(sc, &r2, &a, rawPath(r), amzDate, []byte(payload), secret) {
		return a, Errorf(InvalidSignatureException, msgMismatch)
	}
	return a, nil
}

// s3SubResources are the query parameters S3's SigV2 string to sign
// includes in the canonical resource (the S3 developer guide's list).
var s3SubResources = []string{"acl", "cors", "delete", "lifecycle", "location", "logging", "notification", "partNumber",
	"policy", "requestPayment", "response-cache-control", "response-content-disposition", "response-content-encoding",
	"response-content-language", "response-content-type", "response-expires", "restore", "tagging", "torrent",
	"uploadId", "uploads", "versionId", "versioning", "versions", "website"}

// VerifyPresignedV2 checks S3's older query-string signature (AWSAccessKeyId,
// Expires, Signature: HMAC-SHA1 of the verb, Content-MD5, Content-Type,
// Expires, the x-amz-* headers and the canonical resource), which boto3
// still uses for presigned URLs unless told to sign with SigV4. The path is
// taken as sent, as S3 signs it (path-style addressing). It returns the
// caller's Authorization (AccessKeyID and Identity only); an expired URL is
// an *Error wrapping ErrPresignedExpired.
func (v *Verifier) VerifyPresignedV2(r *http.Request) (Authorization, error) {
	q := r.URL.Query()
	a := Authorization{AccessKeyID: q.Get("AWSAccessKeyId")}
	expires, err := strconv.ParseInt(q.Get("Expires"), 10, 64)
	if err != nil || a.AccessKeyID == "" || q.Get("Signature") == "" {
		return a, Errorf(IncompleteSignatureException, "Query-string authentication requires the Signature, Expires and AWSAccessKeyId parameters")
	}
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	at := now().UTC()
	var secret string
	switch cs := v.Credentials.(type) {
	case nil:
		return a, Errorf(UnrecognizedClientException, msgUnknownKey)
	case IdentityStore:
		token := q.Get("x-amz-security-token")
		if token == "" {
			token = r.Header.Get(SecurityTokenHeader)
		}
		if secret, a.Identity, err = cs.Resolve(a.AccessKeyID, token, at); err != nil {
			return a, err
		}
	default:
		ok := false
		if secret, ok = cs.SecretKey(a.AccessKeyID); !ok {
			return a, Errorf(UnrecognizedClientException, msgUnknownKey)
		}
	}
	if at.Unix() > expires {
		e := Errorf(InvalidSignatureException, "Request has expired")
		e.cause = ErrPresignedExpired
		return a, e
	}
	var b strings.Builder
	b.WriteString(r.Method + "\n" + r.Header.Get("Content-MD5") + "\n" + r.Header.Get("Content-Type") + "\n" + q.Get("Expires") + "\n")
	var amz []string
	for name, vs := range r.Header {
		if l := strings.ToLower(name); strings.HasPrefix(l, "x-amz-") {
			amz = append(amz, l+":"+strings.Join(vs, ","))
		}
	}
	for k, vs := range q {
		if l := strings.ToLower(k); strings.HasPrefix(l, "x-amz-") && len(vs) > 0 {
			amz = append(amz, l+":"+vs[0])
		}
	}
	slices.Sort(amz)
	for _, h := range amz {
		b.WriteString(h + "\n")
	}
	b.WriteString(rawPath(r))
	sep := "?"
	for _, k := range s3SubResources {
		if vs, ok := q[k]; ok {
			b.WriteString(sep + k)
			if len(vs) > 0 && vs[0] != "" {
				b.WriteString("=" + vs[0])
			}
			sep = "&"
		}
	}
	m := hmac.New(sha1.New, []byte(secret))
	m.Write([]byte(b.String()))
	want := base64.StdEncoding.EncodeToString(m.Sum(nil))
	if !hmac.Equal([]byte(want), []byte(q.Get("Signature"))) {
		return a, Errorf(InvalidSignatureException, msgMismatch)
	}
	return a, nil
}
