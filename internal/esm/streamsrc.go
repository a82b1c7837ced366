package esm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/kumo-run/kumo/internal/asyncq"
	"github.com/kumo-run/kumo/internal/awsproto"
	awsarn "github.com/kumo-run/kumo/internal/awsproto/arn"
	"github.com/kumo-run/kumo/internal/invoke"
	"github.com/kumo-run/kumo/internal/registry"
	"github.com/kumo-run/kumo/internal/services/dynamodb"
	"github.com/kumo-run/kumo/internal/store"
)

// Streams is what stream mappings need of the DynamoDB service.
type Streams interface {
	StreamExists(arn string) bool
	StreamShard(arn string) string
	StreamLatest(ctx context.Context) (uint64, error)
	ReadStream(ctx context.Context, arn string, from uint64, n int) ([]dynamodb.StreamRecord, uint64, error)
}

var _ Streams = (*dynamodb.Service)(nil)

// StreamRoleChecker is what Streams may also offer: whether a function's
// execution role may call a DynamoDB action on a stream. With it, a
// mapping whose role may not read its stream is refused.
type StreamRoleChecker interface {
	StreamRoleAllowed(ctx context.Context, roleARN, action, streamARN string) bool
}

var _ StreamRoleChecker = (*dynamodb.Service)(nil)

// streamActions are what a stream mapping's poller needs, as Lambda
// names them.
var streamActions = []string{"GetRecords", "GetShardIterator", "DescribeStream", "ListStreams"}

// Lambda's bounds and defaults of a DynamoDB stream mapping.
const (
	DefaultStreamBatchSize = 100
	maxRetryAttempts       = 10000
	maxRecordAge           = 604800
	maxParallelization     = 10
	maxTumblingWindow      = 900
	// streamPoll is how often an idle stream mapping looks for records
	// (Lambda polls a shard four times a second).
	streamPoll = 250 * time.Millisecond
)

const checkpointPrefix = "cp."

func (r *record) isStream() bool { return dynamodb.IsStreamARN(r.M.EventSourceArn) }

func intOr(p *int, d int) int {
	if p == nil {
		return d
	}
	return *p
}

// DestinationConfig is Lambda's DestinationConfig shape.
type DestinationConfig struct {
	OnSuccess *Destination `json:"OnSuccess,omitempty"`
	OnFailure *Destination `json:"OnFailure,omitempty"`
}

// Destination is an OnSuccess or OnFailure destination.
type Destination struct {
	Destination *string `json:"Destination,omitempty"`
}

// Targets delivers a stream mapping's on-failure records to SQS queues
// and SNS topics (the same delivery as Lambda's async destinations).
type Targets interface {
	Send(ctx context.Context, arn string, body []byte, attrs map[string]asyncq.Attribute) error
}

// onFailure is the mapping's on-failure destination, "" when none.
func (r *record) onFailure() string {
	if d := r.M.DestinationConfig; d != nil && d.OnFailure != nil && d.OnFailure.Destination != nil {
		return *d.OnFailure.Destination
	}
	return ""
}

// streamSettings are what a stream poller runs with besides the members
// every mapping has.
type streamSettings struct {
	Retry, Age, Parallel, Window int
	Bisect                       bool
	OnFailure                    string
}

func (r *record) stream() streamSettings {
	return streamSettings{Retry: intOr(r.M.MaximumRetryAttempts, -1), Age: intOr(r.M.MaximumRecordAgeInSeconds, -1),
		Parallel: intOr(r.M.ParallelizationFactor, 1), Window: intOr(r.M.TumblingWindowInSeconds, 0),
		Bisect: r.M.BisectBatchOnFunctionError != nil && *r.M.BisectBatchOnFunctionError, OnFailure: r.onFailure()}
}

// sameStream reports whether a and b have the same stream settings.
func sameStream(a, b *record) bool { return a.stream() == b.stream() }

// streamMembers reports whether an update names a member only stream
// mappings have.
func (in *UpdateInput) streamMembers() bool {
	return in.MaximumRetryAttempts != nil || in.MaximumRecordAgeInSeconds != nil || in.BisectBatchOnFunctionError != nil ||
		in.ParallelizationFactor != nil || in.DestinationConfig != nil || in.TumblingWindowInSeconds != nil
}

// updateStream applies an update's stream members to next and checks the
// result.
func (s *Service) updateStream(ctx context.Context, next *record, in UpdateInput) error {
	m := &next.M
	if in.MaximumRetryAttempts != nil {
		m.MaximumRetryAttempts = ptr(*in.MaximumRetryAttempts)
	}
	if in.MaximumRecordAgeInSeconds != nil {
		m.MaximumRecordAgeInSeconds = ptr(*in.MaximumRecordAgeInSeconds)
	}
	if in.BisectBatchOnFunctionError != nil {
		m.BisectBatchOnFunctionError = ptr(*in.BisectBatchOnFunctionError)
	}
	if in.ParallelizationFactor != nil {
		m.ParallelizationFactor = ptr(*in.ParallelizationFactor)
	}
	if in.TumblingWindowInSeconds != nil {
		m.TumblingWindowInSeconds = ptr(*in.TumblingWindowInSeconds)
	}
	if in.DestinationConfig != nil {
		m.DestinationConfig = normDestination(in.DestinationConfig)
	}
	if err := checkStreamSettings(m); err != nil {
		return err
	}
	if in.DestinationConfig != nil || in.FunctionName != nil {
		fc, err := s.cfg.Functions.GetFunctionConfiguration(ctx, next.ref())
		if err != nil {
			return err
		}
		return s.checkDestination(ctx, fc.Role, next.onFailure())
	}
	return nil
}

// normDestination drops an empty DestinationConfig.
func normDestination(d *DestinationConfig) *DestinationConfig {
	if d == nil || (d.OnFailure == nil || d.OnFailure.Destination == nil || *d.OnFailure.Destination == "") && d.OnSuccess == nil {
		return nil
	}
	out := &DestinationConfig{OnSuccess: d.OnSuccess}
	if d.OnFailure != nil && d.OnFailure.Destination != nil && *d.OnFailure.Destination != "" {
		out.OnFailure = &Destination{Destination: ptr(*d.OnFailure.Destination)}
	}
	return out
}

// checkDestination refuses an on-failure destination Lambda would refuse
// for a stream: anything but a standard SQS queue or an SNS topic, a
// queue that does not exist, or one the function's role may not send to.
func (s *Service) checkDestination(ctx context.Context, role, dest string) error {
	if dest == "" {
		return nil
	}
	a, err := awsarn.Parse(dest)
	if err != nil || a.Service != "sqs" && a.Service != "sns" {
		return invalid("The provided destination config DestinationConfig(onSuccess=null, onFailure=OnFailure(destination=%s)) is invalid.", dest)
	}
	if s.cfg.Targets == nil {
		return invalid("On-failure destinations are not available on this server.")
	}
	if a.Service != "sqs" {
		return nil
	}
	if !s.cfg.Queues.QueueExists(dest) {
		return awsproto.Errorf(awsproto.ResourceNotFoundException, "The resource you requested does not exist. (Queue %s)", dest)
	}
	if s.cfg.Queues.QueueFIFO(dest) {
		return invalid("FIFO SQS queues are not supported as destinations for stream event source mappings.")
	}
	if rc, ok := s.cfg.Queues.(RoleChecker); ok && !rc.RoleAllowed(ctx, role, "sqs:SendMessage", dest) {
		return invalid("The provided execution role does not have permissions to call SendMessage on SQS")
	}
	return nil
}

// checkStreamSettings validates a stream mapping's members.
func checkStreamSettings(m *Mapping) error {
	if m.BatchSize < 1 || m.BatchSize > MaxBatchSize {
		return constraint(m.BatchSize, "batchSize", "Member must have value less than or equal to 10000")
	}
	if w := m.MaximumBatchingWindowInSeconds; w < 0 || w > MaxBatchingWindow {
		return constraint(w, "maximumBatchingWindowInSeconds", "Member must have value less than or equal to 300")
	}
	for _, t := range m.FunctionResponseTypes {
		if t != ReportBatchItemFailures || len(m.FunctionResponseTypes) > 1 {
			return constraint("["+t+"]", "functionResponseTypes", "Member must satisfy enum value set: [ReportBatchItemFailures]")
		}
	}
	if m.ScalingConfig != nil {
		return invalid("ScalingConfig is not supported for this event source.")
	}
	if n := intOr(m.MaximumRetryAttempts, -1); n < -1 || n > maxRetryAttempts {
		return constraint(n, "maximumRetryAttempts", "Member must have value less than or equal to 10000")
	}
	if n := intOr(m.MaximumRecordAgeInSeconds, -1); n != -1 && (n < 60 || n > maxRecordAge) {
		return constraint(n, "maximumRecordAgeInSeconds", "Member must have value less than or equal to 604800")
	}
	if n := intOr(m.ParallelizationFactor, 1); n < 1 || n > maxParallelization {
		return constraint(n, "parallelizationFactor", "Member must have value less than or equal to 10")
	}
	if n := intOr(m.TumblingWindowInSeconds, 0); n < 0 || n > maxTumblingWindow {
		return constraint(n, "tumblingWindowInSeconds", "Member must have value less than or equal to 900")
	}
	if d := m.DestinationConfig; d != nil && d.OnSuccess != nil && d.OnSuccess.Destination != nil {
		return invalid("Unsupported DestinationConfig parameter for given event source mapping type.")
	}
	if m.FilterCriteria != nil {
		if _, err := compileFilters(m.FilterCriteria); err != nil {
			return err
		}
	}
	return nil
}

// createStream makes a mapping of a DynamoDB stream.
func (s *Service) createStream(ctx context.Context, in CreateInput, ref registry.Ref, fnARN, role string) (Mapping, error) {
	src := *in.EventSourceArn
	if s.cfg.Streams == nil {
		return Mapping{}, invalid("Unrecognized event source, must be kinesis, dynamodb stream or sqs.")
	}
	if in.StartingPosition == nil {
		return Mapping{}, invalid("StartingPosition is required for event source %s", src)
	}
	if p := *in.StartingPosition; p != "TRIM_HORIZON" && p != "LATEST" {
		return Mapping{}, invalid("Unsupported starting position for arn type: dynamodb")
	}
	if !s.cfg.Streams.StreamExists(src) {
		return Mapping{}, awsproto.Errorf(awsproto.ResourceNotFoundException, "The resource you requested does not exist. (Stream %s)", src)
	}
	if err := s.checkStreamRole(ctx, role, src); err != nil {
		return Mapping{}, err
	}
	pos := *in.StartingPosition
	id := newUUID()
	rec := &record{Function: ref.Name, Qualifier: ref.Qualifier, Enabled: in.Enabled == nil || *in.Enabled, M: Mapping{
		UUID: id, BatchSize: intOr(in.BatchSize, DefaultStreamBatchSize), MaximumBatchingWindowInSeconds: intOr(in.MaximumBatchingWindowInSeconds, 0),
		EventSourceArn: src, FilterCriteria: normFilters(in.FilterCriteria), FunctionArn: fnARN, LastModified: s.stamp(),
		State: Creating, StateTransitionReason: "USER_INITIATED", FunctionResponseTypes: slices.Clone(in.FunctionResponseTypes),
		ScalingConfig: in.ScalingConfig, EventSourceMappingArn: s.mappingARN(id), StartingPosition: &pos,
		MaximumRetryAttempts: in.MaximumRetryAttempts, MaximumRecordAgeInSeconds: in.MaximumRecordAgeInSeconds,
		BisectBatchOnFunctionError: in.BisectBatchOnFunctionError, ParallelizationFactor: in.ParallelizationFactor,
		DestinationConfig: normDestination(in.DestinationConfig), TumblingWindowInSeconds: in.TumblingWindowInSeconds,
	}}
	if err := checkStreamSettings(&rec.M); err != nil {
		return Mapping{}, err
	}
	if err := s.checkDestination(ctx, role, rec.onFailure()); err != nil {
		return Mapping{}, err
	}
	m := &rec.M
	m.MaximumRetryAttempts, m.MaximumRecordAgeInSeconds = ptr(intOr(m.MaximumRetryAttempts, -1)), ptr(intOr(m.MaximumRecordAgeInSeconds, -1))
	m.ParallelizationFactor, m.TumblingWindowInSeconds = ptr(intOr(m.ParallelizationFactor, 1)), ptr(intOr(m.TumblingWindowInSeconds, 0))
	if m.BisectBatchOnFunctionError == nil {
		m.BisectBatchOnFunctionError = ptr(false)
	}
	if m.FunctionResponseTypes == nil {
		m.FunctionResponseTypes = []string{}
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	for _, o := range s.view.all() {
		if o.M.EventSourceArn == src && o.M.FunctionArn == fnARN {
			return Mapping{}, awsproto.Errorf(awsproto.ResourceConflictException,
				"The event source arn (\" %s \") and function (\" %s \") provided mapping already exists. Please update or delete the existing mapping with UUID %s",
				src, ref.Name, o.M.UUID)
		}
	}
	if err := s.write(ctx, rec, 0); err != nil {
		return Mapping{}, err
	}
	return s.answer(rec), nil
}

// checkStreamRole refuses a mapping whose function's execution role may
// not read the stream, with Lambda's message.
func (s *Service) checkStreamRole(ctx context.Context, role, arn string) error {
	rc, ok := s.cfg.Streams.(StreamRoleChecker)
	if !ok {
		return nil
	}
	for _, a := range streamActions {
		if !rc.StreamRoleAllowed(ctx, role, "dynamodb:"+a, arn) {
			return invalid("Cannot access stream %s. Please ensure the role can perform the GetRecords, GetShardIterator, DescribeStream, and ListStreams Actions on your stream in IAM.", arn)
		}
	}
	return nil
}

func ptr[T any](v T) *T { return &v }

// startStream starts the one worker of a stream mapping: the stream has
// one shard, read in order.
func (p *poller) startStream() {
	p.mu.Lock()
	p.workers = 1
	p.mu.Unlock()
	p.s.wg.Add(1)
	go p.streamWork()
}

// position is a stream mapping's checkpoint: the next stream sequence to
// process and the open tumbling window of each lane. It is stored in the
// mapping bucket under "cp.<uuid>" — a bare number when no window is
// open, JSON otherwise — so that another node or a restart resumes where
// the last acknowledged chunk ended, with the windows' state as it was
// then.
type position struct {
	Pos     uint64         `json:"pos"`
	Windows map[int]*tumbl `json:"windows,omitempty"`
}

// tumbl is a lane's open tumbling window: its start (epoch seconds) and
// the state the function last returned in it.
type tumbl struct {
	Start int64           `json:"start"`
	State json.RawMessage `json:"state"`
}

func parsePosition(b []byte) (position, error) {
	if len(b) > 0 && b[0] == '{' {
		var p position
		err := json.Unmarshal(b, &p)
		return p, err
	}
	n, err := strconv.ParseUint(string(b), 10, 64)
	return position{Pos: n}, err
}

func (p position) encode() []byte {
	open := false
	for _, w := range p.Windows {
		open = open || w != nil
	}
	if !open {
		return []byte(strconv.FormatUint(p.Pos, 10))
	}
	b, _ := json.Marshal(p)
	return b
}

// checkpoint reads the mapping's position, creating it at the starting
// position when the mapping first runs.
func (p *poller) checkpoint(ctx context.Context) (position, error) {
	key := checkpointPrefix + p.rec.M.UUID
	e, err := p.s.cfg.KV.Get(ctx, key)
	if err == nil {
		return parsePosition(e.Value)
	}
	if !errors.Is(err, store.ErrNotFound) {
		return position{}, err
	}
	pos := uint64(1)
	if p.rec.M.StartingPosition != nil && *p.rec.M.StartingPosition == "LATEST" {
		if pos, err = p.s.cfg.Streams.StreamLatest(ctx); err != nil {
			return position{}, err
		}
	}
	if _, err := p.s.cfg.KV.Create(ctx, key, []byte(strconv.FormatUint(pos, 10))); err != nil {
		if errors.Is(err, store.ErrExists) {
			return p.checkpoint(ctx)
		}
		return position{}, err
	}
	return position{Pos: pos}, nil
}

func (p *poller) saveCheckpoint(ctx context.Context, pos position) error {
	_, err := p.s.cfg.KV.Put(ctx, checkpointPrefix+p.rec.M.UUID, pos.encode())
	return err
}

// streamWork reads the stream in chunks of up to BatchSize records per
// lane, processes each chunk (runChunk) and then moves the checkpoint
// past it. Until a chunk is done nothing after it is read: a failing
// batch blocks the shard, as on Lambda.
func (p *poller) streamWork() {
	defer p.s.wg.Done()
	defer func() {
		p.mu.Lock()
		p.workers--
		if p.workers == 0 {
			close(p.stopped)
		}
		p.mu.Unlock()
	}()
	backoff := p.s.cfg.Backoff
	var pos position
	for {
		var err error
		if pos, err = p.checkpoint(p.ctx); err == nil {
			break
		}
		p.s.log.Warn("esm: reading a stream checkpoint", "uuid", p.rec.M.UUID, "error", err)
		if !p.sleep(p.ctx, backoff) {
			return
		}
		backoff = min(backoff*2, 30*time.Second)
	}
	set := p.rec.stream()
	if pos.Windows == nil {
		pos.Windows = map[int]*tumbl{}
	}
	arn, size := p.rec.M.EventSourceArn, p.rec.M.BatchSize
	for p.ctx.Err() == nil {
		recs, next, err := p.s.cfg.Streams.ReadStream(p.ctx, arn, pos.Pos, size*set.Parallel)
		if err == nil && len(recs) > 0 && len(recs) < size && p.rec.M.MaximumBatchingWindowInSeconds > 0 {
			// gather more for the batching window
			deadline := p.s.cfg.Now().Add(time.Duration(p.rec.M.MaximumBatchingWindowInSeconds) * time.Second)
			for len(recs) < size && p.s.cfg.Now().Before(deadline) && p.sleep(p.ctx, streamPoll) {
				more, n, err := p.s.cfg.Streams.ReadStream(p.ctx, arn, next, size-len(recs))
				if err != nil {
					break
				}
				recs, next = append(recs, more...), n
			}
		}
		if err != nil {
			if p.ctx.Err() != nil {
				return
			}
			p.s.log.Warn("esm: reading a stream", "uuid", p.rec.M.UUID, "stream", arn, "error", err)
			if !p.sleep(p.ctx, backoff) {
				return
			}
			backoff = min(backoff*2, 30*time.Second)
			continue
		}
		backoff = p.s.cfg.Backoff
		if len(recs) == 0 {
			// an idle stream: windows whose end has passed close now
			if open := len(pos.Windows); set.Window > 0 && open > 0 {
				if !p.runChunk(nil, pos.Windows, p.s.cfg.Now().Unix()) {
					return
				}
				if len(pos.Windows) != open { // a window closed
					if err := p.saveCheckpoint(p.s.hard, pos); err != nil {
						p.s.log.Warn("esm: saving a stream checkpoint", "uuid", p.rec.M.UUID, "error", err)
					}
				}
			}
			if !p.sleep(p.ctx, streamPoll) {
				return
			}
			continue
		}
		if !p.runChunk(recs, pos.Windows, recs[len(recs)-1].Time) {
			return
		}
		pos.Pos = next
		if err := p.saveCheckpoint(p.s.hard, pos); err != nil {
			p.s.log.Warn("esm: saving a stream checkpoint", "uuid", p.rec.M.UUID, "error", err)
		}
	}
}

// runChunk processes recs in ParallelizationFactor lanes at once: a
// record's lane is its partition key's hash modulo the factor, so each
// partition key's records are processed in order by one lane. It returns
// once every lane is done with its records (false: the poller stopped
// first). A lane's tumbling window closes when its next record belongs to
// a later window, or when the chunk's records (or, idle, the clock: until
// is then the time) have passed its end.
func (p *poller) runChunk(recs []dynamodb.StreamRecord, windows map[int]*tumbl, until int64) bool {
	set := p.rec.stream()
	lanes := make([][]dynamodb.StreamRecord, set.Parallel)
	for _, r := range recs {
		i := int(r.Partition % uint64(set.Parallel))
		lanes[i] = append(lanes[i], r)
	}
	work := func(i int) bool {
		w := windows[i]
		ok := p.runLane(lanes[i], &w, until)
		if w == nil {
			delete(windows, i)
		} else {
			windows[i] = w
		}
		return ok
	}
	busy := 0
	for i := range lanes {
		if len(lanes[i]) > 0 || windows[i] != nil {
			busy++
		}
	}
	if busy <= 1 {
		for i := range lanes {
			if (len(lanes[i]) > 0 || windows[i] != nil) && !work(i) {
				return false
			}
		}
		return true
	}
	// lanes run at once; each has its own window, written back after
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok := true
	own := make([]*tumbl, len(lanes))
	for i := range lanes {
		own[i] = windows[i]
	}
	for i := range lanes {
		if len(lanes[i]) == 0 && own[i] == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := p.runLane(lanes[i], &own[i], until)
			mu.Lock()
			ok = ok && r
			mu.Unlock()
		}()
	}
	wg.Wait()
	for i, w := range own {
		if w == nil {
			delete(windows, i)
		} else {
			windows[i] = w
		}
	}
	return ok
}

// windowStart is the start of the tumbling window of a record made at t:
// windows of size seconds, aligned to the epoch.
func windowStart(t int64, size int) int64 { return t - t%int64(size) }

// runLane processes one lane's records in batches of up to BatchSize,
// each within one tumbling window when the mapping has them.
func (p *poller) runLane(recs []dynamodb.StreamRecord, w **tumbl, until int64) bool {
	set := p.rec.stream()
	if len(p.filters) > 0 {
		kept := recs[:0:0]
		for _, r := range recs {
			if p.streamMatches(r) {
				kept = append(kept, r)
			}
		}
		recs = kept
	}
	for len(recs) > 0 {
		n := min(len(recs), p.rec.M.BatchSize)
		if set.Window > 0 {
			start := windowStart(recs[0].Time, set.Window)
			if *w != nil && (*w).Start != start {
				if !p.runBatch(nil, *w, true) {
					return false
				}
				*w = nil
			}
			if *w == nil {
				*w = &tumbl{Start: start, State: json.RawMessage("{}")}
			}
			for i := 1; i < n; i++ {
				if windowStart(recs[i].Time, set.Window) != start {
					n = i
					break
				}
			}
		}
		if !p.runBatch(recs[:n], *w, false) {
			return false
		}
		recs = recs[n:]
	}
	if set.Window > 0 && *w != nil && until >= (*w).Start+int64(set.Window) {
		if !p.runBatch(nil, *w, true) {
			return false
		}
		*w = nil
	}
	return true
}

type streamOutcome int

const (
	streamOK streamOutcome = iota
	streamFailed
	streamNotRun
)

// runBatch invokes the function with batch until it succeeds, its
// records age past MaximumRecordAgeInSeconds or MaximumRetryAttempts
// retries are spent: then the records are discarded (to the on-failure
// destination, when there is one). A function error with
// BisectBatchOnFunctionError splits the batch in two halves, each
// processed in turn with retries of its own (a split is no retry, as on
// Lambda). A reported partial failure retries from the failed record. An
// invoke that did not run (throttled, the function gone) is retried with
// backoff and counts no attempt. w is the batch's tumbling window (nil:
// none); final is the window's last invoke, with no records. It returns
// false when the poller stopped first.
func (p *poller) runBatch(batch []dynamodb.StreamRecord, w *tumbl, final bool) bool {
	set := p.rec.stream()
	backoff := p.s.cfg.Backoff
	attempts := 0
	var last *invoke.Output
	for {
		if p.ctx.Err() != nil {
			return false
		}
		if set.Age >= 0 && len(batch) > 0 {
			now := p.s.cfg.Now().Unix()
			var old, young []dynamodb.StreamRecord
			for _, r := range batch {
				if now-r.Time > int64(set.Age) {
					old = append(old, r)
				} else {
					young = append(young, r)
				}
			}
			if len(old) > 0 {
				if !p.discard(old, "RecordAgeExceeded", attempts, last) {
					return false
				}
				batch = young
			}
			if len(batch) == 0 {
				return true
			}
		}
		out, outcome, failed := p.invokeStream(batch, w, final)
		switch outcome {
		case streamOK:
			return true
		case streamNotRun:
			if !p.sleep(p.ctx, backoff) {
				return false
			}
			backoff = min(backoff*2, 30*time.Second)
			continue
		}
		last = out
		batch = batch[failed:]
		if set.Bisect && failed == 0 && out.FunctionError != "" && len(batch) > 1 {
			h := len(batch) / 2
			return p.runBatch(batch[:h], w, false) && p.runBatch(batch[h:], w, false)
		}
		attempts++
		if set.Retry >= 0 && attempts > set.Retry {
			if final {
				p.s.log.Info("esm: a tumbling window's final invoke failed; its state is dropped", "uuid", p.rec.M.UUID)
				return true
			}
			p.s.log.Info("esm: a stream batch's retries are spent; its records are discarded", "uuid", p.rec.M.UUID, "records", len(batch))
			return p.discard(batch, "RetryAttemptsExhausted", attempts, last)
		}
		if !p.sleep(p.ctx, backoff) {
			return false
		}
		backoff = min(backoff*2, 30*time.Second)
	}
}

// streamResponse is a stream function's answer: reported failures and,
// in a tumbling window, its state.
type streamResponse struct {
	State json.RawMessage `json:"state"`
}

// invokeStream invokes the function once with batch (and the window's
// state) and says how it went; after a failure, failed is the index in
// batch of the first record to retry.
func (p *poller) invokeStream(batch []dynamodb.StreamRecord, w *tumbl, final bool) (*invoke.Output, streamOutcome, int) {
	ctx := p.s.hard
	evs := make([]map[string]any, len(batch))
	for i, r := range batch {
		evs[i] = r.Record
	}
	ev := map[string]any{"Records": evs}
	if w != nil {
		size := int64(intOr(p.rec.M.TumblingWindowInSeconds, 0))
		ev["window"] = map[string]string{"start": stamp(w.Start), "end": stamp(w.Start + size)}
		ev["state"] = w.State
		ev["shardId"] = p.shard(batch)
		ev["eventSourceARN"] = p.rec.M.EventSourceArn
		ev["isFinalInvokeForWindow"] = final
		ev["isWindowTerminatedEarly"] = false
	}
	payload, err := json.Marshal(ev)
	if err != nil {
		p.s.log.Error("esm: encoding a stream event", "uuid", p.rec.M.UUID, "error", err)
		return nil, streamNotRun, 0
	}
	out, err := p.s.cfg.Invoker.Invoke(ctx, &invoke.Input{Ref: p.rec.ref(), InvocationType: invoke.TypeRequestReponse, Payload: payload, RequestID: newUUID()})
	if err != nil {
		if ctx.Err() == nil {
			p.s.log.Warn("esm: invoking", "uuid", p.rec.M.UUID, "function", p.rec.M.FunctionArn, "error", err)
			p.s.setResult(p.rec.M.UUID, resultProblem)
		}
		return nil, streamNotRun, 0
	}
	if out.FunctionError != "" {
		p.s.setResult(p.rec.M.UUID, resultProblem)
		return out, streamFailed, 0
	}
	p.s.setResult(p.rec.M.UUID, resultOK)
	if p.rec.reportFailures() && len(batch) > 0 {
		first, ok := streamFailures(out.Payload, batch)
		switch {
		case !ok:
			return out, streamFailed, 0
		case first != 0:
			for i, r := range batch {
				if r.Seq == first {
					return out, streamFailed, i
				}
			}
		}
	}
	if w != nil && !final {
		var r streamResponse
		if json.Unmarshal(out.Payload, &r) == nil && len(r.State) > 0 && string(r.State) != "null" {
			w.State = r.State
		}
	}
	return out, streamOK, 0
}

// shard is the ShardId of the mapping's stream.
func (p *poller) shard(batch []dynamodb.StreamRecord) string {
	if len(batch) > 0 {
		return batch[0].Shard
	}
	return p.s.cfg.Streams.StreamShard(p.rec.M.EventSourceArn)
}

func stamp(sec int64) string { return time.Unix(sec, 0).UTC().Format(time.RFC3339) }

// discard gives up on records: with an on-failure destination it sends
// the record Lambda sends (the batch's shard and sequence range, not the
// records themselves), retried until it is delivered so that nothing is
// dropped unrecorded. condition is RetryAttemptsExhausted or
// RecordAgeExceeded; last the last invoke's answer, if any.
func (p *poller) discard(batch []dynamodb.StreamRecord, condition string, attempts int, last *invoke.Output) bool {
	dest := p.rec.onFailure()
	if dest == "" || len(batch) == 0 {
		return true
	}
	if p.s.cfg.Targets == nil {
		p.s.log.Error("esm: no targets to send an on-failure record with; records discarded", "uuid", p.rec.M.UUID, "destination", dest)
		return true
	}
	body, err := json.Marshal(p.failureRecord(batch, condition, attempts, last))
	if err != nil {
		p.s.log.Error("esm: encoding an on-failure record", "uuid", p.rec.M.UUID, "error", err)
		return true
	}
	backoff := p.s.cfg.Backoff
	for {
		err := p.s.cfg.Targets.Send(p.s.hard, dest, body, nil)
		if err == nil {
			return true
		}
		p.s.log.Warn("esm: sending to an on-failure destination", "uuid", p.rec.M.UUID, "destination", dest, "error", err)
		if !p.sleep(p.ctx, backoff) {
			return false
		}
		backoff = min(backoff*2, 30*time.Second)
	}
}

// failureRecord is the invocation record of discarded stream records, in
// Lambda's shape.
func (p *poller) failureRecord(batch []dynamodb.StreamRecord, condition string, attempts int, last *invoke.Output) map[string]any {
	seq := func(r dynamodb.StreamRecord) any {
		if d, ok := r.Record["dynamodb"].(map[string]any); ok {
			return d["SequenceNumber"]
		}
		return nil
	}
	first, end := batch[0], batch[len(batch)-1]
	rec := map[string]any{
		"requestContext": map[string]any{"requestId": newUUID(), "functionArn": p.rec.M.FunctionArn,
			"condition": condition, "approximateInvokeCount": attempts},
		"version":   "1.0",
		"timestamp": p.s.cfg.Now().UTC().Format("2006-01-02T15:04:05.000Z"),
		"DDBStreamBatchInfo": map[string]any{"shardId": first.Shard, "startSequenceNumber": seq(first), "endSequenceNumber": seq(end),
			"approximateArrivalOfFirstRecord": stamp(first.Time), "approximateArrivalOfLastRecord": stamp(end.Time),
			"batchSize": len(batch), "streamArn": p.rec.M.EventSourceArn},
	}
	if last != nil {
		version := last.ExecutedVersion
		if version == "" {
			version = "$LATEST"
		}
		rec["responseContext"] = map[string]any{"statusCode": max(last.Status, 200), "executedVersion": version, "functionError": last.FunctionError}
	}
	return rec
}

// streamFailures reads a ReportBatchItemFailures response of a stream
// batch: the position of the first failed record (0: none), or ok false
// when the response is invalid (the whole batch failed). itemIdentifier
// is a record's SequenceNumber.
func streamFailures(payload []byte, batch []dynamodb.StreamRecord) (uint64, bool) {
	if len(payload) == 0 || string(payload) == "null" {
		return 0, true
	}
	var r batchResponse
	if err := json.Unmarshal(payload, &r); err != nil {
		var v any
		if json.Unmarshal(payload, &v) == nil {
			if _, isObject := v.(map[string]any); !isObject {
				return 0, true
			}
		}
		return 0, false
	}
	seqs := map[string]uint64{}
	for _, b := range batch {
		if d, ok := b.Record["dynamodb"].(map[string]any); ok {
			if sn, ok := d["SequenceNumber"].(string); ok {
				seqs[sn] = b.Seq
			}
		}
	}
	var first uint64
	for _, f := range r.BatchItemFailures {
		if f.ItemIdentifier == nil {
			return 0, false
		}
		seq, ok := seqs[*f.ItemIdentifier]
		if !ok {
			return 0, false
		}
		if first == 0 || seq < first {
			first = seq
		}
	}
	return first, true
}

// streamMatches reports whether a record passes a filter of the mapping:
// the pattern sees the record as the event carries it.
func (p *poller) streamMatches(r dynamodb.StreamRecord) bool {
	b, err := json.Marshal(r.Record)
	if err != nil {
		return false
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var doc map[string]any
	if d.Decode(&doc) != nil {
		return false
	}
	for _, f := range p.filters {
		if f.Match(doc) {
			return true
		}
	}
	return false
}
