package extensions

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzRequests feeds the register and subscribe handlers what code in a
// sandbox may send: they answer (never panic), and a refused request
// changes nothing.
func FuzzRequests(f *testing.F) {
	f.Add("register", `{"events":["INVOKE","SHUTDOWN"]}`)
	f.Add("register", `{"events":[1]}`)
	f.Add("telemetry", subscribeBody("2022-12-13", `["platform"]`, `{"maxItems":1000}`))
	f.Add("logs", `{"types":["function"],"destination":{"protocol":"HTTP","URI":"http://sandbox:1"}}`)
	f.Fuzz(func(t *testing.T, op, body string) {
		m := New(Metadata{FunctionName: "fn"}, []string{"ext"})
		m.SetDeliverer(func(context.Context, string, []byte) error { return nil })
		defer m.Close()
		reg := httptest.NewRequest(http.MethodPost, PathPrefix+"register", strings.NewReader(`{"events":["INVOKE"]}`))
		reg.Header.Set(hdrName, "ext")
		rec := httptest.NewRecorder()
		m.ServeHTTP(rec, reg)
		id := rec.Header().Get(hdrIdentifier)

		var req *http.Request
		switch op {
		case "register":
			req = httptest.NewRequest(http.MethodPost, PathPrefix+"register", strings.NewReader(body))
			req.Header.Set(hdrName, "other")
		case "logs":
			req = httptest.NewRequest(http.MethodPut, LogsPath, strings.NewReader(body))
		default:
			req = httptest.NewRequest(http.MethodPut, TelemetryPath, strings.NewReader(body))
		}
		req.Header.Set(hdrIdentifier, id)
		rec = httptest.NewRecorder()
		m.ServeHTTP(rec, req)
		if rec.Code >= 300 {
			m.mu.Lock()
			n := len(m.byID)
			m.mu.Unlock()
			m.tel.mu.Lock()
			subs := len(m.tel.subs)
			m.tel.mu.Unlock()
			if n != 1 || subs != 0 {
				t.Fatalf("refused request (%d %s) changed state: %d extensions, %d subscriptions", rec.Code, rec.Body, n, subs)
			}
		}
	})
}
