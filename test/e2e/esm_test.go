package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	kpoll "github.com/kumo-run/kumo/internal/poll"
)

// esmRecorderSource is an SQS-triggered function (aws-lambda-go's
// events shape, decoded by hand) that appends one JSON line per record
// {body, count, source, t: the time it ran, in ns} to $REC_FILE and syncs it, and reports every
// record whose body starts with "fail" in batchItemFailures. It runs
// under the process driver so that it can write to the host; it is built
// through an overlay so the repository holds no extra package.
const esmRecorderSource = `package main

import (
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
)

type record struct {
	MessageID      string            ` + "`json:\"messageId\"`" + `
	Body           string            ` + "`json:\"body\"`" + `
	Attributes     map[string]string ` + "`json:\"attributes\"`" + `
	EventSource    string            ` + "`json:\"eventSource\"`" + `
	EventSourceARN string            ` + "`json:\"eventSourceARN\"`" + `
}

type failure struct {
	ItemIdentifier string ` + "`json:\"itemIdentifier\"`" + `
}

func main() {
	lambda.Start(func(ev struct{ Records []record }) (map[string][]failure, error) {
		f, err := os.OpenFile(os.Getenv("REC_FILE"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		failed := []failure{}
		for _, r := range ev.Records {
			line, _ := json.Marshal(map[string]string{"body": r.Body, "count": r.Attributes["ApproximateReceiveCount"],
				"source": r.EventSource + " " + r.EventSourceARN, "t": strconv.FormatInt(time.Now().UnixNano(), 10)})
			if _, err := f.Write(append(line, '\n')); err != nil {
				return nil, err
			}
			if strings.HasPrefix(r.Body, "fail") {
				failed = append(failed, failure{r.MessageID})
			}
		}
		if err := f.Sync(); err != nil {
			return nil, err
		}
		return map[string][]failure{"batchItemFailures": failed}, nil
	})
}
`

var esmRecBuild struct {
	once sync.Once
	zip  []byte
	err  error
}

func esmRecorderZip(t testing.TB) []byte {
	t.Helper()
	esmRecBuild.once.Do(func() {
		dir := filepath.Dir(kumoBin)
		src := filepath.Join(dir, "esmrec.go")
		if err := os.WriteFile(src, []byte(esmRecorderSource), 0o644); err != nil {
			esmRecBuild.err = err
			return
		}
		ov, _ := json.Marshal(map[string]any{"Replace": map[string]string{
			filepath.Join(repoDir, "test/e2e/testdata/esmrec/main.go"): src,
		}})
		ovFile := filepath.Join(dir, "esmrec-overlay.json")
		if err := os.WriteFile(ovFile, ov, 0o644); err != nil {
			esmRecBuild.err = err
			return
		}
		out := filepath.Join(dir, "esmrec")
		cmd := exec.Command("go", "build", "-overlay", ovFile, "-trimpath", "-ldflags=-s -w", "-o", out, "./test/e2e/testdata/esmrec")
		cmd.Dir = repoDir
		cmd.Env = append(cleanEnv(), "CGO_ENABLED=0")
		if b, err := cmd.CombinedOutput(); err != nil {
			esmRecBuild.err = fmt.Errorf("building the recorder: %v\n%s", err, b)
			return
		}
		bin, err := os.ReadFile(out)
		if err != nil {
			esmRecBuild.err = err
			return
		}
		esmRecBuild.zip = makeZip(t, zipEntry{Name: "bootstrap", Body: string(bin), Mode: 0o755})
	})
	if esmRecBuild.err != nil {
		t.Fatal(esmRecBuild.err)
	}
	return esmRecBuild.zip
}

type esmLine struct{ Body, Count, Source, T string }

func readESMRec(t testing.TB, file string) []esmLine {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var out []esmLine
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		var l esmLine
		if json.Unmarshal(sc.Bytes(), &l) == nil {
			out = append(out, l)
		}
	}
	return out
}

// esmRole creates, with the AWS CLI, an execution role that Lambda may
// assume and that may poll SQS queues (what a mapping's function needs)
// and returns its ARN.
func esmRole(t testing.TB, s *server, name string) string {
	t.Helper()
	env := s.env()
	if r := runCmd(t, env, nil, time.Minute, "aws", "iam", "create-role", "--role-name", name,
		"--assume-role-policy-document", trustDoc("Service", "lambda.amazonaws.com")); r.Code != 0 {
		t.Fatalf("create-role: %s", r)
	}
	policy := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["sqs:ReceiveMessage","sqs:DeleteMessage","sqs:GetQueueAttributes"],"Resource":"*"}]}`
	if r := runCmd(t, env, nil, time.Minute, "aws", "iam", "put-role-policy", "--role-name", name, "--policy-name", "poll-sqs",
		"--policy-document", policy); r.Code != 0 {
		t.Fatalf("put-role-policy: %s", r)
	}
	return "arn:aws:iam::" + accountID + ":role/" + name
}

// TestESMSQS: with the AWS CLI, a queue with a dead-letter queue feeds a
// function through an event source mapping with ReportBatchItemFailures:
// every message is processed, the one the function reports failed comes
// back until maxReceiveCount and ends in the dead-letter queue, and a
// disabled mapping stops consuming.
func TestESMSQS(t *testing.T) {
	t.Parallel()
	s := asyncServer(t, t.TempDir())
	cli := newCLI(t, s)
	lc := newSDK(t, s)

	dlq := cli.ok("sqs", "create-queue", "--queue-name", "esm-dlq")
	dlqARN := "arn:aws:sqs:" + region + ":" + accountID + ":esm-dlq"
	src := cli.ok("sqs", "create-queue", "--queue-name", "esm-src", "--attributes",
		`{"VisibilityTimeout":"1","RedrivePolicy":"{\"deadLetterTargetArn\":\"`+dlqARN+`\",\"maxReceiveCount\":\"2\"}"}`)
	srcURL, dlqURL := jstr(src, "QueueUrl"), jstr(dlq, "QueueUrl")
	srcARN := jstr(cli.ok("sqs", "get-queue-attributes", "--queue-url", srcURL, "--attribute-names", "QueueArn"), "Attributes", "QueueArn")

	file := filepath.Join(t.TempDir(), "esm.jsonl")
	// A role that may not poll the queue is refused, as Lambda answers.
	must[*lambda.CreateFunctionOutput](t, "CreateFunction")(lc.CreateFunction(t.Context(), &lambda.CreateFunctionInput{
		FunctionName: aws.String("esm-norole"), Runtime: types.RuntimeProvidedal2023, Role: aws.String(testRole),
		Handler: aws.String("bootstrap"), Code: &types.FunctionCode{ZipFile: esmRecorderZip(t)},
	}))
	r := cli.fail("InvalidParameterValueException", "lambda", "create-event-source-mapping", "--function-name", "esm-norole", "--event-source-arn", srcARN)
	if !strings.Contains(r.Stderr, "The provided execution role does not have permissions to call ReceiveMessage on SQS") {
		t.Fatalf("create-event-source-mapping without permissions: %s", r)
	}
	must[*lambda.CreateFunctionOutput](t, "CreateFunction")(lc.CreateFunction(t.Context(), &lambda.CreateFunctionInput{
		FunctionName: aws.String("esm-fn"), Runtime: types.RuntimeProvidedal2023, Role: aws.String(esmRole(t, s, "esm-poller")),
		Handler: aws.String("bootstrap"), Code: &types.FunctionCode{ZipFile: esmRecorderZip(t)}, MemorySize: aws.Int32(128),
		Timeout: aws.Int32(10), Environment: &types.Environment{Variables: map[string]string{"REC_FILE": file}},
	}))
	waitActive(t, lc, "esm-fn")

	m := cli.ok("lambda", "create-event-source-mapping", "--function-name", "esm-fn", "--event-source-arn", srcARN,
		"--batch-size", "5", "--function-response-types", "ReportBatchItemFailures")
	uuid := jstr(m, "UUID")
	expectEq(t, "State", jstr(m, "State"), "Creating")
	expectEq(t, "LastProcessingResult", jstr(m, "LastProcessingResult"), "No records processed")
	waitMapping := func(want string) {
		eventually(t, kpoll.Default, "mapping "+want, func() error {
			if st := jstr(cli.ok("lambda", "get-event-source-mapping", "--uuid", uuid), "State"); st != want {
				return fmt.Errorf("state %s", st)
			}
			return nil
		})
	}
	waitMapping("Enabled")
	cli.fail("ResourceConflictException", "lambda", "create-event-source-mapping", "--function-name", "esm-fn", "--event-source-arn", srcARN)

	var entries []map[string]string
	for i := range 9 {
		entries = append(entries, map[string]string{"Id": fmt.Sprint("m", i), "MessageBody": fmt.Sprint("ok-", i)})
	}
	entries = append(entries, map[string]string{"Id": "f", "MessageBody": "fail-1"})
	eb, _ := json.Marshal(entries)
	cli.ok("sqs", "send-message-batch", "--queue-url", srcURL, "--entries", string(eb))

	// The failed message lands in the dead-letter queue after its second
	// receive; every other one was processed and deleted.
	eventually(t, kpoll.Default, "the failed message in the dead-letter queue", func() error {
		n := jstr(cli.ok("sqs", "get-queue-attributes", "--queue-url", dlqURL, "--attribute-names", "ApproximateNumberOfMessages"),
			"Attributes", "ApproximateNumberOfMessages")
		if n != "1" {
			return fmt.Errorf("%s in the dead-letter queue", n)
		}
		return nil
	})
	eventually(t, kpoll.Default, "the source queue to drain", func() error {
		a := cli.ok("sqs", "get-queue-attributes", "--queue-url", srcURL, "--attribute-names", "All")
		if v, n := jstr(a, "Attributes", "ApproximateNumberOfMessages"), jstr(a, "Attributes", "ApproximateNumberOfMessagesNotVisible"); v != "0" || n != "0" {
			return fmt.Errorf("%s visible, %s in flight", v, n)
		}
		return nil
	})
	seen := map[string][]string{}
	for _, l := range readESMRec(t, file) {
		seen[l.Body] = append(seen[l.Body], l.Count)
		expectEq(t, "event source", l.Source, "aws:sqs "+srcARN)
	}
	for i := range 9 {
		if c := seen[fmt.Sprint("ok-", i)]; len(c) != 1 || c[0] != "1" {
			t.Errorf("ok-%d processed with receive counts %v, want [1]", i, c)
		}
	}
	if c := seen["fail-1"]; strings.Join(c, ",") != "1,2" {
		t.Errorf("fail-1 processed with receive counts %v, want [1 2]", c)
	}
	got := cli.ok("sqs", "receive-message", "--queue-url", dlqURL, "--wait-time-seconds", "5")
	expectEq(t, "dead-lettered body", jstr(got, "Messages", "0", "Body"), "fail-1")
	expectEq(t, "LastProcessingResult", jstr(cli.ok("lambda", "get-event-source-mapping", "--uuid", uuid), "LastProcessingResult"), "OK")

	// Disabled: the mapping stops consuming.
	up := cli.ok("lambda", "update-event-source-mapping", "--uuid", uuid, "--no-enabled")
	expectEq(t, "State", jstr(up, "State"), "Disabling")
	waitMapping("Disabled")
	cli.ok("sqs", "send-message", "--queue-url", srcURL, "--message-body", "after-disable")
	got = cli.ok("sqs", "receive-message", "--queue-url", srcURL, "--wait-time-seconds", "10")
	expectEq(t, "body received while disabled", jstr(got, "Messages", "0", "Body"), "after-disable")
	for _, l := range readESMRec(t, file) {
		if l.Body == "after-disable" {
			t.Fatal("a disabled mapping invoked the function")
		}
	}

	list := cli.ok("lambda", "list-event-source-mappings", "--function-name", "esm-fn")
	expectEq(t, "listed UUID", jstr(list, "EventSourceMappings", "0", "UUID"), uuid)
	expectEq(t, "delete State", jstr(cli.ok("lambda", "delete-event-source-mapping", "--uuid", uuid), "State"), "Deleting")
	eventually(t, kpoll.Default, "the mapping to go", func() error {
		if r := cli.run("lambda", "get-event-source-mapping", "--uuid", uuid); !strings.Contains(r.Stderr, "ResourceNotFoundException") {
			return fmt.Errorf("still there: %s", r)
		}
		return nil
	})
}

// TestESMRestart: a mapping survives a clean stop (which its pollers do
// not hold up) and kill -9, and goes on consuming after each restart.
func TestESMRestart(t *testing.T) {
	t.Parallel()
	dataDir := t.TempDir()
	s := asyncServer(t, dataDir)
	lc := newSDK(t, s)
	qc := newSQS(s)
	q := must[*sqs.CreateQueueOutput](t, "CreateQueue")(qc.CreateQueue(t.Context(), &sqs.CreateQueueInput{QueueName: aws.String("esm-rs")}))
	arn := "arn:aws:sqs:" + region + ":" + accountID + ":esm-rs"
	file := filepath.Join(t.TempDir(), "rs.jsonl")
	must[*lambda.CreateFunctionOutput](t, "CreateFunction")(lc.CreateFunction(t.Context(), &lambda.CreateFunctionInput{
		FunctionName: aws.String("esm-rs"), Runtime: types.RuntimeProvidedal2023, Role: aws.String(esmRole(t, s, "esm-rs-role")),
		Handler: aws.String("bootstrap"), Code: &types.FunctionCode{ZipFile: esmRecorderZip(t)}, MemorySize: aws.Int32(128),
		Timeout: aws.Int32(10), Environment: &types.Environment{Variables: map[string]string{"REC_FILE": file}},
	}))
	waitActive(t, lc, "esm-rs")
	m := must[*lambda.CreateEventSourceMappingOutput](t, "CreateEventSourceMapping")(lc.CreateEventSourceMapping(t.Context(),
		&lambda.CreateEventSourceMappingInput{FunctionName: aws.String("esm-rs"), EventSourceArn: aws.String(arn)}))
	s0url := s.url
	check := func(s *server, body string) {
		t.Helper()
		lc, qc := newSDK(t, s), newSQS(s)
		eventually(t, kpoll.Default, "the mapping enabled", func() error {
			out, err := lc.GetEventSourceMapping(t.Context(), &lambda.GetEventSourceMappingInput{UUID: m.UUID})
			if err != nil {
				return err
			}
			if st := aws.ToString(out.State); st != "Enabled" {
				return fmt.Errorf("state %s", st)
			}
			return nil
		})
		url := strings.Replace(aws.ToString(q.QueueUrl), s0url, s.url, 1)
		must[*sqs.SendMessageOutput](t, "SendMessage")(qc.SendMessage(t.Context(), &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String(body)}))
		eventually(t, kpoll.Default, body+" processed", func() error {
			for _, l := range readESMRec(t, file) {
				if l.Body == body {
					return nil
				}
			}
			return fmt.Errorf("not yet")
		})
	}
	check(s, "before")
	s.stop()
	s = asyncServer(t, dataDir)
	check(s, "after-stop")
	s.kill9()
	s = asyncServer(t, dataDir)
	check(s, "after-kill")
}
