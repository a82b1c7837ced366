package lambda

import (
	"net/http"

	"github.com/kumo-run/kumo/internal/awsproto"
	"github.com/kumo-run/kumo/internal/registry"
)

// routesLayers routes the layer operations.
func (a *API) routesLayers() {
	for _, p := range []string{"/2018-10-31/layers", "/2018-10-31/layers/"} {
		a.handle("GET "+p, a.listLayers)
	}
	l := "/2018-10-31/layers/{LayerName}/versions"
	a.handle("POST "+l, a.publishLayerVersion)
	a.handle("GET "+l, a.listLayerVersions)
	a.handle("GET "+l+"/{VersionNumber}", a.getLayerVersion)
	a.handle("DELETE "+l+"/{VersionNumber}", a.deleteLayerVersion)
	a.handle("POST "+l+"/{VersionNumber}/policy", a.addLayerVersionPermission)
	a.handle("GET "+l+"/{VersionNumber}/policy", a.getLayerVersionPolicy)
	a.handle("DELETE "+l+"/{VersionNumber}/policy/{StatementId}", a.removeLayerVersionPermission)
}

// layerContent is the LayerVersionContentOutput shape.
type layerContent struct {
	Location   string `json:"Location"`
	CodeSha256 string `json:"CodeSha256"`
	CodeSize   int64  `json:"CodeSize"`
}

// layerVersionOutput is the GetLayerVersionResponse and
// PublishLayerVersionResponse shape.
type layerVersionOutput struct {
	Content                 layerContent `json:"Content"`
	LayerArn                string       `json:"LayerArn"`
	LayerVersionArn         string       `json:"LayerVersionArn"`
	Description             string       `json:"Description,omitempty"`
	CreatedDate             string       `json:"CreatedDate"`
	Version                 int64        `json:"Version"`
	CompatibleRuntimes      []string     `json:"CompatibleRuntimes,omitempty"`
	LicenseInfo             string       `json:"LicenseInfo,omitempty"`
	CompatibleArchitectures []string     `json:"CompatibleArchitectures,omitempty"`
}

func (a *API) layerVersionOutput(r *http.Request, lv *registry.LayerVersion) layerVersionOutput {
	out := layerVersionOutput{
		Content:         layerContent{CodeSha256: lv.CodeSha256, CodeSize: lv.CodeSize},
		LayerArn:        lv.LayerArn,
		LayerVersionArn: lv.LayerVersionArn,
		Description:     lv.Description, CreatedDate: lv.CreatedDate, Version: lv.Version,
		CompatibleRuntimes: lv.CompatibleRuntimes, LicenseInfo: lv.LicenseInfo,
		CompatibleArchitectures: lv.CompatibleArchitectures,
	}
	if a.urls != nil {
		out.Content.Location = a.urls.URL(r, lv.Blob)
	}
	return out
}

func layerFilter(r *http.Request) registry.LayerFilter {
	q := r.URL.Query()
	return registry.LayerFilter{Runtime: q.Get("CompatibleRuntime"), Architecture: q.Get("CompatibleArchitecture")}
}

func (a *API) publishLayerVersion(w http.ResponseWriter, r *http.Request) error {
	var in registry.PublishLayerInput
	if err := decode(r, &in); err != nil {
		return err
	}
	lv, err := a.reg.PublishLayerVersion(r.Context(), r.PathValue("LayerName"), &in)
	if err != nil {
		return err
	}
	awsproto.WriteJSON(w, http.StatusCreated, a.layerVersionOutput(r, lv))
	return nil
}

func (a *API) getLayerVersion(w http.ResponseWriter, r *http.Request) error {
	lv, err := a.reg.GetLayerVersion(r.Context(), r.PathValue("LayerName"), r.PathValue("VersionNumber"))
	if err != nil {
		return err
	}
	awsproto.WriteJSON(w, http.StatusOK, a.layerVersionOutput(r, lv))
	return nil
}

// listLayers is ListLayers, or GetLayerVersionByArn with find=LayerVersion.
func (a *API) listLayers(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	if q.Get("find") == "LayerVersion" {
		lv, err := a.reg.GetLayerVersionByArn(r.Context(), q.Get("Arn"))
		if err != nil {
			return err
		}
		awsproto.WriteJSON(w, http.StatusOK, a.layerVersionOutput(r, lv))
		return nil
	}
	max, err := maxItems(r, fiftyItems)
	if err != nil {
		return err
	}
	items, next, err := a.reg.ListLayers(r.Context(), layerFilter(r), q.Get("Marker"), max)
	if err != nil {
		return err
	}
	if items == nil {
		items = []registry.LayerItem{}
	}
	awsproto.WriteJSON(w, http.StatusOK, struct {
		NextMarker string               `json:"NextMarker,omitempty"`
		Layers     []registry.LayerItem `json:"Layers"`
	}{next, items})
	return nil
}

func (a *API) listLayerVersions(w http.ResponseWriter, r *http.Request) error {
	max, err := maxItems(r, fiftyItems)
	if err != nil {
		return err
	}
	items, next, err := a.reg.ListLayerVersions(r.Context(), r.PathValue("LayerName"), layerFilter(r), r.URL.Query().Get("Marker"), max)
	if err != nil {
		return err
	}
	awsproto.WriteJSON(w, http.StatusOK, struct {
		NextMarker    string                      `json:"NextMarker,omitempty"`
		LayerVersions []registry.LayerVersionItem `json:"LayerVersions"`
	}{next, items})
	return nil
}

func (a *API) deleteLayerVersion(w http.ResponseWriter, r *http.Request) error {
	if err := a.reg.DeleteLayerVersion(r.Context(), r.PathValue("LayerName"), r.PathValue("VersionNumber")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) addLayerVersionPermission(w http.ResponseWriter, r *http.Request) error {
	var in registry.AddLayerPermissionInput
	if err := decode(r, &in); err != nil {
		return err
	}
	st, rev, err := a.reg.AddLayerVersionPermission(r.Context(), r.PathValue("LayerName"), r.PathValue("VersionNumber"), r.URL.Query().Get("RevisionId"), in)
	if err != nil {
		return err
	}
	awsproto.WriteJSON(w, http.StatusCreated, struct {
		Statement  string `json:"Statement"`
		RevisionId string `json:"RevisionId"`
	}{st, rev})
	return nil
}

func (a *API) getLayerVersionPolicy(w http.ResponseWriter, r *http.Request) error {
	doc, rev, err := a.reg.GetLayerVersionPolicy(r.Context(), r.PathValue("LayerName"), r.PathValue("VersionNumber"))
	if err != nil {
		return err
	}
	awsproto.WriteJSON(w, http.StatusOK, struct {
		Policy     string `json:"Policy"`
		RevisionId string `json:"RevisionId"`
	}{doc, rev})
	return nil
}

func (a *API) removeLayerVersionPermission(w http.ResponseWriter, r *http.Request) error {
	err := a.reg.RemoveLayerVersionPermission(r.Context(), r.PathValue("LayerName"), r.PathValue("VersionNumber"), r.PathValue("StatementId"), r.URL.Query().Get("RevisionId"))
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
