// Package lambdaapi serves the AWS Lambda REST API (rest-json, API version
// 2015-03-31 and its dated siblings) on top of the registry: one file per
// operation group. Handlers decode the request, call the registry and encode
// the response in the exact wire shapes; they return errors, which are
// rendered in one place (serve).
//
// The edge has already authenticated the request and read its body; this
// package never touches the store directly.
package lambdaapi
