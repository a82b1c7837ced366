package s3

import (
	"context"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/kumo-run/kumo/internal/awsproto"
	"github.com/kumo-run/kumo/internal/store"
)

// storedHeaders are the content headers PUT stores and GET answers with.
var storedHeaders = []string{"Content-Type", "Content-Encoding", "Content-Disposition", "Content-Language", "Cache-Control", "Expires"}

// defaultContentType is what S3 stores when a PUT names no Content-Type.
const defaultContentType = "binary/octet-stream"

// headersOf reads the stored headers and user metadata of a request.
func headersOf(h http.Header) (map[string]string, map[string]string) {
	hs := map[string]string{}
	for _, name := range storedHeaders {
		if v := h.Get(name); v != "" {
			hs[name] = v
		}
	}
	// aws-chunked is how the body travelled, not what it is.
	if ce := hs["Content-Encoding"]; ce != "" {
		var keep []string
		for _, p := range strings.Split(ce, ",") {
			if p = strings.TrimSpace(p); p != "" && p != "aws-chunked" {
				keep = append(keep, p)
			}
		}
		if len(keep) == 0 {
			delete(hs, "Content-Encoding")
		} else {
			hs["Content-Encoding"] = strings.Join(keep, ",")
		}
	}
	if hs["Content-Type"] == "" {
		hs["Content-Type"] = defaultContentType
	}
	meta := map[string]string{}
	for k, vs := range h {
		if lk := strings.ToLower(k); strings.HasPrefix(lk, "x-amz-meta-") && len(vs) > 0 {
			meta[strings.TrimPrefix(lk, "x-amz-meta-")] = strings.Join(vs, ",")
		}
	}
	return hs, meta
}

// store streams a body into a new blob; the blob is deleted again when
// the body fails its checks.
func (s *Service) store(ctx context.Context, p *payload) (string, error) {
	name := "d" + newID()
	if _, err := s.cfg.Blobs.Put(ctx, name, fullReads{p}); err != nil {
		s.cfg.Blobs.Delete(context.WithoutCancel(ctx), name)
		if p.readErr != nil {
			return "", p.readErr
		}
		return "", awsproto.Internal(err)
	}
	if err := p.check(); err != nil {
		s.cfg.Blobs.Delete(context.WithoutCancel(ctx), name)
		return "", err
	}
	return name, nil
}

// deleteBlobs deletes the blobs of an object no record refers to any more.
func (s *Service) deleteBlobs(ctx context.Context, o objectMeta) {
	for _, b := range o.blobs() {
		if b.Blob != "" {
			s.cfg.Blobs.Delete(ctx, b.Blob)
		}
	}
}

// open streams an object's data from byte start on. The first blob is
// opened at once (ErrNotFound when the object was replaced meanwhile); the
// others as the reader reaches them.
func (s *Service) open(ctx context.Context, o objectMeta, start int64) (io.ReadCloser, error) {
	bs := o.blobs()
	for len(bs) > 1 && start >= bs[0].Size {
		start -= bs[0].Size
		bs = bs[1:]
	}
	first, _, err := s.cfg.Blobs.Get(ctx, bs[0].Blob)
	if err != nil {
		return nil, err
	}
	if start > 0 {
		if _, err := io.CopyN(io.Discard, first, start); err != nil {
			first.Close()
			return nil, err
		}
	}
	rs := []io.Reader{first}
	closers := []*lazyBlob{}
	for _, b := range bs[1:] {
		lb := &lazyBlob{s: s, ctx: ctx, name: b.Blob}
		rs = append(rs, lb)
		closers = append(closers, lb)
	}
	return &multiBlob{Reader: io.MultiReader(rs...), first: first, rest: closers}, nil
}

// multiBlob reads an object's blobs one after the other.
type multiBlob struct {
	io.Reader
	first io.Closer
	rest  []*lazyBlob
}

func (m *multiBlob) Close() error {
	m.first.Close()
	for _, b := range m.rest {
		b.Close()
	}
	return nil
}

func (s *Service) putObject(q *request) error {
	b, err := s.bucket(q.ctx(), q.bucket)
	if err != nil {
		return err
	}
	if len(q.key) > 1024 {
		return awsproto.Errorf(awsproto.S3InvalidArgument, "Your key is too long")
	}
	tags, err := tagsOfHeader(q.r.Header)
	if err != nil {
		return err
	}
	p, err := s.body(q, MaxPutSize)
	if err != nil {
		return err
	}
	name, err := s.store(q.ctx(), p)
	if err != nil {
		return err
	}
	hs, meta := headersOf(q.r.Header)
	o := objectMeta{Key: q.key, Blob: name, Size: p.n, ETag: `"` + p.etag() + `"`, LastModified: s.now(), Headers: hs, Meta: meta, WriteID: name, Tags: tags}
	s.stamp(b, &o)
	ev, err := s.announceWrite(q, b, "ObjectCreated:Put", o)
	if err != nil {
		s.cfg.Blobs.Delete(context.WithoutCancel(q.ctx()), name)
		return err
	}
	if err := s.commit(q.ctx(), b, o, ev); err != nil {
		return err
	}
	versionHeader(q.w.Header(), b, o)
	if p.cks != nil {
		q.w.Header().Set(p.cksHeader, p.wantCksOrTrailer())
	}
	q.w.Header().Set("ETag", o.ETag)
	q.w.WriteHeader(http.StatusOK)
	return nil
}

func (p *payload) wantCksOrTrailer() string {
	if p.wantCks != "" {
		return p.wantCks
	}
	return p.chunks.trailers[p.cksHeader]
}

// objectHeaders sets the headers GET and HEAD answer with.
func objectHeaders(h http.Header, o objectMeta) {
	for k, v := range o.Headers {
		h.Set(k, v)
	}
	for k, v := range o.Meta {
		h["X-Amz-Meta-"+k] = []string{v}
	}
	h.Set("ETag", o.ETag)
	h.Set("Last-Modified", lastModified(o.LastModified))
	h.Set("Accept-Ranges", "bytes")
	if n := tagCount(o); n != "" {
		h.Set("X-Amz-Tagging-Count", n)
	}
}

// preconditions applies If-Match, If-None-Match, If-Modified-Since and
// If-Unmodified-Since as S3 does (RFC 7232 section 6): it returns 0 to go
// on, or the status to answer (304, or an error for 412).
func preconditions(r *http.Request, o objectMeta) (int, error) {
	h := r.Header
	mod := o.LastModified.Truncate(time.Second)
	failed := awsproto.Errorf(awsproto.S3PreconditionFailed, "At least one of the pre-conditions you specified did not hold")
	if im := h.Get("If-Match"); im != "" {
		if !etagMatches(im, o.ETag) {
			return 0, failed.With("Condition", "If-Match")
		}
	} else if ius := h.Get("If-Unmodified-Since"); ius != "" {
		if t, err := http.ParseTime(ius); err == nil && mod.After(t) {
			return 0, failed.With("Condition", "If-Unmodified-Since")
		}
	}
	if inm := h.Get("If-None-Match"); inm != "" {
		if etagMatches(inm, o.ETag) {
			return http.StatusNotModified, nil
		}
	} else if ims := h.Get("If-Modified-Since"); ims != "" {
		if t, err := http.ParseTime(ims); err == nil && !mod.After(t) {
			return http.StatusNotModified, nil
		}
	}
	return 0, nil
}

func etagMatches(list, etag string) bool {
	for _, e := range strings.Split(list, ",") {
		e = strings.TrimSpace(e)
		if e == "*" || e == etag || `"`+e+`"` == etag || strings.TrimPrefix(e, "W/") == etag {
			return true
		}
	}
	return false
}

// parseRange reads a single "bytes=" range of a size-byte object. ok is
// false for a header S3 ignores (malformed, several ranges); an
// unsatisfiable one is InvalidRange.
func parseRange(v string, size int64) (start, end int64, ok bool, err error) {
	spec, found := strings.CutPrefix(v, "bytes=")
	if !found || strings.Contains(spec, ",") {
		return 0, 0, false, nil
	}
	a, b, found := strings.Cut(strings.TrimSpace(spec), "-")
	if !found {
		return 0, 0, false, nil
	}
	invalid := awsproto.Errorf(awsproto.S3InvalidRange, "The requested range is not satisfiable").
		With("RangeRequested", v).With("ActualObjectSize", size)
	if a == "" {
		n, perr := strconv.ParseInt(b, 10, 64)
		if perr != nil || n < 0 {
			return 0, 0, false, nil
		}
		if n == 0 || size == 0 {
			return 0, 0, false, invalid
		}
		return max(size-n, 0), size - 1, true, nil
	}
	start, perr := strconv.ParseInt(a, 10, 64)
	if perr != nil || start < 0 {
		return 0, 0, false, nil
	}
	end = size - 1
	if b != "" {
		if end, perr = strconv.ParseInt(b, 10, 64); perr != nil || end < start {
			return 0, 0, false, nil
		}
		end = min(end, size-1)
	}
	if start >= size {
		return 0, 0, false, invalid
	}
	return start, end, true, nil
}

func (s *Service) headObject(q *request) error { return s.serveObject(q, false) }
func (s *Service) getObject(q *request) error  { return s.serveObject(q, true) }

func (s *Service) serveObject(q *request, body bool) error { return s.serveObjectOnce(q, body, true) }

// serveObjectOnce answers GET or HEAD; with retry it reads the record
// again once if its blob was replaced in between.
func (s *Service) serveObjectOnce(q *request, body, retry bool) error {
	b, err := s.bucket(q.ctx(), q.bucket)
	if err != nil {
		return err
	}
	o, err := s.readObject(q, b)
	if err != nil {
		return err
	}
	h := q.w.Header()
	versionHeader(h, b, o)
	status, err := preconditions(q.r, o)
	if err != nil {
		return err
	}
	if status == http.StatusNotModified {
		h.Set("ETag", o.ETag)
		h.Set("Last-Modified", lastModified(o.LastModified))
		q.w.WriteHeader(status)
		return nil
	}
	start, end, partial := int64(0), o.Size-1, false
	if rv := q.r.Header.Get("Range"); rv != "" {
		var ok bool
		if start, end, ok, err = parseRange(rv, o.Size); err != nil {
			return err
		}
		if !ok {
			start, end = 0, o.Size-1
		}
		partial = ok
	}
	objectHeaders(h, o)
	for k, name := range map[string]string{"response-content-type": "Content-Type", "response-content-language": "Content-Language",
		"response-expires": "Expires", "response-cache-control": "Cache-Control",
		"response-content-disposition": "Content-Disposition", "response-content-encoding": "Content-Encoding"} {
		if v := q.r.URL.Query().Get(k); v != "" {
			h.Set(name, v)
		}
	}
	n := end - start + 1
	h.Set("Content-Length", strconv.FormatInt(n, 10))
	status = http.StatusOK
	if partial {
		status = http.StatusPartialContent
		h.Set("Content-Range", "bytes "+strconv.FormatInt(start, 10)+"-"+strconv.FormatInt(end, 10)+"/"+strconv.FormatInt(o.Size, 10))
	}
	if !body || n == 0 {
		q.w.WriteHeader(status)
		return nil
	}
	rc, err := s.open(q.ctx(), o, start)
	if errors.Is(err, store.ErrNotFound) && retry {
		// Overwritten or deleted since the record was read: answer
		// from the record as it is now.
		for k := range h {
			if k != "X-Amz-Request-Id" && k != "X-Amzn-Requestid" {
				delete(h, k)
			}
		}
		return s.serveObjectOnce(q, body, false)
	}
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return awsproto.Errorf(awsproto.S3NoSuchKey, "The specified key does not exist.")
		}
		return awsproto.Internal(err)
	}
	defer rc.Close()
	q.w.WriteHeader(status)
	if _, err := io.CopyN(q.w, rc, n); err != nil {
		// The response has begun: cut the connection so the client
		// sees a broken body, not a short one.
		panic(http.ErrAbortHandler)
	}
	return nil
}

func (s *Service) deleteObject(q *request) error {
	b, err := s.bucket(q.ctx(), q.bucket)
	if err != nil {
		return err
	}
	ids, given := q.r.URL.Query()["versionId"]
	vid := ""
	if given {
		vid = ids[0]
	}
	rm, err := s.remove(q, b, q.key, vid, given)
	if err != nil {
		return err
	}
	if rm.DeleteMarker {
		q.w.Header().Set("x-amz-delete-marker", "true")
	}
	if rm.VersionID != "" {
		q.w.Header().Set("x-amz-version-id", rm.VersionID)
	}
	q.w.WriteHeader(http.StatusNoContent)
	return nil
}

// removeUnversioned deletes an object's record and then its blob; a
// missing object is not an error, as in S3 (and sends no event).
func (s *Service) removeUnversioned(q *request, b bucketMeta, key string) error {
	ctx, bucket := q.ctx(), b.Name
	for {
		var o objectMeta
		rev, err := s.getJSON(ctx, objectKey(bucket, key), &o)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return awsproto.Internal(err)
		}
		if q.expect != "" && o.WriteID != q.expect {
			return errStale
		}
		if o.WriteID == "" {
			o.WriteID = "r" + strconv.FormatUint(rev, 10) // a record from before write ids
		}
		ev, err := s.announce(q, b, pendingEvent{Key: key, Name: "ObjectRemoved:Delete", WriteID: o.WriteID, Rev: rev, Removed: true, Time: s.now()})
		if err != nil {
			return err
		}
		if err := s.cfg.KV.Delete(ctx, objectKey(bucket, key), rev); errors.Is(err, store.ErrConflict) {
			continue // overwritten meanwhile: delete what is there now
		} else if err != nil {
			return awsproto.Internal(err)
		}
		s.dispatch(ctx, ev, 0)
		s.deleteBlobs(context.WithoutCancel(ctx), o)
		return nil
	}
}

func (s *Service) deleteObjects(q *request) error {
	b, err := s.bucket(q.ctx(), q.bucket)
	if err != nil {
		return err
	}
	var in struct {
		Quiet   bool `xml:"Quiet"`
		Objects []struct {
			Key       string  `xml:"Key"`
			VersionID *string `xml:"VersionId"`
		} `xml:"Object"`
	}
	if err := readXML(q.r, &in); err != nil {
		return err
	}
	if len(in.Objects) == 0 || len(in.Objects) > 1000 {
		return awsproto.Errorf(awsproto.S3MalformedXML, "The XML you provided was not well-formed or did not validate against our published schema.")
	}
	type deleted struct {
		Key                   string `xml:"Key"`
		VersionID             string `xml:"VersionId,omitempty"`
		DeleteMarker          bool   `xml:"DeleteMarker,omitempty"`
		DeleteMarkerVersionID string `xml:"DeleteMarkerVersionId,omitempty"`
	}
	type failed struct {
		Key       string `xml:"Key"`
		VersionID string `xml:"VersionId,omitempty"`
		Code      string `xml:"Code"`
		Message   string `xml:"Message"`
	}
	out := struct {
		XMLName xml.Name  `xml:"DeleteResult"`
		NS      string    `xml:"xmlns,attr"`
		Deleted []deleted `xml:"Deleted"`
		Errors  []failed  `xml:"Error"`
	}{NS: namespace}
	for _, obj := range in.Objects {
		vid, given := "", obj.VersionID != nil
		action := "s3:DeleteObject"
		if given {
			vid, action = *obj.VersionID, "s3:DeleteObjectVersion"
		}
		err := s.authorizeAction(q, action, q.bucket, obj.Key)
		var rm removal
		if err == nil {
			rm, err = s.remove(q, b, obj.Key, vid, given)
		}
		if err != nil {
			ae := awsproto.AsError(err)
			out.Errors = append(out.Errors, failed{Key: obj.Key, VersionID: vid, Code: ae.Code.Name(), Message: ae.Message})
			continue
		}
		if !in.Quiet {
			d := deleted{Key: obj.Key, VersionID: vid, DeleteMarker: rm.DeleteMarker}
			if rm.DeleteMarker {
				d.DeleteMarkerVersionID = rm.VersionID
			}
			out.Deleted = append(out.Deleted, d)
		}
	}
	return writeXML(q.w, out)
}

func (s *Service) copyObject(q *request) error {
	b, err := s.bucket(q.ctx(), q.bucket)
	if err != nil {
		return err
	}
	srcBucket, srcKey, so, srcVID, err := s.sourceVersion(q)
	if err != nil {
		return err
	}
	directive := q.r.Header.Get("X-Amz-Metadata-Directive")
	if directive != "" && directive != "COPY" && directive != "REPLACE" {
		return awsproto.Errorf(awsproto.S3InvalidArgument, "Unknown metadata directive.").With("ArgumentName", "x-amz-metadata-directive")
	}
	if srcBucket == q.bucket && srcKey == q.key && directive != "REPLACE" && !strings.Contains(q.r.Header.Get("X-Amz-Copy-Source"), "?versionId=") {
		return awsproto.Errorf(awsproto.S3InvalidRequest, "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.")
	}
	if err := copyConditions(q, so); err != nil {
		return err
	}
	rc, err := s.open(q.ctx(), so, 0)
	if err != nil {
		return awsproto.Internal(err)
	}
	defer rc.Close()
	name := "d" + newID()
	if _, err := s.cfg.Blobs.Put(q.ctx(), name, fullReads{rc}); err != nil {
		s.cfg.Blobs.Delete(context.WithoutCancel(q.ctx()), name)
		return awsproto.Internal(err)
	}
	o := objectMeta{Key: q.key, Blob: name, Size: so.Size, ETag: so.ETag, LastModified: s.now(), Headers: so.Headers, Meta: so.Meta, WriteID: name, Tags: so.Tags}
	s.stamp(b, &o)
	if directive == "REPLACE" {
		o.Headers, o.Meta = headersOf(q.r.Header)
	}
	if q.r.Header.Get("X-Amz-Tagging-Directive") == "REPLACE" {
		if o.Tags, err = tagsOfHeader(q.r.Header); err != nil {
			s.cfg.Blobs.Delete(context.WithoutCancel(q.ctx()), name)
			return err
		}
	}
	ev, err := s.announceWrite(q, b, "ObjectCreated:Copy", o)
	if err != nil {
		s.cfg.Blobs.Delete(context.WithoutCancel(q.ctx()), name)
		return err
	}
	if err := s.commit(q.ctx(), b, o, ev); err != nil {
		return err
	}
	versionHeader(q.w.Header(), b, o)
	if srcVID != "" {
		q.w.Header().Set("x-amz-copy-source-version-id", srcVID)
	}
	return writeXML(q.w, struct {
		XMLName      xml.Name `xml:"CopyObjectResult"`
		NS           string   `xml:"xmlns,attr"`
		LastModified string   `xml:"LastModified"`
		ETag         string   `xml:"ETag"`
	}{NS: namespace, LastModified: o.LastModified.Format(timeFormat), ETag: o.ETag})
}

// copyConditions applies the copy-source conditions: the GET conditions,
// on the source.
func copyConditions(q *request, so objectMeta) error {
	cond := &http.Request{Header: http.Header{}}
	for _, c := range []string{"If-Match", "If-None-Match", "If-Modified-Since", "If-Unmodified-Since"} {
		if v := q.r.Header.Get("X-Amz-Copy-Source-" + c); v != "" {
			cond.Header.Set(c, v)
		}
	}
	if status, err := preconditions(cond, so); err != nil || status != 0 {
		return awsproto.Errorf(awsproto.S3PreconditionFailed, "At least one of the pre-conditions you specified did not hold")
	}
	return nil
}

// announceWrite publishes the event of o's write (announce).
func (s *Service) announceWrite(q *request, b bucketMeta, name string, o objectMeta) (*pendingEvent, error) {
	ev := pendingEvent{Key: o.Key, Name: name, WriteID: o.WriteID, Size: o.Size,
		ETag: strings.Trim(o.ETag, `"`), Time: o.LastModified}
	if b.Versioning != "" {
		ev.VersionID = o.versionID()
	}
	return s.announce(q, b, ev)
}

// fullReads fills every Read's buffer unless the body ends: JetStream's
// object store sends each Read as one chunk message, and a body read in the
// network's small pieces would become many times the messages (and the
// server refuses a stream's ingest past its queue limit).
type fullReads struct{ r io.Reader }

func (f fullReads) Read(p []byte) (int, error) {
	n, err := io.ReadFull(f.r, p)
	if err == io.ErrUnexpectedEOF {
		err = io.EOF
	}
	return n, err
}
