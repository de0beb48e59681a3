package api

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/url"
	"time"

	"go.temporal.io/sdk/client"

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
	returnURL, seconds, err := sessionParams(caller, b.ReturnUrl, b.ExpiresIn)
	if err != nil {
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
	provider, account, err := s.hostedTarget(ctx, caller, b.Provider, b.ProviderAccount)
	if err != nil {
		return nil, err
	}
	if err := s.checkAmounts(ctx, callerFrom(ctx), provider, account, b.Currency, []namedAmount{{"amount", b.Amount}}); err != nil {
		return nil, err
	}
	token := billing.RandomToken(32)
	session, err := s.store.CreatePaymentSession(ctx, caller, billing.PaymentSession{
		ID: derivedID(billing.PrefixPayment, caller, deref(req.Params.IdempotencyKey)), CustomerID: customer.ID,
		Amount: b.Amount, Currency: b.Currency, Type: string(derefOr(b.Type, PaymentCreateTypeEcom)),
		SaveCard: derefOr(b.SaveCard, false), Provider: provider, ProviderAccount: account, ReturnURL: returnURL,
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

// createHostedPlan answers POST /v1/plans without a card: the plan starts incomplete
// and its customer starts it on the hosted page, where the first installment is the
// authenticated customer-initiated payment (or, when the plan starts later, the card is
// verified with an authenticated zero-amount check and the first charge keeps its
// date). The session row comes first, then the plan's workflow, then the session's; a
// retry with the same Idempotency-Key derives the same ids and joins all three.
func (s *server) createHostedPlan(ctx context.Context, req CreatePlanRequestObject, in workflows.PlanInput) (CreatePlanResponseObject, error) {
	caller := callerFrom(ctx)
	b := req.Body
	returnURL, seconds, err := sessionParams(caller, b.ReturnUrl, b.ExpiresIn)
	if err != nil {
		return nil, err
	}
	c, err := s.temporalClient()
	if err != nil {
		return nil, err
	}
	var account string
	if in.Provider, account, err = s.hostedTarget(ctx, caller, b.Provider, b.ProviderAccount); err != nil {
		return nil, err
	}
	if err := s.checkAmounts(ctx, callerFrom(ctx), in.Provider, account, in.Currency, scheduleAmounts(in.Timetable)); err != nil {
		return nil, err
	}
	first, _ := in.Timetable.Installment(1)
	amount := first.Amount
	if first.DueAt.After(time.Now()) {
		amount = 0 // a later start: verify the card now, charge it on the date
	}
	expiresAt := time.Now().Add(time.Duration(seconds) * time.Second)
	token := billing.RandomToken(32)
	session, err := s.store.CreatePaymentSession(ctx, caller, billing.PaymentSession{
		ID:         derivedID(billing.PrefixPaymentSession, caller, deref(req.Params.IdempotencyKey)),
		CustomerID: in.CustomerID, Amount: amount, Currency: in.Currency, Type: in.Type, SaveCard: true,
		Provider: in.Provider, ProviderAccount: account, ReturnURL: returnURL, PlanID: in.PlanID, StartPlan: true,
		Token: token, TokenHash: tokenHash(token), ExpiresAt: expiresAt,
	})
	if err != nil {
		return nil, err
	}
	// A retry keeps the first request's deadline.
	in.Hosted = &workflows.HostedPlan{ExpiresAt: session.ExpiresAt}
	st, ended, err := s.startPlan(ctx, c, caller, in)
	if err != nil {
		return nil, err
	}
	if err := s.startPlanSession(ctx, c, session); err != nil {
		return nil, err
	}
	live := &st
	if ended {
		live = nil // a retried create of a plan that has finished since
	}
	out, err := s.planOut(ctx, caller, in.PlanID, live)
	if err != nil {
		return nil, err
	}
	return CreatePlan201JSONResponse(out), nil
}

// startPlanSession starts the workflow of a session that starts an incomplete plan.
func (s *server) startPlanSession(ctx context.Context, c client.Client, session billing.PaymentSession) error {
	return starter.StartHostedPayment(ctx, c, workflows.HostedPaymentInput{
		Payment: workflows.PaymentInput{PaymentID: session.ID, MerchantID: session.MerchantID, Mode: session.Mode,
			CustomerID: session.CustomerID, Amount: session.Amount, Currency: session.Currency, Type: session.Type,
			SaveCard: true},
		ExpiresAt: session.ExpiresAt, PlanID: session.PlanID, StartPlan: true,
	})
}

// hostedTarget is where a hosted page saves the card: one of the merchant's provider
// accounts when the request names one (provider, if given too, must be its provider),
// else the installation's provider (hostedProvider). It answers the provider's name
// and the account's id ("" for the installation's).
func (s *server) hostedTarget(ctx context.Context, caller billing.Caller, provider, account *string) (string, string, error) {
	if account == nil {
		name, err := s.hostedProvider(caller.Mode, deref(provider))
		return name, "", err
	}
	acc, _, err := s.accountAdapter(ctx, caller, *account, "provider_account")
	if err != nil {
		return "", "", err
	}
	if provider != nil && *provider != acc.Provider {
		return "", "", billing.Invalid("provider", billing.CodeInvalidValue, "provider_account %s is a %s account", acc.ID, acc.Provider)
	}
	return acc.Provider, acc.ID, nil
}

// hostedProvider is the provider a hosted page saves the card with: the one asked for,
// or the mode's default, and only one the mode may use.
func (s *server) hostedProvider(mode billing.Mode, requested string) (string, error) {
	provider := requested
	if provider == "" {
		var err error
		if provider, err = s.defaultProvider(mode); err != nil {
			return "", err
		}
	}
	if _, err := s.providers.Get(provider); err != nil || !s.providerAllowed(provider, mode) {
		return "", billing.Invalid("provider", billing.CodeProviderNotAvailable, "provider %q is not available in %s mode", provider, mode)
	}
	return provider, nil
}

// sessionParams checks a hosted session's return_url and expires_in.
func sessionParams(caller billing.Caller, returnURLParam *string, expiresIn *int) (string, int, error) {
	v := &billing.ValidationError{}
	returnURL := deref(returnURLParam)
	if returnURL != "" {
		u, err := url.Parse(returnURL)
		switch {
		case err != nil || !u.IsAbs() || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https"):
			v.Add("return_url", billing.CodeInvalidURL, "return_url must be an absolute http(s) URL")
		case caller.Mode == billing.ModeLive && u.Scheme != "https":
			v.Add("return_url", billing.CodeInvalidURL, "return_url must use https in live mode")
		}
	}
	seconds := derefOr(expiresIn, defaultSessionSeconds)
	minSeconds := minSessionSecondsLive
	if caller.Mode == billing.ModeTest {
		minSeconds = minSessionSecondsTest
	}
	if seconds < minSeconds || seconds > maxSessionSeconds {
		v.Add("expires_in", billing.CodeInvalidValue, "expires_in must be between %d and %d seconds", minSeconds, maxSessionSeconds)
	}
	return returnURL, seconds, v.Err()
}

// CreatePlanPaymentSession implements POST /v1/plans/{id}/payment-session: a hosted
// page where the customer gives the plan a new card (authenticated, not charged).
func (s *server) CreatePlanPaymentSession(ctx context.Context, req CreatePlanPaymentSessionRequestObject) (CreatePlanPaymentSessionResponseObject, error) {
	caller := callerFrom(ctx)
	var body PlanPaymentSessionCreate
	if req.Body != nil {
		body = *req.Body
	}
	returnURL, seconds, err := sessionParams(caller, body.ReturnUrl, body.ExpiresIn)
	if err != nil {
		return nil, err
	}
	c, err := s.temporalClient()
	if err != nil {
		return nil, err
	}
	row, err := s.store.GetPlan(ctx, caller, req.Id)
	if err != nil {
		return nil, withParam(err, "id")
	}
	if row.Status.Terminal() {
		return nil, &billing.Error{Kind: billing.KindConflict, Code: billing.CodeInvalidTransition,
			Message: fmt.Sprintf("plan %s is %s: it takes no new card", row.ID, row.Status)}
	}
	// The page saves the card where the plan charges: the merchant's account, if the
	// plan's card is in one (or, for a plan not started yet, its first page's account).
	account := row.ProviderAccount
	if account == "" && row.PaymentMethodID == "" {
		if first, err := s.store.FirstPlanSession(ctx, caller, row.ID); err == nil {
			account = first.ProviderAccount
		} else if billing.KindOf(err) != billing.KindNotFound {
			return nil, err
		}
	}
	if account != "" {
		if _, err := s.store.GetProviderAccount(ctx, caller, account); billing.KindOf(err) == billing.KindNotFound {
			return nil, &billing.Error{Kind: billing.KindUnprocessable, Code: billing.CodeProviderNotAvailable, Param: "id",
				Message: "the plan's provider account " + account + " no longer exists"}
		} else if err != nil {
			return nil, err
		}
	}
	// 3-D Secure is asked for the plan's next amount, which the new card will pay.
	var st workflows.PlanState
	qctx, cancel := context.WithTimeout(ctx, queryWait)
	st, err = starter.PlanState(qctx, c, row.ID)
	cancel()
	if err != nil && row.Status == billing.PlanIncomplete {
		return nil, err // its deadline and first amount are the workflow's
	}
	expiresAt := time.Now().Add(time.Duration(seconds) * time.Second)
	typ := string(derefOr(body.Type, PlanPaymentSessionCreateTypeEcom))
	start := st.Status == billing.PlanIncomplete
	amount := st.NextAmount
	if start {
		// Another try at starting the plan: its first payment (or a verification, for
		// a later start), within the plan's own deadline, in the plan's own mode.
		if st.NextDueAt.After(time.Now()) {
			amount = 0
		}
		expiresAt, typ = minTime(expiresAt, st.IncompleteUntil), row.Type
	}
	token := billing.RandomToken(32)
	session, err := s.store.CreatePaymentSession(ctx, caller, billing.PaymentSession{
		ID:         derivedID(billing.PrefixPaymentSession, caller, deref(req.Params.IdempotencyKey)),
		CustomerID: row.CustomerID, Amount: amount, Currency: row.Currency,
		Type: typ, SaveCard: true, Provider: row.Provider, ProviderAccount: account, ReturnURL: returnURL, PlanID: row.ID, StartPlan: start,
		Token: token, TokenHash: tokenHash(token), ExpiresAt: expiresAt,
	})
	if err != nil {
		return nil, err
	}
	if session.StartPlan {
		if err := s.startPlanSession(ctx, c, session); err != nil {
			return nil, err
		}
		return CreatePlanPaymentSession201JSONResponse(s.planSessionOut(ctx, session)), nil
	}
	if err := starter.StartHostedPayment(ctx, c, workflows.HostedPaymentInput{
		Payment: workflows.PaymentInput{PaymentID: session.ID, MerchantID: caller.MerchantID, Mode: caller.Mode,
			CustomerID: session.CustomerID, Amount: session.Amount, Currency: session.Currency, Type: session.Type},
		ExpiresAt: session.ExpiresAt, PlanID: row.ID,
	}); err != nil {
		return nil, err
	}
	return CreatePlanPaymentSession201JSONResponse(s.planSessionOut(ctx, session)), nil
}

// planSessionOut renders a card-change session.
func (s *server) planSessionOut(ctx context.Context, session billing.PaymentSession) PaymentSession {
	out := PaymentSession{Id: session.ID, Object: PaymentSessionObjectPaymentSession, Plan: session.PlanID,
		Customer: session.CustomerID, Status: PaymentSessionStatus(session.Status), Livemode: session.Mode == billing.ModeLive,
		CreatedAt: session.CreatedAt.UTC(), ExpiresAt: session.ExpiresAt.UTC()}
	if session.PaymentMethodID != "" {
		out.PaymentMethod = &session.PaymentMethodID
	}
	if session.Outcome != "" {
		o := PaymentSessionOutcome(session.Outcome)
		out.Outcome = &o
	}
	if u := s.pageURL(ctx, session); u != "" {
		out.PaymentUrl = &u
	}
	return out
}

// pageURL is an open session's payment_url.
func (s *server) pageURL(ctx context.Context, session billing.PaymentSession) string {
	if session.Status != billing.PaymentSessionOpen || session.Token == "" {
		return ""
	}
	base := s.publicURL
	if base == "" {
		base, _ = ctx.Value(originKey{}).(string)
	}
	return base + "/pay/" + session.Token
}

// sessionOut renders a session as its payment, with payment_url while it is open.
func (s *server) sessionOut(ctx context.Context, session billing.PaymentSession) Payment {
	obj := rest.SessionPaymentObject(session)
	if u := s.pageURL(ctx, session); u != "" {
		obj.PaymentURL = &u
	}
	return fromREST[Payment](obj)
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// tokenHash is how a payment_url's token is looked up: its SHA-256, so the database
// never holds a usable token in the clear.
func tokenHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}
