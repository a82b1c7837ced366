// Package runtimes maps Lambda runtime identifiers to how a sandbox starts
// them: the command, the host files the runtime needs inside the sandbox,
// and, for the managed runtimes (pythonX.Y, nodejsN.x), Kumo's own
// bootstraps and the host interpreter that runs them.
//
// It owns the runtime table (runtime id → host interpreter, probed on the
// host or configured, with the nearest version standing in for a missing
// one) and the bootstraps embedded in the binary (bootstrap/python,
// bootstrap/nodejs), written once to a directory sandboxes mount at
// /var/runtime. The bootstraps use only their language's standard library
// and speak the Lambda Runtime API like any other runtime client.
//
// It never starts anything itself, and never names a host path a sandbox
// has its own of (/tmp, /proc, /dev, /etc/ssl/certs, …).
package runtimes
