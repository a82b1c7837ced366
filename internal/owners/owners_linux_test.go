package owners

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
)

func TestOrphans(t *testing.T) {
	dir := t.TempDir()
	if err := Claim(dir, "mine"); err != nil {
		t.Fatal(err)
	}
	// A process that has exited: its record names no live process.
	cmd := exec.Command("true")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	rec, err := of(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	if err := os.WriteFile(filepath.Join(dir, "gone"), []byte(rec+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// This pid with another start time: a reused pid is not the owner.
	self, _ := of(os.Getpid())
	if err := os.WriteFile(filepath.Join(dir, "reused"), []byte(self+"1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "garbage"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	got := Orphans(dir)
	slices.Sort(got)
	if want := []string{"garbage", "gone", "reused"}; !slices.Equal(got, want) {
		t.Fatalf("Orphans = %v, want %v", got, want)
	}
	// Taken: nobody else is given them.
	if again := Orphans(dir); len(again) != 0 {
		t.Errorf("orphans given out twice: %v", again)
	}
	// One given back is handed out again.
	Return(dir, "gone")
	if again := Orphans(dir); !slices.Equal(again, []string{"gone"}) {
		t.Errorf("after Return: %v, want [gone]", again)
	}
	for _, n := range got {
		if err := Forget(dir, n); err != nil {
			t.Fatal(err)
		}
	}
	Release(dir, "mine")
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("records left: %v", left)
	}
}
