package cert_test

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ganpin/ganpin/cert"
	"github.com/ganpin/ganpin/internal/sqldb"
	"github.com/ganpin/ganpin/internal/store"
	"github.com/ganpin/ganpin/internal/testdb"
	"github.com/ganpin/ganpin/trace"
)

var now = time.Date(2026, 11, 25, 10, 0, 0, 0, time.FixedZone("CST", 8*3600))

// world is a cooperative with an orchard, a packhouse and two products, a stranger
// cooperative, a logistics firm and an inspector.
type world struct {
	svc                         *trace.Service
	certs                       *cert.Service
	keys                        *cert.Keys
	admin, coop, other, insp    trace.Actor
	cold                        trace.Actor
	orchard, packhouse, otherOr *trace.Site
	fruit, box                  *trace.Product
}

func newWorld(t *testing.T, db sqldb.DB) *world {
	t.Helper()
	ctx := context.Background()
	st, err := store.New(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	keys, err := cert.LoadKeys(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	clock := func() time.Time { return now }
	w := &world{svc: trace.NewService(st, clock), keys: keys}
	w.certs = cert.NewService(cert.Config{Store: st, Keys: keys, Now: clock, Missing: func(s string) []rune {
		var m []rune
		for _, r := range s {
			if r > 0xFFFF { // stands in for the font's character map
				m = append(m, r)
			}
		}
		return m
	}})
	w.admin = trace.Actor{UserID: 1, Roles: []trace.Role{trace.RoleAdmin}}
	party := func(kind trace.PartyKind, name, uscc17, county string, role trace.Role) trace.Actor {
		c, _ := trace.USCCCheck(uscc17)
		p := &trace.Party{Kind: kind, Name: name, USCC: uscc17 + string(c), County: county, Contact: "0797-0000000"}
		if err := w.svc.CreateParty(ctx, w.admin, p); err != nil {
			t.Fatal(err)
		}
		return trace.Actor{UserID: p.ID + 10, PartyID: p.ID, Roles: []trace.Role{role}}
	}
	w.coop = party(trace.Cooperative, "寻乌县果农脐橙专业合作社", "93360734MA35XW001", "360734", trace.RoleProducerAdmin)
	w.other = party(trace.Cooperative, "安远县脐橙专业合作社", "93360726MA35AY001", "360726", trace.RoleProducerAdmin)
	w.cold = party(trace.Logistics, "赣州冷链物流有限公司", "91360702MA35LL001", "360702", trace.RoleLogistics)
	w.insp = party(trace.Regulator, "赣州市市场监督管理局", "11360700MB1234560", "360702", trace.RoleInspector)
	site := func(a trace.Actor, s *trace.Site) *trace.Site {
		if err := w.svc.CreateSite(ctx, a, s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	w.orchard = site(w.coop, &trace.Site{Kind: trace.Orchard, Name: "澄江镇1号地块", County: "360734", Town: "澄江镇", AreaMu: 50, Lat: 24.95, Lon: 115.65})
	w.packhouse = site(w.coop, &trace.Site{Kind: trace.Packhouse, Name: "合作社分选中心", County: "360734"})
	w.otherOr = site(w.other, &trace.Site{Kind: trace.Orchard, Name: "安远1号地块", County: "360726", Town: "鹤子镇", AreaMu: 30, Lat: 25.1, Lon: 115.4})
	prod := func(p *trace.Product) *trace.Product {
		if err := w.svc.CreateProduct(ctx, w.coop, p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	w.fruit = prod(&trace.Product{Name: "赣南脐橙", Variety: "纽荷尔", Unit: trace.Kg})
	w.box = prod(&trace.Product{Name: "赣南脐橙 5kg礼盒", GTIN: "6901234567892", Unit: trace.Box, NetKg: 5})
	return w
}

func at(days int) string { return now.AddDate(0, 0, days).Format(time.RFC3339) }

func (w *world) capture(t *testing.T, a trace.Actor, specs ...trace.EventSpec) []*trace.Event {
	t.Helper()
	evs, err := w.svc.Capture(context.Background(), a, specs)
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

// harvest picks a lot of kg from the orchard at day days and returns its ID.
func (w *world) harvest(t *testing.T, a trace.Actor, site *trace.Site, days int, code string, kg float64) int64 {
	t.Helper()
	e := w.capture(t, a, trace.EventSpec{Type: trace.Harvest, Time: at(days), Site: site.ID,
		Harvest: &trace.HarvestSpec{Lot: trace.NewLotSpec{Code: code, Product: w.fruit.ID, Quantity: kg, Unit: trace.Kg}}})
	return e[0].Lots[0].Lot
}

func application(site int64, days, phi int) trace.EventSpec {
	return trace.EventSpec{Type: trace.InputApplication, Time: at(days), Site: site, Input: &trace.InputSpec{
		ProductName: "10%苯醚甲环唑水分散粒剂", RegistrationNo: "PD20102345", ActiveIngredient: "苯醚甲环唑", Dose: "1500倍液", PHIDays: phi}}
}

func request(lot int64, kg float64) cert.Request {
	return cert.Request{Lot: lot, Quantity: kg, Contact: "0797-4000000", Template: cert.Producer, Basis: cert.QualityControl}
}

func wantErr(t *testing.T, err error, kind trace.Kind, code, field string) {
	t.Helper()
	var e *trace.Error
	if !errors.As(err, &e) || e.Kind != kind || e.Code != code || e.Field != field || e.ZH == "" {
		t.Fatalf("error = %v, want kind %d code %q field %q", err, kind, code, field)
	}
}

func count(t *testing.T, db sqldb.DB, query string) int {
	t.Helper()
	var n int
	if err := db.QueryRow(context.Background(), query).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestIssue(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db sqldb.DB) {
		ctx := context.Background()
		w := newWorld(t, db)
		lot := w.harvest(t, w.coop, w.orchard, -1, "XW-001", 1000)

		preview, err := w.certs.Preview(ctx, w.coop, request(lot, 800))
		if err != nil {
			t.Fatal(err)
		}
		if preview.Serial != "" || count(t, db, `SELECT COUNT(*) FROM certificates`) != 0 {
			t.Fatalf("a preview stored a certificate or got a serial: %q", preview.Serial)
		}
		c, err := w.certs.Issue(ctx, w.coop, request(lot, 800))
		if err != nil {
			t.Fatal(err)
		}
		if !regexp.MustCompile(`^GP26\d{8}$`).MatchString(c.Serial) {
			t.Errorf("serial %q", c.Serial)
		}
		for got, want := range map[string]string{c.Product: "赣南脐橙 纽荷尔", c.Origin: "江西省赣州市寻乌县澄江镇", c.Producer: "寻乌县果农脐橙专业合作社", c.LotCode: "XW-001", string(c.Unit): "kg"} {
			if got != want {
				t.Errorf("got %q, want %q", got, want)
			}
		}
		if !c.Verify(w.keys.Public(w.coop.PartyID), c.Signature) || c.Verify(w.keys.Public(w.other.PartyID), c.Signature) {
			t.Error("the signature is not the issuing party's")
		}
		stored, err := w.certs.Certificate(ctx, w.coop, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if string(stored.Canonical) != string(c.Canonical) || stored.Status() != "valid" || stored.Serial != c.Serial {
			t.Fatalf("stored certificate differs:\n%s\n%s", stored.Canonical, c.Canonical)
		}
		if n := count(t, db, `SELECT COUNT(*) FROM log_leaves WHERE kind = 'certificate'`); n != 1 {
			t.Fatalf("%d certificate leaves, want 1", n)
		}
		if _, err := w.certs.Certificate(ctx, w.other, c.ID); trace.KindOf(err) != trace.KindNotFound {
			t.Fatalf("another party reads the certificate: %v", err)
		}
		if got, err := w.certs.BySerial(ctx, c.Serial); err != nil || got.ID != c.ID {
			t.Fatalf("BySerial = %v, %v", got, err)
		}
		list, err := w.certs.Certificates(ctx, w.other, cert.Filter{}, trace.Page{})
		if err != nil || len(list) != 0 {
			t.Fatalf("another party lists %d certificates (%v)", len(list), err)
		}
	})
}

func TestIssueRefusals(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db sqldb.DB) {
		ctx := context.Background()
		w := newWorld(t, db)
		lot := w.harvest(t, w.coop, w.orchard, -1, "XW-001", 1000)
		otherLot := w.harvest(t, w.other, w.otherOr, -1, "AY-001", 500)
		certified := w.harvest(t, w.coop, w.orchard, -1, "XW-002", 100)
		if _, err := w.certs.Issue(ctx, w.coop, request(certified, 100)); err != nil {
			t.Fatal(err)
		}
		// A lot whose harvest an application recorded afterwards puts inside its interval.
		early := w.harvest(t, w.coop, w.packhouseOrchard(t), -2, "XW-003", 100)
		w.capture(t, w.coop, application(w.packhouseOrchard(t).ID, -5, 14))
		failed := w.harvest(t, w.coop, w.orchard, -1, "XW-004", 100)
		w.capture(t, w.coop, trace.EventSpec{Type: trace.SelfTest, Time: at(0), Site: w.orchard.ID,
			SelfTest: &trace.SelfTestSpec{Lot: failed, Method: "农药残留速测卡", Passed: false}})

		cases := []struct {
			name        string
			actor       trace.Actor
			edit        func(r *cert.Request)
			kind        trace.Kind
			code, field string
		}{
			{"zero quantity", w.coop, func(r *cert.Request) { r.Quantity = 0 }, trace.KindInvalid, "invalid_quantity", "quantity"},
			{"negative quantity", w.coop, func(r *cert.Request) { r.Quantity = -5 }, trace.KindInvalid, "invalid_quantity", "quantity"},
			{"more than is left", w.coop, func(r *cert.Request) { r.Quantity = 1000.5 }, trace.KindInvalid, "exceeds_remaining", "quantity"},
			{"more than is left in another unit", w.coop, func(r *cert.Request) { r.Quantity, r.Unit = 2.5, trace.Tonne }, trace.KindInvalid, "exceeds_remaining", "quantity"},
			{"unknown unit", w.coop, func(r *cert.Request) { r.Unit = "担" }, trace.KindInvalid, "unknown_unit", "unit"},
			{"no commitment", w.coop, func(r *cert.Request) { r.Template = "" }, trace.KindInvalid, "no_commitment", "template"},
			{"test basis without a report", w.coop, func(r *cert.Request) { r.Basis = cert.SelfTested }, trace.KindInvalid, "report_required", "report"},
			{"unprintable text", w.coop, func(r *cert.Request) { r.Contact = "电话 0797 😀" }, trace.KindInvalid, "unprintable", "contact"},
			{"too many unit serials", w.coop, func(r *cert.Request) { r.Units = cert.MaxUnits + 1 }, trace.KindInvalid, "invalid_units", "units"},
			{"another party's lot", w.coop, func(r *cert.Request) { r.Lot = otherLot }, trace.KindForbidden, "forbidden", "lot"},
			{"unknown lot", w.coop, func(r *cert.Request) { r.Lot = 999999 }, trace.KindNotFound, "not_found", "lot"},
			{"a carrier", w.cold, func(r *cert.Request) {}, trace.KindForbidden, "forbidden", ""},
			{"already certified", w.coop, func(r *cert.Request) { r.Lot, r.Quantity = certified, 10 }, trace.KindConflict, "already_certified", "lot"},
			{"harvest inside a pre-harvest interval", w.coop, func(r *cert.Request) { r.Lot, r.Quantity = early, 10 }, trace.KindInvalid, "pre_harvest_interval", "lot"},
			{"failed self-test", w.coop, func(r *cert.Request) { r.Lot, r.Quantity = failed, 10 }, trace.KindInvalid, "failed_self_test", "lot"},
		}
		certs, leaves := count(t, db, `SELECT COUNT(*) FROM certificates`), count(t, db, `SELECT COUNT(*) FROM log_leaves`)
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				r := request(lot, 500)
				tc.edit(&r)
				_, err := w.certs.Issue(ctx, tc.actor, r)
				wantErr(t, err, tc.kind, tc.code, tc.field)
				if _, perr := w.certs.Preview(ctx, tc.actor, r); trace.KindOf(perr) != tc.kind {
					t.Errorf("preview = %v, want the same refusal", perr)
				}
			})
		}
		if c, l := count(t, db, `SELECT COUNT(*) FROM certificates`), count(t, db, `SELECT COUNT(*) FROM log_leaves`); c != certs || l != leaves {
			t.Fatalf("refusals wrote: certificates %d → %d, leaves %d → %d", certs, c, leaves, l)
		}
	})
}

// packhouseOrchard returns a second orchard of the cooperative, created on first use.
func (w *world) packhouseOrchard(t *testing.T) *trace.Site {
	t.Helper()
	sites, err := w.svc.Sites(context.Background(), w.coop, trace.Page{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range sites {
		if sites[i].Name == "澄江镇2号地块" {
			return &sites[i]
		}
	}
	s := &trace.Site{Kind: trace.Orchard, Name: "澄江镇2号地块", County: "360734", Town: "澄江镇", AreaMu: 20, Lat: 24.96, Lon: 115.66}
	if err := w.svc.CreateSite(context.Background(), w.coop, s); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestPackedLotAndUnitSerials(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db sqldb.DB) {
		ctx := context.Background()
		w := newWorld(t, db)
		a := w.harvest(t, w.coop, w.orchard, -3, "XW-010", 600)
		b := w.harvest(t, w.coop, w.packhouseOrchard(t), -3, "XW-011", 600)
		ev := w.capture(t, w.coop, trace.EventSpec{Type: trace.Transformation, Time: at(-1), Site: w.packhouse.ID, Transformation: &trace.TransformationSpec{
			Inputs:  []trace.LotQuantity{{Lot: a, Quantity: 600}, {Lot: b, Quantity: 400}},
			Outputs: []trace.NewLotSpec{{Code: "XW-5K-01", Product: w.box.ID, Quantity: 200, Unit: trace.Box}}}})
		boxes := ev[0].Lots[len(ev[0].Lots)-1].Lot
		r := request(boxes, 200)
		r.Units = 201
		_, err := w.certs.Issue(ctx, w.coop, r)
		wantErr(t, err, trace.KindInvalid, "too_many_units", "units")
		r.Units = 200
		c, err := w.certs.Issue(ctx, w.coop, r)
		if err != nil {
			t.Fatal(err)
		}
		if c.Origin != "江西省赣州市寻乌县澄江镇" || c.GTIN != "06901234567892" || c.Unit != trace.Box {
			t.Fatalf("origin %q, GTIN %q, unit %q", c.Origin, c.GTIN, c.Unit)
		}
		if got := c.URL("https://t.example.cn", 200); got != "https://t.example.cn/01/06901234567892/10/XW-5K-01/21/000200" {
			t.Fatalf("unit URL %s", got)
		}
		// 400 kg of the second harvest are left, and that lot needs no packing to be certified.
		_, err = w.certs.Issue(ctx, w.coop, request(b, 400.5))
		wantErr(t, err, trace.KindInvalid, "exceeds_remaining", "quantity")
	})
}

func TestRevoke(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db sqldb.DB) {
		ctx := context.Background()
		w := newWorld(t, db)
		lot := w.harvest(t, w.coop, w.orchard, -1, "XW-001", 1000)
		c, err := w.certs.Issue(ctx, w.coop, request(lot, 1000))
		if err != nil {
			t.Fatal(err)
		}
		_, err = w.certs.Revoke(ctx, w.coop, c.ID, "  ")
		wantErr(t, err, trace.KindInvalid, "required", "reason")
		_, err = w.certs.Revoke(ctx, w.other, c.ID, "恶意撤销")
		wantErr(t, err, trace.KindNotFound, "not_found", "")
		_, err = w.certs.Revoke(ctx, w.cold, c.ID, "恶意撤销")
		wantErr(t, err, trace.KindNotFound, "not_found", "")
		if n := count(t, db, `SELECT COUNT(*) FROM revocations`); n != 0 {
			t.Fatalf("refused revocations wrote %d rows", n)
		}

		r, err := w.certs.Revoke(ctx, w.coop, c.ID, "数量填写错误")
		if err != nil {
			t.Fatal(err)
		}
		if r.Status() != "revoked" || r.StatusZH() != "已撤销" || r.Revocation.Reason != "数量填写错误" || r.Revocation.Regulator {
			t.Fatalf("revocation %+v", r.Revocation)
		}
		got, err := w.certs.Certificate(ctx, w.coop, c.ID)
		if err != nil || got.Revocation == nil || !strings.Contains(string(got.Revocation.Canonical()), `"record":"revocation"`) {
			t.Fatalf("stored revocation %+v, %v", got, err)
		}
		_, err = w.certs.Revoke(ctx, w.insp, c.ID, "抽检不合格")
		wantErr(t, err, trace.KindConflict, "already_revoked", "")
		_, err = w.certs.Issue(ctx, w.coop, request(lot, 10))
		wantErr(t, err, trace.KindConflict, "lot_revoked", "lot")

		// An inspector revokes any certificate, as the regulator.
		lot2 := w.harvest(t, w.coop, w.orchard, -1, "XW-002", 100)
		c2, err := w.certs.Issue(ctx, w.coop, request(lot2, 100))
		if err != nil {
			t.Fatal(err)
		}
		r2, err := w.certs.Revoke(ctx, w.insp, c2.ID, "抽检不合格：联苯菊酯超标")
		if err != nil || !r2.Revocation.Regulator {
			t.Fatalf("inspector's revocation %+v, %v", r2, err)
		}
		if n := count(t, db, `SELECT COUNT(*) FROM log_leaves WHERE kind = 'revocation'`); n != 2 {
			t.Fatalf("%d revocation leaves, want 2", n)
		}
	})
}
