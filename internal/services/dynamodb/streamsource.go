package dynamodb

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"

	"github.com/kumo-run/kumo/internal/awsproto"
	"github.com/kumo-run/kumo/internal/iam/authz"
	"github.com/kumo-run/kumo/internal/natsd"
	"github.com/kumo-run/kumo/internal/services/dynamodb/attr"
)

// StreamRecord is one record of a stream as Lambda's event carries it
// (the GetRecords record with eventSourceARN, userIdentity in the event's
// casing), with its stream sequence.
type StreamRecord struct {
	Seq    uint64
	Record map[string]any
	// Shard is the ShardId of the stream's one shard.
	Shard string
	// Partition is a stable 64-bit hash of the item's partition key: the
	// records of one partition key share it.
	Partition uint64
	// Time is the record's ApproximateCreationDateTime, epoch seconds.
	Time int64
}

// StreamExists reports whether arn is a table's latest stream.
func (s *Service) StreamExists(arn string) bool {
	_, err := s.resolveStream(nil, "", arn)
	return err == nil
}

// StreamShard is the ShardId of the stream arn's one shard, "" when arn
// is no table's latest stream.
func (s *Service) StreamShard(arn string) string {
	ref, err := s.resolveStream(nil, "", arn)
	if err != nil {
		return ""
	}
	return ref.shard
}

// StreamLatest is the position after every record stored so far.
func (s *Service) StreamLatest(ctx context.Context) (uint64, error) {
	st, err := s.js.Stream(ctx, natsd.DynamoDBStream)
	if err != nil {
		return 0, err
	}
	info, err := st.Info(ctx)
	if err != nil {
		return 0, err
	}
	return info.State.LastSeq + 1, nil
}

// ReadStream returns up to n records of the stream arn from position
// from (1: the oldest kept), in order, and the position after them. It is
// the in-process reader of event source mappings: no caller is checked.
func (s *Service) ReadStream(ctx context.Context, arn string, from uint64, n int) ([]StreamRecord, uint64, error) {
	ref, err := s.resolveStream(nil, "", arn)
	if err != nil {
		return nil, from, err
	}
	var out []StreamRecord
	next := max(from, 1)
	msgs, err := s.readLog(ctx, ref.subj, next, n, maxRecordsBytes)
	if err != nil {
		return nil, from, err
	}
	for _, msg := range msgs {
		next = msg.seq + 1
		var rec record
		if json.Unmarshal(msg.data, &rec) != nil || rec.Log == nil {
			continue
		}
		r := s.streamRecord(ref, msg.seq, rec.Log)
		r["eventSourceARN"] = arn
		if rec.Log.TTL {
			r["userIdentity"] = map[string]any{"type": "Service", "principalId": "dynamodb.amazonaws.com"}
		}
		out = append(out, StreamRecord{Seq: msg.seq, Record: r, Shard: ref.shard, Time: rec.Log.Time,
			Partition: partitionHash(ref.m.hashKey(), rec.Log.Keys)})
	}
	return out, next, nil
}

// partitionHash hashes the partition key attribute of keys.
func partitionHash(name string, keys attr.Item) uint64 {
	v, ok := keys[name]
	if !ok {
		return 0
	}
	h := fnv.New64a()
	_, _ = h.Write(attr.KeyBytes(v))
	return h.Sum64()
}

// IsStreamARN reports whether arn has the shape of a DynamoDB stream ARN.
func IsStreamARN(arn string) bool {
	return strings.HasPrefix(arn, "arn:aws:dynamodb:") && strings.Contains(arn, ":table/") && strings.Contains(arn, "/stream/")
}

// StreamRoleAllowed reports whether a function's execution role may call
// action (dynamodb:GetRecords, say) on the stream arn, as Lambda checks
// before it maps the stream to the function.
func (s *Service) StreamRoleAllowed(ctx context.Context, roleARN, action, arn string) bool {
	if !s.StreamExists(arn) {
		return false
	}
	if s.cfg.Authorizer == nil {
		return true
	}
	name := roleARN[strings.LastIndexByte(roleARN, '/')+1:]
	account := s.cfg.Account
	if p := strings.Split(roleARN, ":"); len(p) == 6 {
		account = p[4]
	}
	ctx = awsproto.WithCaller(ctx, awsproto.Caller{Identity: awsproto.Identity{Account: account,
		ARN: "arn:aws:sts::" + account + ":assumed-role/" + name + "/awslambda", UserID: name + ":awslambda",
		RoleARN: roleARN, SessionName: "awslambda"}})
	return s.cfg.Authorizer.Authorize(ctx, authz.Check{Action: action, Resource: arn, Denied: awsproto.DynamoDBAccessDenied}) == nil
}

// logMsg is one message of a stream's change log.
type logMsg struct {
	seq  uint64
	data []byte
}

// readLog returns up to n messages of subject subj from sequence from
// on, in order, with one batched direct get (the stream allows direct
// gets): the server answers each message and then an end-of-batch status.
func (s *Service) readLog(ctx context.Context, subj string, from uint64, n, maxBytes int) ([]logMsg, error) {
	req, _ := json.Marshal(map[string]any{"seq": max(from, 1), "next_by_subj": subj, "batch": n, "max_bytes": maxBytes})
	inbox := s.cfg.NC.NewRespInbox()
	sub, err := s.cfg.NC.SubscribeSync(inbox)
	if err != nil {
		return nil, err
	}
	defer func() { _ = sub.Unsubscribe() }()
	if err := s.cfg.NC.PublishRequest("$JS.API.DIRECT.GET."+natsd.DynamoDBStream, inbox, req); err != nil {
		return nil, err
	}
	var out []logMsg
	for len(out) < n {
		m, err := sub.NextMsgWithContext(ctx)
		if err != nil {
			return out, err
		}
		if st := m.Header.Get("Status"); st != "" {
			// 204: the end of the batch; 404: nothing from there on
			if st == "204" || st == "404" {
				return out, nil
			}
			return out, fmt.Errorf("direct get: status %s %s", st, m.Header.Get("Description"))
		}
		seq, err := strconv.ParseUint(m.Header.Get("Nats-Sequence"), 10, 64)
		if err != nil {
			return out, fmt.Errorf("direct get: sequence %q", m.Header.Get("Nats-Sequence"))
		}
		out = append(out, logMsg{seq: seq, data: m.Data})
	}
	return out, nil
}
