// Package process is the sandbox driver that isolates nothing: each
// sandbox is a plain child process of the server, for development on
// machines where the linux driver cannot run (macOS, no root). It must
// never be used for code the operator does not trust.
//
// What it does:
//   - the child runs in its own process group; Destroy kills the group
//     (a descendant that leaves the group with setsid or setpgid escapes);
//   - the Runtime API listener is 127.0.0.1:0 on the host and
//     AWS_LAMBDA_RUNTIME_API is its address;
//   - stdout and stderr are piped into Spec.Stdout and Spec.Stderr;
//   - the environment is exactly Spec.Env plus AWS_LAMBDA_RUNTIME_API:
//     nothing of the server's environment leaks in;
//   - Stats.MaxMemoryBytes is the child's peak resident set size from
//     rusage once it has exited (best effort: 0 while it runs, and it
//     covers only the child and the descendants it waited for).
//
// It cannot remap paths, so paths are rewritten instead: an Args element,
// Dir, or a ':'-separated element of an Env value that is /var/task,
// /opt or /var/runtime, or starts with one of them followed by '/', gets
// that prefix replaced by Spec.CodeDir, the last of Spec.LayerDirs (the
// layer that wins) or Spec.RuntimeDir. Nothing else is rewritten: paths
// inside files, or inside longer arguments such as --x=/var/task, still
// name the sandbox layout. HostPaths are used as they are.
//
// MemoryMB, EphemeralMB and MaxProcs are not enforced (Capabilities are
// all false). Cleanup has nothing to do: a child dies with the server
// (parent-death signal), but its own children may survive a crash.
package process
