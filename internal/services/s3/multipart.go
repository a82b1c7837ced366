package s3

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kumo-run/kumo/internal/awsproto"
	"github.com/kumo-run/kumo/internal/store"
)

// uploadMeta is a multipart upload in progress.
type uploadMeta struct {
	Bucket    string            `json:"bucket"`
	Key       string            `json:"key"`
	Initiated time.Time         `json:"initiated"`
	Headers   map[string]string `json:"headers,omitempty"`
	Meta      map[string]string `json:"meta,omitempty"`
	Tags      []tag             `json:"tags,omitempty"`
}

// partMeta is one uploaded part.
type partMeta struct {
	Number       int       `json:"n"`
	Blob         string    `json:"blob"`
	Size         int64     `json:"size"`
	ETag         string    `json:"etag"` // quoted
	LastModified time.Time `json:"modified"`
}

// upload returns the upload q's uploadId names, which must be for q's
// bucket and key: NoSuchUpload otherwise.
func (s *Service) upload(q *request) (string, uploadMeta, error) {
	id := q.r.URL.Query().Get("uploadId")
	var u uploadMeta
	none := awsproto.Errorf(awsproto.S3NoSuchUpload, "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.").
		With("UploadId", id)
	if len(id) != 32 || strings.Trim(id, "0123456789abcdef") != "" {
		return id, u, none
	}
	_, err := s.getJSON(q.ctx(), uploadKey(id), &u)
	if errors.Is(err, store.ErrNotFound) || err == nil && (u.Bucket != q.bucket || u.Key != q.key) {
		return id, u, none
	}
	if err != nil {
		return id, u, awsproto.Internal(err)
	}
	return id, u, nil
}

func (s *Service) parts(ctx context.Context, id string) ([]partMeta, error) {
	es, err := s.cfg.KV.List(ctx, partPrefix(id))
	if err != nil {
		return nil, awsproto.Internal(err)
	}
	ps := make([]partMeta, 0, len(es))
	for _, e := range es {
		var p partMeta
		if _, err := s.getJSON(ctx, e.Key, &p); err == nil {
			ps = append(ps, p)
		}
	}
	return ps, nil
}

func (s *Service) createUpload(q *request) error {
	if _, err := s.bucket(q.ctx(), q.bucket); err != nil {
		return err
	}
	tags, err := tagsOfHeader(q.r.Header)
	if err != nil {
		return err
	}
	id := newID()
	hs, meta := headersOf(q.r.Header)
	if err := s.putJSON(q.ctx(), uploadKey(id), uploadMeta{Bucket: q.bucket, Key: q.key, Initiated: s.now(), Headers: hs, Meta: meta, Tags: tags}); err != nil {
		return err
	}
	return writeXML(q.w, struct {
		XMLName  xml.Name `xml:"InitiateMultipartUploadResult"`
		NS       string   `xml:"xmlns,attr"`
		Bucket   string   `xml:"Bucket"`
		Key      string   `xml:"Key"`
		UploadID string   `xml:"UploadId"`
	}{NS: namespace, Bucket: q.bucket, Key: q.key, UploadID: id})
}

// partNumber reads the partNumber of UploadPart and UploadPartCopy.
func partNumber(q *request) (int, error) {
	n, err := strconv.Atoi(q.r.URL.Query().Get("partNumber"))
	if err != nil || n < 1 || n > maxParts {
		return 0, awsproto.Errorf(awsproto.S3InvalidArgument, "Part number must be an integer between 1 and 10000, inclusive").
			With("ArgumentName", "partNumber").With("ArgumentValue", q.r.URL.Query().Get("partNumber"))
	}
	return n, nil
}

// putPart records an uploaded part, then deletes the blob of the part of
// the same number it replaces. On failure the part's blob is deleted.
func (s *Service) putPart(ctx context.Context, id string, part partMeta) error {
	var old partMeta
	_, gerr := s.getJSON(ctx, partKey(id, part.Number), &old)
	if err := s.putJSON(ctx, partKey(id, part.Number), part); err != nil {
		s.cfg.Blobs.Delete(context.WithoutCancel(ctx), part.Blob)
		return err
	}
	if gerr == nil && old.Blob != "" && old.Blob != part.Blob {
		s.cfg.Blobs.Delete(context.WithoutCancel(ctx), old.Blob)
	}
	return nil
}

func (s *Service) uploadPart(q *request) error {
	n, err := partNumber(q)
	if err != nil {
		return err
	}
	if _, err := s.bucket(q.ctx(), q.bucket); err != nil {
		return err
	}
	id, _, err := s.upload(q)
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
	part := partMeta{Number: n, Blob: name, Size: p.n, ETag: `"` + p.etag() + `"`, LastModified: s.now()}
	if err := s.putPart(q.ctx(), id, part); err != nil {
		return err
	}
	if p.cks != nil {
		q.w.Header().Set(p.cksHeader, p.wantCksOrTrailer())
	}
	q.w.Header().Set("ETag", part.ETag)
	q.w.WriteHeader(http.StatusOK)
	return nil
}

func (s *Service) completeUpload(q *request) error {
	b, err := s.bucket(q.ctx(), q.bucket)
	if err != nil {
		return err
	}
	id, u, err := s.upload(q)
	if err != nil {
		return err
	}
	var in struct {
		Parts []struct {
			PartNumber int    `xml:"PartNumber"`
			ETag       string `xml:"ETag"`
		} `xml:"Part"`
	}
	if err := readXML(q.r, &in); err != nil {
		return err
	}
	if len(in.Parts) == 0 {
		return awsproto.Errorf(awsproto.S3MalformedXML, "The XML you provided was not well-formed or did not validate against our published schema.")
	}
	have, err := s.parts(q.ctx(), id)
	if err != nil {
		return err
	}
	byNum := make(map[int]partMeta, len(have))
	for _, p := range have {
		byNum[p.Number] = p
	}
	chosen := make([]partMeta, 0, len(in.Parts))
	sums := make([]byte, 0, md5.Size*len(in.Parts))
	for i, ip := range in.Parts {
		if i > 0 && ip.PartNumber <= in.Parts[i-1].PartNumber {
			return awsproto.Errorf(awsproto.S3InvalidPartOrder, "The list of parts was not in ascending order. Parts must be ordered by part number.").
				With("UploadId", id)
		}
	}
	for i, ip := range in.Parts {
		p, ok := byNum[ip.PartNumber]
		etag := strings.Trim(ip.ETag, `"`)
		if !ok || etag != strings.Trim(p.ETag, `"`) {
			return awsproto.Errorf(awsproto.S3InvalidPart, "One or more of the specified parts could not be found. The part may not have been uploaded, or the specified entity tag may not match the part's entity tag.").
				With("UploadId", id).With("PartNumber", ip.PartNumber).With("ETag", ip.ETag)
		}
		if i < len(in.Parts)-1 && p.Size < minPartSize {
			return awsproto.Errorf(awsproto.S3EntityTooSmall, "Your proposed upload is smaller than the minimum allowed size").
				With("ProposedSize", p.Size).With("MinSizeAllowed", minPartSize).With("PartNumber", p.Number)
		}
		sum, _ := hex.DecodeString(etag)
		sums = append(sums, sum...)
		chosen = append(chosen, p)
	}
	// The object's data: the parts' own blobs, in order.
	var size int64
	blobs := make([]blobPart, len(chosen))
	for i, p := range chosen {
		blobs[i] = blobPart{Blob: p.Blob, Size: p.Size}
		size += p.Size
	}
	all := md5.Sum(sums)
	o := objectMeta{Key: q.key, Parts: blobs, Size: size, ETag: `"` + hex.EncodeToString(all[:]) + "-" + strconv.Itoa(len(chosen)) + `"`,
		LastModified: s.now(), Headers: u.Headers, Meta: u.Meta, WriteID: "m" + newID(), Tags: u.Tags}
	s.stamp(b, &o)
	ev, err := s.announceWrite(q, b, "ObjectCreated:CompleteMultipartUpload", o)
	if err != nil {
		return err
	}
	if err := s.commit(q.ctx(), b, o, ev); err != nil {
		return err
	}
	versionHeader(q.w.Header(), b, o)
	// The parts not chosen are dropped with the upload; the chosen ones
	// are the object's now.
	var unused []partMeta
	for _, p := range have {
		if c, ok := byNum[p.Number]; ok && slices.ContainsFunc(chosen, func(x partMeta) bool { return x.Blob == c.Blob }) {
			s.cfg.KV.Delete(context.WithoutCancel(q.ctx()), partKey(id, p.Number), 0)
			continue
		}
		unused = append(unused, p)
	}
	s.dropUpload(context.WithoutCancel(q.ctx()), id, unused)
	return writeXML(q.w, struct {
		XMLName  xml.Name `xml:"CompleteMultipartUploadResult"`
		NS       string   `xml:"xmlns,attr"`
		Location string   `xml:"Location"`
		Bucket   string   `xml:"Bucket"`
		Key      string   `xml:"Key"`
		ETag     string   `xml:"ETag"`
	}{NS: namespace, Location: "/" + q.bucket + "/" + q.key, Bucket: q.bucket, Key: q.key, ETag: o.ETag})
}

// dropUpload deletes an upload's record, its parts' records and blobs.
func (s *Service) dropUpload(ctx context.Context, id string, parts []partMeta) {
	s.cfg.KV.Delete(ctx, uploadKey(id), 0)
	for _, p := range parts {
		s.cfg.KV.Delete(ctx, partKey(id, p.Number), 0)
		s.cfg.Blobs.Delete(ctx, p.Blob)
	}
}

// lazyBlob opens a blob when first read, so that a multipart object's
// parts are open one at a time.
type lazyBlob struct {
	s    *Service
	ctx  context.Context
	name string
	rc   io.ReadCloser
	done bool
}

func (b *lazyBlob) Read(p []byte) (int, error) {
	if b.done {
		return 0, io.EOF
	}
	if b.rc == nil {
		rc, _, err := b.s.cfg.Blobs.Get(b.ctx, b.name)
		if err != nil {
			return 0, err
		}
		b.rc = rc
	}
	n, err := b.rc.Read(p)
	if err == io.EOF {
		b.Close()
		b.done = true
	}
	return n, err
}

func (b *lazyBlob) Close() error {
	if b.rc != nil {
		b.rc.Close()
		b.rc = nil
	}
	return nil
}

func (s *Service) abortUpload(q *request) error {
	if _, err := s.bucket(q.ctx(), q.bucket); err != nil {
		return err
	}
	id, _, err := s.upload(q)
	if err != nil {
		return err
	}
	ps, err := s.parts(q.ctx(), id)
	if err != nil {
		return err
	}
	s.dropUpload(q.ctx(), id, ps)
	q.w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Service) listParts(q *request) error {
	if _, err := s.bucket(q.ctx(), q.bucket); err != nil {
		return err
	}
	id, _, err := s.upload(q)
	if err != nil {
		return err
	}
	v := q.r.URL.Query()
	maxParts, marker := 1000, 0
	if m := v.Get("max-parts"); m != "" {
		if maxParts, err = strconv.Atoi(m); err != nil || maxParts < 0 {
			return awsproto.Errorf(awsproto.S3InvalidArgument, "Provided max-parts not an integer or within integer range").With("ArgumentName", "max-parts")
		}
		maxParts = min(maxParts, 1000)
	}
	if m := v.Get("part-number-marker"); m != "" {
		if marker, err = strconv.Atoi(m); err != nil {
			return awsproto.Errorf(awsproto.S3InvalidArgument, "Provided part-number-marker not an integer").With("ArgumentName", "part-number-marker")
		}
	}
	ps, err := s.parts(q.ctx(), id)
	if err != nil {
		return err
	}
	type part struct {
		PartNumber   int    `xml:"PartNumber"`
		LastModified string `xml:"LastModified"`
		ETag         string `xml:"ETag"`
		Size         int64  `xml:"Size"`
	}
	out := struct {
		XMLName              xml.Name `xml:"ListPartsResult"`
		NS                   string   `xml:"xmlns,attr"`
		Bucket               string   `xml:"Bucket"`
		Key                  string   `xml:"Key"`
		UploadID             string   `xml:"UploadId"`
		PartNumberMarker     int      `xml:"PartNumberMarker"`
		NextPartNumberMarker int      `xml:"NextPartNumberMarker"`
		MaxParts             int      `xml:"MaxParts"`
		IsTruncated          bool     `xml:"IsTruncated"`
		StorageClass         string   `xml:"StorageClass"`
		Parts                []part   `xml:"Part"`
	}{NS: namespace, Bucket: q.bucket, Key: q.key, UploadID: id, PartNumberMarker: marker, MaxParts: maxParts, StorageClass: "STANDARD"}
	for _, p := range ps {
		if p.Number <= marker {
			continue
		}
		if len(out.Parts) >= maxParts {
			out.IsTruncated = true
			break
		}
		out.Parts = append(out.Parts, part{PartNumber: p.Number, LastModified: p.LastModified.Format(timeFormat), ETag: p.ETag, Size: p.Size})
		out.NextPartNumberMarker = p.Number
	}
	return writeXML(q.w, out)
}

func (s *Service) listUploads(q *request) error {
	if _, err := s.bucket(q.ctx(), q.bucket); err != nil {
		return err
	}
	es, err := s.cfg.KV.List(q.ctx(), "u.")
	if err != nil {
		return awsproto.Internal(err)
	}
	type upload struct {
		Key          string `xml:"Key"`
		UploadID     string `xml:"UploadId"`
		Initiated    string `xml:"Initiated"`
		StorageClass string `xml:"StorageClass"`
	}
	out := struct {
		XMLName     xml.Name `xml:"ListMultipartUploadsResult"`
		NS          string   `xml:"xmlns,attr"`
		Bucket      string   `xml:"Bucket"`
		MaxUploads  int      `xml:"MaxUploads"`
		IsTruncated bool     `xml:"IsTruncated"`
		Uploads     []upload `xml:"Upload"`
	}{NS: namespace, Bucket: q.bucket, MaxUploads: 1000}
	prefix := q.r.URL.Query().Get("prefix")
	for _, e := range es {
		var u uploadMeta
		if _, err := s.getJSON(q.ctx(), e.Key, &u); err != nil || u.Bucket != q.bucket || !strings.HasPrefix(u.Key, prefix) {
			continue
		}
		out.Uploads = append(out.Uploads, upload{Key: u.Key, UploadID: strings.TrimPrefix(e.Key, "u."), Initiated: u.Initiated.Format(timeFormat), StorageClass: "STANDARD"})
	}
	return writeXML(q.w, out)
}

// uploadPartCopy makes a part of (a range of) an existing object
// (x-amz-copy-source, x-amz-copy-source-range), streaming it from the
// source's blobs into the part's own.
func (s *Service) uploadPartCopy(q *request) error {
	n, err := partNumber(q)
	if err != nil {
		return err
	}
	if _, err := s.bucket(q.ctx(), q.bucket); err != nil {
		return err
	}
	id, _, err := s.upload(q)
	if err != nil {
		return err
	}
	_, _, so, srcVID, err := s.sourceVersion(q)
	if err != nil {
		return err
	}
	if err := copyConditions(q, so); err != nil {
		return err
	}
	start, end := int64(0), so.Size-1
	if rv := q.r.Header.Get("X-Amz-Copy-Source-Range"); rv != "" {
		if start, end, err = copyRange(rv, so.Size); err != nil {
			return err
		}
	}
	size := end - start + 1
	if size > MaxPutSize {
		return awsproto.Errorf(awsproto.S3EntityTooLarge, "Your proposed upload exceeds the maximum allowed size").
			With("ProposedSize", size).With("MaxSizeAllowed", int64(MaxPutSize))
	}
	name := "d" + newID()
	sum := md5.New()
	if size > 0 {
		rc, err := s.open(q.ctx(), so, start)
		if err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return awsproto.Errorf(awsproto.S3NoSuchKey, "The specified key does not exist.")
			}
			return awsproto.Internal(err)
		}
		defer rc.Close()
		info, err := s.cfg.Blobs.Put(q.ctx(), name, fullReads{io.TeeReader(io.LimitReader(rc, size), sum)})
		if err == nil && info.Size != size {
			err = errors.New("s3: copy source ended early")
		}
		if err != nil {
			s.cfg.Blobs.Delete(context.WithoutCancel(q.ctx()), name)
			return awsproto.Internal(err)
		}
	} else if _, err := s.cfg.Blobs.Put(q.ctx(), name, strings.NewReader("")); err != nil {
		s.cfg.Blobs.Delete(context.WithoutCancel(q.ctx()), name)
		return awsproto.Internal(err)
	}
	part := partMeta{Number: n, Blob: name, Size: size, ETag: `"` + hex.EncodeToString(sum.Sum(nil)) + `"`, LastModified: s.now()}
	if err := s.putPart(q.ctx(), id, part); err != nil {
		return err
	}
	if srcVID != "" {
		q.w.Header().Set("x-amz-copy-source-version-id", srcVID)
	}
	return writeXML(q.w, struct {
		XMLName      xml.Name `xml:"CopyPartResult"`
		NS           string   `xml:"xmlns,attr"`
		LastModified string   `xml:"LastModified"`
		ETag         string   `xml:"ETag"`
	}{NS: namespace, LastModified: part.LastModified.Format(timeFormat), ETag: part.ETag})
}

// copyRange reads x-amz-copy-source-range: "bytes=first-last", both
// inside the source.
func copyRange(v string, size int64) (start, end int64, err error) {
	form := awsproto.Errorf(awsproto.S3InvalidArgument, "The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy").
		With("ArgumentName", "x-amz-copy-source-range").With("ArgumentValue", v)
	spec, ok := strings.CutPrefix(v, "bytes=")
	a, b, ok2 := strings.Cut(spec, "-")
	if !ok || !ok2 {
		return 0, 0, form
	}
	start, err1 := strconv.ParseInt(a, 10, 64)
	end, err2 := strconv.ParseInt(b, 10, 64)
	if err1 != nil || err2 != nil || start < 0 || end < start {
		return 0, 0, form
	}
	if end >= size {
		return 0, 0, awsproto.Errorf(awsproto.S3InvalidArgument, "Range specified is not valid for source object of size: %d", size).
			With("ArgumentName", "x-amz-copy-source-range").With("ArgumentValue", v)
	}
	return start, end, nil
}
