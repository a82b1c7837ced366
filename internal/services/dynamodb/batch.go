package dynamodb

import (
	"context"
	"net/http"
	"sort"

	"github.com/kumo-run/kumo/internal/services/dynamodb/attr"
	"github.com/kumo-run/kumo/internal/services/dynamodb/expr"
)

// maxBatchResponse is BatchGetItem's limit on one answer: 16 MB.
const maxBatchResponse = 16 << 20

func tableNames[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func (s *Service) batchGetItem(ctx context.Context, r *http.Request, body []byte) (any, error) {
	type tableKeys struct {
		Keys                     []attr.Item       `json:"Keys"`
		ProjectionExpression     *string           `json:"ProjectionExpression"`
		ExpressionAttributeNames map[string]string `json:"ExpressionAttributeNames"`
		ConsistentRead           bool              `json:"ConsistentRead"`
		AttributesToGet          []string          `json:"AttributesToGet"`
	}
	var in struct {
		RequestItems           map[string]tableKeys `json:"RequestItems"`
		ReturnConsumedCapacity string               `json:"ReturnConsumedCapacity"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if len(in.RequestItems) == 0 {
		return nil, validation("1 validation error detected: Value null at 'requestItems' failed to satisfy constraint: Member must not be null")
	}
	type plan struct {
		t     *table
		m     *tableMeta
		paths []expr.Path
		tk    tableKeys
	}
	var plans []plan
	total := 0
	consistent := false
	for _, name := range tableNames(in.RequestItems) {
		tk := in.RequestItems[name]
		t, err := s.tableFor(r, "BatchGetItem", name)
		if err != nil {
			return nil, err
		}
		m := t.meta.Load()
		total += len(tk.Keys)
		if total > 100 {
			return nil, validation("Too many items requested for the BatchGetItem call")
		}
		if len(tk.Keys) == 0 {
			return nil, validation("1 validation error detected: Value '[]' at 'requestItems.%s.member.keys' failed to satisfy constraint: Member must have length greater than or equal to 1", name)
		}
		seen := map[string]bool{}
		for _, k := range tk.Keys {
			if err := checkKey(m, k); err != nil {
				return nil, err
			}
			h := itemHash(m.hashKey(), m.rangeKey(), k)
			if seen[h] {
				return nil, validation("Provided list of item keys contains duplicates")
			}
			seen[h] = true
		}
		ei := exprInput{ExpressionAttributeNames: tk.ExpressionAttributeNames, AttributesToGet: tk.AttributesToGet}
		paths, err := parseProjection(tk.ProjectionExpression, &ei)
		if err != nil {
			return nil, err
		}
		consistent = consistent || tk.ConsistentRead
		plans = append(plans, plan{t: t, m: m, paths: paths, tk: tk})
	}
	if err := s.sync(ctx, consistent); err != nil {
		return nil, err
	}
	responses := map[string][]attr.Item{}
	unprocessed := map[string]any{}
	var caps []map[string]any
	size := 0
	for _, p := range plans {
		items := []attr.Item{}
		var rest []attr.Item
		units := 0.0
		for _, k := range p.tk.Keys {
			if size >= maxBatchResponse {
				rest = append(rest, k)
				continue
			}
			it, _ := p.t.idx.get(itemHash(p.m.hashKey(), p.m.rangeKey(), k))
			if it == nil {
				continue
			}
			units += readUnits(it, p.tk.ConsistentRead)
			size += attr.ItemSize(it)
			if p.paths != nil {
				it = expr.Project(it, p.paths)
			}
			items = append(items, it)
		}
		responses[p.m.Name] = items
		if len(rest) > 0 {
			tk := p.tk
			tk.Keys = rest
			unprocessed[p.m.Name] = tk
		}
		if c := capacity(p.m.Name, in.ReturnConsumedCapacity, units); c != nil {
			caps = append(caps, c)
		}
	}
	out := map[string]any{"Responses": responses, "UnprocessedKeys": unprocessed}
	if caps != nil {
		out["ConsumedCapacity"] = caps
	}
	return out, nil
}

func (s *Service) batchWriteItem(ctx context.Context, r *http.Request, body []byte) (any, error) {
	type writeRequest struct {
		PutRequest *struct {
			Item attr.Item `json:"Item"`
		} `json:"PutRequest"`
		DeleteRequest *struct {
			Key attr.Item `json:"Key"`
		} `json:"DeleteRequest"`
	}
	var in struct {
		RequestItems                map[string][]writeRequest `json:"RequestItems"`
		ReturnConsumedCapacity      string                    `json:"ReturnConsumedCapacity"`
		ReturnItemCollectionMetrics string                    `json:"ReturnItemCollectionMetrics"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if len(in.RequestItems) == 0 {
		return nil, validation("1 validation error detected: Value null at 'requestItems' failed to satisfy constraint: Member must not be null")
	}
	type write struct {
		t    *table
		m    *tableMeta
		key  attr.Item
		item attr.Item // nil: delete
	}
	var writes []write
	for _, name := range tableNames(in.RequestItems) {
		reqs := in.RequestItems[name]
		t, err := s.tableFor(r, "BatchWriteItem", name)
		if err != nil {
			return nil, err
		}
		m := t.meta.Load()
		if len(reqs) == 0 {
			return nil, validation("1 validation error detected: Value '[]' at 'requestItems.%s.member' failed to satisfy constraint: Member must have length greater than or equal to 1", name)
		}
		seen := map[string]bool{}
		for _, wr := range reqs {
			var w write
			switch {
			case wr.PutRequest != nil && wr.DeleteRequest == nil:
				if err := checkItem(m, wr.PutRequest.Item); err != nil {
					return nil, err
				}
				w = write{t: t, m: m, key: keyOf(m, wr.PutRequest.Item), item: wr.PutRequest.Item}
			case wr.DeleteRequest != nil && wr.PutRequest == nil:
				if err := checkKey(m, wr.DeleteRequest.Key); err != nil {
					return nil, err
				}
				w = write{t: t, m: m, key: wr.DeleteRequest.Key}
			default:
				return nil, validation("Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes")
			}
			h := itemHash(m.hashKey(), m.rangeKey(), w.key)
			if seen[h] {
				return nil, validation("Provided list of item keys contains duplicates")
			}
			seen[h] = true
			writes = append(writes, w)
		}
		if len(writes) > 25 {
			return nil, validation("Too many items requested for the BatchWriteItem call")
		}
	}
	units := map[string]float64{}
	for _, w := range writes {
		_, _, err := w.t.idx.write(ctx, w.key, func(old attr.Item) (attr.Item, error) {
			if w.item == nil && old == nil {
				return nil, errNoWrite
			}
			return w.item, nil
		})
		if err != nil {
			return nil, err
		}
		units[w.m.Name] += writeUnits(w.item)
	}
	out := map[string]any{"UnprocessedItems": map[string]any{}}
	var caps []map[string]any
	for _, name := range tableNames(units) {
		if c := capacity(name, in.ReturnConsumedCapacity, units[name]); c != nil {
			caps = append(caps, c)
		}
	}
	if caps != nil {
		out["ConsumedCapacity"] = caps
	}
	return out, nil
}
