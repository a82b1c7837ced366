package dynamodb

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"

	"github.com/kumo-run/kumo/internal/awsproto"
	"github.com/kumo-run/kumo/internal/natsd"
	"github.com/kumo-run/kumo/internal/services/dynamodb/attr"
	"github.com/kumo-run/kumo/internal/services/dynamodb/expr"
)

// txOp is one element of TransactItems: the action and its parameters.
type txOp struct {
	TableName                           string                `json:"TableName"`
	Key                                 attr.Item             `json:"Key"`
	Item                                attr.Item             `json:"Item"`
	ConditionExpression                 *string               `json:"ConditionExpression"`
	UpdateExpression                    *string               `json:"UpdateExpression"`
	ProjectionExpression                *string               `json:"ProjectionExpression"`
	ExpressionAttributeNames            map[string]string     `json:"ExpressionAttributeNames"`
	ExpressionAttributeValues           map[string]attr.Value `json:"ExpressionAttributeValues"`
	ReturnValuesOnConditionCheckFailure string                `json:"ReturnValuesOnConditionCheckFailure"`
}

type txItem struct {
	ConditionCheck *txOp `json:"ConditionCheck"`
	Put            *txOp `json:"Put"`
	Delete         *txOp `json:"Delete"`
	Update         *txOp `json:"Update"`
	Get            *txOp `json:"Get"`
}

// txPlan is one parsed write of a transaction.
type txPlan struct {
	kind string // ConditionCheck, Put, Delete, Update
	op   *txOp
	t    *table
	m    *tableMeta
	key  attr.Item
	hash string
	cond *expr.Cond
	upd  *expr.Update
}

// txReason is one CancellationReasons element.
type txReason struct {
	Code    string    `json:"Code"`
	Message string    `json:"Message,omitempty"`
	Item    attr.Item `json:"Item,omitempty"`
}

const maxTxItems = 100

func (s *Service) transactWriteItems(ctx context.Context, r *http.Request, body []byte) (any, error) {
	var in struct {
		TransactItems               []txItem `json:"TransactItems"`
		ClientRequestToken          string   `json:"ClientRequestToken"`
		ReturnConsumedCapacity      string   `json:"ReturnConsumedCapacity"`
		ReturnItemCollectionMetrics string   `json:"ReturnItemCollectionMetrics"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if n := len(in.TransactItems); n == 0 || n > maxTxItems {
		return nil, validation("1 validation error detected: Value at 'transactItems' failed to satisfy constraint: Member must have length less than or equal to %d, Member must have length greater than or equal to 1", maxTxItems)
	}
	if len(in.ClientRequestToken) > 36 {
		return nil, validation("1 validation error detected: Value at 'clientRequestToken' failed to satisfy constraint: Member must have length less than or equal to 36")
	}
	plans := make([]*txPlan, 0, len(in.TransactItems))
	seen := map[string]bool{}
	for _, ti := range in.TransactItems {
		p, err := s.planTx(r, ti)
		if err != nil {
			return nil, err
		}
		if seen[p.m.ID+p.hash] {
			return nil, validation("Transaction request cannot include multiple operations on one item")
		}
		seen[p.m.ID+p.hash] = true
		plans = append(plans, p)
	}
	canon, _ := json.Marshal(in.TransactItems) // maps in key order: the same request, the same hash
	sum := sha256.Sum256(canon)
	reqHash := hex.EncodeToString(sum[:])
	if in.ClientRequestToken != "" {
		if done, err := s.tokenSeen(ctx, in.ClientRequestToken, reqHash); err != nil || done {
			return map[string]any{}, err
		}
	}

	// Lock every item's stripe, in one order, so that this node's writes
	// to them wait for the transaction.
	var locks []*sync.Mutex
	type stripe struct {
		id string
		i  int
	}
	got := map[stripe]bool{}
	var order []stripe
	for _, p := range plans {
		st := stripe{p.m.ID, p.t.idx.stripeOf(p.hash)}
		if !got[st] {
			got[st] = true
			order = append(order, st)
		}
	}
	sort.Slice(order, func(i, j int) bool {
		if order[i].id != order[j].id {
			return order[i].id < order[j].id
		}
		return order[i].i < order[j].i
	})
	for _, st := range order {
		for _, p := range plans {
			if p.m.ID == st.id {
				locks = append(locks, &p.t.idx.stripes[st.i])
				break
			}
		}
	}
	for _, l := range locks {
		l.Lock()
	}
	defer func() {
		for _, l := range locks {
			l.Unlock()
		}
	}()
	if err := s.ready(ctx); err != nil {
		return nil, err
	}

	const attempts = 20
	for attempt := 0; ; attempt++ {
		msgs, seqs, reasons, err := s.evalTx(plans, in.ClientRequestToken, reqHash)
		if err != nil {
			return nil, err
		}
		if reasons != nil {
			return nil, cancelled(reasons)
		}
		seq, code, err := s.publishBatch(ctx, msgs)
		switch {
		case err != nil:
			return nil, awsproto.Internal(err)
		case code == jetstream.JSErrCodeStreamWrongLastSequence || code == jetstream.JSErrCodeStreamWrongLastSequenceConstant:
			if err := s.sync(ctx, true); err != nil {
				return nil, err
			}
			if attempt < attempts {
				continue
			}
			reasons := make([]txReason, len(plans))
			for i, p := range plans {
				reasons[i] = txReason{Code: "None"}
				if _, now := p.t.idx.get(p.hash); now != seqs[i] {
					reasons[i] = txReason{Code: "TransactionConflict", Message: "Transaction is ongoing for the item"}
				}
			}
			return nil, cancelled(reasons)
		case code == errCodeDuplicate:
			// The token's transaction ran in between (on another node).
			if _, err := s.tokenSeen(ctx, in.ClientRequestToken, reqHash); err != nil {
				return nil, err
			}
			return map[string]any{}, nil
		case code != 0:
			return nil, awsproto.Internal(fmt.Errorf("transaction batch refused: code %d", code))
		}
		if err := s.waitWrite(ctx, seq); err != nil {
			return nil, err
		}
		return map[string]any{}, nil
	}
}

// errCodeDuplicate is JetStream's "atomic publish batch contains
// duplicate message id": the ClientRequestToken was used before.
const errCodeDuplicate jetstream.ErrorCode = 10201

func cancelled(reasons []txReason) error {
	codes := make([]string, len(reasons))
	for i, r := range reasons {
		codes[i] = r.Code
	}
	return awsproto.Errorf(awsproto.DynamoDBTransactionCanceled, "Transaction cancelled, please refer cancellation reasons for specific reasons [%s]",
		strings.Join(codes, ", ")).With("CancellationReasons", reasons)
}

// planTx validates one TransactItems element.
func (s *Service) planTx(r *http.Request, ti txItem) (*txPlan, error) {
	p := &txPlan{}
	n := 0
	for kind, op := range map[string]*txOp{"ConditionCheck": ti.ConditionCheck, "Put": ti.Put, "Delete": ti.Delete, "Update": ti.Update} {
		if op != nil {
			p.kind, p.op = kind, op
			n++
		}
	}
	if n != 1 {
		return nil, validation("TransactItems can only contain one of Check, Put, Update or Delete")
	}
	op := p.kind
	if op == "ConditionCheck" {
		op = "ConditionCheckItem"
	} else {
		op += "Item"
	}
	t, err := s.tableFor(r, op, p.op.TableName)
	if err != nil {
		return nil, err
	}
	p.t, p.m = t, t.meta.Load()
	if err := checkOnFailure(p.op.ReturnValuesOnConditionCheckFailure); err != nil {
		return nil, err
	}
	if p.kind == "Put" {
		if err := checkItem(p.m, p.op.Item); err != nil {
			return nil, err
		}
		p.key = keyOf(p.m, p.op.Item)
	} else {
		if p.op.Key == nil {
			return nil, validation("1 validation error detected: Value null at 'key' failed to satisfy constraint: Member must not be null")
		}
		if err := checkKey(p.m, p.op.Key); err != nil {
			return nil, err
		}
		p.key = p.op.Key
	}
	p.hash = itemHash(p.m.hashKey(), p.m.rangeKey(), p.key)
	ei := exprInput{ExpressionAttributeNames: p.op.ExpressionAttributeNames, ExpressionAttributeValues: p.op.ExpressionAttributeValues}
	if p.kind == "ConditionCheck" && p.op.ConditionExpression == nil {
		return nil, validation("The ConditionExpression parameter is required for a ConditionCheck")
	}
	if p.kind == "Update" && p.op.UpdateExpression == nil {
		return nil, validation("1 validation error detected: Value null at 'transactItems.1.member.update.updateExpression' failed to satisfy constraint: Member must not be null")
	}
	if p.op.ConditionExpression == nil && p.op.UpdateExpression == nil {
		return p, noExpr(&ei)
	}
	refs, err := ei.refs()
	if err != nil {
		return nil, err
	}
	if p.op.UpdateExpression != nil {
		if p.upd, err = expr.ParseUpdate(*p.op.UpdateExpression, refs); err != nil {
			return nil, err
		}
	}
	if p.op.ConditionExpression != nil {
		if p.cond, err = expr.ParseCond("ConditionExpression", *p.op.ConditionExpression, refs); err != nil {
			return nil, err
		}
	}
	return p, refs.Unused()
}

// evalTx evaluates every plan on this node's indexes: the batch to
// publish and the sequences it expects, or the reasons to cancel.
func (s *Service) evalTx(plans []*txPlan, token, reqHash string) ([]*nats.Msg, []uint64, []txReason, error) {
	reasons := make([]txReason, len(plans))
	seqs := make([]uint64, len(plans))
	failed := false
	var msgs []*nats.Msg
	var recs []record
	var grow int64 // how much the items held grow
	for i, p := range plans {
		old, seq := p.t.idx.get(p.hash)
		seqs[i] = seq
		reasons[i] = txReason{Code: "None"}
		if p.cond != nil && !p.cond.Eval(old) {
			reasons[i] = txReason{Code: "ConditionalCheckFailed", Message: "The conditional request failed"}
			if p.op.ReturnValuesOnConditionCheckFailure == "ALL_OLD" {
				reasons[i].Item = old
			}
			failed = true
			continue
		}
		h, rk := p.m.hashKey(), p.m.rangeKey()
		rec := record{H: h, R: rk}
		subject := natsd.DynamoDBItemSubject(p.m.ID, p.hash)
		switch p.kind {
		case "ConditionCheck":
			subject = natsd.DynamoDBCheckSubject(p.m.ID, p.hash)
		case "Put":
			rec.Item = p.op.Item
		case "Delete":
			rec.Key, rec.Deleted = p.key, true
		case "Update":
			base := old
			if base == nil {
				base = attr.Clone(p.key)
			}
			cur, err := p.upd.Apply(base, p.m.keyNames())
			if err == nil && attr.ItemSize(cur) > attr.MaxItemSize {
				err = &expr.Error{Msg: "Item size to update has exceeded the maximum allowed size"}
			}
			if err == nil {
				if ierr := checkIndexKeys(p.m, cur); ierr != nil {
					err = &expr.Error{Msg: awsproto.AsError(ierr).Message}
				}
			}
			if err != nil {
				reasons[i] = txReason{Code: "ValidationError", Message: err.Error()}
				failed = true
				continue
			}
			rec.Item = cur
		}
		m := nats.NewMsg(subject)
		m.Header.Set(jetstream.MsgRollup, jetstream.MsgRollupSubject)
		m.Header.Set(jetstream.ExpectedLastSubjSeqHeader, strconv.FormatUint(seq, 10))
		if p.kind == "ConditionCheck" {
			m.Header.Set(jetstream.ExpectedLastSubjSeqSubjHeader, natsd.DynamoDBItemSubject(p.m.ID, p.hash))
		}
		msgs = append(msgs, m)
		recs = append(recs, rec)
		if p.kind != "ConditionCheck" {
			cur := rec.Item
			if rec.Deleted {
				cur = nil
			}
			grow += int64(attr.ItemSize(cur) - attr.ItemSize(old))
			if lm := s.changeMsg(s.logOf(p.m.ID), p.m.keyNames(), old, cur, false); lm != nil {
				var lrec record
				_ = json.Unmarshal(lm.Data, &lrec)
				msgs = append(msgs, lm)
				recs = append(recs, lrec)
			}
		}
	}
	if failed {
		return nil, nil, reasons, nil
	}
	if err := s.budget(grow); err != nil {
		return nil, nil, nil, err
	}
	if token != "" {
		m := nats.NewMsg(natsd.DynamoDBTokenSubject(tokenHash(token)))
		m.Header.Set(jetstream.MsgTTLHeader, tokenWindow.String())
		m.Header.Set(jetstream.MsgIDHeader, "ddb-tx-"+tokenHash(token))
		msgs = append(msgs, m)
		recs = append(recs, record{Req: reqHash})
	}
	for i, m := range msgs {
		recs[i].T, recs[i].I = len(msgs), i
		m.Data, _ = json.Marshal(recs[i])
	}
	return msgs, seqs, nil, nil
}

// publishBatch publishes msgs as one atomic batch: all are stored or none.
// It returns the last message's sequence, or JetStream's error code for a
// refused batch.
func (s *Service) publishBatch(ctx context.Context, msgs []*nats.Msg) (uint64, jetstream.ErrorCode, error) {
	id := nuid.Next()
	for i, m := range msgs {
		m.Header.Set("Nats-Batch-Id", id)
		m.Header.Set("Nats-Batch-Sequence", strconv.Itoa(i+1))
		if i < len(msgs)-1 {
			m.Header.Del("Nats-Batch-Commit") // set when it ended an earlier batch
			if err := s.cfg.NC.PublishMsg(m); err != nil {
				return 0, 0, err
			}
			continue
		}
		m.Header.Set("Nats-Batch-Commit", "1")
		rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		reply, err := s.cfg.NC.RequestMsgWithContext(rctx, m)
		if err != nil {
			return 0, 0, err
		}
		var ack struct {
			Seq   uint64 `json:"seq"`
			Error *struct {
				ErrCode jetstream.ErrorCode `json:"err_code"`
				Desc    string              `json:"description"`
			} `json:"error"`
		}
		if err := json.Unmarshal(reply.Data, &ack); err != nil {
			return 0, 0, fmt.Errorf("batch reply %q: %w", clip(string(reply.Data)), err)
		}
		if ack.Error != nil {
			return 0, ack.Error.ErrCode, nil
		}
		return ack.Seq, 0, nil
	}
	return 0, 0, errors.New("empty batch")
}

func tokenHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:16])
}

// tokenSeen reports whether a transaction with the token ran in the last
// 10 minutes: its record (a message of the transaction's batch, with a
// 10-minute TTL) is in the stream. A token reused for another request is
// refused.
func (s *Service) tokenSeen(ctx context.Context, token, reqHash string) (bool, error) {
	st, err := s.js.Stream(ctx, natsd.DynamoDBStream)
	if err != nil {
		return false, awsproto.Internal(err)
	}
	m, err := st.GetLastMsgForSubject(ctx, natsd.DynamoDBTokenSubject(tokenHash(token)))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return false, nil
	}
	if err != nil {
		return false, awsproto.Internal(err)
	}
	var rec record
	if json.Unmarshal(m.Data, &rec) != nil || rec.Req != reqHash {
		return false, awsproto.Errorf(awsproto.DynamoDBIdempotentParameterMismatch, "The request uses the same client token as a previous, but non-identical request.")
	}
	return true, nil
}

func (s *Service) transactGetItems(ctx context.Context, r *http.Request, body []byte) (any, error) {
	var in struct {
		TransactItems          []txItem `json:"TransactItems"`
		ReturnConsumedCapacity string   `json:"ReturnConsumedCapacity"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if n := len(in.TransactItems); n == 0 || n > maxTxItems {
		return nil, validation("1 validation error detected: Value at 'transactItems' failed to satisfy constraint: Member must have length less than or equal to %d, Member must have length greater than or equal to 1", maxTxItems)
	}
	type get struct {
		t     *table
		hash  string
		paths []expr.Path
	}
	gets := make([]get, len(in.TransactItems))
	for i, ti := range in.TransactItems {
		op := ti.Get
		if op == nil || ti.Put != nil || ti.Update != nil || ti.Delete != nil || ti.ConditionCheck != nil {
			return nil, validation("TransactItems can only contain Get")
		}
		t, err := s.tableFor(r, "GetItem", op.TableName)
		if err != nil {
			return nil, err
		}
		m := t.meta.Load()
		if err := checkKey(m, op.Key); err != nil {
			return nil, err
		}
		ei := exprInput{ExpressionAttributeNames: op.ExpressionAttributeNames}
		paths, err := parseProjection(op.ProjectionExpression, &ei)
		if err != nil {
			return nil, err
		}
		gets[i] = get{t: t, hash: itemHash(m.hashKey(), m.rangeKey(), op.Key), paths: paths}
	}
	if err := s.sync(ctx, true); err != nil {
		return nil, err
	}
	out := make([]map[string]any, len(gets))
	s.applyMu.RLock() // no transaction is half applied while we read
	for i, g := range gets {
		out[i] = map[string]any{}
		if it, _ := g.t.idx.get(g.hash); it != nil {
			if g.paths != nil {
				it = expr.Project(it, g.paths)
			}
			out[i]["Item"] = it
		}
	}
	s.applyMu.RUnlock()
	return map[string]any{"Responses": out}, nil
}
