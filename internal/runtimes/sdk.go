package runtimes

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/kumo-run/kumo/internal/lazyregexp"
)

// The AWS SDKs of the managed runtimes, as Lambda ships them: boto3 on the
// path of every python3.x runtime after the function's code and layers,
// and the AWS SDK for JavaScript v3 at /var/runtime/node_modules in
// nodejs18.x and later (NODE_PATH names it after the layers').
//
// Where they come from:
//   - Python: the boto3 the runtime's interpreter imports on the host
//     (Debian's python3-boto3, or a pip install into the interpreter's own
//     site-packages), found when the server starts; only the SDK's own
//     packages are bound into the sandbox, not the directory around them.
//     When <SDKDir>/python exists it is the SDK instead (pip install
//     --target <SDKDir>/python boto3), and the host's is not looked for.
//   - Node.js: <SDKDir>/nodejs/node_modules, filled by `kumo runtimes
//     install-sdk` from the npm registry with the packages of NodeSDK.

// NodeSDKVersion is the version of the AWS SDK for JavaScript v3 packages
// install-sdk pins.
const NodeSDKVersion = "3.1178.0"

// NodeSDK are the v3 packages install-sdk installs: the clients of the
// services Kumo serves and the helpers functions use with them.
var NodeSDK = []string{
	"@aws-sdk/client-sts", "@aws-sdk/client-lambda", "@aws-sdk/client-s3", "@aws-sdk/client-sqs",
	"@aws-sdk/client-sns", "@aws-sdk/client-dynamodb", "@aws-sdk/client-eventbridge",
	"@aws-sdk/client-secrets-manager", "@aws-sdk/client-kms", "@aws-sdk/client-cloudwatch-logs",
	"@aws-sdk/lib-dynamodb", "@aws-sdk/credential-providers",
}

// nodeSDKProbe is the package whose presence says the Node.js SDK is
// installed.
const nodeSDKProbe = "@aws-sdk/client-sts"

// pythonSDKModules are the top-level modules boto3 imports outside the
// standard library, on any distribution (Debian's botocore uses requests
// where pip's vendors its own). Those that live next to boto3 are the SDK.
var pythonSDKModules = []string{
	"boto3", "botocore", "s3transfer", "jmespath", "dateutil", "six", "urllib3",
	"requests", "certifi", "idna", "charset_normalizer", "chardet",
}

// pythonSDKDists are the distributions whose metadata is bound too
// (importlib.metadata.version("boto3")); each is a bind mount more at
// every cold start, so only the SDK's own.
var pythonSDKDists = []string{"boto3", "botocore"}

// Names of the SDKs in the runtime directory (see writeRuntimeDir).
const (
	nodeModulesName = "node_modules" // /var/runtime/node_modules, as on Lambda
	pythonSDKName   = "python-sdk"   // /var/runtime/python-sdk
)

// pythonSDK is the boto3 one Python interpreter gets.
type pythonSDK struct {
	// Path is the directory appended to sys.path in the sandbox ("" when
	// there is no SDK).
	Path string
	// Files are the host paths to bind (the SDK's packages, modules and
	// metadata), none when the SDK is in the runtime directory.
	Files   []string
	Version string
	// Problem says why a boto3 the interpreter has cannot be given to
	// sandboxes ("" when there is none or it can).
	Problem string
}

// SDKStatus says which SDKs a server gives its functions.
type SDKStatus struct {
	// Python is boto3's version by interpreter path ("" where missing).
	Python map[string]string
	// PythonDir is where each interpreter's boto3 is on the host.
	PythonDir map[string]string
	// Node is the version of the Node.js SDK ("" when not installed) and
	// NodeDir its node_modules directory.
	Node, NodeDir string
}

// findPythonSDK returns the boto3 of the interpreter at path: the one in
// sdkDir/python when that directory exists, else the one the interpreter
// imports on the host.
func findPythonSDK(path, sdkDir string) pythonSDK {
	if dir := filepath.Join(sdkDir, "python"); sdkDir != "" && isDir(dir) {
		v := boto3Version(dir)
		if v == "" {
			return pythonSDK{}
		}
		return pythonSDK{Path: "/var/runtime/" + pythonSDKName, Version: v}
	}
	return hostPythonSDK(path)
}

// findSpecs prints, for each module named in argv, where the interpreter
// would import it from, without importing it.
const findSpecs = `import sys, importlib.util as u
for n in sys.argv[1:]:
    try:
        s = u.find_spec(n)
    except Exception:
        s = None
    if s is None:
        continue
    if s.submodule_search_locations:
        print(n, list(s.submodule_search_locations)[0])
    elif s.origin:
        print(n, s.origin)
`

// hostPythonSDK asks the interpreter where it finds boto3 and the modules
// boto3 needs, and keeps those in boto3's directory. The interpreter runs
// isolated (-I: no current directory, user site-packages or PYTHON*
// variables on its path), as it runs in a sandbox.
func hostPythonSDK(interpreter string) pythonSDK {
	out, err := run(interpreter, append([]string{"-I", "-c", findSpecs}, pythonSDKModules...)...)
	if err != nil {
		return pythonSDK{}
	}
	found := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		if n, p, ok := strings.Cut(strings.TrimSpace(line), " "); ok && filepath.IsAbs(p) {
			found[n] = p
		}
	}
	boto3, ok := found["boto3"]
	if !ok {
		return pythonSDK{}
	}
	dir := filepath.Dir(boto3)
	if overlaps(dir, sandboxOwned) {
		return pythonSDK{Problem: fmt.Sprintf("WARNING: the AWS SDK for Python (boto3) is not available to functions: "+
			"%s imports it from %s, which sandboxes have their own of; install python3-boto3 or boto3 elsewhere", interpreter, dir)}
	}
	sdk := pythonSDK{Path: dir, Version: boto3Version(dir)}
	for _, n := range pythonSDKModules {
		if p, ok := found[n]; ok && filepath.Dir(p) == dir {
			sdk.Files = append(sdk.Files, p)
		}
	}
	for _, d := range pythonSDKDists {
		for _, suffix := range []string{"-*.dist-info", "-*.egg-info"} {
			m, _ := filepath.Glob(filepath.Join(dir, d+suffix))
			sdk.Files = append(sdk.Files, m...)
		}
	}
	slices.Sort(sdk.Files)
	sdk.Files = slices.Compact(sdk.Files)
	return sdk
}

var versionRE = lazyregexp.New(`(?m)^__version__\s*=\s*['"]([^'"]+)['"]`)

// boto3Version reads boto3's version from its source in dir ("" when dir
// has no boto3).
func boto3Version(dir string) string {
	b, err := os.ReadFile(filepath.Join(dir, "boto3", "__init__.py"))
	if err != nil {
		return ""
	}
	if m := versionRE.FindSubmatch(b); m != nil {
		return string(m[1])
	}
	return "unknown"
}

// nodeSDKVersion returns the version of the Node.js SDK in nodeModules
// ("" when it is not there).
func nodeSDKVersion(nodeModules string) string {
	b, err := os.ReadFile(filepath.Join(nodeModules, nodeSDKProbe, "package.json"))
	if err != nil {
		return ""
	}
	var p struct{ Version string }
	if json.Unmarshal(b, &p) != nil || p.Version == "" {
		return "unknown"
	}
	return p.Version
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

// Warnings for a function's log when its runtime lacks the SDK Lambda
// ships with it.
func pythonSDKWarning(sdkDir string) string {
	if sdkDir != "" && isDir(filepath.Join(sdkDir, "python")) {
		return fmt.Sprintf("WARNING: the AWS SDK for Python (boto3) is not installed on this server: %s has no boto3; "+
			"install it there (pip install --target %s boto3) or remove that directory to use the host's (python3-boto3)",
			filepath.Join(sdkDir, "python"), filepath.Join(sdkDir, "python"))
	}
	return "WARNING: the AWS SDK for Python (boto3) is not installed on this server; " +
		"install python3-boto3 (apt-get install python3-boto3) or boto3 for this runtime's interpreter"
}

const nodeSDKWarning = "WARNING: the AWS SDK for JavaScript v3 (@aws-sdk/*) is not installed on this server; " +
	"run `kumo runtimes install-sdk`"

// InstallOptions configures InstallSDK.
type InstallOptions struct {
	// Dir is the SDK directory (the server's --runtime-sdk-dir).
	Dir string
	// NPM is the npm command ("npm" when empty).
	NPM string
	// Packages are installed besides NodeSDK ("name" or "name@version").
	Packages []string
	// Force reinstalls even when Dir holds what was asked for.
	Force bool
	// Stdout and Stderr receive npm's output and the summary.
	Stdout, Stderr io.Writer
}

// InstallSDK installs the AWS SDK for JavaScript v3 into Dir/nodejs with
// npm, pinned as NodeSDK and NodeSDKVersion say. It does nothing when the
// same set is already installed. Servers pick the SDK up when they start.
func InstallSDK(ctx context.Context, o InstallOptions) error {
	if o.Dir == "" {
		return errors.New("install-sdk: no directory")
	}
	npm := o.NPM
	if npm == "" {
		npm = "npm"
	}
	if o.Stdout == nil {
		o.Stdout = io.Discard
	}
	if o.Stderr == nil {
		o.Stderr = io.Discard
	}
	dir, err := filepath.Abs(filepath.Join(o.Dir, "nodejs"))
	if err != nil {
		return err
	}
	deps := map[string]string{}
	for _, p := range NodeSDK {
		deps[p] = NodeSDKVersion
	}
	for _, p := range o.Packages {
		name, version := p, "latest"
		if i := strings.LastIndex(p, "@"); i > 0 {
			name, version = p[:i], p[i+1:]
		}
		deps[name] = version
	}
	manifest, err := json.MarshalIndent(map[string]any{
		"name": "kumo-runtime-sdk", "private": true, "description": "The AWS SDK Kumo's Node.js runtimes give functions (kumo runtimes install-sdk).",
		"dependencies": deps,
	}, "", "  ")
	if err != nil {
		return err
	}
	manifest = append(manifest, '\n')
	stamp := filepath.Join(dir, "node_modules", ".kumo-sdk.json")
	if old, err := os.ReadFile(stamp); err == nil && bytes.Equal(old, manifest) && !o.Force && nodeSDKVersion(filepath.Join(dir, "node_modules")) != "" {
		fmt.Fprintf(o.Stdout, "The AWS SDK for JavaScript v3 %s is installed in %s\n", NodeSDKVersion, filepath.Join(dir, "node_modules"))
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("install-sdk: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "package.json"), manifest, 0o644); err != nil {
		return fmt.Errorf("install-sdk: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, npm, "install", "--omit=dev", "--ignore-scripts", "--no-audit", "--no-fund", "--no-update-notifier")
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = o.Stdout, o.Stderr
	if err := cmd.Run(); err != nil {
		var ee *exec.Error
		if errors.As(err, &ee) {
			return fmt.Errorf("install-sdk: %s not found: install Node.js's npm (apt-get install npm): %w", npm, err)
		}
		return fmt.Errorf("install-sdk: npm install in %s: %w", dir, err)
	}
	if nodeSDKVersion(filepath.Join(dir, "node_modules")) == "" {
		return fmt.Errorf("install-sdk: npm install in %s left no %s", dir, nodeSDKProbe)
	}
	// Sandboxes run as another user: everything must be readable by all.
	if err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.Mode()&os.ModeSymlink != 0 {
			return err
		}
		want := fi.Mode().Perm() | 0o444
		if fi.IsDir() || fi.Mode()&0o100 != 0 {
			want |= 0o111
		}
		if want != fi.Mode().Perm() {
			return os.Chmod(p, want)
		}
		return nil
	}); err != nil {
		return fmt.Errorf("install-sdk: %w", err)
	}
	if err := os.WriteFile(stamp, manifest, 0o644); err != nil {
		return fmt.Errorf("install-sdk: %w", err)
	}
	fmt.Fprintf(o.Stdout, "Installed the AWS SDK for JavaScript v3 %s in %s; servers started from now on give it to nodejs functions\n",
		NodeSDKVersion, filepath.Join(dir, "node_modules"))
	return nil
}
