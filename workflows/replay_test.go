package workflows_test

import (
	"encoding/base64"
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"github.com/recurring/recurring/internal/payloadcodec"
	"github.com/recurring/recurring/internal/seal"
	"github.com/recurring/recurring/workflows"
)

// replayed are the workflow types the replayer registers, by name: every type the
// worker registers (TestReplayCoversEveryWorkerWorkflow keeps the two lists equal).
var replayed = map[string]any{
	"Baseline":         workflows.Baseline,
	"Plan":             workflows.Plan,
	"Payment":          workflows.Payment,
	"Refund":           workflows.Refund,
	"RemoveCredential": workflows.RemoveCredential,
	"HostedPayment":    workflows.HostedPayment,
	"WebhookDelivery":  workflows.WebhookDelivery,
}

// replayKeySpec is the test-only key workflows/servertest records plan_encrypted.json
// under (TestEncryptedPlanOnRealServer holds the same).
const replayKeySpec = "replay:5245504c41592d4b45592d464f522d54455354532d4f4e4c592d303132333435"

// replayCodec is the payload codec every process uses, under the replay key: encrypted
// histories decode, plain ones (recorded before the codec) pass as they are.
var replayCodec = func() *payloadcodec.Codec {
	ring, err := seal.Parse(replayKeySpec)
	if err != nil {
		panic(err)
	}
	c, err := payloadcodec.New(ring)
	if err != nil {
		panic(err)
	}
	return c
}()

// TestReplayRecordedHistories replays every history in testdata/ against the current
// workflow code: a change that would break a running workflow fails here, and so does
// a workflow type without a recorded history. testdata/README.md says how the
// histories are recorded.
func TestReplayRecordedHistories(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no recorded histories in testdata/")
	}
	seen := map[string]int{}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			r, err := os.Open(f)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = r.Close() }()
			h, err := client.HistoryFromJSON(r, client.HistoryJSONOptions{})
			if err != nil {
				t.Fatalf("read %s: %v", f, err)
			}
			typ := h.GetEvents()[0].GetWorkflowExecutionStartedEventAttributes().GetWorkflowType().GetName()
			if _, ok := replayed[typ]; !ok {
				t.Fatalf("%s is a history of %q, which the replayer does not register", f, typ)
			}
			seen[typ]++
			if strings.Contains(f, "encrypted") {
				// It must really be encrypted, or it proves nothing.
				in := h.GetEvents()[0].GetWorkflowExecutionStartedEventAttributes().GetInput().GetPayloads()
				if len(in) == 0 || string(in[0].GetMetadata()["encoding"]) != payloadcodec.Encoding {
					t.Fatalf("%s: the start input is not encrypted", f)
				}
			}
			// With the payload codec every process uses: histories recorded before it
			// (plain payloads) must still replay.
			rep, err := worker.NewWorkflowReplayerWithOptions(worker.WorkflowReplayerOptions{
				DataConverter: replayCodec.DataConverter(), FailureConverter: replayCodec.FailureConverter()})
			if err != nil {
				t.Fatal(err)
			}
			for _, wf := range replayed {
				rep.RegisterWorkflow(wf)
			}
			if err := rep.ReplayWorkflowHistory(quietLogger(), h); err != nil {
				t.Errorf("replay %s (%s): %v", f, typ, err)
			}
		})
	}
	for typ := range replayed {
		if seen[typ] == 0 {
			t.Errorf("no recorded history of %s in testdata/: record one (see testdata/README.md)", typ)
		}
	}
}

// secretPrefixes start the secrets a history must never hold: provider card tokens
// (the fakes' tok_…), webhook signing secrets and API keys.
var secretPrefixes = []string{"tok_", "whsec_", "sk_test_", "sk_live_"}

// TestRecordedHistoriesHoldNoSecrets looks through every recorded history, the
// payloads decoded (protojson writes them as base64), for a card token or a secret: a
// history is committed, and shows what workflows and activities pass each other.
func TestRecordedHistoriesHoldNoSecrets(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var doc any
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		texts := []string{string(b)}
		var walk func(key string, v any)
		walk = func(key string, v any) {
			switch v := v.(type) {
			case map[string]any:
				for k, e := range v {
					walk(k, e)
				}
			case []any:
				for _, e := range v {
					walk(key, e)
				}
			case string:
				if key == "data" {
					if d, err := base64.StdEncoding.DecodeString(v); err == nil {
						texts = append(texts, string(d))
					}
				}
			}
		}
		walk("", doc)
		for _, text := range texts {
			for _, p := range secretPrefixes {
				if i := strings.Index(text, p); i >= 0 {
					t.Errorf("%s holds %q: …%s…", f, p, text[max(0, i-40):min(len(text), i+40)])
				}
			}
		}
	}
}

// TestReplayCoversEveryWorkerWorkflow reads the workflows worker.New registers from its
// source, so a workflow added there without a recorded history cannot go unreplayed.
func TestReplayCoversEveryWorkerWorkflow(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), filepath.Join("..", "worker", "worker.go"), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var registered []string
	ast.Inspect(f, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok || len(call.Args) != 1 {
			return true
		}
		if fn, ok := call.Fun.(*ast.SelectorExpr); !ok || fn.Sel.Name != "RegisterWorkflow" {
			return true
		}
		if arg, ok := call.Args[0].(*ast.SelectorExpr); ok {
			registered = append(registered, arg.Sel.Name)
		}
		return true
	})
	if len(registered) == 0 {
		t.Fatal("found no RegisterWorkflow(workflows.X) call in worker/worker.go")
	}
	var want []string
	for typ := range replayed {
		want = append(want, typ)
	}
	slices.Sort(registered)
	slices.Sort(want)
	if !slices.Equal(registered, want) {
		t.Errorf("worker.New registers %v, the replay test %v", registered, want)
	}
}
