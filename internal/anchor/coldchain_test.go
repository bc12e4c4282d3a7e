package anchor_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ganpin/ganpin/internal/anchor"
	"github.com/ganpin/ganpin/internal/sqldb"
	"github.com/ganpin/ganpin/internal/store"
	"github.com/ganpin/ganpin/internal/testdb"
	"github.com/ganpin/ganpin/trace"
)

// TestAuditColdChain seals a leg and links an order, then alters and deletes their
// rows behind the system's back: the audit names each.
func TestAuditColdChain(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db sqldb.DB) {
		ctx := context.Background()
		st, err := store.New(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		svc := trace.NewService(st, nil)
		admin := trace.Actor{Roles: []trace.Role{trace.RoleAdmin}}
		party := func(kind trace.PartyKind, uscc17 string, role trace.Role) trace.Actor {
			c, _ := trace.USCCCheck(uscc17)
			p := &trace.Party{Kind: kind, Name: "主体" + uscc17[12:16], USCC: uscc17 + string(c), County: "360734"}
			if err := svc.CreateParty(ctx, admin, p); err != nil {
				t.Fatal(err)
			}
			return trace.Actor{UserID: p.ID, PartyID: p.ID, Roles: []trace.Role{role}}
		}
		coop := party(trace.Cooperative, "93360734MA35XW001", trace.RoleProducerAdmin)
		cold := party(trace.Logistics, "91360702MA35LL001", trace.RoleLogistics)
		shop := party(trace.Platform, "91360702MA35GNYP1", trace.RolePlatform)
		orchard := &trace.Site{Kind: trace.Orchard, Name: "1号地块", County: "360734", AreaMu: 50, Lat: 24.95, Lon: 115.65}
		store := &trace.Site{Kind: trace.ColdStore, Name: "冷库", County: "360702"}
		fruit := &trace.Product{Name: "赣南脐橙", Unit: trace.Kg}
		for _, err := range []error{svc.CreateSite(ctx, coop, orchard), svc.CreateSite(ctx, cold, store), svc.CreateProduct(ctx, coop, fruit)} {
			if err != nil {
				t.Fatal(err)
			}
		}
		at := func(h int) string { return time.Now().Add(time.Duration(-h) * time.Hour).Format(time.RFC3339) }
		capture := func(a trace.Actor, spec trace.EventSpec) *trace.Event {
			evs, err := svc.Capture(ctx, a, []trace.EventSpec{spec})
			if err != nil {
				t.Fatal(err)
			}
			return evs[0]
		}
		lot := capture(coop, trace.EventSpec{Type: trace.Harvest, Time: at(10), Site: orchard.ID,
			Harvest: &trace.HarvestSpec{Lot: trace.NewLotSpec{Code: "XW-1", Product: fruit.ID, Quantity: 1000, Unit: trace.Kg}}}).Lots[0].Lot
		ship := capture(coop, trace.EventSpec{Type: trace.Shipping, Time: at(8), Site: orchard.ID, Shipping: &trace.ShippingSpec{Lots: []int64{lot}, To: store.ID}})
		capture(cold, trace.EventSpec{Type: trace.Receiving, Time: at(5), Site: store.ID, Receiving: &trace.ReceivingSpec{Lots: []int64{lot}}})
		d := &trace.Device{Serial: "TT18-1"}
		if err := svc.RegisterDevice(ctx, cold, d); err != nil {
			t.Fatal(err)
		}
		from := time.Now().Add(-8 * time.Hour)
		if err := svc.Assign(ctx, cold, &trace.Assignment{DeviceID: d.ID, Shipment: ship.ID, From: from}); err != nil {
			t.Fatal(err)
		}
		var rs []trace.Reading
		for i := range 18 {
			rs = append(rs, trace.Reading{Time: from.Add(time.Duration(i) * 10 * time.Minute), Temp: 6.5, Humidity: 90})
		}
		if _, err := svc.Ingest(ctx, cold, d.ID, rs); err != nil {
			t.Fatal(err)
		}
		sum, err := svc.SealLeg(ctx, cold, ship.ID)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.GrantChannel(ctx, coop, shop.PartyID); err != nil {
			t.Fatal(err)
		}
		o, err := svc.LinkOrder(ctx, shop, trace.OrderSpec{Number: "A-1", Channel: "小程序", Time: at(1),
			Destination: trace.Destination{Province: "310000", City: "310100"}, Items: []trace.OrderItem{{Lot: lot, Quantity: 5}}})
		if err != nil {
			t.Fatal(err)
		}
		audit := func() []string {
			t.Helper()
			var found []string
			if _, err := anchor.Audit(ctx, db, nil, func(s string) { found = append(found, s) }); err != nil {
				t.Fatal(err)
			}
			return found
		}
		if found := audit(); len(found) != 0 {
			t.Fatalf("an untouched database: %v", found)
		}
		db.Exec(ctx, `UPDATE leg_summaries SET body = $2 WHERE id = $1`, sum.ID, []byte(strings.Replace(string(sum.Canonical), `"min":6.5`, `"min":5.5`, 1)))
		db.Exec(ctx, `DELETE FROM orders WHERE id = $1`, o.Order.ID)
		found := audit()
		if len(found) != 2 || !strings.Contains(found[0], "leg_summary") || !strings.Contains(found[0], "altered") ||
			!strings.Contains(found[1], "order") || !strings.Contains(found[1], "deleted") {
			t.Fatalf("the audit found %q", found)
		}
	})
}
