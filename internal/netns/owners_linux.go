package netns

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Owners: each running server records its ID with its process in ownerDir
// (a tmpfs, emptied at boot, as are the bridges and tables it made). A
// server killed without its Close leaves its network behind; the next
// server to start with the same ID removes it (Start's Cleanup), and so
// does any server that starts and finds a record whose process is gone,
// whatever its ID. Without that, servers of throwaway data dirs (tests,
// scratch runs) killed with SIGKILL would leave bridges until every range
// is taken.
const ownerDir = "/run/kumo/net"

// owner is what a record holds: the process and its start time (field 22
// of /proc/PID/stat), so that a reused pid is not taken for the owner.
func owner(pid int) (string, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return "", err
	}
	s := string(b)
	// The command name, in parentheses, may hold spaces: fields count
	// from after its closing parenthesis (field 3 is the first).
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return "", fmt.Errorf("netns: malformed /proc/%d/stat", pid)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 20 {
		return "", fmt.Errorf("netns: malformed /proc/%d/stat", pid)
	}
	return strconv.Itoa(pid) + " " + f[19], nil
}

// alive reports whether the process a record names still runs.
func alive(record string) bool {
	pidStr, _, ok := strings.Cut(strings.TrimSpace(record), " ")
	if !ok {
		return false
	}
	pid, err := strconv.Atoi(pidStr)
	if err != nil || pid <= 0 {
		return false
	}
	now, err := owner(pid)
	return err == nil && now == strings.TrimSpace(record)
}

// claim records this process as id's owner.
func claim(id string) error {
	rec, err := owner(os.Getpid())
	if err != nil {
		return err
	}
	if err := os.MkdirAll(ownerDir, 0o700); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(ownerDir, id), []byte(rec+"\n"), 0o600)
}

// release removes id's record if this process wrote it.
func release(id string) {
	p := filepath.Join(ownerDir, id)
	b, err := os.ReadFile(p)
	if err != nil {
		return
	}
	if rec, err := owner(os.Getpid()); err == nil && strings.TrimSpace(string(b)) == rec {
		os.Remove(p)
	}
}

// reapOrphans removes the networks of recorded owners that are gone.
func reapOrphans(self string, log *slog.Logger) {
	entries, err := os.ReadDir(ownerDir)
	if err != nil {
		return
	}
	for _, e := range entries {
		id := e.Name()
		if id == self || checkID(id) != nil {
			continue
		}
		p := filepath.Join(ownerDir, id)
		b, err := os.ReadFile(p)
		if err != nil || alive(string(b)) {
			continue
		}
		if err := Cleanup(id, log); err != nil {
			log.Warn("removing the network of a server that is gone failed", "id", id, "err", err)
			continue
		}
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			log.Warn("removing a network owner record failed", "id", id, "err", err)
		}
		log.Info("removed the network of a server that is gone", "id", id)
	}
}
