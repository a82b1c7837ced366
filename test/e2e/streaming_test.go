package e2e

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// nodeStreamer is a streamified Node.js function. It writes its first
// chunk, then waits for a message on the queue the event names (the test
// sends it only once it has read that chunk, so the chunk can only have
// come through while the function was still running), then writes the
// message and ends. As a function URL's handler it takes the queue from
// the query string and answers with an HTTP integration prelude.
const nodeStreamer = `const { SQSClient, ReceiveMessageCommand } = require('@aws-sdk/client-sqs');
const sqs = new SQSClient({
  endpoint: process.env.KUMO_TEST_ENDPOINT, region: 'us-east-1',
  credentials: { accessKeyId: process.env.KUMO_TEST_KEY, secretAccessKey: process.env.KUMO_TEST_SECRET },
});

async function message(queueUrl) {
  for (;;) {
    const r = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, WaitTimeSeconds: 5, MaxNumberOfMessages: 1 }));
    if (r.Messages && r.Messages.length) return r.Messages[0].Body;
  }
}

exports.handler = awslambda.streamifyResponse(async (event, stream) => {
  let input = event;
  if (event.requestContext) {
    input = event.queryStringParameters || {};
    stream = awslambda.HttpResponseStream.from(stream, {
      statusCode: 202, headers: { 'content-type': 'text/plain', 'x-kumo-stream': 'yes' }, cookies: ['s=1'],
    });
  } else {
    stream.setContentType('text/plain');
  }
  stream.write('chunk-1;');
  const body = await message(input.queue);
  stream.write('chunk-2:' + body + ';');
  if (input.fail) throw new Error('failed after chunk 2');
  stream.end('done');
});
`

// nodeBuffered is a function that does not stream.
const nodeBuffered = `exports.handler = async (event) => ({ hello: event.name });
`

// boto3Stream invokes a function with invoke_with_response_stream and
// prints one JSON line per event as it reads it.
const boto3Stream = `import json, sys
import boto3

c = boto3.client("lambda")
r = c.invoke_with_response_stream(FunctionName=sys.argv[1], Payload=json.dumps({"queue": sys.argv[2]}))
print(json.dumps({"status": r["StatusCode"], "version": r.get("ExecutedVersion", "")}), flush=True)
for ev in r["EventStream"]:
    if "PayloadChunk" in ev:
        print(json.dumps({"chunk": ev["PayloadChunk"]["Payload"].decode()}), flush=True)
    elif "InvokeComplete" in ev:
        print(json.dumps({"complete": ev["InvokeComplete"]}), flush=True)
print(json.dumps({"end": True}), flush=True)
`

// requireBoto3Streaming skips unless the python3 on PATH has a boto3 with
// invoke_with_response_stream (botocore 1.29.x, Debian's, has not).
func requireBoto3Streaming(t *testing.T) {
	t.Helper()
	err := exec.Command("python3", "-c", "import boto3; boto3.client('lambda', region_name='us-east-1').invoke_with_response_stream").Run()
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("python3's boto3 has no invoke_with_response_stream (pip install -U boto3)")
		}
		t.Skip("python3's boto3 has no invoke_with_response_stream (pip install -U boto3)")
	}
}

// streamingServer starts a server whose Node.js functions have the AWS
// SDK, and deploys the streaming and the buffered function.
func streamingServer(t *testing.T) (*server, *lambda.Client) {
	t.Helper()
	requireInterpreter(t, "/usr/bin/node", "/usr/local/bin/node")
	sdk := nodeSDKDir(t)
	s := startServer(t, t.TempDir(), "--sandbox", "process", "--runtime-sdk-dir", sdk)
	lc := newSDK(t, s)
	env := &types.Environment{Variables: map[string]string{
		"KUMO_TEST_ENDPOINT": s.url, "KUMO_TEST_KEY": rootAccessKeyID, "KUMO_TEST_SECRET": rootSecretAccessKey,
	}}
	for name, code := range map[string]string{"streamer": nodeStreamer, "buffered": nodeBuffered} {
		must[*lambda.CreateFunctionOutput](t, "CreateFunction "+name)(lc.CreateFunction(t.Context(), &lambda.CreateFunctionInput{
			FunctionName: aws.String(name), Runtime: types.RuntimeNodejs20x, Role: aws.String(testRole), Handler: aws.String("index.handler"),
			Code: &types.FunctionCode{ZipFile: makeZip(t, zipEntry{Name: "index.js", Body: code})}, Timeout: aws.Int32(120),
			Environment: env,
		}))
		waitActive(t, lc, name)
	}
	return s, lc
}

// newQueue creates a queue for one test and returns its URL.
func newQueue(t *testing.T, qc *sqs.Client, name string) string {
	t.Helper()
	out := must[*sqs.CreateQueueOutput](t, "CreateQueue "+name)(qc.CreateQueue(t.Context(), &sqs.CreateQueueInput{QueueName: aws.String(name)}))
	return aws.ToString(out.QueueUrl)
}

func send(t *testing.T, qc *sqs.Client, queueURL, body string) {
	t.Helper()
	must[*sqs.SendMessageOutput](t, "SendMessage")(qc.SendMessage(t.Context(), &sqs.SendMessageInput{QueueUrl: aws.String(queueURL), MessageBody: aws.String(body)}))
}

// TestStreamingResponses: a streamified Node.js function's response
// reaches boto3, aws-sdk-go-v2 and a function URL's client piece by piece
// while the function runs; a function that does not stream answers in
// one PayloadChunk; an error thrown midway ends the stream with
// InvokeComplete's ErrorCode.
func TestStreamingResponses(t *testing.T) {
	t.Parallel()
	s, lc := streamingServer(t)
	qc := newSQS(s)

	t.Run("boto3", func(t *testing.T) {
		t.Parallel()
		requireBoto3Streaming(t)
		q := newQueue(t, qc, "stream-boto3")
		ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "python3", writeTemp(t, "stream.py", []byte(boto3Stream)), "streamer", q)
		cmd.Env = s.env()
		var stderr syncBuffer
		cmd.Stderr = &stderr
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer cmd.Wait()
		lines := bufio.NewScanner(stdout)
		line := func() map[string]any {
			t.Helper()
			if !lines.Scan() {
				t.Fatalf("boto3 script ended early: %v\n%s", lines.Err(), stderr.String())
			}
			var m map[string]any
			if err := json.Unmarshal(lines.Bytes(), &m); err != nil {
				t.Fatalf("line %q: %v", lines.Text(), err)
			}
			return m
		}
		head := line()
		if head["status"] != float64(200) || head["version"] != "$LATEST" {
			t.Errorf("head = %v", head)
		}
		if c := line(); c["chunk"] != "chunk-1;" {
			t.Fatalf("first event = %v", c)
		}
		// Only now does the function get what it needs to go on.
		send(t, qc, q, "from-boto3")
		var body strings.Builder
		var complete map[string]any
		for complete == nil {
			m := line()
			if c, ok := m["chunk"].(string); ok {
				body.WriteString(c)
				continue
			}
			complete, _ = m["complete"].(map[string]any)
			if complete == nil {
				t.Fatalf("unexpected line %v", m)
			}
		}
		expectEq(t, "rest of the stream", body.String(), "chunk-2:from-boto3;done")
		if len(complete) != 0 {
			t.Errorf("InvokeComplete = %v, want no error", complete)
		}
		if m := line(); m["end"] != true {
			t.Errorf("after InvokeComplete: %v", m)
		}
	})

	t.Run("go-sdk", func(t *testing.T) {
		t.Parallel()
		for _, fail := range []bool{false, true} {
			q := newQueue(t, qc, "stream-go-"+map[bool]string{false: "ok", true: "fail"}[fail])
			payload, _ := json.Marshal(map[string]any{"queue": q, "fail": fail})
			out := must[*lambda.InvokeWithResponseStreamOutput](t, "InvokeWithResponseStream")(lc.InvokeWithResponseStream(t.Context(),
				&lambda.InvokeWithResponseStreamInput{FunctionName: aws.String("streamer"), Payload: payload}))
			stream := out.GetStream()
			expectEq(t, "ExecutedVersion", aws.ToString(out.ExecutedVersion), "$LATEST")
			events := stream.Events()
			next := func() types.InvokeWithResponseStreamResponseEvent {
				t.Helper()
				select {
				case ev, ok := <-events:
					if !ok {
						t.Fatalf("stream ended early: %v", stream.Err())
					}
					return ev
				case <-time.After(2 * time.Minute):
					t.Fatal("no event")
					return nil
				}
			}
			if c, ok := next().(*types.InvokeWithResponseStreamResponseEventMemberPayloadChunk); !ok || string(c.Value.Payload) != "chunk-1;" {
				t.Fatalf("first event %#v", c)
			}
			send(t, qc, q, "from-go")
			var body strings.Builder
			for {
				ev := next()
				if c, ok := ev.(*types.InvokeWithResponseStreamResponseEventMemberPayloadChunk); ok {
					body.Write(c.Value.Payload)
					continue
				}
				done := ev.(*types.InvokeWithResponseStreamResponseEventMemberInvokeComplete).Value
				if !fail {
					expectEq(t, "body", body.String(), "chunk-2:from-go;done")
					if done.ErrorCode != nil {
						t.Errorf("InvokeComplete error %q %q", aws.ToString(done.ErrorCode), aws.ToString(done.ErrorDetails))
					}
				} else {
					expectEq(t, "body before the error", body.String(), "chunk-2:from-go;")
					expectEq(t, "ErrorCode", aws.ToString(done.ErrorCode), "Error")
					expectEq(t, "ErrorDetails", aws.ToString(done.ErrorDetails), "failed after chunk 2")
				}
				break
			}
			stream.Close()
		}
	})

	t.Run("buffered-function", func(t *testing.T) {
		t.Parallel()
		out := must[*lambda.InvokeWithResponseStreamOutput](t, "InvokeWithResponseStream")(lc.InvokeWithResponseStream(t.Context(),
			&lambda.InvokeWithResponseStreamInput{FunctionName: aws.String("buffered"), Payload: []byte(`{"name":"kumo"}`), LogType: types.LogTypeTail}))
		stream := out.GetStream()
		defer stream.Close()
		var chunks []string
		var done *types.InvokeWithResponseStreamCompleteEvent
		for ev := range stream.Events() {
			switch ev := ev.(type) {
			case *types.InvokeWithResponseStreamResponseEventMemberPayloadChunk:
				chunks = append(chunks, string(ev.Value.Payload))
			case *types.InvokeWithResponseStreamResponseEventMemberInvokeComplete:
				done = &ev.Value
			}
		}
		if len(chunks) != 1 || chunks[0] != `{"hello":"kumo"}` || done == nil {
			t.Fatalf("chunks %q, complete %+v, err %v", chunks, done, stream.Err())
		}
		logTail, _ := base64.StdEncoding.DecodeString(aws.ToString(done.LogResult))
		if done.ErrorCode != nil || !strings.Contains(string(logTail), "REPORT RequestId:") {
			t.Errorf("InvokeComplete = %+v", done)
		}
	})

	t.Run("function-url", func(t *testing.T) {
		t.Parallel()
		cfg := must[*lambda.CreateFunctionUrlConfigOutput](t, "CreateFunctionUrlConfig")(lc.CreateFunctionUrlConfig(t.Context(), &lambda.CreateFunctionUrlConfigInput{
			FunctionName: aws.String("streamer"), AuthType: types.FunctionUrlAuthTypeNone, InvokeMode: types.InvokeModeResponseStream}))
		expectEq(t, "InvokeMode", cfg.InvokeMode, types.InvokeModeResponseStream)
		got := must[*lambda.GetFunctionUrlConfigOutput](t, "GetFunctionUrlConfig")(lc.GetFunctionUrlConfig(t.Context(), &lambda.GetFunctionUrlConfigInput{FunctionName: aws.String("streamer")}))
		expectEq(t, "GetFunctionUrlConfig InvokeMode", got.InvokeMode, types.InvokeModeResponseStream)
		must[*lambda.AddPermissionOutput](t, "AddPermission")(lc.AddPermission(t.Context(), &lambda.AddPermissionInput{
			FunctionName: aws.String("streamer"), StatementId: aws.String("public-url"), Action: aws.String("lambda:InvokeFunctionUrl"),
			Principal: aws.String("*"), FunctionUrlAuthType: types.FunctionUrlAuthTypeNone,
		}))
		id := urlID(t, s, aws.ToString(cfg.FunctionUrl))
		q := newQueue(t, qc, "stream-url")
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, s.url+"/lambda-url/"+id+"/?queue="+url.QueryEscape(q), nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != 202 || resp.Header.Get("Content-Type") != "text/plain" || resp.Header.Get("X-Kumo-Stream") != "yes" ||
			resp.Header.Get("Set-Cookie") != "s=1" || len(resp.TransferEncoding) == 0 {
			t.Fatalf("head: %d %v %v", resp.StatusCode, resp.Header, resp.TransferEncoding)
		}
		first := make([]byte, len("chunk-1;"))
		if _, err := io.ReadFull(resp.Body, first); err != nil || string(first) != "chunk-1;" {
			t.Fatalf("first chunk %q, %v", first, err)
		}
		send(t, qc, q, "from-url")
		rest, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		expectEq(t, "rest of the body", string(rest), "chunk-2:from-url;done")
	})
}
