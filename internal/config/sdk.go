package config

import (
	"flag"
	"fmt"
	"io"
	"path/filepath"
)

// InstallSDK is what kumo runtimes install-sdk needs: the SDK directory
// the server reads (--runtime-sdk-dir, else under --data-dir), and the
// packages to add to the pinned set.
type InstallSDK struct {
	Dir      string
	NPM      string
	Force    bool
	Packages []string
}

// ParseInstallSDK reads kumo runtimes install-sdk's flags from args, with
// defaults taken from the same KUMO_* variables the server reads.
func ParseInstallSDK(args []string, getenv func(string) string, usage io.Writer) (InstallSDK, error) {
	var c InstallSDK
	fs := flag.NewFlagSet("kumo runtimes install-sdk", flag.ContinueOnError)
	fs.SetOutput(usage)
	var b binder
	var dataDir string
	b.str(fs, &dataDir, "data-dir", "KUMO_DATA_DIR", DefaultDataDir, "the server's data `directory`")
	b.str(fs, &c.Dir, "dir", EnvRuntimeSDKDir, "", "the SDK `directory` (the server's --runtime-sdk-dir; default <data-dir>/runtimes/sdk)")
	b.str(fs, &c.NPM, "npm", "", "npm", "the npm `command`")
	b.bind(fs, "force", "", (*boolValue)(&c.Force), "install even when the directory holds the same packages")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: kumo runtimes install-sdk [flags] [package[@version]...]\n\n"+
			"Installs the AWS SDK for JavaScript v3 (pinned clients; packages named here besides)\n"+
			"from the npm registry into <dir>/nodejs, where servers find it when they start.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return InstallSDK{}, err
	}
	if _, err := b.applyEnv(fs, getenv); err != nil {
		return InstallSDK{}, err
	}
	c.Packages = fs.Args()
	if c.Dir == "" {
		if dataDir == "" {
			return InstallSDK{}, &Error{Flag: "data-dir", Value: dataDir, Reason: "must not be empty"}
		}
		c.Dir = DefaultRuntimeSDKDir(dataDir)
	}
	abs, err := filepath.Abs(c.Dir)
	if err != nil {
		return InstallSDK{}, &Error{Flag: "dir", Value: c.Dir, Reason: err.Error()}
	}
	c.Dir = abs
	return c, nil
}
