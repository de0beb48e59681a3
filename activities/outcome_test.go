package activities_test

import (
	"testing"

	"go.temporal.io/sdk/temporal"

	"github.com/recurring/recurring/activities"
	"github.com/recurring/recurring/activities/activitiestest"
	"github.com/recurring/recurring/billing"
	"github.com/recurring/recurring/providers"
)

// Declines and other business outcomes are benign ApplicationErrors (the SDK logs them
// at DEBUG, not ERROR); faults keep the default category. Typed, non-retryable and
// with details either way.
func TestChargeDeclinesAreBenignAndFaultsAreNot(t *testing.T) {
	f := newFixture(t)
	f.pms.Set("pm_blocked", activitiestest.Card{Provider: "fake", Token: "t", Blocked: true})
	cases := []struct {
		name   string
		pm     string
		err    error
		typ    string
		benign bool
	}{
		{"soft decline", "pm_fake", activitiestest.Decline(providers.ClassSoftDecline, billing.CodeInsufficientFunds), activities.ErrSoftDecline, true},
		{"hard decline", "pm_fake", activitiestest.Decline(providers.ClassHardDecline, billing.CodeCardExpired), activities.ErrHardDecline, true},
		{"authentication required", "pm_fake", activitiestest.Decline(providers.ClassAuthenticationRequired, billing.CodeAuthenticationRequired), activities.ErrAuthenticationRequired, true},
		{"card blocked in the store", "pm_blocked", nil, activities.ErrPaymentMethodUnavailable, true},
		{"invalid request", "pm_fake", activitiestest.Decline(providers.ClassInvalidRequest, "currency_not_supported"), activities.ErrInvalidRequest, false},
		{"transient", "pm_fake", &providers.Error{Class: providers.ClassTransient, Code: billing.CodeProcessingError}, activities.ErrTransient, false},
	}
	for _, c := range cases {
		f.fake.Respond = func(activitiestest.Call) (providers.ChargeResult, error) { return providers.ChargeResult{}, c.err }
		_, err := f.charge(chargeReq(c.pm, "k_"+c.name))
		fl, appErr := failure(t, err)
		if appErr.Type() != c.typ || fl.Type != c.typ {
			t.Errorf("%s: %v, want type %s", c.name, err, c.typ)
		}
		if benign := appErr.Category() == temporal.ApplicationErrorCategoryBenign; benign != c.benign {
			t.Errorf("%s: benign=%v, want %v", c.name, benign, c.benign)
		}
	}
}
