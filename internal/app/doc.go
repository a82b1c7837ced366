// Package app wires Kumo's subsystems together and runs them: it starts them
// in dependency order (store, registry, API, edge) and stops them in reverse.
// It holds no logic of its own beyond that and the data dir's small files
// (root credentials, URL signing key).
package app
