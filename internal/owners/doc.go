// Package owners records which running process owns a thing Kumo made on
// the host outside its data dir — a sandbox network, a cgroup parent — so
// that what a killed server left can be removed by the next server to
// start, whatever data dir it serves.
//
// A record is a file named after the thing in a directory on a tmpfs
// (/run/kumo/...), emptied at boot as the things themselves are. It holds
// the owner's pid and start time (field 22 of /proc/PID/stat), so that a
// reused pid is not taken for the owner. owners never removes the things:
// its callers do, then Forget the record.
package owners
