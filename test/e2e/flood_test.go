package e2e

import (
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
)

// vmRSS is a process's resident memory in bytes, from /proc.
func vmRSS(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Fatalf("reading the server's status: %v", err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	t.Fatal("no VmRSS in the server's status")
	return 0
}

// TestLogFlood: a function that writes 300 MB of log lines as fast as it
// can leaves the server's memory bounded; the lines that could not be kept
// are replaced by a visible marker, and the server keeps answering.
func TestLogFlood(t *testing.T) {
	t.Parallel()
	s := startServer(t, t.TempDir())
	lc := newSDK(t, s)
	deployFn(t, lc, "flood", "one", fnConfig{Memory: 1769, Timeout: 120})
	call(t, lc, "flood", "", event("echo")).succeeded(t, "warm-up")
	before := vmRSS(t, s.cmd.Process.Pid)

	start := time.Now()
	r := call(t, lc, "flood", "", event("flood", "size", 300))
	body := r.succeeded(t, "flood")
	if got, _ := body["flooded"].(float64); got < 300<<20 {
		t.Fatalf("the function wrote %v bytes, want 300 MB", body["flooded"])
	}
	after := vmRSS(t, s.cmd.Process.Pid)
	t.Logf("300 MB of log lines in %s; server RSS %d MB before, %d MB after", time.Since(start).Round(time.Millisecond), before>>20, after>>20)
	if growth := after - before; growth > 150<<20 {
		t.Errorf("server RSS grew by %d MB while the function flooded its log", growth>>20)
	}
	healthy(t, s)
	call(t, lc, "flood", "", event("echo")).succeeded(t, "after the flood")

	logsClient := newLogsClient(s)
	eventually(t, 20*time.Second, "a dropped-lines marker in the function's log", func() error {
		out, err := logsClient.FilterLogEvents(t.Context(), &cloudwatchlogs.FilterLogEventsInput{
			LogGroupName:  aws.String("/aws/lambda/flood"),
			FilterPattern: aws.String(`"log lines dropped"`),
		})
		if err != nil {
			return err
		}
		if len(out.Events) == 0 {
			return errors.New("no marker yet")
		}
		return nil
	})
}
