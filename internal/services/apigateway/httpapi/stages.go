package httpapi

import (
	"net/http"
	"strings"
	"time"

	"github.com/kumo-run/kumo/internal/awsproto/arn"
	"github.com/kumo-run/kumo/internal/lazyregexp"
	"github.com/kumo-run/kumo/internal/services/apigateway"
)

// ---- stages

type stageInput struct {
	StageName            *string                              `json:"stageName"`
	Description          *string                              `json:"description"`
	DeploymentID         *string                              `json:"deploymentId"`
	AutoDeploy           *bool                                `json:"autoDeploy"`
	ClientCertificateID  *string                              `json:"clientCertificateId"`
	AccessLogSettings    *apigateway.AccessLogSettings        `json:"accessLogSettings"`
	DefaultRouteSettings *apigateway.RouteSettings            `json:"defaultRouteSettings"`
	RouteSettings        map[string]*apigateway.RouteSettings `json:"routeSettings"`
	StageVariables       map[string]string                    `json:"stageVariables"`
	Tags                 map[string]string                    `json:"tags"`
}

var (
	stageName    = lazyregexp.New(`^[A-Za-z0-9_-]{1,128}$`)
	variableName = lazyregexp.New(`^[A-Za-z0-9_]{1,64}$`)
)

func validStageName(s string) error {
	if s != apigateway.DefaultStage && !stageName.MatchString(s) {
		return badRequest("Stage name %q is invalid: use 1 to 128 letters, digits, '-' and '_', or $default", s)
	}
	return nil
}

func validRouteSettings(what string, rs *apigateway.RouteSettings) error {
	if rs == nil {
		return nil
	}
	if rs.ThrottlingBurstLimit != nil && *rs.ThrottlingBurstLimit < 0 {
		return badRequest("%s: ThrottlingBurstLimit must not be negative", what)
	}
	if rs.ThrottlingRateLimit != nil && *rs.ThrottlingRateLimit < 0 {
		return badRequest("%s: ThrottlingRateLimit must not be negative", what)
	}
	switch rs.LoggingLevel {
	case "", "ERROR", "INFO", "OFF":
	default:
		return badRequest("%s: invalid LoggingLevel %q", what, rs.LoggingLevel)
	}
	return nil
}

func (in *stageInput) apply(d *apigateway.Doc, st *apigateway.Stage) error {
	if in.Description != nil {
		st.Description = *in.Description
	}
	if in.DeploymentID != nil {
		if d.Deployments[*in.DeploymentID] == nil {
			return notFound("Invalid Deployment identifier specified %s", *in.DeploymentID)
		}
		st.DeploymentID = *in.DeploymentID
	}
	if in.AutoDeploy != nil {
		st.AutoDeploy = *in.AutoDeploy
	}
	if in.ClientCertificateID != nil {
		st.ClientCertificateID = *in.ClientCertificateID
	}
	if in.AccessLogSettings != nil {
		st.AccessLogSettings = in.AccessLogSettings
	}
	if in.DefaultRouteSettings != nil {
		if err := validRouteSettings("DefaultRouteSettings", in.DefaultRouteSettings); err != nil {
			return err
		}
		st.DefaultRouteSettings = in.DefaultRouteSettings
	}
	if in.RouteSettings != nil {
		for key, rs := range in.RouteSettings {
			if err := validRouteKeyOf(d, key); err != nil {
				return err
			}
			if err := validRouteSettings("RouteSettings "+key, rs); err != nil {
				return err
			}
			st.RouteSettings[key] = rs
		}
	}
	if in.StageVariables != nil {
		for k, v := range in.StageVariables {
			if !variableName.MatchString(k) {
				return badRequest("Stage variable name %q is invalid: use 1 to 64 letters, digits and '_'", k)
			}
			if len(v) > 2048 {
				return badRequest("The value of stage variable %s is longer than 2048 characters", k)
			}
			st.StageVariables[k] = v
		}
	}
	return nil
}

func newStage(name string, now func() time.Time) *apigateway.Stage {
	t := now()
	return &apigateway.Stage{StageName: name, RouteSettings: map[string]*apigateway.RouteSettings{},
		DefaultRouteSettings: &apigateway.RouteSettings{DetailedMetricsEnabled: ptr(false)},
		StageVariables:       map[string]string{}, Tags: map[string]string{}, CreatedDate: t, LastUpdatedDate: t}
}

func (a *API) createStage(w http.ResponseWriter, r *http.Request) error {
	var in stageInput
	if err := decode(r, &in); err != nil {
		return err
	}
	if in.StageName == nil {
		return badRequest("StageName is required")
	}
	if err := validStageName(*in.StageName); err != nil {
		return err
	}
	if err := validTags(in.Tags); err != nil {
		return err
	}
	var out *apigateway.Stage
	_, err := a.update(r.Context(), r.PathValue("apiId"), func(d *apigateway.Doc) (*apigateway.Write, error) {
		if d.Stages[*in.StageName] != nil {
			return nil, conflict("Stage %s already exists", *in.StageName)
		}
		st := newStage(*in.StageName, a.now)
		if in.Tags != nil {
			st.Tags = in.Tags
		}
		if err := in.apply(d, st); err != nil {
			return nil, err
		}
		d.Stages[st.StageName] = st
		out = st
		w := &apigateway.Write{Doc: d}
		if st.AutoDeploy {
			a.autoDeploy(w, a.now())
		}
		return w, nil
	})
	if err != nil {
		return err
	}
	return write(w, http.StatusCreated, out)
}

func (a *API) getStage(w http.ResponseWriter, r *http.Request) error {
	d, err := a.doc(r.PathValue("apiId"))
	if err != nil {
		return err
	}
	st := d.Stages[r.PathValue("stageName")]
	if st == nil {
		return notFound("Invalid stage identifier specified")
	}
	return write(w, http.StatusOK, st)
}

func (a *API) getStages(w http.ResponseWriter, r *http.Request) error {
	d, err := a.doc(r.PathValue("apiId"))
	if err != nil {
		return err
	}
	ids, next, err := page(r, keys(d.Stages))
	if err != nil {
		return err
	}
	out := make([]*apigateway.Stage, 0, len(ids))
	for _, id := range ids {
		out = append(out, d.Stages[id])
	}
	return write(w, http.StatusOK, items{Items: out, NextToken: next})
}

func (a *API) updateStage(w http.ResponseWriter, r *http.Request) error {
	var in stageInput
	if err := decode(r, &in); err != nil {
		return err
	}
	name := r.PathValue("stageName")
	if in.StageName != nil && *in.StageName != name {
		return badRequest("A stage cannot be renamed")
	}
	var out *apigateway.Stage
	_, err := a.update(r.Context(), r.PathValue("apiId"), func(d *apigateway.Doc) (*apigateway.Write, error) {
		st := d.Stages[name]
		if st == nil {
			return nil, notFound("Invalid stage identifier specified")
		}
		wasAuto := st.AutoDeploy
		if err := in.apply(d, st); err != nil {
			return nil, err
		}
		st.LastUpdatedDate = a.now()
		out = st
		w := &apigateway.Write{Doc: d}
		if st.AutoDeploy && !wasAuto {
			a.autoDeploy(w, a.now())
		}
		return w, nil
	})
	if err != nil {
		return err
	}
	return write(w, http.StatusOK, out)
}

func (a *API) deleteStage(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("stageName")
	_, err := a.update(r.Context(), r.PathValue("apiId"), func(d *apigateway.Doc) (*apigateway.Write, error) {
		if d.Stages[name] == nil {
			return nil, notFound("Invalid stage identifier specified")
		}
		delete(d.Stages, name)
		return nil, nil
	})
	if err != nil {
		return err
	}
	return write(w, http.StatusNoContent, nil)
}

// ---- deployments

func (a *API) createDeployment(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Description *string `json:"description"`
		StageName   *string `json:"stageName"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	var out *apigateway.Deployment
	_, err := a.update(r.Context(), r.PathValue("apiId"), func(d *apigateway.Doc) (*apigateway.Write, error) {
		var stages []*apigateway.Stage
		if in.StageName != nil {
			st := d.Stages[*in.StageName]
			if st == nil {
				return nil, notFound("Invalid stage identifier specified")
			}
			if st.AutoDeploy {
				return nil, badRequest("Stage %s has AutoDeploy enabled: it is deployed on every change", st.StageName)
			}
			stages = append(stages, st)
		}
		now := a.now()
		dep := &apigateway.Deployment{DeploymentID: apigateway.NewID(7), DeploymentStatus: "DEPLOYED", CreatedDate: now}
		if in.Description != nil {
			dep.Description = *in.Description
		}
		w := &apigateway.Write{Doc: d}
		a.deploy(w, dep, stages, now)
		out = dep
		return w, nil
	})
	if err != nil {
		return err
	}
	return write(w, http.StatusCreated, out)
}

func (a *API) getDeployment(w http.ResponseWriter, r *http.Request) error {
	d, err := a.doc(r.PathValue("apiId"))
	if err != nil {
		return err
	}
	dep := d.Deployments[r.PathValue("deploymentId")]
	if dep == nil {
		return notFound("Invalid Deployment identifier specified %s", r.PathValue("deploymentId"))
	}
	return write(w, http.StatusOK, dep)
}

func (a *API) getDeployments(w http.ResponseWriter, r *http.Request) error {
	d, err := a.doc(r.PathValue("apiId"))
	if err != nil {
		return err
	}
	ids, next, err := page(r, keys(d.Deployments))
	if err != nil {
		return err
	}
	out := make([]*apigateway.Deployment, 0, len(ids))
	for _, id := range ids {
		out = append(out, d.Deployments[id])
	}
	return write(w, http.StatusOK, items{Items: out, NextToken: next})
}

func (a *API) deleteDeployment(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("deploymentId")
	_, err := a.update(r.Context(), r.PathValue("apiId"), func(d *apigateway.Doc) (*apigateway.Write, error) {
		if d.Deployments[id] == nil {
			return nil, notFound("Invalid Deployment identifier specified %s", id)
		}
		for _, st := range d.Stages {
			if st.DeploymentID == id {
				return nil, badRequest("Active stages pointing to this deployment must be moved or deleted")
			}
		}
		delete(d.Deployments, id)
		return &apigateway.Write{Doc: d, Drop: []string{id}}, nil
	})
	if err != nil {
		return err
	}
	return write(w, http.StatusNoContent, nil)
}

// ---- tags

// taggable splits a resource ARN into the API and, for a stage, the
// stage it names: arn:aws:apigateway:REGION::/apis/ID[/stages/NAME].
func (a *API) taggable(resource string) (apiID, stage string, err error) {
	p, perr := arn.Parse(resource)
	rest, ok := strings.CutPrefix(p.Resource, "/apis/")
	if perr != nil || p.Service != "apigateway" || p.Region != a.cfg.Region || !ok {
		return "", "", notFound("Invalid resource ARN specified %s", resource)
	}
	apiID, rest, _ = strings.Cut(rest, "/")
	if rest != "" {
		var isStage bool
		if stage, isStage = strings.CutPrefix(rest, "stages/"); !isStage || stage == "" {
			return "", "", notFound("Tagging is not supported for %s", resource)
		}
	}
	return apiID, stage, nil
}

func tagsOf(d *apigateway.Doc, stage string) (map[string]string, error) {
	if stage == "" {
		return d.API.Tags, nil
	}
	st := d.Stages[stage]
	if st == nil {
		return nil, notFound("Invalid stage identifier specified")
	}
	if st.Tags == nil {
		st.Tags = map[string]string{}
	}
	return st.Tags, nil
}

func validTags(tags map[string]string) error {
	if len(tags) > 50 {
		return badRequest("A resource can have at most 50 tags")
	}
	for k, v := range tags {
		if k == "" || len(k) > 128 || len(v) > 256 || strings.HasPrefix(strings.ToLower(k), "aws:") {
			return badRequest("Invalid tag %q: keys are 1 to 128 characters, not starting with aws:, values at most 256", k)
		}
	}
	return nil
}

func (a *API) tagResource(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Tags map[string]string `json:"tags"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	apiID, stage, err := a.taggable(r.PathValue("arn"))
	if err != nil {
		return err
	}
	_, err = a.update(r.Context(), apiID, func(d *apigateway.Doc) (*apigateway.Write, error) {
		tags, err := tagsOf(d, stage)
		if err != nil {
			return nil, err
		}
		for k, v := range in.Tags {
			tags[k] = v
		}
		if err := validTags(tags); err != nil {
			return nil, err
		}
		return nil, nil
	})
	if err != nil {
		return err
	}
	return write(w, http.StatusCreated, struct{}{})
}

func (a *API) getTags(w http.ResponseWriter, r *http.Request) error {
	apiID, stage, err := a.taggable(r.PathValue("arn"))
	if err != nil {
		return err
	}
	d, err := a.doc(apiID)
	if err != nil {
		return err
	}
	tags, err := tagsOf(d.Clone(), stage)
	if err != nil {
		return err
	}
	return write(w, http.StatusOK, map[string]any{"tags": tags})
}

func (a *API) untagResource(w http.ResponseWriter, r *http.Request) error {
	apiID, stage, err := a.taggable(r.PathValue("arn"))
	if err != nil {
		return err
	}
	keys := r.URL.Query()["tagKeys"]
	if len(keys) == 0 {
		return badRequest("TagKeys is required")
	}
	_, err = a.update(r.Context(), apiID, func(d *apigateway.Doc) (*apigateway.Write, error) {
		tags, err := tagsOf(d, stage)
		if err != nil {
			return nil, err
		}
		for _, k := range keys {
			delete(tags, k)
		}
		return nil, nil
	})
	if err != nil {
		return err
	}
	return write(w, http.StatusNoContent, nil)
}
