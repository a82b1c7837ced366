// Command imagefn is the function the container-image end-to-end test
// packs into an image as its ENTRYPOINT. It uses the real Go runtime
// client (aws-lambda-go) and reports what a container function sees:
// its arguments, working directory, chosen environment variables and the
// names in the directory the event's "list" names, and whether files can
// be written where the event's "write" says.
package main

import (
	"context"
	"os"
	"sort"

	"github.com/aws/aws-lambda-go/lambda"
)

type event struct {
	List  string   `json:"list"`
	Env   []string `json:"env"`
	Write []string `json:"write"`
}

type report struct {
	Args  []string          `json:"args"`
	Cwd   string            `json:"cwd"`
	Env   map[string]string `json:"env"`
	Files []string          `json:"files"`
	// Writes maps each path of the event's "write" to "ok" or the
	// error writing a file there gave.
	Writes map[string]string `json:"writes"`
}

func handle(ctx context.Context, e event) (report, error) {
	r := report{Args: os.Args, Env: map[string]string{}, Files: []string{}, Writes: map[string]string{}}
	for _, p := range e.Write {
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			r.Writes[p] = err.Error()
		} else {
			r.Writes[p] = "ok"
		}
	}
	r.Cwd, _ = os.Getwd()
	for _, k := range e.Env {
		if v, ok := os.LookupEnv(k); ok {
			r.Env[k] = v
		}
	}
	if e.List != "" {
		entries, err := os.ReadDir(e.List)
		if err != nil {
			return r, err
		}
		for _, en := range entries {
			r.Files = append(r.Files, en.Name())
		}
		sort.Strings(r.Files)
	}
	return r, nil
}

func main() { lambda.Start(handle) }
