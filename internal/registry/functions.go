package registry

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/kumo-run/kumo/internal/awsproto"
	"github.com/kumo-run/kumo/internal/codezip"
	"github.com/kumo-run/kumo/internal/store"
)

// ConfigInput holds the configuration members that CreateFunction and
// UpdateFunctionConfiguration share. A nil member is not being set.
type ConfigInput struct {
	Role             *string           `json:"Role"`
	Handler          *string           `json:"Handler"`
	Description      *string           `json:"Description"`
	Timeout          *int              `json:"Timeout"`
	MemorySize       *int              `json:"MemorySize"`
	Runtime          *string           `json:"Runtime"`
	VpcConfig        *VpcConfig        `json:"VpcConfig"`
	DeadLetterConfig *DeadLetterConfig `json:"DeadLetterConfig"`
	Environment      *Environment      `json:"Environment"`
	KMSKeyArn        *string           `json:"KMSKeyArn"`
	TracingConfig    *TracingConfig    `json:"TracingConfig"`
	Layers           *[]string         `json:"Layers"`
	EphemeralStorage *EphemeralStorage `json:"EphemeralStorage"`
	SnapStart        *struct {
		ApplyOn string `json:"ApplyOn"`
	} `json:"SnapStart"`
	LoggingConfig *LoggingConfig `json:"LoggingConfig"`
	// Members Kumo does not support; set, they are refused.
	FileSystemConfigs    json.RawMessage `json:"FileSystemConfigs"`
	ImageConfig          json.RawMessage `json:"ImageConfig"`
	CapacityProvider     json.RawMessage `json:"CapacityProviderConfig"`
	DurableConfig        json.RawMessage `json:"DurableConfig"`
	CodeSigningConfigArn string          `json:"CodeSigningConfigArn"`
}

// FunctionCode is the Code member of CreateFunction.
type FunctionCode struct {
	ZipFile         []byte `json:"ZipFile"`
	S3Bucket        string `json:"S3Bucket"`
	S3Key           string `json:"S3Key"`
	S3ObjectVersion string `json:"S3ObjectVersion"`
	ImageUri        string `json:"ImageUri"`
}

// CreateFunctionInput is the CreateFunction request.
type CreateFunctionInput struct {
	ConfigInput
	FunctionName  string            `json:"FunctionName"`
	Code          *FunctionCode     `json:"Code"`
	Publish       bool              `json:"Publish"`
	PackageType   string            `json:"PackageType"`
	Tags          map[string]string `json:"Tags"`
	Architectures []string          `json:"Architectures"`
}

// UpdateCodeInput is the UpdateFunctionCode request body.
type UpdateCodeInput struct {
	ZipFile         []byte   `json:"ZipFile"`
	S3Bucket        string   `json:"S3Bucket"`
	S3Key           string   `json:"S3Key"`
	S3ObjectVersion string   `json:"S3ObjectVersion"`
	ImageUri        string   `json:"ImageUri"`
	Publish         bool     `json:"Publish"`
	DryRun          bool     `json:"DryRun"`
	RevisionId      string   `json:"RevisionId"`
	Architectures   []string `json:"Architectures"`
}

// UpdateConfigInput is the UpdateFunctionConfiguration request body.
type UpdateConfigInput struct {
	ConfigInput
	RevisionId string `json:"RevisionId"`
}

// PublishInput is the PublishVersion request body.
type PublishInput struct {
	CodeSha256  string  `json:"CodeSha256"`
	Description *string `json:"Description"`
	RevisionId  string  `json:"RevisionId"`
}

func notSupported(what string) *awsproto.Error {
	return invalid("%s is not supported by Kumo.", what)
}

// applyConfig validates in and applies it to c.
func (r *Registry) applyConfig(ctx context.Context, c *FunctionConfig, in *ConfigInput) error {
	switch {
	case len(in.FileSystemConfigs) > 0 && string(in.FileSystemConfigs) != "null" && string(in.FileSystemConfigs) != "[]":
		return notSupported("FileSystemConfigs (EFS)")
	case len(in.CapacityProvider) > 0 && string(in.CapacityProvider) != "null":
		return notSupported("CapacityProviderConfig")
	case len(in.DurableConfig) > 0 && string(in.DurableConfig) != "null":
		return notSupported("DurableConfig")
	case in.CodeSigningConfigArn != "":
		return notSupported("CodeSigningConfigArn")
	}
	if c.PackageType == "Image" && (in.Runtime != nil && *in.Runtime != "" || in.Handler != nil && *in.Handler != "" || in.Layers != nil && len(*in.Layers) > 0) {
		return invalid(msgImageNoRuntime)
	}
	if err := applyImageConfig(c, in.ImageConfig); err != nil {
		return err
	}
	if in.Role != nil {
		if err := validateRole(*in.Role); err != nil {
			return err
		}
		c.Role = *in.Role
	}
	if in.Runtime != nil {
		if err := validateRuntime(*in.Runtime); err != nil {
			return err
		}
		if r.cfg.CheckRuntime != nil && *in.Runtime != c.Runtime {
			warning, err := r.cfg.CheckRuntime(*in.Runtime)
			if err != nil {
				return invalid("%s", err.Error())
			}
			if warning != "" {
				r.log.Warn(warning, "function", c.FunctionName)
			}
		}
		c.Runtime = *in.Runtime
	}
	if in.Handler != nil {
		if err := validateHandler(*in.Handler); err != nil {
			return err
		}
		c.Handler = *in.Handler
	}
	if in.Description != nil {
		if err := validateDescription(*in.Description); err != nil {
			return err
		}
		c.Description = *in.Description
	}
	if in.Timeout != nil {
		if err := validateRange(*in.Timeout, "timeout", MinTimeout, MaxTimeout); err != nil {
			return err
		}
		c.Timeout = *in.Timeout
	}
	if in.MemorySize != nil {
		if err := validateRange(*in.MemorySize, "memorySize", MinMemory, MaxMemory); err != nil {
			return err
		}
		c.MemorySize = *in.MemorySize
	}
	if in.EphemeralStorage != nil {
		if err := validateRange(in.EphemeralStorage.Size, "ephemeralStorage.size", MinEphemeral, MaxEphemeral); err != nil {
			return err
		}
		c.EphemeralStorage = *in.EphemeralStorage
	}
	if in.Environment != nil {
		if err := validateEnvironment(in.Environment.Variables); err != nil {
			return err
		}
		if len(in.Environment.Variables) == 0 {
			c.Environment = nil
		} else {
			c.Environment = &Environment{Variables: in.Environment.Variables}
		}
	}
	if in.TracingConfig != nil {
		switch in.TracingConfig.Mode {
		case "Active", "PassThrough":
			c.TracingConfig.Mode = in.TracingConfig.Mode
		case "":
		default:
			return constraint(in.TracingConfig.Mode, "tracingConfig.mode", "Member must satisfy enum value set: [Active, PassThrough]")
		}
	}
	if in.DeadLetterConfig != nil {
		if in.DeadLetterConfig.TargetArn == "" {
			c.DeadLetterConfig = nil
		} else {
			c.DeadLetterConfig = &DeadLetterConfig{TargetArn: in.DeadLetterConfig.TargetArn}
		}
	}
	if in.KMSKeyArn != nil {
		c.KMSKeyArn = *in.KMSKeyArn
	}
	if in.VpcConfig != nil {
		vc, err := r.resolveVpc(ctx, *in.VpcConfig)
		if err != nil {
			return err
		}
		c.VpcConfig = vc
	}
	if in.SnapStart != nil {
		switch in.SnapStart.ApplyOn {
		case "None", "PublishedVersions":
			c.SnapStart.ApplyOn = in.SnapStart.ApplyOn
		default:
			return constraint(in.SnapStart.ApplyOn, "snapStart.applyOn", "Member must satisfy enum value set: [PublishedVersions, None]")
		}
	}
	if in.LoggingConfig != nil {
		lc := *in.LoggingConfig
		if lc.LogFormat == "" {
			lc.LogFormat = c.LoggingConfig.LogFormat
		}
		if lc.LogGroup == "" {
			lc.LogGroup = c.LoggingConfig.LogGroup
		}
		if err := validateLogging(&lc); err != nil {
			return err
		}
		if lc.LogFormat == "JSON" {
			if lc.ApplicationLogLevel == "" {
				lc.ApplicationLogLevel = "INFO"
			}
			if lc.SystemLogLevel == "" {
				lc.SystemLogLevel = "INFO"
			}
		}
		c.LoggingConfig = lc
	}
	if in.Layers != nil {
		arns := *in.Layers
		if len(arns) > MaxLayers {
			return invalid("Cannot reference more than %d layers.", MaxLayers)
		}
		layers := make([]Layer, 0, len(arns))
		for i, arn := range arns {
			if err := validateLayerARN(arn); err != nil {
				return err
			}
			for _, prev := range arns[:i] {
				if layerName(prev) == layerName(arn) {
					return invalid("Two different versions of the same layer are not allowed to be referenced in the same function. %s and %s are versions of the same layer.", prev, arn)
				}
			}
			if r.cfg.Layers == nil {
				return invalid("Layer version %s does not exist.", arn)
			}
			l, err := r.cfg.Layers.Layer(ctx, arn)
			if err != nil {
				return err
			}
			layers = append(layers, l)
		}
		c.Layers = layers
	}
	return nil
}

// layerName is a layer version ARN without its version.
func layerName(arn string) string {
	for i := len(arn) - 1; i >= 0; i-- {
		if arn[i] == ':' {
			return arn[:i]
		}
	}
	return arn
}

// inspectZip validates an uploaded deployment package.
func inspectZip(zip []byte, layersSize int64) (codezip.Info, error) {
	lim := codezip.LambdaLimits
	lim.MaxUnzipped -= layersSize
	info, err := codezip.Inspect(zip, lim)
	if err != nil {
		var ze *codezip.Error
		if errors.As(err, &ze) && ze.Kind == codezip.TooLarge {
			return info, awsproto.Errorf(awsproto.RequestEntityTooLargeException, "%s", ze.Error())
		}
		if errors.As(err, &ze) {
			return info, invalid("%s", ze.Error())
		}
		return info, invalid("Could not unzip uploaded file. Please check your file, then try to upload again.")
	}
	return info, nil
}

// layersSize is the unzipped size of layers (the zipped size of a layer
// whose code the registry does not know).
func layersSize(ls []Layer) int64 {
	var n int64
	for _, l := range ls {
		if l.unzipped > 0 {
			n += l.unzipped
		} else {
			n += l.CodeSize
		}
	}
	return n
}

// checkCombinedSize refuses code that with its layers is over the
// unzipped limit.
func checkCombinedSize(code int64, ls []Layer) error {
	if total := code + layersSize(ls); len(ls) > 0 && total > MaxUnzipped {
		return invalid("Function code combined with layers exceeds the maximum allowed size of %d bytes. The actual size is %d bytes.", MaxUnzipped, total)
	}
	return nil
}

// storeCode puts a zip in the code bucket (once per content) and returns the
// Code that references it.
func (r *Registry) storeCode(ctx context.Context, zip []byte, info codezip.Info) (Code, error) {
	sum := sha256.Sum256(zip)
	name := hex.EncodeToString(sum[:])
	if bi, err := r.code.Stat(ctx, name); err == nil && bi.Size == int64(len(zip)) {
		return Code{Blob: name, UnzippedSize: info.UnzippedSize}, nil
	} else if err != nil && !errors.Is(err, store.ErrNotFound) {
		return Code{}, awsproto.Internal(err)
	}
	if _, err := r.code.Put(ctx, name, bytes.NewReader(zip)); err != nil {
		return Code{}, awsproto.Internal(err)
	}
	return Code{Blob: name, UnzippedSize: info.UnzippedSize}, nil
}

// totalCodeSize is the account's code storage in use, from the view.
func (r *Registry) totalCodeSize() int64 {
	r.mu.RLock()
	defer r.mu.RUnlock()
	var n int64
	for _, st := range r.fns {
		if st.rev == 0 {
			continue
		}
		n += st.fn.Latest.Config.CodeSize
		for _, num := range st.fn.Versions {
			if v := st.versions[num]; v != nil {
				n += v.Config.CodeSize
			}
		}
	}
	return n
}

func (r *Registry) checkCodeStorage(add int64) error {
	if r.totalCodeSize()+add > MaxCodeStorage {
		return awsproto.Errorf(awsproto.CodeStorageExceededException, "Code storage limit exceeded.")
	}
	return nil
}

// CreateFunction creates a function. It is Pending until its code has been
// prepared; with Publish, version 1 is published at once.
func (r *Registry) CreateFunction(ctx context.Context, in *CreateFunctionInput) (FunctionConfig, error) {
	ref, err := r.arns.ParseRef(in.FunctionName, 140)
	if err != nil {
		return FunctionConfig{}, err
	}
	if ref.Qualifier != "" {
		return FunctionConfig{}, invalid("Unsupported function name: qualified names cannot be used to create a function.")
	}
	name := ref.Name
	if err := ValidateFunctionName(name); err != nil {
		return FunctionConfig{}, err
	}
	isImage := in.PackageType == "Image"
	switch in.PackageType {
	case "", "Zip", "Image":
	default:
		return FunctionConfig{}, constraint(in.PackageType, "packageType", "Member must satisfy enum value set: [Zip, Image]")
	}
	if in.Role == nil {
		return FunctionConfig{}, validation("1 validation error detected: Value null at 'role' failed to satisfy constraint: Member must not be null")
	}
	if !isImage && (in.Runtime == nil || in.Handler == nil || *in.Runtime == "" || *in.Handler == "") {
		return FunctionConfig{}, invalid("Runtime and Handler are mandatory parameters for functions created with deployment packages.")
	}
	if in.Code == nil {
		return FunctionConfig{}, validation("1 validation error detected: Value null at 'code' failed to satisfy constraint: Member must not be null")
	}
	switch {
	case isImage && (in.Code.ImageUri == "" || len(in.Code.ZipFile) > 0 || in.Code.S3Bucket != "" || in.Code.S3Key != ""):
		return FunctionConfig{}, invalid(msgImageNeedsURI)
	case isImage:
	case in.Code.ImageUri != "":
		return FunctionConfig{}, invalid(msgZipNoImageURI)
	case in.Code.S3Bucket != "" || in.Code.S3Key != "":
		return FunctionConfig{}, notSupported("Code.S3Bucket (upload the package with ZipFile)")
	case len(in.Code.ZipFile) == 0:
		return FunctionConfig{}, invalid("Please provide a source for function code.")
	}
	if err := ValidateTags(in.Tags, nil); err != nil {
		return FunctionConfig{}, err
	}
	now := r.timestamp()
	c := FunctionConfig{
		FunctionName:     name,
		FunctionArn:      r.arns.Function(name),
		Timeout:          DefaultTimeout,
		MemorySize:       DefaultMemory,
		Version:          Latest,
		TracingConfig:    TracingConfig{Mode: "PassThrough"},
		PackageType:      "Zip",
		Architectures:    []string{"x86_64"},
		EphemeralStorage: EphemeralStorage{Size: MinEphemeral},
		SnapStart:        SnapStartResponse{ApplyOn: "None", OptimizationStatus: "Off"},
		LoggingConfig:    LoggingConfig{LogFormat: "Text", LogGroup: "/aws/lambda/" + name},
		LastModified:     now,
	}
	if isImage {
		c.PackageType = "Image"
	}
	if err := r.applyConfig(ctx, &c, &in.ConfigInput); err != nil {
		return FunctionConfig{}, err
	}
	if in.Architectures != nil {
		if err := validateArchitectures(in.Architectures); err != nil {
			return FunctionConfig{}, err
		}
		c.Architectures = in.Architectures
	}
	if r.view(name) != nil {
		return FunctionConfig{}, awsproto.Errorf(awsproto.ResourceConflictException, "Function already exist: %s", name)
	}
	var code Code
	if isImage {
		ic, sum, err := r.resolveImage(ctx, in.Code.ImageUri, c.Architectures)
		if err != nil {
			return FunctionConfig{}, err
		}
		code.Image = &ic
		c.CodeSha256 = sum
	} else {
		info, err := inspectZip(in.Code.ZipFile, 0)
		if err != nil {
			return FunctionConfig{}, err
		}
		if err := checkCombinedSize(info.UnzippedSize, c.Layers); err != nil {
			return FunctionConfig{}, err
		}
		if err := r.checkCodeStorage(info.Size); err != nil {
			return FunctionConfig{}, err
		}
		if code, err = r.storeCode(ctx, in.Code.ZipFile, info); err != nil {
			return FunctionConfig{}, err
		}
		c.CodeSha256, c.CodeSize = info.Sha256, info.Size
	}
	c.State, c.StateReason, c.StateReasonCode = StatePending, "The function is being created.", "Creating"
	c.RevisionId = newRevisionID()
	f := Function{Latest: Version{Config: c, Code: code}, Created: now}
	if len(in.Tags) > 0 {
		f.Tags = in.Tags
	}
	// Versions left by an earlier function of this name (a crash during
	// its deletion) must not come back.
	if err := r.purgeVersions(ctx, name, nil); err != nil {
		return FunctionConfig{}, err
	}
	if err := r.write(ctx, name, f, 0); err != nil {
		if errors.Is(err, store.ErrExists) {
			return FunctionConfig{}, awsproto.Errorf(awsproto.ResourceConflictException, "Function already exist: %s", name)
		}
		return FunctionConfig{}, err
	}
	r.kick(name)
	if in.Publish {
		return r.publish(ctx, name, PublishInput{}, true)
	}
	return c, nil
}

// loadWritten is load of a function this request has just written: in a
// cluster a read may be served by a replica that has not applied the
// write yet, so a not-found is asked again, backing off, for up to 5 s.
func (r *Registry) loadWritten(ctx context.Context, name string) (Function, uint64, error) {
	deadline := time.Now().Add(5 * time.Second)
	wait := 20 * time.Millisecond
	for {
		f, rev, err := r.load(ctx, name)
		if !isNotFound(err) || time.Now().Add(wait).After(deadline) {
			return f, rev, err
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return f, rev, err
		}
		wait = min(2*wait, 500*time.Millisecond)
	}
}

// isNotFound reports load's not-found answer.
func isNotFound(err error) bool {
	var e *awsproto.Error
	return errors.As(err, &e) && e.Code == awsproto.ResourceNotFoundException
}

// purgeVersions deletes version keys of name that are not in keep.
func (r *Registry) purgeVersions(ctx context.Context, name string, keep []int) error {
	entries, err := r.kv.List(ctx, verPrefix(name))
	if err != nil {
		return awsproto.Internal(err)
	}
	for _, e := range entries {
		n, err := strconv.Atoi(e.Key[len(verPrefix(name)):])
		if err == nil && slices.Contains(keep, n) {
			continue
		}
		if err := r.kv.Delete(ctx, e.Key, 0); err != nil {
			return awsproto.Internal(err)
		}
		r.apply(store.Entry{Key: e.Key, Deleted: true, Revision: e.Revision + 1})
	}
	return nil
}

// Resolved is a function version as an invocation or a read sees it.
type Resolved struct {
	Function *Function
	Version  *Version
	// Alias is set when the qualifier named an alias.
	Alias *AliasConfig
}

// resolve finds the version a reference names, from the view.
func (r *Registry) resolve(ref Ref) (*fnState, *Version, *AliasConfig, error) {
	st := r.view(ref.Name)
	if st == nil {
		return nil, nil, nil, notFound(r.arns.Qualified(ref.Name, ref.Qualifier))
	}
	switch q := ref.Qualifier; {
	case q == "" || q == Latest:
		v := st.fn.Latest
		return st, &v, nil, nil
	case isDigits(q):
		n, err := strconv.Atoi(q)
		if err != nil || !st.fn.hasVersion(n) || st.versions[n] == nil {
			return nil, nil, nil, notFound(r.arns.Qualified(ref.Name, q))
		}
		return st, st.versions[n], nil, nil
	default:
		a, ok := st.fn.Aliases[q]
		if !ok {
			return nil, nil, nil, notFound(r.arns.Qualified(ref.Name, q))
		}
		if a.FunctionVersion == Latest {
			v := st.fn.Latest
			return st, &v, &a, nil
		}
		n, _ := strconv.Atoi(a.FunctionVersion)
		v := st.versions[n]
		if v == nil {
			return nil, nil, nil, notFound(r.arns.Qualified(ref.Name, q))
		}
		return st, v, &a, nil
	}
}

// GetFunctionResult is what GetFunction returns besides the code location.
type GetFunctionResult struct {
	Config              FunctionConfig
	Code                Code
	Tags                map[string]string
	ReservedConcurrency *int
}

// GetFunction returns a function version's configuration, its code and, for
// the unqualified function, its tags and reserved concurrency.
func (r *Registry) GetFunction(ctx context.Context, ref Ref) (GetFunctionResult, error) {
	st, v, a, err := r.resolve(ref)
	if err != nil {
		return GetFunctionResult{}, err
	}
	res := GetFunctionResult{Config: v.Config, Code: v.Code, ReservedConcurrency: st.fn.ReservedConcurrency}
	if a != nil {
		res.Config.FunctionArn = a.AliasArn
	}
	res.Tags = st.fn.Tags
	return res, nil
}

// GetFunctionConfiguration returns a function version's configuration.
func (r *Registry) GetFunctionConfiguration(ctx context.Context, ref Ref) (FunctionConfig, error) {
	res, err := r.GetFunction(ctx, ref)
	return res.Config, err
}

// ListFunctions lists $LATEST of every function (or every version with
// all), sorted by name then version, after the marker.
func (r *Registry) ListFunctions(marker string, max int, all bool) ([]FunctionConfig, string, error) {
	if max <= 0 {
		max = DefaultListItems
	}
	after, err := decodeMarker(marker)
	if err != nil {
		return nil, "", err
	}
	r.mu.RLock()
	names := make([]string, 0, len(r.fns))
	for name, st := range r.fns {
		if st.rev != 0 {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	var out []FunctionConfig
	var next string
	for _, name := range names {
		st := r.fns[name]
		items := []FunctionConfig{st.fn.Latest.Config}
		if all {
			for _, n := range st.fn.Versions {
				if v := st.versions[n]; v != nil {
					items = append(items, v.Config)
				}
			}
		}
		for _, c := range items {
			key := listKey(c)
			if after != "" && key <= after {
				continue
			}
			if len(out) == max {
				next = encodeMarker(listKey(out[len(out)-1]))
				break
			}
			out = append(out, c)
		}
		if next != "" {
			break
		}
	}
	r.mu.RUnlock()
	return out, next, nil
}

// listKey orders ListFunctions items by name, then version. The separator
// sorts below every name character, so "fn" and its versions come before
// "fn2".
func listKey(c FunctionConfig) string { return c.FunctionName + "\x00" + versionSortKey(c.Version) }

// versionSortKey orders $LATEST before versions and versions numerically.
func versionSortKey(v string) string {
	if v == Latest {
		return "0"
	}
	return "1" + strconv.Itoa(len(v)) + v
}

func encodeMarker(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func decodeMarker(m string) (string, error) {
	if m == "" {
		return "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(m)
	if err != nil {
		return "", invalid("Invalid marker: %s", clip(m))
	}
	return string(b), nil
}

// ListVersions lists $LATEST and the published versions of a function.
func (r *Registry) ListVersions(ctx context.Context, ref Ref, marker string, max int) ([]FunctionConfig, string, error) {
	if max <= 0 {
		max = DefaultListItems
	}
	after, err := decodeMarker(marker)
	if err != nil {
		return nil, "", err
	}
	st := r.view(ref.Name)
	if st == nil {
		return nil, "", notFound(r.arns.Function(ref.Name))
	}
	items := []FunctionConfig{st.fn.Latest.Config}
	for _, n := range st.fn.Versions {
		if v := st.versions[n]; v != nil {
			items = append(items, v.Config)
		}
	}
	var out []FunctionConfig
	for _, c := range items {
		if after != "" && versionSortKey(c.Version) <= after {
			continue
		}
		if len(out) == max {
			return out, encodeMarker(versionSortKey(out[len(out)-1].Version)), nil
		}
		out = append(out, c)
	}
	return out, "", nil
}

// checkUpdatable refuses changes while the function is not ready for them,
// as Lambda does.
func (r *Registry) checkUpdatable(f *Function) error {
	c := &f.Latest.Config
	if c.State == StatePending || c.State == StateFailed && c.LastUpdateStatus != UpdateFailed {
		return awsproto.Errorf(awsproto.ResourceConflictException,
			"The operation cannot be performed at this time. The function is currently in the following state: %s", c.State)
	}
	if c.LastUpdateStatus == UpdateInProgress {
		return awsproto.Errorf(awsproto.ResourceConflictException,
			"The operation cannot be performed at this time. An update is in progress for resource: %s", c.FunctionArn)
	}
	return nil
}

// UpdateFunctionCode replaces $LATEST's code.
func (r *Registry) UpdateFunctionCode(ctx context.Context, ref Ref, in *UpdateCodeInput) (FunctionConfig, error) {
	if ref.Qualifier != "" && ref.Qualifier != Latest {
		return FunctionConfig{}, invalid("Unsupported function name: a version or alias cannot be updated; use the unqualified function name.")
	}
	if in.Architectures != nil {
		if err := validateArchitectures(in.Architectures); err != nil {
			return FunctionConfig{}, err
		}
	}
	st := r.view(ref.Name)
	if st == nil {
		return FunctionConfig{}, notFound(r.arns.Function(ref.Name))
	}
	isImage := st.fn.Latest.Config.PackageType == "Image"
	switch {
	case isImage && (in.ImageUri == "" || len(in.ZipFile) > 0 || in.S3Bucket != "" || in.S3Key != ""):
		return FunctionConfig{}, invalid(msgImageNeedsURI)
	case isImage:
	case in.ImageUri != "":
		return FunctionConfig{}, invalid(msgZipNoImageURI)
	case in.S3Bucket != "" || in.S3Key != "":
		return FunctionConfig{}, notSupported("S3Bucket (upload the package with ZipFile)")
	case len(in.ZipFile) == 0:
		return FunctionConfig{}, invalid("Please provide a source for function code.")
	}
	var info codezip.Info
	var code Code
	if isImage {
		archs := st.fn.Latest.Config.Architectures
		if in.Architectures != nil {
			archs = in.Architectures
		}
		ic, sum, err := r.resolveImage(ctx, in.ImageUri, archs)
		if err != nil {
			return FunctionConfig{}, err
		}
		code.Image = &ic
		info.Sha256 = sum
	} else {
		var err error
		if info, err = inspectZip(in.ZipFile, 0); err != nil {
			return FunctionConfig{}, err
		}
		if err := checkCombinedSize(info.UnzippedSize, st.fn.Latest.Config.Layers); err != nil {
			return FunctionConfig{}, err
		}
		if err := r.checkCodeStorage(info.Size); err != nil {
			return FunctionConfig{}, err
		}
		if !in.DryRun {
			if code, err = r.storeCode(ctx, in.ZipFile, info); err != nil {
				return FunctionConfig{}, err
			}
		}
	}
	change := func(f *Function) error {
		if err := checkRevision(in.RevisionId, f.Latest.Config.RevisionId); err != nil {
			return err
		}
		if err := r.checkUpdatable(f); err != nil {
			return err
		}
		c := &f.Latest.Config
		c.CodeSha256, c.CodeSize = info.Sha256, info.Size
		if in.Architectures != nil {
			c.Architectures = in.Architectures
		}
		c.LastModified = r.timestamp()
		c.LastUpdateStatus, c.LastUpdateStatusReason, c.LastUpdateStatusReasonCode = UpdateInProgress, "", ""
		c.RevisionId = newRevisionID()
		f.Latest.Code = code
		return nil
	}
	if in.DryRun {
		f, _, err := r.load(ctx, ref.Name)
		if err != nil {
			return FunctionConfig{}, err
		}
		if err := change(&f); err != nil {
			return FunctionConfig{}, err
		}
		return f.Latest.Config, nil
	}
	f, err := r.update(ctx, ref.Name, change)
	if err != nil {
		return FunctionConfig{}, err
	}
	r.kick(ref.Name)
	r.collect()
	if in.Publish {
		return r.publish(ctx, ref.Name, PublishInput{}, true)
	}
	return f.Latest.Config, nil
}

// UpdateFunctionConfiguration changes $LATEST's configuration.
func (r *Registry) UpdateFunctionConfiguration(ctx context.Context, ref Ref, in *UpdateConfigInput) (FunctionConfig, error) {
	if ref.Qualifier != "" && ref.Qualifier != Latest {
		return FunctionConfig{}, invalid("Unsupported function name: a version or alias cannot be updated; use the unqualified function name.")
	}
	// Validate once outside the retry loop (layer look-ups may be slow).
	if st := r.view(ref.Name); st != nil {
		probe := st.fn.Latest.Config
		if err := r.applyConfig(ctx, &probe, &in.ConfigInput); err != nil {
			return FunctionConfig{}, err
		}
		if in.Layers != nil {
			if err := checkCombinedSize(st.fn.Latest.Code.UnzippedSize, probe.Layers); err != nil {
				return FunctionConfig{}, err
			}
		}
	}
	f, err := r.update(ctx, ref.Name, func(f *Function) error {
		if err := checkRevision(in.RevisionId, f.Latest.Config.RevisionId); err != nil {
			return err
		}
		if err := r.checkUpdatable(f); err != nil {
			return err
		}
		c := &f.Latest.Config
		if err := r.applyConfig(ctx, c, &in.ConfigInput); err != nil {
			return err
		}
		c.LastModified = r.timestamp()
		c.LastUpdateStatus, c.LastUpdateStatusReason, c.LastUpdateStatusReasonCode = UpdateInProgress, "", ""
		c.RevisionId = newRevisionID()
		return nil
	})
	if err != nil {
		return FunctionConfig{}, err
	}
	r.kick(ref.Name)
	return f.Latest.Config, nil
}

// fingerprint identifies $LATEST's code and configuration, leaving out what
// changes without the function changing.
func fingerprint(v *Version) string {
	c := v.Config
	c.RevisionId, c.LastModified, c.State, c.StateReason, c.StateReasonCode = "", "", "", "", ""
	c.LastUpdateStatus, c.LastUpdateStatusReason, c.LastUpdateStatusReasonCode = "", "", ""
	b, _ := json.Marshal(struct {
		C FunctionConfig
		B string
	}{c, v.Code.Blob})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// snapStartStatus is a published version's SnapStart OptimizationStatus
// for its ApplyOn: "On" for PublishedVersions, else "Off" (and always
// "Off" on $LATEST).
func snapStartStatus(applyOn string) string {
	if applyOn == "PublishedVersions" {
		return "On"
	}
	return "Off"
}

// PublishVersion publishes $LATEST as a new version, or returns the latest
// version if $LATEST has not changed since it was published.
func (r *Registry) PublishVersion(ctx context.Context, ref Ref, in PublishInput) (FunctionConfig, error) {
	if ref.Qualifier != "" && ref.Qualifier != Latest {
		return FunctionConfig{}, invalid("Unsupported function name: only the unqualified function name can be published.")
	}
	if in.Description != nil {
		if err := validateDescription(*in.Description); err != nil {
			return FunctionConfig{}, err
		}
	}
	return r.publish(ctx, ref.Name, in, false)
}

// publish writes version LastVersion+1 and then the document counting it,
// retrying both if the document changed meanwhile. internal publishes (from
// CreateFunction or UpdateFunctionCode) may publish a function that is still
// being prepared.
func (r *Registry) publish(ctx context.Context, name string, in PublishInput, internal bool) (FunctionConfig, error) {
	for attempt := 0; attempt < 32; attempt++ {
		f, rev, err := r.load(ctx, name)
		if internal && attempt == 0 && isNotFound(err) {
			f, rev, err = r.loadWritten(ctx, name)
		}
		if err != nil {
			return FunctionConfig{}, err
		}
		if err := checkRevision(in.RevisionId, f.Latest.Config.RevisionId); err != nil {
			return FunctionConfig{}, err
		}
		if in.CodeSha256 != "" && in.CodeSha256 != f.Latest.Config.CodeSha256 {
			return FunctionConfig{}, invalid("CodeSHA256 (%s) is different from current CodeSHA256 in $LATEST (%s). Please try again from the latest function.", clip(in.CodeSha256), f.Latest.Config.CodeSha256)
		}
		if !internal {
			if err := r.checkUpdatable(&f); err != nil {
				return FunctionConfig{}, err
			}
		}
		fp := fingerprint(&f.Latest)
		if fp == f.Published && len(f.Versions) > 0 && f.Versions[len(f.Versions)-1] == f.LastVersion {
			if st := r.view(name); st != nil && st.versions[f.LastVersion] != nil {
				return st.versions[f.LastVersion].Config, nil
			}
		}
		n := f.LastVersion + 1
		v := Version{Config: f.Latest.Config, Code: f.Latest.Code, Env: f.Latest.Env}
		c := &v.Config
		c.Version = strconv.Itoa(n)
		c.FunctionArn = r.arns.Qualified(name, c.Version)
		c.RevisionId = newRevisionID()
		c.LastModified = r.timestamp()
		if in.Description != nil {
			c.Description = *in.Description
		}
		c.SnapStart.OptimizationStatus = snapStartStatus(c.SnapStart.ApplyOn)
		if c.State != StatePending {
			c.State, c.StateReason, c.StateReasonCode = StateActive, "", ""
			c.LastUpdateStatus = UpdateSuccessful
		}
		if err := r.putVersion(ctx, name, n, &v); err != nil {
			return FunctionConfig{}, err
		}
		f.LastVersion = n
		f.Versions = append(f.Versions, n)
		f.Published = fp
		if err := r.write(ctx, name, f, rev); err != nil {
			if errors.Is(err, store.ErrConflict) {
				continue
			}
			return FunctionConfig{}, err
		}
		if c.State == StatePending {
			r.kick(name)
		}
		return v.Config, nil
	}
	return FunctionConfig{}, awsproto.Errorf(awsproto.ResourceConflictException,
		"The operation cannot be performed at this time. The resource %s is being modified concurrently; retry the request.", r.arns.Function(name))
}

// DeleteFunction deletes a function with all its versions and aliases, or
// one published version.
func (r *Registry) DeleteFunction(ctx context.Context, ref Ref) error {
	switch q := ref.Qualifier; {
	case q == "":
		for attempt := 0; attempt < 32; attempt++ {
			e, err := r.kv.Get(ctx, fnKey(ref.Name))
			if errors.Is(err, store.ErrNotFound) {
				return notFound(r.arns.Function(ref.Name))
			}
			if err != nil {
				return awsproto.Internal(err)
			}
			if err := r.kv.Delete(ctx, fnKey(ref.Name), e.Revision); err != nil {
				if errors.Is(err, store.ErrConflict) {
					continue
				}
				return awsproto.Internal(err)
			}
			r.apply(store.Entry{Key: fnKey(ref.Name), Deleted: true, Revision: e.Revision + 1})
			if err := r.purgeVersions(ctx, ref.Name, nil); err != nil {
				r.log.Warn("registry: deleting versions of a deleted function", "function", ref.Name, "err", err)
			}
			r.collect()
			return nil
		}
		return awsproto.Errorf(awsproto.ResourceConflictException, "The resource %s is being modified concurrently; retry the request.", r.arns.Function(ref.Name))
	case q == Latest:
		return invalid("$LATEST version cannot be deleted without deleting the function.")
	case !isDigits(q):
		return invalid("Deletion of aliases is not supported by DeleteFunction; use DeleteAlias.")
	}
	n, err := strconv.Atoi(ref.Qualifier)
	if err != nil {
		return notFound(r.arns.Qualified(ref.Name, ref.Qualifier))
	}
	_, err = r.update(ctx, ref.Name, func(f *Function) error {
		i, ok := slices.BinarySearch(f.Versions, n)
		if !ok {
			return notFound(r.arns.Qualified(ref.Name, ref.Qualifier))
		}
		var users []string
		for name, a := range f.Aliases {
			if a.FunctionVersion == ref.Qualifier {
				users = append(users, name)
				continue
			}
			if a.RoutingConfig != nil {
				if _, ok := a.RoutingConfig.AdditionalVersionWeights[ref.Qualifier]; ok {
					users = append(users, name)
				}
			}
		}
		if len(users) > 0 {
			sort.Strings(users)
			return awsproto.Errorf(awsproto.ResourceConflictException, "Unable to delete version because the following aliases reference it: %v", users)
		}
		f.Versions = slices.Delete(f.Versions, i, i+1)
		delete(f.Policies, ref.Qualifier)
		return nil
	})
	if err != nil {
		return err
	}
	if err := r.kv.Delete(ctx, verKey(ref.Name, n), 0); err != nil {
		r.log.Warn("registry: deleting version key", "function", ref.Name, "version", n, "err", err)
	} else {
		r.mu.Lock()
		if st := r.fns[ref.Name]; st != nil {
			delete(st.versions, n)
		}
		r.mu.Unlock()
	}
	r.collect()
	return nil
}
