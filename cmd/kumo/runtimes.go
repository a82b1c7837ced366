package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"syscall"

	"github.com/kumo-run/kumo/internal/config"
	"github.com/kumo-run/kumo/internal/runtimes"
)

// runtimesCmd runs kumo runtimes SUBCOMMAND.
func runtimesCmd(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	usage := func(w io.Writer) {
		fmt.Fprint(w, "Usage:\n  kumo runtimes install-sdk [flags] [package...]   install the AWS SDK for JavaScript v3 for nodejs functions (see -h)\n")
	}
	if len(args) == 0 {
		usage(stderr)
		return errors.New("runtimes: missing subcommand")
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		usage(stdout)
		return flag.ErrHelp
	case "install-sdk":
		return installSDK(args[1:], getenv, stdout, stderr)
	}
	usage(stderr)
	return fmt.Errorf("runtimes: unknown subcommand %q", args[0])
}

// installSDK installs the Node.js SDK with npm and says where each Python
// interpreter's boto3 comes from.
func installSDK(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	c, err := config.ParseInstallSDK(args, getenv, stderr)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := runtimes.InstallSDK(ctx, runtimes.InstallOptions{
		Dir: c.Dir, NPM: c.NPM, Packages: c.Packages, Force: c.Force, Stdout: stdout, Stderr: stderr,
	}); err != nil {
		return err
	}
	// The Python SDK is the host's (or <dir>/python): say what servers
	// will find.
	tmp, err := os.MkdirTemp("", "kumo-runtimes-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	t, err := runtimes.New(runtimes.Config{Dir: tmp, SDKDir: c.Dir})
	if err != nil {
		return err
	}
	st := t.SDKs()
	paths := make([]string, 0, len(st.Python))
	for p := range st.Python {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		if v := st.Python[p]; v != "" {
			fmt.Fprintf(stdout, "%s: boto3 %s from %s\n", p, v, st.PythonDir[p])
		} else if _, err := os.Stat(filepath.Join(c.Dir, "python")); err == nil {
			fmt.Fprintf(stdout, "%s: no boto3 in %s (pip install --target %s boto3)\n", p, filepath.Join(c.Dir, "python"), filepath.Join(c.Dir, "python"))
		} else {
			fmt.Fprintf(stdout, "%s: no boto3; install it for this interpreter (apt-get install python3-boto3)\n", p)
		}
	}
	return nil
}
