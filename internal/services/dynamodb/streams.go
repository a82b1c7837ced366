package dynamodb

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kumo-run/kumo/internal/awsproto"
	"github.com/kumo-run/kumo/internal/natsd"
	"github.com/kumo-run/kumo/internal/services/dynamodb/attr"
)

// StreamsTargetPrefix starts the X-Amz-Target of every DynamoDB Streams
// request; the API signs as "dynamodb" too and is served by ServeHTTP.
const StreamsTargetPrefix = "DynamoDBStreams_20120810."

// Stream limits, as DynamoDB Streams has them.
const (
	streamRetention  = 24 * time.Hour
	iteratorLifetime = 15 * time.Minute
	maxRecords       = 1000
	maxRecordsBytes  = 1 << 20
)

// streamOps are the DynamoDB Streams operations, by name.
func (s *Service) streamOps() map[string]op {
	return map[string]op{
		"ListStreams":      s.listStreams,
		"DescribeStream":   s.describeStream,
		"GetShardIterator": s.getShardIterator,
		"GetRecords":       s.getRecords,
	}
}

var streamViews = map[string]bool{"KEYS_ONLY": true, "NEW_IMAGE": true, "OLD_IMAGE": true, "NEW_AND_OLD_IMAGES": true}

// enableStream starts a new stream on m when spec enables one.
func (s *Service) enableStream(m *tableMeta, spec *streamSpec) error {
	if spec == nil || !spec.StreamEnabled {
		return nil
	}
	if !streamViews[spec.StreamViewType] {
		if spec.StreamViewType == "" {
			return validation("1 validation error detected: StreamViewType is required when StreamEnabled is true")
		}
		return validation("1 validation error detected: Value '%s' at 'streamSpecification.streamViewType' failed to satisfy constraint: Member must satisfy enum value set: [NEW_IMAGE, OLD_IMAGE, NEW_AND_OLD_IMAGES, KEYS_ONLY]", clip(spec.StreamViewType))
	}
	ms := s.cfg.Now().UnixMilli()
	if ms <= m.StreamMs {
		ms = m.StreamMs + 1
	}
	m.StreamMs, m.StreamView = ms, spec.StreamViewType
	return nil
}

// streamLabel is a stream's label: its creation time in ISO 8601, as
// DynamoDB writes it.
func streamLabel(ms int64) string {
	return time.UnixMilli(ms).UTC().Format("2006-01-02T15:04:05.000")
}

func (s *Service) streamARN(table string, ms int64) string {
	return s.arn(table) + "/stream/" + streamLabel(ms)
}

// logSpec is where a table's writes put their change records: nil when
// its stream is disabled.
type logSpec struct {
	subject string
	view    string
}

// setLog records m's stream for the writers of this node.
func (s *Service) setLog(m *tableMeta) {
	if m.Stream == nil || m.StreamMs == 0 {
		s.logs.Delete(m.ID)
		return
	}
	s.logs.Store(m.ID, &logSpec{subject: natsd.DynamoDBLogSubject(m.ID, strconv.FormatInt(m.StreamMs, 10)), view: m.StreamView})
}

func (s *Service) logOf(id string) *logSpec {
	if v, ok := s.logs.Load(id); ok {
		return v.(*logSpec)
	}
	return nil
}

// change is a stream record as stored: the record's event, keys and the
// images its view keeps.
type change struct {
	Event string    `json:"E"`
	Keys  attr.Item `json:"K"`
	New   attr.Item `json:"N,omitempty"`
	Old   attr.Item `json:"O,omitempty"`
	View  string    `json:"V"`
	Time  int64     `json:"At"`
	TTL   bool      `json:"TTL,omitempty"`
}

// itemsEqual reports whether a and b are the same item.
func itemsEqual(a, b attr.Item) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		w, ok := b[k]
		if !ok || !attr.Equal(v, w) {
			return false
		}
	}
	return true
}

// changeMsg is the change record of a write from old to cur (nil: no
// item), or nil when the write changes nothing, as DynamoDB Streams
// writes no record for a write that leaves the item as it was.
func (s *Service) changeMsg(l *logSpec, keyNames []string, old, cur attr.Item, ttl bool) *nats.Msg {
	if l == nil || (old == nil && cur == nil) || (old != nil && cur != nil && itemsEqual(old, cur)) {
		return nil
	}
	c := change{View: l.view, Time: s.cfg.Now().Unix(), TTL: ttl && cur == nil}
	switch {
	case old == nil:
		c.Event = "INSERT"
	case cur == nil:
		c.Event = "REMOVE"
	default:
		c.Event = "MODIFY"
	}
	src := cur
	if src == nil {
		src = old
	}
	c.Keys = attr.Item{}
	for _, k := range keyNames {
		if v, ok := src[k]; ok {
			c.Keys[k] = v
		}
	}
	if l.view == "NEW_IMAGE" || l.view == "NEW_AND_OLD_IMAGES" {
		c.New = cur
	}
	if l.view == "OLD_IMAGE" || l.view == "NEW_AND_OLD_IMAGES" {
		c.Old = old
	}
	m := nats.NewMsg(l.subject)
	m.Header.Set(jetstream.MsgTTLHeader, streamRetention.String())
	// the body is a record (so the follower reads it as any message) with
	// the change in Log; T and I are set by the caller
	m.Data, _ = json.Marshal(record{Log: &c})
	return m
}

// setTI sets the transaction count and place of a message's record.
func setTI(m *nats.Msg, t, i int) {
	var rec record
	_ = json.Unmarshal(m.Data, &rec)
	rec.T, rec.I = t, i
	m.Data, _ = json.Marshal(rec)
}

// seqString renders a stream sequence as a Streams SequenceNumber: 21
// digits, so that numeric and lexical order agree.
func seqString(seq uint64) string { return "1" + fmt.Sprintf("%020d", seq) }

func parseSeq(s string) (uint64, bool) {
	if len(s) != 21 || s[0] != '1' {
		return 0, false
	}
	n, err := strconv.ParseUint(s[1:], 10, 64)
	return n, err == nil
}

// streamRef is a stream ARN resolved to its table.
type streamRef struct {
	arn   string
	t     *table
	m     *tableMeta
	shard string
	subj  string
}

func (s *Service) resolveStream(r *http.Request, op, arn string) (*streamRef, error) {
	if r != nil {
		if err := s.authorizeARN(r, op, arn, nil); err != nil {
			return nil, err
		}
	}
	prefix := s.arn("")
	rest, ok := strings.CutPrefix(arn, prefix)
	name, label, ok2 := strings.Cut(rest, "/stream/")
	if !ok || !ok2 || name == "" {
		return nil, validation("Invalid StreamArn")
	}
	t, err := s.lookup(name)
	if err != nil {
		return nil, awsproto.Errorf(awsproto.DynamoDBResourceNotFound, "Requested resource not found: Stream: %s not found", clip(arn))
	}
	m := t.meta.Load()
	if m.StreamMs == 0 || streamLabel(m.StreamMs) != label {
		return nil, awsproto.Errorf(awsproto.DynamoDBResourceNotFound, "Requested resource not found: Stream: %s not found", clip(arn))
	}
	return &streamRef{arn: arn, t: t, m: m, shard: fmt.Sprintf("shardId-%020d-%s", m.StreamMs, m.ID[:8]),
		subj: natsd.DynamoDBLogSubject(m.ID, strconv.FormatInt(m.StreamMs, 10))}, nil
}

func (ref *streamRef) status() string {
	if ref.m.Stream != nil {
		return "ENABLED"
	}
	return "DISABLED"
}

// firstAt returns the first change record of the stream at or after seq
// (nil when none).
func (s *Service) firstAt(ctx context.Context, subj string, seq uint64) (*jetstream.RawStreamMsg, error) {
	st, err := s.js.Stream(ctx, natsd.DynamoDBStream)
	if err != nil {
		return nil, awsproto.Internal(err)
	}
	msg, err := st.GetMsg(ctx, max(seq, 1), jetstream.WithGetMsgSubject(subj))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, awsproto.Internal(err)
	}
	return msg, nil
}

func (s *Service) listStreams(ctx context.Context, r *http.Request, body []byte) (any, error) {
	var in struct {
		TableName               string `json:"TableName"`
		Limit                   *int   `json:"Limit"`
		ExclusiveStartStreamArn string `json:"ExclusiveStartStreamArn"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if err := s.authorizeARN(r, "ListStreams", "*", nil); err != nil {
		return nil, err
	}
	limit := 100
	if in.Limit != nil {
		if *in.Limit < 1 || *in.Limit > 100 {
			return nil, validation("1 validation error detected: Value '%d' at 'limit' failed to satisfy constraint: Member must have value between 1 and 100", *in.Limit)
		}
		limit = *in.Limit
	}
	if in.TableName != "" {
		if _, err := s.lookup(in.TableName); err != nil {
			return nil, awsproto.Errorf(awsproto.DynamoDBResourceNotFound, "Requested resource not found: Table: %s not found", clip(in.TableName))
		}
	}
	s.viewMu.RLock()
	var arns []map[string]any
	for name, t := range s.tables {
		m := t.meta.Load()
		if m.StreamMs == 0 || (in.TableName != "" && name != in.TableName) {
			continue
		}
		arns = append(arns, map[string]any{"StreamArn": s.streamARN(name, m.StreamMs), "TableName": name, "StreamLabel": streamLabel(m.StreamMs)})
	}
	s.viewMu.RUnlock()
	sortByARN(arns)
	out := []map[string]any{}
	for _, a := range arns {
		if in.ExclusiveStartStreamArn != "" && a["StreamArn"].(string) <= in.ExclusiveStartStreamArn {
			continue
		}
		out = append(out, a)
	}
	res := map[string]any{}
	if len(out) > limit {
		out = out[:limit]
		res["LastEvaluatedStreamArn"] = out[limit-1]["StreamArn"]
	}
	res["Streams"] = out
	return res, nil
}

func sortByARN(a []map[string]any) {
	slices.SortFunc(a, func(x, y map[string]any) int {
		return strings.Compare(x["StreamArn"].(string), y["StreamArn"].(string))
	})
}

func (s *Service) describeStream(ctx context.Context, r *http.Request, body []byte) (any, error) {
	var in struct {
		StreamArn             string `json:"StreamArn"`
		Limit                 *int   `json:"Limit"`
		ExclusiveStartShardId string `json:"ExclusiveStartShardId"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if in.Limit != nil && (*in.Limit < 1 || *in.Limit > 100) {
		return nil, validation("1 validation error detected: Value '%d' at 'limit' failed to satisfy constraint: Member must have value between 1 and 100", *in.Limit)
	}
	ref, err := s.resolveStream(r, "DescribeStream", in.StreamArn)
	if err != nil {
		return nil, err
	}
	shards := []map[string]any{}
	if in.ExclusiveStartShardId < ref.shard {
		rng := map[string]any{}
		first, err := s.firstAt(ctx, ref.subj, 1)
		if err != nil {
			return nil, err
		}
		if first != nil {
			rng["StartingSequenceNumber"] = seqString(first.Sequence)
		}
		if ref.status() == "DISABLED" {
			st, err := s.js.Stream(ctx, natsd.DynamoDBStream)
			if err != nil {
				return nil, awsproto.Internal(err)
			}
			if last, err := st.GetLastMsgForSubject(ctx, ref.subj); err == nil {
				rng["EndingSequenceNumber"] = seqString(last.Sequence)
			}
		}
		shards = append(shards, map[string]any{"ShardId": ref.shard, "SequenceNumberRange": rng})
	}
	return map[string]any{"StreamDescription": map[string]any{
		"StreamArn": ref.arn, "StreamLabel": streamLabel(ref.m.StreamMs), "StreamStatus": ref.status(),
		"StreamViewType": ref.m.StreamView, "CreationRequestDateTime": float64(ref.m.StreamMs) / 1000,
		"TableName": ref.m.Name, "KeySchema": ref.m.KeySchema, "Shards": shards,
	}}, nil
}

// iterator is a shard iterator's content: the stream, the next stream
// sequence to read and when it expires. It travels base64-encoded.
type iterator struct {
	ARN     string `json:"a"`
	Shard   string `json:"s"`
	Next    uint64 `json:"n"`
	Made    int64  `json:"m"`
	Checked bool   `json:"c,omitempty"` // Next was a record when made (AT/AFTER)
}

func (it iterator) encode() string {
	b, _ := json.Marshal(it)
	return base64.RawURLEncoding.EncodeToString(b)
}

func invalidIterator() error { return validation("Invalid ShardIterator") }

func (s *Service) getShardIterator(ctx context.Context, r *http.Request, body []byte) (any, error) {
	var in struct {
		StreamArn         string `json:"StreamArn"`
		ShardId           string `json:"ShardId"`
		ShardIteratorType string `json:"ShardIteratorType"`
		SequenceNumber    string `json:"SequenceNumber"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	switch in.ShardIteratorType {
	case "TRIM_HORIZON", "LATEST", "AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER":
	default:
		return nil, validation("1 validation error detected: Value '%s' at 'shardIteratorType' failed to satisfy constraint: Member must satisfy enum value set: [AFTER_SEQUENCE_NUMBER, LATEST, AT_SEQUENCE_NUMBER, TRIM_HORIZON]", clip(in.ShardIteratorType))
	}
	ref, err := s.resolveStream(r, "GetShardIterator", in.StreamArn)
	if err != nil {
		return nil, err
	}
	if in.ShardId != ref.shard {
		return nil, awsproto.Errorf(awsproto.DynamoDBResourceNotFound, "Requested resource not found: Shard does not exist")
	}
	it := iterator{ARN: ref.arn, Shard: ref.shard, Made: s.cfg.Now().UnixMilli()}
	switch in.ShardIteratorType {
	case "TRIM_HORIZON":
		it.Next = 1
	case "LATEST":
		st, err := s.js.Stream(ctx, natsd.DynamoDBStream)
		if err != nil {
			return nil, awsproto.Internal(err)
		}
		info, err := st.Info(ctx)
		if err != nil {
			return nil, awsproto.Internal(err)
		}
		it.Next = info.State.LastSeq + 1
	default:
		seq, ok := parseSeq(in.SequenceNumber)
		if !ok {
			return nil, validation("Invalid SequenceNumber: %s", clip(in.SequenceNumber))
		}
		msg, err := s.firstAt(ctx, ref.subj, seq)
		if err != nil {
			return nil, err
		}
		if msg == nil || msg.Sequence != seq {
			first, err := s.firstAt(ctx, ref.subj, 1)
			if err != nil {
				return nil, err
			}
			if first == nil || first.Sequence > seq {
				return nil, awsproto.Errorf(awsproto.DynamoDBTrimmedDataAccess, "Requested data is beyond the trim horizon or does not exist: SequenceNumber %s", in.SequenceNumber)
			}
			return nil, validation("Invalid SequenceNumber %s for shard %s", in.SequenceNumber, ref.shard)
		}
		it.Next, it.Checked = seq, true
		if in.ShardIteratorType == "AFTER_SEQUENCE_NUMBER" {
			it.Next, it.Checked = seq+1, false
		}
	}
	return map[string]any{"ShardIterator": it.encode()}, nil
}

func (s *Service) getRecords(ctx context.Context, r *http.Request, body []byte) (any, error) {
	var in struct {
		ShardIterator string `json:"ShardIterator"`
		Limit         *int   `json:"Limit"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	limit := maxRecords
	if in.Limit != nil {
		if *in.Limit < 1 || *in.Limit > maxRecords {
			return nil, validation("1 validation error detected: Value '%d' at 'limit' failed to satisfy constraint: Member must have value between 1 and 1000", *in.Limit)
		}
		limit = *in.Limit
	}
	raw, err := base64.RawURLEncoding.DecodeString(in.ShardIterator)
	var it iterator
	if err != nil || json.Unmarshal(raw, &it) != nil || it.ARN == "" || it.Next == 0 {
		return nil, invalidIterator()
	}
	ref, err := s.resolveStream(r, "GetRecords", it.ARN)
	if err != nil {
		return nil, err
	}
	if it.Shard != ref.shard {
		return nil, invalidIterator()
	}
	now := s.cfg.Now()
	if made := time.UnixMilli(it.Made); now.Sub(made) > iteratorLifetime {
		return nil, awsproto.Errorf(awsproto.DynamoDBExpiredIterator, "Iterator expired. The iterator was created at time %s while right now it is %s which is further in the future than the tolerated delay of 900000 milliseconds.",
			made.UTC().Format(time.RFC1123), now.UTC().Format(time.RFC1123))
	}
	records := []map[string]any{}
	next := it.Next
	msgs, err := s.readLog(ctx, ref.subj, next, limit, maxRecordsBytes)
	if err != nil {
		return nil, awsproto.Internal(err)
	}
	if it.Checked && (len(msgs) == 0 || msgs[0].seq != next) {
		if m, err := s.firstAt(ctx, ref.subj, 1); err != nil {
			return nil, err
		} else if m == nil || m.Sequence > next {
			return nil, awsproto.Errorf(awsproto.DynamoDBTrimmedDataAccess, "Requested data is beyond the trim horizon")
		}
	}
	for _, msg := range msgs {
		next = msg.seq + 1
		var rec record
		if err := json.Unmarshal(msg.data, &rec); err != nil || rec.Log == nil {
			continue
		}
		records = append(records, s.streamRecord(ref, msg.seq, rec.Log))
	}
	res := map[string]any{"Records": records}
	if ref.status() == "ENABLED" || len(records) > 0 {
		res["NextShardIterator"] = iterator{ARN: it.ARN, Shard: it.Shard, Next: next, Made: now.UnixMilli()}.encode()
	}
	return res, nil
}

// streamRecord renders one change record as GetRecords answers it.
func (s *Service) streamRecord(ref *streamRef, seq uint64, c *change) map[string]any {
	sum := sha256.Sum256([]byte(ref.arn + "/" + strconv.FormatUint(seq, 10)))
	ddb := map[string]any{"ApproximateCreationDateTime": c.Time, "Keys": c.Keys, "SequenceNumber": seqString(seq),
		"SizeBytes": attr.ItemSize(c.Keys) + attr.ItemSize(c.New) + attr.ItemSize(c.Old), "StreamViewType": c.View}
	if c.New != nil {
		ddb["NewImage"] = c.New
	}
	if c.Old != nil {
		ddb["OldImage"] = c.Old
	}
	out := map[string]any{"eventID": hex.EncodeToString(sum[:16]), "eventName": c.Event, "eventVersion": "1.1",
		"eventSource": "aws:dynamodb", "awsRegion": s.cfg.Region, "dynamodb": ddb}
	if c.TTL {
		out["userIdentity"] = map[string]any{"Type": "Service", "PrincipalId": "dynamodb.amazonaws.com"}
	}
	return out
}

// keyNames are the key attribute names of an index's table.
func keyNames(h, r string) []string {
	if r != "" {
		return []string{h, r}
	}
	return []string{h}
}
