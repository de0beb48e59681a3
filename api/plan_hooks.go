package api

import (
	"context"
	"fmt"

	"go.temporal.io/sdk/client"

	"github.com/recurring/recurring/billing"
	"github.com/recurring/recurring/starter"
)

// planHooks is the PlanNotifier and PlanCounter of an engine with plans: a card's
// block, unblock and detach reach every unfinished plan that charges it, as signals.
type planHooks struct {
	store    billing.Store
	temporal client.Client
}

var (
	_ PlanNotifier = planHooks{}
	_ PlanCounter  = planHooks{}
)

// PaymentMethodBlocked signals block to every unfinished plan on the card.
func (h planHooks) PaymentMethodBlocked(ctx context.Context, merchantID, pmID string) error {
	return h.each(ctx, merchantID, pmID, starter.BlockPlan)
}

// PaymentMethodUnblocked signals unblock to every unfinished plan on the card.
func (h planHooks) PaymentMethodUnblocked(ctx context.Context, merchantID, pmID string) error {
	return h.each(ctx, merchantID, pmID, starter.UnblockPlan)
}

// PaymentMethodDetached signals detach to every unfinished plan on the card.
func (h planHooks) PaymentMethodDetached(ctx context.Context, merchantID, pmID string) error {
	return h.each(ctx, merchantID, pmID, starter.DetachPlan)
}

func (h planHooks) each(ctx context.Context, merchantID, pmID string,
	signal func(context.Context, client.Client, string, string) error) error {
	caller := billing.Caller{MerchantID: merchantID, Mode: callerFrom(ctx).Mode}
	params := billing.ListParams{Limit: billing.MaxListLimit}
	for {
		page, err := h.store.ListPlans(ctx, caller, billing.PlanFilter{PaymentMethodID: pmID, Active: true}, params)
		if err != nil {
			return err
		}
		for _, p := range page.Items {
			if err := signal(ctx, h.temporal, p.ID, pmID); err != nil {
				return fmt.Errorf("signal plan %s about payment method %s: %w", p.ID, pmID, err)
			}
		}
		if !page.HasMore || len(page.Items) == 0 {
			return nil
		}
		params.StartingAfter = page.Items[len(page.Items)-1].ID
	}
}

// ActivePlans counts the customer's unfinished plans.
func (h planHooks) ActivePlans(ctx context.Context, merchantID, customerID string) (int, error) {
	caller := billing.Caller{MerchantID: merchantID, Mode: callerFrom(ctx).Mode}
	return h.store.CountUnfinishedPlans(ctx, caller, customerID)
}
