package logs

import (
	"context"
	"errors"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/smithy-go"
	"github.com/nats-io/nats.go"

	"github.com/kumo-run/kumo/internal/edge"
	"github.com/kumo-run/kumo/internal/natsd"
	"github.com/kumo-run/kumo/internal/poll"
)

type harness struct {
	dir string
	ns  *natsd.Server
	nc  *nats.Conn
	st  *Store
	srv *httptest.Server
	cl  *cloudwatchlogs.Client
}

// newHarness starts NATS on dir (a fresh temp dir when ""), opens a Store
// and serves its API through the edge with authentication off.
func newHarness(t testing.TB, dir string, cfg Config) *harness {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	h := &harness{dir: dir}
	h.start(t, cfg)
	t.Cleanup(h.stop)
	return h
}

func (h *harness) start(t testing.TB, cfg Config) {
	t.Helper()
	ns, err := natsd.Start(natsd.Config{DataDir: h.dir, Sync: natsd.SyncInterval})
	if err != nil {
		t.Fatal(err)
	}
	nc, err := ns.Connect("logs-test")
	if err != nil {
		ns.Shutdown()
		t.Fatal(err)
	}
	if cfg.SweepInterval == 0 {
		cfg.SweepInterval = -1
	}
	st, err := Open(context.Background(), nc, cfg)
	if err != nil {
		ns.Shutdown()
		t.Fatal(err)
	}
	h.ns, h.st, h.nc = ns, st, nc
	h.srv = httptest.NewServer(edge.New(edge.Config{Routes: []edge.Route{{Name: "logs",
		Match: []edge.Matcher{{Service: "logs"}, {Target: "Logs_20140328."}}, Scope: "logs", Handler: st.Handler()}}}))
	h.cl = cloudwatchlogs.NewFromConfig(aws.Config{
		Region:           "us-east-1",
		Credentials:      credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", ""),
		HTTPClient:       h.srv.Client(),
		RetryMaxAttempts: 1,
	}, func(o *cloudwatchlogs.Options) { o.BaseEndpoint = aws.String(h.srv.URL) })
}

func (h *harness) stop() {
	if h.ns == nil {
		return
	}
	h.srv.Close()
	h.st.Close()
	h.ns.Shutdown()
	h.ns = nil
}

// restart stops everything and starts it again on the same data dir.
func (h *harness) restart(t testing.TB, cfg Config) {
	h.stop()
	h.start(t, cfg)
}

// wantCode fails unless err is an API error with the given code.
func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("error %v, want %s", err, code)
	}
	if ae.ErrorCode() != code {
		t.Fatalf("error code %s (%s), want %s", ae.ErrorCode(), ae.ErrorMessage(), code)
	}
}

// eventually polls cond until it holds.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	poll.True(t, what, cond)
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}
