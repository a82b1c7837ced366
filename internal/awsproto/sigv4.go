package awsproto

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/textproto"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// SigV4 wire constants.
const (
	sigV4Algorithm  = "AWS4-HMAC-SHA256"
	sigV4Terminator = "aws4_request"
	amzDateLayout   = "20060102T150405Z"
	unsignedPayload = "UNSIGNED-PAYLOAD"

	// DefaultMaxSkew is how far a request's signing time may be from the
	// server's clock, either way, when Verifier.MaxSkew is zero. It is
	// AWS's value.
	DefaultMaxSkew = 5 * time.Minute
)

// Messages AWS sends for SigV4 failures, word for word where AWS's are known.
const (
	msgMissingToken     = "Missing Authentication Token"
	msgUnknownKey       = "The security token included in the request is invalid."
	msgMismatch         = "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
	msgNoDate           = "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
	msgHostNotSigned    = "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."
	msgPayloadHash      = "The provided 'x-amz-content-sha256' header does not match what was computed."
	msgMultipleAuthz    = "Only one Authorization header may be sent."
	msgRequiresCred     = "Authorization header requires 'Credential' parameter."
	msgRequiresSig      = "Authorization header requires 'Signature' parameter."
	msgRequiresSigned   = "Authorization header requires 'SignedHeaders' parameter."
	msgEmptySignedEntry = "Authorization header has an empty name in 'SignedHeaders'."
)

// CredentialStore looks up the secret for an access key id. Implementations
// must be safe for concurrent use; SecretKey is called on every signed
// request, so it must not block on I/O.
type CredentialStore interface {
	SecretKey(accessKeyID string) (secret string, ok bool)
}

// StaticCredentials maps access key ids to secrets.
type StaticCredentials map[string]string

// SecretKey implements CredentialStore.
func (c StaticCredentials) SecretKey(accessKeyID string) (string, bool) {
	s, ok := c[accessKeyID]
	return s, ok
}

var _ CredentialStore = StaticCredentials(nil)

// IdentityStore is a CredentialStore that also resolves temporary
// credentials and names who credentials belong to. When a Verifier's
// Credentials implement it, Resolve is used instead of SecretKey.
type IdentityStore interface {
	CredentialStore
	// Resolve returns the secret and the identity of accessKeyID.
	// sessionToken is the request's X-Amz-Security-Token, "" when it
	// has none; now is the verifier's clock. An error is an *Error a
	// client can be sent: UnrecognizedClientException for an unknown
	// key or a token that is not valid, ExpiredTokenException for one
	// that has expired. Like SecretKey it runs on every signed request
	// and must not block on I/O.
	Resolve(accessKeyID, sessionToken string, now time.Time) (secret string, id Identity, err error)
}

// SecurityTokenHeader carries the session token of temporary credentials.
const SecurityTokenHeader = "X-Amz-Security-Token"

// Verifier checks AWS Signature Version 4 header authentication
// ("Authorization: AWS4-HMAC-SHA256 ...") the way AWS's non-S3 services do.
//
// A Verifier is safe for concurrent use. Its fields must not change after
// the first call to Verify, and it must not be copied after that call (it
// caches derived signing keys).
type Verifier struct {
	// Region every credential scope must name, e.g. "us-east-1".
	Region string
	// GlobalRegions are regions a global service's credential scope may
	// name besides Region, by service: AWS's clients sign IAM requests
	// for us-east-1 whatever region they are configured with.
	GlobalRegions map[string]string
	// Credentials resolves access key ids; nil rejects every key.
	Credentials CredentialStore
	// MaxSkew is how far the signing time may be from Now; DefaultMaxSkew
	// when zero.
	MaxSkew time.Duration
	// Now is the server's clock; time.Now when nil.
	Now func() time.Time

	keys keyCache
}

// Authorization is a parsed SigV4 Authorization header. Its strings share
// memory with the header.
type Authorization struct {
	AccessKeyID string
	// Date is the credential scope's date, YYYYMMDD.
	Date    string
	Region  string
	Service string
	// SignedHeaders are the header names as sent: lowercase, sorted.
	SignedHeaders []string
	Signature     string
	// Identity is who the credentials belong to, set by Verify when the
	// verifier's Credentials are an IdentityStore.
	Identity Identity

	// terminator is the scope's last element, checked by Verify.
	terminator string
}

// ParseAuthorization parses a SigV4 Authorization header value of the form
//
//	AWS4-HMAC-SHA256 Credential=AKID/20261121/us-east-1/lambda/aws4_request, SignedHeaders=host;x-amz-date, Signature=...
//
// It checks the structure only; the scope's values are checked by Verify.
// Errors are *Error with code IncompleteSignatureException.
func ParseAuthorization(h string) (Authorization, error) {
	var a Authorization
	h = trimOWS(h)
	alg, rest, _ := strings.Cut(h, " ")
	if alg != sigV4Algorithm {
		if strings.HasPrefix(alg, "AWS4-") {
			return a, Errorf(IncompleteSignatureException, "Unsupported AWS 'algorithm': '%s'.", clip(alg))
		}
		return a, Errorf(IncompleteSignatureException, "%s %s %s", msgRequiresCred, msgRequiresSig, msgRequiresSigned)
	}
	var cred, signed, sig string
	var haveCred, haveSigned, haveSig bool
	for rest != "" {
		var part string
		part, rest, _ = strings.Cut(rest, ",")
		part = trimOWS(part)
		if part == "" {
			continue
		}
		k, val, ok := strings.Cut(part, "=")
		if !ok {
			return a, Errorf(IncompleteSignatureException, "'%s' not a valid key=value pair (missing equal-sign) in Authorization header.", clip(part))
		}
		var dst *string
		var seen *bool
		switch k {
		case "Credential":
			dst, seen = &cred, &haveCred
		case "SignedHeaders":
			dst, seen = &signed, &haveSigned
		case "Signature":
			dst, seen = &sig, &haveSig
		default:
			// AWS ignores parameters it does not know.
			continue
		}
		if *seen {
			return a, Errorf(IncompleteSignatureException, "Authorization header has a duplicate '%s' parameter.", k)
		}
		*dst, *seen = val, true
	}
	if !haveCred || !haveSig || !haveSigned {
		var missing []string
		if !haveCred {
			missing = append(missing, msgRequiresCred)
		}
		if !haveSig {
			missing = append(missing, msgRequiresSig)
		}
		if !haveSigned {
			missing = append(missing, msgRequiresSigned)
		}
		return a, Errorf(IncompleteSignatureException, "%s", strings.Join(missing, " "))
	}

	// Credential is exactly keyid/date/region/service/terminator.
	var parts [5]string
	n, s := 0, cred
	for n < 4 {
		i := strings.IndexByte(s, '/')
		if i < 0 {
			break
		}
		parts[n], s = s[:i], s[i+1:]
		n++
	}
	if n != 4 || strings.IndexByte(s, '/') >= 0 {
		return a, Errorf(IncompleteSignatureException, "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '%s'", clip(cred))
	}
	parts[4] = s

	if signed == "" {
		return a, Errorf(IncompleteSignatureException, "%s", msgRequiresSigned)
	}
	if sig == "" {
		return a, Errorf(IncompleteSignatureException, "%s", msgRequiresSig)
	}
	headers := make([]string, 0, strings.Count(signed, ";")+1)
	for name := range strings.SplitSeq(signed, ";") {
		if name == "" {
			return a, Errorf(IncompleteSignatureException, "%s", msgEmptySignedEntry)
		}
		headers = append(headers, name)
	}
	a.AccessKeyID, a.Date, a.Region, a.Service = parts[0], parts[1], parts[2], parts[3]
	a.SignedHeaders = headers
	a.Signature = sig
	a.terminator = parts[4]
	return a, nil
}

// Verify checks r's SigV4 signature. payload is the full request body,
// already read by the caller; r.Body is not touched. It returns the parsed
// Authorization (so a caller can route by Service) — also alongside most
// errors, once the header parsed — or an *Error a client can be sent.
//
// The canonical request is built from what the client sent: the request
// target's raw path (r.RequestURI when set, else r.URL.EscapedPath()),
// encoded once more as non-S3 services do, r.URL.RawQuery, r.Host and the
// signed headers.
func (v *Verifier) Verify(r *http.Request, payload []byte) (Authorization, error) {
	var payloadHash [64]byte
	sum := sha256.Sum256(payload)
	hex.Encode(payloadHash[:], sum[:])
	hashed := string(payloadHash[:])
	if cs := r.Header["X-Amz-Content-Sha256"]; len(cs) == 1 && cs[0] == unsignedPayload {
		hashed = unsignedPayload
	}
	return v.VerifyHash(r, hashed)
}

// VerifyHash checks r's SigV4 signature against payloadHash, the lowercase
// hex SHA-256 of the body (or UNSIGNED-PAYLOAD), without reading the body.
// A caller that has the hash from the signed x-amz-content-sha256 header
// can so authenticate a request before reading its body, and must then
// check that the body it reads has that hash (PayloadHashMismatch when
// not). When r carries x-amz-content-sha256, payloadHash must be its value.
func (v *Verifier) VerifyHash(r *http.Request, payloadHash string) (Authorization, error) {
	a, amzDate, secret, err := v.checkHeaders(r)
	if err != nil {
		return a, err
	}
	if cs, ok := r.Header["X-Amz-Content-Sha256"]; ok && (len(cs) != 1 || cs[0] != payloadHash) {
		return a, PayloadHashMismatch()
	}

	sc := scratchPool.Get().(*scratch)
	defer scratchPool.Put(sc)

	hashed := []byte(payloadHash)
	path := rawPath(r)
	if !v.matches(sc, r, &a, path, amzDate, hashed, secret) {
		// botocore (the AWS CLI) removes dot segments and empty segments
		// from the path before signing, as AWS does when checking; other
		// SDKs sign the path as sent. Accept either.
		np, changed := normalizePath(path, sc)
		if !changed || !v.matches(sc, r, &a, np, amzDate, hashed, secret) {
			return a, Errorf(InvalidSignatureException, msgMismatch)
		}
	}
	v.keys.remember(secret, &a)
	return a, nil
}

// CheckHeaders makes every check of r's signature that needs neither the
// body nor the secret's HMAC: the header's structure, the signing time and
// its skew, the credential scope, a known access key, and that host and
// every x-amz-* header are signed. A request that passes still has to pass
// Verify or VerifyHash; one that fails can be refused before its body is
// read.
func (v *Verifier) CheckHeaders(r *http.Request) (Authorization, error) {
	a, _, _, err := v.checkHeaders(r)
	return a, err
}

// PayloadHashMismatch is the error for a body whose SHA-256 is not the
// x-amz-content-sha256 value its request was signed with.
func PayloadHashMismatch() *Error { return Errorf(InvalidSignatureException, msgPayloadHash) }

func (v *Verifier) checkHeaders(r *http.Request) (a Authorization, amzDate, secret string, err error) {
	hv := r.Header["Authorization"]
	if len(hv) == 0 || (len(hv) == 1 && trimOWS(hv[0]) == "") {
		return a, "", "", Errorf(MissingAuthenticationTokenException, msgMissingToken)
	}
	if len(hv) > 1 {
		return a, "", "", Errorf(IncompleteSignatureException, msgMultipleAuthz)
	}
	a, err = ParseAuthorization(hv[0])
	if err != nil {
		return a, "", "", err
	}

	// The signing time: X-Amz-Date, else Date.
	var signedAt time.Time
	if d := r.Header.Get("X-Amz-Date"); d != "" {
		t, err := time.Parse(amzDateLayout, d)
		if err != nil || len(d) != len(amzDateLayout) {
			return a, "", "", Errorf(IncompleteSignatureException, "Date must be in ISO-8601 'basic format'. Got '%s'. See http://en.wikipedia.org/wiki/ISO_8601", clip(d))
		}
		amzDate, signedAt = d, t
	} else if d := r.Header.Get("Date"); d != "" {
		t, err := http.ParseTime(d)
		if err != nil {
			return a, "", "", Errorf(IncompleteSignatureException, "Date must be in RFC 7231 format. Got '%s'.", clip(d))
		}
		signedAt = t.UTC()
		amzDate = signedAt.Format(amzDateLayout)
	} else {
		return a, "", "", Errorf(IncompleteSignatureException, msgNoDate)
	}

	// The credential scope.
	if a.Date != amzDate[:8] {
		return a, "", "", Errorf(InvalidSignatureException, "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '%s' != '%s', from '%s'.", clip(a.Date), amzDate[:8], amzDate)
	}
	if a.Region != v.Region && (a.Region == "" || v.GlobalRegions[a.Service] != a.Region) {
		return a, "", "", Errorf(InvalidSignatureException, "Credential should be scoped to a valid region, not '%s'. ", clip(a.Region))
	}
	if a.terminator != sigV4Terminator {
		return a, "", "", Errorf(InvalidSignatureException, "Credential should be scoped with a valid terminator: 'aws4_request', not '%s'. ", clip(a.terminator))
	}
	if a.Service == "" {
		return a, "", "", Errorf(InvalidSignatureException, "Credential should be scoped to correct service: ''. ")
	}

	// Clock skew, either way.
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	skew := v.MaxSkew
	if skew <= 0 {
		skew = DefaultMaxSkew
	}
	at := now().UTC()

	switch cs := v.Credentials.(type) {
	case nil:
		return a, "", "", Errorf(UnrecognizedClientException, msgUnknownKey)
	case IdentityStore:
		var token string
		if t := r.Header[SecurityTokenHeader]; len(t) == 1 {
			token = t[0]
		} else if len(t) > 1 {
			return a, "", "", Errorf(UnrecognizedClientException, msgUnknownKey)
		}
		if secret, a.Identity, err = cs.Resolve(a.AccessKeyID, token, at); err != nil {
			return a, "", "", err
		}
	default:
		ok := false
		if secret, ok = cs.SecretKey(a.AccessKeyID); !ok {
			return a, "", "", Errorf(UnrecognizedClientException, msgUnknownKey)
		}
	}

	if signedAt.Before(at.Add(-skew)) {
		return a, "", "", Errorf(InvalidSignatureException, "Signature expired: %s is now earlier than %s (%s - %s.)",
			amzDate, at.Add(-skew).Format(amzDateLayout), at.Format(amzDateLayout), skewText(skew))
	}
	if signedAt.After(at.Add(skew)) {
		return a, "", "", Errorf(InvalidSignatureException, "Signature not yet current: %s is still later than %s (%s + %s.)",
			amzDate, at.Add(skew).Format(amzDateLayout), at.Format(amzDateLayout), skewText(skew))
	}

	// Host and every x-amz-* header must be covered by the signature.
	if !a.signs("host") {
		return a, "", "", Errorf(InvalidSignatureException, msgHostNotSigned)
	}
	for name := range r.Header {
		if len(name) >= 6 && strings.EqualFold(name[:6], "x-amz-") && !a.signs(name) {
			return a, "", "", Errorf(InvalidSignatureException, "There were headers present in the request which were not signed: %s", clip(strings.ToLower(name)))
		}
	}
	return a, amzDate, secret, nil
}

// signs reports whether the lowercase header name is signed. name may be in
// any case.
func (a *Authorization) signs(name string) bool {
	for _, s := range a.SignedHeaders {
		if strings.EqualFold(s, name) {
			return true
		}
	}
	return false
}

// matches builds the canonical request and string to sign into sc, signs
// it and compares the result with the provided signature in constant time.
func (v *Verifier) matches(sc *scratch, r *http.Request, a *Authorization, path, amzDate string, payloadHash []byte, secret string) bool {
	cr, ok := sc.canonicalRequest(r, a, path, payloadHash)
	if !ok {
		return false
	}
	crHash := sha256.Sum256(cr)

	// String to sign, written after a 64-byte gap that hmacSHA256 fills
	// with the inner pad, so the message is hashed without a copy.
	b := sc.sts[:0]
	b = append(b, make([]byte, sha256.BlockSize)...)
	b = append(b, sigV4Algorithm...)
	b = append(b, '\n')
	b = append(b, amzDate...)
	b = append(b, '\n')
	b = append(b, a.Date...)
	b = append(b, '/')
	b = append(b, a.Region...)
	b = append(b, '/')
	b = append(b, a.Service...)
	b = append(b, '/')
	b = append(b, sigV4Terminator...)
	b = append(b, '\n')
	b = hex.AppendEncode(b, crHash[:])
	sc.sts = b

	key := v.keys.get(secret, a)
	mac := hmacSHA256(&key, b)
	var want [64]byte
	hex.Encode(want[:], mac[:])
	if len(a.Signature) != len(want) {
		return false
	}
	var got [64]byte
	copy(got[:], a.Signature)
	return hmac.Equal(want[:], got[:])
}

// hmacSHA256 computes HMAC-SHA256 with a 32-byte key over buf[64:],
// overwriting buf[:64] with the inner pad. It does not allocate.
func hmacSHA256(key *[32]byte, buf []byte) [32]byte {
	const ipad, opad = 0x36, 0x5c
	pad := buf[:sha256.BlockSize]
	for i := range pad {
		pad[i] = ipad
	}
	for i, k := range key {
		pad[i] ^= k
	}
	inner := sha256.Sum256(buf)
	var outer [sha256.BlockSize + sha256.Size]byte
	for i := range sha256.BlockSize {
		outer[i] = opad
	}
	for i, k := range key {
		outer[i] ^= k
	}
	copy(outer[sha256.BlockSize:], inner[:])
	return sha256.Sum256(outer[:])
}

// scratch holds the buffers one verification needs, pooled so the hot path
// does not allocate them per request.
type scratch struct {
	cr    []byte      // canonical request
	sts   []byte      // 64-byte gap + string to sign
	query []byte      // encoded query keys and values
	pairs []queryPair // offsets into query
	path  []byte      // normalized path
	// rawPath: the canonical URI is the path as sent, as S3 signs it
	// (see VerifyS3), not encoded once more.
	rawPath bool
}

type queryPair struct{ k0, k1, v0, v1 int }

var scratchPool = sync.Pool{New: func() any {
	return &scratch{cr: make([]byte, 0, 1024), sts: make([]byte, 0, 256)}
}}

// canonicalRequest writes the canonical request into sc.cr. It reports
// false when the request cannot have been signed as sent (a malformed query
// escape).
func (sc *scratch) canonicalRequest(r *http.Request, a *Authorization, path string, payloadHash []byte) ([]byte, bool) {
	b := sc.cr[:0]
	b = append(b, r.Method...)
	b = append(b, '\n')
	switch {
	case path == "":
		b = append(b, '/')
	case sc.rawPath:
		b = append(b, path...)
	default:
		b = appendEscaped(b, path, true)
	}
	b = append(b, '\n')
	var ok bool
	if b, ok = sc.appendQuery(b, r.URL.RawQuery); !ok {
		sc.cr = b
		return nil, false
	}
	b = append(b, '\n')
	for _, name := range a.SignedHeaders {
		b = append(b, name...)
		b = append(b, ':')
		b = appendHeaderValues(b, r, name)
		b = append(b, '\n')
	}
	b = append(b, '\n')
	for i, name := range a.SignedHeaders {
		if i > 0 {
			b = append(b, ';')
		}
		b = append(b, name...)
	}
	b = append(b, '\n')
	b = append(b, payloadHash...)
	sc.cr = b
	return b, true
}

// appendQuery appends the canonical query string: every name and value
// decoded (a '+' is a space) and encoded again per RFC 3986, pairs sorted by
// encoded name, then value. Empty pairs are skipped, as SDKs do.
func (sc *scratch) appendQuery(b []byte, raw string) ([]byte, bool) {
	if raw == "" {
		return b, true
	}
	q := sc.query[:0]
	pairs := sc.pairs[:0]
	for raw != "" {
		var pair string
		pair, raw, _ = strings.Cut(raw, "&")
		if pair == "" {
			continue
		}
		if strings.IndexByte(pair, ';') >= 0 {
			// Go's own query parser drops such a pair, so a Go service
			// would not see what a signer may have signed.
			return b, false
		}
		k, val, _ := strings.Cut(pair, "=")
		var p queryPair
		var ok bool
		p.k0 = len(q)
		if q, ok = appendRecoded(q, k); !ok {
			return b, false
		}
		p.k1 = len(q)
		p.v0 = len(q)
		if q, ok = appendRecoded(q, val); !ok {
			return b, false
		}
		p.v1 = len(q)
		pairs = append(pairs, p)
	}
	sc.query, sc.pairs = q, pairs
	slices.SortFunc(pairs, func(x, y queryPair) int {
		if c := bytes.Compare(q[x.k0:x.k1], q[y.k0:y.k1]); c != 0 {
			return c
		}
		return bytes.Compare(q[x.v0:x.v1], q[y.v0:y.v1])
	})
	for i, p := range pairs {
		if i > 0 {
			b = append(b, '&')
		}
		b = append(b, q[p.k0:p.k1]...)
		b = append(b, '=')
		b = append(b, q[p.v0:p.v1]...)
	}
	return b, true
}

// appendRecoded percent-decodes a query component and appends it encoded
// the SigV4 way. It reports false on a malformed escape.
func appendRecoded(b []byte, s string) ([]byte, bool) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '+':
			c = ' '
		case '%':
			if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
				return b, false
			}
			c = unhex(s[i+1])<<4 | unhex(s[i+2])
			i += 2
		}
		b = appendEscapedByte(b, c)
	}
	return b, true
}

// appendEscaped appends s with every byte outside RFC 3986's unreserved set
// percent-encoded with upper-case hex; '/' is kept when keepSlash.
func appendEscaped(b []byte, s string, keepSlash bool) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '/' && keepSlash {
			b = append(b, c)
			continue
		}
		b = appendEscapedByte(b, c)
	}
	return b
}

func appendEscapedByte(b []byte, c byte) []byte {
	if unreserved[c] {
		return append(b, c)
	}
	const upperHex = "0123456789ABCDEF"
	return append(b, '%', upperHex[c>>4], upperHex[c&15])
}

var unreserved = func() (t [256]bool) {
	for c := 'A'; c <= 'Z'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	t['-'], t['.'], t['_'], t['~'] = true, true, true, true
	return t
}()

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}

// appendHeaderValues appends the canonical value of the signed header name:
// each value trimmed, runs of spaces collapsed, values joined by ','. The
// host comes from r.Host, which Go's server takes out of the header map.
func appendHeaderValues(b []byte, r *http.Request, name string) []byte {
	if strings.EqualFold(name, "host") {
		host := r.Host
		if host == "" && r.URL != nil {
			host = r.URL.Host
		}
		return appendTrimmed(b, host)
	}
	vals := headerValues(r.Header, name)
	if len(vals) == 0 && r.ContentLength > 0 && strings.EqualFold(name, "content-length") {
		return strconv.AppendInt(b, r.ContentLength, 10)
	}
	for i, v := range vals {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendTrimmed(b, v)
	}
	return b
}

// headerValues looks a lowercase header name up in h without allocating:
// the name is put in canonical MIME form in a stack buffer.
func headerValues(h http.Header, name string) []string {
	var buf [64]byte
	if len(name) > len(buf) {
		return h[textproto.CanonicalMIMEHeaderKey(name)]
	}
	upper := true
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !isTokenByte(c) {
			// Go keeps names with bytes outside the token set as sent.
			return h[name]
		}
		if upper && 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		} else if !upper && 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf[i] = c
		upper = c == '-'
	}
	return h[string(buf[:len(name)])]
}

func isTokenByte(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// appendTrimmed appends v without leading and trailing whitespace and with
// each run of spaces as one space (SigV4's Trimall).
func appendTrimmed(b []byte, v string) []byte {
	v = trimOWS(v)
	space := false
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c == ' ' {
			if space {
				continue
			}
			space = true
		} else {
			space = false
		}
		b = append(b, c)
	}
	return b
}

func trimOWS(s string) string {
	for s != "" && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for s != "" && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}

// rawPath is the path of the request target as the client sent it, before
// Go decodes or re-encodes it.
func rawPath(r *http.Request) string {
	if u := r.RequestURI; u != "" && u[0] == '/' {
		if i := strings.IndexByte(u, '?'); i >= 0 {
			u = u[:i]
		}
		return u
	}
	if r.URL == nil {
		return "/"
	}
	if r.URL.Opaque != "" {
		// As the SDK signers do: the path begins at the first '/' after
		// any "//host".
		o := strings.TrimPrefix(r.URL.Opaque, "//")
		if i := strings.IndexByte(o, '/'); i >= 0 {
			return o[i:]
		}
		return "/"
	}
	return r.URL.EscapedPath()
}

// normalizePath removes empty and "." segments and resolves ".." segments
// the way botocore does (RFC 3986 section 5.2.4 plus collapsing "//"). It
// reports whether the result differs from p.
func normalizePath(p string, sc *scratch) (string, bool) {
	if !strings.Contains(p, "//") && !strings.Contains(p, "/.") && !strings.HasPrefix(p, ".") {
		return p, false
	}
	var segs [32]string
	out := segs[:0]
	for seg := range strings.SplitSeq(p, "/") {
		switch seg {
		case "", ".":
		case "..":
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
		default:
			out = append(out, seg)
		}
	}
	b := sc.path[:0]
	if strings.HasPrefix(p, "/") {
		b = append(b, '/')
	}
	for i, seg := range out {
		if i > 0 {
			b = append(b, '/')
		}
		b = append(b, seg...)
	}
	if strings.HasSuffix(p, "/") && len(out) > 0 {
		b = append(b, '/')
	}
	sc.path = b
	np := string(b)
	return np, np != p
}

// clip shortens a client-supplied value echoed in an error message.
func clip(s string) string {
	const max = 128
	if len(s) > max {
		return s[:max] + "..."
	}
	return s
}

func skewText(d time.Duration) string {
	if d%time.Minute == 0 {
		return strconv.FormatInt(int64(d/time.Minute), 10) + " min"
	}
	return d.String()
}

// keyCache holds derived signing keys by secret and scope. Reads are lock
// free: the map is replaced, never changed, on a write. Only keys that
// verified a request are stored, and the map is emptied when it reaches
// maxCachedKeys, so neither bad requests nor old dates grow it without
// bound.
type keyCache struct {
	mu sync.Mutex // serializes writers
	m  atomic.Pointer[map[keyID][32]byte]
}

type keyID struct{ secret, date, region, service string }

const maxCachedKeys = 1024

func (c *keyCache) get(secret string, a *Authorization) [32]byte {
	id := keyID{secret, a.Date, a.Region, a.Service}
	if m := c.m.Load(); m != nil {
		if k, ok := (*m)[id]; ok {
			return k
		}
	}
	return deriveKey(secret, a.Date, a.Region, a.Service)
}

func (c *keyCache) remember(secret string, a *Authorization) {
	id := keyID{secret, a.Date, a.Region, a.Service}
	if m := c.m.Load(); m != nil {
		if _, ok := (*m)[id]; ok {
			return
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.m.Load()
	var next map[keyID][32]byte
	if old == nil || len(*old) >= maxCachedKeys {
		next = make(map[keyID][32]byte, 1)
	} else {
		if _, ok := (*old)[id]; ok {
			return
		}
		next = make(map[keyID][32]byte, len(*old)+1)
		for k, v := range *old {
			next[k] = v
		}
	}
	// Clone: the scope strings share memory with the request's header.
	id = keyID{strings.Clone(secret), strings.Clone(a.Date), strings.Clone(a.Region), strings.Clone(a.Service)}
	next[id] = deriveKey(secret, a.Date, a.Region, a.Service)
	c.m.Store(&next)
}

// deriveKey is SigV4's signing key: HMAC chain over date, region, service
// and terminator starting from "AWS4"+secret.
func deriveKey(secret, date, region, service string) [32]byte {
	mac := func(key []byte, msg string) []byte {
		h := hmac.New(sha256.New, key)
		h.Write([]byte(msg))
		return h.Sum(nil)
	}
	k := mac([]byte("AWS4"+secret), date)
	k = mac(k, region)
	k = mac(k, service)
	k = mac(k, sigV4Terminator)
	return [32]byte(k)
}
