package registry

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/kumo-run/kumo/internal/awsproto"
)

const fnARN = "arn:aws:lambda:us-east-1:123456789012:function:f"

func weights(w map[string]float64) *RoutingConfig { return &RoutingConfig{AdditionalVersionWeights: w} }

func TestCreateAlias(t *testing.T) {
	r := openTest(t)
	mustCreate(t, r, "f")
	mustPublish(t, r, "f", 3)
	ctx := context.Background()
	if _, err := r.CreateAlias(ctx, Ref{Name: "f"}, CreateAliasInput{Name: "taken", FunctionVersion: "1"}); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name    string
		ref     Ref
		in      CreateAliasInput
		code    awsproto.Code
		msg     string
		routing *RoutingConfig
	}{
		{name: "latest", in: CreateAliasInput{Name: "live", FunctionVersion: "$LATEST"}},
		{name: "version with description", in: CreateAliasInput{Name: "prod", FunctionVersion: "1", Description: "production"}},
		{name: "latest qualifier", ref: Ref{Qualifier: "$LATEST"}, in: CreateAliasInput{Name: "q", FunctionVersion: "2"}},
		{name: "canary", in: CreateAliasInput{Name: "canary", FunctionVersion: "1", RoutingConfig: weights(map[string]float64{"2": 0.25})},
			routing: weights(map[string]float64{"2": 0.25})},
		{name: "weight zero", in: CreateAliasInput{Name: "w0", FunctionVersion: "1", RoutingConfig: weights(map[string]float64{"3": 0})},
			routing: weights(map[string]float64{"3": 0})},
		{name: "weight one", in: CreateAliasInput{Name: "w1", FunctionVersion: "1", RoutingConfig: weights(map[string]float64{"3": 1})},
			routing: weights(map[string]float64{"3": 1})},
		{name: "empty routing is none", in: CreateAliasInput{Name: "empty", FunctionVersion: "2", RoutingConfig: weights(map[string]float64{})}},
		{name: "qualified function", ref: Ref{Qualifier: "1"}, in: CreateAliasInput{Name: "x", FunctionVersion: "1"},
			code: awsproto.InvalidParameterValueException},
		{name: "numeric name", in: CreateAliasInput{Name: "123", FunctionVersion: "1"}, code: awsproto.ValidationException,
			msg: "1 validation error detected: Value '123' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: (?!^[0-9]+$)([a-zA-Z0-9-_]+)"},
		{name: "bad name", in: CreateAliasInput{Name: "a.b", FunctionVersion: "1"}, code: awsproto.ValidationException},
		{name: "long name", in: CreateAliasInput{Name: strings.Repeat("a", 129), FunctionVersion: "1"}, code: awsproto.ValidationException},
		{name: "no version", in: CreateAliasInput{Name: "x"}, code: awsproto.ValidationException,
			msg: "1 validation error detected: Value null at 'functionVersion' failed to satisfy constraint: Member must not be null"},
		{name: "bad version", in: CreateAliasInput{Name: "x", FunctionVersion: "v1"}, code: awsproto.ValidationException},
		{name: "latest published", in: CreateAliasInput{Name: "x", FunctionVersion: "$LATEST.PUBLISHED"}, code: awsproto.InvalidParameterValueException},
		{name: "long description", in: CreateAliasInput{Name: "x", FunctionVersion: "1", Description: strings.Repeat("d", 257)},
			code: awsproto.ValidationException},
		{name: "missing version", in: CreateAliasInput{Name: "x", FunctionVersion: "9"}, code: awsproto.ResourceNotFoundException,
			msg: "Function not found: " + fnARN + ":9"},
		{name: "missing function", ref: Ref{Name: "nope"}, in: CreateAliasInput{Name: "x", FunctionVersion: "1"},
			code: awsproto.ResourceNotFoundException, msg: "Function not found: arn:aws:lambda:us-east-1:123456789012:function:nope"},
		{name: "duplicate", in: CreateAliasInput{Name: "taken", FunctionVersion: "2"}, code: awsproto.ResourceConflictException,
			msg: "Alias already exists: " + fnARN + ":taken"},
		{name: "two weights", in: CreateAliasInput{Name: "x", FunctionVersion: "1", RoutingConfig: weights(map[string]float64{"2": 0.1, "3": 0.1})},
			code: awsproto.InvalidParameterValueException, msg: "Number of items in AdditionalVersionWeights cannot be greater than 1"},
		{name: "weight above one", in: CreateAliasInput{Name: "x", FunctionVersion: "1", RoutingConfig: weights(map[string]float64{"2": 1.5})},
			code: awsproto.ValidationException,
			msg:  "1 validation error detected: Value '{2=1.5}' at 'routingConfig.additionalVersionWeights' failed to satisfy constraint: Map value must satisfy constraint: [Member must have value less than or equal to 1.0, Member must have value greater than or equal to 0.0, Member must not be null]"},
		{name: "negative weight", in: CreateAliasInput{Name: "x", FunctionVersion: "1", RoutingConfig: weights(map[string]float64{"2": -0.1})},
			code: awsproto.ValidationException},
		{name: "latest as additional", in: CreateAliasInput{Name: "x", FunctionVersion: "1", RoutingConfig: weights(map[string]float64{"$LATEST": 0.1})},
			code: awsproto.ValidationException},
		{name: "additional is primary", in: CreateAliasInput{Name: "x", FunctionVersion: "2", RoutingConfig: weights(map[string]float64{"2": 0.1})},
			code: awsproto.InvalidParameterValueException, msg: "Invalid function version 2. Function version 2 is already included in routing configuration."},
		{name: "weights on latest", in: CreateAliasInput{Name: "x", FunctionVersion: "$LATEST", RoutingConfig: weights(map[string]float64{"2": 0.1})},
			code: awsproto.InvalidParameterValueException, msg: "$LATEST is not supported for an alias pointing to more than 1 version"},
		{name: "missing additional", in: CreateAliasInput{Name: "x", FunctionVersion: "1", RoutingConfig: weights(map[string]float64{"9": 0.1})},
			code: awsproto.ResourceNotFoundException, msg: "Function not found: " + fnARN + ":9"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ref := tt.ref
			if ref.Name == "" {
				ref.Name = "f"
			}
			a, err := r.CreateAlias(ctx, ref, tt.in)
			wantErr(t, err, tt.code, tt.msg)
			if tt.code != "" {
				if _, err := r.GetAlias(ctx, Ref{Name: "f"}, tt.in.Name); tt.in.Name != "taken" && err == nil {
					t.Fatalf("failed CreateAlias left alias %q behind", tt.in.Name)
				}
				return
			}
			want := AliasConfig{
				AliasArn: fnARN + ":" + tt.in.Name, Name: tt.in.Name, FunctionVersion: tt.in.FunctionVersion,
				Description: tt.in.Description, RoutingConfig: tt.routing, RevisionId: a.RevisionId,
			}
			if a.RevisionId == "" || !reflect.DeepEqual(a, want) {
				t.Fatalf("CreateAlias = %+v, want %+v", a, want)
			}
			got, err := r.GetAlias(ctx, Ref{Name: "f"}, tt.in.Name)
			if err != nil || !reflect.DeepEqual(got, a) {
				t.Fatalf("GetAlias = %+v, %v; want %+v", got, err, a)
			}
		})
	}
}

func TestGetAlias(t *testing.T) {
	r := openTest(t)
	mustCreate(t, r, "f")
	ctx := context.Background()
	if _, err := r.CreateAlias(ctx, Ref{Name: "f"}, CreateAliasInput{Name: "live", FunctionVersion: "$LATEST"}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		ref   Ref
		alias string
		code  awsproto.Code
		msg   string
	}{
		{name: "found", ref: Ref{Name: "f"}, alias: "live"},
		{name: "missing alias", ref: Ref{Name: "f"}, alias: "prod", code: awsproto.ResourceNotFoundException,
			msg: "Cannot find alias arn: " + fnARN + ":prod"},
		{name: "missing function", ref: Ref{Name: "g"}, alias: "live", code: awsproto.ResourceNotFoundException,
			msg: "Function not found: arn:aws:lambda:us-east-1:123456789012:function:g"},
		{name: "bad name", ref: Ref{Name: "f"}, alias: "7", code: awsproto.ValidationException},
		{name: "qualified", ref: Ref{Name: "f", Qualifier: "live"}, alias: "live", code: awsproto.InvalidParameterValueException},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := r.GetAlias(ctx, tt.ref, tt.alias)
			wantErr(t, err, tt.code, tt.msg)
			if err == nil && (a.Name != "live" || a.FunctionVersion != Latest || a.AliasArn != fnARN+":live") {
				t.Fatalf("GetAlias = %+v", a)
			}
		})
	}
}

func TestUpdateAlias(t *testing.T) {
	ctx := context.Background()
	type step struct {
		in   UpdateAliasInput
		code awsproto.Code
		msg  string
		// want is the alias afterwards (RevisionId and AliasArn aside).
		want AliasConfig
	}
	base := AliasConfig{Name: "a", FunctionVersion: "1", Description: "first"}
	tests := []struct {
		name  string
		alias string
		steps []step
	}{
		{name: "version", steps: []step{{in: UpdateAliasInput{FunctionVersion: ptr("2")},
			want: AliasConfig{Name: "a", FunctionVersion: "2", Description: "first"}}}},
		{name: "to latest", steps: []step{{in: UpdateAliasInput{FunctionVersion: ptr("$LATEST")},
			want: AliasConfig{Name: "a", FunctionVersion: "$LATEST", Description: "first"}}}},
		{name: "description only", steps: []step{{in: UpdateAliasInput{Description: ptr("")},
			want: AliasConfig{Name: "a", FunctionVersion: "1"}}}},
		{name: "nothing", steps: []step{{want: base}}},
		{name: "routing then none", steps: []step{
			{in: UpdateAliasInput{RoutingConfig: weights(map[string]float64{"3": 0.1})},
				want: AliasConfig{Name: "a", FunctionVersion: "1", Description: "first", RoutingConfig: weights(map[string]float64{"3": 0.1})}},
			{in: UpdateAliasInput{Description: ptr("second")},
				want: AliasConfig{Name: "a", FunctionVersion: "1", Description: "second", RoutingConfig: weights(map[string]float64{"3": 0.1})}},
			{in: UpdateAliasInput{RoutingConfig: &RoutingConfig{}}, want: AliasConfig{Name: "a", FunctionVersion: "1", Description: "second"}},
		}},
		{name: "version into routing", steps: []step{
			{in: UpdateAliasInput{RoutingConfig: weights(map[string]float64{"2": 0.5})},
				want: AliasConfig{Name: "a", FunctionVersion: "1", Description: "first", RoutingConfig: weights(map[string]float64{"2": 0.5})}},
			{in: UpdateAliasInput{FunctionVersion: ptr("2")}, code: awsproto.InvalidParameterValueException,
				msg: "Invalid function version 2. Function version 2 is already included in routing configuration."},
			{in: UpdateAliasInput{FunctionVersion: ptr("$LATEST")}, code: awsproto.InvalidParameterValueException,
				msg: "$LATEST is not supported for an alias pointing to more than 1 version"},
			{in: UpdateAliasInput{FunctionVersion: ptr("2"), RoutingConfig: weights(map[string]float64{"1": 0.5})},
				want: AliasConfig{Name: "a", FunctionVersion: "2", Description: "first", RoutingConfig: weights(map[string]float64{"1": 0.5})}},
		}},
		{name: "missing version", steps: []step{{in: UpdateAliasInput{FunctionVersion: ptr("7")},
			code: awsproto.ResourceNotFoundException, msg: "Function not found: " + fnARN + ":7"}}},
		{name: "bad version", steps: []step{{in: UpdateAliasInput{FunctionVersion: ptr("x")}, code: awsproto.ValidationException}}},
		{name: "bad weight", steps: []step{{in: UpdateAliasInput{RoutingConfig: weights(map[string]float64{"2": 2})},
			code: awsproto.ValidationException}}},
		{name: "long description", steps: []step{{in: UpdateAliasInput{Description: ptr(strings.Repeat("x", 300))},
			code: awsproto.ValidationException}}},
		{name: "stale revision", steps: []step{{in: UpdateAliasInput{FunctionVersion: ptr("2"), RevisionId: "stale"},
			code: awsproto.PreconditionFailedException,
			msg:  "The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API to retrieve the latest Revision Id"}}},
		{name: "missing alias", alias: "b", steps: []step{{in: UpdateAliasInput{FunctionVersion: ptr("2")},
			code: awsproto.ResourceNotFoundException, msg: "Cannot find alias arn: " + fnARN + ":b"}}},
	}
	r := openTest(t)
	mustCreate(t, r, "f")
	mustPublish(t, r, "f", 3)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r.DeleteAlias(ctx, Ref{Name: "f"}, "a")
			prev, err := r.CreateAlias(ctx, Ref{Name: "f"}, CreateAliasInput{Name: "a", FunctionVersion: "1", Description: "first"})
			if err != nil {
				t.Fatal(err)
			}
			alias := tt.alias
			if alias == "" {
				alias = "a"
			}
			for i, s := range tt.steps {
				got, err := r.UpdateAlias(ctx, Ref{Name: "f"}, alias, s.in)
				wantErr(t, err, s.code, s.msg)
				now, gerr := r.GetAlias(ctx, Ref{Name: "f"}, "a")
				if gerr != nil {
					t.Fatal(gerr)
				}
				if err != nil {
					if !reflect.DeepEqual(now, prev) {
						t.Fatalf("step %d: failed update changed the alias: %+v, was %+v", i, now, prev)
					}
					continue
				}
				if got.RevisionId == "" || got.RevisionId == prev.RevisionId {
					t.Fatalf("step %d: RevisionId %q did not change from %q", i, got.RevisionId, prev.RevisionId)
				}
				if !reflect.DeepEqual(now, got) {
					t.Fatalf("step %d: GetAlias = %+v, UpdateAlias returned %+v", i, now, got)
				}
				s.want.AliasArn, s.want.RevisionId = fnARN+":a", got.RevisionId
				if !reflect.DeepEqual(got, s.want) {
					t.Fatalf("step %d: UpdateAlias = %+v, want %+v", i, got, s.want)
				}
				prev = got
			}
		})
	}

	t.Run("matching revision", func(t *testing.T) {
		a, err := r.GetAlias(ctx, Ref{Name: "f"}, "a")
		if err != nil {
			t.Fatal(err)
		}
		b, err := r.UpdateAlias(ctx, Ref{Name: "f"}, "a", UpdateAliasInput{Description: ptr("x"), RevisionId: a.RevisionId})
		wantErr(t, err, "", "")
		_, err = r.UpdateAlias(ctx, Ref{Name: "f"}, "a", UpdateAliasInput{Description: ptr("y"), RevisionId: a.RevisionId})
		wantErr(t, err, awsproto.PreconditionFailedException, "")
		_, err = r.UpdateAlias(ctx, Ref{Name: "f"}, "a", UpdateAliasInput{Description: ptr("y"), RevisionId: b.RevisionId})
		wantErr(t, err, "", "")
	})
	t.Run("missing function", func(t *testing.T) {
		_, err := r.UpdateAlias(ctx, Ref{Name: "g"}, "a", UpdateAliasInput{})
		wantErr(t, err, awsproto.ResourceNotFoundException, "Function not found: arn:aws:lambda:us-east-1:123456789012:function:g")
	})
}

func TestDeleteAlias(t *testing.T) {
	r := openTest(t)
	mustCreate(t, r, "f")
	ctx := context.Background()
	if _, err := r.CreateAlias(ctx, Ref{Name: "f"}, CreateAliasInput{Name: "live", FunctionVersion: "$LATEST"}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.AddPermission(ctx, Ref{Name: "f", Qualifier: "live"}, AddPermissionInput{StatementId: "s", Action: "lambda:InvokeFunction", Principal: "*"}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		ref   Ref
		alias string
		code  awsproto.Code
		msg   string
	}{
		{name: "existing", ref: Ref{Name: "f"}, alias: "live"},
		{name: "again", ref: Ref{Name: "f"}, alias: "live"},
		{name: "never existed", ref: Ref{Name: "f"}, alias: "other"},
		{name: "missing function", ref: Ref{Name: "g"}, alias: "live", code: awsproto.ResourceNotFoundException,
			msg: "Function not found: arn:aws:lambda:us-east-1:123456789012:function:g"},
		{name: "bad name", ref: Ref{Name: "f"}, alias: "1", code: awsproto.ValidationException},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantErr(t, r.DeleteAlias(ctx, tt.ref, tt.alias), tt.code, tt.msg)
		})
	}
	_, err := r.GetAlias(ctx, Ref{Name: "f"}, "live")
	wantErr(t, err, awsproto.ResourceNotFoundException, "")
	if st := r.view("f"); len(st.fn.Policies) != 0 || len(st.fn.Aliases) != 0 {
		t.Fatalf("alias or its policy left behind: %+v %+v", st.fn.Aliases, st.fn.Policies)
	}
	// A new alias of the same name does not inherit the old policy.
	if _, err := r.CreateAlias(ctx, Ref{Name: "f"}, CreateAliasInput{Name: "live", FunctionVersion: "$LATEST"}); err != nil {
		t.Fatal(err)
	}
	_, _, err = r.GetPolicy(ctx, Ref{Name: "f", Qualifier: "live"})
	wantErr(t, err, awsproto.ResourceNotFoundException, "The resource you requested does not exist.")
}

func TestListAliases(t *testing.T) {
	r := openTest(t)
	mustCreate(t, r, "f")
	mustCreate(t, r, "empty")
	mustPublish(t, r, "f", 2)
	ctx := context.Background()
	for name, v := range map[string]string{"e": "1", "b": "2", "a": "1", "d": "$LATEST", "c": "1"} {
		if _, err := r.CreateAlias(ctx, Ref{Name: "f"}, CreateAliasInput{Name: name, FunctionVersion: v}); err != nil {
			t.Fatal(err)
		}
	}
	names := func(as []AliasConfig) string {
		var s []string
		for _, a := range as {
			s = append(s, a.Name)
		}
		return strings.Join(s, ",")
	}
	// pages walks every page and returns them joined by "|".
	pages := func(version string, max int) (string, error) {
		var out []string
		marker := ""
		for i := 0; i < 10; i++ {
			as, next, err := r.ListAliases(ctx, Ref{Name: "f"}, version, marker, max)
			if err != nil {
				return "", err
			}
			out = append(out, names(as))
			if next == "" {
				return strings.Join(out, "|"), nil
			}
			marker = next
		}
		t.Fatal("pagination does not end")
		return "", nil
	}
	tests := []struct {
		name    string
		version string
		max     int
		want    string
	}{
		{name: "all", want: "a,b,c,d,e"},
		{name: "default page", max: 0, want: "a,b,c,d,e"},
		{name: "pages of two", max: 2, want: "a,b|c,d|e"},
		{name: "exact pages", max: 5, want: "a,b,c,d,e"},
		{name: "pages of one", max: 1, want: "a|b|c|d|e"},
		{name: "version 1", version: "1", want: "a,c,e"},
		{name: "version 1 paged", version: "1", max: 2, want: "a,c|e"},
		{name: "latest", version: "$LATEST", want: "d"},
		{name: "no match", version: "9", want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := pages(tt.version, tt.max)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Fatalf("pages = %q, want %q", got, tt.want)
			}
		})
	}

	as, next, err := r.ListAliases(ctx, Ref{Name: "empty"}, "", "", 0)
	if err != nil || as == nil || len(as) != 0 || next != "" {
		t.Fatalf("ListAliases of a function without aliases = %v, %q, %v; want an empty list", as, next, err)
	}
	a, _, err := r.ListAliases(ctx, Ref{Name: "f"}, "", "", 1)
	if err != nil || len(a) != 1 || a[0].AliasArn != fnARN+":a" || a[0].RevisionId == "" {
		t.Fatalf("ListAliases = %+v, %v", a, err)
	}

	errs := []struct {
		name    string
		ref     Ref
		version string
		marker  string
		code    awsproto.Code
	}{
		{name: "missing function", ref: Ref{Name: "g"}, code: awsproto.ResourceNotFoundException},
		{name: "bad marker", ref: Ref{Name: "f"}, marker: "!!!", code: awsproto.InvalidParameterValueException},
		{name: "bad version", ref: Ref{Name: "f"}, version: "x", code: awsproto.ValidationException},
		{name: "qualified", ref: Ref{Name: "f", Qualifier: "1"}, code: awsproto.InvalidParameterValueException},
	}
	for _, tt := range errs {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := r.ListAliases(ctx, tt.ref, tt.version, tt.marker, 0)
			wantErr(t, err, tt.code, "")
		})
	}
}
