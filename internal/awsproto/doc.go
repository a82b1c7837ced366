// Package awsproto holds the AWS wire details that every Kumo service
// shares:
//
//   - The error catalogue (catalogue.go, codes_*.go): every code Kumo sends
//     as a Spec — HTTP status, message member casing, fault, whether a retry
//     can succeed, and the query code of a service that kept one. Each
//     service's codes are a table registered with Register at init;
//     Lambda's and CloudWatch Logs' come from their botocore models, and the
//     first codes of SQS, S3 and IAM show the shape the services that follow
//     use. A code registered twice panics.
//   - Error, the one error type a service returns to a client: a Code, a
//     message, extra members and headers, and an internal cause that is
//     logged, never sent. Error.Retryable reads the catalogue.
//   - A Renderer per wire protocol (render.go): RESTJSON (Lambda), JSON
//     1.0/1.1 (CloudWatch Logs; SQS's query-compatible form), Query (IAM,
//     STS, SNS), EC2Query and RESTXML (S3's unwrapped Error and the wrapped
//     ErrorResponse). Renderers send only catalogued codes, and an
//     unexpected failure as the service's own internal error. render_test.go
//     parses every code in every protocol back with aws-sdk-go-v2 and
//     botocore.
//   - WriteJSON for rest-json and JSON success bodies; request ids and the
//     authenticated caller and its Identity carried in a request's context
//     (requestid.go); SigV4 header verification (sigv4.go), with session
//     tokens resolved through an IdentityStore.
//   - The query protocol's codec (query.go): ReadQuery, UnmarshalQuery and
//     MarshalQuery between form parameters (Name.member.1,
//     Name.entry.1.key, as botocore serializes them) and tagged Go
//     structs, and WriteQueryResult for the XML success envelope. IAM,
//     STS, SNS and EC2 share it.
//   - ARNs, built and parsed in the subpackage arn.
//
// awsproto must never know about a particular service's resources or
// state: services build their messages and hand it a Code from the
// catalogue. It does no I/O besides writing responses.
package awsproto
