package esm

import "fmt"

// State is a mapping's State as Lambda reports it.
type State string

// The states of an SQS mapping. The API moves a settled mapping into a
// transition (Create: Creating; Update: Enabling, Disabling or Updating;
// Delete: Deleting); the mapping's owner settles it once its poller has
// started or stopped.
const (
	Creating  State = "Creating"
	Enabling  State = "Enabling"
	Enabled   State = "Enabled"
	Disabling State = "Disabling"
	Disabled  State = "Disabled"
	Updating  State = "Updating"
	Deleting  State = "Deleting"
)

// transitions lists every allowed move; any other is refused.
var transitions = map[State][]State{
	Creating:  {Enabled, Disabled},
	Enabling:  {Enabled, Disabled},
	Disabling: {Disabled, Enabled},
	Updating:  {Enabled, Disabled},
	Enabled:   {Disabling, Updating, Deleting},
	Disabled:  {Enabling, Updating, Deleting},
	Deleting:  {},
}

// to reports whether s may move to next.
func (s State) to(next State) error {
	for _, n := range transitions[s] {
		if n == next {
			return nil
		}
	}
	return fmt.Errorf("esm: illegal state transition %s -> %s", s, next)
}

// transient reports whether s is a transition the owner has yet to settle:
// Update and Delete are refused (ResourceInUseException) meanwhile.
func (s State) transient() bool {
	switch s {
	case Enabled, Disabled:
		return false
	}
	return true
}
