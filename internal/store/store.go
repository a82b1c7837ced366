// Package store is Kumo's state substrate behind small interfaces: key-value
// buckets with revisions (compare-and-set) and blob buckets for code.
//
// The JetStream implementation (jetstream.go) is the real one; the in-memory
// one (memory.go) exists for unit tests of the layers above. Both pass the
// conformance suite in storetest. The store knows nothing of Lambda: keys and
// values are opaque to it.
package store

import (
	"context"
	"errors"
	"io"
	"time"
)

var (
	// ErrNotFound: the key or blob does not exist.
	ErrNotFound = errors.New("store: not found")
	// ErrExists: Create of a key that already exists.
	ErrExists = errors.New("store: key exists")
	// ErrConflict: the key's revision is not the one the caller expected.
	ErrConflict = errors.New("store: revision conflict")
)

// Entry is one key's value at a revision. Revisions grow with every write to
// the bucket; a write's revision is never reused.
type Entry struct {
	Key      string
	Value    []byte
	Revision uint64
	// Deleted marks a deletion seen by a watcher.
	Deleted bool
}

// KV is one bucket of keys. Keys are dot-separated tokens of
// [A-Za-z0-9_=-] characters, e.g. "fn.my-function.v.3".
// All methods are safe for concurrent use. A write that returns without error
// is durable: it survives a crash of the process.
type KV interface {
	// Get returns the live value of key, or ErrNotFound.
	Get(ctx context.Context, key string) (Entry, error)
	// Create writes key only if it does not exist (or was deleted);
	// ErrExists otherwise. It returns the new revision.
	Create(ctx context.Context, key string, value []byte) (uint64, error)
	// Update writes key only if its current revision is rev; ErrConflict
	// otherwise (also when the key does not exist).
	Update(ctx context.Context, key string, value []byte, rev uint64) (uint64, error)
	// Put writes key unconditionally.
	Put(ctx context.Context, key string, value []byte) (uint64, error)
	// Delete removes key. With rev > 0 only if its current revision is rev
	// (ErrConflict otherwise). Deleting a missing key with rev == 0 is not
	// an error.
	Delete(ctx context.Context, key string, rev uint64) error
	// List returns the live entries whose key starts with prefix, sorted
	// by key. prefix is "" (every key) or ends with ".".
	List(ctx context.Context, prefix string) ([]Entry, error)
	// Watch sends the live entries under prefix (as List), then one Entry
	// with an empty Key marking the end of the initial values, then later
	// changes (Deleted set for deletions) in revision order. A change that
	// a newer write to the same key replaced before it was sent may be
	// skipped, but each key's latest change always arrives: the watcher's
	// view converges on the bucket. The channel is closed when ctx is done
	// or the store closes.
	Watch(ctx context.Context, prefix string) (<-chan Entry, error)
}

// BlobInfo describes a stored blob.
type BlobInfo struct {
	Name    string
	Size    int64
	ModTime time.Time
}

// Blobs is one bucket of named blobs (code zips). Names are as KV key tokens.
// Put is atomic: a reader sees the whole blob or none of it.
type Blobs interface {
	Put(ctx context.Context, name string, r io.Reader) (BlobInfo, error)
	// Get returns the blob's content; the caller closes it. ErrNotFound if
	// absent.
	Get(ctx context.Context, name string) (io.ReadCloser, BlobInfo, error)
	Stat(ctx context.Context, name string) (BlobInfo, error)
	// Delete removes the blob; deleting a missing blob is not an error.
	Delete(ctx context.Context, name string) error
	List(ctx context.Context) ([]BlobInfo, error)
}

// Store opens buckets, creating them on first use.
type Store interface {
	KV(ctx context.Context, bucket string) (KV, error)
	Blobs(ctx context.Context, bucket string) (Blobs, error)
	Close() error
}
