package extensions

import "fmt"

// state is where one extension is in its lifecycle. The names are the
// emulator's (core/agentsmap.go, core/states.go), as extensions see them in
// error messages.
type state uint8

const (
	stateNone state = iota // not a state: a refused move
	// stateRegistered: it registered and runs its own init; it has not
	// asked for an event yet.
	stateRegistered
	// stateReady: it asked for its next event and waits for one (or one is
	// queued for it).
	stateReady
	// stateRunning: it holds an event and has not asked for the next.
	stateRunning
	// stateInitError: it posted init/error.
	stateInitError
	// stateExitError: it posted exit/error.
	stateExitError
	// stateExited: its process exited.
	stateExited
	numStates
)

var stateNames = [numStates]string{
	stateNone:       "None",
	stateRegistered: "Registered",
	stateReady:      "Ready",
	stateRunning:    "Running",
	stateInitError:  "InitError",
	stateExitError:  "ExitError",
	stateExited:     "Exited",
}

func (s state) String() string {
	if s < numStates {
		return stateNames[s]
	}
	return fmt.Sprintf("state(%d)", uint8(s))
}

// event moves an extension.
type event uint8

const (
	// evNext: GET /event/next.
	evNext event = iota
	// evDeliver: an event was handed to its parked /event/next.
	evDeliver
	// evInitError: POST /init/error.
	evInitError
	// evExitError: POST /exit/error.
	evExitError
	// evExit: its process exited (Manager.Exited).
	evExit
	numEvents
)

// transitions lists every allowed move; everything else is refused.
var transitions = [numStates][numEvents]state{
	stateRegistered: {
		evNext:      stateReady,
		evInitError: stateInitError,
		evExitError: stateExitError,
		evExit:      stateExited,
	},
	stateReady: {
		evNext:      stateReady, // a parked /next that went away, asked again
		evDeliver:   stateRunning,
		evExitError: stateExitError,
		evExit:      stateExited,
	},
	stateRunning: {
		evNext:      stateReady,
		evExitError: stateExitError,
		evExit:      stateExited,
	},
	stateInitError: {evExit: stateExited},
	stateExitError: {evExit: stateExited},
	stateExited:    {},
}

// next returns the state e leads to from s, or stateNone.
func (s state) next(e event) state {
	if s >= numStates || e >= numEvents {
		return stateNone
	}
	return transitions[s][e]
}

// targetNames name the state a refused move would have entered, as the
// emulator's messages do.
var targetNames = [numEvents]string{
	evNext:      "Ready",
	evDeliver:   "Running",
	evInitError: "InitError",
	evExitError: "ExitError",
	evExit:      "Exited",
}
