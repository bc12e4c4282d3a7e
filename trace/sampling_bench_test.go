package trace_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/ganpin/ganpin/internal/export"
	"github.com/ganpin/ganpin/internal/sqldb"
	"github.com/ganpin/ganpin/internal/store"
	"github.com/ganpin/ganpin/internal/testdb"
	"github.com/ganpin/ganpin/trace"
)

// samplingRecords is the size of the database BenchmarkSamplingSearch runs against.
const samplingRecords = 1_000_000

var benchCounties = []string{"360702", "360703", "360704", "360722", "360723", "360724", "360725", "360726", "360728", "360729",
	"360730", "360731", "360732", "360733", "360734", "360735", "360781", "360783"}

var benchItems = []string{"克百威", "水胺硫磷", "联苯菊酯", "丙溴磷", "苯醚甲环唑", "咪鲜胺", "抑霉唑", "2,4-滴"}

// generateSamplings bulk-loads n sampling records over five years in the counties of
// 赣州, 3% of them 不合格 and 5% unreported, with six items each. The rows are copied
// in directly (no log leaves), which is what a search reads.
func generateSamplings(b *testing.B, db sqldb.DB, n int) {
	ctx := context.Background()
	rnd := rand.New(rand.NewPCG(7, 7))
	start := time.Date(2022, 1, 1, 9, 0, 0, 0, time.FixedZone("CST", 8*3600))
	var rows, items [][]any
	flush := func() {
		if len(rows) == 0 {
			return
		}
		err := db.Tx(ctx, func(c sqldb.Conn) error {
			if err := c.CopyFrom(ctx, "samplings", []string{"id", "number", "party_id", "county", "sampled_at", "sampled_party", "sampled_id", "producer", "producer_id",
				"product", "lot_id", "report_due", "created", "body", "verdict", "reported"}, rows); err != nil {
				return err
			}
			return c.CopyFrom(ctx, "sampling_items", []string{"item", "sampling_id", "report_id", "verdict"}, items)
		})
		if err != nil {
			b.Fatal(err)
		}
		rows, items = rows[:0], items[:0]
	}
	products := []string{"赣南脐橙", "赣南脐橙 5kg装", "赣南脐橙 10斤礼盒", "脐橙", "柑橘"}
	for i := 1; i <= n; i++ {
		county := benchCounties[rnd.IntN(len(benchCounties))]
		t := start.Add(time.Duration(rnd.Int64N(int64(5 * 365 * 24 * time.Hour))))
		s := &trace.Sampling{ID: int64(i), PartyID: 1, UserID: 1, Time: t, Recorded: t, ReportDue: trace.AddWorkingDays(t, 20),
			Spec: trace.SamplingSpec{Number: fmt.Sprintf("NCP%s%08d", county, i), TaskSource: "抽检计划", TaskType: trace.TaskSupervision, Stage: trace.StageCirculation,
				Place: trace.Place{Name: "农产品批发市场", County: county}, Time: t.Format(time.RFC3339), Agency: "赣州市市场监督管理局",
				Samplers: []string{"王抽检", "刘抽检"}, Sampled: trace.Entity{Name: fmt.Sprintf("鲜果批发部%d", rnd.IntN(5000))},
				Producer: trace.Entity{Party: int64(1 + rnd.IntN(3000)), Name: fmt.Sprintf("脐橙专业合作社%d", rnd.IntN(3000))},
				Sample:   trace.Sample{Name: products[rnd.IntN(len(products))], Unit: trace.Kg, Quantity: 3, Backup: 3}}}
		s.Seal()
		var verdict, reported any
		switch r := rnd.IntN(100); {
		case r < 5:
		case r < 8:
			verdict, reported = "不合格", micros(t.AddDate(0, 0, 15))
		default:
			verdict, reported = "合格", micros(t.AddDate(0, 0, 15))
		}
		rows = append(rows, []any{s.ID, s.Spec.Number, int64(1), county, micros(t), s.Spec.Sampled.Name, nil, s.Spec.Producer.Name, s.Spec.Producer.Party,
			s.Spec.Sample.Name, nil, micros(s.ReportDue), micros(t), s.Canonical, verdict, reported})
		if verdict != nil {
			for k, it := range rnd.Perm(len(benchItems))[:6] {
				v := "合格"
				if verdict == "不合格" && k == 0 {
					v = "不合格"
				}
				items = append(items, []any{benchItems[it], s.ID, s.ID, v})
			}
		}
		if len(rows) == 10000 {
			flush()
		}
	}
	flush()
}

func micros(t time.Time) int64 { return t.UnixMicro() }

// benchInspector returns an inspector of the 赣州 bureau (party 1 of a bench database).
func benchInspection(b *testing.B, db sqldb.DB) (*store.Store, *trace.Service, *trace.Inspection, trace.Actor) {
	ctx := context.Background()
	st, err := store.New(ctx, db)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(st.Close)
	svc := trace.NewService(st, nil)
	admin := trace.Actor{Roles: []trace.Role{trace.RoleAdmin}}
	ps, err := svc.Parties(ctx, admin, trace.Page{Limit: 1})
	if err != nil {
		b.Fatal(err)
	}
	if len(ps) == 0 {
		c, _ := trace.USCCCheck("11360700MB1530JJ1")
		p := &trace.Party{Kind: trace.Regulator, Name: "赣州市市场监督管理局", USCC: "11360700MB1530JJ1" + string(c), County: "360702"}
		if err := svc.CreateParty(ctx, admin, p); err != nil {
			b.Fatal(err)
		}
		ps = []trace.Party{*p}
	}
	in, err := trace.NewInspection(trace.InspectionConfig{Service: svc, Revoke: func(context.Context, trace.Actor, string, string) error { return nil }})
	if err != nil {
		b.Fatal(err)
	}
	return st, svc, in, trace.Actor{UserID: 1, PartyID: ps[len(ps)-1].ID, Roles: []trace.Role{trace.RoleInspector}}
}

func percentiles(b *testing.B, lat []time.Duration) {
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}

// BenchmarkSamplingSearch runs an inspector's filtered searches (a page of 50, each
// audit-logged) over a million sampling records and reports latency percentiles per
// filter. The database is generated once and kept.
func BenchmarkSamplingSearch(b *testing.B) {
	for _, engine := range []string{"sqlite", "postgres"} {
		b.Run(engine, func(b *testing.B) {
			db, fresh := testdb.Persistent(b, engine, "sampling_1m")
			ctx := context.Background()
			if fresh {
				t0 := time.Now()
				generateSamplings(b, db, samplingRecords)
				for _, t := range []string{"samplings", "sampling_items"} {
					if engine == "postgres" {
						db.Exec(ctx, "VACUUM ANALYZE "+t) // sets hint bits and the visibility map the copy left unset
					} else {
						db.Exec(ctx, "ANALYZE "+t)
					}
				}
				b.Logf("generated %d sampling records in %s", samplingRecords, time.Since(t0).Round(time.Second))
			}
			_, _, in, a := benchInspection(b, db)
			var n int
			db.QueryRow(ctx, `SELECT COUNT(*) FROM samplings`).Scan(&n)
			if n < samplingRecords {
				b.Fatalf("benchmark database has %d records; delete it (%s) to regenerate", n, engine)
			}
			day := func(y int, m time.Month, d int) time.Time {
				return time.Date(y, m, d, 0, 0, 0, 0, time.FixedZone("CST", 8*3600))
			}
			filters := map[string]trace.SamplingFilter{
				"county":             {County: "360734"},
				"county+failed+year": {County: "360734", Verdict: "不合格", From: day(2025, 1, 1), To: day(2026, 1, 1)},
				"item+failed":        {Item: "丙溴磷", Verdict: "不合格"},
				"product+month":      {Product: "礼盒", From: day(2024, 11, 1), To: day(2024, 12, 1)},
				"party-name+county":  {Party: "合作社17", County: "360726"},
				"pending+city":       {Verdict: "pending", County: "360700"},
				"producer-id":        {PartyID: 1234},
			}
			names := slices.Sorted(func(yield func(string) bool) {
				for k := range filters {
					if !yield(k) {
						return
					}
				}
			})
			for _, name := range names {
				f := filters[name]
				b.Run(name, func(b *testing.B) {
					if _, err := in.Search(ctx, a, f, trace.Page{Limit: 50}); err != nil { // warm the cache
						b.Fatal(err)
					}
					var lat []time.Duration
					rows := 0
					for b.Loop() {
						t0 := time.Now()
						ss, err := in.Search(ctx, a, f, trace.Page{Limit: 50})
						lat = append(lat, time.Since(t0))
						if err != nil {
							b.Fatal(err)
						}
						rows += len(ss)
					}
					percentiles(b, lat)
					b.ReportMetric(float64(rows)/float64(len(lat)), "rows/page")
				})
			}
		})
	}
}

// BenchmarkSamplingExportXLSX exports 100,000 sampling records from the million-record
// database as XLSX, reading, formatting and writing included.
func BenchmarkSamplingExportXLSX(b *testing.B) {
	engine := os.Getenv("GANPIN_BENCH_ENGINE")
	if engine == "" {
		engine = "sqlite"
	}
	db, fresh := testdb.Persistent(b, engine, "sampling_1m")
	if fresh {
		b.Skip("run BenchmarkSamplingSearch first to generate the database")
	}
	_, _, in, a := benchInspection(b, db)
	ctx := context.Background()
	// Counties 360702–360704 hold about a sixth of the records: take the first 100,000.
	for b.Loop() {
		var buf bytes.Buffer
		w, err := export.New(export.XLSX, &buf, "抽样记录", export.SamplingHeader)
		if err != nil {
			b.Fatal(err)
		}
		n, err := export.Samplings(ctx, in, a, trace.SamplingFilter{County: "360700"}, export.XLSX, &limitWriter{Writer: w, left: 100_000}, nil)
		if err != errEnough || n != 100_001 {
			b.Fatalf("exported %d rows: %v", n, err)
		}
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(buf.Len())/1e6, "MB")
	}
}

var errEnough = fmt.Errorf("enough rows")

// limitWriter stops an export after left rows.
type limitWriter struct {
	export.Writer
	left int
}

func (l *limitWriter) Row(cells ...any) error {
	if l.left == 0 {
		return errEnough
	}
	l.left--
	return l.Writer.Row(cells...)
}

func (l *limitWriter) Close() error { return nil }

// recallEvents is the size of the database BenchmarkOrchardRecall runs against; set
// GANPIN_BENCH_RECALL_EVENTS to generate a smaller one on a slow machine.
func recallEvents() int {
	if n, err := strconv.Atoi(os.Getenv("GANPIN_BENCH_RECALL_EVENTS")); err == nil && n > 0 {
		return n
	}
	return 10_000_000
}

// BenchmarkOrchardRecall builds the recall list of one orchard's season — its
// harvests, every lot made from them, their certificates and orders — in a database
// of chains (harvest → packing into two box lots → shipping → receiving → storing)
// from 2,000 orchards over five seasons (each orchard harvested in one of them,
// a few hundred times), a tenth of the box lots certified and sold.
func BenchmarkOrchardRecall(b *testing.B) {
	engine := os.Getenv("GANPIN_BENCH_ENGINE")
	if engine == "" {
		engine = "sqlite"
	}
	size := recallEvents()
	db, fresh := testdb.Persistent(b, engine, fmt.Sprintf("recall_%d", size))
	ctx := context.Background()
	if fresh {
		t0 := time.Now()
		n := generateRecall(b, db, size)
		for _, t := range []string{"events", "lots", "event_lots", "lot_edges", "certificates", "orders", "order_items"} {
			db.Exec(ctx, "ANALYZE "+t)
		}
		b.Logf("generated %d events in %s", n, time.Since(t0).Round(time.Second))
	}
	var events int
	db.QueryRow(ctx, `SELECT COUNT(*) FROM events`).Scan(&events)
	if events < size {
		b.Fatalf("benchmark database has %d events; delete it to regenerate", events)
	}
	_, _, in, _ := benchInspection(b, db)
	admin := trace.Actor{Roles: []trace.Role{trace.RoleAdmin}}
	var orchards []int64
	// The cooperative's orchards, in generateRecall's order (the world's other party has one too).
	rs, _ := db.Query(ctx, `SELECT id FROM sites WHERE kind = 'orchard' AND party_id = (SELECT party_id FROM sites WHERE id = 1) ORDER BY id`)
	for rs.Next() {
		var id int64
		rs.Scan(&id)
		orchards = append(orchards, id)
	}
	rs.Close()
	rnd := rand.New(rand.NewPCG(3, 4))
	var lat []time.Duration
	lots, orders := 0, 0
	for b.Loop() {
		// generateRecall harvests orchard j in season j/400, and certifies and sells
		// the box lots of every fifth orchard: recall those orchards' seasons.
		j := 5 * rnd.IntN(len(orchards)/5)
		o, season := orchards[j], recallSeason(j/400)
		t0 := time.Now()
		rl, err := in.OrchardRecall(ctx, admin, o, season, season.AddDate(0, 4, 0))
		lat = append(lat, time.Since(t0))
		if err != nil {
			b.Fatal(err)
		}
		lots += len(rl.Lots)
		orders += len(rl.Orders)
	}
	percentiles(b, lat)
	b.ReportMetric(float64(lots)/float64(len(lat)), "lots/recall")
	b.ReportMetric(float64(orders)/float64(len(lat)), "orders/recall")
	b.ReportMetric(float64(events), "events-in-db")
}

func recallSeason(k int) time.Time {
	return time.Date(2021+k, 10, 15, 0, 0, 0, 0, time.FixedZone("CST", 8*3600))
}

// generateRecall captures about n events through the service, then certifies and
// sells a tenth of the box lots by copying certificate and order rows in directly.
func generateRecall(b *testing.B, db sqldb.DB, n int) int {
	ctx := context.Background()
	w := newWorld(&testing.T{}, db)
	must := func(evs []*trace.Event, err error) []*trace.Event {
		if err != nil {
			b.Fatal(err)
		}
		return evs
	}
	orchards := []int64{w.orchard.ID}
	for i := 1; i < 2000; i++ {
		s := &trace.Site{Kind: trace.Orchard, Name: fmt.Sprintf("果园%d", i), County: benchCounties[i%len(benchCounties)], AreaMu: 30, Lat: 24.9, Lon: 115.6}
		if err := w.svc.CreateSite(ctx, w.coop, s); err != nil {
			b.Fatal(err)
		}
		orchards = append(orchards, s.ID)
	}
	const chains = 400
	count := 0
	var certRows, orderRows, itemRows [][]any
	certID, orderID := int64(0), int64(0)
	for round := 0; count < n; round++ {
		season := recallSeason(round % 5)
		at := season.Add(time.Duration(round/5%2000) * 80 * time.Minute) // within four months
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
			specs = append(specs, trace.EventSpec{Type: trace.Shipping, Time: ts(2 * time.Hour), Site: w.packhouse.ID, Shipping: &trace.ShippingSpec{Lots: out, To: w.coldStore.ID}})
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
		for i, lot := range boxes {
			if i%10 != 0 {
				continue
			}
			certID++
			certRows = append(certRows, []any{certID, fmt.Sprintf("GPB%010d", certID), w.coop.PartyID, lot, micros(at), []byte(`{"units":0}`), []byte{0}})
			orderID++
			o := &trace.Order{ID: orderID, PartyID: w.coop.PartyID, Time: at, Recorded: at, Spec: trace.OrderSpec{Number: fmt.Sprintf("B-%d", orderID), Channel: "bench",
				Time: at.Format(time.RFC3339), Destination: trace.Destination{Province: "310000", City: "310100"}, Items: []trace.OrderItem{{Lot: lot, Quantity: 2}}}}
			o.Seal()
			orderRows = append(orderRows, []any{o.ID, o.PartyID, o.Spec.Number, micros(at), micros(at), o.Canonical})
			itemRows = append(itemRows, []any{o.ID, int64(0), lot, nil, nil, 2.0})
		}
		if len(certRows) >= 20000 || count >= n {
			err := db.Tx(ctx, func(c sqldb.Conn) error {
				if err := c.CopyFrom(ctx, "certificates", []string{"id", "serial", "party_id", "lot_id", "issued", "body", "signature"}, certRows); err != nil {
					return err
				}
				if err := c.CopyFrom(ctx, "orders", []string{"id", "platform_id", "number", "order_time", "created", "body"}, orderRows); err != nil {
					return err
				}
				return c.CopyFrom(ctx, "order_items", []string{"order_id", "idx", "lot_id", "serial", "unit", "quantity"}, itemRows)
			})
			if err != nil {
				b.Fatal(err)
			}
			certRows, orderRows, itemRows = certRows[:0], orderRows[:0], itemRows[:0]
		}
	}
	return count
}
