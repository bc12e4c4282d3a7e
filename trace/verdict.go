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

// LegStatus is a leg's cold-chain verdict.
type LegStatus string

// Statuses, from worst to best; gaps make a verdict incomplete, never compliant.
const (
	LegNoData     LegStatus = "no_data"    // 无温度数据
	LegAlarm      LegStatus = "alarm"      // 温度告警: beyond the alarm limits
	LegWarning    LegStatus = "warning"    // 偏离推荐温度: outside the recommended range
	LegIncomplete LegStatus = "incomplete" // 数据不完整: in range where measured, but with gaps
	LegOK         LegStatus = "ok"         // 合格
)

// ZH returns the status in Chinese.
func (s LegStatus) ZH() string {
	switch s {
	case LegNoData:
		return "无温度数据"
	case LegAlarm:
		return "温度告警"
	case LegWarning:
		return "偏离推荐温度"
	case LegIncomplete:
		return "数据不完整"
	case LegOK:
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

// LegVerdict is the cold-chain analysis of a leg. Each valid reading holds its value
// until the device's next reading, at most the profile's maximum gap and at most
// to the leg's end; longer silences are gaps, never counted as in range.
type LegVerdict struct {
	Status   LegStatus `json:"status"`
	Readings int       `json:"readings"` // valid readings used
	Flagged  int       `json:"flagged"`  // implausible readings left out
	Temp     *Stats    `json:"temperature,omitempty"`
	Humidity *Stats    `json:"humidity,omitempty"`
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
func Judge(p Profile, from, to time.Time, series []Series) LegVerdict {
	v := LegVerdict{Excursions: []Excursion{}, Gaps: []Gap{}}
	lo, hi, maxGap := from.UnixMicro(), to.UnixMicro(), p.MaxGap().Microseconds()
	var times []int64
	var outRange, alarm, humid []span
	var tSum, hSum float64
	var hN int
	for _, s := range series {
		ps := make([]point, 0, len(s.Readings))
		for _, r := range s.Readings {
			us := r.Time.UnixMicro()
			if us < lo || us > hi {
				continue
			}
			if r.Flags&FlagTemp != 0 {
				v.Flagged++
				continue
			}
			ps = append(ps, point{us, r.Temp, r.Humidity, r.Flags&FlagHumidity == 0 && !math.IsNaN(r.Humidity)})
		}
		if !slices.IsSortedFunc(ps, func(a, b point) int { return cmp.Compare(a.t, b.t) }) {
			slices.SortStableFunc(ps, func(a, b point) int { return cmp.Compare(a.t, b.t) })
		}
		ps = slices.CompactFunc(ps, func(a, b point) bool { return a.t == b.t })
		var run *Excursion
		closeRun := func() {
			if run != nil {
				run.Seconds = int64(run.End.Sub(run.Start) / time.Second)
				v.Excursions = append(v.Excursions, *run)
				run = nil
			}
		}
		for i, r := range ps {
			times = append(times, r.t)
			tSum += r.temp
			v.Temp = widen(v.Temp, r.temp)
			if r.hasHum {
				hSum += r.hum
				hN++
				v.Humidity = widen(v.Humidity, r.hum)
			}
			// The value holds until the next reading, unless a gap or the leg's end comes first.
			held, linked := r.t, false
			if i+1 < len(ps) {
				if next := ps[i+1].t; next-r.t <= maxGap {
					held, linked = next, true
				}
			} else if hi-r.t <= maxGap {
				held = hi
			}
			sp := span{r.t, held}
			dir := ""
			switch {
			case r.temp > p.RecommendedMax:
				dir = "above"
				outRange = append(outRange, sp)
			case r.temp < p.RecommendedMin:
				dir = "below"
				outRange = append(outRange, sp)
			}
			if r.temp > p.AlarmAbove || r.temp < p.AlarmBelow {
				alarm = append(alarm, sp)
			}
			if r.hasHum && (r.hum < p.HumidityMin || r.hum > p.HumidityMax) {
				humid = append(humid, sp)
			}
			if run != nil && run.Direction != dir {
				closeRun()
			}
			if dir != "" {
				if run == nil {
					run = &Excursion{Device: s.Device, Start: utc(r.t), Direction: dir, Extreme: r.temp}
				}
				if dir == "above" {
					run.Extreme = math.Max(run.Extreme, r.temp)
				} else {
					run.Extreme = math.Min(run.Extreme, r.temp)
				}
				run.Alarm = run.Alarm || run.Extreme > p.AlarmAbove || run.Extreme < p.AlarmBelow
				run.End = utc(held)
				if !linked {
					closeRun() // a gap or the leg's end interrupts the run
				}
			}
		}
		closeRun()
	}
	v.Readings = len(times)
	v.OutOfRangeSeconds = measure(outRange)
	v.AlarmSeconds = measure(alarm)
	v.HumiditySeconds = measure(humid)

	// Gaps: silences longer than the maximum gap across all devices, leg ends included.
	if len(series) > 1 {
		slices.Sort(times)
	}
	prev := lo
	var gapTotal int64
	for _, t := range append(times, hi) {
		if d := t - prev; d > maxGap {
			v.Gaps = append(v.Gaps, Gap{Start: utc(prev), End: utc(t), Seconds: d / 1e6})
			gapTotal += d
		}
		prev = t
	}
	v.CoveredSeconds = (hi - lo - gapTotal) / 1e6
	slices.SortFunc(v.Excursions, func(a, b Excursion) int {
		return cmp.Or(a.Start.Compare(b.Start), cmp.Compare(a.Device, b.Device))
	})

	switch {
	case v.Readings == 0:
		v.Status, v.Temp = LegNoData, nil
		return v
	case slices.ContainsFunc(v.Excursions, func(e Excursion) bool { return e.Alarm }):
		v.Status = LegAlarm
	case len(v.Excursions) > 0:
		v.Status = LegWarning
	case len(v.Gaps) > 0:
		v.Status = LegIncomplete
	default:
		v.Status = LegOK
	}
	v.Temp.Mean = round2(tSum / float64(v.Readings))
	if v.Humidity != nil {
		v.Humidity.Mean = round2(hSum / float64(hN))
	}
	return v
}

// point is a valid reading in the verdict's units: microseconds since the epoch.
type point struct {
	t         int64
	temp, hum float64
	hasHum    bool
}

func utc(us int64) time.Time { return time.UnixMicro(us).UTC() }

func widen(s *Stats, x float64) *Stats {
	if s == nil {
		return &Stats{Min: x, Max: x}
	}
	s.Min, s.Max = math.Min(s.Min, x), math.Max(s.Max, x)
	return s
}

func round2(x float64) float64 { return math.Round(x*100) / 100 }

// span is a time interval [start, end) in microseconds.
type span struct{ start, end int64 }

// measure returns the seconds the union of spans covers.
func measure(ss []span) int64 {
	if !slices.IsSortedFunc(ss, func(a, b span) int { return cmp.Compare(a.start, b.start) }) {
		slices.SortFunc(ss, func(a, b span) int { return cmp.Compare(a.start, b.start) })
	}
	var total int64
	var cur span
	for i, s := range ss {
		switch {
		case i == 0:
			cur = s
		case s.start <= cur.end:
			cur.end = max(cur.end, s.end)
		default:
			total += cur.end - cur.start
			cur = s
		}
	}
	if len(ss) > 0 {
		total += cur.end - cur.start
	}
	return total / 1e6
}
