package logs

import (
	"context"
	"encoding/json"
	"slices"
	"strconv"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kumo-run/kumo/internal/awsproto"
)

// maxMetricFilters is CloudWatch Logs' quota of metric filters per group.
const maxMetricFilters = 100

// metricFilter is a metric filter's KV value ("mf.<group>.<name>").
type metricFilter struct {
	Name      string                 `json:"filterName"`
	Group     string                 `json:"logGroupName"`
	Pattern   string                 `json:"filterPattern"`
	Transform []metricTransformation `json:"metricTransformations"`
	Created   int64                  `json:"creationTime"`

	pat Pattern
}

type metricTransformation struct {
	MetricName      string            `json:"metricName"`
	MetricNamespace string            `json:"metricNamespace"`
	MetricValue     string            `json:"metricValue"`
	DefaultValue    *float64          `json:"defaultValue,omitempty"`
	Dimensions      map[string]string `json:"dimensions,omitempty"`
	Unit            string            `json:"unit,omitempty"`
}

func metricKey(g, name string) string { return "mf." + encodeToken(g) + "." + encodeToken(name) }

func (f *metricFilter) compile() error {
	p, err := ParsePattern(f.Pattern)
	f.pat = p
	return err
}

// metricSet holds the values metric filters emit, exported as
// kumo_logs_metric{namespace,name,dimensions}.
type metricSet struct {
	sum   *prometheus.GaugeVec
	count *prometheus.CounterVec
}

func newMetricSet() *metricSet {
	labels := []string{"namespace", "name", "dimensions"}
	return &metricSet{
		sum: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "kumo_logs_metric",
			Help: "Sum of the values CloudWatch Logs metric filters emitted since the server started, by metric namespace, name and dimensions (k=v,… sorted).",
		}, labels),
		count: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kumo_logs_metric_samples_total",
			Help: "Values CloudWatch Logs metric filters emitted since the server started (CloudWatch's SampleCount).",
		}, labels),
	}
}

// Collectors are the metric filters' metrics, for the server's /metrics.
func (s *Store) Collectors() []prometheus.Collector {
	return []prometheus.Collector{s.metrics.sum, s.metrics.count}
}

// value is what transformation t emits for a matching message: ok is
// false when the value it names is missing or not a number.
func (t metricTransformation) value(p Pattern, msg string) (v float64, dims string, ok bool) {
	v, ok = fieldNumber(p, msg, t.MetricValue)
	if !ok {
		return 0, "", false
	}
	if len(t.Dimensions) > 0 {
		keys := make([]string, 0, len(t.Dimensions))
		for k := range t.Dimensions {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		var b strings.Builder
		for i, k := range keys {
			d, ok := fieldString(p, msg, t.Dimensions[k])
			if !ok {
				return 0, "", false
			}
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(k + "=" + d)
		}
		dims = b.String()
	}
	return v, dims, true
}

// fieldString resolves a metric value or dimension: a literal, a JSON
// selector ($.a.b) or a space-delimited field ($name, $1).
func fieldString(p Pattern, msg, expr string) (string, bool) {
	switch {
	case strings.HasPrefix(expr, "$."), expr == "$":
		sel, err := parseSelector(expr)
		if err != nil {
			return "", false
		}
		var doc any
		d := json.NewDecoder(strings.NewReader(msg))
		d.UseNumber()
		if d.Decode(&doc) != nil {
			return "", false
		}
		v, ok := resolve(doc, sel)
		if !ok {
			return "", false
		}
		switch x := v.(type) {
		case string:
			return x, true
		case json.Number:
			return x.String(), true
		case bool:
			return strconv.FormatBool(x), true
		}
		return "", false
	case strings.HasPrefix(expr, "$"):
		fields, ok := p.Extract(msg)
		if !ok {
			return "", false
		}
		v, ok := fields[expr]
		return v, ok
	}
	return expr, true
}

func fieldNumber(p Pattern, msg, expr string) (float64, bool) {
	s, ok := fieldString(p, msg, expr)
	if !ok {
		return 0, false
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	return f, err == nil
}

// countMetrics applies a group's metric filters to events just stored.
func (s *Store) countMetrics(gname string, evs []stored) {
	s.mu.Lock()
	g := s.groups[gname]
	var mfs []*metricFilter
	if g != nil {
		for _, f := range g.mfs {
			mfs = append(mfs, f)
		}
	}
	s.mu.Unlock()
	for _, f := range mfs {
		for _, e := range evs {
			if !f.pat.Match(e.Message) {
				continue
			}
			for _, t := range f.Transform {
				v, dims, ok := t.value(f.pat, e.Message)
				if !ok {
					continue
				}
				s.metrics.sum.WithLabelValues(t.MetricNamespace, t.MetricName, dims).Add(v)
				s.metrics.count.WithLabelValues(t.MetricNamespace, t.MetricName, dims).Inc()
			}
		}
	}
}

// --- API

var metricNameRE = func(field, v string) error {
	if len(v) < 1 || len(v) > 255 {
		return invalid("1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: Member must have length between 1 and 255", v, field)
	}
	if strings.ContainsAny(v, ":*$") {
		return invalid("1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: Member must satisfy regular expression pattern: [^:*$]*", v, field)
	}
	return nil
}

func (a *api) putMetricFilter(ctx context.Context, body []byte) (any, error) {
	var in struct {
		LogGroupName  string                 `json:"logGroupName"`
		FilterName    string                 `json:"filterName"`
		FilterPattern *string                `json:"filterPattern"`
		Transform     []metricTransformation `json:"metricTransformations"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if err := validateGroupName("logGroupName", in.LogGroupName); err != nil {
		return nil, err
	}
	if err := validateFilterName(in.FilterName); err != nil {
		return nil, err
	}
	if in.FilterPattern == nil {
		return nil, invalid("1 validation error detected: Value null at 'filterPattern' failed to satisfy constraint: Member must not be null")
	}
	pat, err := parseFilterPattern(*in.FilterPattern)
	if err != nil {
		return nil, err
	}
	if len(in.Transform) != 1 {
		return nil, invalid("1 validation error detected: Value at 'metricTransformations' failed to satisfy constraint: Member must have length less than or equal to 1 and greater than or equal to 1")
	}
	t := in.Transform[0]
	if err := metricNameRE("metricTransformations.1.member.metricName", t.MetricName); err != nil {
		return nil, err
	}
	if err := metricNameRE("metricTransformations.1.member.metricNamespace", t.MetricNamespace); err != nil {
		return nil, err
	}
	if t.MetricValue == "" || len(t.MetricValue) > 100 {
		return nil, invalid("1 validation error detected: Value '%s' at 'metricTransformations.1.member.metricValue' failed to satisfy constraint: Member must have length between 1 and 100", t.MetricValue)
	}
	if !strings.HasPrefix(t.MetricValue, "$") {
		if _, err := strconv.ParseFloat(t.MetricValue, 64); err != nil {
			return nil, invalid("Invalid metric value: %s", t.MetricValue)
		}
	}
	if len(t.Dimensions) > 3 {
		return nil, invalid("The maximum number of dimensions per metric is 3.")
	}
	if len(t.Dimensions) > 0 && t.DefaultValue != nil {
		return nil, invalid("You cannot specify both a default value and dimensions for a metric filter.")
	}
	f := metricFilter{Name: in.FilterName, Group: in.LogGroupName, Pattern: *in.FilterPattern,
		Transform: in.Transform, Created: a.s.now().UnixMilli(), pat: pat}
	a.s.mu.Lock()
	g := a.s.groups[in.LogGroupName]
	var full bool
	if g != nil {
		if old := g.mfs[f.Name]; old != nil {
			f.Created = old.Created
		}
		full = g.mfs[f.Name] == nil && len(g.mfs) >= maxMetricFilters
	}
	a.s.mu.Unlock()
	switch {
	case g == nil:
		return nil, errGroupNotFound
	case full:
		return nil, awsproto.Errorf(awsproto.LogsLimitExceeded, "Resource limit exceeded.")
	}
	if err := a.s.putMeta(ctx, metricKey(f.Group, f.Name), f); err != nil {
		return nil, err
	}
	a.s.mu.Lock()
	if g := a.s.groups[f.Group]; g != nil {
		if g.mfs == nil {
			g.mfs = map[string]*metricFilter{}
		}
		g.mfs[f.Name] = &f
	}
	a.s.mu.Unlock()
	return nil, nil
}

type metricFilterOut struct {
	FilterName    string                 `json:"filterName"`
	FilterPattern string                 `json:"filterPattern"`
	Transform     []metricTransformation `json:"metricTransformations"`
	CreationTime  int64                  `json:"creationTime"`
	LogGroupName  string                 `json:"logGroupName"`
}

func (a *api) describeMetricFilters(ctx context.Context, body []byte) (any, error) {
	var in struct {
		LogGroupName string `json:"logGroupName"`
		Prefix       string `json:"filterNamePrefix"`
		MetricName   string `json:"metricName"`
		Namespace    string `json:"metricNamespace"`
		NextToken    string `json:"nextToken"`
		Limit        *int32 `json:"limit"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if in.LogGroupName != "" {
		if err := validateGroupName("logGroupName", in.LogGroupName); err != nil {
			return nil, err
		}
	}
	if in.Prefix != "" {
		if in.LogGroupName == "" {
			return nil, invalid("If filterNamePrefix is specified, logGroupName must also be specified.")
		}
		if err := validateFilterName(in.Prefix); err != nil {
			return nil, err
		}
	}
	if (in.MetricName == "") != (in.Namespace == "") {
		return nil, invalid("If metricName is specified, metricNamespace must also be specified, and vice versa.")
	}
	limit, err := checkLimit(in.Limit, 50)
	if err != nil {
		return nil, err
	}
	after := ""
	if in.NextToken != "" {
		if after, err = decodeNext(in.NextToken); err != nil {
			return nil, err
		}
	}
	key := func(o metricFilterOut) string { return o.LogGroupName + "\x00" + o.FilterName }
	var out []metricFilterOut
	a.s.mu.Lock()
	found := in.LogGroupName == ""
	for gname, g := range a.s.groups {
		if in.LogGroupName != "" && gname != in.LogGroupName {
			continue
		}
		found = true
		for _, f := range g.mfs {
			o := metricFilterOut{FilterName: f.Name, FilterPattern: f.Pattern, Transform: f.Transform, CreationTime: f.Created, LogGroupName: f.Group}
			if !strings.HasPrefix(f.Name, in.Prefix) || (after != "" && key(o) <= after) {
				continue
			}
			if in.MetricName != "" && !slices.ContainsFunc(f.Transform, func(t metricTransformation) bool {
				return t.MetricName == in.MetricName && t.MetricNamespace == in.Namespace
			}) {
				continue
			}
			out = append(out, o)
		}
	}
	a.s.mu.Unlock()
	if !found {
		return nil, errGroupNotFound
	}
	slices.SortFunc(out, func(x, y metricFilterOut) int { return strings.Compare(key(x), key(y)) })
	resp := struct {
		Filters   []metricFilterOut `json:"metricFilters"`
		NextToken string            `json:"nextToken,omitempty"`
	}{Filters: out}
	if len(out) > limit {
		resp.Filters = out[:limit]
		resp.NextToken = encodeNext(key(out[limit-1]))
	}
	if resp.Filters == nil {
		resp.Filters = []metricFilterOut{}
	}
	return resp, nil
}

func (a *api) deleteMetricFilter(ctx context.Context, body []byte) (any, error) {
	var in struct {
		LogGroupName string `json:"logGroupName"`
		FilterName   string `json:"filterName"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if err := validateGroupName("logGroupName", in.LogGroupName); err != nil {
		return nil, err
	}
	if err := validateFilterName(in.FilterName); err != nil {
		return nil, err
	}
	a.s.mu.Lock()
	g := a.s.groups[in.LogGroupName]
	ok := g != nil && g.mfs[in.FilterName] != nil
	a.s.mu.Unlock()
	switch {
	case g == nil:
		return nil, errGroupNotFound
	case !ok:
		return nil, awsproto.Errorf(awsproto.LogsResourceNotFound, "The specified metric filter does not exist.")
	}
	if err := a.s.kv.Delete(ctx, metricKey(in.LogGroupName, in.FilterName)); err != nil {
		return nil, err
	}
	a.s.mu.Lock()
	if g := a.s.groups[in.LogGroupName]; g != nil {
		delete(g.mfs, in.FilterName)
	}
	a.s.mu.Unlock()
	return nil, nil
}

func (a *api) testMetricFilter(ctx context.Context, body []byte) (any, error) {
	var in struct {
		FilterPattern *string  `json:"filterPattern"`
		Messages      []string `json:"logEventMessages"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if in.FilterPattern == nil {
		return nil, invalid("1 validation error detected: Value null at 'filterPattern' failed to satisfy constraint: Member must not be null")
	}
	pat, err := parseFilterPattern(*in.FilterPattern)
	if err != nil {
		return nil, err
	}
	if len(in.Messages) < 1 || len(in.Messages) > 50 {
		return nil, invalid("1 validation error detected: Value at 'logEventMessages' failed to satisfy constraint: Member must have length less than or equal to 50 and greater than or equal to 1")
	}
	type match struct {
		EventNumber int64             `json:"eventNumber"`
		Message     string            `json:"eventMessage"`
		Extracted   map[string]string `json:"extractedValues"`
	}
	out := []match{}
	for i, m := range in.Messages {
		if m == "" {
			return nil, invalid("1 validation error detected: Value '' at 'logEventMessages.%d.member' failed to satisfy constraint: Member must have length greater than or equal to 1", i+1)
		}
		if !pat.Match(m) {
			continue
		}
		ex, _ := pat.Extract(m)
		if ex == nil {
			ex = map[string]string{}
		}
		out = append(out, match{EventNumber: int64(i + 1), Message: m, Extracted: ex})
	}
	return struct {
		Matches []match `json:"matches"`
	}{out}, nil
}
