package simulator_test

import (
	"bytes"
	"context"
	"errors"
	"net/url"
	"testing"
	"time"

	"github.com/recurring/recurring/billing"
	"github.com/recurring/recurring/providers"
	"github.com/recurring/recurring/providers/simulator"
)

func TestThreeDSecure(t *testing.T) {
	ctx := context.Background()
	s := newSim(t, simulator.Options{VaultKey: vaultKey})
	begin := func(card providers.SavedCard, amount int64) providers.Authentication {
		t.Helper()
		a, err := s.BeginAuthentication(ctx, providers.AuthenticationRequest{Token: card.Token, Amount: amount, Currency: "EUR",
			IdempotencyKey: "3ds-" + card.Last4})
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	charge := func(card providers.SavedCard, key string, amount int64, auth *providers.Authentication) error {
		_, err := s.Charge(ctx, providers.ChargeRequest{Token: card.Token, CustomerRef: card.CustomerRef, Amount: amount,
			Currency: "EUR", IdempotencyKey: key, Initiator: providers.InitiatorCustomer, Authentication: auth})
		return err
	}
	wantCode := func(what string, err error, code string) {
		t.Helper()
		var pe *providers.Error
		if !errors.As(err, &pe) || pe.Code != code {
			t.Errorf("%s: %v, want %s", what, err, code)
		}
	}

	plain := save(t, s, "4242424242424242")
	if a := begin(plain, 1000); a.Status != providers.AuthenticationSucceeded || a.Proof == "" || a.ECI != "05" {
		t.Errorf("a plain card: %+v, want frictionless", a)
	}

	challenged := save(t, s, "4000000000003220")
	a := begin(challenged, 1000)
	if a.Status != providers.AuthenticationChallenge || a.Proof != "" {
		t.Fatalf("challenge card: %+v", a)
	}
	wantCode("a charge without authentication", charge(challenged, "k1", 1000, nil), billing.CodeAuthenticationRequired)
	denied, err := s.CompleteAuthentication(ctx, providers.CompleteAuthenticationRequest{ID: a.ID, Token: challenged.Token,
		Amount: 1000, Currency: "EUR", Answer: "deny"})
	if err != nil || denied.Status != providers.AuthenticationFailed {
		t.Errorf("denied: %+v, %v", denied, err)
	}
	if _, err := s.CompleteAuthentication(ctx, providers.CompleteAuthenticationRequest{ID: a.ID, Token: challenged.Token,
		Amount: 999, Currency: "EUR", Answer: "approve"}); err == nil {
		t.Error("an authentication completed for another amount")
	}
	ok, err := s.CompleteAuthentication(ctx, providers.CompleteAuthenticationRequest{ID: a.ID, Token: challenged.Token,
		Amount: 1000, Currency: "EUR", Answer: "approve"})
	if err != nil || ok.Status != providers.AuthenticationSucceeded {
		t.Fatalf("approved: %+v, %v", ok, err)
	}
	wantCode("a proof for another amount", charge(challenged, "k2", 2000, &ok), billing.CodeAuthenticationRequired)
	if err := charge(challenged, "k3", 1000, &ok); err != nil {
		t.Errorf("the authenticated charge: %v", err)
	}

	declines := save(t, s, "4000008260003178")
	b := begin(declines, 500)
	okd, err := s.CompleteAuthentication(ctx, providers.CompleteAuthenticationRequest{ID: b.ID, Token: declines.Token,
		Amount: 500, Currency: "EUR", Answer: "approve"})
	if err != nil {
		t.Fatal(err)
	}
	wantCode("declined after authentication", charge(declines, "k4", 500, &okd), billing.CodeInsufficientFunds)

	if u := begin(save(t, s, "4000000000003063"), 500); u.Status != providers.AuthenticationUnavailable || u.ECI != "07" {
		t.Errorf("a card not enrolled: %+v", u)
	}
}

// TestChallengeCallbacks: the ACS page's answers verify under the same key (across
// simulators, as across restarts) and say what was signed; a changed field, another
// key, a missing signature or a timestamp outside the window is refused.
func TestChallengeCallbacks(t *testing.T) {
	ctx := context.Background()
	s := newSim(t, simulator.Options{VaultKey: vaultKey})
	restarted := newSim(t, simulator.Options{VaultKey: vaultKey})
	other := newSim(t, simulator.Options{VaultKey: bytes.Repeat([]byte{7}, len(vaultKey))})
	now := time.Unix(1_900_000_000, 0)
	want := providers.Callback{MerchantID: "mer_1", Mode: billing.ModeTest, SessionID: "pay_1", AuthenticationID: "3ds_sim_1"}
	approve, deny := s.ChallengeForms(want, now)
	got, err := restarted.VerifyCallback(ctx, approve, now.Add(time.Minute))
	if want.Answer = "approve"; err != nil || got != want {
		t.Errorf("approve: %+v, %v; want %+v", got, err, want)
	}
	if got, err := s.VerifyCallback(ctx, deny, now); err != nil || got.Answer != "deny" {
		t.Errorf("deny: %+v, %v", got, err)
	}
	changed := func(k, v string) url.Values {
		f := url.Values{}
		for key, vals := range approve {
			f[key] = append([]string(nil), vals...)
		}
		f.Set(k, v)
		return f
	}
	for name, form := range map[string]url.Values{
		"answer changed": changed("answer", "deny"), "session changed": changed("session", "pay_2"),
		"merchant changed": changed("merchant", "mer_2"), "mode changed": changed("mode", "live"),
		"no signature": changed("sig", ""), "timestamp changed": changed("ts", "1900000001"),
	} {
		if _, err := s.VerifyCallback(ctx, form, now); !errors.Is(err, providers.ErrCallbackSignature) {
			t.Errorf("%s: %v, want ErrCallbackSignature", name, err)
		}
	}
	if _, err := other.VerifyCallback(ctx, approve, now); !errors.Is(err, providers.ErrCallbackSignature) {
		t.Errorf("another key: %v, want ErrCallbackSignature", err)
	}
	for _, at := range []time.Time{now.Add(providers.CallbackWindow + time.Second), now.Add(-providers.CallbackWindow - time.Second)} {
		if _, err := s.VerifyCallback(ctx, approve, at); !errors.Is(err, providers.ErrCallbackStale) {
			t.Errorf("verified at %s: %v, want ErrCallbackStale", at.Sub(now), err)
		}
	}
}
