package restapi

import (
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/kumo-run/kumo/internal/lazyregexp"
	"github.com/kumo-run/kumo/internal/services/apigateway"
)

func stageNotFound() error      { return notFound("Invalid Stage identifier specified") }
func deploymentNotFound() error { return notFound("Invalid Deployment identifier specified") }

// deploymentOut is a Deployment as the wire has it.
type deploymentOut struct {
	ID          string `json:"id"`
	Description string `json:"description,omitempty"`
	CreatedDate epoch  `json:"createdDate"`
}

func deployment(dep *apigateway.Deployment) deploymentOut {
	return deploymentOut{ID: dep.DeploymentID, Description: dep.Description, CreatedDate: epoch(dep.CreatedDate)}
}

// compile freezes d's resource tree into a deployment's snapshot: one
// route and integration per method. Every method needs an integration.
func compile(d *apigateway.Doc) (*apigateway.Snapshot, error) {
	sn := &apigateway.Snapshot{Routes: map[string]*apigateway.Route{}, Integrations: map[string]*apigateway.Integration{},
		Authorizers: map[string]*apigateway.Authorizer{},
		Rest:        &apigateway.RestSnapshot{Methods: map[string]*apigateway.RestMethod{}, Authorizers: map[string]*apigateway.RestAuthorizer{}}}
	c := d.Clone()
	for _, res := range c.Rest.Resources {
		for hm, m := range res.ResourceMethods {
			if m.MethodIntegration == nil {
				return nil, badRequest("No integration defined for method")
			}
			id := apigateway.RestRouteID(res.ID, hm)
			sn.Routes[id] = &apigateway.Route{RouteID: id, RouteKey: hm + " " + res.Path, Target: "integrations/" + id,
				AuthorizationType: m.AuthorizationType, AuthorizerID: m.AuthorizerID, APIKeyRequired: m.APIKeyRequired}
			sn.Integrations[id] = &apigateway.Integration{IntegrationID: id, IntegrationType: m.MethodIntegration.Type,
				IntegrationURI: m.MethodIntegration.URI, PayloadFormatVersion: "1.0", TimeoutInMillis: m.MethodIntegration.TimeoutInMillis}
			sn.Rest.Methods[id] = m
		}
	}
	if len(sn.Routes) == 0 {
		return nil, badRequest("The REST API doesn't contain any methods")
	}
	for id, au := range c.Rest.Authorizers {
		sn.Rest.Authorizers[id] = au
		sn.Authorizers[id] = &apigateway.Authorizer{AuthorizerID: id, Name: au.Name, AuthorizerType: au.Type, AuthorizerURI: au.AuthorizerURI,
			AuthorizerResultTTLInSeconds: au.AuthorizerResultTTLInSeconds, IdentitySource: []string{au.IdentitySource},
			IdentityValidationExpression: au.IdentityValidationExpression}
	}
	sn.Rest.BinaryMediaTypes = c.Rest.BinaryMediaTypes
	return sn, nil
}

var (
	stageNameRE = lazyregexp.New(`^[a-zA-Z0-9_-]{1,128}$`)
	varNameRE   = lazyregexp.New(`^[A-Za-z0-9_]{1,64}$`)
)

func validVariables(vars map[string]string) error {
	for k, v := range vars {
		if !varNameRE.MatchString(k) {
			return badRequest("Stage variable name %s must be 1 to 64 alphanumeric or underscore characters", k)
		}
		if len(v) > 512 {
			return badRequest("Stage variable value of %s must be at most 512 characters", k)
		}
	}
	return nil
}

type canaryIn struct {
	PercentTraffic         *float64          `json:"percentTraffic"`
	DeploymentID           string            `json:"deploymentId"`
	StageVariableOverrides map[string]string `json:"stageVariableOverrides"`
	UseStageCache          bool              `json:"useStageCache"`
}

func (c *canaryIn) settings(deploymentID string) (*apigateway.CanarySettings, error) {
	out := &apigateway.CanarySettings{DeploymentID: deploymentID, StageVariableOverrides: c.StageVariableOverrides, UseStageCache: c.UseStageCache}
	if c.PercentTraffic != nil {
		if *c.PercentTraffic < 0 || *c.PercentTraffic > 100 {
			return nil, badRequest("Canary traffic percentage must be between 0.0 and 100.0")
		}
		out.PercentTraffic = *c.PercentTraffic
	}
	if err := validVariables(c.StageVariableOverrides); err != nil {
		return nil, err
	}
	return out, nil
}

func (a *API) createDeployment(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		StageName        string            `json:"stageName"`
		StageDescription string            `json:"stageDescription"`
		Description      string            `json:"description"`
		Variables        map[string]string `json:"variables"`
		CanarySettings   *canaryIn         `json:"canarySettings"`
		TracingEnabled   *bool             `json:"tracingEnabled"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	if in.StageName != "" && !stageNameRE.MatchString(in.StageName) {
		return badRequest("Stage name only allows a-zA-Z0-9_-")
	}
	if err := validVariables(in.Variables); err != nil {
		return err
	}
	if in.CanarySettings != nil && in.StageName == "" {
		return badRequest("Canary settings require a stage name")
	}
	now := a.now()
	dep := &apigateway.Deployment{DeploymentID: apigateway.NewID(6), DeploymentStatus: "DEPLOYED", Description: in.Description, CreatedDate: now}
	_, err := a.update(r.Context(), r.PathValue("restapi_id"), func(d *apigateway.Doc) (*apigateway.Write, error) {
		sn, err := compile(d)
		if err != nil {
			return nil, err
		}
		if len(d.Deployments) >= MaxDeployments {
			return nil, limitExceeded("Cannot create more than %d deployments in a REST API; delete unused ones", MaxDeployments)
		}
		if in.StageName != "" && d.Stages[in.StageName] == nil && len(d.Stages) >= MaxStages {
			return nil, limitExceeded("Cannot create more than %d stages in a REST API", MaxStages)
		}
		d.Deployments[dep.DeploymentID] = dep
		if in.StageName != "" {
			st := d.Stages[in.StageName]
			if in.CanarySettings != nil {
				if st == nil || st.DeploymentID == "" {
					return nil, stageNotFound()
				}
				cs, err := in.CanarySettings.settings(dep.DeploymentID)
				if err != nil {
					return nil, err
				}
				st.CanarySettings = cs
			} else {
				if st == nil {
					st = &apigateway.Stage{StageName: in.StageName, CreatedDate: now, RouteSettings: map[string]*apigateway.RouteSettings{},
						StageVariables: map[string]string{}, Tags: map[string]string{}}
					d.Stages[in.StageName] = st
				}
				st.DeploymentID = dep.DeploymentID
				if in.StageDescription != "" {
					st.Description = in.StageDescription
				}
				for k, v := range in.Variables {
					st.StageVariables[k] = v
				}
			}
			if in.TracingEnabled != nil {
				st.TracingEnabled = *in.TracingEnabled
			}
			st.LastUpdatedDate = now
		}
		return &apigateway.Write{Snapshots: map[string]*apigateway.Snapshot{dep.DeploymentID: sn}}, nil
	})
	if err != nil {
		return err
	}
	return write(w, http.StatusCreated, deployment(dep))
}

func (a *API) getDeployments(w http.ResponseWriter, r *http.Request) error {
	d, err := a.doc(r.PathValue("restapi_id"))
	if err != nil {
		return err
	}
	ids, next, err := page(r, keys(d.Deployments))
	if err != nil {
		return err
	}
	out := make([]deploymentOut, 0, len(ids))
	for _, id := range ids {
		out = append(out, deployment(d.Deployments[id]))
	}
	return write(w, http.StatusOK, list{Item: out, Position: next})
}

func (a *API) getDeployment(w http.ResponseWriter, r *http.Request) error {
	d, err := a.doc(r.PathValue("restapi_id"))
	if err != nil {
		return err
	}
	dep, ok := d.Deployments[r.PathValue("deployment_id")]
	if !ok {
		return deploymentNotFound()
	}
	return write(w, http.StatusOK, deployment(dep))
}

func (a *API) deleteDeployment(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("deployment_id")
	_, err := a.update(r.Context(), r.PathValue("restapi_id"), func(d *apigateway.Doc) (*apigateway.Write, error) {
		if _, ok := d.Deployments[id]; !ok {
			return nil, deploymentNotFound()
		}
		for _, st := range d.Stages {
			if st.DeploymentID == id || st.CanarySettings != nil && st.CanarySettings.DeploymentID == id {
				return nil, badRequest("Active stages pointing to this deployment must be moved or deleted")
			}
		}
		delete(d.Deployments, id)
		return &apigateway.Write{Drop: []string{id}}, nil
	})
	if err != nil {
		return err
	}
	return write(w, http.StatusAccepted, nil)
}

// stageOut is a Stage as the wire has it.
type stageOut struct {
	DeploymentID       string                     `json:"deploymentId,omitempty"`
	StageName          string                     `json:"stageName"`
	Description        string                     `json:"description,omitempty"`
	CacheClusterEnable bool                       `json:"cacheClusterEnabled"`
	CacheClusterStatus string                     `json:"cacheClusterStatus"`
	MethodSettings     map[string]any             `json:"methodSettings"`
	Variables          map[string]string          `json:"variables,omitempty"`
	CanarySettings     *apigateway.CanarySettings `json:"canarySettings,omitempty"`
	TracingEnabled     bool                       `json:"tracingEnabled"`
	Tags               map[string]string          `json:"tags,omitempty"`
	CreatedDate        epoch                      `json:"createdDate"`
	LastUpdatedDate    epoch                      `json:"lastUpdatedDate"`
}

func stage(st *apigateway.Stage) stageOut {
	return stageOut{DeploymentID: st.DeploymentID, StageName: st.StageName, Description: st.Description, CacheClusterStatus: "NOT_AVAILABLE",
		MethodSettings: map[string]any{}, Variables: st.StageVariables, CanarySettings: st.CanarySettings, TracingEnabled: st.TracingEnabled,
		Tags: st.Tags, CreatedDate: epoch(st.CreatedDate), LastUpdatedDate: epoch(st.LastUpdatedDate)}
}

func (a *API) createStage(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		StageName      string            `json:"stageName"`
		DeploymentID   string            `json:"deploymentId"`
		Description    string            `json:"description"`
		Variables      map[string]string `json:"variables"`
		CanarySettings *canaryIn         `json:"canarySettings"`
		TracingEnabled bool              `json:"tracingEnabled"`
		Tags           map[string]string `json:"tags"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	if !stageNameRE.MatchString(in.StageName) {
		return badRequest("Stage name only allows a-zA-Z0-9_-")
	}
	if in.DeploymentID == "" {
		return badRequest("Deployment id is required")
	}
	if err := validVariables(in.Variables); err != nil {
		return err
	}
	now := a.now()
	st := &apigateway.Stage{StageName: in.StageName, DeploymentID: in.DeploymentID, Description: in.Description, StageVariables: in.Variables,
		TracingEnabled: in.TracingEnabled, Tags: in.Tags, RouteSettings: map[string]*apigateway.RouteSettings{}, CreatedDate: now, LastUpdatedDate: now}
	if st.StageVariables == nil {
		st.StageVariables = map[string]string{}
	}
	_, err := a.update(r.Context(), r.PathValue("restapi_id"), func(d *apigateway.Doc) (*apigateway.Write, error) {
		if _, ok := d.Stages[in.StageName]; ok {
			return nil, conflict("Stage already exists")
		}
		if len(d.Stages) >= MaxStages {
			return nil, limitExceeded("Cannot create more than %d stages in a REST API", MaxStages)
		}
		if _, ok := d.Deployments[in.DeploymentID]; !ok {
			return nil, deploymentNotFound()
		}
		if in.CanarySettings != nil {
			dep := in.CanarySettings.DeploymentID
			if dep == "" {
				dep = in.DeploymentID
			}
			if _, ok := d.Deployments[dep]; !ok {
				return nil, deploymentNotFound()
			}
			cs, err := in.CanarySettings.settings(dep)
			if err != nil {
				return nil, err
			}
			st.CanarySettings = cs
		}
		d.Stages[in.StageName] = st
		return nil, nil
	})
	if err != nil {
		return err
	}
	return write(w, http.StatusCreated, stage(st))
}

func (a *API) getStages(w http.ResponseWriter, r *http.Request) error {
	d, err := a.doc(r.PathValue("restapi_id"))
	if err != nil {
		return err
	}
	dep := r.URL.Query().Get("deploymentId")
	names := keys(d.Stages)
	sort.Strings(names)
	out := []stageOut{}
	for _, n := range names {
		if dep == "" || d.Stages[n].DeploymentID == dep {
			out = append(out, stage(d.Stages[n]))
		}
	}
	return write(w, http.StatusOK, struct {
		Item []stageOut `json:"item"`
	}{out})
}

func (a *API) getStage(w http.ResponseWriter, r *http.Request) error {
	d, err := a.doc(r.PathValue("restapi_id"))
	if err != nil {
		return err
	}
	st, ok := d.Stages[r.PathValue("stage_name")]
	if !ok {
		return stageNotFound()
	}
	return write(w, http.StatusOK, stage(st))
}

// updateStage applies patch operations to a stage. Promoting a canary is
// "replace /deploymentId" with the canary's deployment and "remove
// /canarySettings", as the console does.
func (a *API) updateStage(w http.ResponseWriter, r *http.Request) error {
	ops, err := patchOps(r)
	if err != nil {
		return err
	}
	name := r.PathValue("stage_name")
	var out *apigateway.Stage
	_, err = a.update(r.Context(), r.PathValue("restapi_id"), func(d *apigateway.Doc) (*apigateway.Write, error) {
		st, ok := d.Stages[name]
		if !ok {
			return nil, stageNotFound()
		}
		for _, op := range ops {
			if err := patchStage(d, st, op); err != nil {
				return nil, err
			}
		}
		st.LastUpdatedDate = a.now()
		out = st
		return nil, nil
	})
	if err != nil {
		return err
	}
	return write(w, http.StatusOK, stage(out))
}

func patchStage(d *apigateway.Doc, st *apigateway.Stage, op patchOp) error {
	v := op.value()
	setting := op.Op == "replace" || op.Op == "add"
	switch {
	case op.Path == "/deploymentId" && op.Op == "replace":
		if _, ok := d.Deployments[v]; !ok {
			return deploymentNotFound()
		}
		st.DeploymentID = v
	case op.Path == "/deploymentId" && op.Op == "copy" && op.From == "/canarySettings/deploymentId":
		if st.CanarySettings == nil || st.CanarySettings.DeploymentID == "" {
			return badRequest("The stage has no canary to promote")
		}
		st.DeploymentID = st.CanarySettings.DeploymentID
	case op.Path == "/description" && op.Op == "replace":
		st.Description = v
	case op.Path == "/tracingEnabled" && op.Op == "replace":
		st.TracingEnabled = v == "true"
	case strings.HasPrefix(op.Path, "/variables/"):
		k := unescapePointer(strings.TrimPrefix(op.Path, "/variables/"))
		switch {
		case setting:
			if err := validVariables(map[string]string{k: v}); err != nil {
				return err
			}
			if st.StageVariables == nil {
				st.StageVariables = map[string]string{}
			}
			st.StageVariables[k] = v
		case op.Op == "remove":
			delete(st.StageVariables, k)
		default:
			return invalidPatch(op)
		}
	case op.Path == "/canarySettings" && op.Op == "remove":
		st.CanarySettings = nil
	case strings.HasPrefix(op.Path, "/canarySettings/"):
		if st.CanarySettings == nil {
			if !setting {
				return invalidPatch(op)
			}
			st.CanarySettings = &apigateway.CanarySettings{DeploymentID: st.DeploymentID}
		}
		cs := st.CanarySettings
		field := strings.TrimPrefix(op.Path, "/canarySettings/")
		switch {
		case field == "percentTraffic" && setting:
			p, err := strconv.ParseFloat(v, 64)
			if err != nil || p < 0 || p > 100 {
				return badRequest("Canary traffic percentage must be between 0.0 and 100.0")
			}
			cs.PercentTraffic = p
		case field == "deploymentId" && setting:
			if _, ok := d.Deployments[v]; !ok {
				return deploymentNotFound()
			}
			cs.DeploymentID = v
		case field == "useStageCache" && setting:
			cs.UseStageCache = v == "true"
		case strings.HasPrefix(field, "stageVariableOverrides/"):
			k := unescapePointer(strings.TrimPrefix(field, "stageVariableOverrides/"))
			switch {
			case setting:
				if err := validVariables(map[string]string{k: v}); err != nil {
					return err
				}
				if cs.StageVariableOverrides == nil {
					cs.StageVariableOverrides = map[string]string{}
				}
				cs.StageVariableOverrides[k] = v
			case op.Op == "remove":
				delete(cs.StageVariableOverrides, k)
			default:
				return invalidPatch(op)
			}
		default:
			return invalidPatch(op)
		}
	default:
		return invalidPatch(op)
	}
	return nil
}

func (a *API) deleteStage(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("stage_name")
	_, err := a.update(r.Context(), r.PathValue("restapi_id"), func(d *apigateway.Doc) (*apigateway.Write, error) {
		if _, ok := d.Stages[name]; !ok {
			return nil, stageNotFound()
		}
		delete(d.Stages, name)
		return nil, nil
	})
	if err != nil {
		return err
	}
	return write(w, http.StatusAccepted, nil)
}

// ---- authorizers

func authorizerNotFound() error { return notFound("Invalid Authorizer identifier specified") }

func (a *API) createAuthorizer(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Name                         string `json:"name"`
		Type                         string `json:"type"`
		AuthorizerURI                string `json:"authorizerUri"`
		AuthorizerCredentials        string `json:"authorizerCredentials"`
		IdentitySource               string `json:"identitySource"`
		IdentityValidationExpression string `json:"identityValidationExpression"`
		AuthorizerResultTTLInSeconds *int   `json:"authorizerResultTtlInSeconds"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	if in.Name == "" {
		return badRequest("Authorizer name must be specified")
	}
	switch in.Type {
	case "TOKEN":
		if !strings.HasPrefix(in.IdentitySource, "method.request.header.") {
			return badRequest("Invalid identity source: a TOKEN authorizer's identitySource must be method.request.header.NAME")
		}
	case "REQUEST":
	default:
		return badRequest("Invalid authorizer type %q: must be TOKEN or REQUEST", in.Type)
	}
	if in.IdentityValidationExpression != "" {
		if _, err := regexp.Compile(in.IdentityValidationExpression); err != nil {
			return badRequest("Invalid identityValidationExpression: %v", err)
		}
	}
	if _, err := apigateway.FunctionRef(in.AuthorizerURI); err != nil {
		return badRequest("Invalid Authorizer URI: %s", in.AuthorizerURI)
	}
	ttl := 300
	if in.AuthorizerResultTTLInSeconds != nil {
		if *in.AuthorizerResultTTLInSeconds < 0 || *in.AuthorizerResultTTLInSeconds > 3600 {
			return badRequest("Invalid authorizer result TTL: must be between 0 and 3600")
		}
		ttl = *in.AuthorizerResultTTLInSeconds
	}
	au := &apigateway.RestAuthorizer{ID: apigateway.NewID(6), Name: in.Name, Type: in.Type, AuthorizerURI: in.AuthorizerURI,
		AuthorizerCredentials: in.AuthorizerCredentials, IdentitySource: in.IdentitySource,
		IdentityValidationExpression: in.IdentityValidationExpression, AuthorizerResultTTLInSeconds: &ttl}
	_, err := a.update(r.Context(), r.PathValue("restapi_id"), func(d *apigateway.Doc) (*apigateway.Write, error) {
		if len(d.Rest.Authorizers) >= MaxAuthorizers {
			return nil, limitExceeded("Cannot create more than %d authorizers in a REST API", MaxAuthorizers)
		}
		if d.Rest.Authorizers == nil {
			d.Rest.Authorizers = map[string]*apigateway.RestAuthorizer{}
		}
		d.Rest.Authorizers[au.ID] = au
		return nil, nil
	})
	if err != nil {
		return err
	}
	return write(w, http.StatusCreated, au)
}

func (a *API) getAuthorizers(w http.ResponseWriter, r *http.Request) error {
	d, err := a.doc(r.PathValue("restapi_id"))
	if err != nil {
		return err
	}
	ids, next, err := page(r, keys(d.Rest.Authorizers))
	if err != nil {
		return err
	}
	out := make([]*apigateway.RestAuthorizer, 0, len(ids))
	for _, id := range ids {
		out = append(out, d.Rest.Authorizers[id])
	}
	return write(w, http.StatusOK, list{Item: out, Position: next})
}

func (a *API) getAuthorizer(w http.ResponseWriter, r *http.Request) error {
	d, err := a.doc(r.PathValue("restapi_id"))
	if err != nil {
		return err
	}
	au, ok := d.Rest.Authorizers[r.PathValue("authorizer_id")]
	if !ok {
		return authorizerNotFound()
	}
	return write(w, http.StatusOK, au)
}

func (a *API) deleteAuthorizer(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("authorizer_id")
	_, err := a.update(r.Context(), r.PathValue("restapi_id"), func(d *apigateway.Doc) (*apigateway.Write, error) {
		if _, ok := d.Rest.Authorizers[id]; !ok {
			return nil, authorizerNotFound()
		}
		for _, res := range d.Rest.Resources {
			for _, m := range res.ResourceMethods {
				if m.AuthorizerID == id {
					return nil, conflict("Cannot delete authorizer '%s', is referenced in method: %s/%s", id, m.HTTPMethod, res.Path)
				}
			}
		}
		delete(d.Rest.Authorizers, id)
		return nil, nil
	})
	if err != nil {
		return err
	}
	return write(w, http.StatusAccepted, nil)
}
