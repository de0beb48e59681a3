package activities

import (
	"context"
	"crypto/sha256"
	"encoding/base32"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/recurring/recurring/billing"
)

// RecoveryLinkTTL is how long a plan's recovery page takes a card: long enough for a
// customer who reads the email days later.
const RecoveryLinkTTL = 7 * 24 * time.Hour

// OpenRecoveryRequest asks for a hosted card page for a plan that waits on its
// customer (action_required or past_due): the customer authenticates the card again or
// gives a new one, and the plan charges the waiting installment at once. Key makes the
// page's id, so a retried activity opens the same page.
type OpenRecoveryRequest struct {
	MerchantID string       `json:"merchant_id"`
	Mode       billing.Mode `json:"mode"`
	PlanID     string       `json:"plan_id"`
	CustomerID string       `json:"customer_id"`
	Provider   string       `json:"provider"`
	Currency   string       `json:"currency"`
	// Amount is the waiting installment's, which 3-D Secure is asked for.
	Amount int64  `json:"amount"`
	Key    string `json:"key"`
	// PaymentMethodID is the plan's card: the page saves the new card where it was,
	// in the merchant's provider account when it is in one.
	PaymentMethodID string `json:"payment_method_id,omitempty"`
}

// OpenRecoveryResult names the page's session (ps_…). The page's URL holds a secret
// token and never enters a workflow: the API, webhooks and emails show it from the
// session.
type OpenRecoveryResult struct {
	SessionID string    `json:"session_id"`
	ExpiresAt time.Time `json:"expires_at"`
}

// OpenRecovery stores the plan's recovery session and starts its workflow (a
// card-change session, as POST /v1/plans/{id}/payment-session makes). Without a
// session store it opens none.
func (a *Activities) OpenRecovery(ctx context.Context, req OpenRecoveryRequest) (OpenRecoveryResult, error) {
	if a.deps.Sessions == nil || a.deps.Plans == nil {
		// As Notify without a notifier: the plan goes on, the merchant can make a page.
		a.deps.Logger.InfoContext(ctx, "no recovery page (no session store or plan client configured)", "plan_id", req.PlanID)
		return OpenRecoveryResult{}, nil
	}
	account := ""
	if req.PaymentMethodID != "" && a.deps.PaymentMethods != nil {
		// The page saves the new card where the old one was: the merchant's account.
		card, err := a.deps.PaymentMethods.ChargeableCard(ctx, req.MerchantID, req.PaymentMethodID)
		if err != nil && billing.KindOf(err) != billing.KindNotFound {
			return OpenRecoveryResult{}, storeError(err)
		}
		account = card.ProviderAccount
	}
	sum := sha256.Sum256([]byte("recovery\x00" + req.Key))
	token := billing.RandomToken(32)
	hash := sha256.Sum256([]byte(token))
	s, err := a.deps.Sessions.CreatePaymentSession(ctx, billing.Caller{MerchantID: req.MerchantID, Mode: req.Mode},
		billing.PaymentSession{
			ID:         billing.PrefixPaymentSession + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(sum[:16])),
			CustomerID: req.CustomerID, Amount: req.Amount, Currency: req.Currency, Type: "ecom", SaveCard: true,
			Provider: req.Provider, ProviderAccount: account, PlanID: req.PlanID, Token: token, TokenHash: fmt.Sprintf("%x", hash),
			ExpiresAt: time.Now().Add(RecoveryLinkTTL),
		})
	if err != nil {
		return OpenRecoveryResult{}, storeError(err)
	}
	if err := a.deps.Plans.StartCardSession(ctx, s); err != nil {
		return OpenRecoveryResult{}, err
	}
	return OpenRecoveryResult{SessionID: s.ID, ExpiresAt: s.ExpiresAt}, nil
}

// OpenRecovery runs Activities.OpenRecovery from a workflow, with the bounded retries
// of a notification: a page that cannot be opened must not hold the plan.
func OpenRecovery(ctx workflow.Context, req OpenRecoveryRequest) (OpenRecoveryResult, error) {
	var a *Activities
	var out OpenRecoveryResult
	err := workflow.ExecuteActivity(notifyOptions(ctx), a.OpenRecovery, req).Get(ctx, &out)
	return out, err
}

// recoveryURL is the payment_url of the plan's newest open page ("" when it has none,
// or the worker does not know the API's public URL).
func (a *Activities) recoveryURL(ctx context.Context, merchantID string, mode billing.Mode, planID string) (string, string) {
	if a.deps.Sessions == nil || a.deps.PublicURL == "" || planID == "" {
		return "", ""
	}
	s, err := a.deps.Sessions.OpenPlanSession(ctx, billing.Caller{MerchantID: merchantID, Mode: mode}, planID, false)
	if err != nil || s.Token == "" {
		return "", ""
	}
	return s.ID, strings.TrimSuffix(a.deps.PublicURL, "/") + "/pay/" + s.Token
}

// withRecoveryURL adds the plan's open page (payment_url, payment_session) to a
// plan.action_required or plan.past_due event's data.object as it is sent. The event
// log keeps the plan without it: the page's token is a secret the database only holds
// sealed.
func (a *Activities) withRecoveryURL(ctx context.Context, ev billing.Event) billing.Event {
	if ev.Type != billing.EventPlanActionRequired && ev.Type != billing.EventPlanPastDue {
		return ev
	}
	var data struct {
		Object map[string]any `json:"object"`
	}
	if json.Unmarshal(ev.Data, &data) != nil || data.Object == nil {
		return ev
	}
	planID, _ := data.Object["id"].(string)
	id, url := a.recoveryURL(ctx, ev.MerchantID, ev.Mode, planID)
	if url == "" {
		return ev
	}
	data.Object["payment_url"], data.Object["payment_session"] = url, id
	if b, err := json.Marshal(data); err == nil {
		ev.Data = b
	}
	return ev
}
