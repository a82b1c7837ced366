package s3

import (
	"errors"
	"io"
	"net/http"

	"github.com/kumo-run/kumo/internal/awsproto"
	"github.com/kumo-run/kumo/internal/iam"
	"github.com/kumo-run/kumo/internal/store"
)

// maxPolicy is S3's limit on a bucket policy: 20 KB.
const maxPolicy = 20 << 10

// setPolicy replaces a bucket's policy ("" removes it), compare-and-set
// on the bucket's record.
func (s *Service) setPolicy(q *request, doc string) error {
	for {
		var b bucketMeta
		rev, err := s.getJSON(q.ctx(), bucketKey(q.bucket), &b)
		if errors.Is(err, store.ErrNotFound) {
			return awsproto.Errorf(awsproto.S3NoSuchBucket, "The specified bucket does not exist")
		}
		if err != nil {
			return awsproto.Internal(err)
		}
		b.Policy = doc
		v, err := jsonBytes(b)
		if err != nil {
			return err
		}
		if _, err := s.cfg.KV.Update(q.ctx(), bucketKey(q.bucket), v, rev); errors.Is(err, store.ErrConflict) {
			continue
		} else if err != nil {
			return awsproto.Internal(err)
		}
		return nil
	}
}

func (s *Service) putBucketPolicy(q *request) error {
	doc, err := io.ReadAll(io.LimitReader(q.r.Body, maxPolicy+1))
	if err != nil {
		return awsproto.Errorf(awsproto.S3IncompleteBody, "The request body could not be read.")
	}
	if len(doc) > maxPolicy {
		return awsproto.Errorf(awsproto.S3MalformedPolicy, "Policies must be no more than 20 KB in size")
	}
	if _, err := iam.Parse(string(doc), iam.KindResource); err != nil {
		return awsproto.Errorf(awsproto.S3MalformedPolicy, "%s", err.Error())
	}
	if err := s.setPolicy(q, string(doc)); err != nil {
		return err
	}
	q.w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Service) getBucketPolicy(q *request) error {
	b, err := s.bucket(q.ctx(), q.bucket)
	if err != nil {
		return err
	}
	if b.Policy == "" {
		return awsproto.Errorf(awsproto.S3NoSuchBucketPolicy, "The bucket policy does not exist")
	}
	q.w.Header().Set("Content-Type", "application/json")
	q.w.WriteHeader(http.StatusOK)
	io.WriteString(q.w, b.Policy)
	return nil
}

func (s *Service) deleteBucketPolicy(q *request) error {
	if err := s.setPolicy(q, ""); err != nil {
		return err
	}
	q.w.WriteHeader(http.StatusNoContent)
	return nil
}
