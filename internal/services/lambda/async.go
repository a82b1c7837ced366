package lambda

import (
	"io"
	"net/http"

	"github.com/kumo-run/kumo/internal/awsproto"
	"github.com/kumo-run/kumo/internal/invoke"
	"github.com/kumo-run/kumo/internal/registry"
)

// routesAsync routes the asynchronous invocation settings and the
// deprecated InvokeAsync.
func (a *API) routesAsync() {
	eic := "/2019-09-25/functions/{FunctionName}/event-invoke-config"
	a.handle("PUT "+eic, a.putEventInvokeConfig)
	a.handle("POST "+eic, a.updateEventInvokeConfig)
	a.handle("GET "+eic, a.getEventInvokeConfig)
	a.handle("DELETE "+eic, a.deleteEventInvokeConfig)
	a.handle("GET "+eic+"/list", a.listEventInvokeConfigs)
	a.handle("POST /2014-11-13/functions/{FunctionName}/invoke-async", a.invokeAsync)
	a.handle("POST /2014-11-13/functions/{FunctionName}/invoke-async/", a.invokeAsync)
}

func (a *API) putEventInvokeConfig(w http.ResponseWriter, r *http.Request) error {
	return respondBody(w, r, a, namespacedFunctionName, http.StatusOK, a.reg.PutEventInvokeConfig)
}

func (a *API) updateEventInvokeConfig(w http.ResponseWriter, r *http.Request) error {
	return respondBody(w, r, a, namespacedFunctionName, http.StatusOK, a.reg.UpdateEventInvokeConfig)
}

func (a *API) getEventInvokeConfig(w http.ResponseWriter, r *http.Request) error {
	return respond(w, r, a, namespacedFunctionName, http.StatusOK, a.reg.GetEventInvokeConfig)
}

func (a *API) deleteEventInvokeConfig(w http.ResponseWriter, r *http.Request) error {
	return noContent(w, r, a, namespacedFunctionName, a.reg.DeleteEventInvokeConfig)
}

type listEventInvokeConfigsOutput struct {
	FunctionEventInvokeConfigs []registry.EventInvokeConfig `json:"FunctionEventInvokeConfigs"`
	NextMarker                 string                       `json:"NextMarker,omitempty"`
}

func (a *API) listEventInvokeConfigs(w http.ResponseWriter, r *http.Request) error {
	ref, err := a.ref(r, namespacedFunctionName)
	if err != nil {
		return err
	}
	max, err := maxItems(r, fiftyItems)
	if err != nil {
		return err
	}
	out, next, err := a.reg.ListEventInvokeConfigs(r.Context(), ref, r.URL.Query().Get("Marker"), max)
	if err != nil {
		return err
	}
	awsproto.WriteJSON(w, http.StatusOK, listEventInvokeConfigsOutput{FunctionEventInvokeConfigs: out, NextMarker: next})
	return nil
}

// invokeAsync is the deprecated InvokeAsync: an Event invocation answered
// with 202 {"Status":202}.
func (a *API) invokeAsync(w http.ResponseWriter, r *http.Request) error {
	if a.invoker == nil {
		return awsproto.Errorf(awsproto.ServiceException, "Invoke is not available on this server.")
	}
	ref, err := a.ref(r, namespacedFunctionName)
	if err != nil {
		return err
	}
	payload, err := io.ReadAll(r.Body)
	if err != nil {
		return awsproto.Errorf(awsproto.InvalidRequestContentException, "Could not read request body: %v", err)
	}
	if _, err := a.invoker.Invoke(r.Context(), &invoke.Input{
		Ref: ref, InvocationType: invoke.TypeEvent, Payload: payload, RequestID: awsproto.RequestID(r.Context()),
	}); err != nil {
		return err
	}
	awsproto.WriteJSON(w, http.StatusAccepted, map[string]int{"Status": http.StatusAccepted})
	return nil
}
