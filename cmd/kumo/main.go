// Command kumo runs the Kumo server and small client helpers.
//
//	kumo server [flags]   run the server (kumo server -h for flags)
//	kumo env [flags]      print the shell exports that point AWS clients at a server
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/kumo-run/kumo/internal/app"
	"github.com/kumo-run/kumo/internal/config"
)

const usage = `kumo: AWS Lambda you run yourself.

Usage:
  kumo server [flags]   run the server (see kumo server -h)
  kumo env [flags]      print shell exports for AWS clients (see kumo env -h)
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "server":
		err = serve(os.Args[2:])
	case "env":
		err = printEnv(os.Args[2:], os.Stdout)
	case "-h", "--help", "help":
		fmt.Print(usage)
		return
	default:
		fmt.Fprintf(os.Stderr, "kumo: unknown command %q\n\n%s", os.Args[1], usage)
		os.Exit(2)
	}
	if err != nil {
		if err == flag.ErrHelp {
			return
		}
		fmt.Fprintln(os.Stderr, "kumo:", err)
		os.Exit(1)
	}
}

func serve(args []string) error {
	cfg, err := config.Parse(args, os.Getenv, os.Stderr)
	if err != nil {
		return err
	}
	var level slog.Level
	level.UnmarshalText([]byte(cfg.LogLevel))
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return app.Run(ctx, cfg, log, os.Getenv, nil)
}

// printEnv prints the exports that make the AWS CLI and SDKs talk to a Kumo
// server with its root credentials.
func printEnv(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("kumo env", flag.ContinueOnError)
	dataDir := fs.String("data-dir", envOr("KUMO_DATA_DIR", config.DefaultDataDir), "the server's data dir")
	endpoint := fs.String("endpoint", "http://"+envOr("KUMO_LISTEN", config.DefaultListen), "the server's URL")
	region := fs.String("region", envOr("KUMO_REGION", config.DefaultRegion), "the server's region")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(*dataDir, app.CredentialsFile)); err != nil && os.Getenv("KUMO_ROOT_ACCESS_KEY_ID") == "" {
		return fmt.Errorf("no credentials in %s: start the server first (kumo server --data-dir %s)", *dataDir, *dataDir)
	}
	creds, _, err := app.LoadCredentials(*dataDir, os.Getenv)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "export AWS_ACCESS_KEY_ID=%s\nexport AWS_SECRET_ACCESS_KEY=%s\nexport AWS_REGION=%s\nexport AWS_DEFAULT_REGION=%s\nexport AWS_ENDPOINT_URL=%s\n",
		creds.AccessKeyID, creds.SecretAccessKey, *region, *region, *endpoint)
	return nil
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
