// Package awsproto holds the AWS wire details that every Kumo service shares:
// the error catalogue and how errors are rendered, request ids, ARNs and
// SigV4 request verification.
//
// It must never know about a particular service's resources; services build
// their messages and hand awsproto a Code from the catalogue.
package awsproto
