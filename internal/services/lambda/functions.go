package lambda

import (
	"net/http"

	"github.com/kumo-run/kumo/internal/awsproto"
	"github.com/kumo-run/kumo/internal/registry"
)

func (a *API) createFunction(w http.ResponseWriter, r *http.Request) error {
	var in registry.CreateFunctionInput
	if err := decode(r, &in); err != nil {
		return err
	}
	c, err := a.reg.CreateFunction(r.Context(), &in)
	if err != nil {
		return err
	}
	awsproto.WriteJSON(w, http.StatusCreated, c)
	return nil
}

type functionCodeLocation struct {
	RepositoryType   string `json:"RepositoryType"`
	Location         string `json:"Location,omitempty"`
	ImageUri         string `json:"ImageUri,omitempty"`
	ResolvedImageUri string `json:"ResolvedImageUri,omitempty"`
}

type concurrency struct {
	ReservedConcurrentExecutions *int `json:"ReservedConcurrentExecutions,omitempty"`
}

type getFunctionOutput struct {
	Configuration registry.FunctionConfig `json:"Configuration"`
	Code          functionCodeLocation    `json:"Code"`
	Tags          map[string]string       `json:"Tags,omitempty"`
	Concurrency   *concurrency            `json:"Concurrency,omitempty"`
}

func (a *API) getFunction(w http.ResponseWriter, r *http.Request) error {
	ref, err := a.ref(r, namespacedFunctionName)
	if err != nil {
		return err
	}
	res, err := a.reg.GetFunction(r.Context(), ref)
	if err != nil {
		return err
	}
	out := getFunctionOutput{
		Configuration: res.Config,
		Code:          codeLocation(a, r, res.Code),
		Tags:          res.Tags,
	}
	if res.ReservedConcurrency != nil {
		out.Concurrency = &concurrency{ReservedConcurrentExecutions: res.ReservedConcurrency}
	}
	awsproto.WriteJSON(w, http.StatusOK, out)
	return nil
}

func (a *API) getFunctionConfiguration(w http.ResponseWriter, r *http.Request) error {
	return respond(w, r, a, namespacedFunctionName, http.StatusOK, a.reg.GetFunctionConfiguration)
}

type listFunctionsOutput struct {
	Functions  []registry.FunctionConfig `json:"Functions"`
	NextMarker string                    `json:"NextMarker,omitempty"`
}

func (a *API) listFunctions(w http.ResponseWriter, r *http.Request) error {
	max, err := maxItems(r, listItems)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	all := false
	switch v := q.Get("FunctionVersion"); v {
	case "":
	case "ALL":
		all = true
	default:
		return awsproto.Errorf(awsproto.ValidationException, "1 validation error detected: Value '%s' at 'functionVersion' failed to satisfy constraint: Member must satisfy enum value set: [ALL]", v)
	}
	fns, next, err := a.reg.ListFunctions(q.Get("Marker"), max, all)
	if err != nil {
		return err
	}
	if fns == nil {
		fns = []registry.FunctionConfig{}
	}
	awsproto.WriteJSON(w, http.StatusOK, listFunctionsOutput{Functions: fns, NextMarker: next})
	return nil
}

func (a *API) updateFunctionCode(w http.ResponseWriter, r *http.Request) error {
	return respondBodyPtr(w, r, a, functionName, http.StatusOK, a.reg.UpdateFunctionCode)
}

func (a *API) updateFunctionConfiguration(w http.ResponseWriter, r *http.Request) error {
	return respondBodyPtr(w, r, a, functionName, http.StatusOK, a.reg.UpdateFunctionConfiguration)
}

func (a *API) deleteFunction(w http.ResponseWriter, r *http.Request) error {
	return noContent(w, r, a, namespacedFunctionName, a.reg.DeleteFunction)
}

func (a *API) publishVersion(w http.ResponseWriter, r *http.Request) error {
	return respondBody(w, r, a, functionName, http.StatusCreated, a.reg.PublishVersion)
}

type listVersionsOutput struct {
	Versions   []registry.FunctionConfig `json:"Versions"`
	NextMarker string                    `json:"NextMarker,omitempty"`
}

func (a *API) listVersions(w http.ResponseWriter, r *http.Request) error {
	ref, err := a.ref(r, namespacedFunctionName)
	if err != nil {
		return err
	}
	max, err := maxItems(r, listItems)
	if err != nil {
		return err
	}
	vs, next, err := a.reg.ListVersions(r.Context(), ref, r.URL.Query().Get("Marker"), max)
	if err != nil {
		return err
	}
	awsproto.WriteJSON(w, http.StatusOK, listVersionsOutput{Versions: vs, NextMarker: next})
	return nil
}
