package registry

import (
	"context"
	"testing"

	"github.com/kumo-run/kumo/internal/awsproto"
)

func TestMinUnreserved(t *testing.T) {
	for limit, want := range map[int]int{10: 10, 50: 10, 400: 40, 500: 50, 1000: 100, 5000: 100, 100000: 100} {
		if got := minUnreserved(limit); got != want {
			t.Errorf("minUnreserved(%d) = %d, want %d", limit, got, want)
		}
	}
}

func TestFunctionConcurrency(t *testing.T) {
	r := openTest(t)
	for _, name := range []string{"f", "g", "h"} {
		mustCreate(t, r, name)
	}
	ctx := context.Background()
	below := func(floor string) string {
		return "Specified ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [" + floor + "]."
	}
	const none = -1
	steps := []struct {
		name string
		op   string // put, get, delete
		ref  Ref
		n    int
		code awsproto.Code
		msg  string
		want int // after the step, from GetFunctionConcurrency; none for nil
	}{
		{name: "none yet", op: "get", ref: Ref{Name: "f"}, want: none},
		{name: "reserve", op: "put", ref: Ref{Name: "f"}, n: 100, want: 100},
		{name: "reserve through latest", op: "put", ref: Ref{Name: "g", Qualifier: Latest}, n: 800, want: 800},
		{name: "over the floor", op: "put", ref: Ref{Name: "h"}, n: 1, code: awsproto.InvalidParameterValueException, msg: below("100"), want: none},
		{name: "zero is a reservation", op: "put", ref: Ref{Name: "h"}, n: 0, want: 0},
		{name: "same again", op: "put", ref: Ref{Name: "f"}, n: 100, want: 100},
		{name: "own reservation not counted twice", op: "put", ref: Ref{Name: "f"}, n: 99, want: 99},
		{name: "raise over the floor", op: "put", ref: Ref{Name: "f"}, n: 101, code: awsproto.InvalidParameterValueException, msg: below("100"), want: 99},
		{name: "negative", op: "put", ref: Ref{Name: "f"}, n: -1, code: awsproto.ValidationException,
			msg: "1 validation error detected: Value '-1' at 'reservedConcurrentExecutions' failed to satisfy constraint: Member must have value greater than or equal to 0", want: 99},
		{name: "qualified put", op: "put", ref: Ref{Name: "f", Qualifier: "1"}, n: 5, code: awsproto.InvalidParameterValueException, want: 99},
		{name: "qualified get", op: "get", ref: Ref{Name: "f", Qualifier: "live"}, code: awsproto.InvalidParameterValueException, want: 99},
		{name: "qualified delete", op: "delete", ref: Ref{Name: "f", Qualifier: "live"}, code: awsproto.InvalidParameterValueException, want: 99},
		{name: "delete", op: "delete", ref: Ref{Name: "f"}, want: none},
		{name: "delete again", op: "delete", ref: Ref{Name: "f"}, want: none},
		{name: "freed", op: "put", ref: Ref{Name: "h"}, n: 100, want: 100},
		{name: "put missing", op: "put", ref: Ref{Name: "x"}, n: 1, code: awsproto.ResourceNotFoundException,
			msg: "Function not found: arn:aws:lambda:us-east-1:123456789012:function:x", want: none},
		{name: "get missing", op: "get", ref: Ref{Name: "x"}, code: awsproto.ResourceNotFoundException, want: none},
		{name: "delete missing", op: "delete", ref: Ref{Name: "x"}, code: awsproto.ResourceNotFoundException, want: none},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			var err error
			switch s.op {
			case "put":
				var got int
				got, err = r.PutFunctionConcurrency(ctx, s.ref, s.n)
				if err == nil && got != s.n {
					t.Fatalf("PutFunctionConcurrency = %d, want %d", got, s.n)
				}
			case "get":
				_, err = r.GetFunctionConcurrency(ctx, s.ref)
			case "delete":
				err = r.DeleteFunctionConcurrency(ctx, s.ref)
			}
			wantErr(t, err, s.code, s.msg)
			name := s.ref.Name
			if name == "x" {
				return
			}
			got, err := r.GetFunctionConcurrency(ctx, Ref{Name: name})
			if err != nil {
				t.Fatal(err)
			}
			if s.want == none && got != nil || s.want != none && (got == nil || *got != s.want) {
				t.Fatalf("GetFunctionConcurrency(%s) = %v, want %d", name, got, s.want)
			}
		})
	}

	// g 800, h 100: 100 unreserved remain.
	if u := r.AccountSettings().AccountLimit.UnreservedConcurrentExecutions; u != 100 {
		t.Fatalf("UnreservedConcurrentExecutions = %d, want 100", u)
	}
	res, err := r.GetFunction(ctx, Ref{Name: "g"})
	if err != nil || res.ReservedConcurrency == nil || *res.ReservedConcurrency != 800 {
		t.Fatalf("GetFunction(g).ReservedConcurrency = %v, %v", res.ReservedConcurrency, err)
	}
}

func TestFunctionConcurrencySmallAccount(t *testing.T) {
	r := openTest(t, func(c *Config) { c.AccountConcurrency = 400 })
	mustCreate(t, r, "f")
	ctx := context.Background()
	_, err := r.PutFunctionConcurrency(ctx, Ref{Name: "f"}, 361)
	wantErr(t, err, awsproto.InvalidParameterValueException,
		"Specified ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [40].")
	n, err := r.PutFunctionConcurrency(ctx, Ref{Name: "f"}, 360)
	if err != nil || n != 360 {
		t.Fatalf("PutFunctionConcurrency = %d, %v", n, err)
	}
}
