package devserver_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"golang.org/x/sync/errgroup"
	_ "modernc.org/sqlite"

	"github.com/recurring/recurring/activities"
	"github.com/recurring/recurring/internal/devserver"
	"github.com/recurring/recurring/starter"
	"github.com/recurring/recurring/worker"
	"github.com/recurring/recurring/workflows"
)

// TestSQLiteUnderConcurrentWrites starts many workflows at once on the embedded server
// and requires that SQLite never answered "database is locked": the server's
// connections share one WAL file, and the busy_timeout and BEGIN IMMEDIATE options
// (txlockSuffix) are what make that safe.
func TestSQLiteUnderConcurrentWrites(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an embedded Temporal server")
	}
	dir := t.TempDir()
	srv, err := devserver.Start(devserver.Options{DataDir: dir, UIPort: -1, Namespace: "default", SearchAttributes: workflows.SearchAttributes()})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c, err := starter.Dial(ctx, starter.Config{HostPort: srv.HostPort, Namespace: "default"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	w := worker.New(c, activities.New(activities.Deps{}), worker.Options{})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	defer w.Stop()

	const n = 200
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(32)
	due := time.Now().Add(3 * time.Second)
	for i := range n {
		g.Go(func() error {
			run, err := c.ExecuteWorkflow(gctx, startOptions(i), workflows.Baseline, workflows.BaselineInput{DueAt: due})
			if err != nil {
				return err
			}
			return run.Get(gctx, nil)
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatalf("run %d workflows: %v", n, err)
	}

	logged, err := os.ReadFile(filepath.Join(dir, "temporal.log"))
	if err != nil {
		t.Fatal(err)
	}
	if k := strings.Count(string(logged), "database is locked"); k > 0 {
		t.Errorf("temporal.log has %d 'database is locked' errors under %d concurrent workflows", k, n)
	}

	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "temporal.db")+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = db.Close() }()
	var mode string
	if err := db.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil {
		t.Fatal(err)
	}
	if mode != "wal" {
		t.Errorf("temporal.db journal_mode = %q, want wal", mode)
	}
}

func startOptions(i int) client.StartWorkflowOptions {
	return client.StartWorkflowOptions{ID: fmt.Sprintf("concurrent-%d", i), TaskQueue: starter.TaskQueue}
}
