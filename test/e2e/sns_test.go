package e2e

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha1" //nolint:gosec // SignatureVersion 1
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sns"
)

// TestSNSCLI: the AWS CLI makes a topic, subscribes a Python function
// (which SNS may invoke once add-permission allows sns.amazonaws.com for
// the topic) with a filter policy, publishes, and the function receives
// the SNS event of the one message the filter lets through, read back from
// its log; an http endpoint receives the confirmation and, once
// confirmed, the notification.
func TestSNSCLI(t *testing.T) {
	t.Parallel()
	s := startServer(t, t.TempDir(), "--sandbox", "process")
	c := newCLI(t, s)
	var blobArgs []string
	if cliV2(t) {
		blobArgs = []string{"--cli-binary-format", "raw-in-base64-out"}
	}
	zip := makeZip(t, zipEntry{Name: "app.py", Body: "import json\n\ndef handler(event, context):\n    print('SNS-EVENT ' + json.dumps(event))\n    return {}\n"})
	c.ok(append([]string{"lambda", "create-function", "--function-name", "sns-fn", "--runtime", "python3.12", "--handler", "app.handler",
		"--role", testRole, "--zip-file", "fileb://" + writeTemp(t, "sns.zip", zip)}, blobArgs...)...)
	c.ok("lambda", "wait", "function-active-v2", "--function-name", "sns-fn")

	topic := jstr(c.ok("sns", "create-topic", "--name", "alerts"), "TopicArn")
	expectEq(t, "TopicArn", topic, "arn:aws:sns:"+region+":000000000000:alerts")
	c.fail("NotFound", "sns", "get-topic-attributes", "--topic-arn", topic+"-missing")
	c.fail("InvalidParameter", "sns", "subscribe", "--topic-arn", topic, "--protocol", "lambda", "--notification-endpoint", functionARN("sns-fn"),
		"--attributes", `{"FilterPolicy":"{\"level\":[{\"numeric\":[\"<\",\"x\"]}]}"}`)
	sub := jstr(c.ok("sns", "subscribe", "--topic-arn", topic, "--protocol", "lambda", "--notification-endpoint", functionARN("sns-fn"),
		"--attributes", `{"FilterPolicy":"{\"level\":[\"error\"]}"}`), "SubscriptionArn")
	if !strings.HasPrefix(sub, topic+":") {
		t.Fatalf("SubscriptionArn %q", sub)
	}
	c.ok("lambda", "add-permission", "--function-name", "sns-fn", "--statement-id", "sns", "--action", "lambda:InvokeFunction",
		"--principal", "sns.amazonaws.com", "--source-arn", topic)

	c.ok("sns", "publish", "--topic-arn", topic, "--message", "all is well",
		"--message-attributes", `{"level":{"DataType":"String","StringValue":"info"}}`)
	pub := c.ok("sns", "publish", "--topic-arn", topic, "--message", "disk full", "--subject", "alarm",
		"--message-attributes", `{"level":{"DataType":"String","StringValue":"error"}}`)
	msgID := jstr(pub, "MessageId")

	logsCl := newLogsClient(s)
	var ev events.SNSEvent
	var lines []logLine
	eventually(t, 90*time.Second, "the function's SNS event in its log", func() error {
		var err error
		lines, err = allLogEvents(t, logsCl, "/aws/lambda/sns-fn", "SNS-EVENT")
		if err != nil {
			return err
		}
		for _, l := range lines {
			if _, js, ok := strings.Cut(l.Message, "SNS-EVENT "); ok {
				return json.Unmarshal([]byte(strings.TrimSpace(js)), &ev)
			}
		}
		return errors.New("no event logged yet")
	})
	if len(ev.Records) != 1 {
		t.Fatalf("event %+v", ev)
	}
	r := ev.Records[0]
	if r.EventSource != "aws:sns" || r.EventSubscriptionArn != sub || r.SNS.Type != "Notification" || r.SNS.MessageID != msgID ||
		r.SNS.TopicArn != topic || r.SNS.Subject != "alarm" || r.SNS.Message != "disk full" || r.SNS.Signature == "" ||
		fmt.Sprint(r.SNS.MessageAttributes["level"]) != "map[Type:String Value:error]" {
		t.Errorf("SNS event %+v", r)
	}
	verifySNS(t, r.SNS, s.url)
	// The filter refused the first message before the second was fanned
	// out (one fan-out, in order): it never reaches the function.
	for _, l := range lines {
		if strings.Contains(l.Message, "all is well") {
			t.Errorf("the filtered message reached the function: %s", l.Message)
		}
	}

	// Another topic, which the function's permission does not name
	// (aws:SourceArn): SNS is refused the invocation.
	other := jstr(c.ok("sns", "create-topic", "--name", "elsewhere"), "TopicArn")
	c.ok("sns", "subscribe", "--topic-arn", other, "--protocol", "lambda", "--notification-endpoint", functionARN("sns-fn"))
	c.ok("sns", "publish", "--topic-arn", other, "--message", "not for you")
	eventually(t, 30*time.Second, "the refused invocation counted", func() error {
		samples, _ := scrape(t, s)
		if v, _ := promSum(samples, "kumo_authz_denied_total", map[string]string{"action": "lambda:InvokeFunction"}); v < 1 {
			return errors.New("no lambda:InvokeFunction denial yet")
		}
		return nil
	})

	// An http endpoint: confirmation first, then notifications.
	var (
		mu    sync.Mutex
		posts []map[string]any
		types []string
	)
	ep := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var m map[string]any
		_ = json.Unmarshal(b, &m)
		mu.Lock()
		posts = append(posts, m)
		types = append(types, r.Header.Get("x-amz-sns-message-type"))
		mu.Unlock()
	}))
	defer ep.Close()
	got := func() ([]map[string]any, []string) {
		mu.Lock()
		defer mu.Unlock()
		return append([]map[string]any(nil), posts...), append([]string(nil), types...)
	}
	expectEq(t, "http SubscriptionArn", jstr(c.ok("sns", "subscribe", "--topic-arn", topic, "--protocol", "http", "--notification-endpoint", ep.URL+"/sns"), "SubscriptionArn"), "pending confirmation")
	eventually(t, 30*time.Second, "the subscription confirmation", func() error {
		if p, _ := got(); len(p) == 0 {
			return errors.New("nothing posted yet")
		}
		return nil
	})
	p, ty := got()
	expectEq(t, "confirmation type", ty[0], "SubscriptionConfirmation")
	token, _ := p[0]["Token"].(string)
	// The SubscribeURL confirms without a signature, as endpoints that
	// confirm themselves expect.
	link, _ := p[0]["SubscribeURL"].(string)
	if !strings.HasPrefix(link, s.url+"/?Action=ConfirmSubscription&") {
		t.Fatalf("SubscribeURL %q is not on the server %s", link, s.url)
	}
	resp, err := http.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "<SubscriptionArn>"+topic+":") {
		t.Fatalf("GET SubscribeURL: %d %s", resp.StatusCode, body)
	}
	confirmed := jstr(c.ok("sns", "confirm-subscription", "--topic-arn", topic, "--token", token), "SubscriptionArn")
	if !strings.HasPrefix(confirmed, topic+":") {
		t.Fatalf("confirmed SubscriptionArn %q", confirmed)
	}
	c.ok("sns", "publish", "--topic-arn", topic, "--message", "to the web")
	eventually(t, 30*time.Second, "the http notification", func() error {
		if p, _ := got(); len(p) < 2 {
			return errors.New("no notification yet")
		}
		return nil
	})
	p, ty = got()
	expectEq(t, "notification type", ty[1], "Notification")
	expectEq(t, "notification message", fmt.Sprint(p[1]["Message"]), "to the web")

	lines, err = allLogEvents(t, logsCl, "/aws/lambda/sns-fn", "")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range lines {
		if strings.Contains(l.Message, "not for you") {
			t.Errorf("a topic the function's policy does not name invoked it: %s", l.Message)
		}
	}

	subs := c.ok("sns", "list-subscriptions-by-topic", "--topic-arn", topic)
	expectEq(t, "subscriptions", len(jget(subs, "Subscriptions").([]any)), 2)
	// The notification's UnsubscribeURL ends the subscription without a
	// signature.
	unsub, _ := p[1]["UnsubscribeURL"].(string)
	resp, err = http.Get(unsub)
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "<UnsubscribeResponse") {
		t.Fatalf("GET UnsubscribeURL %s: %d %s", unsub, resp.StatusCode, body)
	}
	c.fail("NotFound", "sns", "get-subscription-attributes", "--subscription-arn", confirmed)
	c.ok("sns", "unsubscribe", "--subscription-arn", sub)
	c.ok("sns", "delete-topic", "--topic-arn", topic)
	c.ok("sns", "delete-topic", "--topic-arn", other)
	expectEq(t, "topics after delete", len(jget(c.ok("sns", "list-topics"), "Topics").([]any)), 0)
}

// verifySNS checks a notification's signature with the certificate its
// SigningCertURL serves, as SNS's message validators do.
func verifySNS(t *testing.T, e events.SNSEntity, base string) {
	t.Helper()
	if !strings.HasPrefix(e.SigningCertURL, base+"/") {
		t.Fatalf("SigningCertURL %q is not on the server %s", e.SigningCertURL, base)
	}
	resp, err := http.Get(e.SigningCertURL)
	if err != nil {
		t.Fatal(err)
	}
	pemBytes, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	blk, _ := pem.Decode(pemBytes)
	if blk == nil {
		t.Fatalf("SigningCertURL served %d %q", resp.StatusCode, pemBytes)
	}
	cert, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, f := range []string{"Message", e.Message, "MessageId", e.MessageID, "Subject", e.Subject,
		"Timestamp", e.Timestamp.UTC().Format("2006-01-02T15:04:05.000Z"), "TopicArn", e.TopicArn, "Type", e.Type} {
		b.WriteString(f + "\n")
	}
	sig, err := base64.StdEncoding.DecodeString(e.Signature)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha1.Sum([]byte(b.String())) //nolint:gosec // SignatureVersion 1
	if err := rsa.VerifyPKCS1v15(cert.PublicKey.(*rsa.PublicKey), crypto.SHA1, sum[:], sig); err != nil {
		t.Errorf("the notification's signature does not verify with %s: %v", e.SigningCertURL, err)
	}
}

// newSNS returns an aws-sdk-go-v2 SNS client for s.
func newSNS(s *server) *sns.Client {
	return sns.NewFromConfig(aws.Config{Region: region, RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider(rootAccessKeyID, rootSecretAccessKey, "")},
		func(o *sns.Options) { o.BaseEndpoint = aws.String(s.url) })
}

// endpoint is an http endpoint on a fixed address that can go away and
// come back, recording the message ids of the notifications it takes.
type endpoint struct {
	addr string
	srv  *http.Server
	mu   sync.Mutex
	ids  map[string]bool
	conf []map[string]any
}

func (e *endpoint) start(t *testing.T) {
	t.Helper()
	ln, err := net.Listen("tcp", e.addr)
	if err != nil {
		t.Fatal(err)
	}
	e.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var m map[string]any
		_ = json.Unmarshal(b, &m)
		e.mu.Lock()
		defer e.mu.Unlock()
		if r.Header.Get("x-amz-sns-message-type") == "SubscriptionConfirmation" {
			e.conf = append(e.conf, m)
			return
		}
		e.ids[r.Header.Get("x-amz-sns-message-id")] = true
	})}
	go e.srv.Serve(ln)
}

// TestSNSKill9: messages Publish accepted while their endpoint was down
// are all delivered after the server is killed with SIGKILL and started
// again.
func TestSNSKill9(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := startServer(t, dir, "--sandbox", "process")
	cl := newSNS(s)
	ctx := t.Context()
	addr, err := freeAddr()
	if err != nil {
		t.Fatal(err)
	}
	ep := &endpoint{addr: addr, ids: map[string]bool{}}
	ep.start(t)
	tp, err := cl.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("kill9")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Subscribe(ctx, &sns.SubscribeInput{TopicArn: tp.TopicArn, Protocol: aws.String("http"), Endpoint: aws.String("http://" + addr + "/")}); err != nil {
		t.Fatal(err)
	}
	var token string
	eventually(t, 30*time.Second, "the confirmation", func() error {
		ep.mu.Lock()
		defer ep.mu.Unlock()
		if len(ep.conf) == 0 {
			return errors.New("none yet")
		}
		token, _ = ep.conf[0]["Token"].(string)
		return nil
	})
	if _, err := cl.ConfirmSubscription(ctx, &sns.ConfirmSubscriptionInput{TopicArn: tp.TopicArn, Token: aws.String(token)}); err != nil {
		t.Fatal(err)
	}
	ep.srv.Close() // the endpoint goes away: deliveries fail and wait for a retry

	var ids []string
	for i := range 20 {
		out, err := cl.Publish(ctx, &sns.PublishInput{TopicArn: tp.TopicArn, Message: aws.String(fmt.Sprintf("message %d", i))})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, aws.ToString(out.MessageId))
	}
	s.kill9()

	ep.start(t)
	defer ep.srv.Close()
	s = startServer(t, dir, "--sandbox", "process")
	defer s.stop()
	eventually(t, 3*time.Minute, "every accepted message at the endpoint", func() error {
		ep.mu.Lock()
		defer ep.mu.Unlock()
		for _, id := range ids {
			if !ep.ids[id] {
				return fmt.Errorf("%d of %d delivered; %s missing", len(ep.ids), len(ids), id)
			}
		}
		return nil
	})
}

// snsBoto3Script drives SNS with boto3 and prints one JSON document of
// what it saw.
const snsBoto3Script = `
import json
import boto3
from botocore.exceptions import ClientError

sns = boto3.client("sns")
out = {}
arn = sns.create_topic(Name="boto", Attributes={"DisplayName": "Boto"}, Tags=[{"Key": "k", "Value": "v"}])["TopicArn"]
out["arn"] = arn
out["display"] = sns.get_topic_attributes(TopicArn=arn)["Attributes"]["DisplayName"]
sub = sns.subscribe(TopicArn=arn, Protocol="lambda", Endpoint="arn:aws:lambda:us-east-1:000000000000:function:none",
                    Attributes={"FilterPolicyScope": "MessageBody", "FilterPolicy": json.dumps({"a": {"b": [{"prefix": "x"}]}})},
                    ReturnSubscriptionArn=True)["SubscriptionArn"]
out["scope"] = sns.get_subscription_attributes(SubscriptionArn=sub)["Attributes"]["FilterPolicyScope"]
out["subs"] = [s["Protocol"] for s in sns.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"]]
b = sns.publish_batch(TopicArn=arn, PublishBatchRequestEntries=[
    {"Id": "one", "Message": json.dumps({"a": {"b": "xyz"}}), "MessageAttributes": {"n": {"DataType": "Number", "StringValue": "5"}}},
    {"Id": "two", "Message": "m", "MessageAttributes": {"n": {"DataType": "Number", "StringValue": "five"}}}])
out["ok"] = [e["Id"] for e in b["Successful"]]
out["failed"] = [[e["Id"], e["Code"], e["SenderFault"]] for e in b["Failed"]]
out["tags"] = sns.list_tags_for_resource(ResourceArn=arn)["Tags"]
def err(fn, **kw):
    try:
        fn(**kw)
        return None
    except ClientError as e:
        return [e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"], e.response["Error"]["Message"]]
out["notfound"] = err(sns.get_topic_attributes, TopicArn=arn + "x")
out["badfilter"] = err(sns.set_subscription_attributes, SubscriptionArn=sub, AttributeName="FilterPolicy",
                       AttributeValue=json.dumps({"a": [{"exists": "yes"}]}))
sns.delete_topic(TopicArn=arn)
out["after"] = len(sns.list_topics()["Topics"])
print(json.dumps(out))
`

// TestSNSBoto3: boto3 reads SNS's answers and errors as it reads AWS's.
func TestSNSBoto3(t *testing.T) {
	t.Parallel()
	s := startServer(t, t.TempDir(), "--sandbox", "process")
	r := runCmd(t, s.env(), nil, 60*time.Second, "python3", "-c", snsBoto3Script)
	if r.Code != 0 {
		t.Fatalf("boto3: %s", r)
	}
	var out struct {
		ARN, Display, Scope string
		Subs, OK            []string
		Failed              [][]any
		Tags                []map[string]string
		NotFound, BadFilter []any
		After               int
	}
	if err := json.Unmarshal([]byte(r.Stdout), &out); err != nil {
		t.Fatalf("%v: %s", err, r.Stdout)
	}
	if out.ARN != "arn:aws:sns:"+region+":000000000000:boto" || out.Display != "Boto" || out.Scope != "MessageBody" ||
		fmt.Sprint(out.Subs) != "[lambda]" || fmt.Sprint(out.OK) != "[one]" || fmt.Sprint(out.Failed) != "[[two ParameterValueInvalid true]]" ||
		fmt.Sprint(out.Tags) != "[map[Key:k Value:v]]" || out.After != 0 {
		t.Errorf("boto3 saw %+v", out)
	}
	if fmt.Sprint(out.NotFound) != "[NotFound 404 Topic does not exist]" {
		t.Errorf("not found: %v", out.NotFound)
	}
	if fmt.Sprint(out.BadFilter) != "[InvalidParameter 400 Invalid parameter: FilterPolicy: exists match pattern must be either true or false.]" {
		t.Errorf("bad filter: %v", out.BadFilter)
	}
}
