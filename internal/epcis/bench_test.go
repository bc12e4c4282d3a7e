package epcis_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/ganpin/ganpin/internal/epcis"
	"github.com/ganpin/ganpin/internal/testdb"
	"github.com/ganpin/ganpin/trace"
)

// chainDocument returns an EPCIS document of n chains of a cooperative's events:
// harvest, self test, packing into boxes and storing, four events a chain.
func chainDocument(t testing.TB, w *world, m *epcis.Mapper, prefix string, n int) []byte {
	t.Helper()
	loc := func(s *trace.Site) map[string]any { return map[string]any{"id": m.SiteURI(s)} }
	when := time.Now().In(cst).Add(-48 * time.Hour).Truncate(time.Second)
	var evs []any
	for i := range n {
		raw, box := m.LotURI(fmt.Sprintf("%s-%d", prefix, i), w.fruit), m.LotURI(fmt.Sprintf("%s-%d-B", prefix, i), w.box)
		t0 := when.Add(time.Duration(i) * time.Second)
		ts := func(d time.Duration) string { return t0.Add(d).Format(time.RFC3339) }
		evs = append(evs,
			map[string]any{"type": "ObjectEvent", "action": "ADD", "bizStep": "commissioning", "disposition": "active", "eventTime": ts(0),
				"eventTimeZoneOffset": "+08:00", "readPoint": loc(w.orchard), "bizLocation": loc(w.orchard),
				"quantityList": []any{map[string]any{"epcClass": raw, "quantity": 500, "uom": "KGM"}}},
			map[string]any{"type": "ObjectEvent", "action": "OBSERVE", "bizStep": "inspecting", "disposition": "conformant", "eventTime": ts(time.Hour),
				"eventTimeZoneOffset": "+08:00", "readPoint": loc(w.packhouse), "bizLocation": loc(w.packhouse),
				"quantityList": []any{map[string]any{"epcClass": raw}}, "ganpin:method": "速测卡", "ganpin:items": []any{"有机磷类"}},
			map[string]any{"type": "TransformationEvent", "bizStep": "packing", "disposition": "active", "eventTime": ts(2 * time.Hour),
				"eventTimeZoneOffset": "+08:00", "readPoint": loc(w.packhouse), "bizLocation": loc(w.packhouse),
				"inputQuantityList":  []any{map[string]any{"epcClass": raw, "quantity": 500, "uom": "KGM"}},
				"outputQuantityList": []any{map[string]any{"epcClass": box, "quantity": 99}}},
			map[string]any{"type": "ObjectEvent", "action": "OBSERVE", "bizStep": "storing", "disposition": "in_progress", "eventTime": ts(3 * time.Hour),
				"eventTimeZoneOffset": "+08:00", "readPoint": loc(w.warehouse), "bizLocation": loc(w.warehouse),
				"quantityList": []any{map[string]any{"epcClass": box}}, "ganpin:room": "A1"})
	}
	return document(t, evs)
}

// BenchmarkCapture10k captures documents of 10,000 events (2,500 chains of
// harvest, self test, packing and storing) into PostgreSQL, one job at a time:
// parsing, checks, the write with its log leaves, and the job's records.
func BenchmarkCapture10k(b *testing.B) {
	for _, engine := range []string{"postgres", "sqlite"} {
		b.Run(engine, func(b *testing.B) {
			db := testdb.SQLite(b)
			if engine == "postgres" {
				db = testdb.Postgres(b)
			}
			in := newInstance(b, db)
			w := newWorld(b, in)
			ctx := context.Background()
			var elapsed time.Duration
			for i := 0; b.Loop(); i++ {
				b.StopTimer()
				doc := chainDocument(b, w, in.epcis.Mapper(), "B"+strconv.Itoa(i), 2500)
				b.StartTimer()
				start := time.Now()
				j, err := in.epcis.Submit(ctx, w.coop, doc)
				if err != nil {
					b.Fatal(err)
				}
				if err := in.epcis.RunPending(ctx); err != nil {
					b.Fatal(err)
				}
				elapsed += time.Since(start)
				b.StopTimer()
				if j, err = in.epcis.Job(ctx, w.coop, j.ID); err != nil || !j.Success || len(j.Events) != 10000 {
					b.Fatalf("job: %+v, %v", j, err)
				}
				b.StartTimer()
			}
			b.ReportMetric(float64(10000*b.N)/elapsed.Seconds(), "events/s")
		})
	}
}

// queryEvents is the size of the database BenchmarkQueryLot runs against:
// GANPIN_BENCH_EPCIS_EVENTS, 10,000,000 by default.
func queryEvents() int {
	if n, err := strconv.Atoi(os.Getenv("GANPIN_BENCH_EPCIS_EVENTS")); err == nil && n > 0 {
		return n
	}
	return 10_000_000
}

// BenchmarkQueryLot queries one lot's events (MATCH_anyEPCClass, as the owning
// cooperative) in a PostgreSQL database of queryEvents() events: 8,000 of real
// chains, the rest added in bulk with SQL, each naming a lot of its own, so that
// the indexes are of full size. The database is kept (schema bench_epcis_<n>).
func BenchmarkQueryLot(b *testing.B) {
	n := queryEvents()
	db, fresh := testdb.Persistent(b, "postgres", "epcis_"+strconv.Itoa(n))
	in := newInstance(b, db)
	ctx := context.Background()
	if fresh {
		w := newWorld(b, in)
		start := time.Now()
		for i := range 4 {
			if j := in.capture(b, w.coop, chainDocument(b, w, in.epcis.Mapper(), "Q"+strconv.Itoa(i), 500)); !j.Success {
				b.Fatalf("generating: %+v", j.Errors)
			}
		}
		var max int64
		if err := db.QueryRow(ctx, `SELECT MAX(id) FROM events`).Scan(&max); err != nil {
			b.Fatal(err)
		}
		for from := max + 1; from <= int64(n); from += 1_000_000 {
			to := min(from+999_999, int64(n))
			if _, err := db.Exec(ctx, `INSERT INTO events (id, party_id, type, site_id, event_time, body, sha256)
				SELECT g, 2, 'storing', 4, 1780000000000000 + g, '\x7b7d'::bytea, '\x00'::bytea FROM generate_series($1::bigint, $2::bigint) g`, from, to); err != nil {
				b.Fatal(err)
			}
			if _, err := db.Exec(ctx, `INSERT INTO event_lots (lot_id, event_id, role)
				SELECT 100000000 + g / 4, g, 'object' FROM generate_series($1::bigint, $2::bigint) g`, from, to); err != nil {
				b.Fatal(err)
			}
			b.Logf("%d events", to)
		}
		if _, err := db.Exec(ctx, `SELECT setval(pg_get_serial_sequence('events', 'id'), $1)`, n); err != nil {
			b.Fatal(err)
		}
		for _, t := range []string{"events", "event_lots", "lots", "epcis_events"} {
			db.Exec(ctx, "ANALYZE "+t)
		}
		b.Logf("generated %d events in %s", n, time.Since(start).Round(time.Second))
	}
	var coop int64
	if err := db.QueryRow(ctx, `SELECT MIN(id) FROM parties`).Scan(&coop); err != nil {
		b.Fatal(err)
	}
	var box trace.Product
	if err := db.QueryRow(ctx, `SELECT id, gtin FROM products WHERE gtin IS NOT NULL`).Scan(&box.ID, &box.GTIN); err != nil {
		b.Fatal(err)
	}
	codes, err := columnOf(ctx, in, `SELECT code FROM lots WHERE product_id = $1`, box.ID)
	if err != nil || len(codes) == 0 {
		b.Fatalf("lots: %v", err)
	}
	rnd := rand.New(rand.NewPCG(8, 8))
	var lat []time.Duration
	for b.Loop() {
		q := url.Values{"MATCH_anyEPCClass": {in.epcis.Mapper().LotURI(codes[rnd.IntN(len(codes))], &box)}}
		start := time.Now()
		page, err := in.epcis.Query(ctx, producer(coop), q)
		lat = append(lat, time.Since(start))
		if err != nil || len(eventsOf(page.Document)) != 2 {
			b.Fatalf("query: %v", err)
		}
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}

func columnOf(ctx context.Context, in *instance, q string, args ...any) ([]string, error) {
	rs, err := in.db.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	var out []string
	for rs.Next() {
		var s string
		if err := rs.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rs.Err()
}
