package arn

import (
	"errors"
	"testing"
)

// FuzzParse checks that no input panics the parsers, that every failure
// wraps ErrInvalid, and that what Parse and the typed parsers accept
// prints back as the same ARN.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		scope.FunctionVersion("f", "$LATEST"), scope.LayerVersion("l", 1), scope.LogStream("g", "s"),
		scope.Role("r"), scope.Object("b", "k"), scope.Rule("b", "r"), scope.Secret("s", "AbC123"),
		scope.ExecuteAPI("a", "s", "GET", "p"), "arn:aws:s3:::", "arn::::::", "arn:aws:lambda:us-east-1:123456789012:function:f:",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := Parse(s)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Parse(%q): %v does not wrap ErrInvalid", s, err)
			}
		} else if a.String() != s {
			t.Fatalf("Parse(%q).String() = %q", s, a.String())
		}
		if fn, err := ParseFunction(s); err == nil && fn.String() != s {
			t.Fatalf("ParseFunction(%q).String() = %q", s, fn.String())
		}
		if l, err := ParseLayer(s); err == nil {
			want := l.Scope.Layer(l.Name)
			if l.Version > 0 {
				want = l.Scope.LayerVersion(l.Name, l.Version)
			}
			if want != s {
				t.Fatalf("ParseLayer(%q) = %+v", s, l)
			}
		}
		if lg, err := ParseLog(s); err == nil && lg.Stream != "" && lg.Scope.LogStream(lg.Group, lg.Stream) != s {
			t.Fatalf("ParseLog(%q) = %+v", s, lg)
		}
		for _, p := range []func(string) error{
			func(s string) error { _, err := ParseIAM(s); return err },
			func(s string) error { _, err := ParseQueue(s); return err },
			func(s string) error { _, err := ParseTopic(s); return err },
			func(s string) error { _, err := ParseS3(s); return err },
			func(s string) error { _, err := ParseEvents(s); return err },
			func(s string) error { _, err := ParseKMS(s); return err },
			func(s string) error { _, err := ParseSecret(s); return err },
			func(s string) error { _, err := ParseExecuteAPI(s); return err },
		} {
			if err := p(s); err != nil && !errors.Is(err, ErrInvalid) {
				t.Fatalf("%q: %v does not wrap ErrInvalid", s, err)
			}
		}
	})
}
