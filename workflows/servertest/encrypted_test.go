package servertest

import (
	"context"
	"testing"

	"github.com/recurring/recurring/activities/activitiestest"
	"github.com/recurring/recurring/billing"
	"github.com/recurring/recurring/internal/payloadcodec"
	"github.com/recurring/recurring/internal/seal"
	"github.com/recurring/recurring/starter"
)

// replayKeySpec is the test-only key the encrypted replay history is recorded under;
// workflows/replay_test.go holds the same, to replay it.
const replayKeySpec = "replay:5245504c41592d4b45592d464f522d54455354532d4f4e4c592d303132333435"

// TestEncryptedPlanOnRealServer runs a plan whose client and worker encrypt every
// payload with the codec, and checks the history the server holds is encrypted. With
// -record it is written to workflows/testdata/plan_encrypted.json, which the replay
// test replays with the same codec.
func TestEncryptedPlanOnRealServer(t *testing.T) {
	ring, err := seal.Parse(replayKeySpec)
	if err != nil {
		t.Fatal(err)
	}
	codec, err := payloadcodec.New(ring)
	if err != nil {
		t.Fatal(err)
	}
	e := startEnv(t, activitiestest.Succeed, nil, oneCard(), &activitiestest.Notifier{}, func(c *starter.Config) {
		c.DataConverter, c.FailureConverter = codec.DataConverter(), codec.FailureConverter()
	})
	in := testPlan(t, e, "plan_encrypted", 2, 1)
	in.Reference = "order-encrypted-1"
	if _, err := starter.StartPlan(context.Background(), e.c, in); err != nil {
		t.Fatal(err)
	}
	res := runToEnd(t, e, in.PlanID)
	if res.Status != billing.PlanCompleted || res.Paid != 2 {
		t.Fatalf("plan result %+v, want completed with 2 paid", res)
	}
	h := history(t, e.c, in.PlanID)
	enc := 0
	for _, ev := range h.GetEvents() {
		for _, p := range ev.GetWorkflowExecutionStartedEventAttributes().GetInput().GetPayloads() {
			if string(p.GetMetadata()["encoding"]) != payloadcodec.Encoding {
				t.Errorf("the start input is %q, not encrypted", p.GetMetadata()["encoding"])
			}
			enc++
		}
		for _, p := range ev.GetActivityTaskCompletedEventAttributes().GetResult().GetPayloads() {
			if string(p.GetMetadata()["encoding"]) != payloadcodec.Encoding {
				t.Errorf("an activity result is %q, not encrypted", p.GetMetadata()["encoding"])
			}
			enc++
		}
	}
	if enc < 3 {
		t.Fatalf("%d payloads checked, want the input and the activities' results", enc)
	}
	recordSingleRun(t, e, res, in.PlanID, "plan_encrypted.json")
}
