package s3

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/kumo-run/kumo/internal/awsproto"
	"github.com/kumo-run/kumo/internal/store"
)

// Versions. A key's latest version (an object or a delete marker) is its
// record o.<bucket>.<key>, as in an unversioned bucket; the versions it
// replaced while versioning was on are kept as
//
//	v.<hex(bucket)>.<hex(key)>.<inverted order>
//
// newest first in KV's key order. A version's order (objectMeta.Version)
// is 16 hex digits of its write time in nanoseconds (strictly increasing
// per server) and 8 random ones; it is also its version id, unless the
// version is null (written while versioning was off or suspended). A
// write keeps the version it replaces first (idempotent: the noncurrent
// key is derived from the version) and then swaps the latest record
// compare-and-set, so a crash in between leaves the old version both
// latest and noncurrent: readers skip a noncurrent copy of the latest.

// versionsPrefix is the prefix of a bucket's noncurrent versions;
// keyVersionsPrefix of one key's.
func versionsPrefix(b string) string { return "v." + hex.EncodeToString([]byte(b)) + "." }
func keyVersionsPrefix(b, k string) string {
	return versionsPrefix(b) + hex.EncodeToString([]byte(k)) + "."
}

// order is o's position among its key's versions (see above); a record
// from before versions is ordered by its write time.
func (o objectMeta) order() string {
	if o.Version != "" {
		return o.Version
	}
	return fmt.Sprintf("%016x00000000", uint64(o.LastModified.UnixNano()))
}

// versionID is the version id S3 shows for o.
func (o objectMeta) versionID() string {
	if o.Null || o.Version == "" {
		return "null"
	}
	return o.Version
}

func (o objectMeta) isNull() bool { return o.Null || o.Version == "" }

// noncurrentKey is where version o of a key is kept once replaced.
func noncurrentKey(bucket string, o objectMeta) string {
	return keyVersionsPrefix(bucket, o.Key) + invertOrder(o.order())
}

// invertOrder makes later orders sort first.
func invertOrder(v string) string {
	n, _ := strconv.ParseUint(v[:16], 16, 64)
	return fmt.Sprintf("%016x", ^n) + v[16:]
}

// validVersionID reports whether id is one of Kumo's version ids.
func validVersionID(id string) bool {
	if len(id) != 24 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// newVersion is a fresh version order, later than any this server made.
func (s *Service) newVersion() string {
	n := s.now().UnixNano()
	s.versionMu.Lock()
	if n <= s.lastVersion {
		n = s.lastVersion + 1
	}
	s.lastVersion = n
	s.versionMu.Unlock()
	var r [4]byte
	rand.Read(r[:])
	return fmt.Sprintf("%016x%s", uint64(n), hex.EncodeToString(r[:]))
}

// stamp makes o a new version of its key in bucket b: with a version id
// when b's versioning is enabled, the null version otherwise.
func (s *Service) stamp(b bucketMeta, o *objectMeta) {
	o.Version = s.newVersion()
	o.Null = b.Versioning != "Enabled"
}

// versionHeader sets x-amz-version-id for version o of a key in b: in a
// bucket whose versioning was ever configured, or for a non-null version.
func versionHeader(h http.Header, b bucketMeta, o objectMeta) {
	if b.Versioning != "" || !o.isNull() {
		h.Set("x-amz-version-id", o.versionID())
	}
}

// kvVersion is a stored version and where it is.
type kvVersion struct {
	kvKey string
	rev   uint64
	o     objectMeta
}

// noncurrent returns a key's noncurrent versions, newest first.
func (s *Service) noncurrent(ctx context.Context, bucket, key string) ([]kvVersion, error) {
	es, err := s.cfg.KV.List(ctx, keyVersionsPrefix(bucket, key))
	if err != nil {
		return nil, awsproto.Internal(err)
	}
	vs := make([]kvVersion, 0, len(es))
	for _, e := range es {
		v := kvVersion{kvKey: e.Key, rev: e.Revision}
		if err := jsonUnmarshal(e.Value, &v.o); err != nil {
			return nil, err
		}
		vs = append(vs, v)
	}
	return vs, nil
}

// findVersion returns version id of a key: NoSuchVersion if there is
// none, InvalidArgument if id cannot be one. latest tells whether it is
// the key's latest version.
func (s *Service) findVersion(ctx context.Context, bucket, key, id string) (v kvVersion, latest bool, err error) {
	if id != "null" && !validVersionID(id) {
		return v, false, awsproto.Errorf(awsproto.S3InvalidArgument, "Invalid version id specified").
			With("ArgumentName", "versionId").With("ArgumentValue", id)
	}
	noSuch := awsproto.Errorf(awsproto.S3NoSuchVersion, "The specified version does not exist.").With("Key", key).With("VersionId", id)
	v.kvKey = objectKey(bucket, key)
	v.rev, err = s.getJSON(ctx, v.kvKey, &v.o)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return v, false, awsproto.Internal(err)
	}
	if err == nil && v.o.versionID() == id {
		return v, true, nil
	}
	if id == "null" {
		vs, err := s.noncurrent(ctx, bucket, key)
		if err != nil {
			return v, false, err
		}
		for _, nv := range vs {
			if nv.o.isNull() {
				return nv, false, nil
			}
		}
		return kvVersion{}, false, noSuch
	}
	v = kvVersion{kvKey: keyVersionsPrefix(bucket, key) + invertOrder(id)}
	v.rev, err = s.getJSON(ctx, v.kvKey, &v.o)
	switch {
	case errors.Is(err, store.ErrNotFound) || err == nil && v.o.Version != id:
		return kvVersion{}, false, noSuch
	case err != nil:
		return kvVersion{}, false, awsproto.Internal(err)
	}
	return v, false, nil
}

// commit writes o as the latest version of its key in bucket b and
// dispatches ev, the write's announced event (nil if none). The version
// it replaces is kept as a noncurrent version, unless both are null (the
// replaced one's data is deleted then); a null o also replaces a
// noncurrent null version. The record remembers the writes it replaces
// (Recent), so that the events of writes overwritten before they are
// confirmed still find theirs.
func (s *Service) commit(ctx context.Context, b bucketMeta, o objectMeta, ev *pendingEvent) error {
	return s.commitIf(ctx, b, o, ev, "")
}

// errStale is commitIf's answer when the latest version is not the
// expected one any more.
var errStale = errors.New("s3: the latest version changed")

// commitIf is commit, only while the key's latest version is the write
// expect names (any when ""): errStale otherwise.
func (s *Service) commitIf(ctx context.Context, b bucketMeta, o objectMeta, ev *pendingEvent, expect string) error {
	key := objectKey(b.Name, o.Key)
	bg := context.WithoutCancel(ctx)
	fail := func(err error) error {
		if len(o.Parts) == 0 && o.Blob != "" { // parts stay with their upload
			s.cfg.Blobs.Delete(bg, o.Blob)
		}
		return awsproto.Internal(err)
	}
	for {
		var old objectMeta
		oldRev, err := s.getJSON(ctx, key, &old)
		found := err == nil
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return fail(err)
		}
		if expect != "" && (!found || old.WriteID != expect) {
			return errStale
		}
		o.Recent = nil
		if found && old.WriteID != "" {
			o.Recent = append(append([]writeRef(nil), old.Recent...), writeRef{ID: old.WriteID, Rev: oldRev})
			if len(o.Recent) > recentWrites {
				o.Recent = o.Recent[len(o.Recent)-recentWrites:]
			}
		}
		var replaced []kvVersion // versions o replaces
		if found {
			if old.isNull() && o.isNull() {
				replaced = append(replaced, kvVersion{o: old})
			} else if err := s.putJSON(ctx, noncurrentKey(b.Name, old), old); err != nil {
				return fail(err)
			}
		}
		if o.isNull() && b.Versioning != "" {
			vs, err := s.noncurrent(ctx, b.Name, o.Key)
			if err != nil {
				return fail(err)
			}
			for _, v := range vs {
				switch {
				case !v.o.isNull():
				case found && v.o.order() == old.order():
					if old.isNull() { // a leftover copy of the replaced latest: its data goes with it
						replaced = append(replaced, kvVersion{kvKey: v.kvKey})
					}
				default:
					replaced = append(replaced, v)
				}
			}
		}
		v, err := jsonBytes(o)
		if err != nil {
			return fail(err)
		}
		var rev uint64
		if found {
			rev, err = s.cfg.KV.Update(ctx, key, v, oldRev)
		} else {
			rev, err = s.cfg.KV.Create(ctx, key, v)
		}
		if errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrExists) {
			continue // another write came first: replace it instead
		}
		if err != nil {
			return fail(err)
		}
		s.dispatch(ctx, ev, rev)
		for _, r := range replaced {
			if r.kvKey != "" {
				s.cfg.KV.Delete(bg, r.kvKey, 0)
			}
			s.deleteBlobs(bg, r.o)
		}
		return nil
	}
}

// removal is what a DELETE did.
type removal struct {
	VersionID    string // the version deleted or the delete marker made; "" unversioned
	DeleteMarker bool   // a delete marker was made or deleted
}

// remove deletes a key (versionID "" and not given) or one version of it
// (given). In a bucket whose versioning was ever configured, deleting a
// key makes a delete marker its latest version.
func (s *Service) remove(q *request, b bucketMeta, key, versionID string, given bool) (removal, error) {
	switch {
	case given:
		return s.removeVersion(q, b, key, versionID)
	case b.Versioning == "":
		return removal{}, s.removeUnversioned(q, b, key)
	}
	m := objectMeta{Key: key, DeleteMarker: true, LastModified: s.now(), WriteID: "x" + newID()}
	s.stamp(b, &m)
	ev, err := s.announce(q, b, pendingEvent{Key: key, Name: "ObjectRemoved:DeleteMarkerCreated", WriteID: m.WriteID,
		VersionID: m.versionID(), Marker: true, Time: m.LastModified})
	if err != nil {
		return removal{}, err
	}
	if err := s.commitIf(q.ctx(), b, m, ev, q.expect); err != nil {
		return removal{}, err
	}
	return removal{VersionID: m.versionID(), DeleteMarker: true}, nil
}

// removeVersion deletes one version of a key for good; deleting the
// latest makes the newest noncurrent one latest. A version that does not
// exist is not an error, as in S3.
func (s *Service) removeVersion(q *request, b bucketMeta, key, id string) (removal, error) {
	ctx := q.ctx()
	for {
		v, latest, err := s.findVersion(ctx, b.Name, key, id)
		if awsproto.AsError(err).Code == awsproto.S3NoSuchVersion {
			return removal{VersionID: id}, nil
		}
		if err != nil {
			return removal{}, err
		}
		wid := v.o.WriteID
		if wid == "" {
			wid = "r" + strconv.FormatUint(v.rev, 10) // a record from before write ids
		}
		ev, err := s.announce(q, b, pendingEvent{Key: key, Name: "ObjectRemoved:Delete", WriteID: wid, Rev: v.rev, Removed: true,
			RecordKey: v.kvKey, VersionID: v.o.versionID(), Time: s.now()})
		if err != nil {
			return removal{}, err
		}
		var successor *kvVersion
		if latest {
			vs, err := s.noncurrent(ctx, b.Name, key)
			if err != nil {
				return removal{}, err
			}
			for i := range vs {
				if vs[i].o.order() != v.o.order() {
					successor = &vs[i]
					break
				}
			}
		}
		if successor != nil {
			var val []byte
			if val, err = jsonBytes(successor.o); err == nil {
				_, err = s.cfg.KV.Update(ctx, v.kvKey, val, v.rev)
			}
		} else {
			err = s.cfg.KV.Delete(ctx, v.kvKey, v.rev)
		}
		if errors.Is(err, store.ErrConflict) {
			continue
		}
		if err != nil {
			return removal{}, awsproto.Internal(err)
		}
		bg := context.WithoutCancel(ctx)
		if successor != nil {
			s.cfg.KV.Delete(bg, successor.kvKey, 0)
		}
		s.dispatch(ctx, ev, 0)
		s.deleteBlobs(bg, v.o)
		return removal{VersionID: v.o.versionID(), DeleteMarker: v.o.DeleteMarker}, nil
	}
}

// readObject reads the version of q's key that a GET or HEAD names: the
// versionId in the query, or the latest. A latest version that is a delete
// marker is NoSuchKey, a named one MethodNotAllowed, both with the
// marker's headers.
func (s *Service) readObject(q *request, b bucketMeta) (objectMeta, error) {
	h := q.w.Header()
	ids, named := q.r.URL.Query()["versionId"]
	var o objectMeta
	if named {
		v, _, err := s.findVersion(q.ctx(), b.Name, q.key, ids[0])
		if err != nil {
			return o, err
		}
		o = v.o
	} else {
		_, err := s.getJSON(q.ctx(), objectKey(b.Name, q.key), &o)
		if errors.Is(err, store.ErrNotFound) {
			return o, awsproto.Errorf(awsproto.S3NoSuchKey, "The specified key does not exist.").With("Key", q.key)
		}
		if err != nil {
			return o, awsproto.Internal(err)
		}
	}
	if o.DeleteMarker {
		h.Set("x-amz-delete-marker", "true")
		versionHeader(h, b, o)
		if named {
			h.Set("Allow", http.MethodDelete)
			return o, awsproto.Errorf(awsproto.S3MethodNotAllowed, "The specified method is not allowed against this resource.").
				With("Method", q.r.Method).With("ResourceType", "DeleteMarker")
		}
		return o, awsproto.Errorf(awsproto.S3NoSuchKey, "The specified key does not exist.").With("Key", q.key)
	}
	return o, nil
}

// sourceVersion reads the object an x-amz-copy-source names
// ("bucket/key", optionally "?versionId=").
func (s *Service) sourceVersion(q *request) (bucket, key string, o objectMeta, vid string, err error) {
	src := q.r.Header.Get("X-Amz-Copy-Source")
	src, rawVID, hasVID := strings.Cut(src, "?versionId=")
	src, perr := url.PathUnescape(strings.TrimPrefix(src, "/"))
	bucket, key, ok := strings.Cut(src, "/")
	if perr != nil || !ok || bucket == "" || key == "" {
		return "", "", o, "", awsproto.Errorf(awsproto.S3InvalidArgument, "Copy Source must mention the source bucket and key: sourcebucket/sourcekey").
			With("ArgumentName", "x-amz-copy-source")
	}
	if err := s.authorizeAction(q, sourceAction(hasVID), bucket, key); err != nil {
		return "", "", o, "", err
	}
	sb, err := s.bucket(q.ctx(), bucket)
	if err != nil {
		return "", "", o, "", err
	}
	if !hasVID {
		o, err = s.object(q.ctx(), bucket, key)
		if err == nil && (sb.Versioning != "" || !o.isNull()) {
			vid = o.versionID()
		}
		return bucket, key, o, vid, err
	}
	v, _, err := s.findVersion(q.ctx(), bucket, key, rawVID)
	if err != nil {
		return "", "", o, "", err
	}
	if v.o.DeleteMarker {
		return "", "", o, "", awsproto.Errorf(awsproto.S3InvalidRequest, "The source of a copy request may not specifically refer to a delete marker by version id.")
	}
	return bucket, key, v.o, v.o.versionID(), nil
}

func sourceAction(versioned bool) string {
	if versioned {
		return "s3:GetObjectVersion"
	}
	return "s3:GetObject"
}
