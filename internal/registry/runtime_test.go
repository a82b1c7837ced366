package registry

import (
	"context"
	"errors"
	"testing"

	"github.com/kumo-run/kumo/internal/awsproto"
)

// TestCheckRuntime: a runtime this server cannot run is refused at create
// and update time with InvalidParameterValueException; one it runs on a
// nearby version is accepted.
func TestCheckRuntime(t *testing.T) {
	r := openTest(t, func(c *Config) {
		c.CheckRuntime = func(rt string) (string, error) {
			switch rt {
			case "java21":
				return "", errors.New("The runtime java21 cannot run on this server yet.")
			case "python3.14":
				return "WARNING: python3.14 runs with python3.11", nil
			}
			return "", nil
		}
	})
	mustCreate(t, r, "ok")
	in := &CreateFunctionInput{
		FunctionName: "java",
		Code:         &FunctionCode{ZipFile: testZip(t, map[string]string{"A.class": "x"})},
		ConfigInput: ConfigInput{
			Role:    ptr("arn:aws:iam::123456789012:role/lambda"),
			Handler: ptr("example.Handler::handleRequest"),
			Runtime: ptr("java21"),
		},
	}
	_, err := r.CreateFunction(context.Background(), in)
	wantErr(t, err, awsproto.InvalidParameterValueException, "The runtime java21 cannot run on this server yet.")
	if _, err := r.GetFunction(context.Background(), Ref{Name: "java"}); err == nil {
		t.Fatal("a refused create left a function behind")
	}
	_, err = r.UpdateFunctionConfiguration(context.Background(), Ref{Name: "ok"}, &UpdateConfigInput{ConfigInput: ConfigInput{Runtime: ptr("java21")}})
	wantErr(t, err, awsproto.InvalidParameterValueException, "The runtime java21 cannot run on this server yet.")
	c, err := r.UpdateFunctionConfiguration(context.Background(), Ref{Name: "ok"}, &UpdateConfigInput{ConfigInput: ConfigInput{Runtime: ptr("python3.14")}})
	if err != nil || c.Runtime != "python3.14" {
		t.Fatalf("a runtime run on a nearby version: %v %+v", err, c.Runtime)
	}
}
