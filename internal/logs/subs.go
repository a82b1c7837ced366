package logs

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kumo-run/kumo/internal/awsproto"
	"github.com/kumo-run/kumo/internal/natsd"
)

// Functions is what subscription filters need of Lambda. The server's
// implementation invokes through lambda.InvokeGuard as logs.amazonaws.com.
type Functions interface {
	// Permitted returns nil when logs.amazonaws.com may invoke the
	// function functionARN names on behalf of the log group sourceARN
	// (arn:aws:logs:REGION:ACCOUNT:log-group:NAME:*); an error otherwise.
	Permitted(ctx context.Context, functionARN, sourceARN string) error
	// InvokeAsync queues an asynchronous (Event) invocation of functionARN
	// with payload as logs.amazonaws.com for sourceARN and returns once
	// it is queued. An *awsproto.Error with a 4xx status that the
	// catalogue does not call retryable is not worth retrying; any other
	// error is.
	InvokeAsync(ctx context.Context, functionARN, sourceARN string, payload []byte) error
}

// Subscription filter limits and delivery batching.
const (
	// maxSubscriptionFilters is CloudWatch Logs' quota per log group.
	maxSubscriptionFilters = 2
	// deliveryBatch is how many stored events one fetch reads.
	deliveryBatch = 1000
	// deliveryBytes caps the message bytes of one delivery, so that its
	// gzip+base64 payload stays under 256 KB (an Event invocation takes
	// up to 1 MB) even when gzip cannot shrink it. A single event larger
	// than an invocation takes is refused by Lambda and dropped.
	deliveryBytes = 150 << 10
	// deliveryWait is how long a delivery waits for more events: matching
	// events reach the function within about this long.
	deliveryWait = time.Second
	// retryDelay is when events whose invocation could not be queued are
	// tried again.
	retryDelay = 5 * time.Second
)

// LogsPrincipal is the service principal subscription deliveries invoke as.
const LogsPrincipal = "logs.amazonaws.com"

// subFilter is a subscription filter's KV value ("sf.<group>.<name>").
type subFilter struct {
	Name         string `json:"filterName"`
	Group        string `json:"logGroupName"`
	Pattern      string `json:"filterPattern"`
	Destination  string `json:"destinationArn"`
	Role         string `json:"roleArn,omitempty"`
	Distribution string `json:"distribution"`
	Created      int64  `json:"creationTime"`
	// Consumer is the durable JetStream consumer delivering the filter.
	Consumer string `json:"consumer"`
}

func subKey(g, name string) string { return "sf." + encodeToken(g) + "." + encodeToken(name) }

// consumerName is the durable consumer of one filter of one group, made
// unique by a hash of both names and the filter's creation time, so that a
// filter deleted and made again starts afresh.
func consumerName(g, name string, created int64) string {
	h := sha256.Sum256([]byte(g + "\x00" + name + "\x00" + strconv.FormatInt(created, 10)))
	return natsd.LogsSubscriptionConsumer(hex.EncodeToString(h[:12]))
}

// SetFunctions gives the store the functions subscription filters deliver
// to and starts delivering the filters it holds. Until it is called,
// PutSubscriptionFilter is refused and nothing is delivered. Call it once,
// before serving the API.
func (s *Store) SetFunctions(fns Functions) {
	s.mu.Lock()
	s.fns = fns
	var all []subFilter
	for _, g := range s.groups {
		for _, f := range g.subs {
			all = append(all, *f)
		}
	}
	s.mu.Unlock()
	for _, f := range all {
		s.startDelivery(f)
	}
}

// deliveries runs one goroutine per subscription filter this node holds.
type deliveries struct {
	mu  sync.Mutex
	run map[string]context.CancelFunc // by consumer name
}

func (s *Store) startDelivery(f subFilter) {
	s.dl.mu.Lock()
	defer s.dl.mu.Unlock()
	select {
	case <-s.stop:
		return
	default:
	}
	if s.dl.run == nil {
		s.dl.run = map[string]context.CancelFunc{}
	}
	if _, ok := s.dl.run[f.Consumer]; ok {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.dl.run[f.Consumer] = cancel
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		go func() {
			select {
			case <-s.stop:
				cancel()
			case <-ctx.Done():
			}
		}()
		s.deliver(ctx, f.Group, f.Name, f.Consumer)
	}()
}

func (s *Store) stopDelivery(consumer string) {
	s.dl.mu.Lock()
	defer s.dl.mu.Unlock()
	if c, ok := s.dl.run[consumer]; ok {
		c()
		delete(s.dl.run, consumer)
	}
}

// createConsumer makes a filter's durable consumer, delivering the events
// stored from now on. It is idempotent.
func (s *Store) createConsumer(ctx context.Context, g, name string) error {
	_, err := natsd.EnsureConsumer(ctx, s.stream, jetstream.ConsumerConfig{
		Durable:       name,
		FilterSubject: natsd.LogsGroupSubjects(encodeToken(g)),
		DeliverPolicy: jetstream.DeliverNewPolicy,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       time.Minute,
		MaxAckPending: 4 * deliveryBatch,
		Replicas:      s.cfg.Replicas,
	})
	return err
}

// current reads a filter's record from the bucket, which every node
// shares: ok is false once the filter is gone or was made again with
// another consumer (deleted and put anew, perhaps through another node).
func (s *Store) current(ctx context.Context, g, name, consumer string) (f subFilter, ok bool, err error) {
	e, err := s.kv.Get(ctx, subKey(g, name))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return subFilter{}, false, nil
	}
	if err != nil {
		return subFilter{}, false, err
	}
	if err := json.Unmarshal(e.Value(), &f); err != nil {
		return subFilter{}, false, err
	}
	return f, f.Consumer == consumer, nil
}

// forget drops a filter this node holds in memory that the bucket no
// longer has.
func (s *Store) forget(g, name, consumer string) {
	s.mu.Lock()
	if gr := s.groups[g]; gr != nil && gr.subs[name] != nil && gr.subs[name].Consumer == consumer {
		delete(gr.subs, name)
	}
	s.mu.Unlock()
	s.stopDelivery(consumer)
}

// deliver feeds one filter's consumer to its function until ctx ends or
// the filter is gone. Each round reads the filter's record, so that a
// change or deletion made through any node applies to the next batch.
// Every event is acknowledged once the invocation holding it is queued
// (or it did not match), so an event is delivered at least once; events
// whose invocation could not be queued come back after retryDelay.
func (s *Store) deliver(ctx context.Context, g, name, consumer string) {
	var cons jetstream.Consumer
	for ctx.Err() == nil {
		f, ok, err := s.current(ctx, g, name, consumer)
		if err != nil {
			if ctx.Err() == nil {
				s.log.Warn("subscription filter: reading its record", "logGroup", g, "filter", name, "err", err)
				sleep(ctx, retryDelay)
			}
			continue
		}
		if !ok {
			s.forget(g, name, consumer)
			return
		}
		if cons == nil {
			c, err := s.stream.Consumer(ctx, consumer)
			if errors.Is(err, jetstream.ErrConsumerNotFound) {
				if err = s.createConsumer(ctx, g, consumer); err == nil {
					// A delete removes the record before the consumer:
					// if the record is gone now, so must the consumer be.
					if _, ok, err := s.current(ctx, g, name, consumer); err == nil && !ok {
						s.stream.DeleteConsumer(context.WithoutCancel(ctx), consumer)
						s.forget(g, name, consumer)
						return
					}
					c, err = s.stream.Consumer(ctx, consumer)
				}
			}
			if err != nil {
				if ctx.Err() == nil {
					s.log.Warn("subscription filter: opening its consumer", "logGroup", g, "filter", name, "err", err)
					sleep(ctx, retryDelay)
				}
				continue
			}
			cons = c
		}
		batch, err := cons.Fetch(deliveryBatch, jetstream.FetchMaxWait(deliveryWait))
		if err != nil {
			if ctx.Err() == nil {
				s.log.Warn("subscription filter: fetching events", "logGroup", g, "filter", name, "err", err)
				cons = nil
				sleep(ctx, retryDelay)
			}
			continue
		}
		var msgs []jetstream.Msg
		for m := range batch.Messages() {
			msgs = append(msgs, m)
		}
		if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) && ctx.Err() == nil {
			cons = nil // deleted meanwhile, perhaps: look again
		}
		if len(msgs) > 0 {
			s.deliverBatch(ctx, f, msgs)
		}
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// deliverBatch sends the events of msgs that match f to its function, one
// invocation per log stream and deliveryBytes, as CloudWatch Logs does.
func (s *Store) deliverBatch(ctx context.Context, f subFilter, msgs []jetstream.Msg) {
	pat, err := ParsePattern(f.Pattern)
	if err != nil {
		pat = Pattern{} // stored patterns were parsed when put
	}
	type part struct {
		evs   []events.CloudwatchLogsLogEvent
		msgs  []jetstream.Msg
		bytes int
	}
	var order []string
	parts := map[string][]*part{}
	for _, m := range msgs {
		md, err := m.Metadata()
		if err != nil {
			m.Term()
			continue
		}
		stored, err := decodeEvents(m.Headers(), m.Data())
		if err != nil {
			m.Term()
			continue
		}
		var evs []events.CloudwatchLogsLogEvent
		size := 0
		for i, e := range stored {
			if pat.Match(e.Message) {
				evs = append(evs, events.CloudwatchLogsLogEvent{ID: strconv.FormatUint(position(md.Sequence.Stream, i), 10), Timestamp: e.Time, Message: e.Message})
				size += len(e.Message) + eventOverhead
			}
		}
		if len(evs) == 0 {
			m.Ack()
			continue
		}
		// A message's events travel in one invocation, acknowledged
		// together.
		st := streamOfSubject(m.Subject())
		ps := parts[st]
		if len(ps) == 0 {
			order = append(order, st)
		}
		if len(ps) == 0 || (ps[len(ps)-1].bytes+size > deliveryBytes && len(ps[len(ps)-1].evs) > 0) {
			ps = append(ps, &part{})
			parts[st] = ps
		}
		p := ps[len(ps)-1]
		p.evs = append(p.evs, evs...)
		p.msgs = append(p.msgs, m)
		p.bytes += size
	}
	source := s.arns().LogGroup(f.Group) + ":*"
	for _, st := range order {
		for _, p := range parts[st] {
			payload, err := subscriptionPayload(events.CloudwatchLogsData{
				Owner: s.cfg.Account, LogGroup: f.Group, LogStream: st, SubscriptionFilters: []string{f.Name},
				MessageType: "DATA_MESSAGE", LogEvents: p.evs,
			})
			if err == nil {
				err = s.fns.InvokeAsync(ctx, f.Destination, source, payload)
			}
			var ae *awsproto.Error
			switch {
			case err == nil:
				for _, m := range p.msgs {
					m.Ack()
				}
			case errors.As(err, &ae) && ae.Status() < 500 && !ae.Retryable():
				// Refused for good (the permission was removed, the
				// function deleted): dropped, as CloudWatch Logs drops
				// what its destination refuses.
				s.log.Warn("subscription filter: the function refused log events; they are dropped",
					"logGroup", f.Group, "filter", f.Name, "destination", f.Destination, "events", len(p.evs), "err", err)
				for _, m := range p.msgs {
					m.Ack()
				}
			default:
				if ctx.Err() == nil {
					s.log.Warn("subscription filter: could not queue the invocation; retrying",
						"logGroup", f.Group, "filter", f.Name, "destination", f.Destination, "err", err)
				}
				for _, m := range p.msgs {
					m.NakWithDelay(retryDelay)
				}
			}
		}
	}
}

// subscriptionPayload is what a function receives:
// {"awslogs":{"data": base64(gzip(json))}}.
func subscriptionPayload(d events.CloudwatchLogsData) ([]byte, error) {
	raw, err := json.Marshal(d)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(raw)
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return json.Marshal(events.CloudwatchLogsEvent{AWSLogs: events.CloudwatchLogsRawData{Data: base64.StdEncoding.EncodeToString(buf.Bytes())}})
}

// --- API

var errFilterNotFound = awsproto.Errorf(awsproto.LogsResourceNotFound, "The specified subscription filter does not exist.")

// errNoPermission is what PutSubscriptionFilter answers when CloudWatch
// Logs may not invoke the function.
var errNoPermission = invalid("Could not execute the lambda function. Make sure you have given CloudWatch Logs permission to execute your function.")

func validateFilterName(name string) error {
	if len(name) < 1 || len(name) > 512 {
		return invalid("1 validation error detected: Value '%s' at 'filterName' failed to satisfy constraint: Member must have length between 1 and 512", name)
	}
	if strings.ContainsAny(name, ":*") {
		return invalid("1 validation error detected: Value '%s' at 'filterName' failed to satisfy constraint: Member must satisfy regular expression pattern: [^:*]*", name)
	}
	return nil
}

func parseFilterPattern(p string) (Pattern, error) {
	if len(p) > 1024 {
		return Pattern{}, invalid("1 validation error detected: Value at 'filterPattern' failed to satisfy constraint: Member must have length less than or equal to 1024")
	}
	pat, err := ParsePattern(p)
	if err != nil {
		return Pattern{}, invalid("Invalid filter pattern: %s", strings.TrimPrefix(err.Error(), ErrPattern.Error()+": "))
	}
	return pat, nil
}

// isFunctionARN reports whether s is a Lambda function ARN.
func isFunctionARN(s string) bool {
	p := strings.Split(s, ":")
	return len(p) >= 7 && len(p) <= 8 && p[0] == "arn" && p[2] == "lambda" && p[5] == "function" && p[6] != ""
}

func (a *api) putSubscriptionFilter(ctx context.Context, body []byte) (any, error) {
	var in struct {
		LogGroupName   string  `json:"logGroupName"`
		FilterName     string  `json:"filterName"`
		FilterPattern  *string `json:"filterPattern"`
		DestinationArn string  `json:"destinationArn"`
		RoleArn        string  `json:"roleArn"`
		Distribution   string  `json:"distribution"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if err := validateGroupName("logGroupName", in.LogGroupName); err != nil {
		return nil, err
	}
	if err := validateFilterName(in.FilterName); err != nil {
		return nil, err
	}
	if in.FilterPattern == nil {
		return nil, invalid("1 validation error detected: Value null at 'filterPattern' failed to satisfy constraint: Member must not be null")
	}
	if _, err := parseFilterPattern(*in.FilterPattern); err != nil {
		return nil, err
	}
	if in.DestinationArn == "" {
		return nil, invalid("1 validation error detected: Value '' at 'destinationArn' failed to satisfy constraint: Member must have length greater than or equal to 1")
	}
	switch in.Distribution {
	case "":
		in.Distribution = "ByLogStream"
	case "Random", "ByLogStream":
	default:
		return nil, invalid("1 validation error detected: Value '%s' at 'distribution' failed to satisfy constraint: Member must satisfy enum value set: [Random, ByLogStream]", in.Distribution)
	}
	if !isFunctionARN(in.DestinationArn) {
		return nil, invalid("Invalid destinationArn %s: this server delivers to Lambda functions only.", in.DestinationArn)
	}
	a.s.mu.Lock()
	fns := a.s.fns
	g := a.s.groups[in.LogGroupName]
	var old *subFilter
	n := 0
	if g != nil {
		old, n = g.subs[in.FilterName], len(g.subs)
	}
	a.s.mu.Unlock()
	if g == nil {
		return nil, errGroupNotFound
	}
	if old == nil && n >= maxSubscriptionFilters {
		return nil, awsproto.Errorf(awsproto.LogsLimitExceeded, "Resource limit exceeded.")
	}
	if fns == nil {
		return nil, awsproto.Errorf(awsproto.LogsInvalidOperation, "This server does not deliver log events to functions.")
	}
	if err := fns.Permitted(ctx, in.DestinationArn, a.s.arns().LogGroup(in.LogGroupName)+":*"); err != nil {
		var ae *awsproto.Error
		if errors.As(err, &ae) && ae.Status() >= 500 {
			return nil, err
		}
		return nil, errNoPermission
	}
	f := subFilter{Name: in.FilterName, Group: in.LogGroupName, Pattern: *in.FilterPattern, Destination: in.DestinationArn,
		Role: in.RoleArn, Distribution: in.Distribution, Created: a.s.now().UnixMilli()}
	if old != nil {
		// An update keeps the filter's position in the log.
		f.Created, f.Consumer = old.Created, old.Consumer
	} else {
		f.Consumer = consumerName(f.Group, f.Name, f.Created)
	}
	// The consumer exists before the filter is acknowledged: every event
	// stored after this call returns is delivered.
	if err := a.s.createConsumer(ctx, f.Group, f.Consumer); err != nil {
		return nil, err
	}
	if err := a.s.putSub(ctx, f); err != nil {
		if old == nil {
			dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			a.s.stream.DeleteConsumer(dctx, f.Consumer)
			cancel()
		}
		return nil, err
	}
	a.s.startDelivery(f)
	return nil, nil
}

// putSub stores a filter and adds it to its group; errNoGroup if the group
// is gone, LimitExceededException when it holds the maximum already. The
// filter takes its place in memory before it is written, so that two
// concurrent calls cannot both pass the limit; a failed write undoes it.
func (s *Store) putSub(ctx context.Context, f subFilter) error {
	s.mu.Lock()
	g := s.groups[f.Group]
	if g == nil {
		s.mu.Unlock()
		return errNoGroup
	}
	old := g.subs[f.Name]
	if old == nil && len(g.subs) >= maxSubscriptionFilters {
		s.mu.Unlock()
		return awsproto.Errorf(awsproto.LogsLimitExceeded, "Resource limit exceeded.")
	}
	if g.subs == nil {
		g.subs = map[string]*subFilter{}
	}
	nf := &f
	g.subs[f.Name] = nf
	s.mu.Unlock()
	if err := s.putMeta(ctx, subKey(f.Group, f.Name), f); err != nil {
		s.mu.Lock()
		if g.subs[f.Name] == nf {
			if old != nil {
				g.subs[f.Name] = old
			} else {
				delete(g.subs, f.Name)
			}
		}
		s.mu.Unlock()
		return err
	}
	return nil
}

type subFilterOut struct {
	FilterName     string `json:"filterName"`
	LogGroupName   string `json:"logGroupName"`
	FilterPattern  string `json:"filterPattern"`
	DestinationArn string `json:"destinationArn"`
	RoleArn        string `json:"roleArn,omitempty"`
	Distribution   string `json:"distribution"`
	CreationTime   int64  `json:"creationTime"`
}

func (a *api) describeSubscriptionFilters(ctx context.Context, body []byte) (any, error) {
	var in struct {
		LogGroupName string `json:"logGroupName"`
		Prefix       string `json:"filterNamePrefix"`
		NextToken    string `json:"nextToken"`
		Limit        *int32 `json:"limit"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if err := validateGroupName("logGroupName", in.LogGroupName); err != nil {
		return nil, err
	}
	if in.Prefix != "" {
		if err := validateFilterName(in.Prefix); err != nil {
			return nil, err
		}
	}
	limit, err := checkLimit(in.Limit, 50)
	if err != nil {
		return nil, err
	}
	after := ""
	if in.NextToken != "" {
		if after, err = decodeNext(in.NextToken); err != nil {
			return nil, err
		}
	}
	a.s.mu.Lock()
	g := a.s.groups[in.LogGroupName]
	var out []subFilterOut
	if g != nil {
		for _, f := range g.subs {
			if strings.HasPrefix(f.Name, in.Prefix) && (after == "" || f.Name > after) {
				out = append(out, subFilterOut{FilterName: f.Name, LogGroupName: f.Group, FilterPattern: f.Pattern,
					DestinationArn: f.Destination, RoleArn: f.Role, Distribution: f.Distribution, CreationTime: f.Created})
			}
		}
	}
	a.s.mu.Unlock()
	if g == nil {
		return nil, errGroupNotFound
	}
	slices.SortFunc(out, func(x, y subFilterOut) int { return strings.Compare(x.FilterName, y.FilterName) })
	resp := struct {
		Filters   []subFilterOut `json:"subscriptionFilters"`
		NextToken string         `json:"nextToken,omitempty"`
	}{Filters: out}
	if len(out) > limit {
		resp.Filters = out[:limit]
		resp.NextToken = encodeNext(out[limit-1].FilterName)
	}
	if resp.Filters == nil {
		resp.Filters = []subFilterOut{}
	}
	return resp, nil
}

func (a *api) deleteSubscriptionFilter(ctx context.Context, body []byte) (any, error) {
	var in struct {
		LogGroupName string `json:"logGroupName"`
		FilterName   string `json:"filterName"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if err := validateGroupName("logGroupName", in.LogGroupName); err != nil {
		return nil, err
	}
	if err := validateFilterName(in.FilterName); err != nil {
		return nil, err
	}
	a.s.mu.Lock()
	g := a.s.groups[in.LogGroupName]
	var f *subFilter
	if g != nil {
		f = g.subs[in.FilterName]
	}
	a.s.mu.Unlock()
	switch {
	case g == nil:
		return nil, errGroupNotFound
	case f == nil:
		return nil, errFilterNotFound
	}
	return nil, a.s.deleteSub(ctx, *f)
}

// deleteSub removes a filter: its record, its delivery and its consumer.
func (s *Store) deleteSub(ctx context.Context, f subFilter) error {
	if err := s.kv.Delete(ctx, subKey(f.Group, f.Name)); err != nil {
		return err
	}
	s.mu.Lock()
	if g := s.groups[f.Group]; g != nil && g.subs[f.Name] != nil && g.subs[f.Name].Consumer == f.Consumer {
		delete(g.subs, f.Name)
	}
	s.mu.Unlock()
	s.stopDelivery(f.Consumer)
	if err := s.stream.DeleteConsumer(ctx, f.Consumer); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
		return fmt.Errorf("deleting the consumer of subscription filter %s: %w", f.Name, err)
	}
	return nil
}
