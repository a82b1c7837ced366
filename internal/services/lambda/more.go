package lambda

import (
	"net/http"
	"net/url"

	"github.com/kumo-run/kumo/internal/awsproto"
	"github.com/kumo-run/kumo/internal/registry"
)

// routesMore routes the operations on aliases, policies, tags, concurrency
// and account settings.
func (a *API) routesMore() {
	fn := "/2015-03-31/functions/{FunctionName}"
	a.handle("POST "+fn+"/aliases", a.createAlias)
	a.handle("GET "+fn+"/aliases", a.listAliases)
	a.handle("GET "+fn+"/aliases/{Name}", a.getAlias)
	a.handle("PUT "+fn+"/aliases/{Name}", a.updateAlias)
	a.handle("DELETE "+fn+"/aliases/{Name}", a.deleteAlias)

	a.handle("POST "+fn+"/policy", a.addPermission)
	a.handle("GET "+fn+"/policy", a.getPolicy)
	a.handle("DELETE "+fn+"/policy/{StatementId}", a.removePermission)

	a.handle("POST /2017-03-31/tags/{Resource}", a.tagResource)
	a.handle("GET /2017-03-31/tags/{Resource}", a.listTags)
	a.handle("DELETE /2017-03-31/tags/{Resource}", a.untagResource)

	a.handle("PUT /2017-10-31/functions/{FunctionName}/concurrency", a.putConcurrency)
	a.handle("DELETE /2017-10-31/functions/{FunctionName}/concurrency", a.deleteConcurrency)
	a.handle("GET /2019-09-30/functions/{FunctionName}/concurrency", a.getConcurrency)

	a.handle("GET /2016-08-19/account-settings", a.accountSettings)
	a.handle("GET /2016-08-19/account-settings/", a.accountSettings)
}

func (a *API) createAlias(w http.ResponseWriter, r *http.Request) error {
	return respondBody(w, r, a, functionName, http.StatusCreated, a.reg.CreateAlias)
}

func (a *API) getAlias(w http.ResponseWriter, r *http.Request) error {
	ref, err := a.ref(r, functionName)
	if err != nil {
		return err
	}
	out, err := a.reg.GetAlias(r.Context(), ref, r.PathValue("Name"))
	if err != nil {
		return err
	}
	awsproto.WriteJSON(w, http.StatusOK, out)
	return nil
}

func (a *API) updateAlias(w http.ResponseWriter, r *http.Request) error {
	ref, err := a.ref(r, functionName)
	if err != nil {
		return err
	}
	var in registry.UpdateAliasInput
	if err := decode(r, &in); err != nil {
		return err
	}
	out, err := a.reg.UpdateAlias(r.Context(), ref, r.PathValue("Name"), in)
	if err != nil {
		return err
	}
	awsproto.WriteJSON(w, http.StatusOK, out)
	return nil
}

func (a *API) deleteAlias(w http.ResponseWriter, r *http.Request) error {
	ref, err := a.ref(r, functionName)
	if err != nil {
		return err
	}
	if err := a.reg.DeleteAlias(r.Context(), ref, r.PathValue("Name")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type listAliasesOutput struct {
	Aliases    []registry.AliasConfig `json:"Aliases"`
	NextMarker string                 `json:"NextMarker,omitempty"`
}

func (a *API) listAliases(w http.ResponseWriter, r *http.Request) error {
	ref, err := a.ref(r, functionName)
	if err != nil {
		return err
	}
	max, err := maxItems(r, listItems)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	out, next, err := a.reg.ListAliases(r.Context(), ref, q.Get("FunctionVersion"), q.Get("Marker"), max)
	if err != nil {
		return err
	}
	awsproto.WriteJSON(w, http.StatusOK, listAliasesOutput{Aliases: out, NextMarker: next})
	return nil
}

func (a *API) addPermission(w http.ResponseWriter, r *http.Request) error {
	ref, err := a.ref(r, namespacedFunctionName)
	if err != nil {
		return err
	}
	var in registry.AddPermissionInput
	if err := decode(r, &in); err != nil {
		return err
	}
	stmt, err := a.reg.AddPermission(r.Context(), ref, in)
	if err != nil {
		return err
	}
	awsproto.WriteJSON(w, http.StatusCreated, struct {
		Statement string `json:"Statement"`
	}{stmt})
	return nil
}

func (a *API) getPolicy(w http.ResponseWriter, r *http.Request) error {
	ref, err := a.ref(r, namespacedFunctionName)
	if err != nil {
		return err
	}
	policy, rev, err := a.reg.GetPolicy(r.Context(), ref)
	if err != nil {
		return err
	}
	awsproto.WriteJSON(w, http.StatusOK, struct {
		Policy     string `json:"Policy"`
		RevisionId string `json:"RevisionId"`
	}{policy, rev})
	return nil
}

func (a *API) removePermission(w http.ResponseWriter, r *http.Request) error {
	ref, err := a.ref(r, namespacedFunctionName)
	if err != nil {
		return err
	}
	if err := a.reg.RemovePermission(r.Context(), ref, r.PathValue("StatementId"), r.URL.Query().Get("RevisionId")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// resource is the {Resource} path member, an ARN.
func resource(r *http.Request) (string, error) {
	arn := r.PathValue("Resource")
	if u, err := url.PathUnescape(arn); err == nil {
		arn = u
	}
	return arn, nil
}

func (a *API) tagResource(w http.ResponseWriter, r *http.Request) error {
	arn, _ := resource(r)
	var in struct {
		Tags map[string]string `json:"Tags"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	if err := a.reg.TagResource(r.Context(), arn, in.Tags); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) untagResource(w http.ResponseWriter, r *http.Request) error {
	arn, _ := resource(r)
	if err := a.reg.UntagResource(r.Context(), arn, r.URL.Query()["tagKeys"]); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) listTags(w http.ResponseWriter, r *http.Request) error {
	arn, _ := resource(r)
	tags, err := a.reg.ListTags(r.Context(), arn)
	if err != nil {
		return err
	}
	awsproto.WriteJSON(w, http.StatusOK, struct {
		Tags map[string]string `json:"Tags"`
	}{tags})
	return nil
}

func (a *API) putConcurrency(w http.ResponseWriter, r *http.Request) error {
	ref, err := a.ref(r, functionName)
	if err != nil {
		return err
	}
	var in struct {
		ReservedConcurrentExecutions *int `json:"ReservedConcurrentExecutions"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	if in.ReservedConcurrentExecutions == nil {
		return awsproto.Errorf(awsproto.ValidationException, "1 validation error detected: Value null at 'reservedConcurrentExecutions' failed to satisfy constraint: Member must not be null")
	}
	n, err := a.reg.PutFunctionConcurrency(r.Context(), ref, *in.ReservedConcurrentExecutions)
	if err != nil {
		return err
	}
	awsproto.WriteJSON(w, http.StatusOK, concurrency{ReservedConcurrentExecutions: &n})
	return nil
}

func (a *API) getConcurrency(w http.ResponseWriter, r *http.Request) error {
	ref, err := a.ref(r, functionName)
	if err != nil {
		return err
	}
	n, err := a.reg.GetFunctionConcurrency(r.Context(), ref)
	if err != nil {
		return err
	}
	awsproto.WriteJSON(w, http.StatusOK, concurrency{ReservedConcurrentExecutions: n})
	return nil
}

func (a *API) deleteConcurrency(w http.ResponseWriter, r *http.Request) error {
	return noContent(w, r, a, functionName, a.reg.DeleteFunctionConcurrency)
}

func (a *API) accountSettings(w http.ResponseWriter, r *http.Request) error {
	awsproto.WriteJSON(w, http.StatusOK, a.reg.AccountSettings())
	return nil
}
