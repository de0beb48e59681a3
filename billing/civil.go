package billing

import (
	"errors"
	"fmt"
	"sync"
	"time"

	// Embedded IANA data, so a host (or container) without zoneinfo still resolves
	// every time zone a plan may name.
	_ "time/tzdata"
)

// Date is a calendar date with no time zone: the day a customer sees on a schedule.
// Its JSON form is "YYYY-MM-DD".
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

// ParseDate reads a "YYYY-MM-DD" date, refusing impossible days such as 2025-02-30.
func ParseDate(s string) (Date, error) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return Date{}, fmt.Errorf("date %q is not YYYY-MM-DD", s)
	}
	return DateOf(t), nil
}

// DateOf returns the calendar date of t in t's own location.
func DateOf(t time.Time) Date {
	y, m, d := t.Date()
	return Date{Year: y, Month: m, Day: d}
}

// String returns the date as "YYYY-MM-DD".
func (d Date) String() string {
	return fmt.Sprintf("%04d-%02d-%02d", d.Year, int(d.Month), d.Day)
}

// IsZero reports whether d is the zero Date, which stands for "no date".
func (d Date) IsZero() bool { return d == Date{} }

// MarshalText encodes d as "YYYY-MM-DD".
func (d Date) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText decodes a "YYYY-MM-DD" date.
func (d *Date) UnmarshalText(b []byte) error {
	v, err := ParseDate(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// Before reports whether d is an earlier day than o.
func (d Date) Before(o Date) bool { return d.days() < o.days() }

// AddDays returns the date n days after d (before, for negative n).
func (d Date) AddDays(n int) Date {
	return DateOf(time.Date(d.Year, d.Month, d.Day+n, 0, 0, 0, 0, time.UTC))
}

// AddMonthsClamped returns the date n months after d on d's day of month, or on the
// last day of the target month when that month is shorter: Jan 31 + 1 month is Feb 28
// (29 in leap years), + 2 months is Mar 31. Schedules always add to the anchor date,
// never to the previous installment's date, so a clamped month never shifts later ones.
func (d Date) AddMonthsClamped(n int) Date {
	idx := d.Year*12 + int(d.Month-1) + n
	y, m := floorDiv(idx, 12), time.Month(floorMod(idx, 12)+1)
	return Date{Year: y, Month: m, Day: min(d.Day, daysIn(y, m))}
}

// days returns the number of days from 1970-01-01 to d.
func (d Date) days() int64 {
	return time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, time.UTC).Unix() / 86400
}

// months returns d's month counted from year 0, for month arithmetic.
func (d Date) months() int { return d.Year*12 + int(d.Month-1) }

func daysIn(y int, m time.Month) int {
	switch m {
	case time.February:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case time.April, time.June, time.September, time.November:
		return 30
	}
	return 31
}

func floorDiv(a, b int) int {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

func floorMod(a, b int) int { return a - floorDiv(a, b)*b }

// TimeOfDay is a wall-clock time as seconds after local midnight. Its JSON form is
// "HH:MM:SS".
type TimeOfDay int

// ParseTimeOfDay reads "HH:MM" or "HH:MM:SS" on a 24-hour clock, 00:00 to 23:59:59.
func ParseTimeOfDay(s string) (TimeOfDay, error) {
	bad := fmt.Errorf("time %q is not HH:MM or HH:MM:SS", s)
	if len(s) != 5 && len(s) != 8 {
		return 0, bad
	}
	num := func(i int) (int, bool) {
		if s[i] < '0' || s[i] > '9' || s[i+1] < '0' || s[i+1] > '9' {
			return 0, false
		}
		return int(s[i]-'0')*10 + int(s[i+1]-'0'), true
	}
	h, ok1 := num(0)
	m, ok2 := num(3)
	sec, ok3 := 0, true
	if len(s) == 8 {
		sec, ok3 = num(6)
		ok3 = ok3 && s[5] == ':'
	}
	if !ok1 || !ok2 || !ok3 || s[2] != ':' || h > 23 || m > 59 || sec > 59 {
		return 0, bad
	}
	return TimeOfDay(h*3600 + m*60 + sec), nil
}

// TimeOfDayOf returns the wall-clock time of t in t's own location, to the second.
func TimeOfDayOf(t time.Time) TimeOfDay {
	h, m, s := t.Clock()
	return TimeOfDay(h*3600 + m*60 + s)
}

// String returns the time as "HH:MM:SS".
func (t TimeOfDay) String() string {
	return fmt.Sprintf("%02d:%02d:%02d", int(t)/3600, int(t)/60%60, int(t)%60)
}

// MarshalText encodes t as "HH:MM:SS".
func (t TimeOfDay) MarshalText() ([]byte, error) { return []byte(t.String()), nil }

// UnmarshalText decodes "HH:MM" or "HH:MM:SS".
func (t *TimeOfDay) UnmarshalText(b []byte) error {
	v, err := ParseTimeOfDay(string(b))
	if err != nil {
		return err
	}
	*t = v
	return nil
}

// LocalInstant returns the instant at which the wall clock in loc shows date d, time
// tod. Go's time.Date leaves the answer for DST gaps and overlaps unspecified, and a
// charge date must not depend on that, so the rule is explicit:
//   - a time that occurs twice (clocks set back) is its first occurrence;
//   - a time that does not occur (clocks set forward) is moved forward by the length of
//     the gap: 02:30 on a New York spring-forward day is 03:30 EDT.
func LocalInstant(d Date, tod TimeOfDay, loc *time.Location) time.Time {
	naive := d.days()*86400 + int64(tod) // the wall clock read as if it were UTC
	if loc == time.UTC {
		return time.Unix(naive, 0).UTC()
	}
	// The offset in force at that wall-clock time is one of those in force a day
	// before or a day after: zones change offset at most once in two days.
	before, after := offsetAt(naive-86400, loc), offsetAt(naive+86400, loc)
	best, found := int64(0), false
	for i, off := range [2]int64{before, after} {
		if i == 1 && off == before {
			break
		}
		if u := naive - off; offsetAt(u, loc) == off && (!found || u < best) {
			best, found = u, true
		}
	}
	if !found {
		// In a gap: read the clock with the offset from before the gap.
		best = naive - before
	}
	return time.Unix(best, 0).UTC()
}

func offsetAt(unix int64, loc *time.Location) int64 {
	_, off := time.Unix(unix, 0).In(loc).Zone()
	return int64(off)
}

var locations sync.Map // time zone name → *time.Location

// LoadTimezone returns the IANA time zone name; "" is UTC. It refuses "Local", whose
// meaning depends on the host, and caches zones because schedules ask for them on
// every computation.
func LoadTimezone(name string) (*time.Location, error) {
	if name == "" || name == "UTC" {
		return time.UTC, nil
	}
	if v, ok := locations.Load(name); ok {
		return v.(*time.Location), nil
	}
	if name == "Local" {
		return nil, errors.New(`time zone "Local" depends on the host; name an IANA zone such as Europe/Paris`)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("time zone %q is not an IANA time zone name", name)
	}
	locations.Store(name, loc)
	return loc, nil
}
