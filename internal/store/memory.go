package store

import (
	"bytes"
	"context"
	"errors"
	"io"
	"sort"
	"strings"
	"sync"
	"time"
)

var errClosed = errors.New("store: closed")

// NewMemory returns a Store that keeps everything in memory, with the same
// semantics as the JetStream one (it passes the same conformance suite).
// Nothing survives the process: it is for unit tests of the layers above.
func NewMemory() Store {
	return &memStore{
		kvs:   map[string]*memKV{},
		blobs: map[string]*memBlobs{},
		done:  make(chan struct{}),
	}
}

type memStore struct {
	done chan struct{} // closed by Close; ends every watch

	mu     sync.Mutex
	closed bool
	kvs    map[string]*memKV
	blobs  map[string]*memBlobs
}

func (s *memStore) KV(ctx context.Context, bucket string) (KV, error) {
	if err := checkBucket(bucket); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, errClosed
	}
	kv := s.kvs[bucket]
	if kv == nil {
		kv = &memKV{done: s.done, live: map[string]Entry{}, watchers: map[*memWatch]struct{}{}}
		s.kvs[bucket] = kv
	}
	return kv, nil
}

func (s *memStore) Blobs(ctx context.Context, bucket string) (Blobs, error) {
	if err := checkBucket(bucket); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, errClosed
	}
	b := s.blobs[bucket]
	if b == nil {
		b = &memBlobs{blobs: map[string]memBlob{}}
		s.blobs[bucket] = b
	}
	return b, nil
}

// Close ends every watch. Buckets already opened keep working.
func (s *memStore) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed {
		s.closed = true
		close(s.done)
	}
	return nil
}

// memKV is one bucket. Lock order: memKV.mu before memWatch.mu.
type memKV struct {
	done <-chan struct{}

	mu       sync.Mutex
	rev      uint64           // last revision handed out
	live     map[string]Entry // live keys only
	watchers map[*memWatch]struct{}
}

func (kv *memKV) check(ctx context.Context, key string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	return ctx.Err()
}

func (kv *memKV) Get(ctx context.Context, key string) (Entry, error) {
	if err := kv.check(ctx, key); err != nil {
		return Entry{}, err
	}
	kv.mu.Lock()
	defer kv.mu.Unlock()
	e, ok := kv.live[key]
	if !ok {
		return Entry{}, ErrNotFound
	}
	return cloneEntry(e), nil
}

func (kv *memKV) Create(ctx context.Context, key string, value []byte) (uint64, error) {
	if err := kv.check(ctx, key); err != nil {
		return 0, err
	}
	kv.mu.Lock()
	defer kv.mu.Unlock()
	if _, ok := kv.live[key]; ok {
		return 0, ErrExists
	}
	return kv.writeLocked(key, value, false), nil
}

func (kv *memKV) Update(ctx context.Context, key string, value []byte, rev uint64) (uint64, error) {
	if err := kv.check(ctx, key); err != nil {
		return 0, err
	}
	kv.mu.Lock()
	defer kv.mu.Unlock()
	if e, ok := kv.live[key]; !ok || e.Revision != rev {
		return 0, ErrConflict
	}
	return kv.writeLocked(key, value, false), nil
}

func (kv *memKV) Put(ctx context.Context, key string, value []byte) (uint64, error) {
	if err := kv.check(ctx, key); err != nil {
		return 0, err
	}
	kv.mu.Lock()
	defer kv.mu.Unlock()
	return kv.writeLocked(key, value, false), nil
}

func (kv *memKV) Delete(ctx context.Context, key string, rev uint64) error {
	if err := kv.check(ctx, key); err != nil {
		return err
	}
	kv.mu.Lock()
	defer kv.mu.Unlock()
	e, ok := kv.live[key]
	if rev > 0 && (!ok || e.Revision != rev) {
		return ErrConflict
	}
	if ok {
		kv.writeLocked(key, nil, true)
	}
	return nil
}

func (kv *memKV) writeLocked(key string, value []byte, deleted bool) uint64 {
	kv.rev++
	e := Entry{Key: key, Revision: kv.rev, Deleted: deleted}
	if deleted {
		delete(kv.live, key)
	} else {
		e.Value = bytes.Clone(value)
		kv.live[key] = e
	}
	for w := range kv.watchers {
		if strings.HasPrefix(key, w.prefix) {
			w.push(cloneEntry(e))
		}
	}
	return kv.rev
}

func (kv *memKV) List(ctx context.Context, prefix string) ([]Entry, error) {
	if err := checkPrefix(prefix); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	kv.mu.Lock()
	defer kv.mu.Unlock()
	return kv.listLocked(prefix), nil
}

func (kv *memKV) listLocked(prefix string) []Entry {
	out := []Entry{}
	for k, e := range kv.live {
		if strings.HasPrefix(k, prefix) {
			out = append(out, cloneEntry(e))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

func (kv *memKV) Watch(ctx context.Context, prefix string) (<-chan Entry, error) {
	if err := checkPrefix(prefix); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	select {
	case <-kv.done:
		return nil, errClosed
	default:
	}
	w := &memWatch{prefix: prefix, wake: make(chan struct{}, 1)}
	kv.mu.Lock()
	w.queue = append(kv.listLocked(prefix), Entry{})
	kv.watchers[w] = struct{}{}
	kv.mu.Unlock()

	out := make(chan Entry)
	go func() {
		defer close(out)
		defer func() {
			kv.mu.Lock()
			delete(kv.watchers, w)
			kv.mu.Unlock()
		}()
		for {
			for _, e := range w.take() {
				select {
				case out <- e:
				case <-ctx.Done():
					return
				case <-kv.done:
					return
				}
			}
			select {
			case <-w.wake:
			case <-ctx.Done():
				return
			case <-kv.done:
				return
			}
		}
	}()
	return out, nil
}

// memWatch queues changes for one watcher without bound, so that a slow
// reader never blocks writers.
type memWatch struct {
	prefix string
	wake   chan struct{} // capacity 1: "the queue is not empty"

	mu    sync.Mutex
	queue []Entry
}

func (w *memWatch) push(e Entry) {
	w.mu.Lock()
	w.queue = append(w.queue, e)
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

func (w *memWatch) take() []Entry {
	w.mu.Lock()
	defer w.mu.Unlock()
	q := w.queue
	w.queue = nil
	return q
}

func cloneEntry(e Entry) Entry {
	e.Value = bytes.Clone(e.Value)
	return e
}

type memBlob struct {
	data []byte // never modified once stored
	mod  time.Time
}

type memBlobs struct {
	mu    sync.Mutex
	blobs map[string]memBlob
}

func (b *memBlobs) Put(ctx context.Context, name string, r io.Reader) (BlobInfo, error) {
	if err := checkKey(name); err != nil {
		return BlobInfo{}, err
	}
	if err := ctx.Err(); err != nil {
		return BlobInfo{}, err
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return BlobInfo{}, err
	}
	if err := ctx.Err(); err != nil {
		return BlobInfo{}, err
	}
	blob := memBlob{data: data, mod: time.Now().UTC()}
	b.mu.Lock()
	b.blobs[name] = blob
	b.mu.Unlock()
	return blobInfo(name, blob), nil
}

func (b *memBlobs) Get(ctx context.Context, name string) (io.ReadCloser, BlobInfo, error) {
	if err := checkKey(name); err != nil {
		return nil, BlobInfo{}, err
	}
	if err := ctx.Err(); err != nil {
		return nil, BlobInfo{}, err
	}
	b.mu.Lock()
	blob, ok := b.blobs[name]
	b.mu.Unlock()
	if !ok {
		return nil, BlobInfo{}, ErrNotFound
	}
	return io.NopCloser(bytes.NewReader(blob.data)), blobInfo(name, blob), nil
}

func (b *memBlobs) Stat(ctx context.Context, name string) (BlobInfo, error) {
	if err := checkKey(name); err != nil {
		return BlobInfo{}, err
	}
	if err := ctx.Err(); err != nil {
		return BlobInfo{}, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	blob, ok := b.blobs[name]
	if !ok {
		return BlobInfo{}, ErrNotFound
	}
	return blobInfo(name, blob), nil
}

func (b *memBlobs) Delete(ctx context.Context, name string) error {
	if err := checkKey(name); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	b.mu.Lock()
	delete(b.blobs, name)
	b.mu.Unlock()
	return nil
}

func (b *memBlobs) List(ctx context.Context) ([]BlobInfo, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	b.mu.Lock()
	out := make([]BlobInfo, 0, len(b.blobs))
	for name, blob := range b.blobs {
		out = append(out, blobInfo(name, blob))
	}
	b.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func blobInfo(name string, b memBlob) BlobInfo {
	return BlobInfo{Name: name, Size: int64(len(b.data)), ModTime: b.mod}
}

var (
	_ Store = (*memStore)(nil)
	_ KV    = (*memKV)(nil)
	_ Blobs = (*memBlobs)(nil)
)
