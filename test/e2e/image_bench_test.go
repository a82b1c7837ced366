package e2e

import (
	"fmt"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	kpoll "github.com/kumo-run/kumo/internal/poll"
)

// BenchmarkContainerImage compares one aws-lambda-go binary run as a
// container image (linux driver, image from a loopback registry) and as
// a provided.al2023 zip: time from CreateFunction to Active (for the
// image: resolve, pull and unpack), cold start (first Invoke of a new
// function) and warm Invoke, medians over a few functions, through
// aws-sdk-go-v2.
//
//	go test ./test/e2e -run '^$' -bench BenchmarkContainerImage -benchtime 1x
func BenchmarkContainerImage(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("container images need the linux sandbox driver (root)")
	}
	const fns, warm = 5, 50
	img := functionImage(b)
	host := serveImage(b, img, "bench/imagefn:v1")
	zip := makeZip(b, zipEntry{Name: "bootstrap", Body: string(imageFnBinary(b)), Mode: 0o755})
	s := startServer(b, b.TempDir(), "--sandbox", "linux")
	lc := newSDK(b, s)
	ctx := b.Context()
	payload := []byte(`{}`)

	type row struct{ active, cold, warm []time.Duration }
	measure := func(kind string, create func(name string) *lambda.CreateFunctionInput) row {
		var r row
		for i := range fns {
			name := fmt.Sprintf("bench-%s-%d", kind, i)
			t0 := time.Now()
			if _, err := lc.CreateFunction(ctx, create(name)); err != nil {
				b.Fatal(err)
			}
			kpoll.Until(b, 0, name+" Active", func() error {
				out, err := lc.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String(name)})
				if err != nil {
					return err
				}
				if out.State != types.StateActive {
					return fmt.Errorf("state %s", out.State)
				}
				return nil
			})
			r.active = append(r.active, time.Since(t0))
			t0 = time.Now()
			out, err := lc.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(name), Payload: payload})
			if err != nil || out.FunctionError != nil {
				b.Fatalf("invoke %s: %v %s", name, err, out.Payload)
			}
			r.cold = append(r.cold, time.Since(t0))
		}
		for range warm {
			t0 := time.Now()
			if _, err := lc.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(fmt.Sprintf("bench-%s-0", kind)), Payload: payload}); err != nil {
				b.Fatal(err)
			}
			r.warm = append(r.warm, time.Since(t0))
		}
		return r
	}
	b.ResetTimer()
	for range b.N {
		image := measure("image", func(name string) *lambda.CreateFunctionInput {
			return &lambda.CreateFunctionInput{FunctionName: aws.String(name), PackageType: types.PackageTypeImage,
				Role: aws.String(testRole), Code: &types.FunctionCode{ImageUri: aws.String(host + "/bench/imagefn:v1")}}
		})
		zipped := measure("zip", func(name string) *lambda.CreateFunctionInput {
			return &lambda.CreateFunctionInput{FunctionName: aws.String(name), Runtime: types.RuntimeProvidedal2023,
				Handler: aws.String("bootstrap"), Role: aws.String(testRole), Code: &types.FunctionCode{ZipFile: zip}}
		})
		med := func(d []time.Duration) time.Duration {
			d = slices.Clone(d)
			slices.Sort(d)
			return d[len(d)/2]
		}
		b.Logf("\n%-6s %18s %18s %18s\n%-6s %18s %18s %18s\n%-6s %18s %18s %18s",
			"", "create→Active (1st)", "cold start (med)", "warm invoke (med)",
			"image", fmt.Sprintf("%v (%v)", med(image.active).Round(time.Millisecond), image.active[0].Round(time.Millisecond)), med(image.cold).Round(100*time.Microsecond), med(image.warm).Round(10*time.Microsecond),
			"zip", fmt.Sprintf("%v (%v)", med(zipped.active).Round(time.Millisecond), zipped.active[0].Round(time.Millisecond)), med(zipped.cold).Round(100*time.Microsecond), med(zipped.warm).Round(10*time.Microsecond))
		b.ReportMetric(float64(med(image.cold).Microseconds())/1000, "image-cold-ms")
		b.ReportMetric(float64(med(image.warm).Microseconds())/1000, "image-warm-ms")
		b.ReportMetric(float64(med(zipped.cold).Microseconds())/1000, "zip-cold-ms")
	}
}
