package sns

import (
	"encoding/json"
	"math"
	"time"
)

// retryPolicy is an http/https delivery policy's healthyRetryPolicy
// (SNS's "Amazon SNS message delivery retries"): the retries of a failed
// delivery in four phases — immediate, at the minimum delay, backing off
// from the minimum to the maximum, at the maximum.
type retryPolicy struct {
	MinDelayTarget     int    `json:"minDelayTarget"`
	MaxDelayTarget     int    `json:"maxDelayTarget"`
	NumRetries         int    `json:"numRetries"`
	NumNoDelayRetries  int    `json:"numNoDelayRetries"`
	NumMinDelayRetries int    `json:"numMinDelayRetries"`
	NumMaxDelayRetries int    `json:"numMaxDelayRetries"`
	BackoffFunction    string `json:"backoffFunction"`
}

// parseRetryPolicy reads the healthyRetryPolicy of a subscription's
// DeliveryPolicy ({"healthyRetryPolicy": …}) or of a topic's
// ({"http": {"defaultHealthyRetryPolicy": …}}); ok is false when doc
// sets none. The reason of an error is SNS's wording after
// "Invalid parameter: DeliveryPolicy: ".
func parseRetryPolicy(doc string, topic bool) (p retryPolicy, ok bool, reason string) {
	var raw struct {
		Healthy *retryPolicy `json:"healthyRetryPolicy"`
		HTTP    *struct {
			Healthy *retryPolicy `json:"defaultHealthyRetryPolicy"`
		} `json:"http"`
	}
	if doc == "" {
		return p, false, ""
	}
	if err := json.Unmarshal([]byte(doc), &raw); err != nil {
		return p, false, "failed to parse JSON."
	}
	var rp *retryPolicy
	switch {
	case topic && raw.HTTP != nil:
		rp = raw.HTTP.Healthy
	case !topic:
		rp = raw.Healthy
	}
	if rp == nil {
		return p, false, ""
	}
	p = *rp
	if p.MinDelayTarget == 0 {
		p.MinDelayTarget = 20
	}
	if p.MaxDelayTarget == 0 {
		p.MaxDelayTarget = 20
	}
	if p.BackoffFunction == "" {
		p.BackoffFunction = "linear"
	}
	switch {
	case p.NumRetries < 0 || p.NumRetries > 100:
		return p, false, "numRetries must be between 0 and 100"
	case p.MinDelayTarget < 1 || p.MaxDelayTarget > 3600 || p.MinDelayTarget > p.MaxDelayTarget:
		return p, false, "minDelayTarget must be at least 1, maxDelayTarget at most 3600 and not below minDelayTarget"
	case p.NumNoDelayRetries < 0 || p.NumMinDelayRetries < 0 || p.NumMaxDelayRetries < 0 ||
		p.NumNoDelayRetries+p.NumMinDelayRetries+p.NumMaxDelayRetries > p.NumRetries:
		return p, false, "numNoDelayRetries, numMinDelayRetries and numMaxDelayRetries must add up to at most numRetries"
	}
	switch p.BackoffFunction {
	case "linear", "arithmetic", "geometric", "exponential":
	default:
		return p, false, "backoffFunction must be one of linear, arithmetic, geometric, exponential"
	}
	return p, true, ""
}

// delays are the waits before each retry.
func (p retryPolicy) delays() []time.Duration {
	sec := func(s float64) time.Duration { return time.Duration(math.Round(s*1000)) * time.Millisecond }
	out := make([]time.Duration, 0, p.NumRetries)
	for range p.NumNoDelayRetries {
		out = append(out, 0)
	}
	for range p.NumMinDelayRetries {
		out = append(out, sec(float64(p.MinDelayTarget)))
	}
	n := p.NumRetries - p.NumNoDelayRetries - p.NumMinDelayRetries - p.NumMaxDelayRetries
	lo, hi := float64(p.MinDelayTarget), float64(p.MaxDelayTarget)
	for i := range n {
		f := 1.0
		if n > 1 {
			f = float64(i) / float64(n-1)
		}
		var d float64
		switch p.BackoffFunction {
		case "arithmetic":
			d = lo + (hi-lo)*f*f
		case "geometric":
			d = lo + (hi-lo)*math.Sqrt(f)
		case "exponential":
			d = lo * math.Pow(hi/lo, f)
		default: // linear
			d = lo + (hi-lo)*f
		}
		out = append(out, sec(d))
	}
	for range p.NumMaxDelayRetries {
		out = append(out, sec(hi))
	}
	return out
}

// retryDelays are the waits before the retries of a delivery to sub:
// its own delivery policy's, else its topic's (http/https only), else
// Config.RetryDelays.
func (s *Service) retryDelays(sub *subscription) []time.Duration {
	if sub.Protocol == "http" || sub.Protocol == "https" {
		if p, ok, _ := parseRetryPolicy(sub.Attributes["DeliveryPolicy"], false); ok {
			return p.delays()
		}
		if name, ok := s.topicName(sub.TopicARN); ok {
			if t, ok := s.view.topic(name); ok {
				if p, ok, _ := parseRetryPolicy(t.Attributes["DeliveryPolicy"], true); ok {
					return p.delays()
				}
			}
		}
	}
	return s.cfg.RetryDelays
}
