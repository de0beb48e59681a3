package billing

import (
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"math"
	"slices"
	"strings"
	"testing"
	"time"
)

func ptr[T any](v T) *T { return &v }

// validationNow is "now" for the validation tests: 2025-01-10 12:00 UTC.
var validationNow = time.Date(2025, 1, 10, 12, 0, 0, 0, time.UTC)

// monthly is a valid fixed schedule the cases below break one field at a time.
func monthly() Schedule {
	return Schedule{
		Frequency:       FrequencyMonths,
		StartDate:       "2025-02-01",
		RecurringAmount: ptr[int64](1000),
	}
}

// violations returns "param code" for every violation in err, sorted.
func violations(t *testing.T, err error) []string {
	t.Helper()
	if err == nil {
		return nil
	}
	var v *ValidationError
	if !errors.As(err, &v) {
		t.Fatalf("error %v is not a *ValidationError", err)
	}
	var out []string
	for _, e := range v.Violations {
		if e.Kind != KindInvalid || e.Message == "" {
			t.Errorf("violation %+v: want KindInvalid with a message", e)
		}
		out = append(out, e.Param+" "+e.Code)
	}
	slices.Sort(out)
	return out
}

func TestValidateRules(t *testing.T) {
	tests := []struct {
		name string
		s    func() Schedule
		mode Mode
		want []string // "param code", any order; none means valid
	}{
		{"valid monthly", monthly, ModeLive, nil},
		{"valid with everything", func() Schedule {
			s := monthly()
			s.FrequencyDuration, s.FirstAmount, s.Installments, s.FinalAmount = ptr(2), ptr[int64](500), ptr(6), ptr[int64](2500)
			s.FinalPaymentDate, s.ExpiresOn, s.Timezone, s.ChargeTime = "2026-02-01", "2026-12-31", "America/New_York", "08:30"
			return s
		}, ModeLive, nil},
		{"start today is not in the past", func() Schedule { s := monthly(); s.StartDate = "2025-01-10"; return s }, ModeLive, nil},
		{"no start date starts now", func() Schedule { s := monthly(); s.StartDate = ""; return s }, ModeLive, nil},

		{"frequency missing", func() Schedule { s := monthly(); s.Frequency = ""; return s }, ModeLive,
			[]string{"schedule.frequency parameter_missing"}},
		{"frequency unknown", func() Schedule { s := monthly(); s.Frequency = "fortnights"; return s }, ModeLive,
			[]string{"schedule.frequency invalid_frequency"}},
		{"frequency is case sensitive", func() Schedule { s := monthly(); s.Frequency = "Months"; return s }, ModeLive,
			[]string{"schedule.frequency invalid_frequency"}},
		{"minutes in live mode", func() Schedule { s := monthly(); s.Frequency = FrequencyMinutes; return s }, ModeLive,
			[]string{"schedule.frequency frequency_not_allowed"}},
		{"seconds in live mode", func() Schedule { s := monthly(); s.Frequency = FrequencySeconds; return s }, ModeLive,
			[]string{"schedule.frequency frequency_not_allowed"}},
		{"hours in an unknown mode counts as live", func() Schedule { s := monthly(); s.Frequency = FrequencyHours; return s }, Mode("sandbox"),
			[]string{"schedule.frequency frequency_not_allowed"}},
		{"minutes in test mode", func() Schedule { s := monthly(); s.Frequency = FrequencyMinutes; return s }, ModeTest, nil},

		{"frequency_duration 0", func() Schedule { s := monthly(); s.FrequencyDuration = ptr(0); return s }, ModeLive,
			[]string{"schedule.frequency_duration invalid_frequency_duration"}},
		{"frequency_duration negative", func() Schedule { s := monthly(); s.FrequencyDuration = ptr(-3); return s }, ModeLive,
			[]string{"schedule.frequency_duration invalid_frequency_duration"}},
		{"frequency_duration too large", func() Schedule { s := monthly(); s.FrequencyDuration = ptr(MaxFrequencyDuration + 1); return s }, ModeLive,
			[]string{"schedule.frequency_duration invalid_frequency_duration"}},

		{"recurring_amount missing", func() Schedule { s := monthly(); s.RecurringAmount = nil; return s }, ModeLive,
			[]string{"schedule.recurring_amount parameter_missing"}},
		{"recurring_amount zero", func() Schedule { s := monthly(); s.RecurringAmount = ptr[int64](0); return s }, ModeLive,
			[]string{"schedule.recurring_amount invalid_amount"}},
		{"first_amount negative", func() Schedule { s := monthly(); s.FirstAmount = ptr[int64](-1); return s }, ModeLive,
			[]string{"schedule.first_amount invalid_amount"}},
		{"final_amount zero", func() Schedule { s := monthly(); s.Installments, s.FinalAmount = ptr(3), ptr[int64](0); return s }, ModeLive,
			[]string{"schedule.final_amount invalid_amount"}},

		{"installments zero", func() Schedule { s := monthly(); s.Installments = ptr(0); return s }, ModeLive,
			[]string{"schedule.installments invalid_installments"}},
		{"one installment", func() Schedule { s := monthly(); s.Installments = ptr(1); return s }, ModeLive, nil},
		{"final_amount without installments", func() Schedule { s := monthly(); s.FinalAmount = ptr[int64](5); return s }, ModeLive,
			[]string{"schedule.final_amount final_requires_installments"}},
		{"final_payment_date without installments", func() Schedule { s := monthly(); s.FinalPaymentDate = "2025-06-01"; return s }, ModeLive,
			[]string{"schedule.final_payment_date final_requires_installments"}},
		{"final with a single installment", func() Schedule {
			s := monthly()
			s.Installments, s.FinalAmount, s.FinalPaymentDate = ptr(1), ptr[int64](5), "2025-06-01"
			return s
		}, ModeLive, []string{"schedule.final_amount final_requires_installments", "schedule.final_payment_date final_requires_installments"}},

		{"start_date impossible day", func() Schedule { s := monthly(); s.StartDate = "2025-02-30"; return s }, ModeLive,
			[]string{"schedule.start_date invalid_date"}},
		{"start_date words", func() Schedule { s := monthly(); s.StartDate = "tomorrow"; return s }, ModeLive,
			[]string{"schedule.start_date invalid_date"}},
		{"start_date timestamp without zone", func() Schedule { s := monthly(); s.StartDate = "2025-02-01T09:00:00"; return s }, ModeLive,
			[]string{"schedule.start_date invalid_date"}},
		{"final_payment_date malformed", func() Schedule { s := monthly(); s.Installments, s.FinalPaymentDate = ptr(3), "2025-13-01"; return s }, ModeLive,
			[]string{"schedule.final_payment_date invalid_date"}},
		{"expires_on must be a bare date", func() Schedule { s := monthly(); s.ExpiresOn = "2025-06-01T00:00:00Z"; return s }, ModeLive,
			[]string{"schedule.expires_on invalid_date"}},

		{"charge_time malformed", func() Schedule { s := monthly(); s.ChargeTime = "9am"; return s }, ModeLive,
			[]string{"schedule.charge_time invalid_charge_time"}},
		{"charge_time 24:00", func() Schedule { s := monthly(); s.ChargeTime = "24:00"; return s }, ModeLive,
			[]string{"schedule.charge_time invalid_charge_time"}},
		{"charge_time with a timestamp start", func() Schedule {
			s := monthly()
			s.StartDate, s.ChargeTime = "2025-02-01T09:00:00Z", "10:00"
			return s
		}, ModeLive, []string{"schedule.charge_time parameter_not_allowed"}},

		{"timezone unknown", func() Schedule { s := monthly(); s.Timezone = "Mars/Olympus_Mons"; return s }, ModeLive,
			[]string{"schedule.timezone invalid_timezone"}},
		{"timezone Local depends on the host", func() Schedule { s := monthly(); s.Timezone = "Local"; return s }, ModeLive,
			[]string{"schedule.timezone invalid_timezone"}},
		{"timezone abbreviation", func() Schedule { s := monthly(); s.Timezone = "PST"; return s }, ModeLive,
			[]string{"schedule.timezone invalid_timezone"}},

		{"start_date yesterday", func() Schedule { s := monthly(); s.StartDate = "2025-01-09"; return s }, ModeLive,
			[]string{"schedule.start_date date_in_past"}},
		{"start timestamp yesterday", func() Schedule { s := monthly(); s.StartDate = "2025-01-09T23:00:00Z"; return s }, ModeLive,
			[]string{"schedule.start_date date_in_past"}},
		{"start timestamp earlier today", func() Schedule { s := monthly(); s.StartDate = "2025-01-10T01:00:00Z"; return s }, ModeLive, nil},
		// 12:00 UTC is 04:00 in Los Angeles, still Jan 10; in Kiritimati (UTC+14) it is
		// already Jan 11, so Jan 10 is yesterday there.
		{"today depends on the zone", func() Schedule {
			s := monthly()
			s.StartDate, s.Timezone = "2025-01-10", "Pacific/Kiritimati"
			return s
		}, ModeLive, []string{"schedule.start_date date_in_past"}},

		{"final date on the second-to-last date", func() Schedule {
			s := monthly() // installment 2 is due 2025-03-01
			s.Installments, s.FinalPaymentDate = ptr(3), "2025-03-01"
			return s
		}, ModeLive, []string{"schedule.final_payment_date final_payment_date_too_early"}},
		{"final date before the second-to-last date", func() Schedule {
			s := monthly()
			s.Installments, s.FinalPaymentDate = ptr(3), "2025-02-15"
			return s
		}, ModeLive, []string{"schedule.final_payment_date final_payment_date_too_early"}},
		{"final date the day after the second-to-last", func() Schedule {
			s := monthly()
			s.Installments, s.FinalPaymentDate = ptr(3), "2025-03-02"
			return s
		}, ModeLive, nil},
		{"final timestamp an hour before the second-to-last", func() Schedule {
			s := monthly() // installment 2: 2025-03-01 09:00 UTC
			s.Installments, s.FinalPaymentDate = ptr(3), "2025-03-01T08:00:00Z"
			return s
		}, ModeLive, []string{"schedule.final_payment_date final_payment_date_too_early"}},
		{"final timestamp an hour after the second-to-last", func() Schedule {
			s := monthly()
			s.Installments, s.FinalPaymentDate = ptr(3), "2025-03-01T10:00:00Z"
			return s
		}, ModeLive, nil},

		{"expires_on before the start", func() Schedule { s := monthly(); s.ExpiresOn = "2025-01-31"; return s }, ModeLive,
			[]string{"schedule.expires_on expires_on_too_early"}},
		{"expires_on on the start date", func() Schedule { s := monthly(); s.ExpiresOn = "2025-02-01"; return s }, ModeLive, nil},
		{"expires_on before the final date", func() Schedule {
			s := monthly()
			s.Installments, s.FinalPaymentDate, s.ExpiresOn = ptr(3), "2025-06-01", "2025-05-31"
			return s
		}, ModeLive, []string{"schedule.expires_on expires_on_too_early"}},

		{"last installment after 9999", func() Schedule { s := monthly(); s.Frequency, s.Installments = FrequencyYears, ptr(8000); return s }, ModeLive,
			[]string{"schedule.installments schedule_too_long"}},
		{"start after 9999 in UTC", func() Schedule {
			s := monthly() // 9999-12-31 18:00 in Los Angeles is 10000-01-01 02:00 UTC
			s.StartDate, s.Timezone, s.ChargeTime = "9999-12-31", "America/Los_Angeles", "18:00"
			return s
		}, ModeLive, []string{"schedule.start_date schedule_too_long"}},

		{"total overflows", func() Schedule {
			s := monthly()
			s.RecurringAmount, s.Installments = ptr[int64](math.MaxInt64/2), ptr(3)
			return s
		}, ModeLive, []string{"schedule.installments amount_overflow"}},
		{"total overflows through expires_on", func() Schedule {
			s := monthly()
			s.Frequency, s.RecurringAmount, s.ExpiresOn = FrequencyDays, ptr[int64](math.MaxInt64/10), "2025-03-01"
			return s
		}, ModeLive, []string{"schedule.expires_on amount_overflow"}},
		{"total just fits", func() Schedule {
			s := monthly()
			s.RecurringAmount, s.Installments = ptr[int64](math.MaxInt64/3), ptr(3)
			return s
		}, ModeLive, nil},

		{"every violation at once", func() Schedule {
			return Schedule{
				Frequency:         "fortnights",
				FrequencyDuration: ptr(0),
				StartDate:         "2025-02-30",
				FirstAmount:       ptr[int64](0),
				Installments:      ptr(0),
				FinalAmount:       ptr[int64](-1),
				ExpiresOn:         "soon",
				Timezone:          "Nowhere/Land",
				ChargeTime:        "25:00",
			}
		}, ModeLive, []string{
			"schedule.charge_time invalid_charge_time",
			"schedule.expires_on invalid_date",
			"schedule.final_amount invalid_amount",
			"schedule.first_amount invalid_amount",
			"schedule.frequency invalid_frequency",
			"schedule.frequency_duration invalid_frequency_duration",
			"schedule.installments invalid_installments",
			"schedule.recurring_amount parameter_missing",
			"schedule.start_date invalid_date",
			"schedule.timezone invalid_timezone",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.s().Validate(tc.mode, validationNow)
			got := violations(t, err)
			want := slices.Sorted(slices.Values(tc.want))
			if !slices.Equal(got, want) {
				t.Errorf("violations:\n got %q\nwant %q", got, want)
			}
		})
	}
}

func payments(dates ...string) []ScheduledPayment {
	out := make([]ScheduledPayment, len(dates))
	for i, d := range dates {
		out[i] = ScheduledPayment{Date: d, Amount: int64(100 * (i + 1))}
	}
	return out
}

func TestValidateVariable(t *testing.T) {
	tests := []struct {
		name string
		s    Schedule
		want []string
	}{
		{"valid", Schedule{Payments: payments("2025-02-01", "2025-03-15", "2025-07-01")}, nil},
		{"valid with timestamps and a zone", Schedule{Timezone: "Asia/Tokyo", ChargeTime: "10:00",
			Payments: payments("2025-02-01", "2025-02-01T18:00:00+09:00", "2025-02-02")}, nil},
		{"empty", Schedule{Payments: []ScheduledPayment{}}, []string{"schedule.payments too_few_payments"}},
		{"one payment", Schedule{Payments: payments("2025-02-01")}, []string{"schedule.payments too_few_payments"}},
		{"too many", Schedule{Payments: make([]ScheduledPayment, MaxPayments+1)}, []string{"schedule.payments too_many_payments"}},
		{"same date twice", Schedule{Payments: payments("2025-02-01", "2025-02-01")},
			[]string{"schedule.payments[1].date payments_not_increasing"}},
		{"going back", Schedule{Payments: payments("2025-02-01", "2025-03-01", "2025-02-15", "2025-04-01")},
			[]string{"schedule.payments[2].date payments_not_increasing"}},
		// 2025-02-01 at the 09:00 default charge time is after 08:00 that day.
		{"timestamp before a bare date's charge time", Schedule{Payments: payments("2025-02-01", "2025-02-01T08:00:00Z")},
			[]string{"schedule.payments[1].date payments_not_increasing"}},
		{"amounts must be positive", Schedule{Payments: []ScheduledPayment{{"2025-02-01", 0}, {"2025-03-01", -5}}},
			[]string{"schedule.payments[0].amount invalid_amount", "schedule.payments[1].amount invalid_amount"}},
		{"date missing and malformed", Schedule{Payments: []ScheduledPayment{{"", 100}, {"01/03/2025", 100}}},
			[]string{"schedule.payments[0].date parameter_missing", "schedule.payments[1].date invalid_date"}},
		{"date in the past", Schedule{Payments: payments("2025-01-09", "2025-02-01")},
			[]string{"schedule.payments[0].date date_in_past"}},
		{"total overflows", Schedule{Payments: []ScheduledPayment{{"2025-02-01", math.MaxInt64}, {"2025-03-01", 1}}},
			[]string{"schedule.payments amount_overflow"}},
		{"fixed fields don't apply", Schedule{Frequency: FrequencyMonths, RecurringAmount: ptr[int64](5), ExpiresOn: "2025-12-31",
			Payments: payments("2025-02-01", "2025-03-01")}, []string{
			"schedule.expires_on parameter_not_allowed",
			"schedule.frequency parameter_not_allowed",
			"schedule.recurring_amount parameter_not_allowed",
		}},
		{"bad zone still checks the rest", Schedule{Timezone: "Nope", Payments: []ScheduledPayment{{"2025-02-01", 0}, {"x", 1}}}, []string{
			"schedule.payments[0].amount invalid_amount",
			"schedule.payments[1].date invalid_date",
			"schedule.timezone invalid_timezone",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := violations(t, tc.s.Validate(ModeLive, validationNow))
			want := slices.Sorted(slices.Values(tc.want))
			if !slices.Equal(got, want) {
				t.Errorf("violations:\n got %q\nwant %q", got, want)
			}
		})
	}
}

// TestValidationCodesAreDocumented keeps the list in Validate's doc comment, which API
// writers read, in step with the codes Validate returns.
func TestValidationCodesAreDocumented(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "schedule.go", nil, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	var doc string
	for _, d := range f.Decls {
		if fn, ok := d.(*ast.FuncDecl); ok && fn.Name.Name == "Validate" {
			doc = fn.Doc.Text()
		}
	}
	codes := []string{
		CodeParameterMissing, CodeParameterNotAllowed, CodeInvalidFrequency, CodeFrequencyNotAllowed,
		CodeInvalidFrequencyDuration, CodeInvalidAmount, CodeInvalidInstallments, CodeInvalidDate,
		CodeInvalidChargeTime, CodeInvalidTimezone, CodeDateInPast, CodeFinalRequiresInstallments,
		CodeFinalPaymentDateTooEarly, CodeExpiresOnTooEarly, CodeScheduleTooLong, CodeTooFewPayments,
		CodeTooManyPayments, CodePaymentsNotIncreasing, CodeAmountOverflow,
	}
	for _, code := range codes {
		if !strings.Contains(doc, code) {
			t.Errorf("code %s is missing from Validate's doc comment", code)
		}
	}
}
