package sns

import (
	"fmt"
	"testing"
)

func TestRetryPolicyDelays(t *testing.T) {
	cases := []struct {
		doc   string
		topic bool
		want  string
	}{
		{`{"healthyRetryPolicy":{"numRetries":6,"numNoDelayRetries":1,"numMinDelayRetries":1,"numMaxDelayRetries":1,"minDelayTarget":2,"maxDelayTarget":10}}`, false,
			"[0s 2s 2s 6s 10s 10s]"},
		{`{"healthyRetryPolicy":{"numRetries":4,"minDelayTarget":1,"maxDelayTarget":8,"backoffFunction":"exponential"}}`, false, "[1s 2s 4s 8s]"},
		{`{"healthyRetryPolicy":{"numRetries":3}}`, false, "[20s 20s 20s]"}, // SNS's defaults: 20 seconds
		{`{"healthyRetryPolicy":{"numRetries":0}}`, false, "[]"},
		{`{"http":{"defaultHealthyRetryPolicy":{"numRetries":2,"minDelayTarget":5,"maxDelayTarget":5}}}`, true, "[5s 5s]"},
	}
	for _, c := range cases {
		p, ok, reason := parseRetryPolicy(c.doc, c.topic)
		if !ok || reason != "" {
			t.Errorf("%s: ok %v %q", c.doc, ok, reason)
			continue
		}
		if got := fmt.Sprint(p.delays()); got != c.want {
			t.Errorf("%s: delays %s, want %s", c.doc, got, c.want)
		}
	}
	for doc, reason := range map[string]string{
		`{"healthyRetryPolicy":{"numRetries":101}}`:                                       "numRetries must be between 0 and 100",
		`{"healthyRetryPolicy":{"numRetries":3,"minDelayTarget":30,"maxDelayTarget":10}}`: "minDelayTarget must be at least 1, maxDelayTarget at most 3600 and not below minDelayTarget",
		`{"healthyRetryPolicy":{"numRetries":1,"numNoDelayRetries":2}}`:                   "numNoDelayRetries, numMinDelayRetries and numMaxDelayRetries must add up to at most numRetries",
		`{"healthyRetryPolicy":{"numRetries":1,"backoffFunction":"random"}}`:              "backoffFunction must be one of linear, arithmetic, geometric, exponential",
		`{"healthyRetryPolicy":`: "failed to parse JSON.",
	} {
		if _, _, got := parseRetryPolicy(doc, false); got != reason {
			t.Errorf("%s: reason %q, want %q", doc, got, reason)
		}
	}
	if _, ok, _ := parseRetryPolicy(`{"throttlePolicy":{"maxReceivesPerSecond":5}}`, false); ok {
		t.Error("a policy without healthyRetryPolicy set retries")
	}
}
