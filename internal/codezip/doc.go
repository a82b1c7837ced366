// Package codezip checks and unpacks Lambda deployment packages: the zip
// files users upload as function code or layer content.
//
// Every zip is hostile input. [Inspect] runs once at upload: it reads the
// whole archive in memory, decompresses every entry while counting the bytes
// that actually come out (declared sizes may lie), and stops at the first
// broken limit or unsafe entry. [Extract] repeats every check while it
// writes the files under a fresh directory, which it moves into place only
// once complete, so the code cache keyed by CodeSha256 never sees a
// half-written tree.
//
// What the package guarantees:
//   - nothing is written outside the directory given to Extract, and no
//     extracted symlink resolves outside it;
//   - memory stays bounded by the zip's own size plus a small per-worker
//     buffer, whatever the headers declare;
//   - a rejected zip comes back as an [*Error] whose Kind says how callers
//     should answer (too large, or an invalid parameter) and whose Message
//     can be shown to the user as it is.
//
// What it must never do: recurse into archives stored inside the zip (a
// nested zip is an ordinary file to Lambda as well, so 42.zip-style
// bombs cost only their stored size), trust a size or count read from a
// header, follow a symlink while writing, or know about HTTP or AWS error
// codes — callers map Kind to those.
//
// Inspect and Extract may be called concurrently; each call uses up to
// GOMAXPROCS goroutines of its own.
package codezip
