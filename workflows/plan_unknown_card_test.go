package workflows_test

import (
	"errors"
	"testing"
	"time"

	"github.com/recurring/recurring/activities/activitiestest"
	"github.com/recurring/recurring/billing"
	"github.com/recurring/recurring/providers"
	"github.com/recurring/recurring/workflows"
	"go.temporal.io/sdk/testsuite"
)

func (h *harness) logf(format string, args ...any) {
	h.t.Logf("%s "+format, append([]any{h.env.Now().Format(time.RFC3339)}, args...)...)
}

func dumpLedger(t *testing.T, h *harness) {
	for _, p := range h.ledger.Payments() {
		t.Logf("ledger %d/%d %s %s key=%s class=%s code=%s", p.Installment, p.Attempt, p.Status, p.PaymentMethodID, p.IdempotencyKey, p.FailureClass, p.FailureCode)
	}
	for _, c := range h.provider.Calls() {
		t.Logf("call %s %s n=%d", c.IdempotencyKey, c.Token, c.N)
	}
}

var errLookupDown = providers.TransportError("fake", errors.New("lookup down"))

// Regression tests from a review of plan version 4 (versionResolveOldCard): settling an
// attempt with an unknown outcome on the card the plan has left.

// TestCancelOrPauseDuringTheOldCardsLookupChargesNothing: cancel (or pause) arrives
// while the old card's lookup is being retried; the lookup then says "no such charge".
// The plan must not charge the new card: the main loop decides after the lookup.
func TestCancelOrPauseDuringTheOldCardsLookupChargesNothing(t *testing.T) {
	for _, upd := range []string{workflows.UpdateCancel, workflows.UpdatePause} {
		t.Run(upd, func(t *testing.T) {
			var h *harness
			h = newHarness(t, func(c activitiestest.Call) (providers.ChargeResult, error) {
				h.logf("charge %s %s n=%d", c.IdempotencyKey, c.Token, c.N)
				if c.IdempotencyKey == "plan_test1/1/1" {
					return providers.ChargeResult{}, activitiestest.Decline(providers.ClassTransient, billing.CodeTimeout)
				}
				return activitiestest.Succeed(c)
			})
			n := 0
			h.provider.Find = func(r providers.ChargeRequest) (providers.ChargeResult, error) {
				h.logf("find %s %q", r.IdempotencyKey, r.Token)
				if r.Token == "tok_1" && !h.env.Now().Before(utc("2027-01-31T12:00:00Z")) {
					if n++; n <= 3 {
						return providers.ChargeResult{}, errLookupDown
					}
				}
				return providers.ChargeResult{}, providers.ErrNoSuchCharge
			}
			var changed, second func() updateResult
			h.at(utc("2027-01-31T12:00:00Z"), func() {
				changed = h.update(workflows.UpdateChangePaymentMethod, workflows.ChangePaymentMethodRequest{PaymentMethodID: "pm_card2"})
			})
			h.at(utc("2027-01-31T12:00:02Z"), func() {
				h.logf("sending %s", upd)
				if upd == workflows.UpdateCancel {
					second = h.update(upd, workflows.CancelRequest{Reason: "customer left"})
				} else {
					second = h.update(upd, workflows.PauseRequest{})
				}
			})
			if upd == workflows.UpdatePause {
				h.cancelAt(utc("2027-06-01T00:00:00Z"))
			}
			res := h.run(input(t, monthly("2027-01-31", 2)))
			t.Logf("change %+v; second %+v", changed().state.Status, second())
			dumpLedger(t, h)
			for _, c := range h.provider.Calls() {
				if c.Token == "tok_2" && c.IdempotencyKey == "plan_test1/1/2" {
					t.Errorf("the new card was charged (%s) after the plan was %s during the lookup; result %+v", c.IdempotencyKey, upd, res)
				}
			}
		})
	}
}

// TestCardChangeDuringAnUnknownChargeKeepsItsKeyOnItsCard: the card changes while the
// charge activity is still retrying a timed-out attempt (before the workflow marked it
// unknown); the attempt's card is kept as UnknownCard, so its key never goes to the new
// card.
func TestCardChangeDuringAnUnknownChargeKeepsItsKeyOnItsCard(t *testing.T) {
	var h *harness
	h = newHarness(t, func(c activitiestest.Call) (providers.ChargeResult, error) {
		h.logf("charge %s %s n=%d", c.IdempotencyKey, c.Token, c.N)
		if c.IdempotencyKey == "plan_test1/1/1" && c.Token == "tok_1" {
			return providers.ChargeResult{}, activitiestest.Decline(providers.ClassTransient, billing.CodeTimeout)
		}
		return activitiestest.Succeed(c)
	})
	h.provider.Find = func(r providers.ChargeRequest) (providers.ChargeResult, error) {
		h.logf("find %s %q", r.IdempotencyKey, r.Token)
		return providers.ChargeResult{}, providers.ErrNoSuchCharge
	}
	var changed func() updateResult
	h.at(utc("2027-01-31T09:00:30Z"), func() {
		changed = h.update(workflows.UpdateChangePaymentMethod, workflows.ChangePaymentMethodRequest{PaymentMethodID: "pm_card2"})
	})
	h.run(input(t, monthly("2027-01-31", 2)))
	_ = changed()
	dumpLedger(t, h)
	for _, c := range h.provider.Calls() {
		if c.Token == "tok_2" && c.IdempotencyKey == "plan_test1/1/1" {
			t.Errorf("key plan_test1/1/1, sent to tok_1 with an unknown outcome, was sent to the new card tok_2")
		}
	}
}

// TestASettledAttemptLeavesNoStaleUnknownCard: the card changes while a same-card
// retry of an unknown attempt runs, and that retry ends final (declined). No stale
// UnknownCard may remain to "settle" a later unknown attempt of the new card on the old
// one (which would send the new card a second key).
func TestASettledAttemptLeavesNoStaleUnknownCard(t *testing.T) {
	var h *harness
	h = newHarness(t, func(c activitiestest.Call) (providers.ChargeResult, error) {
		h.logf("charge %s %s n=%d", c.IdempotencyKey, c.Token, c.N)
		switch {
		case c.IdempotencyKey == "plan_test1/1/1" && c.N <= 10:
			return providers.ChargeResult{}, activitiestest.Decline(providers.ClassTransient, billing.CodeTimeout)
		case c.IdempotencyKey == "plan_test1/1/1":
			return providers.ChargeResult{}, activitiestest.Decline(providers.ClassSoftDecline, billing.CodeInsufficientFunds)
		case c.IdempotencyKey == "plan_test1/1/2":
			return providers.ChargeResult{}, activitiestest.Decline(providers.ClassTransient, billing.CodeTimeout)
		}
		return activitiestest.Succeed(c)
	})
	h.pms.Set("pm_card3", activitiestest.Card{Provider: "fake", Token: "tok_3"})
	down := 0
	h.provider.Find = func(r providers.ChargeRequest) (providers.ChargeResult, error) {
		h.logf("find %s %q", r.IdempotencyKey, r.Token)
		// the day-later Resolve retry of 1/1 on card1: two lookups fail first
		if r.IdempotencyKey == "plan_test1/1/1" && !h.env.Now().Before(utc("2027-02-01T00:00:00Z")) {
			if down++; down <= 2 {
				return providers.ChargeResult{}, errLookupDown
			}
		}
		return providers.ChargeResult{}, providers.ErrNoSuchCharge
	}
	var st []func() updateResult
	h.at(utc("2027-02-01T09:04:04Z"), func() { h.logf("change to card2") })
	h.at(utc("2027-02-01T09:04:05Z"), func() {
		st = append(st, h.update(workflows.UpdateChangePaymentMethod, workflows.ChangePaymentMethodRequest{PaymentMethodID: "pm_card2"}))
	})
	h.cancelAt(utc("2027-06-01T00:00:00Z"))
	h.run(input(t, monthly("2027-01-31", 2)))
	dumpLedger(t, h)
	var sent12, sent13 bool
	for _, c := range h.provider.Calls() {
		sent12 = sent12 || c.IdempotencyKey == "plan_test1/1/2" && c.Token == "tok_2"
		sent13 = sent13 || c.IdempotencyKey == "plan_test1/1/3" && c.Token == "tok_2"
	}
	if sent12 && sent13 {
		t.Errorf("tok_2 was sent plan_test1/1/2 (outcome unknown) and then plan_test1/1/3: the unknown attempt was 'settled' by a lookup on the stale UnknownCard tok_1")
	}
}

// TestAFirstChargeFoundOnTheOldCardKeepsTheNewCardsNetworkID: the unknown attempt was
// the plan's customer-initiated first charge, found on the old card with its network
// transaction id; the new card's merchant-initiated charges must not carry it.
func TestAFirstChargeFoundOnTheOldCardKeepsTheNewCardsNetworkID(t *testing.T) {
	var h *harness
	h = newHarness(t, func(c activitiestest.Call) (providers.ChargeResult, error) {
		if c.IdempotencyKey == "plan_test1/1/1" {
			return providers.ChargeResult{}, activitiestest.Decline(providers.ClassTransient, billing.CodeTimeout)
		}
		return activitiestest.Succeed(c)
	})
	h.pms.Set("pm_card2", activitiestest.Card{Provider: "fake", Token: "tok_2", NetworkTransactionID: "nti_card2"})
	h.provider.Find = func(r providers.ChargeRequest) (providers.ChargeResult, error) {
		if r.Token == "tok_1" && !h.env.Now().Before(utc("2027-01-31T12:00:00Z")) {
			return providers.ChargeResult{ID: "ch_found", Status: providers.ChargeSucceeded, Amount: r.Amount, Currency: r.Currency, NetworkTransactionID: "nti_card1"}, nil
		}
		return providers.ChargeResult{}, providers.ErrNoSuchCharge
	}
	h.at(utc("2027-01-31T12:00:00Z"), func() {
		h.update(workflows.UpdateChangePaymentMethod, workflows.ChangePaymentMethodRequest{PaymentMethodID: "pm_card2"})
	})
	h.run(input(t, monthly("2027-01-31", 2)))
	for _, c := range h.provider.Calls() {
		t.Logf("call %s %s initiator=%s nti=%s", c.IdempotencyKey, c.Token, c.Initiator, c.NetworkTransactionID)
		if c.Token == "tok_2" && c.NetworkTransactionID == "nti_card1" {
			t.Errorf("card2's charge %s carries card1's network transaction id", c.IdempotencyKey)
		}
	}
}

// TestContinueAsNewCarriesTheUnknownCard: continue-as-new between the card change and
// the lookup carries UnknownCard, so the next run still asks the old card.
func TestContinueAsNewCarriesTheUnknownCard(t *testing.T) {
	h := newHarness(t, func(c activitiestest.Call) (providers.ChargeResult, error) {
		if c.IdempotencyKey == "plan_test1/1/1" {
			return providers.ChargeResult{}, activitiestest.Decline(providers.ClassTransient, billing.CodeTimeout)
		}
		return activitiestest.Succeed(c)
	})
	var toks []string
	h.provider.Find = func(r providers.ChargeRequest) (providers.ChargeResult, error) {
		toks = append(toks, r.Token)
		return providers.ChargeResult{}, providers.ErrNoSuchCharge
	}
	h.at(utc("2027-01-31T12:00:00Z"), func() {
		h.env.UpdateWorkflowByID(planID, workflows.UpdateChangePaymentMethod, "chg", &testsuite.TestUpdateCallback{
			OnAccept: func() {}, OnReject: func(err error) { t.Error(err) }, OnComplete: func(v any, err error) {},
		}, workflows.ChangePaymentMethodRequest{PaymentMethodID: "pm_card2"})
	})
	in := input(t, monthly("2027-01-31", 2))
	in.MaxRunCharges = 1
	res := h.runAsChild(in)
	dumpLedger(t, h)
	if len(toks) == 0 || toks[len(toks)-1] != "tok_1" {
		t.Errorf("lookups %v: the settling lookup must ask the old card (tok_1)", toks)
	}
	if res.Paid != 2 {
		t.Errorf("result %+v, want both installments paid (the first on the new card)", res)
	}
}
