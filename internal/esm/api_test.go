package esm_test

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	ltypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/kumo-run/kumo/internal/awsproto"
	"github.com/kumo-run/kumo/internal/iam"
	"github.com/kumo-run/kumo/internal/iam/authz"
	"github.com/kumo-run/kumo/internal/invoke"
	"github.com/kumo-run/kumo/internal/poll"
)

// TestMappingAPI: the five operations through aws-sdk-go-v2 — defaults,
// state transitions, the errors Lambda answers, filters and paging.
func TestMappingAPI(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	h.function(t, "f")
	h.function(t, "g")
	_, qARN := h.queue(t, "q", nil)
	_, q2ARN := h.queue(t, "q2", nil)
	_, fifoARN := h.queue(t, "q.fifo", map[string]string{"FifoQueue": "true"})

	out, err := h.lc.CreateEventSourceMapping(ctx, &lambda.CreateEventSourceMappingInput{FunctionName: aws.String("f"), EventSourceArn: aws.String(qARN)})
	if err != nil {
		t.Fatalf("CreateEventSourceMapping: %v", err)
	}
	uuid := aws.ToString(out.UUID)
	if len(uuid) != 36 || aws.ToInt32(out.BatchSize) != 10 || aws.ToInt32(out.MaximumBatchingWindowInSeconds) != 0 ||
		aws.ToString(out.State) != "Creating" || aws.ToString(out.StateTransitionReason) != "USER_INITIATED" ||
		aws.ToString(out.FunctionArn) != "arn:aws:lambda:us-east-1:123456789012:function:f" || aws.ToString(out.EventSourceArn) != qARN ||
		aws.ToString(out.EventSourceMappingArn) != "arn:aws:lambda:us-east-1:123456789012:event-source-mapping:"+uuid ||
		out.LastModified == nil || out.FunctionResponseTypes == nil {
		t.Fatalf("created %+v", out)
	}
	h.waitState(t, uuid, "Enabled")

	// Lambda's errors.
	for _, c := range []struct {
		name      string
		in        lambda.CreateEventSourceMappingInput
		code, msg string
	}{
		{"unknown function", lambda.CreateEventSourceMappingInput{FunctionName: aws.String("nope"), EventSourceArn: aws.String(q2ARN)},
			"ResourceNotFoundException", "Function not found: arn:aws:lambda:us-east-1:123456789012:function:nope"},
		{"unknown queue", lambda.CreateEventSourceMappingInput{FunctionName: aws.String("f"), EventSourceArn: aws.String(qARN + "x")},
			"ResourceNotFoundException", ""},
		{"duplicate", lambda.CreateEventSourceMappingInput{FunctionName: aws.String("f"), EventSourceArn: aws.String(qARN)},
			"ResourceConflictException", `An event source mapping with SQS arn (" ` + qARN + ` ") and function (" f ") already exists. Please update or delete the existing mapping with UUID ` + uuid},
		{"not sqs", lambda.CreateEventSourceMappingInput{FunctionName: aws.String("f"), EventSourceArn: aws.String("arn:aws:sns:us-east-1:123456789012:t")},
			"InvalidParameterValueException", "Unrecognized event source, must be kinesis, dynamodb stream or sqs."},
		{"big batch without window", lambda.CreateEventSourceMappingInput{FunctionName: aws.String("f"), EventSourceArn: aws.String(q2ARN), BatchSize: aws.Int32(11)},
			"InvalidParameterValueException", "Maximum batch window in seconds must be greater than 0 if maximum batch size is greater than 10"},
		{"batch too big", lambda.CreateEventSourceMappingInput{FunctionName: aws.String("f"), EventSourceArn: aws.String(q2ARN), BatchSize: aws.Int32(10001), MaximumBatchingWindowInSeconds: aws.Int32(1)},
			"ValidationException", "1 validation error detected: Value '10001' at 'batchSize' failed to satisfy constraint: Member must have value less than or equal to 10000"},
		{"window too long", lambda.CreateEventSourceMappingInput{FunctionName: aws.String("f"), EventSourceArn: aws.String(q2ARN), MaximumBatchingWindowInSeconds: aws.Int32(301)},
			"ValidationException", "1 validation error detected: Value '301' at 'maximumBatchingWindowInSeconds' failed to satisfy constraint: Member must have value less than or equal to 300"},
		{"concurrency too low", lambda.CreateEventSourceMappingInput{FunctionName: aws.String("f"), EventSourceArn: aws.String(q2ARN),
			ScalingConfig: &ltypes.ScalingConfig{MaximumConcurrency: aws.Int32(1)}},
			"ValidationException", "1 validation error detected: Value '1' at 'scalingConfig.maximumConcurrency' failed to satisfy constraint: Member must have value greater than or equal to 2"},
		{"bad filter", lambda.CreateEventSourceMappingInput{FunctionName: aws.String("f"), EventSourceArn: aws.String(q2ARN),
			FilterCriteria: &ltypes.FilterCriteria{Filters: []ltypes.Filter{{Pattern: aws.String("{not json")}}}},
			"InvalidParameterValueException", "Invalid filter pattern definition."},
		{"bad filter grammar", lambda.CreateEventSourceMappingInput{FunctionName: aws.String("f"), EventSourceArn: aws.String(q2ARN),
			FilterCriteria: &ltypes.FilterCriteria{Filters: []ltypes.Filter{{Pattern: aws.String(`{"body":"x"}`)}}}},
			"InvalidParameterValueException", "Invalid filter pattern definition."},
		{"fifo batch", lambda.CreateEventSourceMappingInput{FunctionName: aws.String("f"), EventSourceArn: aws.String(fifoARN), BatchSize: aws.Int32(20), MaximumBatchingWindowInSeconds: aws.Int32(1)},
			"InvalidParameterValueException", ""},
	} {
		_, err := h.lc.CreateEventSourceMapping(ctx, &c.in)
		if err == nil {
			t.Fatalf("%s: created", c.name)
		}
		wantError(t, err, c.code, c.msg)
	}
	_, err = h.lc.GetEventSourceMapping(ctx, &lambda.GetEventSourceMappingInput{UUID: aws.String("00000000-0000-4000-8000-000000000000")})
	wantError(t, err, "ResourceNotFoundException", "The resource you requested does not exist.")

	// A second mapping, disabled, with every setting.
	out2, err := h.lc.CreateEventSourceMapping(ctx, &lambda.CreateEventSourceMappingInput{FunctionName: aws.String("g"), EventSourceArn: aws.String(q2ARN),
		Enabled: aws.Bool(false), BatchSize: aws.Int32(100), MaximumBatchingWindowInSeconds: aws.Int32(2),
		FunctionResponseTypes: []ltypes.FunctionResponseType{ltypes.FunctionResponseTypeReportBatchItemFailures},
		ScalingConfig:         &ltypes.ScalingConfig{MaximumConcurrency: aws.Int32(3)},
		FilterCriteria:        &ltypes.FilterCriteria{Filters: []ltypes.Filter{{Pattern: aws.String(`{"body":{"a":[1]}}`)}}}})
	if err != nil {
		t.Fatal(err)
	}
	uuid2 := aws.ToString(out2.UUID)
	h.waitState(t, uuid2, "Disabled")
	got, err := h.lc.GetEventSourceMapping(ctx, &lambda.GetEventSourceMappingInput{UUID: aws.String(uuid2)})
	if err != nil || aws.ToInt32(got.BatchSize) != 100 || aws.ToInt32(got.MaximumBatchingWindowInSeconds) != 2 ||
		len(got.FunctionResponseTypes) != 1 || aws.ToInt32(got.ScalingConfig.MaximumConcurrency) != 3 ||
		aws.ToString(got.FilterCriteria.Filters[0].Pattern) != `{"body":{"a":[1]}}` {
		t.Fatalf("GetEventSourceMapping: %+v %v", got, err)
	}

	// Update: enabling goes through Enabling; a change while in a
	// transition is ResourceInUseException.
	up, err := h.lc.UpdateEventSourceMapping(ctx, &lambda.UpdateEventSourceMappingInput{UUID: aws.String(uuid2), Enabled: aws.Bool(true),
		BatchSize: aws.Int32(5), ScalingConfig: &ltypes.ScalingConfig{}})
	if err != nil {
		t.Fatalf("UpdateEventSourceMapping: %v", err)
	}
	if aws.ToString(up.State) != "Enabling" || aws.ToInt32(up.BatchSize) != 5 || up.ScalingConfig != nil {
		t.Fatalf("updated %+v", up)
	}
	h.waitState(t, uuid2, "Enabled")
	_, err = h.lc.UpdateEventSourceMapping(ctx, &lambda.UpdateEventSourceMappingInput{UUID: aws.String(uuid2), BatchSize: aws.Int32(20), MaximumBatchingWindowInSeconds: aws.Int32(0)})
	wantError(t, err, "InvalidParameterValueException", "Maximum batch window in seconds must be greater than 0 if maximum batch size is greater than 10")
	_, err = h.lc.UpdateEventSourceMapping(ctx, &lambda.UpdateEventSourceMappingInput{UUID: aws.String(uuid2), FunctionName: aws.String("nope")})
	wantError(t, err, "ResourceNotFoundException", "")
	// Moving mapping 2 onto f and q would duplicate mapping 1? No: q2 stays.
	up, err = h.lc.UpdateEventSourceMapping(ctx, &lambda.UpdateEventSourceMappingInput{UUID: aws.String(uuid2), FunctionName: aws.String("f")})
	if err != nil || aws.ToString(up.FunctionArn) != "arn:aws:lambda:us-east-1:123456789012:function:f" || aws.ToString(up.State) != "Updating" {
		t.Fatalf("moving to f: %+v %v", up, err)
	}
	h.waitState(t, uuid2, "Enabled")

	// List: all, by function, by source, paged.
	list := func(in *lambda.ListEventSourceMappingsInput) []string {
		t.Helper()
		var ids []string
		p := lambda.NewListEventSourceMappingsPaginator(h.lc, in)
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				t.Fatalf("ListEventSourceMappings: %v", err)
			}
			if in.MaxItems != nil && len(page.EventSourceMappings) > int(*in.MaxItems) {
				t.Fatalf("page of %d with MaxItems %d", len(page.EventSourceMappings), *in.MaxItems)
			}
			for _, m := range page.EventSourceMappings {
				ids = append(ids, aws.ToString(m.UUID))
			}
		}
		return ids
	}
	if ids := list(&lambda.ListEventSourceMappingsInput{MaxItems: aws.Int32(1)}); len(ids) != 2 {
		t.Fatalf("all, paged by 1: %v", ids)
	}
	if ids := list(&lambda.ListEventSourceMappingsInput{FunctionName: aws.String("f")}); len(ids) != 2 {
		t.Fatalf("by f: %v", ids)
	}
	if ids := list(&lambda.ListEventSourceMappingsInput{FunctionName: aws.String("g")}); len(ids) != 0 {
		t.Fatalf("by g: %v", ids)
	}
	if ids := list(&lambda.ListEventSourceMappingsInput{EventSourceArn: aws.String(q2ARN)}); len(ids) != 1 || ids[0] != uuid2 {
		t.Fatalf("by q2: %v", ids)
	}

	// Delete answers Deleting; the mapping then disappears.
	del, err := h.lc.DeleteEventSourceMapping(ctx, &lambda.DeleteEventSourceMappingInput{UUID: aws.String(uuid)})
	if err != nil || aws.ToString(del.State) != "Deleting" {
		t.Fatalf("DeleteEventSourceMapping: %+v %v", del, err)
	}
	_, err = h.lc.UpdateEventSourceMapping(ctx, &lambda.UpdateEventSourceMappingInput{UUID: aws.String(uuid), BatchSize: aws.Int32(1)})
	if err != nil {
		// Deleting until the owner removes it, then gone.
		var code string
		wantErrorOneOf(t, err, &code, "ResourceInUseException", "ResourceNotFoundException")
	}
	poll.Until(t, 0, "the deleted mapping to disappear", func() error {
		_, err := h.lc.GetEventSourceMapping(ctx, &lambda.GetEventSourceMappingInput{UUID: aws.String(uuid)})
		if err == nil {
			return errStill
		}
		return nil
	})
	if ids := list(&lambda.ListEventSourceMappingsInput{}); len(ids) != 1 || ids[0] != uuid2 {
		t.Fatalf("after delete: %v", ids)
	}
}

// TestMappingAuthorization: the operations are checked as the Service
// Authorization Reference lists them — Get/Update/Delete on the mapping's
// ARN with lambda:FunctionArn, List on "*".
func TestMappingAuthorization(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	h.function(t, "f")
	h.function(t, "g")
	_, qARN := h.queue(t, "q", nil)
	f := h.mapping(t, &lambda.CreateEventSourceMappingInput{FunctionName: aws.String("f"), EventSourceArn: aws.String(qARN)})
	g := h.mapping(t, &lambda.CreateEventSourceMappingInput{FunctionName: aws.String("g"), EventSourceArn: aws.String(qARN)})
	const bobARN = "arn:aws:iam::123456789012:user/bob"
	pol, err := iam.Parse(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"lambda:GetEventSourceMapping",
		"Resource":"arn:aws:lambda:us-east-1:123456789012:event-source-mapping:*",
		"Condition":{"StringEquals":{"lambda:FunctionArn":"arn:aws:lambda:us-east-1:123456789012:function:f"}}}]}`, iam.KindIdentity)
	if err != nil {
		t.Fatal(err)
	}
	h.dir.SetUser(awsproto.Identity{Account: account, ARN: bobARN, UserID: "AIDABOB"}, authz.Principal{Policies: []*iam.Policy{pol}})
	h.dir.SetAccessKey("AKIAKUMOESMBOB000001", "kumo-esm-bob-secret-000000000000000000000", bobARN)
	bob := h.client("AKIAKUMOESMBOB000001", "kumo-esm-bob-secret-000000000000000000000")
	if _, err := bob.GetEventSourceMapping(ctx, &lambda.GetEventSourceMappingInput{UUID: aws.String(f)}); err != nil {
		t.Fatalf("bob's GetEventSourceMapping of f's mapping: %v", err)
	}
	_, err = bob.GetEventSourceMapping(ctx, &lambda.GetEventSourceMappingInput{UUID: aws.String(g)})
	wantError(t, err, "AccessDeniedException", "User: "+bobARN+" is not authorized to perform: lambda:GetEventSourceMapping on resource: arn:aws:lambda:us-east-1:123456789012:event-source-mapping:"+g+" because no identity-based policy allows the lambda:GetEventSourceMapping action")
	_, err = bob.ListEventSourceMappings(ctx, &lambda.ListEventSourceMappingsInput{})
	wantError(t, err, "AccessDeniedException", "User: "+bobARN+" is not authorized to perform: lambda:ListEventSourceMappings on resource: * because no identity-based policy allows the lambda:ListEventSourceMappings action")
	_, err = bob.CreateEventSourceMapping(ctx, &lambda.CreateEventSourceMappingInput{FunctionName: aws.String("f"), EventSourceArn: aws.String(qARN)})
	wantError(t, err, "AccessDeniedException", "")
}

// TestExecutionRolePermissions: a mapping is refused while the function's
// execution role may not receive, delete and read the attributes of the
// queue's messages (its own policies or the queue's policy), as Lambda
// answers; once allowed it is made.
func TestExecutionRolePermissions(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	const (
		bare    = "arn:aws:iam::123456789012:role/bare"
		receive = "arn:aws:iam::123456789012:role/receive-only"
	)
	onlyReceive, err := iam.Parse(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sqs:ReceiveMessage","Resource":"*"}]}`, iam.KindIdentity)
	if err != nil {
		t.Fatal(err)
	}
	h.dir.SetRole(authz.Role{ARN: bare, ID: "AROABARE"}, authz.Principal{})
	h.dir.SetRole(authz.Role{ARN: receive, ID: "AROARECEIVE"}, authz.Principal{Policies: []*iam.Policy{onlyReceive}})
	h.functionWithRole(t, "bare-fn", bare)
	h.functionWithRole(t, "receive-fn", receive)
	h.functionWithRole(t, "ghost-fn", "arn:aws:iam::123456789012:role/no-such-role")
	h.function(t, "ok-fn")
	url, qARN := h.queue(t, "guarded", nil)
	create := func(fn string) (*lambda.CreateEventSourceMappingOutput, error) {
		return h.lc.CreateEventSourceMapping(ctx, &lambda.CreateEventSourceMappingInput{FunctionName: aws.String(fn), EventSourceArn: aws.String(qARN)})
	}
	for fn, action := range map[string]string{"bare-fn": "ReceiveMessage", "ghost-fn": "ReceiveMessage", "receive-fn": "DeleteMessage"} {
		_, err := create(fn)
		wantError(t, err, "InvalidParameterValueException", "The provided execution role does not have permissions to call "+action+" on SQS")
	}
	// Pointing a mapping at a function whose role may not poll is refused too.
	m, err := create("ok-fn")
	if err != nil {
		t.Fatal(err)
	}
	h.waitState(t, aws.ToString(m.UUID), "Enabled")
	_, err = h.lc.UpdateEventSourceMapping(ctx, &lambda.UpdateEventSourceMappingInput{UUID: m.UUID, FunctionName: aws.String("bare-fn")})
	wantError(t, err, "InvalidParameterValueException", "The provided execution role does not have permissions to call ReceiveMessage on SQS")

	// The queue's policy can grant it instead.
	policy := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"` + bare + `"},` +
		`"Action":["sqs:ReceiveMessage","sqs:DeleteMessage","sqs:GetQueueAttributes"],"Resource":"` + qARN + `"}]}`
	if _, err := h.qc.SetQueueAttributes(ctx, &sqs.SetQueueAttributesInput{QueueUrl: aws.String(url), Attributes: map[string]string{"Policy": policy}}); err != nil {
		t.Fatal(err)
	}
	if _, err := create("bare-fn"); err != nil {
		t.Fatalf("with the queue's policy granting the role: %v", err)
	}
}

// TestLastProcessingResult: a new mapping has processed nothing; a batch
// the function takes is OK, one it fails is a problem, and the next
// success is OK again.
func TestLastProcessingResult(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	h.function(t, "f")
	url, qARN := h.queue(t, "results", map[string]string{"VisibilityTimeout": "600"})
	var fail atomic.Bool
	h.inv.mu.Lock()
	h.inv.respond = func([]record) (*invoke.Output, error) {
		if fail.Load() {
			return &invoke.Output{Status: 200, FunctionError: "Unhandled", Payload: []byte(`{"errorMessage":"boom"}`)}, nil
		}
		return &invoke.Output{Status: 200, Payload: []byte("null")}, nil
	}
	h.inv.mu.Unlock()
	m, err := h.lc.CreateEventSourceMapping(ctx, &lambda.CreateEventSourceMappingInput{FunctionName: aws.String("f"), EventSourceArn: aws.String(qARN)})
	if err != nil {
		t.Fatal(err)
	}
	if r := aws.ToString(m.LastProcessingResult); r != "No records processed" {
		t.Fatalf("new mapping: LastProcessingResult %q", r)
	}
	wantResult := func(want string) {
		t.Helper()
		poll.Until(t, 0, "LastProcessingResult "+want, func() error {
			got, err := h.lc.GetEventSourceMapping(ctx, &lambda.GetEventSourceMappingInput{UUID: m.UUID})
			if err != nil {
				return err
			}
			if r := aws.ToString(got.LastProcessingResult); r != want {
				return fmt.Errorf("LastProcessingResult %q", r)
			}
			return nil
		})
	}
	send := func(body string) {
		t.Helper()
		if _, err := h.qc.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String(body)}); err != nil {
			t.Fatal(err)
		}
	}
	send("fine")
	wantResult("OK")
	fail.Store(true)
	send("broken")
	wantResult("PROBLEM: Function call failed")
	fail.Store(false)
	send("fine again")
	wantResult("OK")
	out, err := h.lc.ListEventSourceMappings(ctx, &lambda.ListEventSourceMappingsInput{FunctionName: aws.String("f")})
	if err != nil || len(out.EventSourceMappings) != 1 || aws.ToString(out.EventSourceMappings[0].LastProcessingResult) != "OK" {
		t.Fatalf("ListEventSourceMappings: %+v %v", out, err)
	}
}
