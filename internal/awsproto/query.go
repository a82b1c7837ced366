package awsproto

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The query protocol (IAM, STS, SNS, SQS's older clients, EC2 in its own
// variant) sends an operation as form parameters — a POST body of type
// application/x-www-form-urlencoded, or the URL's query — with Action and
// Version, nesting members with dots the way botocore's QuerySerializer
// writes them:
//
//	Action=AssumeRole&Version=2011-06-15&RoleArn=...
//	Tags.member.1.Key=team&Tags.member.1.Value=core    a list of structures
//	PolicyArns.member.1.arn=...                         (locationName "member")
//	Attributes.entry.1.key=K&Attributes.entry.1.value=V a map
//	Attribute.1.Name=K&Attribute.1.Value=V              a flattened map (SQS)
//	Names=                                              an empty list
//
// and answers with XML:
//
//	<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
//	  <AssumeRoleResult>...</AssumeRoleResult>
//	  <ResponseMetadata><RequestId>...</RequestId></ResponseMetadata>
//	</AssumeRoleResponse>
//
// Errors go through the Query renderer (render.go).
//
// Go structs describe the shapes. A field's `query` tag names its member
// (the field's name when absent, "-" skips it) and takes options:
//
//	flattened   a list as Name.1, Name.2 or a map as Name.1.key (no
//	            member/entry level)
//	member=X    the list's element name instead of "member"
//	key=X       the map entry's key name instead of "key"
//	value=X     the map entry's value name instead of "value"
//
// Members may be strings, booleans, integers, floats, time.Time (ISO
// 8601), pointers to those (nil when absent), structures, slices and maps
// with string keys of any of them. Parameters no field names are ignored,
// as AWS's query services ignore them.

// QueryRequest is a decoded query-protocol request.
type QueryRequest struct {
	Action  string
	Version string
	// Params are every parameter, Action and Version included.
	Params url.Values
}

// maxQueryParams bounds how many parameters a request may carry.
const maxQueryParams = 10000

// ReadQuery decodes a query-protocol request: the URL's query and, for a
// POST with a form body, the form (which wins where both name a
// parameter). The body must already be bounded by the caller (the edge
// reads it within the route's limit). Errors are *Error: MissingAction
// without an Action, MalformedQueryString for a form that does not parse.
func ReadQuery(r *http.Request) (QueryRequest, error) {
	var q QueryRequest
	params, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return q, Errorf(MalformedQueryString, "The query string is malformed: %s", clip(err.Error()))
	}
	if r.Method == http.MethodPost && r.Body != nil {
		ct := r.Header.Get("Content-Type")
		mt, _, _ := mime.ParseMediaType(ct)
		if ct != "" && mt != "application/x-www-form-urlencoded" {
			return q, Errorf(InvalidParameterValue, "Unsupported Content-Type %q: the query protocol sends application/x-www-form-urlencoded.", clip(ct))
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return q, Errorf(MalformedQueryString, "The request body could not be read.")
		}
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return q, Errorf(MalformedQueryString, "The request body is not a valid form: %s", clip(err.Error()))
		}
		for k, v := range form {
			params[k] = v
		}
	}
	if len(params) > maxQueryParams {
		return q, Errorf(MalformedQueryString, "The request has more than %d parameters.", maxQueryParams)
	}
	q.Params = params
	q.Action, q.Version = params.Get("Action"), params.Get("Version")
	if q.Action == "" {
		return q, Errorf(MissingAction, "Missing Action")
	}
	return q, nil
}

// WriteQueryResult writes a query-protocol success response for action:
// result (a struct whose fields carry `xml` tags, or nil for an operation
// without a result) inside <ActionResult>, and the request id from r's
// context (or the response's x-amzn-RequestId header).
func WriteQueryResult(w http.ResponseWriter, r *http.Request, action, namespace string, result any) {
	var b bytes.Buffer
	b.WriteString(xml.Header)
	b.WriteString("<" + action + "Response")
	xmlns(&b, namespace)
	b.WriteString(">")
	if result != nil {
		enc := xml.NewEncoder(&b)
		if err := enc.EncodeElement(result, xml.StartElement{Name: xml.Name{Local: action + "Result"}}); err != nil {
			Query{Namespace: namespace}.WriteError(w, r, Internal(fmt.Errorf("encoding %s result: %w", action, err)))
			return
		}
		enc.Close()
	}
	b.WriteString("<ResponseMetadata><RequestId>")
	xmlText(&b, requestID(w, r))
	b.WriteString("</RequestId></ResponseMetadata></" + action + "Response>")
	w.Header().Set("Content-Type", "text/xml")
	writeBody(w, r, http.StatusOK, b.Bytes())
}

// UnmarshalQuery fills the struct v points to from params. A value that
// does not parse as its member's type is a ValidationError naming the
// parameter.
func UnmarshalQuery(params url.Values, v any) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.Elem().Kind() != reflect.Struct {
		return fmt.Errorf("awsproto: UnmarshalQuery needs a pointer to a struct, not %T", v)
	}
	root := &qnode{}
	for k, vs := range params {
		if len(vs) > 0 {
			root.insert(k, vs[0])
		}
	}
	return decodeStruct(root, "", rv.Elem())
}

// MarshalQuery encodes the struct v (or pointer to one) as parameters,
// as botocore's QuerySerializer would send it. Nil pointers, nil slices
// and nil maps are left out; an empty non-nil slice is sent as "Name=".
func MarshalQuery(v any) (url.Values, error) {
	rv := reflect.ValueOf(v)
	for rv.Kind() == reflect.Pointer {
		rv = rv.Elem()
	}
	if rv.Kind() != reflect.Struct {
		return nil, fmt.Errorf("awsproto: MarshalQuery needs a struct, not %T", v)
	}
	out := url.Values{}
	return out, encodeStruct(out, "", rv)
}

// qnode is one level of a parameter name split at its dots.
type qnode struct {
	value    string
	hasValue bool
	children map[string]*qnode
}

func (n *qnode) insert(key, value string) {
	for key != "" {
		part, rest, more := strings.Cut(key, ".")
		if n.children == nil {
			n.children = map[string]*qnode{}
		}
		c := n.children[part]
		if c == nil {
			c = &qnode{}
			n.children[part] = c
		}
		n, key = c, rest
		if !more {
			break
		}
	}
	n.value, n.hasValue = value, true
}

// indexed returns n's children named 1, 2, …, in order of their index. A
// child whose name is not a positive decimal index is an error.
func (n *qnode) indexed(name string) ([]*qnode, error) {
	type ix struct {
		i int
		n *qnode
	}
	items := make([]ix, 0, len(n.children))
	for k, c := range n.children {
		i, err := strconv.Atoi(k)
		if err != nil || i < 1 || k[0] == '0' || k[0] == '+' {
			return nil, Errorf(ValidationError, "Parameter %s has an element %q that is not a positive index.", clip(name), clip(k))
		}
		items = append(items, ix{i, c})
	}
	slices.SortFunc(items, func(a, b ix) int { return a.i - b.i })
	out := make([]*qnode, len(items))
	for j, it := range items {
		out[j] = it.n
	}
	return out, nil
}

type fieldTag struct {
	name                     string
	flattened                bool
	member, mapKey, mapValue string
}

func parseTag(f reflect.StructField) (fieldTag, bool) {
	t := fieldTag{name: f.Name, member: "member", mapKey: "key", mapValue: "value"}
	tag, ok := f.Tag.Lookup("query")
	if !ok {
		return t, f.IsExported()
	}
	if tag == "-" {
		return t, false
	}
	parts := strings.Split(tag, ",")
	if parts[0] != "" {
		t.name = parts[0]
	}
	for _, o := range parts[1:] {
		switch k, v, _ := strings.Cut(o, "="); k {
		case "flattened":
			t.flattened = true
		case "member":
			t.member = v
		case "key":
			t.mapKey = v
		case "value":
			t.mapValue = v
		}
	}
	return t, f.IsExported()
}

func join(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}

var timeType = reflect.TypeFor[time.Time]()

func decodeStruct(n *qnode, prefix string, v reflect.Value) error {
	t := v.Type()
	for i := range t.NumField() {
		tag, ok := parseTag(t.Field(i))
		if !ok {
			continue
		}
		c := n.children[tag.name]
		if c == nil {
			continue
		}
		if err := decodeValue(c, join(prefix, tag.name), tag, v.Field(i)); err != nil {
			return err
		}
	}
	return nil
}

func decodeValue(n *qnode, name string, tag fieldTag, v reflect.Value) error {
	switch {
	case v.Kind() == reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		if err := decodeValue(n, name, tag, p.Elem()); err != nil {
			return err
		}
		v.Set(p)
		return nil
	case v.Type() == timeType:
		s, err := scalar(n, name)
		if err != nil {
			return err
		}
		tm, perr := time.Parse(time.RFC3339Nano, s)
		if perr != nil {
			return Errorf(ValidationError, "Value '%s' at '%s' is not a valid ISO 8601 timestamp.", clip(s), clip(name))
		}
		v.Set(reflect.ValueOf(tm))
		return nil
	}
	switch v.Kind() {
	case reflect.Struct:
		return decodeStruct(n, name, v)
	case reflect.Slice:
		list := n
		if !tag.flattened {
			list = n.children[tag.member]
		}
		if list == nil {
			if n.hasValue && n.value == "" && len(n.children) == 0 {
				v.Set(reflect.MakeSlice(v.Type(), 0, 0)) // "Name=": an empty list
				return nil
			}
			return Errorf(ValidationError, "Parameter %s is a list: send %s.%s.1, %s.%s.2, ….", clip(name), clip(name), tag.member, clip(name), tag.member)
		}
		items, err := list.indexed(name)
		if err != nil {
			return err
		}
		s := reflect.MakeSlice(v.Type(), len(items), len(items))
		elem := fieldTag{member: "member", mapKey: "key", mapValue: "value"}
		for i, it := range items {
			if err := decodeValue(it, fmt.Sprintf("%s.%d", name, i+1), elem, s.Index(i)); err != nil {
				return err
			}
		}
		v.Set(s)
		return nil
	case reflect.Map:
		if v.Type().Key().Kind() != reflect.String {
			return fmt.Errorf("awsproto: query map %s needs string keys", name)
		}
		entries := n
		if !tag.flattened {
			entries = n.children["entry"]
		}
		m := reflect.MakeMap(v.Type())
		if entries == nil {
			if n.hasValue && n.value == "" && len(n.children) == 0 {
				v.Set(m)
				return nil
			}
			return Errorf(ValidationError, "Parameter %s is a map: send %s.entry.1.%s and %s.entry.1.%s.", clip(name), clip(name), tag.mapKey, clip(name), tag.mapValue)
		}
		items, err := entries.indexed(name)
		if err != nil {
			return err
		}
		elem := fieldTag{member: "member", mapKey: "key", mapValue: "value"}
		for i, it := range items {
			en := fmt.Sprintf("%s.%d", name, i+1)
			kn := it.children[tag.mapKey]
			if kn == nil || !kn.hasValue {
				return Errorf(ValidationError, "Parameter %s.%s is missing.", clip(en), tag.mapKey)
			}
			val := reflect.New(v.Type().Elem()).Elem()
			if vn := it.children[tag.mapValue]; vn != nil {
				if err := decodeValue(vn, en+"."+tag.mapValue, elem, val); err != nil {
					return err
				}
			}
			m.SetMapIndex(reflect.ValueOf(kn.value).Convert(v.Type().Key()), val)
		}
		v.Set(m)
		return nil
	}
	s, err := scalar(n, name)
	if err != nil {
		return err
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(s)
	case reflect.Bool:
		switch s {
		case "true":
			v.SetBool(true)
		case "false":
			v.SetBool(false)
		default:
			return Errorf(ValidationError, "Value '%s' at '%s' is not a boolean (true or false).", clip(s), clip(name))
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		i, err := strconv.ParseInt(s, 10, v.Type().Bits())
		if err != nil {
			return Errorf(ValidationError, "Value '%s' at '%s' is not a valid integer.", clip(s), clip(name))
		}
		v.SetInt(i)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		i, err := strconv.ParseUint(s, 10, v.Type().Bits())
		if err != nil {
			return Errorf(ValidationError, "Value '%s' at '%s' is not a valid non-negative integer.", clip(s), clip(name))
		}
		v.SetUint(i)
	case reflect.Float32, reflect.Float64:
		f, err := strconv.ParseFloat(s, v.Type().Bits())
		if err != nil {
			return Errorf(ValidationError, "Value '%s' at '%s' is not a valid number.", clip(s), clip(name))
		}
		v.SetFloat(f)
	default:
		return fmt.Errorf("awsproto: query member %s has unsupported type %s", name, v.Type())
	}
	return nil
}

func scalar(n *qnode, name string) (string, error) {
	if !n.hasValue || len(n.children) > 0 {
		return "", Errorf(ValidationError, "Parameter %s must be a single value.", clip(name))
	}
	return n.value, nil
}

func encodeStruct(out url.Values, prefix string, v reflect.Value) error {
	t := v.Type()
	for i := range t.NumField() {
		tag, ok := parseTag(t.Field(i))
		if !ok {
			continue
		}
		if err := encodeValue(out, join(prefix, tag.name), tag, v.Field(i)); err != nil {
			return err
		}
	}
	return nil
}

func encodeValue(out url.Values, name string, tag fieldTag, v reflect.Value) error {
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return nil
		}
		return encodeValue(out, name, tag, v.Elem())
	}
	if v.Type() == timeType {
		out.Set(name, v.Interface().(time.Time).UTC().Format(time.RFC3339Nano))
		return nil
	}
	elem := fieldTag{member: "member", mapKey: "key", mapValue: "value"}
	switch v.Kind() {
	case reflect.Struct:
		return encodeStruct(out, name, v)
	case reflect.Slice:
		if v.IsNil() {
			return nil
		}
		if v.Len() == 0 {
			out.Set(name, "")
			return nil
		}
		base := name
		if !tag.flattened {
			base = name + "." + tag.member
		}
		for i := range v.Len() {
			if err := encodeValue(out, base+"."+strconv.Itoa(i+1), elem, v.Index(i)); err != nil {
				return err
			}
		}
		return nil
	case reflect.Map:
		if v.IsNil() {
			return nil
		}
		if v.Len() == 0 {
			out.Set(name, "")
			return nil
		}
		base := name
		if !tag.flattened {
			base = name + ".entry"
		}
		keys := v.MapKeys()
		slices.SortFunc(keys, func(a, b reflect.Value) int { return strings.Compare(a.String(), b.String()) })
		for i, k := range keys {
			en := base + "." + strconv.Itoa(i+1)
			out.Set(en+"."+tag.mapKey, k.String())
			if err := encodeValue(out, en+"."+tag.mapValue, elem, v.MapIndex(k)); err != nil {
				return err
			}
		}
		return nil
	case reflect.String:
		out.Set(name, v.String())
	case reflect.Bool:
		out.Set(name, strconv.FormatBool(v.Bool()))
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		out.Set(name, strconv.FormatInt(v.Int(), 10))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		out.Set(name, strconv.FormatUint(v.Uint(), 10))
	case reflect.Float32, reflect.Float64:
		out.Set(name, strconv.FormatFloat(v.Float(), 'g', -1, v.Type().Bits()))
	default:
		return fmt.Errorf("awsproto: query member %s has unsupported type %s", name, v.Type())
	}
	return nil
}
