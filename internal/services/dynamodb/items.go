package dynamodb

import (
	"context"
	"net/http"
	"slices"

	"github.com/kumo-run/kumo/internal/awsproto"
	"github.com/kumo-run/kumo/internal/services/dynamodb/attr"
	"github.com/kumo-run/kumo/internal/services/dynamodb/expr"
)

// exprInput is the expression members requests share.
type exprInput struct {
	ExpressionAttributeNames  map[string]string     `json:"ExpressionAttributeNames"`
	ExpressionAttributeValues map[string]attr.Value `json:"ExpressionAttributeValues"`
	ReturnConsumedCapacity    string                `json:"ReturnConsumedCapacity"`
	// Legacy parameters, refused.
	Expected            map[string]any `json:"Expected"`
	AttributeUpdates    map[string]any `json:"AttributeUpdates"`
	ConditionalOperator string         `json:"ConditionalOperator"`
	AttributesToGet     []string       `json:"AttributesToGet"`
	KeyConditions       map[string]any `json:"KeyConditions"`
	QueryFilter         map[string]any `json:"QueryFilter"`
	ScanFilter          map[string]any `json:"ScanFilter"`
}

func (in *exprInput) refs() (*expr.Refs, error) {
	if in.Expected != nil || in.AttributeUpdates != nil || in.ConditionalOperator != "" || in.AttributesToGet != nil ||
		in.KeyConditions != nil || in.QueryFilter != nil || in.ScanFilter != nil {
		return nil, validation("Legacy parameters (Expected, AttributeUpdates, ConditionalOperator, AttributesToGet, KeyConditions, QueryFilter, ScanFilter) are not supported by this server; use expressions")
	}
	if in.ExpressionAttributeNames != nil && len(in.ExpressionAttributeNames) == 0 {
		return nil, validation("ExpressionAttributeNames must not be empty")
	}
	if in.ExpressionAttributeValues != nil && len(in.ExpressionAttributeValues) == 0 {
		return nil, validation("ExpressionAttributeValues must not be empty")
	}
	return &expr.Refs{Names: in.ExpressionAttributeNames, Values: in.ExpressionAttributeValues}, nil
}

// noExpr refuses names or values given without an expression using them.
func noExpr(in *exprInput) error {
	if in.ExpressionAttributeNames != nil {
		return validation("ExpressionAttributeNames can only be specified when using expressions")
	}
	if in.ExpressionAttributeValues != nil {
		return validation("ExpressionAttributeValues can only be specified when using expressions: ConditionExpression is null")
	}
	return nil
}

// checkItem validates an item to be written: its key against the schema,
// its size.
func checkItem(m *tableMeta, it attr.Item) error {
	for _, k := range m.keyNames() {
		v, ok := it[k]
		if !ok {
			return invalidParams("Missing the key %s in the item", k)
		}
		if string(v.Kind) != m.attrType(k) {
			return invalidParams("Type mismatch for key %s expected: %s actual: %s", k, m.attrType(k), v.Kind)
		}
		if err := nonEmptyKey(k, v); err != nil {
			return err
		}
	}
	if attr.ItemSize(it) > attr.MaxItemSize {
		return validation("Item size has exceeded the maximum allowed size")
	}
	return checkIndexKeys(m, it)
}

// checkIndexKeys refuses an item whose secondary index key attributes do
// not have their defined types.
func checkIndexKeys(m *tableMeta, it attr.Item) error {
	for _, im := range append(slices.Clone(m.GSIs), m.LSIs...) {
		for _, k := range im.KeySchema {
			v, ok := it[k.AttributeName]
			if !ok {
				continue
			}
			if string(v.Kind) != m.attrType(k.AttributeName) {
				return invalidParams("Type mismatch for Index Key %s Expected: %s Actual: %s IndexName: %s", k.AttributeName, m.attrType(k.AttributeName), v.Kind, im.IndexName)
			}
			if (v.Kind == attr.S && v.S == "") || (v.Kind == attr.B && len(v.B) == 0) {
				return validation("One or more parameter values are not valid. A value specified for a secondary index key is not supported. The AttributeValue for a key attribute cannot contain an empty %s value. IndexName: %s, IndexKey: %s",
					map[attr.Kind]string{attr.S: "string", attr.B: "binary"}[v.Kind], im.IndexName, k.AttributeName)
			}
		}
	}
	return nil
}

func nonEmptyKey(k string, v attr.Value) error {
	if (v.Kind == attr.S && v.S == "") || (v.Kind == attr.B && len(v.B) == 0) {
		return invalidParams("The AttributeValue for a key attribute cannot contain an empty %s value. Key: %s",
			map[attr.Kind]string{attr.S: "string", attr.B: "binary"}[v.Kind], k)
	}
	return nil
}

// checkKey validates a Key parameter: exactly the key attributes, of
// their types.
func checkKey(m *tableMeta, key attr.Item) error {
	names := m.keyNames()
	if len(key) != len(names) {
		return validation("The provided key element does not match the schema")
	}
	for _, k := range names {
		v, ok := key[k]
		if !ok || string(v.Kind) != m.attrType(k) {
			return validation("The provided key element does not match the schema")
		}
		if err := nonEmptyKey(k, v); err != nil {
			return err
		}
	}
	return nil
}

func keyOf(m *tableMeta, it attr.Item) attr.Item {
	k := attr.Item{}
	for _, n := range m.keyNames() {
		k[n] = it[n]
	}
	return k
}

// condFailed is ConditionalCheckFailedException, with the item when the
// request asked for it.
func condFailed(old attr.Item, onFailure string) error {
	e := awsproto.Errorf(awsproto.DynamoDBConditionalCheckFailed, "The conditional request failed")
	if onFailure == "ALL_OLD" && old != nil {
		e = e.With("Item", old)
	}
	return e
}

func checkOnFailure(v string) error {
	switch v {
	case "", "NONE", "ALL_OLD":
		return nil
	}
	return validation("1 validation error detected: Value '%s' at 'returnValuesOnConditionCheckFailure' failed to satisfy constraint: Member must satisfy enum value set: [ALL_OLD, NONE]", v)
}

func capacity(table, mode string, units float64) map[string]any {
	switch mode {
	case "TOTAL", "INDEXES":
		return map[string]any{"TableName": table, "CapacityUnits": units}
	}
	return nil
}

func writeUnits(it attr.Item) float64 { return float64(max(1, (attr.ItemSize(it)+1023)/1024)) }

func readUnits(it attr.Item, consistent bool) float64 {
	u := float64(max(1, (attr.ItemSize(it)+4095)/4096))
	if !consistent {
		u /= 2
	}
	return u
}

type putItemInput struct {
	exprInput
	TableName                           string    `json:"TableName"`
	Item                                attr.Item `json:"Item"`
	ConditionExpression                 *string   `json:"ConditionExpression"`
	ReturnValues                        string    `json:"ReturnValues"`
	ReturnValuesOnConditionCheckFailure string    `json:"ReturnValuesOnConditionCheckFailure"`
	ReturnItemCollectionMetrics         string    `json:"ReturnItemCollectionMetrics"`
}

// parseCondition parses an optional ConditionExpression and checks that
// every name and value was used.
func parseCondition(src *string, in *exprInput) (*expr.Cond, error) {
	if src == nil {
		return nil, noExpr(in)
	}
	refs, err := in.refs()
	if err != nil {
		return nil, err
	}
	c, err := expr.ParseCond("ConditionExpression", *src, refs)
	if err != nil {
		return nil, err
	}
	return c, refs.Unused()
}

func (s *Service) putItem(ctx context.Context, r *http.Request, body []byte) (any, error) {
	var in putItemInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	t, err := s.tableFor(r, "PutItem", in.TableName)
	if err != nil {
		return nil, err
	}
	m := t.meta.Load()
	if in.Item == nil {
		return nil, validation("1 validation error detected: Value null at 'item' failed to satisfy constraint: Member must not be null")
	}
	if err := checkItem(m, in.Item); err != nil {
		return nil, err
	}
	switch in.ReturnValues {
	case "", "NONE", "ALL_OLD":
	default:
		return nil, validation("Return values set to invalid value")
	}
	if err := checkOnFailure(in.ReturnValuesOnConditionCheckFailure); err != nil {
		return nil, err
	}
	cond, err := parseCondition(in.ConditionExpression, &in.exprInput)
	if err != nil {
		return nil, err
	}
	old, _, err := t.idx.write(ctx, keyOf(m, in.Item), func(old attr.Item) (attr.Item, error) {
		if cond != nil && !cond.Eval(old) {
			return nil, condFailed(old, in.ReturnValuesOnConditionCheckFailure)
		}
		return in.Item, nil
	})
	if err != nil {
		return nil, err
	}
	out := map[string]any{}
	if in.ReturnValues == "ALL_OLD" && old != nil {
		out["Attributes"] = old
	}
	if c := capacity(m.Name, in.ReturnConsumedCapacity, writeUnits(in.Item)); c != nil {
		out["ConsumedCapacity"] = c
	}
	return out, nil
}

type keyInput struct {
	exprInput
	TableName string    `json:"TableName"`
	Key       attr.Item `json:"Key"`
}

func (s *Service) keyed(r *http.Request, op string, in *keyInput) (*table, *tableMeta, error) {
	t, err := s.tableFor(r, op, in.TableName)
	if err != nil {
		return nil, nil, err
	}
	m := t.meta.Load()
	if in.Key == nil {
		return nil, nil, validation("1 validation error detected: Value null at 'key' failed to satisfy constraint: Member must not be null")
	}
	if err := checkKey(m, in.Key); err != nil {
		return nil, nil, err
	}
	return t, m, nil
}

func (s *Service) getItem(ctx context.Context, r *http.Request, body []byte) (any, error) {
	var in struct {
		keyInput
		ConsistentRead       bool    `json:"ConsistentRead"`
		ProjectionExpression *string `json:"ProjectionExpression"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	t, m, err := s.keyed(r, "GetItem", &in.keyInput)
	if err != nil {
		return nil, err
	}
	paths, err := parseProjection(in.ProjectionExpression, &in.exprInput)
	if err != nil {
		return nil, err
	}
	if err := s.sync(ctx, in.ConsistentRead); err != nil {
		return nil, err
	}
	it, _ := t.idx.get(itemHash(m.hashKey(), m.rangeKey(), in.Key))
	out := map[string]any{}
	if it != nil {
		if paths != nil {
			it = expr.Project(it, paths)
		}
		out["Item"] = it
	}
	if c := capacity(m.Name, in.ReturnConsumedCapacity, readUnits(it, in.ConsistentRead)); c != nil {
		out["ConsumedCapacity"] = c
	}
	return out, nil
}

func parseProjection(src *string, in *exprInput) ([]expr.Path, error) {
	if src == nil {
		return nil, noExpr(in)
	}
	refs, err := in.refs()
	if err != nil {
		return nil, err
	}
	paths, err := expr.ParsePaths(*src, refs)
	if err != nil {
		return nil, err
	}
	return paths, refs.Unused()
}

func (s *Service) deleteItem(ctx context.Context, r *http.Request, body []byte) (any, error) {
	var in struct {
		keyInput
		ConditionExpression                 *string `json:"ConditionExpression"`
		ReturnValues                        string  `json:"ReturnValues"`
		ReturnValuesOnConditionCheckFailure string  `json:"ReturnValuesOnConditionCheckFailure"`
		ReturnItemCollectionMetrics         string  `json:"ReturnItemCollectionMetrics"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	t, m, err := s.keyed(r, "DeleteItem", &in.keyInput)
	if err != nil {
		return nil, err
	}
	switch in.ReturnValues {
	case "", "NONE", "ALL_OLD":
	default:
		return nil, validation("Return values set to invalid value")
	}
	if err := checkOnFailure(in.ReturnValuesOnConditionCheckFailure); err != nil {
		return nil, err
	}
	cond, err := parseCondition(in.ConditionExpression, &in.exprInput)
	if err != nil {
		return nil, err
	}
	old, _, err := t.idx.write(ctx, in.Key, func(old attr.Item) (attr.Item, error) {
		if cond != nil && !cond.Eval(old) {
			return nil, condFailed(old, in.ReturnValuesOnConditionCheckFailure)
		}
		if old == nil {
			return nil, errNoWrite
		}
		return nil, nil
	})
	if err != nil {
		return nil, err
	}
	out := map[string]any{}
	if in.ReturnValues == "ALL_OLD" && old != nil {
		out["Attributes"] = old
	}
	if c := capacity(m.Name, in.ReturnConsumedCapacity, writeUnits(old)); c != nil {
		out["ConsumedCapacity"] = c
	}
	return out, nil
}

func (s *Service) updateItem(ctx context.Context, r *http.Request, body []byte) (any, error) {
	var in struct {
		keyInput
		UpdateExpression                    *string `json:"UpdateExpression"`
		ConditionExpression                 *string `json:"ConditionExpression"`
		ReturnValues                        string  `json:"ReturnValues"`
		ReturnValuesOnConditionCheckFailure string  `json:"ReturnValuesOnConditionCheckFailure"`
		ReturnItemCollectionMetrics         string  `json:"ReturnItemCollectionMetrics"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	t, m, err := s.keyed(r, "UpdateItem", &in.keyInput)
	if err != nil {
		return nil, err
	}
	switch in.ReturnValues {
	case "", "NONE", "ALL_OLD", "UPDATED_OLD", "ALL_NEW", "UPDATED_NEW":
	default:
		return nil, validation("1 validation error detected: Value '%s' at 'returnValues' failed to satisfy constraint: Member must satisfy enum value set: [ALL_NEW, UPDATED_OLD, ALL_OLD, NONE, UPDATED_NEW]", in.ReturnValues)
	}
	if err := checkOnFailure(in.ReturnValuesOnConditionCheckFailure); err != nil {
		return nil, err
	}
	var upd *expr.Update
	var cond *expr.Cond
	if in.UpdateExpression == nil && in.ConditionExpression == nil {
		if err := noExpr(&in.exprInput); err != nil {
			return nil, err
		}
	} else {
		refs, err := in.refs()
		if err != nil {
			return nil, err
		}
		if in.UpdateExpression != nil {
			if upd, err = expr.ParseUpdate(*in.UpdateExpression, refs); err != nil {
				return nil, err
			}
		}
		if in.ConditionExpression != nil {
			if cond, err = expr.ParseCond("ConditionExpression", *in.ConditionExpression, refs); err != nil {
				return nil, err
			}
		}
		if err := refs.Unused(); err != nil {
			return nil, err
		}
	}
	old, cur, err := t.idx.write(ctx, in.Key, func(old attr.Item) (attr.Item, error) {
		if cond != nil && !cond.Eval(old) {
			return nil, condFailed(old, in.ReturnValuesOnConditionCheckFailure)
		}
		base := old
		if base == nil {
			base = attr.Clone(in.Key)
		}
		cur := base
		if upd != nil {
			var err error
			if cur, err = upd.Apply(base, m.keyNames()); err != nil {
				return nil, err
			}
		}
		if attr.ItemSize(cur) > attr.MaxItemSize {
			return nil, validation("Item size to update has exceeded the maximum allowed size")
		}
		if err := checkIndexKeys(m, cur); err != nil {
			return nil, err
		}
		return cur, nil
	})
	if err != nil {
		return nil, err
	}
	out := map[string]any{}
	var ret attr.Item
	switch in.ReturnValues {
	case "ALL_OLD":
		ret = old
	case "ALL_NEW":
		ret = cur
	case "UPDATED_OLD", "UPDATED_NEW":
		src := old
		if in.ReturnValues == "UPDATED_NEW" {
			src = cur
		}
		if upd != nil {
			ret = expr.Project(src, upd.Paths())
		}
	}
	if len(ret) > 0 {
		out["Attributes"] = ret
	}
	if c := capacity(m.Name, in.ReturnConsumedCapacity, writeUnits(cur)); c != nil {
		out["ConsumedCapacity"] = c
	}
	return out, nil
}
