package restapi

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/kumo-run/kumo/internal/awsproto"
	"github.com/kumo-run/kumo/internal/services/apigateway"
	"github.com/kumo-run/kumo/internal/store"
)

// UsageKey is the bucket key of the account's API keys and usage plans:
// one document, written with compare-and-set.
const UsageKey = "restusage"

// APIKey is an API key as stored.
type APIKey struct {
	ID              string            `json:"id"`
	Value           string            `json:"value"`
	Name            string            `json:"name"`
	CustomerID      string            `json:"customerId,omitempty"`
	Description     string            `json:"description,omitempty"`
	Enabled         bool              `json:"enabled"`
	CreatedDate     time.Time         `json:"createdDate"`
	LastUpdatedDate time.Time         `json:"lastUpdatedDate"`
	StageKeys       []string          `json:"stageKeys"`
	Tags            map[string]string `json:"tags,omitempty"`
}

// Throttle is a usage plan's steady rate and burst.
type Throttle struct {
	BurstLimit int     `json:"burstLimit"`
	RateLimit  float64 `json:"rateLimit"`
}

// Quota is a usage plan's number of requests per period.
type Quota struct {
	Limit  int    `json:"limit"`
	Offset int    `json:"offset"`
	Period string `json:"period"`
}

// APIStage is a stage a usage plan covers.
type APIStage struct {
	APIID    string               `json:"apiId"`
	Stage    string               `json:"stage"`
	Throttle map[string]*Throttle `json:"throttle,omitempty"`
}

// UsagePlan is a usage plan as stored; Keys are its API keys' ids.
type UsagePlan struct {
	ID          string            `json:"id"`
	Name        string            `json:"name"`
	Description string            `json:"description,omitempty"`
	APIStages   []APIStage        `json:"apiStages"`
	Throttle    *Throttle         `json:"throttle,omitempty"`
	Quota       *Quota            `json:"quota,omitempty"`
	Tags        map[string]string `json:"tags,omitempty"`
	Keys        []string          `json:"keys,omitempty"`
}

type usageDoc struct {
	Keys  map[string]*APIKey    `json:"keys"`
	Plans map[string]*UsagePlan `json:"plans"`
}

// Usage holds the account's API keys and usage plans: a document in the
// API Gateway bucket, loaded at start and written through (one server
// owns the bucket), and it enforces the plans' throttles and quotas for
// the data plane (execute.APIKeys). The request counts behind quotas and
// throttles are kept in memory only: a restart starts them afresh.
type Usage struct {
	kv  store.KV
	wmu sync.Mutex

	mu     sync.RWMutex
	doc    *usageDoc
	rev    uint64
	byVal  map[string]*APIKey
	limits map[string]*rate.Limiter // plan/key → throttle
	counts map[string]int           // plan/key/period start → requests
}

// OpenUsage loads the keys and plans from kv.
func OpenUsage(ctx context.Context, kv store.KV) (*Usage, error) {
	u := &Usage{kv: kv, doc: &usageDoc{Keys: map[string]*APIKey{}, Plans: map[string]*UsagePlan{}},
		limits: map[string]*rate.Limiter{}, counts: map[string]int{}}
	e, err := kv.Get(ctx, UsageKey)
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return nil, fmt.Errorf("apigateway: loading usage plans: %w", err)
	default:
		if err := json.Unmarshal(e.Value, u.doc); err != nil {
			return nil, fmt.Errorf("apigateway: reading usage plans: %w", err)
		}
		u.rev = e.Revision
	}
	if u.doc.Keys == nil {
		u.doc.Keys = map[string]*APIKey{}
	}
	if u.doc.Plans == nil {
		u.doc.Plans = map[string]*UsagePlan{}
	}
	u.index()
	return u, nil
}

func (u *Usage) index() {
	u.byVal = make(map[string]*APIKey, len(u.doc.Keys))
	for _, k := range u.doc.Keys {
		u.byVal[k.Value] = k
	}
}

// update changes a copy of the document and stores it before the view
// takes it.
func (u *Usage) update(ctx context.Context, fn func(d *usageDoc) error) error {
	u.wmu.Lock()
	defer u.wmu.Unlock()
	u.mu.RLock()
	b, _ := json.Marshal(u.doc)
	rev := u.rev
	u.mu.RUnlock()
	var d usageDoc
	json.Unmarshal(b, &d)
	if d.Keys == nil {
		d.Keys = map[string]*APIKey{}
	}
	if d.Plans == nil {
		d.Plans = map[string]*UsagePlan{}
	}
	if err := fn(&d); err != nil {
		return err
	}
	nb, err := json.Marshal(&d)
	if err != nil {
		return err
	}
	var nrev uint64
	if rev == 0 {
		nrev, err = u.kv.Create(ctx, UsageKey, nb)
	} else {
		nrev, err = u.kv.Update(ctx, UsageKey, nb, rev)
	}
	if err != nil {
		return awsproto.Internal(fmt.Errorf("apigateway: writing usage plans: %w", err))
	}
	u.mu.Lock()
	u.doc, u.rev = &d, nrev
	u.index()
	u.mu.Unlock()
	return nil
}

// Use implements execute.APIKeys: the key must exist, be enabled and
// belong to a usage plan of the API's stage; the plan's throttle and
// quota then count the request.
func (u *Usage) Use(value, apiID, stage string, now time.Time) (string, int, string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	k := u.byVal[value]
	if k == nil || !k.Enabled {
		return "", http.StatusForbidden, "Forbidden"
	}
	for _, p := range u.doc.Plans {
		if !contains(p.Keys, k.ID) || !coversStage(p, apiID, stage) {
			continue
		}
		id := p.ID + "/" + k.ID
		if p.Throttle != nil && (p.Throttle.RateLimit > 0 || p.Throttle.BurstLimit > 0) {
			l := u.limits[id]
			if l == nil || l.Limit() != rate.Limit(p.Throttle.RateLimit) || l.Burst() != p.Throttle.BurstLimit {
				if len(u.limits) >= 100000 {
					clear(u.limits)
				}
				l = rate.NewLimiter(rate.Limit(p.Throttle.RateLimit), p.Throttle.BurstLimit)
				u.limits[id] = l
			}
			if !l.AllowN(now, 1) {
				return "", http.StatusTooManyRequests, "Too Many Requests"
			}
		}
		if q := p.Quota; q != nil && q.Limit > 0 {
			ck := id + "/" + periodStart(q, now).Format(time.RFC3339)
			if u.counts[ck] >= q.Limit {
				return "", http.StatusTooManyRequests, "Limit Exceeded"
			}
			if len(u.counts) >= 100000 {
				clear(u.counts)
			}
			u.counts[ck]++
		}
		return k.ID, 0, ""
	}
	return "", http.StatusForbidden, "Forbidden"
}

// periodStart is the start of the quota period now falls in (UTC), moved
// by the plan's offset in days.
func periodStart(q *Quota, now time.Time) time.Time {
	t := now.UTC()
	day := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	switch q.Period {
	case "WEEK":
		day = day.AddDate(0, 0, -int(day.Weekday())+q.Offset)
		if day.After(t) {
			day = day.AddDate(0, 0, -7)
		}
		return day
	case "MONTH":
		m := time.Date(t.Year(), t.Month(), 1+q.Offset, 0, 0, 0, 0, time.UTC)
		if m.After(t) {
			m = m.AddDate(0, -1, 0)
		}
		return m
	}
	return day
}

func coversStage(p *UsagePlan, apiID, stage string) bool {
	for _, s := range p.APIStages {
		if s.APIID == apiID && s.Stage == stage {
			return true
		}
	}
	return false
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// ---- the API

func apiKeyNotFound() error    { return notFound("Invalid API Key identifier specified") }
func usagePlanNotFound() error { return notFound("Invalid Usage Plan ID specified") }

type apiKeyOut struct {
	ID              string            `json:"id"`
	Value           string            `json:"value,omitempty"`
	Name            string            `json:"name"`
	CustomerID      string            `json:"customerId,omitempty"`
	Description     string            `json:"description,omitempty"`
	Enabled         bool              `json:"enabled"`
	CreatedDate     epoch             `json:"createdDate"`
	LastUpdatedDate epoch             `json:"lastUpdatedDate"`
	StageKeys       []string          `json:"stageKeys"`
	Tags            map[string]string `json:"tags,omitempty"`
}

func keyOut(k *APIKey, withValue bool) apiKeyOut {
	o := apiKeyOut{ID: k.ID, Name: k.Name, CustomerID: k.CustomerID, Description: k.Description, Enabled: k.Enabled,
		CreatedDate: epoch(k.CreatedDate), LastUpdatedDate: epoch(k.LastUpdatedDate), StageKeys: k.StageKeys, Tags: k.Tags}
	if withValue {
		o.Value = k.Value
	}
	if o.StageKeys == nil {
		o.StageKeys = []string{}
	}
	return o
}

func (a *API) usage() (*Usage, error) {
	if a.cfg.Usage == nil {
		return nil, awsproto.Internal(errors.New("apigateway: no usage plan store"))
	}
	return a.cfg.Usage, nil
}

const keyAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

func newKeyValue() string {
	b := make([]byte, 40)
	rand.Read(b)
	for i := range b {
		b[i] = keyAlphabet[int(b[i])%len(keyAlphabet)]
	}
	return string(b)
}

func (a *API) createAPIKey(w http.ResponseWriter, r *http.Request) error {
	u, err := a.usage()
	if err != nil {
		return err
	}
	var in struct {
		Name        string            `json:"name"`
		Description string            `json:"description"`
		Enabled     bool              `json:"enabled"`
		Value       string            `json:"value"`
		CustomerID  string            `json:"customerId"`
		StageKeys   []struct{}        `json:"stageKeys"`
		Tags        map[string]string `json:"tags"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	if in.Value == "" {
		in.Value = newKeyValue()
	} else if len(in.Value) < 20 || len(in.Value) > 128 {
		return badRequest("API Key value should be at least 20 characters")
	}
	now := a.now()
	k := &APIKey{ID: apigateway.NewID(10), Value: in.Value, Name: in.Name, CustomerID: in.CustomerID, Description: in.Description,
		Enabled: in.Enabled, CreatedDate: now, LastUpdatedDate: now, StageKeys: []string{}, Tags: in.Tags}
	err = u.update(r.Context(), func(d *usageDoc) error {
		if len(d.Keys) >= MaxAPIKeys {
			return limitExceeded("Cannot create more than %d API keys", MaxAPIKeys)
		}
		for _, o := range d.Keys {
			if o.Value == k.Value {
				return conflict("API Key already exists")
			}
		}
		d.Keys[k.ID] = k
		return nil
	})
	if err != nil {
		return err
	}
	return write(w, http.StatusCreated, keyOut(k, true))
}

func (a *API) getAPIKeys(w http.ResponseWriter, r *http.Request) error {
	u, err := a.usage()
	if err != nil {
		return err
	}
	withValues := r.URL.Query().Get("includeValues") == "true"
	name := r.URL.Query().Get("name")
	u.mu.RLock()
	byID := map[string]*APIKey{}
	for id, k := range u.doc.Keys {
		if name == "" || len(k.Name) >= len(name) && k.Name[:len(name)] == name {
			byID[id] = k
		}
	}
	u.mu.RUnlock()
	ids, next, err := page(r, keys(byID))
	if err != nil {
		return err
	}
	out := make([]apiKeyOut, 0, len(ids))
	for _, id := range ids {
		out = append(out, keyOut(byID[id], withValues))
	}
	return write(w, http.StatusOK, list{Item: out, Position: next})
}

func (a *API) getAPIKey(w http.ResponseWriter, r *http.Request) error {
	u, err := a.usage()
	if err != nil {
		return err
	}
	u.mu.RLock()
	k, ok := u.doc.Keys[r.PathValue("api_Key")]
	u.mu.RUnlock()
	if !ok {
		return apiKeyNotFound()
	}
	return write(w, http.StatusOK, keyOut(k, r.URL.Query().Get("includeValue") == "true"))
}

func (a *API) updateAPIKey(w http.ResponseWriter, r *http.Request) error {
	u, err := a.usage()
	if err != nil {
		return err
	}
	ops, err := patchOps(r)
	if err != nil {
		return err
	}
	id := r.PathValue("api_Key")
	var out *APIKey
	err = u.update(r.Context(), func(d *usageDoc) error {
		k, ok := d.Keys[id]
		if !ok {
			return apiKeyNotFound()
		}
		for _, op := range ops {
			switch {
			case op.Op == "replace" && op.Path == "/enabled":
				k.Enabled = op.value() == "true"
			case op.Op == "replace" && op.Path == "/name":
				k.Name = op.value()
			case op.Op == "replace" && op.Path == "/description":
				k.Description = op.value()
			case op.Op == "replace" && op.Path == "/customerId":
				k.CustomerID = op.value()
			default:
				return invalidPatch(op)
			}
		}
		k.LastUpdatedDate = a.now()
		out = k
		return nil
	})
	if err != nil {
		return err
	}
	return write(w, http.StatusOK, keyOut(out, false))
}

func (a *API) deleteAPIKey(w http.ResponseWriter, r *http.Request) error {
	u, err := a.usage()
	if err != nil {
		return err
	}
	id := r.PathValue("api_Key")
	err = u.update(r.Context(), func(d *usageDoc) error {
		if _, ok := d.Keys[id]; !ok {
			return apiKeyNotFound()
		}
		delete(d.Keys, id)
		for _, p := range d.Plans {
			p.Keys = removeString(p.Keys, id)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return write(w, http.StatusAccepted, nil)
}

type usagePlanOut struct {
	ID          string            `json:"id"`
	Name        string            `json:"name"`
	Description string            `json:"description,omitempty"`
	APIStages   []APIStage        `json:"apiStages"`
	Throttle    *Throttle         `json:"throttle,omitempty"`
	Quota       *Quota            `json:"quota,omitempty"`
	Tags        map[string]string `json:"tags,omitempty"`
}

func planOut(p *UsagePlan) usagePlanOut {
	o := usagePlanOut{ID: p.ID, Name: p.Name, Description: p.Description, APIStages: p.APIStages, Throttle: p.Throttle, Quota: p.Quota, Tags: p.Tags}
	if o.APIStages == nil {
		o.APIStages = []APIStage{}
	}
	return o
}

func (a *API) createUsagePlan(w http.ResponseWriter, r *http.Request) error {
	u, err := a.usage()
	if err != nil {
		return err
	}
	var in struct {
		Name        string            `json:"name"`
		Description string            `json:"description"`
		APIStages   []APIStage        `json:"apiStages"`
		Throttle    *Throttle         `json:"throttle"`
		Quota       *Quota            `json:"quota"`
		Tags        map[string]string `json:"tags"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	if in.Name == "" {
		return badRequest("Usage Plan name must be specified")
	}
	if t := in.Throttle; t != nil && (t.RateLimit < 0 || t.BurstLimit < 0) {
		return badRequest("Throttle limits must be non-negative")
	}
	if q := in.Quota; q != nil {
		switch q.Period {
		case "DAY", "WEEK", "MONTH":
		default:
			return badRequest("Invalid quota period %q: must be DAY, WEEK or MONTH", q.Period)
		}
		if q.Limit < 0 || q.Offset < 0 {
			return badRequest("Quota limit and offset must be non-negative")
		}
	}
	for _, s := range in.APIStages {
		d, ok := a.st.Get(s.APIID)
		if !ok || d.Rest == nil {
			return badRequest("Invalid API identifier specified %s:%s", a.cfg.Account, s.APIID)
		}
		if _, ok := d.Stages[s.Stage]; !ok {
			return badRequest("Invalid stage identifier specified")
		}
	}
	p := &UsagePlan{ID: apigateway.NewID(6), Name: in.Name, Description: in.Description, APIStages: in.APIStages,
		Throttle: in.Throttle, Quota: in.Quota, Tags: in.Tags}
	if err := u.update(r.Context(), func(d *usageDoc) error {
		if len(d.Plans) >= MaxUsagePlans {
			return limitExceeded("Cannot create more than %d usage plans", MaxUsagePlans)
		}
		d.Plans[p.ID] = p
		return nil
	}); err != nil {
		return err
	}
	return write(w, http.StatusCreated, planOut(p))
}

func (a *API) getUsagePlans(w http.ResponseWriter, r *http.Request) error {
	u, err := a.usage()
	if err != nil {
		return err
	}
	u.mu.RLock()
	byID := make(map[string]*UsagePlan, len(u.doc.Plans))
	for id, p := range u.doc.Plans {
		byID[id] = p
	}
	u.mu.RUnlock()
	ids, next, err := page(r, keys(byID))
	if err != nil {
		return err
	}
	out := make([]usagePlanOut, 0, len(ids))
	for _, id := range ids {
		out = append(out, planOut(byID[id]))
	}
	return write(w, http.StatusOK, list{Item: out, Position: next})
}

func (a *API) getUsagePlan(w http.ResponseWriter, r *http.Request) error {
	u, err := a.usage()
	if err != nil {
		return err
	}
	u.mu.RLock()
	p, ok := u.doc.Plans[r.PathValue("usageplanId")]
	u.mu.RUnlock()
	if !ok {
		return usagePlanNotFound()
	}
	return write(w, http.StatusOK, planOut(p))
}

func (a *API) deleteUsagePlan(w http.ResponseWriter, r *http.Request) error {
	u, err := a.usage()
	if err != nil {
		return err
	}
	id := r.PathValue("usageplanId")
	err = u.update(r.Context(), func(d *usageDoc) error {
		if _, ok := d.Plans[id]; !ok {
			return usagePlanNotFound()
		}
		delete(d.Plans, id)
		return nil
	})
	if err != nil {
		return err
	}
	return write(w, http.StatusAccepted, nil)
}

type usagePlanKeyOut struct {
	ID    string `json:"id"`
	Type  string `json:"type"`
	Value string `json:"value"`
	Name  string `json:"name"`
}

func (a *API) createUsagePlanKey(w http.ResponseWriter, r *http.Request) error {
	u, err := a.usage()
	if err != nil {
		return err
	}
	var in struct {
		KeyID   string `json:"keyId"`
		KeyType string `json:"keyType"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	if in.KeyType != "API_KEY" {
		return badRequest("Invalid key type %q: must be API_KEY", in.KeyType)
	}
	id := r.PathValue("usageplanId")
	var out usagePlanKeyOut
	err = u.update(r.Context(), func(d *usageDoc) error {
		p, ok := d.Plans[id]
		if !ok {
			return usagePlanNotFound()
		}
		k, ok := d.Keys[in.KeyID]
		if !ok {
			return apiKeyNotFound()
		}
		if contains(p.Keys, k.ID) {
			return conflict("Usage Plan %s cannot be added because API Key %s cannot reference duplicate stages", id, k.ID)
		}
		p.Keys = append(p.Keys, k.ID)
		out = usagePlanKeyOut{ID: k.ID, Type: "API_KEY", Value: k.Value, Name: k.Name}
		return nil
	})
	if err != nil {
		return err
	}
	return write(w, http.StatusCreated, out)
}

func (a *API) getUsagePlanKeys(w http.ResponseWriter, r *http.Request) error {
	u, err := a.usage()
	if err != nil {
		return err
	}
	u.mu.RLock()
	p, ok := u.doc.Plans[r.PathValue("usageplanId")]
	var out []usagePlanKeyOut
	if ok {
		for _, id := range p.Keys {
			if k := u.doc.Keys[id]; k != nil {
				out = append(out, usagePlanKeyOut{ID: k.ID, Type: "API_KEY", Value: k.Value, Name: k.Name})
			}
		}
	}
	u.mu.RUnlock()
	if !ok {
		return usagePlanNotFound()
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	if out == nil {
		out = []usagePlanKeyOut{}
	}
	return write(w, http.StatusOK, list{Item: out})
}

func (a *API) deleteUsagePlanKey(w http.ResponseWriter, r *http.Request) error {
	u, err := a.usage()
	if err != nil {
		return err
	}
	id, keyID := r.PathValue("usageplanId"), r.PathValue("keyId")
	err = u.update(r.Context(), func(d *usageDoc) error {
		p, ok := d.Plans[id]
		if !ok {
			return usagePlanNotFound()
		}
		if !contains(p.Keys, keyID) {
			return notFound("Invalid Usage Plan Key identifier specified")
		}
		p.Keys = removeString(p.Keys, keyID)
		return nil
	})
	if err != nil {
		return err
	}
	return write(w, http.StatusAccepted, nil)
}
