package registry

import (
	"context"
	"crypto/rand"
	"fmt"
	"sort"
	"strings"

	"github.com/kumo-run/kumo/internal/awsproto"
)

// Function URL enumerations.
const (
	URLAuthNone    = "NONE"
	URLAuthIAM     = "AWS_IAM"
	InvokeBuffered = "BUFFERED"
	InvokeStream   = "RESPONSE_STREAM"

	// MaxURLListItems is the largest MaxItems ListFunctionUrlConfigs
	// accepts.
	MaxURLListItems = 50
)

// Cors is the Cors shape of a function URL configuration.
type Cors struct {
	AllowCredentials *bool    `json:"AllowCredentials,omitempty"`
	AllowHeaders     []string `json:"AllowHeaders,omitempty"`
	AllowMethods     []string `json:"AllowMethods,omitempty"`
	AllowOrigins     []string `json:"AllowOrigins,omitempty"`
	ExposeHeaders    []string `json:"ExposeHeaders,omitempty"`
	MaxAge           *int     `json:"MaxAge,omitempty"`
}

// URLConfig is one function URL as stored. The URL itself is not stored:
// it depends on where the server listens (see funcurl.URL), so only its
// id is.
type URLConfig struct {
	// ID is the url-id, 32 lowercase letters and digits, chosen at
	// creation and kept for the life of the configuration.
	ID               string `json:"id"`
	FunctionArn      string `json:"FunctionArn"`
	AuthType         string `json:"AuthType"`
	Cors             *Cors  `json:"Cors,omitempty"`
	InvokeMode       string `json:"InvokeMode"`
	CreationTime     string `json:"CreationTime"`
	LastModifiedTime string `json:"LastModifiedTime"`
}

// URLConfigInput is the body of CreateFunctionUrlConfig and
// UpdateFunctionUrlConfig. For an update, empty members are left as they
// are; a Cors member replaces the whole Cors configuration.
type URLConfigInput struct {
	AuthType   string `json:"AuthType"`
	Cors       *Cors  `json:"Cors"`
	InvokeMode string `json:"InvokeMode"`
}

// URLEntry names the function and qualifier a URL configuration belongs to.
type URLEntry struct {
	Function  string
	Qualifier string // "" or an alias name
	Config    URLConfig
}

// urlIDAlphabet is what a url-id is made of.
const urlIDAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789"

// NewURLID returns a random url-id: 32 characters of [a-z0-9].
func NewURLID() string {
	var b [32]byte
	rand.Read(b[:])
	for i := range b {
		// 252 = 7·36: reject the tail so every character is equally likely.
		for b[i] >= 252 {
			var c [1]byte
			rand.Read(c[:])
			b[i] = c[0]
		}
		b[i] = urlIDAlphabet[int(b[i])%len(urlIDAlphabet)]
	}
	return string(b[:])
}

// IsURLID reports whether s has the shape of a url-id.
func IsURLID(s string) bool {
	if len(s) != 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// urlQualifier checks the qualifier of a function URL request: absent, or
// an alias name; $LATEST and version numbers are refused by the model's
// pattern, as Lambda refuses them.
func urlQualifier(ref Ref) (string, error) {
	q := ref.Qualifier
	if q == "" {
		return "", nil
	}
	if len(q) > 128 || isDigits(q) || !isNameToken(q) {
		return "", constraint(clip(q), "qualifier", `Member must satisfy regular expression pattern: ((?!^\d+$)^[0-9a-zA-Z-_]+$)`)
	}
	return q, nil
}

func validateURLAuth(t string, required bool) error {
	switch t {
	case URLAuthNone, URLAuthIAM:
		return nil
	case "":
		if required {
			return notNull("authType")
		}
		return nil
	}
	return constraint(clip(t), "authType", "Member must satisfy enum value set: [NONE, AWS_IAM]")
}

func validateInvokeMode(m string) error {
	switch m {
	case "", InvokeBuffered, InvokeStream:
		return nil
	}
	return constraint(clip(m), "invokeMode", "Member must satisfy enum value set: [BUFFERED, RESPONSE_STREAM]")
}

// corsMethods are the values AllowMethods may hold.
var corsMethods = map[string]bool{"GET": true, "PUT": true, "HEAD": true, "POST": true, "PATCH": true, "DELETE": true, "*": true}

func listValue(l []string) string { return clip("[" + strings.Join(l, ", ") + "]") }

// validateCors checks a Cors member against the model (list sizes, item
// lengths, MaxAge range) and against what Lambda accepts (HTTP methods,
// header names, origins).
func validateCors(c *Cors) error {
	if c == nil {
		return nil
	}
	lists := []struct {
		member      string
		items       []string
		max, minLen int
		maxLen      int
	}{
		{"cors.allowHeaders", c.AllowHeaders, 100, 0, 1024},
		{"cors.allowMethods", c.AllowMethods, 6, 0, 6},
		{"cors.allowOrigins", c.AllowOrigins, 100, 1, 253},
		{"cors.exposeHeaders", c.ExposeHeaders, 100, 0, 1024},
	}
	for _, l := range lists {
		if len(l.items) > l.max {
			return constraint(listValue(l.items), l.member, fmt.Sprintf("Member must have length less than or equal to %d", l.max))
		}
		for _, v := range l.items {
			if len(v) > l.maxLen {
				return constraint(listValue(l.items), l.member, fmt.Sprintf("Member must satisfy constraint: [Member must have length less than or equal to %d]", l.maxLen))
			}
			if len(v) < l.minLen {
				return constraint(listValue(l.items), l.member, fmt.Sprintf("Member must satisfy constraint: [Member must have length greater than or equal to %d]", l.minLen))
			}
		}
	}
	if c.MaxAge != nil && (*c.MaxAge < 0 || *c.MaxAge > 86400) {
		rule := "Member must have value less than or equal to 86400"
		if *c.MaxAge < 0 {
			rule = "Member must have value greater than or equal to 0"
		}
		return constraint(*c.MaxAge, "cors.maxAge", rule)
	}
	for _, m := range c.AllowMethods {
		if !corsMethods[strings.ToUpper(m)] {
			return invalid("Invalid AllowMethods value %q: each method must be one of GET, PUT, HEAD, POST, PATCH, DELETE or *.", m)
		}
	}
	for _, hs := range [][]string{c.AllowHeaders, c.ExposeHeaders} {
		for _, h := range hs {
			if h != "*" && !isHeaderToken(h) {
				return invalid("Invalid header name %q in Cors: header names are HTTP tokens or *.", h)
			}
		}
	}
	for _, o := range c.AllowOrigins {
		if o != "*" && !isOrigin(o) {
			return invalid("Invalid AllowOrigins value %q: an origin is * or scheme://host[:port].", o)
		}
	}
	return nil
}

func isHeaderToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

// isOrigin accepts scheme://host[:port] with no path.
func isOrigin(s string) bool {
	scheme, host, ok := strings.Cut(s, "://")
	if !ok || scheme == "" || host == "" || strings.ContainsAny(host, "/?# \t") {
		return false
	}
	for i := 0; i < len(scheme); i++ {
		c := scheme[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// normalizeCors returns a copy of c with methods upper-cased; nil when c
// sets nothing.
func normalizeCors(c *Cors) *Cors {
	if c == nil {
		return nil
	}
	out := *c
	out.AllowMethods = nil
	for _, m := range c.AllowMethods {
		out.AllowMethods = append(out.AllowMethods, strings.ToUpper(m))
	}
	out.AllowHeaders = clone(c.AllowHeaders)
	out.AllowOrigins = clone(c.AllowOrigins)
	out.ExposeHeaders = clone(c.ExposeHeaders)
	if out.AllowCredentials == nil && out.MaxAge == nil && len(out.AllowHeaders)+len(out.AllowMethods)+len(out.AllowOrigins)+len(out.ExposeHeaders) == 0 {
		return nil
	}
	return &out
}

func clone(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return append([]string(nil), s...)
}

func (r *Registry) urlTimestamp() string {
	return r.now().UTC().Format("2006-01-02T15:04:05.000000Z")
}

func urlNotFound() *awsproto.Error {
	return awsproto.Errorf(awsproto.ResourceNotFoundException, "The resource you requested does not exist.")
}

// pruneURLs drops URL configurations of aliases that no longer exist.
func pruneURLs(f *Function) {
	for q := range f.URLConfigs {
		if q == "" {
			continue
		}
		if _, ok := f.Aliases[q]; !ok {
			delete(f.URLConfigs, q)
		}
	}
}

// CreateFunctionURLConfig gives the function (no qualifier) or one of its
// aliases a URL. It adds no permission: a NONE URL answers 403 until a
// resource policy allows lambda:InvokeFunctionUrl to everyone.
func (r *Registry) CreateFunctionURLConfig(ctx context.Context, ref Ref, in URLConfigInput) (URLConfig, error) {
	q, err := urlQualifier(ref)
	if err != nil {
		return URLConfig{}, err
	}
	if err := validateURLAuth(in.AuthType, true); err != nil {
		return URLConfig{}, err
	}
	if err := validateInvokeMode(in.InvokeMode); err != nil {
		return URLConfig{}, err
	}
	if err := validateCors(in.Cors); err != nil {
		return URLConfig{}, err
	}
	var out URLConfig
	_, err = r.update(ctx, ref.Name, func(f *Function) error {
		if q != "" {
			if _, ok := f.Aliases[q]; !ok {
				return notFound(r.arns.Qualified(ref.Name, q))
			}
		}
		pruneURLs(f)
		arn := r.arns.Qualified(ref.Name, q)
		if _, ok := f.URLConfigs[q]; ok {
			return awsproto.Errorf(awsproto.ResourceConflictException,
				"Failed to create function url config for [functionArn = %s]. Error message:  FunctionUrlConfig exists for this Lambda function", arn)
		}
		now := r.urlTimestamp()
		out = URLConfig{
			ID: NewURLID(), FunctionArn: arn, AuthType: in.AuthType, Cors: normalizeCors(in.Cors),
			InvokeMode: InvokeBuffered, CreationTime: now, LastModifiedTime: now,
		}
		if in.InvokeMode != "" {
			out.InvokeMode = in.InvokeMode
		}
		if f.URLConfigs == nil {
			f.URLConfigs = map[string]URLConfig{}
		}
		f.URLConfigs[q] = out
		return nil
	})
	if err != nil {
		return URLConfig{}, err
	}
	return out, nil
}

// GetFunctionURLConfig returns the URL configuration of the function or
// one of its aliases.
func (r *Registry) GetFunctionURLConfig(ctx context.Context, ref Ref) (URLConfig, error) {
	q, err := urlQualifier(ref)
	if err != nil {
		return URLConfig{}, err
	}
	st := r.view(ref.Name)
	if st == nil {
		return URLConfig{}, notFound(r.arns.Function(ref.Name))
	}
	if q != "" {
		if _, ok := st.fn.Aliases[q]; !ok {
			return URLConfig{}, notFound(r.arns.Qualified(ref.Name, q))
		}
	}
	c, ok := st.fn.URLConfigs[q]
	if !ok {
		return URLConfig{}, urlNotFound()
	}
	return c, nil
}

// UpdateFunctionURLConfig changes the auth type, CORS or invoke mode of a
// URL; its url-id stays.
func (r *Registry) UpdateFunctionURLConfig(ctx context.Context, ref Ref, in URLConfigInput) (URLConfig, error) {
	q, err := urlQualifier(ref)
	if err != nil {
		return URLConfig{}, err
	}
	if err := validateURLAuth(in.AuthType, false); err != nil {
		return URLConfig{}, err
	}
	if err := validateInvokeMode(in.InvokeMode); err != nil {
		return URLConfig{}, err
	}
	if err := validateCors(in.Cors); err != nil {
		return URLConfig{}, err
	}
	var out URLConfig
	_, err = r.update(ctx, ref.Name, func(f *Function) error {
		if q != "" {
			if _, ok := f.Aliases[q]; !ok {
				return notFound(r.arns.Qualified(ref.Name, q))
			}
		}
		pruneURLs(f)
		c, ok := f.URLConfigs[q]
		if !ok {
			return urlNotFound()
		}
		if in.AuthType != "" {
			c.AuthType = in.AuthType
		}
		if in.Cors != nil {
			c.Cors = normalizeCors(in.Cors)
		}
		if in.InvokeMode != "" {
			c.InvokeMode = in.InvokeMode
		}
		c.LastModifiedTime = r.urlTimestamp()
		f.URLConfigs[q] = c
		out = c
		return nil
	})
	if err != nil {
		return URLConfig{}, err
	}
	return out, nil
}

// DeleteFunctionURLConfig removes a URL; its url-id is never reused.
func (r *Registry) DeleteFunctionURLConfig(ctx context.Context, ref Ref) error {
	q, err := urlQualifier(ref)
	if err != nil {
		return err
	}
	_, err = r.update(ctx, ref.Name, func(f *Function) error {
		if q != "" {
			if _, ok := f.Aliases[q]; !ok {
				return notFound(r.arns.Qualified(ref.Name, q))
			}
		}
		if _, ok := f.URLConfigs[q]; !ok {
			return urlNotFound()
		}
		delete(f.URLConfigs, q)
		pruneURLs(f)
		return nil
	})
	return err
}

// ListFunctionURLConfigs lists the URLs of a function and its aliases,
// ordered by qualifier (the function's own first). marker is the previous
// page's NextMarker; max ≤ 0 means MaxURLListItems.
func (r *Registry) ListFunctionURLConfigs(ctx context.Context, ref Ref, marker string, max int) ([]URLConfig, string, error) {
	if ref.Qualifier != "" {
		return nil, "", invalid("This operation is permitted on Lambda functions only. Aliases and versions do not support this operation. Please specify either a function name or an unqualified function ARN.")
	}
	after, err := decodeMarker(marker)
	if err != nil {
		return nil, "", err
	}
	if max <= 0 || max > MaxURLListItems {
		max = MaxURLListItems
	}
	st := r.view(ref.Name)
	if st == nil {
		return nil, "", notFound(r.arns.Function(ref.Name))
	}
	// Sort keys: "\x00" for the function itself, so it comes first.
	var keys []string
	for q := range st.fn.URLConfigs {
		if q != "" {
			if _, ok := st.fn.Aliases[q]; !ok {
				continue
			}
		}
		k := "\x00" + q
		if after != "" && k <= after {
			continue
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]URLConfig, 0, min(len(keys), max))
	for i, k := range keys {
		if len(out) == max {
			return out, encodeMarker(keys[i-1]), nil
		}
		out = append(out, st.fn.URLConfigs[k[1:]])
	}
	return out, "", nil
}

// URLConfig returns the current URL configuration of a function or alias
// from the view, if it has one whose alias still exists.
func (r *Registry) URLConfig(name, qualifier string) (URLConfig, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	st := r.fns[name]
	if st == nil || st.rev == 0 {
		return URLConfig{}, false
	}
	c, ok := st.fn.URLConfigs[qualifier]
	if !ok {
		return URLConfig{}, false
	}
	if qualifier != "" {
		if _, ok := st.fn.Aliases[qualifier]; !ok {
			return URLConfig{}, false
		}
	}
	return c, true
}

// URLByID returns the function URL a url-id names, from an index the
// view keeps current as function documents arrive (local writes and the
// store watch alike): one map read under the view's read lock, whatever
// the id, so requests for unknown ids cost no more than others.
func (r *Registry) URLByID(id string) (URLEntry, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	t, ok := r.urlIDs[id]
	if !ok {
		return URLEntry{}, false
	}
	st := r.fns[t.function]
	if st == nil || st.rev == 0 {
		return URLEntry{}, false
	}
	c, ok := st.fn.URLConfigs[t.qualifier]
	if !ok || c.ID != id {
		return URLEntry{}, false
	}
	if t.qualifier != "" {
		if _, ok := st.fn.Aliases[t.qualifier]; !ok {
			return URLEntry{}, false
		}
	}
	return URLEntry{Function: t.function, Qualifier: t.qualifier, Config: c}, true
}

// urlTarget is what a url-id names.
type urlTarget struct{ function, qualifier string }

// unindexURLs drops a function's URLs from the url-id index. The caller
// holds r.mu for writing.
func (r *Registry) unindexURLs(name string) {
	st := r.fns[name]
	if st == nil {
		return
	}
	for q, c := range st.fn.URLConfigs {
		if t, ok := r.urlIDs[c.ID]; ok && t == (urlTarget{name, q}) {
			delete(r.urlIDs, c.ID)
		}
	}
}

// indexURLs adds a function's URLs to the url-id index. The caller holds
// r.mu for writing.
func (r *Registry) indexURLs(name string, f *Function) {
	if len(f.URLConfigs) == 0 {
		return
	}
	if r.urlIDs == nil {
		r.urlIDs = map[string]urlTarget{}
	}
	for q, c := range f.URLConfigs {
		r.urlIDs[c.ID] = urlTarget{name, q}
	}
}

// URLConfigs returns every URL configuration in the view. It walks every
// function; serving a request by url-id uses URLByID.
func (r *Registry) URLConfigs() []URLEntry {
	r.mu.RLock()
	defer r.mu.RUnlock()
	var out []URLEntry
	for name, st := range r.fns {
		if st.rev == 0 {
			continue
		}
		for q, c := range st.fn.URLConfigs {
			if q != "" {
				if _, ok := st.fn.Aliases[q]; !ok {
					continue
				}
			}
			out = append(out, URLEntry{Function: name, Qualifier: q, Config: c})
		}
	}
	return out
}
