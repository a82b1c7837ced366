package e2e

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/smithy-go"
)

// publishLayer publishes a layer version with the SDK.
func publishLayer(t *testing.T, lc *lambda.Client, name string, zip []byte, runtimes ...types.Runtime) *lambda.PublishLayerVersionOutput {
	t.Helper()
	return must[*lambda.PublishLayerVersionOutput](t, "PublishLayerVersion "+name)(lc.PublishLayerVersion(t.Context(), &lambda.PublishLayerVersionInput{
		LayerName:          aws.String(name),
		Content:            &types.LayerVersionContentInput{ZipFile: zip},
		CompatibleRuntimes: runtimes,
	}))
}

// createWithLayers creates a function with layers and waits until it is
// Active.
func createWithLayers(t *testing.T, lc *lambda.Client, name string, runtime types.Runtime, handler string, zip []byte, layers ...string) {
	t.Helper()
	must[*lambda.CreateFunctionOutput](t, "CreateFunction "+name)(lc.CreateFunction(t.Context(), &lambda.CreateFunctionInput{
		FunctionName: aws.String(name),
		Runtime:      runtime,
		Role:         aws.String(testRole),
		Handler:      aws.String(handler),
		Code:         &types.FunctionCode{ZipFile: zip},
		MemorySize:   aws.Int32(256),
		Timeout:      aws.Int32(10),
		Layers:       layers,
	}))
	waitActive(t, lc, name)
}

func wantAPIError(t *testing.T, what string, err error, code string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != code {
		t.Fatalf("%s: error %v, want %s", what, err, code)
	}
}

// pyImporter is a function whose handler returns what a module of its
// layers holds.
func pyImporter(t *testing.T, module string) []byte {
	return makeZip(t, zipEntry{Name: "app.py", Body: "import " + module + "\n\ndef handler(event, context):\n    return {'value': " + module + ".VALUE}\n"})
}

func pyModuleLayer(t *testing.T, module, value string) []byte {
	return makeZip(t, zipEntry{Name: "python/" + module + ".py", Body: fmt.Sprintf("VALUE = %q\n", value)})
}

// TestLayerPython runs Python functions whose modules come from layers.
func TestLayerPython(t *testing.T) {
	requireInterpreter(t, "/usr/bin/python3", "/usr/local/bin/python3")
	t.Parallel()
	_, lc := runtimeServer(t)

	t.Run("Import", func(t *testing.T) {
		t.Parallel()
		lv := publishLayer(t, lc, "greet", pyModuleLayer(t, "greet", "hello from a layer"), types.RuntimePython312)
		createWithLayers(t, lc, "layer-py", types.RuntimePython312, "app.handler", pyImporter(t, "greet"), *lv.LayerVersionArn)
		if got := jstr(call(t, lc, "layer-py", "", []byte(`{}`)).ok(t, "import"), "value"); got != "hello from a layer" {
			t.Fatalf("value %q", got)
		}
		cfg := must[*lambda.GetFunctionConfigurationOutput](t, "GetFunctionConfiguration")(lc.GetFunctionConfiguration(t.Context(),
			&lambda.GetFunctionConfigurationInput{FunctionName: aws.String("layer-py")}))
		if len(cfg.Layers) != 1 || aws.ToString(cfg.Layers[0].Arn) != *lv.LayerVersionArn || cfg.Layers[0].CodeSize != lv.Content.CodeSize {
			t.Fatalf("Layers %+v", cfg.Layers)
		}
	})

	t.Run("LaterWins", func(t *testing.T) {
		t.Parallel()
		a := publishLayer(t, lc, "shared-a", pyModuleLayer(t, "shared", "a"))
		b := publishLayer(t, lc, "shared-b", pyModuleLayer(t, "shared", "b"))
		createWithLayers(t, lc, "layer-ab", types.RuntimePython312, "app.handler", pyImporter(t, "shared"), *a.LayerVersionArn, *b.LayerVersionArn)
		createWithLayers(t, lc, "layer-ba", types.RuntimePython312, "app.handler", pyImporter(t, "shared"), *b.LayerVersionArn, *a.LayerVersionArn)
		if got := jstr(call(t, lc, "layer-ab", "", []byte(`{}`)).ok(t, "a then b"), "value"); got != "b" {
			t.Errorf("layers a, b: value %q, want b", got)
		}
		if got := jstr(call(t, lc, "layer-ba", "", []byte(`{}`)).ok(t, "b then a"), "value"); got != "a" {
			t.Errorf("layers b, a: value %q, want a", got)
		}
	})

	t.Run("DeletedStillRuns", func(t *testing.T) {
		t.Parallel()
		lv := publishLayer(t, lc, "doomed", pyModuleLayer(t, "doomed", "still here"))
		createWithLayers(t, lc, "layer-deleted", types.RuntimePython312, "app.handler", pyImporter(t, "doomed"), *lv.LayerVersionArn)
		must[*lambda.DeleteLayerVersionOutput](t, "DeleteLayerVersion")(lc.DeleteLayerVersion(t.Context(),
			&lambda.DeleteLayerVersionInput{LayerName: aws.String("doomed"), VersionNumber: aws.Int64(lv.Version)}))
		_, err := lc.GetLayerVersion(t.Context(), &lambda.GetLayerVersionInput{LayerName: aws.String("doomed"), VersionNumber: aws.Int64(lv.Version)})
		wantAPIError(t, "GetLayerVersion of a deleted version", err, "ResourceNotFoundException")
		// A configuration change makes the next invocation start a new
		// sandbox, which needs the layer's code.
		must[*lambda.UpdateFunctionConfigurationOutput](t, "UpdateFunctionConfiguration")(lc.UpdateFunctionConfiguration(t.Context(),
			&lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String("layer-deleted"), Description: aws.String("after the delete")}))
		waitUpdated(t, lc, "layer-deleted")
		if got := jstr(call(t, lc, "layer-deleted", "", []byte(`{}`)).ok(t, "after delete"), "value"); got != "still here" {
			t.Fatalf("value %q", got)
		}
		_, err = lc.CreateFunction(t.Context(), &lambda.CreateFunctionInput{
			FunctionName: aws.String("layer-deleted-new"), Runtime: types.RuntimePython312, Role: aws.String(testRole),
			Handler: aws.String("app.handler"), Code: &types.FunctionCode{ZipFile: pyImporter(t, "doomed")},
			Layers: []string{*lv.LayerVersionArn},
		})
		wantAPIError(t, "a new function with a deleted layer version", err, "InvalidParameterValueException")
	})
}

// TestLayerBootstrap runs a provided.al2023 function whose bootstrap comes
// from a layer (/opt/bootstrap), and refuses six layers.
func TestLayerBootstrap(t *testing.T) {
	t.Parallel()
	_, lc := runtimeServer(t)
	lv := publishLayer(t, lc, "go-runtime", makeZip(t, zipEntry{Name: "bootstrap", Body: string(fnBootstrap(t)), Mode: 0o755}))
	code := makeZip(t, zipEntry{Name: "tag.txt", Body: "from-layer\n"})
	createWithLayers(t, lc, "layer-bootstrap", types.RuntimeProvidedal2023, "bootstrap", code, *lv.LayerVersionArn)
	m := call(t, lc, "layer-bootstrap", "", event("echo", "x", 1)).ok(t, "echo")
	if got := jstr(m, "tag"); got != "from-layer" {
		t.Fatalf("tag %q in %v", got, m)
	}

	var six []string
	for i := range 6 {
		six = append(six, *publishLayer(t, lc, fmt.Sprintf("six-%d", i), makeZip(t, zipEntry{Name: "f.txt", Body: "x"})).LayerVersionArn)
	}
	_, err := lc.CreateFunction(t.Context(), &lambda.CreateFunctionInput{
		FunctionName: aws.String("layer-six"), Runtime: types.RuntimeProvidedal2023, Role: aws.String(testRole),
		Handler: aws.String("bootstrap"), Code: &types.FunctionCode{ZipFile: code}, Layers: six,
	})
	wantAPIError(t, "six layers", err, "InvalidParameterValueException")
	createWithLayers(t, lc, "layer-five", types.RuntimeProvidedal2023, "bootstrap", code, append(six[:4], *lv.LayerVersionArn)...)
	call(t, lc, "layer-five", "", event("echo")).ok(t, "five layers")
}

// TestLayerProcessDriver runs a function whose bootstrap comes from a layer
// in a plain child process, where /opt is the last layer's directory.
func TestLayerProcessDriver(t *testing.T) {
	t.Parallel()
	s := startServer(t, t.TempDir(), "--sandbox", "process")
	lc := newSDK(t, s)
	rt := publishLayer(t, lc, "proc-runtime", makeZip(t, zipEntry{Name: "bootstrap", Body: string(fnBootstrap(t)), Mode: 0o755}))
	createWithLayers(t, lc, "proc-layer-bootstrap", types.RuntimeProvidedal2023, "bootstrap",
		makeZip(t, zipEntry{Name: "tag.txt", Body: "proc\n"}), *rt.LayerVersionArn)
	if got := jstr(call(t, lc, "proc-layer-bootstrap", "", event("echo")).ok(t, "bootstrap from a layer"), "tag"); got != "proc" {
		t.Errorf("tag %q", got)
	}
}

// TestLayerCLI checks the AWS CLI's layer commands.
func TestLayerCLI(t *testing.T) {
	t.Parallel()
	s := startServer(t, t.TempDir(), "--sandbox", "process")
	c := newCLI(t, s)
	zip := makeZip(t, zipEntry{Name: "python/mod.py", Body: "VALUE = 1\n"})
	path := writeTemp(t, "layer.zip", zip)

	out := c.ok("lambda", "publish-layer-version", "--layer-name", "cli-layer", "--zip-file", "fileb://"+path,
		"--compatible-runtimes", "python3.12", "python3.13", "--compatible-architectures", "x86_64",
		"--description", "a layer", "--license-info", "MIT")
	arn := "arn:aws:lambda:" + region + ":" + accountID + ":layer:cli-layer"
	expectEq(t, "LayerArn", jstr(out, "LayerArn"), arn)
	expectEq(t, "LayerVersionArn", jstr(out, "LayerVersionArn"), arn+":1")
	expectEq(t, "Version", jnum(out, "Version"), 1)
	expectEq(t, "Description", jstr(out, "Description"), "a layer")
	expectEq(t, "LicenseInfo", jstr(out, "LicenseInfo"), "MIT")
	expectEq(t, "CodeSha256", jstr(out, "Content", "CodeSha256"), codeSha256(zip))
	expectEq(t, "CodeSize", jnum(out, "Content", "CodeSize"), float64(len(zip)))
	expectEq(t, "CompatibleRuntimes", fmt.Sprint(jget(out, "CompatibleRuntimes")), "[python3.12 python3.13]")
	if jstr(out, "CreatedDate") == "" {
		t.Errorf("no CreatedDate: %v", out)
	}
	got, err := download(t.Context(), jstr(out, "Content", "Location"))
	if err != nil || !bytes.Equal(got, zip) {
		t.Errorf("Content.Location: %d bytes, %v", len(got), err)
	}

	c.ok("lambda", "publish-layer-version", "--layer-name", "cli-layer", "--zip-file", "fileb://"+path, "--compatible-runtimes", "nodejs20.x")
	c.ok("lambda", "publish-layer-version", "--layer-name", "cli-other", "--zip-file", "fileb://"+path)

	list := c.ok("lambda", "list-layers")
	expectEq(t, "layers", strings.Join(collect(list, "Layers", "LayerName"), ","), "cli-layer,cli-other")
	expectEq(t, "latest version", jnum(list, "Layers", "0", "LatestMatchingVersion", "Version"), 2)
	expectEq(t, "latest arn", jstr(list, "Layers", "0", "LatestMatchingVersion", "LayerVersionArn"), arn+":2")
	list = c.ok("lambda", "list-layers", "--compatible-runtime", "python3.12")
	expectEq(t, "python layers", strings.Join(collect(list, "Layers", "LayerName"), ","), "cli-layer")
	expectEq(t, "python latest", jnum(list, "Layers", "0", "LatestMatchingVersion", "Version"), 1)
	list = c.ok("lambda", "list-layers", "--max-items", "1")
	expectEq(t, "paged layers", strings.Join(collect(list, "Layers", "LayerName"), ","), "cli-layer")
	if jstr(list, "NextToken") == "" {
		t.Errorf("no NextToken: %v", list)
	}

	versions := c.ok("lambda", "list-layer-versions", "--layer-name", "cli-layer")
	expectEq(t, "versions", strings.Join(collect(versions, "LayerVersions", "LayerVersionArn"), ","), arn+":2,"+arn+":1")

	byArn := c.ok("lambda", "get-layer-version-by-arn", "--arn", arn+":1")
	expectEq(t, "by arn", jnum(byArn, "Version"), 1)
	get := c.ok("lambda", "get-layer-version", "--layer-name", arn, "--version-number", "2")
	expectEq(t, "get", jstr(get, "LayerVersionArn"), arn+":2")

	perm := c.ok("lambda", "add-layer-version-permission", "--layer-name", "cli-layer", "--version-number", "1",
		"--statement-id", "everyone", "--action", "lambda:GetLayerVersion", "--principal", "*")
	if !strings.Contains(jstr(perm, "Statement"), `"Sid":"everyone"`) || jstr(perm, "RevisionId") == "" {
		t.Errorf("add-layer-version-permission: %v", perm)
	}
	pol := c.ok("lambda", "get-layer-version-policy", "--layer-name", "cli-layer", "--version-number", "1")
	if !strings.Contains(jstr(pol, "Policy"), `"Resource":"`+arn+`:1"`) {
		t.Errorf("get-layer-version-policy: %v", pol)
	}
	c.ok("lambda", "remove-layer-version-permission", "--layer-name", "cli-layer", "--version-number", "1", "--statement-id", "everyone")
	c.fail("ResourceNotFoundException", "lambda", "get-layer-version-policy", "--layer-name", "cli-layer", "--version-number", "1")

	c.ok("lambda", "delete-layer-version", "--layer-name", "cli-layer", "--version-number", "2")
	c.fail("ResourceNotFoundException", "lambda", "get-layer-version", "--layer-name", "cli-layer", "--version-number", "2")
	list = c.ok("lambda", "list-layers")
	expectEq(t, "latest after delete", jnum(list, "Layers", "0", "LatestMatchingVersion", "Version"), 1)
	out = c.ok("lambda", "publish-layer-version", "--layer-name", "cli-layer", "--zip-file", "fileb://"+path)
	expectEq(t, "version after delete", jnum(out, "Version"), 3)

	c.fail("ValidationException", "lambda", "publish-layer-version", "--layer-name", "bad.name", "--zip-file", "fileb://"+path)
	r := c.fail("InvalidParameterValueException", "lambda", "publish-layer-version", "--layer-name", "s3", "--content", "S3Bucket=my-bucket,S3Key=layer.zip")
	if !strings.Contains(r.Stderr, "not supported") {
		t.Errorf("S3 content: %s", r)
	}
}

// TestLayerNode runs a Node.js function that requires a package from a
// layer's nodejs/node_modules.
func TestLayerNode(t *testing.T) {
	requireInterpreter(t, "/usr/bin/node", "/usr/local/bin/node")
	t.Parallel()
	_, lc := runtimeServer(t)
	lv := publishLayer(t, lc, "node-greet", makeZip(t,
		zipEntry{Name: "nodejs/node_modules/greet/index.js", Body: "module.exports = { VALUE: 'node layer' };\n"}), types.RuntimeNodejs20x)
	createWithLayers(t, lc, "layer-node", types.RuntimeNodejs20x, "index.handler", makeZip(t,
		zipEntry{Name: "index.js", Body: "const greet = require('greet');\nexports.handler = async () => ({ value: greet.VALUE });\n"}), *lv.LayerVersionArn)
	if got := jstr(call(t, lc, "layer-node", "", []byte(`{}`)).ok(t, "require"), "value"); got != "node layer" {
		t.Fatalf("value %q", got)
	}
}
