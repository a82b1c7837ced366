package dynamodb_test

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	stypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"

	"github.com/kumo-run/kumo/internal/poll"
)

func (h *harness) streams() *dynamodbstreams.Client {
	return dynamodbstreams.NewFromConfig(aws.Config{
		Region:           "us-east-1",
		Credentials:      credentials.NewStaticCredentialsProvider(rootKey, rootSecret, ""),
		HTTPClient:       h.srv.Client(),
		RetryMaxAttempts: 1,
	}, func(o *dynamodbstreams.Options) { o.BaseEndpoint = aws.String(h.srv.URL) })
}

// createStreamTable makes a table keyed by pk (S) and sk (N) with a stream
// of view and returns the stream's ARN from DescribeTable.
func (h *harness) createStreamTable(t *testing.T, name string, view types.StreamViewType) string {
	t.Helper()
	out, err := h.cl.CreateTable(t.Context(), &dynamodb.CreateTableInput{TableName: aws.String(name), BillingMode: types.BillingModePayPerRequest,
		KeySchema: []types.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: types.KeyTypeHash}, {AttributeName: aws.String("sk"), KeyType: types.KeyTypeRange}},
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("pk"), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String("sk"), AttributeType: types.ScalarAttributeTypeN}},
		StreamSpecification: &types.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: view}})
	if err != nil {
		t.Fatal(err)
	}
	d := out.TableDescription
	if d.LatestStreamArn == nil || d.LatestStreamLabel == nil || !regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}$`).MatchString(*d.LatestStreamLabel) ||
		*d.LatestStreamArn != "arn:aws:dynamodb:us-east-1:"+account+":table/"+name+"/stream/"+*d.LatestStreamLabel {
		t.Fatalf("CreateTable stream %v %v", aws.ToString(d.LatestStreamArn), aws.ToString(d.LatestStreamLabel))
	}
	return *d.LatestStreamArn
}

// readAll reads the stream's only shard from it to its current end.
func readAll(t *testing.T, sc *dynamodbstreams.Client, it *string, limit int32) ([]stypes.Record, *string) {
	t.Helper()
	var recs []stypes.Record
	for it != nil {
		out, err := sc.GetRecords(t.Context(), &dynamodbstreams.GetRecordsInput{ShardIterator: it, Limit: aws.Int32(limit)})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Records) > int(limit) {
			t.Fatalf("%d records, limit %d", len(out.Records), limit)
		}
		recs = append(recs, out.Records...)
		if len(out.Records) == 0 {
			return recs, out.NextShardIterator
		}
		it = out.NextShardIterator
	}
	return recs, nil
}

func shardOf(t *testing.T, sc *dynamodbstreams.Client, arn string) *stypes.Shard {
	t.Helper()
	d, err := sc.DescribeStream(t.Context(), &dynamodbstreams.DescribeStreamInput{StreamArn: aws.String(arn)})
	if err != nil {
		t.Fatal(err)
	}
	if len(d.StreamDescription.Shards) != 1 {
		t.Fatalf("shards %+v", d.StreamDescription.Shards)
	}
	return &d.StreamDescription.Shards[0]
}

func iter(t *testing.T, sc *dynamodbstreams.Client, arn, shard string, typ stypes.ShardIteratorType, seq *string) *string {
	t.Helper()
	out, err := sc.GetShardIterator(t.Context(), &dynamodbstreams.GetShardIteratorInput{StreamArn: aws.String(arn), ShardId: aws.String(shard), ShardIteratorType: typ, SequenceNumber: seq})
	if err != nil {
		t.Fatal(err)
	}
	return out.ShardIterator
}

// summary renders records as "EVENT pk/sk old->new" lines.
func summary(recs []stypes.Record) string {
	var b strings.Builder
	img := func(m map[string]stypes.AttributeValue) string {
		if m == nil {
			return "-"
		}
		if v, ok := m["v"].(*stypes.AttributeValueMemberS); ok {
			return v.Value
		}
		return "{}"
	}
	for _, r := range recs {
		k := r.Dynamodb.Keys
		fmt.Fprintf(&b, "%s %s/%s %s->%s;", r.EventName, k["pk"].(*stypes.AttributeValueMemberS).Value, k["sk"].(*stypes.AttributeValueMemberN).Value,
			img(r.Dynamodb.OldImage), img(r.Dynamodb.NewImage))
	}
	return b.String()
}

// TestStreamRecords: every write that changes an item — single, batch,
// transaction — leaves one record in order, in AWS's shape; writes that
// change nothing leave none; iterators of every type start where they
// say; records survive a restart.
func TestStreamRecords(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	arn := h.createStreamTable(t, "orders", types.StreamViewTypeNewAndOldImages)
	tbl := aws.String("orders")
	item := func(pk, sk, v string) map[string]types.AttributeValue {
		return map[string]types.AttributeValue{"pk": s(pk), "sk": n(sk), "v": s(v)}
	}
	key := func(pk, sk string) map[string]types.AttributeValue {
		return map[string]types.AttributeValue{"pk": s(pk), "sk": n(sk)}
	}
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(h.cl.PutItem(ctx, &dynamodb.PutItemInput{TableName: tbl, Item: item("a", "1", "x")}))
	must(h.cl.PutItem(ctx, &dynamodb.PutItemInput{TableName: tbl, Item: item("a", "1", "x")})) // unchanged: no record
	must(h.cl.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: tbl, Key: key("a", "1"), UpdateExpression: aws.String("SET v = :v"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":v": s("y")}}))
	_, err := h.cl.PutItem(ctx, &dynamodb.PutItemInput{TableName: tbl, Item: item("a", "1", "z"), ConditionExpression: aws.String("attribute_not_exists(pk)")})
	wantCode(t, err, "ConditionalCheckFailedException", "")
	must(h.cl.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: tbl, Key: key("nobody", "1")})) // nothing to delete: no record
	must(h.cl.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{"orders": {
		{PutRequest: &types.PutRequest{Item: item("b", "2", "p")}}}}}))
	must(h.cl.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Put: &types.Put{TableName: tbl, Item: item("c", "3", "q")}},
		{Delete: &types.Delete{TableName: tbl, Key: key("a", "1")}},
	}}))

	sc := h.streams()
	ls, err := sc.ListStreams(ctx, &dynamodbstreams.ListStreamsInput{TableName: tbl})
	if err != nil || len(ls.Streams) != 1 || *ls.Streams[0].StreamArn != arn || *ls.Streams[0].TableName != "orders" {
		t.Fatalf("ListStreams %+v %v", ls, err)
	}
	d, err := sc.DescribeStream(ctx, &dynamodbstreams.DescribeStreamInput{StreamArn: aws.String(arn)})
	if err != nil || d.StreamDescription.StreamStatus != stypes.StreamStatusEnabled || d.StreamDescription.StreamViewType != stypes.StreamViewTypeNewAndOldImages ||
		*d.StreamDescription.TableName != "orders" || len(d.StreamDescription.KeySchema) != 2 {
		t.Fatalf("DescribeStream %+v %v", d, err)
	}
	shard := shardOf(t, sc, arn)
	if shard.SequenceNumberRange.StartingSequenceNumber == nil || shard.SequenceNumberRange.EndingSequenceNumber != nil {
		t.Fatalf("open shard's range %+v", shard.SequenceNumberRange)
	}
	recs, _ := readAll(t, sc, iter(t, sc, arn, *shard.ShardId, stypes.ShardIteratorTypeTrimHorizon, nil), 2)
	const want = "INSERT a/1 -->x;MODIFY a/1 x->y;INSERT b/2 -->p;INSERT c/3 -->q;REMOVE a/1 y->-;"
	if got := summary(recs); got != want {
		t.Fatalf("records\n %s\nwant\n %s", got, want)
	}
	prev := ""
	for _, r := range recs {
		sq := *r.Dynamodb.SequenceNumber
		if !regexp.MustCompile(`^\d+$`).MatchString(sq) || sq <= prev || *r.EventVersion != "1.1" || *r.EventSource != "aws:dynamodb" ||
			*r.AwsRegion != "us-east-1" || r.Dynamodb.StreamViewType != stypes.StreamViewTypeNewAndOldImages || *r.Dynamodb.SizeBytes <= 0 ||
			r.Dynamodb.ApproximateCreationDateTime == nil || r.UserIdentity != nil || len(*r.EventID) == 0 {
			t.Fatalf("record %+v %+v", r, r.Dynamodb)
		}
		prev = sq
	}
	if *shard.SequenceNumberRange.StartingSequenceNumber != *recs[0].Dynamodb.SequenceNumber {
		t.Fatalf("shard starts at %s, first record %s", *shard.SequenceNumberRange.StartingSequenceNumber, *recs[0].Dynamodb.SequenceNumber)
	}

	// AT and AFTER a record's sequence number
	at, _ := readAll(t, sc, iter(t, sc, arn, *shard.ShardId, stypes.ShardIteratorTypeAtSequenceNumber, recs[2].Dynamodb.SequenceNumber), 100)
	after, _ := readAll(t, sc, iter(t, sc, arn, *shard.ShardId, stypes.ShardIteratorTypeAfterSequenceNumber, recs[2].Dynamodb.SequenceNumber), 100)
	if summary(at) != summary(recs[2:]) || summary(after) != summary(recs[3:]) {
		t.Fatalf("AT %s AFTER %s", summary(at), summary(after))
	}
	// LATEST: only what comes after
	latest := iter(t, sc, arn, *shard.ShardId, stypes.ShardIteratorTypeLatest, nil)
	empty, next := readAll(t, sc, latest, 100)
	if len(empty) != 0 || next == nil {
		t.Fatalf("LATEST before a write: %v %v", empty, next)
	}
	must(h.cl.PutItem(ctx, &dynamodb.PutItemInput{TableName: tbl, Item: item("d", "4", "r")}))
	got, _ := readAll(t, sc, next, 100)
	if summary(got) != "INSERT d/4 -->r;" {
		t.Fatalf("after LATEST: %s", summary(got))
	}

	// bad input
	_, err = sc.GetShardIterator(ctx, &dynamodbstreams.GetShardIteratorInput{StreamArn: aws.String(arn), ShardId: aws.String("shardId-nope"), ShardIteratorType: stypes.ShardIteratorTypeLatest})
	wantCode(t, err, "ResourceNotFoundException", "")
	_, err = sc.DescribeStream(ctx, &dynamodbstreams.DescribeStreamInput{StreamArn: aws.String(arn + "x")})
	wantCode(t, err, "ResourceNotFoundException", "")
	_, err = sc.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: aws.String("garbage!")})
	wantCode(t, err, "ValidationException", "")
	_, err = sc.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: next, Limit: aws.Int32(1001)})
	wantCode(t, err, "ValidationException", "")
	_, err = sc.GetShardIterator(ctx, &dynamodbstreams.GetShardIteratorInput{StreamArn: aws.String(arn), ShardId: shard.ShardId,
		ShardIteratorType: stypes.ShardIteratorTypeAtSequenceNumber, SequenceNumber: aws.String("100000000000000000001")})
	wantCode(t, err, "TrimmedDataAccessException", "")

	// an iterator expires after 15 minutes
	old := iter(t, sc, arn, *shard.ShardId, stypes.ShardIteratorTypeTrimHorizon, nil)
	h.skew.Store(int64(16 * time.Minute))
	_, err = sc.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: old})
	wantCode(t, err, "ExpiredIteratorException", "")
	h.skew.Store(0)

	// records survive a restart
	h.restart(t)
	sc = h.streams()
	again, _ := readAll(t, sc, iter(t, sc, arn, *shard.ShardId, stypes.ShardIteratorTypeTrimHorizon, nil), 1000)
	if summary(again) != want+"INSERT d/4 -->r;" {
		t.Fatalf("after restart: %s", summary(again))
	}
}

// TestStreamLifecycle: UpdateTable enables a stream on a table, refuses a
// second, disables it (the stream stays readable, its shard closed), and
// a new one has a new ARN; KEYS_ONLY records carry no images; a TTL
// deletion's record names the service.
func TestStreamLifecycle(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	h.createTable(t, "logs", "sk")
	tbl := aws.String("logs")
	d, err := h.cl.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: tbl})
	if err != nil || d.Table.LatestStreamArn != nil {
		t.Fatalf("a table without a stream: %v %v", d, err)
	}
	_, err = h.cl.UpdateTable(ctx, &dynamodb.UpdateTableInput{TableName: tbl, StreamSpecification: &types.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: "SOMETIMES"}})
	wantCode(t, err, "ValidationException", "")
	u, err := h.cl.UpdateTable(ctx, &dynamodb.UpdateTableInput{TableName: tbl, StreamSpecification: &types.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: types.StreamViewTypeKeysOnly}})
	if err != nil || u.TableDescription.LatestStreamArn == nil {
		t.Fatalf("UpdateTable %v %v", u, err)
	}
	arn := *u.TableDescription.LatestStreamArn
	_, err = h.cl.UpdateTable(ctx, &dynamodb.UpdateTableInput{TableName: tbl, StreamSpecification: &types.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: types.StreamViewTypeNewImage}})
	wantCode(t, err, "ValidationException", "Table already has an enabled stream: TableName: logs")

	if _, err := h.cl.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{TableName: tbl, TimeToLiveSpecification: &types.TimeToLiveSpecification{Enabled: aws.Bool(true), AttributeName: aws.String("exp")}}); err != nil {
		t.Fatal(err)
	}
	past := fmt.Sprint(time.Now().Unix() - 60)
	if _, err := h.cl.PutItem(ctx, &dynamodb.PutItemInput{TableName: tbl, Item: map[string]types.AttributeValue{"pk": s("a"), "sk": n("1"), "exp": n(past)}}); err != nil {
		t.Fatal(err)
	}
	sc := h.streams()
	shard := shardOf(t, sc, arn)
	var recs []stypes.Record
	poll.Until(t, time.Minute, "the TTL deletion's record", func() error {
		recs, _ = readAll(t, sc, iter(t, sc, arn, *shard.ShardId, stypes.ShardIteratorTypeTrimHorizon, nil), 100)
		if len(recs) < 2 {
			return fmt.Errorf("%d records", len(recs))
		}
		return nil
	})
	if len(recs) != 2 || recs[0].EventName != stypes.OperationTypeInsert || recs[1].EventName != stypes.OperationTypeRemove ||
		recs[1].UserIdentity == nil || *recs[1].UserIdentity.Type != "Service" || *recs[1].UserIdentity.PrincipalId != "dynamodb.amazonaws.com" ||
		recs[0].UserIdentity != nil || recs[0].Dynamodb.NewImage != nil || recs[1].Dynamodb.OldImage != nil || len(recs[1].Dynamodb.Keys) != 2 {
		t.Fatalf("records %+v", recs)
	}

	if _, err := h.cl.UpdateTable(ctx, &dynamodb.UpdateTableInput{TableName: tbl, StreamSpecification: &types.StreamSpecification{StreamEnabled: aws.Bool(false)}}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.cl.PutItem(ctx, &dynamodb.PutItemInput{TableName: tbl, Item: map[string]types.AttributeValue{"pk": s("b"), "sk": n("1")}}); err != nil {
		t.Fatal(err)
	}
	ds, err := sc.DescribeStream(ctx, &dynamodbstreams.DescribeStreamInput{StreamArn: aws.String(arn)})
	if err != nil || ds.StreamDescription.StreamStatus != stypes.StreamStatusDisabled ||
		aws.ToString(ds.StreamDescription.Shards[0].SequenceNumberRange.EndingSequenceNumber) != *recs[1].Dynamodb.SequenceNumber {
		t.Fatalf("a disabled stream %+v %v", ds, err)
	}
	all, next := readAll(t, sc, iter(t, sc, arn, *shard.ShardId, stypes.ShardIteratorTypeTrimHorizon, nil), 100)
	if len(all) != 2 || next != nil {
		t.Fatalf("a disabled stream's records %d, next %v", len(all), next)
	}
	u, err = h.cl.UpdateTable(ctx, &dynamodb.UpdateTableInput{TableName: tbl, StreamSpecification: &types.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: types.StreamViewTypeNewImage}})
	if err != nil || aws.ToString(u.TableDescription.LatestStreamArn) == arn {
		t.Fatalf("a new stream %v %v", u, err)
	}
}

// BenchmarkPutItemStream: BenchmarkPutItem on a table with a
// NEW_AND_OLD_IMAGES stream (the item and its record in one atomic batch).
func BenchmarkPutItemStream(b *testing.B) {
	h := newHarness(b)
	ctx := context.Background()
	if _, err := h.cl.CreateTable(ctx, &dynamodb.CreateTableInput{TableName: aws.String("bench"), BillingMode: types.BillingModePayPerRequest,
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: types.KeyTypeHash}, {AttributeName: aws.String("n"), KeyType: types.KeyTypeRange}},
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("pk"), AttributeType: types.ScalarAttributeTypeS}, {AttributeName: aws.String("n"), AttributeType: types.ScalarAttributeTypeN}},
		StreamSpecification:  &types.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: types.StreamViewTypeNewAndOldImages}}); err != nil {
		b.Fatal(err)
	}
	l := &latencies{b: b}
	i := 0
	for b.Loop() {
		i++
		l.time(func() {
			if _, err := h.cl.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("bench"), Item: map[string]types.AttributeValue{
				"pk": s(fmt.Sprint("p", i%10)), "n": n(fmt.Sprint(i)), "payload": s("a value of modest size, as most are")}}); err != nil {
				b.Fatal(err)
			}
		})
	}
	l.report()
}

// BenchmarkGetRecords: GetRecords of 1000 records (the limit) from the
// stream's start.
func BenchmarkGetRecords(b *testing.B) {
	h := newHarness(b)
	ctx := context.Background()
	out, err := h.cl.CreateTable(ctx, &dynamodb.CreateTableInput{TableName: aws.String("bench"), BillingMode: types.BillingModePayPerRequest,
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: types.KeyTypeHash}},
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("pk"), AttributeType: types.ScalarAttributeTypeS}},
		StreamSpecification:  &types.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: types.StreamViewTypeNewImage}})
	if err != nil {
		b.Fatal(err)
	}
	arn := *out.TableDescription.LatestStreamArn
	for i := range 1000 {
		if _, err := h.cl.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("bench"), Item: map[string]types.AttributeValue{"pk": s(fmt.Sprint("p", i))}}); err != nil {
			b.Fatal(err)
		}
	}
	sc := h.streams()
	d, err := sc.DescribeStream(ctx, &dynamodbstreams.DescribeStreamInput{StreamArn: aws.String(arn)})
	if err != nil {
		b.Fatal(err)
	}
	l := &latencies{b: b}
	for b.Loop() {
		l.time(func() {
			it, err := sc.GetShardIterator(ctx, &dynamodbstreams.GetShardIteratorInput{StreamArn: aws.String(arn), ShardId: d.StreamDescription.Shards[0].ShardId,
				ShardIteratorType: stypes.ShardIteratorTypeTrimHorizon})
			if err != nil {
				b.Fatal(err)
			}
			r, err := sc.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: it.ShardIterator})
			if err != nil || len(r.Records) != 1000 {
				b.Fatalf("%d records, %v", len(r.Records), err)
			}
		})
	}
	l.report()
}
