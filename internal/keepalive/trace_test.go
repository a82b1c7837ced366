package keepalive

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const traceRoot = "../../../shared/traces"

func realTrace(t *testing.T, name string) string {
	t.Helper()
	dir := filepath.Join(traceRoot, name)
	if _, err := os.Stat(filepath.Join(dir, "invocations.csv")); err != nil {
		if dir = os.Getenv("KUMO_TRACES"); dir != "" {
			dir = filepath.Join(dir, name)
		} else {
			t.Skipf("trace %s not found (set KUMO_TRACES to the traces directory)", name)
		}
	}
	return dir
}

func TestReadTraceReal(t *testing.T) {
	for _, tc := range []struct {
		name        string
		functions   int
		invocations int64
	}{
		{"azure2019-100", 100, 339657},
		{"azure2019-500", 500, 3037902},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr, err := ReadTrace(realTrace(t, tc.name))
			if err != nil {
				t.Fatal(err)
			}
			if tr.Name != tc.name || tr.Start != 480 || tr.Minutes != 480 || len(tr.Functions) != tc.functions {
				t.Fatalf("name=%s start=%d minutes=%d functions=%d", tr.Name, tr.Start, tr.Minutes, len(tr.Functions))
			}
			var n int64
			for _, f := range tr.Functions {
				if f.ID == "" || f.App == "" || f.Trigger == "" || len(f.Counts) != tr.Minutes {
					t.Fatalf("incomplete function %+v", f)
				}
				if f.MemoryMB <= 0 || f.Duration <= 0 {
					t.Errorf("function %s: memory %v MB, duration %s", f.ID, f.MemoryMB, f.Duration)
				}
				for _, c := range f.Counts {
					n += int64(c)
				}
			}
			if n != tc.invocations {
				t.Errorf("invocations = %d, want %d", n, tc.invocations)
			}
		})
	}
}

func TestReadTraceRealValues(t *testing.T) {
	dir := realTrace(t, "azure2019-100")
	tr, err := ReadTrace(dir)
	if err != nil {
		t.Fatal(err)
	}
	// First data row of invocations.csv: a timer, counts 0,1,0,0,0,0,1,0...
	f := tr.Functions[0]
	if !strings.HasPrefix(f.ID, "b9386d10c889") || f.Trigger != "timer" || f.Counts[1] != 1 || f.Counts[6] != 1 || f.Counts[0] != 0 {
		t.Errorf("first function: %s %s %v", f.ID, f.Trigger, f.Counts[:8])
	}
	for _, f := range tr.Functions {
		if strings.HasPrefix(f.ID, "1948876d67f7") {
			if f.Duration != 71*time.Millisecond || int(f.MemoryMB*1000) != 22777 {
				t.Errorf("1948876d67f7: duration %s memory %v", f.Duration, f.MemoryMB)
			}
			return
		}
	}
	t.Error("function 1948876d67f7 not found")
}

func TestParseInvocations(t *testing.T) {
	for _, tc := range []struct {
		name    string
		in      string
		err     bool
		start   int
		counts  map[string][]int
		trigger string
	}{
		{
			name:   "azure header",
			in:     "HashOwner,HashApp,HashFunction,Trigger,480,481\no,a,f,http,1,2\n",
			start:  480,
			counts: map[string][]int{"f": {1, 2}},
		},
		{
			name:   "bom crlf spaces and reordered columns",
			in:     "\ufeffHashFunction, Trigger ,1,2,3\r\nf, queue ,0, 4 ,\r\n\r\n",
			start:  1,
			counts: map[string][]int{"f": {0, 4, 0}},
		},
		{
			name:   "duplicate function adds up",
			in:     "HashFunction,0,1\nf,1,0\nf,2,5\ng,0,0\n",
			counts: map[string][]int{"f": {3, 5}, "g": {0, 0}},
		},
		{
			name:   "integral floats",
			in:     "HashFunction,7\nf,3.0\n",
			start:  7,
			counts: map[string][]int{"f": {3}},
		},
		{name: "empty", in: "", err: true},
		{name: "no function column", in: "HashApp,1\na,1\n", err: true},
		{name: "no minute columns", in: "HashFunction,Trigger\nf,http\n", err: true},
		{name: "minutes out of sequence", in: "HashFunction,1,3\nf,1,1\n", err: true},
		{name: "ragged row", in: "HashFunction,1,2\nf,1\n", err: true},
		{name: "overflow", in: "HashFunction,1\nf,9223372036854775807\nf,1\n", err: true},
		{name: "negative count", in: "HashFunction,1\nf,-1\n", err: true},
		{name: "fractional count", in: "HashFunction,1\nf,1.5\n", err: true},
		{name: "text count", in: "HashFunction,1\nf,x\n", err: true},
		{name: "empty function", in: "HashFunction,1\n,1\n", err: true},
		{name: "bad quoting", in: "HashFunction,1\n\"f,1\n", err: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr, err := ParseInvocations(strings.NewReader(tc.in))
			if tc.err {
				if !errors.Is(err, ErrFormat) {
					t.Fatalf("err = %v, want ErrFormat", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tr.Start != tc.start {
				t.Errorf("start = %d, want %d", tr.Start, tc.start)
			}
			if len(tr.Functions) != len(tc.counts) {
				t.Fatalf("%d functions, want %d", len(tr.Functions), len(tc.counts))
			}
			for _, f := range tr.Functions {
				want := tc.counts[f.ID]
				if len(f.Counts) != len(want) || tr.Minutes != len(want) {
					t.Fatalf("%s: counts %v, want %v", f.ID, f.Counts, want)
				}
				for i := range want {
					if f.Counts[i] != want[i] {
						t.Errorf("%s: counts %v, want %v", f.ID, f.Counts, want)
						break
					}
				}
			}
		})
	}
}

func TestParseDurations(t *testing.T) {
	d, err := ParseDurations(strings.NewReader("HashOwner,HashApp,HashFunction,Average,Count\no,a,f,71,288\no,a,g,0.5,1\n"))
	if err != nil {
		t.Fatal(err)
	}
	if d["f"] != 71*time.Millisecond || d["g"] != 500*time.Microsecond {
		t.Errorf("durations %v", d)
	}
	for _, in := range []string{"HashFunction\nf\n", "HashFunction,Average\nf,-1\n", "HashFunction,Average\nf,x\n"} {
		if _, err := ParseDurations(strings.NewReader(in)); !errors.Is(err, ErrFormat) {
			t.Errorf("%q: err = %v, want ErrFormat", in, err)
		}
	}
}

func TestParseMemory(t *testing.T) {
	m, err := ParseMemory(strings.NewReader("HashOwner,HashApp,SampleCount,AverageAllocatedMb\no,a,1,100\no,a,1,200\no,b,1,50\n"))
	if err != nil {
		t.Fatal(err)
	}
	if m.Lookup("f", "a") != 150 || m.Lookup("f", "b") != 50 || m.Lookup("f", "c") != 0 {
		t.Errorf("memory %+v", m)
	}
	m, err = ParseMemory(strings.NewReader("HashFunction,HashOwner,HashApp,AverageAllocatedMb\nf,o,a,10\ng,o,a,30\n"))
	if err != nil {
		t.Fatal(err)
	}
	if m.Lookup("f", "a") != 10 || m.Lookup("h", "a") != 20 {
		t.Errorf("memory %+v", m)
	}
	if _, err := ParseMemory(strings.NewReader("HashApp\na\n")); !errors.Is(err, ErrFormat) {
		t.Errorf("err = %v, want ErrFormat", err)
	}
}

func TestReadTraceMissingOptionalFiles(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "invocations.csv"), []byte("HashApp,HashFunction,0\na,f,1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tr, err := ReadTrace(dir)
	if err != nil {
		t.Fatal(err)
	}
	if f := tr.Functions[0]; f.MemoryMB != 0 || f.Duration != 0 {
		t.Errorf("function %+v", f)
	}
	if _, err := ReadTrace(t.TempDir()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("err = %v, want not exist", err)
	}
}

func FuzzParseInvocations(f *testing.F) {
	f.Add("HashOwner,HashApp,HashFunction,Trigger,480,481\no,a,f,http,1,2\n")
	f.Add("HashFunction,1\nf,1.0\n")
	f.Fuzz(func(t *testing.T, in string) {
		tr, err := ParseInvocations(strings.NewReader(in))
		if err != nil {
			return
		}
		for _, fn := range tr.Functions {
			if len(fn.Counts) != tr.Minutes {
				t.Fatalf("function %s has %d counts for %d minutes", fn.ID, len(fn.Counts), tr.Minutes)
			}
			for _, c := range fn.Counts {
				if c < 0 {
					t.Fatalf("negative count")
				}
				if c > 1e5 {
					return // too many sandboxes to simulate here
				}
			}
		}
		_ = Simulate(tr, NewHybrid(HybridConfig{}), Options{})
	})
}
