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
		`"unterminated`, `?`, `[ip, user]`, `{ $.a = "x }`,
	} {
		if _, err := ParsePattern(p); !errors.Is(err, ErrPattern) {
			t.Errorf("ParsePattern(%q) = %v, want an ErrPattern", p, err)
		}
	}
}

func FuzzParsePattern(f *testing.F) {
	for _, s := range []string{"ERROR", `"a b" ?c -d`, `{ $.a = "x*" && ($.b > 1 || $.c IS NULL) }`, `{ $.a[0].b NOT EXISTS }`, "", "[a]"} {
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
