// Command recurring is the recurring-payments engine: `recurring dev` runs everything
// in one process; `api`, `worker` and `migrate` are what ops deploy.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

const usage = `recurring — a recurring-payments engine on Temporal

Usage:
  recurring dev [flags]        everything in one process: embedded Temporal, Web UI, worker, API
  recurring api                the HTTP API (configured by environment variables)
  recurring worker             the Temporal worker (configured by environment variables)
  recurring migrate            apply database migrations to DATABASE_URL
  recurring merchant create --name NAME
                               create a merchant and print its API keys once
  recurring bench [flags]      load test on an embedded server
  recurring webhook listen --port P --secret S
                               a local receiver that verifies and prints webhooks

Run 'recurring dev -h' for the dev flags; the README lists the environment variables.
`

// usageError is bad command-line input: exit status 2, like flag's own errors.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], environ(), os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func environ() map[string]string {
	m := map[string]string{}
	for _, kv := range os.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	return m
}

// run executes one subcommand and returns the process exit status. Tests drive it
// directly.
func run(ctx context.Context, args []string, env map[string]string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "dev":
		err = runDev(ctx, args[1:], env, stdout, stderr)
	case "api":
		err = runAPI(ctx, args[1:], env, stderr)
	case "worker":
		err = runWorker(ctx, args[1:], env, stderr)
	case "migrate":
		err = runMigrate(ctx, args[1:], env, stdout, stderr)
	case "merchant":
		err = runMerchant(ctx, args[1:], env, stdout, stderr)
	case "bench":
		err = runBench(ctx, args[1:], env, stdout, stderr)
	case "webhook":
		err = runWebhook(ctx, args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "recurring: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	if err == nil {
		return 0
	}
	fmt.Fprintf(stderr, "recurring %s: %v\n", args[0], err)
	var ue usageError
	if errors.As(err, &ue) {
		return 2
	}
	return 1
}

func newLogger(w io.Writer, level string) (*slog.Logger, error) {
	l, err := parseLevel(level)
	if err != nil {
		return nil, err
	}
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l})), nil
}

// noArgs rejects stray positional arguments.
func noArgs(cmd string, args []string) error {
	if len(args) > 0 {
		return usageError{fmt.Sprintf("%s takes no arguments (it is configured by environment variables), got %q", cmd, args)}
	}
	return nil
}
