package s3

import (
	"encoding/base64"
	"encoding/xml"
	"net/url"
	"strconv"
	"strings"

	"github.com/kumo-run/kumo/internal/awsproto"
)

// listing is one page of a bucket's keys.
type listing struct {
	contents  []objectMeta
	prefixes  []string
	truncated bool
	next      string // the last key or common prefix of the page
}

// list pages through the bucket's keys after marker (exclusive) under
// prefix, rolling keys up to their common prefix at delimiter. KV returns
// the keys in S3's order (hex keeps UTF-8 binary order), so only the
// entries of the page are decoded.
func (s *Service) list(q *request, prefix, delimiter, marker string, maxKeys int) (listing, error) {
	var l listing
	bp := objectPrefix(q.bucket)
	es, err := s.cfg.KV.List(q.ctx(), bp)
	if err != nil {
		return l, awsproto.Internal(err)
	}
	lastPrefix := ""
	for _, e := range es {
		key, ok := keyOf(e.Key, bp)
		if !ok || key <= marker || !strings.HasPrefix(key, prefix) {
			continue
		}
		cp := ""
		if delimiter != "" {
			if i := strings.Index(key[len(prefix):], delimiter); i >= 0 {
				cp = key[:len(prefix)+i+len(delimiter)]
			}
		}
		if cp != "" && (cp == lastPrefix || cp == marker) {
			continue
		}
		if len(l.contents)+len(l.prefixes) >= maxKeys {
			l.truncated = true
			break
		}
		if cp != "" {
			l.prefixes = append(l.prefixes, cp)
			lastPrefix, l.next = cp, cp
			continue
		}
		var o objectMeta
		if _, err := s.getJSON(q.ctx(), e.Key, &o); err != nil {
			continue // deleted since the listing
		}
		l.contents = append(l.contents, o)
		l.next = key
	}
	return l, nil
}

type listEntry struct {
	Key          string `xml:"Key"`
	LastModified string `xml:"LastModified"`
	ETag         string `xml:"ETag"`
	Size         int64  `xml:"Size"`
	Owner        *owner `xml:"Owner,omitempty"`
	StorageClass string `xml:"StorageClass"`
}

type commonPrefix struct {
	Prefix string `xml:"Prefix"`
}

// listParams reads the parameters both listings share.
func listParams(q *request) (prefix, delimiter string, maxKeys int, enc func(string) string, encType string, err error) {
	v := q.r.URL.Query()
	prefix, delimiter, maxKeys = v.Get("prefix"), v.Get("delimiter"), 1000
	if mk := v.Get("max-keys"); mk != "" {
		n, perr := strconv.Atoi(mk)
		if perr != nil || n < 0 {
			return "", "", 0, nil, "", awsproto.Errorf(awsproto.S3InvalidArgument, "Provided max-keys not an integer or within integer range").
				With("ArgumentName", "max-keys").With("ArgumentValue", mk)
		}
		maxKeys = min(n, 1000)
	}
	enc = func(s string) string { return s }
	switch encType = v.Get("encoding-type"); encType {
	case "":
	case "url":
		enc = func(s string) string { return strings.ReplaceAll(url.QueryEscape(s), "+", "%20") }
	default:
		return "", "", 0, nil, "", awsproto.Errorf(awsproto.S3InvalidArgument, "Invalid Encoding Method specified in Request").
			With("ArgumentName", "encoding-type")
	}
	return prefix, delimiter, maxKeys, enc, encType, nil
}

func (s *Service) entries(l listing, enc func(string) string, withOwner bool) ([]listEntry, []commonPrefix) {
	var cs []listEntry
	for _, o := range l.contents {
		e := listEntry{Key: enc(o.Key), LastModified: o.LastModified.Format(timeFormat), ETag: o.ETag, Size: o.Size, StorageClass: "STANDARD"}
		if withOwner {
			ow := s.owner()
			e.Owner = &ow
		}
		cs = append(cs, e)
	}
	var ps []commonPrefix
	for _, p := range l.prefixes {
		ps = append(ps, commonPrefix{Prefix: enc(p)})
	}
	return cs, ps
}

func (s *Service) listObjectsV2(q *request) error {
	if _, err := s.bucket(q.ctx(), q.bucket); err != nil {
		return err
	}
	prefix, delimiter, maxKeys, enc, encType, err := listParams(q)
	if err != nil {
		return err
	}
	v := q.r.URL.Query()
	token, startAfter := v.Get("continuation-token"), v.Get("start-after")
	marker := startAfter
	if _, has := v["continuation-token"]; has {
		b, err := base64.RawURLEncoding.DecodeString(token)
		if err != nil || token == "" {
			return awsproto.Errorf(awsproto.S3InvalidArgument, "The continuation token provided is incorrect").With("ArgumentName", "continuation-token")
		}
		marker = string(b)
	}
	l, err := s.list(q, prefix, delimiter, marker, maxKeys)
	if err != nil {
		return err
	}
	out := struct {
		XMLName               xml.Name       `xml:"ListBucketResult"`
		NS                    string         `xml:"xmlns,attr"`
		Name                  string         `xml:"Name"`
		Prefix                string         `xml:"Prefix"`
		Delimiter             string         `xml:"Delimiter,omitempty"`
		MaxKeys               int            `xml:"MaxKeys"`
		EncodingType          string         `xml:"EncodingType,omitempty"`
		KeyCount              int            `xml:"KeyCount"`
		IsTruncated           bool           `xml:"IsTruncated"`
		ContinuationToken     string         `xml:"ContinuationToken,omitempty"`
		NextContinuationToken string         `xml:"NextContinuationToken,omitempty"`
		StartAfter            string         `xml:"StartAfter,omitempty"`
		Contents              []listEntry    `xml:"Contents"`
		CommonPrefixes        []commonPrefix `xml:"CommonPrefixes"`
	}{NS: namespace, Name: q.bucket, Prefix: enc(prefix), Delimiter: enc(delimiter), MaxKeys: maxKeys, EncodingType: encType,
		KeyCount: len(l.contents) + len(l.prefixes), IsTruncated: l.truncated, ContinuationToken: token, StartAfter: enc(startAfter)}
	if l.truncated {
		out.NextContinuationToken = base64.RawURLEncoding.EncodeToString([]byte(l.next))
	}
	out.Contents, out.CommonPrefixes = s.entries(l, enc, v.Get("fetch-owner") == "true")
	return writeXML(q.w, out)
}

func (s *Service) listObjects(q *request) error {
	if _, err := s.bucket(q.ctx(), q.bucket); err != nil {
		return err
	}
	prefix, delimiter, maxKeys, enc, encType, err := listParams(q)
	if err != nil {
		return err
	}
	marker := q.r.URL.Query().Get("marker")
	l, err := s.list(q, prefix, delimiter, marker, maxKeys)
	if err != nil {
		return err
	}
	out := struct {
		XMLName        xml.Name       `xml:"ListBucketResult"`
		NS             string         `xml:"xmlns,attr"`
		Name           string         `xml:"Name"`
		Prefix         string         `xml:"Prefix"`
		Marker         string         `xml:"Marker"`
		NextMarker     string         `xml:"NextMarker,omitempty"`
		Delimiter      string         `xml:"Delimiter,omitempty"`
		MaxKeys        int            `xml:"MaxKeys"`
		EncodingType   string         `xml:"EncodingType,omitempty"`
		IsTruncated    bool           `xml:"IsTruncated"`
		Contents       []listEntry    `xml:"Contents"`
		CommonPrefixes []commonPrefix `xml:"CommonPrefixes"`
	}{NS: namespace, Name: q.bucket, Prefix: enc(prefix), Marker: enc(marker), Delimiter: enc(delimiter), MaxKeys: maxKeys,
		EncodingType: encType, IsTruncated: l.truncated}
	if l.truncated && delimiter != "" {
		out.NextMarker = enc(l.next)
	}
	out.Contents, out.CommonPrefixes = s.entries(l, enc, true)
	return writeXML(q.w, out)
}
