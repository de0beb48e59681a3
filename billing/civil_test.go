package billing

import (
	"encoding/json"
	"testing"
	"time"

	"pgregory.net/rapid"
)

// fataler is what testing.T and rapid.T share.
type fataler interface {
	Helper()
	Fatal(args ...any)
}

func mustLoad(t fataler, name string) *time.Location {
	t.Helper()
	loc, err := LoadTimezone(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func date(y int, m time.Month, d int) Date { return Date{Year: y, Month: m, Day: d} }

func TestParseDate(t *testing.T) {
	good := map[string]Date{
		"2025-01-31": date(2025, 1, 31),
		"2024-02-29": date(2024, 2, 29), // leap year
		"2000-02-29": date(2000, 2, 29), // divisible by 400
		"9999-12-31": date(9999, 12, 31),
	}
	for in, want := range good {
		if got, err := ParseDate(in); err != nil || got != want {
			t.Errorf("ParseDate(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"2025-02-29", "1900-02-29", "2025-02-30", "2025-13-01", "2025-00-10", "2025-1-01", "25-01-01", "2025-01-01T00:00:00Z", "", "2025/01/01", " 2025-01-01"} {
		if d, err := ParseDate(in); err == nil {
			t.Errorf("ParseDate(%q) = %v, want an error", in, d)
		}
	}
}

func TestParseTimeOfDay(t *testing.T) {
	good := map[string]TimeOfDay{"00:00": 0, "09:00": 9 * 3600, "23:59": 23*3600 + 59*60, "23:59:59": 86399, "12:34:56": 12*3600 + 34*60 + 56}
	for in, want := range good {
		if got, err := ParseTimeOfDay(in); err != nil || got != want {
			t.Errorf("ParseTimeOfDay(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"24:00", "9:00", "09:60", "09:00:60", "0900", "09-00", "09:00:", "09:00:0", "", "ab:cd", "-1:00"} {
		if v, err := ParseTimeOfDay(in); err == nil {
			t.Errorf("ParseTimeOfDay(%q) = %v, want an error", in, v)
		}
	}
	if s := TimeOfDay(9*3600 + 5).String(); s != "09:00:05" {
		t.Errorf("String = %q", s)
	}
}

func TestAddMonthsClamped(t *testing.T) {
	tests := []struct {
		from Date
		n    int
		want Date
	}{
		{date(2025, 1, 31), 1, date(2025, 2, 28)},
		{date(2024, 1, 31), 1, date(2024, 2, 29)},
		{date(2025, 1, 31), 2, date(2025, 3, 31)},
		{date(2025, 1, 31), 3, date(2025, 4, 30)},
		{date(2025, 1, 31), 12, date(2026, 1, 31)},
		{date(2025, 1, 31), -1, date(2024, 12, 31)},
		{date(2025, 3, 31), -1, date(2025, 2, 28)},
		{date(2025, 1, 31), -13, date(2023, 12, 31)},
		{date(2024, 2, 29), 12, date(2025, 2, 28)},
		{date(2024, 2, 29), 48, date(2028, 2, 29)},
		{date(2096, 2, 29), 48, date(2100, 2, 28)}, // 2100 is not a leap year
		{date(1999, 12, 15), 1, date(2000, 1, 15)},
	}
	for _, tc := range tests {
		if got := tc.from.AddMonthsClamped(tc.n); got != tc.want {
			t.Errorf("%v + %d months = %v, want %v", tc.from, tc.n, got, tc.want)
		}
	}
}

func TestDateJSON(t *testing.T) {
	b, err := json.Marshal(struct {
		D Date      `json:"d"`
		T TimeOfDay `json:"t"`
	}{date(2025, 3, 9), 9 * 3600})
	if err != nil || string(b) != `{"d":"2025-03-09","t":"09:00:00"}` {
		t.Fatalf("Marshal = %s, %v", b, err)
	}
	var back struct {
		D Date      `json:"d"`
		T TimeOfDay `json:"t"`
	}
	if err := json.Unmarshal(b, &back); err != nil || back.D != date(2025, 3, 9) || back.T != 9*3600 {
		t.Fatalf("Unmarshal = %+v, %v", back, err)
	}
	if err := json.Unmarshal([]byte(`{"d":"2025-02-30"}`), &back); err == nil {
		t.Error("Unmarshal accepted 2025-02-30")
	}
}

// TestLocalInstant pins the DST rule with instants worked out by hand from the zones'
// published offsets.
func TestLocalInstant(t *testing.T) {
	utc := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	tests := []struct {
		name string
		tz   string
		d    Date
		tod  string
		want time.Time
	}{
		{"winter, EST = UTC-5", "America/New_York", date(2025, 1, 15), "09:00", utc("2025-01-15T14:00:00Z")},
		{"summer, EDT = UTC-4", "America/New_York", date(2025, 7, 15), "09:00", utc("2025-07-15T13:00:00Z")},
		// 2025-03-09 02:00 EST jumps to 03:00 EDT: 02:30 does not exist, and moves forward
		// by the hour skipped, to 03:30 EDT.
		{"spring-forward gap", "America/New_York", date(2025, 3, 9), "02:30", utc("2025-03-09T07:30:00Z")},
		{"just after the gap", "America/New_York", date(2025, 3, 9), "03:00", utc("2025-03-09T07:00:00Z")},
		// 2025-11-02 02:00 EDT falls back to 01:00 EST: 01:30 happens twice; the first
		// (EDT, UTC-4) counts.
		{"fall-back overlap", "America/New_York", date(2025, 11, 2), "01:30", utc("2025-11-02T05:30:00Z")},
		{"after the overlap", "America/New_York", date(2025, 11, 2), "02:00", utc("2025-11-02T07:00:00Z")},
		{"London BST", "Europe/London", date(2025, 6, 1), "09:00", utc("2025-06-01T08:00:00Z")},
		{"India has no DST, UTC+5:30", "Asia/Kolkata", date(2025, 6, 1), "09:00", utc("2025-06-01T03:30:00Z")},
		// Lord Howe moves its clocks by 30 minutes: 02:00 → 02:30 on 2025-10-05.
		{"half-hour gap", "Australia/Lord_Howe", date(2025, 10, 5), "02:15", utc("2025-10-04T15:45:00Z")},
		// Samoa skipped 2011-12-30 entirely (UTC-10 → UTC+14); that day's 09:00 moves a
		// whole day forward, to Dec 31 09:00 (+14).
		{"skipped day", "Pacific/Apia", date(2011, 12, 30), "09:00", utc("2011-12-30T19:00:00Z")},
		{"UTC", "UTC", date(2025, 3, 9), "02:30", utc("2025-03-09T02:30:00Z")},
	}
	for _, tc := range tests {
		tod, err := ParseTimeOfDay(tc.tod)
		if err != nil {
			t.Fatal(err)
		}
		if got := LocalInstant(tc.d, tod, mustLoad(t, tc.tz)); !got.Equal(tc.want) || got.Location() != time.UTC {
			t.Errorf("%s: LocalInstant(%v %s %s) = %v, want %v", tc.name, tc.d, tc.tod, tc.tz, got, tc.want)
		}
	}
}

var propertyZones = []string{
	"UTC", "America/New_York", "America/Los_Angeles", "Europe/London", "Europe/Berlin",
	"Australia/Lord_Howe", "Australia/Sydney", "Asia/Kolkata", "America/Santiago",
	"Pacific/Chatham", "Asia/Tehran", "America/Sao_Paulo", "Africa/Casablanca",
}

// TestLocalInstantShowsTheWallClock: whenever the wall-clock time exists in the zone,
// the instant shows exactly that date and time there; when it does not (a gap), the
// instant is the first one after the gap at the same distance from its start.
func TestLocalInstantShowsTheWallClock(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		loc := mustLoad(t, rapid.SampledFrom(propertyZones).Draw(t, "tz"))
		d := DateOf(time.Date(rapid.IntRange(1990, 2100).Draw(t, "year"), 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, rapid.IntRange(0, 365).Draw(t, "day")))
		tod := TimeOfDay(rapid.IntRange(0, 86399).Draw(t, "tod"))
		got := LocalInstant(d, tod, loc).In(loc)
		if DateOf(got) == d && TimeOfDayOf(got) == tod {
			// It exists; it must be the earliest instant showing it.
			for _, back := range []time.Duration{30 * time.Minute, time.Hour, 2 * time.Hour} {
				if earlier := got.Add(-back); DateOf(earlier) == d && TimeOfDayOf(earlier) == tod {
					t.Fatalf("%v %v: %v is not the first occurrence", d, tod, got)
				}
			}
			return
		}
		// Not shown: the wall time must truly not exist, i.e. no instant within a day
		// shows it (time.Date finds one when it exists).
		probe := time.Date(d.Year, d.Month, d.Day, int(tod)/3600, int(tod)/60%60, int(tod)%60, 0, loc)
		if DateOf(probe) == d && TimeOfDayOf(probe) == tod {
			t.Fatalf("%v %v exists (%v) but LocalInstant gave %v", d, tod, probe, got)
		}
		// And it was moved forward, by less than a day.
		naive := time.Date(d.Year, d.Month, d.Day, int(tod)/3600, int(tod)/60%60, int(tod)%60, 0, time.UTC)
		shown := time.Date(got.Year(), got.Month(), got.Day(), got.Hour(), got.Minute(), got.Second(), 0, time.UTC)
		if !shown.After(naive) || shown.Sub(naive) >= 24*time.Hour {
			t.Fatalf("%v %v in a gap became %v", d, tod, got)
		}
	})
}

func TestLoadTimezone(t *testing.T) {
	if loc, err := LoadTimezone(""); err != nil || loc != time.UTC {
		t.Errorf(`LoadTimezone("") = %v, %v`, loc, err)
	}
	for _, bad := range []string{"Local", "Mars/Olympus", "../etc/passwd", "/etc/localtime", "america/new_york "} {
		if _, err := LoadTimezone(bad); err == nil {
			t.Errorf("LoadTimezone(%q) succeeded", bad)
		}
	}
}
