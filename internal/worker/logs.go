package worker

import (
	"bytes"
	"sync"
	"time"
)

// LogEvent is one line of a sandbox's log.
type LogEvent struct {
	Time    time.Time
	Message string
}

// LogSink receives every log line of every sandbox, in order per stream.
// Append must not block for long: it is called from the goroutines that
// drain a sandbox's output.
type LogSink interface {
	Append(group, stream string, events []LogEvent)
}

// NoLogs is a LogSink that drops everything.
type NoLogs struct{}

func (NoLogs) Append(string, string, []LogEvent) {}

const (
	// tailBytes is how much of an invocation's log X-Amz-Log-Result carries.
	tailBytes = 4096
	// maxLine splits longer lines, as Lambda does for very long writes.
	maxLine = 256 * 1024
)

// capture turns a sandbox's stdout and stderr into log lines for its stream,
// and keeps the tail of the current invocation's lines.
type capture struct {
	sink          LogSink
	group, stream string

	// tap, when set, also gets every line the sandbox wrote (not
	// Kumo's own) with its Telemetry API stream (function or
	// extension). Set before the sandbox starts.
	tap func(t time.Time, stream string, line []byte)
	// ctl, when set, sees every line the sandbox wrote first (the
	// extension launcher's lines): it returns the line to log, its
	// stream, or drop to log nothing.
	ctl func([]byte) (line []byte, stream string, drop bool)

	mu      sync.Mutex
	tail    []byte // last tailBytes of the current invocation
	tailing bool
}

func newCapture(sink LogSink, group, stream string) *capture {
	return &capture{sink: sink, group: group, stream: stream}
}

// line records one complete line (without its newline) the sandbox wrote.
func (c *capture) line(b []byte) {
	stream := "function"
	if c.ctl != nil {
		var drop bool
		if b, stream, drop = c.ctl(b); drop {
			return
		}
	}
	now := c.record(b)
	if c.tap != nil {
		c.tap(now, stream, b)
	}
}

// record stores one line and returns its time.
func (c *capture) record(b []byte) time.Time {
	now := time.Now()
	c.mu.Lock()
	if c.tailing {
		c.tail = appendTail(c.tail, b)
	}
	c.mu.Unlock()
	// CloudWatch Logs events of Lambda functions end with a newline.
	c.sink.Append(c.group, c.stream, []LogEvent{{Time: now, Message: string(b) + "\n"}})
	return now
}

func appendTail(tail, line []byte) []byte {
	tail = append(tail, line...)
	tail = append(tail, '\n')
	if len(tail) > 2*tailBytes {
		n := copy(tail, tail[len(tail)-tailBytes:])
		tail = tail[:n]
	}
	return tail
}

// platform writes a line of Kumo's own (START, END, REPORT).
func (c *capture) platform(s string) { c.record([]byte(s)) }

// begin starts collecting the tail of a new invocation.
func (c *capture) begin() {
	c.mu.Lock()
	c.tail, c.tailing = c.tail[:0], true
	c.mu.Unlock()
}

// end stops collecting and returns the invocation's last 4 KB.
func (c *capture) end() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.tailing = false
	t := c.tail
	if len(t) > tailBytes {
		t = t[len(t)-tailBytes:]
	}
	return append([]byte(nil), t...)
}

// writer is an io.Writer for one output stream of a sandbox, splitting its
// bytes into lines.
type writer struct {
	c   *capture
	buf []byte
}

func (w *writer) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			w.buf = append(w.buf, p...)
			if len(w.buf) >= maxLine {
				w.c.line(w.buf)
				w.buf = w.buf[:0]
			}
			break
		}
		if len(w.buf) > 0 {
			w.buf = append(w.buf, p[:i]...)
			w.c.line(w.buf)
			w.buf = w.buf[:0]
		} else {
			w.c.line(p[:i])
		}
		p = p[i+1:]
	}
	return n, nil
}

// flush emits a last line without newline.
func (w *writer) flush() {
	if len(w.buf) > 0 {
		w.c.line(w.buf)
		w.buf = w.buf[:0]
	}
}
