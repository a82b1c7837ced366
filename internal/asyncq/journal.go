package asyncq

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"
)

// journal remembers which events this process started, so that the next
// process can tell which of the events it is handed may have run already.
// JetStream's consumer state cannot tell: after a crash it may hand out
// an event as if for the first time. Entries are stream sequences, 8 bytes
// little-endian, appended without fsync: they survive the process being
// killed, not the machine losing power (then duplicates go uncounted).
type journal struct {
	path string

	mu   sync.Mutex
	f    *os.File
	n    int
	prev map[uint64]bool // started by an earlier process, not yet handed out again
	live map[uint64]bool // started by this process and not finished
}

const journalRotate = 1 << 16

func openJournal(path string) (*journal, error) {
	j := &journal{path: path, prev: map[uint64]bool{}, live: map[uint64]bool{}}
	b, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("asyncq: journal: %w", err)
	}
	for i := 0; i+8 <= len(b); i += 8 {
		j.prev[binary.LittleEndian.Uint64(b[i:])] = true
	}
	if err := j.rotate(); err != nil {
		return nil, err
	}
	return j, nil
}

// rotate rewrites the file with what still matters. Caller holds mu (or
// is openJournal).
func (j *journal) rotate() error {
	buf := make([]byte, 0, 8*(len(j.prev)+len(j.live)))
	for _, m := range []map[uint64]bool{j.prev, j.live} {
		for seq := range m {
			buf = binary.LittleEndian.AppendUint64(buf, seq)
		}
	}
	tmp := j.path + ".tmp"
	if err := os.WriteFile(tmp, buf, 0o600); err != nil {
		return fmt.Errorf("asyncq: journal: %w", err)
	}
	if err := os.Rename(tmp, j.path); err != nil {
		return fmt.Errorf("asyncq: journal: %w", err)
	}
	f, err := os.OpenFile(j.path, os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("asyncq: journal: %w", err)
	}
	if j.f != nil {
		j.f.Close()
	}
	j.f, j.n = f, len(j.prev)+len(j.live)
	return nil
}

// started records that the event at seq is about to run and reports
// whether an earlier process had started it.
func (j *journal) started(seq uint64) (again bool, err error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	again = j.prev[seq]
	delete(j.prev, seq)
	j.live[seq] = true
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], seq)
	if _, err := j.f.Write(b[:]); err != nil {
		return again, fmt.Errorf("asyncq: journal: %w", err)
	}
	j.n++
	if j.n > journalRotate && j.n > 4*(len(j.prev)+len(j.live)) {
		return again, j.rotate()
	}
	return again, nil
}

func (j *journal) finished(seq uint64) {
	j.mu.Lock()
	defer j.mu.Unlock()
	delete(j.live, seq)
}

func (j *journal) close() {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f != nil {
		j.f.Close()
	}
}
