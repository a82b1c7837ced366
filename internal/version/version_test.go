package version

import "testing"

func TestString(t *testing.T) {
	if s := String(); s == "" {
		t.Fatal("empty version")
	}
}
