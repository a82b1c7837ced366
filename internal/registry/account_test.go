package registry

import (
	"context"
	"encoding/json"
	"testing"
)

func TestAccountSettings(t *testing.T) {
	r := openTest(t)
	ctx := context.Background()

	got := r.AccountSettings()
	want := AccountSettings{
		AccountLimit: AccountLimit{
			TotalCodeSize: 80530636800, CodeSizeUnzipped: 262144000, CodeSizeZipped: 52428800,
			ConcurrentExecutions: 1000, UnreservedConcurrentExecutions: 1000,
		},
	}
	if got != want {
		t.Fatalf("AccountSettings of an empty account = %+v, want %+v", got, want)
	}
	b, _ := json.Marshal(got)
	const wire = `{"AccountLimit":{"TotalCodeSize":80530636800,"CodeSizeUnzipped":262144000,"CodeSizeZipped":52428800,` +
		`"ConcurrentExecutions":1000,"UnreservedConcurrentExecutions":1000},"AccountUsage":{"TotalCodeSize":0,"FunctionCount":0}}`
	if string(b) != wire {
		t.Fatalf("wire shape = %s\n      want %s", b, wire)
	}

	f := mustCreate(t, r, "f")
	g := mustCreate(t, r, "g")
	mustPublish(t, r, "f", 1) // a version counts its code again
	if _, err := r.PutFunctionConcurrency(ctx, Ref{Name: "g"}, 250); err != nil {
		t.Fatal(err)
	}
	got = r.AccountSettings()
	want.AccountLimit.UnreservedConcurrentExecutions = 750
	want.AccountUsage = AccountUsage{TotalCodeSize: 2*f.CodeSize + g.CodeSize, FunctionCount: 2}
	if got != want {
		t.Fatalf("AccountSettings = %+v, want %+v", got, want)
	}

	if err := r.DeleteFunction(ctx, Ref{Name: "g"}); err != nil {
		t.Fatal(err)
	}
	got = r.AccountSettings()
	if got.AccountUsage.FunctionCount != 1 || got.AccountLimit.UnreservedConcurrentExecutions != 1000 {
		t.Fatalf("AccountSettings after deleting g = %+v", got)
	}
}
