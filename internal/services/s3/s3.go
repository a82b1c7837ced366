package s3

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/kumo-run/kumo/internal/awsproto"
	"github.com/kumo-run/kumo/internal/iam/authz"
	"github.com/kumo-run/kumo/internal/store"
)

// Wire constants of S3.
const (
	// SigningName is the SigV4 service name.
	SigningName = "s3"
	// namespace is the xmlns of S3's response documents.
	namespace = "http://s3.amazonaws.com/doc/2006-03-01/"
	// MaxPutSize is the largest object a single PUT (or part) may carry.
	MaxPutSize = 5 << 30
	// minPartSize is the least size of every part but the last.
	minPartSize = 5 << 20
	maxParts    = 10000
	// maxXMLBody bounds the XML documents requests carry (DeleteObjects
	// of 1,000 keys of 1,024 bytes, CompleteMultipartUpload of 10,000
	// parts).
	maxXMLBody = 4 << 20
)

// Errors renders S3's errors: an unwrapped <Error> element.
var Errors awsproto.Renderer = awsproto.RESTXML{Internal: awsproto.InternalSpec{Code: awsproto.S3InternalError}}

// Config configures the service.
type Config struct {
	// KV is the natsd.S3Bucket bucket; Blobs the natsd.S3Objects store.
	KV    store.KV
	Blobs store.Blobs
	// Verifier authenticates requests; nil turns authentication off
	// (callers are anonymous), as the edge's Verifier does.
	Verifier *awsproto.Verifier
	// Authorizer checks every operation (authz.go); nil allows all.
	Authorizer *authz.Authorizer
	// Region and Account are this server's.
	Region, Account string
	// Logger receives internal failures; nil discards.
	Logger *slog.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time

	// NATS is the connection to the JetStream holding the event outbox
	// (natsd.S3EventsStream); nil serves no event notifications.
	NATS *nats.Conn
	// Replicas of the outbox stream; 1 when zero.
	Replicas int
	// Destinations receives event notifications; nil refuses
	// notification configurations with destinations.
	Destinations Destinations
	// RetryDelay is the first delay after a failed notification
	// (doubling up to five minutes); one second when zero.
	RetryDelay time.Duration
	// CommitGrace is how long an event waits for its write to commit
	// before it is dropped; a minute when zero.
	CommitGrace time.Duration
	// LifecycleInterval is how often Start's sweeper applies the
	// buckets' lifecycle rules (lifecycle.go); ten minutes when zero,
	// never when negative (SweepLifecycle still does one sweep).
	LifecycleInterval time.Duration
}

// Service serves S3's API. It is safe for concurrent use.
type Service struct {
	cfg Config
	log *slog.Logger

	// versionMu guards lastVersion, the last version order made
	// (versions.go).
	versionMu   sync.Mutex
	lastVersion int64

	outbox  *outbox // nil without Config.NATS
	stopLC  context.CancelFunc
	stop    context.CancelFunc
	closeMu sync.Mutex
	closed  bool
	done    sync.WaitGroup
}

// New returns the service.
func New(cfg Config) *Service {
	s := &Service{cfg: cfg, log: cfg.Logger}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.cfg.Now == nil {
		s.cfg.Now = time.Now
	}
	return s
}

var _ http.Handler = (*Service)(nil)

// request is one S3 request, routed.
type request struct {
	r      *http.Request
	w      http.ResponseWriter
	op     string
	bucket string
	key    string
	chunks *awsproto.ChunkVerifier
	// lifecycle marks the lifecycle sweeper's own removals (their
	// events are s3:LifecycleExpiration:*); expect is the write a
	// removal must find latest (any when "").
	lifecycle bool
	expect    string
}

// ServeHTTP authenticates, routes, authorizes and runs one request.
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if id := awsproto.RequestID(r.Context()); id != "" {
		w.Header().Set("x-amz-request-id", id)
	}
	q := &request{r: r, w: w}
	q.bucket, q.key = s.target(r)
	if r.Method == http.MethodOptions && q.bucket != "" {
		// A CORS preflight: browsers send it unsigned.
		q.op = "PreflightRequest"
		if err := s.preflight(q); err != nil {
			s.fail(q, err)
		}
		return
	}
	if err := s.authenticate(q); err != nil {
		s.fail(q, err)
		return
	}
	op, h := s.route(q)
	if h == nil && len(r.URL.Query()) > 0 && r.URL.Query().Get("X-Amz-Signature") == "" {
		s.fail(q, awsproto.Errorf(awsproto.S3NotImplemented, "A header or query you provided implies functionality that is not implemented."))
		return
	}
	if h == nil {
		s.fail(q, awsproto.Errorf(awsproto.S3MethodNotAllowed, "The specified method is not allowed against this resource.").
			With("Method", r.Method).With("ResourceType", resourceType(q)))
		return
	}
	q.op = op
	if err := s.authorize(q, op, q.bucket, q.key); err != nil {
		s.fail(q, err)
		return
	}
	s.corsHeaders(q)
	if err := h(q); err != nil {
		s.fail(q, err)
	}
}

func resourceType(q *request) string {
	switch {
	case q.bucket == "":
		return "SERVICE"
	case q.key == "":
		return "BUCKET"
	}
	return "OBJECT"
}

// target is the bucket and key a request names: from a virtual-hosted
// host name (<bucket>.s3.<region>.localhost, <bucket>.s3.localhost) or
// the path's first segment.
func (s *Service) target(r *http.Request) (bucket, key string) {
	host := r.Host
	if i := strings.LastIndexByte(host, ':'); i >= 0 && !strings.Contains(host[i:], "]") {
		host = host[:i]
	}
	host = strings.ToLower(host)
	for _, suffix := range []string{".s3." + s.cfg.Region + ".localhost", ".s3.localhost"} {
		if b, ok := strings.CutSuffix(host, suffix); ok && b != "" {
			return b, strings.TrimPrefix(r.URL.Path, "/")
		}
	}
	p := strings.TrimPrefix(r.URL.Path, "/")
	bucket, key, _ = strings.Cut(p, "/")
	return bucket, key
}

type handler func(*request) error

// route picks the operation from the method, the target and the
// sub-resource in the query.
func (s *Service) route(q *request) (string, handler) {
	query := q.r.URL.Query()
	has := func(k string) bool { _, ok := query[k]; return ok }
	m := q.r.Method
	switch {
	case q.bucket == "":
		if m == http.MethodGet {
			return "ListBuckets", s.listBuckets
		}
	case q.key == "":
		switch {
		case has("location") && m == http.MethodGet:
			return "GetBucketLocation", s.getBucketLocation
		case has("uploads") && m == http.MethodGet:
			return "ListMultipartUploads", s.listUploads
		case has("delete") && m == http.MethodPost:
			return "DeleteObjects", s.deleteObjects
		case m == http.MethodPost && isPostForm(q.r):
			return "PostObject", s.postObject
		case has("policy") && m == http.MethodPut:
			return "PutBucketPolicy", s.putBucketPolicy
		case has("policy") && m == http.MethodGet:
			return "GetBucketPolicy", s.getBucketPolicy
		case has("policy") && m == http.MethodDelete:
			return "DeleteBucketPolicy", s.deleteBucketPolicy
		case has("notification") && m == http.MethodPut:
			return "PutBucketNotificationConfiguration", s.putBucketNotification
		case has("notification") && m == http.MethodGet:
			return "GetBucketNotificationConfiguration", s.getBucketNotification
		case has("tagging") && m == http.MethodPut:
			return "PutBucketTagging", s.putBucketTagging
		case has("tagging") && m == http.MethodGet:
			return "GetBucketTagging", s.getBucketTagging
		case has("tagging") && m == http.MethodDelete:
			return "DeleteBucketTagging", s.deleteBucketTagging
		case has("versions") && m == http.MethodGet:
			return "ListObjectVersions", s.listObjectVersions
		case has("versioning") && m == http.MethodPut:
			return "PutBucketVersioning", s.putBucketVersioning
		case has("versioning") && m == http.MethodGet:
			return "GetBucketVersioning", s.getBucketVersioning
		case has("lifecycle") && m == http.MethodPut:
			return "PutBucketLifecycleConfiguration", s.putBucketLifecycle
		case has("lifecycle") && m == http.MethodGet:
			return "GetBucketLifecycleConfiguration", s.getBucketLifecycle
		case has("lifecycle") && m == http.MethodDelete:
			return "DeleteBucketLifecycle", s.deleteBucketLifecycle
		case has("cors") && m == http.MethodPut:
			return "PutBucketCors", s.putBucketCors
		case has("cors") && m == http.MethodGet:
			return "GetBucketCors", s.getBucketCors
		case has("cors") && m == http.MethodDelete:
			return "DeleteBucketCors", s.deleteBucketCors
		case subResource(query):
			return "", nil // a sub-resource Kumo does not serve
		case m == http.MethodPut:
			return "CreateBucket", s.createBucket
		case m == http.MethodHead:
			return "HeadBucket", s.headBucket
		case m == http.MethodDelete:
			return "DeleteBucket", s.deleteBucket
		case m == http.MethodGet && query.Get("list-type") == "2":
			return "ListObjectsV2", s.listObjectsV2
		case m == http.MethodGet:
			return "ListObjects", s.listObjects
		}
	default:
		switch m {
		case http.MethodPut:
			switch {
			case has("uploadId") && has("partNumber") && q.r.Header.Get("X-Amz-Copy-Source") != "":
				return "UploadPartCopy", s.uploadPartCopy
			case has("uploadId") && has("partNumber"):
				return "UploadPart", s.uploadPart
			case has("tagging"):
				return "PutObjectTagging", s.putObjectTagging
			case has("acl") || has("retention") || has("legal-hold"):
				return "", nil
			case q.r.Header.Get("X-Amz-Copy-Source") != "":
				return "CopyObject", s.copyObject
			}
			return "PutObject", s.putObject
		case http.MethodGet:
			switch {
			case has("uploadId"):
				return "ListParts", s.listParts
			case has("tagging"):
				return "GetObjectTagging", s.getObjectTagging
			case has("acl") || has("attributes"):
				return "", nil
			}
			return "GetObject", s.getObject
		case http.MethodHead:
			return "HeadObject", s.headObject
		case http.MethodDelete:
			if has("uploadId") {
				return "AbortMultipartUpload", s.abortUpload
			}
			if has("tagging") {
				return "DeleteObjectTagging", s.deleteObjectTagging
			}
			return "DeleteObject", s.deleteObject
		case http.MethodPost:
			switch {
			case has("uploads"):
				return "CreateMultipartUpload", s.createUpload
			case has("uploadId"):
				return "CompleteMultipartUpload", s.completeUpload
			}
		}
	}
	return "", nil
}

// fail answers err in S3's XML, logging internal failures.
func (s *Service) fail(q *request, err error) {
	ae := awsproto.AsError(err)
	if ae.Status() >= 500 {
		s.log.Warn("s3 request failed", "requestId", awsproto.RequestID(q.r.Context()), "op", q.op, "error", err)
	}
	if q.bucket != "" {
		if _, ok := ae.Fields["BucketName"]; !ok && (ae.Code == awsproto.S3NoSuchBucket || ae.Code == awsproto.S3BucketNotEmpty ||
			ae.Code == awsproto.S3BucketAlreadyOwnedByYou || ae.Code == awsproto.S3InvalidBucketName) {
			ae = ae.With("BucketName", q.bucket)
		}
	}
	if ae.Code == awsproto.S3NoSuchKey {
		if _, ok := ae.Fields["Key"]; !ok {
			ae = ae.With("Key", q.key)
		}
	}
	if _, ok := ae.Fields["Resource"]; !ok && ae.Status() < 500 {
		ae = ae.With("Resource", q.r.URL.Path)
	}
	Errors.WriteError(q.w, q.r, ae)
}

// writeXML answers 200 with v as the document.
func writeXML(w http.ResponseWriter, v any) error {
	b, err := xml.Marshal(v)
	if err != nil {
		return awsproto.Internal(err)
	}
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(http.StatusOK)
	w.Write([]byte(xml.Header))
	w.Write(b)
	return nil
}

// readXML decodes a request's XML document of at most maxXMLBody bytes.
func readXML(r *http.Request, v any) error {
	dec := xml.NewDecoder(http.MaxBytesReader(nil, r.Body, maxXMLBody))
	if err := dec.Decode(v); err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return awsproto.Errorf(awsproto.S3MalformedXML, "Your XML document is larger than this operation allows.")
		}
		return awsproto.Errorf(awsproto.S3MalformedXML, "The XML you provided was not well-formed or did not validate against our published schema.")
	}
	return nil
}

// newID is a fresh random hex id for blobs and uploads.
func newID() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func (s *Service) now() time.Time { return s.cfg.Now().UTC() }

// ctx is the request's context.
func (q *request) ctx() context.Context { return q.r.Context() }

// bucketParams are the query parameters of a bucket's listings and of
// presigned URLs: anything else names a sub-resource.
var bucketParams = map[string]bool{"list-type": true, "prefix": true, "delimiter": true, "marker": true, "max-keys": true,
	"encoding-type": true, "continuation-token": true, "start-after": true, "fetch-owner": true, "x-id": true,
	"X-Amz-Algorithm": true, "X-Amz-Credential": true, "X-Amz-Date": true, "X-Amz-Expires": true, "X-Amz-SignedHeaders": true,
	"X-Amz-Signature": true, "X-Amz-Security-Token": true, "X-Amz-Content-Sha256": true,
	"AWSAccessKeyId": true, "Expires": true, "Signature": true, "x-amz-security-token": true}

func subResource(q url.Values) bool {
	for k := range q {
		if !bucketParams[k] {
			return true
		}
	}
	return false
}
