package extensions

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Wire strings of the Extensions API (AWS Lambda documentation, "Lambda
// Extensions API"; error types from the emulator's rapi/handler/constants.go).
const (
	// PathPrefix is where the Extensions API is served.
	PathPrefix = "/2020-01-01/extension/"

	hdrName       = "Lambda-Extension-Name"
	hdrIdentifier = "Lambda-Extension-Identifier"
	hdrEventID    = "Lambda-Extension-Event-Identifier"
	hdrErrorType  = "Lambda-Extension-Function-Error-Type"
	hdrFeatures   = "Lambda-Extension-Accept-Feature"

	errNameInvalid          = "Extension.InvalidExtensionName"
	errRegistrationClosed   = "Extension.RegistrationClosed"
	errIdentifierUnknown    = "Extension.UnknownExtensionIdentifier"
	errIdentifierMissing    = "Extension.MissingExtensionIdentifier"
	errInvalidState         = "Extension.InvalidExtensionState"
	errMissingHeader        = "Extension.MissingHeader"
	errTooManyExtensions    = "Extension.TooManyExtensions"
	errInvalidEventType     = "Extension.InvalidEventType"
	errInvalidRequestFormat = "InvalidRequestFormat"

	// EventInvoke and EventShutdown are the event types.
	EventInvoke   = "INVOKE"
	EventShutdown = "SHUTDOWN"

	// Error types the worker reports when an extension fails the init
	// phase or an invocation (Lambda's Extension.* function errors).

	// ErrorTypeCrash: an extension exited or its failure ended the
	// sandbox.
	ErrorTypeCrash = "Extension.Crash"
	// ErrorTypeUnknown: an extension posted init/error or exit/error
	// without an error type.
	ErrorTypeUnknown = "Extension.Unknown"
)

// Shutdown reasons of a SHUTDOWN event.
const (
	ReasonSpindown = "spindown"
	ReasonTimeout  = "timeout"
	ReasonFailure  = "failure"
)

// MaxExtensions is how many extensions a sandbox may register (Lambda: 10).
const MaxExtensions = 10

// maxBody bounds a register, init/error or exit/error body.
const maxBody = 1 << 20

// Metadata is what a register answers with.
type Metadata struct {
	FunctionName    string `json:"functionName"`
	FunctionVersion string `json:"functionVersion"`
	Handler         string `json:"handler"`
	AccountID       string `json:"accountId,omitempty"`
}

// Tracing is the tracing member of an INVOKE event.
type Tracing struct {
	Type  string `json:"type"`
	Value string `json:"value"`
}

// Invoke is one INVOKE event.
type Invoke struct {
	RequestID          string
	Deadline           time.Time
	InvokedFunctionARN string
	TraceID            string
}

// Error is how an extension failed the sandbox: it posted init/error or
// exit/error. Type is what Lambda reports as the function's error type.
type Error struct {
	Extension string
	Type      string
	// Message says what happened, for the function's error message.
	Message string
	// Payload is the body the extension posted, if any.
	Payload []byte
}

func (e *Error) Error() string {
	return fmt.Sprintf("extensions: %s failed: %s", e.Extension, e.Type)
}

// ErrClosed: the Manager was closed.
var ErrClosed = errors.New("extensions: closed")

// extension is one registered extension.
type extension struct {
	id, name         string
	external         bool
	invoke, shutdown bool
	state            state
	queue            [][]byte // events not yet delivered
	wake             chan struct{}
	sawShutdown      bool
}

// Manager keeps the extensions of one sandbox. Safe for concurrent use.
//
// Lifecycle: New; serve it (ServeHTTP) from the sandbox's Runtime API
// listener; WaitReady and CloseRegistration in the init phase; Invoke and
// WaitIdle around each invocation; Shutdown before the sandbox goes;
// Close last.
type Manager struct {
	meta     Metadata
	expected []string

	mu        sync.Mutex
	byID      map[string]*extension
	byName    map[string]*extension
	regClosed bool
	closed    bool
	failure   *Error
	changed   chan struct{} // closed and replaced on every change
	closedCh  chan struct{}

	tel telemetry
}

// New returns a Manager for a sandbox whose /opt/extensions holds the
// executables named in external (their file names): they are expected to
// register before the init phase ends.
func New(meta Metadata, external []string) *Manager {
	return &Manager{
		meta: meta, expected: append([]string(nil), external...),
		byID: map[string]*extension{}, byName: map[string]*extension{},
		changed: make(chan struct{}), closedCh: make(chan struct{}),
	}
}

// Expected returns the names of the external extensions.
func (m *Manager) Expected() []string { return m.expected }

// notifyLocked wakes every waiter on a change.
func (m *Manager) notifyLocked() {
	close(m.changed)
	m.changed = make(chan struct{})
}

// wait blocks until done reports true (under mu), ctx ends, or the
// Manager closes.
func (m *Manager) wait(ctx context.Context, done func() (bool, error)) error {
	for {
		m.mu.Lock()
		ok, err := done()
		ch := m.changed
		closed := m.closed
		m.mu.Unlock()
		if ok || err != nil {
			return err
		}
		if closed {
			return ErrClosed
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// WaitReady waits for the end of the extensions' init phase: every
// expected extension registered and every registered one asked for its
// first event. It returns an *Error when one failed, ctx.Err() when ctx
// ends first (the caller's Init timeout), ErrClosed after Close.
func (m *Manager) WaitReady(ctx context.Context) error {
	return m.wait(ctx, func() (bool, error) {
		if m.failure != nil {
			return false, m.failure
		}
		for _, n := range m.expected {
			if m.byName[n] == nil {
				return false, nil
			}
		}
		for _, e := range m.byID {
			if e.state == stateRegistered {
				return false, nil
			}
		}
		return true, nil
	})
}

// Pending names the expected extensions that have not registered yet, and
// the registered ones that have not asked for their first event.
func (m *Manager) Pending() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for _, n := range m.expected {
		if e := m.byName[n]; e == nil || e.state == stateRegistered {
			out = append(out, n)
		}
	}
	return out
}

// CloseRegistration ends the registration window (the end of the init
// phase): later registrations are refused.
func (m *Manager) CloseRegistration() {
	m.mu.Lock()
	m.regClosed = true
	m.mu.Unlock()
}

// Failure returns how an extension failed the sandbox, or nil.
func (m *Manager) Failure() *Error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.failure
}

// Subscribed reports whether any extension gets INVOKE, or SHUTDOWN.
func (m *Manager) Subscribed() (invoke, shutdown bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, e := range m.byID {
		invoke = invoke || e.invoke
		shutdown = shutdown || e.shutdown
	}
	return invoke, shutdown
}

// Invoke queues inv for every extension subscribed to INVOKE. It returns
// at once.
func (m *Manager) Invoke(inv Invoke) {
	body := struct {
		EventType          string   `json:"eventType"`
		DeadlineMs         int64    `json:"deadlineMs"`
		RequestID          string   `json:"requestId"`
		InvokedFunctionARN string   `json:"invokedFunctionArn"`
		Tracing            *Tracing `json:"tracing,omitempty"`
	}{EventType: EventInvoke, DeadlineMs: inv.Deadline.UnixMilli(), RequestID: inv.RequestID, InvokedFunctionARN: inv.InvokedFunctionARN}
	if inv.TraceID != "" {
		body.Tracing = &Tracing{Type: "X-Amzn-Trace-Id", Value: inv.TraceID}
	}
	b, _ := json.Marshal(body)
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, e := range m.byID {
		if e.invoke && alive(e.state) {
			m.enqueueLocked(e, b)
		}
	}
}

func alive(s state) bool { return s == stateRegistered || s == stateReady || s == stateRunning }

func (m *Manager) enqueueLocked(e *extension, ev []byte) {
	e.queue = append(e.queue, ev)
	select {
	case e.wake <- struct{}{}:
	default:
	}
	m.notifyLocked()
}

// idleLocked reports whether e has nothing left to do: it asked for its
// next event and none is queued, or it failed.
func idleLocked(e *extension) bool {
	return !alive(e.state) || (e.state == stateReady && len(e.queue) == 0)
}

// WaitIdle waits until every extension subscribed to INVOKE has asked for
// its next event after the last Invoke. It returns an *Error when one
// failed, ctx.Err() when ctx ends first, ErrClosed after Close.
func (m *Manager) WaitIdle(ctx context.Context) error {
	return m.wait(ctx, func() (bool, error) {
		if m.failure != nil {
			return false, m.failure
		}
		for _, e := range m.byID {
			if e.invoke && !idleLocked(e) {
				return false, nil
			}
		}
		return true, nil
	})
}

// Shutdown sends a SHUTDOWN event with reason and deadline to every
// extension subscribed to it, and waits until each asked for its next
// event again (or failed), or ctx ends. It ends registration. It returns
// ctx.Err() when some extension did not finish in time.
func (m *Manager) Shutdown(ctx context.Context, reason string, deadline time.Time) error {
	b, _ := json.Marshal(struct {
		EventType      string `json:"eventType"`
		ShutdownReason string `json:"shutdownReason"`
		DeadlineMs     int64  `json:"deadlineMs"`
	}{EventShutdown, reason, deadline.UnixMilli()})
	m.mu.Lock()
	m.regClosed = true
	var targets []*extension
	for _, e := range m.byID {
		if e.shutdown && alive(e.state) && !e.sawShutdown {
			e.sawShutdown = true
			m.enqueueLocked(e, b)
			targets = append(targets, e)
		}
	}
	m.mu.Unlock()
	if len(targets) == 0 {
		return nil
	}
	return m.wait(ctx, func() (bool, error) {
		for _, e := range targets {
			if !idleLocked(e) {
				return false, nil
			}
		}
		return true, nil
	})
}

// Close wakes every parked request and waiter; they end. Idempotent.
func (m *Manager) Close() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return
	}
	m.closed = true
	close(m.closedCh)
	m.notifyLocked()
}

// ServeHTTP serves the Extensions API below PathPrefix and the Telemetry
// and Logs APIs' subscriptions (telemetry.go); other paths get 404, a
// known path with the wrong method 405.
func (m *Manager) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rest, ok := strings.CutPrefix(r.URL.Path, PathPrefix)
	if !ok {
		var legacy bool
		switch strings.TrimSuffix(r.URL.Path, "/") {
		case RegisteredPath:
			m.registered(w, r)
			return
		case TelemetryPath:
		case LogsPath:
			legacy = true
		default:
			http.NotFound(w, r)
			return
		}
		if r.Method != http.MethodPut {
			w.Header().Set("Allow", http.MethodPut)
			w.WriteHeader(http.StatusMethodNotAllowed)
			return
		}
		m.subscribe(w, r, legacy)
		return
	}
	method := http.MethodPost
	var h func(http.ResponseWriter, *http.Request)
	switch rest {
	case "register":
		h = m.register
	case "event/next":
		method, h = http.MethodGet, m.next
	case "init/error":
		h = func(w http.ResponseWriter, r *http.Request) { m.reportError(w, r, evInitError) }
	case "exit/error":
		h = func(w http.ResponseWriter, r *http.Request) { m.reportError(w, r, evExitError) }
	default:
		http.NotFound(w, r)
		return
	}
	if r.Method != method {
		w.Header().Set("Allow", method)
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	h(w, r)
}

// apiError is the emulator's error body.
type apiError struct {
	ErrorMessage string `json:"errorMessage"`
	ErrorType    string `json:"errorType"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func forbidden(w http.ResponseWriter, typ, format string, args ...any) {
	writeJSON(w, http.StatusForbidden, apiError{fmt.Sprintf(format, args...), typ})
}

func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// register serves POST /register.
func (m *Manager) register(w http.ResponseWriter, r *http.Request) {
	name := r.Header.Get(hdrName)
	if name == "" {
		forbidden(w, errNameInvalid, "Empty extension name")
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil || len(body) > maxBody {
		forbidden(w, errInvalidRequestFormat, "request body too large or unreadable")
		return
	}
	var req struct {
		Events            []string `json:"events"`
		ConfigurationKeys []string `json:"configurationKeys"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		forbidden(w, errInvalidRequestFormat, "%s", err.Error())
		return
	}
	if len(req.ConfigurationKeys) != 0 {
		forbidden(w, errInvalidRequestFormat, "configurationKeys are deprecated; use environment variables instead")
		return
	}
	external := false
	for _, n := range m.expected {
		if n == name {
			external = true
		}
	}
	e := &extension{id: newUUID(), name: name, external: external, state: stateRegistered, wake: make(chan struct{}, 1)}
	for _, ev := range req.Events {
		switch {
		case ev == EventInvoke:
			e.invoke = true
		case ev == EventShutdown && external:
			e.shutdown = true
		case ev == EventShutdown:
			forbidden(w, errInvalidEventType, "%s: %s", ev, "internal extensions cannot subscribe to SHUTDOWN")
			return
		default:
			forbidden(w, errInvalidEventType, "%s: %s", ev, "unknown event type")
			return
		}
	}
	m.mu.Lock()
	switch {
	case m.byName[name] != nil:
		old := m.byName[name]
		m.mu.Unlock()
		forbidden(w, errInvalidState, "State transition from %s to %s failed for extension %s. Error: %s",
			old.state, "Registered", name, "Extension with this name already registered")
		return
	case m.regClosed || m.closed:
		m.mu.Unlock()
		forbidden(w, errRegistrationClosed, "Extension registration closed already")
		return
	case len(m.byID) >= MaxExtensions:
		m.mu.Unlock()
		forbidden(w, errTooManyExtensions, "Extension limit (%d) reached", MaxExtensions)
		return
	}
	m.byID[e.id] = e
	m.byName[name] = e
	m.notifyLocked()
	m.mu.Unlock()

	resp := m.meta
	if !strings.Contains(r.Header.Get(hdrFeatures), "accountId") {
		resp.AccountID = ""
	}
	w.Header().Set(hdrIdentifier, e.id)
	writeJSON(w, http.StatusOK, resp)
}

// identify finds the extension a request names, or answers 403.
func (m *Manager) identify(w http.ResponseWriter, r *http.Request) *extension {
	id := r.Header.Get(hdrIdentifier)
	if id == "" {
		forbidden(w, errIdentifierMissing, "Missing %s header", hdrIdentifier)
		return nil
	}
	m.mu.Lock()
	e := m.byID[id]
	m.mu.Unlock()
	if e == nil {
		forbidden(w, errIdentifierUnknown, "Unknown extension %s", id)
		return nil
	}
	return e
}

// moveLocked makes e's move ev, or returns false.
func moveLocked(e *extension, ev event) bool {
	n := e.state.next(ev)
	if n == stateNone {
		return false
	}
	e.state = n
	return true
}

// next serves GET /event/next: it parks until an event is queued for the
// extension, then sends it.
func (m *Manager) next(w http.ResponseWriter, r *http.Request) {
	e := m.identify(w, r)
	if e == nil {
		return
	}
	m.mu.Lock()
	from := e.state
	if !moveLocked(e, evNext) {
		m.mu.Unlock()
		forbidden(w, errInvalidState, "State transition from %s to %s failed for extension %s. Error: %s",
			from, targetNames[evNext], e.name, "illegal state transition")
		return
	}
	m.notifyLocked()
	for {
		if len(e.queue) > 0 && e.state == stateReady {
			ev := e.queue[0]
			e.queue = e.queue[1:]
			_ = moveLocked(e, evDeliver) // Ready → Running: listed
			m.notifyLocked()
			m.mu.Unlock()
			w.Header().Set(hdrEventID, newUUID())
			writeJSON(w, http.StatusOK, json.RawMessage(ev))
			return
		}
		if e.state != stateReady || m.closed {
			m.mu.Unlock()
			panic(http.ErrAbortHandler)
		}
		m.mu.Unlock()
		select {
		case <-e.wake:
		case <-m.closedCh:
		case <-r.Context().Done():
			return // still Ready: the event waits for its next /next
		}
		m.mu.Lock()
	}
}

// reportError serves POST /init/error and /exit/error.
func (m *Manager) reportError(w http.ResponseWriter, r *http.Request, ev event) {
	e := m.identify(w, r)
	if e == nil {
		return
	}
	typ := r.Header.Get(hdrErrorType)
	if typ == "" {
		forbidden(w, errMissingHeader, "%s not found", hdrErrorType)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil || len(body) > maxBody {
		body = nil
	}
	m.mu.Lock()
	from := e.state
	if !moveLocked(e, ev) {
		m.mu.Unlock()
		forbidden(w, errInvalidState, "State transition from %s to %s failed for extension %s. Error: %s",
			from, targetNames[ev], e.name, "illegal state transition")
		return
	}
	if m.failure == nil {
		m.failure = &Error{Extension: e.name, Type: typ, Payload: body}
	}
	m.notifyLocked()
	m.mu.Unlock()
	writeJSON(w, http.StatusAccepted, struct {
		Status string `json:"status"`
	}{"OK"})
}

// Exited tells the Manager that the process of the external extension
// name exited with status. Before its SHUTDOWN event that is a crash: the
// sandbox fails with Extension.Crash (WaitReady, WaitIdle). After it, the
// extension is done with SHUTDOWN. Unknown names are ignored.
func (m *Manager) Exited(name string, status int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e := m.byName[name]
	if e == nil {
		known := false
		for _, n := range m.expected {
			known = known || n == name
		}
		if known && m.failure == nil {
			m.failure = &Error{Extension: name, Type: ErrorTypeCrash, Message: fmt.Sprintf("exited with status %d before it registered", status)}
		}
		m.notifyLocked()
		return
	}
	failed := e.state == stateInitError || e.state == stateExitError
	if !moveLocked(e, evExit) {
		return
	}
	if !e.sawShutdown && !failed && m.failure == nil {
		m.failure = &Error{Extension: name, Type: ErrorTypeCrash, Message: fmt.Sprintf("exited with status %d", status)}
	}
	m.notifyLocked()
}

// RegisteredPath is Kumo's own endpoint (not Lambda's) that the worker's
// extension launcher calls before it starts the runtime: GET blocks until
// every external extension registered (or one failed, or the Manager
// closed), so that the runtime starts after them, as Lambda orders its
// Init phase.
const RegisteredPath = "/kumo/extensions/registered"

// registered serves GET RegisteredPath.
func (m *Manager) registered(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	err := m.wait(r.Context(), func() (bool, error) {
		if m.failure != nil {
			return true, nil // the init phase fails; the runtime may start
		}
		for _, n := range m.expected {
			if m.byName[n] == nil {
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil && !errors.Is(err, ErrClosed) {
		return // the launcher went away
	}
	w.Header().Set("Content-Type", "text/plain")
	_, _ = w.Write([]byte("OK\n"))
}
