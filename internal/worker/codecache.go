package worker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/kumo-run/kumo/internal/codezip"
	"github.com/kumo-run/kumo/internal/store"
)

// CodeCache extracts code zips once per content into Dir/<blob>. Extraction
// is atomic (codezip.Extract renames a complete tree into place), so a
// directory that exists is complete. Safe for concurrent use; concurrent
// requests for the same blob extract it once.
type CodeCache struct {
	Dir   string
	Blobs store.Blobs

	mu      sync.Mutex
	pending map[string]*extraction
}

type extraction struct {
	done chan struct{}
	err  error
}

// Path returns the directory holding blob's unzipped content, extracting it
// first if needed.
func (c *CodeCache) Path(ctx context.Context, blob string) (string, error) {
	dir := filepath.Join(c.Dir, blob)
	if _, err := os.Stat(dir); err == nil {
		return dir, nil
	}
	c.mu.Lock()
	if c.pending == nil {
		c.pending = map[string]*extraction{}
	}
	if e, ok := c.pending[blob]; ok {
		c.mu.Unlock()
		select {
		case <-e.done:
			return dir, e.err
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
	e := &extraction{done: make(chan struct{})}
	c.pending[blob] = e
	c.mu.Unlock()

	e.err = c.extract(ctx, blob, dir)
	close(e.done)
	c.mu.Lock()
	delete(c.pending, blob)
	c.mu.Unlock()
	return dir, e.err
}

func (c *CodeCache) extract(ctx context.Context, blob, dir string) error {
	if _, err := os.Stat(dir); err == nil {
		return nil
	}
	if err := os.MkdirAll(c.Dir, 0o755); err != nil {
		return err
	}
	rc, err := c.get(ctx, blob)
	if err != nil {
		return fmt.Errorf("code %s: %w", blob, err)
	}
	defer rc.Close()
	zip, err := io.ReadAll(io.LimitReader(rc, codezip.LambdaLimits.MaxZipped+1))
	if err != nil {
		return fmt.Errorf("code %s: %w", blob, err)
	}
	if _, err := codezip.Extract(zip, dir, codezip.LambdaLimits); err != nil {
		return fmt.Errorf("code %s: %w", blob, err)
	}
	return nil
}

// notFoundWait bounds how long get waits for a blob the store says does
// not exist.
const notFoundWait = 10 * time.Second

// get opens blob. Code blobs are written (and acknowledged) before the
// function record that names them, and never change, so a blob that is
// not found was read from a replica that has not caught up with the
// write yet (in a cluster, reads may be served by any replica): it is
// asked for again, backing off, for up to notFoundWait.
func (c *CodeCache) get(ctx context.Context, blob string) (io.ReadCloser, error) {
	deadline := time.Now().Add(notFoundWait)
	wait := 20 * time.Millisecond
	for {
		rc, _, err := c.Blobs.Get(ctx, blob)
		if !errors.Is(err, store.ErrNotFound) || time.Now().Add(wait).After(deadline) {
			return rc, err
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, err
		}
		wait = min(2*wait, time.Second)
	}
}

// layerDirs extracts a function's layers (once per content) and returns
// their distinct directories in order, later layers winning at /opt, and
// the one whose bootstrap /opt/bootstrap is (the last one when none has
// it).
func (w *Worker) layerDirs(ctx context.Context, layers []Layer) ([]string, string, error) {
	if len(layers) == 0 {
		return nil, "", nil
	}
	dirs := make([]string, 0, len(layers))
	for _, l := range layers {
		if l.Blob == "" {
			return nil, "", fmt.Errorf("layer %s: no code", l.ARN)
		}
		dir, err := w.cfg.Code.Path(ctx, l.Blob)
		if err != nil {
			return nil, "", err
		}
		// Layers of the same content share a directory, which an overlay
		// takes only once: its last place decides the same files.
		dirs = slices.DeleteFunc(dirs, func(d string) bool { return d == dir })
		dirs = append(dirs, dir)
	}
	opt := dirs[len(dirs)-1]
	for i := len(dirs) - 1; i >= 0; i-- {
		if _, err := os.Lstat(filepath.Join(dirs[i], "bootstrap")); err == nil {
			opt = dirs[i]
			break
		}
	}
	return dirs, opt, nil
}
