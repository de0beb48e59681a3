package api

import (
	"context"
	"time"

	"github.com/recurring/recurring/billing"
	"github.com/recurring/recurring/internal/rest"
	"github.com/recurring/recurring/providers"
	"github.com/recurring/recurring/starter"
	"github.com/recurring/recurring/workflows"
)

// CreatePayment implements POST /v1/payments: a one-off or initial payment. Money
// moves only inside workflows, so the API starts the payment's short workflow (id =
// payment id, derived from the Idempotency-Key when there is one) and waits for it. A
// new card is saved first; unless save_card is set and the payment did not fail, it is
// detached again once charged, so only its tombstone stays for the payment's history.
func (s *server) CreatePayment(ctx context.Context, req CreatePaymentRequestObject) (CreatePaymentResponseObject, error) {
	caller := callerFrom(ctx)
	b := req.Body
	idemKey := deref(req.Params.IdempotencyKey)
	v := &billing.ValidationError{}
	if _, err := billing.NewMoney(b.Amount, b.Currency); err != nil {
		v.Add("currency", billing.CodeInvalidCurrency, "%v", err)
	}
	if b.PaymentMethod != nil && b.Card != nil {
		v.Add("payment_method", billing.CodeParameterNotAllowed, "give one of payment_method or card (or neither, for a hosted session)")
	}
	if b.PaymentMethod == nil && b.Card == nil {
		if err := v.Err(); err != nil {
			return nil, err
		}
		return s.createHostedPayment(ctx, req)
	}
	if b.Provider != nil && b.Card == nil {
		v.Add("provider", billing.CodeParameterNotAllowed, "provider goes with a new card; a saved card keeps its provider")
	}
	if b.ProviderAccount != nil && b.Card == nil {
		v.Add("provider_account", billing.CodeParameterNotAllowed, "provider_account goes with a new card; a saved card keeps its account")
	}
	if b.ReturnUrl != nil {
		v.Add("return_url", billing.CodeParameterNotAllowed, "return_url is for hosted sessions, which take the card on their page: send no card")
	}
	if b.ExpiresIn != nil {
		v.Add("expires_in", billing.CodeParameterNotAllowed, "expires_in is for hosted sessions: send no card")
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	c, err := s.temporalClient()
	if err != nil {
		return nil, err
	}
	customer, err := s.store.GetCustomer(ctx, caller, b.Customer)
	if err != nil {
		return nil, withParam(err, "customer")
	}
	save := derefOr(b.SaveCard, false)
	var pm billing.PaymentMethod
	if b.Card != nil {
		// A new card's provider: refuse an amount it cannot charge before the card goes
		// to it.
		if b.ProviderAccount != nil {
			if pm, err = s.saveCardInAccount(ctx, caller, customer, b, idemKey); err != nil {
				return nil, err
			}
		} else {
			provider := deref(b.Provider)
			if provider == "" {
				provider, _ = s.defaultProvider(caller.Mode) // saveCard reports a missing one
			}
			if err := s.checkAmounts(ctx, callerFrom(ctx), provider, "", b.Currency, []namedAmount{{"amount", b.Amount}}); err != nil {
				return nil, err
			}
			if pm, err = s.saveCard(ctx, caller, customer, *b.Card, deref(b.Provider), idemKey); err != nil {
				return nil, err
			}
		}
	} else if pm, err = s.chargeableMethod(ctx, caller, customer.ID, *b.PaymentMethod, "payment_method", false); err != nil {
		return nil, err
	} else if pm.Type == billing.PaymentMethodPayPal && derefOr(b.Type, PaymentCreateTypeEcom) == PaymentCreateTypeMoto {
		return nil, billing.Invalid("type", billing.CodeInvalidValue, "a PayPal agreement cannot pay a mail or telephone order (type moto)")
	}
	if err := s.checkAmounts(ctx, callerFrom(ctx), pm.Provider, pm.ProviderAccount, b.Currency, []namedAmount{{"amount", b.Amount}}); err != nil {
		if b.Card != nil { // the card was saved for this payment only
			_, _ = s.store.DetachPaymentMethod(ctx, caller, pm.ID)
		}
		return nil, err
	}
	in := workflows.PaymentInput{
		PaymentID:  derivedID(billing.PrefixPayment, caller, idemKey),
		MerchantID: caller.MerchantID, Mode: caller.Mode, CustomerID: customer.ID,
		PaymentMethodID: pm.ID, Amount: b.Amount, Currency: b.Currency,
		Type: string(derefOr(b.Type, PaymentCreateTypeEcom)), Reference: deref(b.Reference),
		Description: deref(b.Description), SaveCard: save,
	}
	res, err := starter.RunPayment(ctx, c, in)
	if err != nil {
		return nil, err
	}
	p, getErr := s.store.GetPayment(ctx, caller, in.PaymentID)
	// One rule for a new card: it stays saved only when asked to and its first payment
	// succeeded (or is still settling). A card whose first payment failed, for whatever
	// reason (a decline, a hard decline, 3-D Secure required), is not saved: its
	// tombstone keeps the payment's history. A retry of the request (after a failure
	// here) repeats this step for the card the payment charged, which is the first
	// attempt's, and for the one the retry saved again.
	if b.Card != nil && (!save || res.Status == billing.PaymentFailed) {
		ids := []string{pm.ID}
		if getErr == nil && p.PaymentMethodID != pm.ID {
			ids = append(ids, p.PaymentMethodID)
		}
		for _, id := range ids {
			if _, err := s.store.DetachPaymentMethod(ctx, caller, id); err != nil {
				return nil, err
			}
		}
	}
	if getErr != nil {
		return nil, getErr
	}
	return CreatePayment201JSONResponse(paymentOut(p)), nil
}

// GetPayment implements GET /v1/payments/{id}: the ledger's attempt, or, before the
// customer paid on the hosted page, the session (requires_action with its payment_url,
// or expired).
func (s *server) GetPayment(ctx context.Context, req GetPaymentRequestObject) (GetPaymentResponseObject, error) {
	caller := callerFrom(ctx)
	p, err := s.store.GetPayment(ctx, caller, req.Id)
	if billing.KindOf(err) == billing.KindNotFound {
		session, serr := s.store.GetPaymentSession(ctx, caller, req.Id)
		if serr == nil && session.PlanID == "" {
			return GetPayment200JSONResponse(s.sessionOut(ctx, session)), nil
		}
	}
	if err != nil {
		return nil, err
	}
	return GetPayment200JSONResponse(paymentOut(p)), nil
}

// paymentOut renders a payment with the rendering its events carry (rest.PaymentObject).
func paymentOut(p billing.Payment) Payment { return fromREST[Payment](rest.PaymentObject(p)) }

// saveCardInAccount saves a one-off payment's new card in the merchant's provider
// account the request names, once the account can charge the amount.
func (s *server) saveCardInAccount(ctx context.Context, caller billing.Caller, customer billing.Customer, b *PaymentCreate, idemKey string) (billing.PaymentMethod, error) {
	provider, account, err := s.hostedTarget(ctx, caller, b.Provider, b.ProviderAccount)
	if err != nil {
		return billing.PaymentMethod{}, err
	}
	if err := s.checkAmounts(ctx, caller, provider, account, b.Currency, []namedAmount{{"amount", b.Amount}}); err != nil {
		return billing.PaymentMethod{}, err
	}
	card, err := providers.CheckCard(providers.Card{Number: b.Card.Number, ExpMonth: b.Card.ExpMonth, ExpYear: b.Card.ExpYear,
		CVC: deref(b.Card.Cvc)}, time.Now())
	if err != nil {
		return billing.PaymentMethod{}, cardError(err)
	}
	p, err := s.adapter(ctx, caller, provider, account)
	if err != nil {
		return billing.PaymentMethod{}, naming(providers.ToBilling(err), "provider_account", billing.KindUnprocessable)
	}
	return s.saveCardOn(ctx, caller, customer, card, p, account, idemKey)
}
