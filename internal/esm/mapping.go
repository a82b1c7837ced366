package esm

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/kumo-run/kumo/internal/awsproto"
	"github.com/kumo-run/kumo/internal/registry"
	"github.com/kumo-run/kumo/internal/services/dynamodb"
	"github.com/kumo-run/kumo/internal/store"
)

// Lambda's bounds and defaults of an SQS event source mapping (botocore
// lambda/2015-03-31 shapes BatchSize, MaximumBatchingWindowInSeconds,
// MaximumConcurrency, MaxListItems).
const (
	DefaultBatchSize      = 10
	MaxBatchSize          = 10000
	MaxFIFOBatchSize      = 10
	MaxBatchingWindow     = 300
	MinMaximumConcurrency = 2
	MaxMaximumConcurrency = 1000
	maxListItems          = 10000
	defaultListItems      = 100
	maxPattern            = 4096
)

// ReportBatchItemFailures is the one FunctionResponseType of SQS mappings.
const ReportBatchItemFailures = "ReportBatchItemFailures"

// ScalingConfig is the ScalingConfig shape.
type ScalingConfig struct {
	MaximumConcurrency *int `json:"MaximumConcurrency,omitempty"`
}

// Filter is one filter of FilterCriteria: an event pattern.
type Filter struct {
	Pattern *string `json:"Pattern,omitempty"`
}

// FilterCriteria is the FilterCriteria shape.
type FilterCriteria struct {
	Filters []Filter `json:"Filters,omitempty"`
}

// Mapping is the EventSourceMappingConfiguration shape, as Lambda answers
// for an SQS queue. LastModified is seconds since the epoch.
type Mapping struct {
	UUID                           string          `json:"UUID"`
	BatchSize                      int             `json:"BatchSize"`
	MaximumBatchingWindowInSeconds int             `json:"MaximumBatchingWindowInSeconds"`
	EventSourceArn                 string          `json:"EventSourceArn"`
	FilterCriteria                 *FilterCriteria `json:"FilterCriteria,omitempty"`
	FunctionArn                    string          `json:"FunctionArn"`
	LastModified                   float64         `json:"LastModified"`
	State                          State           `json:"State"`
	StateTransitionReason          string          `json:"StateTransitionReason"`
	FunctionResponseTypes          []string        `json:"FunctionResponseTypes"`
	ScalingConfig                  *ScalingConfig  `json:"ScalingConfig,omitempty"`
	EventSourceMappingArn          string          `json:"EventSourceMappingArn"`
	// The members of a stream mapping (streamsrc.go); nil for SQS.
	StartingPosition           *string `json:"StartingPosition,omitempty"`
	MaximumRetryAttempts       *int    `json:"MaximumRetryAttempts,omitempty"`
	MaximumRecordAgeInSeconds  *int    `json:"MaximumRecordAgeInSeconds,omitempty"`
	BisectBatchOnFunctionError *bool   `json:"BisectBatchOnFunctionError,omitempty"`
	ParallelizationFactor      *int    `json:"ParallelizationFactor,omitempty"`
	// DestinationConfig.OnFailure receives what a stream mapping
	// discards; TumblingWindowInSeconds aggregates state (streamsrc.go).
	DestinationConfig       *DestinationConfig `json:"DestinationConfig,omitempty"`
	TumblingWindowInSeconds *int               `json:"TumblingWindowInSeconds,omitempty"`
	// LastProcessingResult is kept apart from the stored mapping
	// (result.go) and filled in when the mapping is answered.
	LastProcessingResult string `json:"LastProcessingResult,omitempty"`
}

// record is a mapping as stored: the wire shape, the function it invokes
// and whether the user wants it enabled (State says where it is).
type record struct {
	M         Mapping `json:"m"`
	Function  string  `json:"fn"`
	Qualifier string  `json:"q,omitempty"`
	Enabled   bool    `json:"on"`
}

func (r *record) ref() registry.Ref { return registry.Ref{Name: r.Function, Qualifier: r.Qualifier} }

func (r *record) clone() *record {
	c := *r
	c.M.FunctionResponseTypes = slices.Clone(r.M.FunctionResponseTypes)
	if r.M.ScalingConfig != nil {
		sc := *r.M.ScalingConfig
		c.M.ScalingConfig = &sc
	}
	if r.M.FilterCriteria != nil {
		fc := FilterCriteria{Filters: slices.Clone(r.M.FilterCriteria.Filters)}
		c.M.FilterCriteria = &fc
	}
	return &c
}

// CreateInput is the body of CreateEventSourceMapping (the members SQS
// mappings use; others are refused where Lambda refuses them for SQS).
type CreateInput struct {
	EventSourceArn                 *string         `json:"EventSourceArn"`
	FunctionName                   *string         `json:"FunctionName"`
	Enabled                        *bool           `json:"Enabled"`
	BatchSize                      *int            `json:"BatchSize"`
	MaximumBatchingWindowInSeconds *int            `json:"MaximumBatchingWindowInSeconds"`
	FunctionResponseTypes          []string        `json:"FunctionResponseTypes"`
	ScalingConfig                  *ScalingConfig  `json:"ScalingConfig"`
	FilterCriteria                 *FilterCriteria `json:"FilterCriteria"`
	StartingPosition               *string         `json:"StartingPosition"`
	MaximumRetryAttempts           *int            `json:"MaximumRetryAttempts"`
	MaximumRecordAgeInSeconds      *int            `json:"MaximumRecordAgeInSeconds"`
	BisectBatchOnFunctionError     *bool           `json:"BisectBatchOnFunctionError"`
	ParallelizationFactor          *int            `json:"ParallelizationFactor"`

	// Members of a stream mapping only (streamsrc.go).
	DestinationConfig       *DestinationConfig `json:"DestinationConfig"`
	TumblingWindowInSeconds *int               `json:"TumblingWindowInSeconds"`
}

// UpdateInput is the body of UpdateEventSourceMapping; a nil member is
// left as it is.
type UpdateInput struct {
	FunctionName                   *string         `json:"FunctionName"`
	Enabled                        *bool           `json:"Enabled"`
	BatchSize                      *int            `json:"BatchSize"`
	MaximumBatchingWindowInSeconds *int            `json:"MaximumBatchingWindowInSeconds"`
	FunctionResponseTypes          *[]string       `json:"FunctionResponseTypes"`
	ScalingConfig                  *ScalingConfig  `json:"ScalingConfig"`
	FilterCriteria                 *FilterCriteria `json:"FilterCriteria"`
	// The members of a stream mapping (streamsrc.go).
	MaximumRetryAttempts       *int               `json:"MaximumRetryAttempts"`
	MaximumRecordAgeInSeconds  *int               `json:"MaximumRecordAgeInSeconds"`
	BisectBatchOnFunctionError *bool              `json:"BisectBatchOnFunctionError"`
	ParallelizationFactor      *int               `json:"ParallelizationFactor"`
	DestinationConfig          *DestinationConfig `json:"DestinationConfig"`
	TumblingWindowInSeconds    *int               `json:"TumblingWindowInSeconds"`
}

func invalid(format string, args ...any) error {
	return awsproto.Errorf(awsproto.InvalidParameterValueException, format, args...)
}

func constraint(value any, member, rule string) error {
	return awsproto.Errorf(awsproto.ValidationException,
		"1 validation error detected: Value '%v' at '%s' failed to satisfy constraint: %s", value, member, rule)
}

// notFound is Lambda's answer for an unknown UUID.
func notFound() error {
	return awsproto.Errorf(awsproto.ResourceNotFoundException, "The resource you requested does not exist.")
}

// checkSettings validates the members Create and Update share, on the
// merged result.
func checkSettings(batch, window int, types []string, sc *ScalingConfig, fc *FilterCriteria, fifo bool) error {
	if batch < 1 {
		return constraint(batch, "batchSize", "Member must have value greater than or equal to 1")
	}
	if batch > MaxBatchSize {
		return constraint(batch, "batchSize", "Member must have value less than or equal to 10000")
	}
	if window < 0 {
		return constraint(window, "maximumBatchingWindowInSeconds", "Member must have value greater than or equal to 0")
	}
	if window > MaxBatchingWindow {
		return constraint(window, "maximumBatchingWindowInSeconds", "Member must have value less than or equal to 300")
	}
	if len(types) > 1 {
		return constraint("["+strings.Join(types, ", ")+"]", "functionResponseTypes", "Member must have length less than or equal to 1")
	}
	for _, t := range types {
		if t != ReportBatchItemFailures {
			return constraint("["+strings.Join(types, ", ")+"]", "functionResponseTypes", "Member must satisfy enum value set: [ReportBatchItemFailures]")
		}
	}
	if sc != nil && sc.MaximumConcurrency != nil {
		n := *sc.MaximumConcurrency
		if n < MinMaximumConcurrency {
			return constraint(n, "scalingConfig.maximumConcurrency", "Member must have value greater than or equal to 2")
		}
		if n > MaxMaximumConcurrency {
			return constraint(n, "scalingConfig.maximumConcurrency", "Member must have value less than or equal to 1000")
		}
	}
	if fc != nil {
		for _, f := range fc.Filters {
			if f.Pattern != nil && len(*f.Pattern) > maxPattern {
				return constraint("...", "filterCriteria.filters.member.pattern", "Member must have length less than or equal to 4096")
			}
		}
		if _, err := compileFilters(fc); err != nil {
			return err
		}
	}
	if fifo {
		if batch > MaxFIFOBatchSize {
			return invalid("Batch size for SQS FIFO queues must be less than or equal to 10.")
		}
		if window > 0 {
			return invalid("Batching window is not supported for FIFO queues.")
		}
	}
	if batch > 10 && window == 0 {
		return invalid("Maximum batch window in seconds must be greater than 0 if maximum batch size is greater than 10")
	}
	return nil
}

// normFilters drops an empty FilterCriteria: passing one removes it.
func normFilters(fc *FilterCriteria) *FilterCriteria {
	if fc == nil || len(fc.Filters) == 0 {
		return nil
	}
	return &FilterCriteria{Filters: slices.Clone(fc.Filters)}
}

// normScaling drops an empty ScalingConfig: passing one removes it.
func normScaling(sc *ScalingConfig) *ScalingConfig {
	if sc == nil || sc.MaximumConcurrency == nil {
		return nil
	}
	n := *sc.MaximumConcurrency
	return &ScalingConfig{MaximumConcurrency: &n}
}

func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

func key(uuid string) string { return recordPrefix + uuid }

const recordPrefix = "m."

// isUUID reports whether s is a UUID as newUUID makes them; any other
// string names no mapping (and cannot be a store key).
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
				return false
			}
		}
	}
	return true
}

// resolveFunctionRole parses FunctionName, checks that the function (and
// its qualifier) exist and returns it, its ARN and its execution role.
func (s *Service) resolveFunctionRole(ctx context.Context, name *string) (registry.Ref, string, string, error) {
	if name == nil {
		return registry.Ref{}, "", "", constraint("null", "functionName", "Member must not be null")
	}
	ref, err := s.cfg.ARNs.ParseRef(*name, 256)
	if err != nil {
		return ref, "", "", err
	}
	fc, err := s.cfg.Functions.GetFunctionConfiguration(ctx, ref)
	if err != nil {
		return ref, "", "", err
	}
	arn := s.cfg.ARNs.Function(ref.Name)
	if ref.Qualifier != "" {
		arn = s.cfg.ARNs.Qualified(ref.Name, ref.Qualifier)
	}
	return ref, arn, fc.Role, nil
}

// pollerActions are what a mapping's poller does on the queue, in the
// order Lambda checks the execution role for them.
var pollerActions = []string{"ReceiveMessage", "DeleteMessage", "GetQueueAttributes"}

// checkRole refuses a mapping whose function's execution role may not
// poll the queue, as Lambda does when the mapping is made or pointed at
// another function. Without a RoleChecker nothing is checked.
func (s *Service) checkRole(ctx context.Context, role, queueARN string) error {
	rc, ok := s.cfg.Queues.(RoleChecker)
	if !ok {
		return nil
	}
	for _, a := range pollerActions {
		if !rc.RoleAllowed(ctx, role, "sqs:"+a, queueARN) {
			return invalid("The provided execution role does not have permissions to call %s on SQS", a)
		}
	}
	return nil
}

// Create makes a mapping in state Creating; the poller's owner moves it on
// to Enabled (or Disabled).
func (s *Service) Create(ctx context.Context, in CreateInput) (Mapping, error) {
	ref, fnARN, role, err := s.resolveFunctionRole(ctx, in.FunctionName)
	if err != nil {
		return Mapping{}, err
	}
	if in.EventSourceArn == nil || *in.EventSourceArn == "" {
		return Mapping{}, invalid("Unrecognized event source, must be kinesis, dynamodb stream or sqs.")
	}
	src := *in.EventSourceArn
	if dynamodb.IsStreamARN(src) {
		return s.createStream(ctx, in, ref, fnARN, role)
	}
	if parts := strings.SplitN(src, ":", 6); len(parts) < 6 || parts[0] != "arn" || parts[2] != "sqs" {
		return Mapping{}, invalid("Unrecognized event source, must be kinesis, dynamodb stream or sqs.")
	}
	if in.StartingPosition != nil {
		return Mapping{}, invalid("Unsupported starting position for arn type: sqs")
	}
	if !s.cfg.Queues.QueueExists(src) {
		return Mapping{}, awsproto.Errorf(awsproto.ResourceNotFoundException, "The resource you requested does not exist. (Queue %s)", src)
	}
	batch, window := DefaultBatchSize, 0
	if in.BatchSize != nil {
		batch = *in.BatchSize
	}
	if in.MaximumBatchingWindowInSeconds != nil {
		window = *in.MaximumBatchingWindowInSeconds
	}
	if err := checkSettings(batch, window, in.FunctionResponseTypes, in.ScalingConfig, in.FilterCriteria, s.cfg.Queues.QueueFIFO(src)); err != nil {
		return Mapping{}, err
	}
	if err := s.checkRole(ctx, role, src); err != nil {
		return Mapping{}, err
	}
	enabled := in.Enabled == nil || *in.Enabled
	id := newUUID()
	rec := &record{Function: ref.Name, Qualifier: ref.Qualifier, Enabled: enabled, M: Mapping{
		UUID: id, BatchSize: batch, MaximumBatchingWindowInSeconds: window, EventSourceArn: src,
		FilterCriteria: normFilters(in.FilterCriteria), FunctionArn: fnARN, LastModified: s.stamp(),
		State: Creating, StateTransitionReason: "USER_INITIATED", FunctionResponseTypes: slices.Clone(in.FunctionResponseTypes),
		ScalingConfig: normScaling(in.ScalingConfig), EventSourceMappingArn: s.mappingARN(id),
	}}
	if rec.M.FunctionResponseTypes == nil {
		rec.M.FunctionResponseTypes = []string{}
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	for _, o := range s.view.all() {
		if o.M.EventSourceArn == src && o.M.FunctionArn == fnARN {
			return Mapping{}, awsproto.Errorf(awsproto.ResourceConflictException,
				"An event source mapping with SQS arn (\" %s \") and function (\" %s \") already exists. Please update or delete the existing mapping with UUID %s",
				src, ref.Name, o.M.UUID)
		}
	}
	if err := s.write(ctx, rec, 0); err != nil {
		return Mapping{}, err
	}
	return s.answer(rec), nil
}

// Get returns a mapping, from the view.
func (s *Service) Get(ctx context.Context, uuid string) (Mapping, error) {
	r, _, ok := s.view.get(uuid)
	if !ok {
		return Mapping{}, notFound()
	}
	return s.answer(r), nil
}

// FunctionARN is the ARN of the function a mapping invokes, "" if there is
// no such mapping (for authorization's lambda:FunctionArn).
func (s *Service) FunctionARN(uuid string) string {
	r, _, ok := s.view.get(uuid)
	if !ok {
		return ""
	}
	return r.M.FunctionArn
}

// MappingARN is a mapping's ARN.
func (s *Service) MappingARN(uuid string) string { return s.mappingARN(uuid) }

func (s *Service) mappingARN(uuid string) string {
	return "arn:" + s.cfg.ARNs.Partition + ":lambda:" + s.cfg.ARNs.Region + ":" + s.cfg.ARNs.Account + ":event-source-mapping:" + uuid
}

func inUse(verb string) error {
	return awsproto.Errorf(awsproto.ResourceInUseException,
		"Cannot %s the event source mapping because it is in use.", verb)
}

// Update changes a mapping that is not in a transition.
func (s *Service) Update(ctx context.Context, uuid string, in UpdateInput) (Mapping, error) {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	cur, rev, ok := s.view.get(uuid)
	if !ok {
		return Mapping{}, notFound()
	}
	if cur.M.State.transient() {
		return Mapping{}, inUse("update")
	}
	next := cur.clone()
	if in.FunctionName != nil {
		ref, fnARN, role, err := s.resolveFunctionRole(ctx, in.FunctionName)
		if err != nil {
			return Mapping{}, err
		}
		if next.isStream() {
			if err := s.checkStreamRole(ctx, role, next.M.EventSourceArn); err != nil {
				return Mapping{}, err
			}
		} else if err := s.checkRole(ctx, role, next.M.EventSourceArn); err != nil {
			return Mapping{}, err
		}
		next.Function, next.Qualifier, next.M.FunctionArn = ref.Name, ref.Qualifier, fnARN
	}
	if in.BatchSize != nil {
		next.M.BatchSize = *in.BatchSize
	}
	if in.MaximumBatchingWindowInSeconds != nil {
		next.M.MaximumBatchingWindowInSeconds = *in.MaximumBatchingWindowInSeconds
	}
	if in.FunctionResponseTypes != nil {
		next.M.FunctionResponseTypes = slices.Clone(*in.FunctionResponseTypes)
		if next.M.FunctionResponseTypes == nil {
			next.M.FunctionResponseTypes = []string{}
		}
	}
	if in.ScalingConfig != nil {
		next.M.ScalingConfig = normScaling(in.ScalingConfig)
	}
	if in.FilterCriteria != nil {
		next.M.FilterCriteria = normFilters(in.FilterCriteria)
	}
	if next.isStream() {
		if err := s.updateStream(ctx, next, in); err != nil {
			return Mapping{}, err
		}
	} else if in.streamMembers() {
		return Mapping{}, invalid("Unsupported stream parameters for an SQS event source mapping.")
	} else if err := checkSettings(next.M.BatchSize, next.M.MaximumBatchingWindowInSeconds, next.M.FunctionResponseTypes,
		next.M.ScalingConfig, next.M.FilterCriteria, s.cfg.Queues.QueueFIFO(next.M.EventSourceArn)); err != nil {
		return Mapping{}, err
	}
	if in.Enabled != nil {
		next.Enabled = *in.Enabled
	}
	for _, o := range s.view.all() {
		if o.M.UUID != uuid && o.M.EventSourceArn == next.M.EventSourceArn && o.M.FunctionArn == next.M.FunctionArn {
			return Mapping{}, awsproto.Errorf(awsproto.ResourceConflictException,
				"An event source mapping with SQS arn (\" %s \") and function (\" %s \") already exists. Please update or delete the existing mapping with UUID %s",
				next.M.EventSourceArn, next.Function, o.M.UUID)
		}
	}
	to := Updating
	switch {
	case next.Enabled && cur.M.State == Disabled:
		to = Enabling
	case !next.Enabled && cur.M.State == Enabled:
		to = Disabling
	}
	if err := next.M.State.to(to); err != nil {
		return Mapping{}, awsproto.Internal(err)
	}
	next.M.State, next.M.StateTransitionReason, next.M.LastModified = to, "USER_INITIATED", s.stamp()
	if err := s.write(ctx, next, rev); err != nil {
		return Mapping{}, err
	}
	return s.answer(next), nil
}

// Delete moves a mapping to Deleting; its owner stops the poller and
// removes it. The answer is the mapping in state Deleting.
func (s *Service) Delete(ctx context.Context, uuid string) (Mapping, error) {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	cur, rev, ok := s.view.get(uuid)
	if !ok {
		return Mapping{}, notFound()
	}
	if cur.M.State.transient() {
		return Mapping{}, inUse("delete")
	}
	next := cur.clone()
	if err := next.M.State.to(Deleting); err != nil {
		return Mapping{}, awsproto.Internal(err)
	}
	next.M.State, next.M.StateTransitionReason = Deleting, "USER_INITIATED"
	if err := s.write(ctx, next, rev); err != nil {
		return Mapping{}, err
	}
	return s.answer(next), nil
}

// List lists mappings sorted by UUID, of one function (fn non-nil: its
// name and, when given, qualifier) and/or one event source, after marker.
// max is 1–10000; 0 means 100.
func (s *Service) List(ctx context.Context, functionName, source, marker string, max int) ([]Mapping, string, error) {
	if max == 0 {
		max = defaultListItems
	}
	if max < 1 || max > maxListItems {
		return nil, "", constraint(max, "maxItems", "Member must have value less than or equal to 10000")
	}
	var fn *registry.Ref
	if functionName != "" {
		ref, err := s.cfg.ARNs.ParseRef(functionName, 256)
		if err != nil {
			return nil, "", err
		}
		fn = &ref
	}
	after := ""
	if marker != "" {
		b, err := base64.RawURLEncoding.DecodeString(marker)
		if err != nil || !isUUID(string(b)) {
			return nil, "", invalid("Invalid marker: %s", marker)
		}
		after = string(b)
	}
	all := s.view.all()
	sort.Slice(all, func(i, j int) bool { return all[i].M.UUID < all[j].M.UUID })
	out := []Mapping{}
	for _, r := range all {
		if r.M.UUID <= after && after != "" {
			continue
		}
		if source != "" && r.M.EventSourceArn != source {
			continue
		}
		if fn != nil && (r.Function != fn.Name || fn.Qualifier != "" && r.Qualifier != fn.Qualifier) {
			continue
		}
		if len(out) == max {
			return out, base64.RawURLEncoding.EncodeToString([]byte(out[len(out)-1].UUID)), nil
		}
		out = append(out, s.answer(r))
	}
	return out, "", nil
}

func (s *Service) stamp() float64 { return float64(s.cfg.Now().UnixMilli()) / 1000 }

// write stores rec with compare-and-set (rev 0: create) and puts it in the
// view.
func (s *Service) write(ctx context.Context, rec *record, rev uint64) error {
	b, err := json.Marshal(rec)
	if err != nil {
		return awsproto.Internal(err)
	}
	var nrev uint64
	if rev == 0 {
		nrev, err = s.cfg.KV.Create(ctx, key(rec.M.UUID), b)
	} else {
		nrev, err = s.cfg.KV.Update(ctx, key(rec.M.UUID), b, rev)
	}
	if errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrExists) {
		return inUse("update")
	}
	if err != nil {
		return awsproto.Internal(fmt.Errorf("esm: storing %s: %w", rec.M.UUID, err))
	}
	s.view.put(rec, nrev)
	s.kick()
	return nil
}
