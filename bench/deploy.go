package main

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

const role = "arn:aws:iam::000000000000:role/kumo-bench"

// fnRuntime is one runtime the benchmarks deploy a no-op function in.
type fnRuntime struct {
	ID      string // Lambda runtime id
	Label   string // what the tables call it
	Handler string
	Zip     []byte
}

// functions are the no-op functions, one per runtime, and the noop
// binary for the host floor.
type functions struct {
	Go, Python, Node fnRuntime
	// Java and Ruby have no Zip when the host lacks javac or ruby.
	Java, Ruby fnRuntime
	NoopBin    string // the Go no-op built for this machine
}

func (f *functions) all() []fnRuntime {
	out := []fnRuntime{f.Go, f.Python, f.Node}
	for _, rt := range []fnRuntime{f.Java, f.Ruby} {
		if rt.Zip != nil {
			out = append(out, rt)
		}
	}
	return out
}

// buildFunctions builds bench/testdata/noop (CGO_ENABLED=0, aws-lambda-go)
// into dir and zips it as a bootstrap, and zips the Python and Node.js
// no-op handlers.
func buildFunctions(root, dir string) (*functions, error) {
	bin := filepath.Join(dir, "bootstrap")
	if err := goBuild(root, "./bench/testdata/noop", bin, []string{"CGO_ENABLED=0"},
		"-tags", "lambda.norpc", "-trimpath", "-ldflags=-s -w"); err != nil {
		return nil, err
	}
	code, err := os.ReadFile(bin)
	if err != nil {
		return nil, err
	}
	goZip, err := zipOf(map[string][]byte{"bootstrap": code})
	if err != nil {
		return nil, err
	}
	pyZip, err := zipOf(map[string][]byte{"index.py": []byte("def handler(event, context):\n    return {}\n")})
	if err != nil {
		return nil, err
	}
	nodeZip, err := zipOf(map[string][]byte{"index.mjs": []byte("export const handler = async () => ({});\n")})
	if err != nil {
		return nil, err
	}
	f := &functions{
		Go:      fnRuntime{ID: "provided.al2023", Label: "Go (provided.al2023)", Handler: "bootstrap", Zip: goZip},
		Python:  fnRuntime{ID: "python3.12", Label: "Python (python3.12)", Handler: "index.handler", Zip: pyZip},
		Node:    fnRuntime{ID: "nodejs20.x", Label: "Node.js (nodejs20.x)", Handler: "index.handler", Zip: nodeZip},
		Java:    fnRuntime{ID: "java17", Label: "Java (java17)", Handler: "Noop::handle"},
		Ruby:    fnRuntime{ID: "ruby3.3", Label: "Ruby (ruby3.3)", Handler: "index.handler"},
		NoopBin: bin,
	}
	if _, err := exec.LookPath("ruby"); err == nil {
		if f.Ruby.Zip, err = zipOf(map[string][]byte{"index.rb": []byte("def handler(event:, context:)\n  {}\nend\n")}); err != nil {
			return nil, err
		}
	}
	if _, err := exec.LookPath("javac"); err == nil {
		if f.Java.Zip, err = javaNoop(dir); err != nil {
			return nil, err
		}
	}
	return f, nil
}

// javaNoop compiles the Java no-op with the host's javac and zips its
// class.
func javaNoop(dir string) ([]byte, error) {
	src := filepath.Join(dir, "java", "Noop.java")
	if err := os.MkdirAll(filepath.Dir(src), 0o755); err != nil {
		return nil, err
	}
	code := "public class Noop {\n    public static Object handle(Object event) {\n        return java.util.Map.of();\n    }\n}\n"
	if err := os.WriteFile(src, []byte(code), 0o644); err != nil {
		return nil, err
	}
	if out, err := exec.Command("javac", "-nowarn", "-d", filepath.Dir(src), src).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("javac: %w: %s", err, out)
	}
	class, err := os.ReadFile(filepath.Join(filepath.Dir(src), "Noop.class"))
	if err != nil {
		return nil, err
	}
	return zipOf(map[string][]byte{"Noop.class": class})
}

// zipOf zips files, each executable (a bootstrap must be).
func zipOf(files map[string][]byte) ([]byte, error) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, b := range files {
		h := &zip.FileHeader{Name: name, Method: zip.Deflate}
		h.SetMode(0o755)
		w, err := zw.CreateHeader(h)
		if err != nil {
			return nil, err
		}
		if _, err := w.Write(b); err != nil {
			return nil, err
		}
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// deployer creates and changes the benchmarks' functions.
type deployer struct {
	api *lambda.Client
}

// Memory sizes the benchmarks use: Lambda's default, and the size at which
// Lambda (and Kumo) give a function one full vCPU.
const (
	memDefault = 128
	memOneCPU  = 1769
)

// create creates function name in rt with memoryMB (replacing one of the
// same name left by an earlier run) and waits until it is Active.
func (d *deployer) create(ctx context.Context, name string, rt fnRuntime, memoryMB int) error {
	in := &lambda.CreateFunctionInput{
		FunctionName: aws.String(name),
		Role:         aws.String(role),
		Runtime:      types.Runtime(rt.ID),
		Handler:      aws.String(rt.Handler),
		Code:         &types.FunctionCode{ZipFile: rt.Zip},
		MemorySize:   aws.Int32(int32(memoryMB)),
		Timeout:      aws.Int32(30),
	}
	_, err := d.api.CreateFunction(ctx, in)
	if isErrorType(err, "ResourceConflictException") {
		d.delete(ctx, name)
		_, err = d.api.CreateFunction(ctx, in)
	}
	if err != nil {
		return err
	}
	return d.wait(ctx, name)
}

// wait polls until the function is Active and not being updated.
func (d *deployer) wait(ctx context.Context, name string) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := d.api.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String(name)})
		if err != nil {
			return err
		}
		if (c.State == types.StateActive || c.State == "") && c.LastUpdateStatus != types.LastUpdateStatusInProgress {
			if c.LastUpdateStatus == types.LastUpdateStatusFailed {
				return fmt.Errorf("%s: update failed: %s", name, aws.ToString(c.LastUpdateStatusReason))
			}
			return nil
		}
		if c.State == types.StateFailed {
			return fmt.Errorf("%s: %s", name, aws.ToString(c.StateReason))
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: not active after 30s (state %s)", name, c.State)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// newVersion changes the function's configuration (an environment
// variable set to i) and publishes it: a version no sandbox has run yet.
func (d *deployer) newVersion(ctx context.Context, name string, i int) (string, error) {
	if _, err := d.api.UpdateFunctionConfiguration(ctx, updateEnv(name, i)); err != nil {
		return "", err
	}
	if err := d.wait(ctx, name); err != nil {
		return "", err
	}
	out, err := d.api.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: aws.String(name)})
	if err != nil {
		return "", err
	}
	return aws.ToString(out.Version), nil
}

// delete deletes a function and all its versions; its sandboxes are then
// retired by the server's reaper.
func (d *deployer) delete(ctx context.Context, name string) error {
	_, err := d.api.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: aws.String(name)})
	if isErrorType(err, "ResourceNotFoundException") {
		return nil
	}
	return err
}

// updateEnv sets the function's one environment variable to i: a
// configuration no sandbox has run.
func updateEnv(name string, i int) *lambda.UpdateFunctionConfigurationInput {
	return &lambda.UpdateFunctionConfigurationInput{
		FunctionName: aws.String(name),
		Environment:  &types.Environment{Variables: map[string]string{"KUMO_BENCH_VERSION": strconv.Itoa(i)}},
	}
}
