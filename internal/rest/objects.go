package rest

import (
	"encoding/json"

	"github.com/recurring/recurring/billing"
)

// PaymentObject renders a payment as the API shows it: the body of
// GET /v1/payments/{id} and the data.object of its events.
func PaymentObject(p billing.Payment) Payment {
	out := Payment{
		ID: p.ID, Object: "payment", Customer: p.CustomerID, PaymentMethod: p.PaymentMethodID,
		Amount: p.Amount, Currency: p.Currency, Status: string(p.Status), PaymentType: string(p.PaymentType),
		AmountRefunded: p.AmountRefunded,
		IsRecurring:    p.IsRecurring, Provider: p.Provider, Livemode: p.Mode == billing.ModeLive,
		CreatedAt: p.CreatedAt.UTC(), DueAt: UTC(p.DueAt),
		ProviderChargeID: OptString(p.ProviderChargeID), FailureCode: OptString(p.FailureCode),
		FailureClass: OptString(p.FailureClass), FailureMessage: OptString(p.FailureMessage),
		ProviderAccount: OptString(p.ProviderAccount),
	}
	if p.PlanID != nil && *p.PlanID != "" {
		plan, inst, attempt := *p.PlanID, p.Installment, p.Attempt
		out.Plan, out.Installment, out.Attempt = &plan, &inst, &attempt
	}
	return out
}

// PlanObject renders a plan's recorded state as the API shows it: GET /v1/plans
// (which lists records), GET /v1/plans/{id} before the workflow's live state is laid
// over it, and the data.object of the plan's events.
func PlanObject(p billing.Plan) Plan {
	live := false
	return Plan{
		ID: p.ID, Object: "plan", Customer: p.CustomerID, PaymentMethod: p.PaymentMethodID,
		Provider: p.Provider, Currency: p.Currency, Status: string(p.Status), Livemode: p.Mode == billing.ModeLive,
		CreatedAt: p.CreatedAt.UTC(), NextChargeAt: UTC(p.NextChargeAt), LiveState: &live,
		Type: OptString(p.Type), Reference: OptString(p.Reference),
		MerchantData: jsonObject(p.MerchantData), Schedule: jsonObject(p.Schedule),
		Paid: p.Paid, PaidAmount: p.PaidAmount, ProviderAccount: OptString(p.ProviderAccount),
	}
}

// jsonObject decodes a stored JSON object for rendering; nil when absent or not an
// object.
func jsonObject(doc billing.JSONDoc) *map[string]any {
	if len(doc) == 0 {
		return nil
	}
	var m map[string]any
	if json.Unmarshal(doc, &m) != nil || m == nil {
		return nil
	}
	return &m
}

// SessionPaymentObject renders a hosted payment session as the payment it will be,
// before the ledger has an attempt: requires_action while open, expired after. The
// API adds payment_url for an open session (the events never carry it).
func SessionPaymentObject(s billing.PaymentSession) Payment {
	status := billing.PaymentRequiresAction
	if s.Status == billing.PaymentSessionExpired {
		status = billing.PaymentExpired
	}
	payType := billing.CustomerPaymentType(s.SaveCard)
	expires := s.ExpiresAt.UTC()
	return Payment{
		ID: s.ID, Object: "payment", Customer: s.CustomerID, PaymentMethod: s.PaymentMethodID,
		Amount: s.Amount, Currency: s.Currency, Status: string(status), PaymentType: string(payType),
		IsRecurring: payType.IsRecurring(), Provider: s.Provider, Livemode: s.Mode == billing.ModeLive,
		CreatedAt: s.CreatedAt.UTC(), ExpiresAt: &expires,
	}
}

// PaymentMethodObject renders a payment method as the API shows it: the body of GET
// /v1/payment-methods/{id} and the data.object of payment_method events.
func PaymentMethodObject(pm billing.PaymentMethod) PaymentMethod {
	out := PaymentMethod{ID: pm.ID, Object: "payment_method", Type: string(billing.PaymentMethodCard), Customer: pm.CustomerID,
		Provider: pm.Provider, ProviderAccount: OptString(pm.ProviderAccount), Status: string(pm.Status),
		Livemode: pm.Mode == billing.ModeLive, CreatedAt: pm.CreatedAt.UTC(), DetachedAt: UTC(pm.DetachedAt)}
	if pm.Type == billing.PaymentMethodPayPal {
		out.Type = string(billing.PaymentMethodPayPal)
	}
	if c := pm.Card; c != nil {
		out.Card = &Card{Brand: c.Brand, Last4: c.Last4, ExpMonth: c.ExpMonth, ExpYear: c.ExpYear, Fingerprint: c.Fingerprint}
	}
	if p := pm.PayPal; p != nil {
		out.Paypal = &PayPal{PayerEmail: OptString(p.PayerEmail)}
	}
	if pm.Imported {
		imported := true
		out.Imported = &imported
	}
	return out
}

// RefundObject renders a refund as the API shows it: the body of GET /v1/refunds/{id}
// and the data.object of refund.succeeded and refund.failed.
func RefundObject(r billing.Refund) Refund {
	return Refund{
		ID: r.ID, Object: "refund", Payment: r.PaymentID, Amount: r.Amount, Currency: r.Currency,
		Status: string(r.Status), Reason: OptString(r.Reason), Provider: r.Provider,
		ProviderAccount: OptString(r.ProviderAccount), ProviderRefundID: OptString(r.ProviderRefundID),
		FailureCode: OptString(r.FailureCode), FailureMessage: OptString(r.FailureMessage),
		Livemode: r.Mode == billing.ModeLive, CreatedAt: r.CreatedAt.UTC(),
	}
}
