package registry

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/kumo-run/kumo/internal/awsproto"
)

func TestEventInvokeConfigValidation(t *testing.T) {
	r := openTest(t)
	mustCreate(t, r, "f")
	ctx := context.Background()
	lambdaARN := "arn:aws:lambda:us-east-1:123456789012:function:dest"
	tests := []struct {
		name string
		ref  Ref
		in   EventInvokeInput
		code awsproto.Code
	}{
		{name: "empty", in: EventInvokeInput{}},
		{name: "bounds low", in: EventInvokeInput{MaximumRetryAttempts: ptr(0), MaximumEventAgeInSeconds: ptr(60)}},
		{name: "bounds high", in: EventInvokeInput{MaximumRetryAttempts: ptr(2), MaximumEventAgeInSeconds: ptr(21600)}},
		{name: "retries negative", in: EventInvokeInput{MaximumRetryAttempts: ptr(-1)}, code: awsproto.ValidationException},
		{name: "retries 3", in: EventInvokeInput{MaximumRetryAttempts: ptr(3)}, code: awsproto.ValidationException},
		{name: "age 59", in: EventInvokeInput{MaximumEventAgeInSeconds: ptr(59)}, code: awsproto.ValidationException},
		{name: "age 21601", in: EventInvokeInput{MaximumEventAgeInSeconds: ptr(21601)}, code: awsproto.ValidationException},
		{name: "lambda destination", in: EventInvokeInput{DestinationConfig: &DestinationConfig{OnSuccess: &Destination{lambdaARN}}}},
		{name: "sqs destination", in: EventInvokeInput{DestinationConfig: &DestinationConfig{OnFailure: &Destination{"arn:aws:sqs:us-east-1:123456789012:q"}}}},
		{name: "not an arn", in: EventInvokeInput{DestinationConfig: &DestinationConfig{OnFailure: &Destination{"queue"}}}, code: awsproto.ValidationException},
		{name: "unsupported service", in: EventInvokeInput{DestinationConfig: &DestinationConfig{OnFailure: &Destination{"arn:aws:dynamodb:us-east-1:123456789012:table/t"}}}, code: awsproto.InvalidParameterValueException},
		{name: "missing alias", ref: Ref{Qualifier: "nope"}, code: awsproto.ResourceNotFoundException},
		{name: "missing version", ref: Ref{Qualifier: "9"}, code: awsproto.ResourceNotFoundException},
		{name: "missing function", ref: Ref{Name: "g"}, code: awsproto.ResourceNotFoundException},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ref := tc.ref
			if ref.Name == "" {
				ref.Name = "f"
			}
			_, err := r.PutEventInvokeConfig(ctx, ref, tc.in)
			if tc.code == "" {
				if err != nil {
					t.Fatalf("Put: %v", err)
				}
				return
			}
			if got := awsproto.AsError(err).Code; got != tc.code {
				t.Fatalf("Put: %v, want %s", err, tc.code)
			}
		})
	}
}

func TestEventInvokeConfigLifecycle(t *testing.T) {
	r := openTest(t)
	mustCreate(t, r, "f")
	ctx := context.Background()
	f := Ref{Name: "f"}
	if _, err := r.GetEventInvokeConfig(ctx, f); awsproto.AsError(err).Code != awsproto.ResourceNotFoundException ||
		awsproto.AsError(err).Message != "The function arn:aws:lambda:us-east-1:123456789012:function:f:$LATEST doesn't have an EventInvokeConfig" {
		t.Fatalf("Get before Put: %v", err)
	}
	s, err := r.AsyncSettings(f)
	if err != nil || s.MaximumRetryAttempts != 2 || s.MaximumEventAge != 6*time.Hour {
		t.Fatalf("defaults: %+v %v", s, err)
	}
	dest := "arn:aws:lambda:us-east-1:123456789012:function:d"
	put, err := r.PutEventInvokeConfig(ctx, f, EventInvokeInput{MaximumRetryAttempts: ptr(1),
		DestinationConfig: &DestinationConfig{OnFailure: &Destination{dest}}})
	if err != nil {
		t.Fatal(err)
	}
	if put.FunctionArn != fnARN+":$LATEST" || *put.MaximumRetryAttempts != 1 || put.MaximumEventAgeInSeconds != nil || put.LastModified == 0 {
		t.Errorf("Put: %+v", put)
	}
	// $LATEST and the unqualified function share one configuration.
	got, err := r.GetEventInvokeConfig(ctx, Ref{Name: "f", Qualifier: Latest})
	if err != nil || got.FunctionArn != put.FunctionArn {
		t.Fatalf("Get $LATEST: %+v %v", got, err)
	}
	upd, err := r.UpdateEventInvokeConfig(ctx, f, EventInvokeInput{MaximumEventAgeInSeconds: ptr(120),
		DestinationConfig: &DestinationConfig{OnSuccess: &Destination{dest}}})
	if err != nil {
		t.Fatal(err)
	}
	if *upd.MaximumRetryAttempts != 1 || *upd.MaximumEventAgeInSeconds != 120 ||
		upd.DestinationConfig.OnFailure == nil || upd.DestinationConfig.OnSuccess == nil {
		t.Errorf("Update kept what it was not given: %+v", upd)
	}
	s, err = r.AsyncSettings(f)
	if err != nil || s.MaximumRetryAttempts != 1 || s.MaximumEventAge != 2*time.Minute || s.OnSuccess != dest || s.OnFailure != dest {
		t.Errorf("settings: %+v %v", s, err)
	}
	// Put replaces everything.
	if _, err := r.PutEventInvokeConfig(ctx, f, EventInvokeInput{MaximumRetryAttempts: ptr(0)}); err != nil {
		t.Fatal(err)
	}
	if s, _ = r.AsyncSettings(f); s.OnSuccess != "" || s.MaximumEventAge != 6*time.Hour || s.MaximumRetryAttempts != 0 {
		t.Errorf("after Put: %+v", s)
	}
	mustPublish(t, r, "f", 1)
	if _, err := r.CreateAlias(ctx, f, CreateAliasInput{Name: "live", FunctionVersion: "1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.PutEventInvokeConfig(ctx, Ref{Name: "f", Qualifier: "live"}, EventInvokeInput{MaximumRetryAttempts: ptr(2)}); err != nil {
		t.Fatal(err)
	}
	list, next, err := r.ListEventInvokeConfigs(ctx, f, "", 1)
	if err != nil || len(list) != 1 || next == "" || list[0].FunctionArn != fnARN+":$LATEST" {
		t.Fatalf("list page 1: %+v %q %v", list, next, err)
	}
	list, next, err = r.ListEventInvokeConfigs(ctx, f, next, 1)
	if err != nil || len(list) != 1 || next != "" || list[0].FunctionArn != fnARN+":live" {
		t.Fatalf("list page 2: %+v %q %v", list, next, err)
	}
	if _, _, err := r.ListEventInvokeConfigs(ctx, f, "", 51); awsproto.AsError(err).Code != awsproto.ValidationException {
		t.Errorf("MaxItems 51: %v", err)
	}
	if err := r.DeleteEventInvokeConfig(ctx, f); err != nil {
		t.Fatal(err)
	}
	if err := r.DeleteEventInvokeConfig(ctx, f); awsproto.AsError(err).Code != awsproto.ResourceNotFoundException {
		t.Errorf("second Delete: %v", err)
	}
	if _, err := r.AsyncSettings(Ref{Name: "f", Qualifier: "gone"}); !errors.Is(err, ErrFunctionGone) {
		t.Errorf("settings of a missing alias: %v", err)
	}
	if _, err := r.AsyncSettings(Ref{Name: "nope"}); !errors.Is(err, ErrFunctionGone) {
		t.Errorf("settings of a missing function: %v", err)
	}
}
