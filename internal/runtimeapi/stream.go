package runtimeapi

import (
	"context"
	"io"
	"net/http"
	"time"
)

// Response streaming: a runtime posts /invocation/{id}/response with
// Lambda-Runtime-Function-Response-Mode: streaming and a chunked body,
// and ends it with trailers Lambda-Runtime-Function-Error-Type and
// Lambda-Runtime-Function-Error-Body (base64 error JSON) when it failed
// midway (Lambda developer guide, "Custom runtime: response streaming").
// When the invocation has a ResponseStream, the body is forwarded to it as
// it arrives, paced as Lambda paces streamed responses; without one it is
// read whole and answered as buffered (handlers.go).

// ResponseStream receives a response the runtime streams. A Server calls
// it from the goroutine that reads the runtime's request, never
// concurrently with itself, while Invoke waits; a caller whose Invoke may
// return first (its context ended) must make later calls harmless.
type ResponseStream interface {
	// Start is called once, before the first Write, with the
	// Content-Type the runtime posted (application/octet-stream when it
	// sent none).
	Start(contentType string)
	// Write forwards one piece of the body as it arrived. An error means
	// nobody listens any more: the Server reads the rest of the body and
	// drops it, and the invocation ends as the runtime ends it, as
	// Lambda's does when a streaming client disconnects.
	Write(p []byte) (int, error)
}

// Lambda's limits on a streamed response (developer guide, "Response
// streaming for Lambda functions" and its "Bandwidth limits for response
// streaming"): up to 200 MB per response; the first 6 MB flow uncapped,
// the rest at most 2 MBps.
const (
	// DefaultMaxStreamedBytes bounds a streamed response.
	DefaultMaxStreamedBytes = 200 << 20
	// StreamBurstBytes is how much of a streamed response flows uncapped.
	StreamBurstBytes = 6 << 20
	// StreamBytesPerSecond caps the rest of a streamed response.
	StreamBytesPerSecond = 2 << 20
)

// streamChunk is the read size for forwarding: a runtime's chunk is
// forwarded as soon as this much, or all it sent so far, has arrived.
const streamChunk = 32 << 10

// streamTo returns the ResponseStream the invocation id's response is to
// be forwarded to, or nil when the post is not a streamed /response or the
// caller asked for no stream.
func (s *Server) streamTo(id string, ev event, mode string) ResponseStream {
	if ev != evResponse || mode != responseModeStreaming {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.inv == nil || s.inv.RequestID != id {
		return nil
	}
	return s.inv.Stream
}

// readStream forwards r's body to st as it arrives and returns the
// invocation's Result and the answer to the runtime, as post does for a
// buffered body. The body is paced (pacer) and bounded by
// s.maxStreamBytes(); what the runtime sends after st refused a write is
// read and dropped.
func (s *Server) readStream(r *http.Request, st ResponseStream) (*Result, int, []byte) {
	ct := r.Header.Get(hdrContentType)
	if ct == "" {
		ct = "application/octet-stream"
	}
	st.Start(ct)
	limit := s.maxStreamBytes()
	p := pacer{burst: StreamBurstBytes, rate: StreamBytesPerSecond}
	buf := make([]byte, streamChunk)
	forward := true
	var n int64
	for {
		k, err := r.Body.Read(buf)
		if k > 0 {
			n += int64(k)
			if n > limit {
				return &Result{Error: true, ErrorType: ErrorTypeResponseSizeTooLarge, Payload: sizeErrorPayload(limit)},
					http.StatusRequestEntityTooLarge, bodyTooLarge(limit)
			}
			if forward {
				if d := p.admit(k, time.Now()); d > 0 && !s.pause(r.Context(), d) {
					forward = false
				}
			}
			if forward {
				if _, werr := st.Write(buf[:k]); werr != nil {
					forward = false
				}
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return &Result{Error: true, ErrorType: ErrorTypeTruncatedResponse,
				Payload: functionError(ErrorTypeTruncatedResponse, "HTTP request detected as truncated")}, http.StatusBadRequest, bodyTruncated
		}
	}
	if r.Trailer != nil && r.Trailer.Get(hdrErrorType) != "" {
		return trailerResult(r.Trailer), http.StatusAccepted, bodyAccepted
	}
	return &Result{Streamed: true}, http.StatusAccepted, bodyAccepted
}

// pause waits d, or less if the runtime's request or the Server ends; it
// reports whether the whole wait passed.
func (s *Server) pause(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
	case <-s.closing:
	}
	return false
}

// maxStreamBytes is the limit on a streamed response.
func (s *Server) maxStreamBytes() int64 {
	if s.maxStream > 0 {
		return s.maxStream
	}
	return DefaultMaxStreamedBytes
}

// pacer shapes a streamed response as Lambda does: the first burst bytes
// flow uncapped; from the moment they are spent, the rest flows at rate
// bytes per second. It is pure: the caller gives it the time.
type pacer struct {
	burst, rate int64
	sent        int64
	capped      time.Time // when the burst ran out; zero before
}

// admit records n more bytes about to be sent at now and returns how long
// to wait before sending them.
func (p *pacer) admit(n int, now time.Time) time.Duration {
	p.sent += int64(n)
	over := p.sent - p.burst
	if over <= 0 {
		return 0
	}
	if p.capped.IsZero() {
		p.capped = now
	}
	at := p.capped.Add(time.Duration(over * int64(time.Second) / p.rate))
	if d := at.Sub(now); d > 0 {
		return d
	}
	return 0
}
