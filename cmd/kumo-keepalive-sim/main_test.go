package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRun(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"invocations.csv": "HashOwner,HashApp,HashFunction,Trigger,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20\n" +
			"o,a,f,timer,1,0,0,0,0,0,0,0,0,0,0,0,0,0,0,1,0,0,0,0,1\n" +
			"o,b,g,http,5,5,5,5,5,5,5,5,5,5,5,5,5,5,5,5,5,5,5,5,5\n",
		"durations.csv": "HashOwner,HashApp,HashFunction,Average\no,a,f,100\no,b,g,2000\n",
		"memory.csv":    "HashOwner,HashApp,AverageAllocatedMb\no,a,128\no,b,256\n",
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var out bytes.Buffer
	if err := run(&out, dir); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	for _, want := range []string{"2 functions, 21 minutes", "fixed 10m", "no keep-alive", "fixed 20m", "hybrid (fallback 4h)", "hybrid (fallback 10m)"} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q:\n%s", want, s)
		}
	}
	if err := run(&out, t.TempDir()); err == nil {
		t.Error("run on an empty directory succeeded")
	}
}
