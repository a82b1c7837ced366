package natsd

// Every JetStream bucket, stream and subject name Kumo uses is built here,
// with its literal in the comment, so that a name is never retyped at a call
// site and the whole namespace can be read in one place. Bucket names are
// [A-Za-z0-9_-]; nats-server derives the stream behind a KV bucket as
// KV_<bucket> and behind an object store as OBJ_<bucket>.

const prefix = "kumo"

const (
	// RegistryBucket is the KV bucket of the function registry (functions,
	// versions, aliases, policies and the rest): "kumo-registry".
	RegistryBucket = prefix + "-registry"

	// CodeBucket is the object store of function code and layer archives:
	// "kumo-code".
	CodeBucket = prefix + "-code"
)

const (
	// LogsBucket is the KV bucket of log group and log stream metadata:
	// "kumo-logs".
	LogsBucket = prefix + "-logs"

	// LogsStream is the JetStream stream holding every log event:
	// "KUMO_LOGS".
	LogsStream = "KUMO_LOGS"

	// LogsSubjects is the subject filter of LogsStream: "kumo.logs.>".
	LogsSubjects = prefix + ".logs.>"
)

// LogsSubject is the subject of one log stream's events:
// "kumo.logs.<group>.<stream>", where group and stream are subject-safe
// tokens encoding the names (the logs package encodes them).
func LogsSubject(group, stream string) string {
	return prefix + ".logs." + group + "." + stream
}

// LogsGroupSubjects matches every stream of one log group:
// "kumo.logs.<group>.*".
func LogsGroupSubjects(group string) string {
	return prefix + ".logs." + group + ".*"
}

// LogsSubscriptionConsumer is the durable consumer of LogsStream that
// delivers one subscription filter: "kumo-logsub-<id>", id a hex digest
// the logs package makes of the group and filter.
func LogsSubscriptionConsumer(id string) string {
	return prefix + "-logsub-" + id
}

const (
	// AsyncStream is the work-queue stream of asynchronous (Event)
	// invocations, their retries and destination deliveries: "KUMO_ASYNC".
	AsyncStream = "KUMO_ASYNC"

	// AsyncSubjects is the subject filter of AsyncStream: "kumo.async.>".
	AsyncSubjects = prefix + ".async.>"
)

// AsyncSubject is the subject of one function's queued events:
// "kumo.async.<function>" (function names are subject-safe tokens).
func AsyncSubject(function string) string {
	return prefix + ".async." + function
}

// AsyncConsumer is the durable consumer draining one function's events:
// "kumo-async-<function>".
func AsyncConsumer(function string) string {
	return prefix + "-async-" + function
}

// EC2Bucket is the KV bucket of the EC2 network resources (VPCs, subnets,
// security groups, NAT gateways): "kumo-ec2".
const EC2Bucket = prefix + "-ec2"

// IAMBucket is the KV bucket of IAM's state (users and their access keys,
// groups, roles, policies): "kumo-iam".
const IAMBucket = prefix + "-iam"

// SQSBucket is the KV bucket of SQS queues (attributes, tags, the id of
// each queue's stream): "kumo-sqs".
const SQSBucket = prefix + "-sqs"

// S3Bucket is the KV bucket of S3's metadata (buckets, objects, multipart
// uploads): "kumo-s3".
const S3Bucket = prefix + "-s3"

// S3Objects is the object store holding S3's object and part data:
// "kumo-s3-data".
const S3Objects = prefix + "-s3-data"

// SQSStream is the stream holding one queue's messages, by the queue's
// id (hex, assigned at creation): "KUMO_SQS_<id>".
func SQSStream(id string) string { return "KUMO_SQS_" + id }

// SQSSubject is the subject of a queue's visible messages:
// "kumo.sqs.<id>.ready".
func SQSSubject(id string) string { return prefix + ".sqs." + id + ".ready" }

// SQSDelayedSubject is the subject of a queue's delayed messages, moved to
// SQSSubject when due: "kumo.sqs.<id>.delayed".
func SQSDelayedSubject(id string) string { return prefix + ".sqs." + id + ".delayed" }

// SQSConsumer is the durable consumer receiving a queue's visible
// messages: "kumo-sqs-<id>".
func SQSConsumer(id string) string { return prefix + "-sqs-" + id }

// SQSDelayConsumer is the durable consumer moving a queue's delayed
// messages when due: "kumo-sqs-<id>-delay".
func SQSDelayConsumer(id string) string { return prefix + "-sqs-" + id + "-delay" }

// SQSGroupSubject is the subject of a FIFO queue's visible messages of one
// message group, by the group's token (its id base64url-encoded):
// "kumo.sqs.<id>.g.<token>".
func SQSGroupSubject(id, token string) string { return prefix + ".sqs." + id + ".g." + token }

// SQSGroupSubjects matches every group subject of a FIFO queue:
// "kumo.sqs.<id>.g.>".
func SQSGroupSubjects(id string) string { return prefix + ".sqs." + id + ".g.>" }

// SQSAttemptBucket is the KV bucket remembering FIFO receives by their
// ReceiveRequestAttemptId for five minutes (the bucket's TTL):
// "kumo-sqs-attempts".
const SQSAttemptBucket = prefix + "-sqs-attempts"

// SNSBucket is the KV bucket of SNS topics and subscriptions: "kumo-sns".
const SNSBucket = prefix + "-sns"

const (
	// SNSStream is the work-queue stream of accepted SNS messages and of
	// their deliveries to subscriptions: "KUMO_SNS".
	SNSStream = "KUMO_SNS"

	// SNSSubjects is the subject filter of SNSStream: "kumo.sns.>".
	SNSSubjects = prefix + ".sns.>"

	// SNSPublishSubject carries messages Publish accepted, before fan-out:
	// "kumo.sns.publish".
	SNSPublishSubject = prefix + ".sns.publish"

	// SNSDeliverySubject carries one delivery to one subscription:
	// "kumo.sns.delivery".
	SNSDeliverySubject = prefix + ".sns.delivery"

	// SNSFIFODeliverySubject carries the deliveries of FIFO topics, made
	// one at a time in order: "kumo.sns.fifo".
	SNSFIFODeliverySubject = prefix + ".sns.fifo"

	// SNSFIFOConsumer is the durable consumer of SNSFIFODeliverySubject:
	// "kumo-sns-fifo".
	SNSFIFOConsumer = prefix + "-sns-fifo"

	// SNSFanoutConsumer is the durable consumer of SNSPublishSubject:
	// "kumo-sns-fanout".
	SNSFanoutConsumer = prefix + "-sns-fanout"

	// SNSDeliveryConsumer is the durable consumer of SNSDeliverySubject:
	// "kumo-sns-delivery".
	SNSDeliveryConsumer = prefix + "-sns-delivery"
)

// ESMBucket is the KV bucket of Lambda's event source mappings (one JSON
// value per mapping, "m.<uuid>"): "kumo-esm".
const ESMBucket = prefix + "-esm"

// KMSBucket is the KV bucket of KMS keys ("k.<key id>": metadata, policy,
// grants and the key material wrapped by the node master key) and aliases
// ("a.<alias name, base64url>"): "kumo-kms".
const KMSBucket = prefix + "-kms"

// SecretsBucket is the KV bucket of Secrets Manager's secrets (one JSON
// record per secret under "s.<name, base64url>", its versions' values
// encrypted with KMS keys): "kumo-secretsmanager".
const SecretsBucket = prefix + "-secretsmanager"

// APIGatewayBucket is the KV bucket of API Gateway's APIs: one JSON value
// per API with its routes, integrations, authorizers, stages and
// deployment list ("api.<api-id>"), and one per deployment's frozen
// routes ("dep.<api-id>.<deployment-id>"): "kumo-apigateway".
const APIGatewayBucket = prefix + "-apigateway"

// EventsBucket is the KV bucket of EventBridge's buses, rules (with their
// targets) and each scheduled rule's last fired period: "kumo-events".
const EventsBucket = prefix + "-events"

const (
	// EventsStream is the work-queue stream of events PutEvents (and
	// schedules, and Lambda's destinations) accepted, and of their
	// deliveries to targets: "KUMO_EVENTS".
	EventsStream = "KUMO_EVENTS"

	// EventsSubjects is the subject filter of EventsStream:
	// "kumo.events.>".
	EventsSubjects = prefix + ".events.>"

	// EventsPutSubject carries accepted events before rules match them:
	// "kumo.events.put".
	EventsPutSubject = prefix + ".events.put"

	// EventsDeliverySubject carries one matched event for one target:
	// "kumo.events.delivery".
	EventsDeliverySubject = prefix + ".events.delivery"

	// EventsMatchConsumer is the durable consumer of EventsPutSubject:
	// "kumo-events-match".
	EventsMatchConsumer = prefix + "-events-match"

	// EventsDeliveryConsumer is the durable consumer of
	// EventsDeliverySubject: "kumo-events-delivery".
	EventsDeliveryConsumer = prefix + "-events-delivery"
)

// SchedulerBucket is the KV bucket of EventBridge Scheduler's schedule
// groups, schedules and each schedule's next period: "kumo-scheduler".
const SchedulerBucket = prefix + "-scheduler"
const (
	// S3EventsStream is the work-queue stream of S3's event
	// notifications, the outbox a write publishes to before it commits:
	// "KUMO_S3_EVENTS".
	S3EventsStream = "KUMO_S3_EVENTS"

	// S3EventsSubjects is the subject filter of S3EventsStream:
	// "kumo.s3.events.>".
	S3EventsSubjects = prefix + ".s3.events.>"

	// S3PendingSubject carries the events of writes not yet known to be
	// committed: "kumo.s3.events.pending".
	S3PendingSubject = prefix + ".s3.events.pending"

	// S3DeliverySubject carries one committed event for one destination:
	// "kumo.s3.events.delivery".
	S3DeliverySubject = prefix + ".s3.events.delivery"

	// S3PendingConsumer is the durable consumer of S3PendingSubject:
	// "kumo-s3-pending".
	S3PendingConsumer = prefix + "-s3-pending"

	// S3DeliveryConsumer is the durable consumer of S3DeliverySubject:
	// "kumo-s3-delivery".
	S3DeliveryConsumer = prefix + "-s3-delivery"
)

// DynamoDBBucket is the KV bucket of DynamoDB tables' metadata (one JSON
// value per table, "t.<name>"): "kumo-dynamodb".
const DynamoDBBucket = prefix + "-dynamodb"

// DynamoDBStream is the stream holding every table's items, one subject
// per item: "KUMO_DDB". One stream (not one per table) so that a
// transaction's writes to several tables are one atomic batch.
const DynamoDBStream = "KUMO_DDB"

// DynamoDBSubjects are every subject of DynamoDBStream: "kumo.ddb.>".
const DynamoDBSubjects = prefix + ".ddb.>"

// DynamoDBTableSubjects are the subjects of one table, by the table's id
// (hex, assigned at creation): "kumo.ddb.<id>.>".
func DynamoDBTableSubjects(id string) string { return prefix + ".ddb." + id + ".>" }

// DynamoDBItemSubject is the subject of one item of a table, by the hash
// of its primary key: "kumo.ddb.<id>.i.<hash>".
func DynamoDBItemSubject(id, hash string) string { return prefix + ".ddb." + id + ".i." + hash }

// DynamoDBCheckSubject carries a transaction's condition check on one
// item, so that the check is part of the transaction's atomic batch:
// "kumo.ddb.<id>.c.<hash>".
func DynamoDBCheckSubject(id, hash string) string { return prefix + ".ddb." + id + ".c." + hash }

// DynamoDBTokenSubject records a TransactWriteItems ClientRequestToken for
// its 10 minutes, by the token's hash: "kumo.ddb._tx.t.<hash>".
func DynamoDBTokenSubject(hash string) string { return prefix + ".ddb._tx.t." + hash }

// DynamoDBLogSubject carries the change records of one DynamoDB stream of
// a table, by the table's id and the stream's creation in milliseconds.
func DynamoDBLogSubject(id, stream string) string { return prefix + ".ddb." + id + ".log." + stream }

// ClusterBucket is the KV bucket of cluster-wide coordination (the lock
// members take in turn to open the store's buckets and streams):
// "kumo-cluster".
const ClusterBucket = prefix + "-cluster"

// KeysBucket is the KV bucket of a cluster's shared secrets (session
// token, URL and SNS signing keys, generated root credentials and KMS
// master key, sealed with the cluster secret): "kumo-keys".
const KeysBucket = prefix + "-keys"

// InvokeSubject is the subject a node answers forwarded invocations on:
// "kumo.invoke.<node>".
func InvokeSubject(node string) string { return prefix + ".invoke." + node }

// NodesSubject is the subject every node answers with its id, so that a
// node finds the others: "kumo.nodes".
const NodesSubject = prefix + ".nodes"

// NodeStateSubject carries what each node of a cluster reports of itself
// (its memory budget, what its sandboxes hold, its idle versions), sent
// when it changes and as a heartbeat; a report with a reply subject asks
// every node for its own: "kumo.nodes.state".
const NodeStateSubject = prefix + ".nodes.state"
