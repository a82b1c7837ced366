package s3

import (
	"bufio"
	"bytes"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"hash"
	"hash/crc32"
	"hash/crc64"
	"io"
	"strconv"
	"strings"

	"github.com/kumo-run/kumo/internal/awsproto"
)

// payload is a request body being streamed to the store: decoded from
// aws-chunked when it is, measured, hashed (MD5 for the ETag, SHA-256
// when signed, the checksum the client sent) and checked by check once
// read to its end.
type payload struct {
	src       io.Reader // the decoded body
	size      int64     // the decoded length the client announced
	n         int64
	md5       hash.Hash
	sha       hash.Hash // nil unless x-amz-content-sha256 is a hash
	wantSHA   string
	wantMD5   []byte
	cks       hash.Hash
	cksHeader string // x-amz-checksum-<algorithm>
	wantCks   string // from the header; "" when in a trailer
	chunks    *chunkReader
	readErr   error // a failure of the client's body, not of the store
}

// checksums are the x-amz-checksum-* algorithms S3 accepts, by header.
var checksums = map[string]func() hash.Hash{
	"x-amz-checksum-crc32":     func() hash.Hash { return crc32.NewIEEE() },
	"x-amz-checksum-crc32c":    func() hash.Hash { return crc32.New(crc32.MakeTable(crc32.Castagnoli)) },
	"x-amz-checksum-crc64nvme": func() hash.Hash { return crc64.New(crc64.MakeTable(0x9a6c9329ac4bc9b5)) },
	"x-amz-checksum-sha1":      sha1.New,
	"x-amz-checksum-sha256":    sha256.New,
}

// body prepares q's body for streaming: at most max decoded bytes.
func (s *Service) body(q *request, max int64) (*payload, error) {
	h := q.r.Header
	p := &payload{md5: md5.New()}
	cs := h.Get("X-Amz-Content-Sha256")
	chunked := strings.HasPrefix(cs, "STREAMING-") || strings.Contains(h.Get("Content-Encoding"), "aws-chunked")
	if chunked {
		d := h.Get("X-Amz-Decoded-Content-Length")
		n, err := strconv.ParseInt(d, 10, 64)
		if d == "" || err != nil || n < 0 {
			return nil, awsproto.Errorf(awsproto.S3MissingContentLength, "You must provide the Content-Length HTTP header.")
		}
		p.size = n
		if cs == awsproto.StreamingSignedPayload || cs == awsproto.StreamingSignedPayloadTrailer {
			if q.chunks == nil && s.cfg.Verifier != nil {
				return nil, awsproto.Errorf(awsproto.S3InvalidRequest, "A signed streaming payload needs a signed request.")
			}
		}
		p.chunks = &chunkReader{br: bufio.NewReaderSize(q.r.Body, 64<<10), cv: q.chunks, trailers: map[string]string{}}
		if q.chunks != nil {
			p.chunks.sum = sha256.New()
		}
		p.src = p.chunks
	} else {
		if q.r.ContentLength < 0 {
			return nil, awsproto.Errorf(awsproto.S3MissingContentLength, "You must provide the Content-Length HTTP header.")
		}
		p.size = q.r.ContentLength
		p.src = q.r.Body
		if len(cs) == 64 {
			p.sha, p.wantSHA = sha256.New(), strings.ToLower(cs)
		}
	}
	if p.size > max {
		return nil, awsproto.Errorf(awsproto.S3EntityTooLarge, "Your proposed upload exceeds the maximum allowed size").
			With("ProposedSize", p.size).With("MaxSizeAllowed", max)
	}
	if m := h.Get("Content-MD5"); m != "" {
		b, err := base64.StdEncoding.DecodeString(m)
		if err != nil || len(b) != md5.Size {
			return nil, awsproto.Errorf(awsproto.S3InvalidDigest, "The Content-MD5 you specified was invalid.")
		}
		p.wantMD5 = b
	}
	for name, mk := range checksums {
		if v := h.Get(name); v != "" {
			p.cks, p.cksHeader, p.wantCks = mk(), name, v
		}
	}
	if t := strings.ToLower(strings.TrimSpace(h.Get("X-Amz-Trailer"))); t != "" && p.cks == nil {
		mk, ok := checksums[t]
		if !ok {
			return nil, awsproto.Errorf(awsproto.S3InvalidRequest, "The value specified in the x-amz-trailer header is not supported")
		}
		p.cks, p.cksHeader = mk(), t
	}
	return p, nil
}

func (p *payload) Read(b []byte) (int, error) {
	if left := p.size - p.n; int64(len(b)) > left {
		if left == 0 {
			// The body must end here: read on to see its end (and an
			// aws-chunked body's final chunk and trailers).
			var one [1]byte
			k, err := p.src.Read(one[:])
			if k > 0 {
				p.readErr = awsproto.Errorf(awsproto.S3InvalidRequest, "The request body is longer than the declared content length.")
				return 0, p.readErr
			}
			if err == nil {
				return 0, nil
			}
			if err != io.EOF {
				p.readErr = p.clientErr(err)
				return 0, p.readErr
			}
			return 0, io.EOF
		}
		b = b[:left]
	}
	n, err := p.src.Read(b)
	if n > 0 {
		p.n += int64(n)
		p.md5.Write(b[:n])
		if p.sha != nil {
			p.sha.Write(b[:n])
		}
		if p.cks != nil {
			p.cks.Write(b[:n])
		}
	}
	if err == io.EOF {
		if p.n < p.size {
			p.readErr = awsproto.Errorf(awsproto.S3IncompleteBody, "You did not provide the number of bytes specified by the Content-Length HTTP header.")
			return n, p.readErr
		}
		return n, nil // the next call confirms the end
	}
	if err != nil {
		p.readErr = p.clientErr(err)
		return n, p.readErr
	}
	return n, nil
}

func (p *payload) clientErr(err error) error {
	if ae := (*awsproto.Error)(nil); errors.As(err, &ae) {
		return ae
	}
	return awsproto.Errorf(awsproto.S3IncompleteBody, "The request body could not be read: %v", err)
}

// check reports a body, read to its end, that does not match what the
// client said it is.
func (p *payload) check() error {
	if p.n != p.size {
		return awsproto.Errorf(awsproto.S3IncompleteBody, "You did not provide the number of bytes specified by the Content-Length HTTP header.")
	}
	if p.sha != nil && hex.EncodeToString(p.sha.Sum(nil)) != p.wantSHA {
		return awsproto.Errorf(awsproto.S3ContentSHA256Mismatch, "The provided 'x-amz-content-sha256' header does not match what was computed.")
	}
	if p.wantMD5 != nil && !bytes.Equal(p.md5.Sum(nil), p.wantMD5) {
		return awsproto.Errorf(awsproto.S3BadDigest, "The Content-MD5 you specified did not match what we received.")
	}
	if p.cks != nil {
		want := p.wantCks
		if want == "" && p.chunks != nil {
			want = p.chunks.trailers[p.cksHeader]
		}
		if want == "" {
			return awsproto.Errorf(awsproto.S3InvalidRequest, "The trailer %s announced in x-amz-trailer was not sent.", p.cksHeader)
		}
		if base64.StdEncoding.EncodeToString(p.cks.Sum(nil)) != want {
			alg := strings.ToUpper(strings.TrimPrefix(p.cksHeader, "x-amz-checksum-"))
			return awsproto.Errorf(awsproto.S3BadDigest, "The %s you specified did not match the calculated checksum.", alg)
		}
	}
	return nil
}

// etag is the body's MD5 in hex, as S3's ETag of a single-part object.
func (p *payload) etag() string { return hex.EncodeToString(p.md5.Sum(nil)) }

// chunkReader decodes an aws-chunked body:
//
//	<hex size>[;chunk-signature=<sig>]\r\n<data>\r\n ... 0[;chunk-signature=<sig>]\r\n[<trailer>:<value>\r\n...]\r\n
//
// With cv set every chunk's signature is checked, once its data is read,
// against the chain that starts at the request's seed signature.
type chunkReader struct {
	br       *bufio.Reader
	cv       *awsproto.ChunkVerifier
	sum      hash.Hash // the current chunk's SHA-256 when cv is set
	sig      string
	left     int64
	started  bool
	done     bool
	trailers map[string]string
}

var errChunk = awsproto.Errorf(awsproto.S3IncompleteBody, "The aws-chunked request body is malformed.")

func (c *chunkReader) Read(p []byte) (int, error) {
	for c.left == 0 {
		if c.done {
			return 0, io.EOF
		}
		if c.started {
			if err := c.expectCRLF(); err != nil {
				return 0, err
			}
			if err := c.verify(); err != nil {
				return 0, err
			}
		}
		if err := c.header(); err != nil {
			return 0, err
		}
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.br.Read(p)
	c.left -= int64(n)
	if c.sum != nil {
		c.sum.Write(p[:n])
	}
	if err == io.EOF {
		return n, errChunk
	}
	return n, err
}

func (c *chunkReader) line() (string, error) {
	l, err := c.br.ReadSlice('\n')
	if err != nil {
		return "", errChunk
	}
	return strings.TrimRight(string(l), "\r\n"), nil
}

func (c *chunkReader) expectCRLF() error {
	l, err := c.line()
	if err != nil || l != "" {
		return errChunk
	}
	return nil
}

// header reads a chunk header; at the final chunk it reads the trailers.
func (c *chunkReader) header() error {
	l, err := c.line()
	if err != nil {
		return err
	}
	sizeHex, ext, _ := strings.Cut(l, ";")
	size, err := strconv.ParseInt(strings.TrimSpace(sizeHex), 16, 64)
	if err != nil || size < 0 {
		return errChunk
	}
	c.sig = ""
	if sig, ok := strings.CutPrefix(strings.TrimSpace(ext), "chunk-signature="); ok {
		c.sig = sig
	}
	if c.sum != nil {
		c.sum.Reset()
	}
	c.started, c.left = true, size
	if size > 0 {
		return nil
	}
	if err := c.verify(); err != nil {
		return err
	}
	c.done = true
	for {
		l, err := c.br.ReadSlice('\n')
		t := strings.TrimRight(string(l), "\r\n")
		if t == "" {
			return nil // the blank line that ends the body, or its end
		}
		if k, v, ok := strings.Cut(t, ":"); ok {
			c.trailers[strings.ToLower(strings.TrimSpace(k))] = strings.TrimSpace(v)
		}
		if err != nil {
			return nil
		}
	}
}

// verify checks the signature of the chunk just read.
func (c *chunkReader) verify() error {
	if c.cv == nil {
		return nil
	}
	if !c.cv.Verify([sha256.Size]byte(c.sum.Sum(nil)), c.sig) {
		return awsproto.Errorf(awsproto.S3SignatureDoesNotMatch, "The request signature we calculated does not match the signature you provided. Check your key and signing method.")
	}
	return nil
}
