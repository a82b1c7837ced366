package s3

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestOperationTableCoversEveryOperation: every operation route chooses
// has an IAM action in s3's namespace, and the table names no operation
// that route never chooses.
func TestOperationTableCoversEveryOperation(t *testing.T) {
	s := New(Config{Region: "us-east-1"})
	reqs := []struct{ method, target, copySource string }{
		{"GET", "/", ""},
		{"PUT", "/b", ""}, {"HEAD", "/b", ""}, {"DELETE", "/b", ""},
		{"GET", "/b?location", ""}, {"GET", "/b?uploads", ""}, {"POST", "/b?delete", ""},
		{"GET", "/b", ""}, {"GET", "/b?list-type=2&prefix=a", ""}, {"GET", "/b?list-type=2&X-Amz-Signature=x&X-Amz-Credential=c", ""},
		{"PUT", "/b/k", ""}, {"PUT", "/b/k", "/b/j"}, {"GET", "/b/k", ""}, {"HEAD", "/b/k", ""}, {"DELETE", "/b/k", ""},
		{"POST", "/b/k?uploads", ""}, {"PUT", "/b/k?partNumber=1&uploadId=x", ""}, {"POST", "/b/k?uploadId=x", ""},
		{"DELETE", "/b/k?uploadId=x", ""}, {"GET", "/b/k?uploadId=x", ""},
		{"PUT", "/b?policy", ""}, {"GET", "/b?policy", ""}, {"DELETE", "/b?policy", ""},
		{"PUT", "/b?notification", ""}, {"GET", "/b?notification", ""},
		{"PUT", "/b?tagging", ""}, {"GET", "/b?tagging", ""}, {"DELETE", "/b?tagging", ""},
		{"PUT", "/b?versioning", ""}, {"GET", "/b?versioning", ""},
		{"PUT", "/b/k?tagging", ""}, {"GET", "/b/k?tagging", ""}, {"DELETE", "/b/k?tagging", ""},
		{"PUT", "/b?cors", ""}, {"GET", "/b?cors", ""}, {"DELETE", "/b?cors", ""},
		{"PUT", "/b?lifecycle", ""}, {"GET", "/b?lifecycle", ""}, {"DELETE", "/b?lifecycle", ""},
		{"GET", "/b?versions&prefix=a", ""}, {"PUT", "/b/k?partNumber=1&uploadId=x", "/b/j"},
	}
	reached := map[string]bool{}
	for _, rq := range reqs {
		r := httptest.NewRequest(rq.method, rq.target, nil)
		if rq.copySource != "" {
			r.Header.Set("X-Amz-Copy-Source", rq.copySource)
		}
		q := &request{r: r}
		q.bucket, q.key = s.target(r)
		op, h := s.route(q)
		if h == nil {
			t.Errorf("%s %s: no operation", rq.method, rq.target)
			continue
		}
		action, ok := operations[op]
		if !ok || !strings.HasPrefix(action, "s3:") {
			t.Errorf("operation %s: action %q", op, action)
		}
		reached[op] = true
	}
	post := httptest.NewRequest(http.MethodPost, "/b", nil)
	post.Header.Set("Content-Type", "multipart/form-data; boundary=x")
	pq := &request{r: post}
	pq.bucket, pq.key = s.target(post)
	if op, h := s.route(pq); h == nil || op != "PostObject" {
		t.Errorf("a form POST routes to %q", op)
	}
	reached["PostObject"] = true
	for op := range operations {
		if !reached[op] {
			t.Errorf("operations has %s, which no request reaches", op)
		}
	}
	// Sub-resources Kumo does not serve are refused, not taken for
	// another operation.
	for _, target := range []string{"/b?website", "/b?replication", "/b/k?acl"} {
		r := httptest.NewRequest(http.MethodGet, target, nil)
		q := &request{r: r}
		q.bucket, q.key = s.target(r)
		if op, h := s.route(q); h != nil {
			t.Errorf("GET %s routed to %s", target, op)
		}
	}
}

// TestTarget: path-style and virtual-hosted addressing.
func TestTarget(t *testing.T) {
	s := New(Config{Region: "eu-west-1"})
	for _, c := range []struct{ host, path, bucket, key string }{
		{"127.0.0.1:9070", "/b/dir/k.txt", "b", "dir/k.txt"},
		{"localhost", "/b", "b", ""},
		{"localhost", "/", "", ""},
		{"my.bucket.s3.eu-west-1.localhost:9070", "/dir/k", "my.bucket", "dir/k"},
		{"bkt.s3.localhost", "/", "bkt", ""},
		{"bkt.s3.us-east-1.localhost", "/b/k", "b", "k"}, // another region's host: path-style
	} {
		r := httptest.NewRequest(http.MethodGet, "http://"+c.host+c.path, nil)
		if b, k := s.target(r); b != c.bucket || k != c.key {
			t.Errorf("%s%s: %q %q, want %q %q", c.host, c.path, b, k, c.bucket, c.key)
		}
	}
}

func TestBucketNames(t *testing.T) {
	for name, ok := range map[string]bool{
		"abc": true, "my-bucket.v2": true, "a1": false, strings.Repeat("a", 64): false, "Abc": false,
		"a_b": false, "-ab": false, "ab-": false, "a..b": false, "a.-b": false, "192.168.1.1": false,
		"xn--abc": false, "abc-s3alias": false,
	} {
		if err := checkBucketName(name); (err == nil) != ok {
			t.Errorf("%q: %v", name, err)
		}
	}
}

func TestParseRange(t *testing.T) {
	for _, c := range []struct {
		v          string
		start, end int64
		ok, bad    bool
	}{
		{"bytes=0-9", 0, 9, true, false},
		{"bytes=5-", 5, 99, true, false},
		{"bytes=-10", 90, 99, true, false},
		{"bytes=-1000", 0, 99, true, false},
		{"bytes=90-1000", 90, 99, true, false},
		{"bytes=100-", 0, 0, false, true},
		{"bytes=-0", 0, 0, false, true},
		{"bytes=9-5", 0, 0, false, false},
		{"bytes=0-1,3-4", 0, 0, false, false},
		{"items=0-1", 0, 0, false, false},
	} {
		start, end, ok, err := parseRange(c.v, 100)
		if start != c.start || end != c.end || ok != c.ok || (err != nil) != c.bad {
			t.Errorf("%s: %d-%d %v %v", c.v, start, end, ok, err)
		}
	}
}
