package logs

import (
	"errors"
	"testing"
)

func TestPattern(t *testing.T) {
	const js = `{"level":"ERROR","latency":120.5,"code":404,"ok":false,"none":null,"user":{"id":"u-17","tags":["a","b"]},"msg":"disk full"}`
	for _, tc := range []struct {
		pattern, msg string
		want         bool
	}{
		{"", "anything", true},
		{"   ", "anything", true},
		{"ERROR", "an ERROR here", true},
		{"ERROR", "an error here", false}, // case-sensitive
		{"ERROR timeout", "ERROR: timeout after 3s", true},
		{"ERROR timeout", "ERROR: refused", false},
		{`"disk full"`, "error: disk full now", true},
		{`"disk full"`, "disk is full", false},
		{`"say \"hi\""`, `they say "hi"`, true},
		{"?ERROR ?WARN", "WARN low memory", true},
		{"?ERROR ?WARN", "INFO fine", false},
		{"ERROR -Exiting", "ERROR retrying", true},
		{"ERROR -Exiting", "ERROR Exiting", false},
		{`-"health check"`, "GET / health check", false},
		{`-"health check"`, "GET /users", true},
		{"ERROR ?db ?cache", "ERROR db down", true},
		{"ERROR ?db ?cache", "ERROR disk", false},
		{"ERROR ?db ?cache", "WARN cache", false},
		{`{ $.level = "ERROR" }`, js, true},
		{`{ $.level = ERROR }`, js, true},
		{`{ $.level = "INFO" }`, js, false},
		{`{ $.level != "INFO" }`, js, true},
		{`{ $.level = "ERR*" }`, js, true},
		{`{ $.level = "*RO*" }`, js, true},
		{`{ $.level = "*X*" }`, js, false},
		{`{ $.latency > 100 }`, js, true},
		{`{ $.latency >= 120.5 }`, js, true},
		{`{ $.latency < 100 }`, js, false},
		{`{ $.latency <= 120.5 }`, js, true},
		{`{ $.code = 404 }`, js, true},
		{`{ $.code != 404 }`, js, false},
		{`{ $.level > 1 }`, js, false}, // not a number
		{`{ $.user.id = "u-17" }`, js, true},
		{`{ $.user.tags[1] = "b" }`, js, true},
		{`{ $.user.tags[5] = "b" }`, js, false},
		{`{ $.missing = "x" }`, js, false},
		{`{ $.missing != "x" }`, js, false},
		{`{ $.level = "ERROR" && $.code = 404 }`, js, true},
		{`{ $.level = "ERROR" && $.code = 500 }`, js, false},
		{`{ $.level = "INFO" || $.code = 404 }`, js, true},
		{`{ ($.level = "INFO" || $.code = 404) && $.latency > 200 }`, js, false},
		{`{ $.level = "INFO" || $.code = 404 && $.latency > 200 }`, js, false},
		{`{ $.level = "ERROR" || $.code = 1 && $.latency > 200 }`, js, true}, // && binds tighter
		{`{ $.ok IS FALSE }`, js, true},
		{`{ $.ok IS TRUE }`, js, false},
		{`{ $.none IS NULL }`, js, true},
		{`{ $.nothing NOT EXISTS }`, js, true},
		{`{ $.level NOT EXISTS }`, js, false},
		{`{ $.level = "ERROR" }`, "not json ERROR", false},
		{`{$.code=404}`, js, true},
	} {
		p, err := ParsePattern(tc.pattern)
		if err != nil {
			t.Errorf("ParsePattern(%q): %v", tc.pattern, err)
			continue
		}
		if got := p.Match(tc.msg); got != tc.want {
			t.Errorf("%q on %q: %v, want %v", tc.pattern, tc.msg, got, tc.want)
		}
	}
}

func TestPatternErrors(t *testing.T) {
	for _, p := range []string{
		`{`, `{ }`, `{ $.a }`, `{ $.a = }`, `{ $.a = 1 `, `{ $.a = 1 } x`, `{ a = 1 }`, `{ $.a > "x" }`,
		`{ $.a = 1 && }`, `{ ($.a = 1 }`, `{ $.a IS MAYBE }`, `{ $.a NOT THERE }`, `{ $..a = 1 }`, `{ $.a[x] = 1 }`,
		`"unterminated`, `?`, `{ $.a = "x }`,
		`[]`, `[a,,b]`, `[a, a]`, `[a > x]`, `[a =]`, `[a b]`, `[a = "x]`, `[a = 1 &&]`, `[a ~ 1]`, `[a.b]`, `[a`,
	} {
		if _, err := ParsePattern(p); !errors.Is(err, ErrPattern) {
			t.Errorf("ParsePattern(%q) = %v, want an ErrPattern", p, err)
		}
	}
}

func FuzzParsePattern(f *testing.F) {
	for _, s := range []string{"ERROR", `"a b" ?c -d`, `{ $.a = "x*" && ($.b > 1 || $.c IS NULL) }`, `{ $.a[0].b NOT EXISTS }`, "", "[a]", `[ip, ..., status=4* || status = 5*, size>1000]`, `[a, ..., b, ..., c]`} {
		f.Add(s, `{"a":"xy","b":2,"c":null}`)
	}
	f.Fuzz(func(t *testing.T, pattern, msg string) {
		p, err := ParsePattern(pattern)
		if err != nil {
			if !errors.Is(err, ErrPattern) {
				t.Fatalf("error %v is not an ErrPattern", err)
			}
			return
		}
		p.Match(msg)
		p.Match(pattern)
	})
}

// TestDelimitedPattern: space-delimited patterns on the Apache access log
// lines of CloudWatch Logs' filter pattern syntax documentation.
func TestDelimitedPattern(t *testing.T) {
	const (
		ok200  = `127.0.0.1 - frank [10/Oct/2000:13:25:15 -0700] "GET /apache_pb.gif HTTP/1.0" 200 1534`
		err500 = `127.0.0.1 - frank [10/Oct/2000:13:35:22 -0700] "GET /apache_pb.gif HTTP/1.0" 500 5246`
		nf404  = `127.0.0.1 - frank [10/Oct/2000:13:50:35 -0700] "GET /index.html HTTP/1.0" 404 128`
	)
	all := []string{ok200, err500, nf404}
	for _, tc := range []struct {
		pattern string
		want    []bool // for ok200, err500, nf404
	}{
		{`[ip, user, username, timestamp, request, status_code, bytes]`, []bool{true, true, true}},
		{`[ip, user, username, timestamp, request, status_code=4*, bytes]`, []bool{false, false, true}},
		{`[ip, user, username, timestamp, request, status_code = 5*, bytes]`, []bool{false, true, false}},
		{`[ip, user, username, timestamp, request, status_code != 200, bytes]`, []bool{false, true, true}},
		{`[ip, user, username, timestamp, request, status_code=404, bytes]`, []bool{false, false, true}},
		{`[ip, user, username, timestamp, request, status_code >= 400, bytes]`, []bool{false, true, true}},
		{`[ip, user, username, timestamp, request, status_code, bytes > 1000]`, []bool{true, true, false}},
		{`[ip, user, username, timestamp, request, status_code, bytes<=1534]`, []bool{true, false, true}},
		{`[ip, user, username, timestamp, request = *html*, status_code, bytes]`, []bool{false, false, true}},
		{`[ip, user, username, timestamp, request = "GET /index.html HTTP/1.0", status_code, bytes]`, []bool{false, false, true}},
		{`[ip, user, username = frank, timestamp, request, status_code, bytes]`, []bool{true, true, true}},
		{`[ip, user, username = bob, timestamp, request, status_code, bytes]`, []bool{false, false, false}},
		{`[ip, user, username, timestamp = 10/Oct/2000:13:35*, request, status_code, bytes]`, []bool{false, true, false}},
		{`[ip, user, username, timestamp, request, status_code = 404 || status_code = 500, bytes]`, []bool{false, true, true}},
		{`[ip, user, username, timestamp, request, status_code = 5* || bytes < 200, bytes]`, []bool{false, true, true}},
		{`[ip, user, username, timestamp, request, status_code = 2* && bytes > 1000, bytes]`, []bool{true, false, false}},
		{`[ip, user, ..., status_code, bytes]`, []bool{true, true, true}},
		{`[..., status_code = 500, bytes]`, []bool{false, true, false}},
		{`[ip = 127.0.0.1, ...]`, []bool{true, true, true}},
		{`[ip, ..., bytes > 5000]`, []bool{false, true, false}},
		{`[...]`, []bool{true, true, true}},
		// Without "...", the number of fields must agree.
		{`[ip, user, username, timestamp, request, status_code]`, []bool{false, false, false}},
		{`[a, b, c, d, e, f, g, h]`, []bool{false, false, false}},
		// A string compared with a number is not equal to it.
		{`[ip, user, username = 5, ...]`, []bool{false, false, false}},
		{`[ip, user, username != 5, ...]`, []bool{true, true, true}},
	} {
		p, err := ParsePattern(tc.pattern)
		if err != nil {
			t.Errorf("ParsePattern(%q): %v", tc.pattern, err)
			continue
		}
		for i, msg := range all {
			if got := p.Match(msg); got != tc.want[i] {
				t.Errorf("%q on %q: %v, want %v", tc.pattern, msg, got, tc.want[i])
			}
		}
	}
	p, _ := ParsePattern(`[ip, user, ..., status_code, bytes]`)
	got, ok := p.Extract(nf404)
	if !ok || got["$ip"] != "127.0.0.1" || got["$user"] != "-" || got["$status_code"] != "404" || got["$bytes"] != "128" ||
		got["$1"] != "127.0.0.1" || got["$5"] != "128" {
		t.Errorf("Extract: %v %v", got, ok)
	}
	if f := splitFields(ok200); len(f) != 7 || f[3] != "10/Oct/2000:13:25:15 -0700" || f[4] != "GET /apache_pb.gif HTTP/1.0" {
		t.Errorf("fields %q", f)
	}
}
