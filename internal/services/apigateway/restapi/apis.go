package restapi

import (
	"net/http"
	"sort"
	"strings"

	"github.com/kumo-run/kumo/internal/awsproto"
	"github.com/kumo-run/kumo/internal/services/apigateway"
)

// restAPIOut is a RestApi as the wire has it.
type restAPIOut struct {
	ID                        string                            `json:"id"`
	Name                      string                            `json:"name"`
	Description               string                            `json:"description,omitempty"`
	Version                   string                            `json:"version,omitempty"`
	CreatedDate               epoch                             `json:"createdDate"`
	BinaryMediaTypes          []string                          `json:"binaryMediaTypes,omitempty"`
	MinimumCompressionSize    *int                              `json:"minimumCompressionSize,omitempty"`
	APIKeySource              string                            `json:"apiKeySource"`
	EndpointConfiguration     *apigateway.EndpointConfiguration `json:"endpointConfiguration,omitempty"`
	Policy                    string                            `json:"policy,omitempty"`
	Tags                      map[string]string                 `json:"tags,omitempty"`
	DisableExecuteAPIEndpoint bool                              `json:"disableExecuteApiEndpoint"`
	RootResourceID            string                            `json:"rootResourceId"`
}

func restAPI(d *apigateway.Doc) restAPIOut {
	return restAPIOut{ID: d.API.APIID, Name: d.API.Name, Description: d.API.Description, Version: d.API.Version,
		CreatedDate: epoch(d.API.CreatedDate), BinaryMediaTypes: d.Rest.BinaryMediaTypes, MinimumCompressionSize: d.Rest.MinimumCompressionSize,
		APIKeySource: d.Rest.APIKeySource, EndpointConfiguration: d.Rest.EndpointConfiguration, Policy: d.Rest.Policy,
		Tags: d.API.Tags, DisableExecuteAPIEndpoint: d.API.DisableExecuteAPIEndpoint, RootResourceID: d.Rest.RootResourceID}
}

// createOrImportRestAPI is CreateRestApi, or ImportRestApi with
// mode=import.
func (a *API) createOrImportRestAPI(w http.ResponseWriter, r *http.Request) error {
	if r.URL.Query().Get("mode") == "import" {
		return a.importRestAPI(w, r)
	}
	return a.createRestAPI(w, r)
}

func (a *API) createRestAPI(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Name                      string                            `json:"name"`
		Description               string                            `json:"description"`
		Version                   string                            `json:"version"`
		CloneFrom                 string                            `json:"cloneFrom"`
		BinaryMediaTypes          []string                          `json:"binaryMediaTypes"`
		MinimumCompressionSize    *int                              `json:"minimumCompressionSize"`
		APIKeySource              string                            `json:"apiKeySource"`
		EndpointConfiguration     *apigateway.EndpointConfiguration `json:"endpointConfiguration"`
		Policy                    string                            `json:"policy"`
		Tags                      map[string]string                 `json:"tags"`
		DisableExecuteAPIEndpoint bool                              `json:"disableExecuteApiEndpoint"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	if in.Name == "" {
		return badRequest("Invalid REST API name specified")
	}
	if in.CloneFrom != "" {
		return badRequest("cloneFrom is not supported")
	}
	switch in.APIKeySource {
	case "":
		in.APIKeySource = "HEADER"
	case "HEADER", "AUTHORIZER":
	default:
		return badRequest("Invalid apiKeySource %q: must be HEADER or AUTHORIZER", in.APIKeySource)
	}
	if in.MinimumCompressionSize != nil && (*in.MinimumCompressionSize < 0 || *in.MinimumCompressionSize > 10485760) {
		return badRequest("Invalid minimum compression size, must be between 0 and 10485760")
	}
	if in.EndpointConfiguration == nil {
		in.EndpointConfiguration = &apigateway.EndpointConfiguration{Types: []string{"EDGE"}}
	}
	for _, t := range in.BinaryMediaTypes {
		if !validMediaType(t) {
			return badRequest("Invalid binary media type %q", t)
		}
	}
	if err := a.restAPIQuota(); err != nil {
		return err
	}
	root := apigateway.NewID(10)
	api := apigateway.API{APIID: apigateway.NewID(10), Name: in.Name, Description: in.Description, Version: in.Version,
		ProtocolType: apigateway.ProtocolREST, DisableExecuteAPIEndpoint: in.DisableExecuteAPIEndpoint, CreatedDate: a.now(), Tags: in.Tags}
	d := apigateway.NewDoc(api)
	d.Rest = &apigateway.RestDoc{RootResourceID: root, BinaryMediaTypes: in.BinaryMediaTypes, APIKeySource: in.APIKeySource,
		MinimumCompressionSize: in.MinimumCompressionSize, EndpointConfiguration: in.EndpointConfiguration, Policy: in.Policy,
		Resources: map[string]*apigateway.RestResource{root: {ID: root, Path: "/"}}}
	if err := a.st.Create(r.Context(), apigateway.Write{Doc: d}); err != nil {
		return awsproto.Internal(err)
	}
	return write(w, http.StatusCreated, restAPI(d))
}

// restAPIQuota refuses a new REST API past MaxRestAPIs.
func (a *API) restAPIQuota() error {
	n := 0
	for _, d := range a.st.List() {
		if d.Rest != nil {
			n++
		}
	}
	if n >= MaxRestAPIs {
		return limitExceeded("Cannot create more than %d REST APIs", MaxRestAPIs)
	}
	return nil
}

func validMediaType(t string) bool {
	typ, sub, ok := strings.Cut(t, "/")
	return ok && typ != "" && sub != "" && !strings.ContainsAny(t, " \t,")
}

func (a *API) getRestAPIs(w http.ResponseWriter, r *http.Request) error {
	byID := map[string]*apigateway.Doc{}
	for _, d := range a.st.List() {
		if d.Rest != nil {
			byID[d.API.APIID] = d
		}
	}
	ids, next, err := page(r, keys(byID))
	if err != nil {
		return err
	}
	out := make([]restAPIOut, 0, len(ids))
	for _, id := range ids {
		out = append(out, restAPI(byID[id]))
	}
	return write(w, http.StatusOK, list{Item: out, Position: next})
}

func (a *API) getRestAPI(w http.ResponseWriter, r *http.Request) error {
	d, err := a.doc(r.PathValue("restapi_id"))
	if err != nil {
		return err
	}
	return write(w, http.StatusOK, restAPI(d))
}

func (a *API) updateRestAPI(w http.ResponseWriter, r *http.Request) error {
	ops, err := patchOps(r)
	if err != nil {
		return err
	}
	d, err := a.update(r.Context(), r.PathValue("restapi_id"), func(d *apigateway.Doc) (*apigateway.Write, error) {
		for _, op := range ops {
			v := op.value()
			switch {
			case op.Path == "/name" && op.Op == "replace":
				if v == "" {
					return nil, badRequest("Invalid REST API name specified")
				}
				d.API.Name = v
			case op.Path == "/description" && op.Op == "replace":
				d.API.Description = v
			case op.Path == "/version" && op.Op == "replace":
				d.API.Version = v
			case op.Path == "/disableExecuteApiEndpoint" && op.Op == "replace":
				d.API.DisableExecuteAPIEndpoint = v == "true"
			case op.Path == "/apiKeySource" && op.Op == "replace":
				if v != "HEADER" && v != "AUTHORIZER" {
					return nil, badRequest("Invalid apiKeySource %q: must be HEADER or AUTHORIZER", v)
				}
				d.Rest.APIKeySource = v
			case op.Path == "/policy" && op.Op == "replace":
				d.Rest.Policy = v
			case strings.HasPrefix(op.Path, "/binaryMediaTypes/") && (op.Op == "add" || op.Op == "remove" || op.Op == "replace"):
				t := unescapePointer(strings.TrimPrefix(op.Path, "/binaryMediaTypes/"))
				if op.Op == "replace" {
					if !validMediaType(v) {
						return nil, badRequest("Invalid binary media type %q", v)
					}
					d.Rest.BinaryMediaTypes = removeString(d.Rest.BinaryMediaTypes, t)
					t = v
				}
				if !validMediaType(t) {
					return nil, badRequest("Invalid binary media type %q", t)
				}
				d.Rest.BinaryMediaTypes = removeString(d.Rest.BinaryMediaTypes, t)
				if op.Op != "remove" {
					d.Rest.BinaryMediaTypes = append(d.Rest.BinaryMediaTypes, t)
				}
			default:
				return nil, invalidPatch(op)
			}
		}
		return nil, nil
	})
	if err != nil {
		return err
	}
	return write(w, http.StatusOK, restAPI(d))
}

func removeString(s []string, v string) []string {
	out := s[:0:0]
	for _, x := range s {
		if x != v {
			out = append(out, x)
		}
	}
	return out
}

func (a *API) deleteRestAPI(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("restapi_id")
	if _, err := a.doc(id); err != nil {
		return err
	}
	if err := a.st.Delete(r.Context(), id); err != nil {
		if err == apigateway.ErrNotFound {
			return a.apiNotFound(id)
		}
		return awsproto.Internal(err)
	}
	return write(w, http.StatusAccepted, nil)
}

// ---- resources

// resourceOut is a Resource as the wire has it; without embed its
// methods are named but not described.
func resourceOut(res *apigateway.RestResource, embed bool) *apigateway.RestResource {
	if embed || len(res.ResourceMethods) == 0 {
		return res
	}
	c := *res
	c.ResourceMethods = make(map[string]*apigateway.RestMethod, len(res.ResourceMethods))
	for m := range res.ResourceMethods {
		c.ResourceMethods[m] = &apigateway.RestMethod{}
	}
	return &c
}

func (a *API) getResources(w http.ResponseWriter, r *http.Request) error {
	d, err := a.doc(r.PathValue("restapi_id"))
	if err != nil {
		return err
	}
	embed := false
	for _, e := range r.URL.Query()["embed"] {
		for part := range strings.SplitSeq(e, ",") {
			embed = embed || part == "methods"
		}
	}
	ids, next, err := page(r, keys(d.Rest.Resources))
	if err != nil {
		return err
	}
	out := make([]*apigateway.RestResource, 0, len(ids))
	for _, id := range ids {
		out = append(out, resourceOut(d.Rest.Resources[id], embed))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return write(w, http.StatusOK, list{Item: out, Position: next})
}

func resourceNotFound() error { return notFound("Invalid Resource identifier specified") }

func (a *API) getResource(w http.ResponseWriter, r *http.Request) error {
	d, err := a.doc(r.PathValue("restapi_id"))
	if err != nil {
		return err
	}
	res, ok := d.Rest.Resources[r.PathValue("resource_id")]
	if !ok {
		return resourceNotFound()
	}
	return write(w, http.StatusOK, res)
}

// validPathPart checks a resource's path part: a literal, {name} or a
// greedy {name+}.
func validPathPart(p string) error {
	if p == "" || strings.ContainsAny(p, "/ ?#") {
		return badRequest("Resource's path part only allow a-zA-Z0-9._- and curly braces at the beginning and the end and an optional plus sign before the closing brace.")
	}
	if strings.HasPrefix(p, "{") || strings.HasSuffix(p, "}") || strings.ContainsAny(p, "{}+") {
		name, ok := strings.CutPrefix(p, "{")
		if ok {
			name, ok = strings.CutSuffix(name, "}")
		}
		name = strings.TrimSuffix(name, "+")
		if !ok || name == "" || strings.ContainsAny(name, "{}+") {
			return badRequest("Resource's path part only allow a-zA-Z0-9._- and curly braces at the beginning and the end and an optional plus sign before the closing brace.")
		}
	}
	return nil
}

func (a *API) createResource(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		PathPart string `json:"pathPart"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	if err := validPathPart(in.PathPart); err != nil {
		return err
	}
	parentID := r.PathValue("resource_id")
	res := &apigateway.RestResource{ID: apigateway.NewID(10), ParentID: parentID, PathPart: in.PathPart}
	_, err := a.update(r.Context(), r.PathValue("restapi_id"), func(d *apigateway.Doc) (*apigateway.Write, error) {
		parent, ok := d.Rest.Resources[parentID]
		if !ok {
			return nil, resourceNotFound()
		}
		if strings.HasSuffix(parent.PathPart, "+}") {
			return nil, badRequest("Cannot create a child of a resource with a greedy path variable: %s", parent.Path)
		}
		greedy := strings.HasSuffix(in.PathPart, "+}")
		for _, sib := range d.Rest.Resources {
			if sib.ParentID != parentID {
				continue
			}
			if sib.PathPart == in.PathPart {
				return nil, conflict("Another resource with the same parent already has this name: %s", in.PathPart)
			}
			if strings.HasPrefix(sib.PathPart, "{") && strings.HasPrefix(in.PathPart, "{") && strings.HasSuffix(sib.PathPart, "+}") == greedy {
				return nil, badRequest("A sibling (%s) of this resource already has a variable path part -- only one is allowed", sib.PathPart)
			}
		}
		if len(d.Rest.Resources) >= MaxResources {
			return nil, limitExceeded("Cannot create more than %d resources in a REST API", MaxResources)
		}
		res.Path = strings.TrimSuffix(parent.Path, "/") + "/" + in.PathPart
		if _, err := apigateway.ParseRouteKey("GET " + res.Path); err != nil {
			return nil, badRequest("Invalid resource path %s: %v", res.Path, err)
		}
		d.Rest.Resources[res.ID] = res
		return nil, nil
	})
	if err != nil {
		return err
	}
	return write(w, http.StatusCreated, res)
}

func (a *API) deleteResource(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("resource_id")
	_, err := a.update(r.Context(), r.PathValue("restapi_id"), func(d *apigateway.Doc) (*apigateway.Write, error) {
		if _, ok := d.Rest.Resources[id]; !ok {
			return nil, resourceNotFound()
		}
		if id == d.Rest.RootResourceID {
			return nil, badRequest("Cannot delete root resource")
		}
		// The resource and everything under it.
		gone := map[string]bool{id: true}
		for changed := true; changed; {
			changed = false
			for rid, res := range d.Rest.Resources {
				if !gone[rid] && gone[res.ParentID] {
					gone[rid], changed = true, true
				}
			}
		}
		for rid := range gone {
			delete(d.Rest.Resources, rid)
		}
		return nil, nil
	})
	if err != nil {
		return err
	}
	return write(w, http.StatusAccepted, nil)
}
