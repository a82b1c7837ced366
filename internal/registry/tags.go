package registry

import (
	"context"
	"errors"
	"maps"
	"strings"

	"github.com/kumo-run/kumo/internal/awsproto"
)

const taggablePattern = `arn:(aws[a-zA-Z-]*):lambda:[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:\d{12}:(function:[a-zA-Z0-9-_]+(:(\$LATEST|[a-zA-Z0-9-_]+))?|code-signing-config:csc-[a-z0-9]{17}|event-source-mapping:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|capacity-provider:[a-zA-Z0-9-_]+)`

// taggedFunction parses the Resource member of the tagging operations: the
// full, unqualified ARN of a function in this region and account.
func (r *Registry) taggedFunction(arn string) (string, error) {
	bad := constraint(clip(arn), "resource", "Member must satisfy regular expression pattern: "+taggablePattern)
	if !strings.HasPrefix(arn, "arn:") || len(arn) > 256 {
		return "", bad
	}
	ref, err := r.arns.ParseRef(arn, 256)
	if err != nil {
		var ae *awsproto.Error
		if errors.As(err, &ae) && ae.Code == awsproto.ResourceNotFoundException {
			return "", err
		}
		return "", bad
	}
	if ref.Qualifier != "" {
		return "", invalid("Tags on function aliases and versions are not supported. Please specify a function ARN.")
	}
	return ref.Name, nil
}

// TagResource adds tags to a function, replacing the values of keys it
// already has.
func (r *Registry) TagResource(ctx context.Context, resourceARN string, tags map[string]string) error {
	name, err := r.taggedFunction(resourceARN)
	if err != nil {
		return err
	}
	if tags == nil {
		return notNull("tags")
	}
	if err := ValidateTags(tags, nil); err != nil {
		return err
	}
	_, err = r.update(ctx, name, func(f *Function) error {
		if err := ValidateTags(tags, f.Tags); err != nil {
			return err
		}
		if len(tags) == 0 {
			return errUnchanged
		}
		nt := make(map[string]string, len(f.Tags)+len(tags))
		maps.Copy(nt, f.Tags)
		maps.Copy(nt, tags)
		f.Tags = nt
		return nil
	})
	if errors.Is(err, errUnchanged) {
		return nil
	}
	return err
}

// UntagResource removes tags from a function; keys it does not have are
// ignored.
func (r *Registry) UntagResource(ctx context.Context, resourceARN string, keys []string) error {
	name, err := r.taggedFunction(resourceARN)
	if err != nil {
		return err
	}
	if len(keys) == 0 {
		return notNull("tagKeys")
	}
	for _, k := range keys {
		if k == "" || len(k) > 128 {
			return constraint(clip("["+strings.Join(keys, ", ")+"]"), "tagKeys",
				"Member must satisfy constraint: [Member must have length less than or equal to 128, Member must have length greater than or equal to 1]")
		}
	}
	_, err = r.update(ctx, name, func(f *Function) error {
		nt := maps.Clone(f.Tags)
		for _, k := range keys {
			delete(nt, k)
		}
		if len(nt) == len(f.Tags) {
			return errUnchanged
		}
		if len(nt) == 0 {
			nt = nil
		}
		f.Tags = nt
		return nil
	})
	if errors.Is(err, errUnchanged) {
		return nil
	}
	return err
}

// ListTags returns a function's tags: a new map, empty (not nil) when the
// function has none, so that it renders as {"Tags":{}}.
func (r *Registry) ListTags(ctx context.Context, resourceARN string) (map[string]string, error) {
	name, err := r.taggedFunction(resourceARN)
	if err != nil {
		return nil, err
	}
	st := r.view(name)
	if st == nil {
		return nil, notFound(r.arns.Function(name))
	}
	tags := make(map[string]string, len(st.fn.Tags))
	maps.Copy(tags, st.fn.Tags)
	return tags, nil
}
