// Package scheduler serves an Amazon EventBridge Scheduler-compatible API
// on the edge (rest-json, SigV4 service "scheduler"): Create/Get/Update/
// Delete/ListSchedules and Create/Get/Delete/ListScheduleGroups (the
// "default" group always exists; deleting a group deletes its
// schedules). A schedule has an at(yyyy-mm-ddThh:mm:ss), rate() or cron()
// expression (package schedule) read in its ScheduleExpressionTimezone,
// optional StartDate and EndDate, a FlexibleTimeWindow (OFF, or FLEXIBLE,
// which Kumo fires at the window's start), a State, an
// ActionAfterCompletion (DELETE removes a schedule that will not fire
// again) and a Lambda, SQS or SNS Target with its Input (the body; "{}"
// without one), RetryPolicy and SQS DeadLetterConfig. Tags, KMS keys and
// universal targets are not served.
//
// State: groups ("group.<name>"), schedules ("sched.<group>.<name>") and
// each schedule's next period ("fire.<schedule ARN>") live in the KV
// bucket natsd.SchedulerBucket ("kumo-scheduler"), names base64url-encoded
// as key tokens; requests read and write the bucket directly (an update
// replaces a schedule only at the revision it read).
//
// Firing: every server lists the enabled schedules every Config.Tick.
// A due period is handed to EventBridge's durable delivery path
// (events.Service.DeliverDirect, with a message id derived from the
// schedule and the period) and then recorded by an update at the
// revision read: two servers firing one period store one delivery and
// only one update succeeds, so a period fires once, on one server; a
// crash between the two steps fires it again after the restart. A period
// that came while no server ran fires once, late, and earlier missed ones
// are skipped. Lambda targets are invoked as a session of the target's
// RoleArn, whose policies must allow lambda:InvokeFunction, as
// Scheduler's execution role; delivery retries, and the dead-letter queue
// take it from there.
//
// The package must never fire a disabled schedule, nor a period outside
// its StartDate and EndDate.
package scheduler
