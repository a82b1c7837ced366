package sqs

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/kumo-run/kumo/internal/awsproto"
)

// The query protocol, which SDKs before SQS's move to JSON speak: form
// parameters (Action=SendMessage&Version=2012-11-05&QueueUrl=…, or POSTed
// to the queue's URL without QueueUrl) in, XML out. A request is
// translated to the JSON protocol's body and served by the same
// operation; the result is written back in the query protocol's shape
// (flattened lists and maps: <Attribute><Name/><Value/></Attribute>,
// <Message>, <QueueUrl>, <SendMessageBatchResultEntry>, …).

// Namespace is the xmlns of SQS's query responses.
const Namespace = "http://queue.amazonaws.com/doc/2012-11-05/"

// QueryErrors renders errors to query-protocol clients.
var QueryErrors = awsproto.Query{Namespace: Namespace, Internal: awsproto.InternalSpec{Code: awsproto.SQSInternalError}}

// isQuery reports whether r is a query-protocol request.
func isQuery(r *http.Request) bool {
	if r.Header.Get("X-Amz-Target") != "" {
		return false
	}
	ct := r.Header.Get("Content-Type")
	return strings.HasPrefix(ct, "application/x-www-form-urlencoded") || r.URL.Query().Get("Action") != ""
}

// serveQuery serves one query-protocol request.
func (s *Service) serveQuery(w http.ResponseWriter, r *http.Request) {
	q, err := awsproto.ReadQuery(r)
	if err != nil {
		QueryErrors.WriteError(w, r, err)
		return
	}
	o, ok := s.ops[q.Action]
	if !ok {
		QueryErrors.WriteError(w, r, awsproto.Errorf(awsproto.SQSUnknownOperation, "The action %s is not valid for this endpoint.", clip(q.Action)))
		return
	}
	in := formToJSON(q.Params, q.Action)
	if _, ok := in["QueueUrl"]; !ok {
		if p := strings.Trim(r.URL.Path, "/"); strings.Count(p, "/") == 1 {
			in["QueueUrl"] = baseURL(r) + "/" + p
		}
	}
	body, err := json.Marshal(in)
	if err != nil {
		QueryErrors.WriteError(w, r, awsproto.Internal(err))
		return
	}
	if err := s.refuseFull(q.Action); err != nil {
		QueryErrors.WriteError(w, r, err)
		return
	}
	out, err := o(r.Context(), r, body)
	if err != nil {
		if ae := awsproto.AsError(err); ae.Unwrap() != nil {
			s.log.ErrorContext(r.Context(), "sqs request failed", "requestId", awsproto.RequestID(r.Context()), "operation", q.Action, "error", err)
		}
		QueryErrors.WriteError(w, r, err)
		return
	}
	id := awsproto.RequestID(r.Context())
	if id == "" {
		id = w.Header().Get("x-amzn-RequestId")
	}
	var b bytes.Buffer
	b.WriteString(xml.Header)
	b.WriteString("<" + q.Action + `Response xmlns="` + Namespace + `">`)
	if out != nil {
		b.WriteString("<" + q.Action + "Result>")
		if err := resultXML(&b, q.Action, out); err != nil {
			QueryErrors.WriteError(w, r, awsproto.Internal(err))
			return
		}
		b.WriteString("</" + q.Action + "Result>")
	}
	b.WriteString("<ResponseMetadata><RequestId>")
	text(&b, id)
	b.WriteString("</RequestId></ResponseMetadata></" + q.Action + "Response>")
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("Content-Length", strconv.Itoa(b.Len()))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b.Bytes())
}

// form is a query request's parameters split at their dots.
type form struct {
	value string
	has   bool
	kids  map[string]*form
}

func (f *form) insert(key, value string) {
	n := f
	for _, part := range strings.Split(key, ".") {
		if n.kids == nil {
			n.kids = map[string]*form{}
		}
		c, ok := n.kids[part]
		if !ok {
			c = &form{}
			n.kids[part] = c
		}
		n = c
	}
	n.value, n.has = value, true
}

// indexed is the children named 1, 2, … in order.
func (f *form) indexed() []*form {
	var keys []int
	for k := range f.kids {
		if i, err := strconv.Atoi(k); err == nil && i > 0 {
			keys = append(keys, i)
		}
	}
	slices.Sort(keys)
	out := make([]*form, 0, len(keys))
	for _, k := range keys {
		out = append(out, f.kids[strconv.Itoa(k)])
	}
	return out
}

func (f *form) get(path ...string) (string, bool) {
	n := f
	for _, p := range path {
		if n == nil || n.kids == nil {
			return "", false
		}
		n = n.kids[p]
	}
	if n == nil || !n.has {
		return "", false
	}
	return n.value, true
}

// numericParams are the integer members of SQS's requests.
var numericParams = map[string]bool{"DelaySeconds": true, "MaxNumberOfMessages": true, "VisibilityTimeout": true,
	"WaitTimeSeconds": true, "MaxResults": true}

// listParams are the flattened string lists, by their JSON member.
var listParams = map[string]string{"AttributeName": "AttributeNames", "MessageSystemAttributeName": "MessageSystemAttributeNames",
	"MessageAttributeName": "MessageAttributeNames", "TagKey": "TagKeys", "AWSAccountId": "AWSAccountIds", "ActionName": "Actions"}

// entryParams are the batch entry lists.
var entryParams = map[string]bool{"SendMessageBatchRequestEntry": true, "DeleteMessageBatchRequestEntry": true,
	"ChangeMessageVisibilityBatchRequestEntry": true}

// formToJSON is a query request as the JSON protocol's body.
func formToJSON(params url.Values, action string) map[string]any {
	root := &form{}
	for k, vs := range params {
		if len(vs) > 0 {
			root.insert(k, vs[0])
		}
	}
	return members(root, action)
}

func members(f *form, action string) map[string]any {
	out := map[string]any{}
	for name, c := range f.kids {
		switch {
		case name == "Action" || name == "Version":
		case listParams[name] != "":
			var l []string
			for _, it := range c.indexed() {
				l = append(l, it.value)
			}
			out[listParams[name]] = l
		case name == "Attribute":
			m := map[string]string{}
			for _, it := range c.indexed() {
				k, _ := it.get("Name")
				m[k], _ = it.get("Value")
			}
			out["Attributes"] = m
		case name == "Tag":
			m := map[string]string{}
			for _, it := range c.indexed() {
				k, _ := it.get("Key")
				m[k], _ = it.get("Value")
			}
			if action == "CreateQueue" {
				out["tags"] = m
			} else {
				out["Tags"] = m
			}
		case name == "MessageAttribute" || name == "MessageSystemAttribute":
			m := map[string]map[string]string{}
			for _, it := range c.indexed() {
				k, _ := it.get("Name")
				v := map[string]string{}
				for _, f := range []string{"DataType", "StringValue", "BinaryValue"} {
					if s, ok := it.get("Value", f); ok {
						v[f] = s
					}
				}
				m[k] = v
			}
			out[name+"s"] = m
		case entryParams[name]:
			var l []map[string]any
			for _, it := range c.indexed() {
				l = append(l, members(it, action))
			}
			out["Entries"] = l
		case c.has:
			if numericParams[name] {
				if n, err := strconv.Atoi(c.value); err == nil {
					out[name] = n
					continue
				}
			}
			out[name] = c.value
		}
	}
	return out
}

// batchEntry names the success entries of a batch operation's result.
var batchEntry = map[string]string{"SendMessageBatch": "SendMessageBatchResultEntry",
	"DeleteMessageBatch": "DeleteMessageBatchResultEntry", "ChangeMessageVisibilityBatch": "ChangeMessageVisibilityBatchResultEntry"}

// resultXML writes an operation's result (as its JSON encoding has it)
// in the query protocol's shape.
func resultXML(b *bytes.Buffer, action string, out any) error {
	raw, err := json.Marshal(out)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return fmt.Errorf("result of %s: %w", action, err)
	}
	writeMembers(b, action, m)
	return nil
}

func writeMembers(b *bytes.Buffer, action string, m map[string]any) {
	for _, k := range slices.Sorted(maps.Keys(m)) {
		switch v := m[k].(type) {
		case map[string]any:
			for _, name := range slices.Sorted(maps.Keys(v)) {
				switch k {
				case "Attributes":
					b.WriteString("<Attribute><Name>")
					text(b, name)
					b.WriteString("</Name><Value>")
					text(b, fmt.Sprint(v[name]))
					b.WriteString("</Value></Attribute>")
				case "Tags":
					b.WriteString("<Tag><Key>")
					text(b, name)
					b.WriteString("</Key><Value>")
					text(b, fmt.Sprint(v[name]))
					b.WriteString("</Value></Tag>")
				case "MessageAttributes":
					b.WriteString("<MessageAttribute><Name>")
					text(b, name)
					b.WriteString("</Name><Value>")
					if a, ok := v[name].(map[string]any); ok {
						writeMembers(b, action, a)
					}
					b.WriteString("</Value></MessageAttribute>")
				}
			}
		case []any:
			elem := k
			switch k {
			case "QueueUrls", "queueUrls":
				elem = "QueueUrl"
			case "Messages":
				elem = "Message"
			case "Successful":
				elem = batchEntry[action]
			case "Failed":
				elem = "BatchResultErrorEntry"
			}
			for _, it := range v {
				b.WriteString("<" + elem + ">")
				if o, ok := it.(map[string]any); ok {
					writeMembers(b, action, o)
				} else {
					text(b, fmt.Sprint(it))
				}
				b.WriteString("</" + elem + ">")
			}
		case nil:
		default:
			b.WriteString("<" + k + ">")
			text(b, fmt.Sprint(v))
			b.WriteString("</" + k + ">")
		}
	}
}

func text(b *bytes.Buffer, s string) { _ = xml.EscapeText(b, []byte(s)) }
