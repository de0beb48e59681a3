package simulator

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/url"
	"strconv"
	"time"

	"github.com/recurring/recurring/billing"
	"github.com/recurring/recurring/providers"
)

// The simulator's 3-D Secure. What an authentication does is the card's (threeDSCards);
// every other card is authenticated frictionless. Nothing is kept: an authentication's
// id and its proof (the CAVV) are MACs over the token, amount and currency under the
// vault's key, so any simulator with the same key verifies them, across restarts, and a
// proof for one charge does not fit another.

var _ providers.Authenticator = (*Simulator)(nil)

// threeDS is what a card does under 3-D Secure.
type threeDS int

const (
	frictionless threeDS = iota
	// challenge: the issuer shows its page; the cardholder approves or denies.
	challenge
	// unavailable: the card takes no part; the charge goes on unauthenticated (ECI 07).
	unavailable
)

// threeDSCards are the cards that are not authenticated frictionless. Challenge cards
// also decline a customer-initiated charge that carries no authentication, as an
// issuer requiring SCA does.
var threeDSCards = map[string]threeDS{
	"4000000000003220": challenge,   // challenge, then the charge succeeds (approve) or not (deny)
	"4000008260003178": challenge,   // challenge, then the charge is declined: insufficient funds
	"4000002500003155": challenge,   // challenge for the initial payment; merchant-initiated charges decline
	"4000000000003063": unavailable, // not enrolled: charged without authentication
}

// BeginAuthentication starts 3-D Secure for a charge: frictionless, a challenge, or
// unavailable, by card.
func (s *Simulator) BeginAuthentication(ctx context.Context, req providers.AuthenticationRequest) (providers.Authentication, error) {
	if err := s.wait(ctx); err != nil {
		return providers.Authentication{}, err
	}
	card, err := s.vault.open(req.Token)
	if err != nil {
		return providers.Authentication{}, s.fail(billing.CodePaymentMethodNotFound, err.Error())
	}
	id := "3ds_sim_" + s.authMAC("id", req.Token, req.Amount, req.Currency)[:24]
	switch threeDSCards[card.Number] {
	case challenge:
		return providers.Authentication{ID: id, Status: providers.AuthenticationChallenge}, nil
	case unavailable:
		return providers.Authentication{ID: id, Status: providers.AuthenticationUnavailable, ECI: "07"}, nil
	}
	return s.authenticated(id, req.Token, req.Amount, req.Currency), nil
}

// CompleteAuthentication reads the simulated ACS's answer: "approve" authenticates,
// anything else fails. An id that does not belong to the token, amount and currency is
// refused.
func (s *Simulator) CompleteAuthentication(ctx context.Context, req providers.CompleteAuthenticationRequest) (providers.Authentication, error) {
	if err := s.wait(ctx); err != nil {
		return providers.Authentication{}, err
	}
	want := "3ds_sim_" + s.authMAC("id", req.Token, req.Amount, req.Currency)[:24]
	if !hmac.Equal([]byte(req.ID), []byte(want)) {
		return providers.Authentication{}, s.fail(billing.CodeAuthenticationRequired, "unknown 3-D Secure authentication")
	}
	if req.Answer != "approve" {
		return providers.Authentication{ID: req.ID, Status: providers.AuthenticationFailed}, nil
	}
	return s.authenticated(req.ID, req.Token, req.Amount, req.Currency), nil
}

func (s *Simulator) authenticated(id, token string, amount int64, currency string) providers.Authentication {
	return providers.Authentication{ID: id, Status: providers.AuthenticationSucceeded, ECI: "05",
		Proof: s.authMAC("cavv", token, amount, currency)}
}

func (s *Simulator) authMAC(label, token string, amount int64, currency string) string {
	m := hmac.New(sha256.New, s.vault.macKey)
	fmt.Fprintf(m, "3ds|%s|%s|%d|%s", label, token, amount, currency)
	return hex.EncodeToString(m.Sum(nil))
}

// authenticatedCharge reports whether a charge carries a valid proof for its token,
// amount and currency.
func (s *Simulator) authenticatedCharge(req providers.ChargeRequest) bool {
	a := req.Authentication
	return a != nil && a.Status == providers.AuthenticationSucceeded &&
		hmac.Equal([]byte(a.Proof), []byte(s.authMAC("cavv", req.Token, req.Amount, req.Currency)))
}

var _ providers.CallbackVerifier = (*Simulator)(nil)

// ChallengeForms returns the fields of the simulated ACS page's two forms, approve and
// deny, each posting its answer to the engine's callback route signed with the
// simulator's key, as an issuer's page returns a signed result.
func (s *Simulator) ChallengeForms(c providers.Callback, now time.Time) (approve, deny url.Values) {
	form := func(answer string) url.Values {
		c.Answer = answer
		v := url.Values{"merchant": {c.MerchantID}, "mode": {string(c.Mode)}, "session": {c.SessionID},
			"authentication": {c.AuthenticationID}, "answer": {answer}, "ts": {strconv.FormatInt(now.Unix(), 10)}}
		v.Set("sig", s.callbackMAC(v))
		return v
	}
	return form("approve"), form("deny")
}

// VerifyCallback checks a simulated ACS answer: every field under the signature, and
// its timestamp within providers.CallbackWindow.
func (s *Simulator) VerifyCallback(_ context.Context, form url.Values, now time.Time) (providers.Callback, error) {
	sig := form.Get("sig")
	if sig == "" || !hmac.Equal([]byte(sig), []byte(s.callbackMAC(form))) {
		return providers.Callback{}, providers.ErrCallbackSignature
	}
	ts, err := strconv.ParseInt(form.Get("ts"), 10, 64)
	if err != nil {
		return providers.Callback{}, providers.ErrCallbackSignature
	}
	if d := now.Sub(time.Unix(ts, 0)); d > providers.CallbackWindow || d < -providers.CallbackWindow {
		return providers.Callback{}, providers.ErrCallbackStale
	}
	return providers.Callback{MerchantID: form.Get("merchant"), Mode: billing.Mode(form.Get("mode")),
		SessionID: form.Get("session"), AuthenticationID: form.Get("authentication"), Answer: form.Get("answer")}, nil
}

// callbackMAC signs a callback's fields, each length-prefixed so none can bleed into
// another.
func (s *Simulator) callbackMAC(form url.Values) string {
	m := hmac.New(sha256.New, s.vault.macKey)
	m.Write([]byte("callback"))
	for _, k := range []string{"merchant", "mode", "session", "authentication", "answer", "ts"} {
		v := form.Get(k)
		fmt.Fprintf(m, "|%d:%s", len(v), v)
	}
	return hex.EncodeToString(m.Sum(nil))
}
