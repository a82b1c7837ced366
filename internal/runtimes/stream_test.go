package runtimes

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kumo-run/kumo/internal/runtimeapi"
)

// nodeStreaming is a streamified Node.js handler. It writes "one,", then
// waits for the gate URL to answer (the test opens it once "one," came
// through), then finishes as event.mode says.
const nodeStreaming = `const http = require('http');
const gate = (url) => new Promise((resolve, reject) => http.get(url, (r) => { r.resume(); r.on('end', resolve); }).on('error', reject));
exports.handler = awslambda.streamifyResponse(async (event, stream, context) => {
  if (event.mode === 'http') {
    stream = awslambda.HttpResponseStream.from(stream, { statusCode: 201, headers: { 'x-a': 'b' } });
  } else {
    stream.setContentType('text/plain');
  }
  if (event.mode === 'pipeline') {
    // The documented shape: a readable piped into the response stream.
    const { Readable } = require('stream');
    const { pipeline } = require('stream/promises');
    async function* pieces() { yield 'one,'; await gate(event.gate); yield 'two,'; yield 'three'; }
    await pipeline(Readable.from(pieces()), stream);
    return;
  }
  stream.write('one,');
  await gate(event.gate);
  if (event.mode === 'fail') throw new Error('boom after ' + context.awsRequestId);
  stream.write('two,');
  stream.end('three');
});
`

// pieces is a ResponseStream that records what it gets and signals each
// piece.
type pieces struct {
	mu   sync.Mutex
	ct   string
	body bytes.Buffer
	got  chan struct{}
}

func (p *pieces) Start(ct string) { p.mu.Lock(); p.ct = ct; p.mu.Unlock() }
func (p *pieces) Write(b []byte) (int, error) {
	p.mu.Lock()
	p.body.Write(b)
	p.mu.Unlock()
	select {
	case p.got <- struct{}{}:
	default:
	}
	return len(b), nil
}
func (p *pieces) String() string { p.mu.Lock(); defer p.mu.Unlock(); return p.body.String() }

// TestNodeStreamifyResponse: awslambda.streamifyResponse posts the
// response in streaming mode as the handler writes it — the first piece
// arrives while the handler still waits — with the content type it set,
// the HTTP integration prelude of HttpResponseStream.from, and an error
// thrown midway as trailers.
func TestNodeStreamifyResponse(t *testing.T) {
	c := bootstrapCase{"nodejs", "node", "bootstrap.js", "index.handler", "index.js", nodeStreaming}
	s, addr := serveRuntimeAPI(t)
	var out bytes.Buffer
	runBootstrap(t, c, addr, &out)

	// One gate per case, made before the gate server runs.
	gates := map[string]chan struct{}{"/plain": make(chan struct{}), "/http": make(chan struct{}), "/fail": make(chan struct{}), "/pipeline": make(chan struct{})}
	gate := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if g, ok := gates[r.URL.Path]; ok {
			<-g
		}
	}))
	t.Cleanup(gate.Close)

	prelude := `{"statusCode":201,"headers":{"x-a":"b"}}` + strings.Repeat("\x00", 8)
	for _, tc := range []struct {
		mode, ct, first, body, errType string
	}{
		{"plain", "text/plain", "one,", "one,two,three", ""},
		{"http", "application/vnd.awslambda.http-integration-response", prelude + "one,", prelude + "one,two,three", ""},
		{"fail", "text/plain", "one,", "one,", "Error"},
		{"pipeline", "text/plain", "one,", "one,two,three", ""},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			p := &pieces{got: make(chan struct{}, 64)}
			ev, _ := json.Marshal(map[string]string{"mode": tc.mode, "gate": gate.URL + "/" + tc.mode})
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			type result struct {
				res *runtimeapi.Result
				err error
			}
			done := make(chan result, 1)
			go func() {
				r, err := s.Invoke(ctx, &runtimeapi.Invocation{RequestID: "req-" + tc.mode, Payload: ev, Stream: p})
				done <- result{r, err}
			}()
			// The first piece comes through while the handler waits at
			// the gate.
			for p.String() != tc.first {
				select {
				case <-p.got:
				case r := <-done:
					t.Fatalf("invocation ended before the gate opened: %+v %v; output:\n%s", r.res, r.err, &out)
				case <-ctx.Done():
					t.Fatalf("first piece: got %q, want %q; output:\n%s", p.String(), tc.first, &out)
				}
			}
			close(gates["/"+tc.mode])
			r := <-done
			if r.err != nil {
				t.Fatalf("Invoke: %v; output:\n%s", r.err, &out)
			}
			p.mu.Lock()
			ct := p.ct
			p.mu.Unlock()
			if ct != tc.ct || p.String() != tc.body {
				t.Errorf("streamed %q %q, want %q %q", ct, p.String(), tc.ct, tc.body)
			}
			if tc.errType == "" {
				if r.res.Error || !r.res.Streamed {
					t.Errorf("Result = %+v (%s)", r.res, r.res.Payload)
				}
				return
			}
			var e struct{ ErrorType, ErrorMessage string }
			json.Unmarshal(r.res.Payload, &e)
			if !r.res.Error || r.res.ErrorType != tc.errType || e.ErrorMessage != "boom after req-fail" {
				t.Errorf("Result = %+v (%s)", r.res, r.res.Payload)
			}
		})
	}
}
