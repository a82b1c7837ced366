package lambda

import (
	"net/http"
	"strconv"

	"github.com/kumo-run/kumo/internal/awsproto"
	"github.com/kumo-run/kumo/internal/esm"
)

// routesESM routes the event source mapping operations (esm.Service).
func (a *API) routesESM() {
	for _, p := range []string{"/2015-03-31/event-source-mappings", "/2015-03-31/event-source-mappings/"} {
		a.handle("POST "+p, a.createEventSourceMapping)
		a.handle("GET "+p, a.listEventSourceMappings)
	}
	m := "/2015-03-31/event-source-mappings/{UUID}"
	a.handle("GET "+m, a.getEventSourceMapping)
	a.handle("PUT "+m, a.updateEventSourceMapping)
	a.handle("DELETE "+m, a.deleteEventSourceMapping)
}

func (a *API) mappings() (*esm.Service, error) {
	if a.esm == nil {
		return nil, awsproto.Errorf(awsproto.ServiceException, "Event source mappings are not available on this server.")
	}
	return a.esm, nil
}

func (a *API) createEventSourceMapping(w http.ResponseWriter, r *http.Request) error {
	s, err := a.mappings()
	if err != nil {
		return err
	}
	var in esm.CreateInput
	if err := decode(r, &in); err != nil {
		return err
	}
	out, err := s.Create(r.Context(), in)
	if err != nil {
		return err
	}
	awsproto.WriteJSON(w, http.StatusAccepted, out)
	return nil
}

func (a *API) getEventSourceMapping(w http.ResponseWriter, r *http.Request) error {
	s, err := a.mappings()
	if err != nil {
		return err
	}
	out, err := s.Get(r.Context(), r.PathValue("UUID"))
	if err != nil {
		return err
	}
	awsproto.WriteJSON(w, http.StatusOK, out)
	return nil
}

func (a *API) updateEventSourceMapping(w http.ResponseWriter, r *http.Request) error {
	s, err := a.mappings()
	if err != nil {
		return err
	}
	var in esm.UpdateInput
	if err := decode(r, &in); err != nil {
		return err
	}
	out, err := s.Update(r.Context(), r.PathValue("UUID"), in)
	if err != nil {
		return err
	}
	awsproto.WriteJSON(w, http.StatusAccepted, out)
	return nil
}

func (a *API) deleteEventSourceMapping(w http.ResponseWriter, r *http.Request) error {
	s, err := a.mappings()
	if err != nil {
		return err
	}
	out, err := s.Delete(r.Context(), r.PathValue("UUID"))
	if err != nil {
		return err
	}
	awsproto.WriteJSON(w, http.StatusAccepted, out)
	return nil
}

type listEventSourceMappingsOutput struct {
	EventSourceMappings []esm.Mapping `json:"EventSourceMappings"`
	NextMarker          string        `json:"NextMarker,omitempty"`
}

func (a *API) listEventSourceMappings(w http.ResponseWriter, r *http.Request) error {
	s, err := a.mappings()
	if err != nil {
		return err
	}
	q := r.URL.Query()
	max := 0
	if v := q.Get("MaxItems"); v != "" {
		if max, err = strconv.Atoi(v); err != nil {
			return awsproto.Errorf(awsproto.ValidationException, "1 validation error detected: Value '%s' at 'maxItems' failed to satisfy constraint: Member must be an integer", v)
		}
		if max < 1 {
			return awsproto.Errorf(awsproto.ValidationException, "1 validation error detected: Value '%d' at 'maxItems' failed to satisfy constraint: Member must have value greater than or equal to 1", max)
		}
	}
	out, next, err := s.List(r.Context(), q.Get("FunctionName"), q.Get("EventSourceArn"), q.Get("Marker"), max)
	if err != nil {
		return err
	}
	awsproto.WriteJSON(w, http.StatusOK, listEventSourceMappingsOutput{EventSourceMappings: out, NextMarker: next})
	return nil
}
