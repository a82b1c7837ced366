package s3

import (
	"encoding/xml"
	"errors"
	"net/http"
	"sort"
	"time"

	"github.com/kumo-run/kumo/internal/awsproto"
	"github.com/kumo-run/kumo/internal/store"
)

const timeFormat = "2006-01-02T15:04:05.000Z"

type owner struct {
	ID          string `xml:"ID"`
	DisplayName string `xml:"DisplayName,omitempty"`
}

func (s *Service) owner() owner { return owner{ID: s.cfg.Account, DisplayName: "kumo"} }

func (s *Service) listBuckets(q *request) error {
	es, err := s.cfg.KV.List(q.ctx(), "b.")
	if err != nil {
		return awsproto.Internal(err)
	}
	type bucket struct {
		Name         string `xml:"Name"`
		CreationDate string `xml:"CreationDate"`
		BucketRegion string `xml:"BucketRegion,omitempty"`
	}
	out := struct {
		XMLName xml.Name `xml:"ListAllMyBucketsResult"`
		NS      string   `xml:"xmlns,attr"`
		Owner   owner    `xml:"Owner"`
		Buckets []bucket `xml:"Buckets>Bucket"`
	}{NS: namespace, Owner: s.owner()}
	for _, e := range es {
		var b bucketMeta
		if _, err := s.getJSON(q.ctx(), e.Key, &b); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			return awsproto.Internal(err)
		}
		out.Buckets = append(out.Buckets, bucket{Name: b.Name, CreationDate: b.Created.Format(timeFormat), BucketRegion: s.region(b)})
	}
	sort.Slice(out.Buckets, func(i, j int) bool { return out.Buckets[i].Name < out.Buckets[j].Name })
	return writeXML(q.w, out)
}

func (s *Service) region(b bucketMeta) string {
	if b.Location != "" {
		return b.Location
	}
	return s.cfg.Region
}

func (s *Service) createBucket(q *request) error {
	if err := checkBucketName(q.bucket); err != nil {
		return err
	}
	var conf struct {
		LocationConstraint string `xml:"LocationConstraint"`
	}
	if q.r.ContentLength != 0 && q.r.Body != nil {
		if err := readXML(q.r, &conf); err != nil {
			return err
		}
	}
	loc := conf.LocationConstraint
	switch {
	case loc == "" || loc == s.cfg.Region && s.cfg.Region != "us-east-1":
	default:
		return awsproto.Errorf(awsproto.S3InvalidLocationConstraint, "The specified location-constraint is not valid: this server's region is %s.", s.cfg.Region).
			With("LocationConstraint", loc)
	}
	b := bucketMeta{Name: q.bucket, Created: s.now(), Location: loc}
	v, err := jsonBytes(b)
	if err != nil {
		return err
	}
	if _, err := s.cfg.KV.Create(q.ctx(), bucketKey(q.bucket), v); err != nil {
		if errors.Is(err, store.ErrExists) {
			return awsproto.Errorf(awsproto.S3BucketAlreadyOwnedByYou, "Your previous request to create the named bucket succeeded and you already own it.")
		}
		return awsproto.Internal(err)
	}
	q.w.Header().Set("Location", "/"+q.bucket)
	q.w.WriteHeader(http.StatusOK)
	return nil
}

func (s *Service) headBucket(q *request) error {
	b, err := s.bucket(q.ctx(), q.bucket)
	if err != nil {
		return err
	}
	q.w.Header().Set("x-amz-bucket-region", s.region(b))
	q.w.WriteHeader(http.StatusOK)
	return nil
}

func (s *Service) getBucketLocation(q *request) error {
	b, err := s.bucket(q.ctx(), q.bucket)
	if err != nil {
		return err
	}
	return writeXML(q.w, struct {
		XMLName  xml.Name `xml:"LocationConstraint"`
		NS       string   `xml:"xmlns,attr"`
		Location string   `xml:",chardata"`
	}{NS: namespace, Location: b.Location})
}

func (s *Service) deleteBucket(q *request) error {
	if _, err := s.bucket(q.ctx(), q.bucket); err != nil {
		return err
	}
	es, err := s.cfg.KV.List(q.ctx(), objectPrefix(q.bucket))
	if err != nil {
		return awsproto.Internal(err)
	}
	if len(es) == 0 {
		if es, err = s.cfg.KV.List(q.ctx(), versionsPrefix(q.bucket)); err != nil {
			return awsproto.Internal(err)
		}
	}
	if len(es) > 0 {
		return awsproto.Errorf(awsproto.S3BucketNotEmpty, "The bucket you tried to delete is not empty")
	}
	if err := s.cfg.KV.Delete(q.ctx(), bucketKey(q.bucket), 0); err != nil {
		return awsproto.Internal(err)
	}
	q.w.WriteHeader(http.StatusNoContent)
	return nil
}

func lastModified(t time.Time) string { return t.UTC().Format(http.TimeFormat) }
