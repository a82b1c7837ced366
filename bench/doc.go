// Command bench measures a Kumo server — cold starts, warm invoke latency
// and throughput, sandbox churn, memory per idle sandbox, asynchronous
// invoke — next to what this machine allows for the same primitives
// (exec, exec in namespaces, interpreter start-up, a loopback HTTP round
// trip), measured in the same run.
//
//	go run ./bench [-suite all|cold|warm|churn|density|async|floor|compare|dynamodb] [-quick]
//	               [-json out.json] [-endpoint URL] [-sandbox linux|process]
//	               [-compare-invoke URL] [-compare-function NAME]
//	               [-compare-runtime-api URL] [-compare-runtime-invoke URL]
//	               [-caller key|role]
//
// Unless -endpoint is given it builds ./cmd/kumo into a temporary
// directory and runs it on a free loopback port with a fresh data dir. It
// deploys its own functions (a Go no-op built from testdata/noop with
// aws-lambda-go, Python and Node.js no-ops, and Java and Ruby ones when
// the host has javac and ruby) with aws-sdk-go-v2, prints
// a table per measurement and, last, a markdown table for a README; -json
// writes every figure to a file as well.
//
// Invokes are signed with the server's key unless -caller role is given:
// then with a session of a role assumed with that key and a session
// policy, so that every invoke is authorized through identity and session
// policies as a non-root caller's is.
//
// -suite compare (and all) also puts Kumo next to the AWS Runtime
// Interface Emulator in one run: it builds the emulator from the Go module
// proxy (go install of a pinned pseudo-version into the user's cache
// directory, never into Kumo's go.mod), runs the same Go no-op under it,
// and prints one table: p50/p99 at 1 and 8 clients, server and runtime
// CPU per invoke from /proc, cold start, and the machine's load.
//
// It measures the server from the outside only: through the Lambda API,
// the CloudWatch Logs API and /proc and /sys/fs/cgroup of this machine.
// The one exception is internal/runtimeapi, served in-process for the
// Runtime API comparison. The emulator is a process of its own, on
// loopback ports. It deletes every function it created, and it
// never sends traffic anywhere but the endpoints it is given (loopback by
// default). Tests assert that it produced every section, never how fast.
package main
