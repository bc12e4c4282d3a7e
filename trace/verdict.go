package trace

import (
	"cmp"
	_ "embed"
	"encoding/json"
	"math"
	"slices"
	"time"
)

// Profile is a product's cold-chain profile: the temperatures and humidity its
// fruit keeps well in. Profiles are data (coldprofiles.json), to be confirmed
// against the official texts.
type Profile struct {
	Name           string  `json:"name"`
	Label          string  `json:"label"`
	RecommendedMin float64 `json:"recommended_min"` // ℃
	RecommendedMax float64 `json:"recommended_max"`
	AlarmBelow     float64 `json:"alarm_below"` // chilling injury below this
	AlarmAbove     float64 `json:"alarm_above"`
	HumidityMin    float64 `json:"humidity_min"` // %RH
	HumidityMax    float64 `json:"humidity_max"`
	// MaxGapMinutes is the longest interval without a reading that is not a gap.
	MaxGapMinutes int    `json:"max_gap_minutes"`
	ToBeConfirmed bool   `json:"to_be_confirmed"`
	Source        string `json:"source,omitempty"`
}

// MaxGap returns the profile's longest interval without a reading that is not a gap.
func (p *Profile) MaxGap() time.Duration { return time.Duration(p.MaxGapMinutes) * time.Minute }

//go:embed coldprofiles.json
var profilesJSON []byte

var profiles = func() (out struct {
	Default  string    `json:"default"`
	Profiles []Profile `json:"profiles"`
}) {
	if err := json.Unmarshal(profilesJSON, &out); err != nil {
		panic("trace: coldprofiles.json: " + err.Error())
	}
	return out
}()

// Profiles returns the cold-chain profiles.
func Profiles() []Profile { return slices.Clone(profiles.Profiles) }

// ProfileNamed returns the profile called name, or the default profile (赣南脐橙)
// when name is empty or unknown.
func ProfileNamed(name string) Profile {
	for _, p := range profiles.Profiles {
		if p.Name == name {
			return p
		}
	}
	for _, p := range profiles.Profiles {
		if p.Name == profiles.Default {
			return p
		}
	}
	panic("trace: coldprofiles.json has no default profile")
}

// Reading flags: an implausible value is kept, flagged and left out of verdicts.
const (
	FlagTemp     = 1 << iota // temperature below MinPlausible or above MaxPlausible ℃
	FlagHumidity             // humidity outside 0–100 %RH
)

// Plausible temperatures, ℃: a logger reporting outside them is broken or misread.
const (
	MinPlausible = -40
	MaxPlausible = 60
)

// Reading is one logger measurement. Humidity is NaN when the logger has none.
type Reading struct {
	DeviceID int64
	Time     time.Time
	Temp     float64 // ℃
	Humidity float64 // %RH, NaN when absent
	Flags    int
}

// Flag sets the reading's implausibility flags from its values.
func (r *Reading) Flag() {
	r.Flags = 0
	if !(r.Temp >= MinPlausible && r.Temp <= MaxPlausible) {
		r.Flags |= FlagTemp
	}
	if !math.IsNaN(r.Humidity) && !(r.Humidity >= 0 && r.Humidity <= 100) {
		r.Flags |= FlagHumidity
	}
}

// Status is a leg's cold-chain verdict.
type Status string

// Statuses, from worst to best; gaps make a verdict incomplete, never compliant.
const (
	StatusNoData     Status = "no_data"    // 无温度数据
	StatusAlarm      Status = "alarm"      // 温度告警: beyond the alarm limits
	StatusWarning    Status = "warning"    // 偏离推荐温度: outside the recommended range
	StatusIncomplete Status = "incomplete" // 数据不完整: in range where measured, but with gaps
	StatusOK         Status = "ok"         // 合格
)

// ZH returns the status in Chinese.
func (s Status) ZH() string {
	switch s {
	case StatusNoData:
		return "无温度数据"
	case StatusAlarm:
		return "温度告警"
	case StatusWarning:
		return "偏离推荐温度"
	case StatusIncomplete:
		return "数据不完整"
	case StatusOK:
		return "合格"
	}
	return string(s)
}

// Excursion is a run of one device's readings outside the recommended range.
type Excursion struct {
	Device    string    `json:"device"`
	Start     time.Time `json:"start"`
	End       time.Time `json:"end"`
	Seconds   int64     `json:"seconds"`
	Direction string    `json:"direction"` // above, below
	Extreme   float64   `json:"extreme"`   // the warmest (above) or coldest (below) reading, ℃
	Alarm     bool      `json:"alarm"`     // the extreme is beyond the alarm limit
}

// Gap is an interval of a leg longer than the profile's maximum gap without any
// valid reading.
type Gap struct {
	Start   time.Time `json:"start"`
	End     time.Time `json:"end"`
	Seconds int64     `json:"seconds"`
}

// Stats summarise values.
type Stats struct {
	Min  float64 `json:"min"`
	Max  float64 `json:"max"`
	Mean float64 `json:"mean"`
}

// Verdict is the cold-chain analysis of a leg. Each valid reading holds its value
// until the device's next reading, at most the profile's maximum gap and at most
// to the leg's end; longer silences are gaps, never counted as in range.
type Verdict struct {
	Status   Status `json:"status"`
	Readings int    `json:"readings"` // valid readings used
	Flagged  int    `json:"flagged"`  // implausible readings left out
	Temp     *Stats `json:"temperature,omitempty"`
	Humidity *Stats `json:"humidity,omitempty"`
	// Seconds observed outside the recommended range, beyond the alarm limits, and
	// outside the humidity range (any device).
	OutOfRangeSeconds int64       `json:"out_of_range_seconds"`
	AlarmSeconds      int64       `json:"alarm_seconds"`
	HumiditySeconds   int64       `json:"humidity_out_of_range_seconds"`
	CoveredSeconds    int64       `json:"covered_seconds"` // leg time not in a gap
	Excursions        []Excursion `json:"excursions"`
	Gaps              []Gap       `json:"gaps"`
}

// Series is one device's readings for a verdict.
type Series struct {
	Device   string
	Readings []Reading
}

// Judge computes the verdict of the leg [from, to] under profile p from each
// device's readings; readings outside the leg or flagged implausible are left out.
func Judge(p Profile, from, to time.Time, series []Series) Verdict {
	v := Verdict{Excursions: []Excursion{}, Gaps: []Gap{}}
	from, to = from.UTC(), to.UTC()
	maxGap := p.MaxGap()
	var times []time.Time
	var outRange, alarm, humid []span
	var tSum, hSum float64
	var hN int
	for _, s := range series {
		rs := make([]Reading, 0, len(s.Readings))
		for _, r := range s.Readings {
			if r.Time.Before(from) || r.Time.After(to) {
				continue
			}
			if r.Flags&FlagTemp != 0 {
				v.Flagged++
				continue
			}
			rs = append(rs, r)
		}
		slices.SortFunc(rs, func(a, b Reading) int { return a.Time.Compare(b.Time) })
		rs = slices.CompactFunc(rs, func(a, b Reading) bool { return a.Time.Equal(b.Time) })
		var run *Excursion
		closeRun := func() {
			if run != nil {
				run.Seconds = int64(run.End.Sub(run.Start) / time.Second)
				v.Excursions = append(v.Excursions, *run)
				run = nil
			}
		}
		for i, r := range rs {
			times = append(times, r.Time)
			v.Readings++
			tSum += r.Temp
			v.Temp = widen(v.Temp, r.Temp)
			if r.Flags&FlagHumidity == 0 && !math.IsNaN(r.Humidity) {
				hSum += r.Humidity
				hN++
				v.Humidity = widen(v.Humidity, r.Humidity)
			}
			// The value holds until the next reading, unless a gap or the leg's end comes first.
			held, linked := r.Time, false
			if i+1 < len(rs) {
				if next := rs[i+1].Time; next.Sub(r.Time) <= maxGap {
					held, linked = next, true
				}
			} else if to.Sub(r.Time) <= maxGap {
				held = to
			}
			sp := span{r.Time, held}
			dir := ""
			switch {
			case r.Temp > p.RecommendedMax:
				dir = "above"
				outRange = append(outRange, sp)
			case r.Temp < p.RecommendedMin:
				dir = "below"
				outRange = append(outRange, sp)
			}
			if r.Temp > p.AlarmAbove || r.Temp < p.AlarmBelow {
				alarm = append(alarm, sp)
			}
			if r.Flags&FlagHumidity == 0 && !math.IsNaN(r.Humidity) && (r.Humidity < p.HumidityMin || r.Humidity > p.HumidityMax) {
				humid = append(humid, sp)
			}
			if run != nil && run.Direction != dir {
				closeRun()
			}
			if dir != "" {
				if run == nil {
					run = &Excursion{Device: s.Device, Start: r.Time, Direction: dir, Extreme: r.Temp}
				}
				if dir == "above" {
					run.Extreme = math.Max(run.Extreme, r.Temp)
				} else {
					run.Extreme = math.Min(run.Extreme, r.Temp)
				}
				run.Alarm = run.Alarm || run.Extreme > p.AlarmAbove || run.Extreme < p.AlarmBelow
				run.End = held
				if !linked {
					closeRun() // a gap or the leg's end interrupts the run
				}
			}
		}
		closeRun()
	}
	v.OutOfRangeSeconds = measure(outRange)
	v.AlarmSeconds = measure(alarm)
	v.HumiditySeconds = measure(humid)

	// Gaps: silences longer than the maximum gap across all devices, leg ends included.
	slices.SortFunc(times, func(a, b time.Time) int { return a.Compare(b) })
	prev := from
	var gapTotal time.Duration
	for _, t := range append(times, to) {
		if d := t.Sub(prev); d > maxGap {
			v.Gaps = append(v.Gaps, Gap{Start: prev, End: t, Seconds: int64(d / time.Second)})
			gapTotal += d
		}
		prev = t
	}
	v.CoveredSeconds = int64((to.Sub(from) - gapTotal) / time.Second)
	slices.SortFunc(v.Excursions, func(a, b Excursion) int {
		return cmp.Or(a.Start.Compare(b.Start), cmp.Compare(a.Device, b.Device))
	})

	switch {
	case v.Readings == 0:
		v.Status, v.Temp = StatusNoData, nil
		return v
	case slices.ContainsFunc(v.Excursions, func(e Excursion) bool { return e.Alarm }):
		v.Status = StatusAlarm
	case len(v.Excursions) > 0:
		v.Status = StatusWarning
	case len(v.Gaps) > 0:
		v.Status = StatusIncomplete
	default:
		v.Status = StatusOK
	}
	v.Temp.Mean = round2(tSum / float64(v.Readings))
	if v.Humidity != nil {
		v.Humidity.Mean = round2(hSum / float64(hN))
	}
	return v
}

func widen(s *Stats, x float64) *Stats {
	if s == nil {
		return &Stats{Min: x, Max: x}
	}
	s.Min, s.Max = math.Min(s.Min, x), math.Max(s.Max, x)
	return s
}

func round2(x float64) float64 { return math.Round(x*100) / 100 }

// span is a time interval [start, end).
type span struct{ start, end time.Time }

// measure returns the seconds the union of spans covers.
func measure(ss []span) int64 {
	slices.SortFunc(ss, func(a, b span) int { return a.start.Compare(b.start) })
	var total time.Duration
	var cur span
	for i, s := range ss {
		switch {
		case i == 0:
			cur = s
		case !s.start.After(cur.end):
			if s.end.After(cur.end) {
				cur.end = s.end
			}
		default:
			total += cur.end.Sub(cur.start)
			cur = s
		}
	}
	if len(ss) > 0 {
		total += cur.end.Sub(cur.start)
	}
	return int64(total / time.Second)
}
