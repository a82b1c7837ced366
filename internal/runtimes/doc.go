// Package runtimes maps Lambda runtime identifiers to how a sandbox starts
// them: the command, the host files the runtime needs inside the sandbox,
// and, for the managed runtimes (pythonX.Y, nodejsN.x, javaN, ruby3.N),
// Kumo's own bootstraps, the host interpreter that runs them and the AWS
// SDK Lambda ships with them.
//
// It owns the runtime table (runtime id → host interpreter, probed on the
// host or configured, with the nearest version standing in for a missing
// one) and the bootstraps embedded in the binary (bootstrap/python,
// bootstrap/nodejs), written once to a directory sandboxes mount at
// /var/runtime. The bootstraps use only their language's standard library
// and speak the Lambda Runtime API like any other runtime client.
//
// The Python and Node.js bootstraps have a pre-started mode for the linux
// driver's snapshots (_KUMO_SNAPSHOT=1; kumo_snapshot.py,
// kumo-snapshot.js): they load what handlers commonly use (Node.js also
// runs one HTTP exchange with a throwaway loopback server, so the first
// Runtime API request skips compiling the client), write one byte to
// stdin, a socket, to say they are ready, then read the function's
// environment and working directory from it and replace their own with
// them before anything of the function is imported. The package-level
// regular expressions here compile on first use (package lazyregexp):
// every sandbox's init is the kumo binary re-executed.
//
// # Java and Ruby
//
// javaN (java8.al2, java11, java17, java21, java25) runs on a host JDK
// (/usr/lib/jvm/*, /usr/bin/java; the release file says its version).
// Kumo's runtime client (bootstrap/java: kumo.runtime.Main, a small JSON
// mapper, and its own source of aws-lambda-java-core's interfaces, same
// package names and signatures) is compiled with that JDK's javac the
// first time a function of it starts, into <runtime dir>/java-<JDK
// release>-<source hash>, which later servers on the same data directory
// reuse; nothing is fetched. The client loads the function from
// /var/task, /var/task/lib/*.jar and /opt/java/lib/*.jar in a class
// loader whose parent holds the interfaces, so a function bundling its
// own aws-lambda-java-core sees Kumo's (the same API). The JVM starts with
// Lambda's flags (C1 only, class data sharing, the serial collector) and a
// heap of 85% of the function's memory (Launch.ArgsFor). The JDK's home
// is bound whole, with the configuration Debian links from /etc.
//
// ruby3.N runs bootstrap/ruby/bootstrap.rb (json and net/http only) on the
// host Ruby, with the directories RbConfig and Gem name bound, and
// GEM_PATH naming the function's vendor/bundle and the layers' gems first.
//
// dotnetN is refused (UnsupportedError with a Reason): at CreateFunction
// and UpdateFunctionConfiguration with InvalidParameterValueException
// (Table.Check), and at Invoke with InvalidRuntimeException for a function
// stored before. Kumo has no .NET runtime client, and the message names
// the missing host .NET runtime when there is none.
//
// # Exec wrappers
//
// AWS_LAMBDA_EXEC_WRAPPER (Launch.Wrapped) puts the wrapper script in front of
// a managed runtime's command, as Lambda does (OS-only runtimes ignore it);
// ShellPaths gives the host's /bin/sh and /bin/bash with their libraries, so
// that a wrapper's #! line, and the worker's extension launcher, run in the
// sandbox.
//
// # The AWS SDKs
//
// As on Lambda, boto3 imports in every python3.x runtime and the AWS SDK
// for JavaScript v3 (@aws-sdk/client-*) resolves in nodejs18.x and later,
// after the function's own code and layers, so a function that bundles its
// own SDK gets its own:
//
//   - Python: the boto3 the runtime's interpreter imports on the host
//     (Debian's python3-boto3, or pip's in the interpreter's own
//     site-packages), located once per interpreter when the table is made,
//     without importing it. boto3 and the modules it needs beside it
//     (botocore, s3transfer, jmespath, dateutil, six, urllib3, and
//     requests with its own on Debian) are bound into the sandbox at their
//     host paths — not the directory around them, which holds everything
//     else the host installed — and bootstrap.py is given that directory
//     to append to sys.path, after the standard library. When
//     <SDKDir>/python exists it is the SDK instead (pip install --target),
//     seen at /var/runtime/python-sdk, and the host's is not used.
//     A botocore older than 1.31.57 (Debian 12 ships 1.29) ignores
//     AWS_ENDPOINT_URL; the bootstrap then points its clients there itself
//     (kumo_runtime.py, _patch_botocore), the first time the function
//     imports botocore.session, unless a client names its own endpoint.
//   - Node.js: <SDKDir>/nodejs/node_modules, which `kumo runtimes
//     install-sdk` fills from the npm registry with the pinned packages of
//     NodeSDK (InstallSDK), seen at /var/runtime/node_modules as on Lambda,
//     where Lambda's NODE_PATH names it after the layers'. Node.js's own
//     ES module resolution ignores NODE_PATH; Lambda's does not. Without
//     layers the linux driver links /var/node_modules to the SDK, where
//     Node.js's resolution finds it from /var/task in Lambda's order, at no
//     cost. Otherwise (layers with packages, the process driver) the
//     bootstrap installs resolution hooks (kumo-resolve.mjs) before it
//     imports an ES module handler, which resolve imports through NODE_PATH
//     in Lambda's order: in the loading thread on Node.js 22.15 and later
//     (module.registerHooks), in a loader thread before that
//     (module.register, tens of milliseconds of CPU at init). CommonJS
//     handlers never load them.
//
// The SDKs are found when the table is made (the server's start): an SDK
// installed later is given to sandboxes after a restart. The runtime
// directory links them by absolute path (node_modules, python-sdk); the
// linux driver binds the linked directories in their place, the process
// driver follows the links. A runtime that lacks its SDK still runs, and
// every sandbox of it starts with a WARNING line in the function's log
// saying what to install (Launch.Warning), never a silent difference.
// With the process driver the host interpreter's own site-packages stay on
// its path, as everything of the host does.
//
// It never starts anything itself but javac (once per JDK, compileJava),
// never runs npm but from InstallSDK,
// and never names a host path a sandbox has its own of (/tmp, /proc, /dev,
// /etc/ssl/certs, …).
package runtimes
