package registry

import (
	"context"
	"errors"
	"sort"
	"strconv"

	"github.com/kumo-run/kumo/internal/awsproto"
)

// Status values of a provisioned concurrency configuration.
const (
	ProvisionedInProgress = "IN_PROGRESS"
	ProvisionedReady      = "READY"
	ProvisionedFailed     = "FAILED"

	maxProvisionedItems = 50
)

// ProvisionedConfig is a provisioned concurrency configuration as stored
// and as GetProvisionedConcurrencyConfig and the list items show it
// (FunctionArn only in lists). LastModified is ISO 8601 with seconds.
type ProvisionedConfig struct {
	FunctionArn  string `json:"FunctionArn,omitempty"`
	Requested    int    `json:"RequestedProvisionedConcurrentExecutions"`
	Available    int    `json:"AvailableProvisionedConcurrentExecutions"`
	Allocated    int    `json:"AllocatedProvisionedConcurrentExecutions"`
	Status       string `json:"Status"`
	StatusReason string `json:"StatusReason,omitempty"`
	LastModified string `json:"LastModified"`
}

// ProvisionedTarget is one configuration with the version it keeps warm,
// as the worker's reconciler sees it.
type ProvisionedTarget struct {
	Function, Qualifier string
	Config              ProvisionedConfig
	// Key is the version key (see Target.Key) of the version whose
	// sandboxes the configuration keeps initialized.
	Key     string
	Version Version
}

// ID names the configuration: function:qualifier.
func (t ProvisionedTarget) ID() string { return t.Function + ":" + t.Qualifier }

func provisionedNotFound() *awsproto.Error {
	return awsproto.Errorf(awsproto.ProvisionedConcurrencyConfigNotFound, "No Provisioned Concurrency Config found for this function")
}

// requirePublished refuses a missing qualifier, $LATEST, and an alias of
// $LATEST: provisioned concurrency applies to a published version or an
// alias of one.
func (r *Registry) requirePublished(f *Function, ref Ref) error {
	q := ref.Qualifier
	if q == "" {
		return validation("1 validation error detected: Value null at 'qualifier' failed to satisfy constraint: Member must not be null")
	}
	if q == Latest {
		return invalid("Provisioned Concurrency Configs cannot be applied to unpublished function versions.")
	}
	if isDigits(q) {
		return r.checkVersionExists(f, ref.Name, q)
	}
	a, ok := f.Aliases[q]
	if !ok {
		return notFound(r.arns.Qualified(ref.Name, q))
	}
	if a.FunctionVersion == Latest {
		return invalid("Provisioned Concurrency Configs cannot be applied to unpublished function versions.")
	}
	return nil
}

// liveProvisioned reports whether the configuration under qualifier q
// still names an existing version or alias: a configuration outlives
// neither.
func liveProvisioned(f *Function, q string) bool {
	if isDigits(q) {
		n, err := strconv.Atoi(q)
		return err == nil && f.hasVersion(n)
	}
	_, ok := f.Aliases[q]
	return ok
}

// provisionedVersion is the version number a qualifier keeps warm: the
// version itself or the alias's primary version.
func provisionedVersion(f *Function, q string) string {
	if a, ok := f.Aliases[q]; ok {
		return a.FunctionVersion
	}
	return q
}

// provisionedUnreservedExcept sums the provisioned concurrency of
// functions without a reservation, leaving out one configuration.
func (r *Registry) provisionedUnreservedExcept(name, q string) int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	sum := 0
	for n, st := range r.fns {
		if st.rev == 0 || st.fn.ReservedConcurrency != nil {
			continue
		}
		for k, c := range st.fn.Provisioned {
			if n == name && k == q || !liveProvisioned(&st.fn, k) {
				continue
			}
			sum += c.Requested
		}
	}
	return sum
}

// PutProvisionedConcurrency sets the provisioned concurrency of a version
// or alias. The configuration starts IN_PROGRESS; the worker moves it to
// READY (or FAILED) through SetProvisionedStatus. It counts against the
// function's reserved concurrency when the function has one, else against
// the account's unreserved concurrency, which must stay at or above its
// minimum.
func (r *Registry) PutProvisionedConcurrency(ctx context.Context, ref Ref, n int) (ProvisionedConfig, error) {
	if n < 1 {
		return ProvisionedConfig{}, constraint(n, "provisionedConcurrentExecutions", "Member must have value greater than or equal to 1")
	}
	var out ProvisionedConfig
	_, err := r.update(ctx, ref.Name, func(f *Function) error {
		if err := r.requirePublished(f, ref); err != nil {
			return err
		}
		q := ref.Qualifier
		version := provisionedVersion(f, q)
		others := 0
		for k, c := range f.Provisioned {
			if k == q || !liveProvisioned(f, k) {
				continue
			}
			others += c.Requested
			if provisionedVersion(f, k) != version {
				continue
			}
			if isDigits(q) {
				return awsproto.Errorf(awsproto.ResourceConflictException, "Version is pointed by a Provisioned Concurrency alias")
			}
			return awsproto.Errorf(awsproto.ResourceConflictException, "Alias can't be used for Provisioned Concurrency configuration on an already Provisioned version")
		}
		if f.ReservedConcurrency != nil {
			if others+n > *f.ReservedConcurrency {
				return invalid("Requested Provisioned Concurrency should not be greater than the reservedConcurrentExecution for function")
			}
		} else {
			limit := r.cfg.AccountConcurrency
			floor := minUnreserved(limit)
			if limit-r.reservedExcept("")-r.provisionedUnreservedExcept(ref.Name, q)-n < floor {
				return invalid("Specified ConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [%d].", floor)
			}
		}
		out = ProvisionedConfig{
			Requested:    n,
			Status:       ProvisionedInProgress,
			LastModified: r.now().UTC().Format("2006-01-02T15:04:05-0700"),
		}
		if f.Provisioned == nil {
			f.Provisioned = map[string]ProvisionedConfig{}
		}
		f.Provisioned[q] = out
		return nil
	})
	if err != nil {
		return ProvisionedConfig{}, err
	}
	return out, nil
}

// GetProvisionedConcurrency returns the configuration of a version or
// alias.
func (r *Registry) GetProvisionedConcurrency(ctx context.Context, ref Ref) (ProvisionedConfig, error) {
	st := r.view(ref.Name)
	if st == nil {
		return ProvisionedConfig{}, notFound(r.arns.Function(ref.Name))
	}
	if err := r.requirePublished(&st.fn, ref); err != nil {
		return ProvisionedConfig{}, err
	}
	c, ok := st.fn.Provisioned[ref.Qualifier]
	if !ok {
		return ProvisionedConfig{}, provisionedNotFound()
	}
	return c, nil
}

// DeleteProvisionedConcurrency deletes the configuration of a version or
// alias; it must exist. The worker releases its sandboxes.
func (r *Registry) DeleteProvisionedConcurrency(ctx context.Context, ref Ref) error {
	_, err := r.update(ctx, ref.Name, func(f *Function) error {
		if err := r.requirePublished(f, ref); err != nil {
			return err
		}
		if _, ok := f.Provisioned[ref.Qualifier]; !ok {
			return provisionedNotFound()
		}
		delete(f.Provisioned, ref.Qualifier)
		return nil
	})
	return err
}

// ListProvisionedConcurrency lists a function's configurations by
// qualifier. max is 1–50 (≤ 0 means 50); marker is the previous page's
// NextMarker.
func (r *Registry) ListProvisionedConcurrency(ctx context.Context, ref Ref, marker string, max int) ([]ProvisionedConfig, string, error) {
	if err := requireUnqualified(ref); err != nil {
		return nil, "", err
	}
	if max > maxProvisionedItems {
		return nil, "", constraint(max, "maxItems", "Member must have value less than or equal to 50")
	}
	if max <= 0 {
		max = maxProvisionedItems
	}
	after, err := decodeMarker(marker)
	if err != nil {
		return nil, "", err
	}
	st := r.view(ref.Name)
	if st == nil {
		return nil, "", notFound(r.arns.Function(ref.Name))
	}
	keys := make([]string, 0, len(st.fn.Provisioned))
	for k := range st.fn.Provisioned {
		if after != "" && k <= after || !liveProvisioned(&st.fn, k) {
			continue
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]ProvisionedConfig, 0, min(len(keys), max))
	for i, k := range keys {
		if len(out) == max {
			return out, encodeMarker(keys[i-1]), nil
		}
		c := st.fn.Provisioned[k]
		c.FunctionArn = r.arns.Qualified(ref.Name, k)
		out = append(out, c)
	}
	return out, "", nil
}

// ProvisionedTargets returns every configuration whose version exists and
// is Active, from the view only.
func (r *Registry) ProvisionedTargets() []ProvisionedTarget {
	r.mu.RLock()
	defer r.mu.RUnlock()
	var out []ProvisionedTarget
	for name, st := range r.fns {
		if st.rev == 0 {
			continue
		}
		for q, c := range st.fn.Provisioned {
			if !liveProvisioned(&st.fn, q) {
				continue
			}
			n, err := strconv.Atoi(provisionedVersion(&st.fn, q))
			if err != nil || !st.fn.hasVersion(n) || st.versions[n] == nil {
				continue
			}
			v := st.versions[n]
			if v.Config.State != StateActive {
				continue
			}
			out = append(out, ProvisionedTarget{Function: name, Qualifier: q, Config: c, Key: versionKey(&v.Config), Version: *v})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID() < out[j].ID() })
	return out
}

// SetProvisionedStatus records what the worker allocated for a target: READY
// once allocated reaches the requested count, FAILED with reason when
// sandboxes cannot start, else IN_PROGRESS. It changes nothing when the
// configuration was replaced or deleted since t was read, or is READY
// already. Idempotent.
func (r *Registry) SetProvisionedStatus(ctx context.Context, t ProvisionedTarget, allocated int, reason string) error {
	status := ProvisionedInProgress
	switch {
	case allocated >= t.Config.Requested:
		status, reason, allocated = ProvisionedReady, "", t.Config.Requested
	case reason != "":
		status = ProvisionedFailed
	}
	if c := t.Config; c.Status == ProvisionedReady || c.Status == status && c.Allocated == allocated && c.StatusReason == reason {
		return nil // nothing to write, going by the view
	}
	_, err := r.update(ctx, t.Function, func(f *Function) error {
		c, ok := f.Provisioned[t.Qualifier]
		if !ok || c.Requested != t.Config.Requested || c.LastModified != t.Config.LastModified || c.Status == ProvisionedReady {
			return errUnchanged
		}
		if c.Status == status && c.Allocated == allocated && c.StatusReason == reason {
			return errUnchanged
		}
		c.Status, c.StatusReason, c.Allocated, c.Available = status, reason, allocated, allocated
		f.Provisioned[t.Qualifier] = c
		return nil
	})
	if errors.Is(err, errUnchanged) {
		return nil
	}
	return err
}
