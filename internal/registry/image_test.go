package registry

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	ggcr "github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/kumo-run/kumo/internal/awsproto"
	"github.com/kumo-run/kumo/internal/image"
)

// imageRegistry starts a registry with one image at <host>/fn/app:v1
// and returns the host and the image's digest.
func imageRegistry(t *testing.T) (string, string) {
	t.Helper()
	srv := httptest.NewServer(ggcr.New(ggcr.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	img, err := random.Image(256, 2)
	if err != nil {
		t.Fatal(err)
	}
	ref, _ := name.ParseReference(host + "/fn/app:v1")
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	d, _ := img.Digest()
	return host, d.String()
}

func openImages(t *testing.T) *Registry {
	cache, err := image.NewCache(t.TempDir(), &image.Puller{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	return openTest(t, func(c *Config) { c.Images = cache })
}

func TestCreateImageFunction(t *testing.T) {
	host, digest := imageRegistry(t)
	r := openImages(t)
	ctx := context.Background()
	ic := json.RawMessage(`{"EntryPoint":["/bin/app"],"Command":["x"],"WorkingDirectory":"/w"}`)
	c, err := r.CreateFunction(ctx, &CreateFunctionInput{
		FunctionName: "img", PackageType: "Image",
		Code:        &FunctionCode{ImageUri: host + "/fn/app:v1"},
		ConfigInput: ConfigInput{Role: ptr("arn:aws:iam::123456789012:role/lambda"), ImageConfig: ic},
	})
	if err != nil {
		t.Fatal(err)
	}
	if c.PackageType != "Image" || c.CodeSha256 != strings.TrimPrefix(digest, "sha256:") || c.Runtime != "" {
		t.Fatalf("config %+v", c)
	}
	if c.ImageConfigResponse == nil || c.ImageConfigResponse.ImageConfig.WorkingDirectory != "/w" {
		t.Fatalf("ImageConfigResponse %+v", c.ImageConfigResponse)
	}
	waitReady(t, r, "img")
	res, err := r.GetFunction(ctx, Ref{Name: "img"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Code.Image == nil || res.Code.Image.URI != host+"/fn/app:v1" || res.Code.Image.Resolved != host+"/fn/app@"+digest {
		t.Fatalf("code %+v", res.Code.Image)
	}

	// Configuration updates keep to what an Image function allows.
	_, err = r.UpdateFunctionConfiguration(ctx, Ref{Name: "img"}, &UpdateConfigInput{ConfigInput: ConfigInput{Runtime: ptr("python3.12")}})
	wantInvalid(t, err, msgImageNoRuntime)
	_, err = r.UpdateFunctionCode(ctx, Ref{Name: "img"}, &UpdateCodeInput{ZipFile: []byte("PK")})
	wantInvalid(t, err, msgImageNeedsURI)
	_, err = r.UpdateFunctionCode(ctx, Ref{Name: "img"}, &UpdateCodeInput{ImageUri: host + "/fn/app:gone"})
	wantInvalid(t, err, "Source image "+host+"/fn/app:gone does not exist. Provide a valid source image.")
	u, err := r.UpdateFunctionCode(ctx, Ref{Name: "img"}, &UpdateCodeInput{ImageUri: host + "/fn/app@" + digest, Publish: true})
	if err != nil {
		t.Fatal(err)
	}
	if u.Version != "1" || u.PackageType != "Image" {
		t.Fatalf("published %+v", u)
	}
}

func wantInvalid(t *testing.T, err error, msg string) {
	t.Helper()
	var ae *awsproto.Error
	if !errors.As(err, &ae) || ae.Code != awsproto.InvalidParameterValueException || ae.Message != msg {
		t.Fatalf("got %v, want InvalidParameterValueException %q", err, msg)
	}
}

func TestCreateImageFunctionValidation(t *testing.T) {
	host, _ := imageRegistry(t)
	r := openImages(t)
	role := ptr("arn:aws:iam::123456789012:role/lambda")
	uri := host + "/fn/app:v1"
	for _, tc := range []struct {
		name string
		in   CreateFunctionInput
		msg  string
	}{
		{"runtime", CreateFunctionInput{PackageType: "Image", Code: &FunctionCode{ImageUri: uri}, ConfigInput: ConfigInput{Role: role, Runtime: ptr("python3.12")}}, msgImageNoRuntime},
		{"handler", CreateFunctionInput{PackageType: "Image", Code: &FunctionCode{ImageUri: uri}, ConfigInput: ConfigInput{Role: role, Handler: ptr("a.b")}}, msgImageNoRuntime},
		{"layers", CreateFunctionInput{PackageType: "Image", Code: &FunctionCode{ImageUri: uri}, ConfigInput: ConfigInput{Role: role, Layers: &[]string{"arn:aws:lambda:us-east-1:123456789012:layer:l:1"}}}, msgImageNoRuntime},
		{"no uri", CreateFunctionInput{PackageType: "Image", Code: &FunctionCode{ZipFile: []byte("PK")}, ConfigInput: ConfigInput{Role: role}}, msgImageNeedsURI},
		{"zip with uri", CreateFunctionInput{Code: &FunctionCode{ImageUri: uri}, ConfigInput: ConfigInput{Role: role, Runtime: ptr("python3.12"), Handler: ptr("a.b")}}, msgZipNoImageURI},
		{"zip with image config", CreateFunctionInput{Code: &FunctionCode{ZipFile: testZip(t, map[string]string{"a.py": ""})}, ConfigInput: ConfigInput{Role: role, Runtime: ptr("python3.12"), Handler: ptr("a.b"), ImageConfig: json.RawMessage(`{"Command":["x"]}`)}}, msgZipNoImageCfg},
		{"missing image", CreateFunctionInput{PackageType: "Image", Code: &FunctionCode{ImageUri: host + "/fn/none:v1"}, ConfigInput: ConfigInput{Role: role}}, "Source image " + host + "/fn/none:v1 does not exist. Provide a valid source image."},
		{"relative workdir", CreateFunctionInput{PackageType: "Image", Code: &FunctionCode{ImageUri: uri}, ConfigInput: ConfigInput{Role: role, ImageConfig: json.RawMessage(`{"WorkingDirectory":"rel"}`)}}, "The WorkingDirectory of ImageConfig must be an absolute path."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.in
			in.FunctionName = "v-" + strings.ReplaceAll(tc.name, " ", "-")
			_, err := r.CreateFunction(context.Background(), &in)
			wantInvalid(t, err, tc.msg)
			if r.view(in.FunctionName) != nil {
				t.Fatal("a refused function was created")
			}
		})
	}
}

// TestImagePullDoesNotBlockPreparation: while an image's layers are
// still being pulled, other functions become Active.
func TestImagePullDoesNotBlockPreparation(t *testing.T) {
	img, err := random.Image(256, 1)
	if err != nil {
		t.Fatal(err)
	}
	layers, _ := img.Layers()
	ld, _ := layers[0].Digest()
	release := make(chan struct{})
	reg := ggcr.New(ggcr.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method == http.MethodGet && strings.HasSuffix(req.URL.Path, "/blobs/"+ld.String()) {
			select {
			case <-release:
			case <-req.Context().Done():
				return
			}
		}
		reg.ServeHTTP(w, req)
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() {
		select {
		case <-release:
		default:
			close(release)
		}
	})
	host := strings.TrimPrefix(srv.URL, "http://")
	ref, _ := name.ParseReference(host + "/fn/slow:v1")
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	r := openImages(t)
	ctx := context.Background()
	if _, err := r.CreateFunction(ctx, &CreateFunctionInput{
		FunctionName: "slow", PackageType: "Image", Code: &FunctionCode{ImageUri: host + "/fn/slow:v1"},
		ConfigInput: ConfigInput{Role: ptr("arn:aws:iam::123456789012:role/lambda")},
	}); err != nil {
		t.Fatal(err)
	}
	mustCreate(t, r, "quick") // Active while the image is held
	if st := r.view("slow"); st.fn.Latest.Config.State != StatePending {
		t.Fatalf("image function %s before its layers were served", st.fn.Latest.Config.State)
	}
	close(release)
	waitReady(t, r, "slow")
}
