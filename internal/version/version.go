// Package version says which build of Kumo is running: the version stamped
// at link time (-ldflags "-X github.com/kumo-run/kumo/internal/version.version=v1.2.3"),
// else the module version and VCS revision Go recorded in the binary.
package version

import (
	"runtime/debug"
	"sync"
)

// version is set by the linker for release builds.
var version string

var get = sync.OnceValue(func() string {
	if version != "" {
		return version
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := bi.Main.Version
	if v == "" || v == "(devel)" {
		v = "devel"
	}
	var rev, modified string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				modified = "+dirty"
			}
		}
	}
	if rev != "" {
		if len(rev) > 12 {
			rev = rev[:12]
		}
		v += " (" + rev + modified + ")"
	}
	return v
})

// String is the running build's version, e.g. "v0.3.0" or
// "devel (165c4c6a1b2c+dirty)".
func String() string { return get() }
