package lambda

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/kumo-run/kumo/internal/registry"
)

// TestNameAndPageLimits: each operation refuses a {FunctionName} longer
// than its input shape allows and a MaxItems above its shape's maximum,
// with the limit of the botocore model in the message. Both checks happen
// before the registry is consulted.
func TestNameAndPageLimits(t *testing.T) {
	api := New(Config{ARNs: registry.ARNs{Partition: "aws", Region: "us-east-1", Account: "000000000000"}})
	fn := func(n int) string { return "/2015-03-31/functions/" + strings.Repeat("f", n) }
	for _, tc := range []struct {
		op, method, path string
		want             string
	}{
		// FunctionName: 140.
		{"UpdateFunctionConfiguration", "PUT", fn(141) + "/configuration", "less than or equal to 140"},
		{"UpdateFunctionCode", "PUT", fn(141) + "/code", "less than or equal to 140"},
		{"PublishVersion", "POST", fn(141) + "/versions", "less than or equal to 140"},
		{"ListAliases", "GET", fn(141) + "/aliases", "less than or equal to 140"},
		{"GetFunctionConcurrency", "GET", "/2019-09-30/functions/" + strings.Repeat("f", 141) + "/concurrency", "less than or equal to 140"},
		{"GetFunctionUrlConfig", "GET", "/2021-10-31/functions/" + strings.Repeat("f", 141) + "/url", "less than or equal to 140"},
		// NamespacedFunctionName: 256.
		{"GetFunction", "GET", fn(257), "less than or equal to 256"},
		{"GetFunctionConfiguration", "GET", fn(257) + "/configuration", "less than or equal to 256"},
		{"DeleteFunction", "DELETE", fn(257), "less than or equal to 256"},
		{"ListVersionsByFunction", "GET", fn(257) + "/versions", "less than or equal to 256"},
		{"GetPolicy", "GET", fn(257) + "/policy", "less than or equal to 256"},
		{"GetFunctionEventInvokeConfig", "GET", "/2019-09-25/functions/" + strings.Repeat("f", 257) + "/event-invoke-config", "less than or equal to 256"},
		{"ListFunctionEventInvokeConfigs", "GET", "/2019-09-25/functions/" + strings.Repeat("f", 257) + "/event-invoke-config/list", "less than or equal to 256"},
		// MaxItems.
		{"ListFunctions", "GET", "/2015-03-31/functions?MaxItems=10001", "less than or equal to 10000"},
		{"ListLayers", "GET", "/2018-10-31/layers?MaxItems=51", "less than or equal to 50"},
		{"ListFunctionUrlConfigs", "GET", "/2021-10-31/functions/f/urls?MaxItems=51", "less than or equal to 50"},
		{"ListProvisionedConcurrencyConfigs", "GET", "/2019-09-30/functions/f/provisioned-concurrency?List=ALL&MaxItems=51", "less than or equal to 50"},
	} {
		w := httptest.NewRecorder()
		api.ServeHTTP(w, httptest.NewRequest(tc.method, tc.path, nil))
		var body struct{ Message string }
		json.Unmarshal(w.Body.Bytes(), &body)
		if code := errorType(w.Header()); w.Code != http.StatusBadRequest || code != "ValidationException" || !strings.Contains(body.Message, tc.want) {
			t.Errorf("%s: %d %s %q, want 400 ValidationException with %q", tc.op, w.Code, code, body.Message, tc.want)
		}
	}
}

// errorType is the x-amzn-ErrorType header, in whatever casing it was set.
func errorType(h http.Header) string {
	for k, vs := range h {
		if strings.EqualFold(k, "x-amzn-ErrorType") && len(vs) > 0 {
			return vs[0]
		}
	}
	return ""
}
