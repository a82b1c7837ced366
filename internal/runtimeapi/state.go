package runtimeapi

import "fmt"

// state is where the runtime of the sandbox is in its lifecycle. The names
// the runtime can see in error messages are RIE's (core/state_names.go).
type state uint8

const (
	stateNone state = iota // not a state: a refused move in transitions
	// stateStarted: the process runs its init phase; it has not polled
	// /next yet.
	stateStarted
	// stateInitError: the runtime posted /init/error.
	stateInitError
	// stateReady: exactly one /next is parked, waiting for an invocation.
	stateReady
	// stateRunning: the runtime holds the invocation currentID.
	stateRunning
	// stateResponseSent: the runtime is between polls: it posted the
	// result of currentID, or a parked /next went away. Its next move is
	// /next.
	stateResponseSent
	// stateAbandoned: Invoke gave up on an invocation the runtime held.
	stateAbandoned
	// stateExited: the process exited.
	stateExited
	// stateClosed: the Server was closed.
	stateClosed
	numStates
)

var stateNames = [numStates]string{
	stateNone:         "None",
	stateStarted:      "Started",
	stateInitError:    "InitError",
	stateReady:        "Ready",
	stateRunning:      "Running",
	stateResponseSent: "RuntimeResponseSentState",
	stateAbandoned:    "Abandoned",
	stateExited:       "Exited",
	stateClosed:       "Closed",
}

func (s state) String() string {
	if s < numStates {
		return stateNames[s]
	}
	return fmt.Sprintf("state(%d)", uint8(s))
}

// event is something that moves the state: a runtime's request or a call
// of the Server's methods.
type event uint8

const (
	// evNext: the runtime called GET /invocation/next.
	evNext event = iota
	// evNextGone: a parked /next went away before it got an invocation.
	evNextGone
	// evDeliver: the pending invocation was handed to the parked /next.
	evDeliver
	// evResponse: the runtime posted /invocation/{id}/response.
	evResponse
	// evError: the runtime posted /invocation/{id}/error.
	evError
	// evInitError: the runtime posted /init/error.
	evInitError
	// evAbandon: Invoke gave up (its context ended) after delivery.
	evAbandon
	// evExit: RuntimeExited.
	evExit
	// evClose: Close.
	evClose
	numEvents
)

// eventNames name the target of a runtime's move in InvalidStateTransition
// messages, as RIE does (the state it would have entered).
var eventNames = [numEvents]string{
	evNext:      "Ready",
	evNextGone:  "NextGone",
	evDeliver:   "Running",
	evResponse:  "InvocationResponse",
	evError:     "InvocationErrorResponse",
	evInitError: "InitError",
	evAbandon:   "Abandoned",
	evExit:      "Exited",
	evClose:     "Closed",
}

func (e event) String() string {
	if e < numEvents {
		return eventNames[e]
	}
	return fmt.Sprintf("event(%d)", uint8(e))
}

// transitions lists every allowed move: transitions[from][event] is the
// state entered. Everything not listed (stateNone) is refused.
var transitions = [numStates][numEvents]state{
	stateStarted: {
		evNext:      stateReady, // init done
		evInitError: stateInitError,
		evExit:      stateExited,
		evClose:     stateClosed,
	},
	stateInitError: {
		evExit:  stateExited,
		evClose: stateClosed,
	},
	stateReady: {
		evDeliver:  stateRunning,
		evNextGone: stateResponseSent,
		evExit:     stateExited,
		evClose:    stateClosed,
	},
	stateRunning: {
		evResponse: stateResponseSent,
		evError:    stateResponseSent,
		evAbandon:  stateAbandoned,
		evExit:     stateExited,
		evClose:    stateClosed,
	},
	stateResponseSent: {
		evNext:  stateReady,
		evExit:  stateExited,
		evClose: stateClosed,
	},
	stateAbandoned: {
		evExit:  stateExited,
		evClose: stateClosed,
	},
	stateExited: {
		evClose: stateClosed,
	},
	stateClosed: {},
}

// next returns the state e leads to from s, or stateNone if the move is
// not allowed.
func (s state) next(e event) state {
	if s >= numStates || e >= numEvents {
		return stateNone
	}
	return transitions[s][e]
}

// transitionError is a refused move.
type transitionError struct {
	from state
	ev   event
}

func (e *transitionError) Error() string {
	return fmt.Sprintf("runtimeapi: illegal state transition: %s → %s", e.from, e.ev)
}

// message is the errorMessage the runtime is sent (RIE's wording).
func (e *transitionError) message() string {
	return fmt.Sprintf(msgTransition, e.from, e.ev)
}
