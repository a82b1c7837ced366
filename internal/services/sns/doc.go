// Package sns serves an Amazon SNS-compatible topic service on the edge,
// in SNS's query protocol (Version 2010-03-31, form parameters in, XML
// out, errors as ErrorResponse with SNS's codes), and delivers what is
// published to the subscriptions.
//
// Operations: CreateTopic (idempotent by name), ListTopics,
// Get/SetTopicAttributes, DeleteTopic, Add/RemovePermission (statements
// of the topic's Policy), Subscribe, ConfirmSubscription,
// Unsubscribe, ListSubscriptions(ByTopic), Get/SetSubscriptionAttributes,
// Publish, PublishBatch, Tag/UntagResource, ListTagsForResource. SMS,
// email and mobile endpoints are not served.
//
// FIFO topics ("<name>.fifo" with FifoTopic true) take only sqs
// subscriptions and require MessageGroupId; a MessageDeduplicationId (or
// the SHA-256 of the body, with ContentBasedDeduplication) is stored once
// within five minutes, the stream's duplicate window, and a duplicate is
// answered the first copy's MessageId and SequenceNumber (the stream
// sequence; the id is derived from it, see fifoID). Their deliveries go
// through "kumo.sns.fifo" and the consumer "kumo-sns-fifo", one at a time,
// so every group's order holds (all of a server's FIFO deliveries share
// that one line). They reach SQS through FIFOQueues, which Config.Queues
// must implement to pass the group and deduplication ids on.
//
// State: topics and subscriptions live in the KV bucket natsd.SNSBucket
// ("kumo-sns"), one JSON value per topic ("topic.<name>") and per
// subscription ("sub.<topic>.<id>"). Requests read a view kept by a watch
// of the bucket; the service's own writes go to the bucket first, then
// into the view, so a client reads its writes. Writes are serialised by
// the service's one mutex. One Kumo process owns the bucket.
//
// Delivery: Publish answers only once the message is stored in the
// work-queue stream natsd.SNSStream ("KUMO_SNS", subject
// "kumo.sns.publish"). The durable consumer "kumo-sns-fanout" matches it
// against each confirmed subscription's filter policy (package
// eventpattern) and stores one delivery per match ("kumo.sns.delivery",
// deduplicated by message and subscription); "kumo-sns-delivery" makes
// the deliveries, at most 64 at once, redelivering a failed one after
// each of Config.RetryDelays (for http/https, the healthyRetryPolicy of
// the subscription's or the topic's DeliveryPolicy when one is set,
// policy.go), then moving it to the subscription's
// RedrivePolicy queue or dropping it with a log line. A crash between
// accept and delivery delivers after the restart; delivery is at least
// once.
//
//   - lambda: an asynchronous (Event) invocation through Config.Invoker,
//     as the service principal sns.amazonaws.com with aws:SourceArn the
//     topic (authz.WithService), with the event Lambda receives from SNS.
//   - sqs: through Config.Queues, the SNS JSON envelope, or the message
//     and its attributes with RawMessageDelivery, as sns.amazonaws.com
//     for the topic (authz.WithService): the queue's policy must allow
//     it, in the same account too, as on AWS. A refusal (AccessDenied)
//     is not retried; it goes to the subscription's dead-letter queue,
//     which needs the same permission.
//   - http/https: a POST with the x-amz-sns-* headers. A subscription is
//     PendingConfirmation until ConfirmSubscription presents the token
//     its SubscriptionConfirmation carried, or its SubscribeURL is
//     fetched (ConfirmHandler, unsigned: the token is the credential);
//     a notification's UnsubscribeURL (UnsubscribeHandler) ends it.
//
// Notifications are signed with Config.SigningKey (SHA1withRSA for
// SignatureVersion 1, SHA256withRSA for 2), over the fields SNS signs.
// LoadSigningKey keeps it in the data dir; a cluster's nodes share one
// (internal/app stores it for them), so a signature made on any node
// verifies with the certificate every node serves.
//
// With an Authorizer every operation is checked before it runs as
// sns:<Operation> on the topic (authz.go), with the topic's Policy
// attribute as the resource policy; a denial is AuthorizationError
// (403).
//
// With Config.Writable reporting the store full, the operations that add
// data (CreateTopic, Subscribe, Publish, …, and the in-process Publish)
// are ServiceUnavailable (503, Retry-After: 30); reads, Unsubscribe and
// DeleteTopic go on.
//
// The package must never deliver a message to a subscription whose
// filter policy refuses it, nor answer a Publish before the stream has
// it.
package sns
