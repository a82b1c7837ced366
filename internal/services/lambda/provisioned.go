package lambda

import (
	"net/http"

	"github.com/kumo-run/kumo/internal/awsproto"
	"github.com/kumo-run/kumo/internal/registry"
)

// routesProvisioned routes the provisioned concurrency operations. One path
// serves Put, Get and Delete (?Qualifier=) and, with ?List=ALL, the list.
func (a *API) routesProvisioned() {
	pc := "/2019-09-30/functions/{FunctionName}/provisioned-concurrency"
	a.handle("PUT "+pc, a.putProvisionedConcurrency)
	a.handle("GET "+pc, a.getProvisionedConcurrency)
	a.handle("DELETE "+pc, a.deleteProvisionedConcurrency)
}

// provisionedOutput is the Get/Put response: the configuration without
// FunctionArn.
type provisionedOutput struct {
	Requested    int    `json:"RequestedProvisionedConcurrentExecutions"`
	Available    int    `json:"AvailableProvisionedConcurrentExecutions"`
	Allocated    int    `json:"AllocatedProvisionedConcurrentExecutions"`
	Status       string `json:"Status"`
	StatusReason string `json:"StatusReason,omitempty"`
	LastModified string `json:"LastModified"`
}

func toProvisionedOutput(c registry.ProvisionedConfig) provisionedOutput {
	return provisionedOutput{Requested: c.Requested, Available: c.Available, Allocated: c.Allocated,
		Status: c.Status, StatusReason: c.StatusReason, LastModified: c.LastModified}
}

func (a *API) putProvisionedConcurrency(w http.ResponseWriter, r *http.Request) error {
	ref, err := a.ref(r, functionName)
	if err != nil {
		return err
	}
	var in struct {
		ProvisionedConcurrentExecutions *int `json:"ProvisionedConcurrentExecutions"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	if in.ProvisionedConcurrentExecutions == nil {
		return awsproto.Errorf(awsproto.ValidationException, "1 validation error detected: Value null at 'provisionedConcurrentExecutions' failed to satisfy constraint: Member must not be null")
	}
	out, err := a.reg.PutProvisionedConcurrency(r.Context(), ref, *in.ProvisionedConcurrentExecutions)
	if err != nil {
		return err
	}
	awsproto.WriteJSON(w, http.StatusAccepted, toProvisionedOutput(out))
	return nil
}

func (a *API) getProvisionedConcurrency(w http.ResponseWriter, r *http.Request) error {
	if r.URL.Query().Get("List") == "ALL" {
		return a.listProvisionedConcurrency(w, r)
	}
	ref, err := a.ref(r, functionName)
	if err != nil {
		return err
	}
	out, err := a.reg.GetProvisionedConcurrency(r.Context(), ref)
	if err != nil {
		return err
	}
	awsproto.WriteJSON(w, http.StatusOK, toProvisionedOutput(out))
	return nil
}

func (a *API) deleteProvisionedConcurrency(w http.ResponseWriter, r *http.Request) error {
	return noContent(w, r, a, functionName, a.reg.DeleteProvisionedConcurrency)
}

type listProvisionedOutput struct {
	ProvisionedConcurrencyConfigs []registry.ProvisionedConfig `json:"ProvisionedConcurrencyConfigs"`
	NextMarker                    string                       `json:"NextMarker,omitempty"`
}

func (a *API) listProvisionedConcurrency(w http.ResponseWriter, r *http.Request) error {
	ref, err := a.ref(r, functionName)
	if err != nil {
		return err
	}
	max, err := maxItems(r, fiftyItems)
	if err != nil {
		return err
	}
	out, next, err := a.reg.ListProvisionedConcurrency(r.Context(), ref, r.URL.Query().Get("Marker"), max)
	if err != nil {
		return err
	}
	awsproto.WriteJSON(w, http.StatusOK, listProvisionedOutput{ProvisionedConcurrencyConfigs: out, NextMarker: next})
	return nil
}
