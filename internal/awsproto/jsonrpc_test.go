package awsproto

import (
	"context"
	"encoding/json"
	"errors"
	"hash/crc32"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
)

func TestJSONRPCEnvelope(t *testing.T) {
	var gotBody string
	full := errors.New("the data disk is nearly full")
	echo := func(_ context.Context, _ *http.Request, body []byte) (any, error) {
		gotBody = string(body)
		return map[string]string{"Echo": string(body)}, nil
	}
	fail := func(context.Context, *http.Request, []byte) (any, error) {
		return nil, errors.New("disk on fire")
	}
	rpc := &JSONRPC{Name: "kms", TargetPrefix: "TrentService.", MaxBody: 16,
		Errors:           JSON{Version: "1.1", Internal: InternalSpec{Code: KMSInternal}},
		UnknownOperation: KMSUnknownOperation, Serialization: KMSSerialization, CRC32: true,
		Fills: map[string]bool{"Grow": true}, Writable: func() error { return full },
		Check: func(_ *http.Request, op string, _ []byte) error {
			if op == "Refused" {
				return Errorf(KMSAccessDenied, "no")
			}
			return nil
		}}
	ops := map[string]JSONOp{"Echo": echo, "Refused": echo, "Fail": fail, "Grow": echo}
	serve := func(method, target, body string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(method, "/", strings.NewReader(body))
		r.Header.Set("X-Amz-Target", target)
		w := httptest.NewRecorder()
		name, ok := rpc.Operation(r)
		var op JSONOp
		if ok {
			op = ops[name]
		}
		rpc.Serve(w, r, name, op)
		return w
	}
	code := func(w *httptest.ResponseRecorder) string {
		var e struct {
			Type string `json:"__type"`
		}
		_ = json.Unmarshal(w.Body.Bytes(), &e)
		return e.Type
	}

	w := serve("POST", "TrentService.Grow", "{}")
	if w.Code != 503 || w.Header().Get("Retry-After") != "30" || !strings.Contains(w.Body.String(), "disk is nearly full") {
		t.Errorf("full store: %d %v %s", w.Code, w.Header(), w.Body)
	}
	full = nil
	if w := serve("POST", "TrentService.Grow", "{}"); w.Code != 200 {
		t.Errorf("with room: %d %s", w.Code, w.Body)
	}
	full = errors.New("the data disk is nearly full")

	w = serve("POST", "TrentService.Echo", "")
	if w.Code != 200 || gotBody != "{}" {
		t.Fatalf("empty body: status %d, operation saw %q", w.Code, gotBody)
	}
	if ct := w.Header().Get("Content-Type"); ct != "application/x-amz-json-1.1" {
		t.Errorf("Content-Type = %q", ct)
	}
	if want := strconv.FormatUint(uint64(crc32.ChecksumIEEE(w.Body.Bytes())), 10); w.Header().Get("X-Amz-Crc32") != want {
		t.Errorf("X-Amz-Crc32 = %q, want %q", w.Header().Get("X-Amz-Crc32"), want)
	}
	for _, c := range []struct {
		method, target, body string
		status               int
		code                 string
	}{
		{"POST", "TrentService.Nope", "{}", 400, "UnknownOperationException"},
		{"GET", "TrentService.Echo", "{}", 400, "UnknownOperationException"},
		{"POST", "Other.Echo", "{}", 400, "UnknownOperationException"},
		{"POST", "TrentService.Echo", `{"Key":"0123456789"}`, 400, "SerializationException"},
		{"POST", "TrentService.Refused", "{}", 400, "AccessDeniedException"},
		{"POST", "TrentService.Fail", "{}", 500, "KMSInternalException"},
		{"POST", "TrentService.Grow", "{}", 503, "ServiceUnavailable"},
	} {
		w := serve(c.method, c.target, c.body)
		if w.Code != c.status || code(w) != c.code {
			t.Errorf("%s %s %s: %d %s, want %d %s", c.method, c.target, c.body, w.Code, code(w), c.status, c.code)
		}
	}
}
