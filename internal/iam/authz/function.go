package authz

import (
	"encoding/json"
	"sync"

	"github.com/kumo-run/kumo/internal/iam"
	"github.com/kumo-run/kumo/internal/registry"
)

// FunctionPolicies compiles Lambda function policies (the statements
// AddPermission writes) into *iam.Policy once per change, for the checks
// of every request on a function. It is safe for concurrent use.
//
// A policy is recompiled when the registry's statements for it are no
// longer the ones compiled: the registry replaces a qualifier's statement
// slice on every change (AddPermission, RemovePermission, a watched update
// from another node) and never modifies one in place, so the slice's
// first element and length identify a revision. Holding the compiled
// slice keeps its array alive, so its address cannot be reused.
type FunctionPolicies struct {
	// Statements returns a qualifier's statements, nil if it has none:
	// registry.Registry.Policy.
	Statements func(name, qualifier string) []registry.Statement

	mu sync.RWMutex
	m  map[fnKey]fnPolicy
}

type fnKey struct{ name, qualifier string }

type fnPolicy struct {
	first *registry.Statement
	n     int
	p     *iam.Policy
}

// Get returns the compiled policy of a function (qualifier "" or
// "$LATEST"), version or alias; nil if it has none. A nil receiver has no
// policies.
func (f *FunctionPolicies) Get(name, qualifier string) *iam.Policy {
	if f == nil || f.Statements == nil {
		return nil
	}
	if qualifier == registry.Latest {
		qualifier = ""
	}
	st := f.Statements(name, qualifier)
	k := fnKey{name, qualifier}
	if len(st) == 0 {
		f.mu.RLock()
		_, ok := f.m[k]
		f.mu.RUnlock()
		if ok {
			f.mu.Lock()
			delete(f.m, k)
			f.mu.Unlock()
		}
		return nil
	}
	f.mu.RLock()
	e, ok := f.m[k]
	f.mu.RUnlock()
	if ok && e.first == &st[0] && e.n == len(st) {
		return e.p
	}
	e = fnPolicy{first: &st[0], n: len(st), p: compileFunction(st)}
	f.mu.Lock()
	if f.m == nil {
		f.m = make(map[fnKey]fnPolicy)
	}
	f.m[k] = e
	f.mu.Unlock()
	return e.p
}

// compileFunction parses statements as the policy document GetPolicy
// shows. Statements the registry accepted always parse; one that did not
// would grant nothing, so it yields an empty policy rather than none.
func compileFunction(st []registry.Statement) *iam.Policy {
	doc, err := json.Marshal(struct {
		Version   string               `json:"Version"`
		ID        string               `json:"Id"`
		Statement []registry.Statement `json:"Statement"`
	}{iam.Version2012, "default", st})
	if err == nil {
		if p, err := iam.Parse(string(doc), iam.KindResource); err == nil {
			return p
		}
	}
	return &iam.Policy{Kind: iam.KindResource}
}
