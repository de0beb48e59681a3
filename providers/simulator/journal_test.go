package simulator_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/recurring/recurring/billing"
	"github.com/recurring/recurring/providers"
	"github.com/recurring/recurring/providers/simulator"
)

// memJournal is a Journal shared by simulators standing in for successive processes.
type memJournal struct {
	mu      sync.Mutex
	records map[string][]byte
}

var _ simulator.Journal = (*memJournal)(nil)

func (j *memJournal) LookupCharge(_ context.Context, key string) ([]byte, bool, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	r, ok := j.records[key]
	return r, ok, nil
}

func (j *memJournal) SaveCharge(_ context.Context, key string, record []byte) ([]byte, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if r, ok := j.records[key]; ok {
		return r, nil
	}
	j.records[key] = record
	return record, nil
}

// A worker that crashes after the provider charged, but before it heard the answer,
// retries with the same key from a new process: the journal makes that a replay.
func TestJournalKeepsIdempotencyAcrossRestarts(t *testing.T) {
	j := &memJournal{records: map[string][]byte{}}
	first := newSim(t, simulator.Options{Journal: j, AnswerDelay: time.Hour})
	saved := save(t, first, "4242424242424242")

	// The caller gives up (its process dies) while the answer is held back.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := first.Charge(ctx, charge(saved, "plan_1/1/1"))
	if providers.ClassOf(err) != providers.ClassTransient {
		t.Fatalf("charge abandoned during the answer delay: %v, want a transient error", err)
	}
	if n := len(first.Charges()); n != 1 {
		t.Fatalf("the first process charged %d times, want 1 (the charge was committed before the answer)", n)
	}

	restarted := newSim(t, simulator.Options{Journal: j})
	res, err := restarted.Charge(context.Background(), charge(saved, "plan_1/1/1"))
	if err != nil {
		t.Fatalf("retry after restart: %v", err)
	}
	if res.ID != first.Charges()[0].ChargeID {
		t.Errorf("retry answered charge %s, want the first charge %s", res.ID, first.Charges()[0].ChargeID)
	}
	if n := len(restarted.Charges()); n != 0 {
		t.Errorf("the restarted process charged %d more times, want 0", n)
	}

	other := charge(saved, "plan_1/1/1")
	other.Amount++
	if _, err := restarted.Charge(context.Background(), other); providers.CodeOf(err) != billing.CodeIdempotencyConflict {
		t.Errorf("same key, other amount after restart: %v, want idempotency_conflict", err)
	}
}

func TestJournalReplaysDeclines(t *testing.T) {
	j := &memJournal{records: map[string][]byte{}}
	first := newSim(t, simulator.Options{Journal: j})
	saved := save(t, first, "4000000000009995")
	_, err1 := first.Charge(context.Background(), charge(saved, "k"))
	_, err2 := newSim(t, simulator.Options{Journal: j}).Charge(context.Background(), charge(saved, "k"))
	var e1, e2 *providers.Error
	if !errors.As(err1, &e1) || !errors.As(err2, &e2) {
		t.Fatalf("want declines, got %v and %v", err1, err2)
	}
	if e1.Class != e2.Class || e1.Code != e2.Code || e1.NetworkCode != e2.NetworkCode {
		t.Errorf("replayed decline %+v differs from the original %+v", e2, e1)
	}
}

// Transient failures are not answers: they are not journaled, so the retry executes.
func TestJournalSkipsTransientFailures(t *testing.T) {
	j := &memJournal{records: map[string][]byte{}}
	s := newSim(t, simulator.Options{Journal: j})
	saved := save(t, s, "4000000000000119")
	if _, err := s.Charge(context.Background(), charge(saved, "k")); providers.ClassOf(err) != providers.ClassTransient {
		t.Fatalf("first attempt: %v, want transient", err)
	}
	if len(j.records) != 0 {
		t.Fatalf("a transient failure was journaled")
	}
	if _, err := s.Charge(context.Background(), charge(saved, "k")); err != nil {
		t.Fatalf("retry: %v", err)
	}
	if len(j.records) != 1 || len(s.Charges()) != 1 {
		t.Errorf("after the retry: %d journal records, %d charges; want 1 and 1", len(j.records), len(s.Charges()))
	}
}
