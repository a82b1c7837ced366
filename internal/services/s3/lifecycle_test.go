package s3_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/kumo-run/kumo/internal/poll"
)

// lifecycleBucket makes a bucket whose lifecycle expirations notify the
// recorder's function, with rules as its lifecycle configuration.
func (h *notifyHarness) lifecycleBucket(t *testing.T, bucket string, rules ...types.LifecycleRule) {
	t.Helper()
	ctx := context.Background()
	if _, err := h.cl.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.cl.PutBucketNotificationConfiguration(ctx, &s3.PutBucketNotificationConfigurationInput{Bucket: aws.String(bucket),
		NotificationConfiguration: &types.NotificationConfiguration{LambdaFunctionConfigurations: []types.LambdaFunctionConfiguration{
			{Id: aws.String("expired"), LambdaFunctionArn: aws.String(fnARN), Events: []types.Event{"s3:LifecycleExpiration:*"}}}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.cl.PutBucketLifecycleConfiguration(ctx, &s3.PutBucketLifecycleConfigurationInput{Bucket: aws.String(bucket),
		LifecycleConfiguration: &types.BucketLifecycleConfiguration{Rules: rules}}); err != nil {
		t.Fatal(err)
	}
}

// advance moves the service's clock on by d and sweeps.
func (h *notifyHarness) sweepAfter(t *testing.T, d time.Duration) {
	t.Helper()
	h.offset.Add(int64(d))
	if err := h.handler.Load().SweepLifecycle(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func (h *notifyHarness) exists(t *testing.T, bucket, key string) bool {
	t.Helper()
	_, err := h.cl.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil && status(err) != 404 {
		t.Fatal(err)
	}
	return err == nil
}

func enabled(id string) types.LifecycleRule {
	return types.LifecycleRule{ID: aws.String(id), Status: types.ExpirationStatusEnabled}
}

// TestLifecycleConfiguration: the configuration reads back; S3's
// validation errors.
func TestLifecycleConfiguration(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	b := aws.String("lc-conf")
	if _, err := h.cl.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: b}); err != nil {
		t.Fatal(err)
	}
	_, err := h.cl.GetBucketLifecycleConfiguration(ctx, &s3.GetBucketLifecycleConfigurationInput{Bucket: b})
	mustCode(t, err, "NoSuchLifecycleConfiguration")
	r := enabled("logs")
	r.Filter = &types.LifecycleRuleFilter{And: &types.LifecycleRuleAndOperator{Prefix: aws.String("logs/"), Tags: []types.Tag{{Key: aws.String("t"), Value: aws.String("1")}}}}
	r.Expiration = &types.LifecycleExpiration{Days: aws.Int32(7)}
	r.NoncurrentVersionExpiration = &types.NoncurrentVersionExpiration{NoncurrentDays: aws.Int32(3), NewerNoncurrentVersions: aws.Int32(2)}
	if _, err := h.cl.PutBucketLifecycleConfiguration(ctx, &s3.PutBucketLifecycleConfigurationInput{Bucket: b,
		LifecycleConfiguration: &types.BucketLifecycleConfiguration{Rules: []types.LifecycleRule{r}}}); err != nil {
		t.Fatal(err)
	}
	got, err := h.cl.GetBucketLifecycleConfiguration(ctx, &s3.GetBucketLifecycleConfigurationInput{Bucket: b})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Rules) != 1 || aws.ToString(got.Rules[0].ID) != "logs" || aws.ToInt32(got.Rules[0].Expiration.Days) != 7 ||
		aws.ToString(got.Rules[0].Filter.And.Prefix) != "logs/" || len(got.Rules[0].Filter.And.Tags) != 1 ||
		aws.ToInt32(got.Rules[0].NoncurrentVersionExpiration.NewerNoncurrentVersions) != 2 {
		t.Fatalf("read back: %+v", got.Rules)
	}
	bad := func(want string, rules ...types.LifecycleRule) {
		t.Helper()
		_, err := h.cl.PutBucketLifecycleConfiguration(ctx, &s3.PutBucketLifecycleConfigurationInput{Bucket: b,
			LifecycleConfiguration: &types.BucketLifecycleConfiguration{Rules: rules}})
		mustCode(t, err, want)
	}
	zero := enabled("zero")
	zero.Filter = &types.LifecycleRuleFilter{Prefix: aws.String("")}
	zero.Expiration = &types.LifecycleExpiration{Days: aws.Int32(0)}
	bad("InvalidArgument", zero)
	none := enabled("none")
	none.Filter = &types.LifecycleRuleFilter{Prefix: aws.String("")}
	bad("InvalidRequest", none)
	noon := enabled("noon")
	noon.Filter = &types.LifecycleRuleFilter{Prefix: aws.String("")}
	noon.Expiration = &types.LifecycleExpiration{Date: aws.Time(time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC))}
	bad("InvalidArgument", noon)
	move := enabled("move")
	move.Filter = &types.LifecycleRuleFilter{Prefix: aws.String("")}
	move.Transitions = []types.Transition{{Days: aws.Int32(30), StorageClass: types.TransitionStorageClassGlacier}}
	bad("NotImplemented", move)
	twice := enabled("logs")
	twice.Filter = &types.LifecycleRuleFilter{Prefix: aws.String("")}
	twice.Expiration = &types.LifecycleExpiration{Days: aws.Int32(1)}
	bad("InvalidArgument", twice, twice)
	// The refused configurations changed nothing.
	if got, err := h.cl.GetBucketLifecycleConfiguration(ctx, &s3.GetBucketLifecycleConfigurationInput{Bucket: b}); err != nil || aws.ToString(got.Rules[0].ID) != "logs" {
		t.Fatalf("after refusals: %+v, %v", got, err)
	}
	if _, err := h.cl.DeleteBucketLifecycle(ctx, &s3.DeleteBucketLifecycleInput{Bucket: b}); err != nil {
		t.Fatal(err)
	}
	_, err = h.cl.GetBucketLifecycleConfiguration(ctx, &s3.GetBucketLifecycleConfigurationInput{Bucket: b})
	mustCode(t, err, "NoSuchLifecycleConfiguration")
}

// TestLifecycleExpiration: in an unversioned bucket, objects a rule's
// prefix or tag filter takes are deleted once their days have passed
// (counted to the next midnight UTC), with s3:LifecycleExpiration:Delete
// events; others stay; old multipart uploads are aborted.
func TestLifecycleExpiration(t *testing.T) {
	h := newNotifyHarness(t, nil)
	ctx := context.Background()
	logs := enabled("logs")
	logs.Filter = &types.LifecycleRuleFilter{Prefix: aws.String("logs/")}
	logs.Expiration = &types.LifecycleExpiration{Days: aws.Int32(1)}
	tmp := enabled("tmp")
	tmp.Filter = &types.LifecycleRuleFilter{Tag: &types.Tag{Key: aws.String("tmp"), Value: aws.String("yes")}}
	tmp.Expiration = &types.LifecycleExpiration{Days: aws.Int32(3)}
	uploads := enabled("uploads")
	uploads.Filter = &types.LifecycleRuleFilter{Prefix: aws.String("")}
	uploads.AbortIncompleteMultipartUpload = &types.AbortIncompleteMultipartUpload{DaysAfterInitiation: aws.Int32(1)}
	h.lifecycleBucket(t, "lc-expire", logs, tmp, uploads)
	b := aws.String("lc-expire")
	for _, k := range []string{"logs/a", "keep/b", "tagged"} {
		in := &s3.PutObjectInput{Bucket: b, Key: aws.String(k), Body: strings.NewReader(k)}
		if k == "tagged" {
			in.Tagging = aws.String("tmp=yes")
		}
		if _, err := h.cl.PutObject(ctx, in); err != nil {
			t.Fatal(err)
		}
	}
	up, err := h.cl.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: b, Key: aws.String("big")})
	if err != nil {
		t.Fatal(err)
	}
	h.sweepAfter(t, 0)
	if !h.exists(t, "lc-expire", "logs/a") || !h.exists(t, "lc-expire", "tagged") {
		t.Fatal("a sweep before the days passed removed objects")
	}
	h.sweepAfter(t, 49*time.Hour)
	if h.exists(t, "lc-expire", "logs/a") || !h.exists(t, "lc-expire", "keep/b") || !h.exists(t, "lc-expire", "tagged") {
		t.Fatalf("after two days: logs/a %v, keep/b %v, tagged %v", h.exists(t, "lc-expire", "logs/a"), h.exists(t, "lc-expire", "keep/b"), h.exists(t, "lc-expire", "tagged"))
	}
	_, err = h.cl.ListParts(ctx, &s3.ListPartsInput{Bucket: b, Key: aws.String("big"), UploadId: up.UploadId})
	mustCode(t, err, "NoSuchUpload")
	h.sweepAfter(t, 48*time.Hour)
	if h.exists(t, "lc-expire", "tagged") || !h.exists(t, "lc-expire", "keep/b") {
		t.Fatal("after four days the tagged object should be gone, keep/b kept")
	}
	poll.True(t, "two expiration events", func() bool { return len(h.rec.records(t, fnARN)) >= 2 })
	rs := h.rec.records(t, fnARN)
	keys := map[any]string{}
	for _, r := range rs {
		keys[r.S3.Object["key"]] = r.EventName
		if r.UserIdentity.PrincipalID != "s3.amazonaws.com" {
			t.Fatalf("expiration event principal %q", r.UserIdentity.PrincipalID)
		}
	}
	if len(rs) != 2 || keys["logs/a"] != "LifecycleExpiration:Delete" || keys["tagged"] != "LifecycleExpiration:Delete" {
		t.Fatalf("events: %v", keys)
	}
}

// TestLifecycleVersioned: in a versioned bucket an expired current
// version gets a delete marker (LifecycleExpiration:DeleteMarkerCreated),
// noncurrent versions expire their days after they became noncurrent
// (keeping NewerNoncurrentVersions), and a delete marker left alone is
// removed by ExpiredObjectDeleteMarker.
func TestLifecycleVersioned(t *testing.T) {
	h := newNotifyHarness(t, nil)
	ctx := context.Background()
	current := enabled("current")
	current.Filter = &types.LifecycleRuleFilter{Prefix: aws.String("")}
	current.Expiration = &types.LifecycleExpiration{Days: aws.Int32(10)}
	current.NoncurrentVersionExpiration = &types.NoncurrentVersionExpiration{NoncurrentDays: aws.Int32(1), NewerNoncurrentVersions: aws.Int32(1)}
	markers := enabled("markers")
	markers.Filter = &types.LifecycleRuleFilter{Prefix: aws.String("")}
	markers.Expiration = &types.LifecycleExpiration{ExpiredObjectDeleteMarker: aws.Bool(true)}
	h.lifecycleBucket(t, "lc-vers", current, markers)
	b := aws.String("lc-vers")
	if _, err := h.cl.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: b,
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}}); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, body := range []string{"v0", "v1", "v2"} {
		out, err := h.cl.PutObject(ctx, &s3.PutObjectInput{Bucket: b, Key: aws.String("k"), Body: strings.NewReader(body)})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, aws.ToString(out.VersionId))
	}
	versions := func() (vs, ms []string) {
		t.Helper()
		out, err := h.cl.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: b})
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range out.Versions {
			vs = append(vs, aws.ToString(v.VersionId))
		}
		for _, m := range out.DeleteMarkers {
			ms = append(ms, aws.ToString(m.VersionId))
		}
		return vs, ms
	}
	// Two days on: v0 and v1 are noncurrent for a day and more; one newer
	// noncurrent version (v1) is kept.
	h.sweepAfter(t, 49*time.Hour)
	if vs, ms := versions(); len(vs) != 2 || vs[0] != ids[2] || vs[1] != ids[1] || len(ms) != 0 {
		t.Fatalf("after two days: versions %v, markers %v; want [v2 v1]", vs, ms)
	}
	// Eleven days on: v2 expires into a delete marker; v2 is then the
	// newer noncurrent version kept, v1 goes.
	h.sweepAfter(t, 9*24*time.Hour)
	vs, ms := versions()
	if len(vs) != 1 || vs[0] != ids[2] || len(ms) != 1 {
		t.Fatalf("after eleven days: versions %v, markers %v; want [v2] and a marker", vs, ms)
	}
	if h.exists(t, "lc-vers", "k") {
		t.Fatal("k still readable under the lifecycle's delete marker")
	}
	// Deleting v2 leaves the marker alone: ExpiredObjectDeleteMarker
	// removes it.
	if _, err := h.cl.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: b, Key: aws.String("k"), VersionId: aws.String(ids[2])}); err != nil {
		t.Fatal(err)
	}
	h.sweepAfter(t, time.Hour)
	if vs, ms := versions(); len(vs) != 0 || len(ms) != 0 {
		t.Fatalf("at the end: versions %v, markers %v", vs, ms)
	}
	poll.True(t, "the expiration events", func() bool { return len(h.rec.records(t, fnARN)) >= 4 })
	names := map[string]int{}
	for _, r := range h.rec.records(t, fnARN) {
		names[r.EventName]++
	}
	// v0, v1, the marker: deletes; v2's expiry: a marker.
	if names["LifecycleExpiration:DeleteMarkerCreated"] != 1 || names["LifecycleExpiration:Delete"] != 3 {
		t.Fatalf("events: %v", names)
	}
}
