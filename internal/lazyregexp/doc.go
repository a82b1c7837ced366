// Package lazyregexp is a regular expression compiled on first use.
//
// Every sandbox's init is the kumo binary re-executed, and every
// command-line start of kumo pays for the package-level variables of
// every package linked in; a regexp.MustCompile at package level runs on
// each of those starts, and a counted repetition such as {1,256} expands
// into hundreds of instructions. Package-level patterns are declared with
// New instead, and are compiled the first time they match.
//
// It owns no state beyond the compiled program and keeps nothing durable.
// It must never be used for patterns built from input: a pattern that
// fails to compile panics on first use, as regexp.MustCompile would at
// start.
package lazyregexp
