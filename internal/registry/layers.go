package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/kumo-run/kumo/internal/awsproto"
	"github.com/kumo-run/kumo/internal/awsproto/arn"
	"github.com/kumo-run/kumo/internal/store"
)

// Layers live under their own keys in the registry bucket:
//
//	layer.<name>.<n>     layer version n (immutable once visible)
//	layerctr.<name>      the highest version number ever published
//	layerpol.<name>.<n>  the resource policy of layer version n
//
// A version key is written before the counter that makes it visible, so a
// crash between the two leaves an invisible version (n > counter) that the
// next publish overwrites. Numbers are never reused: deleting a version
// leaves the counter alone.

func layerKey(name string, n int) string    { return "layer." + name + "." + strconv.Itoa(n) }
func layerCtrKey(name string) string        { return "layerctr." + name }
func layerPolKey(name string, n int) string { return "layerpol." + name + "." + strconv.Itoa(n) }

// Limits of the layer API.
const (
	MaxLayerName          = 140
	MaxLicenseInfo        = 512
	MaxCompatibleRuntimes = 15
	MaxStatementID        = 100
)

// LayerCode is what a function version keeps of each layer it uses, so that
// it runs even after the layer version is deleted.
type LayerCode struct {
	Arn          string `json:"arn"`
	Blob         string `json:"blob"`
	UnzippedSize int64  `json:"unzipped"`
}

// Blob is the name of the layer's zip in the code bucket; "" for a layer
// whose code the registry does not know.
func (l Layer) Blob() string { return l.blob }

// syncLayers records the code of v's layers in v.Code before v is stored.
func (v *Version) syncLayers() {
	if len(v.Config.Layers) == 0 {
		v.Code.Layers = nil
		return
	}
	out := make([]LayerCode, 0, len(v.Config.Layers))
	for _, l := range v.Config.Layers {
		lc := LayerCode{Arn: l.Arn, Blob: l.blob, UnzippedSize: l.unzipped}
		if lc.Blob == "" {
			for _, old := range v.Code.Layers {
				if old.Arn == l.Arn {
					lc = old
				}
			}
		}
		out = append(out, lc)
	}
	v.Code.Layers = out
}

// fillLayers gives v's layers their code after v was read from the store.
func (v *Version) fillLayers() {
	for i := range v.Config.Layers {
		for _, lc := range v.Code.Layers {
			if lc.Arn == v.Config.Layers[i].Arn {
				v.Config.Layers[i].blob, v.Config.Layers[i].unzipped = lc.Blob, lc.UnzippedSize
			}
		}
	}
}

// LayerContent is the Content member of PublishLayerVersion.
type LayerContent struct {
	S3Bucket        string `json:"S3Bucket"`
	S3Key           string `json:"S3Key"`
	S3ObjectVersion string `json:"S3ObjectVersion"`
	ZipFile         []byte `json:"ZipFile"`
}

// PublishLayerInput is the PublishLayerVersion request body.
type PublishLayerInput struct {
	Description             string        `json:"Description"`
	Content                 *LayerContent `json:"Content"`
	CompatibleRuntimes      []string      `json:"CompatibleRuntimes"`
	LicenseInfo             string        `json:"LicenseInfo"`
	CompatibleArchitectures []string      `json:"CompatibleArchitectures"`
}

// LayerVersion is one stored layer version.
type LayerVersion struct {
	LayerName               string   `json:"name"`
	LayerArn                string   `json:"layerArn"`
	LayerVersionArn         string   `json:"arn"`
	Version                 int64    `json:"version"`
	Description             string   `json:"description,omitempty"`
	CreatedDate             string   `json:"created"`
	CompatibleRuntimes      []string `json:"runtimes,omitempty"`
	CompatibleArchitectures []string `json:"architectures,omitempty"`
	LicenseInfo             string   `json:"license,omitempty"`
	CodeSha256              string   `json:"sha256"`
	CodeSize                int64    `json:"size"`
	Blob                    string   `json:"blob"`
	UnzippedSize            int64    `json:"unzipped"`
}

// LayerVersionItem is the LayerVersionsListItem shape.
type LayerVersionItem struct {
	LayerVersionArn         string   `json:"LayerVersionArn"`
	Version                 int64    `json:"Version"`
	Description             string   `json:"Description,omitempty"`
	CreatedDate             string   `json:"CreatedDate"`
	CompatibleRuntimes      []string `json:"CompatibleRuntimes,omitempty"`
	LicenseInfo             string   `json:"LicenseInfo,omitempty"`
	CompatibleArchitectures []string `json:"CompatibleArchitectures,omitempty"`
}

// Item is the version as ListLayerVersions shows it.
func (lv *LayerVersion) Item() LayerVersionItem {
	return LayerVersionItem{
		LayerVersionArn: lv.LayerVersionArn, Version: lv.Version, Description: lv.Description,
		CreatedDate: lv.CreatedDate, CompatibleRuntimes: lv.CompatibleRuntimes, LicenseInfo: lv.LicenseInfo,
		CompatibleArchitectures: lv.CompatibleArchitectures,
	}
}

// LayerItem is the LayersListItem shape.
type LayerItem struct {
	LayerName             string           `json:"LayerName"`
	LayerArn              string           `json:"LayerArn"`
	LatestMatchingVersion LayerVersionItem `json:"LatestMatchingVersion"`
}

// LayerFilter selects layer versions by compatibility; "" matches all.
type LayerFilter struct {
	Runtime      string
	Architecture string
}

func (f LayerFilter) match(lv *LayerVersion) bool {
	if f.Runtime != "" && !slices.Contains(lv.CompatibleRuntimes, f.Runtime) {
		return false
	}
	if f.Architecture != "" && !slices.Contains(lv.CompatibleArchitectures, f.Architecture) {
		return false
	}
	return true
}

// layerState is the view of one layer.
type layerState struct {
	last     int
	versions map[int]*LayerVersion
	policies map[int]*layerPolicy
}

type layerPolicy struct {
	Policy
	rev uint64
}

// visible returns version n if it exists and is counted.
func (ls *layerState) visible(n int) *LayerVersion {
	if ls == nil || n > ls.last {
		return nil
	}
	return ls.versions[n]
}

// LayerArn is the ARN of a layer (without a version).
func (a ARNs) LayerArn(name string) string { return a.Scope().Layer(name) }

// LayerVersionArn is the ARN of a layer version.
func (a ARNs) LayerVersionArn(name string, n int) string { return a.Scope().LayerVersion(name, n) }

func layerNotFound() *awsproto.Error {
	return awsproto.Errorf(awsproto.ResourceNotFoundException, "The resource you requested does not exist.")
}

// ParseLayerName accepts a layer name or a layer ARN of this account and
// region and returns the name.
func (r *Registry) ParseLayerName(s string) (string, error) {
	if len(s) == 0 || len(s) > MaxLayerName {
		return "", constraint(clip(s), "layerName", fmt.Sprintf("Member must have length less than or equal to %d", MaxLayerName))
	}
	if isNameToken(s) {
		return s, nil
	}
	if l, err := arn.ParseLayer(s); err == nil && l.Version == 0 {
		if l.Scope != r.arns.Scope() {
			return "", layerNotFound()
		}
		return l.Name, nil
	}
	return "", constraint(clip(s), "layerName", `Member must satisfy regular expression pattern: (arn:[a-zA-Z0-9-]+:lambda:[a-zA-Z0-9-]+:\d{12}:layer:[a-zA-Z0-9-_]+)|[a-zA-Z0-9-_]+`)
}

// parseLayerVersionARN splits a layer version ARN of this account and region
// into name and version; ok is false for any other ARN.
func (r *Registry) parseLayerVersionARN(s string) (name string, n int, ok bool) {
	l, err := arn.ParseLayer(s)
	if err != nil || l.Version == 0 || l.Scope != r.arns.Scope() {
		return "", 0, false
	}
	return l.Name, l.Version, true
}

// applyLayer puts one layer key into the view. The caller holds r.mu.
func (r *Registry) applyLayer(e store.Entry) {
	var prefix string
	switch {
	case strings.HasPrefix(e.Key, "layer."):
		prefix = "layer."
	case strings.HasPrefix(e.Key, "layerctr."):
		name := e.Key[len("layerctr."):]
		ls := r.layerState(name)
		if e.Deleted {
			return
		}
		n, err := strconv.Atoi(string(e.Value))
		if err != nil {
			r.log.Error("registry: undecodable layer counter", "key", e.Key, "err", err)
			return
		}
		ls.last = n
		return
	case strings.HasPrefix(e.Key, "layerpol."):
		prefix = "layerpol."
	default:
		return
	}
	rest := e.Key[len(prefix):]
	i := strings.LastIndexByte(rest, '.')
	if i < 0 {
		return
	}
	name := rest[:i]
	n, err := strconv.Atoi(rest[i+1:])
	if err != nil {
		return
	}
	ls := r.layerState(name)
	if prefix == "layerpol." {
		if e.Deleted {
			delete(ls.policies, n)
			return
		}
		var p Policy
		if err := json.Unmarshal(e.Value, &p); err != nil {
			r.log.Error("registry: undecodable layer policy", "key", e.Key, "err", err)
			return
		}
		ls.policies[n] = &layerPolicy{Policy: p, rev: e.Revision}
		return
	}
	if e.Deleted {
		delete(ls.versions, n)
		return
	}
	var lv LayerVersion
	if err := json.Unmarshal(e.Value, &lv); err != nil {
		r.log.Error("registry: undecodable layer version", "key", e.Key, "err", err)
		return
	}
	ls.versions[n] = &lv
}

// layerState returns the view of a layer, creating it. The caller holds r.mu.
func (r *Registry) layerState(name string) *layerState {
	ls := r.layers[name]
	if ls == nil {
		ls = &layerState{versions: map[int]*LayerVersion{}, policies: map[int]*layerPolicy{}}
		r.layers[name] = ls
	}
	return ls
}

// layerVersion returns a visible layer version from the view, or nil.
func (r *Registry) layerVersion(name string, n int) *LayerVersion {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.layers[name].visible(n)
}

// Layer resolves a layer version ARN for a function's configuration: the
// registry is its own LayerResolver.
func (r *Registry) Layer(ctx context.Context, arn string) (Layer, error) {
	name, n, ok := r.parseLayerVersionARN(arn)
	if !ok {
		return Layer{}, invalid("Layer version %s does not exist.", arn)
	}
	lv := r.layerVersion(name, n)
	if lv == nil {
		return Layer{}, invalid("Layer version %s does not exist.", arn)
	}
	return Layer{Arn: lv.LayerVersionArn, CodeSize: lv.CodeSize, blob: lv.Blob, unzipped: lv.UnzippedSize}, nil
}

func validateLayerCompat(in *PublishLayerInput) error {
	if len(in.CompatibleRuntimes) > MaxCompatibleRuntimes {
		return constraint("["+strings.Join(in.CompatibleRuntimes, ", ")+"]", "compatibleRuntimes", fmt.Sprintf("Member must have length less than or equal to %d", MaxCompatibleRuntimes))
	}
	for _, rt := range in.CompatibleRuntimes {
		if _, ok := runtimes[rt]; !ok {
			return constraint("["+strings.Join(in.CompatibleRuntimes, ", ")+"]", "compatibleRuntimes", "Member must satisfy constraint: [Member must satisfy enum value set: [see the Runtime shape]]")
		}
	}
	if len(in.CompatibleArchitectures) > 2 {
		return constraint("["+strings.Join(in.CompatibleArchitectures, ", ")+"]", "compatibleArchitectures", "Member must have length less than or equal to 2")
	}
	for _, a := range in.CompatibleArchitectures {
		if a != "x86_64" && a != "arm64" {
			return constraint("["+strings.Join(in.CompatibleArchitectures, ", ")+"]", "compatibleArchitectures", "Member must satisfy constraint: [Member must satisfy enum value set: [x86_64, arm64]]")
		}
	}
	if len(in.LicenseInfo) > MaxLicenseInfo {
		return constraint(clip(in.LicenseInfo), "licenseInfo", fmt.Sprintf("Member must have length less than or equal to %d", MaxLicenseInfo))
	}
	return validateDescription(in.Description)
}

// PublishLayerVersion stores a new version of a layer, creating the layer
// on its first version.
func (r *Registry) PublishLayerVersion(ctx context.Context, layer string, in *PublishLayerInput) (*LayerVersion, error) {
	name, err := r.ParseLayerName(layer)
	if err != nil {
		return nil, err
	}
	if in.Content == nil {
		return nil, validation("1 validation error detected: Value null at 'content' failed to satisfy constraint: Member must not be null")
	}
	switch {
	case in.Content.S3Bucket != "" || in.Content.S3Key != "":
		return nil, notSupported("Content.S3Bucket (upload the layer with ZipFile)")
	case len(in.Content.ZipFile) == 0:
		return nil, invalid("Please provide a source for layer content.")
	}
	if err := validateLayerCompat(in); err != nil {
		return nil, err
	}
	info, err := inspectZip(in.Content.ZipFile, 0)
	if err != nil {
		return nil, err
	}
	if err := r.checkCodeStorage(info.Size); err != nil {
		return nil, err
	}
	code, err := r.storeCode(ctx, in.Content.ZipFile, info)
	if err != nil {
		return nil, err
	}
	lv := LayerVersion{
		LayerName: name, LayerArn: r.arns.LayerArn(name), Description: in.Description,
		CreatedDate: r.timestamp(), CompatibleRuntimes: in.CompatibleRuntimes,
		CompatibleArchitectures: in.CompatibleArchitectures, LicenseInfo: in.LicenseInfo,
		CodeSha256: info.Sha256, CodeSize: info.Size, Blob: code.Blob, UnzippedSize: code.UnzippedSize,
	}
	for attempt := 0; attempt < 32; attempt++ {
		last, rev := 0, uint64(0)
		e, err := r.kv.Get(ctx, layerCtrKey(name))
		switch {
		case err == nil:
			if last, err = strconv.Atoi(string(e.Value)); err != nil {
				return nil, awsproto.Internal(fmt.Errorf("layer counter %s: %w", name, err))
			}
			rev = e.Revision
		case !errors.Is(err, store.ErrNotFound):
			return nil, awsproto.Internal(err)
		}
		n := last + 1
		lv.Version, lv.LayerVersionArn = int64(n), r.arns.LayerVersionArn(name, n)
		b, err := json.Marshal(&lv)
		if err != nil {
			return nil, awsproto.Internal(err)
		}
		vrev, err := r.kv.Put(ctx, layerKey(name, n), b)
		if err != nil {
			return nil, awsproto.Internal(err)
		}
		r.apply(store.Entry{Key: layerKey(name, n), Value: b, Revision: vrev})
		ctr := []byte(strconv.Itoa(n))
		var crev uint64
		if rev == 0 {
			crev, err = r.kv.Create(ctx, layerCtrKey(name), ctr)
		} else {
			crev, err = r.kv.Update(ctx, layerCtrKey(name), ctr, rev)
		}
		if errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrExists) {
			continue
		}
		if err != nil {
			return nil, awsproto.Internal(err)
		}
		r.apply(store.Entry{Key: layerCtrKey(name), Value: ctr, Revision: crev})
		return &lv, nil
	}
	return nil, awsproto.Errorf(awsproto.ResourceConflictException,
		"The operation cannot be performed at this time. The resource %s is being modified concurrently; retry the request.", r.arns.LayerArn(name))
}

// parseVersionNumber checks the {VersionNumber} path member.
func parseVersionNumber(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		return 0, layerNotFound()
	}
	return n, nil
}

// GetLayerVersion returns one layer version.
func (r *Registry) GetLayerVersion(ctx context.Context, layer, version string) (*LayerVersion, error) {
	name, err := r.ParseLayerName(layer)
	if err != nil {
		return nil, err
	}
	n, err := parseVersionNumber(version)
	if err != nil {
		return nil, err
	}
	lv := r.layerVersion(name, n)
	if lv == nil {
		return nil, layerNotFound()
	}
	return lv, nil
}

// GetLayerVersionByArn returns the layer version an ARN names.
func (r *Registry) GetLayerVersionByArn(ctx context.Context, arn string) (*LayerVersion, error) {
	if err := validateLayerARN(arn); err != nil {
		return nil, constraint(clip(arn), "arn", `Member must satisfy regular expression pattern: arn:[a-zA-Z0-9-]+:lambda:[a-zA-Z0-9-]+:\d{12}:layer:[a-zA-Z0-9-_]+:[0-9]+`)
	}
	name, n, ok := r.parseLayerVersionARN(arn)
	if !ok {
		return nil, layerNotFound()
	}
	lv := r.layerVersion(name, n)
	if lv == nil {
		return nil, layerNotFound()
	}
	return lv, nil
}

// ListLayers lists each layer with its latest version that matches the
// filter, sorted by name, after the marker.
func (r *Registry) ListLayers(ctx context.Context, filter LayerFilter, marker string, max int) ([]LayerItem, string, error) {
	if max <= 0 {
		max = DefaultListItems
	}
	after, err := decodeMarker(marker)
	if err != nil {
		return nil, "", err
	}
	r.mu.RLock()
	names := make([]string, 0, len(r.layers))
	for name := range r.layers {
		if after == "" || name > after {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	var out []LayerItem
	for _, name := range names {
		ls := r.layers[name]
		var best *LayerVersion
		for n := ls.last; n >= 1 && best == nil; n-- {
			if lv := ls.versions[n]; lv != nil && filter.match(lv) {
				best = lv
			}
		}
		if best == nil {
			continue
		}
		if len(out) == max {
			r.mu.RUnlock()
			return out, encodeMarker(out[len(out)-1].LayerName), nil
		}
		out = append(out, LayerItem{LayerName: name, LayerArn: best.LayerArn, LatestMatchingVersion: best.Item()})
	}
	r.mu.RUnlock()
	return out, "", nil
}

// ListLayerVersions lists a layer's versions that match the filter, newest
// first, after the marker.
func (r *Registry) ListLayerVersions(ctx context.Context, layer string, filter LayerFilter, marker string, max int) ([]LayerVersionItem, string, error) {
	name, err := r.ParseLayerName(layer)
	if err != nil {
		return nil, "", err
	}
	if max <= 0 {
		max = DefaultListItems
	}
	after, err := decodeMarker(marker)
	if err != nil {
		return nil, "", err
	}
	below := int(^uint(0) >> 1)
	if after != "" {
		if below, err = strconv.Atoi(after); err != nil {
			return nil, "", invalid("Invalid marker: %s", clip(marker))
		}
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := []LayerVersionItem{}
	ls := r.layers[name]
	if ls == nil {
		return out, "", nil
	}
	for n := min(ls.last, below-1); n >= 1; n-- {
		lv := ls.versions[n]
		if lv == nil || !filter.match(lv) {
			continue
		}
		if len(out) == max {
			return out, encodeMarker(strconv.FormatInt(out[len(out)-1].Version, 10)), nil
		}
		out = append(out, lv.Item())
	}
	return out, "", nil
}

// DeleteLayerVersion deletes a layer version. Functions that use it keep
// running: their versions hold the layer's code. Deleting a version that
// does not exist succeeds, as on Lambda.
func (r *Registry) DeleteLayerVersion(ctx context.Context, layer, version string) error {
	name, err := r.ParseLayerName(layer)
	if err != nil {
		return err
	}
	n, err := parseVersionNumber(version)
	if err != nil {
		return nil
	}
	for _, key := range []string{layerPolKey(name, n), layerKey(name, n)} {
		e, err := r.kv.Get(ctx, key)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return awsproto.Internal(err)
		}
		if err := r.kv.Delete(ctx, key, 0); err != nil && !errors.Is(err, store.ErrNotFound) {
			return awsproto.Internal(err)
		}
		r.apply(store.Entry{Key: key, Deleted: true, Revision: e.Revision + 1})
	}
	r.collect()
	return nil
}

// AddLayerPermissionInput is the AddLayerVersionPermission request body.
type AddLayerPermissionInput struct {
	StatementId    string `json:"StatementId"`
	Action         string `json:"Action"`
	Principal      string `json:"Principal"`
	OrganizationId string `json:"OrganizationId"`
}

func validateStatementID(sid string) error {
	if sid == "" || len(sid) > MaxStatementID {
		return constraint(clip(sid), "statementId", fmt.Sprintf("Member must have length less than or equal to %d", MaxStatementID))
	}
	if !isNameToken(sid) {
		return constraint(clip(sid), "statementId", "Member must satisfy regular expression pattern: ([a-zA-Z0-9-_]+)")
	}
	return nil
}

// layerPrincipal is a statement's Principal for a layer permission: "*",
// an account id, or an ARN.
func layerPrincipal(partition, p string) (any, error) {
	switch {
	case p == "*":
		return "*", nil
	case arn.IsAccount(p):
		return map[string]string{"AWS": arn.Scope{Partition: partition, Account: p}.Root()}, nil
	case strings.HasPrefix(p, "arn:"):
		return map[string]string{"AWS": p}, nil
	}
	return nil, constraint(clip(p), "principal", `Member must satisfy regular expression pattern: \d{12}|\*|arn:(aws[a-zA-Z-]*):iam::\d{12}:root`)
}

// editLayerPolicy is the read-modify-write of one layer version's policy.
// change returns the statement it added, if any.
func (r *Registry) editLayerPolicy(ctx context.Context, name string, n int, revisionID string, change func(p *Policy) error) (Policy, error) {
	for attempt := 0; attempt < 32; attempt++ {
		if r.layerVersion(name, n) == nil {
			return Policy{}, layerNotFound()
		}
		var p Policy
		var rev uint64
		e, err := r.kv.Get(ctx, layerPolKey(name, n))
		switch {
		case err == nil:
			if err := json.Unmarshal(e.Value, &p); err != nil {
				return Policy{}, awsproto.Internal(err)
			}
			rev = e.Revision
		case !errors.Is(err, store.ErrNotFound):
			return Policy{}, awsproto.Internal(err)
		}
		if revisionID != "" && revisionID != p.RevisionId {
			return Policy{}, awsproto.Errorf(awsproto.PreconditionFailedException,
				"The Revision Id provided does not match the latest Revision Id. Call the GetLayerVersionPolicy API to retrieve the latest Revision Id")
		}
		if err := change(&p); err != nil {
			return Policy{}, err
		}
		p.RevisionId = newRevisionID()
		b, err := json.Marshal(p)
		if err != nil {
			return Policy{}, awsproto.Internal(err)
		}
		var nrev uint64
		if rev == 0 {
			nrev, err = r.kv.Create(ctx, layerPolKey(name, n), b)
		} else {
			nrev, err = r.kv.Update(ctx, layerPolKey(name, n), b, rev)
		}
		if errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrExists) {
			continue
		}
		if err != nil {
			return Policy{}, awsproto.Internal(err)
		}
		r.apply(store.Entry{Key: layerPolKey(name, n), Value: b, Revision: nrev})
		return p, nil
	}
	return Policy{}, awsproto.Errorf(awsproto.ResourceConflictException,
		"The operation cannot be performed at this time. The resource %s is being modified concurrently; retry the request.", r.arns.LayerVersionArn(name, n))
}

// AddLayerVersionPermission adds a statement to a layer version's policy
// and returns the statement as JSON and the policy's new revision. The
// statements are stored; Kumo does not enforce them yet.
func (r *Registry) AddLayerVersionPermission(ctx context.Context, layer, version, revisionID string, in AddLayerPermissionInput) (string, string, error) {
	name, err := r.ParseLayerName(layer)
	if err != nil {
		return "", "", err
	}
	n, err := parseVersionNumber(version)
	if err != nil {
		return "", "", err
	}
	if err := validateStatementID(in.StatementId); err != nil {
		return "", "", err
	}
	if in.Action != "lambda:GetLayerVersion" {
		return "", "", constraint(clip(in.Action), "action", "Member must satisfy regular expression pattern: lambda:GetLayerVersion")
	}
	principal, err := layerPrincipal(r.arns.Partition, in.Principal)
	if err != nil {
		return "", "", err
	}
	if in.OrganizationId != "" && in.Principal != "*" {
		return "", "", invalid("OrganizationId can only be specified when Principal is '*'.")
	}
	st := Statement{Sid: in.StatementId, Effect: "Allow", Principal: principal, Action: in.Action, Resource: r.arns.LayerVersionArn(name, n)}
	if in.OrganizationId != "" {
		st.Condition = map[string]map[string]string{"StringEquals": {"aws:PrincipalOrgID": in.OrganizationId}}
	}
	p, err := r.editLayerPolicy(ctx, name, n, revisionID, func(p *Policy) error {
		for _, s := range p.Statements {
			if s.Sid == in.StatementId {
				return awsproto.Errorf(awsproto.ResourceConflictException,
					"The statement id (%s) provided already exists. Please provide a new statement id, or remove the existing statement.", in.StatementId)
			}
		}
		p.Statements = append(p.Statements, st)
		return nil
	})
	if err != nil {
		return "", "", err
	}
	s, err := policyJSON(st)
	return s, p.RevisionId, err
}

// RemoveLayerVersionPermission removes a statement from a layer version's
// policy.
func (r *Registry) RemoveLayerVersionPermission(ctx context.Context, layer, version, sid, revisionID string) error {
	name, err := r.ParseLayerName(layer)
	if err != nil {
		return err
	}
	n, err := parseVersionNumber(version)
	if err != nil {
		return err
	}
	_, err = r.editLayerPolicy(ctx, name, n, revisionID, func(p *Policy) error {
		i := slices.IndexFunc(p.Statements, func(s Statement) bool { return s.Sid == sid })
		if i < 0 {
			return awsproto.Errorf(awsproto.ResourceNotFoundException, "Statement %s is not found in resource policy.", sid)
		}
		p.Statements = slices.Delete(p.Statements, i, i+1)
		return nil
	})
	return err
}

// GetLayerVersionPolicy returns a layer version's policy document and
// revision.
func (r *Registry) GetLayerVersionPolicy(ctx context.Context, layer, version string) (string, string, error) {
	name, err := r.ParseLayerName(layer)
	if err != nil {
		return "", "", err
	}
	n, err := parseVersionNumber(version)
	if err != nil {
		return "", "", err
	}
	r.mu.RLock()
	ls := r.layers[name]
	lv := ls.visible(n)
	var p *layerPolicy
	if lv != nil {
		p = ls.policies[n]
	}
	r.mu.RUnlock()
	if lv == nil {
		return "", "", layerNotFound()
	}
	if p == nil || len(p.Statements) == 0 {
		return "", "", awsproto.Errorf(awsproto.ResourceNotFoundException, "No policy is associated with the given resource.")
	}
	doc, err := renderPolicy(p.Policy)
	return doc, p.RevisionId, err
}

// LayerStatements returns the statements of a layer version's policy.
func (r *Registry) LayerStatements(name string, n int) []Statement {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if ls := r.layers[name]; ls != nil && ls.policies[n] != nil {
		return slices.Clone(ls.policies[n].Statements)
	}
	return nil
}

// layerBlobsInUse marks the blobs of every layer version and of every layer
// a function version uses. The caller holds r.mu.
func (r *Registry) layerBlobsInUse(used map[string]bool) {
	for _, ls := range r.layers {
		for _, lv := range ls.versions {
			used[lv.Blob] = true
		}
	}
	for _, st := range r.fns {
		for _, lc := range st.fn.Latest.Code.Layers {
			used[lc.Blob] = true
		}
		for _, v := range st.versions {
			for _, lc := range v.Code.Layers {
				used[lc.Blob] = true
			}
		}
	}
}
