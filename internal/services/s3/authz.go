package s3

import (
	"errors"
	"strings"

	"github.com/kumo-run/kumo/internal/awsproto"
	"github.com/kumo-run/kumo/internal/iam"
	"github.com/kumo-run/kumo/internal/iam/authz"
)

// operations maps every operation route can choose to its IAM action, from
// the Amazon S3 actions table of the Service Authorization Reference: S3's
// actions are not its operation names (HeadBucket and both listings are
// s3:ListBucket, the multipart steps of an upload s3:PutObject).
var operations = map[string]string{
	"ListBuckets":                        "s3:ListAllMyBuckets",
	"CreateBucket":                       "s3:CreateBucket",
	"HeadBucket":                         "s3:ListBucket",
	"DeleteBucket":                       "s3:DeleteBucket",
	"GetBucketLocation":                  "s3:GetBucketLocation",
	"ListObjects":                        "s3:ListBucket",
	"ListObjectsV2":                      "s3:ListBucket",
	"ListMultipartUploads":               "s3:ListBucketMultipartUploads",
	"PutObject":                          "s3:PutObject",
	"CopyObject":                         "s3:PutObject",
	"GetObject":                          "s3:GetObject",
	"HeadObject":                         "s3:GetObject",
	"DeleteObject":                       "s3:DeleteObject",
	"DeleteObjects":                      "s3:DeleteObject",
	"CreateMultipartUpload":              "s3:PutObject",
	"UploadPart":                         "s3:PutObject",
	"CompleteMultipartUpload":            "s3:PutObject",
	"AbortMultipartUpload":               "s3:AbortMultipartUpload",
	"ListParts":                          "s3:ListMultipartUploadParts",
	"PutBucketPolicy":                    "s3:PutBucketPolicy",
	"GetBucketPolicy":                    "s3:GetBucketPolicy",
	"DeleteBucketPolicy":                 "s3:DeleteBucketPolicy",
	"PutBucketNotificationConfiguration": "s3:PutBucketNotification",
	"GetBucketNotificationConfiguration": "s3:GetBucketNotification",
	"PutObjectTagging":                   "s3:PutObjectTagging",
	"GetObjectTagging":                   "s3:GetObjectTagging",
	"DeleteObjectTagging":                "s3:DeleteObjectTagging",
	"PutBucketTagging":                   "s3:PutBucketTagging",
	"GetBucketTagging":                   "s3:GetBucketTagging",
	"DeleteBucketTagging":                "s3:PutBucketTagging",
	"PutBucketVersioning":                "s3:PutBucketVersioning",
	"GetBucketVersioning":                "s3:GetBucketVersioning",
	"PutBucketCors":                      "s3:PutBucketCORS",
	"GetBucketCors":                      "s3:GetBucketCORS",
	"DeleteBucketCors":                   "s3:PutBucketCORS",
	"ListObjectVersions":                 "s3:ListBucketVersions",
	"UploadPartCopy":                     "s3:PutObject",
	"PostObject":                         "s3:PutObject",
	"PutBucketLifecycleConfiguration":    "s3:PutLifecycleConfiguration",
	"GetBucketLifecycleConfiguration":    "s3:GetLifecycleConfiguration",
	"DeleteBucketLifecycle":              "s3:PutLifecycleConfiguration",
}

// versionActions are the actions whose request names a version
// (?versionId=) is authorized as another action.
var versionActions = map[string]string{
	"s3:GetObject":           "s3:GetObjectVersion",
	"s3:DeleteObject":        "s3:DeleteObjectVersion",
	"s3:GetObjectTagging":    "s3:GetObjectVersionTagging",
	"s3:PutObjectTagging":    "s3:PutObjectVersionTagging",
	"s3:DeleteObjectTagging": "s3:DeleteObjectVersionTagging",
}

// arn is the resource an operation acts on: the bucket, or an object in
// it, or "*" for ListBuckets.
func arn(bucket, key string) string {
	switch {
	case bucket == "":
		return "*"
	case key == "":
		return "arn:aws:s3:::" + bucket
	}
	return "arn:aws:s3:::" + bucket + "/" + key
}

// authorize checks op's action on bucket/key (key "" for the bucket).
// DeleteObjects and CopyObject call it again for each key and the source.
func (s *Service) authorize(q *request, op, bucket, key string) error {
	if (op == "DeleteObjects" || op == "PostObject") && key == "" {
		return nil // checked key by key; a form's key once read
	}
	action := operations[op]
	if v, ok := versionActions[action]; ok && key != "" && q.r.URL.Query().Has("versionId") {
		action = v
	}
	return s.authorizeAction(q, action, bucket, key)
}

// authorizeAction checks action on bucket/key (key "" for the bucket).
func (s *Service) authorizeAction(q *request, action, bucket, key string) error {
	if s.cfg.Authorizer == nil {
		return nil
	}
	c := authz.Check{Action: action, Resource: arn(bucket, key), SourceIP: authz.SourceIP(q.r), Denied: awsproto.S3AccessDenied}
	if bucket != "" && action != "s3:CreateBucket" {
		// The bucket policy is the resource policy, read through.
		var b bucketMeta
		if _, err := s.getJSON(q.ctx(), bucketKey(bucket), &b); err == nil && b.Policy != "" {
			c.ResourcePolicy, _ = iam.Parse(b.Policy, iam.KindResource) // checked when written
		}
	}
	return s.cfg.Authorizer.Authorize(q.ctx(), c)
}

// authenticate verifies the request's SigV4 header signature as S3 does
// and puts the caller in the request's context. The body is checked as it
// is read (body.go).
func (s *Service) authenticate(q *request) error {
	v := s.cfg.Verifier
	if v == nil {
		q.r = q.r.WithContext(awsproto.WithCaller(q.ctx(), awsproto.Caller{Anonymous: true}))
		return nil
	}
	if q.bucket != "" && q.key == "" && isPostForm(q.r) && q.r.Header.Get("Authorization") == "" {
		return nil // a form upload: its policy's signature is checked with the form (post.go)
	}
	var a awsproto.Authorization
	var cv *awsproto.ChunkVerifier
	var err error
	query := q.r.URL.Query()
	presigned := q.r.Header.Get("Authorization") == ""
	if presigned && query.Has("X-Amz-Signature") || presigned && query.Has("AWSAccessKeyId") && query.Has("Signature") {
		if query.Has("X-Amz-Signature") {
			a, err = v.VerifyPresigned(q.r)
		} else {
			a, err = v.VerifyPresignedV2(q.r)
		}
		if errors.Is(err, awsproto.ErrPresignedExpired) {
			return awsproto.Errorf(awsproto.S3AccessDenied, "Request has expired").With("Expires", q.r.URL.Query().Get("X-Amz-Expires"))
		}
	} else {
		a, cv, err = v.VerifyS3(q.r)
	}
	if err != nil {
		return s3AuthError(err)
	}
	q.chunks = cv
	q.r = q.r.WithContext(awsproto.WithCaller(q.ctx(), awsproto.Caller{AccessKeyID: a.AccessKeyID, Identity: a.Identity}))
	return nil
}

// s3AuthError turns the verifier's error (in the shared SigV4 codes that
// AWS's JSON and query services send) into the one S3 sends.
func s3AuthError(err error) error {
	e := awsproto.AsError(err)
	switch e.Code {
	case awsproto.MissingAuthenticationTokenException:
		return awsproto.Errorf(awsproto.S3AccessDenied, "Access Denied")
	case awsproto.UnrecognizedClientException:
		return awsproto.Errorf(awsproto.S3InvalidAccessKeyID, "The AWS Access Key Id you provided does not exist in our records.")
	case awsproto.ExpiredTokenException:
		return awsproto.Errorf(awsproto.S3ExpiredToken, "The provided token has expired.")
	case awsproto.IncompleteSignatureException:
		return awsproto.Errorf(awsproto.S3AuthorizationHeaderMalformed, "The authorization header is malformed; %s", e.Message)
	case awsproto.InvalidSignatureException:
		switch {
		case strings.HasPrefix(e.Message, "Signature expired") || strings.HasPrefix(e.Message, "Signature not yet current"):
			return awsproto.Errorf(awsproto.S3RequestTimeTooSkewed, "The difference between the request time and the current time is too large.")
		case strings.HasPrefix(e.Message, "Credential should be scoped") || strings.HasPrefix(e.Message, "Date in Credential"):
			return awsproto.Errorf(awsproto.S3AuthorizationHeaderMalformed, "The authorization header is malformed; %s", e.Message)
		case strings.HasPrefix(e.Message, "Missing required header") || strings.HasPrefix(e.Message, "There were headers"):
			return awsproto.Errorf(awsproto.S3AccessDenied, "%s", e.Message)
		}
		return awsproto.Errorf(awsproto.S3SignatureDoesNotMatch, "The request signature we calculated does not match the signature you provided. Check your key and signing method.")
	}
	return e
}
