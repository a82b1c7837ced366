package main

import (
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"
)

// Section statuses.
const (
	statusOK          = "ok"
	statusUnavailable = "not available"
	statusSkipped     = "skipped"
	statusFailed      = "failed"
)

// Section is the part every result shares: whether it ran and why not.
type Section struct {
	Status string `json:"status"`
	Note   string `json:"note,omitempty"`
}

// Report is everything one run measured; -json writes it.
type Report struct {
	Started  time.Time       `json:"started"`
	Seconds  float64         `json:"seconds"`
	Suite    string          `json:"suite"`
	Quick    bool            `json:"quick"`
	Machine  Machine         `json:"machine"`
	Server   ServerInfo      `json:"server"`
	Floor    *FloorResult    `json:"floor,omitempty"`
	Cold     *ColdResult     `json:"cold,omitempty"`
	Warm     *WarmResult     `json:"warm,omitempty"`
	Churn    *ChurnResult    `json:"churn,omitempty"`
	Density  *DensityResult  `json:"density,omitempty"`
	Async    *AsyncResult    `json:"async,omitempty"`
	Compare  *CompareResult  `json:"compare,omitempty"`
	DynamoDB *DynamoDBResult `json:"dynamodb,omitempty"`
	Summary  []SummaryRow    `json:"summary"`
	Problems []string        `json:"problems,omitempty"`
}

// Machine describes where the run happened.
type Machine struct {
	CPU      string  `json:"cpu"`
	Cores    int     `json:"cores"`
	MemoryGB float64 `json:"memory_gb"`
	Kernel   string  `json:"kernel"`
	Go       string  `json:"go"`
	Root     bool    `json:"root"`
	// Load is /proc/loadavg's 1-minute figure when the run started:
	// anything else running skews every number.
	Load float64 `json:"load_1m"`
}

// ServerInfo describes the Kumo server measured.
type ServerInfo struct {
	URL    string `json:"url"`
	Own    bool   `json:"started_by_bench"`
	PID    int    `json:"pid,omitempty"`
	Driver string `json:"sandbox_driver,omitempty"`
}

// SummaryRow is one line of the README table.
type SummaryRow struct {
	Measurement string  `json:"measurement"`
	Kumo        string  `json:"kumo"`
	Floor       string  `json:"floor,omitempty"`
	Ratio       float64 `json:"ratio,omitempty"`
}

// table is a titled table printed as aligned text or as markdown.
type table struct {
	title string
	head  []string
	rows  [][]string
	notes []string
}

func (t *table) add(cells ...string) { t.rows = append(t.rows, cells) }

func (t *table) note(format string, args ...any) {
	t.notes = append(t.notes, fmt.Sprintf(format, args...))
}

// text prints the table with the first column left-aligned and the others
// right-aligned, then its notes.
func (t *table) text(w io.Writer) {
	width := make([]int, len(t.head))
	for i, h := range t.head {
		width[i] = utf8.RuneCountInString(h)
	}
	for _, r := range t.rows {
		for i, c := range r {
			if i < len(width) {
				width[i] = max(width[i], utf8.RuneCountInString(c))
			}
		}
	}
	line := func(cells []string) {
		var b strings.Builder
		for i := range width {
			c := ""
			if i < len(cells) {
				c = cells[i]
			}
			pad := strings.Repeat(" ", width[i]-utf8.RuneCountInString(c))
			if i == 0 {
				b.WriteString(c + pad)
			} else {
				b.WriteString("  " + pad + c)
			}
		}
		fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
	}
	fmt.Fprintf(w, "\n== %s ==\n", t.title)
	line(t.head)
	total := len(width)*2 - 2
	for _, n := range width {
		total += n
	}
	fmt.Fprintln(w, strings.Repeat("-", total))
	for _, r := range t.rows {
		line(r)
	}
	for _, n := range t.notes {
		fmt.Fprintln(w, wrap(n, 100, "  "))
	}
}

// markdown prints the table as a GitHub table, then its notes as a list.
func (t *table) markdown(w io.Writer) {
	esc := func(s string) string { return strings.ReplaceAll(s, "|", `\|`) }
	row := func(cells []string) {
		out := make([]string, len(t.head))
		for i := range out {
			if i < len(cells) {
				out[i] = esc(cells[i])
			}
		}
		fmt.Fprintf(w, "| %s |\n", strings.Join(out, " | "))
	}
	row(t.head)
	seps := make([]string, len(t.head))
	for i := range seps {
		seps[i] = "---:"
		if i == 0 {
			seps[i] = "---"
		}
	}
	fmt.Fprintf(w, "|%s|\n", strings.Join(seps, "|"))
	for _, r := range t.rows {
		row(r)
	}
	if len(t.notes) > 0 {
		fmt.Fprintln(w)
		for _, n := range t.notes {
			fmt.Fprintf(w, "- %s\n", n)
		}
	}
}

// wrap folds s at width, indenting continuation lines.
func wrap(s string, width int, indent string) string {
	var b strings.Builder
	n := 0
	b.WriteString(indent)
	n = len(indent)
	for i, word := range strings.Fields(s) {
		if i > 0 && n+1+len(word) > width {
			b.WriteString("\n" + indent + "  ")
			n = len(indent) + 2
		} else if i > 0 {
			b.WriteByte(' ')
			n++
		}
		b.WriteString(word)
		n += len(word)
	}
	return b.String()
}

// fmtMs prints milliseconds with about three significant digits.
func fmtMs(v float64) string {
	switch {
	case v <= 0:
		return "—"
	case v < 0.01:
		return fmt.Sprintf("%.2f µs", v*1000)
	case v < 1:
		return fmt.Sprintf("%.3f ms", v)
	case v < 10:
		return fmt.Sprintf("%.2f ms", v)
	case v < 100:
		return fmt.Sprintf("%.1f ms", v)
	}
	return fmt.Sprintf("%.0f ms", v)
}

func fmtUs(v float64) string {
	if v <= 0 {
		return "—"
	}
	return fmt.Sprintf("%.0f µs", v)
}

// fmtRate prints a per-second rate.
func fmtRate(v float64, unit string) string {
	switch {
	case v <= 0:
		return "—"
	case v < 10:
		return fmt.Sprintf("%.2f %s", v, unit)
	case v < 100:
		return fmt.Sprintf("%.1f %s", v, unit)
	}
	return fmt.Sprintf("%.0f %s", v, unit)
}

func fmtMB(kb float64) string {
	if kb <= 0 {
		return "—"
	}
	return fmt.Sprintf("%.2f MB", kb/1024)
}

func fmtRatio(r float64) string {
	if r <= 0 {
		return "—"
	}
	if r < 10 {
		return fmt.Sprintf("%.2f×", r)
	}
	return fmt.Sprintf("%.0f×", r)
}
