package dynamodb

import (
	"context"
	"math/bits"
	"net/http"
	"strings"

	"github.com/google/btree"

	"github.com/kumo-run/kumo/internal/services/dynamodb/attr"
	"github.com/kumo-run/kumo/internal/services/dynamodb/expr"
)

// maxPage is DynamoDB's limit on the data one Query or Scan reads: 1 MB.
const maxPage = 1 << 20

type readInput struct {
	exprInput
	TableName            string    `json:"TableName"`
	IndexName            string    `json:"IndexName"`
	FilterExpression     *string   `json:"FilterExpression"`
	ProjectionExpression *string   `json:"ProjectionExpression"`
	Select               string    `json:"Select"`
	Limit                *int      `json:"Limit"`
	ExclusiveStartKey    attr.Item `json:"ExclusiveStartKey"`
	ConsistentRead       bool      `json:"ConsistentRead"`
}

// page collects one Query or Scan page.
type page struct {
	filter  *expr.Cond
	paths   []expr.Path
	count   bool // Select COUNT
	limit   int
	items   []attr.Item
	n       int
	scanned int
	size    int
	last    *entry
	// im is the secondary index read, nil for the table.
	im *indexMeta
	m  *tableMeta
}

// add evaluates one entry; false means the page is full.
func (p *page) add(e *entry) bool {
	p.scanned++
	p.size += e.size
	item := e.item
	if p.im != nil {
		item = p.im.project(p.m, item)
	}
	if p.filter == nil || p.filter.Eval(item) {
		p.n++
		if !p.count {
			it := item
			if p.paths != nil {
				it = expr.Project(it, p.paths)
			}
			p.items = append(p.items, it)
		}
	}
	if (p.limit > 0 && p.scanned >= p.limit) || p.size >= maxPage {
		p.last = e
		return false
	}
	return true
}

func (p *page) result(m *tableMeta, mode string, consistent bool) map[string]any {
	out := map[string]any{"Count": p.n, "ScannedCount": p.scanned}
	if !p.count {
		items := p.items
		if items == nil {
			items = []attr.Item{}
		}
		out["Items"] = items
	}
	if p.last != nil {
		k := keyOf(m, p.last.item)
		if p.im != nil {
			for _, n := range []string{p.im.hashKey(), p.im.rangeKey()} {
				if n != "" {
					k[n] = p.last.item[n]
				}
			}
		}
		out["LastEvaluatedKey"] = k
	}
	u := float64(max(1, (p.size+4095)/4096))
	if !consistent {
		u /= 2
	}
	if c := capacity(m.Name, mode, u); c != nil {
		out["ConsumedCapacity"] = c
	}
	return out
}

// prepare validates what Query and Scan share and parses the filter and
// projection; keyCond, for Query, is parsed with the same names and
// values.
func (s *Service) prepare(r *http.Request, op string, in *readInput, keyCond *string) (*table, *tableMeta, *page, *expr.Cond, error) {
	t, err := s.tableFor(r, op, in.TableName)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	m := t.meta.Load()
	p := &page{m: m}
	if in.IndexName != "" {
		if p.im = m.findIndex(in.IndexName); p.im == nil {
			return nil, nil, nil, nil, validation("The table does not have the specified index: %s", in.IndexName)
		}
		if in.ConsistentRead && !p.im.Local {
			return nil, nil, nil, nil, validation("Consistent reads are not supported on global secondary indexes")
		}
	}
	if in.Limit != nil {
		if *in.Limit < 1 {
			return nil, nil, nil, nil, validation("1 validation error detected: Value '%d' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1", *in.Limit)
		}
		p.limit = *in.Limit
	}
	switch in.Select {
	case "", "ALL_ATTRIBUTES":
		if in.Select != "" && in.ProjectionExpression != nil {
			return nil, nil, nil, nil, validation("Cannot specify the AttributesToGet when choosing to get ALL_ATTRIBUTES")
		}
		if in.Select != "" && p.im != nil && !p.im.Local && p.im.Projection.ProjectionType != "ALL" {
			return nil, nil, nil, nil, invalidParams("Select type ALL_ATTRIBUTES is not supported for global secondary index %s because its projection type is not ALL", p.im.IndexName)
		}
		if p.im != nil && p.im.Local {
			p.im = &indexMeta{IndexName: p.im.IndexName, KeySchema: p.im.KeySchema, Projection: projection{ProjectionType: "ALL"}, Local: true}
			if in.Select == "" {
				p.im.Projection = m.findIndex(in.IndexName).Projection
			}
		}
	case "COUNT":
		if in.ProjectionExpression != nil {
			return nil, nil, nil, nil, validation("Cannot specify the AttributesToGet when choosing to get only the Count")
		}
		p.count = true
	case "SPECIFIC_ATTRIBUTES":
		if in.ProjectionExpression == nil {
			return nil, nil, nil, nil, validation("Must specify the AttributesToGet when choosing to get SPECIFIC_ATTRIBUTES")
		}
	case "ALL_PROJECTED_ATTRIBUTES":
		if p.im == nil {
			return nil, nil, nil, nil, validation("ALL_PROJECTED_ATTRIBUTES can be used only when Querying using an IndexName")
		}
	default:
		return nil, nil, nil, nil, validation("1 validation error detected: Value '%s' at 'select' failed to satisfy constraint: Member must satisfy enum value set: [SPECIFIC_ATTRIBUTES, COUNT, ALL_ATTRIBUTES, ALL_PROJECTED_ATTRIBUTES]", in.Select)
	}
	if in.ExclusiveStartKey != nil {
		if err := checkStartKey(m, p.im, in.ExclusiveStartKey); err != nil {
			return nil, nil, nil, nil, err
		}
	}
	if in.FilterExpression == nil && in.ProjectionExpression == nil && keyCond == nil {
		return t, m, p, nil, noExpr(&in.exprInput)
	}
	refs, err := in.refs()
	if err != nil {
		return nil, nil, nil, nil, err
	}
	var kc *expr.Cond
	if keyCond != nil {
		if kc, err = expr.ParseCond("KeyConditionExpression", *keyCond, refs); err != nil {
			return nil, nil, nil, nil, err
		}
	}
	if in.FilterExpression != nil {
		if p.filter, err = expr.ParseCond("FilterExpression", *in.FilterExpression, refs); err != nil {
			return nil, nil, nil, nil, err
		}
		if keyCond != nil {
			keys := m.keyNames()
			if p.im != nil {
				keys = []string{p.im.hashKey(), p.im.rangeKey()}
			}
			for _, pa := range p.filter.Paths() {
				for _, k := range keys {
					if pa[0].Name == k {
						return nil, nil, nil, nil, validation("Filter Expression can only contain non-primary key attributes: Primary key attribute: %s", k)
					}
				}
			}
		}
	}
	if in.ProjectionExpression != nil {
		if p.paths, err = expr.ParsePaths(*in.ProjectionExpression, refs); err != nil {
			return nil, nil, nil, nil, err
		}
	}
	return t, m, p, kc, refs.Unused()
}

// checkStartKey validates an ExclusiveStartKey: the table's key, and for
// an index the index's key attributes too.
func checkStartKey(m *tableMeta, im *indexMeta, key attr.Item) error {
	bad := validation("The provided starting key is invalid: The provided key element does not match the schema")
	if im == nil {
		if checkKey(m, key) != nil {
			return bad
		}
		return nil
	}
	if checkKey(m, keyOf(m, key)) != nil {
		return bad
	}
	for _, n := range []string{im.hashKey(), im.rangeKey()} {
		if v, ok := key[n]; n != "" && (!ok || string(v.Kind) != m.attrType(n)) {
			return bad
		}
	}
	return nil
}

// target is the tree a read walks and its key attribute names.
func (p *page) target(x *index) (*btree.BTreeG[*entry], string, string) {
	if p.im == nil {
		return x.tree, p.m.hashKey(), p.m.rangeKey()
	}
	sx := x.secondaries[p.im.IndexName]
	if sx == nil {
		return btree.NewG(2, less), p.im.hashKey(), p.im.rangeKey()
	}
	return sx.tree, p.im.hashKey(), p.im.rangeKey()
}

// pivot is where a read after key starts.
func (p *page) pivot(key attr.Item, h, r string) *entry {
	pk := string(attr.KeyBytes(key[h]))
	e := &entry{ph: partHash(pk), pk: pk}
	if r != "" {
		e.sk = key[r]
	}
	if p.im != nil {
		e.tie = itemHash(p.m.hashKey(), p.m.rangeKey(), key)
	}
	return e
}

// keyCondition is a Query's KeyConditionExpression taken apart.
type keyCondition struct {
	pk    attr.Value
	skOp  string // "" (none), = < <= > >= BETWEEN begins_with
	sk    []attr.Value
	skKey string
}

func (k *keyCondition) match(v attr.Value) bool {
	switch k.skOp {
	case "":
		return true
	case "=":
		return attr.Compare(v, k.sk[0]) == 0
	case "<":
		return attr.Compare(v, k.sk[0]) < 0
	case "<=":
		return attr.Compare(v, k.sk[0]) <= 0
	case ">":
		return attr.Compare(v, k.sk[0]) > 0
	case ">=":
		return attr.Compare(v, k.sk[0]) >= 0
	case "BETWEEN":
		return attr.Compare(v, k.sk[0]) >= 0 && attr.Compare(v, k.sk[1]) <= 0
	case "begins_with":
		if v.Kind == attr.S {
			return strings.HasPrefix(v.S, k.sk[0].S)
		}
		return strings.HasPrefix(string(v.B), string(k.sk[0].B))
	}
	return false
}

// past reports whether v lies beyond every sort key the condition
// matches, walking forward (ascending) or backward.
func (k *keyCondition) past(v attr.Value, forward bool) bool {
	if k.skOp == "" {
		return false
	}
	if forward {
		switch k.skOp {
		case "=", "<", "<=":
			return attr.Compare(v, k.sk[0]) > 0
		case "BETWEEN":
			return attr.Compare(v, k.sk[1]) > 0
		case "begins_with":
			return attr.Compare(v, k.sk[0]) > 0 && !k.match(v)
		}
		return false
	}
	switch k.skOp {
	case "=", ">", ">=", "BETWEEN", "begins_with":
		return attr.Compare(v, k.sk[0]) < 0
	}
	return false
}

// start is where a walk in the given direction may begin in the
// partition: at the condition's bound when it has one on that side.
func (k *keyCondition) start(ph uint64, pk string, forward bool) *entry {
	e := &entry{ph: ph, pk: pk, edge: -1}
	if !forward {
		e.edge = 1
	}
	switch {
	case forward && (k.skOp == "=" || k.skOp == ">=" || k.skOp == ">" || k.skOp == "BETWEEN" || k.skOp == "begins_with"):
		e.edge, e.sk = 0, k.sk[0]
	case !forward && (k.skOp == "=" || k.skOp == "<=" || k.skOp == "<"):
		e.edge, e.sk, e.tie = 0, k.sk[0], "\xff"
	case !forward && k.skOp == "BETWEEN":
		e.edge, e.sk, e.tie = 0, k.sk[1], "\xff"
	}
	return e
}

func unsupported() error { return validation("Query key condition not supported") }

// splitKeyCondition checks a key condition against the key schema
// (hash and range attribute names; the types are the table's definitions).
func splitKeyCondition(m *tableMeta, hk, rk string, c *expr.Cond) (*keyCondition, error) {
	var parts []*expr.Cond
	if c.Op == "AND" {
		if c.L.Op == "AND" || c.R.Op == "AND" {
			return nil, validation("Conditions can be of length 1 or 2 only")
		}
		parts = []*expr.Cond{c.L, c.R}
	} else {
		parts = []*expr.Cond{c}
	}
	kc := &keyCondition{skKey: rk}
	var havePK bool
	for _, p := range parts {
		if len(p.Args) == 0 || p.Args[0].Path == nil || len(p.Args[0].Path) != 1 || p.Args[0].Size {
			return nil, unsupported()
		}
		name := p.Args[0].Path[0].Name
		for _, a := range p.Args[1:] {
			if a.Value == nil {
				return nil, unsupported()
			}
			if string(a.Value.Kind) != m.attrType(name) && m.attrType(name) != "" {
				return nil, invalidParams("Condition parameter type does not match schema type")
			}
		}
		switch {
		case name == hk:
			if p.Op != "=" || havePK {
				return nil, unsupported()
			}
			havePK = true
			kc.pk = *p.Args[1].Value
		case name == kc.skKey && kc.skOp == "":
			switch p.Op {
			case "=", "<", "<=", ">", ">=", "BETWEEN":
			case "begins_with":
				if p.Args[1].Value.Kind == attr.N {
					return nil, validation("Invalid KeyConditionExpression: Incorrect operand type for operator or function; operator or function: begins_with, operand type: NUMBER")
				}
			default:
				return nil, unsupported()
			}
			kc.skOp = p.Op
			for _, a := range p.Args[1:] {
				kc.sk = append(kc.sk, *a.Value)
			}
		default:
			if m.attrType(name) == "" {
				return nil, validation("Query condition missed key schema element: %s", hk)
			}
			return nil, unsupported()
		}
	}
	if !havePK {
		return nil, validation("Query condition missed key schema element: %s", hk)
	}
	return kc, nil
}

func (s *Service) query(ctx context.Context, r *http.Request, body []byte) (any, error) {
	var in struct {
		readInput
		KeyConditionExpression *string `json:"KeyConditionExpression"`
		ScanIndexForward       *bool   `json:"ScanIndexForward"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if in.KeyConditionExpression == nil {
		if _, err := s.tableFor(r, "Query", in.TableName); err != nil {
			return nil, err
		}
		return nil, validation("Either the KeyConditions or KeyConditionExpression parameter must be specified in the request.")
	}
	t, m, p, c, err := s.prepare(r, "Query", &in.readInput, in.KeyConditionExpression)
	if err != nil {
		return nil, err
	}
	hk, rk := m.hashKey(), m.rangeKey()
	if p.im != nil {
		hk, rk = p.im.hashKey(), p.im.rangeKey()
	}
	kc, err := splitKeyCondition(m, hk, rk, c)
	if err != nil {
		return nil, err
	}
	forward := in.ScanIndexForward == nil || *in.ScanIndexForward
	if err := s.sync(ctx, in.ConsistentRead); err != nil {
		return nil, err
	}
	pk := string(attr.KeyBytes(kc.pk))
	ph := partHash(pk)
	pivot := kc.start(ph, pk, forward)
	var after *entry
	if in.ExclusiveStartKey != nil {
		if !attr.Equal(in.ExclusiveStartKey[hk], kc.pk) {
			return nil, validation("The provided starting key is invalid: The provided key element does not match the schema")
		}
		after = p.pivot(in.ExclusiveStartKey, hk, rk)
		pivot = after
	}
	visit := func(e *entry) bool {
		if e.ph != ph || e.pk != pk {
			return false
		}
		if after != nil && !less(after, e) && !less(e, after) {
			return true
		}
		if !kc.match(e.sk) {
			// past the range in the walk's direction: nothing further matches
			return !kc.past(e.sk, forward)
		}
		return p.add(e)
	}
	t.idx.mu.RLock()
	tree, _, _ := p.target(t.idx)
	if forward {
		tree.AscendGreaterOrEqual(pivot, visit)
	} else {
		tree.DescendLessOrEqual(pivot, visit)
	}
	t.idx.mu.RUnlock()
	return p.result(m, in.ReturnConsumedCapacity, in.ConsistentRead), nil
}

func (s *Service) scan(ctx context.Context, r *http.Request, body []byte) (any, error) {
	var in struct {
		readInput
		Segment       *int `json:"Segment"`
		TotalSegments *int `json:"TotalSegments"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	t, m, p, _, err := s.prepare(r, "Scan", &in.readInput, nil)
	if err != nil {
		return nil, err
	}
	seg, total := 0, 1
	switch {
	case in.Segment == nil && in.TotalSegments == nil:
	case in.Segment == nil || in.TotalSegments == nil:
		return nil, validation("The TotalSegments parameter is required but was not present in the request when Segment parameter is present")
	default:
		seg, total = *in.Segment, *in.TotalSegments
		if total < 1 || total > 1000000 {
			return nil, validation("1 validation error detected: Value '%d' at 'totalSegments' failed to satisfy constraint: Member must have value less than or equal to 1000000", total)
		}
		if seg < 0 || seg >= total {
			return nil, validation("The Segment parameter is zero-based and must be less than parameter TotalSegments: Segment: %d is out of bounds for TotalSegments: %d", seg, total)
		}
	}
	if err := s.sync(ctx, in.ConsistentRead); err != nil {
		return nil, err
	}
	segOf := func(ph uint64) int {
		hi, _ := bits.Mul64(ph, uint64(total))
		return int(hi)
	}
	// the segment's first hash: the least ph with segOf(ph) >= seg
	lo, _ := bits.Div64(uint64(seg), 0, uint64(total))
	for segOf(lo) < seg {
		lo++
	}
	pivot := &entry{ph: lo, edge: -1}
	var after *entry
	t.idx.mu.RLock()
	tree, hk, rk := p.target(t.idx)
	t.idx.mu.RUnlock()
	if in.ExclusiveStartKey != nil {
		after = p.pivot(in.ExclusiveStartKey, hk, rk)
		if segOf(after.ph) != seg {
			return nil, validation("The provided Exclusive start key does not map to the provided segment")
		}
		pivot = after
	}
	t.idx.mu.RLock()
	tree.AscendGreaterOrEqual(pivot, func(e *entry) bool {
		if segOf(e.ph) != seg {
			return false
		}
		if after != nil && !less(after, e) {
			return true
		}
		return p.add(e)
	})
	t.idx.mu.RUnlock()
	return p.result(m, in.ReturnConsumedCapacity, in.ConsistentRead), nil
}
