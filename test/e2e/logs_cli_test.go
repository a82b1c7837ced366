package e2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// The CloudWatch Logs API through the AWS CLI: events put with
// put-log-events are read back with describe-log-groups, get-log-events
// and filter-log-events (paged, JSON and alternative patterns, a start
// time, text output), and errors carry the codes the CLI prints.
func TestLogsAWSCLI(t *testing.T) {
	s := startServer(t, t.TempDir())
	cli := func(wantFail bool, args ...string) string {
		t.Helper()
		r := runCmd(t, s.env(), nil, 60*time.Second, append([]string{"aws", "--endpoint-url", s.url, "--output", "json"}, args...)...)
		if wantFail != (r.Code != 0) {
			t.Fatalf("want failure %v:\n%s", wantFail, r)
		}
		if wantFail {
			return r.Stderr
		}
		return r.Stdout
	}
	g, st := "/aws/lambda/cli-fn", "2026/01/01/[$LATEST]0123abcd"
	cli(false, "logs", "create-log-group", "--log-group-name", g)
	cli(false, "logs", "create-log-stream", "--log-group-name", g, "--log-stream-name", st)
	now := time.Now().Add(-time.Minute)
	type ev struct {
		Timestamp int64  `json:"timestamp"`
		Message   string `json:"message"`
	}
	var evs []ev
	for i := range 30 {
		evs = append(evs, ev{now.Add(time.Duration(i) * time.Millisecond).UnixMilli(), fmt.Sprintf("line %d", i)})
	}
	evs = append(evs, ev{now.Add(time.Second).UnixMilli(), `{"level":"ERROR","ms":250}`})
	b, _ := json.Marshal(evs)
	cli(false, "logs", "put-log-events", "--log-group-name", g, "--log-stream-name", st, "--log-events", string(b))

	var groups struct {
		LogGroups []struct {
			LogGroupName string `json:"logGroupName"`
		} `json:"logGroups"`
	}
	json.Unmarshal([]byte(cli(false, "logs", "describe-log-groups", "--log-group-name-prefix", g)), &groups)
	if len(groups.LogGroups) != 1 || groups.LogGroups[0].LogGroupName != g {
		t.Errorf("describe-log-groups: %+v", groups)
	}

	var get struct {
		Events []struct {
			Message string `json:"message"`
		} `json:"events"`
		NextForwardToken string `json:"nextForwardToken"`
	}
	json.Unmarshal([]byte(cli(false, "logs", "get-log-events", "--log-group-name", g, "--log-stream-name", st, "--start-from-head", "--limit", "5")), &get)
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
	json.Unmarshal([]byte(cli(false, "logs", "filter-log-events", "--log-group-name", g, "--page-size", "7")), &filter)
	if len(filter.Events) != 31 {
		t.Errorf("filter-log-events: %d events, want 31", len(filter.Events))
	}
	json.Unmarshal([]byte(cli(false, "logs", "filter-log-events", "--log-group-name", g, "--filter-pattern", "{ $.ms > 200 }")), &filter)
	if len(filter.Events) != 1 || filter.Events[0].LogStreamName != st {
		t.Errorf("filter-log-events with a JSON pattern: %+v", filter)
	}
	json.Unmarshal([]byte(cli(false, "logs", "filter-log-events", "--log-group-name", g,
		"--start-time", fmt.Sprint(now.Add(10*time.Millisecond).UnixMilli()), "--filter-pattern", "?\"line 1\" ?\"line 2\"")), &filter)
	if len(filter.Events) != 20 { // line 10..29
		t.Errorf("filter-log-events with alternatives and a start time: %d events", len(filter.Events))
	}
	out := cli(false, "logs", "filter-log-events", "--log-group-name", g, "--filter-pattern", "ERROR", "--output", "text", "--query", "events[].message")
	if !strings.Contains(out, `"level":"ERROR"`) {
		t.Errorf("text output: %q", out)
	}

	errOut := cli(true, "logs", "create-log-group", "--log-group-name", g)
	if !strings.Contains(errOut, "ResourceAlreadyExistsException") {
		t.Errorf("create-log-group twice: %s", errOut)
	}
	errOut = cli(true, "logs", "get-log-events", "--log-group-name", "/nope", "--log-stream-name", "x")
	if !strings.Contains(errOut, "ResourceNotFoundException") || !strings.Contains(errOut, "The specified log group does not exist.") {
		t.Errorf("get-log-events on a missing group: %s", errOut)
	}
	errOut = cli(true, "logs", "put-retention-policy", "--log-group-name", g, "--retention-in-days", "2")
	if !strings.Contains(errOut, "InvalidParameterException") {
		t.Errorf("put-retention-policy 2: %s", errOut)
	}
}
