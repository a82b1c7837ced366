package runtimeapi

import (
	"errors"
	"fmt"
	"testing"
)

// allowed is the lifecycle written out a second time, move by move, so a
// change to transitions must be made on purpose in both places.
var allowed = map[[2]string]string{
	{"Started", "Ready"}:     "Ready", // first /next: init done
	{"Started", "InitError"}: "InitError",
	{"Started", "Exited"}:    "Exited",
	{"Started", "Closed"}:    "Closed",

	{"InitError", "Exited"}: "Exited",
	{"InitError", "Closed"}: "Closed",

	{"Ready", "Running"}:  "Running",
	{"Ready", "NextGone"}: "RuntimeResponseSentState",
	{"Ready", "Exited"}:   "Exited",
	{"Ready", "Closed"}:   "Closed",

	{"Running", "InvocationResponse"}:      "RuntimeResponseSentState",
	{"Running", "InvocationErrorResponse"}: "RuntimeResponseSentState",
	{"Running", "Abandoned"}:               "Abandoned",
	{"Running", "Exited"}:                  "Exited",
	{"Running", "Closed"}:                  "Closed",

	{"RuntimeResponseSentState", "Ready"}:  "Ready",
	{"RuntimeResponseSentState", "Exited"}: "Exited",
	{"RuntimeResponseSentState", "Closed"}: "Closed",

	{"Abandoned", "Exited"}: "Exited",
	{"Abandoned", "Closed"}: "Closed",

	{"Exited", "Closed"}: "Closed",
}

func TestTransitionsEveryMove(t *testing.T) {
	for from := stateNone + 1; from < numStates; from++ {
		for ev := event(0); ev < numEvents; ev++ {
			t.Run(fmt.Sprintf("%s/%s", from, ev), func(t *testing.T) {
				want, ok := allowed[[2]string{from.String(), ev.String()}]
				s := &Server{state: from}
				err := s.toLocked(ev)
				if !ok {
					var te *transitionError
					if !errors.As(err, &te) {
						t.Fatalf("illegal move allowed: now %s", s.state)
					}
					if s.state != from {
						t.Fatalf("refused move changed the state to %s", s.state)
					}
					return
				}
				if err != nil {
					t.Fatalf("legal move refused: %v", err)
				}
				if s.state.String() != want {
					t.Fatalf("entered %s, want %s", s.state, want)
				}
			})
		}
	}
}

func TestTransitionsNoneIsNotAState(t *testing.T) {
	for ev := event(0); ev < numEvents; ev++ {
		if n := stateNone.next(ev); n != stateNone {
			t.Errorf("None --%s--> %s", ev, n)
		}
	}
	if n := numStates.next(evNext); n != stateNone {
		t.Errorf("out-of-range state moved to %s", n)
	}
	if n := stateStarted.next(numEvents); n != stateNone {
		t.Errorf("out-of-range event moved to %s", n)
	}
}

func TestTransitionMessage(t *testing.T) {
	te := &transitionError{from: stateResponseSent, ev: evResponse}
	want := "State transition from RuntimeResponseSentState to InvocationResponse failed for runtime. Error: State transition is not allowed"
	if got := te.message(); got != want {
		t.Errorf("message = %q\nwant      %q", got, want)
	}
}
