package aps

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"time"

	"github.com/recurring/recurring/billing"
	"github.com/recurring/recurring/providers"
)

// 3-D Secure on Amazon Payment Services runs on the issuer's page behind the 3ds_url
// an order answers (20064, "3-D Secure check requested"), and APS sends the customer
// back to the request's return_url with the order's result, signed with the response
// phrase, the request's merchant_extra fields echoed. So, for this adapter:
//   - BeginAuthentication sends AUTHORIZATION (eci ECOMMERCE, return_url, the session in
//     merchant_extra…merchant_extra3): the money is held, never taken, until the
//     engine's charge step; 20064 with a 3ds_url is a challenge, 02000 an authorization
//     that needed none;
//   - VerifyCallback checks the return's signature and its age (merchant_extra3, the
//     begin's time, is covered by the signature; at most an hour) and names the session from the
//     merchant_extra fields;
//   - CompleteAuthentication asks CHECK_STATUS how the authorization ended;
//   - Charge with that authentication sends CAPTURE for it (the maintenance_reference
//     derived from the charge's key), and FindCharge looks the authorization up;
//   - CancelAuthentication sends VOID_AUTHORIZATION, releasing the hold.
//
// A card-change page (Setup) charges nothing: APS has no authentication without an
// amount here, so it answers "unavailable" and the card is saved without one.
var (
	_ providers.Authenticator          = (*Provider)(nil)
	_ providers.AuthenticationCanceler = (*Provider)(nil)
	_ providers.CallbackVerifier       = (*Provider)(nil)
)

// orderReference is what MerchantReference makes: letters, digits, "-", "_", ".".
var orderReference = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,40}$`)

// maxReturnAge bounds how long after the begin a 3-D Secure return is taken: the
// customer's time on the issuer's page, with room to spare.
const maxReturnAge = time.Hour

// authorizationOf is the APS authorization (its merchant_reference) a charge captures:
// the id of a succeeded authentication this adapter began, else "".
func authorizationOf(req providers.ChargeRequest) string {
	if a := req.Authentication; a != nil && a.Status == providers.AuthenticationSucceeded && orderReference.MatchString(a.ID) {
		return a.ID
	}
	return ""
}

// BeginAuthentication authorizes the amount with 3-D Secure; see the file comment.
func (p *Provider) BeginAuthentication(ctx context.Context, req providers.AuthenticationRequest) (providers.Authentication, error) {
	if req.ReturnURL == "" || req.Setup {
		return providers.Authentication{Status: providers.AuthenticationUnavailable}, nil
	}
	if err := (providers.ChargeRequest{Token: req.Token, Amount: req.Amount, Currency: req.Currency,
		IdempotencyKey: req.IdempotencyKey, Initiator: providers.InitiatorCustomer}).Validate(); err != nil {
		return providers.Authentication{}, own(err)
	}
	if req.CustomerRef == "" {
		return providers.Authentication{}, &providers.Error{Provider: Name, Class: providers.ClassInvalidRequest,
			Code: billing.CodePaymentMethodNotFound, Param: "customer_email", Message: "the saved card has no customer email"}
	}
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	name, agreement := token(req.Token)
	params := p.params("command", "AUTHORIZATION")
	ref := MerchantReference(req.IdempotencyKey)
	params["merchant_reference"], params["amount"], params["currency"] = ref, strconv.FormatInt(req.Amount, 10), req.Currency
	params["customer_email"], params["token_name"], params["eci"], params["return_url"] = req.CustomerRef, name, "ECOMMERCE", req.ReturnURL
	if agreement != "" {
		params["agreement_id"] = agreement
	}
	params["merchant_extra"], params["merchant_extra1"] = req.Session.MerchantID, string(req.Session.Mode)
	params["merchant_extra2"], params["merchant_extra3"] = req.Session.SessionID, strconv.FormatInt(time.Now().Unix(), 10)
	answer, err := p.call(ctx, params)
	if err != nil {
		return providers.Authentication{}, err
	}
	if answer["merchant_reference"] != ref {
		return providers.Authentication{}, providers.Classify(providers.Failure{Provider: Name, Reason: "processing_error", ChargeID: ref,
			Message: "the answer names another order; the outcome is unknown"})
	}
	switch code := answer["response_code"]; {
	case code == "02000":
		return providers.Authentication{ID: ref, Status: providers.AuthenticationSucceeded}, nil
	case code == "20064" && answer["3ds_url"] != "":
		return providers.Authentication{ID: ref, Status: providers.AuthenticationChallenge, ChallengeURL: answer["3ds_url"]}, nil
	case code == "00007" || code == "00066":
		// This key's authorization exists (a retried begin whose answer was lost): how
		// it ended. One still waiting on the issuer's page answers failed, as its
		// 3ds_url is not known here: that page's payment fails and a new page starts
		// over (a known limit; the hold, if the customer ever completes it, lapses).
		return p.CompleteAuthentication(ctx, providers.CompleteAuthenticationRequest{ID: ref, Amount: req.Amount, Currency: req.Currency})
	}
	return providers.Authentication{}, p.failure(answer)
}

// CompleteAuthentication reads how the authorization ended: authorized is succeeded,
// a failed or never completed one is failed. The answer the callback carried is not
// trusted for this; CHECK_STATUS is.
func (p *Provider) CompleteAuthentication(ctx context.Context, req providers.CompleteAuthenticationRequest) (providers.Authentication, error) {
	if !orderReference.MatchString(req.ID) {
		return providers.Authentication{ID: req.ID, Status: providers.AuthenticationFailed}, nil
	}
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	params := p.params("query_command", "CHECK_STATUS")
	params["merchant_reference"] = req.ID
	answer, err := p.call(ctx, params)
	if err != nil {
		return providers.Authentication{}, err
	}
	if answer["response_code"] != "12000" || answer["merchant_reference"] != req.ID {
		return providers.Authentication{}, providers.Classify(providers.Failure{Provider: Name, Reason: "processing_error",
			ChargeID: req.ID, Message: "Amazon Payment Services could not tell how the authorization ended"})
	}
	switch tx := answer["transaction_code"]; {
	case tx == "02000" && (req.Amount == 0 || answer["authorized_amount"] == strconv.FormatInt(req.Amount, 10)):
		return providers.Authentication{ID: req.ID, Status: providers.AuthenticationSucceeded}, nil
	case tx == "02000":
		// Authorized for another amount: no charge may capture it; release it.
		if err := p.void(ctx, req.ID); err != nil {
			return providers.Authentication{}, err
		}
		return providers.Authentication{ID: req.ID, Status: providers.AuthenticationFailed}, nil
	case len(tx) == 5 && (tx[:2] == "03" || tx[:2] == "00" || tx[:2] == "08"), tx == "20064":
		// Failed, refused, voided, or the customer never finished: nothing is held.
		return providers.Authentication{ID: req.ID, Status: providers.AuthenticationFailed}, nil
	}
	return providers.Authentication{}, providers.Classify(providers.Failure{Provider: Name, Reason: "processing_error",
		ChargeID: req.ID, Message: "the authorization is not settled yet (" + answer["transaction_code"] + ")"})
}

// capture takes the money an authentication held.
func (p *Provider) capture(ctx context.Context, req providers.ChargeRequest) (providers.ChargeResult, error) {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	ref := authorizationOf(req)
	params := p.params("command", "CAPTURE")
	params["merchant_reference"], params["maintenance_reference"] = ref, MerchantReference(req.IdempotencyKey)
	params["amount"], params["currency"] = strconv.FormatInt(req.Amount, 10), req.Currency
	answer, err := p.call(ctx, params)
	if err != nil {
		return providers.ChargeResult{}, err
	}
	if answer["response_code"] == "04000" && answer["merchant_reference"] == ref && answer["amount"] == params["amount"] {
		return providers.ChargeResult{ID: ref, Status: providers.ChargeSucceeded, Amount: req.Amount, Currency: req.Currency}, nil
	}
	// Refused: already captured (a retry whose answer was lost), voided, or another
	// amount. The authorization's state says which.
	res, err := p.FindCharge(ctx, req)
	if errors.Is(err, providers.ErrNoSuchCharge) {
		e := p.failure(answer)
		if !e.Retryable() {
			// The capture is refused for good: release the hold rather than leave the
			// customer's money blocked until the authorization lapses.
			_ = p.CancelAuthentication(ctx, ref)
		}
		return providers.ChargeResult{}, e
	}
	return res, err
}

// CancelAuthentication voids an authorization no charge will capture.
func (p *Provider) CancelAuthentication(ctx context.Context, id string) error {
	if !orderReference.MatchString(id) {
		return nil // not an APS authorization: nothing is held
	}
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	answer, err := p.voidCall(ctx, id)
	if err != nil {
		return err
	}
	if answer["response_code"] == "08000" {
		return nil
	}
	st, err := p.CompleteAuthentication(ctx, providers.CompleteAuthenticationRequest{ID: id})
	if err == nil && st.Status == providers.AuthenticationFailed {
		return nil // voided before, failed, or never held: nothing to release
	}
	return providers.Classify(providers.Failure{Provider: Name, Reason: "processing_error", ChargeID: id,
		Message: "Amazon Payment Services did not void the authorization (" + answer["response_code"] + ")"})
}

// void sends VOID_AUTHORIZATION and wants it done.
func (p *Provider) void(ctx context.Context, id string) error {
	answer, err := p.voidCall(ctx, id)
	if err == nil && answer["response_code"] != "08000" {
		err = providers.Classify(providers.Failure{Provider: Name, Reason: "processing_error", ChargeID: id,
			Message: "Amazon Payment Services did not void the authorization (" + answer["response_code"] + ")"})
	}
	return err
}

func (p *Provider) voidCall(ctx context.Context, id string) (map[string]string, error) {
	params := p.params("command", "VOID_AUTHORIZATION")
	params["merchant_reference"] = id
	return p.call(ctx, params)
}

// VerifyCallback checks a 3-D Secure return: signed with the response phrase over
// every field, begun within providers.CallbackWindow, naming the session in its
// merchant_extra fields.
func (p *Provider) VerifyCallback(_ context.Context, form url.Values, now time.Time) (providers.Callback, error) {
	answer := make(map[string]string, len(form))
	for k, v := range form {
		if len(v) != 1 {
			return providers.Callback{}, providers.ErrCallbackSignature
		}
		answer[k] = v[0]
	}
	if answer["signature"] == "" || !Verify(answer, p.cfg.ResponsePhrase, p.cfg.SHAType) {
		return providers.Callback{}, providers.ErrCallbackSignature
	}
	began, err := strconv.ParseInt(answer["merchant_extra3"], 10, 64)
	if err != nil {
		return providers.Callback{}, fmt.Errorf("%w: no begin time", providers.ErrCallbackStale)
	}
	if d := now.Sub(time.Unix(began, 0)); d > maxReturnAge || d < -providers.CallbackWindow {
		return providers.Callback{}, providers.ErrCallbackStale
	}
	return providers.Callback{MerchantID: answer["merchant_extra"], Mode: billing.Mode(answer["merchant_extra1"]),
		SessionID: answer["merchant_extra2"], AuthenticationID: answer["merchant_reference"], Answer: answer["response_code"]}, nil
}
