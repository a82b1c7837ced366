package awsproto

// EventBridge's exceptions: the botocore events/2015-10-07 model, plus
// ValidationException (which EventBridge sends for constraint violations
// though the model does not list it) and the JSON 1.1 protocol errors.
// The model gives no statuses; JSON 1.1 services answer 400 for the
// caller's faults and 500 for their own. Messages go in "message".
const (
	EventsAccessDenied           Code = "events#AccessDeniedException"
	EventsConcurrentModification Code = "events#ConcurrentModificationException"
	EventsIllegalStatus          Code = "events#IllegalStatusException"
	EventsInternal               Code = "events#InternalException"
	EventsInvalidEventPattern    Code = "events#InvalidEventPatternException"
	EventsInvalidState           Code = "events#InvalidStateException"
	EventsLimitExceeded          Code = "events#LimitExceededException"
	EventsManagedRule            Code = "events#ManagedRuleException"
	EventsOperationDisabled      Code = "events#OperationDisabledException"
	EventsPolicyLengthExceeded   Code = "events#PolicyLengthExceededException"
	EventsResourceAlreadyExists  Code = "events#ResourceAlreadyExistsException"
	EventsResourceNotFound       Code = "events#ResourceNotFoundException"
	EventsThrottling             Code = "events#ThrottlingException"
	EventsValidation             Code = "events#ValidationException"
	EventsUnknownOperation       Code = "events#UnknownOperationException"
	EventsSerialization          Code = "events#SerializationException"
)

var eventsCodes = []Spec{
	{Code: EventsAccessDenied, Status: 400, Fault: Client},
	// Concurrent updates of one resource conflicted; sent again, it passes.
	{Code: EventsConcurrentModification, Status: 400, Fault: Client, Retryable: true},
	{Code: EventsIllegalStatus, Status: 400, Fault: Client},
	{Code: EventsInternal, Status: 500, Fault: Server, Retryable: true},
	{Code: EventsInvalidEventPattern, Status: 400, Fault: Client},
	{Code: EventsInvalidState, Status: 400, Fault: Client},
	{Code: EventsLimitExceeded, Status: 400, Fault: Client},
	{Code: EventsManagedRule, Status: 400, Fault: Client},
	{Code: EventsOperationDisabled, Status: 400, Fault: Client},
	{Code: EventsPolicyLengthExceeded, Status: 400, Fault: Client},
	{Code: EventsResourceAlreadyExists, Status: 400, Fault: Client},
	{Code: EventsResourceNotFound, Status: 400, Fault: Client},
	{Code: EventsThrottling, Status: 400, Fault: Client, Retryable: true},
	{Code: EventsValidation, Status: 400, Fault: Client},
	{Code: EventsUnknownOperation, Status: 400, Fault: Client},
	{Code: EventsSerialization, Status: 400, Fault: Client},
}

func init() { Register(eventsCodes...) }

// EventBridge Scheduler's exceptions: the botocore scheduler/2021-06-30
// model (rest-json; statuses from its error traits, messages in
// "Message"), and the framework's for requests it cannot dispatch.
const (
	SchedulerConflict             Code = "scheduler#ConflictException"
	SchedulerInternalServer       Code = "scheduler#InternalServerException"
	SchedulerResourceNotFound     Code = "scheduler#ResourceNotFoundException"
	SchedulerServiceQuotaExceeded Code = "scheduler#ServiceQuotaExceededException"
	SchedulerThrottling           Code = "scheduler#ThrottlingException"
	SchedulerValidation           Code = "scheduler#ValidationException"
	SchedulerAccessDenied         Code = "scheduler#AccessDeniedException"
	SchedulerUnknownOperation     Code = "scheduler#UnknownOperationException"
)

var schedulerCodes = []Spec{
	{Code: SchedulerConflict, Status: 409, MessageKey: "Message", Fault: Client},
	{Code: SchedulerInternalServer, Status: 500, MessageKey: "Message", Fault: Server, Retryable: true},
	{Code: SchedulerResourceNotFound, Status: 404, MessageKey: "Message", Fault: Client},
	{Code: SchedulerServiceQuotaExceeded, Status: 402, MessageKey: "Message", Fault: Client},
	{Code: SchedulerThrottling, Status: 429, MessageKey: "Message", Fault: Client, Retryable: true},
	{Code: SchedulerValidation, Status: 400, MessageKey: "Message", Fault: Client},
	{Code: SchedulerAccessDenied, Status: 403, MessageKey: "Message", Fault: Client},
	{Code: SchedulerUnknownOperation, Status: 404, MessageKey: "Message", Fault: Client},
}

func init() { Register(schedulerCodes...) }
