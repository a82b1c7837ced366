package logs

import (
	"errors"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/kumo-run/kumo/internal/awsproto"
)

func TestGroupFromIdentifier(t *testing.T) {
	for _, c := range []struct {
		name, ident string
		want        string
		err         string
	}{
		{ident: "/aws/lambda/f", want: "/aws/lambda/f"},
		{ident: "arn:aws:logs:us-east-1:000000000000:log-group:/aws/lambda/f", want: "/aws/lambda/f"},
		{ident: "arn:aws:logs:us-east-1:000000000000:log-group:/aws/lambda/f:*", want: "/aws/lambda/f"},
		{ident: "arn:aws:logs:us-east-1:000000000000:log-group:g:log-stream:s", err: "Invalid logGroupIdentifier."},
		{ident: "arn:aws:lambda:us-east-1:000000000000:log-group:g", err: "Invalid logGroupIdentifier."},
		{ident: "arn:aws:logs:us-east-1:000000000000:destination:d", err: "Invalid logGroupIdentifier."},
		{name: "g", ident: "g", err: "mutually exclusive"},
		{err: "Either logGroupName or logGroupIdentifier"},
	} {
		got, err := groupFrom(c.name, c.ident)
		if c.err != "" {
			var ae *awsproto.Error
			if !errors.As(err, &ae) || ae.Code != awsproto.LogsInvalidParameter || !strings.Contains(ae.Message, c.err) {
				t.Errorf("groupFrom(%q, %q) = %q, %v; want %q", c.name, c.ident, got, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("groupFrom(%q, %q) = %q, %v", c.name, c.ident, got, err)
		}
	}
}

// TestInternalFailureWire checks that a storage failure reaches the client
// as CloudWatch Logs' own internal error, without its cause.
func TestInternalFailureWire(t *testing.T) {
	a := &api{s: &Store{log: slog.New(slog.DiscardHandler)}}
	rec := httptest.NewRecorder()
	a.writeError(rec, httptest.NewRequest("POST", "/", nil), errors.New("jetstream: disk on fire"))
	if rec.Code != 500 || rec.Header().Get("Content-Type") != "application/x-amz-json-1.1" ||
		rec.Body.String() != `{"__type":"ServiceUnavailableException","message":"The service cannot complete the request."}` {
		t.Fatalf("%d %v %s", rec.Code, rec.Header(), rec.Body)
	}
	rec = httptest.NewRecorder()
	a.writeError(rec, httptest.NewRequest("POST", "/", nil), errStreamExists)
	if rec.Code != 400 || rec.Body.String() != `{"__type":"ResourceAlreadyExistsException","message":"The specified log stream already exists"}` {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
}
