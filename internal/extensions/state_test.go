package extensions

import "testing"

func TestTransitions(t *testing.T) {
	for _, tc := range []struct {
		from state
		ev   event
		want state
	}{
		{stateRegistered, evNext, stateReady},
		{stateRegistered, evDeliver, stateNone},
		{stateRegistered, evInitError, stateInitError},
		{stateReady, evDeliver, stateRunning},
		{stateReady, evInitError, stateNone},
		{stateRunning, evNext, stateReady},
		{stateRunning, evDeliver, stateNone},
		{stateRunning, evInitError, stateNone},
		{stateRunning, evExitError, stateExitError},
		{stateInitError, evNext, stateNone},
		{stateExitError, evNext, stateNone},
		{stateNone, evNext, stateNone},
		{stateRunning, evExit, stateExited},
		{stateInitError, evExit, stateExited},
		{stateExited, evNext, stateNone},
		{stateExited, evExit, stateNone},
	} {
		if got := tc.from.next(tc.ev); got != tc.want {
			t.Errorf("%s --%s--> %s, want %s", tc.from, targetNames[tc.ev], got, tc.want)
		}
	}
}
