// Command kumo runs the Kumo server and small client helpers.
//
//	kumo server [flags]   run the server (kumo server -h for flags)
//	kumo env [flags]      print the shell exports that point AWS clients at a server
//	kumo runtimes install-sdk [flags]
//	                      install the AWS SDK for JavaScript v3 for nodejs functions
//	kumo version          print the version of this build
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/kumo-run/kumo/internal/app"
	"github.com/kumo-run/kumo/internal/config"
	"github.com/kumo-run/kumo/internal/version"
)

// command is one subcommand.
type command struct {
	name, args, summary string
	run                 func(args []string, getenv func(string) string, stdout, stderr io.Writer) error
}

var commands = []command{
	{"server", "[flags]", "run the server (see kumo server -h)", serve},
	{"env", "[flags]", "print shell exports that point the AWS CLI and SDKs at a server (see kumo env -h)", printEnv},
	{"runtimes", "", "install-sdk: install the AWS SDK for JavaScript v3 for nodejs functions (see kumo runtimes -h)", runtimesCmd},
	{"version", "", "print the version of this build", printVersion},
}

func usage(w io.Writer) {
	fmt.Fprint(w, "kumo: AWS Lambda you run yourself.\n\nUsage:\n")
	for _, c := range commands {
		fmt.Fprintf(w, "  kumo %-16s %s\n", strings.TrimSpace(c.name+" "+c.args), c.summary)
	}
	fmt.Fprintf(w, "  kumo %-16s %s\n", "help", "print this help")
}

func main() {
	os.Exit(run(os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

// run runs the subcommand args name and returns the process's exit code.
func run(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		usage(stdout)
		return 0
	}
	for _, c := range commands {
		if c.name != args[0] {
			continue
		}
		err := c.run(args[1:], getenv, stdout, stderr)
		if err == nil || errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(stderr, "kumo:", err)
		return 1
	}
	fmt.Fprintf(stderr, "kumo: unknown command %q\n\n", args[0])
	usage(stderr)
	return 2
}

func serve(args []string, getenv func(string) string, _, stderr io.Writer) error {
	cfg, err := config.Parse(args, getenv, stderr)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: cfg.LogLevel.Slog()}))
	log.Info("kumo starting", "version", version.String())
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return app.Run(ctx, cfg, log, nil)
}

func printVersion(args []string, _ func(string) string, stdout, _ io.Writer) error {
	if len(args) > 0 {
		return fmt.Errorf("version takes no arguments")
	}
	fmt.Fprintln(stdout, "kumo", version.String())
	return nil
}

// Placeholder keys printed for a server that checks no signatures: AWS
// clients refuse to send a request they cannot sign.
const (
	noAuthAccessKeyID     = "AKIAKUMONOAUTH000000"
	noAuthSecretAccessKey = "kumo-insecure-no-auth"
)

// printEnv prints the exports that make the AWS CLI and SDKs talk to a Kumo
// server with its root credentials: those of the environment, else of the
// data dir's credentials file, else, for a server started with
// --insecure-no-auth, placeholder keys it accepts.
func printEnv(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	c, err := config.ParseClient("kumo env", args, getenv, stderr)
	if err != nil {
		return err
	}
	creds := app.Credentials{AccessKeyID: c.Root.AccessKeyID, SecretAccessKey: c.Root.SecretAccessKey}
	if creds.AccessKeyID == "" {
		creds, err = app.ReadCredentials(c.DataDir)
		if errors.Is(err, fs.ErrNotExist) {
			if !acceptsUnsigned(c.Endpoint) {
				return fmt.Errorf("no credentials in %s, and no server at %s that accepts unsigned requests: start the server first (kumo server --data-dir %s)",
					c.DataDir, c.Endpoint, c.DataDir)
			}
			fmt.Fprintf(stderr, "kumo: the server at %s checks no signatures (--insecure-no-auth); printing placeholder keys\n", c.Endpoint)
			creds = app.Credentials{AccessKeyID: noAuthAccessKeyID, SecretAccessKey: noAuthSecretAccessKey}
		} else if err != nil {
			return err
		}
	}
	for _, kv := range [][2]string{
		{"AWS_ACCESS_KEY_ID", creds.AccessKeyID},
		{"AWS_SECRET_ACCESS_KEY", creds.SecretAccessKey},
		{"AWS_REGION", c.Region},
		{"AWS_DEFAULT_REGION", c.Region},
		{"AWS_ENDPOINT_URL", c.Endpoint},
	} {
		fmt.Fprintf(stdout, "export %s=%s\n", kv[0], shellQuote(kv[1]))
	}
	return nil
}

// acceptsUnsigned reports whether the server at endpoint answers an
// unsigned ListFunctions, as one started with --insecure-no-auth does.
func acceptsUnsigned(endpoint string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(endpoint, "/")+"/2015-03-31/functions?MaxItems=1", nil)
	if err != nil {
		return false
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// shellQuote quotes s for a POSIX shell when it needs quoting.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r == '/' || r == '-' || r == '_' || r == '.' || r == ':' || r == '+' || r == '=' || r == '@' || r == ',' ||
			r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
