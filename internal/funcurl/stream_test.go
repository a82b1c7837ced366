package funcurl

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/kumo-run/kumo/internal/invoke"
	"github.com/kumo-run/kumo/internal/registry"
)

// streamInvoker answers as the invoke frontend does for a function that
// streams pieces with Content-Type ct, waiting before every piece after
// the first until the test lets it go; with no ct, as a buffered function
// answering out.
type streamInvoker struct {
	ct     string
	pieces []string
	next   chan struct{}
	out    invoke.Output
	err    error
}

func (s *streamInvoker) Invoke(_ context.Context, in *invoke.Input) (*invoke.Output, error) {
	if s.ct != "" {
		if in.Stream == nil {
			return nil, io.ErrUnexpectedEOF // the URL did not ask for a stream
		}
		in.Stream.Begin("$LATEST", s.ct)
		for i, p := range s.pieces {
			if i > 0 {
				<-s.next
			}
			if _, err := in.Stream.Write([]byte(p)); err != nil {
				return nil, err
			}
		}
	}
	if s.err != nil {
		return nil, s.err
	}
	out := s.out
	out.Streamed = s.ct != ""
	return &out, nil
}

// streamURL serves a RESPONSE_STREAM URL backed by inv and returns its
// address.
func streamURL(t *testing.T, inv invoke.Invoker) string {
	t.Helper()
	reg, id := testRegistry(t)
	if _, err := reg.UpdateFunctionURLConfig(context.Background(), registry.Ref{Name: "f"},
		registry.URLConfigInput{InvokeMode: registry.InvokeStream, Cors: &registry.Cors{AllowOrigins: []string{"*"}}}); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(New(Config{Registry: reg, Invoker: inv, Region: "us-east-1", Account: "000000000000"}))
	t.Cleanup(srv.Close)
	return srv.URL + "/lambda-url/" + id + "/"
}

func get(t *testing.T, url string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("Origin", "https://example.com")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// readN reads exactly n bytes of the body, or fails the test.
func readN(t *testing.T, r io.Reader, n int) string {
	t.Helper()
	b := make([]byte, n)
	done := make(chan error, 1)
	go func() { _, err := io.ReadFull(r, b); done <- err }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("body did not arrive")
	}
	return string(b)
}

func TestStreamURLWithPrelude(t *testing.T) {
	inv := &streamInvoker{ct: contentTypeIntegration, next: make(chan struct{}),
		pieces: []string{`{"statusCode":201,"headers":{"Content-Type":"text/plain","X-Custom":"yes"},"cookies":["a=b"]}`, "\x00\x00\x00\x00\x00\x00\x00\x00", "first,", "second"}}
	// The prelude is split from its delimiter: the head waits for both.
	go func() { inv.next <- struct{}{} }()
	resp := get(t, streamURL(t, inv))
	// The head arrives with the prelude, before any body.
	if resp.StatusCode != 201 || resp.Header.Get("Content-Type") != "text/plain" || resp.Header.Get("X-Custom") != "yes" ||
		resp.Header.Get("Set-Cookie") != "a=b" || resp.Header.Get("X-Amzn-Requestid") == "" || resp.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Fatalf("head: %d %v", resp.StatusCode, resp.Header)
	}
	if len(resp.TransferEncoding) == 0 || resp.TransferEncoding[0] != "chunked" {
		t.Errorf("Transfer-Encoding %v, want chunked", resp.TransferEncoding)
	}
	br := bufio.NewReader(resp.Body)
	inv.next <- struct{}{}
	if got := readN(t, br, len("first,")); got != "first," {
		t.Fatalf("first piece %q", got)
	}
	inv.next <- struct{}{}
	rest, err := io.ReadAll(br)
	if err != nil || string(rest) != "second" {
		t.Fatalf("rest %q, %v", rest, err)
	}
}

func TestStreamURLPlain(t *testing.T) {
	inv := &streamInvoker{ct: "text/event-stream", next: make(chan struct{}), pieces: []string{"data: 1\n\n", "data: 2\n\n"}}
	resp := get(t, streamURL(t, inv))
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("head: %d %v", resp.StatusCode, resp.Header)
	}
	br := bufio.NewReader(resp.Body)
	// The first piece is read while the function waits to write the
	// second.
	if got := readN(t, br, len("data: 1\n\n")); got != "data: 1\n\n" {
		t.Fatalf("first piece %q", got)
	}
	inv.next <- struct{}{}
	if rest, _ := io.ReadAll(br); string(rest) != "data: 2\n\n" {
		t.Fatalf("rest %q", rest)
	}
}

func TestStreamURLEnds(t *testing.T) {
	for _, c := range []struct {
		name   string
		inv    *streamInvoker
		status int
		ct     string
		body   string
	}{
		{"buffered function: 2.0 rules", &streamInvoker{out: invoke.Output{Status: 200, Payload: []byte(`{"statusCode":202,"body":"hi"}`)}},
			202, "application/json", "hi"},
		{"prelude without delimiter: no body", &streamInvoker{ct: contentTypeIntegration, pieces: []string{`{"statusCode":204}`}},
			204, "application/octet-stream", ""},
		{"bad prelude", &streamInvoker{ct: contentTypeIntegration, pieces: []string{"not json\x00\x00\x00\x00\x00\x00\x00\x00body"}},
			502, "application/json", `{"Message":"Internal Server Error"}`},
		{"prelude too long", &streamInvoker{ct: contentTypeIntegration, pieces: []string{strings.Repeat(" ", maxPrelude+1)}},
			502, "application/json", `{"Message":"Internal Server Error"}`},
		{"fails before a byte", &streamInvoker{ct: contentTypeIntegration, out: invoke.Output{Status: 200, FunctionError: "Unhandled"}},
			502, "application/json", `{"Message":"Internal Server Error"}`},
		{"buffered function error", &streamInvoker{out: invoke.Output{Status: 200, FunctionError: "Unhandled", Payload: []byte(`{}`)}},
			502, "application/json", `{"Message":"Internal Server Error"}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			resp := get(t, streamURL(t, c.inv))
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != c.status || resp.Header.Get("Content-Type") != c.ct || string(body) != c.body {
				t.Errorf("got %d %q %q, want %d %q %q", resp.StatusCode, resp.Header.Get("Content-Type"), body, c.status, c.ct, c.body)
			}
		})
	}
}
