package asyncq

import (
	"fmt"
	"strings"
	"time"
)

// FromEnv applies the server's environment overrides to cfg:
// KUMO_ASYNC_RETRY_DELAYS (comma-separated durations, "200ms,400ms") and
// KUMO_ASYNC_ACK_WAIT (a duration).
func FromEnv(getenv func(string) string, cfg *Config) error {
	if s := getenv("KUMO_ASYNC_RETRY_DELAYS"); s != "" {
		var ds []time.Duration
		for _, f := range strings.Split(s, ",") {
			d, err := time.ParseDuration(strings.TrimSpace(f))
			if err != nil || d < 0 {
				return fmt.Errorf("KUMO_ASYNC_RETRY_DELAYS: %q is not a duration", f)
			}
			ds = append(ds, d)
		}
		cfg.RetryDelays = ds
	}
	if s := getenv("KUMO_ASYNC_ACK_WAIT"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d < time.Second {
			return fmt.Errorf("KUMO_ASYNC_ACK_WAIT: %q is not a duration of at least 1s", s)
		}
		cfg.AckWait = d
	}
	return nil
}
