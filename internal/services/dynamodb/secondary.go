package dynamodb

import (
	"slices"
	"strings"

	"github.com/google/btree"

	"github.com/kumo-run/kumo/internal/services/dynamodb/attr"
)

// projection is an index's Projection.
type projection struct {
	ProjectionType   string   `json:"ProjectionType"`
	NonKeyAttributes []string `json:"NonKeyAttributes,omitempty"`
}

// indexMeta is a secondary index as the table's metadata keeps it.
type indexMeta struct {
	IndexName             string      `json:"IndexName"`
	KeySchema             []keyElem   `json:"KeySchema"`
	Projection            projection  `json:"Projection"`
	ProvisionedThroughput *throughput `json:"ProvisionedThroughput,omitempty"`
	Local                 bool        `json:"local,omitempty"`
}

func (im *indexMeta) hashKey() string { return im.KeySchema[0].AttributeName }

func (im *indexMeta) rangeKey() string {
	if len(im.KeySchema) > 1 {
		return im.KeySchema[1].AttributeName
	}
	return ""
}

// project is what the index holds of an item: the table's and the
// index's keys, and what the projection names.
func (im *indexMeta) project(m *tableMeta, it attr.Item) attr.Item {
	if im.Projection.ProjectionType == "ALL" {
		return it
	}
	out := attr.Item{}
	names := append(m.keyNames(), im.hashKey())
	if r := im.rangeKey(); r != "" {
		names = append(names, r)
	}
	if im.Projection.ProjectionType == "INCLUDE" {
		names = append(names, im.Projection.NonKeyAttributes...)
	}
	for _, n := range names {
		if v, ok := it[n]; ok {
			out[n] = v
		}
	}
	return out
}

// secondary is one secondary index's ordered entries on this node.
type secondary struct {
	h, r string
	tree *btree.BTreeG[*entry]
}

// secondaryEntry is it's entry in a secondary index, or nil when it lacks
// one of the index's key attributes (a sparse index leaves it out).
func (sx *secondary) entryOf(primary *entry) *entry {
	pv, ok := primary.item[sx.h]
	if !ok || !scalarKey(pv) {
		return nil
	}
	pk := string(attr.KeyBytes(pv))
	e := &entry{ph: partHash(pk), pk: pk, item: primary.item, size: primary.size, hash: primary.hash, tie: primary.hash}
	if sx.r != "" {
		sv, ok := primary.item[sx.r]
		if !ok || !scalarKey(sv) {
			return nil
		}
		e.sk = sv
	}
	return e
}

func scalarKey(v attr.Value) bool {
	return v.Kind == attr.S || v.Kind == attr.N || v.Kind == attr.B
}

// setSecondaries makes the index's secondary indexes those of the
// table's metadata, building new ones from the items it holds.
func (x *index) setSecondaries(defs []indexMeta) {
	x.mu.Lock()
	defer x.mu.Unlock()
	keep := map[string]*secondary{}
	for _, d := range defs {
		if sx := x.secondaries[d.IndexName]; sx != nil && sx.h == d.hashKey() && sx.r == d.rangeKey() {
			keep[d.IndexName] = sx
			continue
		}
		sx := &secondary{h: d.hashKey(), r: d.rangeKey(), tree: btree.NewG(32, less)}
		x.tree.Ascend(func(e *entry) bool {
			if se := sx.entryOf(e); se != nil {
				sx.tree.ReplaceOrInsert(se)
			}
			return true
		})
		keep[d.IndexName] = sx
	}
	x.secondaries = keep
}

// indexStats counts an index's items and bytes.
func (x *index) indexStats(name string) (int64, int64) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	sx := x.secondaries[name]
	if sx == nil {
		return 0, 0
	}
	var n, size int64
	sx.tree.Ascend(func(e *entry) bool {
		n++
		size += int64(e.size)
		return true
	})
	return n, size
}

// checkIndexes validates a table's secondary indexes against its key
// schema and attribute definitions.
func checkIndexes(m *tableMeta, gsis, lsis []indexMeta) error {
	if len(gsis) > 20 {
		return validation("One or more parameter values were invalid: GlobalSecondaryIndex count exceeds the per-table limit of 20")
	}
	if len(lsis) > 5 {
		return validation("One or more parameter values were invalid: LocalSecondaryIndex count exceeds the per-table limit of 5")
	}
	names := map[string]bool{}
	for i := range lsis {
		lsis[i].Local = true
	}
	for _, im := range append(slices.Clone(gsis), lsis...) {
		if len(im.IndexName) < 3 || len(im.IndexName) > 255 || !tableName.MatchString(im.IndexName) {
			return validation("1 validation error detected: Value '%s' at 'indexName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+", im.IndexName)
		}
		if names[im.IndexName] {
			return invalidParams("Duplicate index name: %s", im.IndexName)
		}
		names[im.IndexName] = true
		ks := im.KeySchema
		if len(ks) == 0 || len(ks) > 2 || ks[0].KeyType != "HASH" || (len(ks) == 2 && (ks[1].KeyType != "RANGE" || ks[0].AttributeName == ks[1].AttributeName)) {
			return invalidParams("Invalid KeySchema: The first KeySchemaElement is not a HASH key type")
		}
		for _, k := range ks {
			if m.attrType(k.AttributeName) == "" {
				return invalidParams("Some index key attributes are not defined in AttributeDefinitions. Keys: [%s], AttributeDefinitions: [%s]",
					k.AttributeName, strings.Join(defNames(m), ", "))
			}
		}
		switch im.Projection.ProjectionType {
		case "ALL", "KEYS_ONLY":
			if len(im.Projection.NonKeyAttributes) > 0 {
				return invalidParams("ProjectionType is %s, but NonKeyAttributes is specified", im.Projection.ProjectionType)
			}
		case "INCLUDE":
			if len(im.Projection.NonKeyAttributes) == 0 {
				return invalidParams("ProjectionType is INCLUDE, but NonKeyAttributes is not specified")
			}
		default:
			return invalidParams("Unknown ProjectionType: %s", im.Projection.ProjectionType)
		}
		if im.Local {
			if m.rangeKey() == "" {
				return invalidParams("Table KeySchema does not have a range key, which is required when specifying a LocalSecondaryIndex")
			}
			if ks[0].AttributeName != m.hashKey() || len(ks) != 2 {
				return invalidParams("Index KeySchema does not have the same leading hash key as table KeySchema for index: %s. index hash key: %s, table hash key: %s",
					im.IndexName, ks[0].AttributeName, m.hashKey())
			}
		}
	}
	return nil
}

func defNames(m *tableMeta) []string {
	var out []string
	for _, d := range m.AttributeDefinitions {
		out = append(out, d.AttributeName)
	}
	return out
}

// usedAttributes are the key attributes of the table and its indexes.
func usedAttributes(m *tableMeta) map[string]bool {
	used := map[string]bool{}
	for _, k := range m.KeySchema {
		used[k.AttributeName] = true
	}
	for _, im := range append(slices.Clone(m.GSIs), m.LSIs...) {
		for _, k := range im.KeySchema {
			used[k.AttributeName] = true
		}
	}
	return used
}

func (m *tableMeta) findIndex(name string) *indexMeta {
	for i := range m.GSIs {
		if m.GSIs[i].IndexName == name {
			return &m.GSIs[i]
		}
	}
	for i := range m.LSIs {
		if m.LSIs[i].IndexName == name {
			return &m.LSIs[i]
		}
	}
	return nil
}

// describeIndexes is the GlobalSecondaryIndexes and LocalSecondaryIndexes
// of DescribeTable.
func (s *Service) describeIndexes(t *table, d *tableDescription) {
	m := t.meta.Load()
	for _, im := range m.GSIs {
		n, size := t.idx.indexStats(im.IndexName)
		pt := map[string]any{"NumberOfDecreasesToday": 0, "ReadCapacityUnits": 0, "WriteCapacityUnits": 0}
		if im.ProvisionedThroughput != nil {
			pt["ReadCapacityUnits"], pt["WriteCapacityUnits"] = im.ProvisionedThroughput.ReadCapacityUnits, im.ProvisionedThroughput.WriteCapacityUnits
		}
		d.GlobalSecondaryIndexes = append(d.GlobalSecondaryIndexes, map[string]any{"IndexName": im.IndexName, "KeySchema": im.KeySchema,
			"Projection": im.Projection, "IndexStatus": "ACTIVE", "ProvisionedThroughput": pt, "IndexSizeBytes": size, "ItemCount": n,
			"IndexArn": s.arn(m.Name) + "/index/" + im.IndexName})
	}
	for _, im := range m.LSIs {
		n, size := t.idx.indexStats(im.IndexName)
		d.LocalSecondaryIndexes = append(d.LocalSecondaryIndexes, map[string]any{"IndexName": im.IndexName, "KeySchema": im.KeySchema,
			"Projection": im.Projection, "IndexSizeBytes": size, "ItemCount": n, "IndexArn": s.arn(m.Name) + "/index/" + im.IndexName})
	}
}
