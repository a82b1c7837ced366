package funcurl

import (
	"encoding/json"
	"net/http/httptest"
	"testing"
)

// FuzzMapResponse: any function result maps to a response or to an error,
// never a panic, and a mapped status is a valid HTTP status.
func FuzzMapResponse(f *testing.F) {
	for _, s := range []string{`{"statusCode":200,"body":"x"}`, `"s"`, `1`, `{"statusCode":"x"}`, `{"statusCode":200,"isBase64Encoded":true,"body":"AA=="}`,
		`{"statusCode":204,"headers":{"a":"b"},"multiValueHeaders":{"c":["d"]},"cookies":["e=f"]}`, ``, `{`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		rep, err := MapResponse(payload)
		if err != nil {
			return
		}
		if rep.Status < 100 || rep.Status > 599 || rep.Header == nil {
			t.Fatalf("MapResponse(%q) = %d %v", payload, rep.Status, rep.Header)
		}
	})
}

// FuzzEvent: any query string, cookie header and body give an event that
// encodes as JSON.
func FuzzEvent(f *testing.F) {
	f.Add("a=1&a=2&b", "c=1; d=2", "text/plain", []byte("body"))
	f.Add("%zz=%", ";;", "", []byte{0xff, 0})
	f.Fuzz(func(t *testing.T, query, cookie, contentType string, body []byte) {
		r := httptest.NewRequest("POST", "/", nil)
		r.URL.RawQuery = query
		r.Header.Set("Cookie", cookie)
		r.Header.Set("Content-Type", contentType)
		e := newEvent(r, &request{path: "/", body: body})
		if _, err := json.Marshal(e); err != nil {
			t.Fatalf("event does not encode: %v", err)
		}
	})
}
