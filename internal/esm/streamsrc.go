package esm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"time"

	"github.com/kumo-run/kumo/internal/awsproto"
	"github.com/kumo-run/kumo/internal/invoke"
	"github.com/kumo-run/kumo/internal/registry"
	"github.com/kumo-run/kumo/internal/services/dynamodb"
	"github.com/kumo-run/kumo/internal/store"
)

// Streams is what stream mappings need of the DynamoDB service.
type Streams interface {
	StreamExists(arn string) bool
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

// sameStream reports whether a and b have the same stream settings.
func sameStream(a, b *record) bool {
	return intOr(a.M.MaximumRetryAttempts, -1) == intOr(b.M.MaximumRetryAttempts, -1) &&
		intOr(a.M.MaximumRecordAgeInSeconds, -1) == intOr(b.M.MaximumRecordAgeInSeconds, -1)
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
	if m.BisectBatchOnFunctionError != nil && *m.BisectBatchOnFunctionError {
		return invalid("BisectBatchOnFunctionError is not supported by this server.")
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
	}}
	if err := checkStreamSettings(&rec.M); err != nil {
		return Mapping{}, err
	}
	m := &rec.M
	m.MaximumRetryAttempts, m.MaximumRecordAgeInSeconds = ptr(intOr(m.MaximumRetryAttempts, -1)), ptr(intOr(m.MaximumRecordAgeInSeconds, -1))
	m.ParallelizationFactor, m.BisectBatchOnFunctionError = ptr(intOr(m.ParallelizationFactor, 1)), ptr(false)
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

// startStream starts the one worker of a stream mapping: one shard, read
// in order.
func (p *poller) startStream() {
	p.mu.Lock()
	p.workers = 1
	p.mu.Unlock()
	p.s.wg.Add(1)
	go p.streamWork()
}

// checkpoint is a stream mapping's position: the next stream position
// to process, in the mapping bucket under "cp.<uuid>", so that another
// node or a restart resumes where the last acknowledged batch ended.
func (p *poller) checkpoint(ctx context.Context) (uint64, error) {
	key := checkpointPrefix + p.rec.M.UUID
	e, err := p.s.cfg.KV.Get(ctx, key)
	if err == nil {
		return strconv.ParseUint(string(e.Value), 10, 64)
	}
	if !errors.Is(err, store.ErrNotFound) {
		return 0, err
	}
	pos := uint64(1)
	if p.rec.M.StartingPosition != nil && *p.rec.M.StartingPosition == "LATEST" {
		if pos, err = p.s.cfg.Streams.StreamLatest(ctx); err != nil {
			return 0, err
		}
	}
	if _, err := p.s.cfg.KV.Create(ctx, key, []byte(strconv.FormatUint(pos, 10))); err != nil {
		if errors.Is(err, store.ErrExists) {
			return p.checkpoint(ctx)
		}
		return 0, err
	}
	return pos, nil
}

func (p *poller) saveCheckpoint(ctx context.Context, pos uint64) error {
	_, err := p.s.cfg.KV.Put(ctx, checkpointPrefix+p.rec.M.UUID, []byte(strconv.FormatUint(pos, 10)))
	return err
}

// streamWork reads the stream in order, invokes the function with each
// batch and moves the checkpoint past what succeeded. A failing batch
// blocks the shard, retried with backoff until it succeeds, its records
// age past MaximumRecordAgeInSeconds or MaximumRetryAttempts retries are
// spent (then it is skipped), as Lambda does.
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
	var pos uint64
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
	arn := p.rec.M.EventSourceArn
	failAt, attempts := uint64(0), 0
	for p.ctx.Err() == nil {
		recs, next, err := p.s.cfg.Streams.ReadStream(p.ctx, arn, pos, p.rec.M.BatchSize)
		if err == nil && len(recs) > 0 && len(recs) < p.rec.M.BatchSize && p.rec.M.MaximumBatchingWindowInSeconds > 0 {
			// gather more for the batching window
			deadline := p.s.cfg.Now().Add(time.Duration(p.rec.M.MaximumBatchingWindowInSeconds) * time.Second)
			for len(recs) < p.rec.M.BatchSize && p.s.cfg.Now().Before(deadline) && p.sleep(p.ctx, streamPoll) {
				more, n, err := p.s.cfg.Streams.ReadStream(p.ctx, arn, next, p.rec.M.BatchSize-len(recs))
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
		if len(recs) == 0 {
			if !p.sleep(p.ctx, streamPoll) {
				return
			}
			continue
		}
		resume, outcome := p.processStream(recs, next)
		switch outcome {
		case streamNotRun:
			if !p.sleep(p.ctx, backoff) {
				return
			}
			backoff = min(backoff*2, 30*time.Second)
			continue
		case streamFailed:
			if resume == failAt {
				attempts++
			} else {
				failAt, attempts = resume, 1
			}
			if max := intOr(p.rec.M.MaximumRetryAttempts, -1); max >= 0 && attempts > max {
				p.s.log.Info("esm: a stream batch's retries are spent; its records are skipped", "uuid", p.rec.M.UUID, "from", resume)
				resume, failAt, attempts = next, 0, 0
			} else if !p.sleep(p.ctx, backoff) {
				return
			} else {
				backoff = min(backoff*2, 30*time.Second)
			}
		default:
			backoff, failAt, attempts = p.s.cfg.Backoff, 0, 0
		}
		if resume != pos {
			if err := p.saveCheckpoint(p.s.hard, resume); err != nil {
				p.s.log.Warn("esm: saving a stream checkpoint", "uuid", p.rec.M.UUID, "error", err)
			}
			pos = resume
		}
	}
}

type streamOutcome int

const (
	streamOK streamOutcome = iota
	streamFailed
	streamNotRun
)

// processStream invokes the function with recs (those no filter drops
// and not past MaximumRecordAgeInSeconds) and returns where to resume:
// next when all succeeded, the first failed record's position otherwise.
func (p *poller) processStream(recs []dynamodb.StreamRecord, next uint64) (uint64, streamOutcome) {
	ctx := p.s.hard
	maxAge := intOr(p.rec.M.MaximumRecordAgeInSeconds, -1)
	now := p.s.cfg.Now().Unix()
	var batch []dynamodb.StreamRecord
	for _, r := range recs {
		if maxAge >= 0 {
			if d, ok := r.Record["dynamodb"].(map[string]any); ok {
				if t, ok := d["ApproximateCreationDateTime"].(int64); ok && now-t > int64(maxAge) {
					continue
				}
			}
		}
		if len(p.filters) > 0 && !p.streamMatches(r) {
			continue
		}
		batch = append(batch, r)
	}
	if len(batch) == 0 {
		return next, streamOK
	}
	evs := make([]map[string]any, len(batch))
	for i, r := range batch {
		evs[i] = r.Record
	}
	payload, err := json.Marshal(map[string]any{"Records": evs})
	if err != nil {
		p.s.log.Error("esm: encoding a stream event", "uuid", p.rec.M.UUID, "error", err)
		return batch[0].Seq, streamNotRun
	}
	out, err := p.s.cfg.Invoker.Invoke(ctx, &invoke.Input{Ref: p.rec.ref(), InvocationType: invoke.TypeRequestReponse, Payload: payload, RequestID: newUUID()})
	if err != nil {
		if ctx.Err() == nil {
			p.s.log.Warn("esm: invoking", "uuid", p.rec.M.UUID, "function", p.rec.M.FunctionArn, "error", err)
			p.s.setResult(p.rec.M.UUID, resultProblem)
		}
		return batch[0].Seq, streamNotRun
	}
	if out.FunctionError != "" {
		p.s.setResult(p.rec.M.UUID, resultProblem)
		return batch[0].Seq, streamFailed
	}
	p.s.setResult(p.rec.M.UUID, resultOK)
	if !p.rec.reportFailures() {
		return next, streamOK
	}
	first, ok := streamFailures(out.Payload, batch)
	switch {
	case !ok:
		return batch[0].Seq, streamFailed
	case first != 0:
		return first, streamFailed
	}
	return next, streamOK
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
