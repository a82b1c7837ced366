package extensions

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// The Telemetry API (2022-07-01) and the older Logs API (2020-08-15): an
// extension subscribes (PUT) to the platform, function and extension
// streams of its sandbox, and Kumo POSTs it JSON arrays of records, in
// batches bounded by the subscription's buffering settings (AWS Lambda
// documentation, "Lambda Telemetry API reference" and "Telemetry API
// Event schema reference").
const (
	// TelemetryPath and LogsPath are where subscriptions are made.
	TelemetryPath = "/2022-07-01/telemetry"
	LogsPath      = "/2020-08-15/logs"

	errTelemetryValidation = "ValidationError"
)

// Buffering limits (documented defaults and ranges).
const (
	defaultMaxItems  = 1000
	minMaxItems      = 1000
	maxMaxItems      = 10000
	defaultMaxBytes  = 256 * 1024
	minMaxBytes      = 256 * 1024
	maxMaxBytes      = 1024 * 1024
	defaultTimeoutMs = 1000
	minTimeoutMs     = 25
	maxTimeoutMs     = 30000

	// backlogFactor: a subscriber that does not keep up keeps at most
	// this many batches' worth of records; older ones are dropped.
	backlogFactor = 10
	// deliverTimeout bounds one POST to a subscriber.
	deliverTimeout = 5 * time.Second
)

// Stream types a subscription names.
const (
	TypePlatform  = "platform"
	TypeFunction  = "function"
	TypeExtension = "extension"
)

// Deliverer POSTs a batch (a JSON array) to a subscriber's URI inside the
// sandbox. The worker provides it: only it knows how the server reaches
// into its sandbox.
type Deliverer func(ctx context.Context, uri string, body []byte) error

// subscription is one extension's telemetry subscription.
type subscription struct {
	ext      string // extension id
	uri      string
	types    map[string]bool
	legacy   bool // Logs API: its record names
	maxItems int
	maxBytes int
	timeout  time.Duration

	mu       sync.Mutex
	buf      [][]byte
	bytes    int
	timer    *time.Timer
	inFlight bool
	dropped  int
	kick     chan struct{}
	idle     chan struct{} // closed and replaced whenever buf empties with nothing in flight
}

// telemetry is a Manager's subscriptions.
type telemetry struct {
	deliver Deliverer
	mu      sync.Mutex
	subs    map[string]*subscription // by extension id
	any     bool
	// early holds the records emitted before the first subscription
	// while registration is open (the init phase's), at most maxEarly;
	// every subscription made in the init phase gets them first.
	early       [][2]string // stream, JSON (modern schema)
	earlyLegacy [][2]string
}

// maxEarly bounds the init phase's records kept for later subscribers.
const maxEarly = 256

// SetDeliverer sets how batches reach subscribers; until it is set (or
// with nil) subscriptions are refused. Call it before serving.
func (m *Manager) SetDeliverer(d Deliverer) { m.tel.deliver = d }

// TelemetrySubscribed reports whether any extension subscribed to
// telemetry or logs.
func (m *Manager) TelemetrySubscribed() bool {
	m.tel.mu.Lock()
	defer m.tel.mu.Unlock()
	return m.tel.any
}

// subscribe serves PUT /2022-07-01/telemetry and /2020-08-15/logs.
func (m *Manager) subscribe(w http.ResponseWriter, r *http.Request, legacy bool) {
	e := m.identify(w, r)
	if e == nil {
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil || len(body) > maxBody {
		telemetryError(w, "request body too large or unreadable")
		return
	}
	var req struct {
		SchemaVersion string   `json:"schemaVersion"`
		Types         []string `json:"types"`
		Buffering     *struct {
			MaxItems  *int `json:"maxItems"`
			MaxBytes  *int `json:"maxBytes"`
			TimeoutMs *int `json:"timeoutMs"`
		} `json:"buffering"`
		Destination *struct {
			Protocol string `json:"protocol"`
			URI      string `json:"URI"`
		} `json:"destination"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		telemetryError(w, "invalid JSON: "+err.Error())
		return
	}
	if m.tel.deliver == nil {
		writeJSON(w, http.StatusInternalServerError, apiError{"telemetry delivery is not available in this sandbox", "Telemetry.Unavailable"})
		return
	}
	if !legacy {
		switch req.SchemaVersion {
		case "2022-07-01", "2022-12-13", "2025-01-29":
		default:
			telemetryError(w, "schemaVersion must be one of 2022-07-01, 2022-12-13, 2025-01-29")
			return
		}
	}
	s := &subscription{ext: e.id, types: map[string]bool{}, legacy: legacy, maxItems: defaultMaxItems, maxBytes: defaultMaxBytes,
		timeout: defaultTimeoutMs * time.Millisecond, kick: make(chan struct{}, 1), idle: make(chan struct{})}
	if len(req.Types) == 0 {
		telemetryError(w, "types must name at least one of platform, function, extension")
		return
	}
	for _, t := range req.Types {
		if t != TypePlatform && t != TypeFunction && t != TypeExtension {
			telemetryError(w, "unknown type "+t+": want platform, function or extension")
			return
		}
		s.types[t] = true
	}
	if b := req.Buffering; b != nil {
		if b.MaxItems != nil {
			if *b.MaxItems < minMaxItems || *b.MaxItems > maxMaxItems {
				telemetryError(w, "buffering.maxItems must be between 1000 and 10000")
				return
			}
			s.maxItems = *b.MaxItems
		}
		if b.MaxBytes != nil {
			if *b.MaxBytes < minMaxBytes || *b.MaxBytes > maxMaxBytes {
				telemetryError(w, "buffering.maxBytes must be between 262144 and 1048576")
				return
			}
			s.maxBytes = *b.MaxBytes
		}
		if b.TimeoutMs != nil {
			if *b.TimeoutMs < minTimeoutMs || *b.TimeoutMs > maxTimeoutMs {
				telemetryError(w, "buffering.timeoutMs must be between 25 and 30000")
				return
			}
			s.timeout = time.Duration(*b.TimeoutMs) * time.Millisecond
		}
	}
	d := req.Destination
	if d == nil || d.Protocol != "HTTP" {
		telemetryError(w, "destination.protocol must be HTTP")
		return
	}
	u, err := url.Parse(d.URI)
	if err != nil || u.Scheme != "http" || u.Host == "" {
		telemetryError(w, "destination.URI must be an http:// URI")
		return
	}
	s.uri = d.URI

	m.tel.mu.Lock()
	old := m.tel.subs[e.id]
	if m.tel.subs == nil {
		m.tel.subs = map[string]*subscription{}
	}
	m.tel.subs[e.id] = s
	m.tel.any = true
	early := m.tel.early
	if legacy {
		early = m.tel.earlyLegacy
	}
	for _, r := range early {
		s.add(r[0], []byte(r[1]))
	}
	m.tel.mu.Unlock()
	if old != nil {
		old.stop()
	}
	go m.dispatch(s)
	w.Header().Set("Content-Type", "text/plain")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte("OK"))
}

func telemetryError(w http.ResponseWriter, msg string) {
	writeJSON(w, http.StatusBadRequest, apiError{msg, errTelemetryValidation})
}

// stop makes the subscription's dispatcher end.
func (s *subscription) stop() {
	s.mu.Lock()
	s.types = nil
	s.mu.Unlock()
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// record is one record as the subscriber gets it.
type record struct {
	Time   string `json:"time"`
	Type   string `json:"type"`
	Record any    `json:"record"`
}

// legacyNames are the Logs API's names for the Telemetry API's platform
// records it has ("" : not sent to Logs API subscribers).
var legacyNames = map[string]string{
	"platform.start":       "platform.start",
	"platform.runtimeDone": "platform.end",
	"platform.report":      "platform.report",
}

// Emit adds a record of typ (platform.* or function or extension) to
// every subscription that wants its stream. It never blocks on delivery.
func (m *Manager) Emit(t time.Time, typ string, rec any) {
	stream := typ
	if len(typ) > len(TypePlatform) && typ[:len(TypePlatform)+1] == TypePlatform+"." {
		stream = TypePlatform
	}
	ts := t.UTC().Format("2006-01-02T15:04:05.000Z")
	m.mu.Lock()
	open := !m.regClosed && !m.closed
	m.mu.Unlock()
	m.tel.mu.Lock()
	if open && len(m.tel.early) < maxEarly {
		b, _ := json.Marshal(record{ts, typ, rec})
		m.tel.early = append(m.tel.early, [2]string{stream, string(b)})
		if name := legacyNames[typ]; stream != TypePlatform || name != "" {
			if name == "" {
				name = typ
			}
			b, _ := json.Marshal(record{ts, name, rec})
			m.tel.earlyLegacy = append(m.tel.earlyLegacy, [2]string{stream, string(b)})
		}
	}
	if !m.tel.any {
		m.tel.mu.Unlock()
		return
	}
	subs := make([]*subscription, 0, len(m.tel.subs))
	for _, s := range m.tel.subs {
		subs = append(subs, s)
	}
	m.tel.mu.Unlock()
	var modern, legacy []byte
	for _, s := range subs {
		name := typ
		if s.legacy && stream == TypePlatform {
			if name = legacyNames[typ]; name == "" {
				continue
			}
		}
		var b []byte
		if s.legacy {
			if legacy == nil {
				legacy, _ = json.Marshal(record{ts, name, rec})
			}
			b = legacy
		} else {
			if modern == nil {
				modern, _ = json.Marshal(record{ts, name, rec})
			}
			b = modern
		}
		s.add(stream, b)
	}
}

// add buffers b when s wants stream, and arranges its delivery.
func (s *subscription) add(stream string, b []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.types[stream] {
		return
	}
	s.buf = append(s.buf, b)
	s.bytes += len(b)
	for len(s.buf) > backlogFactor*s.maxItems || s.bytes > backlogFactor*s.maxBytes {
		s.bytes -= len(s.buf[0])
		s.buf[0] = nil
		s.buf = s.buf[1:]
		s.dropped++
	}
	if len(s.buf) >= s.maxItems || s.bytes >= s.maxBytes {
		s.kickLocked()
		return
	}
	if s.timer == nil {
		s.timer = time.AfterFunc(s.timeout, func() {
			s.mu.Lock()
			s.timer = nil
			s.kickLocked()
			s.mu.Unlock()
		})
	}
}

func (s *subscription) kickLocked() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// dispatch delivers s's batches, one at a time, until s is replaced or
// the Manager closes.
func (m *Manager) dispatch(s *subscription) {
	for {
		select {
		case <-s.kick:
		case <-m.closedCh:
			return
		}
		for {
			s.mu.Lock()
			if s.types == nil {
				s.mu.Unlock()
				return
			}
			batch, n := s.takeLocked()
			if n == 0 {
				s.inFlight = false
				close(s.idle)
				s.idle = make(chan struct{})
				s.mu.Unlock()
				break
			}
			s.inFlight = true
			s.mu.Unlock()
			ctx, cancel := context.WithTimeout(context.Background(), deliverTimeout)
			_ = m.tel.deliver(ctx, s.uri, batch) // a subscriber that fails loses the batch, as on Lambda
			cancel()
		}
	}
}

// takeLocked takes one batch off the buffer: at most maxItems records and
// maxBytes bytes (at least one record), as a JSON array.
func (s *subscription) takeLocked() ([]byte, int) {
	if s.timer != nil {
		s.timer.Stop()
		s.timer = nil
	}
	n, size := 0, 0
	for n < len(s.buf) && n < s.maxItems && (n == 0 || size+len(s.buf[n]) <= s.maxBytes) {
		size += len(s.buf[n])
		n++
	}
	if n == 0 {
		return nil, 0
	}
	var b bytes.Buffer
	b.Grow(size + n + 2)
	b.WriteByte('[')
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(s.buf[i])
		s.buf[i] = nil
	}
	b.WriteByte(']')
	s.buf = s.buf[n:]
	s.bytes -= size
	return b.Bytes(), n
}

// FlushTelemetry delivers every buffered record now and waits until the
// subscribers got them (or failed), or ctx ends.
func (m *Manager) FlushTelemetry(ctx context.Context) error {
	m.tel.mu.Lock()
	subs := make([]*subscription, 0, len(m.tel.subs))
	for _, s := range m.tel.subs {
		subs = append(subs, s)
	}
	m.tel.mu.Unlock()
	for _, s := range subs {
		s.mu.Lock()
		if len(s.buf) == 0 && !s.inFlight {
			s.mu.Unlock()
			continue
		}
		idle := s.idle
		s.kickLocked()
		s.mu.Unlock()
		select {
		case <-idle:
		case <-ctx.Done():
			return ctx.Err()
		case <-m.closedCh:
			return ErrClosed
		}
	}
	return nil
}

// Listening reports whether a record emitted now would be kept: an
// extension subscribed, or the init phase's records are still collected.
func (m *Manager) Listening() bool {
	m.mu.Lock()
	open := !m.regClosed && !m.closed
	m.mu.Unlock()
	return open || m.TelemetrySubscribed()
}
