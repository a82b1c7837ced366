package store

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"
)

// Blob writes are the object store's own format (NATS ADR-20, what
// nats.go's ObjectStore.Get reads): the data as chunk messages on
// "$O.<bucket>.C.<nuid>", then one metadata message on
// "$O.<bucket>.M.<base64url(name)>" that rolls up the subject. nats.go's
// ObjectStore.Put writes the same, but keeps up to 4,000 chunks (500 MiB)
// in flight on a JetStream context of its own: a large blob outruns the
// stream's ingest queue and the server refuses it (429). putBlob keeps at
// most blobWindow chunks unacknowledged, so a blob of any size streams
// with flat memory at the pace the stream stores it.
const (
	blobChunkSize = 128 << 10
	blobWindow    = 32 // 4 MiB in flight per Put
	// blobAckTimeout bounds the wait for one chunk's acknowledgement.
	blobAckTimeout = time.Minute
)

// putBlob stores r as the blob name. A failed Put purges the chunks it
// published; an overwritten blob's chunks are purged once the new
// metadata is stored.
func (b *jsBlobs) putBlob(ctx context.Context, name string, r io.Reader) (*jetstream.ObjectInfo, error) {
	old, err := b.obs.GetInfo(ctx, name, jetstream.GetObjectInfoShowDeleted())
	if err != nil && !errors.Is(err, jetstream.ErrObjectNotFound) {
		return nil, err
	}
	id := nuid.Next()
	chunkSubj := "$O." + b.bucket + ".C." + id
	purge := func() {
		pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		_ = b.stream.Purge(pctx, jetstream.WithPurgeSubject(chunkSubj))
	}
	h := sha256.New()
	window := make([]jetstream.PubAckFuture, 0, blobWindow)
	wait := func(f jetstream.PubAckFuture) error {
		select {
		case <-f.Ok():
			return nil
		case err := <-f.Err():
			return err
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(blobAckTimeout):
			return fmt.Errorf("no acknowledgement of a chunk in %v", blobAckTimeout)
		}
	}
	var size uint64
	var chunks uint32
	for {
		buf := make([]byte, blobChunkSize) // a future keeps its message
		n, rerr := io.ReadFull(r, buf)
		if rerr != nil && rerr != io.EOF && rerr != io.ErrUnexpectedEOF {
			purge()
			return nil, rerr
		}
		if n > 0 {
			if len(window) == blobWindow {
				if err := wait(window[0]); err != nil {
					purge()
					return nil, err
				}
				window = append(window[:0], window[1:]...)
			}
			h.Write(buf[:n])
			f, err := b.js.PublishMsgAsync(&nats.Msg{Subject: chunkSubj, Data: buf[:n]})
			if err != nil {
				purge()
				return nil, err
			}
			window = append(window, f)
			size += uint64(n)
			chunks++
		}
		if rerr != nil {
			break
		}
	}
	for _, f := range window {
		if err := wait(f); err != nil {
			purge()
			return nil, err
		}
	}
	info := &jetstream.ObjectInfo{ObjectMeta: jetstream.ObjectMeta{Name: name, Opts: &jetstream.ObjectMetaOptions{ChunkSize: blobChunkSize}},
		Bucket: b.bucket, NUID: id, Size: size, Chunks: chunks,
		Digest: "SHA-256=" + base64.URLEncoding.EncodeToString(h.Sum(nil))}
	data, err := json.Marshal(info)
	if err != nil {
		purge()
		return nil, err
	}
	mm := nats.NewMsg("$O." + b.bucket + ".M." + base64.URLEncoding.EncodeToString([]byte(name)))
	mm.Header.Set(jetstream.MsgRollup, jetstream.MsgRollupSubject)
	mm.Data = data
	if _, err := b.js.PublishMsg(ctx, mm); err != nil {
		purge()
		return nil, fmt.Errorf("metadata: %w", err)
	}
	info.ModTime = time.Now().UTC()
	if old != nil && !old.Deleted {
		_ = b.stream.Purge(context.WithoutCancel(ctx), jetstream.WithPurgeSubject("$O."+b.bucket+".C."+old.NUID))
	}
	return info, nil
}
