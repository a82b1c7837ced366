package awsproto

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"
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
