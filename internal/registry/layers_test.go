package registry

import (
	"context"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kumo-run/kumo/internal/awsproto"
)

func mustPublishLayer(t *testing.T, r *Registry, name string, in *PublishLayerInput) *LayerVersion {
	t.Helper()
	if in == nil {
		in = &PublishLayerInput{}
	}
	if in.Content == nil {
		in.Content = &LayerContent{ZipFile: testZip(t, map[string]string{"python/" + name + ".py": "X = 1\n"})}
	}
	lv, err := r.PublishLayerVersion(context.Background(), name, in)
	if err != nil {
		t.Fatalf("PublishLayerVersion(%s): %v", name, err)
	}
	return lv
}

func TestPublishGetLayerVersion(t *testing.T) {
	r := openTest(t)
	ctx := context.Background()
	zip := testZip(t, map[string]string{"python/mod.py": "X = 1\n"})
	lv := mustPublishLayer(t, r, "lib", &PublishLayerInput{
		Content: &LayerContent{ZipFile: zip}, Description: "d", LicenseInfo: "MIT",
		CompatibleRuntimes: []string{"python3.12"}, CompatibleArchitectures: []string{"x86_64"},
	})
	if lv.Version != 1 || lv.LayerVersionArn != "arn:aws:lambda:us-east-1:123456789012:layer:lib:1" ||
		lv.LayerArn != "arn:aws:lambda:us-east-1:123456789012:layer:lib" || lv.CodeSize != int64(len(zip)) || lv.CodeSha256 == "" {
		t.Fatalf("published %+v", lv)
	}
	for _, name := range []string{"lib", "arn:aws:lambda:us-east-1:123456789012:layer:lib"} {
		got, err := r.GetLayerVersion(ctx, name, "1")
		if err != nil || got.Description != "d" || got.LicenseInfo != "MIT" {
			t.Fatalf("GetLayerVersion(%s) = %+v, %v", name, got, err)
		}
	}
	got, err := r.GetLayerVersionByArn(ctx, lv.LayerVersionArn)
	if err != nil || got.Version != 1 {
		t.Fatalf("GetLayerVersionByArn = %+v, %v", got, err)
	}
	if _, err := r.code.Stat(ctx, lv.Blob); err != nil {
		t.Fatalf("layer blob not stored: %v", err)
	}
	// A second registry on the same store sees the layer through the watch.
	r2, err := Open(ctx, r.cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	if _, err := r2.GetLayerVersion(ctx, "lib", "1"); err != nil {
		t.Fatalf("other registry: %v", err)
	}
}

func TestLayerErrors(t *testing.T) {
	r := openTest(t)
	ctx := context.Background()
	mustPublishLayer(t, r, "lib", nil)
	zip := testZip(t, map[string]string{"a": "b"})
	tests := []struct {
		name string
		err  error
		code awsproto.Code
	}{
		{"missing version", func() error { _, err := r.GetLayerVersion(ctx, "lib", "2"); return err }(), awsproto.ResourceNotFoundException},
		{"missing layer", func() error { _, err := r.GetLayerVersion(ctx, "nope", "1"); return err }(), awsproto.ResourceNotFoundException},
		{"bad version", func() error { _, err := r.GetLayerVersion(ctx, "lib", "x"); return err }(), awsproto.ResourceNotFoundException},
		{"other account", func() error {
			_, err := r.GetLayerVersionByArn(ctx, "arn:aws:lambda:us-east-1:999999999999:layer:lib:1")
			return err
		}(), awsproto.ResourceNotFoundException},
		{"bad arn", func() error { _, err := r.GetLayerVersionByArn(ctx, "arn:aws:lambda:x"); return err }(), awsproto.ValidationException},
		{"bad name", func() error {
			_, err := r.PublishLayerVersion(ctx, "bad.name", &PublishLayerInput{Content: &LayerContent{ZipFile: zip}})
			return err
		}(), awsproto.ValidationException},
		{"long name", func() error {
			_, err := r.PublishLayerVersion(ctx, strings.Repeat("a", 141), &PublishLayerInput{Content: &LayerContent{ZipFile: zip}})
			return err
		}(), awsproto.ValidationException},
		{"no content", func() error { _, err := r.PublishLayerVersion(ctx, "x", &PublishLayerInput{}); return err }(), awsproto.ValidationException},
		{"s3", func() error {
			_, err := r.PublishLayerVersion(ctx, "x", &PublishLayerInput{Content: &LayerContent{S3Bucket: "b", S3Key: "k"}})
			return err
		}(), awsproto.InvalidParameterValueException},
		{"not a zip", func() error {
			_, err := r.PublishLayerVersion(ctx, "x", &PublishLayerInput{Content: &LayerContent{ZipFile: []byte("nope")}})
			return err
		}(), awsproto.InvalidParameterValueException},
		{"bad runtime", func() error {
			_, err := r.PublishLayerVersion(ctx, "x", &PublishLayerInput{Content: &LayerContent{ZipFile: zip}, CompatibleRuntimes: []string{"cobol"}})
			return err
		}(), awsproto.ValidationException},
		{"bad arch", func() error {
			_, err := r.PublishLayerVersion(ctx, "x", &PublishLayerInput{Content: &LayerContent{ZipFile: zip}, CompatibleArchitectures: []string{"mips"}})
			return err
		}(), awsproto.ValidationException},
		{"list bad name", func() error { _, _, err := r.ListLayerVersions(ctx, "a b", LayerFilter{}, "", 0); return err }(), awsproto.ValidationException},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { wantErr(t, tt.err, tt.code, "") })
	}
	if _, err := r.PublishLayerVersion(ctx, "x", &PublishLayerInput{Content: &LayerContent{S3Bucket: "b", S3Key: "k"}}); !strings.Contains(err.Error(), "not supported") {
		t.Fatalf("S3 content: %v", err)
	}
}

func TestLayerNumberingAfterDelete(t *testing.T) {
	r := openTest(t)
	ctx := context.Background()
	for i := 1; i <= 3; i++ {
		if lv := mustPublishLayer(t, r, "lib", nil); lv.Version != int64(i) {
			t.Fatalf("version %d, want %d", lv.Version, i)
		}
	}
	if err := r.DeleteLayerVersion(ctx, "lib", "3"); err != nil {
		t.Fatal(err)
	}
	if err := r.DeleteLayerVersion(ctx, "lib", "3"); err != nil {
		t.Fatalf("deleting again: %v", err)
	}
	if _, err := r.GetLayerVersion(ctx, "lib", "3"); err == nil {
		t.Fatal("deleted version still readable")
	}
	if lv := mustPublishLayer(t, r, "lib", nil); lv.Version != 4 {
		t.Fatalf("version after delete = %d, want 4", lv.Version)
	}
	items, _, err := r.ListLayerVersions(ctx, "lib", LayerFilter{}, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, it := range items {
		got = append(got, strconv.FormatInt(it.Version, 10))
	}
	if strings.Join(got, ",") != "4,2,1" {
		t.Fatalf("versions %v, want 4,2,1", got)
	}
	// Deleting every version leaves the counter: the next one is 5.
	for _, v := range []string{"1", "2", "4"} {
		if err := r.DeleteLayerVersion(ctx, "lib", v); err != nil {
			t.Fatal(err)
		}
	}
	if lv := mustPublishLayer(t, r, "lib", nil); lv.Version != 5 {
		t.Fatalf("version after deleting all = %d, want 5", lv.Version)
	}
}

func TestListLayers(t *testing.T) {
	r := openTest(t)
	ctx := context.Background()
	mustPublishLayer(t, r, "a", &PublishLayerInput{CompatibleRuntimes: []string{"python3.12"}, CompatibleArchitectures: []string{"x86_64"}})
	mustPublishLayer(t, r, "a", &PublishLayerInput{CompatibleRuntimes: []string{"nodejs20.x"}, CompatibleArchitectures: []string{"arm64"}})
	mustPublishLayer(t, r, "b", &PublishLayerInput{CompatibleRuntimes: []string{"python3.12"}})
	mustPublishLayer(t, r, "c", nil)
	mustPublishLayer(t, r, "d", nil)
	if err := r.DeleteLayerVersion(ctx, "d", "1"); err != nil {
		t.Fatal(err)
	}
	list := func(f LayerFilter, marker string, max int) (string, string) {
		t.Helper()
		items, next, err := r.ListLayers(ctx, f, marker, max)
		if err != nil {
			t.Fatal(err)
		}
		var s []string
		for _, it := range items {
			s = append(s, it.LayerName+":"+strconv.FormatInt(it.LatestMatchingVersion.Version, 10))
		}
		return strings.Join(s, ","), next
	}
	if got, _ := list(LayerFilter{}, "", 0); got != "a:2,b:1,c:1" {
		t.Fatalf("all = %s", got)
	}
	if got, _ := list(LayerFilter{Runtime: "python3.12"}, "", 0); got != "a:1,b:1" {
		t.Fatalf("python3.12 = %s", got)
	}
	if got, _ := list(LayerFilter{Architecture: "arm64"}, "", 0); got != "a:2" {
		t.Fatalf("arm64 = %s", got)
	}
	got, next := list(LayerFilter{}, "", 2)
	if got != "a:2,b:1" || next == "" {
		t.Fatalf("page 1 = %s, %q", got, next)
	}
	if got, next := list(LayerFilter{}, next, 2); got != "c:1" || next != "" {
		t.Fatalf("page 2 = %s, %q", got, next)
	}
	items, next2, err := r.ListLayerVersions(ctx, "a", LayerFilter{}, "", 1)
	if err != nil || len(items) != 1 || items[0].Version != 2 || next2 == "" {
		t.Fatalf("versions page 1 = %+v, %q, %v", items, next2, err)
	}
	items, next2, err = r.ListLayerVersions(ctx, "a", LayerFilter{}, next2, 1)
	if err != nil || len(items) != 1 || items[0].Version != 1 || next2 != "" {
		t.Fatalf("versions page 2 = %+v, %q, %v", items, next2, err)
	}
	items, _, err = r.ListLayerVersions(ctx, "none", LayerFilter{}, "", 0)
	if err != nil || len(items) != 0 {
		t.Fatalf("versions of a missing layer = %+v, %v", items, err)
	}
}

func TestLayerPermissions(t *testing.T) {
	r := openTest(t)
	ctx := context.Background()
	mustPublishLayer(t, r, "lib", nil)
	_, _, err := r.GetLayerVersionPolicy(ctx, "lib", "1")
	wantErr(t, err, awsproto.ResourceNotFoundException, "No policy is associated with the given resource.")
	st, rev, err := r.AddLayerVersionPermission(ctx, "lib", "1", "", AddLayerPermissionInput{StatementId: "all", Action: "lambda:GetLayerVersion", Principal: "*", OrganizationId: "o-123"})
	if err != nil || rev == "" {
		t.Fatal(err)
	}
	want := `{"Sid":"all","Effect":"Allow","Principal":"*","Action":"lambda:GetLayerVersion","Resource":"arn:aws:lambda:us-east-1:123456789012:layer:lib:1","Condition":{"StringEquals":{"aws:PrincipalOrgID":"o-123"}}}`
	if st != want {
		t.Fatalf("statement = %s\nwant %s", st, want)
	}
	_, _, err = r.AddLayerVersionPermission(ctx, "lib", "1", "", AddLayerPermissionInput{StatementId: "all", Action: "lambda:GetLayerVersion", Principal: "*"})
	wantErr(t, err, awsproto.ResourceConflictException, "")
	_, _, err = r.AddLayerVersionPermission(ctx, "lib", "1", "stale", AddLayerPermissionInput{StatementId: "acct", Action: "lambda:GetLayerVersion", Principal: "210987654321"})
	wantErr(t, err, awsproto.PreconditionFailedException, "")
	_, rev2, err := r.AddLayerVersionPermission(ctx, "lib", "1", rev, AddLayerPermissionInput{StatementId: "acct", Action: "lambda:GetLayerVersion", Principal: "210987654321"})
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = r.AddLayerVersionPermission(ctx, "lib", "1", "", AddLayerPermissionInput{StatementId: "x", Action: "lambda:InvokeFunction", Principal: "*"})
	wantErr(t, err, awsproto.ValidationException, "")
	_, _, err = r.AddLayerVersionPermission(ctx, "lib", "1", "", AddLayerPermissionInput{StatementId: "x", Action: "lambda:GetLayerVersion", Principal: "bob"})
	wantErr(t, err, awsproto.ValidationException, "")
	_, _, err = r.AddLayerVersionPermission(ctx, "lib", "9", "", AddLayerPermissionInput{StatementId: "x", Action: "lambda:GetLayerVersion", Principal: "*"})
	wantErr(t, err, awsproto.ResourceNotFoundException, "")
	doc, prev, err := r.GetLayerVersionPolicy(ctx, "lib", "1")
	if err != nil || prev != rev2 || !strings.Contains(doc, `"Sid":"acct"`) || !strings.Contains(doc, `"AWS":"arn:aws:iam::210987654321:root"`) {
		t.Fatalf("policy = %s, %s, %v", doc, prev, err)
	}
	wantErr(t, r.RemoveLayerVersionPermission(ctx, "lib", "1", "nope", ""), awsproto.ResourceNotFoundException, "Statement nope is not found in resource policy.")
	if err := r.RemoveLayerVersionPermission(ctx, "lib", "1", "all", ""); err != nil {
		t.Fatal(err)
	}
	if got := r.LayerStatements("lib", 1); len(got) != 1 || got[0].Sid != "acct" {
		t.Fatalf("statements = %+v", got)
	}
	if err := r.DeleteLayerVersion(ctx, "lib", "1"); err != nil {
		t.Fatal(err)
	}
	if got := r.LayerStatements("lib", 1); len(got) != 0 {
		t.Fatalf("statements after delete = %+v", got)
	}
}

func TestFunctionLayers(t *testing.T) {
	// The registry's clock jumps past the grace period once everything is
	// uploaded and referenced; before that, a collection started by Open
	// must not take a blob that is put but not yet referenced.
	var ahead atomic.Int64
	r := openTest(t, func(c *Config) {
		c.CodeGrace = time.Hour
		c.Now = func() time.Time { return time.Now().Add(time.Duration(ahead.Load())) }
	})
	ctx := context.Background()
	lv := mustPublishLayer(t, r, "lib", nil)
	other := mustPublishLayer(t, r, "other", nil)
	mustCreate(t, r, "fn")
	c, err := r.UpdateFunctionConfiguration(ctx, Ref{Name: "fn"}, &UpdateConfigInput{ConfigInput: ConfigInput{Layers: &[]string{lv.LayerVersionArn, other.LayerVersionArn}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Layers) != 2 || c.Layers[0].Arn != lv.LayerVersionArn || c.Layers[0].CodeSize != lv.CodeSize {
		t.Fatalf("layers = %+v", c.Layers)
	}
	waitReady(t, r, "fn")
	if _, err := r.PublishVersion(ctx, Ref{Name: "fn"}, PublishInput{}); err != nil {
		t.Fatal(err)
	}
	// The blobs are known without reading the layers, here and after a
	// reload from the store.
	for _, reg := range []*Registry{r, func() *Registry {
		r2, err := Open(ctx, r.cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(r2.Close)
		return r2
	}()} {
		for _, q := range []string{"", "1"} {
			res, err := reg.GetFunction(ctx, Ref{Name: "fn", Qualifier: q})
			if err != nil {
				t.Fatal(err)
			}
			if ls := res.Config.Layers; len(ls) != 2 || ls[0].Blob() != lv.Blob || ls[1].Blob() != other.Blob {
				t.Fatalf("qualifier %q: layers %+v", q, ls)
			}
		}
	}
	// A deleted layer version keeps working for the function and its blob
	// is not collected, but no new function may use it.
	ahead.Store(int64(2 * time.Hour))
	if err := r.DeleteLayerVersion(ctx, "lib", "1"); err != nil {
		t.Fatal(err)
	}
	if err := r.collectCode(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := r.code.Stat(ctx, lv.Blob); err != nil {
		t.Fatalf("layer blob of a used, deleted layer collected: %v", err)
	}
	d := "changed"
	if _, err := r.UpdateFunctionConfiguration(ctx, Ref{Name: "fn"}, &UpdateConfigInput{ConfigInput: ConfigInput{Description: &d}}); err != nil {
		t.Fatal(err)
	}
	waitReady(t, r, "fn")
	res, _ := r.GetFunction(ctx, Ref{Name: "fn"})
	if ls := res.Config.Layers; len(ls) != 2 || ls[0].Blob() != lv.Blob {
		t.Fatalf("after an unrelated update: %+v", ls)
	}
	_, err = r.UpdateFunctionConfiguration(ctx, Ref{Name: "fn"}, &UpdateConfigInput{ConfigInput: ConfigInput{Layers: &[]string{lv.LayerVersionArn}}})
	wantErr(t, err, awsproto.InvalidParameterValueException, "Layer version "+lv.LayerVersionArn+" does not exist.")
	// Unused once no function version references it.
	if _, err := r.UpdateFunctionConfiguration(ctx, Ref{Name: "fn"}, &UpdateConfigInput{ConfigInput: ConfigInput{Layers: &[]string{}}}); err != nil {
		t.Fatal(err)
	}
	if err := r.DeleteFunction(ctx, Ref{Name: "fn"}); err != nil {
		t.Fatal(err)
	}
	if err := r.collectCode(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := r.code.Stat(ctx, lv.Blob); err == nil {
		t.Fatal("unused layer blob kept")
	}
	if _, err := r.code.Stat(ctx, other.Blob); err != nil {
		t.Fatalf("blob of an existing layer version collected: %v", err)
	}
}

func TestFunctionLayersLimits(t *testing.T) {
	r := openTest(t)
	ctx := context.Background()
	var arns []string
	for i := range 6 {
		arns = append(arns, mustPublishLayer(t, r, "l"+strconv.Itoa(i), nil).LayerVersionArn)
	}
	mustCreate(t, r, "fn")
	_, err := r.UpdateFunctionConfiguration(ctx, Ref{Name: "fn"}, &UpdateConfigInput{ConfigInput: ConfigInput{Layers: &arns}})
	wantErr(t, err, awsproto.InvalidParameterValueException, "Cannot reference more than 5 layers.")
	five := arns[:5]
	if _, err := r.UpdateFunctionConfiguration(ctx, Ref{Name: "fn"}, &UpdateConfigInput{ConfigInput: ConfigInput{Layers: &five}}); err != nil {
		t.Fatal(err)
	}
	// Code and layers together over 250 MB unzipped. A zip of zeros
	// compresses well, so the layer stays small zipped.
	big := strings.Repeat("\x00", 200<<20)
	lv := mustPublishLayer(t, r, "big", &PublishLayerInput{Content: &LayerContent{ZipFile: testZip(t, map[string]string{"big": big})}})
	_, err = r.CreateFunction(ctx, &CreateFunctionInput{
		FunctionName: "fn2",
		Code:         &FunctionCode{ZipFile: testZip(t, map[string]string{"index.py": strings.Repeat("#", 60<<20)})},
		ConfigInput: ConfigInput{
			Role: ptr("arn:aws:iam::123456789012:role/lambda"), Runtime: ptr("python3.12"), Handler: ptr("index.handler"),
			Layers: &[]string{lv.LayerVersionArn},
		},
	})
	wantErr(t, err, awsproto.InvalidParameterValueException, "")
	if !strings.HasPrefix(err.Error(), "Function code combined with layers exceeds the maximum allowed size of 262144000 bytes. The actual size is ") &&
		!strings.Contains(err.Error(), "Function code combined with layers exceeds the maximum allowed size of 262144000 bytes. The actual size is ") {
		t.Fatalf("error = %v", err)
	}
}
