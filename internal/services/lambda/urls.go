package lambda

import (
	"net/http"

	"github.com/kumo-run/kumo/internal/awsproto"
	"github.com/kumo-run/kumo/internal/funcurl"
	"github.com/kumo-run/kumo/internal/registry"
)

// routesURLs routes the function URL configuration operations.
func (a *API) routesURLs() {
	fn := "/2021-10-31/functions/{FunctionName}"
	a.handle("POST "+fn+"/url", a.createFunctionURLConfig)
	a.handle("GET "+fn+"/url", a.getFunctionURLConfig)
	a.handle("PUT "+fn+"/url", a.updateFunctionURLConfig)
	a.handle("DELETE "+fn+"/url", a.deleteFunctionURLConfig)
	a.handle("GET "+fn+"/urls", a.listFunctionURLConfigs)
}

// urlConfigOutput is the FunctionUrlConfig shape and the outputs of the
// create, get and update operations (create has no LastModifiedTime).
type urlConfigOutput struct {
	FunctionUrl      string         `json:"FunctionUrl"`
	FunctionArn      string         `json:"FunctionArn"`
	AuthType         string         `json:"AuthType"`
	Cors             *registry.Cors `json:"Cors,omitempty"`
	CreationTime     string         `json:"CreationTime"`
	LastModifiedTime string         `json:"LastModifiedTime,omitempty"`
	InvokeMode       string         `json:"InvokeMode"`
}

// urlOutput renders a configuration; the URL's port is the one the client
// reached this server on.
func (a *API) urlOutput(r *http.Request, c registry.URLConfig) urlConfigOutput {
	return urlConfigOutput{
		FunctionUrl: funcurl.URL(c.ID, a.arns.Region, r.Host), FunctionArn: c.FunctionArn, AuthType: c.AuthType,
		Cors: c.Cors, CreationTime: c.CreationTime, LastModifiedTime: c.LastModifiedTime, InvokeMode: c.InvokeMode,
	}
}

func (a *API) createFunctionURLConfig(w http.ResponseWriter, r *http.Request) error {
	ref, err := a.ref(r, functionName)
	if err != nil {
		return err
	}
	var in registry.URLConfigInput
	if err := decode(r, &in); err != nil {
		return err
	}
	c, err := a.reg.CreateFunctionURLConfig(r.Context(), ref, in)
	if err != nil {
		return err
	}
	out := a.urlOutput(r, c)
	out.LastModifiedTime = ""
	awsproto.WriteJSON(w, http.StatusCreated, out)
	return nil
}

func (a *API) getFunctionURLConfig(w http.ResponseWriter, r *http.Request) error {
	ref, err := a.ref(r, functionName)
	if err != nil {
		return err
	}
	c, err := a.reg.GetFunctionURLConfig(r.Context(), ref)
	if err != nil {
		return err
	}
	awsproto.WriteJSON(w, http.StatusOK, a.urlOutput(r, c))
	return nil
}

func (a *API) updateFunctionURLConfig(w http.ResponseWriter, r *http.Request) error {
	ref, err := a.ref(r, functionName)
	if err != nil {
		return err
	}
	var in registry.URLConfigInput
	if err := decode(r, &in); err != nil {
		return err
	}
	c, err := a.reg.UpdateFunctionURLConfig(r.Context(), ref, in)
	if err != nil {
		return err
	}
	awsproto.WriteJSON(w, http.StatusOK, a.urlOutput(r, c))
	return nil
}

func (a *API) deleteFunctionURLConfig(w http.ResponseWriter, r *http.Request) error {
	return noContent(w, r, a, functionName, a.reg.DeleteFunctionURLConfig)
}

func (a *API) listFunctionURLConfigs(w http.ResponseWriter, r *http.Request) error {
	ref, err := a.ref(r, functionName)
	if err != nil {
		return err
	}
	max, err := maxItems(r, fiftyItems)
	if err != nil {
		return err
	}
	if max > registry.MaxURLListItems {
		return awsproto.Errorf(awsproto.ValidationException,
			"1 validation error detected: Value '%d' at 'maxItems' failed to satisfy constraint: Member must have value less than or equal to %d", max, registry.MaxURLListItems)
	}
	cs, next, err := a.reg.ListFunctionURLConfigs(r.Context(), ref, r.URL.Query().Get("Marker"), max)
	if err != nil {
		return err
	}
	out := struct {
		FunctionUrlConfigs []urlConfigOutput `json:"FunctionUrlConfigs"`
		NextMarker         string            `json:"NextMarker,omitempty"`
	}{FunctionUrlConfigs: make([]urlConfigOutput, 0, len(cs)), NextMarker: next}
	for _, c := range cs {
		out.FunctionUrlConfigs = append(out.FunctionUrlConfigs, a.urlOutput(r, c))
	}
	awsproto.WriteJSON(w, http.StatusOK, out)
	return nil
}
