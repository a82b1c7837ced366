package app

import (
	"net/http"
	"strings"

	"github.com/kumo-run/kumo/internal/awsproto"
)

// writeGuard refuses requests that would write to the store while
// writable returns an error (the data disk is nearly full, or the store is
// being reopened after a failed write), with the service's own
// unavailable error (code, rendered by errs in the service's protocol)
// naming the cause. Reads, deletes and synchronous invokes pass: deletes
// are how space is freed, and a synchronous invoke stores nothing it
// needs (its log lines are dropped and counted by the log sink).
func writeGuard(writable func() error, errs awsproto.Renderer, code awsproto.Code, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if writes(r) {
			if err := writable(); err != nil {
				w.Header().Set("Retry-After", "30")
				errs.WriteError(w, r, awsproto.Errorf(code, "%s", err.Error()))
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// writes reports whether r may add data to the store.
func writes(r *http.Request) bool {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodDelete, http.MethodOptions:
		return false
	}
	if t := r.Header.Get("X-Amz-Target"); t != "" {
		// JSON 1.1 services (CloudWatch Logs): Logs_20140328.<Op>.
		op := t[strings.LastIndexByte(t, '.')+1:]
		for _, p := range []string{"Delete", "Describe", "Get", "Filter", "List", "Untag"} {
			if strings.HasPrefix(op, p) {
				return false
			}
		}
		return true
	}
	// Lambda's Invoke: only an Event invocation is stored.
	if strings.HasSuffix(strings.TrimSuffix(r.URL.Path, "/"), "/invocations") {
		return strings.EqualFold(r.Header.Get("X-Amz-Invocation-Type"), "Event")
	}
	return true
}
