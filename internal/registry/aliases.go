package registry

import (
	"context"
	"errors"
	"sort"
	"strconv"

	"github.com/kumo-run/kumo/internal/awsproto"
)

// CreateAliasInput is the CreateAlias request body.
type CreateAliasInput struct {
	Name            string         `json:"Name"`
	FunctionVersion string         `json:"FunctionVersion"`
	Description     string         `json:"Description"`
	RoutingConfig   *RoutingConfig `json:"RoutingConfig"`
}

// UpdateAliasInput is the UpdateAlias request body. A nil member is left as
// it is; a RoutingConfig without weights removes the alias's routing.
type UpdateAliasInput struct {
	FunctionVersion *string        `json:"FunctionVersion"`
	Description     *string        `json:"Description"`
	RoutingConfig   *RoutingConfig `json:"RoutingConfig"`
	RevisionId      string         `json:"RevisionId"`
}

// Defaults and bounds of list operations' MaxItems.
const (
	DefaultListItems = 50
	MaxListItems     = 10000
)

// errUnchanged ends an update whose change has nothing to do; the caller
// treats it as success without writing.
var errUnchanged = errors.New("registry: nothing to change")

// requireUnqualified refuses a version or alias where an operation applies to
// the function as a whole.
func requireUnqualified(ref Ref) error {
	if ref.Qualifier != "" && ref.Qualifier != Latest {
		return invalid("This operation is permitted on Lambda functions only. Aliases and versions do not support this operation. Please specify either a function name or an unqualified function ARN.")
	}
	return nil
}

func (r *Registry) aliasNotFound(name, alias string) *awsproto.Error {
	return awsproto.Errorf(awsproto.ResourceNotFoundException, "Cannot find alias arn: %s", r.arns.Qualified(name, alias))
}

// validateAliasVersion checks the FunctionVersion member of an alias
// request: $LATEST or a version number.
func validateAliasVersion(v string) error {
	if v == "" {
		return validation("1 validation error detected: Value null at 'functionVersion' failed to satisfy constraint: Member must not be null")
	}
	if v == Latest+".PUBLISHED" {
		return notSupported("FunctionVersion $LATEST.PUBLISHED")
	}
	if len(v) > 1024 || v != Latest && !isDigits(v) {
		return constraint(clip(v), "functionVersion", `Member must satisfy regular expression pattern: (\$LATEST(\.PUBLISHED)?|[0-9]+)`)
	}
	return nil
}

// validateRouting checks what can be checked of a routing configuration
// without the function: the number of entries, their keys and weights.
func validateRouting(rc *RoutingConfig) error {
	if rc == nil {
		return nil
	}
	w := rc.AdditionalVersionWeights
	if len(w) > 1 {
		return invalid("Number of items in AdditionalVersionWeights cannot be greater than 1")
	}
	for k, v := range w {
		entry := "{" + k + "=" + strconv.FormatFloat(v, 'f', -1, 64) + "}"
		if v < 0 || v > 1 {
			return constraint(clip(entry), "routingConfig.additionalVersionWeights",
				"Map value must satisfy constraint: [Member must have value less than or equal to 1.0, Member must have value greater than or equal to 0.0, Member must not be null]")
		}
		if len(k) > 1024 || !isDigits(k) {
			return constraint(clip(entry), "routingConfig.additionalVersionWeights",
				"Map keys must satisfy constraint: [Member must have length less than or equal to 1024, Member must have length greater than or equal to 1, Member must satisfy regular expression pattern: [0-9]+, Member must not be null]")
		}
	}
	return nil
}

// checkVersionExists returns Lambda's not-found error unless v is $LATEST
// or a published version of f.
func (r *Registry) checkVersionExists(f *Function, name, v string) error {
	if v == Latest {
		return nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || !f.hasVersion(n) {
		return notFound(r.arns.Qualified(name, v))
	}
	return nil
}

// checkAliasTarget checks an alias's final version and routing against the
// function: every version exists, the additional version is not the primary
// one, and an alias with weights does not point at $LATEST.
func (r *Registry) checkAliasTarget(f *Function, name, version string, rc *RoutingConfig) error {
	if err := r.checkVersionExists(f, name, version); err != nil {
		return err
	}
	if rc == nil {
		return nil
	}
	for k := range rc.AdditionalVersionWeights {
		if k == version {
			return invalid("Invalid function version %s. Function version %s is already included in routing configuration.", version, version)
		}
		if version == Latest {
			return invalid("$LATEST is not supported for an alias pointing to more than 1 version")
		}
		if err := r.checkVersionExists(f, name, k); err != nil {
			return err
		}
	}
	return nil
}

// routing normalises a routing configuration: no weights is no routing.
func routing(rc *RoutingConfig) *RoutingConfig {
	if rc == nil || len(rc.AdditionalVersionWeights) == 0 {
		return nil
	}
	w := make(map[string]float64, len(rc.AdditionalVersionWeights))
	for k, v := range rc.AdditionalVersionWeights {
		w[k] = v
	}
	return &RoutingConfig{AdditionalVersionWeights: w}
}

// CreateAlias creates an alias of a function pointing at $LATEST or a
// published version, optionally routing a fraction of invocations to a
// second version.
func (r *Registry) CreateAlias(ctx context.Context, ref Ref, in CreateAliasInput) (AliasConfig, error) {
	if err := requireUnqualified(ref); err != nil {
		return AliasConfig{}, err
	}
	if err := ValidateAliasName(in.Name); err != nil {
		return AliasConfig{}, err
	}
	if err := validateAliasVersion(in.FunctionVersion); err != nil {
		return AliasConfig{}, err
	}
	if err := validateDescription(in.Description); err != nil {
		return AliasConfig{}, err
	}
	if err := validateRouting(in.RoutingConfig); err != nil {
		return AliasConfig{}, err
	}
	var out AliasConfig
	_, err := r.update(ctx, ref.Name, func(f *Function) error {
		if err := r.checkVersionExists(f, ref.Name, in.FunctionVersion); err != nil {
			return err
		}
		arn := r.arns.Qualified(ref.Name, in.Name)
		if _, ok := f.Aliases[in.Name]; ok {
			return awsproto.Errorf(awsproto.ResourceConflictException, "Alias already exists: %s", arn)
		}
		rc := routing(in.RoutingConfig)
		if err := r.checkAliasTarget(f, ref.Name, in.FunctionVersion, rc); err != nil {
			return err
		}
		out = AliasConfig{
			AliasArn:        arn,
			Name:            in.Name,
			FunctionVersion: in.FunctionVersion,
			Description:     in.Description,
			RoutingConfig:   rc,
			RevisionId:      newRevisionID(),
		}
		if f.Aliases == nil {
			f.Aliases = map[string]AliasConfig{}
		}
		f.Aliases[in.Name] = out
		return nil
	})
	if err != nil {
		return AliasConfig{}, err
	}
	return out, nil
}

// GetAlias returns one alias of a function.
func (r *Registry) GetAlias(ctx context.Context, ref Ref, alias string) (AliasConfig, error) {
	if err := requireUnqualified(ref); err != nil {
		return AliasConfig{}, err
	}
	if err := ValidateAliasName(alias); err != nil {
		return AliasConfig{}, err
	}
	st := r.view(ref.Name)
	if st == nil {
		return AliasConfig{}, notFound(r.arns.Function(ref.Name))
	}
	a, ok := st.fn.Aliases[alias]
	if !ok {
		return AliasConfig{}, r.aliasNotFound(ref.Name, alias)
	}
	return a, nil
}

// UpdateAlias changes an alias's version, description or routing. Every
// call, even one that changes nothing, gives the alias a new RevisionId.
func (r *Registry) UpdateAlias(ctx context.Context, ref Ref, alias string, in UpdateAliasInput) (AliasConfig, error) {
	if err := requireUnqualified(ref); err != nil {
		return AliasConfig{}, err
	}
	if err := ValidateAliasName(alias); err != nil {
		return AliasConfig{}, err
	}
	if in.FunctionVersion != nil {
		if err := validateAliasVersion(*in.FunctionVersion); err != nil {
			return AliasConfig{}, err
		}
	}
	if in.Description != nil {
		if err := validateDescription(*in.Description); err != nil {
			return AliasConfig{}, err
		}
	}
	if err := validateRouting(in.RoutingConfig); err != nil {
		return AliasConfig{}, err
	}
	var out AliasConfig
	_, err := r.update(ctx, ref.Name, func(f *Function) error {
		a, ok := f.Aliases[alias]
		if !ok {
			return r.aliasNotFound(ref.Name, alias)
		}
		if err := checkRevision(in.RevisionId, a.RevisionId); err != nil {
			return err
		}
		if in.FunctionVersion != nil {
			a.FunctionVersion = *in.FunctionVersion
		}
		if in.Description != nil {
			a.Description = *in.Description
		}
		if in.RoutingConfig != nil {
			a.RoutingConfig = routing(in.RoutingConfig)
		}
		if err := r.checkAliasTarget(f, ref.Name, a.FunctionVersion, a.RoutingConfig); err != nil {
			return err
		}
		a.AliasArn = r.arns.Qualified(ref.Name, alias)
		a.RevisionId = newRevisionID()
		f.Aliases[alias] = a
		out = a
		return nil
	})
	if err != nil {
		return AliasConfig{}, err
	}
	return out, nil
}

// DeleteAlias deletes an alias and its resource policy. Deleting an alias
// that does not exist succeeds, as it does in Lambda; the function must
// exist.
func (r *Registry) DeleteAlias(ctx context.Context, ref Ref, alias string) error {
	if err := requireUnqualified(ref); err != nil {
		return err
	}
	if err := ValidateAliasName(alias); err != nil {
		return err
	}
	_, err := r.update(ctx, ref.Name, func(f *Function) error {
		_, hasAlias := f.Aliases[alias]
		_, hasPolicy := f.Policies[alias]
		if !hasAlias && !hasPolicy {
			return errUnchanged
		}
		delete(f.Aliases, alias)
		delete(f.Policies, alias)
		delete(f.URLConfigs, alias)
		return nil
	})
	if errors.Is(err, errUnchanged) {
		return nil
	}
	return err
}

// ListAliases lists a function's aliases sorted by name, only those whose
// primary version is functionVersion when it is set. marker is the NextMarker
// of the previous page; max ≤ 0 means DefaultListItems. The returned marker
// is empty on the last page.
func (r *Registry) ListAliases(ctx context.Context, ref Ref, functionVersion, marker string, max int) ([]AliasConfig, string, error) {
	if err := requireUnqualified(ref); err != nil {
		return nil, "", err
	}
	if functionVersion != "" {
		if err := validateAliasVersion(functionVersion); err != nil {
			return nil, "", err
		}
	}
	after, err := decodeMarker(marker)
	if err != nil {
		return nil, "", err
	}
	switch {
	case max <= 0:
		max = DefaultListItems
	case max > MaxListItems:
		max = MaxListItems
	}
	st := r.view(ref.Name)
	if st == nil {
		return nil, "", notFound(r.arns.Function(ref.Name))
	}
	names := make([]string, 0, len(st.fn.Aliases))
	for name, a := range st.fn.Aliases {
		if functionVersion != "" && a.FunctionVersion != functionVersion {
			continue
		}
		if after != "" && name <= after {
			continue
		}
		names = append(names, name)
	}
	sort.Strings(names)
	out := make([]AliasConfig, 0, min(len(names), max))
	for _, name := range names {
		if len(out) == max {
			return out, encodeMarker(out[len(out)-1].Name), nil
		}
		out = append(out, st.fn.Aliases[name])
	}
	return out, "", nil
}
