package dynamodb_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

func nums(items []map[string]types.AttributeValue, name string) string {
	var out []string
	for _, it := range items {
		out = append(out, it[name].(*types.AttributeValueMemberN).Value)
	}
	return strings.Join(out, ",")
}

// TestQuery: key conditions on a numeric sort key (ordered by value, not
// text), direction, Limit with LastEvaluatedKey, filters and COUNT.
func TestQuery(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	h.createTable(t, "events", "n")
	tbl := aws.String("events")
	for _, v := range []string{"-5", "1", "2", "10", "10.5", "100", "3"} {
		for _, p := range []string{"a", "b"} {
			if _, err := h.cl.PutItem(ctx, &dynamodb.PutItemInput{TableName: tbl, Item: map[string]types.AttributeValue{"pk": s(p), "n": n(v), "odd": &types.AttributeValueMemberBOOL{Value: strings.ContainsAny(v[len(v)-1:], "135")}}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	q := func(cond string, vals map[string]types.AttributeValue, mod func(*dynamodb.QueryInput)) *dynamodb.QueryOutput {
		t.Helper()
		vals[":p"] = s("a")
		in := &dynamodb.QueryInput{TableName: tbl, KeyConditionExpression: aws.String(cond), ExpressionAttributeValues: vals}
		if mod != nil {
			mod(in)
		}
		out, err := h.cl.Query(ctx, in)
		if err != nil {
			t.Fatalf("%s: %v", cond, err)
		}
		return out
	}
	for _, tc := range []struct {
		cond string
		vals map[string]types.AttributeValue
		want string
	}{
		{"pk = :p", map[string]types.AttributeValue{}, "-5,1,2,3,10,10.5,100"},
		{"pk = :p AND n > :x", map[string]types.AttributeValue{":x": n("3")}, "10,10.5,100"},
		{"n <= :x AND pk = :p", map[string]types.AttributeValue{":x": n("2")}, "-5,1,2"},
		{"pk = :p AND n BETWEEN :lo AND :hi", map[string]types.AttributeValue{":lo": n("2"), ":hi": n("10.5")}, "2,3,10,10.5"},
		{"pk = :p AND n = :x", map[string]types.AttributeValue{":x": n("10.50")}, "10.5"},
	} {
		if got := nums(q(tc.cond, tc.vals, nil).Items, "n"); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.cond, got, tc.want)
		}
	}
	for _, tc := range []struct {
		cond string
		vals map[string]types.AttributeValue
		want string
	}{
		{"pk = :p AND n BETWEEN :lo AND :hi", map[string]types.AttributeValue{":lo": n("2"), ":hi": n("10.5")}, "10.5,10,3,2"},
		{"pk = :p AND n <= :x", map[string]types.AttributeValue{":x": n("3")}, "3,2,1,-5"},
		{"pk = :p AND n < :x", map[string]types.AttributeValue{":x": n("3")}, "2,1,-5"},
		{"pk = :p AND n > :x", map[string]types.AttributeValue{":x": n("3")}, "100,10.5,10"},
		{"pk = :p AND n = :x", map[string]types.AttributeValue{":x": n("10")}, "10"},
	} {
		out := q(tc.cond, tc.vals, func(in *dynamodb.QueryInput) { in.ScanIndexForward = aws.Bool(false) })
		if got := nums(out.Items, "n"); got != tc.want || out.ScannedCount != int32(len(out.Items)) {
			t.Errorf("backwards %s: %s (scanned %d), want %s", tc.cond, got, out.ScannedCount, tc.want)
		}
	}
	back := q("pk = :p", map[string]types.AttributeValue{}, func(in *dynamodb.QueryInput) { in.ScanIndexForward = aws.Bool(false) })
	if got := nums(back.Items, "n"); got != "100,10.5,10,3,2,1,-5" {
		t.Errorf("backwards: %s", got)
	}
	// Pages of 3, forwards and backwards.
	for _, fwd := range []bool{true, false} {
		var all []string
		var start map[string]types.AttributeValue
		pages := 0
		for {
			out := q("pk = :p", map[string]types.AttributeValue{}, func(in *dynamodb.QueryInput) {
				in.Limit, in.ExclusiveStartKey, in.ScanIndexForward = aws.Int32(3), start, aws.Bool(fwd)
			})
			pages++
			if out.Count > 0 {
				all = append(all, nums(out.Items, "n"))
			}
			if out.LastEvaluatedKey == nil {
				break
			}
			start = out.LastEvaluatedKey
		}
		want := "-5,1,2,3,10,10.5,100"
		if !fwd {
			want = "100,10.5,10,3,2,1,-5"
		}
		if strings.Join(all, ",") != want || pages != 3 {
			t.Errorf("paged (forward %v): %v in %d pages", fwd, all, pages)
		}
	}
	f := q("pk = :p", map[string]types.AttributeValue{":t": &types.AttributeValueMemberBOOL{Value: true}}, func(in *dynamodb.QueryInput) {
		in.FilterExpression = aws.String("odd = :t")
		in.Limit = aws.Int32(4)
	})
	if nums(f.Items, "n") != "-5,1,3" || f.ScannedCount != 4 || f.LastEvaluatedKey == nil {
		t.Errorf("filter with limit: %s scanned %d", nums(f.Items, "n"), f.ScannedCount)
	}
	c := q("pk = :p", map[string]types.AttributeValue{}, func(in *dynamodb.QueryInput) { in.Select = types.SelectCount })
	if c.Count != 7 || c.Items != nil {
		t.Errorf("COUNT: %d %v", c.Count, c.Items)
	}
	_, err := h.cl.Query(ctx, &dynamodb.QueryInput{TableName: tbl, KeyConditionExpression: aws.String("n = :x"), ExpressionAttributeValues: map[string]types.AttributeValue{":x": n("1")}})
	wantCode(t, err, "ValidationException", "Query condition missed key schema element: pk")
	_, err = h.cl.Query(ctx, &dynamodb.QueryInput{TableName: tbl, KeyConditionExpression: aws.String("pk = :p"), FilterExpression: aws.String("n > :x"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":p": s("a"), ":x": n("1")}})
	wantCode(t, err, "ValidationException", "Filter Expression can only contain non-primary key attributes: Primary key attribute: n")
	_, err = h.cl.Query(ctx, &dynamodb.QueryInput{TableName: tbl, KeyConditionExpression: aws.String("pk = :p AND n = :x"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":p": s("a"), ":x": s("1")}})
	wantCode(t, err, "ValidationException", "One or more parameter values were invalid: Condition parameter type does not match schema type")
}

// TestScanSegments: parallel segments cover every item exactly once, and
// pagination within a segment loses none.
func TestScanSegments(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	h.createTable(t, "scan", "")
	const total = 60
	for i := range total {
		if _, err := h.cl.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("scan"), Item: map[string]types.AttributeValue{"pk": s(fmt.Sprint("k", i)), "i": n(fmt.Sprint(i))}}); err != nil {
			t.Fatal(err)
		}
	}
	seen := map[string]int{}
	for seg := range 4 {
		var start map[string]types.AttributeValue
		for {
			out, err := h.cl.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String("scan"), Segment: aws.Int32(int32(seg)), TotalSegments: aws.Int32(4), Limit: aws.Int32(7), ExclusiveStartKey: start})
			if err != nil {
				t.Fatal(err)
			}
			for _, it := range out.Items {
				seen[it["pk"].(*types.AttributeValueMemberS).Value]++
			}
			if out.LastEvaluatedKey == nil {
				break
			}
			start = out.LastEvaluatedKey
		}
	}
	if len(seen) != total {
		t.Fatalf("saw %d items, want %d", len(seen), total)
	}
	for k, c := range seen {
		if c != 1 {
			t.Fatalf("%s seen %d times", k, c)
		}
	}
	f, err := h.cl.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String("scan"), FilterExpression: aws.String("i < :x"), ExpressionAttributeValues: map[string]types.AttributeValue{":x": n("10")}})
	if err != nil || f.Count != 10 || f.ScannedCount != total {
		t.Fatalf("filtered scan %v %v", f, err)
	}
	_, err = h.cl.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String("scan"), Segment: aws.Int32(4), TotalSegments: aws.Int32(4)})
	wantCode(t, err, "ValidationException", "The Segment parameter is zero-based and must be less than parameter TotalSegments: Segment: 4 is out of bounds for TotalSegments: 4")
}

// TestPageLimit: a Query stops at 1 MB of items and says where to go on.
func TestPageLimit(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	h.createTable(t, "big", "n")
	blob := strings.Repeat("x", 100*1024)
	for i := range 15 {
		if _, err := h.cl.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("big"), Item: map[string]types.AttributeValue{"pk": s("p"), "n": n(fmt.Sprint(i)), "blob": s(blob)}}); err != nil {
			t.Fatal(err)
		}
	}
	out, err := h.cl.Query(ctx, &dynamodb.QueryInput{TableName: aws.String("big"), KeyConditionExpression: aws.String("pk = :p"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":p": s("p")}})
	if err != nil || out.Count != 11 || out.LastEvaluatedKey == nil {
		t.Fatalf("first page: %d items, LastEvaluatedKey %v, %v", out.Count, out.LastEvaluatedKey, err)
	}
}
