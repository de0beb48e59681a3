package api

import (
	"context"
	"fmt"

	"github.com/recurring/recurring/billing"
	"github.com/recurring/recurring/providers"
)

// namedAmount is an amount with the request field it came from.
type namedAmount struct {
	field  string
	amount int64
}

// checkAmounts refuses, before anything is created, an amount the provider cannot
// represent in currency (a providers.AmountConverter's rule): 422 amount_not_supported
// naming the field, rather than a failed charge months later. account is the card's
// provider account, if any.
func (s *server) checkAmounts(ctx context.Context, caller billing.Caller, provider, account, currency string, amounts []namedAmount) error {
	p, err := s.adapter(ctx, caller, provider, account)
	if err != nil {
		return nil // availability is checked where the provider is chosen
	}
	conv, ok := p.(providers.AmountConverter)
	if !ok {
		return nil
	}
	for _, a := range amounts {
		if _, err := conv.ProviderAmount(a.amount, currency); err != nil {
			return &billing.Error{Kind: billing.KindUnprocessable, Code: billing.CodeAmountNotSupported, Param: a.field,
				Message: fmt.Sprintf("%s: %v", a.field, err)}
		}
	}
	return nil
}

// scheduleAmounts names a resolved schedule's amounts as the client sent them.
func scheduleAmounts(tt billing.Timetable) []namedAmount {
	var out []namedAmount
	for _, a := range []namedAmount{{"schedule.first_amount", tt.FirstAmount},
		{"schedule.recurring_amount", tt.RecurringAmount}, {"schedule.final_amount", tt.FinalAmount}} {
		if a.amount != 0 {
			out = append(out, a)
		}
	}
	for i, p := range tt.Payments {
		out = append(out, namedAmount{fmt.Sprintf("schedule.payments.%d.amount", i), p.Amount})
	}
	return out
}
