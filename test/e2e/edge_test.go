package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
)

// metricsRequest is GET /metrics signed with the root credentials: on the
// edge port /metrics needs SigV4 like every API call (any service name).
func metricsRequest(t testing.TB, s *server) *http.Request {
	t.Helper()
	req, err := http.NewRequest("GET", s.url+"/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	creds := aws.Credentials{AccessKeyID: rootAccessKeyID, SecretAccessKey: rootSecretAccessKey}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hexSHA256(nil), "kumo", region, time.Now()); err != nil {
		t.Fatal(err)
	}
	return req
}

// TestMetricsAuth: /metrics on the edge port refuses unsigned requests
// (it names every function), answers signed ones, and --metrics-listen
// serves it without authentication on an address of its own.
func TestMetricsAuth(t *testing.T) {
	t.Parallel()
	maddr, err := freeAddr()
	if err != nil {
		t.Fatal(err)
	}
	s := startServer(t, t.TempDir(), "--metrics-listen", maddr)

	resp, err := http.Get(s.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	checkWireError(t, wireResp{resp.StatusCode, resp.Header, body}, 403, "MissingAuthenticationTokenException", "message")
	if bytes.Contains(body, []byte("kumo_")) {
		t.Errorf("an unsigned request saw metrics: %s", body)
	}

	get := func(what string, req *http.Request) string {
		t.Helper()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || !bytes.Contains(b, []byte("kumo_edge_connections")) {
			t.Fatalf("%s: %d %.300s", what, resp.StatusCode, b)
		}
		return string(b)
	}
	get("signed GET /metrics on the edge port", metricsRequest(t, s))
	req, _ := http.NewRequest("GET", "http://"+maddr+"/metrics", nil)
	get("unsigned GET /metrics on --metrics-listen", req)
	// The metrics address serves nothing else.
	resp, err = http.Get("http://" + maddr + "/2015-03-31/functions")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Errorf("the API on --metrics-listen: %d", resp.StatusCode)
	}
}

// TestHealthzVersion: /healthz names the running build and the node.
func TestHealthzVersion(t *testing.T) {
	t.Parallel()
	s := startServer(t, t.TempDir())
	resp, err := healthClient.Get(s.url + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	lines := strings.Split(strings.TrimSpace(string(body)), "\n")
	if resp.StatusCode != 200 || len(lines) != 3 || lines[0] != "ok" || !strings.HasPrefix(lines[1], "version: ") || len(lines[1]) <= len("version: ") ||
		!strings.HasPrefix(lines[2], "node: kumo-") {
		t.Fatalf("GET /healthz: %d %q", resp.StatusCode, body)
	}
	t.Logf("/healthz: %q", body)
}

// repeatBody is a body of n bytes that costs the client no memory.
type repeatBody struct{ n int64 }

func (r *repeatBody) Read(p []byte) (int, error) {
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

// TestAuthBodyFlood: 16 clients with a known access key and a wrong
// secret send 60 MB CreateFunction bodies at once, half with the payload
// hash in x-amz-content-sha256 (refused before the body) and half without
// (as the AWS CLI signs Lambda calls: the body must be read to check the
// signature). The server's RSS must stay far below the 960 MB the bodies
// weigh, and an authenticated client is served throughout.
func TestAuthBodyFlood(t *testing.T) {
	t.Parallel()
	s := startServer(t, t.TempDir())
	lc := newSDK(t, s)
	if _, err := lc.ListFunctions(t.Context(), &lambda.ListFunctionsInput{}); err != nil {
		t.Fatal(err)
	}
	pid := s.cmd.Process.Pid
	before := vmRSS(t, pid)

	var peak atomic.Int64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			if r := vmRSS(t, pid); r > peak.Load() {
				peak.Store(r)
			}
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()

	const clients, size = 16, 60 << 20
	var wg sync.WaitGroup
	statuses := make([]int, clients)
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest("POST", s.url+"/2015-03-31/functions", &repeatBody{n: size})
			req.ContentLength = size
			req.Header.Set("Content-Type", "application/json")
			hash := strings.Repeat("ab", 32)
			if i%2 == 0 {
				req.Header.Set("X-Amz-Content-Sha256", hash)
			}
			signRequest(t, req, hash, rootAccessKeyID, "not-the-secret", time.Now())
			resp, err := (&http.Client{Timeout: 5 * time.Minute}).Do(req)
			if err != nil {
				statuses[i] = -1 // answered and closed before the whole body was sent
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			statuses[i] = resp.StatusCode
		}()
	}
	// Served while the flood runs.
	if _, err := lc.ListFunctions(t.Context(), &lambda.ListFunctionsInput{}); err != nil {
		t.Errorf("ListFunctions during the flood: %v", err)
	}
	wg.Wait()
	close(stop)
	<-sampled
	for i, st := range statuses {
		if st != 403 && !(st == -1 && i%2 == 0) {
			t.Errorf("flood client %d: status %d, want 403", i, st)
		}
	}
	t.Logf("server RSS %d MB before, peak %d MB during %d × %d MB bodies with bad signatures", before>>20, peak.Load()>>20, clients, size>>20)
	if grew := peak.Load() - before; grew > 300<<20 {
		t.Errorf("server RSS grew by %d MB under the flood", grew>>20)
	}
	if _, err := lc.ListFunctions(t.Context(), &lambda.ListFunctionsInput{}); err != nil {
		t.Errorf("ListFunctions after the flood: %v", err)
	}
	healthy(t, s)
}

// TestAuthConnectionLimit: with --max-connections 16, 20 connections that
// send half a request head each: those over the limit are answered 503
// ServiceUnavailableException at once instead of hanging, those within it
// are closed by the header timeout, and an authenticated client is served
// again afterwards.
func TestAuthConnectionLimit(t *testing.T) {
	t.Parallel()
	s := startServer(t, t.TempDir(), "--max-connections", "16")
	const n = 20
	conns := make([]net.Conn, n)
	for i := range conns {
		c, err := net.Dial("tcp", s.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprintf(c, "GET /2015-03-31/functions HTTP/1.1\r\nHost: %s\r\n", s.addr)
		conns[i] = c
	}
	type outcome struct {
		resp *http.Response
		body []byte
	}
	out := make([]outcome, n)
	var wg sync.WaitGroup
	for i, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.SetReadDeadline(time.Now().Add(2 * time.Minute)) // a hang fails instead of blocking
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				return // closed by the server: it was served and timed out
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			out[i] = outcome{resp, b}
		}()
	}
	wg.Wait()
	refused := 0
	for _, o := range out {
		if o.resp == nil {
			continue
		}
		refused++
		var m map[string]string
		json.Unmarshal(o.body, &m)
		if o.resp.StatusCode != 503 || o.resp.Header.Get("x-amzn-ErrorType") != "ServiceUnavailableException" ||
			o.resp.Header.Get("x-amzn-RequestId") == "" || o.resp.Header.Get("Retry-After") == "" || m["message"] == "" {
			t.Errorf("over the limit: %d %v %s", o.resp.StatusCode, o.resp.Header, o.body)
		}
		if refused == 1 {
			t.Logf("over the limit: %d %s", o.resp.StatusCode, o.body)
		}
	}
	// The readiness check's keep-alive connection may hold one place.
	if refused < n-16 || refused > n-15 {
		t.Errorf("%d of %d connections refused, want %d or %d", refused, n, n-16, n-15)
	}

	lc := newSDK(t, s)
	eventually(t, time.Minute, "ListFunctions served after the held connections closed", func() error {
		_, err := lc.ListFunctions(t.Context(), &lambda.ListFunctionsInput{})
		return err
	})
}

// TestAuthSlowBody: a body that stops arriving is cut with 408
// RequestTimeoutException once it falls behind the minimum rate (after a
// 10 s grace), whether the signature is good or not, and the server goes
// on serving.
func TestAuthSlowBody(t *testing.T) {
	t.Parallel()
	s := startServer(t, t.TempDir())
	var wg sync.WaitGroup
	for _, secret := range []string{rootSecretAccessKey, "not-the-secret"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Signed without x-amz-content-sha256, as the AWS CLI signs: the
			// edge must read the body to check the signature.
			req, _ := http.NewRequest("POST", s.url+"/2015-03-31/functions", nil)
			signRequest(t, req, strings.Repeat("ab", 32), rootAccessKeyID, secret, time.Now())
			c, err := net.Dial("tcp", s.addr)
			if err != nil {
				t.Error(err)
				return
			}
			defer c.Close()
			var head bytes.Buffer
			fmt.Fprintf(&head, "POST /2015-03-31/functions HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n", s.addr, 1<<20)
			req.Header.Write(&head)
			head.WriteString("\r\n{\"FunctionName\":")
			if _, err := c.Write(head.Bytes()); err != nil {
				t.Error(err)
				return
			}
			c.SetReadDeadline(time.Now().Add(2 * time.Minute)) // a hang fails instead of blocking
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Errorf("a stalled body was never answered: %v", err)
				return
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 408 || resp.Header.Get("x-amzn-ErrorType") != "RequestTimeoutException" {
				t.Errorf("stalled body: %d %s", resp.StatusCode, body)
			}
		}()
	}
	wg.Wait()
	lc := newSDK(t, s)
	if _, err := lc.ListFunctions(t.Context(), &lambda.ListFunctionsInput{}); err != nil {
		t.Errorf("ListFunctions after the stalled bodies: %v", err)
	}
}
