package image

import (
	"fmt"
	"net"
	"testing"
)

// TestClassifyNetworkErrors: a registry host that does not exist names no
// image (a client's mistake, 4xx); one that cannot be reached now is
// worth retrying.
func TestClassifyNetworkErrors(t *testing.T) {
	for _, c := range []struct {
		err  error
		want Kind
	}{
		{fmt.Errorf("get: %w", &net.DNSError{Err: "no such host", Name: "nosuchhost.invalid", IsNotFound: true}), NotFound},
		{fmt.Errorf("get: %w", &net.DNSError{Err: "i/o timeout", Name: "registry.example", IsTimeout: true}), Unavailable},
		{fmt.Errorf("dial tcp 127.0.0.1:1: connect: connection refused"), Unavailable},
	} {
		err := classify("h/x:1", c.err)
		if e, ok := err.(*Error); !ok || e.Kind != c.want {
			t.Errorf("%v: %v, want kind %d", c.err, err, c.want)
		}
	}
}
