package s3

import (
	"encoding/xml"
	"net/http"
	"strconv"
	"strings"

	"github.com/kumo-run/kumo/internal/awsproto"
)

// maxCORSRules is S3's limit on a bucket's CORS rules.
const maxCORSRules = 100

// corsConfig is S3's CORSConfiguration document.
type corsConfig struct {
	XMLName xml.Name   `xml:"CORSConfiguration" json:"-"`
	NS      string     `xml:"xmlns,attr,omitempty" json:"-"`
	Rules   []corsRule `xml:"CORSRule" json:"rules"`
}

type corsRule struct {
	ID             string   `xml:"ID,omitempty" json:"id,omitempty"`
	AllowedHeaders []string `xml:"AllowedHeader" json:"headers,omitempty"`
	AllowedMethods []string `xml:"AllowedMethod" json:"methods"`
	AllowedOrigins []string `xml:"AllowedOrigin" json:"origins"`
	ExposeHeaders  []string `xml:"ExposeHeader" json:"expose,omitempty"`
	MaxAgeSeconds  *int     `xml:"MaxAgeSeconds" json:"maxAge,omitempty"`
}

var corsMethods = map[string]bool{"GET": true, "PUT": true, "POST": true, "DELETE": true, "HEAD": true}

func (c *corsConfig) validate() error {
	if len(c.Rules) == 0 || len(c.Rules) > maxCORSRules {
		return awsproto.Errorf(awsproto.S3MalformedXML, "The XML you provided was not well-formed or did not validate against our published schema.")
	}
	for _, r := range c.Rules {
		if len(r.AllowedMethods) == 0 || len(r.AllowedOrigins) == 0 {
			return awsproto.Errorf(awsproto.S3MalformedXML, "The XML you provided was not well-formed or did not validate against our published schema.")
		}
		for _, m := range r.AllowedMethods {
			if !corsMethods[m] {
				return awsproto.Errorf(awsproto.S3InvalidRequest, "Found unsupported HTTP method in CORS config. Unsupported method is %s", m)
			}
		}
		for _, o := range r.AllowedOrigins {
			if strings.Count(o, "*") > 1 {
				return awsproto.Errorf(awsproto.S3InvalidRequest, "AllowedOrigin %q can not have more than one wildcard.", o)
			}
		}
		for _, h := range r.AllowedHeaders {
			if strings.Count(h, "*") > 1 {
				return awsproto.Errorf(awsproto.S3InvalidRequest, "AllowedHeader %q can not have more than one wildcard.", h)
			}
		}
	}
	return nil
}

// wildcard matches s against a pattern with at most one "*",
// case-insensitively when fold.
func wildcard(pattern, s string, fold bool) bool {
	if fold {
		pattern, s = strings.ToLower(pattern), strings.ToLower(s)
	}
	before, after, found := strings.Cut(pattern, "*")
	if !found {
		return pattern == s
	}
	return len(s) >= len(before)+len(after) && strings.HasPrefix(s, before) && strings.HasSuffix(s, after)
}

// match is the first rule allowing origin to use method with headers.
func (c *corsConfig) match(origin, method string, headers []string) (corsRule, bool) {
	if c == nil {
		return corsRule{}, false
	}
rules:
	for _, r := range c.Rules {
		okOrigin := false
		for _, o := range r.AllowedOrigins {
			okOrigin = okOrigin || wildcard(o, origin, false)
		}
		okMethod := false
		for _, m := range r.AllowedMethods {
			okMethod = okMethod || m == method
		}
		if !okOrigin || !okMethod {
			continue
		}
		for _, h := range headers {
			ok := false
			for _, a := range r.AllowedHeaders {
				ok = ok || wildcard(a, h, true)
			}
			if !ok {
				continue rules
			}
		}
		return r, true
	}
	return corsRule{}, false
}

// allowOrigin is the Access-Control-Allow-Origin a rule answers origin
// with.
func (r corsRule) allowOrigin(origin string) string {
	for _, o := range r.AllowedOrigins {
		if o == "*" {
			return "*"
		}
	}
	return origin
}

func (s *Service) putBucketCors(q *request) error {
	if _, err := s.bucket(q.ctx(), q.bucket); err != nil {
		return err
	}
	var in corsConfig
	if err := readXML(q.r, &in); err != nil {
		return err
	}
	if err := in.validate(); err != nil {
		return err
	}
	in.XMLName, in.NS = xml.Name{}, ""
	if err := s.updateBucket(q.ctx(), q.bucket, func(b *bucketMeta) { b.CORS = &in }); err != nil {
		return err
	}
	q.w.WriteHeader(http.StatusOK)
	return nil
}

func (s *Service) getBucketCors(q *request) error {
	b, err := s.bucket(q.ctx(), q.bucket)
	if err != nil {
		return err
	}
	if b.CORS == nil {
		return awsproto.Errorf(awsproto.S3NoSuchCORSConfiguration, "The CORS configuration does not exist")
	}
	out := *b.CORS
	out.NS = namespace
	return writeXML(q.w, out)
}

func (s *Service) deleteBucketCors(q *request) error {
	if err := s.updateBucket(q.ctx(), q.bucket, func(b *bucketMeta) { b.CORS = nil }); err != nil {
		return err
	}
	q.w.WriteHeader(http.StatusNoContent)
	return nil
}

// splitHeaders reads Access-Control-Request-Headers.
func splitHeaders(v string) []string {
	var out []string
	for _, h := range strings.Split(v, ",") {
		if h = strings.TrimSpace(h); h != "" {
			out = append(out, h)
		}
	}
	return out
}

// preflight answers a CORS preflight request (OPTIONS, unauthenticated as
// browsers send it) from the bucket's CORS rules.
func (s *Service) preflight(q *request) error {
	h := q.r.Header
	origin, method := h.Get("Origin"), h.Get("Access-Control-Request-Method")
	if origin == "" {
		return awsproto.Errorf(awsproto.S3BadRequest, "Insufficient information. Origin request header needed.")
	}
	if method == "" {
		return awsproto.Errorf(awsproto.S3BadRequest, "Invalid Access-Control-Request-Method: null")
	}
	b, err := s.bucket(q.ctx(), q.bucket)
	if err != nil {
		return err
	}
	forbidden := func(msg string) error {
		return awsproto.Errorf(awsproto.S3AccessForbidden, "%s", msg).With("Method", method).With("ResourceType", resourceType(q))
	}
	if b.CORS == nil {
		return forbidden("CORSResponse: CORS is not enabled for this bucket.")
	}
	headers := splitHeaders(h.Get("Access-Control-Request-Headers"))
	rule, ok := b.CORS.match(origin, method, headers)
	if !ok {
		return forbidden("CORSResponse: This CORS request is not allowed. This is usually because the evalution of Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted by the resource's CORS spec.")
	}
	out := q.w.Header()
	out.Set("Access-Control-Allow-Origin", rule.allowOrigin(origin))
	out.Set("Access-Control-Allow-Methods", strings.Join(rule.AllowedMethods, ", "))
	if len(headers) > 0 {
		out.Set("Access-Control-Allow-Headers", strings.Join(headers, ", "))
	}
	if len(rule.ExposeHeaders) > 0 {
		out.Set("Access-Control-Expose-Headers", strings.Join(rule.ExposeHeaders, ", "))
	}
	if rule.MaxAgeSeconds != nil {
		out.Set("Access-Control-Max-Age", strconv.Itoa(*rule.MaxAgeSeconds))
	}
	if rule.allowOrigin(origin) != "*" {
		out.Set("Access-Control-Allow-Credentials", "true")
	}
	out.Set("Vary", "Origin, Access-Control-Request-Headers, Access-Control-Request-Method")
	q.w.WriteHeader(http.StatusOK)
	return nil
}

// corsHeaders adds the CORS response headers to a request from a browser
// (one with an Origin) that a rule of the bucket allows.
func (s *Service) corsHeaders(q *request) {
	origin := q.r.Header.Get("Origin")
	if origin == "" || q.bucket == "" {
		return
	}
	var b bucketMeta
	if _, err := s.getJSON(q.ctx(), bucketKey(q.bucket), &b); err != nil || b.CORS == nil {
		return
	}
	rule, ok := b.CORS.match(origin, q.r.Method, nil)
	if !ok {
		return
	}
	out := q.w.Header()
	out.Set("Access-Control-Allow-Origin", rule.allowOrigin(origin))
	out.Set("Access-Control-Allow-Methods", strings.Join(rule.AllowedMethods, ", "))
	if len(rule.ExposeHeaders) > 0 {
		out.Set("Access-Control-Expose-Headers", strings.Join(rule.ExposeHeaders, ", "))
	}
	if rule.MaxAgeSeconds != nil {
		out.Set("Access-Control-Max-Age", strconv.Itoa(*rule.MaxAgeSeconds))
	}
	if rule.allowOrigin(origin) != "*" {
		out.Set("Access-Control-Allow-Credentials", "true")
	}
	out.Set("Vary", "Origin, Access-Control-Request-Headers, Access-Control-Request-Method")
}
