package trace_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/ganpin/ganpin/internal/store"
	"github.com/ganpin/ganpin/internal/testdb"
	"github.com/ganpin/ganpin/trace"
)

// traceEvents is the size of the database BenchmarkTrace runs against.
const traceEvents = 1_000_000

// BenchmarkTrace traces random lots backward and forward in a database of a million
// events of orchard-to-cold-store chains, and reports latency percentiles. The
// database is generated once (a minute or two) and kept for later runs.
func BenchmarkTrace(b *testing.B) {
	for _, engine := range []string{"sqlite", "postgres"} {
		b.Run(engine, func(b *testing.B) {
			db, fresh := testdb.Persistent(b, engine, "trace_1m")
			ctx := context.Background()
			if fresh {
				w := newWorld(&testing.T{}, db)
				start := time.Now()
				n := generateChains(b, w, traceEvents)
				for _, t := range []string{"events", "lots", "event_lots", "lot_edges"} {
					db.Exec(ctx, "ANALYZE "+t)
				}
				b.Logf("generated %d events in %s", n, time.Since(start).Round(time.Second))
			}
			st, err := store.New(ctx, db)
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			var events int
			db.QueryRow(ctx, `SELECT COUNT(*) FROM events`).Scan(&events)
			if events < traceEvents {
				b.Fatalf("benchmark database has %d events; delete it (%s) to regenerate", events, engine)
			}
			var maxLot int64
			db.QueryRow(ctx, `SELECT MAX(id) FROM lots`).Scan(&maxLot)
			svc := trace.NewService(st, nil)
			admin := trace.Actor{Roles: []trace.Role{trace.RoleAdmin}}
			rnd := rand.New(rand.NewPCG(1, 2))
			lat := make([]time.Duration, 0, b.N)
			nodes := 0
			b.ResetTimer()
			for b.Loop() {
				id := 1 + rnd.Int64N(maxLot)
				t0 := time.Now()
				g, err := svc.Trace(ctx, admin, id, trace.Both)
				lat = append(lat, time.Since(t0))
				if err != nil {
					b.Fatal(err)
				}
				nodes += len(g.Lots) + len(g.Events)
			}
			b.StopTimer()
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
			b.ReportMetric(float64(nodes)/float64(len(lat)), "nodes/trace")
			b.ReportMetric(float64(events), "events-in-db")
		})
	}
}

// generateChains captures chains of harvest → packing into two box lots → shipping to
// the cold store → receiving → storing, after a season of input applications on 200
// orchards, until about n events exist. It returns the number captured.
func generateChains(b *testing.B, w *world, n int) int {
	ctx := context.Background()
	must := func(evs []*trace.Event, err error) []*trace.Event {
		if err != nil {
			b.Fatal(err)
		}
		return evs
	}
	orchards := []int64{w.orchard.ID}
	for i := 1; i < 200; i++ {
		s := &trace.Site{Kind: trace.Orchard, Name: fmt.Sprintf("果园%d", i), County: "360734", AreaMu: 30, Lat: 24.9, Lon: 115.6}
		if err := w.svc.CreateSite(ctx, w.coop, s); err != nil {
			b.Fatal(err)
		}
		orchards = append(orchards, s.ID)
	}
	season := now.AddDate(-1, 0, 0)
	count := 0
	var apps []trace.EventSpec
	for _, o := range orchards {
		for k := range 20 {
			a := application(o, 0, 14)
			a.Time = season.AddDate(0, 0, -200+k*7).Format(time.RFC3339)
			apps = append(apps, a)
		}
	}
	count += len(must(w.svc.Capture(ctx, w.coop, apps)))
	const chains = 200
	for round := 0; count < n; round++ {
		at := season.Add(time.Duration(round) * time.Minute)
		ts := func(d time.Duration) string { return at.Add(d).Format(time.RFC3339) }
		var specs []trace.EventSpec
		for i := range chains {
			specs = append(specs, trace.EventSpec{Type: trace.Harvest, Time: ts(0), Site: orchards[(round*chains+i)%len(orchards)],
				Harvest: &trace.HarvestSpec{Lot: trace.NewLotSpec{Code: fmt.Sprintf("H%d-%d", round, i), Product: w.fruit.ID, Quantity: 1000, Unit: trace.Kg}}})
		}
		hs := must(w.svc.Capture(ctx, w.coop, specs))
		specs = specs[:0]
		for i, h := range hs {
			specs = append(specs, trace.EventSpec{Type: trace.Transformation, Time: ts(time.Hour), Site: w.packhouse.ID,
				Transformation: &trace.TransformationSpec{Inputs: []trace.LotQuantity{{Lot: h.Lots[0].Lot, Quantity: 1000}},
					Outputs: []trace.NewLotSpec{{Code: fmt.Sprintf("H%d-%d-A", round, i), Product: w.box.ID, Quantity: 100, Unit: trace.Box},
						{Code: fmt.Sprintf("H%d-%d-B", round, i), Product: w.box.ID, Quantity: 90, Unit: trace.Box}}}})
		}
		ps := must(w.svc.Capture(ctx, w.coop, specs))
		specs = specs[:0]
		var boxes []int64
		for _, p := range ps {
			out := []int64{p.Lots[1].Lot, p.Lots[2].Lot}
			boxes = append(boxes, out...)
			specs = append(specs, trace.EventSpec{Type: trace.Shipping, Time: ts(2 * time.Hour), Site: w.packhouse.ID,
				Shipping: &trace.ShippingSpec{Lots: out, To: w.coldStore.ID}})
		}
		must(w.svc.Capture(ctx, w.coop, specs))
		specs = specs[:0]
		for i := 0; i < len(boxes); i += 2 {
			specs = append(specs,
				trace.EventSpec{Type: trace.Receiving, Time: ts(5 * time.Hour), Site: w.coldStore.ID, Receiving: &trace.ReceivingSpec{Lots: boxes[i : i+2]}},
				trace.EventSpec{Type: trace.Storing, Time: ts(6 * time.Hour), Site: w.coldStore.ID, Storing: &trace.StoringSpec{Lots: boxes[i : i+2]}})
		}
		must(w.svc.Capture(ctx, w.cold, specs))
		count += chains * 5
	}
	return count
}
