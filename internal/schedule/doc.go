// Package schedule parses EventBridge's schedule expressions and says
// when they fire next:
//
//	rate(1 minute), rate(5 minutes), rate(1 hour), rate(2 days)
//	cron(Minutes Hours Day-of-month Month Day-of-week Year)
//	at(2026-12-05T10:30:00)   (EventBridge Scheduler's one-time schedules)
//
// Cron follows EventBridge's six fields, in UTC (or the time zone In
// gives it, as at() too): minutes 0-59, hours 0-23, day of month 1-31, month 1-12 or
// JAN-DEC, day of week 1-7 or SUN-SAT (1 is Sunday), year 1970-2199.
// Every field takes "*", values, lists "a,b", ranges "a-b" and
// increments "a/n" or "*/n" ("a-b/n"). Day of month and day of week
// exclude each other: exactly one of them is "?". Day of month also takes
// "L" (last day), "nW" (the weekday nearest day n, within the month) and
// "LW" (the last weekday); day of week takes "L" (Saturday, the week's
// last day), "nL" (the last day n of the month) and "n#k" (the k-th day
// n of the month, k 1-5).
//
// rate(N unit) takes minute(s), hour(s) and day(s), N ≥ 1, the unit
// singular when N is 1 and plural otherwise, as EventBridge requires. A
// rate has no calendar: it fires every Period after whatever its caller
// anchors it to (EventBridge anchors it at the rule's creation).
//
// The package is pure: no clock, no I/O, no state. Parse never panics on
// any input (FuzzParse); Next always terminates (it walks days, not
// minutes, and stops after the year 2199).
package schedule
