package api

import (
	"context"
	"strings"

	"github.com/recurring/recurring/billing"
	"github.com/recurring/recurring/providers/simulator"
)

// PlanNotifier is where plans learn that a card they charge changed. The API calls it
// after the store has recorded the change, on every block, unblock and detach request
// (also when the card was already in that state, so a retried request repairs a
// notification that failed). An error fails the request with a 5xx; the store change
// stays, and the client's retry notifies again.
//
// With a workflow service, planHooks signals `block`, `unblock` or `detach` to every
// unfinished plan whose payment method is pmID; without one, NoPlans does nothing.
// Independently, the store's ChargeableCard flags blocked and detached cards and unseals no
// token for them, so a missed notification can never lead to a charge.
type PlanNotifier interface {
	PaymentMethodBlocked(ctx context.Context, merchantID, pmID string) error
	PaymentMethodUnblocked(ctx context.Context, merchantID, pmID string) error
	PaymentMethodDetached(ctx context.Context, merchantID, pmID string) error
}

// PlanCounter counts a customer's plans that are not completed, canceled or failed;
// DELETE /v1/customers/{id} is refused with 409 customer_has_active_plans while it is
// above zero. planHooks counts the plans in the store; NoPlans, for an engine without a
// workflow service, says zero.
type PlanCounter interface {
	ActivePlans(ctx context.Context, merchantID, customerID string) (int, error)
}

// NoPlans is the PlanNotifier and PlanCounter of an engine without plans.
type NoPlans struct{}

var (
	_ PlanNotifier = NoPlans{}
	_ PlanCounter  = NoPlans{}
)

// PaymentMethodBlocked does nothing.
func (NoPlans) PaymentMethodBlocked(context.Context, string, string) error { return nil }

// PaymentMethodUnblocked does nothing.
func (NoPlans) PaymentMethodUnblocked(context.Context, string, string) error { return nil }

// PaymentMethodDetached does nothing.
func (NoPlans) PaymentMethodDetached(context.Context, string, string) error { return nil }

// ActivePlans is always zero.
func (NoPlans) ActivePlans(context.Context, string, string) (int, error) { return 0, nil }

// ProviderPolicy says whether objects of mode may use provider. A provider account is
// either a sandbox or real money, so test objects must never reach a live account and
// live objects never a sandbox.
type ProviderPolicy func(provider string, mode billing.Mode) bool

// DefaultProviderPolicy allows the simulator (and any provider named simulator-…) in
// test mode only, and every other provider in both modes. Processes that know which
// mode a provider account is in (cmd/recurring looks at the Stripe key's prefix) pass a
// stricter policy.
func DefaultProviderPolicy(provider string, mode billing.Mode) bool {
	if provider == simulator.Name || strings.HasPrefix(provider, simulator.Name+"-") {
		return mode == billing.ModeTest
	}
	return true
}
