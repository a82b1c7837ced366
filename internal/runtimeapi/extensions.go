package runtimeapi

import "net/http"

// serveExtra hands a request outside the Runtime API's paths to
// Options.Extra: the Extensions API (/2020-01-01/extension/...) that
// extensions in the sandbox call on the same AWS_LAMBDA_RUNTIME_API
// address as the runtime. Without one it answers 404, as before. The
// handler shares the connection cap (Options.MaxConnections) with the
// runtime, so the worker raises it for sandboxes with extensions.
func (s *Server) serveExtra(w http.ResponseWriter, r *http.Request) {
	if s.extra == nil {
		http.NotFound(w, r)
		return
	}
	s.extra.ServeHTTP(w, r)
}
