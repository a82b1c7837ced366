// Package eventpattern is the one matcher of event patterns and filter
// policies: SNS subscription filter policies (attribute and payload
// scope), EventBridge rules and Lambda event source mapping
// FilterCriteria. A pattern is compiled once (Compile) and matched many
// times, concurrently (BenchmarkMatch: a few microseconds a match).
//
// The grammar is EventBridge's and SNS's, which share it:
//
//	{"store": ["example_corp"]}                      exact string (any of)
//	{"price": [100, 200.5]}                          exact number (numerically)
//	{"flag": [true]}, {"x": [null]}                  boolean and null (payloads)
//	{"k": [{"prefix": "ab"}]}, [{"suffix": ".png"}]  prefix, suffix
//	{"k": [{"equals-ignore-case": "Ab"}]}            case-insensitive equality
//	{"k": [{"anything-but": ["a", "b"]}]}            also a single value, numbers,
//	{"k": [{"anything-but": {"prefix": "x"}}]}       {"prefix"} and {"suffix"}
//	{"k": [{"numeric": [">", 0, "<=", 150]}]}        ranges, or ["=", 5]
//	{"k": [{"exists": true}]}, [{"exists": false}]   presence
//	{"k": [{"cidr": "10.0.0.0/24"}]}                 IP addresses
//	{"a": {"b": ["x"]}}                              nested keys (payloads)
//	{"$or": [{"a": ["x"]}, {"b": ["y"]}]}            alternatives
//
// A document matches when every key of the pattern matches (and, for each
// $or, at least one alternative does); a key matches when any of its
// conditions matches any of the values found at its path. Arrays in a
// payload are flattened: a condition matches an array when it matches one
// of its elements. A key absent from the document matches only
// {"exists": false}; anything-but needs the key present.
//
// Scope Attributes matches SNS message attributes: String (and String.*)
// values are strings, Number values numbers, String.Array values the
// elements of the JSON array they carry; Binary attributes are ignored.
// Nested keys are refused in that scope, as SNS refuses them.
//
// Without Options.SNS, EventBridge's additions are accepted too:
// {"wildcard": "a*b"}, {"prefix": {"equals-ignore-case": "x"}} (and
// suffix), {"anything-but": {"equals-ignore-case": ["x", …]}},
// {"anything-but": {"wildcard": "*/lib/*"}} (or a list of wildcards).
//
// With Options.SNS the limits and messages of SNS filter policies apply
// (at most 5 keys, at most 150 combinations, numbers within ±10^9); a
// *Error's Reason is the text SNS puts after "Invalid parameter:
// FilterPolicy: ".
//
// The package is pure: no I/O, no clocks, no globals that change. It
// never panics on any input (FuzzCompile).
package eventpattern
