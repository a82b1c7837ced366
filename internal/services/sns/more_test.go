package sns_test

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http/httptest"
	"path/filepath"
	"strings"
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
