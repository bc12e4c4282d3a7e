package trace_test

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/ganpin/ganpin/internal/sqldb"
	"github.com/ganpin/ganpin/internal/testdb"
	"github.com/ganpin/ganpin/trace"
)

// boxLot harvests and packs a lot of boxes for the world's cooperative.
func (w *world) boxLot(t *testing.T, code string) int64 {
	t.Helper()
	h := w.mustCapture(t, w.coop, harvest(w.orchard.ID, -6, code, w.fruit.ID, 1000))[0]
	p := w.mustCapture(t, w.coop, trace.EventSpec{Type: trace.Transformation, Time: at(-6), Site: w.packhouse.ID,
		Transformation: &trace.TransformationSpec{Inputs: []trace.LotQuantity{{Lot: h.Lots[0].Lot, Quantity: 1000}},
			Outputs: []trace.NewLotSpec{{Code: code + "-B", Product: w.box.ID, Quantity: 190, Unit: trace.Box}}}})[0]
	return p.Lots[1].Lot
}

func (w *world) device(t *testing.T, a trace.Actor, serial string) *trace.Device {
	t.Helper()
	d := &trace.Device{Serial: serial, Model: "TT18"}
	if err := w.svc.RegisterDevice(context.Background(), a, d); err != nil {
		t.Fatal(err)
	}
	return d
}

func ago(h float64) time.Time { return now.Add(-time.Duration(h * float64(time.Hour))) }

// readings returns n readings a step apart from start at temp(i) ℃ and 90 %RH.
func readings(start time.Time, step time.Duration, n int, temp func(int) float64) []trace.Reading {
	rs := make([]trace.Reading, n)
	for i := range rs {
		rs[i] = trace.Reading{Time: start.Add(time.Duration(i) * step), Temp: temp(i), Humidity: 90}
	}
	return rs
}

func TestTransportLegVerdictAndSummary(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db sqldb.DB) {
		w := newWorld(t, db)
		ctx := context.Background()
		boxes := w.boxLot(t, "XW-101")
		logger := w.device(t, w.cold, "TT18-0001")
		stranger := w.device(t, w.other, "TT18-0666")

		_, err := w.svc.Ingest(ctx, w.cold, 999, readings(ago(2), time.Minute, 3, flat(6)))
		wantErr(t, err, trace.KindNotFound, "unknown_device", "device")
		_, err = w.svc.Ingest(ctx, w.cold, stranger.ID, readings(ago(2), time.Minute, 3, flat(6)))
		wantErr(t, err, trace.KindForbidden, "forbidden", "device")
		if err := w.svc.RegisterDevice(ctx, w.other, &trace.Device{Serial: "TT18-0001"}); trace.KindOf(err) != trace.KindConflict {
			t.Fatalf("a serial registered twice: %v", err)
		}
		if _, err := w.svc.Device(ctx, w.other, logger.ID); trace.KindOf(err) != trace.KindNotFound {
			t.Fatalf("another party reads the logger: %v", err)
		}

		// Shipped 12 h ago from the packhouse to the cold store; the carrier's logger goes with it.
		ship := w.mustCapture(t, w.coop, trace.EventSpec{Type: trace.Shipping, Time: ago(12).Format(time.RFC3339), Site: w.packhouse.ID,
			Shipping: &trace.ShippingSpec{Lots: []int64{boxes}, To: w.coldStore.ID, Carrier: "赣州冷链", Vehicle: "赣B12345"}})[0]
		err = w.svc.Assign(ctx, w.other, &trace.Assignment{DeviceID: stranger.ID, Shipment: ship.ID, From: ago(12)})
		wantErr(t, err, trace.KindForbidden, "forbidden", "shipment")
		// The receiver may place its logger with a shipment coming to it.
		if err := w.svc.Assign(ctx, w.cold, &trace.Assignment{DeviceID: logger.ID, Shipment: ship.ID, From: ago(12)}); err != nil {
			t.Fatal(err)
		}
		leg, err := w.svc.Leg(ctx, w.cold, ship.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !leg.Leg.Open || leg.Leg.Kind != trace.TransportLeg || leg.Verdict.Status != trace.LegNoData {
			t.Fatalf("leg before readings = %+v %+v", leg.Leg, leg.Verdict)
		}

		// Readings every 10 minutes, sent out of order, some twice, one misread.
		rs := readings(ago(12), 10*time.Minute, 72, func(i int) float64 { return 6 + float64(i%3)/2 })
		rs[40].Temp = 99
		batch := append(reverse(append([]trace.Reading(nil), rs[:50]...)), rs[10:20]...)
		rep, err := w.svc.Ingest(ctx, w.cold, logger.ID, batch)
		if err != nil {
			t.Fatal(err)
		}
		if *rep != (trace.IngestReport{Received: 60, Stored: 50, Duplicates: 10, Flagged: 1}) {
			t.Fatalf("report = %+v", rep)
		}
		rep, err = w.svc.Ingest(ctx, w.cold, logger.ID, rs)
		if err != nil || *rep != (trace.IngestReport{Received: 72, Stored: 22, Duplicates: 50, Flagged: 1}) {
			t.Fatalf("second upload = %+v, %v", rep, err)
		}
		if n := count(t, db, "readings"); n != 72 {
			t.Fatalf("%d readings stored, want 72", n)
		}
		// A bad reading refuses the whole upload.
		bad := readings(ago(1), time.Minute, 5, flat(7))
		bad[3].Temp = math.Inf(1)
		_, err = w.svc.Ingest(ctx, w.cold, logger.ID, bad)
		wantErr(t, err, trace.KindInvalid, "invalid_temperature", "readings[3].temperature")
		future := readings(now.Add(time.Hour), time.Minute, 2, flat(7))
		_, err = w.svc.Ingest(ctx, w.cold, logger.ID, future)
		wantErr(t, err, trace.KindInvalid, "time_in_future", "readings[0].time")
		if n := count(t, db, "readings"); n != 72 {
			t.Fatalf("refused uploads wrote: %d readings", n)
		}

		leg, err = w.svc.Leg(ctx, w.coop, ship.ID)
		if err != nil {
			t.Fatal(err)
		}
		v := leg.Verdict
		if v.Status != trace.LegOK || v.Readings != 71 || v.Flagged != 1 || v.Temp.Min != 6 || v.Temp.Max != 7 || len(leg.Sources) != 1 || leg.Sources[0].Readings != 72 {
			t.Fatalf("verdict = %+v, sources %+v", v, leg.Sources)
		}
		_, err = w.svc.SealLeg(ctx, w.cold, ship.ID)
		wantErr(t, err, trace.KindConflict, "leg_open", "")
		if _, err := w.svc.Leg(ctx, w.other, ship.ID); trace.KindOf(err) != trace.KindNotFound {
			t.Fatalf("a stranger reads the leg: %v", err)
		}

		// Received at the cold store: the leg closes.
		w.mustCapture(t, w.cold, trace.EventSpec{Type: trace.Receiving, Time: ago(0.2).Format(time.RFC3339), Site: w.coldStore.ID,
			Receiving: &trace.ReceivingSpec{Lots: []int64{boxes}}})
		leaves := count(t, db, "log_leaves")
		_, err = w.svc.SealLeg(ctx, w.other, ship.ID)
		if trace.KindOf(err) != trace.KindForbidden && trace.KindOf(err) != trace.KindNotFound {
			t.Fatalf("a stranger seals: %v", err)
		}
		s1, err := w.svc.SealLeg(ctx, w.cold, ship.ID)
		if err != nil {
			t.Fatal(err)
		}
		if s1.Version != 1 || s1.Leg.Open || s1.Verdict.Status != trace.LegOK || s1.Leg.EndEvent == 0 || len(s1.Canonical) == 0 {
			t.Fatalf("summary: version %d, leg %+v, verdict %+v", s1.Version, s1.Leg, s1.Verdict)
		}
		if got := trace.ReadingsDigest(mustReadings(t, w, logger.ID, ago(12), ago(0.2))); got != s1.Sources[0].SHA256 {
			t.Fatalf("the summary's digest %s does not match the raw readings' %s", s1.Sources[0].SHA256, got)
		}
		again, err := w.svc.SealLeg(ctx, w.coop, ship.ID)
		if err != nil || again.ID != s1.ID {
			t.Fatalf("sealing unchanged readings again = %+v, %v; want summary %d", again, err, s1.ID)
		}
		if n := count(t, db, "log_leaves"); n != leaves+1 {
			t.Fatalf("log leaves %d → %d, want one for the summary", leaves, n)
		}

		// A late upload with a warm spell makes a new version that supersedes the first.
		late := readings(ago(0.15), time.Minute, 1, flat(13))
		late[0].Time = ago(1).Add(5 * time.Minute) // between two stored readings
		if _, err := w.svc.Ingest(ctx, w.cold, logger.ID, late); err != nil {
			t.Fatal(err)
		}
		s2, err := w.svc.SealLeg(ctx, w.cold, ship.ID)
		if err != nil {
			t.Fatal(err)
		}
		if s2.Version != 2 || s2.Supersedes != s1.ID || s2.Verdict.Status != trace.LegAlarm || len(s2.Verdict.Excursions) != 1 {
			t.Fatalf("second summary: version %d supersedes %d, verdict %+v", s2.Version, s2.Supersedes, s2.Verdict)
		}
		legs, err := w.svc.LotLegs(ctx, w.cold, boxes)
		if err != nil || len(legs) != 1 || legs[0].Summary == nil || legs[0].Summary.ID != s2.ID {
			t.Fatalf("lot legs = %+v, %v", legs, err)
		}
		// While its readings are unchanged the sealed summary is the verdict (it carries
		// the digests a live verdict leaves out); one more reading and it is made again.
		if l := legs[0]; l.Sources[0].SHA256 != s2.Sources[0].SHA256 || l.Verdict.Readings != s2.Verdict.Readings {
			t.Fatalf("the sealed leg was judged again: %+v", l.Sources)
		}
		more := readings(ago(2).Add(5*time.Minute), time.Minute, 1, flat(6))
		if _, err := w.svc.Ingest(ctx, w.cold, logger.ID, more); err != nil {
			t.Fatal(err)
		}
		l, err := w.svc.Leg(ctx, w.cold, ship.ID)
		if err != nil || l.Sources[0].SHA256 != "" || l.Sources[0].Readings != s2.Sources[0].Readings+1 || l.Verdict.Readings != s2.Verdict.Readings+1 {
			t.Fatalf("after a late reading: %+v, %v", l.Sources, err)
		}
	})
}

func mustReadings(t *testing.T, w *world, device int64, from, to time.Time) []trace.Reading {
	t.Helper()
	rs, err := w.svc.DeviceReadings(context.Background(), w.cold, device, from, to)
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

func TestStorageLegAndContainer(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db sqldb.DB) {
		w := newWorld(t, db)
		ctx := context.Background()
		boxes := w.boxLot(t, "XW-201")
		w.mustCapture(t, w.coop, trace.EventSpec{Type: trace.Shipping, Time: ago(100).Format(time.RFC3339), Site: w.packhouse.ID,
			Shipping: &trace.ShippingSpec{Lots: []int64{boxes}, To: w.coldStore.ID}})
		evs := w.mustCapture(t, w.cold,
			trace.EventSpec{Type: trace.Receiving, Time: ago(90).Format(time.RFC3339), Site: w.coldStore.ID, Receiving: &trace.ReceivingSpec{Lots: []int64{boxes}}},
			trace.EventSpec{Type: trace.Storing, Time: ago(89).Format(time.RFC3339), Site: w.coldStore.ID, Storing: &trace.StoringSpec{Lots: []int64{boxes}, Room: "A3"}})
		store := evs[1]
		room := w.device(t, w.cold, "ROOM-A3")
		other := w.device(t, w.cold, "ROOM-B1")
		reefer := w.device(t, w.cold, "REEFER-7")
		for _, as := range []*trace.Assignment{
			{DeviceID: room.ID, Site: w.coldStore.ID, Room: "A3", From: ago(200)},
			{DeviceID: other.ID, Site: w.coldStore.ID, Room: "B1", From: ago(200)},
			{DeviceID: reefer.ID, Container: "RF000777", From: ago(200)},
		} {
			if err := w.svc.Assign(ctx, w.cold, as); err != nil {
				t.Fatal(err)
			}
		}
		err := w.svc.Assign(ctx, w.coop, &trace.Assignment{DeviceID: room.ID, Site: w.coldStore.ID, From: ago(1)})
		wantErr(t, err, trace.KindForbidden, "forbidden", "device")
		err = w.svc.Assign(ctx, w.cold, &trace.Assignment{DeviceID: room.ID, Site: w.coldStore.ID, Container: "X", From: ago(1)})
		wantErr(t, err, trace.KindInvalid, "invalid_target", "target")

		mustIngest(t, w, room.ID, readings(ago(90), 15*time.Minute, 4*80, flat(6)))
		mustIngest(t, w, other.ID, readings(ago(90), 15*time.Minute, 4*80, flat(15))) // another room's warmth
		// Out of store 10 h ago in the reefer container to a warehouse.
		wh := &trace.Site{Kind: trace.Warehouse, Name: "上海前置仓", County: "310115"}
		if err := w.svc.CreateSite(ctx, w.cold, wh); err != nil {
			t.Fatal(err)
		}
		ship := w.mustCapture(t, w.cold, trace.EventSpec{Type: trace.Shipping, Time: ago(10).Format(time.RFC3339), Site: w.coldStore.ID,
			Shipping: &trace.ShippingSpec{Lots: []int64{boxes}, To: wh.ID, Container: "RF000777"}})[0]
		mustIngest(t, w, reefer.ID, readings(ago(10), 10*time.Minute, 40, func(i int) float64 {
			if i >= 20 && i < 26 {
				return 2.5 // the reefer's defrost cycle failed
			}
			return 6
		}))
		leg, err := w.svc.Leg(ctx, w.cold, store.ID)
		if err != nil {
			t.Fatal(err)
		}
		if leg.Leg.Kind != trace.StorageLeg || leg.Leg.Open || leg.Leg.EndEvent != ship.ID || leg.Verdict.Status != trace.LegOK || len(leg.Sources) != 1 || leg.Sources[0].Device != "ROOM-A3" {
			t.Fatalf("storage leg = %+v %+v %+v", leg.Leg, leg.Verdict, leg.Sources)
		}
		tr, err := w.svc.Leg(ctx, w.cold, ship.ID)
		if err != nil {
			t.Fatal(err)
		}
		v := tr.Verdict
		if !tr.Leg.Open || v.Status != trace.LegAlarm || len(v.Excursions) != 1 || v.Excursions[0].Extreme != 2.5 || v.Excursions[0].Seconds != 3600 || len(v.Gaps) != 1 {
			t.Fatalf("container leg = %+v %+v", tr.Leg, v)
		}
		legs, err := w.svc.LotLegs(ctx, w.coop, boxes)
		if err != nil || len(legs) != 3 || legs[0].Leg.Kind != trace.TransportLeg || legs[1].Leg.ID != store.ID || legs[2].Leg.ID != ship.ID {
			t.Fatalf("the lot's legs = %+v, %v", legs, err)
		}
		// Ending an assignment stops its readings counting.
		if _, err := w.svc.EndAssignment(ctx, w.cold, 3, ago(5)); err != nil {
			t.Fatal(err)
		}
		if _, err := w.svc.EndAssignment(ctx, w.cold, 3, ago(4)); trace.KindOf(err) != trace.KindConflict {
			t.Fatalf("ending twice: %v", err)
		}
		tr, _ = w.svc.Leg(ctx, w.cold, ship.ID)
		if tr.Verdict.Status != trace.LegAlarm || tr.Sources[0].To.Sub(ago(5)).Abs() > time.Second || len(tr.Verdict.Gaps) != 1 {
			t.Fatalf("after the reefer logger came off: %+v %+v", tr.Sources, tr.Verdict.Gaps)
		}
	})
}

func mustIngest(t *testing.T, w *world, device int64, rs []trace.Reading) {
	t.Helper()
	if _, err := w.svc.Ingest(context.Background(), w.cold, device, rs); err != nil {
		t.Fatal(err)
	}
}

func TestIngestTelemetry(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db sqldb.DB) {
		w := newWorld(t, db)
		ctx := context.Background()
		w.device(t, w.cold, "MQ-1")
		w.device(t, w.coop, "MQ-2")
		rep, err := w.svc.IngestTelemetry(ctx, []trace.Telemetry{
			{Serial: "MQ-1", Readings: readings(ago(1), time.Minute, 10, flat(6))},
			{Serial: "MQ-2", Readings: readings(ago(1), time.Minute, 5, flat(7))},
			{Serial: "MQ-1", Readings: readings(ago(1), time.Minute, 3, flat(6))},
		})
		if err != nil || *rep != (trace.IngestReport{Received: 18, Stored: 15, Duplicates: 3}) {
			t.Fatalf("telemetry = %+v, %v", rep, err)
		}
		_, err = w.svc.IngestTelemetry(ctx, []trace.Telemetry{{Serial: "MQ-1", Readings: readings(ago(1), time.Minute, 1, flat(6))}, {Serial: "NOPE", Readings: readings(ago(1), time.Minute, 1, flat(6))}})
		wantErr(t, err, trace.KindNotFound, "unknown_device", "device")
	})
}
