package trace_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ganpin/ganpin/internal/sqldb"
	"github.com/ganpin/ganpin/internal/store"
	"github.com/ganpin/ganpin/internal/testdb"
	"github.com/ganpin/ganpin/trace"
)

var now = time.Date(2026, 11, 25, 10, 0, 0, 0, time.FixedZone("CST", 8*3600))

// world is a small supply chain: a cooperative with an orchard and a packhouse, a
// cold-store operator, and a stranger cooperative.
type world struct {
	svc                        *trace.Service
	st                         *store.Store
	admin, coop, cold, other   trace.Actor
	orchard, packhouse, store_ *trace.Site
	coldStore, otherOrchard    *trace.Site
	fruit, box                 *trace.Product
}

func newWorld(t *testing.T, db sqldb.DB) *world {
	t.Helper()
	ctx := context.Background()
	st, err := store.New(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	w := &world{svc: trace.NewService(st, func() time.Time { return now }), st: st}
	w.admin = trace.Actor{UserID: 1, Roles: []trace.Role{trace.RoleAdmin}}
	party := func(kind trace.PartyKind, name, uscc17, county string) int64 {
		c, _ := trace.USCCCheck(uscc17)
		p := &trace.Party{Kind: kind, Name: name, USCC: uscc17 + string(c), County: county, Contact: "0797-0000000"}
		if err := w.svc.CreateParty(ctx, w.admin, p); err != nil {
			t.Fatal(err)
		}
		return p.ID
	}
	w.coop = trace.Actor{UserID: 2, PartyID: party(trace.Cooperative, "寻乌县果农脐橙专业合作社", "93360734MA35XW001", "360734"), Roles: []trace.Role{trace.RoleProducerAdmin}}
	w.cold = trace.Actor{UserID: 3, PartyID: party(trace.Logistics, "赣州冷链物流有限公司", "91360702MA35LL001", "360702"), Roles: []trace.Role{trace.RoleLogistics}}
	w.other = trace.Actor{UserID: 4, PartyID: party(trace.Cooperative, "安远县脐橙专业合作社", "93360726MA35AY001", "360726"), Roles: []trace.Role{trace.RoleProducerAdmin}}
	site := func(a trace.Actor, s *trace.Site) *trace.Site {
		if err := w.svc.CreateSite(ctx, a, s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	w.orchard = site(w.coop, &trace.Site{Kind: trace.Orchard, Name: "澄江镇1号地块", County: "360734", Town: "澄江镇", AreaMu: 50, Lat: 24.95, Lon: 115.65})
	w.packhouse = site(w.coop, &trace.Site{Kind: trace.Packhouse, Name: "合作社分选中心", County: "360734"})
	w.coldStore = site(w.cold, &trace.Site{Kind: trace.ColdStore, Name: "章贡冷库", County: "360702"})
	w.otherOrchard = site(w.other, &trace.Site{Kind: trace.Orchard, Name: "安远1号地块", County: "360726", AreaMu: 30, Lat: 25.1, Lon: 115.4})
	prod := func(p *trace.Product) *trace.Product {
		if err := w.svc.CreateProduct(ctx, w.coop, p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	w.fruit = prod(&trace.Product{Name: "赣南脐橙", Variety: "纽荷尔", Unit: trace.Kg, ColdProfile: "navel_orange"})
	w.box = prod(&trace.Product{Name: "赣南脐橙 5kg礼盒", Variety: "纽荷尔", GTIN: "6901234567892", Unit: trace.Box, NetKg: 5, ColdProfile: "navel_orange"})
	return w
}

func (w *world) capture(t *testing.T, a trace.Actor, specs ...trace.EventSpec) ([]*trace.Event, error) {
	t.Helper()
	return w.svc.Capture(context.Background(), a, specs)
}

func (w *world) mustCapture(t *testing.T, a trace.Actor, specs ...trace.EventSpec) []*trace.Event {
	t.Helper()
	evs, err := w.capture(t, a, specs...)
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

func at(days int) string { return now.AddDate(0, 0, days).Format(time.RFC3339) }

func application(site int64, days, phi int) trace.EventSpec {
	return trace.EventSpec{Type: trace.InputApplication, Time: at(days), Site: site, Input: &trace.InputSpec{
		ProductName: "1.8%阿维菌素乳油", RegistrationNo: "PD20080123", ActiveIngredient: "阿维菌素", Dose: "3000倍液", PHIDays: phi}}
}

func harvest(site int64, days int, code string, product int64, kg float64) trace.EventSpec {
	return trace.EventSpec{Type: trace.Harvest, Time: at(days), Site: site,
		Harvest: &trace.HarvestSpec{Lot: trace.NewLotSpec{Code: code, Product: product, Quantity: kg, Unit: trace.Kg, Grade: "一等"}}}
}

func wantErr(t *testing.T, err error, kind trace.Kind, code, field string) *trace.Error {
	t.Helper()
	var e *trace.Error
	if !errors.As(err, &e) {
		t.Fatalf("error = %v, want a *trace.Error %s", err, code)
	}
	if e.Kind != kind || e.Code != code || e.Field != field {
		t.Fatalf("error = {kind %d, code %q, field %q} %q, want {kind %d, code %q, field %q}", e.Kind, e.Code, e.Field, e.EN, kind, code, field)
	}
	return e
}

func count(t *testing.T, db sqldb.DB, table string) int {
	t.Helper()
	var n int
	if err := db.QueryRow(context.Background(), `SELECT COUNT(*) FROM `+table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestHarvestAndPreHarvestInterval(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db sqldb.DB) {
		w := newWorld(t, db)
		w.mustCapture(t, w.coop, application(w.orchard.ID, -10, 14))
		events := count(t, db, "events")

		_, err := w.capture(t, w.coop, harvest(w.orchard.ID, 0, "XW-001", w.fruit.ID, 1000))
		e := wantErr(t, err, trace.KindInvalid, "pre_harvest_interval", "time")
		first := now.AddDate(0, 0, 4).Format("2006-01-02")
		for _, s := range []string{e.ZH, e.EN} {
			if !strings.Contains(s, "1.8%阿维菌素乳油") || !strings.Contains(s, first) {
				t.Errorf("message %q does not name the product and the first permitted date %s", s, first)
			}
		}
		if n := count(t, db, "events"); n != events || count(t, db, "lots") != 0 {
			t.Fatalf("a refused harvest wrote: events %d → %d", events, n)
		}
		// Another orchard is not affected.
		w.mustCapture(t, w.other, harvest(w.otherOrchard.ID, 0, "AY-001", w.fruit.ID, 500))

		// Correcting the application's date releases the orchard.
		corr := application(w.orchard.ID, -20, 14)
		corr.Corrects = 1
		w.mustCapture(t, w.coop, corr)
		evs := w.mustCapture(t, w.coop, harvest(w.orchard.ID, 0, "XW-001", w.fruit.ID, 1000))
		if len(evs[0].Lots) != 1 || evs[0].Lots[0].Role != trace.RoleOutput {
			t.Fatalf("harvest lots = %+v", evs[0].Lots)
		}
		l, err := w.svc.Lot(context.Background(), w.coop, evs[0].Lots[0].Lot)
		if err != nil || l.Code != "XW-001" || l.Remaining != 1000 || l.SiteID != w.orchard.ID {
			t.Fatalf("lot = %+v, %v", l, err)
		}
		// A second correction of the same event is refused.
		_, err = w.capture(t, w.coop, corr)
		wantErr(t, err, trace.KindConflict, "already_corrected", "corrects")
		// Duplicate lot code.
		_, err = w.capture(t, w.coop, harvest(w.orchard.ID, 0, "XW-001", w.fruit.ID, 10))
		wantErr(t, err, trace.KindConflict, "duplicate_lot_code", "harvest.lot.code")
		_, err = w.capture(t, w.coop, harvest(w.orchard.ID, 0, "XW-009", w.fruit.ID, 10), harvest(w.orchard.ID, 0, "XW-009", w.fruit.ID, 10))
		wantErr(t, err, trace.KindConflict, "duplicate_lot_code", "events[1].harvest.lot.code")
	})
}

func TestPackShipReceiveAndTrace(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db sqldb.DB) {
		w := newWorld(t, db)
		ctx := context.Background()
		w.mustCapture(t, w.coop, application(w.orchard.ID, -30, 14))
		h := w.mustCapture(t, w.coop, harvest(w.orchard.ID, -3, "XW-002", w.fruit.ID, 1000))[0]
		raw := h.Lots[0].Lot
		pack := func(boxes float64, tol float64, code string) trace.EventSpec {
			return trace.EventSpec{Type: trace.Transformation, Time: at(-2), Site: w.packhouse.ID, Transformation: &trace.TransformationSpec{
				Inputs:       []trace.LotQuantity{{Lot: raw, Quantity: 600}},
				Outputs:      []trace.NewLotSpec{{Code: code, Product: w.box.ID, Quantity: boxes, Unit: trace.Box}},
				TolerancePct: tol}}
		}
		_, err := w.capture(t, w.coop, pack(125, 2, "XW-002-B"))
		wantErr(t, err, trace.KindInvalid, "output_exceeds_input", "transformation.outputs")
		p := w.mustCapture(t, w.coop, pack(122, 2, "XW-002-B"))[0]
		boxes := p.Lots[1].Lot
		if l, _ := w.svc.Lot(ctx, w.coop, raw); l.Remaining != 400 {
			t.Fatalf("remaining after packing = %v, want 400", l.Remaining)
		}
		// More than remains.
		over := pack(10, 0, "XW-002-C")
		over.Transformation.Inputs[0].Quantity = 401
		_, err = w.capture(t, w.coop, over)
		wantErr(t, err, trace.KindInvalid, "exceeds_remaining", "transformation.inputs[0].quantity")

		// The stranger can neither use nor see the lot.
		_, err = w.capture(t, w.other, trace.EventSpec{Type: trace.SelfTest, Time: at(-1), Site: w.otherOrchard.ID,
			SelfTest: &trace.SelfTestSpec{Lot: boxes, Method: "速测卡", Passed: true}})
		wantErr(t, err, trace.KindForbidden, "forbidden", "self_test.lot")
		if _, err := w.svc.Lot(ctx, w.other, boxes); trace.KindOf(err) != trace.KindNotFound {
			t.Fatalf("stranger reads lot: %v", err)
		}
		if _, err := w.svc.Trace(ctx, w.other, boxes, trace.Both); trace.KindOf(err) != trace.KindNotFound {
			t.Fatalf("stranger traces lot: %v", err)
		}

		// Ship to the cold store; only its operator receives; custody passes.
		w.mustCapture(t, w.coop, trace.EventSpec{Type: trace.Shipping, Time: at(-1), Site: w.packhouse.ID,
			Shipping: &trace.ShippingSpec{Lots: []int64{boxes}, To: w.coldStore.ID, Carrier: "赣州冷链", Vehicle: "赣B12345"}})
		_, err = w.capture(t, w.coop, trace.EventSpec{Type: trace.Storing, Time: at(-1), Site: w.packhouse.ID, Storing: &trace.StoringSpec{Lots: []int64{boxes}}})
		wantErr(t, err, trace.KindInvalid, "not_store", "site")
		_, err = w.capture(t, w.other, trace.EventSpec{Type: trace.Receiving, Time: at(0), Site: w.otherOrchard.ID, Receiving: &trace.ReceivingSpec{Lots: []int64{boxes}}})
		wantErr(t, err, trace.KindForbidden, "forbidden", "receiving.lots[0]")
		w.mustCapture(t, w.cold,
			trace.EventSpec{Type: trace.Receiving, Time: at(0), Site: w.coldStore.ID, Receiving: &trace.ReceivingSpec{Lots: []int64{boxes}}},
			trace.EventSpec{Type: trace.Storing, Time: at(0), Site: w.coldStore.ID, Storing: &trace.StoringSpec{Lots: []int64{boxes}, Room: "A3"}})
		if l, _ := w.svc.Lot(ctx, w.cold, boxes); l.HolderID != w.cold.PartyID || l.OwnerID != w.coop.PartyID {
			t.Fatalf("after receiving lot = %+v", l)
		}
		// The carrier cannot harvest.
		_, err = w.capture(t, w.cold, harvest(w.coldStore.ID, 0, "X", w.fruit.ID, 1))
		wantErr(t, err, trace.KindForbidden, "forbidden", "type")

		// Backward from the boxes: both lots, the packing edge, harvest and the input application.
		g, err := w.svc.Trace(ctx, w.cold, boxes, trace.Backward)
		if err != nil {
			t.Fatal(err)
		}
		types := map[trace.EventType]int{}
		for _, e := range g.Events {
			types[e.Spec.Type]++
		}
		if len(g.Lots) != 2 || len(g.Edges) != 1 || g.Edges[0] != (trace.Edge{Parent: raw, Child: boxes, Event: p.ID}) {
			t.Fatalf("backward graph lots %d edges %+v", len(g.Lots), g.Edges)
		}
		want := map[trace.EventType]int{trace.InputApplication: 1, trace.Harvest: 1, trace.Transformation: 1, trace.Shipping: 1, trace.Receiving: 1, trace.Storing: 1}
		for k, v := range want {
			if types[k] != v {
				t.Errorf("backward events %v, want %v", types, want)
				break
			}
		}
		if len(g.Sites) != 3 {
			t.Errorf("sites = %d, want orchard, packhouse and cold store", len(g.Sites))
		}
		// Forward from the raw lot reaches the boxes but not the orchard's inputs.
		g, err = w.svc.Trace(ctx, w.coop, raw, trace.Forward)
		if err != nil {
			t.Fatal(err)
		}
		if len(g.Lots) != 2 || len(g.Edges) != 1 {
			t.Fatalf("forward graph lots %d edges %d", len(g.Lots), len(g.Edges))
		}
		for _, e := range g.Events {
			if e.Spec.Type == trace.InputApplication {
				t.Fatal("forward trace includes input applications")
			}
		}
	})
}

func TestCaptureIsAllOrNothing(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db sqldb.DB) {
		w := newWorld(t, db)
		_, err := w.capture(t, w.coop,
			harvest(w.orchard.ID, 0, "OK-1", w.fruit.ID, 100),
			harvest(w.orchard.ID, 0, "BAD", w.fruit.ID, -1))
		wantErr(t, err, trace.KindInvalid, "invalid_quantity", "events[1].harvest.lot.quantity")
		if n := count(t, db, "events"); n != 0 {
			t.Fatalf("events after a refused batch = %d", n)
		}
		if n := count(t, db, "lots"); n != 0 {
			t.Fatalf("lots after a refused batch = %d", n)
		}
	})
}

func TestBadInput(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db sqldb.DB) {
		w := newWorld(t, db)
		h := harvest(w.orchard.ID, 0, "L1", w.fruit.ID, 1)
		cases := []struct {
			name  string
			edit  func(s *trace.EventSpec)
			kind  trace.Kind
			code  string
			field string
		}{
			{"zero quantity", func(s *trace.EventSpec) { s.Harvest.Lot.Quantity = 0 }, trace.KindInvalid, "invalid_quantity", "harvest.lot.quantity"},
			{"unknown unit", func(s *trace.EventSpec) { s.Harvest.Lot.Unit = "bushel" }, trace.KindInvalid, "unknown_unit", "harvest.lot.unit"},
			{"count unit of another product", func(s *trace.EventSpec) { s.Harvest.Lot.Unit = trace.Box }, trace.KindInvalid, "unit_mismatch", "harvest.lot.unit"},
			{"unknown product", func(s *trace.EventSpec) { s.Harvest.Lot.Product = 999 }, trace.KindNotFound, "not_found", "harvest.lot.product"},
			{"unknown site", func(s *trace.EventSpec) { s.Site = 999 }, trace.KindNotFound, "not_found", "site"},
			{"another party's site", func(s *trace.EventSpec) { s.Site = w.otherOrchard.ID }, trace.KindForbidden, "forbidden", "site"},
			{"future", func(s *trace.EventSpec) { s.Time = at(1) }, trace.KindInvalid, "time_in_future", "time"},
			{"no offset", func(s *trace.EventSpec) { s.Time = "2026-11-20T08:00:00" }, trace.KindInvalid, "invalid_time", "time"},
			{"bad lot code", func(s *trace.EventSpec) { s.Harvest.Lot.Code = "批次/1" }, trace.KindInvalid, "invalid_lot_code", "harvest.lot.code"},
			{"unknown type", func(s *trace.EventSpec) { s.Type = "picking" }, trace.KindInvalid, "unknown_type", "type"},
			{"missing detail", func(s *trace.EventSpec) { s.Harvest = nil }, trace.KindInvalid, "required", "harvest"},
			{"extra detail", func(s *trace.EventSpec) { s.Storing = &trace.StoringSpec{} }, trace.KindInvalid, "unexpected_detail", "storing"},
			{"harvest at a packhouse", func(s *trace.EventSpec) { s.Site = w.packhouse.ID }, trace.KindInvalid, "not_orchard", "site"},
			{"bad grade", func(s *trace.EventSpec) { s.Harvest.Lot.Grade = "优等" }, trace.KindInvalid, "invalid_grade", "harvest.lot.grade"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				s := h
				lot := *h.Harvest
				s.Harvest = &lot
				c.edit(&s)
				_, err := w.capture(t, w.coop, s)
				wantErr(t, err, c.kind, c.code, c.field)
			})
		}
		app := application(w.orchard.ID, 0, 14)
		app.Input.RegistrationNo = "pd 2008"
		_, err := w.capture(t, w.coop, app)
		wantErr(t, err, trace.KindInvalid, "invalid_registration_no", "input_application.registration_no")
		app = application(w.orchard.ID, 0, 400)
		_, err = w.capture(t, w.coop, app)
		wantErr(t, err, trace.KindInvalid, "invalid_phi", "input_application.phi_days")
		if n := count(t, db, "events"); n != 0 {
			t.Fatalf("events after bad input = %d", n)
		}
	})
}

func TestAuthorisation(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db sqldb.DB) {
		w := newWorld(t, db)
		ctx := context.Background()
		clerk := trace.Actor{UserID: 9, PartyID: w.coop.PartyID, Roles: []trace.Role{trace.RoleProducerClerk}}
		err := w.svc.CreateSite(ctx, clerk, &trace.Site{Kind: trace.Packhouse, Name: "x", County: "360734"})
		wantErr(t, err, trace.KindForbidden, "forbidden", "")
		err = w.svc.CreateSite(ctx, w.coop, &trace.Site{PartyID: w.other.PartyID, Kind: trace.Packhouse, Name: "x", County: "360734"})
		wantErr(t, err, trace.KindForbidden, "forbidden", "party")
		err = w.svc.CreateParty(ctx, w.coop, &trace.Party{})
		wantErr(t, err, trace.KindForbidden, "forbidden", "")
		err = w.svc.CreateUser(ctx, w.coop, &trace.User{PartyID: w.coop.PartyID, Username: "boss", Roles: []trace.Role{trace.RoleAdmin}}, "long enough password")
		wantErr(t, err, trace.KindForbidden, "forbidden", "roles")
		err = w.svc.CreateUser(ctx, w.coop, &trace.User{PartyID: w.other.PartyID, Username: "spy", Roles: []trace.Role{trace.RoleProducerClerk}}, "long enough password")
		wantErr(t, err, trace.KindForbidden, "forbidden", "party")
		if err := w.svc.CreateUser(ctx, w.coop, &trace.User{PartyID: w.coop.PartyID, Username: "clerk1", Roles: []trace.Role{trace.RoleProducerClerk}}, "long enough password"); err != nil {
			t.Fatal(err)
		}
		tok, u, err := w.svc.Login(ctx, "clerk1", "long enough password", "test")
		if err != nil || u.Username != "clerk1" {
			t.Fatal(err)
		}
		a, err := w.svc.Authenticate(ctx, tok)
		if err != nil || a.PartyID != w.coop.PartyID || !a.Has(trace.RoleProducerClerk) {
			t.Fatalf("authenticate = %+v, %v", a, err)
		}
		if _, _, err := w.svc.Login(ctx, "clerk1", "wrong password!", ""); err != trace.ErrUnauthenticated {
			t.Fatalf("wrong password: %v", err)
		}
		var hash string
		db.QueryRow(ctx, `SELECT password_hash FROM users WHERE username = 'clerk1'`).Scan(&hash)
		if !strings.HasPrefix(hash, "$argon2id$") {
			t.Fatalf("password stored as %q", hash)
		}
		var stored []byte
		db.QueryRow(ctx, `SELECT hash FROM tokens`).Scan(&stored)
		if strings.Contains(string(stored), tok) || len(stored) != 32 {
			t.Fatal("token not stored hashed")
		}
		sites, _ := w.svc.Sites(ctx, w.other, trace.Page{})
		for _, s := range sites {
			if s.PartyID != w.other.PartyID {
				t.Fatalf("party reads another party's site %+v", s)
			}
		}
	})
}

func TestIdempotentWrite(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db sqldb.DB) {
		w := newWorld(t, db)
		claim := &trace.Idempotency{Principal: "u2", Key: "k1", RequestHash: []byte{1}, Render: func(any) (int, []byte, error) { return 201, []byte(`{"ok":1}`), nil }}
		ctx := trace.WithIdempotency(context.Background(), claim)
		if _, err := w.svc.Capture(ctx, w.coop, []trace.EventSpec{harvest(w.orchard.ID, 0, "I1", w.fruit.ID, 1)}); err != nil {
			t.Fatal(err)
		}
		r, ok, err := w.svc.Replay(context.Background(), "u2", "k1")
		if err != nil || !ok || r.Status != 201 || string(r.Body) != `{"ok":1}` {
			t.Fatalf("replay = %+v %v %v", r, ok, err)
		}
		_, err = w.svc.Capture(ctx, w.coop, []trace.EventSpec{harvest(w.orchard.ID, 0, "I2", w.fruit.ID, 1)})
		wantErr(t, err, trace.KindConflict, "idempotency_key_in_use", "Idempotency-Key")
		if n := count(t, db, "lots"); n != 1 {
			t.Fatalf("lots = %d, want 1", n)
		}
	})
}
