package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	knet "github.com/kumo-run/kumo/internal/netns"
)

// The AWS SDKs inside functions: boto3 in the python3.x runtimes and the
// AWS SDK for JavaScript v3 in nodejs18.x and later, resolvable after the
// function's own code, as Lambda ships them. The Node.js SDK is installed
// once per machine with `kumo runtimes install-sdk` (into the directory
// KUMO_E2E_SDK_DIR names, else the user's cache), boto3 is the host's
// (Debian's python3-boto3).

var (
	sdkOnce sync.Once
	sdkDir  string
	sdkErr  string
)

// nodeSDKDir installs the Node.js SDK once for the test binary (a no-op
// when the directory holds it already) and returns the SDK directory.
func nodeSDKDir(t *testing.T) string {
	t.Helper()
	sdkOnce.Do(func() {
		if _, err := exec.LookPath("npm"); err != nil {
			sdkErr = "npm is not installed (apt-get install npm)"
			return
		}
		dir := os.Getenv("KUMO_E2E_SDK_DIR")
		if dir == "" {
			cache, err := os.UserCacheDir()
			if err != nil {
				sdkErr = err.Error()
				return
			}
			dir = filepath.Join(cache, "kumo-e2e", "sdk")
		}
		r := runCmd(t, nil, nil, 10*time.Minute, kumoBin, "runtimes", "install-sdk", "--dir", dir)
		if r.Code != 0 {
			sdkErr = r.String()
			return
		}
		sdkDir = dir
	})
	if sdkErr != "" {
		if os.Getenv("CI") != "" {
			t.Fatal(sdkErr)
		}
		t.Skip(sdkErr)
	}
	return sdkDir
}

// requireHostBoto3 skips unless the runtime's interpreter imports boto3.
func requireHostBoto3(t *testing.T) {
	t.Helper()
	requireInterpreter(t, "/usr/bin/python3")
	if err := exec.Command("/usr/bin/python3", "-c", "import boto3").Run(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("/usr/bin/python3 cannot import boto3 (apt-get install python3-boto3)")
		}
		t.Skip("/usr/bin/python3 cannot import boto3 (apt-get install python3-boto3)")
	}
}

const pySDKHandler = `import os
import sys

import boto3
import botocore


def handler(event, context):
    out = {"boto3": boto3.__version__, "botocore": botocore.__version__, "file": boto3.__file__,
           "argv": sys.argv, "path_head": sys.path[0]}
    sts = boto3.client("sts", region_name="us-east-1")
    out["client"] = type(sts).__name__
    out["region"] = sts.meta.region_name
    # Against Kumo's edge when the sandbox can reach it with credentials;
    # reported, not required.
    if os.environ.get("AWS_ENDPOINT_URL") and os.environ.get("AWS_SESSION_TOKEN"):
        try:
            out["caller"] = boto3.client("sts", endpoint_url=os.environ["AWS_ENDPOINT_URL"]).get_caller_identity()["Arn"]
        except Exception as e:
            out["caller_error"] = repr(e)
    return out
`

// A function's own boto3 wins over the runtime's.
const pyOwnBoto3 = `__version__ = "0.0.0-bundled"


def client(*args, **kwargs):
    raise RuntimeError("the bundled stand-in has no clients")
`

const pyOwnHandler = `import boto3


def handler(event, context):
    return {"boto3": boto3.__version__, "file": boto3.__file__}
`

const nodeCJSHandler = `const { S3Client } = require('@aws-sdk/client-s3');
const { STSClient, GetCallerIdentityCommand } = require('@aws-sdk/client-sts');
const { SNSClient } = require('@aws-sdk/client-sns');
const { fromEnv } = require('@aws-sdk/credential-providers');

exports.handler = async () => {
  const s3 = new S3Client({ region: 'us-east-1' });
  const sns = new SNSClient({ region: 'us-east-1' });
  const out = {
    version: require('@aws-sdk/client-s3/package.json').version,
    resolved: require.resolve('@aws-sdk/client-s3'),
    region: await s3.config.region(),
    sns: typeof sns.send,
    fromEnv: typeof fromEnv,
  };
  if (process.env.AWS_ENDPOINT_URL && process.env.AWS_SESSION_TOKEN) {
    try {
      const id = await new STSClient({ endpoint: process.env.AWS_ENDPOINT_URL }).send(new GetCallerIdentityCommand({}));
      out.caller = id.Arn;
    } catch (e) {
      out.callerError = String(e);
    }
  }
  return out;
};
`

const nodeESMHandler = `import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createRequire } from 'node:module';

export const handler = async () => {
  const sqs = new SQSClient({ region: 'eu-west-1' });
  const doc = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'eu-west-1' }));
  const require = createRequire(import.meta.url);
  return {
    version: require('@aws-sdk/client-sqs/package.json').version,
    region: await sqs.config.region(),
    doc: typeof doc.send,
  };
};
`

const nodeOwnHandler = `const s3 = require('@aws-sdk/client-s3');

exports.handler = async () => ({ version: s3.version, resolved: require.resolve('@aws-sdk/client-s3') });
`

const nodeLayerESM = `import { version } from '@aws-sdk/client-sqs';
import { STSClient } from '@aws-sdk/client-sts';
import { createRequire } from 'node:module';

export const handler = async () => ({
  sqs: version,
  sts: typeof STSClient === 'function' ? createRequire(import.meta.url)('@aws-sdk/client-sts/package.json').version : '',
});
`

const nodeLayerCJS = `const { version } = require('@aws-sdk/client-sqs');
const { STSClient } = require('@aws-sdk/client-sts');

exports.handler = async () => ({
  sqs: version,
  sts: typeof STSClient === 'function' ? require('@aws-sdk/client-sts/package.json').version : '',
});
`

const pyListFunctions = `import os

import boto3


def handler(event, context):
    c = boto3.client("lambda", endpoint_url=os.environ["KUMO_TEST_ENDPOINT"], region_name="us-east-1",
                     aws_access_key_id=os.environ["KUMO_TEST_KEY"], aws_secret_access_key=os.environ["KUMO_TEST_SECRET"])
    names = []
    for page in c.get_paginator("list_functions").paginate():
        names += [f["FunctionName"] for f in page["Functions"]]
    return {"names": names}
`

const pyCallerIdentity = `import boto3


def handler(event, context):
    arn = boto3.client("sts").get_caller_identity()["Arn"]
    names = []
    for page in boto3.client("lambda").get_paginator("list_functions").paginate():
        names += [f["FunctionName"] for f in page["Functions"]]
    return {"arn": arn, "names": names}
`

const nodeCallerIdentity = `import { STSClient, GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import { LambdaClient, paginateListFunctions } from '@aws-sdk/client-lambda';

export const handler = async () => {
  const id = await new STSClient({}).send(new GetCallerIdentityCommand({}));
  const names = [];
  for await (const page of paginateListFunctions({ client: new LambdaClient({}) }, {})) {
    names.push(...page.Functions.map((f) => f.FunctionName));
  }
  return { arn: id.Arn, names };
};
`

const nodeListFunctions = `import { LambdaClient, paginateListFunctions } from '@aws-sdk/client-lambda';

export const handler = async () => {
  const client = new LambdaClient({
    endpoint: process.env.KUMO_TEST_ENDPOINT,
    region: 'us-east-1',
    credentials: { accessKeyId: process.env.KUMO_TEST_KEY, secretAccessKey: process.env.KUMO_TEST_SECRET },
  });
  const names = [];
  for await (const page of paginateListFunctions({ client }, {})) {
    names.push(...page.Functions.map((f) => f.FunctionName));
  }
  return { names };
};
`

// sdkDrivers are the sandbox drivers this machine runs: linux as root,
// process always.
func sdkDrivers() []string {
	if os.Geteuid() == 0 {
		return []string{"linux", "process"}
	}
	return []string{"process"}
}

// TestSDKRuntimes: boto3 and the v3 clients import in their runtimes,
// under both drivers, and a function's own copy wins.
func TestSDKRuntimes(t *testing.T) {
	requireInterpreter(t, "/usr/bin/node", "/usr/local/bin/node")
	requireHostBoto3(t)
	sdk := nodeSDKDir(t)
	t.Parallel()
	for _, driver := range sdkDrivers() {
		t.Run(driver, func(t *testing.T) {
			t.Parallel()
			s := startServer(t, t.TempDir(), "--sandbox", driver, "--runtime-sdk-dir", sdk)
			lc := newSDK(t, s)

			t.Run("Python", func(t *testing.T) {
				t.Parallel()
				zip := makeZip(t, zipEntry{Name: "app.py", Body: pySDKHandler})
				for _, rt := range []types.Runtime{types.RuntimePython311, types.RuntimePython313} {
					name := "sdk-py-" + strings.ReplaceAll(string(rt), ".", "")
					deployManaged(t, lc, name, rt, "app.handler", zip)
					p := call(t, lc, name, "", []byte(`{}`)).ok(t, name)
					t.Logf("%s: boto3 %s, botocore %s from %s; caller %q %s", rt, jstr(p, "boto3"), jstr(p, "botocore"),
						jstr(p, "file"), jstr(p, "caller"), jstr(p, "caller_error"))
					if jstr(p, "boto3") == "" || strings.HasPrefix(jstr(p, "file"), "/var/task/") {
						t.Errorf("%s: boto3 %q from %q, want the runtime's", rt, jstr(p, "boto3"), jstr(p, "file"))
					}
					expectEq(t, string(rt)+" client", jstr(p, "client"), "STS")
					expectEq(t, string(rt)+" region", jstr(p, "region"), "us-east-1")
					if argv, _ := jget(p, "argv").([]any); len(argv) != 1 {
						t.Errorf("%s: sys.argv = %v, want the bootstrap alone", rt, argv)
					}
					if driver == "linux" { // the process driver shows host paths
						expectEq(t, string(rt)+" sys.path[0]", jstr(p, "path_head"), "/var/task")
						expectEq(t, string(rt)+" sys.argv", jstr(p, "argv", "0"), "/var/runtime/bootstrap.py")
					}
				}
			})

			t.Run("PythonOwnBoto3", func(t *testing.T) {
				t.Parallel()
				deployManaged(t, lc, "sdk-py-own", types.RuntimePython312, "app.handler", makeZip(t,
					zipEntry{Name: "app.py", Body: pyOwnHandler}, zipEntry{Name: "boto3/__init__.py", Body: pyOwnBoto3}))
				p := call(t, lc, "sdk-py-own", "", []byte(`{}`)).ok(t, "bundled boto3")
				expectEq(t, "bundled boto3 version", jstr(p, "boto3"), "0.0.0-bundled")
				if driver == "linux" {
					expectEq(t, "bundled boto3 file", jstr(p, "file"), "/var/task/boto3/__init__.py")
				}
			})

			t.Run("NodeCommonJS", func(t *testing.T) {
				t.Parallel()
				deployManaged(t, lc, "sdk-node-cjs", types.RuntimeNodejs20x, "index.handler", makeZip(t, zipEntry{Name: "index.js", Body: nodeCJSHandler}))
				r := call(t, lc, "sdk-node-cjs", "", []byte(`{}`))
				p := r.ok(t, "require('@aws-sdk/client-s3')")
				t.Logf("client-s3 %s at %s; caller %q %s", jstr(p, "version"), jstr(p, "resolved"), jstr(p, "caller"), jstr(p, "callerError"))
				if jstr(p, "version") == "" || jstr(p, "region") != "us-east-1" || jstr(p, "sns") != "function" || jstr(p, "fromEnv") != "function" {
					t.Errorf("v3 clients: %v", p)
				}
				if driver == "linux" && !strings.HasPrefix(jstr(p, "resolved"), "/var/runtime/node_modules/@aws-sdk/client-s3/") {
					t.Errorf("client-s3 resolved to %q, want it under /var/runtime/node_modules as on Lambda", jstr(p, "resolved"))
				}
				if strings.Contains(r.Log, "WARNING") {
					t.Errorf("log has a warning:\n%s", r.Log)
				}
			})

			t.Run("NodeESM", func(t *testing.T) {
				t.Parallel()
				for _, rt := range []types.Runtime{types.RuntimeNodejs20x, types.RuntimeNodejs22x} {
					name := "sdk-node-esm-" + strings.ReplaceAll(string(rt), ".", "")
					deployManaged(t, lc, name, rt, "index.handler", makeZip(t, zipEntry{Name: "index.mjs", Body: nodeESMHandler}))
					p := call(t, lc, name, "", []byte(`{}`)).ok(t, "import { SQSClient } from '@aws-sdk/client-sqs'")
					if jstr(p, "version") == "" || jstr(p, "region") != "eu-west-1" || jstr(p, "doc") != "function" {
						t.Errorf("%s: ES module imports of the v3 clients: %v", rt, p)
					}
				}
			})

			t.Run("NodeLayerSDK", func(t *testing.T) {
				// A layer's SDK package wins over the runtime's, for CommonJS
				// and ES modules alike; what the layer lacks is the runtime's.
				t.Parallel()
				layer := publishLayer(t, lc, "sdk-layer", makeZip(t,
					zipEntry{Name: "nodejs/node_modules/@aws-sdk/client-sqs/package.json", Body: `{"name":"@aws-sdk/client-sqs","version":"0.0.0-layer","main":"main.js"}`},
					zipEntry{Name: "nodejs/node_modules/@aws-sdk/client-sqs/main.js", Body: `exports.version = '0.0.0-layer';`}))
				arn := aws.ToString(layer.LayerVersionArn)
				createWithLayers(t, lc, "sdk-layer-esm", types.RuntimeNodejs20x, "index.handler", makeZip(t, zipEntry{Name: "index.mjs", Body: nodeLayerESM}), arn)
				createWithLayers(t, lc, "sdk-layer-cjs", types.RuntimeNodejs20x, "index.handler", makeZip(t, zipEntry{Name: "index.js", Body: nodeLayerCJS}), arn)
				for _, name := range []string{"sdk-layer-esm", "sdk-layer-cjs"} {
					p := call(t, lc, name, "", []byte(`{}`)).ok(t, name)
					expectEq(t, name+": client-sqs", jstr(p, "sqs"), "0.0.0-layer")
					if jstr(p, "sts") == "" || jstr(p, "sts") == "0.0.0-layer" {
						t.Errorf("%s: client-sts %q, want the runtime's", name, jstr(p, "sts"))
					}
				}
			})

			// Nothing in the code but the SDK's defaults: the region, the
			// role's credentials and the endpoint come from the sandbox's
			// environment, as on Lambda (through the sandbox network's
			// bridge with the linux driver, loopback with the process one).
			t.Run("RoleFromEnvironment", func(t *testing.T) {
				if driver == "linux" {
					if err := knet.Available(); err != nil {
						t.Skipf("skipping: %v", err)
					}
				}
				t.Parallel()
				grantTestRole(t, s)
				for _, c := range []struct {
					name    string
					runtime types.Runtime
					file    zipEntry
					handler string
				}{
					{"sdk-role-py", types.RuntimePython311, zipEntry{Name: "app.py", Body: pyCallerIdentity}, "app.handler"},
					{"sdk-role-node", types.RuntimeNodejs20x, zipEntry{Name: "index.mjs", Body: nodeCallerIdentity}, "index.handler"},
				} {
					must[*lambda.CreateFunctionOutput](t, "CreateFunction "+c.name)(lc.CreateFunction(t.Context(), &lambda.CreateFunctionInput{
						FunctionName: aws.String(c.name), Runtime: c.runtime, Role: aws.String(testRole), Handler: aws.String(c.handler),
						Code: &types.FunctionCode{ZipFile: makeZip(t, c.file)}, Timeout: aws.Int32(30), MemorySize: aws.Int32(512),
					}))
					waitActive(t, lc, c.name)
					p := call(t, lc, c.name, "", []byte(`{}`)).ok(t, c.name+" GetCallerIdentity")
					role := testRole[strings.LastIndex(testRole, "/")+1:]
					if want := "arn:aws:sts::" + accountID + ":assumed-role/" + role + "/" + c.name; jstr(p, "arn") != want {
						t.Errorf("%s: GetCallerIdentity through the runtime's SDK = %v, want %s", c.name, p, want)
					}
					names, _ := jget(p, "names").([]any)
					if !slices.Contains(names, any(c.name)) {
						t.Errorf("%s: ListFunctions through the runtime's SDK = %v, want its own name among them", c.name, p)
					}
				}
			})

			if driver == "process" {
				// The process driver's sandboxes reach the edge on loopback:
				// the runtimes' SDKs call Kumo's Lambda API with the keys
				// and endpoint the test gives them.
				t.Run("CallKumo", func(t *testing.T) {
					t.Parallel()
					env := &types.Environment{Variables: map[string]string{
						"KUMO_TEST_ENDPOINT": s.url, "KUMO_TEST_KEY": rootAccessKeyID, "KUMO_TEST_SECRET": rootSecretAccessKey,
					}}
					for _, c := range []struct {
						name    string
						runtime types.Runtime
						file    zipEntry
						handler string
					}{
						{"sdk-call-py", types.RuntimePython311, zipEntry{Name: "app.py", Body: pyListFunctions}, "app.handler"},
						{"sdk-call-node", types.RuntimeNodejs20x, zipEntry{Name: "index.mjs", Body: nodeListFunctions}, "index.handler"},
					} {
						must[*lambda.CreateFunctionOutput](t, "CreateFunction "+c.name)(lc.CreateFunction(t.Context(), &lambda.CreateFunctionInput{
							FunctionName: aws.String(c.name), Runtime: c.runtime, Role: aws.String(testRole), Handler: aws.String(c.handler),
							Code: &types.FunctionCode{ZipFile: makeZip(t, c.file)}, Timeout: aws.Int32(30), Environment: env,
						}))
						waitActive(t, lc, c.name)
						p := call(t, lc, c.name, "", []byte(`{}`)).ok(t, c.name+" ListFunctions")
						names, _ := jget(p, "names").([]any)
						found := false
						for _, n := range names {
							found = found || n == c.name
						}
						if !found {
							t.Errorf("%s: ListFunctions through the runtime's SDK = %v, want its own name among them", c.name, p)
						}
					}
				})
			}

			t.Run("NodeOwnSDK", func(t *testing.T) {
				t.Parallel()
				deployManaged(t, lc, "sdk-node-own", types.RuntimeNodejs20x, "index.handler", makeZip(t,
					zipEntry{Name: "index.js", Body: nodeOwnHandler},
					zipEntry{Name: "node_modules/@aws-sdk/client-s3/package.json", Body: `{"name":"@aws-sdk/client-s3","version":"0.0.0-bundled","main":"main.js"}`},
					zipEntry{Name: "node_modules/@aws-sdk/client-s3/main.js", Body: `exports.version = '0.0.0-bundled';`}))
				p := call(t, lc, "sdk-node-own", "", []byte(`{}`)).ok(t, "bundled client-s3")
				expectEq(t, "bundled client-s3", jstr(p, "version"), "0.0.0-bundled")
				if driver == "linux" {
					expectEq(t, "bundled client-s3 path", jstr(p, "resolved"), "/var/task/node_modules/@aws-sdk/client-s3/main.js")
				}
			})
		})
	}
}

// TestSDKMissing: a server whose SDK directory holds no SDK says so in the
// log of every function whose runtime Lambda ships one with, once per
// sandbox start, and the import fails in the sandbox.
func TestSDKMissing(t *testing.T) {
	requireInterpreter(t, "/usr/bin/node", "/usr/local/bin/node")
	requireInterpreter(t, "/usr/bin/python3", "/usr/local/bin/python3")
	t.Parallel()
	for _, driver := range sdkDrivers() {
		t.Run(driver, func(t *testing.T) {
			t.Parallel()
			empty := t.TempDir()
			// An empty python directory is the Python SDK, the host's is
			// not looked for.
			if err := os.Mkdir(filepath.Join(empty, "python"), 0o755); err != nil {
				t.Fatal(err)
			}
			s := startServer(t, t.TempDir(), "--sandbox", driver, "--runtime-sdk-dir", empty)
			lc := newSDK(t, s)
			cl := newLogsClient(s)
			for _, c := range []struct {
				name    string
				runtime types.Runtime
				zip     zipEntry
				handler string
				warning string
			}{
				{"sdk-missing-py", types.RuntimePython311, zipEntry{Name: "app.py", Body: pySDKHandler}, "app.handler",
					"WARNING: the AWS SDK for Python (boto3) is not installed on this server: " + filepath.Join(empty, "python") + " has no boto3"},
				{"sdk-missing-node", types.RuntimeNodejs20x, zipEntry{Name: "index.js", Body: nodeCJSHandler}, "index.handler",
					"WARNING: the AWS SDK for JavaScript v3 (@aws-sdk/*) is not installed on this server; run `kumo runtimes install-sdk`"},
			} {
				deployManaged(t, lc, c.name, c.runtime, c.handler, makeZip(t, c.zip))
				r := call(t, lc, c.name, "", []byte(`{}`))
				// The process driver's Python sees the host's site-packages.
				imports := driver == "process" && c.runtime == types.RuntimePython311
				if !imports {
					r.failed(t, c.name, "Runtime.ImportModuleError")
				}
				eventually(t, 15*time.Second, "the warning in "+c.name+"'s log", func() error {
					events, err := allLogEvents(t, cl, "/aws/lambda/"+c.name, "")
					if err != nil {
						return err
					}
					n, done := 0, false
					for _, e := range events {
						if strings.HasPrefix(e.Message, c.warning) {
							n++
						}
						done = done || imports && strings.HasPrefix(e.Message, "REPORT RequestId: "+r.RequestID) ||
							!imports && strings.Contains(e.Message, "Runtime.ImportModuleError")
					}
					if !done || n != 1 {
						return fmt.Errorf("%d lines starting %q, want 1 before the invocation's end:\n%s", n, c.warning, dumpLines(events))
					}
					return nil
				})
			}
		})
	}
}
