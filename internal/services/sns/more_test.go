package sns_test

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http/httptest"
	"path/filepath"
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
	for _, sub := range []struct{ proto, ep string }{{"sqs", queueARN}, {"lambda", fnARN}} {
		if _, err := h.cl.Subscribe(ctx, &sns.SubscribeInput{TopicArn: tp.TopicArn, Protocol: aws.String(sub.proto), Endpoint: aws.String(sub.ep),
			Attributes: map[string]string{"RawMessageDelivery": "true"}}); err != nil {
			t.Fatal(err)
		}
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
