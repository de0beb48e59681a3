package providers_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/recurring/recurring/billing"
	"github.com/recurring/recurring/providers"
)

func TestClassifyVisaCategory1NeverRetried(t *testing.T) {
	for _, code := range []string{"04", "07", "12", "14", "15", "41", "43", "46", "57", "R0", "R1", "R3", "r1"} {
		d := providers.ClassifyVisa(code)
		if d.Class != providers.ClassHardDecline {
			t.Errorf("Visa %s = %s/%s, want a hard decline", code, d.Class, d.Code)
		}
		// Whatever the provider called it, the network's category 1 wins.
		e := providers.Classify(providers.Failure{Reason: "generic_decline", Network: "visa", NetworkCode: code, HTTPStatus: 402})
		if e.Class != providers.ClassHardDecline || e.Retryable() || e.RetryLater() {
			t.Errorf("generic_decline with Visa %s = %s/%s, want hard", code, e.Class, e.Code)
		}
	}
	want := map[string]string{
		"41": billing.CodeLostCard, "43": billing.CodeStolenCard, "46": billing.CodeAccountClosed,
		"04": billing.CodeCardBlocked, "R1": billing.CodeAuthorizationRevoked,
	}
	for code, c := range want {
		if got := providers.ClassifyVisa(code).Code; got != c {
			t.Errorf("Visa %s code = %s, want %s", code, got, c)
		}
	}
}

func TestClassifyVisaOtherCategories(t *testing.T) {
	cases := map[string]providers.Decision{
		"51": {Class: providers.ClassSoftDecline, Code: billing.CodeInsufficientFunds},
		"05": {Class: providers.ClassSoftDecline, Code: billing.CodeCardDeclined},
		"91": {Class: providers.ClassSoftDecline, Code: billing.CodeIssuerUnavailable},
		"54": {Class: providers.ClassHardDecline, Code: billing.CodeCardExpired},
		"1A": {Class: providers.ClassAuthenticationRequired, Code: billing.CodeAuthenticationRequired},
		"ZZ": {Class: providers.ClassSoftDecline, Code: billing.CodeCardDeclined},
	}
	for code, want := range cases {
		if got := providers.ClassifyVisa(code); got != want {
			t.Errorf("ClassifyVisa(%s) = %+v, want %+v", code, got, want)
		}
	}
}

func TestClassifyMastercardAdvice(t *testing.T) {
	for _, mac := range []string{"03", "21"} {
		d, ok := providers.ClassifyMastercardAdvice(mac)
		if !ok || d.Class != providers.ClassHardDecline {
			t.Errorf("MAC %s = %+v %v, want hard", mac, d, ok)
		}
		// An otherwise soft decline stops being retried.
		e := providers.Classify(providers.Failure{Reason: "insufficient_funds", Network: "mastercard", AdviceCode: mac})
		if e.Class != providers.ClassHardDecline || e.RetryAfter != 0 {
			t.Errorf("insufficient_funds with MAC %s = %s/%s after %v, want hard", mac, e.Class, e.Code, e.RetryAfter)
		}
	}
	hints := map[string]time.Duration{
		"24": time.Hour, "25": 24 * time.Hour, "26": 48 * time.Hour, "27": 96 * time.Hour,
		"28": 144 * time.Hour, "29": 192 * time.Hour, "30": 240 * time.Hour,
	}
	for mac, after := range hints {
		d, ok := providers.ClassifyMastercardAdvice(mac)
		if !ok || d.Class != providers.ClassSoftDecline || d.RetryAfter != after {
			t.Errorf("MAC %s = %+v, want soft after %v", mac, d, after)
		}
		e := providers.Classify(providers.Failure{Reason: "insufficient_funds", Network: "mastercard", AdviceCode: mac})
		if e.Class != providers.ClassSoftDecline || e.Code != billing.CodeInsufficientFunds || e.RetryAfter != after {
			t.Errorf("insufficient_funds with MAC %s = %s/%s after %v, want soft insufficient_funds after %v", mac, e.Class, e.Code, e.RetryAfter, after)
		}
	}
	if _, ok := providers.ClassifyMastercardAdvice("99"); ok {
		t.Error("an unknown advice code must leave the decision to the reason")
	}
	// A hint never makes a hard decline retryable.
	e := providers.Classify(providers.Failure{Reason: "stolen_card", Network: "mastercard", AdviceCode: "24"})
	if e.Class != providers.ClassHardDecline || e.Code != billing.CodeStolenCard || e.RetryAfter != 0 {
		t.Errorf("stolen_card with MAC 24 = %s/%s after %v", e.Class, e.Code, e.RetryAfter)
	}
	// Mastercard advice means nothing on a Visa authorization.
	e = providers.Classify(providers.Failure{Reason: "insufficient_funds", Network: "visa", AdviceCode: "03"})
	if e.Class != providers.ClassSoftDecline {
		t.Errorf("Visa decline with a Mastercard advice code = %s, want soft", e.Class)
	}
}

func TestClassifyTaxonomy(t *testing.T) {
	timeoutErr := &net.OpError{Op: "read", Err: &timeoutError{}}
	cases := []struct {
		name  string
		f     providers.Failure
		class providers.Class
		code  string
	}{
		{"expired", providers.Failure{Reason: "expired_card"}, providers.ClassHardDecline, billing.CodeCardExpired},
		{"lost", providers.Failure{Reason: "lost_card"}, providers.ClassHardDecline, billing.CodeLostCard},
		{"stolen", providers.Failure{Reason: "stolen_card"}, providers.ClassHardDecline, billing.CodeStolenCard},
		{"blocked", providers.Failure{Reason: "pickup_card"}, providers.ClassHardDecline, billing.CodeCardBlocked},
		{"recurring", providers.Failure{Reason: "recurring_not_supported"}, providers.ClassHardDecline, billing.CodeRecurringNotSupported},
		{"closed", providers.Failure{Reason: "account_closed"}, providers.ClassHardDecline, billing.CodeAccountClosed},
		{"do not try again", providers.Failure{Reason: "do_not_try_again"}, providers.ClassHardDecline, billing.CodeDoNotRetry},
		{"advice do not try again", providers.Failure{Reason: "generic_decline", ProviderAdvice: "do_not_try_again"}, providers.ClassHardDecline, billing.CodeDoNotRetry},
		{"funds", providers.Failure{Reason: "insufficient_funds"}, providers.ClassSoftDecline, billing.CodeInsufficientFunds},
		{"generic", providers.Failure{Reason: "generic_decline"}, providers.ClassSoftDecline, billing.CodeCardDeclined},
		{"issuer down", providers.Failure{Reason: "issuer_not_available"}, providers.ClassSoftDecline, billing.CodeIssuerUnavailable},
		{"unknown reason on 402", providers.Failure{Reason: "something_new", HTTPStatus: 402}, providers.ClassSoftDecline, billing.CodeCardDeclined},
		{"visa code without reason", providers.Failure{Network: "visa", NetworkCode: "43", HTTPStatus: 402}, providers.ClassHardDecline, billing.CodeStolenCard},
		{"processing", providers.Failure{Reason: "processing_error"}, providers.ClassTransient, billing.CodeProcessingError},
		{"5xx", providers.Failure{HTTPStatus: 503}, providers.ClassTransient, billing.CodeProviderUnavailable},
		{"429", providers.Failure{HTTPStatus: 429}, providers.ClassTransient, billing.CodeRateLimited},
		{"409", providers.Failure{HTTPStatus: 409}, providers.ClassTransient, billing.CodeIdempotencyKeyInUse},
		{"deadline", providers.Failure{Err: fmt.Errorf("post: %w", context.DeadlineExceeded)}, providers.ClassTransient, billing.CodeTimeout},
		{"net timeout", providers.Failure{Err: timeoutErr}, providers.ClassTransient, billing.CodeTimeout},
		{"refused", providers.Failure{Err: errors.New("connection refused")}, providers.ClassTransient, billing.CodeNetworkError},
		{"3ds", providers.Failure{Reason: "authentication_required"}, providers.ClassAuthenticationRequired, billing.CodeAuthenticationRequired},
		{"bad key", providers.Failure{HTTPStatus: 401}, providers.ClassInvalidRequest, billing.CodeProviderAuthenticationFailed},
		{"bad param", providers.Failure{Reason: "parameter_invalid_integer", HTTPStatus: 400}, providers.ClassInvalidRequest, billing.CodeInvalidRequest},
		{"key reuse", providers.Failure{Reason: "idempotency_conflict", HTTPStatus: 400}, providers.ClassInvalidRequest, billing.CodeIdempotencyConflict},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.f.Provider = "p"
			e := providers.Classify(c.f)
			if e.Class != c.class || e.Code != c.code {
				t.Fatalf("got %s/%s, want %s/%s", e.Class, e.Code, c.class, c.code)
			}
			if e.Provider != "p" || e.Message == "" {
				t.Errorf("provider %q message %q", e.Provider, e.Message)
			}
			if e.Retryable() != (c.class == providers.ClassTransient) || e.RetryLater() != (c.class == providers.ClassSoftDecline) {
				t.Errorf("Retryable %v RetryLater %v for %s", e.Retryable(), e.RetryLater(), c.class)
			}
		})
	}
}

func TestClassifyKeepsRetryAfter(t *testing.T) {
	e := providers.Classify(providers.Failure{HTTPStatus: 429, RetryAfter: 3 * time.Second})
	if e.Code != billing.CodeRateLimited || e.RetryAfter != 3*time.Second {
		t.Errorf("rate limit = %s after %v", e.Code, e.RetryAfter)
	}
}

type timeoutError struct{}

func (*timeoutError) Error() string   { return "i/o timeout" }
func (*timeoutError) Timeout() bool   { return true }
func (*timeoutError) Temporary() bool { return true }
