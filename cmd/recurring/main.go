// Command recurring is the recurring-payments engine: `recurring dev` runs everything
// in one process; `api`, `worker` and `migrate` are what ops deploy.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/recurring/recurring/internal/tracing"
)

const usage = `recurring — a recurring-payments engine on Temporal

Usage:
  recurring dev [flags]        everything in one process: embedded Temporal, Web UI, worker, API
                               (not in the production image, built with -tags nodev)
  recurring api                the HTTP API (configured by environment variables)
  recurring worker             the Temporal worker (configured by environment variables)
  recurring migrate [flags]    apply database migrations to DATABASE_URL
  recurring merchant create --name NAME
                               create a merchant and print its API keys once
  recurring bench [flags]      load test on an embedded server (not in the production image)
  recurring webhook listen --port P --secret S
                               a local receiver that verifies and prints webhooks
  recurring version            the version, commit and Temporal SDK/server versions
  recurring probe URL          exit 0 if URL answers 2xx (the containers' healthcheck)

Run 'recurring <command> --help' for a command's flags; the README lists the
environment variables.
`

// usageError is bad command-line input: exit status 2, like flag's own errors.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// command is one subcommand: how to run it and what its --help prints.
type command struct {
	run func(ctx context.Context, args []string, env map[string]string, stdout, stderr io.Writer) error
	// help is printed first by `recurring <name> --help`.
	help string
	// flagArgs make the command print its own flags (ending in -h), so help cannot
	// drift from its flag set; nil for commands without flags.
	flagArgs []string
}

var commands = map[string]command{
	"api": {run: func(ctx context.Context, args []string, env map[string]string, _, stderr io.Writer) error {
		return runAPI(ctx, args, env, stderr)
	}, help: `Usage: recurring api

Serves the HTTP API. It takes no flags: it is configured by environment variables,
DATABASE_URL and ENCRYPTION_KEYS required, HTTP_ADDR and TEMPORAL_* among the others
(the README's Configuration section lists them all). SIGTERM drains requests for up to
SHUTDOWN_TIMEOUT, then exits 0.
`},
	"worker": {run: func(ctx context.Context, args []string, env map[string]string, _, stderr io.Writer) error {
		return runWorker(ctx, args, env, stderr)
	}, help: `Usage: recurring worker

Runs the Temporal worker: plan and payment workflows, charges, webhook deliveries and
notifications. It takes no flags: it is configured by environment variables,
DATABASE_URL and ENCRYPTION_KEYS required, TEMPORAL_*, WORKER_POLLERS and SMTP_*
among the others (the README's Configuration section lists them all). SIGTERM lets
in-flight activities finish for up to SHUTDOWN_TIMEOUT, then exits 0.
`},
	"migrate": {run: runMigrate, flagArgs: []string{"-h"}, help: `Usage: recurring migrate [flags]

Applies the database migrations to DATABASE_URL and, when ENCRYPTION_KEYS is set,
re-encrypts saved card tokens still under an older key.
`},
	"merchant": {run: runMerchant, flagArgs: []string{"create", "-h"}, help: `Usage: recurring merchant create --name NAME

Creates a merchant in DATABASE_URL's store and prints its test and live API keys
once; only their hashes are stored.
`},
	"probe": {run: runProbe, help: `Usage: recurring probe URL

GETs URL and exits 0 on a 2xx answer within 3 s, 1 otherwise: the healthcheck of the
distroless image, which has no shell, curl or wget.
`},
	"version": {run: runVersion, help: `Usage: recurring version

Prints the binary's version and commit, the Go version, and the Temporal SDK, server
and Web UI versions it was built with.
`},
	"webhook": {run: func(ctx context.Context, args []string, _ map[string]string, stdout, stderr io.Writer) error {
		return runWebhook(ctx, args, stdout, stderr)
	}, flagArgs: []string{"listen", "-h"}, help: `Usage: recurring webhook listen --port P --secret whsec_…

A local webhook receiver: verifies each delivery's signature, prints the event and
answers 204 (401 when the signature does not verify).
`},
}

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
	name, rest := args[0], args[1:]
	switch name {
	case "help", "-h", "-help", "--help":
		if len(rest) == 0 {
			fmt.Fprint(stdout, usage)
			return 0
		}
		name, rest = rest[0], []string{"--help"}
	}
	cmd, ok := commands[name]
	if !ok {
		fmt.Fprintf(stderr, "recurring: unknown command %q\n\n%s", name, usage)
		return 2
	}
	if wantsHelp(rest) {
		if err := printHelp(ctx, name, cmd, stdout); err != nil {
			fmt.Fprintf(stderr, "recurring %s --help: %v\n", name, err)
			return 1
		}
		return 0
	}
	err := cmd.run(ctx, rest, env, stdout, stderr)
	if err == nil {
		return 0
	}
	fmt.Fprintf(stderr, "recurring %s: %v\n", name, err)
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
	// Lines logged with a context that carries a span name its trace_id and span_id.
	return slog.New(tracing.LogHandler{Handler: slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l})}), nil
}

// noArgs rejects stray positional arguments.
func noArgs(cmd string, args []string) error {
	if len(args) > 0 {
		return usageError{fmt.Sprintf("%s takes no arguments (it is configured by environment variables), got %q", cmd, args)}
	}
	return nil
}

// wantsHelp reports whether args ask for help the way the flag package understands it
// (-h, -help, --h, --help, also with =value), anywhere before a "--".
func wantsHelp(args []string) bool {
	for _, a := range args {
		if a == "--" {
			return false
		}
		name, _, _ := strings.Cut(strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-"), "=")
		if strings.HasPrefix(a, "-") && (name == "h" || name == "help") {
			return true
		}
	}
	return false
}

// printHelp writes a command's usage and flags to w. The flags come from the command
// itself, asked for help with flagArgs: its flag set prints them and stops it before it
// does anything else.
func printHelp(ctx context.Context, name string, cmd command, w io.Writer) error {
	fmt.Fprint(w, cmd.help)
	if cmd.flagArgs == nil {
		return nil
	}
	var flags bytes.Buffer
	err := cmd.run(ctx, cmd.flagArgs, map[string]string{}, &flags, &flags)
	var ue usageError
	if !errors.As(err, &ue) || ue.msg != flag.ErrHelp.Error() {
		return fmt.Errorf("%s did not print its flags (%v)", name, err)
	}
	// Drop flag's own "Usage of <name>:" line: help above says it better.
	out := flags.String()
	if first, after, ok := strings.Cut(out, "\n"); ok && strings.HasPrefix(first, "Usage of ") {
		out = after
	}
	fmt.Fprintf(w, "\nFlags:\n%s", out)
	return nil
}
