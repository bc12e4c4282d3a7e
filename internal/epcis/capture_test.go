package epcis_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ganpin/ganpin/cert"
	"github.com/ganpin/ganpin/internal/epcis"
	"github.com/ganpin/ganpin/internal/sqldb"
	"github.com/ganpin/ganpin/internal/testdb"
	"github.com/ganpin/ganpin/trace"
)

var cst = time.FixedZone("CST", 8*3600)

// world is a small supply chain: a cooperative with an orchard (no GLN), a
// packhouse (with a GLN) and a store; a stranger cooperative; bulk fruit without a
// GTIN and boxes with one.
type world struct {
	coop, other                   trace.Actor
	orchard, packhouse, warehouse *trace.Site
	otherOrchard                  *trace.Site
	fruit, box                    *trace.Product
}

func newWorld(t testing.TB, in *instance) *world {
	t.Helper()
	ctx := context.Background()
	w := &world{}
	party := func(name, uscc17 string) trace.Actor {
		c, _ := trace.USCCCheck(uscc17)
		p := &trace.Party{Kind: trace.Cooperative, Name: name, USCC: uscc17 + string(c), County: "360734"}
		if err := in.svc.CreateParty(ctx, admin, p); err != nil {
			t.Fatal(err)
		}
		return producer(p.ID)
	}
	w.coop, w.other = party("寻乌县果农脐橙专业合作社", "93360734MA35XW001"), party("安远县脐橙专业合作社", "93360726MA35AY001")
	site := func(a trace.Actor, s *trace.Site) *trace.Site {
		if err := in.svc.CreateSite(ctx, a, s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	w.orchard = site(w.coop, &trace.Site{Kind: trace.Orchard, Name: "1号地块", County: "360734", AreaMu: 50, Lat: 24.95, Lon: 115.65})
	w.packhouse = site(w.coop, &trace.Site{Kind: trace.Packhouse, Name: "分选中心", County: "360734", GLN: "6910000000013"})
	w.warehouse = site(w.coop, &trace.Site{Kind: trace.Warehouse, Name: "合作社仓库", County: "360734"})
	w.otherOrchard = site(w.other, &trace.Site{Kind: trace.Orchard, Name: "安远地块", County: "360726", AreaMu: 30, Lat: 25.1, Lon: 115.4})
	prod := func(p *trace.Product) *trace.Product {
		if err := in.svc.CreateProduct(ctx, w.coop, p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	w.fruit = prod(&trace.Product{Name: "赣南脐橙", Unit: trace.Kg})
	w.box = prod(&trace.Product{Name: "赣南脐橙 5kg箱", GTIN: "6910000000020", Unit: trace.Box, NetKg: 5})
	return w
}

func at(days int) string {
	return time.Now().In(cst).AddDate(0, 0, days).Truncate(time.Minute).Format(time.RFC3339)
}

// chain records, through trace, a harvest, a failed self test corrected by a passed
// one, packing into boxes and storing; it returns the box lot.
func (w *world) chain(t *testing.T, in *instance, code string) int64 {
	t.Helper()
	test := func(passed bool, corrects int64) trace.EventSpec {
		return trace.EventSpec{Type: trace.SelfTest, Time: at(-3), Site: w.packhouse.ID, Corrects: corrects,
			SelfTest: &trace.SelfTestSpec{Lot: -1, Method: "速测卡", Items: []string{"有机磷类"}, Passed: passed}}
	}
	evs, err := in.svc.Capture(context.Background(), w.coop, []trace.EventSpec{
		{Type: trace.InputApplication, Time: at(-40), Site: w.orchard.ID, Input: &trace.InputSpec{ProductName: "1.8%阿维菌素乳油",
			RegistrationNo: "PD20080123", ActiveIngredient: "阿维菌素", Dose: "3000倍液", PHIDays: 14, AreaMu: 20.5}},
		{Type: trace.Harvest, Time: at(-4), Site: w.orchard.ID, Note: "晴",
			Harvest: &trace.HarvestSpec{Lot: trace.NewLotSpec{Code: code, Product: w.fruit.ID, Quantity: 1000, Unit: trace.Jin, Grade: "一等"}}},
		test(false, 0),
		test(true, -3),
		{Type: trace.Transformation, Time: at(-2), Site: w.packhouse.ID, Transformation: &trace.TransformationSpec{
			Inputs:  []trace.LotQuantity{{Lot: -1, Quantity: 1000}},
			Outputs: []trace.NewLotSpec{{Code: code + "-B", Product: w.box.ID, Quantity: 99, Unit: trace.Box}}, TolerancePct: 1}},
		{Type: trace.Storing, Time: at(-1), Site: w.warehouse.ID, Storing: &trace.StoringSpec{Lots: []int64{-2}, Room: "A1"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	// The dispositions Ganpin records are the ones the mapping writes.
	for _, e := range evs {
		if e.Disposition != epcis.Disposition(&e.Spec) {
			t.Fatalf("%s: trace records disposition %q, epcis.Disposition says %q", e.Spec.Type, e.Disposition, epcis.Disposition(&e.Spec))
		}
	}
	return evs[4].Lots[1].Lot
}

// Corrections travel as error declarations and come back as corrections; lots in
// 斤 as kilograms and come back in 斤.
func TestCorrectionsRoundTrip(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db sqldb.DB) {
		ctx := context.Background()
		a := newInstance(t, db)
		w := newWorld(t, a)
		box := w.chain(t, a, "XW-R1")
		// A 承诺达标合格证 covers the events recorded after it is issued, until it is revoked.
		keys, err := cert.LoadKeys(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		certs := cert.NewService(cert.Config{Store: a.st, Keys: keys})
		issued, err := certs.Issue(ctx, w.coop, cert.Request{Lot: box, Quantity: 99, Template: cert.Producer, Basis: cert.QualityControl, Contact: "0797-1234567"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := a.svc.Capture(ctx, w.coop, []trace.EventSpec{{Type: trace.Shipping, Time: at(0), Site: w.warehouse.ID,
			Shipping: &trace.ShippingSpec{Lots: []int64{box}, To: w.packhouse.ID, Vehicle: "赣B12345"}}}); err != nil {
			t.Fatal(err)
		}
		if _, err := certs.Revoke(ctx, w.coop, issued.ID, "标签印错"); err != nil {
			t.Fatal(err)
		}
		if _, err := a.svc.Capture(ctx, w.coop, []trace.EventSpec{{Type: trace.Receiving, Time: at(0), Site: w.packhouse.ID,
			Receiving: &trace.ReceivingSpec{Lots: []int64{box}}}}); err != nil {
			t.Fatal(err)
		}
		doc, err := a.epcis.LotDocument(ctx, w.coop, box)
		if err != nil {
			t.Fatal(err)
		}
		events := eventsOf(doc)
		var declared map[string]any
		for _, e := range events {
			if ed, ok := e.(map[string]any)["errorDeclaration"].(map[string]any); ok {
				declared = ed
			}
		}
		if declared == nil || len(declared["correctiveEventIDs"].([]any)) != 1 {
			t.Fatalf("no error declaration for the corrected self test: %v", events)
		}
		for _, e := range events {
			ev := e.(map[string]any)
			ci, has := ev["certificationInfo"].([]any)
			if shipped := ev["bizStep"] == "shipping"; shipped != has || has && (len(ci) != 1 || ci[0] != base+"/c/"+issued.Serial) {
				t.Fatalf("%s: certificationInfo %v; want the certificate on the shipping only", ev["bizStep"], ev["certificationInfo"])
			}
		}

		b := newInstance(t, testdbLike(t, db))
		copyMasterData(t, a, b)
		j := b.capture(t, w.coop, document(t, events))
		if !j.Success {
			js, _ := json.MarshalIndent(j.Errors, "", "  ")
			t.Fatalf("capture failed: %s", js)
		}
		lots, err := b.st.LotsByCode(ctx, []epcis.LotKey{{Product: w.fruit.ID, Code: "XW-R1"}, {Product: w.box.ID, Code: "XW-R1-B"}})
		if err != nil || len(lots) != 2 {
			t.Fatalf("lots in the fresh instance: %v, %v", lots, err)
		}
		for _, l := range lots {
			if l.ProductID == w.fruit.ID && (l.Unit != trace.Jin || l.Quantity != 1000 || l.Grade != "一等") {
				t.Fatalf("the harvest lot came back as %+v", l)
			}
		}
		var corrections int
		b.db.QueryRow(ctx, `SELECT COUNT(*) FROM corrections`).Scan(&corrections)
		if corrections != 1 {
			t.Fatalf("%d corrections in the fresh instance, want 1", corrections)
		}
		box2 := lots[0].ID
		if lots[1].ProductID == w.box.ID {
			box2 = lots[1].ID
		}
		doc2, err := b.epcis.LotDocument(ctx, w.coop, box2)
		if err != nil {
			t.Fatal(err)
		}
		got, want := comparable(t, eventsOf(doc2)), comparable(t, events)
		for i := range want {
			g, _ := json.Marshal(got[i])
			wj, _ := json.Marshal(want[i])
			if string(g) != string(wj) {
				t.Fatalf("event %d after the round trip:\n%s\nwant\n%s", i, g, wj)
			}
		}

		// Capturing the same document again is refused: its events are there.
		again := b.capture(t, w.coop, document(t, events))
		if again.Success || again.Errors[0].Code != "already_captured" {
			t.Fatalf("second capture: %+v", again)
		}
	})
}

// Bad documents fail as a whole with reasons per event, and store nothing.
func TestBadInput(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db sqldb.DB) {
		ctx := context.Background()
		in := newInstance(t, db)
		w := newWorld(t, in)
		m := in.epcis.Mapper()
		harvest := func(code string, site *trace.Site) map[string]any {
			return map[string]any{"type": "ObjectEvent", "action": "ADD", "bizStep": "commissioning", "disposition": "active",
				"eventTime": at(-1), "eventTimeZoneOffset": "+08:00",
				"readPoint": map[string]any{"id": m.SiteURI(site)}, "bizLocation": map[string]any{"id": m.SiteURI(site)},
				"quantityList": []any{map[string]any{"epcClass": m.LotURI(code, w.fruit), "quantity": 100, "uom": "KGM"}}}
		}
		with := func(ev map[string]any, k string, v any) map[string]any {
			c := map[string]any{}
			for kk, vv := range ev {
				c[kk] = vv
			}
			if v == nil {
				delete(c, k)
			} else {
				c[k] = v
			}
			return c
		}
		theirs := w.chainOf(t, in)
		storing := func(lot string) map[string]any {
			return map[string]any{"type": "ObjectEvent", "action": "OBSERVE", "bizStep": "storing", "disposition": "in_progress",
				"eventTime": at(-1), "eventTimeZoneOffset": "+08:00",
				"readPoint": map[string]any{"id": m.SiteURI(w.warehouse)}, "bizLocation": map[string]any{"id": m.SiteURI(w.warehouse)},
				"quantityList": []any{map[string]any{"epcClass": lot}}}
		}
		good := harvest("XW-OK", w.orchard)
		cases := []struct {
			name    string
			doc     []byte
			code    string
			pointer string
		}{
			{"not JSON", []byte(`{"type":"EPCISDocument",`), "malformed_json", "/"},
			{"no GS1 context", []byte(`{"@context":["https://example.org/ctx"],"type":"EPCISDocument","schemaVersion":"2.0","creationDate":"2026-11-01T00:00:00Z","epcisBody":{"eventList":[]}}`), "missing_context", "/@context"},
			{"schema: offset", document(t, []any{good, with(good, "eventTimeZoneOffset", "+8")}), "invalid_offset", "/epcisBody/eventList/1/eventTimeZoneOffset"},
			{"schema: action", document(t, []any{with(good, "action", "DELETE")}), "invalid_action", "/epcisBody/eventList/0/action"},
			{"unknown bizStep", document(t, []any{good, with(good, "bizStep", "frobnicating")}), "unknown_biz_step", "/epcisBody/eventList/1/bizStep"},
			{"bizStep Ganpin has no event for", document(t, []any{with(good, "bizStep", "arriving")}), "unknown_biz_step", "/epcisBody/eventList/0/bizStep"},
			{"a field Ganpin cannot keep", document(t, []any{good, with(harvest("XW-2", w.orchard), "bizTransactionList", []any{map[string]any{"type": "po", "bizTransaction": "urn:x:po:1"}})}), "unsupported_field", "/epcisBody/eventList/1/bizTransactionList"},
			{"another party's site", document(t, []any{good, harvest("XW-3", w.otherOrchard)}), "forbidden_site", "/epcisBody/eventList/1/readPoint/id"},
			{"another party's lot", document(t, []any{good, storing(theirs)}), "forbidden_lot", "/epcisBody/eventList/1/quantityList/0/epcClass"},
			{"an unknown lot", document(t, []any{good, storing(m.LotURI("NOPE", w.box))}), "unknown_lot", "/epcisBody/eventList/1/quantityList/0/epcClass"},
			{"a rule of trace: the pre-harvest interval", document(t, []any{
				map[string]any{"type": "ObjectEvent", "action": "OBSERVE", "bizStep": "ganpin:BizStep-treating", "epcList": []any{},
					"eventTime": at(-3), "eventTimeZoneOffset": "+08:00",
					"readPoint": map[string]any{"id": m.SiteURI(w.orchard)}, "bizLocation": map[string]any{"id": m.SiteURI(w.orchard)},
					"ganpin:productName": "24%螺螨酯悬浮剂", "ganpin:registrationNo": "PD20121456", "ganpin:activeIngredient": "螺螨酯",
					"ganpin:dose": "5000倍液", "ganpin:phiDays": 30},
				good}), "pre_harvest_interval", "/epcisBody/eventList/1"},
			{"too many events", document(t, func() []any {
				l := make([]any, epcis.MaxEvents+1)
				for i := range l {
					l[i] = good
				}
				return l
			}()), "too_many_events", "/epcisBody"},
		}
		events, lots, kept := in.count(t, "events"), in.count(t, "lots"), in.count(t, "epcis_events")
		for _, c := range cases {
			j := in.capture(t, w.coop, c.doc)
			if j.Success {
				t.Errorf("%s: captured", c.name)
				continue
			}
			found := false
			for _, p := range j.Errors {
				found = found || p.Code == c.code && p.Pointer == c.pointer
			}
			if !found {
				js, _ := json.Marshal(j.Errors)
				t.Errorf("%s: problems %s, want %s at %s", c.name, js, c.code, c.pointer)
			}
			if n := in.count(t, "events"); n != events || in.count(t, "lots") != lots || in.count(t, "epcis_events") != kept {
				t.Fatalf("%s: a refused document stored events (%d → %d)", c.name, events, n)
			}
		}
		// Over the size limit: refused before a job exists.
		jobs := in.count(t, "epcis_jobs")
		_, err := in.epcis.Submit(ctx, w.coop, make([]byte, epcis.MaxDocument+1))
		if trace.KindOf(err) != trace.KindTooLarge || in.count(t, "epcis_jobs") != jobs {
			t.Fatalf("an oversized document: %v", err)
		}
		// A good document is captured whole, and found by its events' hash IDs.
		j := in.capture(t, w.coop, document(t, []any{good}))
		if !j.Success || len(j.Events) != 1 {
			t.Fatalf("good document: %+v", j)
		}
		id := epcis.Hash(good)
		doc, ids, err := in.epcis.Event(ctx, w.coop, id)
		if err != nil || len(ids) != 1 || ids[0] != j.Events[0] || eventsOf(doc)[0].(map[string]any)["eventID"] != id {
			t.Fatalf("event by hash ID: %v, %v", ids, err)
		}
		if _, _, err := in.epcis.Event(ctx, w.other, id); trace.KindOf(err) != trace.KindNotFound {
			t.Fatalf("a stranger reads the event: %v", err)
		}
		page, err := in.epcis.Query(ctx, w.coop, url.Values{"EQ_eventID": {id}})
		if err != nil || len(eventsOf(page.Document)) != 1 {
			t.Fatalf("EQ_eventID: %v", err)
		}
		// Unsupported query parameters are refused, naming the parameter.
		if _, err := in.epcis.Query(ctx, w.coop, url.Values{"EQ_persistentDisposition_set": {"x"}}); !strings.Contains(fmt.Sprint(err), "EQ_persistentDisposition_set") {
			t.Fatalf("unsupported parameter: %v", err)
		}
	})
}

// chainOf records a harvest of the stranger cooperative and returns its lot's URI.
func (w *world) chainOf(t *testing.T, in *instance) string {
	t.Helper()
	evs, err := in.svc.Capture(context.Background(), w.other, []trace.EventSpec{{Type: trace.Harvest, Time: at(-2), Site: w.otherOrchard.ID,
		Harvest: &trace.HarvestSpec{Lot: trace.NewLotSpec{Code: "AY-1", Product: w.fruit.ID, Quantity: 10, Unit: trace.Kg}}}})
	if err != nil {
		t.Fatal(err)
	}
	l, err := in.st.Lot(context.Background(), evs[0].Lots[0].Lot)
	if err != nil {
		t.Fatal(err)
	}
	return in.epcis.Mapper().LotURI(l.Code, w.fruit)
}
