package billing

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

// FuzzValidate feeds arbitrary JSON schedules, modes and clocks to Validate and Resolve.
// Neither may panic; a refusal must be a *ValidationError whose every violation has a
// schedule param and a documented code; an accepted schedule must answer consistently:
// a first installment, increasing due dates, a count that ends where Installment ends,
// NextAfter agreeing with Installment, and the same answers after a JSON round trip.
func FuzzValidate(f *testing.F) {
	seeds := []string{
		`{"frequency":"months","start_date":"2025-01-31","recurring_amount":1000}`,
		`{"frequency":"months","frequency_duration":3,"start_date":"2025-08-31","first_amount":1,"recurring_amount":1000,"installments":5,"final_amount":7,"final_payment_date":"2027-01-01","timezone":"America/New_York","charge_time":"02:30"}`,
		`{"frequency":"years","start_date":"2028-02-29T09:00:00-05:00","recurring_amount":5,"expires_on":"2040-02-28","timezone":"Europe/London"}`,
		`{"frequency":"days","recurring_amount":9223372036854775807,"installments":2}`,
		`{"frequency":"seconds","frequency_duration":1,"recurring_amount":1,"installments":2147483647}`,
		`{"frequency":"weeks","start_date":"9999-12-25","recurring_amount":1,"timezone":"Pacific/Kiritimati"}`,
		`{"frequency":"hours","start_date":"2025-11-02T01:30:00-04:00","recurring_amount":1,"expires_on":"2025-11-03","timezone":"America/New_York"}`,
		`{"payments":[{"date":"2025-02-01","amount":100},{"date":"2025-02-01T18:00:00+09:00","amount":1}],"timezone":"Asia/Tokyo"}`,
		`{"payments":[{"date":"2025-02-01","amount":0},{"date":"","amount":-1}],"frequency":"days"}`,
		`{"payments":[]}`,
		`{"frequency":"fortnights","frequency_duration":0,"installments":0,"timezone":"Local","charge_time":"24:00"}`,
	}
	for i, s := range seeds {
		f.Add([]byte(s), i%2 == 0, int64(i)*86400*97)
	}
	f.Fuzz(func(t *testing.T, data []byte, testMode bool, clock int64) {
		var s Schedule
		if json.Unmarshal(data, &s) != nil {
			return
		}
		mode := ModeLive
		if testMode {
			mode = ModeTest
		}
		// Any second from 2020 to about 2240, so "now" is a plausible clock.
		const span = 220 * 365 * 86400
		now := time.Unix(1_577_836_800+(clock%span+span)%span, 0)

		verr := s.Validate(mode, now)
		tt, err := s.Resolve(mode, now)
		if (verr == nil) != (err == nil) {
			t.Fatalf("Validate says %v, Resolve says %v", verr, err)
		}
		if err != nil {
			checkViolations(t, err)
			return
		}
		checkTimetable(t, tt)
		b, err := json.Marshal(tt)
		if err != nil {
			t.Fatal(err)
		}
		var back Timetable
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("decoding %s: %v", b, err)
		}
		for _, n := range []int{1, 2, 3} {
			a, okA := tt.Installment(n)
			c, okC := back.Installment(n)
			if okA != okC || a.Number != c.Number || !a.DueAt.Equal(c.DueAt) || a.Amount != c.Amount {
				t.Fatalf("installment %d: %+v, %v became %+v, %v", n, a, okA, c, okC)
			}
		}
	})
}

var documentedCodes = []string{
	CodeParameterMissing, CodeParameterNotAllowed, CodeInvalidFrequency, CodeFrequencyNotAllowed,
	CodeInvalidFrequencyDuration, CodeInvalidAmount, CodeInvalidInstallments, CodeInvalidDate,
	CodeInvalidChargeTime, CodeInvalidTimezone, CodeDateInPast, CodeFinalRequiresInstallments,
	CodeFinalPaymentDateTooEarly, CodeExpiresOnTooEarly, CodeScheduleTooLong, CodeTooFewPayments,
	CodeTooManyPayments, CodePaymentsNotIncreasing, CodeAmountOverflow,
}

func checkViolations(t *testing.T, err error) {
	t.Helper()
	var v *ValidationError
	if !errors.As(err, &v) || len(v.Violations) == 0 {
		t.Fatalf("error %v is not a *ValidationError with violations", err)
	}
	if KindOf(err) != KindInvalid {
		t.Fatalf("KindOf = %s", KindOf(err))
	}
	for _, e := range v.Violations {
		if e.Kind != KindInvalid || !strings.HasPrefix(e.Param, "schedule.") || !slices.Contains(documentedCodes, e.Code) || e.Message == "" {
			t.Fatalf("violation %+v", e)
		}
	}
}

func checkTimetable(t *testing.T, tt Timetable) {
	t.Helper()
	first, ok := tt.Installment(1)
	if !ok {
		t.Fatalf("valid timetable %+v has no installment 1", tt)
	}
	if got, ok := tt.NextAfter(first.DueAt.Add(-time.Nanosecond)); !ok || got.Number != 1 {
		t.Fatalf("NextAfter(just before installment 1) = %+v, %v", got, ok)
	}
	n, limited := tt.Count()
	if limited {
		if n < 1 {
			t.Fatalf("Count = %d", n)
		}
		if _, ok := tt.Installment(n); !ok {
			t.Fatalf("Count = %d but installment %d is missing", n, n)
		}
		if inst, ok := tt.Installment(n + 1); ok {
			t.Fatalf("Count = %d but installment %d exists: %+v", n, n+1, inst)
		}
		if _, ok := tt.Total(); !ok {
			t.Fatal("a limited timetable has no total")
		}
		last, _ := tt.Installment(n)
		if inst, ok := tt.NextAfter(last.DueAt); ok {
			t.Fatalf("NextAfter(last) = %+v", inst)
		}
	}
	prev := first
	for k := 2; k <= 12; k++ {
		inst, ok := tt.Installment(k)
		if !ok {
			if limited && k <= n {
				t.Fatalf("installment %d of %d missing", k, n)
			}
			break
		}
		if !inst.DueAt.After(prev.DueAt) || inst.Amount <= 0 {
			t.Fatalf("installment %d = %+v after %+v", k, inst, prev)
		}
		if got, ok := tt.NextAfter(prev.DueAt); !ok || got.Number != k || !got.DueAt.Equal(inst.DueAt) {
			t.Fatalf("NextAfter(installment %d) = %+v, %v; want installment %d", k-1, got, ok, k)
		}
		prev = inst
	}
}
