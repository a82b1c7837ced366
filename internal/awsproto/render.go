package awsproto

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
)

// A Renderer writes error responses in one AWS wire protocol. Every
// renderer takes its status, message casing and fault from the catalogue,
// sends an unexpected failure (Internal, or any error that is not an
// *Error) as its service's internal error, and never sends a code that is
// not in the catalogue: such a code is a bug, answered as an internal
// error. r may be nil; it gives the request id (from its context, or the
// response's x-amzn-RequestId header) and the method (no body for HEAD).
type Renderer interface {
	WriteError(w http.ResponseWriter, r *http.Request, err error)
}

// Interface guards.
var (
	_ Renderer = RESTJSON{}
	_ Renderer = JSON{}
	_ Renderer = Query{}
	_ Renderer = EC2Query{}
	_ Renderer = RESTXML{}
)

// InternalSpec names how a service reports its own failures.
type InternalSpec struct {
	// Code replaces an internal failure's code; ServiceException when
	// empty.
	Code Code
	// Message replaces its message; the default one when empty.
	Message string
}

// Lambda renders errors as Lambda does, and is what WriteError uses.
var Lambda = RESTJSON{TypeMember: true}

// RESTJSON renders errors as rest-json services (Lambda, API Gateway) do:
//
//	HTTP/1.1 404
//	x-amzn-ErrorType: ResourceNotFoundException
//	Content-Type: application/json
//
//	{"Type":"User","Message":"Function not found: ..."}
//
// The SDKs take the code from x-amzn-ErrorType (botocore
// RestJSONParser._inject_error_code, aws-sdk-go-v2's generated
// deserializers) and the message from the member the exception's shape
// names, so its casing must be the model's.
type RESTJSON struct {
	// TypeMember adds Lambda's Type member ("User" or "Service").
	TypeMember bool
	Internal   InternalSpec
}

// WriteError implements Renderer.
func (p RESTJSON) WriteError(w http.ResponseWriter, r *http.Request, err error) {
	e, s := resolve(err, p.Internal)
	body := jsonBody(e, s)
	if p.TypeMember {
		body["Type"] = s.Fault.Lambda()
	}
	writeHeaders(w, e, s, "application/json")
	w.Header()["x-amzn-ErrorType"] = []string{s.Code.Name()} // AWS's casing, kept on the wire
	writeBody(w, r, s.Status, marshalJSON(body))
}

// JSON renders errors as JSON 1.0 and 1.1 services (CloudWatch Logs, SQS,
// DynamoDB, KMS, EventBridge) do:
//
//	HTTP/1.1 400
//	x-amzn-ErrorType: QueueDoesNotExist
//	x-amzn-query-error: AWS.SimpleQueueService.NonExistentQueue;Sender
//	Content-Type: application/x-amz-json-1.0
//
//	{"__type":"com.amazonaws.sqs#QueueDoesNotExist","message":"..."}
//
// botocore (BaseJSONParser._do_error_parse) and aws-sdk-go-v2
// (restjson.GetErrorInfo, SanitizeErrorCode) take the code from __type,
// dropping anything up to '#' and after ':'; a query-compatible service's
// x-amzn-query-error header gives the code its query clients knew.
type JSON struct {
	// Version is "1.0" or "1.1", for the Content-Type.
	Version string
	// TypePrefix goes before the code in __type: "com.amazonaws.sqs#" for
	// SQS, empty for services that send the bare code (CloudWatch Logs).
	TypePrefix string
	// QueryCompatible sends x-amzn-query-error (the awsQueryCompatible
	// trait of the service's model).
	QueryCompatible bool
	Internal        InternalSpec
}

// WriteError implements Renderer.
func (p JSON) WriteError(w http.ResponseWriter, r *http.Request, err error) {
	e, s := resolve(err, p.Internal)
	body := jsonBody(e, s)
	body["__type"] = p.TypePrefix + s.Code.Name()
	v := p.Version
	if v == "" {
		v = "1.0"
	}
	writeHeaders(w, e, s, "application/x-amz-json-"+v)
	h := w.Header()
	h["x-amzn-ErrorType"] = []string{s.Code.Name()}
	if p.QueryCompatible {
		h["x-amzn-query-error"] = []string{s.queryCode() + ";" + s.Fault.Query()}
	}
	writeBody(w, r, s.Status, marshalJSON(body))
}

// Query renders errors as query-protocol services (IAM, STS, SNS, and SQS
// for its query clients) do:
//
//	<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">
//	  <Error><Type>Sender</Type><Code>NoSuchEntity</Code><Message>...</Message></Error>
//	  <RequestId>...</RequestId>
//	</ErrorResponse>
//
// botocore's QueryParser and aws-sdk-go-v2's
// xml.GetErrorResponseComponents(body, false) read Error>Code and
// Error>Message. The code is the Spec's QueryCode when it has one.
type Query struct {
	// Namespace is the xmlns of ErrorResponse (the model's xmlNamespace);
	// none when empty.
	Namespace string
	Internal  InternalSpec
}

// WriteError implements Renderer.
func (p Query) WriteError(w http.ResponseWriter, r *http.Request, err error) {
	e, s := resolve(err, p.Internal)
	var b bytes.Buffer
	b.WriteString(xml.Header)
	b.WriteString("<ErrorResponse")
	xmlns(&b, p.Namespace)
	b.WriteString("><Error><Type>")
	b.WriteString(s.Fault.Query())
	b.WriteString("</Type>")
	xmlError(&b, e, s.queryCode())
	b.WriteString("</Error><RequestId>")
	xmlText(&b, requestID(w, r))
	b.WriteString("</RequestId></ErrorResponse>")
	writeHeaders(w, e, s, "text/xml")
	writeBody(w, r, s.Status, b.Bytes())
}

// EC2Query renders errors as EC2 does:
//
//	<Response><Errors><Error><Code>InvalidVpcID.NotFound</Code><Message>...</Message></Error></Errors>
//	<RequestID>...</RequestID></Response>
//
// botocore's EC2QueryParser and aws-sdk-go-v2's
// ec2query.GetErrorResponseComponents read Errors>Error>Code.
type EC2Query struct {
	Internal InternalSpec
}

// WriteError implements Renderer.
func (p EC2Query) WriteError(w http.ResponseWriter, r *http.Request, err error) {
	e, s := resolve(err, p.Internal)
	var b bytes.Buffer
	b.WriteString(xml.Header)
	b.WriteString("<Response><Errors><Error>")
	xmlError(&b, e, s.queryCode())
	b.WriteString("</Error></Errors><RequestID>")
	xmlText(&b, requestID(w, r))
	b.WriteString("</RequestID></Response>")
	writeHeaders(w, e, s, "text/xml;charset=UTF-8")
	writeBody(w, r, s.Status, b.Bytes())
}

// RESTXML renders errors as REST-XML services do. S3 (Wrapped false) sends
// an unwrapped, namespace-free Error element and its request id also in
// x-amz-request-id:
//
//	<Error><Code>NoSuchKey</Code><Message>...</Message><Key>a.txt</Key><RequestId>...</RequestId></Error>
//
// Route 53 and CloudFront (Wrapped true) send the query protocol's
// ErrorResponse. botocore's RestXMLParser reads both; aws-sdk-go-v2 reads
// S3's with xml.GetErrorResponseComponents(body, true). Extra Fields
// (S3's BucketName, Key) become elements of Error. A HEAD request gets
// the status and headers only, as S3 answers it.
type RESTXML struct {
	Wrapped   bool
	Namespace string // xmlns of ErrorResponse when Wrapped
	Internal  InternalSpec
}

// WriteError implements Renderer.
func (p RESTXML) WriteError(w http.ResponseWriter, r *http.Request, err error) {
	e, s := resolve(err, p.Internal)
	id := requestID(w, r)
	var b bytes.Buffer
	b.WriteString(xml.Header)
	if p.Wrapped {
		b.WriteString("<ErrorResponse")
		xmlns(&b, p.Namespace)
		b.WriteString("><Error><Type>")
		b.WriteString(s.Fault.Query())
		b.WriteString("</Type>")
		xmlError(&b, e, s.queryCode())
		b.WriteString("</Error><RequestId>")
		xmlText(&b, id)
		b.WriteString("</RequestId></ErrorResponse>")
	} else {
		b.WriteString("<Error>")
		xmlError(&b, e, s.queryCode())
		b.WriteString("<RequestId>")
		xmlText(&b, id)
		b.WriteString("</RequestId></Error>")
	}
	writeHeaders(w, e, s, "application/xml")
	if id != "" && w.Header().Get("x-amz-request-id") == "" {
		w.Header().Set("x-amz-request-id", id)
	}
	writeBody(w, r, s.Status, b.Bytes())
}

// resolve turns err into the Error sent and its catalogue entry.
func resolve(err error, in InternalSpec) (*Error, Spec) {
	e := AsError(err)
	s, ok := catalogue[e.Code]
	if !ok {
		e = Internal(fmt.Errorf("code %q is not in the error catalogue: %w", e.Code, e))
	}
	if e.internal {
		c := *e
		if in.Code != "" {
			c.Code = in.Code
		}
		if in.Message != "" {
			c.Message = in.Message
		}
		e = &c
		if s, ok = catalogue[e.Code]; !ok {
			s = catalogue[ServiceException]
			e.Code = ServiceException
		}
	}
	return e, s
}

// jsonBody is e's message in the shape's member and its extra fields; a
// field JSON cannot encode is left out.
func jsonBody(e *Error, s Spec) map[string]any {
	body := make(map[string]any, 2+len(e.Fields))
	for k, v := range e.Fields {
		if _, err := json.Marshal(v); err == nil {
			body[k] = v
		}
	}
	body[s.messageKey()] = e.Message
	return body
}

func marshalJSON(v map[string]any) []byte {
	b, _ := json.Marshal(v) // every value was encoded once by jsonBody
	return b
}

// writeHeaders sets e's extra headers and the content type.
func writeHeaders(w http.ResponseWriter, e *Error, s Spec, contentType string) {
	h := w.Header()
	for k, vs := range e.Header {
		h[k] = vs
	}
	h.Del("x-amzn-ErrorType")
	h.Set("Content-Type", contentType)
}

func writeBody(w http.ResponseWriter, r *http.Request, status int, b []byte) {
	if r != nil && r.Method == http.MethodHead {
		w.WriteHeader(status)
		return
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	w.Write(b)
}

// requestID is the id the client is told: from r's context, else from the
// response header the edge set.
func requestID(w http.ResponseWriter, r *http.Request) string {
	if r != nil {
		if id := RequestID(r.Context()); id != "" {
			return id
		}
	}
	return w.Header().Get("x-amzn-RequestId")
}

func xmlns(b *bytes.Buffer, ns string) {
	if ns != "" {
		b.WriteString(` xmlns="`)
		xmlText(b, ns)
		b.WriteString(`"`)
	}
}

// xmlError writes Code, Message and the extra fields, sorted by name.
func xmlError(b *bytes.Buffer, e *Error, code string) {
	b.WriteString("<Code>")
	xmlText(b, code)
	b.WriteString("</Code><Message>")
	xmlText(b, e.Message)
	b.WriteString("</Message>")
	for _, k := range slices.Sorted(maps.Keys(e.Fields)) {
		if !isXMLName(k) || k == "Code" || k == "Message" || k == "RequestId" || k == "Type" {
			continue
		}
		b.WriteString("<" + k + ">")
		xmlText(b, fmt.Sprint(e.Fields[k]))
		b.WriteString("</" + k + ">")
	}
}

func xmlText(b *bytes.Buffer, s string) { xml.EscapeText(b, []byte(s)) }

// isXMLName accepts the ASCII names exception members have.
func isXMLName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && (c >= '0' && c <= '9' || c == '_' || c == '-')) {
			return false
		}
	}
	return true
}
