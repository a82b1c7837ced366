package execute_test

import (
	"net/http/httptest"
	"testing"
)

// BenchmarkServe is what the data plane adds to an invocation: a GET
// through an HTTP API to a route with a path variable — the route
// matched, the 2.0 event built, the function policy checked for
// apigateway.amazonaws.com, the answer mapped — with the function a no-op
// in process. bench/ (TestHTTPAPIBench) measures the whole round trip
// next to the Invoke API.
func BenchmarkServe(b *testing.B) {
	h := newHarness(b)
	id := h.api(b, "bench")
	h.function("f", "arn:aws:execute-api:us-east-1:"+account+":"+id+"/*", answer(map[string]any{"statusCode": 200, "body": "ok"}))
	h.route(b, id, "GET /items/{id}", h.integration(b, id, "f", "2.0", 30000), nil)
	h.route(b, id, "ANY /{proxy+}", h.integration(b, id, "f", "2.0", 30000), nil)
	h.stage(b, id, "$default", nil)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		r := httptest.NewRequest("GET", "/items/42?a=1&b=2", nil)
		r.Host = id + ".execute-api.us-east-1.localhost:9070"
		r.Header.Set("User-Agent", "bench")
		w := httptest.NewRecorder()
		h.data.ServeHTTP(w, r)
		if w.Code != 200 {
			b.Fatalf("%d %s", w.Code, w.Body)
		}
	}
}
