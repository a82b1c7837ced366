package runtimeapi

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"testing"
	"time"
)

// BenchmarkInvoke measures warm Invoke round trips over TCP loopback: the
// runtime is a goroutine looping next → response, as a runtime client in
// a sandbox does. "net/http" uses net/http.Client with keep-alive (what
// aws-lambda-go uses); "raw" a hand-written HTTP/1.1 client that allocates
// nothing, so its allocs/op are the Server's own. Latency percentiles are
// reported as p50-ns and p99-ns.
func BenchmarkInvoke(b *testing.B) {
	for _, size := range []int{128, 64 << 10} {
		b.Run(fmt.Sprintf("net/http/%dB", size), func(b *testing.B) { benchInvoke(b, size, httpRuntime) })
		b.Run(fmt.Sprintf("raw/%dB", size), func(b *testing.B) { benchInvoke(b, size, rawRuntime) })
	}
}

func benchInvoke(b *testing.B, size int, loop func(addr string, stop <-chan struct{})) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	s := New(Options{Logger: quiet()})
	go s.Serve(l)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		loop(l.Addr().String(), stop)
		close(done)
	}()
	defer func() {
		close(stop)
		s.Close()
		<-done
	}()
	if err := s.WaitInit(context.Background()); err != nil {
		b.Fatal(err)
	}

	payload := bytes.Repeat([]byte("x"), size)
	invs := [2]Invocation{}
	for i := range invs {
		invs[i] = Invocation{
			RequestID:   fmt.Sprintf("c0a5d6b2-6f3e-4d59-9f0e-%012d", i),
			Payload:     payload,
			FunctionARN: "arn:aws:lambda:us-east-1:000000000000:function:bench",
			TraceID:     "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	for i := range invs {
		invs[i].Deadline = time.Now().Add(time.Hour)
	}

	lat := make([]time.Duration, 0, b.N)
	b.SetBytes(int64(2 * size))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		res, err := s.Invoke(ctx, &invs[i&1])
		lat = append(lat, time.Since(t0))
		if err != nil || len(res.Payload) != size {
			b.Fatalf("Invoke: %v", err)
		}
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds()), "p99-ns")
}

// httpRuntime is a runtime client on net/http.Client, echoing each event.
func httpRuntime(addr string, stop <-chan struct{}) {
	c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
	base := "http://" + addr + "/2018-06-01/runtime/invocation/"
	var buf bytes.Buffer
	for {
		select {
		case <-stop:
			return
		default:
		}
		resp, err := c.Get(base + "next")
		if err != nil {
			return
		}
		id := resp.Header.Get(hdrRequestID)
		buf.Reset()
		_, err = buf.ReadFrom(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			return
		}
		resp, err = c.Post(base+id+"/response", "application/json", bytes.NewReader(buf.Bytes()))
		if err != nil {
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}

// rawRuntime is a runtime client writing and parsing HTTP/1.1 by hand on
// one keep-alive connection, echoing each event.
func rawRuntime(addr string, stop <-chan struct{}) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return
	}
	defer c.Close()
	go func() { <-stop; c.Close() }()
	r := bufio.NewReaderSize(c, 64<<10)
	w := bufio.NewWriterSize(c, 64<<10)
	var id, body []byte
	var num [20]byte
	for {
		w.WriteString("GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: rt\r\n\r\n")
		if w.Flush() != nil {
			return
		}
		var n int
		var ok bool
		if id, n, ok = readResponse(r, id[:0]); !ok {
			return
		}
		if cap(body) < n {
			body = make([]byte, n)
		}
		body = body[:n]
		if _, err := io.ReadFull(r, body); err != nil {
			return
		}
		w.WriteString("POST /2018-06-01/runtime/invocation/")
		w.Write(id)
		w.WriteString("/response HTTP/1.1\r\nHost: rt\r\nContent-Length: ")
		w.Write(strconv.AppendInt(num[:0], int64(n), 10))
		w.WriteString("\r\n\r\n")
		w.Write(body)
		if w.Flush() != nil {
			return
		}
		_, n, ok = readResponse(r, nil)
		if !ok {
			return
		}
		if _, err := r.Discard(n); err != nil {
			return
		}
	}
}

// readResponse reads a status line and headers; it returns the request id
// header appended to id and the Content-Length.
func readResponse(r *bufio.Reader, id []byte) ([]byte, int, bool) {
	n := 0
	for first := true; ; first = false {
		line, err := r.ReadSlice('\n')
		if err != nil {
			return id, 0, false
		}
		line = bytes.TrimRight(line, "\r\n")
		if first {
			continue
		}
		if len(line) == 0 {
			return id, n, true
		}
		k, v, _ := bytes.Cut(line, []byte(": "))
		switch {
		case bytes.EqualFold(k, []byte(hdrRequestID)):
			id = append(id, v...)
		case bytes.EqualFold(k, []byte(hdrContentLength)):
			n, _ = strconv.Atoi(string(v))
		}
	}
}
