package s3_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash/crc32"
	"net/http"
	"strings"
	"testing"

	"github.com/kumo-run/kumo/internal/awsproto"
)

func crc32b64(b []byte) string {
	var s [4]byte
	binary.BigEndian.PutUint32(s[:], crc32.ChecksumIEEE(b))
	return base64.StdEncoding.EncodeToString(s[:])
}

// chunkedUnsigned encodes data as STREAMING-UNSIGNED-PAYLOAD-TRAILER does.
func chunkedUnsigned(data []byte, size int, trailer, value string) []byte {
	var b bytes.Buffer
	for off := 0; off < len(data); off += size {
		c := data[off:min(off+size, len(data))]
		fmt.Fprintf(&b, "%x\r\n", len(c))
		b.Write(c)
		b.WriteString("\r\n")
	}
	fmt.Fprintf(&b, "0\r\n%s:%s\r\n\r\n", trailer, value)
	return b.Bytes()
}

func hmacSHA(key []byte, s string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(s))
	return m.Sum(nil)
}

// signedChunked is a PUT with a STREAMING-AWS4-HMAC-SHA256-PAYLOAD body:
// the seed signed by the SDK's signer, every chunk signed as the S3
// developer guide's "Signature calculations for the Authorization header:
// transferring payload in multiple chunks" describes. With tamper, a byte
// of the second chunk is changed after signing.
func (h *harness) signedChunked(t *testing.T, path string, data []byte, size int, tamper bool) *http.Request {
	t.Helper()
	var chunks [][]byte
	for off := 0; off < len(data); off += size {
		chunks = append(chunks, data[off:min(off+size, len(data))])
	}
	chunks = append(chunks, nil)
	encLen := 0
	for _, c := range chunks {
		encLen += len(fmt.Sprintf("%x;chunk-signature=", len(c))) + 64 + 2 + len(c) + 2
	}
	req := h.signed(t, http.MethodPut, path, nil, awsproto.StreamingSignedPayload, map[string]string{
		"Content-Encoding": "aws-chunked", "X-Amz-Decoded-Content-Length": fmt.Sprint(len(data)), "Content-Length": fmt.Sprint(encLen)})
	auth := req.Header.Get("Authorization")
	seed := auth[strings.LastIndex(auth, "Signature=")+len("Signature="):]
	amzDate := req.Header.Get("X-Amz-Date")
	scope := amzDate[:8] + "/us-east-1/s3/aws4_request"
	key := hmacSHA([]byte("AWS4"+rootSecret), amzDate[:8])
	key = hmacSHA(key, "us-east-1")
	key = hmacSHA(key, "s3")
	key = hmacSHA(key, "aws4_request")
	empty := sha256.Sum256(nil)
	prev := seed
	var body bytes.Buffer
	for i, c := range chunks {
		sum := sha256.Sum256(c)
		sig := hex.EncodeToString(hmacSHA(key, "AWS4-HMAC-SHA256-PAYLOAD\n"+amzDate+"\n"+scope+"\n"+prev+"\n"+hex.EncodeToString(empty[:])+"\n"+hex.EncodeToString(sum[:])))
		prev = sig
		fmt.Fprintf(&body, "%x;chunk-signature=%s\r\n", len(c), sig)
		if tamper && i == 1 {
			c = append([]byte{c[0] ^ 1}, c[1:]...)
		}
		body.Write(c)
		body.WriteString("\r\n")
	}
	if body.Len() != encLen {
		t.Fatalf("encoded %d bytes, announced %d", body.Len(), encLen)
	}
	req.Body = http.NoBody
	req.ContentLength = int64(encLen)
	b := body.Bytes()
	req.Body = readCloser{bytes.NewReader(b)}
	return req
}

type readCloser struct{ *bytes.Reader }

func (readCloser) Close() error { return nil }
