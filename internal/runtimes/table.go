package runtimes

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/kumo-run/kumo/internal/lazyregexp"
)

// language is a family of managed runtimes sharing one bootstrap.
type language struct {
	name string // "Python", "Node.js"
	// id parses a runtime id of the family into its version number
	// (minor for Python 3, major for Node.js).
	id *lazyregexp.Regexp
	// runtime is the id of version v.
	runtime func(v int) string
	// candidates are where probing looks for an interpreter of version v
	// and for unversioned ones.
	candidates  func(v int) []string
	unversioned []string
	// version asks an interpreter for its version.
	version func(path string) (int, error)
	// launch fills in what is particular to the language.
	launch func(l *Launch, requested, actual int)
	// hostPaths adds what the interpreter at real needs besides its ELF
	// dependencies.
	hostPaths func(s *hostSet, real string, v int) error
	// probe lists the versions probing tries.
	probe []int
}

var (
	pythonID = lazyregexp.New(`^python3\.(\d+)$`)
	nodeID   = lazyregexp.New(`^nodejs(\d+)\.x$`)
)

var python = &language{
	name:    "Python",
	id:      pythonID,
	runtime: func(v int) string { return "python3." + strconv.Itoa(v) },
	candidates: func(v int) []string {
		n := "python3." + strconv.Itoa(v)
		return []string{"/usr/bin/" + n, "/usr/local/bin/" + n}
	},
	unversioned: []string{"/usr/bin/python3", "/usr/local/bin/python3"},
	version:     pythonVersion,
	launch: func(l *Launch, requested, actual int) {
		l.Args = []string{l.Args[0], "/var/runtime/bootstrap.py"}
	},
	hostPaths: func(s *hostSet, real string, v int) error {
		// "python3" on PATH names this interpreter, as in Lambda's images,
		// for wrapper scripts and extensions ("#!/usr/bin/env python3")
		// and subprocesses, when the host's python3 is this one.
		for _, u := range []string{"/usr/bin/python3", "/usr/local/bin/python3"} {
			if r, err := filepath.EvalSymlinks(u); err == nil && r == real && u != real {
				if _, err := s.add(u); err != nil {
					return err
				}
			}
		}
		prefix := filepath.Dir(filepath.Dir(real))
		stdlib := filepath.Join(prefix, "lib", "python3."+strconv.Itoa(v))
		if _, err := s.add(stdlib); err != nil {
			return fmt.Errorf("standard library: %w", err)
		}
		// Extension modules of the standard library (ssl, sqlite3, …) and
		// the libraries they link.
		mods, _ := filepath.Glob(filepath.Join(stdlib, "lib-dynload", "*.so"))
		for _, m := range mods {
			if strings.Contains(filepath.Base(m), "_test") || strings.HasPrefix(filepath.Base(m), "xx") {
				continue
			}
			r, err := s.walk(m)
			if err != nil {
				return err
			}
			if err := s.deps(r); err != nil {
				return err
			}
		}
		return nil
	},
	probe: []int{9, 10, 11, 12, 13, 14},
}

var node = &language{
	name:    "Node.js",
	id:      nodeID,
	runtime: func(v int) string { return "nodejs" + strconv.Itoa(v) + ".x" },
	candidates: func(v int) []string {
		n := "node" + strconv.Itoa(v)
		return []string{"/usr/bin/" + n, "/usr/local/bin/" + n}
	},
	unversioned: []string{"/usr/bin/node", "/usr/local/bin/node", "/usr/bin/nodejs"},
	version:     nodeVersion,
	launch: func(l *Launch, requested, actual int) {
		l.Args = []string{l.Args[0], "/var/runtime/bootstrap.js"}
		l.Env = append(l.Env, fmt.Sprintf("NODE_PATH=/opt/nodejs/node%d/node_modules:/opt/nodejs/node_modules:/var/runtime/node_modules:/var/runtime:/var/task", requested))
	},
	hostPaths: func(*hostSet, string, int) error { return nil },
	probe:     []int{18, 20, 22, 24},
}

var languages = []*language{python, node, java, ruby}

// Interpreter is one host interpreter of a managed runtime.
type Interpreter struct {
	Path    string
	Version int // minor for Python 3, major for Node.js
}

// Config configures a Table.
type Config struct {
	// Dir is where the bootstraps are written (a directory of the
	// server's own; created if missing).
	Dir string
	// Interpreters maps runtime ids (python3.12, nodejs22.x) to host
	// interpreters, before probing; see ParseInterpreters.
	Interpreters map[string]string
	// NoProbe: only Interpreters, nothing found on the host.
	NoProbe bool
	// SDKDir holds the AWS SDKs Kumo gives functions besides the host's:
	// nodejs/node_modules (kumo runtimes install-sdk) and, optionally,
	// python (see sdk.go). "" for none but the host's boto3.
	SDKDir string
}

// Table resolves runtimes: OS-only ones as Resolve does, managed ones to
// Kumo's bootstraps run by a host interpreter of the nearest available
// version. Safe for concurrent use.
type Table struct {
	dir    string
	sdkDir string
	byLang map[*language][]Interpreter // sorted by version
	// pySDK is the boto3 of each Python interpreter, nodeSDK the version
	// of the Node.js SDK ("" when missing); both fixed by New.
	pySDK   map[string]pythonSDK
	nodeSDK string
	pathsMu sync.Mutex
	paths   map[string]*hostPaths // by interpreter path
}

type hostPaths struct {
	once  sync.Once
	paths []string
	err   error
	// javaClasses is the runtime directory's subdirectory holding the
	// compiled Java runtime client (Java only).
	javaClasses string
}

// New writes the bootstraps under c.Dir and finds the interpreters: those
// c.Interpreters names, then those probing finds on the host.
func New(c Config) (*Table, error) {
	sdkDir := c.SDKDir
	if sdkDir != "" {
		abs, err := filepath.Abs(sdkDir)
		if err != nil {
			return nil, fmt.Errorf("runtime sdk dir: %w", err)
		}
		sdkDir = abs
	}
	// The SDKs are linked from the runtime directory, which sandboxes see
	// at /var/runtime.
	links := map[string]string{}
	nodeModules := filepath.Join(sdkDir, "nodejs", "node_modules")
	nodeSDK := ""
	if sdkDir != "" {
		nodeSDK = nodeSDKVersion(nodeModules)
	}
	if nodeSDK != "" {
		links[nodeModulesName] = nodeModules
	}
	if py := filepath.Join(sdkDir, "python"); sdkDir != "" && isDir(py) {
		links[pythonSDKName] = py
	}
	dir, err := writeRuntimeDir(c.Dir, links)
	if err != nil {
		return nil, err
	}
	t := &Table{dir: dir, sdkDir: sdkDir, nodeSDK: nodeSDK, pySDK: map[string]pythonSDK{},
		byLang: map[*language][]Interpreter{}, paths: map[string]*hostPaths{}}
	seen := map[*language]map[int]bool{}
	add := func(l *language, in Interpreter) {
		if seen[l] == nil {
			seen[l] = map[int]bool{}
		}
		if seen[l][in.Version] {
			return
		}
		seen[l][in.Version] = true
		t.byLang[l] = append(t.byLang[l], in)
	}
	ids := make([]string, 0, len(c.Interpreters))
	for id := range c.Interpreters {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		l, v := parse(id)
		if l == nil {
			return nil, fmt.Errorf("runtime interpreters: %q is not a managed runtime (pythonX.Y, nodejsN.x, javaN, ruby3.N)", id)
		}
		p := c.Interpreters[id]
		if !filepath.IsAbs(p) || !isExecutable(p) {
			return nil, fmt.Errorf("runtime interpreters: %s: %q is not an executable file", id, p)
		}
		add(l, Interpreter{Path: p, Version: v})
	}
	if !c.NoProbe {
		for _, in := range probe() {
			add(in.lang, in.Interpreter)
		}
	}
	for _, l := range languages {
		sort.Slice(t.byLang[l], func(i, j int) bool { return t.byLang[l][i].Version < t.byLang[l][j].Version })
	}
	var (
		wg   sync.WaitGroup
		sdks = make([]pythonSDK, len(t.byLang[python]))
	)
	for i, in := range t.byLang[python] {
		wg.Add(1)
		go func() {
			defer wg.Done()
			compilePython(dir, in.Path) // best effort
			sdks[i] = findPythonSDK(in.Path, sdkDir)
		}()
	}
	wg.Wait()
	for i, in := range t.byLang[python] {
		t.pySDK[in.Path] = sdks[i]
	}
	return t, nil
}

// ParseInterpreters parses "python3.12=/opt/py/bin/python3.12,nodejs22.x=/usr/local/bin/node".
func ParseInterpreters(s string) (map[string]string, error) {
	out := map[string]string{}
	for _, e := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' }) {
		id, p, ok := strings.Cut(e, "=")
		if !ok || id == "" || p == "" {
			return nil, fmt.Errorf("runtime interpreters: %q: want runtime=path", e)
		}
		out[id] = p
	}
	return out, nil
}

type probed struct {
	lang *language
	Interpreter
}

// probe finds the interpreters installed in the usual places.
func probe() []probed {
	var out []probed
	for _, l := range languages {
		for _, v := range l.probe {
			for _, p := range l.candidates(v) {
				if isExecutable(p) {
					out = append(out, probed{l, Interpreter{Path: p, Version: v}})
					break
				}
			}
		}
		for _, p := range l.unversioned {
			if !isExecutable(p) {
				continue
			}
			if v, err := l.version(p); err == nil {
				out = append(out, probed{l, Interpreter{Path: p, Version: v}})
			}
		}
	}
	return out
}

var pythonName = lazyregexp.New(`python3\.(\d+)$`)

// pythonVersion is the minor version of a Python 3: from the name its
// symlinks lead to when it says it (python3 -> python3.11), else by asking.
func pythonVersion(p string) (int, error) {
	if real, err := filepath.EvalSymlinks(p); err == nil {
		if m := pythonName.FindStringSubmatch(real); m != nil {
			return strconv.Atoi(m[1])
		}
	}
	out, err := run(p, "-S", "-c", "import sys; print(sys.version_info[0], sys.version_info[1])")
	if err != nil {
		return 0, err
	}
	var major, minor int
	if _, err := fmt.Sscan(out, &major, &minor); err != nil || major != 3 {
		return 0, fmt.Errorf("%s: unexpected version %q", p, out)
	}
	return minor, nil
}

func nodeVersion(p string) (int, error) {
	out, err := run(p, "--version")
	if err != nil {
		return 0, err
	}
	major, _, _ := strings.Cut(strings.TrimPrefix(strings.TrimSpace(out), "v"), ".")
	return strconv.Atoi(major)
}

func run(p string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, p, args...)
	cmd.Env = []string{"PATH=/usr/bin:/bin"}
	b, err := cmd.Output()
	return string(b), err
}

// parse returns the language and version of a managed runtime id.
func parse(runtime string) (*language, int) {
	for _, l := range languages {
		if m := l.id.FindStringSubmatch(runtime); m != nil {
			if v, err := strconv.Atoi(m[1]); err == nil {
				return l, v
			}
		}
	}
	return nil, 0
}

// Interpreters lists the interpreters of the table by runtime family
// ("Python", "Node.js").
func (t *Table) Interpreters() map[string][]Interpreter {
	out := map[string][]Interpreter{}
	for l, ins := range t.byLang {
		out[l.name] = append([]Interpreter(nil), ins...)
	}
	return out
}

// Dir is the host directory holding the bootstraps (mounted at
// /var/runtime).
func (t *Table) Dir() string { return t.dir }

// pick returns the interpreter for version v: the same version, else the
// nearest one (the newer of two equally near).
func (t *Table) pick(l *language, v int) (Interpreter, bool) {
	var best Interpreter
	found := false
	for _, in := range t.byLang[l] {
		d, bd := abs(in.Version-v), abs(best.Version-v)
		if !found || d < bd || d == bd && in.Version > best.Version {
			best, found = in, true
		}
	}
	return best, found
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// Check says whether functions of runtime can run here. For a managed
// runtime whose exact version is missing it returns a warning naming the
// version that will run instead. Errors: *UnsupportedError (not a runtime
// this server knows to run), *NoInterpreterError.
func (t *Table) Check(runtime string) (warning string, err error) {
	if IsOSOnly(runtime) {
		return "", nil
	}
	if dotnetID.MatchString(runtime) {
		return "", dotnetUnsupported(runtime)
	}
	l, v := parse(runtime)
	if l == nil {
		return "", &UnsupportedError{Runtime: runtime}
	}
	in, ok := t.pick(l, v)
	if !ok {
		return "", &NoInterpreterError{Runtime: runtime, Language: l.name}
	}
	if l == java {
		if err := javacMissing(runtime, in.Path); err != nil {
			return "", err
		}
	}
	return warningFor(l, runtime, v, in), nil
}

func warningFor(l *language, runtime string, v int, in Interpreter) string {
	if in.Version == v {
		return ""
	}
	return fmt.Sprintf("WARNING: runtime %s is not installed on this server; %s runs with %s (%s) instead",
		runtime, runtime, l.runtime(in.Version), in.Path)
}

// Resolve returns how to start a function; see the package Resolve for the
// arguments. OS-only runtimes resolve as there.
func (t *Table) Resolve(runtime, handler, codeDir, layerDir string) (Launch, error) {
	if IsOSOnly(runtime) {
		return Resolve(runtime, handler, codeDir, layerDir)
	}
	if dotnetID.MatchString(runtime) {
		return Launch{}, dotnetUnsupported(runtime)
	}
	l, v := parse(runtime)
	if l == nil {
		return Launch{}, &UnsupportedError{Runtime: runtime}
	}
	in, ok := t.pick(l, v)
	if !ok {
		return Launch{}, &NoInterpreterError{Runtime: runtime, Language: l.name}
	}
	hp, err := t.hostPaths(l, in)
	paths := hp.paths
	if err != nil {
		return Launch{}, fmt.Errorf("runtime %s: host files of %s: %w", runtime, in.Path, err)
	}
	launch := Launch{
		Args:         []string{in.Path},
		HostPaths:    paths,
		RuntimeDir:   t.dir,
		ExecutionEnv: "AWS_Lambda_" + runtime,
	}
	l.launch(&launch, v, in.Version)
	warnings := []string{warningFor(l, runtime, v, in)}
	switch l {
	case python:
		// bootstrap.py appends its arguments to sys.path, after the
		// function's code, its layers and the standard library.
		switch sdk := t.pySDK[in.Path]; {
		case sdk.Path != "":
			launch.Args = append(launch.Args, sdk.Path)
		case sdk.Problem != "":
			warnings = append(warnings, sdk.Problem)
		default:
			warnings = append(warnings, pythonSDKWarning(t.sdkDir))
		}
	case node:
		if v >= 18 && t.nodeSDK == "" {
			warnings = append(warnings, nodeSDKWarning)
		}
	case java:
		launch.Args = append(append(launch.Args, javaFlags...), "-cp", "/var/runtime/"+hp.javaClasses, javaMain)
	}
	launch.Warning = strings.Join(slices.DeleteFunc(warnings, func(w string) bool { return w == "" }), "\n")
	return launch, nil
}

// SDKs says which AWS SDKs the table gives functions.
func (t *Table) SDKs() SDKStatus {
	st := SDKStatus{Python: map[string]string{}, PythonDir: map[string]string{}, Node: t.nodeSDK}
	if t.nodeSDK != "" {
		st.NodeDir = filepath.Join(t.sdkDir, "nodejs", "node_modules")
	}
	for p, sdk := range t.pySDK {
		st.Python[p] = sdk.Version
		if sdk.Path != "" {
			st.PythonDir[p] = sdk.Path
			if len(sdk.Files) == 0 {
				st.PythonDir[p] = filepath.Join(t.sdkDir, "python")
			}
		}
	}
	return st
}

// hostPaths computes, once per interpreter, the host files it needs.
func (t *Table) hostPaths(l *language, in Interpreter) (*hostPaths, error) {
	t.pathsMu.Lock()
	hp := t.paths[in.Path]
	if hp == nil {
		hp = &hostPaths{}
		t.paths[in.Path] = hp
	}
	t.pathsMu.Unlock()
	hp.once.Do(func() {
		s := newHostSet()
		real, err := s.add(in.Path)
		if err == nil {
			err = s.deps(real)
		}
		if err == nil {
			err = l.hostPaths(s, real, in.Version)
		}
		if err == nil && l == python {
			err = sdkPaths(s, t.pySDK[in.Path].Files)
		}
		if err == nil && l == java {
			hp.javaClasses, err = compileJava(t.dir, real)
		}
		if err == nil {
			tls(s)
		}
		hp.paths, hp.err = s.list(), err
	})
	return hp, hp.err
}

// tls adds OpenSSL's directory and configuration when the host has them
// (the CA certificates themselves, /etc/ssl/certs, the sandbox binds).
func tls(s *hostSet) {
	for _, p := range []string{"/usr/lib/ssl", "/etc/ssl/openssl.cnf"} {
		if _, err := os.Stat(p); err == nil {
			s.add(p)
		}
	}
}

// sdkPaths adds the host's boto3 and the modules it needs, and the
// libraries of their extension modules.
func sdkPaths(s *hostSet, files []string) error {
	for _, f := range files {
		real, err := s.add(f)
		if err != nil {
			return fmt.Errorf("AWS SDK: %w", err)
		}
		err = filepath.WalkDir(real, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(p, ".so") {
				return err
			}
			return s.deps(p)
		})
		if err != nil {
			return fmt.Errorf("AWS SDK: %w", err)
		}
	}
	return nil
}
