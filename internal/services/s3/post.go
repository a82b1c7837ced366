package s3

import (
	"context"
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/kumo-run/kumo/internal/awsproto"
)

// POST Object: a browser's form upload (multipart/form-data to the
// bucket's URL). The form's fields come first and the file last; the
// fields are read into memory (at most maxPostFields bytes), the file is
// streamed into a blob as a PUT's body is. A signed form carries a policy
// (base64 JSON: an expiration and conditions every field must meet) and
// its SigV4 signature (x-amz-signature over the policy, with the key
// x-amz-credential names); the caller is the credential's owner, and the
// upload is authorized as s3:PutObject on the key. An unsigned form is
// refused while authentication is on (Kumo has no public-write buckets).

// maxPostFields bounds the size of the fields before the file, as S3 does.
const maxPostFields = 20 << 10

// isPostForm reports whether r is a POST Object form upload.
func isPostForm(r *http.Request) bool {
	if r.Method != http.MethodPost {
		return false
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && mt == "multipart/form-data"
}

// postForm is a POST Object form's fields, by lower-case name.
type postForm struct {
	fields   map[string]string
	names    map[string]string // lower-case name → name as sent
	file     *multipart.Part
	filename string
}

func readPostForm(r *http.Request) (*postForm, error) {
	malformed := awsproto.Errorf(awsproto.S3MalformedPOSTRequest, "The body of your POST request is not well-formed multipart/form-data.")
	_, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || params["boundary"] == "" {
		return nil, malformed
	}
	mr := multipart.NewReader(r.Body, params["boundary"])
	f := &postForm{fields: map[string]string{}, names: map[string]string{}}
	total := 0
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, malformed
		}
		name := part.FormName()
		if strings.EqualFold(name, "file") {
			f.file, f.filename = part, part.FileName()
			return f, nil
		}
		v, err := io.ReadAll(io.LimitReader(part, int64(maxPostFields-total+1)))
		if err != nil {
			return nil, malformed
		}
		if total += len(v); total > maxPostFields {
			return nil, awsproto.Errorf(awsproto.S3MaxPostPreDataLengthExceeded, "Your POST request fields preceeding the upload file was too large.")
		}
		ln := strings.ToLower(name)
		if _, dup := f.fields[ln]; dup {
			return nil, awsproto.Errorf(awsproto.S3InvalidArgument, "Bucket POST must contain at most one field named '%s'.", clipName(name))
		}
		f.fields[ln], f.names[ln] = string(v), name
	}
	return nil, awsproto.Errorf(awsproto.S3InvalidArgument, "POST requires exactly one file upload per request.").
		With("ArgumentName", "file").With("ArgumentValue", 0)
}

func clipName(s string) string {
	if len(s) > 64 {
		return s[:64]
	}
	return s
}

// postPolicy is a POST policy document.
type postPolicy struct {
	Expiration string            `json:"expiration"`
	Conditions []json.RawMessage `json:"conditions"`
}

// postCondition is one condition: op ("eq", "starts-with",
// "content-length-range") on a field (lower case, without "$").
type postCondition struct {
	op, field, value string
	min, max         int64
	text             string // as the policy has it, for error messages
}

func parsePolicy(raw []byte) (time.Time, []postCondition, error) {
	invalid := func(why string) error {
		return awsproto.Errorf(awsproto.S3InvalidPolicyDocument, "Invalid Policy: %s", why)
	}
	var p postPolicy
	if err := json.Unmarshal(raw, &p); err != nil {
		return time.Time{}, nil, invalid("Invalid JSON.")
	}
	exp, err := time.Parse(time.RFC3339, p.Expiration)
	if err != nil {
		return time.Time{}, nil, invalid("Invalid 'expiration' value: '" + clipName(p.Expiration) + "'")
	}
	var cs []postCondition
	for _, c := range p.Conditions {
		var obj map[string]any
		if json.Unmarshal(c, &obj) == nil {
			if len(obj) != 1 {
				return exp, nil, invalid("Invalid Simple-Condition: Simple-Conditions must have exactly one property specified.")
			}
			for k, v := range obj {
				s, ok := v.(string)
				if !ok {
					return exp, nil, invalid("Invalid Simple-Condition: value must be a string.")
				}
				cs = append(cs, postCondition{op: "eq", field: strings.ToLower(strings.TrimPrefix(k, "$")), value: s, text: string(c)})
			}
			continue
		}
		var arr []any
		if err := json.Unmarshal(c, &arr); err != nil || len(arr) != 3 {
			return exp, nil, invalid("Invalid Condition: conditions are objects or arrays of three elements.")
		}
		op, _ := arr[0].(string)
		switch op = strings.ToLower(op); op {
		case "eq", "starts-with":
			f, ok1 := arr[1].(string)
			v, ok2 := arr[2].(string)
			if !ok1 || !ok2 || !strings.HasPrefix(f, "$") {
				return exp, nil, invalid("Invalid Condition: '" + op + "' takes a field name starting with '$' and a string.")
			}
			cs = append(cs, postCondition{op: op, field: strings.ToLower(f[1:]), value: v, text: string(c)})
		case "content-length-range":
			lo, ok1 := number(arr[1])
			hi, ok2 := number(arr[2])
			if !ok1 || !ok2 || lo < 0 || hi < lo {
				return exp, nil, invalid("Invalid content-length-range: two non-negative integers, the least first.")
			}
			cs = append(cs, postCondition{op: op, min: lo, max: hi, text: string(c)})
		default:
			return exp, nil, invalid("Invalid Condition: unknown operation '" + clipName(op) + "'.")
		}
	}
	return exp, cs, nil
}

func number(v any) (int64, bool) {
	switch n := v.(type) {
	case float64:
		return int64(n), n == float64(int64(n))
	case string:
		i, err := strconv.ParseInt(n, 10, 64)
		return i, err == nil
	}
	return 0, false
}

// checkPolicy applies a signed form's policy to its fields; it returns
// the content-length range (-1, -1 when none).
func (s *Service) checkPolicy(f *postForm, bucket string) (lo, hi int64, err error) {
	raw, err := base64.StdEncoding.DecodeString(f.fields["policy"])
	if err != nil {
		return 0, 0, awsproto.Errorf(awsproto.S3InvalidPolicyDocument, "Invalid Policy: Invalid 'Base64' encoding.")
	}
	exp, cs, err := parsePolicy(raw)
	if err != nil {
		return 0, 0, err
	}
	denied := func(why string) error {
		return awsproto.Errorf(awsproto.S3AccessDenied, "Invalid according to Policy: %s", why)
	}
	if !s.now().Before(exp) {
		return 0, 0, denied("Policy expired.")
	}
	lo, hi = -1, -1
	covered := map[string]bool{}
	for _, c := range cs {
		if c.op == "content-length-range" {
			lo, hi = c.min, c.max
			continue
		}
		covered[c.field] = true
		v, ok := f.fields[c.field]
		if c.field == "bucket" {
			v, ok = bucket, true
		}
		if !ok {
			v = ""
		}
		if c.op == "eq" && v != c.value || c.op == "starts-with" && !strings.HasPrefix(v, c.value) {
			return 0, 0, denied("Policy Condition failed: " + c.text)
		}
	}
	for name := range f.fields {
		switch {
		case name == "policy" || name == "x-amz-signature" || name == "file" || strings.HasPrefix(name, "x-ignore-"),
			name == "awsaccesskeyid" || name == "signature": // signature version 2's
		case !covered[name]:
			return 0, 0, denied("Extra input fields: " + f.names[name])
		}
	}
	return lo, hi, nil
}

// authenticatePost verifies a signed form's SigV4 signature over its
// policy and puts the credential's owner in q's context.
func (s *Service) authenticatePost(q *request, f *postForm) error {
	v := s.cfg.Verifier
	if v == nil {
		q.r = q.r.WithContext(awsproto.WithCaller(q.ctx(), awsproto.Caller{Anonymous: true}))
		return nil
	}
	if f.fields["policy"] == "" {
		return awsproto.Errorf(awsproto.S3AccessDenied, "Access Denied")
	}
	if akid, ok := f.fields["awsaccesskeyid"]; ok {
		return s.authenticatePostV2(q, f, akid)
	}
	if alg := f.fields["x-amz-algorithm"]; alg != "AWS4-HMAC-SHA256" {
		return awsproto.Errorf(awsproto.S3InvalidArgument, "POST form's x-amz-algorithm must be AWS4-HMAC-SHA256").With("ArgumentName", "x-amz-algorithm")
	}
	cred := strings.Split(f.fields["x-amz-credential"], "/")
	if len(cred) != 5 || cred[3] != SigningName || cred[4] != "aws4_request" || cred[2] != v.Region {
		return awsproto.Errorf(awsproto.S3InvalidArgument, "Invalid x-amz-credential: it must be <access key>/<date>/%s/s3/aws4_request.", v.Region).
			With("ArgumentName", "x-amz-credential")
	}
	secret, c, err := s.postCredentials(cred[0], f.fields["x-amz-security-token"])
	if err != nil {
		return err
	}
	want := postSignature(secret, cred[1], cred[2], f.fields["policy"])
	if !hmac.Equal([]byte(want), []byte(strings.ToLower(f.fields["x-amz-signature"]))) {
		return awsproto.Errorf(awsproto.S3SignatureDoesNotMatch, "The request signature we calculated does not match the signature you provided. Check your key and signing method.")
	}
	q.r = q.r.WithContext(awsproto.WithCaller(q.ctx(), c))
	return nil
}

// authenticatePostV2 verifies a form signed as S3's signature version 2
// does (boto3's default for generate_presigned_post): signature is the
// base64 HMAC-SHA1 of the policy.
func (s *Service) authenticatePostV2(q *request, f *postForm, akid string) error {
	secret, c, err := s.postCredentials(akid, f.fields["x-amz-security-token"])
	if err != nil {
		return err
	}
	h := hmac.New(sha1.New, []byte(secret))
	h.Write([]byte(f.fields["policy"]))
	if !hmac.Equal([]byte(base64.StdEncoding.EncodeToString(h.Sum(nil))), []byte(f.fields["signature"])) {
		return awsproto.Errorf(awsproto.S3SignatureDoesNotMatch, "The request signature we calculated does not match the signature you provided. Check your key and signing method.")
	}
	q.r = q.r.WithContext(awsproto.WithCaller(q.ctx(), c))
	return nil
}

// postCredentials resolves a form's access key (and session token).
func (s *Service) postCredentials(akid, token string) (string, awsproto.Caller, error) {
	c := awsproto.Caller{AccessKeyID: akid}
	unknown := awsproto.Errorf(awsproto.S3InvalidAccessKeyID, "The AWS Access Key Id you provided does not exist in our records.")
	switch store := s.cfg.Verifier.Credentials.(type) {
	case awsproto.IdentityStore:
		sec, id, err := store.Resolve(akid, token, s.now())
		if err != nil {
			return "", c, s3AuthError(err)
		}
		c.Identity = id
		return sec, c, nil
	case nil:
		return "", c, unknown
	default:
		sec, ok := store.SecretKey(akid)
		if !ok {
			return "", c, unknown
		}
		return sec, c, nil
	}
}

// postSignature is SigV4's signature of a POST policy: the policy's base64
// text signed with the scope's derived key.
func postSignature(secret, date, region, policy string) string {
	mac := func(key []byte, msg string) []byte {
		h := hmac.New(sha256.New, key)
		h.Write([]byte(msg))
		return h.Sum(nil)
	}
	k := mac([]byte("AWS4"+secret), date)
	k = mac(k, region)
	k = mac(k, SigningName)
	k = mac(k, "aws4_request")
	return hex.EncodeToString(mac(k, policy))
}

func (s *Service) postObject(q *request) error {
	b, err := s.bucket(q.ctx(), q.bucket)
	if err != nil {
		return err
	}
	f, err := readPostForm(q.r)
	if err != nil {
		return err
	}
	if err := s.authenticatePost(q, f); err != nil {
		return err
	}
	lo, hi := int64(-1), int64(-1)
	if f.fields["policy"] != "" {
		if lo, hi, err = s.checkPolicy(f, q.bucket); err != nil {
			return err
		}
	}
	raw, ok := f.fields["key"]
	if !ok || raw == "" {
		return awsproto.Errorf(awsproto.S3InvalidArgument, "Bucket POST must contain a field named 'key'.  If it is specified, please check the order of the fields.").
			With("ArgumentName", "key").With("ArgumentValue", "")
	}
	key := strings.ReplaceAll(raw, "${filename}", f.filename)
	if len(key) > 1024 {
		return awsproto.Errorf(awsproto.S3InvalidArgument, "Your key is too long")
	}
	q.key = key
	if err := s.authorize(q, "PostObject", q.bucket, key); err != nil {
		return err
	}
	var tags []tag
	if t := f.fields["tagging"]; t != "" {
		var in tagging
		if err := xml.Unmarshal([]byte(t), &in); err != nil {
			return awsproto.Errorf(awsproto.S3MalformedXML, "The XML you provided was not well-formed or did not validate against our published schema.")
		}
		if err := checkTags(in.Tags, maxObjectTags); err != nil {
			return err
		}
		tags = in.Tags
	}
	hdr := http.Header{}
	for ln, v := range f.fields {
		if strings.HasPrefix(ln, "x-amz-meta-") || isStoredHeader(ln) {
			hdr.Set(ln, v)
		}
	}
	hs, meta := headersOf(hdr)
	// The file, streamed.
	name := "d" + newID()
	sum := md5.New()
	bg := context.WithoutCancel(q.ctx())
	file := &formReader{r: f.file}
	info, err := s.cfg.Blobs.Put(q.ctx(), name, fullReads{io.TeeReader(io.LimitReader(file, MaxPutSize+1), sum)})
	if err != nil || file.err != nil {
		s.cfg.Blobs.Delete(bg, name)
		if file.err != nil {
			return awsproto.Errorf(awsproto.S3MalformedPOSTRequest, "The body of your POST request is not well-formed multipart/form-data.")
		}
		return awsproto.Internal(err)
	}
	tooLarge := info.Size > MaxPutSize || hi >= 0 && info.Size > hi
	if tooLarge || lo >= 0 && info.Size < lo {
		s.cfg.Blobs.Delete(bg, name)
		if tooLarge {
			return awsproto.Errorf(awsproto.S3EntityTooLarge, "Your proposed upload exceeds the maximum allowed size").
				With("ProposedSize", info.Size).With("MaxSizeAllowed", max(hi, 0))
		}
		return awsproto.Errorf(awsproto.S3EntityTooSmall, "Your proposed upload is smaller than the minimum allowed size").
			With("ProposedSize", info.Size).With("MinSizeAllowed", lo)
	}
	o := objectMeta{Key: key, Blob: name, Size: info.Size, ETag: `"` + hex.EncodeToString(sum.Sum(nil)) + `"`, LastModified: s.now(),
		Headers: hs, Meta: meta, WriteID: name, Tags: tags}
	s.stamp(b, &o)
	ev, err := s.announceWrite(q, b, "ObjectCreated:Post", o)
	if err != nil {
		s.cfg.Blobs.Delete(bg, name)
		return err
	}
	if err := s.commit(q.ctx(), b, o, ev); err != nil {
		return err
	}
	h := q.w.Header()
	versionHeader(h, b, o)
	h.Set("ETag", o.ETag)
	location := "/" + q.bucket + "/" + (&url.URL{Path: key}).EscapedPath()
	h.Set("Location", location)
	if redirect := f.fields["success_action_redirect"]; redirect != "" {
		if u, err := url.Parse(redirect); err == nil && (u.Scheme == "http" || u.Scheme == "https") {
			qv := u.Query()
			qv.Set("bucket", q.bucket)
			qv.Set("key", key)
			qv.Set("etag", o.ETag)
			u.RawQuery = qv.Encode()
			h.Set("Location", u.String())
			q.w.WriteHeader(http.StatusSeeOther)
			return nil
		}
	}
	switch f.fields["success_action_status"] {
	case "200":
		q.w.WriteHeader(http.StatusOK)
	case "201":
		out := struct {
			XMLName  xml.Name `xml:"PostResponse"`
			Location string   `xml:"Location"`
			Bucket   string   `xml:"Bucket"`
			Key      string   `xml:"Key"`
			ETag     string   `xml:"ETag"`
		}{Location: location, Bucket: q.bucket, Key: key, ETag: o.ETag}
		v, err := xml.Marshal(out)
		if err != nil {
			return awsproto.Internal(err)
		}
		h.Set("Content-Type", "application/xml")
		q.w.WriteHeader(http.StatusCreated)
		q.w.Write([]byte(xml.Header))
		q.w.Write(v)
	default:
		q.w.WriteHeader(http.StatusNoContent)
	}
	return nil
}

func isStoredHeader(lowerName string) bool {
	for _, n := range storedHeaders {
		if strings.EqualFold(n, lowerName) {
			return true
		}
	}
	return false
}

// formReader remembers the error reading the form's file ended with.
type formReader struct {
	r   io.Reader
	err error
}

func (f *formReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if err != nil && err != io.EOF {
		f.err = err
	}
	return n, err
}
