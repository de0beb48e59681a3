package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/recurring/recurring/webhooks"
)

// runWebhook serves `recurring webhook listen`: a tiny receiver for local development
// that verifies each delivery's Standard Webhooks signature with the library, prints
// the event, and answers 204 (401 when the signature does not verify, so the engine
// retries and the attempt shows the failure).
func runWebhook(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "listen" {
		return usageError{"usage: recurring webhook listen --port P --secret whsec_…"}
	}
	fs := flag.NewFlagSet("webhook listen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	port := fs.Int("port", 9000, "port to listen on (127.0.0.1)")
	secret := fs.String("secret", "", "the endpoint's signing secret (whsec_…)")
	if err := fs.Parse(args[1:]); err != nil {
		return usageError{err.Error()}
	}
	if err := noArgs("webhook listen", fs.Args()); err != nil {
		return err
	}
	if *secret == "" {
		return usageError{"--secret is required (the whsec_… answered when the endpoint was created)"}
	}
	if err := webhooks.Verify(*secret, nil, http.Header{}); err != nil && !isMissingHeaders(err) {
		return usageError{"--secret is not a valid whsec_ secret"}
	}
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(*port)))
	if err != nil {
		return fmt.Errorf("listen on port %d: %w", *port, err)
	}
	fmt.Fprintf(stdout, "listening on http://%s (register it with a test key; Ctrl-C stops)\n", l.Addr())
	srv := &http.Server{Handler: listenHandler(*secret, stdout), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func isMissingHeaders(err error) bool {
	return err != nil && bytes.Contains([]byte(err.Error()), []byte("missing required headers"))
}

// listenHandler verifies and prints each webhook, one line per delivery: its
// webhook-id, type, the id of the object it is about (data.object.id), then the body.
func listenHandler(secret string, out io.Writer) http.Handler {
	var mu sync.Mutex
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(w, "read body", http.StatusBadRequest)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if err := webhooks.Verify(secret, body, r.Header); err != nil {
			fmt.Fprintf(out, "REJECTED %s: %v\n", r.Header.Get("webhook-id"), err)
			http.Error(w, "signature does not verify", http.StatusUnauthorized)
			return
		}
		var ev struct {
			Type string `json:"type"`
			Data struct {
				Object struct {
					ID string `json:"id"`
				} `json:"object"`
			} `json:"data"`
		}
		_ = json.Unmarshal(body, &ev)
		var compact bytes.Buffer
		if json.Compact(&compact, body) != nil {
			compact.Reset()
			compact.Write(body)
		}
		fmt.Fprintf(out, "verified %s %s %s %s\n", r.Header.Get("webhook-id"), ev.Type, ev.Data.Object.ID, compact.String())
		w.WriteHeader(http.StatusNoContent)
	})
}
