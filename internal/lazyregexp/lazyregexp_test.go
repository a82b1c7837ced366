package lazyregexp

import (
	"strings"
	"sync"
	"testing"
)

func TestLazy(t *testing.T) {
	re := New(`^([a-z]+)-(\d{1,3})$`)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if !re.MatchString("ab-12") || re.MatchString("ab-1234") {
				t.Error("MatchString disagrees with the expression")
			}
		})
	}
	wg.Wait()
	if m := re.FindStringSubmatch("ab-12"); len(m) != 3 || m[1] != "ab" || m[2] != "12" {
		t.Errorf("FindStringSubmatch = %q", m)
	}
	if m := re.FindSubmatch([]byte("x-1")); len(m) != 3 || string(m[2]) != "1" {
		t.Errorf("FindSubmatch = %q", m)
	}
	if got := re.ReplaceAllString("ab-12", "$2"); got != "12" {
		t.Errorf("ReplaceAllString = %q", got)
	}
	if got := re.ReplaceAllStringFunc("ab-12", strings.ToUpper); got != "AB-12" {
		t.Errorf("ReplaceAllStringFunc = %q", got)
	}
	first := re.Regexp()
	if again := re.Regexp(); again != first {
		t.Error("compiled twice")
	}
}

func TestBadPatternPanicsOnUse(t *testing.T) {
	re := New(`(`) // no panic here
	defer func() {
		if recover() == nil {
			t.Error("a bad pattern did not panic on first use")
		}
	}()
	re.MatchString("x")
}
