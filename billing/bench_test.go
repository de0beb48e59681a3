package billing

import (
	"testing"
	"time"
)

var benchInstallment Installment // keeps results alive

// BenchmarkInstallment10000Daily: installment 10,000 of a daily plan, computed
// directly, as a workflow resuming 27 years in does.
func BenchmarkInstallment10000Daily(b *testing.B) {
	for _, tz := range []string{"UTC", "America/New_York"} {
		b.Run(tz, func(b *testing.B) {
			tt, err := Schedule{Frequency: FrequencyDays, StartDate: "2025-01-01", ChargeTime: "09:00", Timezone: tz,
				RecurringAmount: ptr[int64](1000)}.Resolve(ModeLive, planNow)
			if err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				inst, ok := tt.Installment(10_000)
				if !ok {
					b.Fatal("no installment 10000")
				}
				benchInstallment = inst
			}
		})
	}
}

// BenchmarkNextAfter: the first installment after t, for t spread over a 10-year plan.
func BenchmarkNextAfter(b *testing.B) {
	plans := []struct {
		name string
		s    Schedule
	}{
		{"daily10y", Schedule{Frequency: FrequencyDays, StartDate: "2025-01-01", Installments: ptr(3650)}},
		{"monthly10y", Schedule{Frequency: FrequencyMonths, StartDate: "2025-01-31", Installments: ptr(120)}},
		{"variable3650", Schedule{Payments: dailyPayments(3650)}},
	}
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	ats := make([]time.Time, 1024)
	for i := range ats {
		ats[i] = start.Add(time.Duration(i) * 10 * 365 * 24 * time.Hour / time.Duration(len(ats)))
	}
	for _, p := range plans {
		b.Run(p.name+"/America/New_York", func(b *testing.B) {
			p.s.Timezone, p.s.ChargeTime = "America/New_York", "09:00"
			if !p.s.IsVariable() {
				p.s.RecurringAmount = ptr[int64](1000)
			}
			tt, err := p.s.Resolve(ModeLive, planNow)
			if err != nil {
				b.Fatal(err)
			}
			i := 0
			for b.Loop() {
				inst, ok := tt.NextAfter(ats[i%len(ats)])
				if !ok {
					b.Fatal("none")
				}
				benchInstallment = inst
				i++
			}
		})
	}
}

// BenchmarkResolve: validating and resolving a typical monthly schedule.
func BenchmarkResolve(b *testing.B) {
	s := Schedule{Frequency: FrequencyMonths, StartDate: "2025-01-31", FirstAmount: ptr[int64](500),
		RecurringAmount: ptr[int64](1000), Installments: ptr(24), FinalAmount: ptr[int64](2500),
		FinalPaymentDate: "2027-02-15", ExpiresOn: "2027-12-31", Timezone: "America/New_York", ChargeTime: "09:00"}
	for b.Loop() {
		if _, err := s.Resolve(ModeLive, planNow); err != nil {
			b.Fatal(err)
		}
	}
}

func dailyPayments(n int) []ScheduledPayment {
	out := make([]ScheduledPayment, n)
	d := date(2025, 1, 1)
	for i := range out {
		out[i] = ScheduledPayment{Date: d.AddDays(i).String(), Amount: 1000}
	}
	return out
}
