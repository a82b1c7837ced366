package main

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// DynamoDBResult is the table service measurement: one SDK client at a
// time, each operation for one window.
type DynamoDBResult struct {
	Section
	Put         Dist    `json:"put_item"`
	PutPerSec   float64 `json:"put_item_per_second"`
	Get         Dist    `json:"get_item"`
	GetPerSec   float64 `json:"get_item_per_second"`
	Query       Dist    `json:"query_100"`
	QueryPerSec float64 `json:"query_100_per_second"`
}

func (b *bench) runDynamoDB(ctx context.Context) (*DynamoDBResult, error) {
	hc := awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) { t.MaxIdleConnsPerHost = 4 })
	cl := dynamodb.NewFromConfig(aws.Config{Region: b.tgt.Region, HTTPClient: hc, RetryMaxAttempts: 3,
		Credentials: credentials.NewStaticCredentialsProvider(b.tgt.Key, b.tgt.Secret, "")},
		func(o *dynamodb.Options) { o.BaseEndpoint = aws.String(b.tgt.URL) })
	name := b.prefix + "table"
	_, err := cl.CreateTable(ctx, &dynamodb.CreateTableInput{TableName: aws.String(name), BillingMode: types.BillingModePayPerRequest,
		KeySchema: []types.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: types.KeyTypeHash}, {AttributeName: aws.String("n"), KeyType: types.KeyTypeRange}},
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("pk"), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String("n"), AttributeType: types.ScalarAttributeTypeN}}})
	if err != nil {
		if isErrorType(err, "UnknownOperationException") {
			return &DynamoDBResult{Section: Section{Status: statusUnavailable, Note: "not available on this server yet (" + errorMessage(err) + ")"}}, nil
		}
		return nil, err
	}
	defer cl.DeleteTable(context.WithoutCancel(ctx), &dynamodb.DeleteTableInput{TableName: aws.String(name)})
	item := func(pk string, n int) map[string]types.AttributeValue {
		return map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: pk}, "n": &types.AttributeValueMemberN{Value: strconv.Itoa(n)},
			"payload": &types.AttributeValueMemberS{Value: "a value of modest size, as most are"}}
	}
	// measure runs op for one window and returns its latencies and rate.
	measure := func(op func(i int) error) (Dist, float64, error) {
		var lat []float64
		start := time.Now()
		for i := 0; time.Since(start) < b.size.Window; i++ {
			t0 := time.Now()
			if err := op(i); err != nil {
				return Dist{}, 0, err
			}
			lat = append(lat, ms(time.Since(t0)))
		}
		return distOf(lat), float64(len(lat)) / time.Since(start).Seconds(), nil
	}
	res := &DynamoDBResult{Section: Section{Status: statusOK}}
	if res.Put, res.PutPerSec, err = measure(func(i int) error {
		_, err := cl.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(name), Item: item(fmt.Sprint("w", i%16), i)})
		return err
	}); err != nil {
		return nil, fmt.Errorf("PutItem: %w", err)
	}
	for i := range 100 {
		if _, err := cl.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(name), Item: item("q", i)}); err != nil {
			return nil, err
		}
	}
	if res.Get, res.GetPerSec, err = measure(func(i int) error {
		out, err := cl.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(name), Key: map[string]types.AttributeValue{
			"pk": &types.AttributeValueMemberS{Value: "q"}, "n": &types.AttributeValueMemberN{Value: strconv.Itoa(i % 100)}}})
		if err == nil && out.Item == nil {
			err = fmt.Errorf("item %d missing", i%100)
		}
		return err
	}); err != nil {
		return nil, fmt.Errorf("GetItem: %w", err)
	}
	if res.Query, res.QueryPerSec, err = measure(func(int) error {
		out, err := cl.Query(ctx, &dynamodb.QueryInput{TableName: aws.String(name), KeyConditionExpression: aws.String("pk = :p"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":p": &types.AttributeValueMemberS{Value: "q"}}})
		if err == nil && out.Count != 100 {
			err = fmt.Errorf("query returned %d items, want 100", out.Count)
		}
		return err
	}); err != nil {
		return nil, fmt.Errorf("query: %w", err)
	}
	return res, nil
}

func (b *bench) printDynamoDB(r *DynamoDBResult, f *FloorResult) {
	t := &table{title: "DynamoDB (one SDK client, sequential)", head: []string{"operation", "rate", "p50 / p99"}}
	if r.Status != statusOK {
		t.add("DynamoDB", r.Status, "")
		t.note("%s", r.Note)
		t.text(b.out)
		return
	}
	t.add("PutItem (acknowledged after fsync)", fmtRate(r.PutPerSec, "ops/s"), fmtMs(r.Put.P50)+" / "+fmtMs(r.Put.P99))
	t.add("GetItem (eventually consistent)", fmtRate(r.GetPerSec, "ops/s"), fmtMs(r.Get.P50)+" / "+fmtMs(r.Get.P99))
	t.add("Query of 100 items", fmtRate(r.QueryPerSec, "ops/s"), fmtMs(r.Query.P50)+" / "+fmtMs(r.Query.P99))
	if f != nil {
		if fl := f.get(floorHTTP); fl != nil {
			t.note("Floor: an HTTP round trip on this host takes %s (p50).", fmtMs(fl.Dist.P50))
		}
	}
	t.text(b.out)
}
