package logs

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cwl "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"

	"github.com/kumo-run/kumo/internal/worker"
)

// aws runs the AWS CLI against h and returns its stdout; it fails the test
// on a non-zero exit unless wantFail, in which case it returns stderr.
func awsCLI(t *testing.T, h *harness, wantFail bool, args ...string) string {
	t.Helper()
	cmd := exec.Command("aws", append([]string{"--endpoint-url", h.srv.URL, "--output", "json"}, args...)...)
	cmd.Env = append(os.Environ(),
		"AWS_ACCESS_KEY_ID=AKIDTEST", "AWS_SECRET_ACCESS_KEY=secret", "AWS_DEFAULT_REGION=us-east-1",
		"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_PAGER=", "AWS_MAX_ATTEMPTS=1")
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if wantFail {
		if err == nil {
			t.Fatalf("aws %v succeeded: %s", args, stdout.String())
		}
		return stderr.String()
	}
	if err != nil {
		t.Fatalf("aws %v: %v\n%s", args, err, stderr.String())
	}
	return stdout.String()
}

func TestAWSCLI(t *testing.T) {
	if _, err := exec.LookPath("aws"); err != nil {
		t.Skip("the AWS CLI is not installed")
	}
	h := newHarness(t, "", Config{})
	g, s := "/aws/lambda/cli-fn", "2026/01/01/[$LATEST]0123abcd"
	now := time.Now()
	for i := range 30 {
		h.st.Append(g, s, []worker.LogEvent{{Time: now.Add(time.Duration(i) * time.Millisecond), Message: fmt.Sprintf("line %d", i)}})
	}
	h.st.Append(g, s, []worker.LogEvent{{Time: now.Add(time.Second), Message: `{"level":"ERROR","ms":250}`}})
	h.st.Flush(ctxT(t))

	var groups struct {
		LogGroups []struct {
			LogGroupName string `json:"logGroupName"`
		} `json:"logGroups"`
	}
	json.Unmarshal([]byte(awsCLI(t, h, false, "logs", "describe-log-groups")), &groups)
	if len(groups.LogGroups) != 1 || groups.LogGroups[0].LogGroupName != g {
		t.Errorf("describe-log-groups: %+v", groups)
	}

	var get struct {
		Events []struct {
			Message string `json:"message"`
		} `json:"events"`
		NextForwardToken string `json:"nextForwardToken"`
	}
	json.Unmarshal([]byte(awsCLI(t, h, false, "logs", "get-log-events", "--log-group-name", g, "--log-stream-name", s, "--start-from-head", "--limit", "5")), &get)
	if len(get.Events) != 5 || get.Events[0].Message != "line 0" || !strings.HasPrefix(get.NextForwardToken, "f/") {
		t.Errorf("get-log-events: %+v", get)
	}

	var filter struct {
		Events []struct {
			Message       string `json:"message"`
			LogStreamName string `json:"logStreamName"`
		} `json:"events"`
	}
	// The CLI pages through everything with a small page size.
	json.Unmarshal([]byte(awsCLI(t, h, false, "logs", "filter-log-events", "--log-group-name", g, "--page-size", "7")), &filter)
	if len(filter.Events) != 31 {
		t.Errorf("filter-log-events: %d events, want 31", len(filter.Events))
	}
	json.Unmarshal([]byte(awsCLI(t, h, false, "logs", "filter-log-events", "--log-group-name", g, "--filter-pattern", "{ $.ms > 200 }")), &filter)
	if len(filter.Events) != 1 || filter.Events[0].LogStreamName != s {
		t.Errorf("filter-log-events with a JSON pattern: %+v", filter)
	}
	json.Unmarshal([]byte(awsCLI(t, h, false, "logs", "filter-log-events", "--log-group-name", g,
		"--start-time", fmt.Sprint(now.Add(10*time.Millisecond).UnixMilli()), "--filter-pattern", "?\"line 1\" ?\"line 2\"")), &filter)
	if len(filter.Events) != 20 { // line 10..29
		t.Errorf("filter-log-events with alternatives and a start time: %d events", len(filter.Events))
	}

	out := awsCLI(t, h, false, "logs", "filter-log-events", "--log-group-name", g, "--filter-pattern", "ERROR", "--output", "text", "--query", "events[].message")
	if !strings.Contains(out, `"level":"ERROR"`) {
		t.Errorf("text output: %q", out)
	}

	errOut := awsCLI(t, h, true, "logs", "create-log-group", "--log-group-name", g)
	if !strings.Contains(errOut, "ResourceAlreadyExistsException") {
		t.Errorf("create-log-group twice: %s", errOut)
	}
	errOut = awsCLI(t, h, true, "logs", "get-log-events", "--log-group-name", "/nope", "--log-stream-name", "x")
	if !strings.Contains(errOut, "ResourceNotFoundException") || !strings.Contains(errOut, "The specified log group does not exist.") {
		t.Errorf("get-log-events on a missing group: %s", errOut)
	}
	errOut = awsCLI(t, h, true, "logs", "put-retention-policy", "--log-group-name", g, "--retention-in-days", "2")
	if !strings.Contains(errOut, "InvalidParameterException") {
		t.Errorf("put-retention-policy 2: %s", errOut)
	}
}

// TestFollowByPolling follows a group the way `aws logs tail --follow`
// (AWS CLI v2) does: FilterLogEvents from the last timestamp seen, with
// events already printed skipped by eventId.
func TestFollowByPolling(t *testing.T) {
	h := newHarness(t, "", Config{FlushInterval: 5 * time.Millisecond})
	g := "/aws/lambda/follow"
	seen := map[string]bool{}
	var got []string
	start := time.Now().Add(-time.Minute).UnixMilli()
	poll := func() {
		p := cwl.NewFilterLogEventsPaginator(h.cl, &cwl.FilterLogEventsInput{LogGroupName: &g, StartTime: aws.Int64(start)})
		for p.HasMorePages() {
			out, err := p.NextPage(ctxT(t))
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range out.Events {
				if !seen[*e.EventId] {
					seen[*e.EventId] = true
					got = append(got, *e.Message)
				}
				start = max(start, *e.Timestamp)
			}
		}
	}
	h.st.Append(g, "a", []worker.LogEvent{{Time: time.Now(), Message: "one"}})
	h.st.Flush(ctxT(t))
	poll()
	t0 := time.Now()
	h.st.Append(g, "b", []worker.LogEvent{{Time: t0.Add(time.Millisecond), Message: "two"}})
	h.st.Append(g, "a", []worker.LogEvent{{Time: t0.Add(2 * time.Millisecond), Message: "three"}})
	h.st.Flush(ctxT(t))
	eventually(t, "new events to be followed", func() bool { poll(); return len(got) == 3 })
	if strings.Join(got, ",") != "one,two,three" {
		t.Errorf("followed %v", got)
	}
}
