package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// runProbe is the containers' healthcheck (the distroless image has no shell, curl or
// wget): GET the URL, exit 0 on a 2xx answer within 3 s, 1 otherwise.
func runProbe(ctx context.Context, args []string, _ map[string]string, stdout, _ io.Writer) error {
	if len(args) != 1 {
		return usageError{"usage: recurring probe URL (for example http://127.0.0.1:8080/readyz)"}
	}
	u, err := url.Parse(args[0])
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return usageError{fmt.Sprintf("probe: %q is not an http(s) URL", args[0])}
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("probe %s: %w", u.Redacted(), err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("probe %s: %s", u.Redacted(), resp.Status)
	}
	fmt.Fprintf(stdout, "%s %s\n", u.Redacted(), resp.Status)
	return nil
}
