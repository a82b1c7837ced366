package s3

import (
	"context"
	"encoding/xml"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/kumo-run/kumo/internal/awsproto"
)

// Lifecycle expiration: a bucket's LifecycleConfiguration is kept in its
// record; the sweeper (SweepLifecycle, run every Config.LifecycleInterval)
// applies the enabled rules' expiration actions as S3 does, each removal
// compare-and-set against the version it judged, and raises
// s3:LifecycleExpiration:* events. Transitions are refused: Kumo has one
// storage class.

// maxLifecycleRules is S3's limit of rules per configuration.
const maxLifecycleRules = 1000

// defaultLifecycleInterval is how often the sweeper runs when
// Config.LifecycleInterval is zero.
const defaultLifecycleInterval = 10 * time.Minute

// lifecycleConfig is S3's LifecycleConfiguration document, as stored.
type lifecycleConfig struct {
	XMLName xml.Name        `xml:"LifecycleConfiguration" json:"-"`
	NS      string          `xml:"xmlns,attr,omitempty" json:"-"`
	Rules   []lifecycleRule `xml:"Rule" json:"rules"`
}

type lifecycleRule struct {
	ID     string           `xml:"ID,omitempty" json:"id,omitempty"`
	Prefix *string          `xml:"Prefix" json:"prefix,omitempty"` // the older, rule-level filter
	Filter *lifecycleFilter `xml:"Filter" json:"filter,omitempty"`
	Status string           `xml:"Status" json:"status"`
	// Expiration acts on current versions (and expired delete markers).
	Expiration *struct {
		Days                      *int    `xml:"Days" json:"days,omitempty"`
		Date                      *string `xml:"Date" json:"date,omitempty"`
		ExpiredObjectDeleteMarker *bool   `xml:"ExpiredObjectDeleteMarker" json:"expiredObjectDeleteMarker,omitempty"`
	} `xml:"Expiration" json:"expiration,omitempty"`
	NoncurrentVersionExpiration *struct {
		NoncurrentDays          *int `xml:"NoncurrentDays" json:"noncurrentDays,omitempty"`
		NewerNoncurrentVersions *int `xml:"NewerNoncurrentVersions" json:"newerNoncurrentVersions,omitempty"`
	} `xml:"NoncurrentVersionExpiration" json:"noncurrentVersionExpiration,omitempty"`
	AbortIncompleteMultipartUpload *struct {
		DaysAfterInitiation *int `xml:"DaysAfterInitiation" json:"daysAfterInitiation,omitempty"`
	} `xml:"AbortIncompleteMultipartUpload" json:"abortIncompleteMultipartUpload,omitempty"`
	// Transitions are read to be refused.
	Transitions           []struct{} `xml:"Transition" json:"-"`
	NoncurrentTransitions []struct{} `xml:"NoncurrentVersionTransition" json:"-"`
}

type lifecycleFilter struct {
	Prefix                *string       `xml:"Prefix" json:"prefix,omitempty"`
	Tag                   *tag          `xml:"Tag" json:"tag,omitempty"`
	ObjectSizeGreaterThan *int64        `xml:"ObjectSizeGreaterThan" json:"sizeGreaterThan,omitempty"`
	ObjectSizeLessThan    *int64        `xml:"ObjectSizeLessThan" json:"sizeLessThan,omitempty"`
	And                   *lifecycleAnd `xml:"And" json:"and,omitempty"`
}

type lifecycleAnd struct {
	Prefix                *string `xml:"Prefix" json:"prefix,omitempty"`
	Tags                  []tag   `xml:"Tag" json:"tags,omitempty"`
	ObjectSizeGreaterThan *int64  `xml:"ObjectSizeGreaterThan" json:"sizeGreaterThan,omitempty"`
	ObjectSizeLessThan    *int64  `xml:"ObjectSizeLessThan" json:"sizeLessThan,omitempty"`
}

// conditions is a rule's filter, flattened.
type conditions struct {
	prefix     string
	tags       []tag
	gt, lt     *int64
	filterTags bool
}

func (r *lifecycleRule) conditions() conditions {
	var c conditions
	if r.Prefix != nil {
		c.prefix = *r.Prefix
	}
	if f := r.Filter; f != nil {
		if f.Prefix != nil {
			c.prefix = *f.Prefix
		}
		if f.Tag != nil {
			c.tags = []tag{*f.Tag}
		}
		c.gt, c.lt = f.ObjectSizeGreaterThan, f.ObjectSizeLessThan
		if a := f.And; a != nil {
			if a.Prefix != nil {
				c.prefix = *a.Prefix
			}
			c.tags = append(c.tags, a.Tags...)
			if a.ObjectSizeGreaterThan != nil {
				c.gt = a.ObjectSizeGreaterThan
			}
			if a.ObjectSizeLessThan != nil {
				c.lt = a.ObjectSizeLessThan
			}
		}
	}
	c.filterTags = len(c.tags) > 0
	return c
}

// matches reports whether a version of key with tags and size is in the
// rule's scope (a delete marker has no tags and no size: only a filter
// without tags and sizes takes it).
func (c conditions) matches(o objectMeta) bool {
	if !strings.HasPrefix(o.Key, c.prefix) {
		return false
	}
	if o.DeleteMarker {
		return !c.filterTags && c.gt == nil && c.lt == nil
	}
	if c.gt != nil && !(o.Size > *c.gt) || c.lt != nil && !(o.Size < *c.lt) {
		return false
	}
	for _, want := range c.tags {
		found := false
		for _, t := range o.Tags {
			if t.Key == want.Key && t.Value == want.Value {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// validate applies S3's rules to a configuration.
func (l *lifecycleConfig) validate() error {
	malformed := awsproto.Errorf(awsproto.S3MalformedXML, "The XML you provided was not well-formed or did not validate against our published schema.")
	invalid := func(format string, args ...any) error {
		return awsproto.Errorf(awsproto.S3InvalidArgument, format, args...)
	}
	if len(l.Rules) == 0 || len(l.Rules) > maxLifecycleRules {
		return malformed
	}
	ids := map[string]bool{}
	for i := range l.Rules {
		r := &l.Rules[i]
		if len(r.ID) > 255 {
			return invalid("ID length should not exceed allowed limit of 255")
		}
		if r.ID == "" {
			r.ID = newNotificationID()
		}
		if ids[r.ID] {
			return invalid("Rule ID must be unique. Found same ID for more than one rule")
		}
		ids[r.ID] = true
		if r.Status != "Enabled" && r.Status != "Disabled" {
			return malformed
		}
		if r.Prefix != nil && r.Filter != nil || r.Prefix == nil && r.Filter == nil {
			return malformed
		}
		if f := r.Filter; f != nil {
			n := 0
			for _, set := range []bool{f.Prefix != nil, f.Tag != nil, f.ObjectSizeGreaterThan != nil, f.ObjectSizeLessThan != nil, f.And != nil} {
				if set {
					n++
				}
			}
			if n > 1 {
				return malformed
			}
			if f.Tag != nil {
				if err := checkTags([]tag{*f.Tag}, 1); err != nil {
					return err
				}
			}
			if f.And != nil {
				if err := checkTags(f.And.Tags, maxObjectTags); err != nil {
					return err
				}
			}
		}
		if len(r.Transitions) > 0 || len(r.NoncurrentTransitions) > 0 {
			return awsproto.Errorf(awsproto.S3NotImplemented, "Lifecycle transitions are not supported: this server has one storage class.")
		}
		if r.Expiration == nil && r.NoncurrentVersionExpiration == nil && r.AbortIncompleteMultipartUpload == nil {
			return awsproto.Errorf(awsproto.S3InvalidRequest, "At least one action needs to be specified in a rule")
		}
		c := r.conditions()
		if e := r.Expiration; e != nil {
			set := 0
			for _, b := range []bool{e.Days != nil, e.Date != nil, e.ExpiredObjectDeleteMarker != nil} {
				if b {
					set++
				}
			}
			if set != 1 {
				return malformed
			}
			if e.Days != nil && *e.Days <= 0 {
				return invalid("'Days' for Expiration action must be a positive integer")
			}
			if e.Date != nil {
				t, err := time.Parse(time.RFC3339, *e.Date)
				if err != nil {
					return invalid("Date must be in ISO 8601 format")
				}
				if !t.UTC().Equal(t.UTC().Truncate(24 * time.Hour)) {
					return invalid("'Date' must be at midnight GMT")
				}
			}
			if e.ExpiredObjectDeleteMarker != nil && c.filterTags {
				return invalid("ExpiredObjectDeleteMarker cannot be specified with tags.")
			}
		}
		if n := r.NoncurrentVersionExpiration; n != nil {
			if n.NoncurrentDays == nil || *n.NoncurrentDays <= 0 {
				return invalid("'NoncurrentDays' for NoncurrentVersionExpiration action must be a positive integer")
			}
			if n.NewerNoncurrentVersions != nil && (*n.NewerNoncurrentVersions <= 0 || *n.NewerNoncurrentVersions > 100) {
				return invalid("'NewerNoncurrentVersions' for NoncurrentVersionExpiration action must be a positive integer up to 100")
			}
		}
		if a := r.AbortIncompleteMultipartUpload; a != nil {
			if a.DaysAfterInitiation == nil || *a.DaysAfterInitiation <= 0 {
				return invalid("'DaysAfterInitiation' for AbortIncompleteMultipartUpload action must be a positive integer")
			}
			if c.filterTags {
				return invalid("AbortIncompleteMultipartUpload cannot be specified with Tags.")
			}
		}
	}
	return nil
}

func (s *Service) putBucketLifecycle(q *request) error {
	if _, err := s.bucket(q.ctx(), q.bucket); err != nil {
		return err
	}
	var l lifecycleConfig
	if err := readXML(q.r, &l); err != nil {
		return err
	}
	if err := l.validate(); err != nil {
		return err
	}
	l.XMLName, l.NS = xml.Name{}, ""
	if err := s.updateBucket(q.ctx(), q.bucket, func(b *bucketMeta) { b.Lifecycle = &l }); err != nil {
		return err
	}
	q.w.WriteHeader(http.StatusOK)
	return nil
}

func (s *Service) getBucketLifecycle(q *request) error {
	b, err := s.bucket(q.ctx(), q.bucket)
	if err != nil {
		return err
	}
	if b.Lifecycle == nil {
		return awsproto.Errorf(awsproto.S3NoSuchLifecycleConfiguration, "The lifecycle configuration does not exist").With("BucketName", q.bucket)
	}
	l := *b.Lifecycle
	l.NS = namespace
	return writeXML(q.w, l)
}

func (s *Service) deleteBucketLifecycle(q *request) error {
	if err := s.updateBucket(q.ctx(), q.bucket, func(b *bucketMeta) { b.Lifecycle = nil }); err != nil {
		return err
	}
	q.w.WriteHeader(http.StatusNoContent)
	return nil
}

// expiry is when something made at t expires after days: t plus the days,
// rounded up to the next midnight UTC, as S3 counts.
func expiry(t time.Time, days int) time.Time {
	d := t.UTC().Add(time.Duration(days) * 24 * time.Hour)
	m := d.Truncate(24 * time.Hour)
	if m.Before(d) {
		m = m.Add(24 * time.Hour)
	}
	return m
}

// SweepLifecycle applies every bucket's lifecycle rules once, at the
// service's clock: it expires current versions (deleting them, or making
// delete markers in a versioned bucket), expired delete markers and
// noncurrent versions, and aborts old multipart uploads. Each removal
// raises its s3:LifecycleExpiration:* event. It returns the first error
// met; what it could not do is done by a later sweep.
func (s *Service) SweepLifecycle(ctx context.Context) error {
	es, err := s.cfg.KV.List(ctx, "b.")
	if err != nil {
		return err
	}
	var first error
	for _, e := range es {
		var b bucketMeta
		if err := jsonUnmarshal(e.Value, &b); err != nil || b.Lifecycle == nil {
			continue
		}
		if err := s.sweepBucket(ctx, b); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// sweeper is the request the sweeper's removals are made as.
func (s *Service) sweeper(ctx context.Context, bucket, expect string) *request {
	r, _ := http.NewRequestWithContext(ctx, http.MethodDelete, "/", nil)
	r.RemoteAddr = ""
	return &request{r: r, w: discardWriter{}, bucket: bucket, lifecycle: true, expect: expect}
}

type discardWriter struct{}

func (discardWriter) Header() http.Header         { return http.Header{} }
func (discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (discardWriter) WriteHeader(int)             {}

func (s *Service) sweepBucket(ctx context.Context, b bucketMeta) error {
	now := s.now()
	var rules []*lifecycleRule
	for i := range b.Lifecycle.Rules {
		if b.Lifecycle.Rules[i].Status == "Enabled" {
			rules = append(rules, &b.Lifecycle.Rules[i])
		}
	}
	if len(rules) == 0 {
		return nil
	}
	var first error
	note := func(err error) {
		if err != nil && !errors.Is(err, errStale) && first == nil {
			first = err
		}
	}
	// Current versions and delete markers.
	latest, err := s.cfg.KV.List(ctx, objectPrefix(b.Name))
	if err != nil {
		return err
	}
	latestTime := map[string]time.Time{}
	for _, e := range latest {
		var o objectMeta
		if err := jsonUnmarshal(e.Value, &o); err != nil {
			continue
		}
		latestTime[o.Key] = o.LastModified
		for _, r := range rules {
			ex := r.Expiration
			if ex == nil || !r.conditions().matches(o) {
				continue
			}
			if o.DeleteMarker {
				if ex.ExpiredObjectDeleteMarker == nil || !*ex.ExpiredObjectDeleteMarker {
					continue
				}
				vs, err := s.noncurrent(ctx, b.Name, o.Key)
				if err != nil {
					note(err)
					break
				}
				if len(vs) > 0 && !(len(vs) == 1 && vs[0].o.order() == o.order()) {
					continue // not the only version left
				}
				_, err = s.removeVersion(s.sweeper(ctx, b.Name, ""), b, o.Key, o.versionID())
				note(err)
				break
			}
			due := false
			switch {
			case ex.Days != nil:
				due = !now.Before(expiry(o.LastModified, *ex.Days))
			case ex.Date != nil:
				t, _ := time.Parse(time.RFC3339, *ex.Date)
				due = !now.Before(t)
			}
			if !due {
				continue
			}
			expect := o.WriteID
			if expect == "" {
				expect = "-" // a record from before write ids: removed by a DELETE only
			}
			rm, err := s.remove(s.sweeper(ctx, b.Name, expect), b, o.Key, "", false)
			note(err)
			if err == nil && rm.DeleteMarker {
				latestTime[o.Key] = now // the expired version is noncurrent from now on
			}
			break
		}
	}
	// Noncurrent versions: each became noncurrent when its successor was
	// written.
	var nonc []*lifecycleRule
	for _, r := range rules {
		if r.NoncurrentVersionExpiration != nil {
			nonc = append(nonc, r)
		}
	}
	if len(nonc) > 0 {
		vs, err := s.cfg.KV.List(ctx, versionsPrefix(b.Name))
		if err != nil {
			return err
		}
		prevKey, index := "", 0
		var successor time.Time
		for _, e := range vs {
			var o objectMeta
			if err := jsonUnmarshal(e.Value, &o); err != nil {
				continue
			}
			if o.Key != prevKey {
				prevKey, index = o.Key, 0
				successor = latestTime[o.Key]
			} else {
				index++
			}
			became := successor
			successor = o.LastModified
			if became.IsZero() {
				became = o.LastModified
			}
			for _, r := range nonc {
				n := r.NoncurrentVersionExpiration
				if !r.conditions().matches(o) {
					continue
				}
				if n.NewerNoncurrentVersions != nil && index < *n.NewerNoncurrentVersions {
					continue
				}
				if now.Before(expiry(became, *n.NoncurrentDays)) {
					continue
				}
				_, err := s.removeVersion(s.sweeper(ctx, b.Name, ""), b, o.Key, o.versionID())
				note(err)
				break
			}
		}
	}
	// Incomplete multipart uploads.
	for _, r := range rules {
		a := r.AbortIncompleteMultipartUpload
		if a == nil {
			continue
		}
		ups, err := s.cfg.KV.List(ctx, "u.")
		if err != nil {
			return err
		}
		for _, e := range ups {
			var u uploadMeta
			if err := jsonUnmarshal(e.Value, &u); err != nil || u.Bucket != b.Name || !strings.HasPrefix(u.Key, r.conditions().prefix) {
				continue
			}
			if now.Before(expiry(u.Initiated, *a.DaysAfterInitiation)) {
				continue
			}
			id := strings.TrimPrefix(e.Key, "u.")
			ps, err := s.parts(ctx, id)
			if err != nil {
				note(err)
				continue
			}
			s.dropUpload(ctx, id, ps)
		}
	}
	return first
}

// runLifecycle sweeps every interval until ctx is done.
func (s *Service) runLifecycle(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := s.SweepLifecycle(ctx); err != nil && ctx.Err() == nil {
				s.log.Warn("s3: lifecycle sweep failed; the next sweep retries", "error", err)
			}
		}
	}
}
