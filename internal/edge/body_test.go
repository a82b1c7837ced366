package edge

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/kumo-run/kumo/internal/awsproto"
)

// sign signs req for service with the given secret. With header set, the
// payload hash goes in x-amz-content-sha256 as well (as S3 clients and
// some SDK configurations send it); without, only the signature covers it.
func sign(t testing.TB, req *http.Request, payloadHash, service, secret string, header bool) {
	t.Helper()
	if header {
		req.Header.Set("X-Amz-Content-Sha256", payloadHash)
	}
	err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: testAKID, SecretAccessKey: secret},
		req, payloadHash, service, "us-east-1", time.Now())
	if err != nil {
		t.Fatal(err)
	}
}

func authConfig(svc *fakeService) Config {
	return Config{
		Verifier: &awsproto.Verifier{Region: "us-east-1", Credentials: awsproto.StaticCredentials{testAKID: testSecret}},
		Routes:   testRoutes(svc, &fakeService{}),
	}
}

// TestSignatureBeforeBody checks that a request whose signature fails on
// its headers is refused without a byte of its body read.
func TestSignatureBeforeBody(t *testing.T) {
	svc := &fakeService{}
	h := New(authConfig(svc))
	const size = 50 << 20
	claimed := hex.EncodeToString(make([]byte, 32))
	tests := []struct {
		name   string
		prep   func(*http.Request)
		status int
		code   awsproto.Code
	}{
		{"payload hash in a header, wrong secret", func(r *http.Request) { sign(t, r, claimed, "lambda", "wrong", true) }, 403, awsproto.InvalidSignatureException},
		{"no payload hash header, unknown key", func(r *http.Request) {
			sign(t, r, claimed, "lambda", testSecret, false)
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), testAKID, "AKIDUNKNOWN", 1))
		}, 403, awsproto.UnrecognizedClientException},
		{"expired", func(r *http.Request) {
			err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: testAKID, SecretAccessKey: testSecret},
				r, claimed, "lambda", "us-east-1", time.Now().Add(-time.Hour))
			if err != nil {
				t.Fatal(err)
			}
		}, 403, awsproto.InvalidSignatureException},
		{"unsigned", func(*http.Request) {}, 403, awsproto.MissingAuthenticationTokenException},
		{"signed for another service", func(r *http.Request) { sign(t, r, claimed, "logs", testSecret, true) }, 403, awsproto.InvalidSignatureException},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body := &countingReader{}
			req := httptest.NewRequest("POST", "/2015-03-31/functions", body)
			req.ContentLength = size
			tc.prep(req)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tc.status || headerValue(rec.Header(), "x-amzn-ErrorType") != string(tc.code) {
				t.Fatalf("answer %d %s, want %d %s", rec.Code, rec.Body, tc.status, tc.code)
			}
			if n := body.n.Load(); n != 0 {
				t.Fatalf("read %d bytes of the body of a request refused on its headers", n)
			}
		})
	}
	if svc.count() != 0 {
		t.Fatal("a refused request reached the service")
	}
}

func TestPayloadHash(t *testing.T) {
	svc := &fakeService{}
	srv := httptest.NewServer(New(authConfig(svc)))
	t.Cleanup(srv.Close)
	send := func(body []byte, hash string, header bool) (*http.Response, []byte) {
		t.Helper()
		req, _ := http.NewRequest("POST", srv.URL+"/2015-03-31/functions", bytes.NewReader(body))
		sign(t, req, hash, "lambda", testSecret, header)
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}
	hashOf := func(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }
	good := []byte(`{"FunctionName":"f"}`)
	big := bytes.Repeat([]byte("z"), 3<<20) // spooled when unverified

	for _, header := range []bool{true, false} {
		for _, body := range [][]byte{good, big} {
			t.Run(fmt.Sprintf("header=%v/%d bytes", header, len(body)), func(t *testing.T) {
				if resp, b := send(body, hashOf(body), header); resp.StatusCode != 200 {
					t.Fatalf("good hash: %d %s", resp.StatusCode, b)
				}
				if got := svc.last(t); !bytes.Equal(got.body, body) || got.contentLength != int64(len(body)) {
					t.Fatalf("service got %d bytes (ContentLength %d), want %d", len(got.body), got.contentLength, len(body))
				}
				// Signed over another body.
				resp, b := send(body, hashOf([]byte("other")), header)
				msg := "does not match the signature you provided"
				if header {
					msg = "The provided 'x-amz-content-sha256' header does not match what was computed."
				}
				wantError(t, resp, b, 403, awsproto.InvalidSignatureException, msg)
			})
		}
	}
	n := svc.count()
	if resp, b := send(good, "UNSIGNED-PAYLOAD", true); resp.StatusCode != 200 || svc.count() != n+1 {
		t.Fatalf("UNSIGNED-PAYLOAD: %d %s", resp.StatusCode, b)
	}
}

// repeatReader is an endless body that costs the client no memory.
type repeatReader struct{ n int64 }

func (r *repeatReader) Read(p []byte) (int, error) {
	if r.n <= 0 {
		return 0, io.EOF
	}
	k := min(int64(len(p)), r.n)
	for i := range p[:k] {
		p[i] = 'A'
	}
	r.n -= k
	return int(k), nil
}

// TestBodyFloodMemory floods an upload route (70 MB limit) with 60 MB
// bodies under a known access key and a wrong secret, the worst case for
// the edge: with the payload hash in a header they are refused unread,
// without it they must be read to check the signature, and go to the
// spool. The heap must stay far below what the bodies weigh.
func TestBodyFloodMemory(t *testing.T) {
	svc := &fakeService{}
	cfg := authConfig(svc)
	cfg.SpoolDir = t.TempDir()
	srv := httptest.NewServer(New(cfg))
	t.Cleanup(srv.Close)

	const size, clients = 60 << 20, 16
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapInuse

	// Sample the heap while the flood runs.
	var peak atomic.Uint64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	}()

	var wg sync.WaitGroup
	statuses := make([]int, clients)
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest("POST", srv.URL+"/2015-03-31/functions", &repeatReader{n: size})
			req.ContentLength = size
			// Every fourth client leaves the hash out of the headers.
			sign(t, req, strings.Repeat("ab", 32), "lambda", "wrong-secret", i%4 != 0)
			resp, err := srv.Client().Do(req)
			if err != nil {
				// The server may answer and close before the whole body is sent.
				statuses[i] = -1
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			statuses[i] = resp.StatusCode
		}()
	}
	wg.Wait()
	close(stop)
	<-sampled
	for i, s := range statuses {
		if s != 403 && !(s == -1 && i%4 != 0) {
			t.Errorf("client %d: status %d, want 403", i, s)
		}
	}
	grew := int64(peak.Load()) - int64(base)
	t.Logf("heap in use: %d MiB before, peak %d MiB during %d × %d MiB unauthenticated bodies", base>>20, peak.Load()>>20, clients, size>>20)
	// The bodies weigh 960 MiB; a quarter of them (240 MiB) is read.
	if grew > 128<<20 {
		t.Errorf("heap grew by %d MiB under the flood", grew>>20)
	}
	if svc.count() != 0 {
		t.Error("a flood request reached the service")
	}
	if left, _ := os.ReadDir(cfg.SpoolDir); len(left) != 0 {
		t.Errorf("spool dir keeps %d files", len(left))
	}
}

// rawRequest writes a signed request head and the first part of its body
// on a fresh connection and returns the connection.
func rawRequest(t *testing.T, addr string, size int, first []byte) net.Conn {
	t.Helper()
	req, _ := http.NewRequest("POST", "http://"+addr+"/2015-03-31/functions", nil)
	sign(t, req, strings.Repeat("ab", 32), "lambda", testSecret, true)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	var head bytes.Buffer
	fmt.Fprintf(&head, "POST /2015-03-31/functions HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n", addr, size)
	req.Header.Write(&head)
	head.WriteString("\r\n")
	head.Write(first)
	if _, err := c.Write(head.Bytes()); err != nil {
		t.Fatal(err)
	}
	return c
}

func readResponse(t *testing.T, c net.Conn) (*http.Response, []byte) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(2 * time.Minute)) // a hang fails instead of blocking the suite
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("no response: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// TestSlowBodyCut checks that a body trickling in slower than the minimum
// rate is cut with 408, and that the pacing deadline does not outlive the
// body: a handler that runs long after reading it keeps its context.
func TestSlowBodyCut(t *testing.T) {
	var canceled atomic.Bool
	var handled sync.WaitGroup
	slow := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer handled.Done()
		io.Copy(io.Discard, r.Body)
		// Work for longer than the pacing allowed the body.
		time.Sleep(300 * time.Millisecond)
		canceled.Store(r.Context().Err() != nil)
		w.WriteHeader(200)
	})
	cfg := Config{
		Verifier:    &awsproto.Verifier{Region: "us-east-1", Credentials: awsproto.StaticCredentials{testAKID: testSecret}},
		Routes:      []Route{{Name: "lambda", Match: []Matcher{{Service: "lambda"}}, Handler: slow}},
		BodyGrace:   50 * time.Millisecond,
		MinBodyRate: 1 << 20,
	}
	srv := httptest.NewServer(New(cfg))
	t.Cleanup(srv.Close)
	addr := srv.Listener.Addr().String()

	// Ten bytes of a megabyte, then nothing.
	c := rawRequest(t, addr, 1<<20, []byte("0123456789"))
	resp, body := readResponse(t, c)
	wantError(t, resp, body, 408, awsproto.RequestTimeoutException, "did not arrive in time")

	// A body that arrives whole is served, and its handler's context
	// survives the pacing deadline.
	handled.Add(1)
	req, _ := http.NewRequest("POST", srv.URL+"/", strings.NewReader("{}"))
	sum := sha256.Sum256([]byte("{}"))
	sign(t, req, hex.EncodeToString(sum[:]), "lambda", testSecret, false)
	r2, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r2.Body.Close()
	handled.Wait()
	if r2.StatusCode != 200 || canceled.Load() {
		t.Fatalf("status %d, handler context canceled %v", r2.StatusCode, canceled.Load())
	}
}

// TestConnectionLimit checks that connections over the limit get a 503
// they can read, and that the server serves again once connections close.
func TestConnectionLimit(t *testing.T) {
	svc := &fakeService{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	lim := LimitListener(ln, 2)
	srv := &http.Server{Handler: New(authConfig(svc)), ReadHeaderTimeout: time.Minute, ConnState: lim.ConnState}
	go srv.Serve(lim)
	t.Cleanup(func() { srv.Close() })
	addr := ln.Addr().String()

	// Two connections hold the limit: one mid-body, one idle.
	held := []net.Conn{rawRequest(t, addr, 1<<20, []byte("{")), nil}
	held[1], err = net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	until(t, "two connections served", func() bool { return lim.Active() == 2 })

	// The next one is answered 503, with a request that has a body.
	over := rawRequest(t, addr, 4, []byte("{}{}"))
	resp, body := readResponse(t, over)
	wantError(t, resp, body, 503, awsproto.ServiceUnavailableException, "retry shortly")
	if lim.Refused() == 0 {
		t.Error("refusal not counted")
	}

	// Once they close, an authenticated client is served.
	for _, c := range held {
		c.Close()
	}
	get := func(client *http.Client) (int, error) {
		req, _ := http.NewRequest("GET", "http://"+addr+"/2015-03-31/functions", nil)
		sign(t, req, hex.EncodeToString(sha256.New().Sum(nil)), "lambda", testSecret, false)
		resp, err := client.Do(req)
		if err != nil {
			return 0, err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	a := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 2}}
	until(t, "served after the held connections closed", func() bool {
		st, err := get(a)
		return err == nil && st == 200
	})
	until(t, "held connections gone", func() bool { return lim.Active() == 1 })

	// Connections idle between requests do not hold the limit: with two
	// clients each keeping one alive, a third is served, and the first,
	// whose idle connection made room, opens a new one.
	b := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 2}}
	if st, err := get(b); err != nil || st != 200 {
		t.Fatalf("second client: %d %v", st, err)
	}
	until(t, "two idle connections", func() bool { return lim.Active() == 2 })
	refusedBefore := lim.Refused()
	c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 2}}
	for i, cl := range []*http.Client{c, a, b, c} {
		if st, err := get(cl); err != nil || st != 200 {
			t.Fatalf("request %d with idle connections at the limit: %d %v", i, st, err)
		}
	}
	if lim.Refused() != refusedBefore {
		t.Errorf("%d connections refused while idle ones could make room", lim.Refused()-refusedBefore)
	}
}

// until polls cond, failing the test if it does not hold within a minute.
func until(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: condition not met", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestRefusedBodyNotHeld checks that a client refused before its body was
// read cannot hold the connection by never sending the body.
func TestRefusedBodyNotHeld(t *testing.T) {
	cfg := authConfig(&fakeService{})
	cfg.BodyGrace = 50 * time.Millisecond
	srv := httptest.NewServer(New(cfg))
	t.Cleanup(srv.Close)
	addr := srv.Listener.Addr().String()
	for _, secret := range []string{"wrong", testSecret} {
		// A wrong signature is refused on the headers; a right one over a
		// 100 KB body that never comes is cut by the pacing.
		req, _ := http.NewRequest("POST", "http://"+addr+"/2015-03-31/functions", nil)
		sign(t, req, strings.Repeat("ab", 32), "lambda", secret, true)
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		var head bytes.Buffer
		fmt.Fprintf(&head, "POST /2015-03-31/functions HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n", addr, 100<<10)
		req.Header.Write(&head)
		head.WriteString("\r\n{")
		if _, err := c.Write(head.Bytes()); err != nil {
			t.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(2 * time.Minute))
		br := bufio.NewReader(c)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("secret %q: no response: %v", secret, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 403 && resp.StatusCode != 408 {
			t.Fatalf("secret %q: status %d", secret, resp.StatusCode)
		}
		// The server closes the connection rather than wait for the body.
		if _, err := br.ReadByte(); err != io.EOF {
			t.Fatalf("secret %q: connection still open after the answer: %v", secret, err)
		}
	}
}

// TestSpoolLimit checks that bodies awaiting their signature check cannot
// take more disk than the spool limit, and that the spool's reservations
// are given back.
func TestSpoolLimit(t *testing.T) {
	svc := &fakeService{}
	cfg := authConfig(svc)
	cfg.SpoolDir = t.TempDir()
	cfg.SpoolAbove = 64 << 10
	cfg.SpoolLimit = 1 << 20
	h := New(cfg)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	send := func(size int) (*http.Response, []byte) {
		body := bytes.Repeat([]byte("s"), size)
		req, _ := http.NewRequest("POST", srv.URL+"/2015-03-31/functions", bytes.NewReader(body))
		sum := sha256.Sum256(body)
		sign(t, req, hex.EncodeToString(sum[:]), "lambda", testSecret, false)
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}
	if resp, b := send(512 << 10); resp.StatusCode != 200 {
		t.Fatalf("a body within the spool limit: %d %s", resp.StatusCode, b)
	}
	resp, b := send(2 << 20)
	wantError(t, resp, b, 503, awsproto.ServiceUnavailableException, "retry shortly")
	if n := h.(*edge).spooled.Load(); n != 0 {
		t.Fatalf("spool reservations not given back: %d bytes", n)
	}
	if resp, b := send(900 << 10); resp.StatusCode != 200 {
		t.Fatalf("after a refusal: %d %s", resp.StatusCode, b)
	}
}
