package s3

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"net/url"
	"strconv"
	"strings"

	"github.com/kumo-run/kumo/internal/awsproto"
	"github.com/kumo-run/kumo/internal/store"
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
		// A key whose latest version is a delete marker is not listed.
		// Records are JSON Kumo wrote, so the field's text is exact (a
		// key's quotes are escaped).
		if bytes.Contains(e.Value, []byte(`"deleteMarker":true`)) {
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

// versionItem is one Version or DeleteMarker of ListObjectVersions; the
// element's name is XMLName, so both kinds interleave in key order.
type versionItem struct {
	XMLName      xml.Name
	Key          string `xml:"Key"`
	VersionID    string `xml:"VersionId"`
	IsLatest     bool   `xml:"IsLatest"`
	LastModified string `xml:"LastModified"`
	ETag         string `xml:"ETag,omitempty"`
	Size         *int64 `xml:"Size,omitempty"`
	StorageClass string `xml:"StorageClass,omitempty"`
	Owner        owner  `xml:"Owner"`
}

// listedVersion is a version in a bucket's version listing.
type listedVersion struct {
	key    string
	kvKey  string
	value  []byte
	latest bool
}

// allVersions returns a bucket's versions in ListObjectVersions' order:
// by key, then newest first (the latest record, then the noncurrent ones
// in their key order).
func (s *Service) allVersions(q *request) ([]listedVersion, error) {
	lp, vp := objectPrefix(q.bucket), versionsPrefix(q.bucket)
	latest, err := s.cfg.KV.List(q.ctx(), lp)
	if err != nil {
		return nil, awsproto.Internal(err)
	}
	nonc, err := s.cfg.KV.List(q.ctx(), vp)
	if err != nil {
		return nil, awsproto.Internal(err)
	}
	out := make([]listedVersion, 0, len(latest)+len(nonc))
	noncKey := func(e store.Entry) (string, bool) {
		hk, _, _ := strings.Cut(strings.TrimPrefix(e.Key, vp), ".")
		b, err := hex.DecodeString(hk)
		return string(b), err == nil
	}
	i, j := 0, 0
	for i < len(latest) || j < len(nonc) {
		var lk, nk string
		lok, nok := false, false
		if i < len(latest) {
			lk, lok = keyOf(latest[i].Key, lp)
			if !lok {
				i++
				continue
			}
		}
		if j < len(nonc) {
			nk, nok = noncKey(nonc[j])
			if !nok {
				j++
				continue
			}
		}
		if lok && (!nok || lk <= nk) {
			out = append(out, listedVersion{key: lk, kvKey: latest[i].Key, value: latest[i].Value, latest: true})
			i++
			continue
		}
		out = append(out, listedVersion{key: nk, kvKey: nonc[j].Key, value: nonc[j].Value})
		j++
	}
	return out, nil
}

func (s *Service) listObjectVersions(q *request) error {
	if _, err := s.bucket(q.ctx(), q.bucket); err != nil {
		return err
	}
	prefix, delimiter, maxKeys, enc, encType, err := listParams(q)
	if err != nil {
		return err
	}
	v := q.r.URL.Query()
	keyMarker, vidMarker := v.Get("key-marker"), v.Get("version-id-marker")
	if vidMarker != "" && keyMarker == "" {
		return awsproto.Errorf(awsproto.S3InvalidArgument, "A version-id marker cannot be specified without a key marker.").
			With("ArgumentName", "version-id-marker").With("ArgumentValue", vidMarker)
	}
	if vidMarker != "" && vidMarker != "null" && !validVersionID(vidMarker) {
		return awsproto.Errorf(awsproto.S3InvalidArgument, "Invalid version id specified").
			With("ArgumentName", "version-id-marker").With("ArgumentValue", vidMarker)
	}
	all, err := s.allVersions(q)
	if err != nil {
		return err
	}
	out := struct {
		XMLName             xml.Name       `xml:"ListVersionsResult"`
		NS                  string         `xml:"xmlns,attr"`
		Name                string         `xml:"Name"`
		Prefix              string         `xml:"Prefix"`
		KeyMarker           string         `xml:"KeyMarker"`
		VersionIDMarker     string         `xml:"VersionIdMarker"`
		NextKeyMarker       string         `xml:"NextKeyMarker,omitempty"`
		NextVersionIDMarker string         `xml:"NextVersionIdMarker,omitempty"`
		MaxKeys             int            `xml:"MaxKeys"`
		Delimiter           string         `xml:"Delimiter,omitempty"`
		EncodingType        string         `xml:"EncodingType,omitempty"`
		IsTruncated         bool           `xml:"IsTruncated"`
		Items               []versionItem  `xml:",any"`
		CommonPrefixes      []commonPrefix `xml:"CommonPrefixes"`
	}{NS: namespace, Name: q.bucket, Prefix: enc(prefix), KeyMarker: enc(keyMarker), VersionIDMarker: vidMarker,
		MaxKeys: maxKeys, Delimiter: enc(delimiter), EncodingType: encType}
	var (
		latestKey        string
		latestOrder      string // the order of latestKey's latest version, to skip a noncurrent copy of it
		lastPrefix       string
		pastMarker       = vidMarker == ""
		nextKey, nextVID string
		count            int
	)
	for _, lv := range all {
		if !strings.HasPrefix(lv.key, prefix) || lv.key < keyMarker || lv.key == keyMarker && vidMarker == "" {
			continue
		}
		cp := ""
		if delimiter != "" {
			if i := strings.Index(lv.key[len(prefix):], delimiter); i >= 0 {
				cp = lv.key[:len(prefix)+i+len(delimiter)]
			}
		}
		if cp != "" && (cp == lastPrefix || cp == keyMarker) {
			continue
		}
		var o objectMeta
		if cp == "" || lv.key == keyMarker {
			if err := jsonUnmarshal(lv.value, &o); err != nil {
				return err
			}
			if lv.latest {
				latestKey, latestOrder = lv.key, o.order()
			} else if lv.key == latestKey && o.order() == latestOrder {
				continue
			}
		}
		if lv.key == keyMarker && !pastMarker {
			pastMarker = o.versionID() == vidMarker
			continue
		}
		if count >= maxKeys {
			out.IsTruncated = true
			break
		}
		count++
		if cp != "" {
			out.CommonPrefixes = append(out.CommonPrefixes, commonPrefix{Prefix: enc(cp)})
			lastPrefix, nextKey, nextVID = cp, cp, ""
			continue
		}
		item := versionItem{XMLName: xml.Name{Local: "Version"}, Key: enc(o.Key), VersionID: o.versionID(), IsLatest: lv.latest,
			LastModified: o.LastModified.Format(timeFormat), Owner: s.owner()}
		if o.DeleteMarker {
			item.XMLName.Local = "DeleteMarker"
		} else {
			size := o.Size
			item.ETag, item.Size, item.StorageClass = o.ETag, &size, "STANDARD"
		}
		out.Items = append(out.Items, item)
		nextKey, nextVID = o.Key, o.versionID()
	}
	if out.IsTruncated {
		out.NextKeyMarker, out.NextVersionIDMarker = enc(nextKey), nextVID
	}
	return writeXML(q.w, out)
}
