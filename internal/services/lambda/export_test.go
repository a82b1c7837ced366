package lambda

import "time"

// SetMaxStall sets how long a streaming client may leave a piece unread,
// until the returned restore is called. Tests that use it do not run in
// parallel.
func SetMaxStall(d time.Duration) (restore func()) {
	old := maxStall
	maxStall = d
	return func() { maxStall = old }
}
