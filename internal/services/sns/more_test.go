package sns_test

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	kumosns "github.com/kumo-run/kumo/internal/services/sns"
)

// TestRedriveToDeadLetterQueue: a notification its function cannot take
// is retried, then sent to the subscription's dead-letter queue as the
// SNS envelope.
func TestRedriveToDeadLetterQueue(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	h.inv.mu.Lock()
	h.inv.fail = true
	h.inv.mu.Unlock()
	tp, err := h.cl.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("dlq")})
	if err != nil {
		t.Fatal(err)
	}
	const dlq = "arn:aws:sqs:us-east-1:000000000000:dead"
	if _, err := h.cl.Subscribe(ctx, &sns.SubscribeInput{TopicArn: tp.TopicArn, Protocol: aws.String("lambda"), Endpoint: aws.String(fnARN),
		Attributes: map[string]string{"RedrivePolicy": `{"deadLetterTargetArn":"` + dlq + `"}`}}); err != nil {
		t.Fatal(err)
	}
	out, err := h.cl.Publish(ctx, &sns.PublishInput{TopicArn: tp.TopicArn, Message: aws.String("lost?")})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "the dead-letter delivery", func() bool { return len(h.qs.snapshot()) == 1 })
	s := h.qs.snapshot()[0]
	var env map[string]any
	if err := json.Unmarshal([]byte(s.body), &env); err != nil {
		t.Fatal(err)
	}
	if s.queue != dlq || env["MessageId"] != aws.ToString(out.MessageId) || env["Message"] != "lost?" {
		t.Errorf("dead letter %s %s", s.queue, s.body)
	}
	if n := len(h.inv.snapshot()); n != 0 {
		t.Errorf("%d invocations recorded while failing", n)
	}
}

// TestMessageStructure: with MessageStructure json each protocol gets its
// own entry, or the default one.
func TestMessageStructure(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	tp, err := h.cl.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("structured")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.cl.Subscribe(ctx, &sns.SubscribeInput{TopicArn: tp.TopicArn, Protocol: aws.String("sqs"), Endpoint: aws.String(queueARN),
		Attributes: map[string]string{"RawMessageDelivery": "true"}}); err != nil {
		t.Fatal(err)
	}
	_, err = h.cl.Subscribe(ctx, &sns.SubscribeInput{TopicArn: tp.TopicArn, Protocol: aws.String("lambda"), Endpoint: aws.String(fnARN),
		Attributes: map[string]string{"RawMessageDelivery": "true"}})
	wantCode(t, err, "InvalidParameter", "Invalid parameter: Attributes Reason: Delivery protocol [lambda] does not support raw message delivery.")
	if _, err := h.cl.Subscribe(ctx, &sns.SubscribeInput{TopicArn: tp.TopicArn, Protocol: aws.String("lambda"), Endpoint: aws.String(fnARN)}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.cl.Publish(ctx, &sns.PublishInput{TopicArn: tp.TopicArn, MessageStructure: aws.String("json"),
		Message: aws.String(`{"default":"for everyone","sqs":"for queues"}`)}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "both deliveries", func() bool { return len(h.qs.snapshot()) == 1 && len(h.inv.snapshot()) == 1 })
	if b := h.qs.snapshot()[0].body; b != "for queues" {
		t.Errorf("sqs got %q", b)
	}
	var ev struct {
		Records []struct{ Sns struct{ Message string } }
	}
	_ = json.Unmarshal(h.inv.snapshot()[0].Payload, &ev)
	if len(ev.Records) != 1 || ev.Records[0].Sns.Message != "for everyone" {
		t.Errorf("lambda got %s", h.inv.snapshot()[0].Payload)
	}
}

// TestSigningKeyAndCertificate: the key survives a reload and the served
// certificate carries its public half.
func TestSigningKeyAndCertificate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sns.pem")
	k1, err := kumosns.LoadSigningKey(path)
	if err != nil {
		t.Fatal(err)
	}
	k2, err := kumosns.LoadSigningKey(path)
	if err != nil {
		t.Fatal(err)
	}
	if !k1.Equal(k2) {
		t.Fatal("the signing key changed on reload")
	}
	h := newHarness(t)
	rec := httptest.NewRecorder()
	h.svc.CertHandler().ServeHTTP(rec, httptest.NewRequest("GET", kumosns.CertPath, nil))
	b, _ := io.ReadAll(rec.Body)
	blk, _ := pem.Decode(b)
	if blk == nil {
		t.Fatalf("certificate %q", b)
	}
	cert, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if !h.key.PublicKey.Equal(cert.PublicKey.(*rsa.PublicKey)) {
		t.Error("the certificate is not the signing key's")
	}
}

// TestListPages: ListTopics and ListSubscriptions page by 100 with
// NextToken, every item once.
func TestListPages(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	tp, err := h.cl.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("t000")})
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i < 130; i++ {
		if _, err := h.cl.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String(fmt.Sprintf("t%03d", i))}); err != nil {
			t.Fatal(err)
		}
		if _, err := h.cl.Subscribe(ctx, &sns.SubscribeInput{TopicArn: tp.TopicArn, Protocol: aws.String("sqs"),
			Endpoint: aws.String(fmt.Sprintf("%s%d", queueARN, i))}); err != nil {
			t.Fatal(err)
		}
	}
	seen := map[string]bool{}
	pages := 0
	for p := sns.NewListTopicsPaginator(h.cl, &sns.ListTopicsInput{}); p.HasMorePages(); pages++ {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, tp := range out.Topics {
			seen[aws.ToString(tp.TopicArn)] = true
		}
	}
	if len(seen) != 130 || pages != 2 {
		t.Errorf("ListTopics: %d topics in %d pages, want 130 in 2", len(seen), pages)
	}
	subs := map[string]bool{}
	for p := sns.NewListSubscriptionsPaginator(h.cl, &sns.ListSubscriptionsInput{}); p.HasMorePages(); {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range out.Subscriptions {
			subs[aws.ToString(s.SubscriptionArn)] = true
		}
	}
	if len(subs) != 129 {
		t.Errorf("ListSubscriptions: %d subscriptions, want 129", len(subs))
	}
}

// TestPermissions: AddPermission adds a labelled statement to the topic's
// policy (the default one to start with), once; RemovePermission takes it
// out.
func TestPermissions(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	tp, err := h.cl.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("shared")})
	if err != nil {
		t.Fatal(err)
	}
	add := &sns.AddPermissionInput{TopicArn: tp.TopicArn, Label: aws.String("partner"), AWSAccountId: []string{"111111111111"}, ActionName: []string{"Publish", "Subscribe"}}
	if _, err := h.cl.AddPermission(ctx, add); err != nil {
		t.Fatal(err)
	}
	_, err = h.cl.AddPermission(ctx, add)
	wantCode(t, err, "InvalidParameter", "Invalid parameter: Statement already exists")
	_, err = h.cl.AddPermission(ctx, &sns.AddPermissionInput{TopicArn: tp.TopicArn, Label: aws.String("x"), AWSAccountId: []string{"111111111111"}, ActionName: []string{"CreateTopic"}})
	wantCode(t, err, "InvalidParameter", "Invalid parameter: Policy statement action out of service scope!")
	sids := func() []string {
		t.Helper()
		ta, err := h.cl.GetTopicAttributes(ctx, &sns.GetTopicAttributesInput{TopicArn: tp.TopicArn})
		if err != nil {
			t.Fatal(err)
		}
		var doc struct{ Statement []map[string]any }
		if err := json.Unmarshal([]byte(ta.Attributes["Policy"]), &doc); err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, st := range doc.Statement {
			out = append(out, fmt.Sprint(st["Sid"], " ", st["Action"], " ", st["Principal"]))
		}
		return out
	}
	if got := fmt.Sprint(sids()); !strings.Contains(got, "partner [SNS:Publish SNS:Subscribe] map[AWS:[arn:aws:iam::111111111111:root]]") ||
		!strings.Contains(got, "__default_statement_ID") {
		t.Errorf("statements after AddPermission: %s", got)
	}
	if _, err := h.cl.RemovePermission(ctx, &sns.RemovePermissionInput{TopicArn: tp.TopicArn, Label: aws.String("partner")}); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(sids()); strings.Contains(got, "partner") {
		t.Errorf("statements after RemovePermission: %s", got)
	}
}

// TestFIFOTopic: a FIFO topic takes only SQS subscriptions, requires a
// message group, deduplicates by id or content within the window
// (answering the first copy's MessageId and SequenceNumber), and delivers
// each group's messages in order with their group and deduplication ids.
func TestFIFOTopic(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	tp, err := h.cl.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("orders.fifo"), Attributes: map[string]string{"FifoTopic": "true"}})
	if err != nil {
		t.Fatal(err)
	}
	ta, _ := h.cl.GetTopicAttributes(ctx, &sns.GetTopicAttributesInput{TopicArn: tp.TopicArn})
	if ta.Attributes["FifoTopic"] != "true" || ta.Attributes["ContentBasedDeduplication"] != "false" {
		t.Errorf("attributes %v", ta.Attributes)
	}
	_, err = h.cl.Subscribe(ctx, &sns.SubscribeInput{TopicArn: tp.TopicArn, Protocol: aws.String("lambda"), Endpoint: aws.String(fnARN)})
	wantCode(t, err, "InvalidParameter", "Invalid parameter: Invalid protocol type: lambda. FIFO topics deliver only to Amazon SQS queues.")
	const fifoQueue = "arn:aws:sqs:us-east-1:000000000000:q.fifo"
	if _, err := h.cl.Subscribe(ctx, &sns.SubscribeInput{TopicArn: tp.TopicArn, Protocol: aws.String("sqs"), Endpoint: aws.String(fifoQueue),
		Attributes: map[string]string{"RawMessageDelivery": "true"}}); err != nil {
		t.Fatal(err)
	}
	_, err = h.cl.Publish(ctx, &sns.PublishInput{TopicArn: tp.TopicArn, Message: aws.String("m")})
	wantCode(t, err, "InvalidParameter", "Invalid parameter: The MessageGroupId parameter is required for FIFO topics")
	_, err = h.cl.Publish(ctx, &sns.PublishInput{TopicArn: tp.TopicArn, Message: aws.String("m"), MessageGroupId: aws.String("g")})
	wantCode(t, err, "InvalidParameter", "Invalid parameter: The topic should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly")

	var ids, seqs []string
	for i := range 10 {
		out, err := h.cl.Publish(ctx, &sns.PublishInput{TopicArn: tp.TopicArn, Message: aws.String(fmt.Sprint("m", i)),
			MessageGroupId: aws.String(fmt.Sprint("g", i%2)), MessageDeduplicationId: aws.String(fmt.Sprint("d", i))})
		if err != nil {
			t.Fatal(err)
		}
		ids, seqs = append(ids, aws.ToString(out.MessageId)), append(seqs, aws.ToString(out.SequenceNumber))
		if i > 0 && seqs[i] <= seqs[i-1] {
			t.Errorf("SequenceNumber %s after %s", seqs[i], seqs[i-1])
		}
	}
	// A duplicate: the first copy's answer, and no second delivery.
	dup, err := h.cl.Publish(ctx, &sns.PublishInput{TopicArn: tp.TopicArn, Message: aws.String("m3 again"),
		MessageGroupId: aws.String("g1"), MessageDeduplicationId: aws.String("d3")})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(dup.MessageId) != ids[3] || aws.ToString(dup.SequenceNumber) != seqs[3] {
		t.Errorf("duplicate answered %s %s, want %s %s", aws.ToString(dup.MessageId), aws.ToString(dup.SequenceNumber), ids[3], seqs[3])
	}
	// Content-based deduplication.
	if _, err := h.cl.SetTopicAttributes(ctx, &sns.SetTopicAttributesInput{TopicArn: tp.TopicArn, AttributeName: aws.String("ContentBasedDeduplication"), AttributeValue: aws.String("true")}); err != nil {
		t.Fatal(err)
	}
	c1, err := h.cl.Publish(ctx, &sns.PublishInput{TopicArn: tp.TopicArn, Message: aws.String("same body"), MessageGroupId: aws.String("g0")})
	if err != nil {
		t.Fatal(err)
	}
	c2, err := h.cl.Publish(ctx, &sns.PublishInput{TopicArn: tp.TopicArn, Message: aws.String("same body"), MessageGroupId: aws.String("g0")})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(c1.MessageId) != aws.ToString(c2.MessageId) {
		t.Errorf("content-based duplicates got ids %s and %s", aws.ToString(c1.MessageId), aws.ToString(c2.MessageId))
	}
	eventually(t, "eleven deliveries", func() bool { return len(h.qs.snapshot()) >= 11 })
	got := h.qs.snapshot()
	if len(got) != 11 {
		t.Fatalf("%d deliveries, want 11 (duplicates are not delivered)", len(got))
	}
	for i, s := range got[:10] {
		if s.queue != fifoQueue || s.body != fmt.Sprint("m", i) || s.group != fmt.Sprint("g", i%2) || s.dedupID != fmt.Sprint("d", i) {
			t.Errorf("delivery %d: %+v", i, s)
		}
	}
	if got[10].body != "same body" || len(got[10].dedupID) != 64 {
		t.Errorf("content-based delivery %+v", got[10])
	}
}

// TestDeliveryPolicy: an http subscription's DeliveryPolicy decides its
// retries: with numRetries 0 a failing endpoint is posted to once and the
// message goes straight to the dead-letter queue; a policy SNS would
// refuse is refused.
func TestDeliveryPolicy(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	var mu sync.Mutex
	var posts []string
	ep := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		typ := r.Header.Get("x-amz-sns-message-type")
		posts = append(posts, typ)
		if typ == "SubscriptionConfirmation" {
			var m map[string]any
			_ = json.Unmarshal(b, &m)
			posts[len(posts)-1] += " " + m["Token"].(string)
			return
		}
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer ep.Close()
	got := func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), posts...)
	}
	tp, err := h.cl.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("policy")})
	if err != nil {
		t.Fatal(err)
	}
	const dlq = "arn:aws:sqs:us-east-1:000000000000:dlq"
	sub, err := h.cl.Subscribe(ctx, &sns.SubscribeInput{TopicArn: tp.TopicArn, Protocol: aws.String("http"), Endpoint: aws.String(ep.URL),
		ReturnSubscriptionArn: true, Attributes: map[string]string{"RedrivePolicy": `{"deadLetterTargetArn":"` + dlq + `"}`,
			"DeliveryPolicy": `{"healthyRetryPolicy":{"numRetries":0}}`}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = h.cl.SetSubscriptionAttributes(ctx, &sns.SetSubscriptionAttributesInput{SubscriptionArn: sub.SubscriptionArn,
		AttributeName: aws.String("DeliveryPolicy"), AttributeValue: aws.String(`{"healthyRetryPolicy":{"numRetries":101}}`)})
	wantCode(t, err, "InvalidParameter", "Invalid parameter: DeliveryPolicy: numRetries must be between 0 and 100")
	eventually(t, "the confirmation", func() bool { return len(got()) == 1 })
	token := strings.TrimPrefix(got()[0], "SubscriptionConfirmation ")
	if _, err := h.cl.ConfirmSubscription(ctx, &sns.ConfirmSubscriptionInput{TopicArn: tp.TopicArn, Token: aws.String(token)}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.cl.Publish(ctx, &sns.PublishInput{TopicArn: tp.TopicArn, Message: aws.String("once")}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the dead letter", func() bool { return len(h.qs.snapshot()) == 1 })
	if p := got(); len(p) != 2 || p[1] != "Notification" {
		t.Errorf("posts %v, want the confirmation and one notification", p)
	}
}
