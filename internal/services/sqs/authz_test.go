package sqs_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/kumo-run/kumo/internal/awsproto"
	"github.com/kumo-run/kumo/internal/iam"
	"github.com/kumo-run/kumo/internal/iam/authz"
)

// TestAuthorization: a user with no policy is refused with AccessDenied
// (403, x-amzn-query-error AccessDenied;Sender) until the queue's policy
// grants it SendMessage.
func TestAuthorization(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	const (
		bobKey, bobSecret = "AKIAKUMOSQSBOB000001", "kumo-sqs-test-bob-secret-0000000000000000"
		bobARN            = "arn:aws:iam::000000000000:user/bob"
	)
	h.auth.SetUser(awsproto.Identity{Account: account, ARN: bobARN, UserID: "AIDABOB"}, authz.Principal{Policies: []*iam.Policy{}})
	h.auth.SetAccessKey(bobKey, bobSecret, bobARN)
	bob := h.client(bobKey, bobSecret)
	url := h.createQueue(t, "guarded", nil)

	_, err := bob.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String("hi")})
	wantCode(t, err, "AccessDenied")
	_, err = bob.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("bobs")})
	wantCode(t, err, "AccessDenied")

	_, err = h.cl.SetQueueAttributes(ctx, &sqs.SetQueueAttributesInput{QueueUrl: aws.String(url), Attributes: map[string]string{
		"Policy": `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":`}})
	wantCode(t, err, "InvalidAttributeValue")
	policy := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"` + bobARN +
		`"},"Action":"sqs:SendMessage","Resource":"arn:aws:sqs:us-east-1:000000000000:guarded"}]}`
	if _, err := h.cl.SetQueueAttributes(ctx, &sqs.SetQueueAttributesInput{QueueUrl: aws.String(url), Attributes: map[string]string{"Policy": policy}}); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String("hi")}); err != nil {
		t.Fatalf("SendMessage with the queue's policy allowing it: %v", err)
	}
	_, err = bob.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url)})
	wantCode(t, err, "AccessDenied")
	if a := h.queueAttrs(t, url, "Policy"); a["Policy"] != policy {
		t.Fatalf("Policy %q", a["Policy"])
	}
}

// TestWireErrors: the JSON 1.0 error shape with SQS's query code in
// x-amzn-query-error, and unknown operations refused.
func TestWireErrors(t *testing.T) {
	h := newHarness(t)
	h.az = nil
	h.restart(t) // without authorization, so that unsigned requests reach the service
	for _, tc := range []struct {
		target, body    string
		status          int
		typ, queryError string
	}{
		{"AmazonSQS.GetQueueUrl", `{"QueueName":"nope"}`, 400, "com.amazonaws.sqs#QueueDoesNotExist", "AWS.SimpleQueueService.NonExistentQueue;Sender"},
		{"AmazonSQS.Frobnicate", `{}`, 400, "com.amazonaws.sqs#UnknownOperationException", "InvalidAction;Sender"},
		{"AmazonSQS.CreateQueue", `{"QueueName":`, 400, "com.amazonaws.sqs#SerializationException", "SerializationException;Sender"},
	} {
		rec := httptest.NewRecorder()
		req, _ := http.NewRequest("POST", "/", strings.NewReader(tc.body))
		req.Header.Set("X-Amz-Target", tc.target)
		req.Header.Set("Content-Type", "application/x-amz-json-1.0")
		h.ServeHTTP(rec, req)
		res := rec.Result()
		b, _ := io.ReadAll(res.Body)
		//lint:ignore SA1008 SQS sends x-amzn-query-error in this casing
		if res.StatusCode != tc.status || !strings.Contains(string(b), `"__type":"`+tc.typ+`"`) || strings.Join(res.Header["x-amzn-query-error"], ",") != tc.queryError {
			//lint:ignore SA1008 as above
			t.Errorf("%s: %d %s %q", tc.target, res.StatusCode, b, res.Header["x-amzn-query-error"])
		}
	}
}
