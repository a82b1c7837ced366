package netns

import (
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

// TestReapOrphansForgetsWhatItSkips: records of dead owners that name this
// server's own ID or no network at all are removed, not left taken.
func TestReapOrphansForgetsWhatItSkips(t *testing.T) {
	dir := t.TempDir()
	old := ownerDir
	ownerDir = dir
	t.Cleanup(func() { ownerDir = old })
	// A record whose owner has exited.
	cmd := exec.Command("true")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	cmd.Wait()
	dead := []byte(strconv.Itoa(pid) + " 1\n")
	for _, name := range []string{"abcd1234", "Not-An-ID"} {
		if err := os.WriteFile(filepath.Join(dir, name), dead, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	reapOrphans("abcd1234", slog.New(slog.DiscardHandler))
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		var names []string
		for _, e := range left {
			names = append(names, e.Name())
		}
		t.Errorf("records left: %v", names)
	}
}
