package registry

import (
	"context"
	"testing"
)

// SnapStart answers OptimizationStatus "Off" on $LATEST and "On" only on a
// version published while ApplyOn was PublishedVersions; ApplyOn echoes
// the configured value everywhere.
func TestSnapStartOptimizationStatus(t *testing.T) {
	r := openTest(t)
	ctx := context.Background()
	ref := Ref{Name: "snap"}
	in := &CreateFunctionInput{
		FunctionName: "snap",
		Code:         &FunctionCode{ZipFile: testZip(t, map[string]string{"index.py": "def handler(e, c):\n    return e\n"})},
		ConfigInput: ConfigInput{
			Role:    ptr("arn:aws:iam::123456789012:role/lambda"),
			Runtime: ptr("python3.12"),
			Handler: ptr("index.handler"),
		},
	}
	in.SnapStart = &struct {
		ApplyOn string `json:"ApplyOn"`
	}{ApplyOn: "PublishedVersions"}
	c, err := r.CreateFunction(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if want := (SnapStartResponse{ApplyOn: "PublishedVersions", OptimizationStatus: "Off"}); c.SnapStart != want {
		t.Fatalf("CreateFunction SnapStart = %+v, want %+v", c.SnapStart, want)
	}
	waitReady(t, r, "snap")

	v1, err := r.PublishVersion(ctx, ref, PublishInput{})
	if err != nil {
		t.Fatal(err)
	}
	on := SnapStartResponse{ApplyOn: "PublishedVersions", OptimizationStatus: "On"}
	if v1.SnapStart != on {
		t.Fatalf("PublishVersion SnapStart = %+v, want %+v", v1.SnapStart, on)
	}
	got, err := r.GetFunctionConfiguration(ctx, Ref{Name: "snap", Qualifier: "1"})
	if err != nil {
		t.Fatal(err)
	}
	if got.SnapStart != on {
		t.Fatalf("version 1 SnapStart = %+v, want %+v", got.SnapStart, on)
	}
	latest, err := r.GetFunctionConfiguration(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	if want := (SnapStartResponse{ApplyOn: "PublishedVersions", OptimizationStatus: "Off"}); latest.SnapStart != want {
		t.Fatalf("$LATEST SnapStart = %+v, want %+v", latest.SnapStart, want)
	}

	// Turned off, the next version is published without it; version 1
	// keeps its own.
	u := &UpdateConfigInput{}
	u.SnapStart = &struct {
		ApplyOn string `json:"ApplyOn"`
	}{ApplyOn: "None"}
	if _, err := r.UpdateFunctionConfiguration(ctx, ref, u); err != nil {
		t.Fatal(err)
	}
	waitReady(t, r, "snap")
	v2, err := r.PublishVersion(ctx, ref, PublishInput{})
	if err != nil {
		t.Fatal(err)
	}
	off := SnapStartResponse{ApplyOn: "None", OptimizationStatus: "Off"}
	if v2.Version != "2" || v2.SnapStart != off {
		t.Fatalf("version %s SnapStart = %+v, want 2 and %+v", v2.Version, v2.SnapStart, off)
	}
	versions, _, err := r.ListVersions(ctx, ref, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]SnapStartResponse{"$LATEST": off, "1": on, "2": off}
	if len(versions) != len(want) {
		t.Fatalf("ListVersions = %d versions, want %d", len(versions), len(want))
	}
	for _, v := range versions {
		if v.SnapStart != want[v.Version] {
			t.Errorf("ListVersions %s SnapStart = %+v, want %+v", v.Version, v.SnapStart, want[v.Version])
		}
	}
}
