package e2e

import (
	"os"
	"strconv"
	"testing"
)

// openFDs counts the descriptors the process pid has open.
func openFDs(t *testing.T, pid int) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/fd")
	if err != nil {
		t.Skipf("cannot count the server's descriptors: %v", err)
	}
	return len(ents)
}

// TestRuntimeAPIConnectionFlood: a function opens a thousand connections
// to its Runtime API and keeps them. The server keeps a few of them (the
// Runtime API server's cap, 8 per sandbox) and closes the rest, so its
// descriptor count stays bounded, and it goes on serving the function
// itself, other functions and cold starts.
func TestRuntimeAPIConnectionFlood(t *testing.T) {
	t.Parallel()
	s, lc := runtimeServer(t)
	fnBootstrap(t)
	deployFn(t, lc, "flooder", "flooder", fnConfig{})
	deployFn(t, lc, "calm", "calm", fnConfig{})
	call(t, lc, "flooder", "", event("echo")).ok(t, "flooder warm-up")
	call(t, lc, "calm", "", event("echo")).ok(t, "calm warm-up")
	pid := s.cmd.Process.Pid
	before := openFDs(t, pid)

	p := call(t, lc, "flooder", "", event("connflood", "size", 1000)).ok(t, "connection flood")
	t.Logf("flood: %v", p)
	if opened, failed := jnum(p, "opened"), jnum(p, "failed"); opened+failed != 1000 || opened == 0 {
		t.Errorf("the function opened %v and failed %v connections, want 1,000 tries", opened, failed)
	}
	// The function holds its connections: whatever the server accepted
	// and kept is open now.
	during := openFDs(t, pid)
	t.Logf("server descriptors: %d before the flood, %d with the flood's connections held", before, during)
	// 8 kept connections, and room for what the server opens meanwhile
	// (log and store files): far from the thousand without a cap.
	if during > before+48 {
		t.Errorf("the server holds %d descriptors with the flood held, %d before", during, before)
	}

	call(t, lc, "calm", "", event("echo")).ok(t, "another function during the flood")
	deployFn(t, lc, "newcomer", "newcomer", fnConfig{})
	call(t, lc, "newcomer", "", event("echo")).ok(t, "a cold start during the flood")
	r := call(t, lc, "flooder", "", event("echo")).ok(t, "the flooding function itself")
	expectEq(t, "invocations of the flooder's sandbox", jnum(r, "invocations"), 3)
	if after := openFDs(t, pid); after > before+48 {
		t.Errorf("the server holds %d descriptors after the flood, %d before", after, before)
	}
}
