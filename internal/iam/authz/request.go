package authz

import (
	"net"
	"net/http"
)

// SourceIP is the address r came from (aws:SourceIp): the host part of
// its RemoteAddr, "" when that is not an address.
func SourceIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return ""
	}
	return host
}
