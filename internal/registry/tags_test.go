package registry

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"strings"
	"testing"

	"github.com/kumo-run/kumo/internal/awsproto"
)

func TestTags(t *testing.T) {
	r := openTest(t)
	mustCreate(t, r, "f")
	ctx := context.Background()

	list := func() map[string]string {
		t.Helper()
		tags, err := r.ListTags(ctx, fnARN)
		if err != nil {
			t.Fatal(err)
		}
		return tags
	}
	b, _ := json.Marshal(struct{ Tags map[string]string }{list()})
	if string(b) != `{"Tags":{}}` {
		t.Fatalf("ListTags of an untagged function renders as %s", b)
	}

	steps := []struct {
		name  string
		tag   map[string]string
		untag []string
		want  map[string]string
	}{
		{name: "add", tag: map[string]string{"team": "a", "env": "dev"}, want: map[string]string{"team": "a", "env": "dev"}},
		{name: "merge and replace", tag: map[string]string{"env": "prod", "cost": ""}, want: map[string]string{"team": "a", "env": "prod", "cost": ""}},
		{name: "nothing", tag: map[string]string{}, want: map[string]string{"team": "a", "env": "prod", "cost": ""}},
		{name: "untag", untag: []string{"cost", "unknown"}, want: map[string]string{"team": "a", "env": "prod"}},
		{name: "untag unknown", untag: []string{"unknown"}, want: map[string]string{"team": "a", "env": "prod"}},
		{name: "untag all", untag: []string{"team", "env"}, want: map[string]string{}},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			var err error
			if s.tag != nil {
				err = r.TagResource(ctx, fnARN, s.tag)
			} else {
				err = r.UntagResource(ctx, fnARN, s.untag)
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := list(); !maps.Equal(got, s.want) {
				t.Fatalf("tags = %v, want %v", got, s.want)
			}
		})
	}
	if st := r.view("f"); st.fn.Tags != nil {
		t.Fatalf("stored tags = %#v after removing all, want nil", st.fn.Tags)
	}
	res, err := r.GetFunction(ctx, Ref{Name: "f"})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.TagResource(ctx, fnARN, map[string]string{"k": "v"}); err != nil {
		t.Fatal(err)
	}
	if res2, _ := r.GetFunction(ctx, Ref{Name: "f"}); res2.Tags["k"] != "v" || res2.Config.RevisionId != res.Config.RevisionId {
		t.Fatalf("GetFunction after TagResource: tags %v, revision %q (was %q)", res2.Tags, res2.Config.RevisionId, res.Config.RevisionId)
	}
}

func TestTagErrors(t *testing.T) {
	r := openTest(t)
	mustCreate(t, r, "f")
	ctx := context.Background()
	full := map[string]string{}
	for i := range MaxTags {
		full[fmt.Sprintf("k%d", i)] = "v"
	}
	if err := r.TagResource(ctx, fnARN, full); err != nil {
		t.Fatal(err)
	}
	qualified := "Tags on function aliases and versions are not supported. Please specify a function ARN."
	tests := []struct {
		name  string
		arn   string
		tags  map[string]string
		untag []string
		code  awsproto.Code
		msg   string
	}{
		{name: "replace at the limit", tags: map[string]string{"k1": "w"}},
		{name: "over the limit", tags: map[string]string{"one-more": "v"}, code: awsproto.InvalidParameterValueException,
			msg: "Number of tags exceeds resource tag limit of 50."},
		{name: "name", arn: "f", tags: map[string]string{"a": "b"}, code: awsproto.ValidationException},
		{name: "partial arn", arn: "123456789012:function:f", tags: map[string]string{"a": "b"}, code: awsproto.ValidationException},
		{name: "not a function", arn: "arn:aws:lambda:us-east-1:123456789012:layer:l", tags: map[string]string{"a": "b"},
			code: awsproto.ValidationException},
		{name: "not lambda", arn: "arn:aws:s3:::bucket", tags: map[string]string{"a": "b"}, code: awsproto.ValidationException},
		{name: "too long", arn: "arn:aws:lambda:us-east-1:123456789012:function:" + strings.Repeat("f", 250), tags: map[string]string{"a": "b"},
			code: awsproto.ValidationException},
		{name: "version", arn: fnARN + ":1", tags: map[string]string{"a": "b"}, code: awsproto.InvalidParameterValueException, msg: qualified},
		{name: "alias", arn: fnARN + ":live", tags: map[string]string{"a": "b"}, code: awsproto.InvalidParameterValueException, msg: qualified},
		{name: "latest", arn: fnARN + ":$LATEST", tags: map[string]string{"a": "b"}, code: awsproto.InvalidParameterValueException, msg: qualified},
		{name: "missing function", arn: "arn:aws:lambda:us-east-1:123456789012:function:g", tags: map[string]string{"a": "b"},
			code: awsproto.ResourceNotFoundException, msg: "Function not found: arn:aws:lambda:us-east-1:123456789012:function:g"},
		{name: "other region", arn: "arn:aws:lambda:eu-west-1:123456789012:function:f", tags: map[string]string{"a": "b"},
			code: awsproto.ResourceNotFoundException},
		{name: "null tags", code: awsproto.ValidationException,
			msg: "1 validation error detected: Value null at 'tags' failed to satisfy constraint: Member must not be null"},
		{name: "reserved prefix", tags: map[string]string{"AWS:x": "v"}, code: awsproto.InvalidParameterValueException},
		{name: "long key", tags: map[string]string{strings.Repeat("k", 129): "v"}, code: awsproto.InvalidParameterValueException},
		{name: "long value", tags: map[string]string{"k1": strings.Repeat("v", 257)}, code: awsproto.InvalidParameterValueException},
		{name: "untag nothing", untag: []string{}, code: awsproto.ValidationException,
			msg: "1 validation error detected: Value null at 'tagKeys' failed to satisfy constraint: Member must not be null"},
		{name: "untag long key", untag: []string{"k1", strings.Repeat("k", 129)}, code: awsproto.ValidationException},
		{name: "untag empty key", untag: []string{""}, code: awsproto.ValidationException},
		{name: "untag alias", arn: fnARN + ":live", untag: []string{"k1"}, code: awsproto.InvalidParameterValueException, msg: qualified},
		{name: "untag missing function", arn: "arn:aws:lambda:us-east-1:123456789012:function:g", untag: []string{"k1"},
			code: awsproto.ResourceNotFoundException},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			arn := tt.arn
			if arn == "" {
				arn = fnARN
			}
			before, _ := r.ListTags(ctx, fnARN)
			var err error
			if tt.untag != nil {
				err = r.UntagResource(ctx, arn, tt.untag)
			} else {
				err = r.TagResource(ctx, arn, tt.tags)
			}
			wantErr(t, err, tt.code, tt.msg)
			if after, _ := r.ListTags(ctx, fnARN); err != nil && !maps.Equal(before, after) {
				t.Fatalf("failed call changed the tags")
			}
		})
	}

	lists := []struct {
		name string
		arn  string
		code awsproto.Code
		msg  string
	}{
		{name: "tagged", arn: fnARN},
		{name: "name", arn: "f", code: awsproto.ValidationException},
		{name: "alias", arn: fnARN + ":live", code: awsproto.InvalidParameterValueException, msg: qualified},
		{name: "missing function", arn: "arn:aws:lambda:us-east-1:123456789012:function:g", code: awsproto.ResourceNotFoundException,
			msg: "Function not found: arn:aws:lambda:us-east-1:123456789012:function:g"},
		{name: "other account", arn: "arn:aws:lambda:us-east-1:210987654321:function:f", code: awsproto.ResourceNotFoundException},
	}
	for _, tt := range lists {
		t.Run("list "+tt.name, func(t *testing.T) {
			tags, err := r.ListTags(ctx, tt.arn)
			wantErr(t, err, tt.code, tt.msg)
			if err == nil && len(tags) != MaxTags {
				t.Fatalf("ListTags = %d tags, want %d", len(tags), MaxTags)
			}
		})
	}
}
