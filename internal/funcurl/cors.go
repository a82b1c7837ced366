package funcurl

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/kumo-run/kumo/internal/registry"
)

// isPreflight reports whether r is a CORS preflight request.
func isPreflight(r *http.Request) bool {
	return r.Method == http.MethodOptions && r.Header.Get("Origin") != "" && r.Header.Get("Access-Control-Request-Method") != ""
}

// allowOrigin returns the Access-Control-Allow-Origin value for origin
// under c, or "" when the origin is not allowed.
func allowOrigin(c *registry.Cors, origin string) string {
	if origin == "" {
		return ""
	}
	for _, o := range c.AllowOrigins {
		if o == "*" {
			if c.AllowCredentials != nil && *c.AllowCredentials {
				return origin // a credentialed response cannot allow "*"
			}
			return "*"
		}
		if strings.EqualFold(o, origin) {
			return origin
		}
	}
	return ""
}

// Preflight answers a CORS preflight request from the URL's configuration,
// without invoking the function. A disallowed origin gets a 200 without
// CORS headers, which the browser treats as a refusal.
func Preflight(c *registry.Cors, r *http.Request) *Reply {
	rep := &Reply{Status: http.StatusOK, Header: http.Header{}}
	ao := allowOrigin(c, r.Header.Get("Origin"))
	if ao == "" {
		return rep
	}
	h := rep.Header
	h["Access-Control-Allow-Origin"] = []string{ao}
	if ao != "*" {
		h["Vary"] = []string{"Origin"}
	}
	if len(c.AllowMethods) > 0 {
		h["Access-Control-Allow-Methods"] = []string{strings.Join(c.AllowMethods, ",")}
	}
	if len(c.AllowHeaders) > 0 {
		h["Access-Control-Allow-Headers"] = []string{strings.Join(c.AllowHeaders, ",")}
	}
	if len(c.ExposeHeaders) > 0 {
		h["Access-Control-Expose-Headers"] = []string{strings.Join(c.ExposeHeaders, ",")}
	}
	if c.MaxAge != nil {
		h["Access-Control-Max-Age"] = []string{strconv.Itoa(*c.MaxAge)}
	}
	if c.AllowCredentials != nil && *c.AllowCredentials {
		h["Access-Control-Allow-Credentials"] = []string{"true"}
	}
	return rep
}

// AddCORS puts the CORS headers of c for the request's origin on a normal
// response, replacing any the function set. Without a configuration the
// function's own headers stay.
func AddCORS(c *registry.Cors, r *http.Request, h http.Header) {
	if c == nil {
		return
	}
	for k := range h {
		if isCORSHeader(k) {
			delete(h, k)
		}
	}
	ao := allowOrigin(c, r.Header.Get("Origin"))
	if ao == "" {
		return
	}
	h["Access-Control-Allow-Origin"] = []string{ao}
	if ao != "*" {
		h.Add("Vary", "Origin")
	}
	if len(c.ExposeHeaders) > 0 {
		h["Access-Control-Expose-Headers"] = []string{strings.Join(c.ExposeHeaders, ",")}
	}
	if c.AllowCredentials != nil && *c.AllowCredentials {
		h["Access-Control-Allow-Credentials"] = []string{"true"}
	}
}
