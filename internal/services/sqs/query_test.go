package sqs_test

import (
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// query sends one signed query-protocol request to path and returns the
// status and body.
func (h *harness) query(t *testing.T, path string, params url.Values) (int, string) {
	t.Helper()
	params.Set("Version", "2012-11-05")
	body := params.Encode()
	req, _ := http.NewRequest("POST", h.srv.URL+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	sum := sha256.Sum256([]byte(body))
	if err := v4.NewSigner().SignHTTP(t.Context(), aws.Credentials{AccessKeyID: rootKey, SecretAccessKey: rootSecret}, req,
		hex.EncodeToString(sum[:]), "sqs", "us-east-1", time.Now()); err != nil {
		t.Fatal(err)
	}
	resp, err := h.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestQueryProtocol: the form-encoded protocol of older SDKs, with XML
// answers in SQS's shapes, on the root and on a queue's URL.
func TestQueryProtocol(t *testing.T) {
	h := newHarness(t)
	status, body := h.query(t, "/", url.Values{"Action": {"CreateQueue"}, "QueueName": {"legacy"},
		"Attribute.1.Name": {"VisibilityTimeout"}, "Attribute.1.Value": {"60"}, "Tag.1.Key": {"team"}, "Tag.1.Value": {"a"}})
	var created struct {
		QueueURL  string `xml:"CreateQueueResult>QueueUrl"`
		RequestID string `xml:"ResponseMetadata>RequestId"`
	}
	if status != 200 || xml.Unmarshal([]byte(body), &created) != nil || created.QueueURL != h.srv.URL+"/"+account+"/legacy" {
		t.Fatalf("CreateQueue: %d %s", status, body)
	}
	path := "/" + account + "/legacy"
	status, body = h.query(t, path, url.Values{"Action": {"SendMessage"}, "MessageBody": {"old <sdk>"},
		"MessageAttribute.1.Name": {"k"}, "MessageAttribute.1.Value.DataType": {"String"}, "MessageAttribute.1.Value.StringValue": {"v"}})
	var sent struct {
		MessageID string `xml:"SendMessageResult>MessageId"`
		MD5       string `xml:"SendMessageResult>MD5OfMessageBody"`
		MD5Attrs  string `xml:"SendMessageResult>MD5OfMessageAttributes"`
	}
	if sum := md5.Sum([]byte("old <sdk>")); status != 200 || xml.Unmarshal([]byte(body), &sent) != nil || sent.MessageID == "" ||
		sent.MD5 != hex.EncodeToString(sum[:]) || len(sent.MD5Attrs) != 32 {
		t.Fatalf("SendMessage: %d %s", status, body)
	}
	status, body = h.query(t, "/", url.Values{"Action": {"SendMessageBatch"}, "QueueUrl": {created.QueueURL},
		"SendMessageBatchRequestEntry.1.Id": {"a"}, "SendMessageBatchRequestEntry.1.MessageBody": {"one"},
		"SendMessageBatchRequestEntry.2.Id": {"b"}, "SendMessageBatchRequestEntry.2.MessageBody": {""}})
	var batch struct {
		OK     []string `xml:"SendMessageBatchResult>SendMessageBatchResultEntry>Id"`
		Failed []string `xml:"SendMessageBatchResult>BatchResultErrorEntry>Code"`
	}
	if status != 200 || xml.Unmarshal([]byte(body), &batch) != nil || len(batch.OK) != 1 || len(batch.Failed) != 1 || batch.Failed[0] != "MissingParameter" {
		t.Fatalf("SendMessageBatch: %d %s", status, body)
	}
	status, body = h.query(t, path, url.Values{"Action": {"ReceiveMessage"}, "MaxNumberOfMessages": {"10"},
		"AttributeName.1": {"All"}, "MessageAttributeName.1": {"All"}})
	var got struct {
		Messages []struct {
			Body          string
			ReceiptHandle string
			Attributes    []struct{ Name, Value string } `xml:"Attribute"`
			MsgAttrs      []struct {
				Name  string
				Value struct{ DataType, StringValue string }
			} `xml:"MessageAttribute"`
		} `xml:"ReceiveMessageResult>Message"`
	}
	if status != 200 || xml.Unmarshal([]byte(body), &got) != nil || len(got.Messages) != 2 {
		t.Fatalf("ReceiveMessage: %d %s", status, body)
	}
	for _, m := range got.Messages {
		if m.Body == "old <sdk>" && (len(m.MsgAttrs) != 1 || m.MsgAttrs[0].Value.StringValue != "v" || len(m.Attributes) < 4) {
			t.Fatalf("received %+v", m)
		}
		status, body = h.query(t, path, url.Values{"Action": {"DeleteMessage"}, "ReceiptHandle": {m.ReceiptHandle}})
		if status != 200 || !strings.Contains(body, "<DeleteMessageResponse") {
			t.Fatalf("DeleteMessage: %d %s", status, body)
		}
	}
	status, body = h.query(t, path, url.Values{"Action": {"GetQueueAttributes"}, "AttributeName.1": {"VisibilityTimeout"}, "AttributeName.2": {"ApproximateNumberOfMessages"}})
	if status != 200 || !strings.Contains(body, "<Attribute><Name>VisibilityTimeout</Name><Value>60</Value></Attribute>") ||
		!strings.Contains(body, "<Attribute><Name>ApproximateNumberOfMessages</Name><Value>0</Value></Attribute>") {
		t.Fatalf("GetQueueAttributes: %d %s", status, body)
	}
	status, body = h.query(t, "/", url.Values{"Action": {"ListQueueTags"}, "QueueUrl": {created.QueueURL}})
	if status != 200 || !strings.Contains(body, "<Tag><Key>team</Key><Value>a</Value></Tag>") {
		t.Fatalf("ListQueueTags: %d %s", status, body)
	}
	status, body = h.query(t, "/", url.Values{"Action": {"ListQueues"}})
	if status != 200 || !strings.Contains(body, "<ListQueuesResult><QueueUrl>"+created.QueueURL+"</QueueUrl></ListQueuesResult>") {
		t.Fatalf("ListQueues: %d %s", status, body)
	}
	status, body = h.query(t, "/", url.Values{"Action": {"GetQueueUrl"}, "QueueName": {"missing"}})
	if status != 400 || !strings.Contains(body, "<Code>AWS.SimpleQueueService.NonExistentQueue</Code>") || !strings.Contains(body, `xmlns="http://queue.amazonaws.com/doc/2012-11-05/"`) {
		t.Fatalf("GetQueueUrl of a missing queue: %d %s", status, body)
	}
}
