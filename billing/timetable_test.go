package billing

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"
)

// planNow is "now" for the timetable tests: before every start date they use.
var planNow = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

func resolve(t *testing.T, s Schedule, mode Mode) Timetable {
	t.Helper()
	tt, err := s.Resolve(mode, planNow)
	if err != nil {
		t.Fatalf("Resolve: %v", err)
	}
	return tt
}

func ts(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// localDates returns the local dates of installments 1..n.
func localDates(t *testing.T, tt Timetable, n int) []string {
	t.Helper()
	loc := mustLoad(t, tt.Timezone)
	var out []string
	for i := 1; i <= n; i++ {
		inst, ok := tt.Installment(i)
		if !ok {
			t.Fatalf("installment %d missing", i)
		}
		out = append(out, inst.DueAt.In(loc).Format(time.DateOnly))
	}
	return out
}

func TestMonthEndAnchoring(t *testing.T) {
	tests := []struct {
		name     string
		freq     Frequency
		interval int
		start    string
		want     []string
	}{
		{"monthly from Jan 31 in a leap year", FrequencyMonths, 1, "2024-01-31", []string{
			"2024-01-31", "2024-02-29", "2024-03-31", "2024-04-30", "2024-05-31", "2024-06-30", "2024-07-31",
			"2024-08-31", "2024-09-30", "2024-10-31", "2024-11-30", "2024-12-31", "2025-01-31", "2025-02-28", "2025-03-31"}},
		// The drift bug would give Mar 28 after Feb 28.
		{"monthly from Jan 31 in a common year", FrequencyMonths, 1, "2025-01-31", []string{"2025-01-31", "2025-02-28", "2025-03-31", "2025-04-30"}},
		{"monthly from Jan 30", FrequencyMonths, 1, "2025-01-30", []string{"2025-01-30", "2025-02-28", "2025-03-30", "2025-04-30"}},
		{"monthly from Feb 28 keeps the 28th", FrequencyMonths, 1, "2025-02-28", []string{"2025-02-28", "2025-03-28", "2025-04-28"}},
		{"every 2 months from Jan 31", FrequencyMonths, 2, "2025-01-31", []string{
			"2025-01-31", "2025-03-31", "2025-05-31", "2025-07-31", "2025-09-30", "2025-11-30", "2026-01-31"}},
		{"every 2 months from Dec 31 through a leap February", FrequencyMonths, 2, "2027-12-31", []string{
			"2027-12-31", "2028-02-29", "2028-04-30", "2028-06-30", "2028-08-31"}},
		{"every 3 months from Aug 31", FrequencyMonths, 3, "2025-08-31", []string{
			"2025-08-31", "2025-11-30", "2026-02-28", "2026-05-31", "2026-08-31"}},
		{"every 3 months from Nov 30 through a leap February", FrequencyMonths, 3, "2027-11-30", []string{
			"2027-11-30", "2028-02-29", "2028-05-30", "2028-08-30"}},
		{"yearly from Feb 29", FrequencyYears, 1, "2024-02-29", []string{
			"2024-02-29", "2025-02-28", "2026-02-28", "2027-02-28", "2028-02-29", "2029-02-28"}},
		// 2100 is divisible by 100 but not 400: no Feb 29.
		{"every 4 years from Feb 29 across 2100", FrequencyYears, 4, "2096-02-29", []string{"2096-02-29", "2100-02-28", "2104-02-29"}},
		{"every 2 weeks", FrequencyWeeks, 2, "2025-01-01", []string{"2025-01-01", "2025-01-15", "2025-01-29", "2025-02-12"}},
		{"every 10 days across Feb 29", FrequencyDays, 10, "2024-02-20", []string{"2024-02-20", "2024-03-01", "2024-03-11"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tt := resolve(t, Schedule{Frequency: tc.freq, FrequencyDuration: ptr(tc.interval), StartDate: tc.start,
				RecurringAmount: ptr[int64](100)}, ModeLive)
			if got := localDates(t, tt, len(tc.want)); !slices.Equal(got, tc.want) {
				t.Errorf("dates:\n got %v\nwant %v", got, tc.want)
			}
		})
	}
}

// TestDST: a plan charged at 09:00 New York time stays at 09:00 local across the
// March and November changes, so its UTC instant moves by an hour. In 2025 EDT starts
// on Sunday March 9 and ends on Sunday November 2; EST is UTC-5, EDT UTC-4.
func TestDST(t *testing.T) {
	tests := []struct {
		name string
		s    Schedule
		want []string // UTC instants of installments 1..n
	}{
		{"daily across March", Schedule{Frequency: FrequencyDays, StartDate: "2025-03-07", ChargeTime: "09:00"},
			[]string{"2025-03-07T14:00:00Z", "2025-03-08T14:00:00Z", "2025-03-09T13:00:00Z", "2025-03-10T13:00:00Z"}},
		{"daily across November", Schedule{Frequency: FrequencyDays, StartDate: "2025-10-31", ChargeTime: "09:00"},
			[]string{"2025-10-31T13:00:00Z", "2025-11-01T13:00:00Z", "2025-11-02T14:00:00Z", "2025-11-03T14:00:00Z"}},
		{"weekly from a timestamp", Schedule{Frequency: FrequencyWeeks, StartDate: "2025-03-02T09:00:00-05:00"},
			[]string{"2025-03-02T14:00:00Z", "2025-03-09T13:00:00Z", "2025-03-16T13:00:00Z"}},
		{"monthly over the year", Schedule{Frequency: FrequencyMonths, StartDate: "2025-01-15", ChargeTime: "09:00"},
			[]string{"2025-01-15T14:00:00Z", "2025-02-15T14:00:00Z", "2025-03-15T13:00:00Z", "2025-04-15T13:00:00Z",
				"2025-05-15T13:00:00Z", "2025-06-15T13:00:00Z", "2025-07-15T13:00:00Z", "2025-08-15T13:00:00Z",
				"2025-09-15T13:00:00Z", "2025-10-15T13:00:00Z", "2025-11-15T14:00:00Z", "2025-12-15T14:00:00Z"}},
		// 02:30 does not exist on March 9: charged at 03:30 EDT, the same instant as
		// 02:30 EST would have been; the next day is back to 02:30.
		{"charge time inside the gap", Schedule{Frequency: FrequencyDays, StartDate: "2025-03-08", ChargeTime: "02:30"},
			[]string{"2025-03-08T07:30:00Z", "2025-03-09T07:30:00Z", "2025-03-10T06:30:00Z"}},
		// 01:30 happens twice on November 2: charged at the first (EDT).
		{"charge time inside the overlap", Schedule{Frequency: FrequencyDays, StartDate: "2025-11-01", ChargeTime: "01:30"},
			[]string{"2025-11-01T05:30:00Z", "2025-11-02T05:30:00Z", "2025-11-03T06:30:00Z"}},
		// Sub-day test frequencies step in real time: every 30 minutes is 30 minutes,
		// even when the wall clock jumps.
		{"every 30 minutes across the gap", Schedule{Frequency: FrequencyMinutes, FrequencyDuration: ptr(30), StartDate: "2025-03-09T01:00:00-05:00"},
			[]string{"2025-03-09T06:00:00Z", "2025-03-09T06:30:00Z", "2025-03-09T07:00:00Z", "2025-03-09T07:30:00Z"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.s.Timezone, tc.s.RecurringAmount = "America/New_York", ptr[int64](100)
			tt := resolve(t, tc.s, ModeTest)
			for i, want := range tc.want {
				inst, ok := tt.Installment(i + 1)
				if !ok || !inst.DueAt.Equal(ts(t, want)) {
					t.Errorf("installment %d = %v, %v; want %s", i+1, inst.DueAt, ok, want)
				}
			}
		})
	}
}

func TestExpiresOn(t *testing.T) {
	// Daily at 23:30 New York time: the Jan 10 installment is due Jan 11 04:30 UTC, still
	// on the local day expires_on names, so it is charged; Jan 11's is not.
	tt := resolve(t, Schedule{Frequency: FrequencyDays, StartDate: "2025-01-01", ChargeTime: "23:30",
		Timezone: "America/New_York", RecurringAmount: ptr[int64](100), ExpiresOn: "2025-01-10"}, ModeLive)
	if n, limited := tt.Count(); n != 10 || !limited {
		t.Errorf("Count = %d, %v; want 10, true", n, limited)
	}
	last, ok := tt.Installment(10)
	if !ok || !last.DueAt.Equal(ts(t, "2025-01-11T04:30:00Z")) {
		t.Errorf("installment 10 = %v, %v", last, ok)
	}
	if inst, ok := tt.Installment(11); ok {
		t.Errorf("installment 11 = %v, want none after expires_on", inst)
	}
	if inst, ok := tt.NextAfter(last.DueAt); ok {
		t.Errorf("NextAfter(last) = %v, want none", inst)
	}
	if inst, ok := tt.NextAfter(last.DueAt.Add(-time.Second)); !ok || inst.Number != 10 {
		t.Errorf("NextAfter(just before last) = %v, %v", inst, ok)
	}
	if total, ok := tt.Total(); !ok || total != 1000 {
		t.Errorf("Total = %d, %v; want 1000", total, ok)
	}

	// expires_on cuts installments short; installments cuts expires_on short.
	cut := resolve(t, Schedule{Frequency: FrequencyMonths, StartDate: "2025-01-31", RecurringAmount: ptr[int64](100),
		Installments: ptr(12), FinalAmount: ptr[int64](999), ExpiresOn: "2025-04-29"}, ModeLive)
	if n, _ := cut.Count(); n != 3 { // Jan 31, Feb 28, Mar 31; Apr 30 is after Apr 29
		t.Errorf("Count = %d, want 3", n)
	}
	if total, _ := cut.Total(); total != 300 { // the final amount belongs to installment 12, never reached
		t.Errorf("Total = %d, want 300", total)
	}
	short := resolve(t, Schedule{Frequency: FrequencyMonths, StartDate: "2025-01-31", RecurringAmount: ptr[int64](100),
		Installments: ptr(2), ExpiresOn: "2030-01-01"}, ModeLive)
	if n, _ := short.Count(); n != 2 {
		t.Errorf("Count = %d, want 2", n)
	}
}

func TestFinalInstallment(t *testing.T) {
	s := Schedule{Frequency: FrequencyMonths, StartDate: "2025-01-31", FirstAmount: ptr[int64](500),
		RecurringAmount: ptr[int64](1000), Installments: ptr(4), FinalAmount: ptr[int64](2500),
		FinalPaymentDate: "2025-05-15", Timezone: "Europe/Paris"}
	tt := resolve(t, s, ModeLive)
	// Paris is UTC+1 in winter and UTC+2 from March 30, 2025.
	want := []Installment{
		{1, ts(t, "2025-01-31T08:00:00Z"), 500},
		{2, ts(t, "2025-02-28T08:00:00Z"), 1000},
		{3, ts(t, "2025-03-31T07:00:00Z"), 1000},
		{4, ts(t, "2025-05-15T07:00:00Z"), 2500},
	}
	for _, w := range want {
		if got, ok := tt.Installment(w.Number); !ok || got.Number != w.Number || !got.DueAt.Equal(w.DueAt) || got.Amount != w.Amount {
			t.Errorf("installment %d = %+v, %v; want %+v", w.Number, got, ok, w)
		}
	}
	if _, ok := tt.Installment(5); ok {
		t.Error("installment 5 exists")
	}
	if n, limited := tt.Count(); n != 4 || !limited {
		t.Errorf("Count = %d, %v", n, limited)
	}
	if total, _ := tt.Total(); total != 500+1000+1000+2500 {
		t.Errorf("Total = %d", total)
	}
	// Between installment 3 and the date installment 4 would regularly have (Apr 30),
	// and after it: the next one is the final one, on May 15.
	for _, at := range []string{"2025-03-31T07:00:00Z", "2025-04-30T12:00:00Z", "2025-05-15T06:59:59Z"} {
		if got, ok := tt.NextAfter(ts(t, at)); !ok || got.Number != 4 {
			t.Errorf("NextAfter(%s) = %+v, %v; want installment 4", at, got, ok)
		}
	}
	if got, ok := tt.NextAfter(ts(t, "2025-05-15T07:00:00Z")); ok {
		t.Errorf("NextAfter(final) = %+v", got)
	}

	// A final date before the regular one: installment 4 moves earlier, and after it
	// nothing is due even though a regular installment 4 would be.
	s.FinalPaymentDate = "2025-04-10"
	early := resolve(t, s, ModeLive)
	if got, ok := early.NextAfter(ts(t, "2025-04-01T00:00:00Z")); !ok || got.Number != 4 || !got.DueAt.Equal(ts(t, "2025-04-10T07:00:00Z")) {
		t.Errorf("NextAfter = %+v, %v", got, ok)
	}
	if got, ok := early.NextAfter(ts(t, "2025-04-20T00:00:00Z")); ok {
		t.Errorf("NextAfter(after the final date) = %+v", got)
	}

	// Without a final date the final amount goes to the last regular installment.
	s.FinalPaymentDate = ""
	regular := resolve(t, s, ModeLive)
	if got, _ := regular.Installment(4); got.Amount != 2500 || !got.DueAt.Equal(ts(t, "2025-04-30T07:00:00Z")) {
		t.Errorf("installment 4 = %+v", got)
	}

	// A bare final date is charged at the plan's charge time, here the time of day of a
	// timestamp start.
	stamped := resolve(t, Schedule{Frequency: FrequencyMonths, StartDate: "2025-02-01T15:45:00Z", RecurringAmount: ptr[int64](1),
		Installments: ptr(3), FinalPaymentDate: "2025-05-10"}, ModeLive)
	if got, _ := stamped.Installment(3); !got.DueAt.Equal(ts(t, "2025-05-10T15:45:00Z")) {
		t.Errorf("final installment due %v, want 2025-05-10T15:45:00Z", got.DueAt)
	}

	// One installment: the first amount applies.
	one := resolve(t, Schedule{Frequency: FrequencyMonths, StartDate: "2025-01-31", FirstAmount: ptr[int64](7),
		RecurringAmount: ptr[int64](1000), Installments: ptr(1)}, ModeLive)
	if got, ok := one.Installment(1); !ok || got.Amount != 7 {
		t.Errorf("installment 1 = %+v, %v", got, ok)
	}
	if total, _ := one.Total(); total != 7 {
		t.Errorf("Total = %d", total)
	}
}

func TestVariableTimetable(t *testing.T) {
	tt := resolve(t, Schedule{Timezone: "Asia/Tokyo", ChargeTime: "10:00", Payments: []ScheduledPayment{
		{"2025-02-01", 300},
		{"2025-02-01T18:00:00+09:00", 200},
		{"2025-03-15", 500},
	}}, ModeLive)
	// Tokyo is UTC+9 without DST.
	want := []Installment{
		{1, ts(t, "2025-02-01T01:00:00Z"), 300},
		{2, ts(t, "2025-02-01T09:00:00Z"), 200},
		{3, ts(t, "2025-03-15T01:00:00Z"), 500},
	}
	for _, w := range want {
		if got, ok := tt.Installment(w.Number); !ok || got.Number != w.Number || !got.DueAt.Equal(w.DueAt) || got.Amount != w.Amount {
			t.Errorf("installment %d = %+v, %v; want %+v", w.Number, got, ok, w)
		}
	}
	if _, ok := tt.Installment(0); ok {
		t.Error("installment 0 exists")
	}
	if _, ok := tt.Installment(4); ok {
		t.Error("installment 4 exists")
	}
	nextTests := []struct {
		at   string
		want int // 0: none
	}{
		{"2024-12-31T00:00:00Z", 1},
		{"2025-02-01T01:00:00Z", 2}, // strictly after: installment 1 itself is not next
		{"2025-02-01T08:59:59Z", 2},
		{"2025-02-01T09:00:00Z", 3},
		{"2025-03-15T01:00:00Z", 0},
	}
	for _, nt := range nextTests {
		got, ok := tt.NextAfter(ts(t, nt.at))
		if nt.want == 0 && ok || nt.want != 0 && (!ok || got.Number != nt.want) {
			t.Errorf("NextAfter(%s) = %+v, %v; want %d", nt.at, got, ok, nt.want)
		}
	}
	if n, limited := tt.Count(); n != 3 || !limited {
		t.Errorf("Count = %d, %v", n, limited)
	}
	if total, ok := tt.Total(); !ok || total != 1000 {
		t.Errorf("Total = %d, %v", total, ok)
	}
}

func TestDefaultStart(t *testing.T) {
	now := time.Date(2025, 6, 10, 14, 23, 45, 678, time.UTC)
	// No start date: due now (to the second), then at the same local time of day.
	tt, err := Schedule{Frequency: FrequencyMonths, RecurringAmount: ptr[int64](100), Timezone: "Europe/Berlin"}.Resolve(ModeLive, now)
	if err != nil {
		t.Fatal(err)
	}
	first, _ := tt.Installment(1)
	second, _ := tt.Installment(2)
	if !first.DueAt.Equal(now.Truncate(time.Second)) || !second.DueAt.Equal(time.Date(2025, 7, 10, 14, 23, 45, 0, time.UTC)) {
		t.Errorf("installments 1, 2 = %v, %v", first.DueAt, second.DueAt)
	}
	if tt.AnchorDate != date(2025, 6, 10) || tt.ChargeTime.String() != "16:23:45" { // Berlin is UTC+2 in June
		t.Errorf("anchor %v at %v", tt.AnchorDate, tt.ChargeTime)
	}
	// No start date but a charge time: today at that time, even if it has passed.
	tt, err = Schedule{Frequency: FrequencyDays, RecurringAmount: ptr[int64](100), ChargeTime: "09:00"}.Resolve(ModeLive, now)
	if err != nil {
		t.Fatal(err)
	}
	if first, _ := tt.Installment(1); !first.DueAt.Equal(time.Date(2025, 6, 10, 9, 0, 0, 0, time.UTC)) {
		t.Errorf("installment 1 = %v", first.DueAt)
	}
	// A bare date without charge_time is charged at 09:00 local.
	tt, err = Schedule{Frequency: FrequencyDays, RecurringAmount: ptr[int64](100), StartDate: "2025-07-01", Timezone: "Asia/Kolkata"}.Resolve(ModeLive, now)
	if err != nil {
		t.Fatal(err)
	}
	if first, _ := tt.Installment(1); !first.DueAt.Equal(time.Date(2025, 7, 1, 3, 30, 0, 0, time.UTC)) {
		t.Errorf("installment 1 = %v", first.DueAt)
	}
	// A timestamp start keeps its own time of day, read in the plan's zone.
	tt, err = Schedule{Frequency: FrequencyDays, RecurringAmount: ptr[int64](100), StartDate: "2025-07-01T09:15:00-04:00", Timezone: "UTC"}.Resolve(ModeLive, now)
	if err != nil {
		t.Fatal(err)
	}
	if second, _ := tt.Installment(2); !second.DueAt.Equal(time.Date(2025, 7, 2, 13, 15, 0, 0, time.UTC)) || tt.ChargeTime.String() != "13:15:00" {
		t.Errorf("installment 2 = %v, charge time %v", second.DueAt, tt.ChargeTime)
	}
}

func TestUnlimited(t *testing.T) {
	tt := resolve(t, Schedule{Frequency: FrequencyDays, StartDate: "2025-01-01", RecurringAmount: ptr[int64](100)}, ModeLive)
	if n, limited := tt.Count(); n != 0 || limited {
		t.Errorf("Count = %d, %v; want unlimited", n, limited)
	}
	if _, ok := tt.Total(); ok {
		t.Error("Total of an unlimited plan")
	}
	// Installment 10,000 is 9,999 days after 2025-01-01: 27 years of 365 days plus 6
	// leap days (2028…2048) make 9,861 days to 2052-01-01, and 138 more (31+29+31+30 to
	// May 1, then 17) land on 2052-05-18.
	if got, ok := tt.Installment(10_000); !ok || !got.DueAt.Equal(ts(t, "2052-05-18T09:00:00Z")) {
		t.Errorf("installment 10000 = %+v, %v", got, ok)
	}
	// Nothing is due in year 10000: the last installment is 9999-12-31.
	lastDay := int(date(9999, 12, 31).days()-date(2025, 1, 1).days()) + 1
	if got, ok := tt.Installment(lastDay); !ok || got.DueAt.Year() != 9999 {
		t.Errorf("installment %d = %+v, %v", lastDay, got, ok)
	}
	if got, ok := tt.Installment(lastDay + 1); ok {
		t.Errorf("installment %d = %+v, want none past the horizon", lastDay+1, got)
	}
	if got, ok := tt.NextAfter(ts(t, "9999-12-31T12:00:00Z")); ok {
		t.Errorf("NextAfter(the end) = %+v", got)
	}
	if _, ok := tt.Installment(int(^uint(0) >> 1)); ok {
		t.Error("installment MaxInt exists")
	}
}

func TestTimetableJSON(t *testing.T) {
	tt := resolve(t, Schedule{Frequency: FrequencyMonths, FrequencyDuration: ptr(2), StartDate: "2025-01-31",
		ChargeTime: "09:00", Timezone: "America/New_York", FirstAmount: ptr[int64](1), RecurringAmount: ptr[int64](100),
		Installments: ptr(6), FinalAmount: ptr[int64](50), ExpiresOn: "2026-12-31"}, ModeLive)
	b, err := json.Marshal(tt)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"timezone":"America/New_York"`, `"charge_time":"09:00:00"`, `"anchor_date":"2025-01-31"`,
		`"frequency":"months"`, `"interval":2`, `"installments":6`, `"expires_at":"2027-01-01T05:00:00Z"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("JSON %s lacks %s", b, want)
		}
	}
	var back Timetable
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	for n := 0; n <= 7; n++ {
		a, okA := tt.Installment(n)
		b, okB := back.Installment(n)
		if okA != okB || a.Number != b.Number || !a.DueAt.Equal(b.DueAt) || a.Amount != b.Amount {
			t.Errorf("installment %d: %+v, %v before JSON; %+v, %v after", n, a, okA, b, okB)
		}
	}
	if err := json.Unmarshal([]byte(`{"timezone":"Atlantis/Capital"}`), &back); err == nil {
		t.Error("decoded a timetable in an unknown zone")
	}
}
