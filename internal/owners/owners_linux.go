package owners

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Dir is where Kumo keeps its records, one subdirectory per kind of thing.
const Dir = "/run/kumo"

// of is what a record says of process pid: "PID STARTTIME".
func of(pid int) (string, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return "", err
	}
	s := string(b)
	// The command name, in parentheses, may hold spaces: fields count
	// from after its closing parenthesis (field 3 is the first).
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return "", fmt.Errorf("owners: malformed /proc/%d/stat", pid)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 20 {
		return "", fmt.Errorf("owners: malformed /proc/%d/stat", pid)
	}
	return strconv.Itoa(pid) + " " + f[19], nil
}

// Alive reports whether the process a record names still runs.
func Alive(record string) bool {
	record = strings.TrimSpace(record)
	pidStr, _, ok := strings.Cut(record, " ")
	if !ok {
		return false
	}
	pid, err := strconv.Atoi(pidStr)
	if err != nil || pid <= 0 {
		return false
	}
	now, err := of(pid)
	return err == nil && now == record
}

// Claim records this process as the owner of name in dir.
func Claim(dir, name string) error {
	rec, err := of(os.Getpid())
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, name), []byte(rec+"\n"), 0o600)
}

// Release removes name's record if this process wrote it.
func Release(dir, name string) {
	p := filepath.Join(dir, name)
	b, err := os.ReadFile(p)
	if err != nil {
		return
	}
	if rec, err := of(os.Getpid()); err == nil && strings.TrimSpace(string(b)) == rec {
		os.Remove(p)
	}
}

// reaping marks a record taken by a process removing what it names.
const reaping = ".reaping"

// Orphans takes the records in dir whose owner is gone and returns their
// names: each is given to one caller only, however many processes look at
// once (a record is taken by renaming it, which one of them wins). The
// caller removes what a name owned, then calls Forget.
func Orphans(dir string) []string {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range entries {
		name := e.Name()
		if strings.HasSuffix(name, reaping) {
			continue
		}
		p := filepath.Join(dir, name)
		b, err := os.ReadFile(p)
		if err != nil || Alive(string(b)) {
			continue
		}
		if os.Rename(p, p+reaping) == nil {
			out = append(out, name)
		}
	}
	return out
}

// Return gives back an orphan the caller took but could not remove, so
// that a later look tries again.
func Return(dir, name string) {
	p := filepath.Join(dir, name)
	os.Rename(p+reaping, p)
}

// Forget removes the record of an orphan the caller took.
func Forget(dir, name string) error {
	if err := os.Remove(filepath.Join(dir, name+reaping)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}
