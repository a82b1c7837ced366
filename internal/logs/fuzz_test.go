package logs

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzAPI sends arbitrary bodies to every operation: the answer is a 200
// or a 400 with a JSON 1.1 error, never a 500 or a panic.
func FuzzAPI(f *testing.F) {
	h := newHarness(f, "", Config{})
	for op := range ops {
		f.Add(op, `{"logGroupName":"/g","logStreamName":"s"}`)
	}
	f.Add("PutLogEvents", `{"logGroupName":"/g","logStreamName":"s","logEvents":[{"timestamp":1,"message":"x"}]}`)
	f.Add("GetLogEvents", `{"logGroupName":"/g","logStreamName":"s","nextToken":"b/0","limit":0}`)
	f.Add("FilterLogEvents", `{"logGroupName":"/g","filterPattern":"{ $.a = 1 }","nextToken":"MQ"}`)
	f.Add("DescribeLogStreams", `{"logGroupName":"/g","orderBy":"LastEventTime","descending":true,"nextToken":"e30"}`)
	f.Add("PutMetricFilter", `{"logGroupName":"/g","filterName":"m","filterPattern":"[a, ..., b>1]","metricTransformations":[{"metricName":"n","metricNamespace":"ns","metricValue":"$b","dimensions":{"d":"$a"}}]}`)
	f.Add("TestMetricFilter", `{"filterPattern":"[a, b=x*]","logEventMessages":["1 xy","2"]}`)
	f.Add("DescribeMetricFilters", `{"metricName":"n","metricNamespace":"ns","nextToken":"eA"}`)
	f.Add("PutSubscriptionFilter", `{"logGroupName":"/g","filterName":"f","filterPattern":"","destinationArn":"arn:aws:lambda:us-east-1:000000000000:function:f","distribution":"Random"}`)
	h.st.createGroup(f.Context(), "/g")
	h.st.createStream(f.Context(), "/g", "s")
	handler := h.st.Handler()
	f.Fuzz(func(t *testing.T, op, body string) {
		r := httptest.NewRequest("POST", "/", strings.NewReader(body))
		r.Header.Set("X-Amz-Target", targetPrefix+op)
		w := httptest.NewRecorder()
		handler.ServeHTTP(w, r)
		if w.Code != http.StatusOK && w.Code != http.StatusBadRequest {
			t.Fatalf("%s %s: %d %s", op, body, w.Code, w.Body)
		}
	})
}
