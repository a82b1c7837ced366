package lambda

import (
	"io"
	"net/http"
	"strconv"

	"github.com/kumo-run/kumo/internal/awsproto"
	"github.com/kumo-run/kumo/internal/invoke"
)

func (a *API) routesInvoke() {
	a.handle("POST /2015-03-31/functions/{FunctionName}/invocations", a.invoke)
}

func (a *API) invoke(w http.ResponseWriter, r *http.Request) error {
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
	out, err := a.invoker.Invoke(r.Context(), &invoke.Input{
		Ref:            ref,
		InvocationType: r.Header.Get("X-Amz-Invocation-Type"),
		LogType:        r.Header.Get("X-Amz-Log-Type"),
		ClientContext:  r.Header.Get("X-Amz-Client-Context"),
		Payload:        payload,
		RequestID:      awsproto.RequestID(r.Context()),
	})
	if err != nil {
		return err
	}
	h := w.Header()
	if out.ExecutedVersion != "" {
		h["X-Amz-Executed-Version"] = []string{out.ExecutedVersion}
	}
	if out.FunctionError != "" {
		h["X-Amz-Function-Error"] = []string{out.FunctionError}
	}
	if out.LogResult != "" {
		h["X-Amz-Log-Result"] = []string{out.LogResult}
	}
	if out.Status == http.StatusNoContent {
		w.WriteHeader(out.Status)
		return nil
	}
	h["Content-Type"] = []string{"application/json"}
	h["Content-Length"] = []string{strconv.Itoa(len(out.Payload))}
	w.WriteHeader(out.Status)
	w.Write(out.Payload)
	return nil
}
