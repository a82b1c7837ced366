package s3_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kumo-run/kumo/internal/awsproto"
	"github.com/kumo-run/kumo/internal/edge"
	"github.com/kumo-run/kumo/internal/iam/authz"
	"github.com/kumo-run/kumo/internal/iam/token"
	"github.com/kumo-run/kumo/internal/natsd"
	"github.com/kumo-run/kumo/internal/poll"
	kumos3 "github.com/kumo-run/kumo/internal/services/s3"
	"github.com/kumo-run/kumo/internal/store"
)

const (
	fnARN    = "arn:aws:lambda:us-east-1:000000000000:function:thumbs"
	queueARN = "arn:aws:sqs:us-east-1:000000000000:events"
	topicARN = "arn:aws:sns:us-east-1:000000000000:events"
)

// recorder is the destinations of the tests: it keeps what it is sent,
// lets the functions in allowed be invoked, knows the queues and topics
// in exists, and fails every Send while failing is set.
type recorder struct {
	mu      sync.Mutex
	sent    []sent
	allowed map[string]bool
	exists  map[string]bool
	failing atomic.Bool
}

type sent struct {
	arn, bucketARN string
	body           []byte
}

func newRecorder() *recorder {
	return &recorder{allowed: map[string]bool{fnARN: true}, exists: map[string]bool{queueARN: true, topicARN: true}}
}

func (r *recorder) CheckFunction(_ context.Context, arn, bucketARN string) error {
	if !r.allowed[arn] {
		return fmt.Errorf("%w: the policy does not allow s3.amazonaws.com", kumos3.ErrDestination)
	}
	return nil
}

func (r *recorder) Send(_ context.Context, arn, bucketARN string, body []byte) error {
	if r.failing.Load() {
		return errors.New("destination unavailable")
	}
	if !r.allowed[arn] && !r.exists[arn] {
		return fmt.Errorf("%w: no such destination", kumos3.ErrDestination)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sent = append(r.sent, sent{arn, bucketARN, bytes.Clone(body)})
	return nil
}

// records are the event records sent to arn, in order.
func (r *recorder) records(t *testing.T, arn string) []record {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []record
	for _, s := range r.sent {
		if s.arn != arn || bytes.Contains(s.body, []byte(`"s3:TestEvent"`)) {
			continue
		}
		var ev struct{ Records []record }
		if err := json.Unmarshal(s.body, &ev); err != nil || len(ev.Records) != 1 {
			t.Fatalf("event body %s: %v", s.body, err)
		}
		out = append(out, ev.Records[0])
	}
	return out
}

func (r *recorder) testEvents(arn string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, s := range r.sent {
		if s.arn == arn && bytes.Contains(s.body, []byte(`"Event":"s3:TestEvent"`)) {
			n++
		}
	}
	return n
}

// record is an S3 event record as AWS documents it.
type record struct {
	EventVersion      string                       `json:"eventVersion"`
	EventSource       string                       `json:"eventSource"`
	AWSRegion         string                       `json:"awsRegion"`
	EventTime         string                       `json:"eventTime"`
	EventName         string                       `json:"eventName"`
	UserIdentity      struct{ PrincipalID string } `json:"userIdentity"`
	RequestParameters struct {
		SourceIPAddress string `json:"sourceIPAddress"`
	} `json:"requestParameters"`
	ResponseElements map[string]string `json:"responseElements"`
	S3               struct {
		SchemaVersion   string `json:"s3SchemaVersion"`
		ConfigurationID string `json:"configurationId"`
		Bucket          struct {
			Name          string `json:"name"`
			OwnerIdentity struct {
				PrincipalID string `json:"principalId"`
			} `json:"ownerIdentity"`
			ARN string `json:"arn"`
		} `json:"bucket"`
		Object map[string]any `json:"object"`
	} `json:"s3"`
}

// notifyHarness serves S3 with event notifications to a recorder; restart
// replaces the service by a new one on the same JetStream, as a server
// restart does.
type notifyHarness struct {
	*harness
	rec     *recorder
	nc      *nats.Conn
	kv      store.KV
	blobs   store.Blobs
	handler atomic.Pointer[kumos3.Service]
	offset  atomic.Int64 // added to the clock
	t       *testing.T
}

func newNotifyHarness(t *testing.T, wrapKV func(store.KV) store.KV) *notifyHarness {
	t.Helper()
	h := &notifyHarness{harness: &harness{auth: &authz.Static{}}, rec: newRecorder(), t: t}
	ns, err := natsd.Start(natsd.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Shutdown)
	if h.nc, err = ns.Connect("s3-notify-test"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.nc.Close)
	st, err := store.NewJetStream(h.nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if h.kv, err = st.KV(ctx, natsd.S3Bucket); err != nil {
		t.Fatal(err)
	}
	if wrapKV != nil {
		h.kv = wrapKV(h.kv)
	}
	if h.blobs, err = st.Blobs(ctx, natsd.S3Objects); err != nil {
		t.Fatal(err)
	}
	h.start()
	is, err := token.New(bytes.Repeat([]byte{7}, token.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	creds := &token.Store{Issuer: is, RootKeyID: rootKey, RootSecret: rootSecret, Root: token.Root("aws", account), Keys: h.auth}
	verifier := &awsproto.Verifier{Region: "us-east-1", Credentials: creds}
	h.srv = httptest.NewServer(edge.New(edge.Config{Verifier: verifier, Routes: []edge.Route{kumos3.Route(h, "us-east-1")}}))
	t.Cleanup(h.srv.Close)
	h.cl = h.client(rootKey, rootSecret)
	t.Cleanup(func() { h.handler.Load().Close() })
	return h
}

// start opens a new service on the harness's stores.
func (h *notifyHarness) start() {
	h.t.Helper()
	is, err := token.New(bytes.Repeat([]byte{7}, token.KeySize))
	if err != nil {
		h.t.Fatal(err)
	}
	creds := &token.Store{Issuer: is, RootKeyID: rootKey, RootSecret: rootSecret, Root: token.Root("aws", account), Keys: h.auth}
	svc := kumos3.New(kumos3.Config{KV: h.kv, Blobs: h.blobs, Verifier: &awsproto.Verifier{Region: "us-east-1", Credentials: creds},
		Region: "us-east-1", Account: account, Logger: testLogger(h.t),
		Authorizer: authz.New(authz.Config{Directory: h.auth, Region: "us-east-1"}),
		NATS:       h.nc, Destinations: h.rec, RetryDelay: 10 * time.Millisecond, CommitGrace: time.Minute,
		Now: func() time.Time { return time.Now().Add(time.Duration(h.offset.Load())) }})
	if err := svc.Start(context.Background()); err != nil {
		h.t.Fatal(err)
	}
	h.handler.Store(svc)
}

// restart closes the service and starts a new one.
func (h *notifyHarness) restart() {
	h.handler.Load().Close()
	h.start()
}

// ServeHTTP sends requests to the current service.
func (h *notifyHarness) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.handler.Load().ServeHTTP(w, r)
}

func (h *notifyHarness) configure(t *testing.T, bucket string) {
	t.Helper()
	ctx := context.Background()
	if _, err := h.cl.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatal(err)
	}
	rules := func(prefix, suffix string) *types.NotificationConfigurationFilter {
		return &types.NotificationConfigurationFilter{Key: &types.S3KeyFilter{FilterRules: []types.FilterRule{
			{Name: types.FilterRuleNamePrefix, Value: aws.String(prefix)}, {Name: types.FilterRuleNameSuffix, Value: aws.String(suffix)}}}}
	}
	_, err := h.cl.PutBucketNotificationConfiguration(ctx, &s3.PutBucketNotificationConfigurationInput{Bucket: aws.String(bucket),
		NotificationConfiguration: &types.NotificationConfiguration{
			LambdaFunctionConfigurations: []types.LambdaFunctionConfiguration{{Id: aws.String("thumbs"), LambdaFunctionArn: aws.String(fnARN),
				Events: []types.Event{"s3:ObjectCreated:*", "s3:ObjectRemoved:*"}, Filter: rules("in/", ".jpg")}},
			QueueConfigurations: []types.QueueConfiguration{{Id: aws.String("to-queue"), QueueArn: aws.String(queueARN),
				Events: []types.Event{"s3:ObjectCreated:Put"}, Filter: rules("q/", "")}},
			TopicConfigurations: []types.TopicConfiguration{{TopicArn: aws.String(topicARN),
				Events: []types.Event{"s3:ObjectCreated:*"}, Filter: rules("t/", "")}},
		}})
	if err != nil {
		t.Fatal(err)
	}
}

func TestNotificationConfiguration(t *testing.T) {
	h := newNotifyHarness(t, nil)
	ctx := context.Background()
	h.configure(t, "photos")
	if h.rec.testEvents(queueARN) != 1 || h.rec.testEvents(topicARN) != 1 || h.rec.testEvents(fnARN) != 0 {
		t.Fatalf("s3:TestEvent sent: queue %d, topic %d, function %d; want 1, 1, 0",
			h.rec.testEvents(queueARN), h.rec.testEvents(topicARN), h.rec.testEvents(fnARN))
	}
	out, err := h.cl.GetBucketNotificationConfiguration(ctx, &s3.GetBucketNotificationConfigurationInput{Bucket: aws.String("photos")})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.LambdaFunctionConfigurations) != 1 || len(out.QueueConfigurations) != 1 || len(out.TopicConfigurations) != 1 {
		t.Fatalf("configuration read back: %+v", out)
	}
	lc := out.LambdaFunctionConfigurations[0]
	if *lc.Id != "thumbs" || *lc.LambdaFunctionArn != fnARN || len(lc.Events) != 2 || lc.Events[0] != "s3:ObjectCreated:*" ||
		len(lc.Filter.Key.FilterRules) != 2 || *lc.Filter.Key.FilterRules[0].Value != "in/" || lc.Filter.Key.FilterRules[1].Name != types.FilterRuleNameSuffix {
		t.Fatalf("lambda configuration read back: %+v", lc)
	}
	if tc := out.TopicConfigurations[0]; tc.Id == nil || *tc.Id == "" || *tc.TopicArn != topicARN {
		t.Fatalf("topic configuration read back (a missing Id is generated): %+v", tc)
	}

	put := func(c types.NotificationConfiguration) error {
		_, err := h.cl.PutBucketNotificationConfiguration(ctx, &s3.PutBucketNotificationConfigurationInput{Bucket: aws.String("photos"), NotificationConfiguration: &c})
		return err
	}
	prefix := func(p string) *types.NotificationConfigurationFilter {
		return &types.NotificationConfigurationFilter{Key: &types.S3KeyFilter{FilterRules: []types.FilterRule{{Name: "prefix", Value: aws.String(p)}}}}
	}
	for _, tc := range []struct {
		name string
		c    types.NotificationConfiguration
		msg  string
	}{
		{"unknown event", types.NotificationConfiguration{QueueConfigurations: []types.QueueConfiguration{{QueueArn: aws.String(queueARN), Events: []types.Event{"s3:ObjectMoved:*"}}}},
			"The event is not supported for notifications"},
		{"overlapping prefixes", types.NotificationConfiguration{QueueConfigurations: []types.QueueConfiguration{
			{QueueArn: aws.String(queueARN), Events: []types.Event{"s3:ObjectCreated:*"}, Filter: prefix("in/")},
			{QueueArn: aws.String(queueARN), Events: []types.Event{"s3:ObjectCreated:Put"}, Filter: prefix("in/raw/")}}},
			"Configurations overlap. Configurations on the same bucket cannot share a common event type."},
		{"no filter overlaps any", types.NotificationConfiguration{
			LambdaFunctionConfigurations: []types.LambdaFunctionConfiguration{{LambdaFunctionArn: aws.String(fnARN), Events: []types.Event{"s3:ObjectRemoved:Delete"}}},
			TopicConfigurations:          []types.TopicConfiguration{{TopicArn: aws.String(topicARN), Events: []types.Event{"s3:ObjectRemoved:*"}, Filter: prefix("x/")}}},
			"Configurations overlap. Configurations on the same bucket cannot share a common event type."},
		{"two prefix rules", types.NotificationConfiguration{QueueConfigurations: []types.QueueConfiguration{{QueueArn: aws.String(queueARN), Events: []types.Event{"s3:ObjectCreated:*"},
			Filter: &types.NotificationConfigurationFilter{Key: &types.S3KeyFilter{FilterRules: []types.FilterRule{{Name: "prefix", Value: aws.String("a")}, {Name: "prefix", Value: aws.String("b")}}}}}}},
			"Cannot specify more than one prefix rule in a filter."},
		{"function policy lacks s3", types.NotificationConfiguration{LambdaFunctionConfigurations: []types.LambdaFunctionConfiguration{
			{LambdaFunctionArn: aws.String("arn:aws:lambda:us-east-1:000000000000:function:private"), Events: []types.Event{"s3:ObjectCreated:*"}}}},
			"Unable to validate the following destination configurations"},
		{"no such queue", types.NotificationConfiguration{QueueConfigurations: []types.QueueConfiguration{
			{QueueArn: aws.String("arn:aws:sqs:us-east-1:000000000000:nope"), Events: []types.Event{"s3:ObjectCreated:*"}}}},
			"Unable to validate the following destination configurations"},
	} {
		err := put(tc.c)
		mustCode(t, err, "InvalidArgument")
		if !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: %v, want the message %q", tc.name, err, tc.msg)
		}
	}
	// Disjoint filters on one event type are fine.
	if err := put(types.NotificationConfiguration{QueueConfigurations: []types.QueueConfiguration{
		{QueueArn: aws.String(queueARN), Events: []types.Event{"s3:ObjectCreated:*"}, Filter: prefix("in/")},
		{QueueArn: aws.String(queueARN), Events: []types.Event{"s3:ObjectCreated:Put"}, Filter: prefix("out/")}}}); err != nil {
		t.Fatalf("disjoint prefixes: %v", err)
	}
	// A refused configuration changed nothing; an empty one removes it.
	out, err = h.cl.GetBucketNotificationConfiguration(ctx, &s3.GetBucketNotificationConfigurationInput{Bucket: aws.String("photos")})
	if err != nil || len(out.QueueConfigurations) != 2 || len(out.LambdaFunctionConfigurations) != 0 {
		t.Fatalf("after the last accepted configuration: %+v, %v", out, err)
	}
	if err := put(types.NotificationConfiguration{}); err != nil {
		t.Fatal(err)
	}
	out, err = h.cl.GetBucketNotificationConfiguration(ctx, &s3.GetBucketNotificationConfigurationInput{Bucket: aws.String("photos")})
	if err != nil || len(out.QueueConfigurations)+len(out.LambdaFunctionConfigurations)+len(out.TopicConfigurations) != 0 {
		t.Fatalf("after an empty configuration: %+v, %v", out, err)
	}
	_, err = h.cl.GetBucketNotificationConfiguration(ctx, &s3.GetBucketNotificationConfigurationInput{Bucket: aws.String("nobucket")})
	mustCode(t, err, "NoSuchBucket")
}

func TestEventNotifications(t *testing.T) {
	h := newNotifyHarness(t, nil)
	ctx := context.Background()
	h.configure(t, "photos")
	putObj := func(key, body string) {
		t.Helper()
		if _, err := h.cl.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("photos"), Key: aws.String(key), Body: strings.NewReader(body)}); err != nil {
			t.Fatal(err)
		}
	}
	putObj("in/my photo.jpg", "jpeg!")
	putObj("out/photo.txt", "text")  // no configuration wants it
	putObj("in/photo.png", "png")    // wrong suffix
	putObj("in/my photo.jpg", "v2!") // a second event for the key
	if _, err := h.cl.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("photos"), Key: aws.String("in/copy.jpg"), CopySource: aws.String("photos/in/photo.png")}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.cl.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("photos"), Key: aws.String("in/my photo.jpg")}); err != nil {
		t.Fatal(err)
	}
	putObj("q/a.bin", "to the queue")
	putObj("t/b.bin", "to the topic")
	poll.Until(t, 0, "the function's four events", func() error {
		if rs := h.rec.records(t, fnARN); len(rs) < 4 {
			var got []string
			for _, r := range rs {
				got = append(got, r.EventName+" "+fmt.Sprint(r.S3.Object["key"]))
			}
			return fmt.Errorf("events %q", got)
		}
		return nil
	})
	poll.True(t, "the queue's and the topic's events", func() bool {
		return len(h.rec.records(t, queueARN)) == 1 && len(h.rec.records(t, topicARN)) == 1
	})
	rs := h.rec.records(t, fnARN)
	// Deliveries may arrive in any order; the sequencer orders one key's.
	byName := map[string][]record{}
	for _, r := range rs {
		byName[r.EventName+" "+r.S3.Object["key"].(string)] = append(byName[r.EventName+" "+r.S3.Object["key"].(string)], r)
	}
	puts := byName["ObjectCreated:Put in/my+photo.jpg"]
	dels := byName["ObjectRemoved:Delete in/my+photo.jpg"]
	copies := byName["ObjectCreated:Copy in/copy.jpg"]
	if len(rs) != 4 || len(puts) != 2 || len(dels) != 1 || len(copies) != 1 {
		t.Fatalf("events to the function: %+v", byName)
	}
	r := puts[0]
	if r.EventVersion != "2.1" || r.EventSource != "aws:s3" || r.AWSRegion != "us-east-1" || r.UserIdentity.PrincipalID != account ||
		r.RequestParameters.SourceIPAddress != "127.0.0.1" || r.ResponseElements["x-amz-request-id"] == "" || r.ResponseElements["x-amz-id-2"] == "" ||
		r.S3.SchemaVersion != "1.0" || r.S3.ConfigurationID != "thumbs" || r.S3.Bucket.Name != "photos" ||
		r.S3.Bucket.ARN != "arn:aws:s3:::photos" || r.S3.Bucket.OwnerIdentity.PrincipalID != account {
		t.Fatalf("event record: %+v", r)
	}
	if _, err := time.Parse("2006-01-02T15:04:05.000Z", r.EventTime); err != nil {
		t.Fatalf("eventTime %q: %v", r.EventTime, err)
	}
	seq := func(r record) string { return r.S3.Object["sequencer"].(string) }
	first, second := puts[0], puts[1]
	if seq(first) > seq(second) {
		first, second = second, first
	}
	if first.S3.Object["size"] != float64(5) || first.S3.Object["eTag"] != md5hex([]byte("jpeg!")) ||
		second.S3.Object["eTag"] != md5hex([]byte("v2!")) || seq(first) == seq(second) || !(seq(dels[0]) > seq(second)) {
		t.Fatalf("the key's events, in sequencer order: %+v, %+v, %+v", first.S3.Object, second.S3.Object, dels[0].S3.Object)
	}
	if _, ok := dels[0].S3.Object["size"]; ok {
		t.Fatalf("a delete event has no size: %+v", dels[0].S3.Object)
	}
	if q := h.rec.records(t, queueARN)[0]; q.EventName != "ObjectCreated:Put" || q.S3.ConfigurationID != "to-queue" || q.S3.Object["key"] != "q/a.bin" {
		t.Fatalf("the queue's event: %+v", q)
	}

	// Multipart uploads are CompleteMultipartUpload events.
	up, err := h.cl.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("photos"), Key: aws.String("in/big.jpg")})
	if err != nil {
		t.Fatal(err)
	}
	part, err := h.cl.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("photos"), Key: aws.String("in/big.jpg"), UploadId: up.UploadId,
		PartNumber: aws.Int32(1), Body: strings.NewReader("part one")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.cl.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String("photos"), Key: aws.String("in/big.jpg"), UploadId: up.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{{PartNumber: aws.Int32(1), ETag: part.ETag}}}}); err != nil {
		t.Fatal(err)
	}
	// DeleteObjects removes each key with its own event; a key that
	// does not exist sends none.
	if _, err := h.cl.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String("photos"), Delete: &types.Delete{Objects: []types.ObjectIdentifier{
		{Key: aws.String("in/copy.jpg")}, {Key: aws.String("in/never.jpg")}}}}); err != nil {
		t.Fatal(err)
	}
	poll.True(t, "the multipart upload's event", func() bool {
		for _, r := range h.rec.records(t, fnARN) {
			if r.EventName == "ObjectCreated:CompleteMultipartUpload" && r.S3.Object["key"] == "in/big.jpg" && r.S3.Object["size"] == float64(8) {
				return true
			}
		}
		return false
	})
	poll.True(t, "DeleteObjects' event", func() bool {
		for _, r := range h.rec.records(t, fnARN) {
			if r.EventName == "ObjectRemoved:Delete" && r.S3.Object["key"] == "in/copy.jpg" {
				return true
			}
		}
		return false
	})
	for _, r := range h.rec.records(t, fnARN) {
		if r.S3.Object["key"] == "in/never.jpg" {
			t.Fatalf("an event for a key that never existed: %+v", r)
		}
	}
}

// TestEventsSurviveRestart: events of writes made while the destination
// fails are delivered by the next server.
func TestEventsSurviveRestart(t *testing.T) {
	h := newNotifyHarness(t, nil)
	ctx := context.Background()
	h.configure(t, "photos")
	h.rec.failing.Store(true)
	for i := range 3 {
		if _, err := h.cl.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("photos"), Key: aws.String(fmt.Sprintf("in/%d.jpg", i)), Body: strings.NewReader("x")}); err != nil {
			t.Fatal(err)
		}
	}
	h.restart()
	if n := len(h.rec.records(t, fnARN)); n != 0 {
		t.Fatalf("%d events delivered to a failing destination", n)
	}
	h.rec.failing.Store(false)
	poll.True(t, "the three events after the restart", func() bool { return len(h.rec.records(t, fnARN)) >= 3 })
	keys := map[any]bool{}
	for _, r := range h.rec.records(t, fnARN) {
		keys[r.S3.Object["key"]] = true
	}
	if len(keys) != 3 {
		t.Fatalf("events after the restart: keys %v", keys)
	}
}

// failingCommits fails the writes of object records while on: the
// write's event is in the outbox, its record never written, as when a
// server dies between the two.
type failingCommits struct {
	store.KV
	on atomic.Bool
}

func (f *failingCommits) Put(ctx context.Context, key string, v []byte) (uint64, error) {
	if f.on.Load() && strings.HasPrefix(key, "o.") {
		return 0, errors.New("crash before the commit")
	}
	return f.KV.Put(ctx, key, v)
}

func (f *failingCommits) Create(ctx context.Context, key string, v []byte) (uint64, error) {
	if f.on.Load() && strings.HasPrefix(key, "o.") {
		return 0, errors.New("crash before the commit")
	}
	return f.KV.Create(ctx, key, v)
}

func (f *failingCommits) Update(ctx context.Context, key string, v []byte, rev uint64) (uint64, error) {
	if f.on.Load() && strings.HasPrefix(key, "o.") {
		return 0, errors.New("crash before the commit")
	}
	return f.KV.Update(ctx, key, v, rev)
}

// TestEventOfUncommittedWrite: a write that failed after its event was
// in the outbox sends no event once the grace has passed; one that
// committed does.
func TestEventOfUncommittedWrite(t *testing.T) {
	fc := &failingCommits{}
	h := newNotifyHarness(t, func(kv store.KV) store.KV { fc.KV = kv; return fc })
	ctx := context.Background()
	h.configure(t, "photos")
	fc.on.Store(true)
	_, err := h.cl.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("photos"), Key: aws.String("in/lost.jpg"), Body: strings.NewReader("x")})
	mustCode(t, err, "InternalError")
	fc.on.Store(false)
	h.offset.Store(int64(2 * time.Minute)) // past the grace
	js, err := jetstream.New(h.nc)
	if err != nil {
		t.Fatal(err)
	}
	poll.Until(t, 0, "the pending event to be dropped", func() error {
		st, err := js.Stream(ctx, natsd.S3EventsStream)
		if err != nil {
			return err
		}
		info, err := st.Info(ctx)
		if err != nil {
			return err
		}
		if info.State.Msgs != 0 {
			return fmt.Errorf("%d messages in the outbox", info.State.Msgs)
		}
		return nil
	})
	if _, err := h.cl.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("photos"), Key: aws.String("in/kept.jpg"), Body: strings.NewReader("x")}); err != nil {
		t.Fatal(err)
	}
	poll.True(t, "the committed write's event", func() bool { return len(h.rec.records(t, fnARN)) == 1 })
	if k := h.rec.records(t, fnARN)[0].S3.Object["key"]; k != "in/kept.jpg" {
		t.Fatalf("event for %v, want only in/kept.jpg's", k)
	}
}

// TestVersionedEvents: on a versioned bucket a PUT's event carries its
// version id, a DELETE raises ObjectRemoved:DeleteMarkerCreated with the
// marker's id (no size or ETag), and deleting a version for good
// ObjectRemoved:Delete with that version's id; the sequencers grow.
func TestVersionedEvents(t *testing.T) {
	h := newNotifyHarness(t, nil)
	ctx := context.Background()
	h.configure(t, "photos")
	if _, err := h.cl.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: aws.String("photos"),
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}}); err != nil {
		t.Fatal(err)
	}
	put, err := h.cl.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("photos"), Key: aws.String("in/v.jpg"), Body: strings.NewReader("x")})
	if err != nil {
		t.Fatal(err)
	}
	del, err := h.cl.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("photos"), Key: aws.String("in/v.jpg")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.cl.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("photos"), Key: aws.String("in/v.jpg"), VersionId: put.VersionId}); err != nil {
		t.Fatal(err)
	}
	poll.True(t, "three events", func() bool { return len(h.rec.records(t, fnARN)) >= 3 })
	rs := h.rec.records(t, fnARN)
	byName := map[string]record{}
	for _, r := range rs {
		byName[r.EventName] = r
	}
	p, m, d := byName["ObjectCreated:Put"], byName["ObjectRemoved:DeleteMarkerCreated"], byName["ObjectRemoved:Delete"]
	if p.S3.Object["versionId"] != aws.ToString(put.VersionId) || m.S3.Object["versionId"] != aws.ToString(del.VersionId) ||
		d.S3.Object["versionId"] != aws.ToString(put.VersionId) {
		t.Fatalf("version ids: put %v, marker %v, delete %v; want %s, %s, %s", p.S3.Object["versionId"], m.S3.Object["versionId"],
			d.S3.Object["versionId"], aws.ToString(put.VersionId), aws.ToString(del.VersionId), aws.ToString(put.VersionId))
	}
	if _, has := m.S3.Object["size"]; has || m.S3.Object["eTag"] != nil {
		t.Fatalf("the marker's event has a size or an ETag: %v", m.S3.Object)
	}
	ps, ms := p.S3.Object["sequencer"].(string), m.S3.Object["sequencer"].(string)
	if !(ms > ps) {
		t.Fatalf("sequencers: put %s, marker %s", ps, ms)
	}
}
