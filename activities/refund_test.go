package activities_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"

	"go.temporal.io/sdk/temporal"

	"github.com/recurring/recurring/activities"
	"github.com/recurring/recurring/activities/activitiestest"
	"github.com/recurring/recurring/billing"
	"github.com/recurring/recurring/providers"
)

// TestSendRefundReadsTheProvidersAnswer: a refund the provider reports succeeded is
// succeeded, one it reports pending stays pending, a failed or canceled one and a
// refusal are refused (not retried), a provider without refunds is refused with
// refund_not_supported, and a transient failure is retried.
func TestSendRefundReadsTheProvidersAnswer(t *testing.T) {
	for name, c := range map[string]struct {
		answer                  providers.RefundResult
		err                     error
		pending, refused, retry bool
		code                    string
	}{
		"succeeded":       {answer: providers.RefundResult{ID: "rf", Status: "succeeded"}},
		"pending":         {answer: providers.RefundResult{ID: "rf", Status: "pending"}, pending: true},
		"requires_action": {answer: providers.RefundResult{ID: "rf", Status: "requires_action"}, pending: true},
		"failed":          {answer: providers.RefundResult{ID: "rf", Status: "failed"}, refused: true, code: billing.CodeProcessingError},
		"refused":         {err: &providers.Error{Class: providers.ClassInvalidRequest, Code: billing.CodeInvalidAmount}, refused: true, code: billing.CodeInvalidAmount},
		"not supported":   {err: providers.ErrNotSupported, refused: true, code: billing.CodeRefundNotSupported},
		"transient":       {err: &providers.Error{Class: providers.ClassTransient, Code: billing.CodeTimeout}, retry: true},
	} {
		t.Run(name, func(t *testing.T) {
			p := &activitiestest.Provider{ProviderName: "fake", RespondRefund: func(providers.RefundRequest) (providers.RefundResult, error) {
				return c.answer, c.err
			}}
			a := activities.New(activities.Deps{Providers: activitiestest.Providers{"fake": p}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			res, err := a.SendRefund(context.Background(), activities.SendRefundRequest{Refund: billing.Refund{ID: "re_1",
				MerchantID: "mer_1", Amount: 100, Currency: "EUR", Provider: "fake", ProviderChargeID: "ch_1"}})
			var appErr *temporal.ApplicationError
			switch {
			case c.retry:
				if !errors.As(err, &appErr) || appErr.NonRetryable() {
					t.Errorf("transient failure: %+v, %v; want a retryable error", res, err)
				}
			case err != nil:
				t.Fatalf("SendRefund: %v", err)
			case res.Pending != c.pending || res.Refused != c.refused || res.Code != c.code:
				t.Errorf("result %+v, want pending %v refused %v code %q", res, c.pending, c.refused, c.code)
			}
			if calls := p.RefundCalls(); len(calls) != 1 || calls[0].IdempotencyKey != "re_1" || calls[0].Amount != 100 {
				t.Errorf("provider asked %+v, want one refund of 100 keyed re_1", calls)
			}
		})
	}
}

// outbox is an in-memory billing.CredentialRemovals.
type outbox struct {
	token    string
	outcome  string
	finished bool
}

func (o *outbox) CredentialToRemove(context.Context, string, string) (billing.StoredCredential, bool, error) {
	if o.finished {
		return billing.StoredCredential{}, false, nil
	}
	return billing.StoredCredential{PaymentMethodID: "pm_1", Provider: "fake", Token: o.token}, true, nil
}

func (o *outbox) FinishCredentialRemoval(_ context.Context, _, _ string, outcome string) error {
	o.outcome, o.finished = outcome, true
	return nil
}

// TestRemoveCredentialOutcomes: removed (also when the provider has it no more), not
// supported, refused for good (the token is dropped, not retried forever), and retried
// while the provider is down or refuses our credentials (the token kept).
func TestRemoveCredentialOutcomes(t *testing.T) {
	for name, c := range map[string]struct {
		err     error
		outcome string
		retry   bool
	}{
		"removed":       {outcome: billing.CredentialRemoved},
		"gone":          {err: &providers.Error{Class: providers.ClassInvalidRequest, Code: billing.CodeResourceMissing}, outcome: billing.CredentialRemoved},
		"not supported": {err: providers.ErrNotSupported, outcome: billing.CredentialNotSupported},
		"refused":       {err: &providers.Error{Class: providers.ClassInvalidRequest, Code: billing.CodeInvalidRequest}, outcome: billing.CredentialRefused},
		"down":          {err: &providers.Error{Class: providers.ClassTransient, Code: billing.CodeProviderUnavailable}, retry: true},
		"our key":       {err: &providers.Error{Class: providers.ClassInvalidRequest, Code: billing.CodeProviderAuthenticationFailed}, retry: true},
	} {
		t.Run(name, func(t *testing.T) {
			p := &activitiestest.Provider{ProviderName: "fake", RespondDetach: func(providers.DetachRequest) error { return c.err }}
			o := &outbox{token: "tok_secret"}
			a := activities.New(activities.Deps{Providers: activitiestest.Providers{"fake": p}, Credentials: o,
				Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			res, err := a.RemoveCredential(context.Background(), activities.RemoveCredentialRequest{MerchantID: "mer_1", PaymentMethodID: "pm_1"})
			if c.retry {
				if err == nil || o.finished {
					t.Errorf("%s: %+v, %v, finished %v; want a retry with the token kept", name, res, err, o.finished)
				}
				return
			}
			if err != nil || res.Outcome != c.outcome || o.outcome != c.outcome {
				t.Errorf("%s: %+v, %v, recorded %q; want %q", name, res, err, o.outcome, c.outcome)
			}
			if calls := p.DetachCalls(); len(calls) != 1 || calls[0].Token != "tok_secret" {
				t.Errorf("provider asked %+v", calls)
			}
		})
	}
}
