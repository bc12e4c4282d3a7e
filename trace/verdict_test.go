package trace_test

import (
	"math"
	"testing"
	"time"

	"github.com/ganpin/ganpin/trace"
)

var t0 = time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC)

// every returns one reading each step from start, with temperature temp(i).
func every(start time.Time, step time.Duration, n int, temp func(i int) float64) []trace.Reading {
	rs := make([]trace.Reading, n)
	for i := range rs {
		rs[i] = trace.Reading{Time: start.Add(time.Duration(i) * step), Temp: temp(i), Humidity: 90}
		rs[i].Flag()
	}
	return rs
}

func flat(v float64) func(int) float64 { return func(int) float64 { return v } }

func TestJudge(t *testing.T) {
	p := trace.ProfileNamed("navel_orange")
	if p.RecommendedMin != 5 || p.RecommendedMax != 8 || p.AlarmBelow != 3 || p.AlarmAbove != 12 || !p.ToBeConfirmed {
		t.Fatalf("default profile = %+v", p)
	}
	if trace.ProfileNamed("").Name != "navel_orange" || trace.ProfileNamed("unknown").Name != "navel_orange" {
		t.Fatal("the default profile is not navel_orange")
	}
	to := t0.Add(10 * time.Hour)
	min := time.Minute
	cases := []struct {
		name   string
		series []trace.Series
		check  func(t *testing.T, v trace.LegVerdict)
	}{
		{"all in range", []trace.Series{{"A", every(t0, 10*min, 61, flat(6.5))}}, func(t *testing.T, v trace.LegVerdict) {
			want(t, v.Status == trace.LegOK && v.Readings == 61 && len(v.Gaps) == 0 && v.OutOfRangeSeconds == 0, v)
			want(t, v.Temp.Min == 6.5 && v.Temp.Max == 6.5 && v.Temp.Mean == 6.5 && v.CoveredSeconds == 36000, v)
			want(t, v.Humidity != nil && v.Humidity.Mean == 90 && v.HumiditySeconds == 0, v)
		}},
		{"no readings", nil, func(t *testing.T, v trace.LegVerdict) {
			want(t, v.Status == trace.LegNoData && v.Temp == nil && len(v.Gaps) == 1 && v.Gaps[0].Seconds == 36000 && v.CoveredSeconds == 0, v)
		}},
		{"warm spell", []trace.Series{{"A", every(t0, 10*min, 61, func(i int) float64 {
			return map[bool]float64{true: 9.5 + float64(i%2), false: 6}[i >= 12 && i < 18] // 08:00+2h to +3h, up to 10.5 ℃
		})}}, func(t *testing.T, v trace.LegVerdict) {
			want(t, v.Status == trace.LegWarning && len(v.Excursions) == 1, v)
			e := v.Excursions[0]
			want(t, e.Device == "A" && e.Direction == "above" && e.Extreme == 10.5 && !e.Alarm, v)
			want(t, e.Start.Equal(t0.Add(2*time.Hour)) && e.End.Equal(t0.Add(3*time.Hour)) && e.Seconds == 3600 && v.OutOfRangeSeconds == 3600 && v.AlarmSeconds == 0, v)
		}},
		{"chilling", []trace.Series{{"A", every(t0, 10*min, 61, func(i int) float64 {
			if i >= 30 && i < 33 {
				return 2.1
			}
			return 5.5
		})}}, func(t *testing.T, v trace.LegVerdict) {
			want(t, v.Status == trace.LegAlarm && len(v.Excursions) == 1 && v.Excursions[0].Direction == "below", v)
			want(t, v.Excursions[0].Extreme == 2.1 && v.Excursions[0].Alarm && v.AlarmSeconds == 1800 && v.Temp.Min == 2.1, v)
		}},
		{"a gap is not compliance", []trace.Series{{"A", append(every(t0, 10*min, 20, flat(6)), every(t0.Add(5*time.Hour), 10*min, 31, flat(6))...)}}, func(t *testing.T, v trace.LegVerdict) {
			want(t, v.Status == trace.LegIncomplete && len(v.Gaps) == 1, v)
			g := v.Gaps[0]
			want(t, g.Start.Equal(t0.Add(190*min)) && g.End.Equal(t0.Add(5*time.Hour)) && g.Seconds == 110*60 && v.CoveredSeconds == 36000-110*60, v)
		}},
		{"implausible values are flagged and left out", []trace.Series{{"A", every(t0, 10*min, 61, func(i int) float64 {
			if i == 7 {
				return 85 // a misread, not a heat wave
			}
			return 7
		})}}, func(t *testing.T, v trace.LegVerdict) {
			want(t, v.Status == trace.LegOK && v.Flagged == 1 && v.Readings == 60 && v.Temp.Max == 7, v)
		}},
		{"out of order and repeated", []trace.Series{{"A", reverse(append(every(t0, 10*min, 61, flat(6)), every(t0, 10*min, 5, flat(6))...))}}, func(t *testing.T, v trace.LegVerdict) {
			want(t, v.Status == trace.LegOK && v.Readings == 61, v)
		}},
		{"two devices cover each other's gaps", []trace.Series{
			{"A", every(t0, 10*min, 31, flat(6))},
			{"B", every(t0.Add(5*time.Hour), 10*min, 31, func(i int) float64 { return map[bool]float64{true: 12.5, false: 7}[i == 10] })},
		}, func(t *testing.T, v trace.LegVerdict) {
			want(t, v.Status == trace.LegAlarm && len(v.Gaps) == 0 && len(v.Excursions) == 1 && v.Excursions[0].Device == "B", v)
			want(t, v.Excursions[0].Seconds == 600 && v.Temp.Max == 12.5, v)
		}},
		{"readings outside the leg do not count", []trace.Series{{"A", every(t0.Add(-2*time.Hour), 10*min, 100, func(i int) float64 {
			if i < 12 || i > 72 {
				return 20 // before loading and after unloading
			}
			return 6
		})}}, func(t *testing.T, v trace.LegVerdict) {
			want(t, v.Status == trace.LegOK && v.Readings == 61, v)
		}},
		{"an excursion still running at the end of the leg", []trace.Series{{"A", every(t0, 10*min, 61, func(i int) float64 {
			return map[bool]float64{true: 9, false: 6}[i >= 58]
		})}}, func(t *testing.T, v trace.LegVerdict) {
			want(t, v.Status == trace.LegWarning && v.Excursions[0].End.Equal(to) && v.Excursions[0].Seconds == 1200, v)
		}},
		{"humidity outside its range", []trace.Series{{"A", func() []trace.Reading {
			rs := every(t0, 10*min, 61, flat(6))
			for i := range rs[:6] {
				rs[i].Humidity = 70
			}
			rs[10].Humidity = math.NaN()
			return rs
		}()}}, func(t *testing.T, v trace.LegVerdict) {
			want(t, v.Status == trace.LegOK && v.HumiditySeconds == 3600 && v.Humidity.Min == 70, v)
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { c.check(t, trace.Judge(p, t0, to, c.series)) })
	}
}

func reverse(rs []trace.Reading) []trace.Reading {
	for i, j := 0, len(rs)-1; i < j; i, j = i+1, j-1 {
		rs[i], rs[j] = rs[j], rs[i]
	}
	return rs
}

func want(t *testing.T, ok bool, v trace.LegVerdict) {
	t.Helper()
	if !ok {
		t.Fatalf("verdict = %+v (temperature %+v)", v, v.Temp)
	}
}

func TestReadingFlags(t *testing.T) {
	for _, c := range []struct {
		temp, hum float64
		flags     int
	}{{6, 90, 0}, {-40, math.NaN(), 0}, {60, 100, 0}, {-40.1, 90, trace.FlagTemp}, {60.5, 90, trace.FlagTemp}, {6, 101, trace.FlagHumidity}, {6, -1, trace.FlagHumidity}} {
		r := trace.Reading{Temp: c.temp, Humidity: c.hum}
		r.Flag()
		if r.Flags != c.flags {
			t.Errorf("flags of %v ℃ %v %% = %d, want %d", c.temp, c.hum, r.Flags, c.flags)
		}
	}
}
