package registry

import (
	"context"
	"testing"

	"github.com/kumo-run/kumo/internal/awsproto"
)

func TestProvisionedConcurrency(t *testing.T) {
	r := openTest(t)
	ctx := context.Background()
	mustCreate(t, r, "f")
	mustPublish(t, r, "f", 2)
	if _, err := r.CreateAlias(ctx, Ref{Name: "f"}, CreateAliasInput{Name: "live", FunctionVersion: "2"}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.CreateAlias(ctx, Ref{Name: "f"}, CreateAliasInput{Name: "dev", FunctionVersion: Latest}); err != nil {
		t.Fatal(err)
	}
	const unpublished = "Provisioned Concurrency Configs cannot be applied to unpublished function versions."
	for _, tc := range []struct {
		name string
		ref  Ref
		n    int
		code awsproto.Code
		msg  string
	}{
		{"latest", Ref{Name: "f", Qualifier: Latest}, 1, awsproto.InvalidParameterValueException, unpublished},
		{"alias of latest", Ref{Name: "f", Qualifier: "dev"}, 1, awsproto.InvalidParameterValueException, unpublished},
		{"unqualified", Ref{Name: "f"}, 1, awsproto.ValidationException, ""},
		{"zero", Ref{Name: "f", Qualifier: "1"}, 0, awsproto.ValidationException,
			"1 validation error detected: Value '0' at 'provisionedConcurrentExecutions' failed to satisfy constraint: Member must have value greater than or equal to 1"},
		{"missing version", Ref{Name: "f", Qualifier: "9"}, 1, awsproto.ResourceNotFoundException, ""},
		{"missing alias", Ref{Name: "f", Qualifier: "nope"}, 1, awsproto.ResourceNotFoundException, ""},
		{"missing function", Ref{Name: "x", Qualifier: "1"}, 1, awsproto.ResourceNotFoundException, ""},
		{"account floor", Ref{Name: "f", Qualifier: "1"}, 901, awsproto.InvalidParameterValueException,
			"Specified ConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [100]."},
		{"version", Ref{Name: "f", Qualifier: "1"}, 2, "", ""},
		{"alias", Ref{Name: "f", Qualifier: "live"}, 3, "", ""},
		{"version under a provisioned alias", Ref{Name: "f", Qualifier: "2"}, 1, awsproto.ResourceConflictException, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := r.PutProvisionedConcurrency(ctx, tc.ref, tc.n)
			wantErr(t, err, tc.code, tc.msg)
			if err == nil && (c.Requested != tc.n || c.Status != ProvisionedInProgress || c.Allocated != 0 || c.LastModified == "") {
				t.Fatalf("PutProvisionedConcurrency = %+v", c)
			}
		})
	}

	_, err := r.GetProvisionedConcurrency(ctx, Ref{Name: "f", Qualifier: "2"})
	wantErr(t, err, awsproto.ProvisionedConcurrencyConfigNotFound, "No Provisioned Concurrency Config found for this function")
	_, err = r.GetProvisionedConcurrency(ctx, Ref{Name: "f", Qualifier: Latest})
	wantErr(t, err, awsproto.InvalidParameterValueException, unpublished)

	list, next, err := r.ListProvisionedConcurrency(ctx, Ref{Name: "f"}, "", 1)
	if err != nil || len(list) != 1 || next == "" || list[0].FunctionArn != r.arns.Qualified("f", "1") {
		t.Fatalf("ListProvisionedConcurrency page 1 = %+v, %q, %v", list, next, err)
	}
	list, next, err = r.ListProvisionedConcurrency(ctx, Ref{Name: "f"}, next, 1)
	if err != nil || len(list) != 1 || next != "" || list[0].FunctionArn != r.arns.Qualified("f", "live") || list[0].Requested != 3 {
		t.Fatalf("ListProvisionedConcurrency page 2 = %+v, %q, %v", list, next, err)
	}
	_, _, err = r.ListProvisionedConcurrency(ctx, Ref{Name: "f", Qualifier: "1"}, "", 0)
	wantErr(t, err, awsproto.InvalidParameterValueException, "")

	// The reconciler's view and write-back.
	targets := r.ProvisionedTargets()
	if len(targets) != 2 || targets[0].Qualifier != "1" || targets[1].Qualifier != "live" || targets[1].Version.Config.Version != "2" {
		t.Fatalf("ProvisionedTargets = %+v", targets)
	}
	if targets[0].Key == "" || !r.LiveKey(targets[0].Key) {
		t.Fatalf("target key %q is not a live version key", targets[0].Key)
	}
	tv := targets[0]
	if err := r.SetProvisionedStatus(ctx, tv, 1, ""); err != nil {
		t.Fatal(err)
	}
	c, _ := r.GetProvisionedConcurrency(ctx, Ref{Name: "f", Qualifier: "1"})
	if c.Status != ProvisionedInProgress || c.Allocated != 1 || c.Available != 1 {
		t.Fatalf("after 1 of 2: %+v", c)
	}
	if err := r.SetProvisionedStatus(ctx, tv, 0, "FUNCTION_ERROR_INIT_FAILURE: Runtime.ExitError"); err != nil {
		t.Fatal(err)
	}
	c, _ = r.GetProvisionedConcurrency(ctx, Ref{Name: "f", Qualifier: "1"})
	if c.Status != ProvisionedFailed || c.StatusReason == "" {
		t.Fatalf("after a failure: %+v", c)
	}
	if err := r.SetProvisionedStatus(ctx, tv, 2, ""); err != nil {
		t.Fatal(err)
	}
	c, _ = r.GetProvisionedConcurrency(ctx, Ref{Name: "f", Qualifier: "1"})
	if c.Status != ProvisionedReady || c.Allocated != 2 || c.Available != 2 || c.StatusReason != "" {
		t.Fatalf("after 2 of 2: %+v", c)
	}
	// A stale target (the configuration was replaced) changes nothing.
	if _, err := r.PutProvisionedConcurrency(ctx, Ref{Name: "f", Qualifier: "1"}, 1); err != nil {
		t.Fatal(err)
	}
	stale := tv
	stale.Config.Requested = 2
	if err := r.SetProvisionedStatus(ctx, stale, 2, ""); err != nil {
		t.Fatal(err)
	}
	c, _ = r.GetProvisionedConcurrency(ctx, Ref{Name: "f", Qualifier: "1"})
	if c.Status != ProvisionedInProgress || c.Requested != 1 {
		t.Fatalf("a stale status write applied: %+v", c)
	}

	if err := r.DeleteProvisionedConcurrency(ctx, Ref{Name: "f", Qualifier: "1"}); err != nil {
		t.Fatal(err)
	}
	_, err = r.GetProvisionedConcurrency(ctx, Ref{Name: "f", Qualifier: "1"})
	wantErr(t, err, awsproto.ProvisionedConcurrencyConfigNotFound, "")
	err = r.DeleteProvisionedConcurrency(ctx, Ref{Name: "f", Qualifier: "1"})
	wantErr(t, err, awsproto.ProvisionedConcurrencyConfigNotFound, "")
	if got := r.ProvisionedTargets(); len(got) != 1 || got[0].Qualifier != "live" {
		t.Fatalf("ProvisionedTargets after delete = %+v", got)
	}
}

func TestProvisionedConcurrencyReserved(t *testing.T) {
	r := openTest(t)
	ctx := context.Background()
	mustCreate(t, r, "f")
	mustPublish(t, r, "f", 2)
	if _, err := r.PutFunctionConcurrency(ctx, Ref{Name: "f"}, 3); err != nil {
		t.Fatal(err)
	}
	if _, err := r.PutProvisionedConcurrency(ctx, Ref{Name: "f", Qualifier: "1"}, 2); err != nil {
		t.Fatal(err)
	}
	_, err := r.PutProvisionedConcurrency(ctx, Ref{Name: "f", Qualifier: "2"}, 2)
	wantErr(t, err, awsproto.InvalidParameterValueException,
		"Requested Provisioned Concurrency should not be greater than the reservedConcurrentExecution for function")
	// Replacing a configuration does not count it twice.
	if _, err := r.PutProvisionedConcurrency(ctx, Ref{Name: "f", Qualifier: "1"}, 3); err != nil {
		t.Fatal(err)
	}
}

func TestProvisionedConcurrencyAccount(t *testing.T) {
	r := openTest(t)
	ctx := context.Background()
	mustCreate(t, r, "f")
	mustCreate(t, r, "g")
	mustPublish(t, r, "f", 1)
	mustPublish(t, r, "g", 1)
	if _, err := r.PutProvisionedConcurrency(ctx, Ref{Name: "f", Qualifier: "1"}, 800); err != nil {
		t.Fatal(err)
	}
	// 1000 - 800 leaves 200; 101 more would leave 99.
	_, err := r.PutProvisionedConcurrency(ctx, Ref{Name: "g", Qualifier: "1"}, 101)
	wantErr(t, err, awsproto.InvalidParameterValueException,
		"Specified ConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [100].")
	if _, err := r.PutProvisionedConcurrency(ctx, Ref{Name: "g", Qualifier: "1"}, 100); err != nil {
		t.Fatal(err)
	}
}
