package keepalive

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Function is one function of a trace.
type Function struct {
	ID      string // HashFunction
	App     string // HashApp
	Owner   string // HashOwner
	Trigger string
	// Counts holds invocations per minute, Counts[i] in minute Start+i.
	Counts []int
	// MemoryMB is the memory of one sandbox (the application's average
	// allocated memory); 0 when the trace has none.
	MemoryMB float64
	// Duration is the average execution time; 0 when the trace has none.
	Duration time.Duration
}

// Trace is a per-minute invocation trace.
type Trace struct {
	Name string
	// Start is the minute of the day of the first column.
	Start     int
	Minutes   int
	Functions []Function
}

// ErrFormat reports a malformed trace file.
var ErrFormat = errors.New("keepalive: malformed trace")

// ReadTrace reads invocations.csv, durations.csv and memory.csv from dir.
// durations.csv and memory.csv are optional; functions they do not cover
// keep zero Duration or MemoryMB (Simulate then applies its defaults).
func ReadTrace(dir string) (*Trace, error) {
	f, err := os.Open(filepath.Join(dir, "invocations.csv"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	tr, err := ParseInvocations(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", f.Name(), err)
	}
	tr.Name = filepath.Base(filepath.Clean(dir))
	if d, err := os.Open(filepath.Join(dir, "durations.csv")); err == nil {
		durs, err := ParseDurations(d)
		d.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", d.Name(), err)
		}
		for i := range tr.Functions {
			if d, ok := durs[tr.Functions[i].ID]; ok {
				// Averages are whole milliseconds; 0 means under one.
				tr.Functions[i].Duration = max(d, time.Millisecond)
			}
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	if m, err := os.Open(filepath.Join(dir, "memory.csv")); err == nil {
		mem, err := ParseMemory(m)
		m.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", m.Name(), err)
		}
		for i := range tr.Functions {
			tr.Functions[i].MemoryMB = mem.Lookup(tr.Functions[i].ID, tr.Functions[i].App)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	return tr, nil
}

// table is a CSV file with its header indexed by column name.
type table struct {
	cols map[string]int
	head []string
	rows [][]string
}

func readTable(r io.Reader) (*table, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	cr.ReuseRecord = false
	head, err := cr.Read()
	if err != nil {
		if err == io.EOF {
			return nil, fmt.Errorf("%w: empty file", ErrFormat)
		}
		return nil, fmt.Errorf("%w: %v", ErrFormat, err)
	}
	t := &table{cols: map[string]int{}, head: head}
	for i, h := range head {
		h = strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))
		head[i] = h
		if _, dup := t.cols[h]; !dup {
			t.cols[h] = i
		}
	}
	for line := 2; ; line++ {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrFormat, err)
		}
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue
		}
		if len(rec) != len(head) {
			return nil, fmt.Errorf("%w: line %d has %d fields, header has %d", ErrFormat, line, len(rec), len(head))
		}
		for i := range rec {
			rec[i] = strings.TrimSpace(rec[i])
		}
		t.rows = append(t.rows, rec)
	}
	return t, nil
}

func (t *table) need(names ...string) error {
	for _, n := range names {
		if _, ok := t.cols[n]; !ok {
			return fmt.Errorf("%w: no column %q", ErrFormat, n)
		}
	}
	return nil
}

// ParseInvocations parses an Azure 2019 invocations file: HashOwner,
// HashApp, HashFunction, Trigger, then one column per minute (named by the
// minute number) holding invocation counts. Minute columns must be
// consecutive. A function listed twice has its counts added.
func ParseInvocations(r io.Reader) (*Trace, error) {
	t, err := readTable(r)
	if err != nil {
		return nil, err
	}
	if err := t.need("HashFunction"); err != nil {
		return nil, err
	}
	var minuteCols []int
	start := 0
	for i, h := range t.head {
		m, err := strconv.Atoi(h)
		if err != nil {
			continue
		}
		if len(minuteCols) == 0 {
			start = m
		} else if m != start+len(minuteCols) {
			return nil, fmt.Errorf("%w: minute column %q out of sequence", ErrFormat, h)
		}
		minuteCols = append(minuteCols, i)
	}
	if len(minuteCols) == 0 {
		return nil, fmt.Errorf("%w: no minute columns", ErrFormat)
	}
	tr := &Trace{Start: start, Minutes: len(minuteCols)}
	index := map[string]int{}
	for n, rec := range t.rows {
		id := rec[t.cols["HashFunction"]]
		if id == "" {
			return nil, fmt.Errorf("%w: row %d: empty HashFunction", ErrFormat, n+2)
		}
		counts := make([]int, len(minuteCols))
		for j, c := range minuteCols {
			v := rec[c]
			if v == "" {
				continue
			}
			k, err := strconv.Atoi(v)
			if err != nil {
				f, ferr := strconv.ParseFloat(v, 64)
				if ferr != nil || f < 0 || f != math.Trunc(f) {
					return nil, fmt.Errorf("%w: row %d minute %s: bad count %q", ErrFormat, n+2, t.head[c], v)
				}
				k = int(f)
			}
			if k < 0 {
				return nil, fmt.Errorf("%w: row %d minute %s: negative count", ErrFormat, n+2, t.head[c])
			}
			counts[j] = k
		}
		if i, ok := index[id]; ok {
			for j, k := range counts {
				sum := tr.Functions[i].Counts[j] + k
				if sum < k {
					return nil, fmt.Errorf("%w: row %d: counts of %s overflow", ErrFormat, n+2, id)
				}
				tr.Functions[i].Counts[j] = sum
			}
			continue
		}
		index[id] = len(tr.Functions)
		tr.Functions = append(tr.Functions, Function{
			ID:      id,
			App:     field(t, rec, "HashApp"),
			Owner:   field(t, rec, "HashOwner"),
			Trigger: field(t, rec, "Trigger"),
			Counts:  counts,
		})
	}
	return tr, nil
}

func field(t *table, rec []string, name string) string {
	if i, ok := t.cols[name]; ok {
		return rec[i]
	}
	return ""
}

// ParseDurations parses an Azure 2019 durations file and returns the
// average execution time (column Average, milliseconds) by HashFunction.
func ParseDurations(r io.Reader) (map[string]time.Duration, error) {
	t, err := readTable(r)
	if err != nil {
		return nil, err
	}
	if err := t.need("HashFunction", "Average"); err != nil {
		return nil, err
	}
	out := make(map[string]time.Duration, len(t.rows))
	for n, rec := range t.rows {
		ms, err := strconv.ParseFloat(rec[t.cols["Average"]], 64)
		if err != nil || ms < 0 {
			return nil, fmt.Errorf("%w: row %d: bad Average %q", ErrFormat, n+2, rec[t.cols["Average"]])
		}
		out[rec[t.cols["HashFunction"]]] = time.Duration(ms * float64(time.Millisecond))
	}
	return out, nil
}

// Memory holds allocated memory in MB by application and, when the file
// carries a HashFunction column, by function.
type Memory struct {
	ByApp      map[string]float64
	ByFunction map[string]float64
}

// Lookup returns the memory of fn in app: the function's own row if there
// is one, else its application's, else 0.
func (m Memory) Lookup(fn, app string) float64 {
	if v, ok := m.ByFunction[fn]; ok {
		return v
	}
	return m.ByApp[app]
}

// ParseMemory parses an Azure 2019 memory file (per application:
// HashApp, AverageAllocatedMb, percentiles). Applications listed more than
// once get the mean of their rows.
func ParseMemory(r io.Reader) (Memory, error) {
	t, err := readTable(r)
	if err != nil {
		return Memory{}, err
	}
	if err := t.need("HashApp", "AverageAllocatedMb"); err != nil {
		return Memory{}, err
	}
	m := Memory{ByApp: map[string]float64{}, ByFunction: map[string]float64{}}
	sum, n := map[string]float64{}, map[string]int{}
	_, hasFn := t.cols["HashFunction"]
	for i, rec := range t.rows {
		v, err := strconv.ParseFloat(rec[t.cols["AverageAllocatedMb"]], 64)
		if err != nil || v < 0 {
			return Memory{}, fmt.Errorf("%w: row %d: bad AverageAllocatedMb %q", ErrFormat, i+2, rec[t.cols["AverageAllocatedMb"]])
		}
		app := rec[t.cols["HashApp"]]
		sum[app] += v
		n[app]++
		if hasFn {
			if fn := rec[t.cols["HashFunction"]]; fn != "" {
				m.ByFunction[fn] = v
			}
		}
	}
	for app, s := range sum {
		m.ByApp[app] = s / float64(n[app])
	}
	return m, nil
}
