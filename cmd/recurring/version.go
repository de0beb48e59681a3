package main

import (
	"context"
	"fmt"
	"io"
	"runtime/debug"
	"strings"
)

// version and commit are set at build time (-ldflags "-X main.version=v1.2.3 -X
// main.commit=…", as the Dockerfile does: its build context has no .git); otherwise
// the module's version and the VCS stamp from the build info.
var version, commit = "", ""

// versionModules are the dependencies `recurring version` reports: what the binary
// speaks to Temporal with, and the server and UI `recurring dev` embeds.
var versionModules = []struct{ path, what string }{
	{"go.temporal.io/sdk", "Temporal SDK"},
	{"go.temporal.io/server", "Temporal server (embedded by dev; the version the code is tested against)"},
	{"github.com/temporalio/ui-server/v2", "Temporal Web UI server (embedded by dev)"},
}

func runVersion(_ context.Context, args []string, _ map[string]string, stdout, _ io.Writer) error {
	if err := noArgs("version", args); err != nil {
		return err
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return fmt.Errorf("version: the binary carries no build information")
	}
	v := version
	if v == "" {
		v = bi.Main.Version
	}
	rev, modified, when := commit, false, ""
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			if rev == "" {
				rev = s.Value
			}
		case "vcs.modified":
			modified = s.Value == "true"
		case "vcs.time":
			when = s.Value
		}
	}
	if rev == "" {
		rev = "unknown (built without VCS information)"
	} else if modified {
		rev += " (with uncommitted changes)"
	}
	fmt.Fprintf(stdout, "recurring %s\ncommit    %s\n", v, rev)
	if when != "" {
		fmt.Fprintf(stdout, "committed %s\n", when)
	}
	fmt.Fprintf(stdout, "go        %s\n", strings.TrimPrefix(bi.GoVersion, "go"))
	deps := map[string]string{}
	for _, d := range bi.Deps {
		if d.Replace != nil {
			d = d.Replace
		}
		deps[d.Path] = d.Version
	}
	for _, m := range versionModules {
		dv := deps[m.path]
		if dv == "" {
			dv = "not linked"
		}
		fmt.Fprintf(stdout, "%-9s %s %s: %s\n", "", m.path, dv, m.what)
	}
	return nil
}
