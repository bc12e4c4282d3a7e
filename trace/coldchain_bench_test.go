package trace_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/ganpin/ganpin/internal/sqldb"
	"github.com/ganpin/ganpin/internal/store"
	"github.com/ganpin/ganpin/internal/testdb"
	"github.com/ganpin/ganpin/trace"
)

// coldBench is a logistics party with a shipment in transit for 30 days and a
// logger assigned to it.
type coldBench struct {
	svc      *trace.Service
	cold     trace.Actor
	shipment int64
	store    int64 // the cold store the shipment goes to
	lot      int64
	start    time.Time
	devices  []int64
}

func newColdBench(b *testing.B, db sqldb.DB, devices int) *coldBench {
	b.Helper()
	ctx := context.Background()
	st, err := store.New(ctx, db)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(st.Close)
	c := &coldBench{svc: trace.NewService(st, func() time.Time { return now }), start: now.Add(-30 * 24 * time.Hour)}
	admin := trace.Actor{Roles: []trace.Role{trace.RoleAdmin}}
	party := func(kind trace.PartyKind, uscc17 string, role trace.Role) trace.Actor {
		cc, _ := trace.USCCCheck(uscc17)
		p := &trace.Party{Kind: kind, Name: "主体" + uscc17[12:16], USCC: uscc17 + string(cc), County: "360734"}
		if err := c.svc.CreateParty(ctx, admin, p); err != nil {
			b.Fatal(err)
		}
		return trace.Actor{UserID: p.ID, PartyID: p.ID, Roles: []trace.Role{role}}
	}
	coop := party(trace.Cooperative, "93360734MA35XW001", trace.RoleProducerAdmin)
	c.cold = party(trace.Logistics, "91360702MA35LL001", trace.RoleLogistics)
	orchard := &trace.Site{Kind: trace.Orchard, Name: "1号地块", County: "360734", AreaMu: 50, Lat: 24.95, Lon: 115.65}
	store := &trace.Site{Kind: trace.ColdStore, Name: "冷库", County: "360702"}
	fruit := &trace.Product{Name: "赣南脐橙", Unit: trace.Kg, ColdProfile: "navel_orange"}
	for _, err := range []error{c.svc.CreateSite(ctx, coop, orchard), c.svc.CreateSite(ctx, c.cold, store), c.svc.CreateProduct(ctx, coop, fruit)} {
		if err != nil {
			b.Fatal(err)
		}
	}
	evs, err := c.svc.Capture(ctx, coop, []trace.EventSpec{{Type: trace.Harvest, Time: c.start.Add(-time.Hour).Format(time.RFC3339), Site: orchard.ID,
		Harvest: &trace.HarvestSpec{Lot: trace.NewLotSpec{Code: "XW-1", Product: fruit.ID, Quantity: 1000, Unit: trace.Kg}}}})
	if err != nil {
		b.Fatal(err)
	}
	evs, err = c.svc.Capture(ctx, coop, []trace.EventSpec{{Type: trace.Shipping, Time: c.start.Format(time.RFC3339), Site: orchard.ID,
		Shipping: &trace.ShippingSpec{Lots: []int64{evs[0].Lots[0].Lot}, To: store.ID}}})
	if err != nil {
		b.Fatal(err)
	}
	c.shipment, c.store, c.lot = evs[0].ID, store.ID, evs[0].Lots[0].Lot
	for i := range devices {
		d := &trace.Device{Serial: fmt.Sprintf("BENCH-%04d", i)}
		if err := c.svc.RegisterDevice(ctx, c.cold, d); err != nil {
			b.Fatal(err)
		}
		if err := c.svc.Assign(ctx, c.cold, &trace.Assignment{DeviceID: d.ID, Shipment: c.shipment, From: c.start}); err != nil {
			b.Fatal(err)
		}
		c.devices = append(c.devices, d.ID)
	}
	return c
}

// month is 30 days of readings a minute apart from start, with a four-hour warm
// spell on day 12.
func month(start time.Time, offset time.Duration) []trace.Reading {
	rs := readings(start.Add(offset), time.Minute, 30*24*60, func(i int) float64 { return 6 + float64(i%7)/5 })
	for i := 12 * 24 * 60; i < 12*24*60+240; i++ {
		rs[i].Temp = 10.5
	}
	return rs
}

// BenchmarkIngestReadings uploads batches of 10,000 readings of one logger (a day
// of readings every 8.6 s, the size of a logger's CSV export) through the service,
// bulk-copied on PostgreSQL, and reports readings/s.
func BenchmarkIngestReadings(b *testing.B) {
	for _, engine := range []string{"postgres", "sqlite"} {
		b.Run(engine, func(b *testing.B) {
			var db sqldb.DB
			if engine == "postgres" {
				db = testdb.Postgres(b)
			} else {
				db = testdb.SQLite(b)
			}
			c := newColdBench(b, db, 64)
			ctx := context.Background()
			const batch = 10000
			n := 0
			b.ResetTimer()
			for b.Loop() {
				dev := c.devices[n%len(c.devices)]
				// Each batch continues its logger's series: no reading is stored twice.
				rs := readings(c.start.Add(time.Duration(n/len(c.devices)*batch)*time.Second), time.Second, batch, func(i int) float64 { return 6 + float64(i%7)/5 })
				rep, err := c.svc.Ingest(ctx, c.cold, dev, rs)
				if err != nil {
					b.Fatal(err)
				}
				if rep.Stored != batch {
					b.Fatalf("stored %d of %d", rep.Stored, batch)
				}
				n++
			}
			b.ReportMetric(float64(n*batch)/b.Elapsed().Seconds(), "readings/s")
		})
	}
}

// BenchmarkLegVerdict judges a 30-day leg with a reading a minute (43,200
// readings): Judge alone, and the whole service call that reads the readings
// from the database.
func BenchmarkLegVerdict(b *testing.B) {
	p := trace.ProfileNamed("navel_orange")
	rs := month(now.Add(-30*24*time.Hour), 0)
	b.Run("judge", func(b *testing.B) {
		for b.Loop() {
			v := trace.Judge(p, rs[0].Time, now, []trace.Series{{Device: "A", Readings: rs}})
			if v.Status != trace.LegWarning || v.Readings != len(rs) {
				b.Fatalf("verdict %+v", v)
			}
		}
	})
	for _, engine := range []string{"postgres", "sqlite"} {
		b.Run(engine, func(b *testing.B) {
			var db sqldb.DB
			if engine == "postgres" {
				db = testdb.Postgres(b)
			} else {
				db = testdb.SQLite(b)
			}
			c := newColdBench(b, db, 1)
			ctx := context.Background()
			for i := 0; i < len(rs); i += trace.MaxReadings / 2 {
				if _, err := c.svc.Ingest(ctx, c.cold, c.devices[0], rs[i:min(len(rs), i+trace.MaxReadings/2)]); err != nil {
					b.Fatal(err)
				}
			}
			if engine == "postgres" {
				db.Exec(ctx, "VACUUM ANALYZE readings") // as autovacuum leaves a table that stopped changing
			}
			judge := func(b *testing.B) {
				for b.Loop() {
					l, err := c.svc.Leg(ctx, c.cold, c.shipment)
					if err != nil {
						b.Fatal(err)
					}
					if l.Verdict.Readings != len(rs) || l.Verdict.Status != trace.LegWarning {
						b.Fatalf("verdict %+v", l.Verdict)
					}
				}
			}
			b.Run("open", judge)
			// Received: the leg closes; once sealed, its summary stands while its readings are unchanged.
			if _, err := c.svc.Capture(ctx, c.cold, []trace.EventSpec{{Type: trace.Receiving, Time: now.Format(time.RFC3339), Site: c.store,
				Receiving: &trace.ReceivingSpec{Lots: []int64{c.lot}}}}); err != nil {
				b.Fatal(err)
			}
			if _, err := c.svc.SealLeg(ctx, c.cold, c.shipment); err != nil {
				b.Fatal(err)
			}
			b.Run("sealed", judge)
		})
	}
}
