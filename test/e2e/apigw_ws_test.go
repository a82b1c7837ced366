package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/coder/websocket"
)

// pyChat keeps a chat's connections as S3 objects connections/<id> and
// broadcasts through the @connections API with the function's role.
const pyChat = `import json
import os

import boto3
from botocore.config import Config

BUCKET = os.environ["BUCKET"]
s3 = boto3.client("s3", config=Config(s3={"addressing_style": "path"}))


def connect(event, context):
    s3.put_object(Bucket=BUCKET, Key="connections/" + event["requestContext"]["connectionId"], Body=b"")
    return {"statusCode": 200}


def disconnect(event, context):
    s3.delete_object(Bucket=BUCKET, Key="connections/" + event["requestContext"]["connectionId"])
    return {"statusCode": 200}


def send(event, context):
    rc = event["requestContext"]
    text = json.loads(event["body"])["text"]
    api = boto3.client("apigatewaymanagementapi",
                       endpoint_url=os.environ["AWS_ENDPOINT_URL"] + "/execute-api/" + rc["apiId"] + "/" + rc["stage"])
    sent = 0
    for o in s3.list_objects_v2(Bucket=BUCKET, Prefix="connections/").get("Contents", []):
        cid = o["Key"].split("/", 1)[1]
        try:
            api.post_to_connection(ConnectionId=cid, Data=text.encode())
            sent += 1
        except api.exceptions.GoneException:
            s3.delete_object(Bucket=BUCKET, Key=o["Key"])
    info = api.get_connection(ConnectionId=rc["connectionId"])
    return {"statusCode": 200, "body": json.dumps({"sent": sent, "sourceIp": info["Identity"]["SourceIp"]})}
`

var wsEndpoint = regexp.MustCompile(`^ws://([a-z0-9]{10})\.execute-api\.us-east-1\.localhost:(\d+)$`)

// TestWebSocketChat builds a WebSocket API with the AWS CLI — $connect
// and $disconnect keep the connection ids in S3, a two-way sendmessage
// route broadcasts through @connections with boto3 and the function's
// role — and chats over it with two Go WebSocket clients, one by host
// name and one by path.
func TestWebSocketChat(t *testing.T) {
	requireHostBoto3(t)
	t.Parallel()
	s := startServer(t, t.TempDir(), "--sandbox", "process")
	root := s.env()
	lc := newSDK(t, s)
	cli := newCLI(t, s)
	grantTestRole(t, s)
	const bucket = "chat-connections"
	awsOK(t, root, "s3api", "create-bucket", "--bucket", bucket)
	_, port, _ := net.SplitHostPort(s.addr)

	api := cli.ok("apigatewayv2", "create-api", "--name", "chat", "--protocol-type", "WEBSOCKET",
		"--route-selection-expression", "$request.body.action")
	id := jstr(api, "ApiId")
	if m := wsEndpoint.FindStringSubmatch(jstr(api, "ApiEndpoint")); m == nil || m[1] != id || m[2] != port {
		t.Fatalf("ApiEndpoint %q (ApiId %q, port %s)", jstr(api, "ApiEndpoint"), id, port)
	}
	cli.fail("BadRequestException", "apigatewayv2", "create-api", "--name", "quick", "--protocol-type", "WEBSOCKET",
		"--route-selection-expression", "$request.body.action", "--target", functionARN("chat-send"))
	awsOK(t, root, "iam", "put-role-policy", "--role-name", "lambda-role", "--policy-name", "chat",
		"--policy-document", `{"Version":"2012-10-17","Statement":[`+
			`{"Effect":"Allow","Action":["s3:PutObject","s3:DeleteObject","s3:ListBucket","s3:GetObject"],"Resource":["arn:aws:s3:::`+bucket+`","arn:aws:s3:::`+bucket+`/*"]},`+
			`{"Effect":"Allow","Action":"execute-api:ManageConnections","Resource":"arn:aws:execute-api:`+region+`:`+accountID+`:`+id+`/prod/*/@connections/*"}]}`)

	zip := makeZip(t, zipEntry{Name: "app.py", Body: pyChat})
	routes := map[string]string{"$connect": "chat-connect", "$disconnect": "chat-disconnect", "sendmessage": "chat-send"}
	for key, fn := range routes {
		handler := "app." + strings.TrimPrefix(strings.TrimPrefix(fn, "chat-"), "$")
		must[*lambda.CreateFunctionOutput](t, "CreateFunction "+fn)(lc.CreateFunction(t.Context(), &lambda.CreateFunctionInput{
			FunctionName: aws.String(fn), Runtime: types.RuntimePython312, Role: aws.String(testRole), Handler: aws.String(handler),
			Code: &types.FunctionCode{ZipFile: zip}, Timeout: aws.Int32(30),
			Environment: &types.Environment{Variables: map[string]string{"BUCKET": bucket}}}))
		waitActive(t, lc, fn)
		cli.ok("lambda", "add-permission", "--function-name", fn, "--statement-id", "apigw", "--action", "lambda:InvokeFunction",
			"--principal", "apigateway.amazonaws.com", "--source-arn", "arn:aws:execute-api:"+region+":"+accountID+":"+id+"/*/"+key)
		integ := jstr(cli.ok("apigatewayv2", "create-integration", "--api-id", id, "--integration-type", "AWS_PROXY",
			"--integration-uri", functionARN(fn)), "IntegrationId")
		args := []string{"apigatewayv2", "create-route", "--api-id", id, "--route-key", key, "--target", "integrations/" + integ}
		if key == "sendmessage" {
			args = append(args, "--route-response-selection-expression", "$default")
		}
		rt := cli.ok(args...)
		if key == "sendmessage" {
			cli.ok("apigatewayv2", "create-route-response", "--api-id", id, "--route-id", jstr(rt, "RouteId"), "--route-response-key", "$default")
		}
	}
	cli.ok("apigatewayv2", "create-stage", "--api-id", id, "--stage-name", "prod", "--auto-deploy")

	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	dial := func(u, host string) *websocket.Conn {
		t.Helper()
		c, resp, err := websocket.Dial(ctx, u, &websocket.DialOptions{Host: host})
		if err != nil {
			t.Fatalf("dial %s (host %q): %v %v", u, host, err, resp)
		}
		t.Cleanup(func() { c.CloseNow() })
		return c
	}
	read := func(c *websocket.Conn, what string) string {
		t.Helper()
		_, b, err := c.Read(ctx)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return string(b)
	}
	connections := func() []string {
		t.Helper()
		var out struct{ Contents []struct{ Key string } }
		awsJSON(t, root, &out, "s3api", "list-objects-v2", "--bucket", bucket, "--prefix", "connections/")
		var keys []string
		for _, o := range out.Contents {
			keys = append(keys, o.Key)
		}
		sort.Strings(keys)
		return keys
	}

	ann := dial("ws://"+s.addr+"/prod", id+".execute-api."+region+".localhost:"+port)
	bob := dial("ws://"+s.addr+"/execute-api/"+id+"/prod", "")
	if got := connections(); len(got) != 2 {
		t.Fatalf("after two connections, S3 holds %v", got)
	}

	if err := ann.Write(ctx, websocket.MessageText, []byte(`{"action":"sendmessage","text":"hello from ann"}`)); err != nil {
		t.Fatal(err)
	}
	// ann gets the broadcast and the route's answer, in that order (the
	// answer is sent when the function returns); bob gets the broadcast.
	expectEq(t, "ann's broadcast", read(ann, "ann's broadcast"), "hello from ann")
	var answer struct {
		Sent     int
		SourceIP string `json:"sourceIp"`
	}
	if err := json.Unmarshal([]byte(read(ann, "sendmessage's answer")), &answer); err != nil || answer.Sent != 2 || answer.SourceIP == "" {
		t.Errorf("sendmessage answered %+v (%v)", answer, err)
	}
	expectEq(t, "bob's broadcast", read(bob, "bob's broadcast"), "hello from ann")

	// bob leaves: $disconnect forgets him; the next broadcast reaches ann alone.
	bob.Close(websocket.StatusNormalClosure, "bye")
	eventually(t, time.Minute, "$disconnect removed bob", func() error {
		if got := connections(); len(got) != 1 {
			return fmt.Errorf("S3 holds %v", got)
		}
		return nil
	})
	if err := ann.Write(ctx, websocket.MessageText, []byte(`{"action":"sendmessage","text":"anyone?"}`)); err != nil {
		t.Fatal(err)
	}
	expectEq(t, "ann's second broadcast", read(ann, "second broadcast"), "anyone?")
	if err := json.Unmarshal([]byte(read(ann, "second answer")), &answer); err != nil || answer.Sent != 1 {
		t.Errorf("the second sendmessage answered %+v (%v)", answer, err)
	}
	// No route for the action and no $default: API Gateway's Forbidden frame.
	if err := ann.Write(ctx, websocket.MessageText, []byte(`{"action":"nothing"}`)); err != nil {
		t.Fatal(err)
	}
	var frame struct{ Message, ConnectionID string }
	if err := json.Unmarshal([]byte(read(ann, "no route")), &frame); err != nil || frame.Message != "Forbidden" || frame.ConnectionID == "" {
		t.Errorf("no route: %+v (%v)", frame, err)
	}
}
