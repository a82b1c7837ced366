package registry

import (
	"context"
	"errors"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/kumo-run/kumo/internal/awsproto"
	"github.com/kumo-run/kumo/internal/lazyregexp"
)

// Lambda's bounds and defaults of asynchronous invocation settings.
const (
	MinRetryAttempts     = 0
	MaxRetryAttempts     = 2
	DefaultRetryAttempts = 2
	MinEventAge          = 60
	MaxEventAge          = 21600
	DefaultEventAge      = 21600
	maxEventInvokeItems  = 50
	maxDestinationARN    = 350
)

// Destination is OnSuccess / OnFailure of a DestinationConfig.
type Destination struct {
	Destination string `json:"Destination,omitempty"`
}

// DestinationConfig says where invocation records go.
type DestinationConfig struct {
	OnSuccess *Destination `json:"OnSuccess,omitempty"`
	OnFailure *Destination `json:"OnFailure,omitempty"`
}

// EventInvokeConfig is the FunctionEventInvokeConfig shape. LastModified is
// in seconds since the epoch, as the REST-JSON protocol sends timestamps.
type EventInvokeConfig struct {
	LastModified             float64            `json:"LastModified"`
	FunctionArn              string             `json:"FunctionArn"`
	MaximumRetryAttempts     *int               `json:"MaximumRetryAttempts,omitempty"`
	MaximumEventAgeInSeconds *int               `json:"MaximumEventAgeInSeconds,omitempty"`
	DestinationConfig        *DestinationConfig `json:"DestinationConfig,omitempty"`
}

// EventInvokeInput is the body of PutFunctionEventInvokeConfig and
// UpdateFunctionEventInvokeConfig. On update a nil member is left as it is.
type EventInvokeInput struct {
	MaximumRetryAttempts     *int               `json:"MaximumRetryAttempts"`
	MaximumEventAgeInSeconds *int               `json:"MaximumEventAgeInSeconds"`
	DestinationConfig        *DestinationConfig `json:"DestinationConfig"`
}

// AsyncSettings is what the asynchronous queue applies to one event of a
// function qualifier: the event-invoke configuration with its defaults and
// the dead-letter target of the version the qualifier names.
type AsyncSettings struct {
	MaximumRetryAttempts int
	MaximumEventAge      time.Duration
	OnSuccess, OnFailure string
	DeadLetter           string
}

var destinationRE = lazyregexp.New(`^$|^arn:(aws[a-zA-Z0-9-]*):([a-zA-Z0-9\-])+:([a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1})?:(\d{12})?:(.*)$`)

// eventInvokeKey is the key of a qualifier's configuration: the
// unqualified function is $LATEST, as in Lambda.
func eventInvokeKey(q string) string {
	if q == "" {
		return Latest
	}
	return q
}

func (r *Registry) eventInvokeNotFound(name, q string) *awsproto.Error {
	return awsproto.Errorf(awsproto.ResourceNotFoundException,
		"The function %s doesn't have an EventInvokeConfig", r.arns.Qualified(name, eventInvokeKey(q)))
}

func validateEventInvoke(in EventInvokeInput) error {
	if v := in.MaximumRetryAttempts; v != nil {
		if *v < MinRetryAttempts {
			return constraint(*v, "maximumRetryAttempts", "Member must have value greater than or equal to 0")
		}
		if *v > MaxRetryAttempts {
			return constraint(*v, "maximumRetryAttempts", "Member must have value less than or equal to 2")
		}
	}
	if v := in.MaximumEventAgeInSeconds; v != nil {
		if *v < MinEventAge {
			return constraint(*v, "maximumEventAgeInSeconds", "Member must have value greater than or equal to 60")
		}
		if *v > MaxEventAge {
			return constraint(*v, "maximumEventAgeInSeconds", "Member must have value less than or equal to 21600")
		}
	}
	if dc := in.DestinationConfig; dc != nil {
		for _, d := range []struct {
			member string
			dest   *Destination
		}{{"destinationConfig.onSuccess.destination", dc.OnSuccess}, {"destinationConfig.onFailure.destination", dc.OnFailure}} {
			if d.dest == nil {
				continue
			}
			arn := d.dest.Destination
			if len(arn) > maxDestinationARN {
				return constraint(clip(arn), d.member, "Member must have length less than or equal to 350")
			}
			if !destinationRE.MatchString(arn) {
				return constraint(clip(arn), d.member, `Member must satisfy regular expression pattern: ^$|arn:(aws[a-zA-Z0-9-]*):([a-zA-Z0-9\-])+:([a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1})?:(\d{12})?:(.*)`)
			}
			if arn == "" {
				continue
			}
			switch service := strings.Split(arn, ":")[2]; service {
			case "lambda", "sqs", "sns", "events", "s3":
			default:
				return invalid("The provided destination config DestinationConfig(onSuccess=..., onFailure=...) is invalid: the destination %s is not a supported destination type.", arn)
			}
		}
	}
	return nil
}

// normDestinations drops empty destinations.
func normDestinations(dc *DestinationConfig) *DestinationConfig {
	if dc == nil {
		return nil
	}
	out := &DestinationConfig{}
	if dc.OnSuccess != nil && dc.OnSuccess.Destination != "" {
		out.OnSuccess = &Destination{Destination: dc.OnSuccess.Destination}
	}
	if dc.OnFailure != nil && dc.OnFailure.Destination != "" {
		out.OnFailure = &Destination{Destination: dc.OnFailure.Destination}
	}
	return out
}

// checkQualifierExists refuses a qualifier that names no version or alias.
func (r *Registry) checkQualifierExists(f *Function, ref Ref) error {
	q := ref.Qualifier
	if q == "" || q == Latest {
		return nil
	}
	if isDigits(q) {
		return r.checkVersionExists(f, ref.Name, q)
	}
	if _, ok := f.Aliases[q]; !ok {
		return notFound(r.arns.Qualified(ref.Name, q))
	}
	return nil
}

// PutEventInvokeConfig replaces the asynchronous invocation settings of a
// function, version or alias.
func (r *Registry) PutEventInvokeConfig(ctx context.Context, ref Ref, in EventInvokeInput) (EventInvokeConfig, error) {
	if err := validateEventInvoke(in); err != nil {
		return EventInvokeConfig{}, err
	}
	var out EventInvokeConfig
	_, err := r.update(ctx, ref.Name, func(f *Function) error {
		if err := r.checkQualifierExists(f, ref); err != nil {
			return err
		}
		key := eventInvokeKey(ref.Qualifier)
		out = EventInvokeConfig{
			LastModified:             float64(r.now().UnixMilli()) / 1000,
			FunctionArn:              r.arns.Qualified(ref.Name, key),
			MaximumRetryAttempts:     in.MaximumRetryAttempts,
			MaximumEventAgeInSeconds: in.MaximumEventAgeInSeconds,
			DestinationConfig:        normDestinations(in.DestinationConfig),
		}
		if out.DestinationConfig == nil {
			out.DestinationConfig = &DestinationConfig{}
		}
		if f.EventInvokeConfigs == nil {
			f.EventInvokeConfigs = map[string]EventInvokeConfig{}
		}
		f.EventInvokeConfigs[key] = out
		return nil
	})
	if err != nil {
		return EventInvokeConfig{}, err
	}
	return out, nil
}

// UpdateEventInvokeConfig changes the members given; with no configuration
// yet it creates one, as Lambda does.
func (r *Registry) UpdateEventInvokeConfig(ctx context.Context, ref Ref, in EventInvokeInput) (EventInvokeConfig, error) {
	if err := validateEventInvoke(in); err != nil {
		return EventInvokeConfig{}, err
	}
	var out EventInvokeConfig
	_, err := r.update(ctx, ref.Name, func(f *Function) error {
		if err := r.checkQualifierExists(f, ref); err != nil {
			return err
		}
		key := eventInvokeKey(ref.Qualifier)
		c, ok := f.EventInvokeConfigs[key]
		if !ok {
			c = EventInvokeConfig{DestinationConfig: &DestinationConfig{}}
		}
		if in.MaximumRetryAttempts != nil {
			c.MaximumRetryAttempts = in.MaximumRetryAttempts
		}
		if in.MaximumEventAgeInSeconds != nil {
			c.MaximumEventAgeInSeconds = in.MaximumEventAgeInSeconds
		}
		if in.DestinationConfig != nil {
			dc := normDestinations(in.DestinationConfig)
			old := c.DestinationConfig
			if old == nil {
				old = &DestinationConfig{}
			}
			if in.DestinationConfig.OnSuccess != nil {
				old.OnSuccess = dc.OnSuccess
			}
			if in.DestinationConfig.OnFailure != nil {
				old.OnFailure = dc.OnFailure
			}
			c.DestinationConfig = old
		}
		c.FunctionArn = r.arns.Qualified(ref.Name, key)
		c.LastModified = float64(r.now().UnixMilli()) / 1000
		if f.EventInvokeConfigs == nil {
			f.EventInvokeConfigs = map[string]EventInvokeConfig{}
		}
		f.EventInvokeConfigs[key] = c
		out = c
		return nil
	})
	if err != nil {
		return EventInvokeConfig{}, err
	}
	return out, nil
}

// GetEventInvokeConfig returns the configuration of one qualifier.
func (r *Registry) GetEventInvokeConfig(ctx context.Context, ref Ref) (EventInvokeConfig, error) {
	st := r.view(ref.Name)
	if st == nil {
		return EventInvokeConfig{}, notFound(r.arns.Function(ref.Name))
	}
	if err := r.checkQualifierExists(&st.fn, ref); err != nil {
		return EventInvokeConfig{}, err
	}
	c, ok := st.fn.EventInvokeConfigs[eventInvokeKey(ref.Qualifier)]
	if !ok {
		return EventInvokeConfig{}, r.eventInvokeNotFound(ref.Name, ref.Qualifier)
	}
	return c, nil
}

// DeleteEventInvokeConfig deletes the configuration of one qualifier; it
// must exist.
func (r *Registry) DeleteEventInvokeConfig(ctx context.Context, ref Ref) error {
	_, err := r.update(ctx, ref.Name, func(f *Function) error {
		if err := r.checkQualifierExists(f, ref); err != nil {
			return err
		}
		key := eventInvokeKey(ref.Qualifier)
		if _, ok := f.EventInvokeConfigs[key]; !ok {
			return r.eventInvokeNotFound(ref.Name, ref.Qualifier)
		}
		delete(f.EventInvokeConfigs, key)
		return nil
	})
	return err
}

// ListEventInvokeConfigs lists a function's configurations by qualifier.
// max is 1–50 (≤ 0 means 50); marker is the previous page's NextMarker.
func (r *Registry) ListEventInvokeConfigs(ctx context.Context, ref Ref, marker string, max int) ([]EventInvokeConfig, string, error) {
	if err := requireUnqualified(ref); err != nil {
		return nil, "", err
	}
	if max > maxEventInvokeItems {
		return nil, "", constraint(max, "maxItems", "Member must have value less than or equal to 50")
	}
	if max <= 0 {
		max = maxEventInvokeItems
	}
	after, err := decodeMarker(marker)
	if err != nil {
		return nil, "", err
	}
	st := r.view(ref.Name)
	if st == nil {
		return nil, "", notFound(r.arns.Function(ref.Name))
	}
	keys := make([]string, 0, len(st.fn.EventInvokeConfigs))
	for k := range st.fn.EventInvokeConfigs {
		if after != "" && k <= after {
			continue
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]EventInvokeConfig, 0, min(len(keys), max))
	for i, k := range keys {
		if len(out) == max {
			return out, encodeMarker(keys[i-1]), nil
		}
		out = append(out, st.fn.EventInvokeConfigs[k])
	}
	return out, "", nil
}

// ErrFunctionGone is returned by AsyncSettings when the function or the
// qualifier no longer exists; its events cannot run and are not retried.
var ErrFunctionGone = errors.New("registry: function or qualifier no longer exists")

// AsyncSettings returns what applies to an asynchronous event of ref, from
// the view only.
func (r *Registry) AsyncSettings(ref Ref) (AsyncSettings, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	st := r.fns[ref.Name]
	if st == nil || st.rev == 0 {
		return AsyncSettings{}, ErrFunctionGone
	}
	s := AsyncSettings{MaximumRetryAttempts: DefaultRetryAttempts, MaximumEventAge: DefaultEventAge * time.Second}
	q := eventInvokeKey(ref.Qualifier)
	version := q
	if q != Latest && !isDigits(q) {
		a, ok := st.fn.Aliases[q]
		if !ok {
			return AsyncSettings{}, ErrFunctionGone
		}
		version = a.FunctionVersion
	}
	cfg := &st.fn.Latest.Config
	if version != Latest {
		n, _ := strconv.Atoi(version)
		v := st.versions[n]
		if v == nil || !st.fn.hasVersion(n) {
			return AsyncSettings{}, ErrFunctionGone
		}
		cfg = &v.Config
	}
	if cfg.DeadLetterConfig != nil {
		s.DeadLetter = cfg.DeadLetterConfig.TargetArn
	}
	c, ok := st.fn.EventInvokeConfigs[q]
	if !ok {
		return s, nil
	}
	if c.MaximumRetryAttempts != nil {
		s.MaximumRetryAttempts = *c.MaximumRetryAttempts
	}
	if c.MaximumEventAgeInSeconds != nil {
		s.MaximumEventAge = time.Duration(*c.MaximumEventAgeInSeconds) * time.Second
	}
	if dc := c.DestinationConfig; dc != nil {
		if dc.OnSuccess != nil {
			s.OnSuccess = dc.OnSuccess.Destination
		}
		if dc.OnFailure != nil {
			s.OnFailure = dc.OnFailure.Destination
		}
	}
	return s, nil
}
