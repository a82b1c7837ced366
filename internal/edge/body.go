package edge

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"hash"
	"io"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kumo-run/kumo/internal/awsproto"
)

// unsignedPayload is the x-amz-content-sha256 value of a body the
// signature does not cover.
const unsignedPayload = "UNSIGNED-PAYLOAD"

// authenticate runs the SigV4 checks of an AuthSigV4 route and reads the
// body within the route's limit. The signature is checked before the body
// is read whenever the request carries its payload hash
// (x-amz-content-sha256); otherwise every check that needs no body runs
// first, and the body, whose hash the signature covers, is read into memory
// up to SpoolAbove bytes and into an unlinked file beyond, so that a flood
// of bodies with bad signatures costs disk for the moment, not memory. On
// failure it has answered the client and returns ok false; on success the
// returned request carries the caller and a body the caller must close.
func (e *edge) authenticate(ctx context.Context, w *responseWriter, r *http.Request, id string, rt *Route) (_ *http.Request, caller awsproto.Caller, ok bool) {
	v := e.cfg.Verifier
	var a awsproto.Authorization
	verified := false
	claimed := "" // the x-amz-content-sha256 a verified signature covers
	if v != nil {
		var err error
		if cs, present := r.Header["X-Amz-Content-Sha256"]; present {
			if len(cs) == 1 {
				claimed = cs[0]
			}
			a, err = v.VerifyHash(r, claimed)
			verified = err == nil
		} else {
			a, err = v.CheckHeaders(r)
		}
		if err == nil && rt.Scope != "" && a.Service != rt.Scope {
			err = awsproto.Errorf(awsproto.InvalidSignatureException, "Credential should be scoped to correct service: '%s'. ", rt.Scope)
		}
		if err != nil {
			e.unread(w, r)
			e.fail(ctx, w, r, id, rt, err)
			return r, caller, false
		}
	}

	max := e.maxBody(rt, r)
	if r.ContentLength > max {
		e.unread(w, r)
		e.fail(ctx, w, r, id, rt, e.tooLarge(max))
		return r, caller, false
	}
	b := &body{}
	var sum hash.Hash
	if v != nil && claimed != unsignedPayload {
		sum = sha256.New()
	}
	spool := int64(-1)
	if v != nil && !verified {
		spool = e.cfg.SpoolAbove
	}
	if err := e.readBody(w, r, b, max, sum, spool); err != nil {
		b.Close()
		var tooLarge *http.MaxBytesError
		switch {
		case errors.As(err, &tooLarge):
			w.Header().Set("Connection", "close")
			err = e.tooLarge(max)
		case errors.Is(err, errSlowBody):
			w.Header().Set("Connection", "close")
			err = awsproto.Errorf(awsproto.RequestTimeoutException, "The request body did not arrive in time: it must average at least %d bytes a second after the first %s.", e.cfg.MinBodyRate, e.cfg.BodyGrace)
		case errors.Is(err, errSpoolFull):
			e.unread(w, r)
			err = awsproto.Errorf(awsproto.ServiceUnavailableException, "Too many request bodies are awaiting their signature check; retry shortly.")
		case errors.Is(err, errSpool):
			e.log.WarnContext(ctx, "spooling a request body", "requestId", id, "dir", e.cfg.SpoolDir, "error", err)
			e.unread(w, r)
			err = awsproto.Errorf(awsproto.ServiceUnavailableException, "The server cannot hold the request body now (is its disk full?); retry shortly.")
		default:
			e.log.DebugContext(ctx, "reading request body", "requestId", id, "error", err)
			err = awsproto.Errorf(awsproto.InvalidRequestContentException, "Could not read the request body.")
		}
		e.fail(ctx, w, r, id, rt, err)
		return r, caller, false
	}

	if v != nil {
		var got string
		if sum != nil {
			got = hex.EncodeToString(sum.Sum(nil))
		}
		var err error
		switch {
		case !verified:
			a, err = v.VerifyHash(r, got)
		case claimed != unsignedPayload && got != claimed:
			err = awsproto.PayloadHashMismatch()
		}
		if err != nil {
			b.Close()
			e.fail(ctx, w, r, id, rt, err)
			return r, caller, false
		}
		caller = awsproto.Caller{AccessKeyID: a.AccessKeyID, Identity: a.Identity}
	} else {
		caller = awsproto.Caller{Anonymous: true}
	}
	r = r.WithContext(awsproto.WithCaller(ctx, caller))
	r.Body = b
	r.ContentLength = b.n
	r.TransferEncoding = nil
	r.GetBody = nil
	return r, caller, true
}

// unread prepares the answer to a request refused before its body was
// read: the connection closes after the answer if a body was announced,
// and the server's own draining of what remains (up to 256 KiB) must end
// within the grace, so a refused client cannot hold the connection by
// trickling its body.
func (e *edge) unread(w http.ResponseWriter, r *http.Request) {
	if r.ContentLength == 0 || r.Body == nil || r.Body == http.NoBody {
		return
	}
	w.Header().Set("Connection", "close")
	http.NewResponseController(w).SetReadDeadline(time.Now().Add(e.cfg.BodyGrace))
}

var (
	errSlowBody  = errors.New("edge: request body arrived too slowly")
	errSpool     = errors.New("edge: spooling a request body")
	errSpoolFull = errors.New("edge: the spool is full")
)

// readBody reads r's body into b, at most max bytes (a longer body is an
// *http.MaxBytesError), through sum when not nil. With spool ≥ 0, what
// goes beyond spool bytes is written to a file.
func (e *edge) readBody(w http.ResponseWriter, r *http.Request, b *body, max int64, sum hash.Hash, spool int64) error {
	if r.Body == nil || r.Body == http.NoBody {
		b.reader.Reset(nil)
		return nil
	}
	src := e.paced(w, r.Body)
	defer src.handled()

	b.buf = bufPool.Get().(*bytes.Buffer)
	b.buf.Reset()
	inMem := max
	if spool >= 0 && spool < inMem {
		inMem = spool
	}
	if n := r.ContentLength; n > 0 {
		b.buf.Grow(int(min(n, inMem)) + bytes.MinRead) // one allocation at most, none for a reused buffer
	}
	var in io.Reader = io.LimitReader(src, inMem)
	if sum != nil {
		in = io.TeeReader(in, sum)
	}
	n, err := b.buf.ReadFrom(in) // into the buffer itself, no copy buffer
	b.n = n
	if err != nil {
		return err
	}
	if n < inMem {
		b.reader.Reset(b.buf.Bytes())
		return nil
	}
	// The in-memory part is full: the body may go on.
	if spool < 0 || spool >= max {
		var one [1]byte
		if k, _ := io.ReadFull(src, one[:]); k > 0 {
			return &http.MaxBytesError{Limit: max}
		}
		b.reader.Reset(b.buf.Bytes())
		return nil
	}
	reserve := max - n
	if r.ContentLength > 0 {
		reserve = r.ContentLength - n
	}
	if e.spooled.Add(reserve) > e.cfg.SpoolLimit {
		e.spooled.Add(-reserve)
		return errSpoolFull
	}
	b.spool, b.reserved = &e.spooled, reserve
	f, err := os.CreateTemp(e.cfg.SpoolDir, "kumo-body-*")
	if err != nil {
		return errors.Join(errSpool, err)
	}
	os.Remove(f.Name()) // the open file is all that is needed
	b.file = f
	var fdst io.Writer = f
	if sum != nil {
		fdst = io.MultiWriter(f, sum)
	}
	rest := max - n
	m, err := io.Copy(fdst, io.LimitReader(src, rest+1))
	b.n += m
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			return errors.Join(errSpool, err)
		}
		return err
	}
	if m > rest {
		return &http.MaxBytesError{Limit: max}
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return errors.Join(errSpool, err)
	}
	b.reader.Reset(b.buf.Bytes())
	b.spilled = io.MultiReader(&b.reader, f)
	return nil
}

// Bodies up to maxPooledBody are read into pooled buffers; larger ones
// (rare: code uploads) get a buffer of their own that is left to the GC, so
// the pool never pins tens of megabytes.
const maxPooledBody = 1 << 20

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// body is the request body handed to services: the bytes the edge already
// read, in memory and, past the spool limit, in an unlinked file.
type body struct {
	buf     *bytes.Buffer
	reader  bytes.Reader
	file    *os.File
	spilled io.Reader
	n       int64
	// spool is the edge's spool reservation counter, holding reserved
	// bytes for this body until Close.
	spool    *atomic.Int64
	reserved int64
}

func (b *body) Read(p []byte) (int, error) {
	if b.spilled != nil {
		return b.spilled.Read(p)
	}
	return b.reader.Read(p)
}

// Close releases the buffer and the file. A handler that kept the body
// reads EOF afterwards, never a later request's bytes.
func (b *body) Close() error {
	b.reader.Reset(nil)
	b.spilled = nil
	if b.file != nil {
		b.file.Close()
		b.file = nil
	}
	if b.spool != nil {
		b.spool.Add(-b.reserved)
		b.spool = nil
	}
	if b.buf != nil {
		if b.buf.Cap() <= maxPooledBody {
			bufPool.Put(b.buf)
		}
		b.buf = nil
	}
	return nil
}

// paced wraps a request body so that it must keep up with the minimum
// rate: before each read the connection's read deadline is set to when the
// bytes read so far were due, so a body that falls behind is cut with
// errSlowBody. The deadline is lifted at EOF and by release, so it never
// outlives the body (a deadline left on the connection would cancel a
// long-running handler's context).
func (e *edge) paced(w http.ResponseWriter, r io.ReadCloser) *pacedReader {
	return &pacedReader{rc: http.NewResponseController(w), r: r, start: time.Now(), grace: e.cfg.BodyGrace, rate: e.cfg.MinBodyRate}
}

type pacedReader struct {
	rc       *http.ResponseController
	r        io.ReadCloser
	start    time.Time
	grace    time.Duration
	rate     int64
	n        int64
	released bool
	broken   bool // SetReadDeadline is not supported: no pacing
}

func (p *pacedReader) Read(b []byte) (int, error) {
	if !p.released && !p.broken {
		due := p.start.Add(p.grace + time.Duration(float64(p.n)/float64(p.rate)*float64(time.Second)))
		if err := p.rc.SetReadDeadline(due); err != nil {
			p.broken = true
		}
	}
	n, err := p.r.Read(b)
	p.n += int64(n)
	switch {
	case err == io.EOF:
		p.release()
	case err != nil && errors.Is(err, os.ErrDeadlineExceeded):
		return n, errSlowBody
	}
	return n, err
}

func (p *pacedReader) Close() error { p.release(); return p.r.Close() }

// handled is called when the handler has returned: a body read to its end
// has no deadline left; one left unread must be drained by the server
// within the grace (so a client cannot hold the connection by trickling
// it).
func (p *pacedReader) handled() {
	if p.released || p.broken {
		return
	}
	p.released = true
	p.rc.SetReadDeadline(time.Now().Add(p.grace))
}

func (p *pacedReader) release() {
	if !p.released {
		p.released = true
		if !p.broken {
			p.rc.SetReadDeadline(time.Time{})
		}
	}
}
