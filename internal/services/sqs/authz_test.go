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

// TestAddRemovePermission: AddPermission writes a labelled statement into
// the queue's policy that lets another account's principal in, refuses a
// second statement of the same label, more than seven actions and actions
// only the owner may call; RemovePermission takes it out again.
func TestAddRemovePermission(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	const (
		carolKey, carolSecret = "AKIAKUMOSQSCAROL0001", "kumo-sqs-test-carol-secret-00000000000000"
		carolARN              = "arn:aws:iam::111122223333:user/carol"
	)
	all, err := iam.Parse(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sqs:*","Resource":"*"}]}`, iam.KindIdentity)
	if err != nil {
		t.Fatal(err)
	}
	h.auth.SetUser(awsproto.Identity{Account: "111122223333", ARN: carolARN, UserID: "AIDACAROL"}, authz.Principal{Policies: []*iam.Policy{all}})
	h.auth.SetAccessKey(carolKey, carolSecret, carolARN)
	carol := h.client(carolKey, carolSecret)
	url := h.createQueue(t, "shared", nil)
	send := func() error {
		_, err := carol.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String("hi")})
		return err
	}
	wantCode(t, send(), "AccessDenied")

	add := func(label string, actions ...string) error {
		_, err := h.cl.AddPermission(ctx, &sqs.AddPermissionInput{QueueUrl: aws.String(url), Label: aws.String(label),
			AWSAccountIds: []string{"111122223333"}, Actions: actions})
		return err
	}
	if err := add("carol-send", "SendMessage"); err != nil {
		t.Fatal(err)
	}
	if err := send(); err != nil {
		t.Fatalf("SendMessage after AddPermission: %v", err)
	}
	_, err = carol.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url)})
	wantCode(t, err, "AccessDenied")
	want := `{"Id":"arn:aws:sqs:us-east-1:000000000000:shared/SQSDefaultPolicy","Statement":[{"Action":"SQS:SendMessage",` +
		`"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Resource":"arn:aws:sqs:us-east-1:000000000000:shared",` +
		`"Sid":"carol-send"}],"Version":"2008-10-17"}`
	if p := h.queueAttrs(t, url, "Policy")["Policy"]; p != want {
		t.Fatalf("Policy %s\nwant   %s", p, want)
	}
	wantCode(t, add("carol-send", "ReceiveMessage"), "InvalidParameterValue")
	wantCode(t, add("too-many", "SendMessage", "ReceiveMessage", "DeleteMessage", "ChangeMessageVisibility", "GetQueueAttributes",
		"GetQueueUrl", "PurgeQueue", "ListDeadLetterSourceQueues"), "OverLimit")
	wantCode(t, add("owner-only", "SetQueueAttributes"), "InvalidParameterValue")
	wantCode(t, add("bad label!", "SendMessage"), "InvalidParameterValue")
	if err := add("carol-receive", "ReceiveMessage", "DeleteMessage"); err != nil {
		t.Fatal(err)
	}
	if _, err := carol.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url)}); err != nil {
		t.Fatalf("ReceiveMessage after AddPermission: %v", err)
	}

	remove := func(label string) error {
		_, err := h.cl.RemovePermission(ctx, &sqs.RemovePermissionInput{QueueUrl: aws.String(url), Label: aws.String(label)})
		return err
	}
	if err := remove("carol-send"); err != nil {
		t.Fatal(err)
	}
	wantCode(t, send(), "AccessDenied")
	wantCode(t, remove("carol-send"), "InvalidParameterValue")
	if err := remove("carol-receive"); err != nil {
		t.Fatal(err)
	}
	if p, ok := h.queueAttrs(t, url, "Policy")["Policy"]; ok {
		t.Fatalf("Policy %q left after the last permission went", p)
	}
	// Only the owner's side may change the policy.
	_, err = carol.AddPermission(ctx, &sqs.AddPermissionInput{QueueUrl: aws.String(url), Label: aws.String("mine"),
		AWSAccountIds: []string{"111122223333"}, Actions: []string{"*"}})
	wantCode(t, err, "AccessDenied")
}

// TestDeliverFromSNS: SNS's delivery, as sns.amazonaws.com for a topic,
// needs the queue's policy to allow it, also in the queue's own account;
// in-process deliveries without a caller are not checked.
func TestDeliverFromSNS(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	url := h.createQueue(t, "from-sns", nil)
	const (
		queueARN = "arn:aws:sqs:us-east-1:000000000000:from-sns"
		topic    = "arn:aws:sns:us-east-1:000000000000:news"
	)
	asSNS := func(topicARN string) error {
		_, err := h.svc.Deliver(authz.WithService(ctx, "sns.amazonaws.com", topicARN, account), queueARN, "hello", nil)
		return err
	}
	if err := asSNS(topic); awsproto.AsError(err).Code != awsproto.SQSAccessDenied {
		t.Fatalf("delivery without a queue policy: %v, want AccessDenied", err)
	}
	if _, err := h.svc.Deliver(ctx, queueARN, "in process", nil); err != nil {
		t.Fatalf("in-process delivery: %v", err)
	}
	for _, principal := range []string{`{"Service":"sns.amazonaws.com"}`, `{"AWS":"*"}`} {
		policy := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":` + principal + `,"Action":"sqs:SendMessage",` +
			`"Resource":"` + queueARN + `","Condition":{"ArnEquals":{"aws:SourceArn":"` + topic + `"}}}]}`
		if _, err := h.cl.SetQueueAttributes(ctx, &sqs.SetQueueAttributesInput{QueueUrl: aws.String(url), Attributes: map[string]string{"Policy": policy}}); err != nil {
			t.Fatal(err)
		}
		if err := asSNS(topic); err != nil {
			t.Fatalf("delivery with principal %s allowed: %v", principal, err)
		}
		if err := asSNS("arn:aws:sns:us-east-1:000000000000:other"); awsproto.AsError(err).Code != awsproto.SQSAccessDenied {
			t.Fatalf("delivery from another topic: %v, want AccessDenied", err)
		}
	}
}

// TestAddPermissionQuery: the query protocol's flattened AWSAccountId.N
// and ActionName.N lists reach AddPermission.
func TestAddPermissionQuery(t *testing.T) {
	h := newHarness(t)
	url := h.createQueue(t, "shared-q", nil)
	form := "Action=AddPermission&Version=2012-11-05&Label=two&AWSAccountId.1=111122223333&AWSAccountId.2=444455556666" +
		"&ActionName.1=SendMessage&ActionName.2=ReceiveMessage&QueueUrl=" + url
	req, _ := http.NewRequest("POST", "/", strings.NewReader(form))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	h.svc.ServeHTTP(rec, req)
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), "<AddPermissionResponse") {
		t.Fatalf("AddPermission: %d %s", rec.Code, rec.Body)
	}
	p := h.queueAttrs(t, url, "Policy")["Policy"]
	for _, want := range []string{`"AWS":["arn:aws:iam::111122223333:root","arn:aws:iam::444455556666:root"]`, `"Action":["SQS:SendMessage","SQS:ReceiveMessage"]`, `"Sid":"two"`} {
		if !strings.Contains(p, want) {
			t.Fatalf("Policy %s lacks %s", p, want)
		}
	}
}
