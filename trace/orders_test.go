package trace_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/ganpin/ganpin/cert"
	"github.com/ganpin/ganpin/internal/sqldb"
	"github.com/ganpin/ganpin/internal/testdb"
	"github.com/ganpin/ganpin/trace"
)

// shop is a world with two sales platforms and a certified lot of boxes whose
// certificate carries ten unit-level serials.
type shop struct {
	*world
	db              sqldb.DB
	platform, rival trace.Actor
	raw, boxes      int64
	serial          string
}

func newShop(t *testing.T, db sqldb.DB) *shop {
	t.Helper()
	ctx := context.Background()
	s := &shop{world: newWorld(t, db), db: db}
	platform := func(name, uscc17 string, user int64) trace.Actor {
		c, _ := trace.USCCCheck(uscc17)
		p := &trace.Party{Kind: trace.Platform, Name: name, USCC: uscc17 + string(c), County: "360702"}
		if err := s.svc.CreateParty(ctx, s.admin, p); err != nil {
			t.Fatal(err)
		}
		return trace.Actor{UserID: user, PartyID: p.ID, Roles: []trace.Role{trace.RolePlatform}}
	}
	s.platform = platform("赣南优品电商平台有限公司", "91360702MA35GNYP1", 5)
	s.rival = platform("另一家电商平台有限公司", "91360702MA35QTHR1", 6)
	s.boxes = s.boxLot(t, "XW-301")
	lot, _ := s.svc.Lot(ctx, s.coop, s.boxes)
	g, _ := s.svc.Trace(ctx, s.coop, s.boxes, trace.Backward)
	for _, l := range g.Lots {
		if l.ID != lot.ID {
			s.raw = l.ID
		}
	}
	keys, err := cert.LoadKeys(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	certs := cert.NewService(cert.Config{Store: s.st, Keys: keys, Now: func() time.Time { return now }})
	c, err := certs.Issue(ctx, s.coop, cert.Request{Lot: s.boxes, Quantity: 190, Contact: "0797-4000000", Template: cert.Producer, Basis: cert.QualityControl, Units: 10})
	if err != nil {
		t.Fatal(err)
	}
	s.serial = c.Serial
	return s
}

func order(number string, lot int64) trace.OrderSpec {
	return trace.OrderSpec{Number: number, Channel: "赣南优品小程序", Time: at(-1),
		Destination: trace.Destination{Province: "310000", City: "310100", District: "310115"},
		Items:       []trace.OrderItem{{Lot: lot, Quantity: 2}}}
}

func TestLinkOrders(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db sqldb.DB) {
		s := newShop(t, db)
		ctx := context.Background()
		link := func(a trace.Actor, o trace.OrderSpec) (*trace.OrderLink, error) { return s.svc.LinkOrder(ctx, a, o) }

		_, err := link(s.platform, order("GNYP-1", s.boxes))
		wantErr(t, err, trace.KindForbidden, "forbidden", "items[0].lot")
		_, err = link(s.coop, order("GNYP-1", s.boxes))
		wantErr(t, err, trace.KindForbidden, "forbidden", "")
		if _, err := s.svc.GrantChannel(ctx, s.coop, s.coop.PartyID); trace.KindOf(err) != trace.KindInvalid {
			t.Fatalf("a channel to a cooperative: %v", err)
		}
		if _, err := s.svc.GrantChannel(ctx, s.coop, s.platform.PartyID); err != nil {
			t.Fatal(err)
		}
		leaves := count(t, db, "log_leaves")
		first, err := link(s.platform, order("GNYP-1", s.boxes))
		if err != nil || !first.Created || first.Order.PartyID != s.platform.PartyID {
			t.Fatalf("link = %+v, %v", first, err)
		}
		again, err := link(s.platform, order("GNYP-1", s.boxes))
		if err != nil || again.Created || again.Order.ID != first.Order.ID {
			t.Fatalf("linking the same order again = %+v, %v", again, err)
		}
		changed := order("GNYP-1", s.boxes)
		changed.Items[0].Quantity = 3
		_, err = link(s.platform, changed)
		wantErr(t, err, trace.KindConflict, "order_exists", "number")
		if n := count(t, db, "log_leaves"); n != leaves+1 {
			t.Fatalf("log leaves %d → %d, want one for the order", leaves, n)
		}
		// Another platform may not link the cooperative's lots.
		_, err = link(s.rival, order("OTHER-1", s.boxes))
		wantErr(t, err, trace.KindForbidden, "forbidden", "items[0].lot")

		// Personal data is refused wherever it hides.
		for _, c := range []struct {
			edit  func(*trace.OrderSpec)
			field string
		}{
			{func(o *trace.OrderSpec) { o.Channel = "张三 13800138000" }, "channel"},
			{func(o *trace.OrderSpec) { o.Channel = "上海市浦东新区张江路88号3栋" }, "channel"},
			{func(o *trace.OrderSpec) { o.Channel = "收货人王五" }, "channel"},
			{func(o *trace.OrderSpec) { o.Channel = "buyer@example.com" }, "channel"},
			{func(o *trace.OrderSpec) { o.Channel = "0797-8123456" }, "channel"},
			{func(o *trace.OrderSpec) { o.Number = "13800138000" }, "number"},
		} {
			o := order("GNYP-PD", s.boxes)
			c.edit(&o)
			_, err := link(s.platform, o)
			wantErr(t, err, trace.KindInvalid, "personal_data", c.field)
		}
		// Names that only look alike are fine: 1号店, long order numbers.
		ok := order("2026112012345678901", s.boxes)
		ok.Channel = "1号店旗舰店"
		if _, err := link(s.platform, ok); err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			edit        func(*trace.OrderSpec)
			code, field string
		}{
			{func(o *trace.OrderSpec) { o.Destination.City = "440300" }, "invalid_division", "destination.city"},
			{func(o *trace.OrderSpec) { o.Destination.Province = "990000" }, "invalid_division", "destination.province"},
			{func(o *trace.OrderSpec) { o.Destination.District = "310200" }, "invalid_division", "destination.district"},
			{func(o *trace.OrderSpec) { o.Time = at(2) }, "invalid_time", "time"},
			{func(o *trace.OrderSpec) { o.Items = nil }, "required", "items"},
			{func(o *trace.OrderSpec) { o.Items[0].Quantity = 191 }, "exceeds_lot", "items[0].quantity"},
			{func(o *trace.OrderSpec) { o.Items[0].Units = []string{"000001"} }, "units_need_certificate", "items[0].units"},
		} {
			o := order("GNYP-BAD", s.boxes)
			c.edit(&o)
			_, err := link(s.platform, o)
			wantErr(t, err, trace.KindInvalid, c.code, c.field)
		}
		_, err = link(s.platform, order("GNYP-404", 9999))
		wantErr(t, err, trace.KindNotFound, "not_found", "items[0].lot")

		// By certificate and unit-level serials.
		byUnit := order("GNYP-2", 0)
		byUnit.Destination = trace.Destination{Province: "440000", City: "440300", District: "440305"}
		byUnit.Items = []trace.OrderItem{{Certificate: s.serial, Units: []string{"000003", "000004"}}}
		l, err := link(s.platform, byUnit)
		if err != nil || l.Order.Spec.Items[0].Lot != s.boxes || l.Order.Spec.Items[0].Quantity != 2 {
			t.Fatalf("order by serial = %+v, %v", l, err)
		}
		badUnit := order("GNYP-3", 0)
		badUnit.Items = []trace.OrderItem{{Certificate: s.serial, Units: []string{"000011"}}}
		_, err = link(s.platform, badUnit)
		wantErr(t, err, trace.KindInvalid, "invalid_unit", "items[0].units[0]")

		// The consumer side: masked, by serial.
		pj, err := s.svc.PublicJourney(ctx, s.serial, "000003")
		if err != nil || len(pj.Orders) != 1 || pj.Orders[0] != (trace.MaskedOrder{Date: "2026-11-24", City: "深圳市", CityCode: "440300"}) {
			t.Fatalf("journey of unit 000003 = %+v, %v", pj, err)
		}
		if pj, _ := s.svc.PublicJourney(ctx, s.serial, "000005"); len(pj.Orders) != 0 {
			t.Fatalf("unit 000005 was in no order, got %+v", pj.Orders)
		}
		if _, err := s.svc.PublicJourney(ctx, s.serial, "000011"); trace.KindOf(err) != trace.KindNotFound {
			t.Fatalf("a unit beyond the certificate: %v", err)
		}
		pj, err = s.svc.PublicJourney(ctx, s.serial, "")
		if err != nil || len(pj.Orders) != 3 || pj.Orders[2].City != "上海市" {
			t.Fatalf("journey of the certificate = %+v, %v", pj, err)
		}
		b, _ := json.Marshal(pj)
		for _, secret := range []string{"GNYP-1", "310115", "赣南优品小程序"} {
			if strings.Contains(string(b), secret) {
				t.Errorf("the public journey shows %q: %s", secret, b)
			}
		}
		// The owner sees the orders masked in the lot's journey; the platform sees its own in full.
		j, err := s.svc.LotJourney(ctx, s.coop, s.boxes)
		if err != nil || len(j.Orders) != 3 || len(j.Own) != 0 {
			t.Fatalf("the owner's journey = %+v, %v", j, err)
		}
		if os, err := s.svc.Orders(ctx, s.platform, s.boxes, trace.Page{Limit: 10}); err != nil || len(os) != 3 {
			t.Fatalf("the platform's orders = %d, %v", len(os), err)
		}
		if os, err := s.svc.Orders(ctx, s.rival, s.boxes, trace.Page{Limit: 10}); err != nil || len(os) != 0 {
			t.Fatalf("the rival's orders = %d, %v", len(os), err)
		}
		if _, err := s.svc.Order(ctx, s.rival, first.Order.ID); trace.KindOf(err) != trace.KindNotFound {
			t.Fatalf("the rival reads an order: %v", err)
		}

		// An ended channel refuses orders placed after it ended.
		if _, err := s.svc.EndChannel(ctx, s.coop, s.platform.PartyID); err != nil {
			t.Fatal(err)
		}
		late := order("GNYP-9", s.boxes)
		late.Time = now.Format(time.RFC3339)
		_, err = link(s.platform, late)
		wantErr(t, err, trace.KindForbidden, "forbidden", "items[0].lot")
		early := order("GNYP-8", s.boxes)
		if _, err := link(s.platform, early); err != nil {
			t.Fatalf("an order placed while the channel was open: %v", err)
		}
	})
}

func TestNotifyRecall(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db sqldb.DB) {
		s := newShop(t, db)
		ctx := context.Background()
		if _, err := s.svc.GrantChannel(ctx, s.coop, s.platform.PartyID); err != nil {
			t.Fatal(err)
		}
		for _, n := range []string{"GNYP-1", "GNYP-2"} {
			if _, err := s.svc.LinkOrder(ctx, s.platform, order(n, s.boxes)); err != nil {
				t.Fatal(err)
			}
		}
		insp := trace.Actor{UserID: 9, Roles: []trace.Role{trace.RoleInspector}}
		recall := trace.RecallNotice{Ref: "recall:1", Lots: []int64{s.raw}, Reason: "抽检不合格：克百威超标"}
		if _, err := s.svc.NotifyRecall(ctx, s.other, recall); trace.KindOf(err) != trace.KindForbidden {
			t.Fatalf("a stranger recalls: %v", err)
		}
		// The raw lot was sold as boxes: the platform hears of it.
		n, err := s.svc.NotifyRecall(ctx, insp, recall)
		if err != nil || n != 1 {
			t.Fatalf("recall queued %d, %v; want 1", n, err)
		}
		if n, err := s.svc.NotifyRecall(ctx, s.coop, recall); err != nil || n != 0 {
			t.Fatalf("announcing the recall again queued %d, %v", n, err)
		}
		ds, err := s.svc.Deliveries(ctx, s.platform, trace.Page{Limit: 10})
		if err != nil || len(ds) != 1 || ds[0].State() != "pending" || ds[0].Event != "lot_recalled" {
			t.Fatalf("deliveries = %+v, %v", ds, err)
		}
		var m trace.RecallMessage
		if err := json.Unmarshal(ds[0].Body, &m); err != nil {
			t.Fatal(err)
		}
		if m.Ref != "recall:1" || len(m.Lots) != 1 || m.Lots[0].ID != s.boxes || m.Lots[0].Code != "XW-301-B" || len(m.Orders) != 2 || m.Reason == "" {
			t.Fatalf("message = %+v", m)
		}
		if ds, _ := s.svc.Deliveries(ctx, s.rival, trace.Page{Limit: 10}); len(ds) != 0 {
			t.Fatalf("the rival, who sold nothing, hears of it: %+v", ds)
		}
	})
}
