package registry

import (
	"context"
	"errors"
)

// minUnreserved is the account concurrency that reservations must leave to
// functions without one: a tenth of the account's limit, at least 10 and at
// most 100 (100 for Lambda's default limit of 1,000).
func minUnreserved(limit int) int {
	return max(10, min(100, limit/10))
}

// reservedExcept sums the reserved concurrency of every function but name,
// from the view.
func (r *Registry) reservedExcept(name string) int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	sum := 0
	for n, st := range r.fns {
		if st.rev == 0 || n == name || st.fn.ReservedConcurrency == nil {
			continue
		}
		sum += *st.fn.ReservedConcurrency
	}
	return sum
}

// PutFunctionConcurrency reserves concurrency for a function and returns the
// reservation. The account's unreserved concurrency must stay at or above
// its minimum.
//
// The reservations of other functions are read from the view, not under the
// function's compare-and-set: two puts on different functions running at
// the same time are not atomic with respect to each other and together may
// take the unreserved concurrency below its minimum.
func (r *Registry) PutFunctionConcurrency(ctx context.Context, ref Ref, reserved int) (int, error) {
	if err := requireUnqualified(ref); err != nil {
		return 0, err
	}
	if reserved < 0 {
		return 0, constraint(reserved, "reservedConcurrentExecutions", "Member must have value greater than or equal to 0")
	}
	if r.view(ref.Name) == nil {
		return 0, notFound(r.arns.Function(ref.Name))
	}
	_, err := r.update(ctx, ref.Name, func(f *Function) error {
		limit := r.cfg.AccountConcurrency
		floor := minUnreserved(limit)
		if limit-r.reservedExcept(ref.Name)-reserved < floor {
			return invalid("Specified ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [%d].", floor)
		}
		if f.ReservedConcurrency != nil && *f.ReservedConcurrency == reserved {
			return errUnchanged
		}
		n := reserved
		f.ReservedConcurrency = &n
		return nil
	})
	if err != nil && !errors.Is(err, errUnchanged) {
		return 0, err
	}
	return reserved, nil
}

// GetFunctionConcurrency returns a function's reserved concurrency, nil if
// it has none.
func (r *Registry) GetFunctionConcurrency(ctx context.Context, ref Ref) (*int, error) {
	if err := requireUnqualified(ref); err != nil {
		return nil, err
	}
	st := r.view(ref.Name)
	if st == nil {
		return nil, notFound(r.arns.Function(ref.Name))
	}
	if st.fn.ReservedConcurrency == nil {
		return nil, nil
	}
	n := *st.fn.ReservedConcurrency
	return &n, nil
}

// DeleteFunctionConcurrency removes a function's reservation; it is not an
// error if the function has none.
func (r *Registry) DeleteFunctionConcurrency(ctx context.Context, ref Ref) error {
	if err := requireUnqualified(ref); err != nil {
		return err
	}
	_, err := r.update(ctx, ref.Name, func(f *Function) error {
		if f.ReservedConcurrency == nil {
			return errUnchanged
		}
		f.ReservedConcurrency = nil
		return nil
	})
	if errors.Is(err, errUnchanged) {
		return nil
	}
	return err
}
