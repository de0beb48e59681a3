// Package storetest is the contract suite of the domain's storage interfaces: the
// rules every implementation keeps, run against store.DB on SQLite and Postgres and
// against the in-memory fakes the workflow and activity tests use
// (activities/activitiestest), so a fake cannot drift from the store it stands in for.
package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/recurring/recurring/billing"
)

// Card names a saved card and who owns it.
type Card struct {
	MerchantID      string
	CustomerID      string
	PaymentMethodID string
}

// Subject is an implementation under test with the means to set it up and observe it.
type Subject struct {
	Ledger billing.Ledger
	Cards  billing.CardCharger
	// SaveCard saves an active card with token for a new customer of a new merchant,
	// in test mode.
	SaveCard func(t *testing.T, token string) Card
	// Block and Detach block and detach a saved card as the API would.
	Block, Detach func(t *testing.T, c Card)
	// Plan reads a plan as recorded.
	Plan func(t *testing.T, c Card, id string) billing.Plan
	// Events returns the merchant's events, oldest first.
	Events func(t *testing.T, merchantID string) []billing.Event
}

// RunLedger runs the Ledger and CardCharger contract against fresh subjects.
func RunLedger(t *testing.T, newSubject func(t *testing.T) Subject) {
	t.Run("CreatePlanOnce", func(t *testing.T) { createPlanOnce(t, newSubject(t)) })
	t.Run("PlanUpdatesApplyInOrder", func(t *testing.T) { planUpdatesApplyInOrder(t, newSubject(t)) })
	t.Run("UpdateOfAnUnknownPlanIsNotFound", func(t *testing.T) { updateUnknownPlan(t, newSubject(t)) })
	t.Run("PaymentsAreInsertOrGet", func(t *testing.T) { paymentsAreInsertOrGet(t, newSubject(t)) })
	t.Run("UnknownOutcomeIsSettledOnce", func(t *testing.T) { unknownOutcomeSettles(t, newSubject(t)) })
	t.Run("AcceptedPendingIsNotOverwritten", func(t *testing.T) { acceptedPendingStays(t, newSubject(t)) })
	t.Run("FailedAttemptsSinceCountsTheCard", func(t *testing.T) { failedAttemptsSince(t, newSubject(t)) })
	t.Run("ChargeableCardHidesTokensOfStoppedCards", func(t *testing.T) { chargeableCard(t, newSubject(t)) })
	t.Run("FirstNetworkTransactionIDStays", func(t *testing.T) { networkID(t, newSubject(t)) })
}

var ctx = context.Background()

func newPlan(c Card, id string) billing.Plan {
	next := time.Date(2030, 1, 2, 9, 0, 0, 0, time.UTC)
	return billing.Plan{ID: id, MerchantID: c.MerchantID, Mode: billing.ModeTest, CustomerID: c.CustomerID,
		PaymentMethodID: c.PaymentMethodID, Provider: "simulator", Currency: "USD", Type: "ecom",
		Schedule: billing.JSONDoc(`{"frequency":"months","recurring_amount":1000}`), Timetable: billing.JSONDoc(`{}`),
		Dunning: billing.JSONDoc(`{}`), Status: billing.PlanActive, NextChargeAt: &next}
}

func newPayment(c Card, planID string, inst, attempt int, status billing.PaymentStatus, class string, at time.Time) billing.Payment {
	p := billing.Payment{MerchantID: c.MerchantID, Mode: billing.ModeTest, CustomerID: c.CustomerID,
		PaymentMethodID: c.PaymentMethodID, Installment: inst, Attempt: attempt, Amount: 1000, Currency: "USD",
		Status: status, PaymentType: billing.PaymentRecurring, IsRecurring: true, Provider: "simulator",
		IdempotencyKey: fmt.Sprintf("%s/%s/%d/%d", c.PaymentMethodID, planID, inst, attempt),
		FailureClass:   class, AttemptedAt: at.UTC().Truncate(time.Millisecond)}
	if planID != "" {
		p.PlanID = &planID
	}
	if status == billing.PaymentFailed {
		p.FailureCode = billing.CodeCardDeclined
	}
	return p
}

// object decodes an event's data.object.
func object(t *testing.T, ev billing.Event) map[string]any {
	t.Helper()
	var data struct {
		Object map[string]any `json:"object"`
	}
	if err := json.Unmarshal(ev.Data, &data); err != nil || data.Object == nil {
		t.Fatalf("event %s data %s is not {\"object\": …}: %v", ev.Type, ev.Data, err)
	}
	return data.Object
}

func types(evs []billing.Event) []string {
	var out []string
	for _, ev := range evs {
		out = append(out, ev.Type)
	}
	return out
}

func wantKind(t *testing.T, what string, err error, kind billing.Kind) {
	t.Helper()
	var be *billing.Error
	if !errors.As(err, &be) || be.Kind != kind {
		t.Fatalf("%s: error %v, want a billing error of kind %s", what, err, kind)
	}
}

func createPlanOnce(t *testing.T, s Subject) {
	c := s.SaveCard(t, "tok_plan")
	p := newPlan(c, "plan_contract_create")
	got, created, err := s.Ledger.CreatePlan(ctx, p)
	if err != nil || !created || got.ID != p.ID || got.Status != billing.PlanActive || got.MerchantID != c.MerchantID {
		t.Fatalf("first create: %+v created=%v, %v", got, created, err)
	}
	again, created, err := s.Ledger.CreatePlan(ctx, p)
	if err != nil || created || again.ID != p.ID {
		t.Fatalf("second create (a retried activity): %+v created=%v, %v", again, created, err)
	}
	evs := s.Events(t, c.MerchantID)
	if !slices.Equal(types(evs), []string{billing.EventPlanCreated}) {
		t.Fatalf("events %v, want one plan.created", types(evs))
	}
	if obj := object(t, evs[0]); obj["id"] != p.ID || obj["object"] != "plan" || obj["status"] != "active" {
		t.Errorf("plan.created data.object %v, want the plan", obj)
	}
	other := s.SaveCard(t, "tok_other")
	taken := newPlan(other, p.ID)
	if _, _, err := s.Ledger.CreatePlan(ctx, taken); err == nil {
		t.Fatal("another merchant created a plan under a taken id")
	} else {
		wantKind(t, "another merchant's plan id", err, billing.KindConflict)
	}
}

func planUpdatesApplyInOrder(t *testing.T, s Subject) {
	c := s.SaveCard(t, "tok_upd")
	p := newPlan(c, "plan_contract_update")
	if _, _, err := s.Ledger.CreatePlan(ctx, p); err != nil {
		t.Fatal(err)
	}
	next := time.Date(2030, 2, 2, 9, 0, 0, 0, time.UTC)
	later := next.Add(24 * time.Hour)
	steps := []struct {
		name string
		u    billing.PlanUpdate
		want []string // event types appended by this step
		st   billing.PlanStatus
	}{
		{"paused: a status change announces plan.updated",
			billing.PlanUpdate{PlanID: p.ID, Seq: 1, Status: billing.PlanPaused, NextChargeAt: &next},
			[]string{billing.EventPlanUpdated}, billing.PlanPaused},
		{"the same update again (an activity retry) is a no-op",
			billing.PlanUpdate{PlanID: p.ID, Seq: 1, Status: billing.PlanPaused, NextChargeAt: &next},
			nil, billing.PlanPaused},
		{"an older update changes nothing and announces nothing",
			billing.PlanUpdate{PlanID: p.ID, Seq: 0, Status: billing.PlanActive, NextChargeAt: &next},
			nil, billing.PlanPaused},
		{"a moved next charge alone announces nothing",
			billing.PlanUpdate{PlanID: p.ID, Seq: 2, Status: billing.PlanPaused, NextChargeAt: &later},
			nil, billing.PlanPaused},
		{"a named event is appended, showing the plan as updated",
			billing.PlanUpdate{PlanID: p.ID, Seq: 3, Status: billing.PlanPastDue, NextChargeAt: &later,
				Event: &billing.Event{Type: billing.EventPlanPastDue, IdempotencyKey: p.ID + "/state/3/" + billing.EventPlanPastDue}},
			[]string{billing.EventPlanPastDue}, billing.PlanPastDue},
		{"and only once",
			billing.PlanUpdate{PlanID: p.ID, Seq: 3, Status: billing.PlanPastDue, NextChargeAt: &later,
				Event: &billing.Event{Type: billing.EventPlanPastDue, IdempotencyKey: p.ID + "/state/3/" + billing.EventPlanPastDue}},
			nil, billing.PlanPastDue},
		{"an older update naming an event announces nothing",
			billing.PlanUpdate{PlanID: p.ID, Seq: 2, Status: billing.PlanCanceled,
				Event: &billing.Event{Type: billing.EventPlanCanceled, IdempotencyKey: p.ID + "/state/2/" + billing.EventPlanCanceled}},
			nil, billing.PlanPastDue},
	}
	seen := len(s.Events(t, c.MerchantID))
	for _, step := range steps {
		if err := s.Ledger.UpdatePlanState(ctx, step.u); err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		evs := s.Events(t, c.MerchantID)
		if got := types(evs[seen:]); !slices.Equal(got, step.want) {
			t.Errorf("%s: events %v, want %v", step.name, got, step.want)
		}
		for _, ev := range evs[seen:] {
			if obj := object(t, ev); obj["id"] != p.ID || obj["status"] != string(step.st) {
				t.Errorf("%s: %s data.object %v, want the plan with status %s", step.name, ev.Type, obj, step.st)
			}
		}
		seen = len(evs)
		if got := s.Plan(t, c, p.ID); got.Status != step.st {
			t.Errorf("%s: plan status %s, want %s", step.name, got.Status, step.st)
		}
	}
	if got := s.Plan(t, c, p.ID); got.StateSeq != 3 || got.NextChargeAt == nil || !got.NextChargeAt.Equal(later) {
		t.Errorf("plan after the updates: seq %d next %v, want seq 3 next %v", got.StateSeq, got.NextChargeAt, later)
	}
}

func updateUnknownPlan(t *testing.T, s Subject) {
	err := s.Ledger.UpdatePlanState(ctx, billing.PlanUpdate{PlanID: "plan_contract_missing", Seq: 1, Status: billing.PlanPaused})
	wantKind(t, "update of an unknown plan", err, billing.KindNotFound)
}

func paymentsAreInsertOrGet(t *testing.T, s Subject) {
	c := s.SaveCard(t, "tok_pay")
	p := newPlan(c, "plan_contract_pay")
	if _, _, err := s.Ledger.CreatePlan(ctx, p); err != nil {
		t.Fatal(err)
	}
	seen := len(s.Events(t, c.MerchantID))
	at := time.Date(2030, 1, 2, 9, 0, 1, 0, time.UTC)
	first, err := s.Ledger.RecordPayment(ctx, newPayment(c, p.ID, 1, 1, billing.PaymentSucceeded, "", at))
	if err != nil || first.ID == "" || first.Status != billing.PaymentSucceeded {
		t.Fatalf("record: %+v, %v", first, err)
	}
	again, err := s.Ledger.RecordPayment(ctx, newPayment(c, p.ID, 1, 1, billing.PaymentFailed, "hard", at.Add(time.Minute)))
	if err != nil || again.ID != first.ID || again.Status != billing.PaymentSucceeded {
		t.Fatalf("the same attempt recorded again: %+v, %v; want the stored row %s", again, err, first.ID)
	}
	evs := s.Events(t, c.MerchantID)[seen:]
	if !slices.Equal(types(evs), []string{billing.EventPaymentSucceeded}) {
		t.Fatalf("events %v, want one payment.succeeded", types(evs))
	}
	if obj := object(t, evs[0]); obj["id"] != first.ID || obj["object"] != "payment" || obj["plan"] != p.ID {
		t.Errorf("payment.succeeded data.object %v, want payment %s of %s", obj, first.ID, p.ID)
	}
	oneOff := newPayment(c, "", 0, 1, billing.PaymentFailed, "hard", at)
	oneOff.ID, oneOff.PaymentType, oneOff.IsRecurring = "pay_contract_oneoff", billing.PaymentOneOff, false
	got, err := s.Ledger.RecordPayment(ctx, oneOff)
	if err != nil || got.ID != oneOff.ID || got.PlanID != nil || got.PaymentType != billing.PaymentOneOff {
		t.Fatalf("a one-off payment keeps the id it was given: %+v, %v", got, err)
	}
	if evs := s.Events(t, c.MerchantID); evs[len(evs)-1].Type != billing.EventPaymentFailed {
		t.Errorf("last event %s, want payment.failed", evs[len(evs)-1].Type)
	}
}

func unknownOutcomeSettles(t *testing.T, s Subject) {
	c := s.SaveCard(t, "tok_unknown")
	at := time.Date(2030, 1, 2, 9, 0, 0, 0, time.UTC)
	unknown, err := s.Ledger.RecordPayment(ctx, newPayment(c, "", 0, 1, billing.PaymentPending, "transient", at))
	if err != nil || unknown.Status != billing.PaymentPending || !unknown.OutcomeUnknown() {
		t.Fatalf("record an attempt nobody knows the outcome of: %+v, %v", unknown, err)
	}
	if evs := s.Events(t, c.MerchantID); len(evs) != 0 {
		t.Fatalf("a pending attempt announced %v", types(evs))
	}
	settled, err := s.Ledger.RecordPayment(ctx, newPayment(c, "", 0, 1, billing.PaymentSucceeded, "", at.Add(time.Minute)))
	if err != nil || settled.ID != unknown.ID || settled.Status != billing.PaymentSucceeded {
		t.Fatalf("settle: %+v, %v; want %s succeeded", settled, err, unknown.ID)
	}
	final, err := s.Ledger.RecordPayment(ctx, newPayment(c, "", 0, 1, billing.PaymentFailed, "hard", at.Add(2*time.Minute)))
	if err != nil || final.ID != unknown.ID || final.Status != billing.PaymentSucceeded {
		t.Fatalf("a settled attempt changed: %+v, %v", final, err)
	}
	if got := types(s.Events(t, c.MerchantID)); !slices.Equal(got, []string{billing.EventPaymentSucceeded}) {
		t.Errorf("events %v, want one payment.succeeded", got)
	}
}

func acceptedPendingStays(t *testing.T, s Subject) {
	c := s.SaveCard(t, "tok_accepted")
	at := time.Date(2030, 1, 2, 9, 0, 0, 0, time.UTC)
	accepted, err := s.Ledger.RecordPayment(ctx, newPayment(c, "", 0, 1, billing.PaymentPending, "", at))
	if err != nil || accepted.OutcomeUnknown() {
		t.Fatalf("record an accepted pending charge: %+v, %v", accepted, err)
	}
	again, err := s.Ledger.RecordPayment(ctx, newPayment(c, "", 0, 1, billing.PaymentFailed, "hard", at))
	if err != nil || again.ID != accepted.ID || again.Status != billing.PaymentPending {
		t.Fatalf("an accepted pending charge was overwritten: %+v, %v", again, err)
	}
	if evs := s.Events(t, c.MerchantID); len(evs) != 0 {
		t.Errorf("events %v, want none", types(evs))
	}
}

func failedAttemptsSince(t *testing.T, s Subject) {
	c := s.SaveCard(t, "tok_failed")
	p := newPlan(c, "plan_contract_failed")
	if _, _, err := s.Ledger.CreatePlan(ctx, p); err != nil {
		t.Fatal(err)
	}
	other := s.SaveCard(t, "tok_failed_other")
	since := time.Date(2030, 1, 10, 0, 0, 0, 0, time.UTC)
	h := time.Hour
	record := []billing.Payment{
		newPayment(c, p.ID, 1, 1, billing.PaymentFailed, "soft", since.Add(-h)),      // before since
		newPayment(c, p.ID, 1, 2, billing.PaymentFailed, "soft", since.Add(h)),       // counts
		newPayment(c, p.ID, 1, 3, billing.PaymentSucceeded, "", since.Add(2*h)),      // succeeded
		newPayment(c, "", 0, 1, billing.PaymentPending, "transient", since.Add(3*h)), // unknown outcome: counts
		newPayment(c, "", 0, 2, billing.PaymentPending, "", since.Add(4*h)),          // accepted: does not
		newPayment(other, "", 0, 1, billing.PaymentFailed, "soft", since.Add(h)),     // another card
	}
	for _, pay := range record {
		if _, err := s.Ledger.RecordPayment(ctx, pay); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.Ledger.FailedAttemptsSince(ctx, c.MerchantID, c.PaymentMethodID, since)
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(got, func(a, b time.Time) int { return a.Compare(b) })
	want := []time.Time{since.Add(h), since.Add(3 * h)}
	if len(got) != len(want) || !got[0].Equal(want[0]) || !got[1].Equal(want[1]) {
		t.Errorf("failed attempts %v, want %v", got, want)
	}
}

func chargeableCard(t *testing.T, s Subject) {
	c := s.SaveCard(t, "tok_chargeable")
	card, err := s.Cards.ChargeableCard(ctx, c.MerchantID, c.PaymentMethodID)
	if err != nil || card.Token != "tok_chargeable" || card.Blocked || card.Detached || card.PaymentMethodID != c.PaymentMethodID {
		t.Fatalf("active card: %v, %v", card, err)
	}
	other := s.SaveCard(t, "tok_chargeable_other")
	_, err = s.Cards.ChargeableCard(ctx, other.MerchantID, c.PaymentMethodID)
	wantKind(t, "another merchant's card", err, billing.KindNotFound)
	_, err = s.Cards.ChargeableCard(ctx, c.MerchantID, "pm_contract_missing")
	wantKind(t, "an unknown card", err, billing.KindNotFound)

	s.Block(t, c)
	if card, err := s.Cards.ChargeableCard(ctx, c.MerchantID, c.PaymentMethodID); err != nil || !card.Blocked || card.Token != "" {
		t.Fatalf("blocked card: %v (token set: %v), %v", card, card.Token != "", err)
	}
	s.Detach(t, other)
	if card, err := s.Cards.ChargeableCard(ctx, other.MerchantID, other.PaymentMethodID); err != nil || !card.Detached || card.Token != "" {
		t.Fatalf("detached card: %v (token set: %v), %v", card, card.Token != "", err)
	}
}

func networkID(t *testing.T, s Subject) {
	c := s.SaveCard(t, "tok_nti")
	for _, nti := range []string{"nti_first", "nti_second"} {
		if err := s.Cards.RecordNetworkTransactionID(ctx, c.MerchantID, c.PaymentMethodID, nti); err != nil {
			t.Fatal(err)
		}
	}
	if card, err := s.Cards.ChargeableCard(ctx, c.MerchantID, c.PaymentMethodID); err != nil || card.NetworkTransactionID != "nti_first" {
		t.Errorf("network id %q, %v; want the first recorded", card.NetworkTransactionID, err)
	}
}
