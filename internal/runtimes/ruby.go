package runtimes

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/kumo-run/kumo/internal/lazyregexp"
)

var rubyID = lazyregexp.New(`^ruby3\.(\d+)$`)

var ruby = &language{
	name:    "Ruby",
	id:      rubyID,
	runtime: func(v int) string { return "ruby3." + strconv.Itoa(v) },
	candidates: func(v int) []string {
		n := "ruby3." + strconv.Itoa(v)
		return []string{"/usr/bin/" + n, "/usr/local/bin/" + n}
	},
	unversioned: []string{"/usr/bin/ruby", "/usr/local/bin/ruby"},
	version:     rubyVersion,
	launch: func(l *Launch, requested, actual int) {
		l.Args = []string{l.Args[0], "/var/runtime/bootstrap.rb"}
		// Lambda's: the function's bundled gems (bundle install
		// --path vendor/bundle) and the layers' come first.
		var gems []string
		for _, v := range []int{requested, actual} {
			api := fmt.Sprintf("3.%d.0", v)
			gems = append(gems, "/var/task/vendor/bundle/ruby/"+api, "/opt/ruby/gems/"+api)
			if requested == actual {
				break
			}
		}
		l.Env = append(l.Env, "RUBYLIB=/var/task:/var/runtime/lib:/opt/ruby/lib", "GEM_PATH="+strings.Join(gems, ":"))
	},
	hostPaths: func(s *hostSet, real string, v int) error {
		out, err := run(real, "-e", `require "rbconfig"; c = RbConfig::CONFIG; puts c.values_at("rubylibdir", "archdir", "vendordir", "vendorarchdir"); puts Gem.default_dir; puts Gem.default_path`)
		if err != nil {
			return fmt.Errorf("asking %s for its library directories: %w", real, err)
		}
		for _, d := range strings.Fields(out) {
			if _, err := os.Stat(d); err != nil || !filepath.IsAbs(d) {
				continue
			}
			r, err := s.add(d)
			if err != nil {
				return err
			}
			// Extension libraries and what they link.
			err = filepath.WalkDir(r, func(p string, e fs.DirEntry, err error) error {
				if err != nil || e.IsDir() || !strings.HasSuffix(p, ".so") {
					return nil
				}
				return s.deps(p)
			})
			if err != nil {
				return err
			}
		}
		return nil
	},
	probe: []int{1, 2, 3, 4},
}

var rubyName = lazyregexp.New(`ruby3\.(\d+)$`)

// rubyVersion is the minor version of a Ruby 3: from the name its
// symlinks lead to (ruby -> ruby3.1), else by asking.
func rubyVersion(p string) (int, error) {
	if real, err := filepath.EvalSymlinks(p); err == nil {
		if m := rubyName.FindStringSubmatch(real); m != nil {
			return strconv.Atoi(m[1])
		}
	}
	out, err := run(p, "--disable-gems", "-e", "print RUBY_VERSION")
	if err != nil {
		return 0, err
	}
	major, rest, _ := strings.Cut(strings.TrimSpace(out), ".")
	minor, _, _ := strings.Cut(rest, ".")
	if major != "3" {
		return 0, fmt.Errorf("%s: unexpected version %q", p, out)
	}
	return strconv.Atoi(minor)
}

var dotnetID = lazyregexp.New(`^dotnet(\d+)$`)

// dotnetHosts are where a .NET runtime's host is installed.
var dotnetHosts = []string{"/usr/bin/dotnet", "/usr/share/dotnet/dotnet", "/usr/lib/dotnet/dotnet", "/usr/local/bin/dotnet"}

// dotnetUnsupported says why a dotnetN function cannot run here: Kumo has
// no .NET runtime client, and names the host's .NET runtime when it lacks
// one, which it needs first.
func dotnetUnsupported(runtime string) *UnsupportedError {
	for _, p := range dotnetHosts {
		if isExecutable(p) {
			return &UnsupportedError{Runtime: runtime, Reason: fmt.Sprintf(
				"The runtime %s cannot run on this server: Kumo has no .NET runtime client yet (the host's .NET is %s).", runtime, p)}
		}
	}
	return &UnsupportedError{Runtime: runtime, Reason: fmt.Sprintf(
		"The runtime %s cannot run on this server: no .NET runtime is installed on the host (looked for %s).", runtime, strings.Join(dotnetHosts, ", "))}
}
