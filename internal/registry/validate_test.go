package registry

import (
	"context"
	"slices"
	"testing"

	"github.com/kumo-run/kumo/internal/awsproto"
)

// TestUnknownRuntime: a runtime outside the model's enum is refused at
// create and update time as AWS refuses it: InvalidParameterValueException,
// the value unquoted and the enum in the model's order.
func TestUnknownRuntime(t *testing.T) {
	const want = "Value python2.99 at 'runtime' failed to satisfy constraint: Member must satisfy enum value set: " +
		"[nodejs, nodejs4.3, nodejs6.10, nodejs8.10, nodejs10.x, nodejs12.x, nodejs14.x, nodejs16.x, java8, java8.al2, " +
		"java11, python2.7, python3.6, python3.7, python3.8, python3.9, dotnetcore1.0, dotnetcore2.0, dotnetcore2.1, " +
		"dotnetcore3.1, dotnet6, dotnet8, nodejs4.3-edge, go1.x, ruby2.5, ruby2.7, provided, provided.al2, nodejs18.x, " +
		"python3.10, java17, ruby3.2, ruby3.3, ruby3.4, python3.11, nodejs20.x, provided.al2023, python3.12, java21, " +
		"python3.13, nodejs22.x, nodejs24.x, python3.14, java25, dotnet10, ruby4.0] or be a valid ARN"
	r := openTest(t)
	mustCreate(t, r, "ok")
	in := &CreateFunctionInput{
		FunctionName: "old",
		Code:         &FunctionCode{ZipFile: testZip(t, map[string]string{"app.py": "def handler(e, c): return e\n"})},
		ConfigInput: ConfigInput{
			Role:    ptr("arn:aws:iam::123456789012:role/lambda"),
			Handler: ptr("app.handler"),
			Runtime: ptr("python2.99"),
		},
	}
	_, err := r.CreateFunction(context.Background(), in)
	wantErr(t, err, awsproto.InvalidParameterValueException, want)
	if _, err := r.GetFunction(context.Background(), Ref{Name: "old"}); err == nil {
		t.Fatal("a refused create left a function behind")
	}
	_, err = r.UpdateFunctionConfiguration(context.Background(), Ref{Name: "ok"}, &UpdateConfigInput{ConfigInput: ConfigInput{Runtime: ptr("python2.99")}})
	wantErr(t, err, awsproto.InvalidParameterValueException, want)
}

// TestRuntimeEnum: every deprecated runtime is one of the enum, and the enum
// names each runtime once.
func TestRuntimeEnum(t *testing.T) {
	for _, rt := range deprecatedRuntimes {
		if !slices.Contains(runtimeEnum, rt) {
			t.Errorf("deprecated runtime %q is not in the Runtime enum", rt)
		}
	}
	if len(runtimes) != len(runtimeEnum) {
		t.Errorf("the Runtime enum lists %d identifiers, %d of them distinct", len(runtimeEnum), len(runtimes))
	}
	for rt, want := range map[string]runtimeState{"python3.12": runtimeSupported, "go1.x": runtimeSupported, "python2.7": runtimeDeprecated, "provided": runtimeDeprecated} {
		if runtimes[rt] != want {
			t.Errorf("runtime %s: state %d, want %d", rt, runtimes[rt], want)
		}
	}
}
