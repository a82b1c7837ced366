package runtimeapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"
)

// Invocation is one event handed to the runtime.
type Invocation struct {
	// RequestID is sent as Lambda-Runtime-Aws-Request-Id. Required.
	RequestID string
	// Payload is the event, sent as the body of /next.
	Payload []byte
	// Deadline is sent as Lambda-Runtime-Deadline-Ms (Unix milliseconds).
	// When zero, the deadline of Invoke's context is used.
	Deadline time.Time
	// FunctionARN is sent as Lambda-Runtime-Invoked-Function-Arn.
	FunctionARN string
	// TraceID is sent as Lambda-Runtime-Trace-Id.
	TraceID string
	// ClientContext is sent as Lambda-Runtime-Client-Context: JSON text,
	// already base64-decoded by the caller.
	ClientContext string
	// CognitoIdentity is sent as Lambda-Runtime-Cognito-Identity (JSON).
	CognitoIdentity string
	// Stream, if set, receives a response the runtime streams as it
	// arrives (stream.go); the Result then has Streamed set and no
	// Payload. Without it a streamed response is read whole.
	Stream ResponseStream
}

// Result is how the runtime finished an invocation.
type Result struct {
	// Payload is the response body, or the error payload the runtime
	// posted (or Kumo wrote for it, see ErrorType). Owned by the caller.
	Payload []byte
	// Error: the invocation failed: the runtime posted /error (or a
	// Lambda-Runtime-Function-Error-Type trailer on /response), or its
	// response broke a rule (too large, bad response mode, truncated).
	Error bool
	// ErrorType, when Error: the Lambda-Runtime-Function-Error-Type header
	// (or trailer) if the runtime sent one, else the errorType member of
	// the JSON body, else Runtime.Unknown; or one of the ErrorType
	// constants when Kumo failed the invocation. Lambda's Invoke API says
	// X-Amz-Function-Error: Unhandled for all of them.
	ErrorType string
	// Streamed: the runtime streamed the response and it went to the
	// invocation's Stream, not into Payload.
	Streamed bool
}

// Options configure a Server.
type Options struct {
	// Logger receives the refused requests of a misbehaving runtime (at
	// debug level) and HTTP server errors. Default: slog.Default().
	Logger *slog.Logger
	// MaxResponseBytes bounds a /response, /error or /init/error body.
	// Default: DefaultMaxResponseBytes.
	MaxResponseBytes int64
	// MaxConnections bounds the connections open at once from the
	// sandbox; more are refused. Default: DefaultMaxConnections.
	MaxConnections int
	// MaxStreamedBytes bounds a streamed response forwarded to an
	// Invocation's Stream. Default: DefaultMaxStreamedBytes.
	MaxStreamedBytes int64
	// Extra serves the requests outside the Runtime API's paths (the
	// Extensions API, see extensions.go); nil: 404.
	Extra http.Handler
}

// Server serves the Runtime API to one sandbox. Its methods are safe for
// concurrent use; Invoke runs one invocation at a time.
//
// Lifecycle: New, then Serve (once, in its own goroutine); WaitInit; any
// number of Invoke; RuntimeExited whenever the process ends; Close last.
type Server struct {
	log      *slog.Logger
	max      int64
	maxConns int
	srv      *http.Server
	tooLarge []byte // 413 body
	extra    http.Handler

	maxStream int64 // Options.MaxStreamedBytes (stream.go)

	// wake holds a token when an invocation may be waiting for the
	// parked /next; a hint only, the truth is under mu.
	wake chan struct{}
	// results carries the Result of the invocation Invoke waits for; it
	// is sent under mu, at most one at a time.
	results  chan *Result
	initDone chan struct{} // closed when init ended: initErr says how
	dead     chan struct{} // closed when no invocation can run: deadErr says why
	closing  chan struct{} // closed by Close

	slow          *chanListener // connections handed to srv (conn.go)
	headerTimeout time.Duration
	connWG        sync.WaitGroup // connection goroutines

	mu        sync.Mutex
	serving   bool           // Serve was called
	ln        net.Listener   // Serve's listener, closed by Close
	conns     map[*conn]bool // connections the transport serves
	parked    *conn          // the connection whose /next waits, if any (conn.go)
	state     state
	inv       *Invocation // the invocation Invoke waits for: pending until delivered
	currentID string      // request id of the last invocation delivered
	initErr   error
	deadErr   error
	initEnded bool
	isDead    bool
}

// New returns a Server in the Started state.
func New(opts Options) *Server {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.MaxResponseBytes <= 0 {
		opts.MaxResponseBytes = DefaultMaxResponseBytes
	}
	if opts.MaxConnections <= 0 {
		opts.MaxConnections = DefaultMaxConnections
	}
	s := &Server{
		log:      opts.Logger,
		max:      opts.MaxResponseBytes,
		maxConns: opts.MaxConnections,
		tooLarge: bodyTooLarge(opts.MaxResponseBytes),
		extra:    opts.Extra,
		wake:     make(chan struct{}, 1),
		results:  make(chan *Result, 1),
		initDone: make(chan struct{}),
		dead:     make(chan struct{}),
		closing:  make(chan struct{}),
		state:    stateStarted,
	}
	s.maxStream = opts.MaxStreamedBytes
	s.headerTimeout = headerTimeout
	s.conns = make(map[*conn]bool)
	s.srv = &http.Server{
		Handler:  s,
		ErrorLog: slog.NewLogLogger(opts.Logger.Handler(), slog.LevelDebug),
		// The runtime long-polls /next: no read, write or idle timeouts.
		ReadHeaderTimeout: time.Minute,
	}
	return s
}

// Serve answers the runtime's requests on l until Close, then returns nil.
// At most Options.MaxConnections connections are open at once; more are
// closed as soon as they are accepted. Call it once.
//
// The Runtime API's own requests are served by the transport (conn.go);
// a connection that asks for anything else is handed to an http.Server
// that serves it with ServeHTTP.
func (s *Server) Serve(l net.Listener) error {
	cl := newCapListener(l, s.maxConns, s.log)
	s.mu.Lock()
	if s.serving {
		s.mu.Unlock()
		return errors.New("runtimeapi: Serve called twice")
	}
	s.serving = true
	s.ln = cl
	s.slow = newChanListener(l.Addr())
	closed := s.state == stateClosed
	s.mu.Unlock()
	if closed {
		l.Close()
		return nil
	}
	slowDone := make(chan struct{})
	go func() {
		defer close(slowDone)
		_ = s.srv.Serve(s.slow) // ends with Close
	}()
	for {
		nc, err := cl.Accept()
		if err != nil {
			select {
			case <-s.closing:
				s.connWG.Wait()
				<-slowDone
				return nil
			default:
			}
			return err
		}
		s.connWG.Add(1)
		go s.serveConn(nc)
	}
}

// track records c as open; false when the Server is closed.
func (s *Server) track(c *conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state == stateClosed {
		return false
	}
	s.conns[c] = true
	return true
}

func (s *Server) untrack(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

// WaitInit waits for the end of the runtime's init phase. It returns nil
// once the runtime first polled /next, an *InitError if it posted
// /init/error, an error wrapping ErrRuntimeExited if it exited first,
// ErrClosed after Close, or ctx.Err(). Any number of callers may wait.
func (s *Server) WaitInit(ctx context.Context) error {
	select {
	case <-s.initDone:
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.initErr
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Invoke hands inv to the runtime's parked (or next) /next and waits for
// its /response or /error. It may be called before init ended: the
// invocation then goes to the first /next, and an init failure is
// returned as WaitInit would.
//
// ctx is the function's timeout. When it ends before the runtime answered,
// Invoke returns ctx.Err(): if the runtime already held the invocation,
// the Server refuses every later Invoke (ErrAbandoned) and the sandbox is
// to be destroyed; if not, the invocation is simply withdrawn.
//
// Invoke returns ErrBusy while another Invoke is in progress. inv and its
// Payload must not change until the runtime has read them, which can
// outlast an abandoned Invoke; Invoke never modifies them.
func (s *Server) Invoke(ctx context.Context, inv *Invocation) (*Result, error) {
	if inv == nil || inv.RequestID == "" {
		return nil, errors.New("runtimeapi: invocation without a request id")
	}
	if inv.Deadline.IsZero() {
		if d, ok := ctx.Deadline(); ok {
			c := *inv
			c.Deadline = d
			inv = &c
		}
	}
	s.mu.Lock()
	if s.inv != nil {
		s.mu.Unlock()
		return nil, ErrBusy
	}
	switch s.state {
	case stateStarted, stateReady, stateResponseSent:
	default:
		err := fmt.Errorf("%w: %w", ErrNotDelivered, s.refusalLocked())
		s.mu.Unlock()
		return nil, err
	}
	s.inv = inv
	if s.state == stateReady && s.parked != nil {
		// The transport parked the runtime's /next: write the event to
		// its connection from here.
		c := s.unparkLocked()
		closing := c.closeAfter
		_ = s.toLocked(evDeliver) // Ready → Running: listed
		s.currentID = inv.RequestID
		s.mu.Unlock()
		c.deliver(ctx, inv, closing)
	} else {
		parked := s.state == stateReady // a /next the http.Server serves
		s.mu.Unlock()
		if parked {
			select {
			case s.wake <- struct{}{}:
			default:
			}
		}
	}

	select {
	case r := <-s.results:
		return r, nil
	case <-s.dead:
		s.mu.Lock()
		if s.inv != inv {
			// The result was committed before the runtime died.
			s.mu.Unlock()
			return <-s.results, nil
		}
		s.inv = nil
		err := s.refusalLocked()
		if s.currentID != inv.RequestID {
			// The runtime died before it took the invocation: the
			// caller may run it elsewhere.
			err = fmt.Errorf("%w: %w", ErrNotDelivered, err)
		}
		s.mu.Unlock()
		return nil, err
	case <-ctx.Done():
		s.mu.Lock()
		if s.inv != inv {
			s.mu.Unlock()
			return <-s.results, nil
		}
		s.inv = nil
		if s.state == stateRunning {
			_ = s.toLocked(evAbandon) // Running → Abandoned: listed
		}
		s.mu.Unlock()
		return nil, ctx.Err()
	}
}

// refusalLocked is why Invoke cannot run in the current state.
func (s *Server) refusalLocked() error {
	switch s.state {
	case stateClosed:
		return ErrClosed
	case stateAbandoned:
		return ErrAbandoned
	case stateRunning:
		return ErrBusy
	}
	if s.deadErr != nil {
		return s.deadErr
	}
	return fmt.Errorf("runtimeapi: cannot invoke in state %s", s.state)
}

// RuntimeExited tells the Server the sandbox's process exited with err
// (may be nil). WaitInit and Invoke waiting return an error wrapping
// ErrRuntimeExited and err. Later calls, and calls after Close, do nothing.
func (s *Server) RuntimeExited(err error) {
	e := ErrRuntimeExited
	if err != nil {
		e = fmt.Errorf("%w: %w", ErrRuntimeExited, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.toLocked(evExit) != nil {
		return
	}
	s.endInitLocked(e)
	s.dieLocked(e)
	s.unparkLocked()
}

// Close stops serving, closes the listener and every connection, and wakes
// every waiter with ErrClosed. Idempotent.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.state == stateClosed {
		s.mu.Unlock()
		return nil
	}
	if err := s.toLocked(evClose); err != nil {
		s.mu.Unlock()
		return err
	}
	s.endInitLocked(ErrClosed)
	s.dieLocked(ErrClosed)
	close(s.closing)
	s.unparkLocked()
	ln := s.ln
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	if ln != nil {
		ln.Close()
		s.slow.Close()
	}
	for _, c := range conns {
		c.nc.Close()
	}
	return s.srv.Close()
}

// toLocked makes the move e, or returns a *transitionError.
func (s *Server) toLocked(e event) error {
	n := s.state.next(e)
	if n == stateNone {
		return &transitionError{from: s.state, ev: e}
	}
	s.state = n
	return nil
}

// endInitLocked ends the init phase with err (nil: success); once.
func (s *Server) endInitLocked(err error) {
	if s.initEnded {
		return
	}
	s.initEnded, s.initErr = true, err
	close(s.initDone)
}

// dieLocked records that no invocation can run any more, and why; once.
func (s *Server) dieLocked(err error) {
	if s.isDead {
		return
	}
	s.isDead, s.deadErr = true, err
	close(s.dead)
}
