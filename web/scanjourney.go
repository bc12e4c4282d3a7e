package web

import (
	"cmp"
	"context"
	"math"
	"slices"
	"time"

	"github.com/ganpin/ganpin/cert"
	"github.com/ganpin/ganpin/trace"
)

// journey is what a scan page shows of a certificate's lot beyond the certificate:
// where it grew and what was sprayed, its harvest, packing and cold chain, the
// latest published official sampling and its orders, masked. Built from the lot
// graph, the cold chain, sampling and orders; nothing in it names a person.
type journey struct {
	Product  *trace.Product
	Grade    string    // of the harvest, when the lot has one
	Harvest  time.Time // the first harvest it came from
	Orchards []string  // county and town of each orchard
	Steps    []step    // in time order
	Chart    *chart    // nil without readings
	Sampling *trace.PublishedVerdict
	Orders   []trace.MaskedOrder // the lot's, newest first
	lots     []int64             // the lot and the lots it came from
	// byUnit holds the masked orders naming each unit serial; complete when
	// allOrders, else a unit not in it is looked up.
	byUnit    map[string][]trace.MaskedOrder
	allOrders bool
}

// Step kinds, in the order a lot meets them.
const (
	stepOrchard   = "orchard"
	stepHarvest   = "harvest"
	stepTest      = "test"
	stepPacking   = "packing"
	stepStorage   = "storage"
	stepTransport = "transport"
	stepOrder     = "order"
)

// step is one entry of the journey's timeline.
type step struct {
	Kind   string
	Time   time.Time
	End    time.Time // legs: arrival or leaving the store; zero while open
	Place  string    // site name with its county and town
	To     string    // transport: the destination
	Inputs []input   // orchard: the season's applications before its harvest
	Grade  string    // harvest
	Method string    // test
	Passed bool      // test
	Leg    *legView  // storage and transport
	Order  *trace.MaskedOrder
}

// AllOK reports whether every input's pre-harvest interval was respected.
func (s step) AllOK() bool {
	for _, in := range s.Inputs {
		if !in.OK {
			return false
		}
	}
	return true
}

// Duration returns how long a leg took (or has taken so far).
func (s step) Duration() time.Duration {
	if s.Leg == nil {
		return 0
	}
	return s.Leg.To.Sub(s.Time)
}

// input is an input application with its pre-harvest interval checked against the harvest.
type input struct {
	Product    string
	Ingredient string
	Date       time.Time
	PHIDays    int
	Days       int  // whole days from the application to the harvest
	OK         bool // the harvest came after the interval ended
}

// legView is a custody leg's cold-chain verdict as the page shows it.
type legView struct {
	Status     trace.LegStatus
	To         time.Time
	Open       bool
	Temp       *trace.Stats
	OutOfRange time.Duration
	Excursions int
	Alarms     int
	Gaps       int
}

// buildJourney reads the journey of certificate c's lot.
func (s *server) buildJourney(ctx context.Context, c *cert.Issued) (*journey, error) {
	j := &journey{byUnit: map[string][]trace.MaskedOrder{}}
	g, err := s.scanStore.Graph(ctx, c.LotID, trace.Backward)
	if err != nil {
		return nil, err
	}
	for _, l := range g.Lots {
		j.lots = append(j.lots, l.ID)
		if l.ID == c.LotID {
			if j.Product, err = s.scanStore.Product(ctx, l.ProductID); err != nil {
				return nil, err
			}
		}
	}
	sites := map[int64]*trace.Site{}
	for i := range g.Sites {
		sites[g.Sites[i].ID] = &g.Sites[i]
	}
	place := func(id int64) string {
		site := sites[id]
		if site == nil {
			return ""
		}
		return site.Name + " · " + cmp.Or(trace.CountyName(site.County), site.County) + site.Town
	}
	corrected := map[int64]bool{}
	for _, e := range g.Events {
		if e.Spec.Corrects != 0 {
			corrected[e.Spec.Corrects] = true
		}
	}
	// Harvests first: the orchards and their inputs hang on them.
	harvestOf := map[int64]time.Time{} // orchard → its first harvest into the lot
	for _, e := range g.Events {
		if e.Spec.Type != trace.Harvest || corrected[e.ID] {
			continue
		}
		if t, ok := harvestOf[e.Spec.Site]; !ok || e.Time.Before(t) {
			harvestOf[e.Spec.Site] = e.Time
		}
		if j.Harvest.IsZero() || e.Time.Before(j.Harvest) {
			j.Harvest, j.Grade = e.Time, e.Spec.Harvest.Lot.Grade
		}
		j.Steps = append(j.Steps, step{Kind: stepHarvest, Time: e.Time, Place: place(e.Spec.Site), Grade: e.Spec.Harvest.Lot.Grade})
	}
	orchards := map[int64]*step{}
	for _, e := range g.Events {
		switch {
		case corrected[e.ID]:
		case e.Spec.Type == trace.InputApplication:
			h, ok := harvestOf[e.Spec.Site]
			if !ok || e.Time.After(h) {
				continue
			}
			o := orchards[e.Spec.Site]
			if o == nil {
				o = &step{Kind: stepOrchard, Time: e.Time, Place: place(e.Spec.Site)}
				orchards[e.Spec.Site] = o
			}
			in := e.Spec.Input
			o.Inputs = append(o.Inputs, input{Product: in.ProductName, Ingredient: in.ActiveIngredient, Date: e.Time, PHIDays: in.PHIDays,
				Days: int(h.Sub(e.Time) / (24 * time.Hour)), OK: !h.Before(trace.PHIEnd(e.Time, in.PHIDays))})
		case e.Spec.Type == trace.SelfTest:
			j.Steps = append(j.Steps, step{Kind: stepTest, Time: e.Time, Place: place(e.Spec.Site), Method: e.Spec.SelfTest.Method, Passed: e.Spec.SelfTest.Passed})
		case e.Spec.Type == trace.Transformation:
			j.Steps = append(j.Steps, step{Kind: stepPacking, Time: e.Time, Place: place(e.Spec.Site)})
		}
	}
	for id, o := range orchards {
		if site := sites[id]; site != nil {
			j.Orchards = append(j.Orchards, cmp.Or(trace.CountyName(site.County), site.County)+site.Town)
		}
		j.Steps = append(j.Steps, *o)
	}
	slices.Sort(j.Orchards)
	j.Orchards = slices.Compact(j.Orchards)

	// The cold chain: custody legs with their verdicts, and the readings behind them.
	pj, err := s.svc.PublicJourney(ctx, c.Serial, "")
	if err != nil {
		return nil, err
	}
	for _, l := range pj.Legs {
		v := &legView{Status: l.Verdict.Status, To: l.Leg.To, Open: l.Leg.Open, Temp: l.Verdict.Temp,
			OutOfRange: time.Duration(l.Verdict.OutOfRangeSeconds) * time.Second, Excursions: len(l.Verdict.Excursions), Gaps: len(l.Verdict.Gaps)}
		for _, x := range l.Verdict.Excursions {
			if x.Alarm {
				v.Alarms++
			}
		}
		st := step{Kind: stepStorage, Time: l.Leg.From, Place: place(l.Leg.Site), Leg: v}
		if !l.Leg.Open {
			st.End = l.Leg.To
		}
		if l.Leg.Kind == trace.TransportLeg {
			st.Kind, st.To = stepTransport, place(l.Leg.Destination)
		}
		j.Steps = append(j.Steps, st)
	}
	if j.Chart, err = s.buildChart(ctx, pj.Legs); err != nil {
		return nil, err
	}
	j.Orders = pj.Orders
	if err := s.unitOrders(ctx, j, c); err != nil {
		return nil, err
	}
	if s.insp != nil {
		vs, err := s.insp.PublishedVerdicts(ctx, c.LotID)
		if err != nil {
			return nil, err
		}
		for i := range vs {
			if j.Sampling == nil || vs[i].Date.After(j.Sampling.Date) {
				j.Sampling = &vs[i]
			}
		}
	}
	slices.SortStableFunc(j.Steps, func(a, b step) int { return a.Time.Compare(b.Time) })
	return j, nil
}

// maxLotOrders is how many of a lot's orders a journey indexes by unit serial; a
// unit of a lot with more is looked up when scanned.
const maxLotOrders = 1000

// unitOrders indexes the lot's orders by the unit serials they name.
func (s *server) unitOrders(ctx context.Context, j *journey, c *cert.Issued) error {
	if c.Units == 0 {
		return nil
	}
	os, err := s.scanStore.Orders(ctx, trace.OrderFilter{LotID: c.LotID}, trace.Page{Limit: maxLotOrders})
	if err != nil {
		return err
	}
	j.allOrders = len(os) < maxLotOrders
	for i := range os {
		for _, it := range os[i].Spec.Items {
			if it.Certificate != c.Serial {
				continue
			}
			for _, u := range it.Units {
				j.byUnit[u] = append(j.byUnit[u], os[i].Mask())
			}
		}
	}
	return nil
}

// ordersOf returns the masked orders of a unit serial (unit ""; the lot's).
func (s *server) ordersOf(ctx context.Context, j *journey, c *cert.Issued, unit string) ([]trace.MaskedOrder, error) {
	if unit == "" {
		return j.Orders, nil
	}
	if os, ok := j.byUnit[unit]; ok || j.allOrders {
		return os, nil
	}
	os, err := s.scanStore.Orders(ctx, trace.OrderFilter{Serial: c.Serial, Unit: unit}, trace.Page{Limit: 20})
	if err != nil {
		return nil, err
	}
	out := make([]trace.MaskedOrder, len(os))
	for i := range os {
		out[i] = os[i].Mask()
	}
	return out, nil
}

// chart is the journey's temperatures as an inline SVG: the readings (at most two
// points a bucket, its coldest and warmest), the profile's recommended band and alarm
// limits, and the excursions and gaps of every leg.
type chart struct {
	Profile    trace.Profile
	From, To   time.Time
	Min, Max   float64 // readings' extremes
	Points     string  // SVG polyline points
	Band       rect
	AlarmLo    float64 // y of the lower and upper alarm limits
	AlarmHi    float64
	Excursions []rect
	Gaps       []rect
	Legs       []float64 // x of leg boundaries
	YTicks     []tick
	XTicks     []tick
	Count      int // readings drawn from
	Warm, Cold int // excursions above and below the band
}

type rect struct{ X, Y, W, H float64 }

type tick struct {
	At    float64
	Label string
}

// Chart geometry, in SVG user units.
const (
	chartW, chartH    = 360.0, 170.0
	chartL, chartR    = 34.0, 6.0
	chartT, chartB    = 8.0, 22.0
	chartBuckets      = 120
	chartMinSpanHours = 1
)

func (s *server) buildChart(ctx context.Context, legs []trace.LegReport) (*chart, error) {
	var serials []string
	for _, l := range legs {
		for _, src := range l.Sources {
			serials = append(serials, src.Device)
		}
	}
	if len(serials) == 0 {
		return nil, nil
	}
	ids, err := s.scanStore.DeviceIDs(ctx, serials)
	if err != nil {
		return nil, err
	}
	var rs []trace.Reading
	ch := &chart{}
	for _, l := range legs {
		for _, src := range l.Sources {
			got, err := s.scanStore.Readings(ctx, ids[src.Device], src.From, src.To)
			if err != nil {
				return nil, err
			}
			for _, r := range got {
				if r.Flags&trace.FlagTemp == 0 {
					rs = append(rs, r)
				}
			}
		}
		if len(l.Sources) > 0 {
			ch.Profile = l.Profile
		}
	}
	if len(rs) == 0 {
		return nil, nil
	}
	slices.SortFunc(rs, func(a, b trace.Reading) int { return a.Time.Compare(b.Time) })
	ch.Count = len(rs)
	ch.From, ch.To = rs[0].Time, rs[len(rs)-1].Time
	for _, l := range legs {
		if len(l.Sources) > 0 {
			ch.From, ch.To = minTime(ch.From, l.Leg.From), maxTime(ch.To, l.Leg.To)
		}
	}
	if ch.To.Sub(ch.From) < chartMinSpanHours*time.Hour {
		ch.To = ch.From.Add(chartMinSpanHours * time.Hour)
	}
	ch.Min, ch.Max = math.Inf(1), math.Inf(-1)
	for _, r := range rs {
		ch.Min, ch.Max = math.Min(ch.Min, r.Temp), math.Max(ch.Max, r.Temp)
	}
	p := ch.Profile
	lo, hi := math.Floor(math.Min(ch.Min, p.AlarmBelow)-1), math.Ceil(math.Max(ch.Max, p.AlarmAbove)+1)
	span := float64(ch.To.Sub(ch.From))
	x := func(t time.Time) float64 { return round1(chartL + (chartW-chartL-chartR)*float64(t.Sub(ch.From))/span) }
	y := func(v float64) float64 { return round1(chartT + (chartH-chartT-chartB)*(hi-v)/(hi-lo)) }

	// Readings, two points a bucket.
	var pts []byte
	bucket := span / chartBuckets
	for i := 0; i < len(rs); {
		b := int(float64(rs[i].Time.Sub(ch.From)) / bucket)
		lo, hi := rs[i], rs[i]
		k := i
		for ; k < len(rs) && int(float64(rs[k].Time.Sub(ch.From))/bucket) == b; k++ {
			if rs[k].Temp < lo.Temp {
				lo = rs[k]
			}
			if rs[k].Temp > hi.Temp {
				hi = rs[k]
			}
		}
		first, second := lo, hi
		if hi.Time.Before(lo.Time) {
			first, second = hi, lo
		}
		pts = appendPoint(pts, x(first.Time), y(first.Temp))
		if second.Time != first.Time {
			pts = appendPoint(pts, x(second.Time), y(second.Temp))
		}
		i = k
	}
	ch.Points = string(pts)
	ch.Band = rect{chartL, y(p.RecommendedMax), chartW - chartL - chartR, y(p.RecommendedMin) - y(p.RecommendedMax)}
	ch.AlarmLo, ch.AlarmHi = y(p.AlarmBelow), y(p.AlarmAbove)
	full := func(from, to time.Time) rect {
		x0, x1 := x(maxTime(from, ch.From)), x(minTime(to, ch.To))
		return rect{x0, chartT, math.Max(x1-x0, 1.5), chartH - chartT - chartB}
	}
	for i, l := range legs {
		if len(l.Sources) == 0 {
			continue
		}
		if at := x(l.Leg.From); i > 0 && at > chartL+1 {
			ch.Legs = append(ch.Legs, at)
		}
		for _, e := range l.Verdict.Excursions {
			ch.Excursions = append(ch.Excursions, full(e.Start, e.End))
			if e.Direction == "above" {
				ch.Warm++
			} else {
				ch.Cold++
			}
		}
		for _, g := range l.Verdict.Gaps {
			ch.Gaps = append(ch.Gaps, full(g.Start, g.End))
		}
	}
	for _, v := range []float64{p.AlarmBelow, p.RecommendedMin, p.RecommendedMax, p.AlarmAbove} {
		ch.YTicks = append(ch.YTicks, tick{y(v), trimFloat(v)})
	}
	ch.XTicks = []tick{{chartL, ch.From.In(cst).Format("01-02")}, {chartW - chartR, ch.To.In(cst).Format("01-02")}}
	return ch, nil
}

func appendPoint(b []byte, x, y float64) []byte {
	if len(b) > 0 {
		b = append(b, ' ')
	}
	b = append(b, trimFloat(x)...)
	b = append(b, ',')
	return append(b, trimFloat(y)...)
}

func round1(v float64) float64 { return math.Round(v*10) / 10 }

func trimFloat(v float64) string { return fmtQty(round1(v)) }

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
