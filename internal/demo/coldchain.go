package demo

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ganpin/ganpin/trace"
)

// ColdChainResult describes what ColdChain loaded.
type ColdChainResult struct {
	Devices  int
	Readings int
	Sealed   int // leg summaries
	Orders   int
	// Excursion is the leg with the demo's one temperature alarm: the example
	// lot's reefer to Shanghai, whose unit stopped for two and a half hours.
	Excursion int64
	Account   Account // the platform's demo login
}

// ColdChain puts loggers on the loaded demo's shipments and cold store and
// streams their readings (all in range but for one realistic excursion), seals
// the summaries of the legs that have ended, and has the 赣南优品 platform, to
// which every cooperative grants a sales channel, link orders for the boxes that
// reached Shanghai and Shenzhen. example is Result.ExampleLot; its orders name
// unit-level serials of certificate serial when it is not empty. Call it once,
// after Load (and Certify).
func ColdChain(ctx context.Context, svc *trace.Service, example int64, serial string) (*ColdChainResult, error) {
	c := &coldLoader{ctx: ctx, svc: svc, rnd: rand.New(rand.NewPCG(2026, 1120)), res: &ColdChainResult{}}
	return c.res, c.load(example, serial)
}

type coldLoader struct {
	ctx context.Context
	svc *trace.Service
	rnd *rand.Rand
	res *ColdChainResult
}

func (c *coldLoader) login(username string) (trace.Actor, error) {
	token, _, err := c.svc.Login(c.ctx, username, Password, "demo")
	if err != nil {
		return trace.Actor{}, fmt.Errorf("demo cold chain: %s: %w", username, err)
	}
	return c.svc.Authenticate(c.ctx, token)
}

// device prepares a logger of the cold-chain operator with readings every step
// over [from, to] at temp(t) ℃, assigned as as says; the returned job registers,
// assigns and uploads it.
func (c *coldLoader) device(a trace.Actor, serial, model string, as trace.Assignment, from, to time.Time, step time.Duration, temp func(time.Time) float64) func() error {
	var rs []trace.Reading
	for t := from; !t.After(to); t = t.Add(step) {
		rs = append(rs, trace.Reading{Time: t, Temp: math.Round(temp(t)*10) / 10, Humidity: float64(86 + c.rnd.IntN(7))})
	}
	c.res.Devices++
	c.res.Readings += len(rs)
	return func() error {
		d := &trace.Device{Serial: serial, Model: model}
		if err := c.svc.RegisterDevice(c.ctx, a, d); err != nil {
			return err
		}
		as.DeviceID, as.From = d.ID, from
		if !to.IsZero() {
			as.To = to.Add(time.Second)
		}
		if err := c.svc.Assign(c.ctx, a, &as); err != nil {
			return err
		}
		for len(rs) > 0 {
			n := min(len(rs), trace.MaxReadings)
			if _, err := c.svc.Ingest(c.ctx, a, d.ID, rs[:n]); err != nil {
				return fmt.Errorf("demo readings of %s: %w", serial, err)
			}
			rs = rs[n:]
		}
		return nil
	}
}

// parallel runs jobs a few at a time, so that their writes share commits, and
// returns the first error.
func parallel(jobs []func() error) error {
	var mu sync.Mutex
	var first error
	next := make(chan func() error)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for job := range next {
				if err := job(); err != nil {
					mu.Lock()
					first = cmp.Or(first, err)
					mu.Unlock()
				}
			}
		}()
	}
	for _, j := range jobs {
		next <- j
	}
	close(next)
	wg.Wait()
	return first
}

// cool is a well-kept reefer or store: 6–7.5 ℃ with noise.
func (c *coldLoader) cool(base float64) func(time.Time) float64 {
	return func(time.Time) float64 { return base + c.rnd.Float64()*1.2 }
}

func (c *coldLoader) load(example int64, serial string) error {
	ctx := c.ctx
	cold, err := c.login("coldchain")
	if err != nil {
		return err
	}
	// Every shipment and store the operator took part in, through the lots it holds.
	held, err := c.lots(cold)
	if err != nil {
		return err
	}
	events := map[int64]trace.Event{}
	arrival := map[int64]time.Time{} // shipping event → its receipt at the destination
	for _, l := range held {
		evs, err := c.svc.LotEvents(ctx, cold, l.ID, trace.Page{Limit: 100})
		if err != nil {
			return err
		}
		for i, e := range evs { // newest first
			switch e.Spec.Type {
			case trace.Storing:
				events[e.ID] = e
			case trace.Shipping:
				events[e.ID] = e
				for _, r := range evs[:i] {
					if r.Spec.Type == trace.Receiving && r.Spec.Site == e.Spec.Shipping.To {
						arrival[e.ID] = r.Time // the last one seen is the first after the shipping
					}
				}
			}
		}
	}
	if len(events) == 0 {
		return fmt.Errorf("demo cold chain: no shipments; load the demo first")
	}
	starts := make([]trace.Event, 0, len(events))
	for _, e := range events {
		starts = append(starts, e)
	}
	slices.SortFunc(starts, func(a, b trace.Event) int { return cmp.Compare(a.ID, b.ID) })

	// The cold store: one logger for the whole store, every 10 minutes over the season.
	var store int64
	var first, last time.Time
	for _, e := range starts {
		if e.Spec.Type == trace.Storing {
			store = e.Spec.Site
		}
		if first.IsZero() || e.Time.Before(first) {
			first = e.Time
		}
		if e.Time.After(last) {
			last = e.Time
		}
	}
	jobs := []func() error{c.device(cold, "GNLL-CS-01", "Elitech RC-5+", trace.Assignment{Site: store}, first.Add(-time.Hour).Truncate(time.Hour), last.Add(48*time.Hour),
		10*time.Minute, func(t time.Time) float64 {
			// A defrost cycle every six hours nudges the room up by a degree.
			return 5.8 + 0.4*c.rnd.Float64() + math.Max(0, math.Sin(float64(t.Unix()%21600)/21600*2*math.Pi))*0.9
		})}

	for _, e := range starts {
		if e.Spec.Type != trace.Shipping {
			continue
		}
		end, ok := arrival[e.ID]
		if !ok { // still on the road
			end = e.Time.Add(20 * time.Hour)
		}
		if e.Spec.Shipping.Container == "" {
			// From a packhouse to the store: a single-use logger in each load.
			jobs = append(jobs, c.device(cold, fmt.Sprintf("TT4-%06d", e.ID), "TempTale 4 (single-use)", trace.Assignment{Shipment: e.ID}, e.Time, end, 5*time.Minute, c.cool(6)))
			continue
		}
		// From the store to Shanghai or Shenzhen in a reefer container with its own logger.
		temp := c.cool(6.1)
		if slices.ContainsFunc(e.Lots, func(el trace.EventLot) bool { return el.Lot == example }) && c.res.Excursion == 0 {
			// The reefer unit stops during a stop on the G60 near 衢州: the load warms
			// to 13.6 ℃ in two and a half hours, then cools down once restarted.
			c.res.Excursion = e.ID
			stop := e.Time.Add(7 * time.Hour)
			base := temp
			temp = func(t time.Time) float64 {
				switch d := t.Sub(stop); {
				case d >= 0 && d < 150*time.Minute:
					return 6.8 + 6.8*d.Minutes()/150
				case d >= 150*time.Minute && d < 210*time.Minute:
					return 13.6 - 6.6*(d-150*time.Minute).Minutes()/60
				}
				return base(t)
			}
		}
		jobs = append(jobs, c.device(cold, "REEFER-"+e.Spec.Shipping.Container, "Carrier ThinLINE reefer logger", trace.Assignment{Container: e.Spec.Shipping.Container},
			e.Time, end, 10*time.Minute, temp))
	}
	if err := parallel(jobs); err != nil {
		return err
	}

	// Seal every leg that has ended; open legs stay open.
	var sealed atomic.Int64
	jobs = jobs[:0]
	for _, e := range starts {
		jobs = append(jobs, func() error {
			_, err := c.svc.SealLeg(ctx, cold, e.ID)
			if err == nil {
				sealed.Add(1)
			} else if trace.KindOf(err) == trace.KindConflict {
				err = nil
			}
			return err
		})
	}
	if err := parallel(jobs); err != nil {
		return err
	}
	c.res.Sealed = int(sealed.Load())
	return c.orders(cold, example, serial)
}

// orders gives the platform a login and sales channels, and links orders for the
// boxes that reached the front warehouses.
func (c *coldLoader) orders(cold trace.Actor, example int64, serial string) error {
	ctx := c.ctx
	ps, err := c.svc.Parties(ctx, root, trace.Page{Limit: 1000})
	if err != nil {
		return err
	}
	var platform int64
	for _, p := range ps {
		if p.Kind == trace.Platform {
			platform = p.ID
		}
	}
	u := &trace.User{PartyID: platform, Username: "youpin", Name: "赣南优品 订单接口", Roles: []trace.Role{trace.RolePlatform}}
	if err := c.svc.CreateUser(ctx, root, u, Password); err != nil {
		return err
	}
	c.res.Account = Account{u.Username, trace.RolePlatform, "赣南优品"}
	for _, co := range coops {
		a, err := c.login(co.user)
		if err != nil {
			return err
		}
		if _, err := c.svc.GrantChannel(ctx, a, platform); err != nil {
			return err
		}
	}
	shop, err := c.login("youpin")
	if err != nil {
		return err
	}
	sites, err := c.svc.Sites(ctx, cold, trace.Page{Limit: 100})
	if err != nil {
		return err
	}
	dest := map[int64]trace.Site{}
	for _, s := range sites {
		if s.Kind == trace.Warehouse {
			dest[s.ID] = s
		}
	}
	districts := map[string][]string{"310115": {"310115", "310104", "310112"}, "440305": {"440305", "440304", "440306"}}
	channels := []string{"赣南优品小程序", "赣南优品APP", "赣南优品抖音旗舰店"}
	lots, err := c.lots(cold)
	if err != nil {
		return err
	}
	unit := 0
	var jobs []func() error
	for _, l := range lots {
		if l.Unit != trace.Box || l.InTransit != 0 {
			continue
		}
		// The receipt at a front warehouse, if the lot got that far.
		evs, err := c.svc.LotEvents(ctx, cold, l.ID, trace.Page{Limit: 100})
		if err != nil {
			return err
		}
		i := slices.IndexFunc(evs, func(e trace.Event) bool { _, ok := dest[e.Spec.Site]; return e.Spec.Type == trace.Receiving && ok })
		if i < 0 {
			continue
		}
		received, county := evs[i].Time, dest[evs[i].Spec.Site].County
		orders := 1
		if l.ID == example {
			orders = 3
		}
		for k := range orders {
			at := received.Add(time.Duration(2+k*7) * time.Hour)
			d := districts[county][c.rnd.IntN(3)]
			spec := trace.OrderSpec{Number: fmt.Sprintf("GNYP%s%05d", at.Format("20060102"), c.res.Orders+1), Channel: channels[c.rnd.IntN(len(channels))],
				Time: at.Format(time.RFC3339), Destination: trace.Destination{Province: d[:2] + "0000", City: d[:4] + "00", District: d},
				Items: []trace.OrderItem{{Lot: l.ID, Quantity: float64(1 + c.rnd.IntN(3))}}}
			if l.ID == example && serial != "" {
				unit += 2
				spec.Items = []trace.OrderItem{{Certificate: serial, Units: []string{fmt.Sprintf("%06d", unit-1), fmt.Sprintf("%06d", unit)}}}
			}
			jobs = append(jobs, func() error {
				if _, err := c.svc.LinkOrder(ctx, shop, spec); err != nil {
					return fmt.Errorf("demo order for lot %s: %w", l.Code, err)
				}
				return nil
			})
			c.res.Orders++
		}
	}
	return parallel(jobs)
}

// lots returns every lot a party owns or holds, in ID order.
func (c *coldLoader) lots(a trace.Actor) ([]trace.Lot, error) {
	var out []trace.Lot
	for p := (trace.Page{Limit: 1000}); ; {
		page, err := c.svc.Lots(c.ctx, a, p)
		if err != nil {
			return nil, err
		}
		out = append(out, page...)
		if len(page) < p.Limit {
			break
		}
		p.After = page[len(page)-1].ID
	}
	slices.SortFunc(out, func(x, y trace.Lot) int { return cmp.Compare(x.ID, y.ID) })
	return out, nil
}
