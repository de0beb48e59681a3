package api

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/recurring/recurring/billing"
	"github.com/recurring/recurring/internal/rest"
	"github.com/recurring/recurring/providers"
	"github.com/recurring/recurring/providers/simulator"
)

// defaultProvider names the provider that tokenizes a card when the request names none:
// the simulator in test mode, and in live mode the one provider live objects may use.
// Several live providers make the choice the merchant's: provider is then required.
func (s *server) defaultProvider(mode billing.Mode) (string, error) {
	var allowed []string
	for _, name := range s.providers.Names() {
		if s.providerAllowed(name, mode) {
			if mode == billing.ModeTest && name == simulator.Name {
				return name, nil
			}
			allowed = append(allowed, name)
		}
	}
	switch len(allowed) {
	case 1:
		return allowed[0], nil
	case 0:
		return "", billing.Invalid("provider", billing.CodeProviderNotAvailable, "no provider is available in %s mode; GET /v1/providers lists them", mode)
	}
	return "", billing.Invalid("provider", billing.CodeParameterMissing, "name the provider: %s mode has several (%s)", mode, strings.Join(allowed, ", "))
}

// CreatePaymentMethod implements POST /v1/customers/{id}/payment-methods. The card
// goes from the request straight to the provider; nothing here logs, stores or echoes
// its number or CVC, and errors about them name the field, never the value.
func (s *server) CreatePaymentMethod(ctx context.Context, req CreatePaymentMethodRequestObject) (CreatePaymentMethodResponseObject, error) {
	caller := callerFrom(ctx)
	customer, err := s.store.GetCustomer(ctx, caller, req.Id)
	if err != nil {
		return nil, err
	}
	b := req.Body
	paypal := b.Type != nil && *b.Type == PaymentMethodCreateTypePaypal
	switch {
	case b.Paypal != nil && !paypal:
		return nil, billing.Invalid("paypal", billing.CodeParameterNotAllowed, `paypal is taken only with type "paypal"`)
	case paypal && b.Card != nil:
		return nil, billing.Invalid("card", billing.CodeParameterNotAllowed, `a type "paypal" payment method has no card`)
	case paypal && b.Token == nil:
		return nil, billing.Invalid("token", billing.CodeParameterMissing,
			`type "paypal" imports a billing agreement: token.paypal_token is required (the payer approves a new one on a plan's payment page)`)
	case !paypal && b.Token != nil && b.Token.PaypalToken != nil:
		return nil, billing.Invalid("token.paypal_token", billing.CodeParameterNotAllowed, `token.paypal_token is taken only with type "paypal"`)
	}
	if b.Token != nil {
		pm, err := s.importCard(ctx, caller, customer, b)
		if err != nil {
			return nil, err
		}
		return CreatePaymentMethod201JSONResponse(paymentMethodOut(pm)), nil
	}
	switch {
	case b.Card == nil:
		return nil, billing.Invalid("card", billing.CodeParameterMissing, "card is required (or token, to import a card saved at the provider)")
	case b.Card.Number == nil:
		return nil, billing.Invalid("card.number", billing.CodeParameterMissing, "card.number is required")
	case b.Card.Brand != nil:
		return nil, billing.Invalid("card.brand", billing.CodeParameterNotAllowed, "card.brand is taken only with token: the provider reads a new card's brand")
	case b.Card.Last4 != nil:
		return nil, billing.Invalid("card.last4", billing.CodeParameterNotAllowed, "card.last4 is taken only with token")
	case b.NetworkTransactionId != nil:
		return nil, billing.Invalid("network_transaction_id", billing.CodeParameterNotAllowed, "network_transaction_id is taken only with token")
	}
	card := CardInput{Number: *b.Card.Number, ExpMonth: b.Card.ExpMonth, ExpYear: b.Card.ExpYear, Cvc: b.Card.Cvc}
	if b.ProviderAccount != nil {
		acc, provider, err := s.accountFor(ctx, caller, b)
		if err != nil {
			return nil, err
		}
		checked, err := providers.CheckCard(providers.Card{Number: card.Number, ExpMonth: card.ExpMonth,
			ExpYear: card.ExpYear, CVC: deref(card.Cvc)}, time.Now())
		if err != nil {
			return nil, cardError(err)
		}
		pm, err := s.saveCardOn(ctx, caller, customer, checked, provider, acc.ID, deref(req.Params.IdempotencyKey))
		if err != nil {
			return nil, err
		}
		return CreatePaymentMethod201JSONResponse(paymentMethodOut(pm)), nil
	}
	pm, err := s.saveCard(ctx, caller, customer, card, deref(b.Provider), deref(req.Params.IdempotencyKey))
	if err != nil {
		return nil, err
	}
	return CreatePaymentMethod201JSONResponse(paymentMethodOut(pm)), nil
}

// importCard takes over a card the merchant saved at the provider before (token
// import): the adapter checks the provider's fields and the card is stored as
// imported, with the network transaction id of its original payment.
func (s *server) importCard(ctx context.Context, caller billing.Caller, customer billing.Customer, b *PaymentMethodCreate) (billing.PaymentMethod, error) {
	if b.ProviderAccount == nil {
		// An installation's provider account is shared by its merchants: a token there
		// cannot be told to be this merchant's. Imports go into the merchant's own.
		return billing.PaymentMethod{}, billing.Invalid("provider_account", billing.CodeParameterMissing,
			"token import needs provider_account: the card is taken over from your own provider account (POST /v1/provider-accounts)")
	}
	acc, provider, err := s.accountFor(ctx, caller, b)
	if err != nil {
		return billing.PaymentMethod{}, err
	}
	name, account := acc.Provider, acc.ID
	method := providers.MethodCard
	if b.Type != nil && *b.Type == PaymentMethodCreateTypePaypal {
		method = providers.MethodPayPal
		if _, ok := providers.Find(provider.Capabilities(), method); !ok {
			return billing.PaymentMethod{}, &billing.Error{Kind: billing.KindUnprocessable, Code: billing.CodeMethodTypeNotSupported, Param: "type",
				Message: fmt.Sprintf("%s accounts do not take PayPal; Axerve accounts do", name)}
		}
		if b.NetworkTransactionId != nil {
			return billing.PaymentMethod{}, billing.Invalid("network_transaction_id", billing.CodeParameterNotAllowed, "a PayPal agreement has no card network transaction id")
		}
	}
	importer, ok := provider.(providers.TokenImporter)
	if !ok {
		return billing.PaymentMethod{}, &billing.Error{Kind: billing.KindUnprocessable, Code: billing.CodeImportNotSupported, Param: "provider",
			Message: fmt.Sprintf("%s cannot import cards saved elsewhere; save the card with card.number instead", name)}
	}
	if c := b.Card; c != nil {
		switch {
		case c.Number != nil:
			return billing.PaymentMethod{}, billing.Invalid("card.number", billing.CodeParameterNotAllowed, "an imported card has no number here: the provider keeps it")
		case c.Cvc != nil:
			return billing.PaymentMethod{}, billing.Invalid("card.cvc", billing.CodeParameterNotAllowed, "an imported card has no CVC")
		}
	}
	req := providers.ImportTokenRequest{Fields: map[string]string{}, CustomerID: customer.ID, Email: customer.Email, Method: method}
	for k, v := range map[string]*string{"payment_method": b.Token.PaymentMethod, "customer": b.Token.Customer,
		"token_name": b.Token.TokenName, "agreement_id": b.Token.AgreementId, "card_token": b.Token.CardToken,
		"paypal_token": b.Token.PaypalToken} {
		if v != nil {
			req.Fields[k] = *v
		}
	}
	if c := b.Card; c != nil {
		req.Brand, req.Last4, req.ExpMonth, req.ExpYear = deref(c.Brand), deref(c.Last4), c.ExpMonth, c.ExpYear
	}
	saved, err := importer.ImportToken(ctx, req)
	if err != nil {
		return billing.PaymentMethod{}, providers.ToBilling(err)
	}
	if method == providers.MethodPayPal {
		in := billing.NewPaymentMethod{CustomerID: customer.ID, Provider: name, ProviderCustomerRef: saved.CustomerRef, Token: saved.Token,
			Type: billing.PaymentMethodPayPal, Imported: true, ProviderAccount: account}
		if b.Paypal != nil && b.Paypal.PayerEmail != nil {
			v := &billing.ValidationError{}
			if checkEmail(v, *b.Paypal.PayerEmail); v.Err() != nil {
				return billing.PaymentMethod{}, billing.Invalid("paypal.payer_email", billing.CodeInvalidEmail, "paypal.payer_email must be an email address")
			}
			in.PayPal.PayerEmail = *b.Paypal.PayerEmail
		}
		return s.store.CreatePaymentMethod(ctx, caller, in)
	}
	if saved.ExpYear != 0 && time.Date(saved.ExpYear, time.Month(saved.ExpMonth)+1, 1, 0, 0, 0, 0, time.UTC).Before(time.Now()) {
		return billing.PaymentMethod{}, billing.Invalid("card.exp_year", billing.CodeCardExpired, "the imported card expired %02d/%d", saved.ExpMonth, saved.ExpYear)
	}
	return s.store.CreatePaymentMethod(ctx, caller, billing.NewPaymentMethod{
		CustomerID: customer.ID, Provider: name, ProviderCustomerRef: saved.CustomerRef, Token: saved.Token,
		Card: billing.CardDetails{Brand: saved.Brand, Last4: saved.Last4, ExpMonth: saved.ExpMonth,
			ExpYear: saved.ExpYear, Fingerprint: saved.Fingerprint},
		Imported: true, NetworkTransactionID: deref(b.NetworkTransactionId), ProviderAccount: account,
	})
}

// accountFor resolves the provider_account a card request names; a provider named
// beside it must be the account's.
func (s *server) accountFor(ctx context.Context, caller billing.Caller, b *PaymentMethodCreate) (billing.ProviderAccount, providers.Provider, error) {
	acc, p, err := s.accountAdapter(ctx, caller, *b.ProviderAccount, "provider_account")
	if err != nil {
		return acc, nil, err
	}
	if b.Provider != nil && *b.Provider != acc.Provider {
		return acc, nil, billing.Invalid("provider", billing.CodeInvalidValue, "provider_account %s is a %s account", acc.ID, acc.Provider)
	}
	return acc, p, nil
}

// saveCard checks a card, has the provider tokenize it and stores the payment method.
// It serves POST /v1/customers/{id}/payment-methods and POST /v1/payments with a new
// card; errors about the card name fields under "card.".
func (s *server) saveCard(ctx context.Context, caller billing.Caller, customer billing.Customer, in CardInput, name, idemKey string) (billing.PaymentMethod, error) {
	card, err := providers.CheckCard(providers.Card{Number: in.Number, ExpMonth: in.ExpMonth,
		ExpYear: in.ExpYear, CVC: deref(in.Cvc)}, time.Now())
	if err != nil {
		return billing.PaymentMethod{}, cardError(err)
	}
	if name == "" {
		var err error
		if name, err = s.defaultProvider(caller.Mode); err != nil {
			return billing.PaymentMethod{}, err
		}
	}
	provider, err := s.providers.Get(name)
	if err != nil {
		return billing.PaymentMethod{}, providers.ToBilling(err)
	}
	if !s.providerAllowed(name, caller.Mode) {
		return billing.PaymentMethod{}, billing.Invalid("provider", billing.CodeProviderNotAvailable, "provider %q is not available in %s mode", name, caller.Mode)
	}
	return s.saveCardOn(ctx, caller, customer, card, provider, "", idemKey)
}

// saveCardOn has provider (the installation's, or the adapter of the merchant's
// account) tokenize a checked card and stores the payment method.
func (s *server) saveCardOn(ctx context.Context, caller billing.Caller, customer billing.Customer, card providers.Card,
	provider providers.Provider, account, idemKey string) (billing.PaymentMethod, error) {
	name := provider.Name()
	scope := name
	if account != "" {
		scope = account
	}
	ref, err := s.store.ProviderCustomerRef(ctx, caller, customer.ID, scope)
	if err != nil {
		return billing.PaymentMethod{}, err
	}
	saveReq := providers.SaveCardRequest{
		CustomerID: customer.ID, ProviderCustomerRef: ref, Email: customer.Email,
		Name: strings.TrimSpace(customer.FirstName + " " + customer.LastName), Card: card,
	}
	if idemKey != "" {
		// A retry after a failure on our side gets the token the provider already made.
		saveReq.IdempotencyKey = "save_card/" + caller.MerchantID + "/" + string(caller.Mode) + "/" + idemKey
	}
	saved, err := provider.SaveCard(ctx, saveReq)
	if err != nil {
		return billing.PaymentMethod{}, cardError(err)
	}
	return s.store.CreatePaymentMethod(ctx, caller, billing.NewPaymentMethod{
		CustomerID: customer.ID, Provider: name, ProviderCustomerRef: saved.CustomerRef, Token: saved.Token,
		Card: billing.CardDetails{Brand: saved.Brand, Last4: saved.Last4, ExpMonth: saved.ExpMonth,
			ExpYear: saved.ExpYear, Fingerprint: saved.Fingerprint},
		ProviderAccount: account,
	})
}

// cardError renders a provider's verdict on a card, with params under "card.".
func cardError(err error) error {
	err = providers.ToBilling(err)
	if be, ok := err.(*billing.Error); ok && be.Param != "" && be.Param != "provider" {
		cp := *be
		cp.Param = "card." + be.Param
		return &cp
	}
	return err
}

// chargeableMethod returns the customer's card a plan or payment may charge.
func (s *server) chargeableMethod(ctx context.Context, caller billing.Caller, customerID, pmID, param string, recurring bool) (billing.PaymentMethod, error) {
	pm, err := s.store.GetPaymentMethod(ctx, caller, pmID)
	if err != nil {
		return pm, withParam(err, param)
	}
	if pm.CustomerID != customerID {
		return pm, billing.Invalid(param, billing.CodePaymentMethodUnusable, "the payment method belongs to another customer")
	}
	if pm.Status != billing.PaymentMethodActive {
		return pm, &billing.Error{Kind: billing.KindConflict, Code: billing.CodePaymentMethodUnusable, Param: param,
			Message: "the payment method is " + string(pm.Status)}
	}
	if pm.Type == billing.PaymentMethodPayPal {
		// A PayPal method saved by the hosted page has its agreement once the payer
		// approved it at PayPal; until then nothing can charge it.
		card, err := s.store.ChargeableCard(ctx, caller.MerchantID, pm.ID)
		if err != nil {
			return pm, withParam(err, param)
		}
		if card.Token == "" {
			return pm, &billing.Error{Kind: billing.KindConflict, Code: billing.CodePaymentMethodUnusable, Param: param,
				Message: "the PayPal agreement is still waiting for the payer's approval"}
		}
	}
	if pm.ProviderAccount == "" && !s.providerAllowed(pm.Provider, caller.Mode) {
		return pm, billing.Invalid(param, billing.CodeProviderNotAvailable, "provider %q is not available in %s mode", pm.Provider, caller.Mode)
	}
	reg := s.providers
	if pm.ProviderAccount != "" {
		// The card's account must still exist, for a one-off payment too.
		p, err := s.adapter(ctx, caller, pm.Provider, pm.ProviderAccount)
		if err != nil {
			return pm, naming(providers.ToBilling(err), param, billing.KindUnprocessable)
		}
		if reg, err = providers.NewRegistry(p); err != nil {
			return pm, err
		}
	}
	if recurring {
		method := providers.MethodCard
		if pm.Type == billing.PaymentMethodPayPal {
			method = providers.MethodPayPal
		}
		if err := reg.CheckRecurring(pm.Provider, method); err != nil {
			return pm, naming(providers.ToBilling(err), param, "")
		}
	}
	return pm, nil
}

// ListPaymentMethods implements GET /v1/customers/{id}/payment-methods.
func (s *server) ListPaymentMethods(ctx context.Context, req ListPaymentMethodsRequestObject) (ListPaymentMethodsResponseObject, error) {
	p, err := s.store.ListPaymentMethods(ctx, callerFrom(ctx), req.Id,
		billing.ListParams{Limit: deref(req.Params.Limit), StartingAfter: deref(req.Params.StartingAfter)})
	if err != nil {
		return nil, err
	}
	out := ListPaymentMethods200JSONResponse{Object: PaymentMethodListObjectList, HasMore: p.HasMore,
		Data: make([]PaymentMethod, len(p.Items))}
	for i, pm := range p.Items {
		out.Data[i] = paymentMethodOut(pm)
	}
	return out, nil
}

// GetPaymentMethod implements GET /v1/payment-methods/{id}.
func (s *server) GetPaymentMethod(ctx context.Context, req GetPaymentMethodRequestObject) (GetPaymentMethodResponseObject, error) {
	pm, err := s.store.GetPaymentMethod(ctx, callerFrom(ctx), req.Id)
	if err != nil {
		return nil, err
	}
	return GetPaymentMethod200JSONResponse(paymentMethodOut(pm)), nil
}

// BlockPaymentMethod implements POST /v1/payment-methods/{id}/block.
func (s *server) BlockPaymentMethod(ctx context.Context, req BlockPaymentMethodRequestObject) (BlockPaymentMethodResponseObject, error) {
	pm, err := s.changePaymentMethod(ctx, req.Id, s.store.BlockPaymentMethod, s.notifier.PaymentMethodBlocked)
	if err != nil {
		return nil, err
	}
	return BlockPaymentMethod200JSONResponse(pm), nil
}

// UnblockPaymentMethod implements POST /v1/payment-methods/{id}/unblock.
func (s *server) UnblockPaymentMethod(ctx context.Context, req UnblockPaymentMethodRequestObject) (UnblockPaymentMethodResponseObject, error) {
	pm, err := s.changePaymentMethod(ctx, req.Id, s.store.UnblockPaymentMethod, s.notifier.PaymentMethodUnblocked)
	if err != nil {
		return nil, err
	}
	return UnblockPaymentMethod200JSONResponse(pm), nil
}

// DetachPaymentMethod implements POST /v1/payment-methods/{id}/detach.
func (s *server) DetachPaymentMethod(ctx context.Context, req DetachPaymentMethodRequestObject) (DetachPaymentMethodResponseObject, error) {
	pm, err := s.changePaymentMethod(ctx, req.Id, s.store.DetachPaymentMethod, s.notifier.PaymentMethodDetached)
	if err != nil {
		return nil, err
	}
	return DetachPaymentMethod200JSONResponse(pm), nil
}

// changePaymentMethod records a block, unblock or detach and then tells the plans that
// use the card. This is the one place card state changes reach plans.
func (s *server) changePaymentMethod(ctx context.Context, id string,
	change func(context.Context, billing.Caller, string) (billing.PaymentMethod, error),
	notify func(ctx context.Context, merchantID, pmID string) error,
) (PaymentMethod, error) {
	caller := callerFrom(ctx)
	pm, err := change(ctx, caller, id)
	if err != nil {
		return PaymentMethod{}, err
	}
	if err := notify(ctx, caller.MerchantID, pm.ID); err != nil {
		return PaymentMethod{}, fmt.Errorf("notify plans about %s: %w", pm.ID, err)
	}
	return paymentMethodOut(pm), nil
}

func paymentMethodOut(pm billing.PaymentMethod) PaymentMethod {
	return fromREST[PaymentMethod](rest.PaymentMethodObject(pm))
}
