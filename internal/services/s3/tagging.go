package s3

import (
	"context"
	"encoding/xml"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"unicode/utf8"

	"github.com/kumo-run/kumo/internal/awsproto"
	"github.com/kumo-run/kumo/internal/store"
)

// S3's tag limits.
const (
	maxObjectTags  = 10
	maxBucketTags  = 50
	maxTagKeyLen   = 128
	maxTagValueLen = 256
)

// tag is one tag, in the order it was given.
type tag struct {
	Key   string `xml:"Key" json:"k"`
	Value string `xml:"Value" json:"v"`
}

// tagging is S3's Tagging document.
type tagging struct {
	XMLName xml.Name `xml:"Tagging"`
	NS      string   `xml:"xmlns,attr,omitempty"`
	Tags    []tag    `xml:"TagSet>Tag"`
}

// checkTags applies S3's rules to a tag set of at most max tags.
func checkTags(tags []tag, max int) error {
	if len(tags) > max {
		return awsproto.Errorf(awsproto.S3InvalidTag, "Object tags cannot be greater than %d", max)
	}
	seen := map[string]bool{}
	for _, t := range tags {
		switch {
		case t.Key == "" || utf8.RuneCountInString(t.Key) > maxTagKeyLen:
			return awsproto.Errorf(awsproto.S3InvalidTag, "The TagKey you have provided is invalid").With("TagKey", t.Key)
		case utf8.RuneCountInString(t.Value) > maxTagValueLen:
			return awsproto.Errorf(awsproto.S3InvalidTag, "The TagValue you have provided is invalid").With("TagKey", t.Key).With("TagValue", t.Value)
		case seen[t.Key]:
			return awsproto.Errorf(awsproto.S3InvalidTag, "Cannot provide multiple Tags with the same key").With("TagKey", t.Key)
		}
		seen[t.Key] = true
	}
	return nil
}

// tagsOfHeader reads x-amz-tagging (a URL-encoded query string), nil if
// absent.
func tagsOfHeader(h http.Header) ([]tag, error) {
	v := h.Get("X-Amz-Tagging")
	if v == "" {
		return nil, nil
	}
	q, err := url.ParseQuery(v)
	if err != nil {
		return nil, awsproto.Errorf(awsproto.S3InvalidArgument, "The header 'x-amz-tagging' shall be encoded as UTF-8 then URLEncoded URL query parameters without tag name duplicates.").
			With("ArgumentName", "x-amz-tagging").With("ArgumentValue", v)
	}
	var tags []tag
	for k, vs := range q {
		if len(vs) > 1 {
			return nil, awsproto.Errorf(awsproto.S3InvalidTag, "Cannot provide multiple Tags with the same key").With("TagKey", k)
		}
		tags = append(tags, tag{Key: k, Value: vs[0]})
	}
	return tags, checkTags(tags, maxObjectTags)
}

// updateObject changes an object's record with change, compare-and-set;
// the object's data and write id stay as they are.
func (s *Service) updateObject(ctx context.Context, bucket, key string, change func(*objectMeta)) error {
	for {
		var o objectMeta
		rev, err := s.getJSON(ctx, objectKey(bucket, key), &o)
		if errors.Is(err, store.ErrNotFound) || err == nil && o.DeleteMarker {
			return awsproto.Errorf(awsproto.S3NoSuchKey, "The specified key does not exist.").With("Key", key)
		}
		if err != nil {
			return awsproto.Internal(err)
		}
		change(&o)
		v, err := jsonBytes(o)
		if err != nil {
			return err
		}
		if _, err := s.cfg.KV.Update(ctx, objectKey(bucket, key), v, rev); errors.Is(err, store.ErrConflict) {
			continue
		} else if err != nil {
			return awsproto.Internal(err)
		}
		return nil
	}
}

func (s *Service) putObjectTagging(q *request) error {
	if _, err := s.bucket(q.ctx(), q.bucket); err != nil {
		return err
	}
	var in tagging
	if err := readXML(q.r, &in); err != nil {
		return err
	}
	if err := checkTags(in.Tags, maxObjectTags); err != nil {
		return err
	}
	if err := s.updateTagged(q, func(o *objectMeta) { o.Tags = in.Tags }); err != nil {
		return err
	}
	q.w.WriteHeader(http.StatusOK)
	return nil
}

func (s *Service) getObjectTagging(q *request) error {
	if _, err := s.bucket(q.ctx(), q.bucket); err != nil {
		return err
	}
	var o objectMeta
	if ids, named := q.r.URL.Query()["versionId"]; named {
		v, _, err := s.findVersion(q.ctx(), q.bucket, q.key, ids[0])
		if err != nil {
			return err
		}
		if v.o.DeleteMarker {
			return deleteMarkerNamed(q)
		}
		o = v.o
		q.w.Header().Set("x-amz-version-id", o.versionID())
	} else {
		var err error
		if o, err = s.object(q.ctx(), q.bucket, q.key); err != nil {
			return err
		}
	}
	return writeXML(q.w, tagging{NS: namespace, Tags: o.Tags})
}

// updateTagged changes the record of the version q names (versionId), or
// of the key's latest version, compare-and-set.
func (s *Service) updateTagged(q *request, change func(*objectMeta)) error {
	ids, named := q.r.URL.Query()["versionId"]
	if !named {
		return s.updateObject(q.ctx(), q.bucket, q.key, change)
	}
	for {
		v, _, err := s.findVersion(q.ctx(), q.bucket, q.key, ids[0])
		if err != nil {
			return err
		}
		if v.o.DeleteMarker {
			return deleteMarkerNamed(q)
		}
		change(&v.o)
		val, err := jsonBytes(v.o)
		if err != nil {
			return err
		}
		if _, err := s.cfg.KV.Update(q.ctx(), v.kvKey, val, v.rev); errors.Is(err, store.ErrConflict) {
			continue
		} else if err != nil {
			return awsproto.Internal(err)
		}
		q.w.Header().Set("x-amz-version-id", v.o.versionID())
		return nil
	}
}

// deleteMarkerNamed is S3's answer to a request naming a delete marker's
// version where only objects are allowed.
func deleteMarkerNamed(q *request) error {
	q.w.Header().Set("x-amz-delete-marker", "true")
	q.w.Header().Set("Allow", http.MethodDelete)
	return awsproto.Errorf(awsproto.S3MethodNotAllowed, "The specified method is not allowed against this resource.").
		With("Method", q.r.Method).With("ResourceType", "DeleteMarker")
}

func (s *Service) deleteObjectTagging(q *request) error {
	if _, err := s.bucket(q.ctx(), q.bucket); err != nil {
		return err
	}
	if err := s.updateTagged(q, func(o *objectMeta) { o.Tags = nil }); err != nil {
		return err
	}
	q.w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Service) putBucketTagging(q *request) error {
	if _, err := s.bucket(q.ctx(), q.bucket); err != nil {
		return err
	}
	var in tagging
	if err := readXML(q.r, &in); err != nil {
		return err
	}
	if err := checkTags(in.Tags, maxBucketTags); err != nil {
		return err
	}
	if err := s.updateBucket(q.ctx(), q.bucket, func(b *bucketMeta) { b.Tags = in.Tags }); err != nil {
		return err
	}
	q.w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Service) getBucketTagging(q *request) error {
	b, err := s.bucket(q.ctx(), q.bucket)
	if err != nil {
		return err
	}
	if len(b.Tags) == 0 {
		return awsproto.Errorf(awsproto.S3NoSuchTagSet, "The TagSet does not exist")
	}
	return writeXML(q.w, tagging{NS: namespace, Tags: b.Tags})
}

func (s *Service) deleteBucketTagging(q *request) error {
	if err := s.updateBucket(q.ctx(), q.bucket, func(b *bucketMeta) { b.Tags = nil }); err != nil {
		return err
	}
	q.w.WriteHeader(http.StatusNoContent)
	return nil
}

// versioningConfig is S3's VersioningConfiguration document.
type versioningConfig struct {
	XMLName xml.Name `xml:"VersioningConfiguration"`
	NS      string   `xml:"xmlns,attr,omitempty"`
	Status  string   `xml:"Status,omitempty"`
	// MFADelete is accepted as "Disabled" only.
	MFADelete string `xml:"MfaDelete,omitempty"`
}

// putBucketVersioning stores the versioning state (Enabled or Suspended).
// Kumo keeps one version of each object whatever the state: the state is
// stored and answered, not acted on.
func (s *Service) putBucketVersioning(q *request) error {
	if _, err := s.bucket(q.ctx(), q.bucket); err != nil {
		return err
	}
	var in versioningConfig
	if err := readXML(q.r, &in); err != nil {
		return err
	}
	if in.Status != "Enabled" && in.Status != "Suspended" {
		return awsproto.Errorf(awsproto.S3MalformedXML, "The XML you provided was not well-formed or did not validate against our published schema.")
	}
	if in.MFADelete == "Enabled" {
		return awsproto.Errorf(awsproto.S3InvalidRequest, "DevPay and Mfa are mutually exclusive authorization methods.")
	}
	if err := s.updateBucket(q.ctx(), q.bucket, func(b *bucketMeta) { b.Versioning = in.Status }); err != nil {
		return err
	}
	q.w.WriteHeader(http.StatusOK)
	return nil
}

func (s *Service) getBucketVersioning(q *request) error {
	b, err := s.bucket(q.ctx(), q.bucket)
	if err != nil {
		return err
	}
	return writeXML(q.w, versioningConfig{NS: namespace, Status: b.Versioning})
}

// tagCount is the x-amz-tagging-count GET and HEAD answer with.
func tagCount(o objectMeta) string {
	if len(o.Tags) == 0 {
		return ""
	}
	return strconv.Itoa(len(o.Tags))
}
