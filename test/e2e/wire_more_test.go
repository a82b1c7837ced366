package e2e

import (
	"fmt"
	"net/http"
	"testing"
)

// TestWireBadInputEverywhere sends malformed JSON, wrong member types and
// an oversized body to every write operation of the API: each answers a 4xx
// AWS error with a request id, an error type and a JSON body, never a 5xx.
func TestWireBadInputEverywhere(t *testing.T) {
	t.Parallel()
	s := startServer(t, t.TempDir())
	created := s.send(t, wireReq{method: "POST", path: "/2015-03-31/functions", body: createBody("wfn", handlerZip(t, "wire"), "")})
	if created.status != http.StatusCreated {
		t.Fatalf("CreateFunction: want 201:\n%s", created)
	}
	fn := "/2015-03-31/functions/wfn"
	ops := []struct{ method, path string }{
		{"POST", "/2015-03-31/functions"},
		{"PUT", fn + "/code"},
		{"PUT", fn + "/configuration"},
		{"POST", fn + "/versions"},
		{"POST", fn + "/aliases"},
		{"PUT", fn + "/aliases/live"},
		{"POST", fn + "/policy"},
		{"POST", "/2017-03-31/tags/arn:aws:lambda:us-east-1:000000000000:function:wfn"},
		{"PUT", "/2017-10-31/functions/wfn/concurrency"},
		{"PUT", "/2019-09-25/functions/wfn/event-invoke-config"},
		{"POST", "/2019-09-25/functions/wfn/event-invoke-config"},
		{"POST", "/2021-10-31/functions/wfn/url"},
		{"PUT", "/2021-10-31/functions/wfn/url"},
		{"PUT", "/2019-09-30/functions/wfn/provisioned-concurrency?Qualifier=1"},
		{"POST", "/2018-10-31/layers/wlayer/versions"},
		{"POST", "/2018-10-31/layers/wlayer/versions/1/policy"},
		{"POST", fn + "/invocations"},
	}
	bodies := map[string][]byte{
		"malformed JSON": []byte(`{"a": `),
		"wrong types":    []byte(`{"MemorySize":"big","Name":7,"Tags":[1],"AuthType":{},"Content":"x","ReservedConcurrentExecutions":"n","MaximumRetryAttempts":"x","ProvisionedConcurrentExecutions":"x","StatementId":[],"Description":5}`),
		"not an object":  []byte(`[1,2,3]`),
		"binary garbage": {0xff, 0xfe, 0x00, 0x01, '{'},
	}
	for _, op := range ops {
		for name, body := range bodies {
			t.Run(fmt.Sprintf("%s %s %s", op.method, op.path, name), func(t *testing.T) {
				r := s.send(t, wireReq{method: op.method, path: op.path, body: body})
				if r.status < 400 {
					if op.path == fn+"/invocations" && (name == "wrong types" || name == "not an object") {
						return // any JSON value is a valid event
					}
					t.Fatalf("accepted bad input:\n%s", r)
				}
				checkWireError(t, r, 0, "", "")
			})
		}
	}
}
