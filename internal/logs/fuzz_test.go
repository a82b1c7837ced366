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
