package workflows_test

import (
	"path/filepath"
	"testing"

	"go.temporal.io/sdk/worker"

	"github.com/recurring/recurring/workflows"
)

// TestReplayRecordedHistories replays every history in testdata/ against the current
// workflow code: a change that would break a running plan fails here. testdata/README.md
// says how the histories are recorded.
func TestReplayRecordedHistories(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no recorded histories in testdata/")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			r := worker.NewWorkflowReplayer()
			r.RegisterWorkflow(workflows.Plan)
			r.RegisterWorkflow(workflows.Baseline)
			if err := r.ReplayWorkflowHistoryFromJSONFile(quietLogger(), f); err != nil {
				t.Errorf("replay %s: %v", f, err)
			}
		})
	}
}
