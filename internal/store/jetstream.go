package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"sync"
	"time"

	"github.com/kumo-run/kumo/internal/natsd"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Limits of the JetStream implementation, left at nats-server's defaults:
//   - a KV value is one message, so it is at most the server's max_payload
//     (1 MiB by default) less the headers; Put of a larger value fails;
//   - blobs are split into 128 KiB chunks and have no size limit but the
//     disk's;
//   - a bucket holds only the latest value of each key (history 1), plus a
//     small delete marker for each deleted key.

// blobReadTimeout bounds reading a blob from Get when the caller's context
// has no deadline. nats.go would otherwise bound the whole read by its
// default API timeout (5s), too short for a large blob read at a slow pace.
const blobReadTimeout = 15 * time.Minute

// Option configures NewJetStream.
type Option func(*jsOptions)

type jsOptions struct {
	replicas int
}

// WithReplicas sets on how many servers a bucket is stored (cluster mode);
// default 1. It applies when a bucket is created; an existing bucket keeps
// its own.
func WithReplicas(n int) Option {
	return func(o *jsOptions) { o.replicas = n }
}

// NewJetStream returns a Store on JetStream through nc: one KV bucket per
// KV, one object store per Blobs, both on file storage. Buckets are created
// on first use. The caller owns nc: Close ends this store's watches but
// leaves nc open, and closing nc ends them too.
//
// A call's context bounds the call; without a deadline nats.go applies its
// default timeout (5s) to each request it makes.
func NewJetStream(nc *nats.Conn, opts ...Option) (Store, error) {
	if nc == nil {
		return nil, errors.New("store: nil NATS connection")
	}
	o := jsOptions{replicas: 1}
	for _, opt := range opts {
		opt(&o)
	}
	if o.replicas < 1 {
		return nil, fmt.Errorf("store: replicas %d < 1", o.replicas)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	return &jsStore{
		js:    js,
		opts:  o,
		done:  make(chan struct{}),
		kvs:   map[string]*jsKV{},
		blobs: map[string]*jsBlobs{},
	}, nil
}

type jsStore struct {
	js   jetstream.JetStream
	opts jsOptions
	done chan struct{}  // closed by Close; ends every watch
	wg   sync.WaitGroup // running watch goroutines

	mu     sync.Mutex
	closed bool
	kvs    map[string]*jsKV
	blobs  map[string]*jsBlobs
}

func (s *jsStore) isClosed() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

func (s *jsStore) KV(ctx context.Context, bucket string) (KV, error) {
	if err := checkBucket(bucket); err != nil {
		return nil, err
	}
	s.mu.Lock()
	kv, closed := s.kvs[bucket], s.closed
	s.mu.Unlock()
	if closed {
		return nil, errClosed
	}
	if kv != nil {
		return kv, nil
	}

	// Looked up first, created when missing; each request bounded and
	// retried (natsd.Retry), so that a cluster member restarting finds
	// its buckets without waiting on the meta-group.
	h, err := natsd.Retry(ctx, "bucket "+bucket, func(ctx context.Context) (jetstream.KeyValue, error) {
		h, err := s.js.KeyValue(ctx, bucket)
		if errors.Is(err, jetstream.ErrBucketNotFound) {
			// Creating a bucket that a concurrent caller has just created
			// with the same configuration succeeds.
			h, err = s.js.CreateKeyValue(ctx, jetstream.KeyValueConfig{
				Bucket:   bucket,
				History:  1,
				Storage:  jetstream.FileStorage,
				Replicas: s.opts.replicas,
			})
		}
		return h, err
	})
	if err != nil {
		return nil, fmt.Errorf("store: open KV bucket %q: %w", bucket, err)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if kv = s.kvs[bucket]; kv == nil {
		kv = &jsKV{s: s, kv: h}
		s.kvs[bucket] = kv
	}
	return kv, nil
}

func (s *jsStore) Blobs(ctx context.Context, bucket string) (Blobs, error) {
	if err := checkBucket(bucket); err != nil {
		return nil, err
	}
	s.mu.Lock()
	b, closed := s.blobs[bucket], s.closed
	s.mu.Unlock()
	if closed {
		return nil, errClosed
	}
	if b != nil {
		return b, nil
	}

	h, err := natsd.EnsureObjectStore(ctx, s.js, jetstream.ObjectStoreConfig{
		Bucket:   bucket,
		Storage:  jetstream.FileStorage,
		Replicas: s.opts.replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("store: open blob bucket %q: %w", bucket, err)
	}

	stream, err := natsd.Retry(ctx, "stream OBJ_"+bucket, func(ctx context.Context) (jetstream.Stream, error) {
		return s.js.Stream(ctx, "OBJ_"+bucket)
	})
	if err != nil {
		return nil, fmt.Errorf("store: open blob bucket %q: %w", bucket, err)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if b = s.blobs[bucket]; b == nil {
		b = &jsBlobs{obs: h, js: s.js, stream: stream, bucket: bucket}
		s.blobs[bucket] = b
	}
	return b, nil
}

// Close ends every watch and waits for their goroutines. It does not close
// the connection; buckets already opened keep working until it is closed.
func (s *jsStore) Close() error {
	s.mu.Lock()
	if !s.closed {
		s.closed = true
		close(s.done)
	}
	s.mu.Unlock()
	s.wg.Wait()
	return nil
}

type jsKV struct {
	s  *jsStore
	kv jetstream.KeyValue
}

// wrap keeps the cause of an unexpected failure while saying what failed.
func wrap(op, key string, err error) error {
	return fmt.Errorf("store: %s %q: %w", op, key, err)
}

// isWrongLastSeq reports a failed compare-and-set: the subject's last
// sequence was not the expected one (code 10071, or 10164 on replicated
// streams).
func isWrongLastSeq(err error) bool {
	if errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
		return true
	}
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) &&
		(apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
			apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant)
}

func (k *jsKV) Get(ctx context.Context, key string) (Entry, error) {
	if err := checkKey(key); err != nil {
		return Entry{}, err
	}
	e, err := k.kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return Entry{}, ErrNotFound
	}
	if err != nil {
		return Entry{}, wrap("get", key, err)
	}
	return Entry{Key: key, Value: e.Value(), Revision: e.Revision()}, nil
}

func (k *jsKV) Create(ctx context.Context, key string, value []byte) (uint64, error) {
	if err := checkKey(key); err != nil {
		return 0, err
	}
	// nats.go's Create also replaces a delete marker, with a CAS on it.
	rev, err := k.kv.Create(ctx, key, value)
	if isWrongLastSeq(err) {
		return 0, ErrExists
	}
	if err != nil {
		return 0, wrap("create", key, err)
	}
	return rev, nil
}

// liveAt reports whether rev is the revision of a value (not a delete
// marker) of key. Together with a CAS on rev it rejects writes whose rev
// names a deletion: JetStream's CAS alone would accept those, reviving a
// deleted key. The message at rev never changes, so the check cannot race.
func (k *jsKV) liveAt(ctx context.Context, key string, rev uint64) (bool, error) {
	if rev == 0 {
		return false, nil
	}
	_, err := k.kv.GetRevision(ctx, key, rev)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return false, nil
	}
	return err == nil, err
}

func (k *jsKV) Update(ctx context.Context, key string, value []byte, rev uint64) (uint64, error) {
	if err := checkKey(key); err != nil {
		return 0, err
	}
	live, err := k.liveAt(ctx, key, rev)
	if err != nil {
		return 0, wrap("update", key, err)
	}
	if !live {
		return 0, ErrConflict
	}
	newRev, err := k.kv.Update(ctx, key, value, rev)
	if isWrongLastSeq(err) {
		return 0, ErrConflict
	}
	if err != nil {
		return 0, wrap("update", key, err)
	}
	return newRev, nil
}

func (k *jsKV) Put(ctx context.Context, key string, value []byte) (uint64, error) {
	if err := checkKey(key); err != nil {
		return 0, err
	}
	rev, err := k.kv.Put(ctx, key, value)
	if err != nil {
		return 0, wrap("put", key, err)
	}
	return rev, nil
}

func (k *jsKV) Delete(ctx context.Context, key string, rev uint64) error {
	if err := checkKey(key); err != nil {
		return err
	}
	var opts []jetstream.KVDeleteOpt
	if rev > 0 {
		live, err := k.liveAt(ctx, key, rev)
		if err != nil {
			return wrap("delete", key, err)
		}
		if !live {
			return ErrConflict
		}
		opts = append(opts, jetstream.LastRevision(rev))
	} else {
		// Skip the delete marker (and the watch event) for a key that is
		// not there.
		_, err := k.kv.Get(ctx, key)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			return nil
		}
		if err != nil {
			return wrap("delete", key, err)
		}
	}
	err := k.kv.Delete(ctx, key, opts...)
	if isWrongLastSeq(err) {
		return ErrConflict
	}
	if err != nil {
		return wrap("delete", key, err)
	}
	return nil
}

// filter turns a checked prefix into a watch filter relative to the bucket.
func filter(prefix string) string {
	if prefix == "" {
		return jetstream.AllKeys
	}
	return prefix + jetstream.AllKeys
}

// watch starts nats.go's watcher: an ordered consumer delivering the last
// message of each key under prefix, a nil entry once it has caught up, then
// every new message.
//
// The watcher lives as long as ctx, but its start (creating the consumer)
// is bounded on its own and retried (natsd.Retry): in a cluster the
// consumer's creation is answered by its leader, and an answer lost while
// leaders change would otherwise hold the caller until ctx ends.
func (k *jsKV) watch(ctx context.Context, prefix string) (jetstream.KeyWatcher, error) {
	type started struct {
		w   jetstream.KeyWatcher
		err error
	}
	w, err := natsd.Retry(ctx, "watch of "+k.kv.Bucket(), func(actx context.Context) (jetstream.KeyWatcher, error) {
		wctx, cancel := context.WithCancel(ctx)
		ch := make(chan started, 1)
		go func() {
			w, err := k.kv.WatchFiltered(wctx, []string{filter(prefix)})
			ch <- started{w, err}
		}()
		select {
		case r := <-ch:
			if r.err != nil {
				cancel()
				return nil, r.err
			}
			return &cancelWatcher{KeyWatcher: r.w, cancel: cancel}, nil
		case <-actx.Done():
			// Cancelling wctx ends the request; a watcher started
			// meanwhile is stopped.
			cancel()
			if r := <-ch; r.err == nil {
				stopWatcher(r.w)
			}
			return nil, actx.Err()
		}
	})
	if err != nil {
		return nil, fmt.Errorf("store: watch %q: %w", prefix, err)
	}
	return w, nil
}

// cancelWatcher ends its watch's context when stopped.
type cancelWatcher struct {
	jetstream.KeyWatcher
	cancel context.CancelFunc
}

func (w *cancelWatcher) Stop() error {
	err := w.KeyWatcher.Stop()
	w.cancel()
	return err
}

// stopWatcher stops w and drains it until nats.go closes its channel.
// nats.go's delivery callback blocks on a full channel; draining lets it
// return so that the subscription's goroutine ends.
func stopWatcher(w jetstream.KeyWatcher) {
	_ = w.Stop()
	for range w.Updates() {
	}
}

func entryOf(e jetstream.KeyValueEntry) Entry {
	if e.Operation() != jetstream.KeyValuePut {
		return Entry{Key: e.Key(), Revision: e.Revision(), Deleted: true}
	}
	return Entry{Key: e.Key(), Value: e.Value(), Revision: e.Revision()}
}

// initial reads w up to its caught-up marker and returns the live entries
// sorted by key. Changes that arrive before the marker are folded in, so a
// key written twice appears once and a key deleted meanwhile not at all.
func (k *jsKV) initial(ctx context.Context, w jetstream.KeyWatcher) ([]Entry, error) {
	live := map[string]Entry{}
	for {
		select {
		case e, ok := <-w.Updates():
			if !ok {
				return nil, errors.New("store: watch ended before its initial values")
			}
			if e == nil {
				out := make([]Entry, 0, len(live))
				for _, e := range live {
					out = append(out, e)
				}
				sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
				return out, nil
			}
			if en := entryOf(e); en.Deleted {
				delete(live, en.Key)
			} else {
				live[en.Key] = en
			}
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-k.s.done:
			return nil, errClosed
		}
	}
}

// List reads the last message of each key under prefix through an ordered
// consumer (one round of deliveries, not one request per key).
func (k *jsKV) List(ctx context.Context, prefix string) ([]Entry, error) {
	if err := checkPrefix(prefix); err != nil {
		return nil, err
	}
	w, err := k.watch(ctx, prefix)
	if err != nil {
		return nil, err
	}
	defer stopWatcher(w)
	return k.initial(ctx, w)
}

func (k *jsKV) Watch(ctx context.Context, prefix string) (<-chan Entry, error) {
	if err := checkPrefix(prefix); err != nil {
		return nil, err
	}
	if k.s.isClosed() {
		return nil, errClosed
	}
	w, err := k.watch(ctx, prefix)
	if err != nil {
		return nil, err
	}

	out := make(chan Entry)
	k.s.wg.Add(1)
	go func() {
		defer k.s.wg.Done()
		defer close(out)
		defer stopWatcher(w)

		send := func(e Entry) bool {
			select {
			case out <- e:
				return true
			case <-ctx.Done():
			case <-k.s.done:
			}
			return false
		}
		initial, err := k.initial(ctx, w)
		if err != nil {
			return
		}
		for _, e := range initial {
			if !send(e) {
				return
			}
		}
		if !send(Entry{}) {
			return
		}
		for {
			select {
			case e, ok := <-w.Updates():
				if !ok {
					return // the connection closed
				}
				if e != nil && !send(entryOf(e)) {
					return
				}
			case <-ctx.Done():
				return
			case <-k.s.done:
				return
			}
		}
	}()
	return out, nil
}

type jsBlobs struct {
	obs jetstream.ObjectStore
	// js, stream and bucket are for putBlob (blobput.go): the object
	// store's stream, "OBJ_<bucket>".
	js     jetstream.JetStream
	stream jetstream.Stream
	bucket string
}

// Put streams r into chunks and publishes the blob's metadata last, so the
// blob appears whole or not at all, with a bounded number of chunks
// unacknowledged (blobput.go). A failed Put removes its chunks; one cut
// short by a crash leaves unreferenced chunks behind.
func (b *jsBlobs) Put(ctx context.Context, name string, r io.Reader) (BlobInfo, error) {
	if err := checkKey(name); err != nil {
		return BlobInfo{}, err
	}
	info, err := b.putBlob(ctx, name, r)
	if err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (%w)", ctx.Err(), err)
		}
		return BlobInfo{}, wrap("put blob", name, err)
	}
	return BlobInfo{Name: name, Size: int64(info.Size), ModTime: info.ModTime}, nil
}

// Get streams the blob; ctx bounds the whole read (blobReadTimeout when it
// has no deadline). The content is checked against its SHA-256 at the end:
// a mismatch is a read error, never silent.
func (b *jsBlobs) Get(ctx context.Context, name string) (io.ReadCloser, BlobInfo, error) {
	if err := checkKey(name); err != nil {
		return nil, BlobInfo{}, err
	}
	cancel := context.CancelFunc(func() {})
	if _, ok := ctx.Deadline(); !ok {
		ctx, cancel = context.WithTimeout(ctx, blobReadTimeout)
	}
	res, err := b.obs.Get(ctx, name)
	if err != nil {
		cancel()
		if errors.Is(err, jetstream.ErrObjectNotFound) {
			return nil, BlobInfo{}, ErrNotFound
		}
		return nil, BlobInfo{}, wrap("get blob", name, err)
	}
	info, err := res.Info()
	if err != nil {
		res.Close()
		cancel()
		return nil, BlobInfo{}, wrap("get blob", name, err)
	}
	return &blobReader{ObjectResult: res, cancel: cancel}, BlobInfo{Name: name, Size: int64(info.Size), ModTime: info.ModTime}, nil
}

type blobReader struct {
	jetstream.ObjectResult
	cancel context.CancelFunc
}

func (r *blobReader) Close() error {
	err := r.ObjectResult.Close()
	r.cancel()
	return err
}

func (b *jsBlobs) Stat(ctx context.Context, name string) (BlobInfo, error) {
	if err := checkKey(name); err != nil {
		return BlobInfo{}, err
	}
	info, err := b.obs.GetInfo(ctx, name)
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return BlobInfo{}, ErrNotFound
	}
	if err != nil {
		return BlobInfo{}, wrap("stat blob", name, err)
	}
	return BlobInfo{Name: name, Size: int64(info.Size), ModTime: info.ModTime}, nil
}

func (b *jsBlobs) Delete(ctx context.Context, name string) error {
	if err := checkKey(name); err != nil {
		return err
	}
	// Look first: nats.go would write another delete marker for a blob
	// that is already deleted.
	if _, err := b.Stat(ctx, name); errors.Is(err, ErrNotFound) {
		return nil
	} else if err != nil {
		return err
	}
	err := b.obs.Delete(ctx, name)
	if err != nil && !errors.Is(err, jetstream.ErrObjectNotFound) {
		return wrap("delete blob", name, err)
	}
	return nil
}

// List reads the last metadata message of every blob. It drives nats.go's
// watcher itself rather than calling ObjectStore.List, which leaves the
// watcher's goroutine blocked forever when ctx ends midway.
func (b *jsBlobs) List(ctx context.Context) ([]BlobInfo, error) {
	w, err := b.obs.Watch(ctx, jetstream.IgnoreDeletes())
	if err != nil {
		return nil, fmt.Errorf("store: list blobs: %w", err)
	}
	defer func() {
		_ = w.Stop()
		for range w.Updates() {
		}
	}()
	// A blob written while listing can be delivered twice: keep the last.
	seen := map[string]BlobInfo{}
	for {
		select {
		case info, ok := <-w.Updates():
			if !ok {
				return nil, errors.New("store: list blobs: watch ended early")
			}
			if info == nil {
				out := make([]BlobInfo, 0, len(seen))
				for _, bi := range seen {
					out = append(out, bi)
				}
				sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
				return out, nil
			}
			seen[info.Name] = BlobInfo{Name: info.Name, Size: int64(info.Size), ModTime: info.ModTime}
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

var (
	_ Store = (*jsStore)(nil)
	_ KV    = (*jsKV)(nil)
	_ Blobs = (*jsBlobs)(nil)
)
