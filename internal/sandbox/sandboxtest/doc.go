// Package sandboxtest is the conformance suite every sandbox driver passes:
// Run checks the behaviour all drivers share, RunIsolation the isolation a
// driver's Capabilities promise. Both run a probe program (testdata/probe)
// built once per call, static, from Go source, as /var/task/bootstrap; the
// probe talks to the suite through the Runtime API listener of its
// sandbox.
//
// The suite only uses the Driver and Sandbox interfaces and the host's
// /proc; it never reaches into a driver's internals.
package sandboxtest
