package app

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/kumo-run/kumo/internal/awsproto"
	"github.com/kumo-run/kumo/internal/logs"
)

func TestWriteGuard(t *testing.T) {
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(299) })
	full := errors.New("Kumo's data disk is nearly full (/data: 1.0 MiB free)")
	h := writeGuard(func() error { return full }, awsproto.Lambda, awsproto.ServiceException, next)
	for _, tc := range []struct {
		method, path, target, invType string
		refused                       bool
	}{
		{"GET", "/2015-03-31/functions/", "", "", false},
		{"DELETE", "/2015-03-31/functions/f", "", "", false},
		{"POST", "/2015-03-31/functions", "", "", true},
		{"PUT", "/2015-03-31/functions/f/code", "", "", true},
		{"POST", "/2015-03-31/functions/f/invocations", "", "", false},
		{"POST", "/2015-03-31/functions/f/invocations", "", "RequestResponse", false},
		{"POST", "/2015-03-31/functions/f/invocations", "", "Event", true},
		{"POST", "/2014-11-13/functions/f/invoke-async/", "", "", true},
		{"POST", "/", "Logs_20140328.PutLogEvents", "", true},
		{"POST", "/", "Logs_20140328.CreateLogGroup", "", true},
		{"POST", "/", "Logs_20140328.DeleteLogGroup", "", false},
		{"POST", "/", "Logs_20140328.FilterLogEvents", "", false},
		{"POST", "/", "Logs_20140328.DescribeLogStreams", "", false},
	} {
		r := httptest.NewRequest(tc.method, tc.path, nil)
		if tc.target != "" {
			r.Header.Set("X-Amz-Target", tc.target)
		}
		if tc.invType != "" {
			r.Header.Set("X-Amz-Invocation-Type", tc.invType)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		refused := w.Code != 299
		if refused != tc.refused {
			t.Errorf("%s %s %s %s: refused %v, want %v", tc.method, tc.path, tc.target, tc.invType, refused, tc.refused)
		}
		if refused && (w.Code != 500 || !strings.Contains(fmt.Sprint(w.Header()), "x-amzn-ErrorType:[ServiceException]") || !strings.Contains(w.Body.String(), "data disk")) {
			t.Errorf("%s %s: refusal %d %v %s", tc.method, tc.path, w.Code, w.Header(), w.Body)
		}
	}
	// Another service's refusal is in its own protocol.
	h = writeGuard(func() error { return full }, logs.Errors, awsproto.LogsServiceUnavailable, next)
	w := httptest.NewRecorder()
	r := httptest.NewRequest("POST", "/", strings.NewReader("{}"))
	r.Header.Set("X-Amz-Target", "Logs_20140328.PutLogEvents")
	h.ServeHTTP(w, r)
	if w.Code != 500 || !strings.Contains(w.Body.String(), `"__type":"ServiceUnavailableException"`) || !strings.Contains(w.Body.String(), "data disk") {
		t.Errorf("logs refusal: %d %v %s", w.Code, w.Header(), w.Body)
	}
	// With room, everything passes.
	h = writeGuard(func() error { return nil }, awsproto.Lambda, awsproto.ServiceException, next)
	w = httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("POST", "/2015-03-31/functions", nil))
	if w.Code != 299 {
		t.Errorf("with room: %d", w.Code)
	}
}
