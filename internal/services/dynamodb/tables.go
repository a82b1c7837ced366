package dynamodb

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync/atomic"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kumo-run/kumo/internal/awsproto"
	"github.com/kumo-run/kumo/internal/lazyregexp"
	"github.com/kumo-run/kumo/internal/natsd"
	"github.com/kumo-run/kumo/internal/store"
)

const tablePrefix = "t."

// Wire shapes shared by the table operations.
type keyElem struct {
	AttributeName string `json:"AttributeName"`
	KeyType       string `json:"KeyType"`
}

type attrDef struct {
	AttributeName string `json:"AttributeName"`
	AttributeType string `json:"AttributeType"`
}

type throughput struct {
	ReadCapacityUnits  *int64 `json:"ReadCapacityUnits,omitempty"`
	WriteCapacityUnits *int64 `json:"WriteCapacityUnits,omitempty"`
}

type tag struct {
	Key   string `json:"Key"`
	Value string `json:"Value"`
}

type streamSpec struct {
	StreamEnabled  bool   `json:"StreamEnabled"`
	StreamViewType string `json:"StreamViewType,omitempty"`
}

// tableMeta is a table as the bucket keeps it.
type tableMeta struct {
	Name                 string      `json:"name"`
	ID                   string      `json:"id"`
	KeySchema            []keyElem   `json:"keySchema"`
	AttributeDefinitions []attrDef   `json:"attributeDefinitions"`
	BillingMode          string      `json:"billingMode"`
	Read                 int64       `json:"read,omitempty"`
	Write                int64       `json:"write,omitempty"`
	Created              float64     `json:"created"`
	BillingUpdated       float64     `json:"billingUpdated,omitempty"`
	Tags                 []tag       `json:"tags,omitempty"`
	DeletionProtection   bool        `json:"deletionProtection,omitempty"`
	TableClass           string      `json:"tableClass,omitempty"`
	Stream               *streamSpec `json:"stream,omitempty"`
	GSIs                 []indexMeta `json:"gsis,omitempty"`
	LSIs                 []indexMeta `json:"lsis,omitempty"`
	TTL                  *ttlSpec    `json:"ttl,omitempty"`
	// StreamMs is when the table's latest stream was enabled (Unix
	// milliseconds; zero: never); the stream stays readable when disabled.
	StreamMs   int64  `json:"streamMs,omitempty"`
	StreamView string `json:"streamView,omitempty"`
	rev        uint64
}

func (m *tableMeta) hashKey() string { return m.KeySchema[0].AttributeName }

func (m *tableMeta) rangeKey() string {
	if len(m.KeySchema) > 1 {
		return m.KeySchema[1].AttributeName
	}
	return ""
}

func (m *tableMeta) keyNames() []string {
	if r := m.rangeKey(); r != "" {
		return []string{m.hashKey(), r}
	}
	return []string{m.hashKey()}
}

func (m *tableMeta) attrType(name string) string {
	for _, d := range m.AttributeDefinitions {
		if d.AttributeName == name {
			return d.AttributeType
		}
	}
	return ""
}

// table is one table of the view: its metadata (replaced whole on every
// change) and its index.
type table struct {
	meta atomic.Pointer[tableMeta]
	idx  *index
}

func (s *Service) arn(name string) string {
	return "arn:aws:dynamodb:" + s.cfg.Region + ":" + s.cfg.Account + ":table/" + name
}

// apply brings the view up to date with one entry of the bucket.
func (s *Service) apply(e store.Entry) {
	name := strings.TrimPrefix(e.Key, tablePrefix)
	s.viewMu.Lock()
	defer s.viewMu.Unlock()
	cur := s.tables[name]
	if e.Deleted {
		if cur != nil {
			delete(s.tables, name)
			s.dropIndex(cur.meta.Load().ID)
		}
		return
	}
	m := &tableMeta{}
	if err := json.Unmarshal(e.Value, m); err != nil {
		s.log.Error("dynamodb: unreadable table entry", "key", e.Key, "error", err)
		return
	}
	m.rev = e.Revision
	if cur != nil && cur.meta.Load().ID == m.ID {
		if cur.meta.Load().rev < m.rev {
			cur.meta.Store(m)
			s.setLog(m)
			cur.idx.setSecondaries(append(slices.Clone(m.GSIs), m.LSIs...))
		}
		return
	}
	if cur != nil {
		s.dropIndex(cur.meta.Load().ID)
	}
	t := &table{}
	t.meta.Store(m)
	s.setLog(m)
	t.idx = s.indexFor(m.ID, m.hashKey(), m.rangeKey())
	t.idx.setSecondaries(append(slices.Clone(m.GSIs), m.LSIs...))
	s.tables[name] = t
}

// lookup returns the table named name, or ResourceNotFoundException.
func (s *Service) lookup(name string) (*table, error) {
	s.viewMu.RLock()
	t := s.tables[name]
	s.viewMu.RUnlock()
	if t == nil {
		return nil, notFound()
	}
	return t, nil
}

var tableName = lazyregexp.New(`^[a-zA-Z0-9_.-]+$`)

// checkName validates a table name as DynamoDB does; the member is
// "tableName" in the message.
func checkName(name string) error {
	switch {
	case name == "":
		return validation("1 validation error detected: Value null at 'tableName' failed to satisfy constraint: Member must not be null")
	case len(name) < 3:
		return validation("1 validation error detected: Value '%s' at 'tableName' failed to satisfy constraint: Member must have length greater than or equal to 3", name)
	case len(name) > 255:
		return validation("1 validation error detected: Value '%s' at 'tableName' failed to satisfy constraint: Member must have length less than or equal to 255", clip(name))
	case !tableName.MatchString(name):
		return validation("1 validation error detected: Value '%s' at 'tableName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+", name)
	}
	return nil
}

// tableFor looks up a data-plane request's table (by name or ARN) and
// authorizes op on it.
func (s *Service) tableFor(r *http.Request, op, name string) (*table, error) {
	if strings.HasPrefix(name, "arn:") {
		i := strings.LastIndex(name, ":table/")
		if i < 0 {
			return nil, validation("Invalid TableName: %s", clip(name))
		}
		name = name[i+len(":table/"):]
	}
	if err := checkName(name); err != nil {
		return nil, err
	}
	if err := s.authorize(r, op, name); err != nil {
		return nil, err
	}
	return s.lookup(name)
}

type createTableInput struct {
	TableName              string      `json:"TableName"`
	KeySchema              []keyElem   `json:"KeySchema"`
	AttributeDefinitions   []attrDef   `json:"AttributeDefinitions"`
	BillingMode            string      `json:"BillingMode"`
	ProvisionedThroughput  *throughput `json:"ProvisionedThroughput"`
	Tags                   []tag       `json:"Tags"`
	StreamSpecification    *streamSpec `json:"StreamSpecification"`
	DeletionProtection     *bool       `json:"DeletionProtectionEnabled"`
	TableClass             string      `json:"TableClass"`
	GlobalSecondaryIndexes []indexMeta `json:"GlobalSecondaryIndexes"`
	LocalSecondaryIndexes  []indexMeta `json:"LocalSecondaryIndexes"`
}

func (s *Service) createTable(ctx context.Context, r *http.Request, body []byte) (any, error) {
	var in createTableInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if err := checkName(in.TableName); err != nil {
		return nil, err
	}
	if err := s.authorize(r, "CreateTable", in.TableName); err != nil {
		return nil, err
	}
	m := &tableMeta{Name: in.TableName, KeySchema: in.KeySchema, AttributeDefinitions: in.AttributeDefinitions,
		Tags: in.Tags, TableClass: in.TableClass, Stream: in.StreamSpecification,
		GSIs: in.GlobalSecondaryIndexes, LSIs: in.LocalSecondaryIndexes}
	if err := checkSchema(m); err != nil {
		return nil, err
	}
	if err := setBilling(m, in.BillingMode, in.ProvisionedThroughput, true); err != nil {
		return nil, err
	}
	for _, g := range m.GSIs {
		if m.BillingMode == "PROVISIONED" && (g.ProvisionedThroughput == nil || g.ProvisionedThroughput.ReadCapacityUnits == nil) {
			return nil, invalidParams("ProvisionedThroughput must be specified for index: %s", g.IndexName)
		}
		if m.BillingMode == "PAY_PER_REQUEST" && g.ProvisionedThroughput != nil && g.ProvisionedThroughput.ReadCapacityUnits != nil {
			return nil, invalidParams("ProvisionedThroughput should not be specified for index: %s when BillingMode is PAY_PER_REQUEST", g.IndexName)
		}
	}
	if err := checkTags(in.Tags); err != nil {
		return nil, err
	}
	if in.DeletionProtection != nil {
		m.DeletionProtection = *in.DeletionProtection
	}
	if m.TableClass == "" {
		m.TableClass = "STANDARD"
	}
	if m.Stream != nil && !m.Stream.StreamEnabled {
		m.Stream = nil
	}
	if err := s.enableStream(m, m.Stream); err != nil {
		return nil, err
	}
	var id [8]byte
	_, _ = rand.Read(id[:])
	m.ID = hex.EncodeToString(id[:])
	now := s.cfg.Now()
	m.Created = float64(now.UnixMilli()) / 1000
	m.BillingUpdated = m.Created

	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.lookup(m.Name); err == nil {
		return nil, awsproto.Errorf(awsproto.DynamoDBResourceInUse, "Table already exists: %s", m.Name)
	}
	b, _ := json.Marshal(m)
	rev, err := s.cfg.KV.Create(ctx, tablePrefix+m.Name, b)
	if err != nil {
		if errors.Is(err, store.ErrExists) {
			return nil, awsproto.Errorf(awsproto.DynamoDBResourceInUse, "Table already exists: %s", m.Name)
		}
		return nil, awsproto.Internal(err)
	}
	s.apply(store.Entry{Key: tablePrefix + m.Name, Value: b, Revision: rev})
	t, err := s.lookup(m.Name)
	if err != nil {
		return nil, err
	}
	d := s.describe(t)
	d.TableStatus = "ACTIVE"
	return map[string]any{"TableDescription": d}, nil
}

func checkSchema(m *tableMeta) error {
	ks := m.KeySchema
	if len(ks) == 0 {
		return validation("1 validation error detected: Value null at 'keySchema' failed to satisfy constraint: Member must not be null")
	}
	if len(ks) > 2 {
		return validation("1 validation error detected: Value '%v' at 'keySchema' failed to satisfy constraint: Member must have length less than or equal to 2", ks)
	}
	if ks[0].KeyType != "HASH" {
		return invalidParams("Invalid KeySchema: The first KeySchemaElement is not a HASH key type")
	}
	if len(ks) == 2 {
		if ks[1].KeyType != "RANGE" {
			return invalidParams("Invalid KeySchema: The second KeySchemaElement is not a RANGE key type")
		}
		if ks[0].AttributeName == ks[1].AttributeName {
			return invalidParams("Both the Hash Key and the Range Key element in the KeySchema have the same name")
		}
	}
	var keys, defs []string
	for _, k := range ks {
		keys = append(keys, k.AttributeName)
	}
	for _, d := range m.AttributeDefinitions {
		switch d.AttributeType {
		case "S", "N", "B":
		default:
			return validation("1 validation error detected: Value '%s' at 'attributeDefinitions.1.member.attributeType' failed to satisfy constraint: Member must satisfy enum value set: [B, N, S]", d.AttributeType)
		}
		if slices.Contains(defs, d.AttributeName) {
			return invalidParams("Duplicate AttributeName in AttributeDefinitions: %s", d.AttributeName)
		}
		defs = append(defs, d.AttributeName)
	}
	for _, k := range keys {
		if !slices.Contains(defs, k) {
			return invalidParams("Some index key attributes are not defined in AttributeDefinitions. Keys: [%s], AttributeDefinitions: [%s]",
				strings.Join(keys, ", "), strings.Join(defs, ", "))
		}
	}
	if err := checkIndexes(m, m.GSIs, m.LSIs); err != nil {
		return err
	}
	for i := range m.LSIs {
		m.LSIs[i].Local = true
	}
	if used := usedAttributes(m); len(defs) != len(used) {
		if len(m.GSIs)+len(m.LSIs) == 0 {
			return invalidParams("Number of attributes in KeySchema does not exactly match number of attributes defined in AttributeDefinitions")
		}
		var u []string
		for k := range used {
			u = append(u, k)
		}
		sort.Strings(u)
		return invalidParams("Some AttributeDefinitions are not used. AttributeDefinitions: [%s], keys used: [%s]", strings.Join(defs, ", "), strings.Join(u, ", "))
	}
	return nil
}

func setBilling(m *tableMeta, mode string, pt *throughput, create bool) error {
	if mode == "" {
		if !create {
			mode = m.BillingMode
		} else {
			mode = "PROVISIONED"
		}
	}
	switch mode {
	case "PAY_PER_REQUEST":
		if pt != nil && (pt.ReadCapacityUnits != nil || pt.WriteCapacityUnits != nil) {
			return invalidParams("Neither ReadCapacityUnits nor WriteCapacityUnits can be specified when BillingMode is PAY_PER_REQUEST")
		}
		m.Read, m.Write = 0, 0
	case "PROVISIONED":
		if pt == nil || pt.ReadCapacityUnits == nil || pt.WriteCapacityUnits == nil {
			if create || m.BillingMode != "PROVISIONED" {
				return invalidParams("ReadCapacityUnits and WriteCapacityUnits must both be specified when BillingMode is PROVISIONED")
			}
			return nil
		}
		if *pt.ReadCapacityUnits < 1 || *pt.WriteCapacityUnits < 1 {
			return validation("1 validation error detected: Value '0' at 'provisionedThroughput.readCapacityUnits' failed to satisfy constraint: Member must have value greater than or equal to 1")
		}
		m.Read, m.Write = *pt.ReadCapacityUnits, *pt.WriteCapacityUnits
	default:
		return validation("1 validation error detected: Value '%s' at 'billingMode' failed to satisfy constraint: Member must satisfy enum value set: [PROVISIONED, PAY_PER_REQUEST]", mode)
	}
	m.BillingMode = mode
	return nil
}

func checkTags(tags []tag) error {
	if len(tags) > 50 {
		return validation("One or more parameter values were invalid: Too many tags")
	}
	for _, t := range tags {
		if t.Key == "" || len(t.Key) > 128 || len(t.Value) > 256 {
			return validation("One or more parameter values were invalid: Invalid tag key or value: %s", clip(t.Key))
		}
	}
	return nil
}

// tableDescription is DescribeTable's TableDescription.
type tableDescription struct {
	TableName                 string           `json:"TableName"`
	TableId                   string           `json:"TableId"`
	TableArn                  string           `json:"TableArn"`
	TableStatus               string           `json:"TableStatus"`
	KeySchema                 []keyElem        `json:"KeySchema"`
	AttributeDefinitions      []attrDef        `json:"AttributeDefinitions"`
	CreationDateTime          float64          `json:"CreationDateTime"`
	ItemCount                 int64            `json:"ItemCount"`
	TableSizeBytes            int64            `json:"TableSizeBytes"`
	ProvisionedThroughput     map[string]any   `json:"ProvisionedThroughput"`
	BillingModeSummary        map[string]any   `json:"BillingModeSummary,omitempty"`
	DeletionProtectionEnabled bool             `json:"DeletionProtectionEnabled"`
	TableClassSummary         map[string]any   `json:"TableClassSummary,omitempty"`
	StreamSpecification       *streamSpec      `json:"StreamSpecification,omitempty"`
	LatestStreamArn           string           `json:"LatestStreamArn,omitempty"`
	LatestStreamLabel         string           `json:"LatestStreamLabel,omitempty"`
	GlobalSecondaryIndexes    []map[string]any `json:"GlobalSecondaryIndexes,omitempty"`
	LocalSecondaryIndexes     []map[string]any `json:"LocalSecondaryIndexes,omitempty"`
}

func (s *Service) describe(t *table) *tableDescription {
	m := t.meta.Load()
	count, size := t.idx.stats()
	id := m.ID
	d := &tableDescription{TableName: m.Name, TableId: id[0:8] + "-" + id[8:12] + "-" + id[12:16] + "-0000-000000000000", TableArn: s.arn(m.Name),
		TableStatus: "ACTIVE", KeySchema: m.KeySchema, AttributeDefinitions: m.AttributeDefinitions, CreationDateTime: m.Created,
		ItemCount: count, TableSizeBytes: size, DeletionProtectionEnabled: m.DeletionProtection,
		ProvisionedThroughput: map[string]any{"NumberOfDecreasesToday": 0, "ReadCapacityUnits": m.Read, "WriteCapacityUnits": m.Write},
		StreamSpecification:   m.Stream}
	if m.BillingMode == "PAY_PER_REQUEST" {
		d.BillingModeSummary = map[string]any{"BillingMode": m.BillingMode, "LastUpdateToPayPerRequestDateTime": m.BillingUpdated}
	}
	if m.TableClass != "" && m.TableClass != "STANDARD" {
		d.TableClassSummary = map[string]any{"TableClass": m.TableClass}
	}
	if m.StreamMs != 0 {
		d.LatestStreamLabel = streamLabel(m.StreamMs)
		d.LatestStreamArn = s.streamARN(m.Name, m.StreamMs)
	}
	s.describeIndexes(t, d)
	return d
}

type tableInput struct {
	TableName string `json:"TableName"`
}

func (s *Service) describeTable(ctx context.Context, r *http.Request, body []byte) (any, error) {
	var in tableInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	t, err := s.tableFor(r, "DescribeTable", in.TableName)
	if err != nil {
		if ae := awsproto.AsError(err); ae.Code == awsproto.DynamoDBResourceNotFound {
			return nil, awsproto.Errorf(awsproto.DynamoDBResourceNotFound, "Requested resource not found: Table: %s not found", in.TableName)
		}
		return nil, err
	}
	if err := s.ready(ctx); err != nil {
		return nil, err
	}
	return map[string]any{"Table": s.describe(t)}, nil
}

func (s *Service) listTables(ctx context.Context, r *http.Request, body []byte) (any, error) {
	var in struct {
		ExclusiveStartTableName string `json:"ExclusiveStartTableName"`
		Limit                   *int   `json:"Limit"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if err := s.authorizeARN(r, "ListTables", "*", nil); err != nil {
		return nil, err
	}
	limit := 100
	if in.Limit != nil {
		if *in.Limit < 1 || *in.Limit > 100 {
			return nil, validation("1 validation error detected: Value '%d' at 'limit' failed to satisfy constraint: Member must have value less than or equal to 100", *in.Limit)
		}
		limit = *in.Limit
	}
	s.viewMu.RLock()
	names := make([]string, 0, len(s.tables))
	for n := range s.tables {
		if n > in.ExclusiveStartTableName {
			names = append(names, n)
		}
	}
	s.viewMu.RUnlock()
	sort.Strings(names)
	out := map[string]any{}
	if len(names) > limit {
		names = names[:limit]
		out["LastEvaluatedTableName"] = names[limit-1]
	}
	out["TableNames"] = names
	return out, nil
}

func (s *Service) deleteTable(ctx context.Context, r *http.Request, body []byte) (any, error) {
	var in tableInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	t, err := s.tableFor(r, "DeleteTable", in.TableName)
	if err != nil {
		if ae := awsproto.AsError(err); ae.Code == awsproto.DynamoDBResourceNotFound {
			return nil, awsproto.Errorf(awsproto.DynamoDBResourceNotFound, "Requested resource not found: Table: %s not found", in.TableName)
		}
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m := t.meta.Load()
	if m.DeletionProtection {
		return nil, validation("Resource cannot be deleted as it is currently protected against deletion. Disable deletion protection first.")
	}
	d := s.describe(t)
	d.TableStatus = "DELETING"
	if err := s.cfg.KV.Delete(ctx, tablePrefix+m.Name, 0); err != nil {
		return nil, awsproto.Internal(err)
	}
	s.apply(store.Entry{Key: tablePrefix + m.Name, Deleted: true})
	if st, err := s.js.Stream(context.WithoutCancel(ctx), natsd.DynamoDBStream); err == nil {
		err = st.Purge(context.WithoutCancel(ctx), jetstream.WithPurgeSubject(natsd.DynamoDBTableSubjects(m.ID)))
		if err != nil {
			s.log.Warn("dynamodb: purging a deleted table's items", "table", m.Name, "error", err)
		}
	}
	s.dropIndex(m.ID)
	return map[string]any{"TableDescription": d}, nil
}

// mutate applies fn to a copy of t's metadata and writes it with
// compare-and-set.
func (s *Service) mutate(ctx context.Context, t *table, fn func(m *tableMeta) error) (*tableMeta, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := t.meta.Load()
	m := *old
	m.Tags = slices.Clone(old.Tags)
	if err := fn(&m); err != nil {
		return nil, err
	}
	b, _ := json.Marshal(&m)
	rev, err := s.cfg.KV.Update(ctx, tablePrefix+m.Name, b, old.rev)
	if err != nil {
		if errors.Is(err, store.ErrConflict) {
			return nil, awsproto.Errorf(awsproto.DynamoDBResourceInUse, "Attempt to change a resource which is still in use: Table is being updated: %s", m.Name)
		}
		return nil, awsproto.Internal(err)
	}
	s.apply(store.Entry{Key: tablePrefix + m.Name, Value: b, Revision: rev})
	return t.meta.Load(), nil
}

func (s *Service) updateTable(ctx context.Context, r *http.Request, body []byte) (any, error) {
	var in struct {
		TableName                   string      `json:"TableName"`
		BillingMode                 string      `json:"BillingMode"`
		ProvisionedThroughput       *throughput `json:"ProvisionedThroughput"`
		DeletionProtectionEnabled   *bool       `json:"DeletionProtectionEnabled"`
		TableClass                  string      `json:"TableClass"`
		StreamSpecification         *streamSpec `json:"StreamSpecification"`
		AttributeDefinitions        []attrDef   `json:"AttributeDefinitions"`
		GlobalSecondaryIndexUpdates []struct {
			Create *indexMeta `json:"Create"`
			Delete *struct {
				IndexName string `json:"IndexName"`
			} `json:"Delete"`
			Update *struct {
				IndexName             string      `json:"IndexName"`
				ProvisionedThroughput *throughput `json:"ProvisionedThroughput"`
			} `json:"Update"`
		} `json:"GlobalSecondaryIndexUpdates"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	t, err := s.tableFor(r, "UpdateTable", in.TableName)
	if err != nil {
		return nil, err
	}
	if in.BillingMode == "" && len(in.GlobalSecondaryIndexUpdates) == 0 && in.ProvisionedThroughput == nil && in.DeletionProtectionEnabled == nil && in.TableClass == "" && in.StreamSpecification == nil {
		return nil, validation("At least one of ProvisionedThroughput, BillingMode, UpdateStreamEnabled, GlobalSecondaryIndexUpdates or SSESpecification or ReplicaUpdates is required")
	}
	if _, err := s.mutate(ctx, t, func(m *tableMeta) error {
		if in.BillingMode != "" || in.ProvisionedThroughput != nil {
			prev := m.BillingMode
			if err := setBilling(m, in.BillingMode, in.ProvisionedThroughput, false); err != nil {
				return err
			}
			if prev != m.BillingMode {
				m.BillingUpdated = float64(s.cfg.Now().UnixMilli()) / 1000
			}
		}
		if in.DeletionProtectionEnabled != nil {
			m.DeletionProtection = *in.DeletionProtectionEnabled
		}
		if len(in.GlobalSecondaryIndexUpdates) > 0 {
			m.GSIs = slices.Clone(m.GSIs)
			m.AttributeDefinitions = mergeDefs(m.AttributeDefinitions, in.AttributeDefinitions)
		}
		for _, u := range in.GlobalSecondaryIndexUpdates {
			switch {
			case u.Create != nil:
				if m.findIndex(u.Create.IndexName) != nil {
					return awsproto.Errorf(awsproto.DynamoDBResourceInUse, "Attempt to change a resource which is still in use: Index %s already exists", u.Create.IndexName)
				}
				if err := checkIndexes(m, []indexMeta{*u.Create}, nil); err != nil {
					return err
				}
				m.GSIs = append(m.GSIs, *u.Create)
			case u.Delete != nil:
				i := slices.IndexFunc(m.GSIs, func(g indexMeta) bool { return g.IndexName == u.Delete.IndexName })
				if i < 0 {
					return awsproto.Errorf(awsproto.DynamoDBResourceNotFound, "Requested resource not found: Index: %s not found", u.Delete.IndexName)
				}
				m.GSIs = slices.Delete(m.GSIs, i, i+1)
			case u.Update != nil:
				i := slices.IndexFunc(m.GSIs, func(g indexMeta) bool { return g.IndexName == u.Update.IndexName })
				if i < 0 {
					return awsproto.Errorf(awsproto.DynamoDBResourceNotFound, "Requested resource not found: Index: %s not found", u.Update.IndexName)
				}
				m.GSIs[i].ProvisionedThroughput = u.Update.ProvisionedThroughput
			}
		}
		if len(in.GlobalSecondaryIndexUpdates) > 0 {
			// definitions no key uses any more are dropped, as DynamoDB does
			used := usedAttributes(m)
			m.AttributeDefinitions = slices.DeleteFunc(slices.Clone(m.AttributeDefinitions), func(d attrDef) bool { return !used[d.AttributeName] })
			for k := range used {
				if m.attrType(k) == "" {
					return invalidParams("Some index key attributes are not defined in AttributeDefinitions. Keys: [%s], AttributeDefinitions: [%s]", k, strings.Join(defNames(m), ", "))
				}
			}
		}
		if in.TableClass != "" {
			m.TableClass = in.TableClass
		}
		if in.StreamSpecification != nil {
			if in.StreamSpecification.StreamEnabled {
				if m.Stream != nil {
					return validation("Table already has an enabled stream: TableName: %s", m.Name)
				}
				if err := s.enableStream(m, in.StreamSpecification); err != nil {
					return err
				}
				m.Stream = in.StreamSpecification
			} else {
				m.Stream = nil
			}
		}
		return nil
	}); err != nil {
		return nil, err
	}
	return map[string]any{"TableDescription": s.describe(t)}, nil
}

// mergeDefs adds the definitions of add that cur lacks.
func mergeDefs(cur, add []attrDef) []attrDef {
	out := slices.Clone(cur)
	for _, d := range add {
		if !slices.ContainsFunc(out, func(x attrDef) bool { return x.AttributeName == d.AttributeName }) {
			out = append(out, d)
		}
	}
	return out
}

// tableOfARN resolves a tagging request's ResourceArn.
func (s *Service) tableOfARN(r *http.Request, op, arn string) (*table, error) {
	prefix := "arn:aws:dynamodb:" + s.cfg.Region + ":" + s.cfg.Account + ":table/"
	if !strings.HasPrefix(arn, prefix) || strings.Contains(arn[len(prefix):], "/") {
		return nil, validation("Invalid TableArn: Invalid ResourceArn provided as input %s", clip(arn))
	}
	name := arn[len(prefix):]
	if err := s.authorize(r, op, name); err != nil {
		return nil, err
	}
	t, err := s.lookup(name)
	if err != nil {
		return nil, awsproto.Errorf(awsproto.DynamoDBResourceNotFound, "Requested resource not found: ResourcArn: %s not found", arn)
	}
	return t, nil
}

func (s *Service) tagResource(ctx context.Context, r *http.Request, body []byte) (any, error) {
	var in struct {
		ResourceArn string `json:"ResourceArn"`
		Tags        []tag  `json:"Tags"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	t, err := s.tableOfARN(r, "TagResource", in.ResourceArn)
	if err != nil {
		return nil, err
	}
	if err := checkTags(in.Tags); err != nil {
		return nil, err
	}
	_, err = s.mutate(ctx, t, func(m *tableMeta) error {
		for _, nt := range in.Tags {
			i := slices.IndexFunc(m.Tags, func(x tag) bool { return x.Key == nt.Key })
			if i >= 0 {
				m.Tags[i] = nt
			} else {
				m.Tags = append(m.Tags, nt)
			}
		}
		return checkTags(m.Tags)
	})
	return nil, err
}

func (s *Service) untagResource(ctx context.Context, r *http.Request, body []byte) (any, error) {
	var in struct {
		ResourceArn string   `json:"ResourceArn"`
		TagKeys     []string `json:"TagKeys"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	t, err := s.tableOfARN(r, "UntagResource", in.ResourceArn)
	if err != nil {
		return nil, err
	}
	_, err = s.mutate(ctx, t, func(m *tableMeta) error {
		m.Tags = slices.DeleteFunc(m.Tags, func(x tag) bool { return slices.Contains(in.TagKeys, x.Key) })
		return nil
	})
	return nil, err
}

func (s *Service) listTagsOfResource(ctx context.Context, r *http.Request, body []byte) (any, error) {
	var in struct {
		ResourceArn string `json:"ResourceArn"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	t, err := s.tableOfARN(r, "ListTagsOfResource", in.ResourceArn)
	if err != nil {
		return nil, err
	}
	tags := t.meta.Load().Tags
	if tags == nil {
		tags = []tag{}
	}
	return map[string]any{"Tags": tags}, nil
}

func (s *Service) describeEndpoints(ctx context.Context, r *http.Request, body []byte) (any, error) {
	if err := s.authorizeARN(r, "DescribeEndpoints", "*", nil); err != nil {
		return nil, err
	}
	host := r.Host
	return map[string]any{"Endpoints": []map[string]any{{"Address": host, "CachePeriodInMinutes": 1440}}}, nil
}

func (s *Service) describeLimits(ctx context.Context, r *http.Request, body []byte) (any, error) {
	if err := s.authorizeARN(r, "DescribeLimits", "*", nil); err != nil {
		return nil, err
	}
	return map[string]any{"AccountMaxReadCapacityUnits": 80000, "AccountMaxWriteCapacityUnits": 80000,
		"TableMaxReadCapacityUnits": 40000, "TableMaxWriteCapacityUnits": 40000}, nil
}
