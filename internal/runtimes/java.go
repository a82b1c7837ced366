package runtimes

import (
	"bufio"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/kumo-run/kumo/internal/lazyregexp"
)

// The Java runtime client and Kumo's aws-lambda-java-core interfaces,
// compiled once per JDK with its own javac (compileJava).
//
//go:embed bootstrap/java
var javaSources embed.FS

var javaID = lazyregexp.New(`^java(\d+)(?:\.al2)?$`)

var java = &language{
	name: "Java",
	id:   javaID,
	runtime: func(v int) string {
		if v == 8 {
			return "java8.al2"
		}
		return "java" + strconv.Itoa(v)
	},
	candidates: func(v int) []string {
		homes, _ := filepath.Glob("/usr/lib/jvm/*/bin/java")
		var out []string
		for _, p := range homes {
			if jv, err := javaVersion(p); err == nil && jv == v {
				out = append(out, p)
			}
		}
		return out
	},
	unversioned: []string{"/usr/bin/java", "/usr/local/bin/java"},
	version:     javaVersion,
	launch: func(l *Launch, requested, actual int) {
		// The class path is set by Table.Resolve, which knows where the
		// runtime client was compiled.
		l.heap = true
	},
	hostPaths: func(s *hostSet, real string, v int) error {
		home := filepath.Dir(filepath.Dir(real))
		if _, err := s.add(home); err != nil {
			return fmt.Errorf("JDK: %w", err)
		}
		// The JDK's libraries find each other through the launcher's
		// library path, not RUNPATH.
		s.dirs = append([]string{filepath.Join(home, "lib", "server"), filepath.Join(home, "lib")}, s.dirs...)
		// The JVM's libraries and the host libraries they link. Libraries
		// of desktop modules may need libraries a headless host lacks;
		// only the VM's own are required.
		libs, _ := filepath.Glob(filepath.Join(home, "lib", "*.so"))
		vm, _ := filepath.Glob(filepath.Join(home, "lib", "server", "*.so"))
		for _, l := range vm {
			if err := s.deps(l); err != nil {
				return err
			}
		}
		for _, l := range libs {
			b := filepath.Base(l)
			if strings.Contains(b, "awt") || strings.Contains(b, "atk") || strings.Contains(b, "splash") || strings.Contains(b, "fontmanager") ||
				strings.Contains(b, "jsound") || strings.Contains(b, "lcms") || strings.Contains(b, "javajpeg") {
				continue
			}
			if err := s.deps(l); err != nil {
				return err
			}
		}
		// Debian links the JDK's configuration to /etc/java-N-openjdk.
		for _, d := range []string{"conf", "lib"} {
			filepath.WalkDir(filepath.Join(home, d), func(p string, e fs.DirEntry, err error) error {
				if err != nil || e.Type()&fs.ModeSymlink == 0 {
					return nil
				}
				if dest, err := filepath.EvalSymlinks(p); err == nil && !strings.HasPrefix(dest, home+"/") && !strings.HasSuffix(dest, ".so") {
					s.add(dest)
				}
				return nil
			})
		}
		return nil
	},
	probe: []int{8, 11, 17, 21, 25},
}

// javaVersion is the feature version of the JDK whose java is p, from its
// release file (JAVA_VERSION="17.0.15", "1.8.0_402").
func javaVersion(p string) (int, error) {
	real, err := filepath.EvalSymlinks(p)
	if err != nil {
		return 0, err
	}
	rel, err := javaRelease(filepath.Dir(filepath.Dir(real)))
	if err != nil {
		return 0, err
	}
	v := strings.TrimPrefix(rel["JAVA_VERSION"], "1.")
	major, _, _ := strings.Cut(v, ".")
	major, _, _ = strings.Cut(major, "_")
	n, err := strconv.Atoi(major)
	if err != nil {
		return 0, fmt.Errorf("%s: unexpected JAVA_VERSION %q", p, rel["JAVA_VERSION"])
	}
	return n, nil
}

// javaRelease reads a JDK's release file.
func javaRelease(home string) (map[string]string, error) {
	f, err := os.Open(filepath.Join(home, "release"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if ok {
			out[k] = strings.Trim(v, `"`)
		}
	}
	return out, sc.Err()
}

// javaFlags are the JVM's flags as Lambda's Java runtimes set them: a
// fast start (C1 only, class data sharing), the serial collector.
var javaFlags = []string{"-XX:+TieredCompilation", "-XX:TieredStopAtLevel=1", "-Xshare:auto", "-XX:+UseSerialGC",
	"-XX:-UsePerfData", "-Djava.net.preferIPv4Stack=true"}

// javaMain is the runtime client's main class.
const javaMain = "kumo.runtime.Main"

// javaHeapPercent is the share of the function's memory the heap may take.
const javaHeapPercent = 85

// javaSourceHash names the runtime client's sources.
func javaSourceHash() (map[string][]byte, string, error) {
	files := map[string][]byte{}
	var names []string
	err := fs.WalkDir(javaSources, "bootstrap/java", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".java") {
			return err
		}
		b, err := fs.ReadFile(javaSources, p)
		if err != nil {
			return err
		}
		rel := strings.TrimPrefix(p, "bootstrap/java/")
		files[rel] = b
		names = append(names, rel)
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	sort.Strings(names)
	h := sha256.New()
	for _, n := range names {
		fmt.Fprintf(h, "%s %d\n", n, len(files[n]))
		h.Write(files[n])
	}
	return files, hex.EncodeToString(h.Sum(nil))[:12], nil
}

// compileJava compiles the runtime client with the javac of the JDK whose
// java is real, once per JDK release and source: into a directory of the
// runtime directory named by both, which later servers sharing the data
// directory reuse. It returns the directory's name.
func compileJava(runtimeDir, real string) (string, error) {
	home := filepath.Dir(filepath.Dir(real))
	rel, err := javaRelease(home)
	if err != nil {
		return "", fmt.Errorf("JDK release: %w", err)
	}
	files, hash, err := javaSourceHash()
	if err != nil {
		return "", err
	}
	ver := rel["JAVA_RUNTIME_VERSION"]
	if ver == "" {
		ver = rel["JAVA_VERSION"]
	}
	name := "java-" + strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' || r == '_' {
			return r
		}
		return '_'
	}, ver) + "-" + hash
	dir := filepath.Join(runtimeDir, name)
	if fi, err := os.Stat(dir); err == nil && fi.IsDir() {
		return name, nil
	}
	javac := filepath.Join(filepath.Dir(real), "javac")
	if !isExecutable(javac) {
		return "", fmt.Errorf("no javac beside %s: Kumo compiles its Java runtime client with the JDK's javac; install the JDK (Debian: openjdk-17-jdk-headless)", real)
	}
	src, err := os.MkdirTemp(runtimeDir, ".src-")
	if err != nil {
		return "", fmt.Errorf("java runtime: %w", err)
	}
	defer os.RemoveAll(src)
	args := []string{"-J-XX:TieredStopAtLevel=1", "-J-Xshare:auto", "-nowarn", "-encoding", "UTF-8", "-d", filepath.Join(src, "classes")}
	for n, b := range files {
		p := filepath.Join(src, filepath.FromSlash(n))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return "", fmt.Errorf("java runtime: %w", err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			return "", fmt.Errorf("java runtime: %w", err)
		}
		args = append(args, p)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, javac, args...)
	cmd.Env = []string{"PATH=/usr/bin:/bin", "LANG=C.UTF-8"}
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("compiling the Java runtime client with %s: %w: %s", javac, err, strings.TrimSpace(string(out)))
	}
	classes := filepath.Join(src, "classes")
	filepath.WalkDir(classes, func(p string, d fs.DirEntry, err error) error {
		if err == nil {
			mode := os.FileMode(0o644)
			if d.IsDir() {
				mode = 0o755
			}
			os.Chmod(p, mode)
		}
		return nil
	})
	if err := os.Rename(classes, dir); err != nil {
		if fi, serr := os.Stat(dir); serr == nil && fi.IsDir() {
			return name, nil // another server compiled it first
		}
		return "", fmt.Errorf("java runtime: %w", err)
	}
	return name, nil
}

// ArgsFor is the command for a sandbox of memoryMB: Args, with the JVM's
// heap sized from the function's memory for the Java runtimes.
func (l Launch) ArgsFor(memoryMB int) []string {
	if !l.heap || len(l.Args) == 0 || memoryMB <= 0 {
		return l.Args
	}
	out := append([]string{l.Args[0], fmt.Sprintf("-XX:MaxHeapSize=%dm", memoryMB*javaHeapPercent/100)}, l.Args[1:]...)
	return out
}

// javacMissing refuses a Java runtime whose JDK has no javac (a JRE):
// Kumo compiles its runtime client with it.
func javacMissing(runtime, java string) error {
	real, err := filepath.EvalSymlinks(java)
	if err != nil {
		return &UnsupportedError{Runtime: runtime, Reason: fmt.Sprintf("The runtime %s cannot run on this server: %v", runtime, err)}
	}
	if !isExecutable(filepath.Join(filepath.Dir(real), "javac")) {
		return &UnsupportedError{Runtime: runtime, Reason: fmt.Sprintf(
			"The runtime %s cannot run on this server: the Java installation at %s has no javac, which Kumo compiles its Java runtime client with; install a JDK (Debian: openjdk-17-jdk-headless).",
			runtime, filepath.Dir(filepath.Dir(real)))}
	}
	return nil
}
