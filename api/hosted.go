package api

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/url"
	"time"

	"github.com/recurring/recurring/billing"
	"github.com/recurring/recurring/internal/rest"
	"github.com/recurring/recurring/starter"
	"github.com/recurring/recurring/workflows"
)

// Bounds of a hosted session's expires_in, in seconds.
const (
	defaultSessionSeconds = 3600
	maxSessionSeconds     = 86400
	minSessionSecondsLive = 60
	minSessionSecondsTest = 5
)

// createHostedPayment answers POST /v1/payments without a card: a hosted session the
// customer completes on the payment page. The session row (with the page's token,
// sealed) is written first, then its workflow starts; a retry of the request finds
// both and answers the same payment_url.
func (s *server) createHostedPayment(ctx context.Context, req CreatePaymentRequestObject) (CreatePaymentResponseObject, error) {
	caller := callerFrom(ctx)
	b := req.Body
	v := &billing.ValidationError{}
	returnURL := deref(b.ReturnUrl)
	if returnURL != "" {
		u, err := url.Parse(returnURL)
		switch {
		case err != nil || !u.IsAbs() || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https"):
			v.Add("return_url", billing.CodeInvalidURL, "return_url must be an absolute http(s) URL")
		case caller.Mode == billing.ModeLive && u.Scheme != "https":
			v.Add("return_url", billing.CodeInvalidURL, "return_url must use https in live mode")
		}
	}
	seconds := derefOr(b.ExpiresIn, defaultSessionSeconds)
	minSeconds := minSessionSecondsLive
	if caller.Mode == billing.ModeTest {
		minSeconds = minSessionSecondsTest
	}
	if seconds < minSeconds || seconds > maxSessionSeconds {
		v.Add("expires_in", billing.CodeInvalidValue, "expires_in must be between %d and %d seconds", minSeconds, maxSessionSeconds)
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
	provider := deref(b.Provider)
	if provider == "" {
		if provider, err = s.defaultProvider(caller.Mode); err != nil {
			return nil, err
		}
	}
	if _, err := s.providers.Get(provider); err != nil || !s.providerAllowed(provider, caller.Mode) {
		return nil, billing.Invalid("provider", billing.CodeProviderNotAvailable, "provider %q is not available in %s mode", provider, caller.Mode)
	}
	token := billing.RandomToken(32)
	session, err := s.store.CreatePaymentSession(ctx, caller, billing.PaymentSession{
		ID: derivedID(billing.PrefixPayment, caller, deref(req.Params.IdempotencyKey)), CustomerID: customer.ID,
		Amount: b.Amount, Currency: b.Currency, Type: string(derefOr(b.Type, PaymentCreateTypeEcom)),
		SaveCard: derefOr(b.SaveCard, false), Provider: provider, ReturnURL: returnURL,
		Description: deref(b.Description), Reference: deref(b.Reference),
		Token: token, TokenHash: tokenHash(token), ExpiresAt: time.Now().Add(time.Duration(seconds) * time.Second),
	})
	if err != nil {
		return nil, err
	}
	if err := starter.StartHostedPayment(ctx, c, workflows.HostedPaymentInput{
		Payment: workflows.PaymentInput{PaymentID: session.ID, MerchantID: caller.MerchantID, Mode: caller.Mode,
			CustomerID: customer.ID, Amount: session.Amount, Currency: session.Currency, Type: session.Type,
			Reference: session.Reference, Description: session.Description, SaveCard: session.SaveCard},
		ExpiresAt: session.ExpiresAt,
	}); err != nil {
		return nil, err
	}
	return CreatePayment201JSONResponse(s.sessionOut(ctx, session)), nil
}

// sessionOut renders a session as its payment, with payment_url while it is open.
func (s *server) sessionOut(ctx context.Context, session billing.PaymentSession) Payment {
	obj := rest.SessionPaymentObject(session)
	if session.Status == billing.PaymentSessionOpen && session.Token != "" {
		base := s.publicURL
		if base == "" {
			base, _ = ctx.Value(originKey{}).(string)
		}
		u := base + "/pay/" + session.Token
		obj.PaymentURL = &u
	}
	return fromREST[Payment](obj)
}

// tokenHash is how a payment_url's token is looked up: its SHA-256, so the database
// never holds a usable token in the clear.
func tokenHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}
