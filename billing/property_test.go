package billing

import (
	"encoding/json"
	"fmt"
	"math/big"
	"testing"
	"time"

	"pgregory.net/rapid"
)

// propertyNow precedes every start date the generators draw.
var propertyNow = time.Date(2024, 12, 31, 0, 0, 0, 0, time.UTC)

// fixedPlan is a generated fixed schedule with the facts the properties check against.
type fixedPlan struct {
	s         Schedule
	n         int // installments; 0 = unlimited
	first     int64
	recurring int64
	final     int64
	expires   bool
}

type genOptions struct {
	subDay  bool // also draw seconds|minutes|hours (test mode)
	expires bool // may draw expires_on
}

func drawDate(t *rapid.T, label string, fromYear, toYear int) Date {
	y := rapid.IntRange(fromYear, toYear).Draw(t, label+".year")
	m := time.Month(rapid.IntRange(1, 12).Draw(t, label+".month"))
	d := rapid.IntRange(1, daysIn(y, m)).Draw(t, label+".day")
	return date(y, m, d)
}

func drawFixed(t *rapid.T, o genOptions) fixedPlan {
	freqs := []Frequency{FrequencyDays, FrequencyWeeks, FrequencyMonths, FrequencyYears}
	if o.subDay {
		freqs = append(freqs, FrequencySeconds, FrequencyMinutes, FrequencyHours)
	}
	freq := rapid.SampledFrom(freqs).Draw(t, "frequency")
	interval := rapid.IntRange(1, 12).Draw(t, "interval")
	if freq == FrequencyDays {
		interval = rapid.IntRange(1, 45).Draw(t, "days")
	}
	start := drawDate(t, "start", 2025, 2080)
	s := Schedule{
		Frequency:         freq,
		FrequencyDuration: &interval,
		StartDate:         start.String(),
		Timezone:          rapid.SampledFrom(propertyZones).Draw(t, "timezone"),
	}
	if rapid.Bool().Draw(t, "charge time set") {
		s.ChargeTime = TimeOfDay(rapid.IntRange(0, 86399).Draw(t, "charge time")).String()
	}
	p := fixedPlan{s: s, recurring: rapid.Int64Range(1, 1_000_000_000).Draw(t, "recurring")}
	p.s.RecurringAmount = &p.recurring
	p.first, p.final = p.recurring, p.recurring
	if rapid.Bool().Draw(t, "first set") {
		p.first = rapid.Int64Range(1, 1_000_000_000).Draw(t, "first")
		p.s.FirstAmount = &p.first
	}
	if rapid.Bool().Draw(t, "limited") {
		p.n = rapid.IntRange(1, 400).Draw(t, "installments")
		p.s.Installments = &p.n
	}
	var finalDate Date
	if p.n >= 2 && rapid.Bool().Draw(t, "final set") {
		p.final = rapid.Int64Range(1, 1_000_000_000).Draw(t, "final")
		p.s.FinalAmount = &p.final
		if !freq.TestOnly() && rapid.Bool().Draw(t, "final date set") {
			// Past the longest possible span of n-1 steps, so after installment n-1.
			maxStep := map[Frequency]int{FrequencyDays: interval, FrequencyWeeks: 7 * interval, FrequencyMonths: 31 * interval, FrequencyYears: 366 * interval}[freq]
			finalDate = start.AddDays(maxStep*(p.n-1) + rapid.IntRange(0, 60).Draw(t, "final slack"))
			p.s.FinalPaymentDate = finalDate.String()
		}
	}
	if o.expires && rapid.Bool().Draw(t, "expires set") {
		from := start
		if !finalDate.IsZero() {
			from = finalDate
		}
		span := 3000
		if freq.TestOnly() {
			span = 2
		}
		p.s.ExpiresOn = from.AddDays(rapid.IntRange(0, span).Draw(t, "expires after")).String()
		p.expires = true
	}
	return p
}

func (p fixedPlan) resolve(t *rapid.T) Timetable {
	tt, err := p.s.Resolve(ModeTest, propertyNow)
	if err != nil {
		b, _ := json.Marshal(p.s)
		t.Fatalf("generated schedule %s is invalid: %v", b, err)
	}
	return tt
}

// checkCount is how many installments a property walks: all of a limited plan's, 300
// of an unlimited one.
func checkCount(tt Timetable) int {
	if n, limited := tt.Count(); limited {
		return min(n, 1000)
	}
	return 300
}

func TestPropertyDatesStrictlyIncrease(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		tt := drawFixed(t, genOptions{subDay: true, expires: true}).resolve(t)
		var prev time.Time
		for n := 1; n <= checkCount(tt); n++ {
			inst, ok := tt.Installment(n)
			if !ok {
				t.Fatalf("installment %d of %d missing", n, checkCount(tt))
			}
			if inst.Number != n || n > 1 && !inst.DueAt.After(prev) {
				t.Fatalf("installment %d = %+v, previous due %v", n, inst, prev)
			}
			prev = inst.DueAt
		}
	})
}

func TestPropertyCountEqualsInstallments(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		p := drawFixed(t, genOptions{subDay: true})
		tt := p.resolve(t)
		n, limited := tt.Count()
		if p.n == 0 {
			if limited {
				t.Fatalf("Count = %d, true for an unlimited plan", n)
			}
			// 300 steps of at most 12 years from 2080 stay before the year-9999 horizon.
			if _, ok := tt.Installment(300); !ok {
				t.Fatal("an unlimited plan has no installment 300")
			}
			return
		}
		if n != p.n || !limited {
			t.Fatalf("Count = %d, %v; want %d", n, limited, p.n)
		}
		if _, ok := tt.Installment(p.n); !ok {
			t.Fatalf("installment %d missing", p.n)
		}
		if inst, ok := tt.Installment(p.n + 1); ok {
			t.Fatalf("installment %d exists: %+v", p.n+1, inst)
		}
	})
}

// TestPropertyAmountsAddUp: the installments' amounts sum to first + recurring×(n−2) +
// final (first alone for one installment), computed here with arbitrary precision.
func TestPropertyAmountsAddUp(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		p := drawFixed(t, genOptions{subDay: true})
		if p.n == 0 {
			p.n = rapid.IntRange(1, 400).Draw(t, "installments")
			p.s.Installments = &p.n
		}
		tt := p.resolve(t)
		sum := new(big.Int)
		for n := 1; n <= p.n; n++ {
			inst, _ := tt.Installment(n)
			sum.Add(sum, big.NewInt(inst.Amount))
		}
		want := big.NewInt(p.first)
		if p.n >= 2 {
			want.Add(want, new(big.Int).Mul(big.NewInt(p.recurring), big.NewInt(int64(p.n-2))))
			want.Add(want, big.NewInt(p.final))
		}
		if sum.Cmp(want) != 0 {
			t.Fatalf("installments sum to %v, want %v", sum, want)
		}
		if total, ok := tt.Total(); !ok || big.NewInt(total).Cmp(want) != 0 {
			t.Fatalf("Total = %d, %v; want %v", total, ok, want)
		}
	})
}

// TestPropertyMonthlyNeverDrifts walks 100 years of a monthly plan and checks every
// installment against a month-by-month walk: the anchor day, or the month's last day
// when it is shorter, at the charge time whenever that wall-clock time exists.
func TestPropertyMonthlyNeverDrifts(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		start := drawDate(t, "start", 2025, 2030)
		interval := rapid.IntRange(1, 12).Draw(t, "months")
		charge := TimeOfDay(rapid.IntRange(0, 86399).Draw(t, "charge time"))
		tz := rapid.SampledFrom(propertyZones).Draw(t, "timezone")
		loc := mustLoad(t, tz)
		tt, err := Schedule{Frequency: FrequencyMonths, FrequencyDuration: &interval, StartDate: start.String(),
			ChargeTime: charge.String(), Timezone: tz, RecurringAmount: ptr[int64](1)}.Resolve(ModeLive, propertyNow)
		if err != nil {
			t.Fatal(err)
		}
		y, m := start.Year, start.Month
		for n := 1; n <= 1200/interval+1; n++ {
			lastDay := time.Date(y, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
			want := date(y, m, min(start.Day, lastDay))
			inst, ok := tt.Installment(n)
			if !ok {
				t.Fatalf("installment %d missing", n)
			}
			local := inst.DueAt.In(loc)
			exists := time.Date(y, m, want.Day, int(charge)/3600, int(charge)/60%60, int(charge)%60, 0, loc)
			if TimeOfDayOf(exists) == charge && DateOf(exists) == want {
				if DateOf(local) != want || TimeOfDayOf(local) != charge {
					t.Fatalf("installment %d due %v, want %v %v", n, local, want, charge)
				}
			} else if DateOf(local).Before(want) {
				t.Fatalf("installment %d due %v, before %v", n, local, want)
			}
			// Next month by counting, not by date arithmetic.
			for range interval {
				if m++; m > 12 {
					m, y = 1, y+1
				}
			}
		}
	})
}

// TestPropertyNextAfterMatchesInstallment compares NextAfter's arithmetic with a walk
// over Installment from the start, at and around installment instants.
func TestPropertyNextAfterMatchesInstallment(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		tt := drawFixed(t, genOptions{subDay: true, expires: true}).resolve(t)
		count := checkCount(tt)
		j := rapid.IntRange(0, count).Draw(t, "near installment")
		var at time.Time
		if j == 0 {
			first, _ := tt.Installment(1)
			at = first.DueAt.Add(-time.Duration(rapid.Int64Range(0, int64(400*24*time.Hour)).Draw(t, "before start")))
		} else {
			near, _ := tt.Installment(j)
			at = near.DueAt.Add(time.Duration(rapid.SampledFrom([]int64{-1, 0, 1, int64(time.Second), -int64(time.Second)}).Draw(t, "nudge")))
			if rapid.Bool().Draw(t, "further") {
				at = near.DueAt.Add(time.Duration(rapid.Int64Range(-int64(40*24*time.Hour), int64(400*24*time.Hour)).Draw(t, "offset")))
			}
		}
		var want Installment
		found := false
		for n := 1; ; n++ {
			inst, ok := tt.Installment(n)
			if !ok {
				break
			}
			if inst.DueAt.After(at) {
				want, found = inst, true
				break
			}
		}
		got, ok := tt.NextAfter(at)
		if ok != found || found && (got.Number != want.Number || !got.DueAt.Equal(want.DueAt) || got.Amount != want.Amount) {
			t.Fatalf("NextAfter(%v) = %+v, %v; walking gives %+v, %v", at, got, ok, want, found)
		}
	})
}

func TestPropertyVariable(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		tz := rapid.SampledFrom(propertyZones).Draw(t, "timezone")
		loc := mustLoad(t, tz)
		day := drawDate(t, "first", 2025, 2040)
		var ps []ScheduledPayment
		var dues []time.Time
		for i := range rapid.IntRange(2, 40).Draw(t, "payments") {
			day = day.AddDays(rapid.IntRange(1, 90).Draw(t, fmt.Sprint("gap ", i)))
			p := ScheduledPayment{Date: day.String(), Amount: rapid.Int64Range(1, 1e9).Draw(t, fmt.Sprint("amount ", i))}
			due := LocalInstant(day, DefaultChargeTime, loc)
			if rapid.Bool().Draw(t, fmt.Sprint("timestamp ", i)) {
				due = time.Date(day.Year, day.Month, day.Day, 0, 0, rapid.IntRange(0, 86399).Draw(t, fmt.Sprint("second ", i)), 0, loc)
				p.Date = due.Format(time.RFC3339)
			}
			ps = append(ps, p)
			dues = append(dues, due)
		}
		tt, err := Schedule{Timezone: tz, Payments: ps}.Resolve(ModeLive, propertyNow)
		if err != nil {
			t.Fatalf("%v", err)
		}
		var sum int64
		for i, p := range ps {
			inst, ok := tt.Installment(i + 1)
			if !ok || inst.Number != i+1 || !inst.DueAt.Equal(dues[i]) || inst.Amount != p.Amount {
				t.Fatalf("installment %d = %+v, %v; want %v %d", i+1, inst, ok, dues[i], p.Amount)
			}
			sum += p.Amount
		}
		if total, _ := tt.Total(); total != sum {
			t.Fatalf("Total = %d, want %d", total, sum)
		}
		at := dues[rapid.IntRange(0, len(dues)-1).Draw(t, "near")].Add(time.Duration(rapid.IntRange(-2, 2).Draw(t, "nudge")) * time.Second)
		want := 0
		for i, d := range dues {
			if d.After(at) {
				want = i + 1
				break
			}
		}
		got, ok := tt.NextAfter(at)
		if want == 0 && ok || want != 0 && (!ok || got.Number != want) {
			t.Fatalf("NextAfter(%v) = %+v, %v; want %d", at, got, ok, want)
		}
	})
}

// TestPropertyJSONRoundTrip: a timetable decoded from its JSON, as a workflow receives
// it, answers exactly as the original.
func TestPropertyJSONRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		tt := drawFixed(t, genOptions{subDay: true, expires: true}).resolve(t)
		b, err := json.Marshal(tt)
		if err != nil {
			t.Fatal(err)
		}
		var back Timetable
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		n1, l1 := tt.Count()
		n2, l2 := back.Count()
		if n1 != n2 || l1 != l2 {
			t.Fatalf("Count %d, %v became %d, %v", n1, l1, n2, l2)
		}
		for n := 1; n <= min(checkCount(tt), 50); n++ {
			a, _ := tt.Installment(n)
			b, _ := back.Installment(n)
			if a.Number != b.Number || !a.DueAt.Equal(b.DueAt) || a.Amount != b.Amount {
				t.Fatalf("installment %d: %+v became %+v", n, a, b)
			}
		}
	})
}
