package execute

// Sweep runs the check of WebSocket connections against the idle and
// duration limits now, as the server does every few seconds.
func (s *Server) Sweep() { s.sweep() }
