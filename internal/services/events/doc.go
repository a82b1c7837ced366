// Package events serves an Amazon EventBridge-compatible event bus
// service on the edge, in EventBridge's JSON 1.1 protocol (X-Amz-Target
// AWSEvents.<Operation>, SigV4 service "events"), matches the events it
// accepts against rules, delivers them to the rules' targets, and fires
// scheduled rules.
//
// Operations: Create/Describe/List/DeleteEventBus (the "default" bus
// always exists and cannot be deleted; deleting a custom bus deletes its
// rules), PutEvents (1-10 entries, 256 KB in all as EventBridge counts
// it, per-entry InvalidArgument/MalformedDetail/ResourceNotFoundException
// results), PutRule/DescribeRule/ListRules/DeleteRule (refused while the
// rule has targets)/EnableRule/DisableRule with an EventPattern
// (internal/eventpattern) or a ScheduleExpression (internal/schedule, on
// the default bus only), PutTargets/RemoveTargets/ListTargetsByRule/
// ListRuleNamesByTarget (at most 5 targets a rule; Lambda, SQS and SNS
// targets, with Input, InputPath or InputTransformer, RetryPolicy and an
// SQS DeadLetterConfig), TestEventPattern, Tag/UntagResource and
// ListTagsForResource. Archives, replays, API destinations, connections,
// endpoints, partner sources and bus policies are not served.
//
// State: buses ("bus.<name>") and rules with their targets
// ("rule.<bus>.<name>") live in the KV bucket natsd.EventsBucket
// ("kumo-events"), names base64url-encoded as key tokens. Requests and
// matching read a view kept by a watch of the bucket; writes read the
// stored value and replace it only at the revision read (Create for a new
// key), so that concurrent writers on any server cannot lose a change —
// the loser gets ConcurrentModificationException — and then update the
// view, so a client reads its writes.
//
// Delivery: PutEvents answers only once each accepted event is stored in
// the work-queue stream natsd.EventsStream ("KUMO_EVENTS", subject
// "kumo.events.put"; a request's entries are stored together). The
// durable consumer "kumo-events-match" matches it, at most 64 events at
// once and in no particular order, as EventBridge keeps none, against the
// enabled rules of its bus and stores one delivery per target
// ("kumo.events.delivery", deduplicated by event, rule and target) before
// acknowledging it; "kumo-events-delivery" makes the deliveries, at most
// 64 at once, acknowledging each only once its target has it, or the
// target's RetryPolicy (185 retries within 24 hours by default; backoff
// Config.RetryDelay) is spent or the failure cannot be retried (no
// permission, no such function) and the event is in the target's
// dead-letter queue (with EventBridge's RULE_ARN, TARGET_ARN,
// ERROR_CODE, ERROR_MESSAGE, RETRY_ATTEMPTS and EXHAUSTED_RETRY_CONDITION
// attributes) or, without one, logged and dropped. A crash anywhere
// delivers after the restart; delivery is at least once.
//
//   - lambda: an asynchronous (Event) invocation through Config.Invoker as
//     the service principal events.amazonaws.com with aws:SourceArn the
//     rule (authz.WithService): the function's policy decides, and a
//     refusal goes to the dead-letter queue.
//   - sqs, sns: through Config.Targets, the target's input as the body,
//     as events.amazonaws.com for the rule (a schedule's target as its
//     role): the queue's or topic's policy decides, for the target and
//     its dead-letter queue alike, and a refusal is not retried.
//
// Schedules: every server checks the enabled scheduled rules every
// Config.Tick. A rule's record "fire.<rule ARN>" holds the period it
// fires next; a rate() fires a period after the rule's creation and
// every period after, a cron() at its times in UTC. A due period's
// "Scheduled Event" (source aws.events, resources [rule ARN], detail {})
// is stored with a message id derived from the rule and the period, then
// the record is moved on by an update at the revision read. Two servers
// firing one period store the same id, which the stream keeps once within
// its ten-minute duplicate window, and only one update succeeds: a period
// fires once, on one server. A crash between the two steps fires the
// period again after the restart (the stream may have let the first copy
// go), with the same event id, so that a target can tell. A period that
// came while no server ran fires once, late, when one starts, and any
// earlier missed periods are skipped: EventBridge does not backfill
// missed invocations. Config.ScheduleMinute shortens rate() minutes for
// tests only.
//
// With an Authorizer every operation is checked before it runs as
// events:<Operation> on the bus or rule it names (authz.go); a denial is
// AccessDeniedException.
//
// The package must never deliver an event to a target of a rule whose
// pattern refuses it, nor answer PutEvents before the stream has the
// event, nor acknowledge a delivery its target (or dead-letter queue)
// has not got.
package events
