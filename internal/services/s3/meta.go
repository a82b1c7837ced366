package s3

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/kumo-run/kumo/internal/awsproto"
	"github.com/kumo-run/kumo/internal/store"
)

// bucketMeta is a bucket's record.
type bucketMeta struct {
	Name     string    `json:"name"`
	Created  time.Time `json:"created"`
	Location string    `json:"location,omitempty"`
	// Policy is the bucket policy's document, "" if none.
	Policy string `json:"policy,omitempty"`
	// Notification is the event notification configuration, nil if none.
	Notification *notification `json:"notification,omitempty"`
	// Tags are the bucket's tags; Versioning is "", "Enabled" or
	// "Suspended" (stored, not acted on: one version per key).
	Tags       []tag  `json:"tags,omitempty"`
	Versioning string `json:"versioning,omitempty"`
	// CORS is the bucket's CORS configuration, nil if none.
	CORS *corsConfig `json:"cors,omitempty"`
	// Lifecycle is the bucket's lifecycle configuration, nil if none.
	Lifecycle *lifecycleConfig `json:"lifecycle,omitempty"`
}

// objectMeta is an object's record: where its data is and what GET
// answers with besides it.
type objectMeta struct {
	Key          string            `json:"key"`
	Blob         string            `json:"blob"`
	Size         int64             `json:"size"`
	ETag         string            `json:"etag"` // quoted
	LastModified time.Time         `json:"modified"`
	Headers      map[string]string `json:"headers,omitempty"` // Content-Type, Cache-Control, …
	Meta         map[string]string `json:"meta,omitempty"`    // x-amz-meta-*, names lowercase without the prefix
	// Parts are the blobs of an object completed from a multipart
	// upload, in order (its parts' own blobs: completing copies
	// nothing); Blob is "" then.
	Parts []blobPart `json:"parts,omitempty"`
	// WriteID names the write that made this record (unique per write);
	// Recent are the writes of the key it replaced, newest last, at
	// most recentWrites (events.go).
	WriteID string     `json:"writeId,omitempty"`
	Recent  []writeRef `json:"recent,omitempty"`
	// Tags are the object's tags (PutObjectTagging, x-amz-tagging).
	Tags []tag `json:"tags,omitempty"`
	// Version orders the versions of a key and is the version id (unless
	// Null): versions.go. A record from before versions has none.
	Version string `json:"version,omitempty"`
	// Null marks a version written while the bucket's versioning was
	// not enabled: its version id is "null".
	Null bool `json:"null,omitempty"`
	// DeleteMarker marks a delete marker: a version with no data.
	DeleteMarker bool `json:"deleteMarker,omitempty"`
}

// blobPart is one blob of an object's data.
type blobPart struct {
	Blob string `json:"blob"`
	Size int64  `json:"size"`
}

// blobs are the blobs holding o's data, in order.
func (o objectMeta) blobs() []blobPart {
	if len(o.Parts) > 0 {
		return o.Parts
	}
	return []blobPart{{Blob: o.Blob, Size: o.Size}}
}

func bucketKey(b string) string       { return "b." + hex.EncodeToString([]byte(b)) }
func objectPrefix(b string) string    { return "o." + hex.EncodeToString([]byte(b)) + "." }
func objectKey(b, k string) string    { return objectPrefix(b) + hex.EncodeToString([]byte(k)) }
func uploadKey(id string) string      { return "u." + id }
func partPrefix(id string) string     { return "p." + id + "." }
func partKey(id string, n int) string { return fmt.Sprintf("p.%s.%05d", id, n) }

// keyOf is the object key a KV key names.
func keyOf(kvKey, prefix string) (string, bool) {
	b, err := hex.DecodeString(strings.TrimPrefix(kvKey, prefix))
	return string(b), err == nil
}

func (s *Service) getJSON(ctx context.Context, key string, v any) (uint64, error) {
	e, err := s.cfg.KV.Get(ctx, key)
	if err != nil {
		return 0, err
	}
	if err := json.Unmarshal(e.Value, v); err != nil {
		return 0, awsproto.Internal(fmt.Errorf("s3: record %s: %w", key, err))
	}
	return e.Revision, nil
}

func (s *Service) putJSON(ctx context.Context, key string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return awsproto.Internal(err)
	}
	if _, err := s.cfg.KV.Put(ctx, key, b); err != nil {
		return awsproto.Internal(err)
	}
	return nil
}

// bucket returns a bucket's record, NoSuchBucket if there is none.
func (s *Service) bucket(ctx context.Context, name string) (bucketMeta, error) {
	var b bucketMeta
	_, err := s.getJSON(ctx, bucketKey(name), &b)
	if errors.Is(err, store.ErrNotFound) {
		return b, awsproto.Errorf(awsproto.S3NoSuchBucket, "The specified bucket does not exist").With("BucketName", name)
	}
	if err != nil {
		return b, awsproto.Internal(err)
	}
	return b, nil
}

// object returns an object's record, NoSuchKey if there is none.
func (s *Service) object(ctx context.Context, bucket, key string) (objectMeta, error) {
	var o objectMeta
	_, err := s.getJSON(ctx, objectKey(bucket, key), &o)
	if errors.Is(err, store.ErrNotFound) || err == nil && o.DeleteMarker {
		return o, awsproto.Errorf(awsproto.S3NoSuchKey, "The specified key does not exist.").With("Key", key)
	}
	if err != nil {
		return o, awsproto.Internal(err)
	}
	return o, nil
}

// checkBucketName applies S3's general purpose bucket naming rules.
func checkBucketName(n string) error {
	bad := func(why string) error {
		return awsproto.Errorf(awsproto.S3InvalidBucketName, "The specified bucket is not valid: %s.", why).With("BucketName", n)
	}
	if len(n) < 3 || len(n) > 63 {
		return bad("bucket names must be between 3 and 63 characters long")
	}
	for i := 0; i < len(n); i++ {
		c := n[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '-') {
			return bad("bucket names can consist only of lowercase letters, numbers, dots and hyphens")
		}
	}
	alnum := func(c byte) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' }
	if !alnum(n[0]) || !alnum(n[len(n)-1]) {
		return bad("bucket names must begin and end with a letter or number")
	}
	if strings.Contains(n, "..") || strings.Contains(n, ".-") || strings.Contains(n, "-.") {
		return bad("bucket names must not contain two adjacent periods or a period next to a hyphen")
	}
	if net.ParseIP(n) != nil {
		return bad("bucket names must not be formatted as an IP address")
	}
	for _, p := range []string{"xn--", "sthree-", "amzn-s3-demo-"} {
		if strings.HasPrefix(n, p) {
			return bad("bucket names must not start with " + p)
		}
	}
	for _, sfx := range []string{"-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"} {
		if strings.HasSuffix(n, sfx) {
			return bad("bucket names must not end with " + sfx)
		}
	}
	return nil
}

func jsonBytes(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, awsproto.Internal(err)
	}
	return b, nil
}

func jsonUnmarshal(b []byte, v any) error {
	if err := json.Unmarshal(b, v); err != nil {
		return awsproto.Internal(fmt.Errorf("s3: record: %w", err))
	}
	return nil
}
