package e2e

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// photoHandler reads the object each S3 event names with boto3 (the
// sandbox's AWS_ENDPOINT_URL and role credentials) and writes
// out/<name>.txt describing it.
const photoHandler = `import json, os, posixpath, urllib.parse
import boto3
from botocore.config import Config

s3 = boto3.client("s3", config=Config(s3={"addressing_style": "path"}))


def handler(event, context):
    for r in event["Records"]:
        key = urllib.parse.unquote_plus(r["s3"]["object"]["key"])
        print("S3-EVENT " + r["eventName"] + " " + key)
        body = s3.get_object(Bucket=r["s3"]["bucket"]["name"], Key=key)["Body"].read()
        name = posixpath.splitext(posixpath.basename(key))[0]
        s3.put_object(Bucket=r["s3"]["bucket"]["name"], Key="out/" + name + ".txt",
                      Body=("%d bytes: %s" % (len(body), body.decode())).encode())
    return {}
`

// TestS3Notifications: an upload of in/photo.jpg makes S3 invoke a
// Python function (prefix in/, suffix .jpg) that reads the object with
// boto3 and writes out/photo.txt, whose upload invokes nothing; S3 may
// only name a function whose policy allows s3.amazonaws.com for the
// bucket; a queue and a topic (with a queue subscribed) receive the
// s3:TestEvent and then the event records of their keys.
func TestS3Notifications(t *testing.T) {
	requireHostBoto3(t)
	t.Parallel()
	s := startServer(t, t.TempDir(), "--sandbox", "process")
	c := newCLI(t, s)
	grantTestRole(t, s)
	c.ok("iam", "put-role-policy", "--role-name", "lambda-role", "--policy-name", "s3",
		"--policy-document", policyDoc("Allow", []string{"s3:*"}, "*"))
	zip := makeZip(t, zipEntry{Name: "app.py", Body: photoHandler})
	args := []string{"lambda", "create-function", "--function-name", "photos-fn", "--runtime", "python3.12", "--handler", "app.handler",
		"--role", testRole, "--timeout", "30", "--zip-file", "fileb://" + writeTemp(t, "photos.zip", zip)}
	if cliV2(t) {
		args = append(args, "--cli-binary-format", "raw-in-base64-out")
	}
	c.ok(args...)
	c.ok("lambda", "wait", "function-active-v2", "--function-name", "photos-fn")
	c.ok("s3api", "create-bucket", "--bucket", "photos")

	lambdaConf := `{"LambdaFunctionConfigurations":[{"Id":"thumbs","LambdaFunctionArn":"` + functionARN("photos-fn") + `",
		"Events":["s3:ObjectCreated:*"],"Filter":{"Key":{"FilterRules":[{"Name":"prefix","Value":"in/"},{"Name":"suffix","Value":".jpg"}]}}}]}`
	// The function's policy does not allow S3 yet.
	r := c.fail("InvalidArgument", "s3api", "put-bucket-notification-configuration", "--bucket", "photos", "--notification-configuration", lambdaConf)
	if !strings.Contains(r.Stderr, "Unable to validate the following destination configurations") {
		t.Fatalf("want S3's destination message:\n%s", r)
	}
	// A permission for another bucket does not do either.
	c.ok("lambda", "add-permission", "--function-name", "photos-fn", "--statement-id", "other", "--action", "lambda:InvokeFunction",
		"--principal", "s3.amazonaws.com", "--source-arn", "arn:aws:s3:::other-bucket")
	c.fail("InvalidArgument", "s3api", "put-bucket-notification-configuration", "--bucket", "photos", "--notification-configuration", lambdaConf)
	c.ok("lambda", "add-permission", "--function-name", "photos-fn", "--statement-id", "s3", "--action", "lambda:InvokeFunction",
		"--principal", "s3.amazonaws.com", "--source-arn", "arn:aws:s3:::photos", "--source-account", accountID)

	queueURL := jstr(c.ok("sqs", "create-queue", "--queue-name", "s3-events"), "QueueUrl")
	subURL := jstr(c.ok("sqs", "create-queue", "--queue-name", "topic-events"), "QueueUrl")
	queueARN := "arn:aws:sqs:" + region + ":" + accountID + ":s3-events"
	topic := jstr(c.ok("sns", "create-topic", "--name", "s3-topic"), "TopicArn")
	allowTopic(t, s, subURL, "topic-events", topic)
	c.ok("sns", "subscribe", "--topic-arn", topic, "--protocol", "sqs", "--notification-endpoint", "arn:aws:sqs:"+region+":"+accountID+":topic-events")

	conf := `{"LambdaFunctionConfigurations":[{"Id":"thumbs","LambdaFunctionArn":"` + functionARN("photos-fn") + `",
		"Events":["s3:ObjectCreated:*"],"Filter":{"Key":{"FilterRules":[{"Name":"prefix","Value":"in/"},{"Name":"suffix","Value":".jpg"}]}}}],
	"QueueConfigurations":[{"Id":"to-queue","QueueArn":"` + queueARN + `","Events":["s3:ObjectCreated:Put","s3:ObjectRemoved:*"],
		"Filter":{"Key":{"FilterRules":[{"Name":"prefix","Value":"data/"}]}}}],
	"TopicConfigurations":[{"Id":"to-topic","TopicArn":"` + topic + `","Events":["s3:ObjectCreated:*"],
		"Filter":{"Key":{"FilterRules":[{"Name":"prefix","Value":"reports/"}]}}}]}`
	// Until the queue's and the topic's policies let S3 send for the
	// bucket, the configuration is refused, each destination named.
	r = c.fail("InvalidArgument", "s3api", "put-bucket-notification-configuration", "--bucket", "photos", "--notification-configuration", conf)
	if !strings.Contains(r.Stderr, "Unable to validate the following destination configurations") {
		t.Fatalf("want S3's destination message:\n%s", r)
	}
	allowS3(t, s, "sqs", queueURL, queueARN, "photos")
	c.fail("InvalidArgument", "s3api", "put-bucket-notification-configuration", "--bucket", "photos", "--notification-configuration", conf)
	allowS3(t, s, "sns", topic, topic, "other-bucket")
	c.fail("InvalidArgument", "s3api", "put-bucket-notification-configuration", "--bucket", "photos", "--notification-configuration", conf)
	allowS3(t, s, "sns", topic, topic, "photos")
	c.ok("s3api", "put-bucket-notification-configuration", "--bucket", "photos", "--notification-configuration", conf)
	got := c.ok("s3api", "get-bucket-notification-configuration", "--bucket", "photos")
	if jstr(got, "LambdaFunctionConfigurations", "0", "Id") != "thumbs" || jstr(got, "QueueConfigurations", "0", "QueueArn") != queueARN ||
		jstr(got, "TopicConfigurations", "0", "TopicArn") != topic ||
		jstr(got, "LambdaFunctionConfigurations", "0", "Filter", "Key", "FilterRules", "1", "Value") != ".jpg" {
		t.Fatalf("get-bucket-notification-configuration: %v", got)
	}

	// The queue and the topic's queue got s3:TestEvent.
	receive := func(url string) []string {
		out := c.ok("sqs", "receive-message", "--queue-url", url, "--max-number-of-messages", "10", "--wait-time-seconds", "1")
		ms, _ := jget(out, "Messages").([]any)
		var bodies []string
		for _, m := range ms {
			bodies = append(bodies, jstr(m, "Body"))
			c.ok("sqs", "delete-message", "--queue-url", url, "--receipt-handle", jstr(m, "ReceiptHandle"))
		}
		return bodies
	}
	var queued, topicQueued []string
	eventually(t, 60*time.Second, "the test events", func() error {
		queued = append(queued, receive(queueURL)...)
		topicQueued = append(topicQueued, receive(subURL)...)
		if len(queued) == 0 || len(topicQueued) == 0 {
			return fmt.Errorf("queue %d, topic's queue %d messages", len(queued), len(topicQueued))
		}
		return nil
	})
	var te map[string]any
	if err := json.Unmarshal([]byte(queued[0]), &te); err != nil || te["Event"] != "s3:TestEvent" || te["Bucket"] != "photos" || te["Service"] != "Amazon S3" {
		t.Fatalf("the queue's test event: %s (%v)", queued[0], err)
	}
	var env map[string]any
	if err := json.Unmarshal([]byte(topicQueued[0]), &env); err != nil || !strings.Contains(jstr(env, "Message"), `"s3:TestEvent"`) ||
		jstr(env, "Subject") != "Amazon S3 Notification" {
		t.Fatalf("the topic's test event: %s (%v)", topicQueued[0], err)
	}

	// The function's round trip.
	dir := t.TempDir()
	photo := writeTemp(t, "photo.jpg", []byte("JPEG DATA"))
	cp := func(args ...string) {
		t.Helper()
		if r := c.run(args...); r.Code != 0 {
			t.Fatalf("command failed:\n%s", r)
		}
	}
	cp("s3", "cp", photo, "s3://photos/in/photo.jpg")
	eventually(t, 120*time.Second, "out/photo.txt written by the function", func() error {
		r := c.run("s3", "cp", "s3://photos/out/photo.txt", dir+"/photo.txt")
		if r.Code != 0 {
			return errors.New(r.String())
		}
		return nil
	})
	if b := readFile(t, dir+"/photo.txt"); b != "9 bytes: JPEG DATA" {
		t.Fatalf("out/photo.txt: %q", b)
	}
	// A second photo, once processed, shows the function ran for the two
	// photos only: out/photo.txt's own upload matched no filter.
	cp("s3", "cp", photo, "s3://photos/in/second photo.jpg")
	eventually(t, 120*time.Second, "out/second photo.txt", func() error {
		if r := c.run("s3api", "head-object", "--bucket", "photos", "--key", "out/second photo.txt"); r.Code != 0 {
			return errors.New(r.String())
		}
		return nil
	})
	logsCl := newLogsClient(s)
	var lines []logLine
	eventually(t, 60*time.Second, "the function's two events in its log", func() error {
		var err error
		if lines, err = allLogEvents(t, logsCl, "/aws/lambda/photos-fn", "S3-EVENT"); err != nil {
			return err
		}
		if len(lines) < 2 {
			return fmt.Errorf("%d events logged", len(lines))
		}
		return nil
	})
	var seen []string
	for _, l := range lines {
		seen = append(seen, strings.TrimSpace(l.Message[strings.Index(l.Message, "S3-EVENT"):]))
	}
	if len(seen) != 2 || seen[0] != "S3-EVENT ObjectCreated:Put in/photo.jpg" || seen[1] != "S3-EVENT ObjectCreated:Put in/second photo.jpg" {
		t.Fatalf("the function's events: %q", seen)
	}

	// The queue's and the topic's records.
	cp("s3", "cp", photo, "s3://photos/data/a b.csv")
	cp("s3", "cp", photo, "s3://photos/reports/r.csv")
	cp("s3", "rm", "s3://photos/data/a b.csv")
	var recs []map[string]any
	eventually(t, 60*time.Second, "the queue's two records", func() error {
		for _, b := range receive(queueURL) {
			var ev struct{ Records []map[string]any }
			if err := json.Unmarshal([]byte(b), &ev); err != nil || len(ev.Records) != 1 {
				return fmt.Errorf("queue message %s: %v", b, err)
			}
			recs = append(recs, ev.Records[0])
		}
		if len(recs) < 2 {
			return fmt.Errorf("%d records", len(recs))
		}
		return nil
	})
	names := map[string]map[string]any{}
	for _, r := range recs {
		names[jstr(r, "eventName")] = r
	}
	put, del := names["ObjectCreated:Put"], names["ObjectRemoved:Delete"]
	if put == nil || del == nil || jstr(put, "s3", "object", "key") != "data/a+b.csv" || jstr(del, "s3", "object", "key") != "data/a+b.csv" ||
		jstr(put, "eventVersion") != "2.1" || jstr(put, "eventSource") != "aws:s3" || jstr(put, "awsRegion") != region ||
		jstr(put, "s3", "configurationId") != "to-queue" || jstr(put, "s3", "bucket", "arn") != "arn:aws:s3:::photos" ||
		jget(put, "s3", "object", "size") != float64(9) || jstr(put, "s3", "object", "eTag") == "" ||
		!(jstr(del, "s3", "object", "sequencer") > jstr(put, "s3", "object", "sequencer")) {
		t.Fatalf("the queue's records: %v", recs)
	}
	var topicRec map[string]any
	eventually(t, 60*time.Second, "the topic's record", func() error {
		for _, b := range receive(subURL) {
			var env map[string]any
			var ev struct{ Records []map[string]any }
			if err := json.Unmarshal([]byte(b), &env); err != nil {
				return err
			}
			if err := json.Unmarshal([]byte(jstr(env, "Message")), &ev); err != nil || len(ev.Records) != 1 {
				return fmt.Errorf("topic message %s: %v", b, err)
			}
			topicRec = ev.Records[0]
			if jstr(env, "Subject") != "Amazon S3 Notification" {
				t.Fatalf("the topic's message Subject %q", jstr(env, "Subject"))
			}
		}
		if topicRec == nil {
			return errors.New("none yet")
		}
		return nil
	})
	if jstr(topicRec, "eventName") != "ObjectCreated:Put" || jstr(topicRec, "s3", "object", "key") != "reports/r.csv" ||
		jstr(topicRec, "s3", "configurationId") != "to-topic" || jstr(topicRec, "s3", "bucket", "name") != "photos" {
		t.Fatalf("the topic's record: %v", topicRec)
	}
}

// allowS3 sets the policy of a queue (service "sqs", id its URL) or a
// topic ("sns", id its ARN) to let S3 send for bucket, as AWS requires of
// a notification destination.
func allowS3(t *testing.T, s *server, service, id, arn, bucket string) {
	t.Helper()
	action := map[string]string{"sqs": "sqs:SendMessage", "sns": "sns:Publish"}[service]
	policy, _ := json.Marshal(map[string]any{"Version": "2012-10-17", "Statement": []any{map[string]any{
		"Effect": "Allow", "Principal": map[string]string{"Service": "s3.amazonaws.com"}, "Action": action,
		"Resource": arn, "Condition": map[string]any{"ArnLike": map[string]string{"aws:SourceArn": "arn:aws:s3:::" + bucket}}}}})
	if service == "sqs" {
		attrs, _ := json.Marshal(map[string]string{"Policy": string(policy)})
		awsOK(t, s.env(), "--endpoint-url", s.url, "sqs", "set-queue-attributes", "--queue-url", id, "--attributes", string(attrs))
		return
	}
	awsOK(t, s.env(), "--endpoint-url", s.url, "sns", "set-topic-attributes", "--topic-arn", id, "--attribute-name", "Policy",
		"--attribute-value", string(policy))
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestS3NotificationsKill9: every write acknowledged before kill -9 has
// its event in the queue after the restart (at least once: a duplicate
// is allowed, a loss is not).
func TestS3NotificationsKill9(t *testing.T) {
	t.Parallel()
	dataDir := t.TempDir()
	s := startServer(t, dataDir, "--sandbox", "process")
	ctx := t.Context()
	qc := newSQS(s)
	q, err := qc.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("kill-events")})
	if err != nil {
		t.Fatal(err)
	}
	sc := s3.NewFromConfig(aws.Config{Region: region, Credentials: credentials.NewStaticCredentialsProvider(rootAccessKeyID, rootSecretAccessKey, ""),
		RetryMaxAttempts: 1}, func(o *s3.Options) { o.BaseEndpoint = aws.String(s.url); o.UsePathStyle = true })
	if _, err := sc.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("kill")}); err != nil {
		t.Fatal(err)
	}
	allowS3(t, s, "sqs", aws.ToString(q.QueueUrl), "arn:aws:sqs:"+region+":"+accountID+":kill-events", "kill")
	if _, err := sc.PutBucketNotificationConfiguration(ctx, &s3.PutBucketNotificationConfigurationInput{Bucket: aws.String("kill"),
		NotificationConfiguration: &s3types.NotificationConfiguration{QueueConfigurations: []s3types.QueueConfiguration{
			{QueueArn: aws.String("arn:aws:sqs:" + region + ":" + accountID + ":kill-events"), Events: []s3types.Event{"s3:ObjectCreated:*"}}}}}); err != nil {
		t.Fatal(err)
	}
	const n = 60
	var (
		mu    sync.Mutex
		acked []string
		wg    sync.WaitGroup
	)
	for w := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += 6 {
				key := fmt.Sprintf("k/%03d", i)
				if _, err := sc.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("kill"), Key: aws.String(key), Body: strings.NewReader(key)}); err == nil {
					mu.Lock()
					acked = append(acked, key)
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	s.kill9()
	s = startServer(t, dataDir, "--sandbox", "process")
	qc = newSQS(s)
	seen := map[string]bool{}
	eventually(t, 120*time.Second, "every acknowledged write's event", func() error {
		out, err := qc.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: q.QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1})
		if err != nil {
			return err
		}
		for _, m := range out.Messages {
			var ev struct {
				Records []struct {
					EventName string
					S3        struct{ Object struct{ Key string } }
				}
			}
			if json.Unmarshal([]byte(*m.Body), &ev) == nil && len(ev.Records) == 1 {
				seen[ev.Records[0].S3.Object.Key] = true
			}
			if _, err := qc.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: q.QueueUrl, ReceiptHandle: m.ReceiptHandle}); err != nil {
				return err
			}
		}
		var missing []string
		for _, k := range acked {
			if !seen[k] {
				missing = append(missing, k)
			}
		}
		if len(missing) > 0 {
			return fmt.Errorf("%d of %d acknowledged writes without an event, e.g. %s", len(missing), len(acked), missing[0])
		}
		return nil
	})
	if len(acked) != n {
		t.Fatalf("%d of %d PUTs acknowledged before the kill", len(acked), n)
	}
}

// generatedBody is a seekable reader of n generated bytes.
type generatedBody struct{ n, off int64 }

func (g *generatedBody) Read(b []byte) (int, error) {
	if g.off >= g.n {
		return 0, io.EOF
	}
	b = b[:min(int64(len(b)), g.n-g.off)]
	for i := range b {
		x := uint64(g.off + int64(i))
		b[i] = byte(x*2654435761>>13) ^ byte(x>>8)
	}
	g.off += int64(len(b))
	return len(b), nil
}

func (g *generatedBody) Seek(off int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
		g.off = off
	case io.SeekCurrent:
		g.off += off
	case io.SeekEnd:
		g.off = g.n + off
	}
	return g.off, nil
}

// vmHWM is a process's peak resident memory in bytes, from /proc.
func vmHWM(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Fatalf("reading the server's status: %v", err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	t.Fatal("no VmHWM in the server's status")
	return 0
}

// TestS3LargeSinglePut: one 1 GiB PutObject (no multipart) answers 200,
// GETs back the same bytes, and the server's peak resident memory stays
// far below the object's size.
func TestS3LargeSinglePut(t *testing.T) {
	t.Parallel()
	s := startServer(t, t.TempDir(), "--sandbox", "process")
	ctx := t.Context()
	sc := s3.NewFromConfig(aws.Config{Region: region, Credentials: credentials.NewStaticCredentialsProvider(rootAccessKeyID, rootSecretAccessKey, ""),
		RetryMaxAttempts: 1}, func(o *s3.Options) { o.BaseEndpoint = aws.String(s.url); o.UsePathStyle = true })
	if _, err := sc.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("large")}); err != nil {
		t.Fatal(err)
	}
	const size = 1 << 30
	before := vmHWM(t, s.cmd.Process.Pid)
	start := time.Now()
	if _, err := sc.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("large"), Key: aws.String("1GiB"), Body: &generatedBody{n: size},
		ContentLength: aws.Int64(size)}); err != nil {
		t.Fatalf("PutObject of 1 GiB: %v", err)
	}
	took := time.Since(start)
	out, err := sc.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("large"), Key: aws.String("1GiB")})
	if err != nil {
		t.Fatal(err)
	}
	got := sha256.New()
	n, err := io.Copy(got, out.Body)
	out.Body.Close()
	want := sha256.New()
	io.Copy(want, &generatedBody{n: size})
	if err != nil || n != size || !bytes.Equal(got.Sum(nil), want.Sum(nil)) {
		t.Fatalf("GET read %d bytes (%v); same bytes: %v", n, err, bytes.Equal(got.Sum(nil), want.Sum(nil)))
	}
	peak := vmHWM(t, s.cmd.Process.Pid)
	t.Logf("1 GiB PUT in %v; server peak RSS %d MiB (%d MiB before the PUT)", took.Round(time.Millisecond), peak>>20, before>>20)
	if peak > 512<<20 {
		t.Errorf("server peak RSS %d MiB over a 1 GiB PUT and GET", peak>>20)
	}
}
