package logs

import (
	"bytes"
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kumo-run/kumo/internal/awsproto"
	"github.com/kumo-run/kumo/internal/awsproto/arn"
	"github.com/kumo-run/kumo/internal/iam/authz"
	"github.com/kumo-run/kumo/internal/lazyregexp"
	"github.com/kumo-run/kumo/internal/natsd"
)

// Errors renders CloudWatch Logs' errors: JSON 1.1 with the bare code in
// __type, and ServiceUnavailableException for the service's own failures.
// The edge renders its refusals of Logs requests with it too.
var Errors = awsproto.JSON{Version: "1.1", Internal: awsproto.InternalSpec{
	Code:    awsproto.LogsServiceUnavailable,
	Message: "The service cannot complete the request.",
}}

func invalid(format string, args ...any) *awsproto.Error {
	return awsproto.Errorf(awsproto.LogsInvalidParameter, format, args...)
}

var (
	errGroupNotFound  = awsproto.Errorf(awsproto.LogsResourceNotFound, "The specified log group does not exist.")
	errStreamNotFound = awsproto.Errorf(awsproto.LogsResourceNotFound, "The specified log stream does not exist.")
	errBadToken       = invalid("The specified nextToken is invalid.")
)

// clientError maps a storage failure to what the client is told; any
// other error goes out as it is (an *awsproto.Error) or as the service's
// internal failure.
func clientError(err error) error {
	switch {
	case errors.Is(err, errNoGroup):
		return errGroupNotFound
	case errors.Is(err, errNoStream):
		return errStreamNotFound
	case errors.Is(err, errGroupExists):
		return awsproto.Errorf(awsproto.LogsResourceAlreadyExists, "The specified log group already exists")
	case errors.Is(err, errStreamExists):
		return awsproto.Errorf(awsproto.LogsResourceAlreadyExists, "The specified log stream already exists")
	}
	return err
}

const contentType = "application/x-amz-json-1.1"

// Handler returns the CloudWatch Logs API handler, for the edge's "logs"
// service.
func (s *Store) Handler() http.Handler { return &api{s: s} }

type api struct {
	s  *Store
	az *authz.Authorizer
}

type opFunc func(a *api, ctx context.Context, body []byte) (any, error)

var ops = map[string]opFunc{
	"CreateLogGroup":        (*api).createLogGroup,
	"DeleteLogGroup":        (*api).deleteLogGroup,
	"DescribeLogGroups":     (*api).describeLogGroups,
	"CreateLogStream":       (*api).createLogStream,
	"DescribeLogStreams":    (*api).describeLogStreams,
	"PutLogEvents":          (*api).putLogEvents,
	"GetLogEvents":          (*api).getLogEvents,
	"FilterLogEvents":       (*api).filterLogEvents,
	"PutRetentionPolicy":    (*api).putRetentionPolicy,
	"DeleteRetentionPolicy": (*api).deleteRetentionPolicy,

	"PutSubscriptionFilter":       (*api).putSubscriptionFilter,
	"DescribeSubscriptionFilters": (*api).describeSubscriptionFilters,
	"DeleteSubscriptionFilter":    (*api).deleteSubscriptionFilter,
	"PutMetricFilter":             (*api).putMetricFilter,
	"DescribeMetricFilters":       (*api).describeMetricFilters,
	"DeleteMetricFilter":          (*api).deleteMetricFilter,
	"TestMetricFilter":            (*api).testMetricFilter,
}

const targetPrefix = "Logs_20140328."

func (a *api) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	target := r.Header.Get("X-Amz-Target")
	op, ok := ops[strings.TrimPrefix(target, targetPrefix)]
	if r.Method != http.MethodPost || !strings.HasPrefix(target, targetPrefix) || !ok {
		a.writeError(w, r, awsproto.Errorf(awsproto.LogsUnknownOperation, "Unknown operation %s", target))
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 8<<20))
	if err != nil {
		a.writeError(w, r, awsproto.Errorf(awsproto.LogsSerialization, "Could not read the request body."))
		return
	}
	if len(bytes.TrimSpace(body)) == 0 {
		body = []byte("{}")
	}
	if err := a.authorize(r, strings.TrimPrefix(target, targetPrefix), body); err != nil {
		a.writeError(w, r, err)
		return
	}
	out, err := op(a, r.Context(), body)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	if out == nil {
		out = struct{}{}
	}
	b, err := json.Marshal(out)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	w.Write(b)
}

// writeError sends err to the client and logs the service's own failures
// with their cause and the request id the client got.
func (a *api) writeError(w http.ResponseWriter, r *http.Request, err error) {
	err = clientError(err)
	if awsproto.AsError(err).Status() >= 500 {
		a.s.log.Warn("logs request failed", "requestId", awsproto.RequestID(r.Context()), "err", err)
	}
	Errors.WriteError(w, r, err)
}

func decode(body []byte, v any) error {
	if err := json.Unmarshal(body, v); err != nil {
		return awsproto.Errorf(awsproto.LogsSerialization, "Could not parse the request body: %s", err)
	}
	return nil
}

var (
	groupNameRE   = lazyregexp.New(`^[\.\-_/#A-Za-z0-9]+$`)
	groupPatRE    = lazyregexp.New(`^[\.\-_/#A-Za-z0-9]*$`)
	retentionDays = []int32{1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653}
)

func validateGroupName(field, name string) error {
	if len(name) < 1 || len(name) > 512 {
		return invalid("1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: Member must have length between 1 and 512", name, field)
	}
	if !groupNameRE.MatchString(name) {
		return invalid("1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\.\\-_/#A-Za-z0-9]+", name, field)
	}
	return nil
}

func validateStreamName(name string) error {
	if len(name) < 1 || len(name) > 512 {
		return invalid("1 validation error detected: Value '%s' at 'logStreamName' failed to satisfy constraint: Member must have length between 1 and 512", name)
	}
	if strings.ContainsAny(name, ":*") {
		return invalid("1 validation error detected: Value '%s' at 'logStreamName' failed to satisfy constraint: Member must satisfy regular expression pattern: [^:*]*", name)
	}
	return nil
}

// groupFrom resolves logGroupName or logGroupIdentifier (a name or an ARN).
func groupFrom(name, ident string) (string, error) {
	switch {
	case name != "" && ident != "":
		return "", invalid("LogGroup name and LogGroup ARN are mutually exclusive parameters.")
	case ident != "":
		if strings.HasPrefix(ident, "arn:") {
			l, err := arn.ParseLog(ident)
			if err != nil || l.Stream != "" {
				return "", invalid("Invalid logGroupIdentifier.")
			}
			name = l.Group
		} else {
			name = ident
		}
	case name == "":
		return "", invalid("Either logGroupName or logGroupIdentifier should be provided.")
	}
	return name, validateGroupName("logGroupName", name)
}

func checkLimit(limit *int32, max int32) (int, error) {
	if limit == nil {
		return int(max), nil
	}
	if *limit < 1 || *limit > max {
		return 0, invalid("1 validation error detected: Value '%d' at 'limit' failed to satisfy constraint: Member must have value between 1 and %d", *limit, max)
	}
	return int(*limit), nil
}

func (s *Store) arns() arn.Scope {
	return arn.Scope{Partition: "aws", Region: s.cfg.Region, Account: s.cfg.Account}
}

// --- groups

func (a *api) createLogGroup(ctx context.Context, body []byte) (any, error) {
	var in struct {
		LogGroupName string `json:"logGroupName"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if err := validateGroupName("logGroupName", in.LogGroupName); err != nil {
		return nil, err
	}
	return nil, a.s.createGroup(ctx, in.LogGroupName)
}

func (a *api) deleteLogGroup(ctx context.Context, body []byte) (any, error) {
	var in struct {
		LogGroupName string `json:"logGroupName"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if err := validateGroupName("logGroupName", in.LogGroupName); err != nil {
		return nil, err
	}
	return nil, a.s.deleteGroup(ctx, in.LogGroupName)
}

type logGroupOut struct {
	LogGroupName      string `json:"logGroupName"`
	CreationTime      int64  `json:"creationTime"`
	RetentionInDays   *int32 `json:"retentionInDays,omitempty"`
	MetricFilterCount int    `json:"metricFilterCount"`
	ARN               string `json:"arn"`
	LogGroupARN       string `json:"logGroupArn"`
	StoredBytes       int64  `json:"storedBytes"`
	LogGroupClass     string `json:"logGroupClass"`
}

func encodeNext(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func decodeNext(s string) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return "", errBadToken
	}
	return string(b), nil
}

func (a *api) describeLogGroups(ctx context.Context, body []byte) (any, error) {
	var in struct {
		Prefix    string `json:"logGroupNamePrefix"`
		Pattern   string `json:"logGroupNamePattern"`
		NextToken string `json:"nextToken"`
		Limit     *int32 `json:"limit"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	limit, err := checkLimit(in.Limit, 50)
	if err != nil {
		return nil, err
	}
	if in.Prefix != "" && in.Pattern != "" {
		return nil, invalid("LogGroup name prefix and LogGroup name pattern are mutually exclusive parameters.")
	}
	if in.Prefix != "" {
		if err := validateGroupName("logGroupNamePrefix", in.Prefix); err != nil {
			return nil, err
		}
	}
	if !groupPatRE.MatchString(in.Pattern) || len(in.Pattern) > 512 {
		return nil, invalid("1 validation error detected: Value '%s' at 'logGroupNamePattern' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\.\\-_/#A-Za-z0-9]*", in.Pattern)
	}
	after := ""
	if in.NextToken != "" {
		if after, err = decodeNext(in.NextToken); err != nil {
			return nil, err
		}
	}
	pat := strings.ToLower(in.Pattern)
	a.s.mu.Lock()
	var out []logGroupOut
	for name, g := range a.s.groups {
		if !strings.HasPrefix(name, in.Prefix) || !strings.Contains(strings.ToLower(name), pat) || (after != "" && name <= after) {
			continue
		}
		o := logGroupOut{LogGroupName: name, CreationTime: g.meta.Created, ARN: a.s.arns().LogGroup(name) + ":*",
			LogGroupARN: a.s.arns().LogGroup(name), LogGroupClass: "STANDARD"}
		if g.meta.Retention > 0 {
			r := g.meta.Retention
			o.RetentionInDays = &r
		}
		for _, m := range g.streams {
			o.StoredBytes += m.StoredBytes
		}
		out = append(out, o)
	}
	a.s.mu.Unlock()
	slices.SortFunc(out, func(x, y logGroupOut) int { return strings.Compare(x.LogGroupName, y.LogGroupName) })
	resp := struct {
		LogGroups []logGroupOut `json:"logGroups"`
		NextToken string        `json:"nextToken,omitempty"`
	}{LogGroups: out}
	if len(out) > limit {
		resp.LogGroups = out[:limit]
		resp.NextToken = encodeNext(out[limit-1].LogGroupName)
	}
	if resp.LogGroups == nil {
		resp.LogGroups = []logGroupOut{}
	}
	return resp, nil
}

func (a *api) putRetentionPolicy(ctx context.Context, body []byte) (any, error) {
	var in struct {
		LogGroupName string `json:"logGroupName"`
		Days         *int32 `json:"retentionInDays"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if err := validateGroupName("logGroupName", in.LogGroupName); err != nil {
		return nil, err
	}
	if in.Days == nil || !slices.Contains(retentionDays, *in.Days) {
		d := int32(0)
		if in.Days != nil {
			d = *in.Days
		}
		list := make([]string, len(retentionDays))
		for i, v := range retentionDays {
			list[i] = strconv.Itoa(int(v))
		}
		return nil, invalid("1 validation error detected: Value '%d' at 'retentionInDays' failed to satisfy constraint: Member must satisfy enum value set: [%s]", d, strings.Join(list, ", "))
	}
	return nil, a.s.setRetention(ctx, in.LogGroupName, *in.Days)
}

func (a *api) deleteRetentionPolicy(ctx context.Context, body []byte) (any, error) {
	var in struct {
		LogGroupName string `json:"logGroupName"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if err := validateGroupName("logGroupName", in.LogGroupName); err != nil {
		return nil, err
	}
	return nil, a.s.setRetention(ctx, in.LogGroupName, 0)
}

// --- streams

func (a *api) createLogStream(ctx context.Context, body []byte) (any, error) {
	var in struct {
		LogGroupName  string `json:"logGroupName"`
		LogStreamName string `json:"logStreamName"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if err := validateGroupName("logGroupName", in.LogGroupName); err != nil {
		return nil, err
	}
	if err := validateStreamName(in.LogStreamName); err != nil {
		return nil, err
	}
	return nil, a.s.createStream(ctx, in.LogGroupName, in.LogStreamName)
}

type logStreamOut struct {
	LogStreamName       string `json:"logStreamName"`
	CreationTime        int64  `json:"creationTime"`
	FirstEventTimestamp int64  `json:"firstEventTimestamp,omitempty"`
	LastEventTimestamp  int64  `json:"lastEventTimestamp,omitempty"`
	LastIngestionTime   int64  `json:"lastIngestionTime,omitempty"`
	UploadSequenceToken string `json:"uploadSequenceToken"`
	ARN                 string `json:"arn"`
	StoredBytes         int64  `json:"storedBytes"`
}

// streamCursor is DescribeLogStreams' nextToken: the last stream returned.
type streamCursor struct {
	Last int64  `json:"t"`
	Name string `json:"n"`
}

func (a *api) describeLogStreams(ctx context.Context, body []byte) (any, error) {
	var in struct {
		LogGroupName       string `json:"logGroupName"`
		LogGroupIdentifier string `json:"logGroupIdentifier"`
		Prefix             string `json:"logStreamNamePrefix"`
		OrderBy            string `json:"orderBy"`
		Descending         bool   `json:"descending"`
		NextToken          string `json:"nextToken"`
		Limit              *int32 `json:"limit"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	gname, err := groupFrom(in.LogGroupName, in.LogGroupIdentifier)
	if err != nil {
		return nil, err
	}
	limit, err := checkLimit(in.Limit, 50)
	if err != nil {
		return nil, err
	}
	byTime := false
	switch in.OrderBy {
	case "", "LogStreamName":
	case "LastEventTime":
		byTime = true
		if in.Prefix != "" {
			return nil, invalid("Cannot order by LastEventTime with a logStreamNamePrefix.")
		}
	default:
		return nil, invalid("1 validation error detected: Value '%s' at 'orderBy' failed to satisfy constraint: Member must satisfy enum value set: [LogStreamName, LastEventTime]", in.OrderBy)
	}
	var cur *streamCursor
	if in.NextToken != "" {
		t, err := decodeNext(in.NextToken)
		if err != nil {
			return nil, err
		}
		cur = &streamCursor{}
		if json.Unmarshal([]byte(t), cur) != nil {
			return nil, errBadToken
		}
	}
	_, streams, ok := a.s.groupInfo(gname)
	if !ok {
		return nil, errGroupNotFound
	}
	order := func(x, y streamCursor) int {
		c := 0
		if byTime {
			c = cmp.Compare(x.Last, y.Last)
		}
		if c == 0 {
			c = strings.Compare(x.Name, y.Name)
		}
		if in.Descending {
			c = -c
		}
		return c
	}
	key := func(m streamMeta) streamCursor { return streamCursor{Last: m.Last, Name: m.Name} }
	var sel []streamMeta
	for _, m := range streams {
		if !strings.HasPrefix(m.Name, in.Prefix) || (cur != nil && order(key(m), *cur) <= 0) {
			continue
		}
		sel = append(sel, m)
	}
	slices.SortFunc(sel, func(x, y streamMeta) int { return order(key(x), key(y)) })
	resp := struct {
		LogStreams []logStreamOut `json:"logStreams"`
		NextToken  string         `json:"nextToken,omitempty"`
	}{LogStreams: []logStreamOut{}}
	if len(sel) > limit {
		sel = sel[:limit]
		b, _ := json.Marshal(key(sel[limit-1]))
		resp.NextToken = encodeNext(string(b))
	}
	for _, m := range sel {
		resp.LogStreams = append(resp.LogStreams, logStreamOut{
			LogStreamName: m.Name, CreationTime: m.Created, FirstEventTimestamp: m.First,
			LastEventTimestamp: m.Last, LastIngestionTime: m.LastIngest,
			UploadSequenceToken: sequenceToken(0),
			ARN:                 a.s.arns().LogStream(gname, m.Name),
			StoredBytes:         0, // as AWS: no longer reported per stream
		})
	}
	return resp, nil
}

func sequenceToken(seq uint64) string { return fmt.Sprintf("%056d", seq) }

// --- events

// Ingestion limits of PutLogEvents.
const (
	maxFuture   = 2 * time.Hour
	maxPast     = 14 * 24 * time.Hour
	maxSpan     = 24 * time.Hour
	maxBatch    = 10000
	maxBatchB   = 1048576
	maxEventLen = 1048576 - eventOverhead
)

func (a *api) putLogEvents(ctx context.Context, body []byte) (any, error) {
	var in struct {
		LogGroupName  string `json:"logGroupName"`
		LogStreamName string `json:"logStreamName"`
		LogEvents     []struct {
			Timestamp *int64  `json:"timestamp"`
			Message   *string `json:"message"`
		} `json:"logEvents"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if err := validateGroupName("logGroupName", in.LogGroupName); err != nil {
		return nil, err
	}
	if err := validateStreamName(in.LogStreamName); err != nil {
		return nil, err
	}
	if len(in.LogEvents) < 1 || len(in.LogEvents) > maxBatch {
		return nil, invalid("1 validation error detected: Value at 'logEvents' failed to satisfy constraint: Member must have length between 1 and %d", maxBatch)
	}
	size := 0
	for i, e := range in.LogEvents {
		if e.Timestamp == nil || e.Message == nil {
			return nil, invalid("1 validation error detected: Value null at 'logEvents.%d.member.timestamp' failed to satisfy constraint: Member must not be null", i+1)
		}
		if len(*e.Message) < 1 {
			return nil, invalid("1 validation error detected: Value '' at 'logEvents.%d.member.message' failed to satisfy constraint: Member must have length greater than or equal to 1", i+1)
		}
		if i > 0 && *e.Timestamp < *in.LogEvents[i-1].Timestamp {
			return nil, invalid("Log events in a single PutLogEvents request must be in chronological order.")
		}
		size += len(*e.Message) + eventOverhead
	}
	if size > maxBatchB {
		return nil, invalid("Upload too large: %d bytes exceeds limit of %d", size, maxBatchB)
	}
	if first, last := *in.LogEvents[0].Timestamp, *in.LogEvents[len(in.LogEvents)-1].Timestamp; last-first > maxSpan.Milliseconds() {
		return nil, invalid("The batch of log events in a single PutLogEvents request cannot span more than 24 hours.")
	}
	g, streams, ok := a.s.groupInfo(in.LogGroupName)
	if !ok {
		return nil, errGroupNotFound
	}
	if !slices.ContainsFunc(streams, func(m streamMeta) bool { return m.Name == in.LogStreamName }) {
		return nil, errStreamNotFound
	}
	now := a.s.now()
	tooNew := now.Add(maxFuture).UnixMilli()
	tooOld := now.Add(-maxPast).UnixMilli()
	expired := int64(-1 << 63)
	if g.Retention > 0 {
		expired = now.Add(-time.Duration(g.Retention) * 24 * time.Hour).UnixMilli()
	}
	type rejected struct {
		TooNew  *int `json:"tooNewLogEventStartIndex,omitempty"`
		TooOld  *int `json:"tooOldLogEventEndIndex,omitempty"`
		Expired *int `json:"expiredLogEventEndIndex,omitempty"`
	}
	var rej rejected
	var evs []stored
	for i, e := range in.LogEvents {
		ts := *e.Timestamp
		switch {
		case ts > tooNew:
			if rej.TooNew == nil {
				i := i
				rej.TooNew = &i
			}
		case ts < expired:
			end := i + 1
			rej.Expired = &end
		case ts < tooOld:
			end := i + 1
			rej.TooOld = &end
		default:
			evs = append(evs, stored{Time: ts, Message: *e.Message})
		}
	}
	var seq uint64
	if len(evs) > 0 {
		var err error
		if seq, err = a.s.publish(ctx, in.LogGroupName, in.LogStreamName, evs); err != nil {
			return nil, err
		}
	}
	out := struct {
		NextSequenceToken string    `json:"nextSequenceToken"`
		Rejected          *rejected `json:"rejectedLogEventsInfo,omitempty"`
	}{NextSequenceToken: sequenceToken(seq)}
	if rej != (rejected{}) {
		out.Rejected = &rej
	}
	return out, nil
}

type outEvent struct {
	Timestamp     int64  `json:"timestamp"`
	Message       string `json:"message"`
	IngestionTime int64  `json:"ingestionTime"`
}

// Read limits: a page holds at most this many bytes (message plus 26 bytes
// an event), as AWS's 1 MB.
const maxPageBytes = 1048576

func parseSeqToken(tok, prefix string) (uint64, bool) {
	rest, ok := strings.CutPrefix(tok, prefix)
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseUint(rest, 10, 64)
	return n, err == nil
}

func fwdToken(seq uint64) string { return fmt.Sprintf("f/%056d", seq) }
func bwdToken(seq uint64) string { return fmt.Sprintf("b/%056d", seq) }

func (a *api) getLogEvents(ctx context.Context, body []byte) (any, error) {
	var in struct {
		LogGroupName       string `json:"logGroupName"`
		LogGroupIdentifier string `json:"logGroupIdentifier"`
		LogStreamName      string `json:"logStreamName"`
		StartTime          *int64 `json:"startTime"`
		EndTime            *int64 `json:"endTime"`
		NextToken          string `json:"nextToken"`
		Limit              *int32 `json:"limit"`
		StartFromHead      bool   `json:"startFromHead"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	gname, err := groupFrom(in.LogGroupName, in.LogGroupIdentifier)
	if err != nil {
		return nil, err
	}
	if err := validateStreamName(in.LogStreamName); err != nil {
		return nil, err
	}
	limit, err := checkLimit(in.Limit, maxBatch)
	if err != nil {
		return nil, err
	}
	forward := in.StartFromHead
	var from, before uint64 = 1, 0 // events with from <= position (< before, when set)
	if in.NextToken != "" {
		if n, ok := parseSeqToken(in.NextToken, "f/"); ok {
			forward, from = true, max(n, 1)
		} else if n, ok := parseSeqToken(in.NextToken, "b/"); ok {
			forward, before = false, max(n, 1)
		} else {
			return nil, errBadToken
		}
	}
	_, streams, ok := a.s.groupInfo(gname)
	if !ok {
		return nil, errGroupNotFound
	}
	if !slices.ContainsFunc(streams, func(m streamMeta) bool { return m.Name == in.LogStreamName }) {
		return nil, errStreamNotFound
	}
	inRange := func(e event) bool {
		return (in.StartTime == nil || e.Time >= *in.StartTime) && (in.EndTime == nil || e.Time < *in.EndTime)
	}
	last, err := a.s.lastPos(ctx)
	if err != nil {
		return nil, err
	}
	var got []event
	subj := []string{subject(gname, in.LogStreamName)}
	if forward {
		bytes := 0
		err = a.s.scan(ctx, subj, from, startedBy(in.StartTime), func(e event) bool {
			if e.Seq > last {
				return false
			}
			if !inRange(e) {
				return true
			}
			n := len(e.Message) + eventOverhead
			if len(got) == limit || bytes+n > maxPageBytes {
				return false
			}
			got = append(got, e)
			bytes += n
			return true
		})
	} else {
		end := last + 1
		if before > 0 {
			end = min(before, end)
		}
		got, err = a.tail(ctx, subj, end, limit, inRange)
	}
	if err != nil {
		return nil, err
	}
	resp := struct {
		Events            []outEvent `json:"events"`
		NextForwardToken  string     `json:"nextForwardToken"`
		NextBackwardToken string     `json:"nextBackwardToken"`
	}{Events: make([]outEvent, 0, len(got))}
	for _, e := range got {
		resp.Events = append(resp.Events, outEvent{Timestamp: e.Time, Message: e.Message, IngestionTime: e.Ingest})
	}
	switch {
	case len(got) > 0:
		resp.NextForwardToken = fwdToken(got[len(got)-1].Seq + 1)
		resp.NextBackwardToken = bwdToken(got[0].Seq)
	case forward && in.NextToken != "":
		// Nothing more that way: the same token, as AWS answers.
		resp.NextForwardToken, resp.NextBackwardToken = in.NextToken, bwdToken(from)
	case in.NextToken != "":
		resp.NextForwardToken, resp.NextBackwardToken = fwdToken(before), in.NextToken
	default:
		resp.NextForwardToken = fwdToken(last + 1)
		resp.NextBackwardToken = bwdToken(last + 1)
	}
	return resp, nil
}

// startedBy is when the first event timestamped at or after startTime can
// have been stored: PutLogEvents refuses events more than maxFuture ahead
// of their ingestion, and the sink stores events after they happen.
func startedBy(startTime *int64) time.Time {
	if startTime == nil {
		return time.Time{}
	}
	t := time.UnixMilli(*startTime).Add(-maxFuture - time.Minute)
	if t.Before(time.Unix(0, 0)) {
		return time.Time{}
	}
	return t
}

// tail returns the latest events on subjects with a position below end
// that pass keep, within a page's limits. JetStream reads forwards only,
// so it reads windows before end, each four times the last, until the page
// is full or the stream's head is reached.
func (a *api) tail(ctx context.Context, subjects []string, end uint64, limit int, keep func(event) bool) ([]event, error) {
	var got []event
	bytes := 0
	// Windows count messages; a message holds one event or a batch.
	window := uint64(4*limit+64) << posShift
	for hi := end; hi > position(1, 0); {
		lo := uint64(0)
		if hi > window {
			lo = hi - window
		}
		// Only a page's worth of the chunk's newest events can be used:
		// hold no more than that.
		var chunk []event
		head, chunkBytes := 0, 0
		err := a.s.scan(ctx, subjects, lo, time.Time{}, func(e event) bool {
			if e.Seq >= hi {
				return false
			}
			if !keep(e) {
				return true
			}
			chunk = append(chunk, e)
			chunkBytes += len(e.Message) + eventOverhead
			for len(chunk)-head > limit || chunkBytes > maxPageBytes {
				chunkBytes -= len(chunk[head].Message) + eventOverhead
				chunk[head] = event{}
				head++
			}
			if head > 64 && head > len(chunk)/2 {
				chunk, head = append(chunk[:0], chunk[head:]...), 0
			}
			return true
		})
		chunk = chunk[head:]
		if err != nil {
			return nil, err
		}
		// Take the chunk's newest events first, as long as they fit.
		full := false
		i := len(chunk)
		for i > 0 {
			n := len(chunk[i-1].Message) + eventOverhead
			if len(got)+(len(chunk)-i) == limit || bytes+n > maxPageBytes {
				full = true
				break
			}
			bytes += n
			i--
		}
		got = append(chunk[i:len(chunk):len(chunk)], got...)
		if full || len(got) == limit {
			break
		}
		hi = lo
		window *= 4
	}
	return got, nil
}

type filteredEvent struct {
	LogStreamName string `json:"logStreamName"`
	Timestamp     int64  `json:"timestamp"`
	Message       string `json:"message"`
	IngestionTime int64  `json:"ingestionTime"`
	EventID       string `json:"eventId"`
}

// maxScan bounds the events one FilterLogEvents call looks at; past it
// the call returns what it found with a nextToken, as AWS does.
const maxScan = 200000

// maxSubjects is how many log streams a FilterLogEvents call names to
// JetStream one by one; past it the call reads the whole group.
const maxSubjects = 100

func (a *api) filterLogEvents(ctx context.Context, body []byte) (any, error) {
	var in struct {
		LogGroupName       string   `json:"logGroupName"`
		LogGroupIdentifier string   `json:"logGroupIdentifier"`
		LogStreamNames     []string `json:"logStreamNames"`
		Prefix             string   `json:"logStreamNamePrefix"`
		StartTime          *int64   `json:"startTime"`
		EndTime            *int64   `json:"endTime"`
		FilterPattern      string   `json:"filterPattern"`
		NextToken          string   `json:"nextToken"`
		Limit              *int32   `json:"limit"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	gname, err := groupFrom(in.LogGroupName, in.LogGroupIdentifier)
	if err != nil {
		return nil, err
	}
	limit, err := checkLimit(in.Limit, maxBatch)
	if err != nil {
		return nil, err
	}
	if len(in.LogStreamNames) > 0 && in.Prefix != "" {
		return nil, invalid("logStreamNames and logStreamNamePrefix are mutually exclusive parameters.")
	}
	if len(in.LogStreamNames) > 100 {
		return nil, invalid("1 validation error detected: Value at 'logStreamNames' failed to satisfy constraint: Member must have length less than or equal to 100")
	}
	if len(in.FilterPattern) > 1024 {
		return nil, invalid("1 validation error detected: Value at 'filterPattern' failed to satisfy constraint: Member must have length less than or equal to 1024")
	}
	pat, err := ParsePattern(in.FilterPattern)
	if err != nil {
		return nil, invalid("Invalid filter pattern: %s", strings.TrimPrefix(err.Error(), ErrPattern.Error()+": "))
	}
	var from uint64 = 1
	if in.NextToken != "" {
		t, err := decodeNext(in.NextToken)
		if err != nil {
			return nil, err
		}
		if from, err = strconv.ParseUint(t, 10, 64); err != nil {
			return nil, errBadToken
		}
	}
	_, streams, ok := a.s.groupInfo(gname)
	if !ok {
		return nil, errGroupNotFound
	}
	var names []string
	switch {
	case len(in.LogStreamNames) > 0:
		for _, n := range in.LogStreamNames {
			if !slices.ContainsFunc(streams, func(m streamMeta) bool { return m.Name == n }) {
				return nil, errStreamNotFound
			}
			names = append(names, n)
		}
	case in.Prefix != "":
		for _, m := range streams {
			if strings.HasPrefix(m.Name, in.Prefix) {
				names = append(names, m.Name)
			}
		}
	}
	var subjects []string
	want := map[string]bool{}
	switch {
	case len(in.LogStreamNames) == 0 && in.Prefix == "":
		subjects = []string{natsd.LogsGroupSubjects(encodeToken(gname))}
	case len(names) == 0:
		return struct {
			Events []filteredEvent `json:"events"`
		}{[]filteredEvent{}}, nil
	case len(names) > maxSubjects:
		subjects = []string{natsd.LogsGroupSubjects(encodeToken(gname))}
		for _, n := range names {
			want[n] = true
		}
	default:
		slices.Sort(names)
		for _, n := range names {
			subjects = append(subjects, subject(gname, n))
		}
	}
	last, err := a.s.lastPos(ctx)
	if err != nil {
		return nil, err
	}
	var got []filteredEvent
	var bytes, scanned int
	next := uint64(0) // sequence to resume from; 0 when the scan completed
	err = a.s.scan(ctx, subjects, from, startedBy(in.StartTime), func(e event) bool {
		if e.Seq > last {
			return false
		}
		if scanned++; scanned > maxScan {
			next = e.Seq
			return false
		}
		if (len(want) > 0 && !want[e.Stream]) ||
			(in.StartTime != nil && e.Time < *in.StartTime) || (in.EndTime != nil && e.Time > *in.EndTime) ||
			!pat.Match(e.Message) {
			return true
		}
		n := len(e.Message) + eventOverhead
		if len(got) == limit || bytes+n > maxPageBytes {
			next = e.Seq
			return false
		}
		got = append(got, filteredEvent{LogStreamName: e.Stream, Timestamp: e.Time, Message: e.Message,
			IngestionTime: e.Ingest, EventID: strconv.FormatUint(e.Seq, 10)})
		bytes += n
		return true
	})
	if err != nil {
		return nil, err
	}
	// Pages follow the order events were stored in; within a page, events
	// of different log streams are put in timestamp order.
	slices.SortStableFunc(got, func(x, y filteredEvent) int { return cmp.Compare(x.Timestamp, y.Timestamp) })
	resp := struct {
		Events    []filteredEvent `json:"events"`
		NextToken string          `json:"nextToken,omitempty"`
	}{Events: got}
	if resp.Events == nil {
		resp.Events = []filteredEvent{}
	}
	if next > 0 {
		resp.NextToken = encodeNext(strconv.FormatUint(next, 10))
	}
	return resp, nil
}
