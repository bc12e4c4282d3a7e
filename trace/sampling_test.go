package trace_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ganpin/ganpin/cert"
	"github.com/ganpin/ganpin/internal/sqldb"
	"github.com/ganpin/ganpin/internal/testdb"
	"github.com/ganpin/ganpin/trace"
)

// bureau is a world with a 赣州市 market-regulation bureau, a 深圳 one, a sales
// platform with an order, and a harvest packed into two certified box lots.
type bureau struct {
	*world
	db               sqldb.DB
	certs            *cert.Service
	insp             *trace.Inspection
	inspector, far   trace.Actor
	platform         trace.Actor
	raw, boxA, boxB  int64
	serialA, serialB string
	unrelated        int64 // a lot of the same orchard, harvested earlier
}

func party(t *testing.T, w *world, kind trace.PartyKind, name, uscc17, county string) int64 {
	t.Helper()
	c, _ := trace.USCCCheck(uscc17)
	p := &trace.Party{Kind: kind, Name: name, USCC: uscc17 + string(c), County: county}
	if err := w.svc.CreateParty(context.Background(), w.admin, p); err != nil {
		t.Fatal(err)
	}
	return p.ID
}

func newBureau(t *testing.T, db sqldb.DB) *bureau {
	t.Helper()
	ctx := context.Background()
	b := &bureau{world: newWorld(t, db), db: db}
	// The bureau sits in 章贡区 but was registered by 赣州市 (USCC division 360700).
	b.inspector = trace.Actor{UserID: 7, PartyID: party(t, b.world, trace.Regulator, "赣州市市场监督管理局", "11360700MB1530JJ1", "360702"), Roles: []trace.Role{trace.RoleInspector}}
	b.far = trace.Actor{UserID: 8, PartyID: party(t, b.world, trace.Regulator, "深圳市南山区市场监督管理局", "11440305MB2C1234X", "440305"), Roles: []trace.Role{trace.RoleInspector}}
	b.platform = trace.Actor{UserID: 9, PartyID: party(t, b.world, trace.Platform, "赣南优品电商平台有限公司", "91360702MA35GNYP1", "360702"), Roles: []trace.Role{trace.RolePlatform}}
	keys, err := cert.LoadKeys(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	b.certs = cert.NewService(cert.Config{Store: b.st, Keys: keys, Now: func() time.Time { return now }})
	b.insp = b.inspection(t, b.svc)

	b.mustCapture(t, b.coop, application(b.orchard.ID, -40, 14))
	b.unrelated = b.mustCapture(t, b.coop, harvest(b.orchard.ID, -20, "XW-EARLY", b.fruit.ID, 500))[0].Lots[0].Lot
	b.raw = b.mustCapture(t, b.coop, harvest(b.orchard.ID, -6, "XW-101", b.fruit.ID, 1000))[0].Lots[0].Lot
	p := b.mustCapture(t, b.coop, trace.EventSpec{Type: trace.Transformation, Time: at(-6), Site: b.packhouse.ID,
		Transformation: &trace.TransformationSpec{Inputs: []trace.LotQuantity{{Lot: b.raw, Quantity: 960}},
			Outputs: []trace.NewLotSpec{{Code: "XW-101-A", Product: b.box.ID, Quantity: 100, Unit: trace.Box}, {Code: "XW-101-B", Product: b.box.ID, Quantity: 90, Unit: trace.Box}}}})[0]
	b.boxA, b.boxB = p.Lots[1].Lot, p.Lots[2].Lot
	for _, l := range []struct {
		lot    int64
		serial *string
	}{{b.boxA, &b.serialA}, {b.boxB, &b.serialB}} {
		c, err := b.certs.Issue(ctx, b.coop, cert.Request{Lot: l.lot, Quantity: 10, Template: cert.Producer, Basis: cert.QualityControl})
		if err != nil {
			t.Fatal(err)
		}
		*l.serial = c.Serial
	}
	if _, err := b.svc.GrantChannel(ctx, b.coop, b.platform.PartyID); err != nil {
		t.Fatal(err)
	}
	_, err = b.svc.LinkOrder(ctx, b.platform, trace.OrderSpec{Number: "GNYP-1", Channel: "赣南优品小程序", Time: at(-1),
		Destination: trace.Destination{Province: "310000", City: "310100", District: "310115"}, Items: []trace.OrderItem{{Lot: b.boxB, Quantity: 2}}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// inspection returns an inspection service over svc that revokes through b.certs.
func (b *bureau) inspection(t *testing.T, svc *trace.Service) *trace.Inspection {
	t.Helper()
	in, err := trace.NewInspection(trace.InspectionConfig{Service: svc, Revoke: func(ctx context.Context, a trace.Actor, serial, reason string) error {
		c, err := b.certs.BySerial(ctx, serial)
		if err == nil {
			_, err = b.certs.Revoke(ctx, a, c.ID, reason)
		}
		return err
	}})
	if err != nil {
		t.Fatal(err)
	}
	return in
}

// sample is a valid sampling record of lot, taken in 南康区 two days ago.
func sample(number string, lot int64) trace.SamplingSpec {
	return trace.SamplingSpec{Number: number, TaskSource: "赣州市2026年食用农产品监督抽检计划", TaskType: trace.TaskSupervision, Stage: trace.StageCirculation,
		Place: trace.Place{Name: "南康区农产品批发市场12号摊位", County: "360703"}, Time: at(-2), Agency: "赣州市市场监督管理局",
		Samplers: []string{"王抽检", "李抽检"}, Sampled: trace.Entity{Name: "南康区鲜果批发部"}, Producer: trace.Entity{Name: "寻乌县果农脐橙专业合作社"},
		Sample: trace.Sample{Name: "赣南脐橙", Commodity: "橙", Unit: trace.Kg, Base: 200, Quantity: 3, Backup: 3}, Lot: lot}
}

func report(number string, items ...trace.ItemSpec) trace.ReportSpec {
	return trace.ReportSpec{Number: number, Lab: "江西省食品检验检测研究院", Issued: now.Format(time.DateOnly), Items: items}
}

func item(name, result string) trace.ItemSpec {
	return trace.ItemSpec{Item: name, Result: result, Unit: "mg/kg", DetectionLimit: 0.005, Method: "GB 23200.113-2018"}
}

func TestSamplingBadInput(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db sqldb.DB) {
		b := newBureau(t, db)
		ctx := context.Background()
		rec := func(a trace.Actor, edit func(*trace.SamplingSpec), photos ...trace.Photo) error {
			sp := sample("GZ-2026-001", b.boxA)
			if edit != nil {
				edit(&sp)
			}
			_, err := b.insp.RecordSampling(ctx, a, sp, photos)
			return err
		}
		wantErr(t, rec(b.inspector, func(sp *trace.SamplingSpec) { sp.Samplers = sp.Samplers[:1] }), trace.KindInvalid, "too_few_samplers", "samplers")
		wantErr(t, rec(b.inspector, func(sp *trace.SamplingSpec) { sp.Samplers[1] = sp.Samplers[0] }), trace.KindInvalid, "duplicate_sampler", "samplers[1]")
		wantErr(t, rec(b.inspector, func(sp *trace.SamplingSpec) { sp.Sample.Quantity = -1 }), trace.KindInvalid, "invalid_quantity", "sample.quantity")
		wantErr(t, rec(b.inspector, func(sp *trace.SamplingSpec) { sp.Sample.Backup = 0 }), trace.KindInvalid, "required", "sample.backup")
		wantErr(t, rec(b.inspector, func(sp *trace.SamplingSpec) { sp.Sample.Base = 4 }), trace.KindInvalid, "exceeds_base", "sample.base")
		wantErr(t, rec(b.inspector, func(sp *trace.SamplingSpec) { sp.Stage = "market" }), trace.KindInvalid, "invalid_stage", "stage")
		wantErr(t, rec(b.inspector, func(sp *trace.SamplingSpec) { sp.Lot = 9999 }), trace.KindNotFound, "not_found", "lot")
		wantErr(t, rec(b.inspector, func(sp *trace.SamplingSpec) { sp.Certificate = b.serialA; sp.Lot = b.boxB }), trace.KindInvalid, "certificate_of_other_lot", "certificate")
		wantErr(t, rec(b.inspector, nil, trace.Photo("GIF89a not a photo we take")), trace.KindInvalid, "not_an_image", "photos[0]")
		wantErr(t, rec(b.inspector, nil, append(trace.Photo{0xFF, 0xD8, 0xFF}, make([]byte, trace.MaxPhotoBytes)...)), trace.KindTooLarge, "photo_too_large", "photos[0]")
		// A producer may not write sampling records; an inspector only in its jurisdiction.
		wantErr(t, rec(b.coop, nil), trace.KindForbidden, "forbidden", "")
		wantErr(t, rec(b.far, nil), trace.KindForbidden, "forbidden", "place.county")
		if n := count(t, db, "samplings"); n != 0 {
			t.Fatalf("%d sampling records written by refused requests", n)
		}
		// The first record takes the number; a second one with it is refused.
		if err := rec(b.inspector, nil, trace.Photo("\x89PNG\r\n\x1a\nrest")); err != nil {
			t.Fatal(err)
		}
		wantErr(t, rec(b.inspector, nil), trace.KindConflict, "duplicate_number", "number")
		s, _ := b.insp.Search(ctx, b.inspector, trace.SamplingFilter{}, trace.Page{Limit: 10})
		id := s[0].ID

		rep := func(a trace.Actor, id int64, items ...trace.ItemSpec) error {
			_, err := b.insp.RecordReport(ctx, a, id, report("BG-1", items...))
			return err
		}
		bad := item("克百威", "0.01")
		bad.Unit = "μg/kg"
		wantErr(t, rep(b.inspector, id, bad), trace.KindInvalid, "unit_mismatch", "items[0].unit")
		wantErr(t, rep(b.inspector, id, item("克百威", "-0.01")), trace.KindInvalid, "negative_result", "items[0].result")
		wantErr(t, rep(b.inspector, id, item("啶虫脒", "0.1")), trace.KindInvalid, "unknown_item", "items[0].limit")
		limit := 0.5
		noSource := item("啶虫脒", "0.1")
		noSource.Limit = &limit
		wantErr(t, rep(b.inspector, id, noSource), trace.KindInvalid, "limit_source_required", "items[0].limit_source")
		nd := item("甲拌磷", trace.NotDetected)
		nd.DetectionLimit = 0.02
		wantErr(t, rep(b.inspector, id, nd), trace.KindInvalid, "detection_limit_above_limit", "items[0].detection_limit")
		wantErr(t, rep(b.inspector, id+100, item("克百威", "0.01")), trace.KindNotFound, "not_found", "")
		wantErr(t, rep(b.coop, id, item("克百威", "0.01")), trace.KindForbidden, "forbidden", "")
		wantErr(t, rep(b.far, id, item("克百威", "0.01")), trace.KindForbidden, "forbidden", "")
		if n := count(t, db, "sampling_reports"); n != 0 {
			t.Fatalf("%d reports written by refused requests", n)
		}
		// A producer cannot alter the record either: it may read it (its lot), no more.
		if _, err := b.insp.RecordAction(ctx, b.coop, id, trace.ActionSpec{Kind: trace.ActionPublication, Date: now.Format(time.DateOnly)}); trace.KindOf(err) != trace.KindForbidden {
			t.Fatalf("producer's action: %v", err)
		}
		if _, err := b.insp.Dossier(ctx, b.coop, id); err != nil {
			t.Fatalf("producer reads its lot's sampling: %v", err)
		}
		if _, err := b.insp.Dossier(ctx, b.other, id); trace.KindOf(err) != trace.KindNotFound {
			t.Fatalf("another producer reads the sampling: %v", err)
		}
		if _, err := b.insp.Dossier(ctx, b.far, id); trace.KindOf(err) != trace.KindForbidden {
			t.Fatalf("an inspector outside the jurisdiction reads the sampling: %v", err)
		}
	})
}

func TestSamplingFailureRevokesAndRecalls(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db sqldb.DB) {
		b := newBureau(t, db)
		ctx := context.Background()
		s, err := b.insp.RecordSampling(ctx, b.inspector, sample("GZ-2026-002", 0), nil)
		if err != nil {
			t.Fatal(err)
		}
		// The certificate on the box names the lot.
		sp := sample("GZ-2026-003", 0)
		sp.Certificate = b.serialA
		s2, err := b.insp.RecordSampling(ctx, b.inspector, sp, nil)
		if err != nil {
			t.Fatal(err)
		}
		if s2.LotID != b.boxA {
			t.Fatalf("lot from certificate = %d, want %d", s2.LotID, b.boxA)
		}
		if want := trace.AddWorkingDays(s2.Time, 20); !s2.ReportDue.Equal(want) {
			t.Fatalf("report due %v, want %v", s2.ReportDue, want)
		}
		// Passing: no marks.
		out, err := b.insp.RecordReport(ctx, b.inspector, s.ID, report("BG-2", item("克百威", trace.NotDetected), item("2,4-D", "0.5")))
		if err != nil {
			t.Fatal(err)
		}
		if out.Report.Verdict != trace.Pass || out.Report.Items[1].Item != "2,4-滴" || out.Report.Items[1].LimitConfirmed || !strings.Contains(out.Report.Items[1].LimitSource, "待核实") {
			t.Fatalf("passing report: %+v", out.Report)
		}
		// Failing: 丙溴磷 over its 0.2 mg/kg; an entered limit for an item the table lacks.
		limit := 0.5
		extra := item("啶虫脒", "0.1")
		extra.Limit, extra.LimitSource = &limit, "GB 2763-2026 表A（柑橘类水果）"
		out, err = b.insp.RecordReport(ctx, b.inspector, s2.ID, report("BG-3", item("丙溴磷", "0.35"), item("联苯菊酯", "0.05"), extra))
		if err != nil {
			t.Fatal(err)
		}
		r := out.Report
		if r.Verdict != trace.Fail || r.Items[0].Verdict != trace.Fail || r.Items[1].Verdict != trace.Pass || r.Items[2].Verdict != trace.Pass || r.Items[2].LimitSource != extra.LimitSource || r.Standard != "GB 2763-2026" {
			t.Fatalf("failing report: %+v", r)
		}
		// The sampled box lot and nothing upstream are marked; its certificate revoked
		// with the number, the other box lot's stays valid; the platform is notified.
		if len(out.Marked) != 1 || out.Marked[0] != b.boxA {
			t.Fatalf("marked %v, want [%d]", out.Marked, b.boxA)
		}
		if e := out.Enforcement; e.Err != nil || len(e.Revoked) != 1 || e.Revoked[0] != b.serialA || e.Notified != 0 {
			t.Fatalf("enforcement %+v", e)
		}
		c, _ := b.certs.BySerial(ctx, b.serialA)
		if c.Revocation == nil || !c.Revocation.Regulator || !strings.Contains(c.Revocation.Reason, "GZ-2026-003") {
			t.Fatalf("revocation %+v", c.Revocation)
		}
		if c, _ := b.certs.BySerial(ctx, b.serialB); c.Revocation != nil {
			t.Fatal("the sibling lot's certificate was revoked")
		}
		// The recall list: forward the box lot, backward the orchard, the inputs and the
		// other lots from it (the sibling box lot's raw lot is its source; XW-EARLY too).
		rl, err := b.insp.Recall(ctx, b.inspector, s2.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(rl.Lots) != 1 || len(rl.Certificates) != 1 || !rl.Certificates[0].Revoked || len(rl.Orchards) != 1 || len(rl.Inputs) != 1 {
			t.Fatalf("recall list: lots %d, certificates %+v, orchards %d, inputs %d", len(rl.Lots), rl.Certificates, len(rl.Orchards), len(rl.Inputs))
		}
		if len(rl.Related) != 1 || rl.Related[0].ID != b.unrelated {
			t.Fatalf("related lots %+v, want XW-EARLY", rl.Related)
		}
		// Certificates can no longer be issued for a marked lot.
		l, _ := b.svc.Lot(ctx, b.coop, b.boxA)
		_, err = b.certs.Preview(ctx, b.coop, cert.Request{Lot: l.ID, Quantity: 1, Template: cert.Producer, Basis: cert.QualityControl})
		if trace.KindOf(err) != trace.KindConflict { // already certified and revoked comes first
			t.Fatalf("preview of a revoked lot: %v", err)
		}

		// A failure on the raw lot reaches both box lots, the order and the platform.
		s3, err := b.insp.RecordSampling(ctx, b.inspector, sample("GZ-2026-004", b.raw), nil)
		if err != nil {
			t.Fatal(err)
		}
		out, err = b.insp.RecordReport(ctx, b.inspector, s3.ID, report("BG-4", item("水胺硫磷", "0.05")))
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Marked) != 3 || out.Enforcement.Err != nil || len(out.Enforcement.Revoked) != 1 || out.Enforcement.Revoked[0] != b.serialB || out.Enforcement.Notified != 1 {
			t.Fatalf("raw lot failure: marked %v, enforcement %+v", out.Marked, out.Enforcement)
		}
		rl, err = b.insp.Recall(ctx, b.inspector, s3.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(rl.Lots) != 3 || len(rl.Orders) != 1 || rl.Orders[0].Spec.Number != "GNYP-1" || len(rl.Platforms) != 1 || rl.Platforms[0].ID != b.platform.PartyID {
			t.Fatalf("recall of the raw lot: %d lots, orders %+v, platforms %+v", len(rl.Lots), rl.Orders, rl.Platforms)
		}
		// Enforcing again revokes nothing twice and queues nothing new.
		e, err := b.insp.Enforce(ctx, b.inspector, s3.ID)
		if err != nil || len(e.Revoked) != 0 || e.Notified != 0 || e.Err != nil {
			t.Fatalf("second enforcement %+v, %v", e, err)
		}
		// A lot made from the failed raw lot later cannot be certified; a new harvest can.
		h := b.mustCapture(t, b.coop, harvest(b.orchard.ID, -1, "XW-102", b.fruit.ID, 100))[0].Lots[0].Lot
		_, err = b.certs.Preview(ctx, b.coop, cert.Request{Lot: h, Quantity: 1, Template: cert.Producer, Basis: cert.QualityControl})
		if err != nil {
			t.Fatalf("an unrelated lot is refused: %v", err)
		}
		wantErr(t, b.issueFrom(t, b.raw), trace.KindInvalid, "failed_sampling", "lot")

		// Follow-ups: a re-test request, its report, the disposal, publication.
		today := now.Format(time.DateOnly)
		if _, err := b.insp.RecordAction(ctx, b.inspector, s3.ID, trace.ActionSpec{Kind: trace.ActionDisposal, Date: today}); trace.KindOf(err) != trace.KindInvalid {
			t.Fatalf("disposal without measures: %v", err)
		}
		_, err = b.insp.RecordReport(ctx, b.inspector, s3.ID, trace.ReportSpec{Number: "BG-4R", Lab: "国家果品质量检验检测中心", Issued: today, Retest: true, Items: []trace.ItemSpec{item("水胺硫磷", "0.04")}})
		wantErr(t, err, trace.KindConflict, "no_retest_request", "retest")
		if _, err := b.insp.RecordAction(ctx, b.inspector, s3.ID, trace.ActionSpec{Kind: trace.ActionRetestRequest, Date: today, By: "寻乌县果农脐橙专业合作社"}); err != nil {
			t.Fatal(err)
		}
		_, err = b.insp.RecordAction(ctx, b.inspector, s3.ID, trace.ActionSpec{Kind: trace.ActionRetestRequest, Date: today, By: "again"})
		wantErr(t, err, trace.KindConflict, "already_requested", "kind")
		if _, err := b.insp.RecordReport(ctx, b.inspector, s3.ID, trace.ReportSpec{Number: "BG-4R", Lab: "国家果品质量检验检测中心", Issued: today, Retest: true, Items: []trace.ItemSpec{item("水胺硫磷", "0.04")}}); err != nil {
			t.Fatal(err)
		}
		if _, err := b.insp.RecordAction(ctx, b.inspector, s3.ID, trace.ActionSpec{Kind: trace.ActionDisposal, Date: today, Measures: []string{"封存", "召回"}}); err != nil {
			t.Fatal(err)
		}
		if _, err := b.insp.RecordAction(ctx, b.inspector, s3.ID, trace.ActionSpec{Kind: trace.ActionPublication, Date: today}); err != nil {
			t.Fatal(err)
		}
		d, err := b.insp.Dossier(ctx, b.inspector, s3.ID)
		if err != nil {
			t.Fatal(err)
		}
		// The failed re-test marked the lot repacked from the raw lot since, too.
		if len(d.Reports) != 2 || len(d.Actions) != 3 || d.Sampling.Closed.IsZero() || d.Sampling.Published.IsZero() || len(d.Marked) != 4 {
			t.Fatalf("dossier: %d reports, %d actions, marked %v, closed %v, published %v", len(d.Reports), len(d.Actions), d.Marked, d.Sampling.Closed, d.Sampling.Published)
		}
		pv, err := b.insp.PublishedVerdicts(ctx, b.boxB)
		if err != nil || len(pv) != 1 || pv[0].Number != "GZ-2026-004" || pv[0].Verdict != trace.Fail {
			t.Fatalf("published verdicts %+v, %v", pv, err)
		}
		if n := count(t, db, "webhook_deliveries"); n != 1 {
			t.Fatalf("%d webhook deliveries, want 1", n)
		}
	})
}

// issueFrom captures a packing of lot and returns the error of issuing for its output.
func (b *bureau) issueFrom(t *testing.T, lot int64) error {
	t.Helper()
	p := b.mustCapture(t, b.coop, trace.EventSpec{Type: trace.Transformation, Time: at(0), Site: b.packhouse.ID,
		Transformation: &trace.TransformationSpec{Inputs: []trace.LotQuantity{{Lot: lot, Quantity: 10}},
			Outputs: []trace.NewLotSpec{{Code: "XW-RP-1", Product: b.box.ID, Quantity: 2, Unit: trace.Box}}}})[0]
	_, err := b.certs.Issue(context.Background(), b.coop, cert.Request{Lot: p.Lots[1].Lot, Quantity: 1, Template: cert.Producer, Basis: cert.QualityControl})
	return err
}

func TestSamplingSearchAuditAndOverdue(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db sqldb.DB) {
		b := newBureau(t, db)
		ctx := context.Background()
		mk := func(number, county string, lot int64) *trace.Sampling {
			sp := sample(number, lot)
			sp.Place.County = county
			s, err := b.insp.RecordSampling(ctx, b.inspector, sp, nil)
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
		s1 := mk("S-1", "360703", b.boxA)
		mk("S-2", "360734", 0)
		mk("S-3", "360734", 0)
		if _, err := b.insp.RecordReport(ctx, b.inspector, s1.ID, report("R-1", item("克百威", "0.5"))); err != nil {
			t.Fatal(err)
		}
		search := func(a trace.Actor, f trace.SamplingFilter) []string {
			t.Helper()
			ss, err := b.insp.Search(ctx, a, f, trace.Page{Limit: 10})
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, s := range ss {
				out = append(out, s.Spec.Number)
			}
			return out
		}
		for name, c := range map[string]struct {
			f    trace.SamplingFilter
			want string
		}{
			"all":       {trace.SamplingFilter{}, "S-3 S-2 S-1"},
			"county":    {trace.SamplingFilter{County: "360734"}, "S-3 S-2"},
			"city":      {trace.SamplingFilter{County: "360700"}, "S-3 S-2 S-1"},
			"failed":    {trace.SamplingFilter{Verdict: "不合格"}, "S-1"},
			"pending":   {trace.SamplingFilter{Verdict: "pending"}, "S-3 S-2"},
			"item":      {trace.SamplingFilter{Item: "克百威"}, "S-1"},
			"product":   {trace.SamplingFilter{Product: "脐橙"}, "S-3 S-2 S-1"},
			"party":     {trace.SamplingFilter{Party: "鲜果"}, "S-3 S-2 S-1"},
			"dates":     {trace.SamplingFilter{From: now.AddDate(0, 0, -1)}, ""},
			"lot":       {trace.SamplingFilter{LotID: b.boxA}, "S-1"},
			"wildcards": {trace.SamplingFilter{Product: "%"}, ""},
		} {
			if got := strings.Join(search(b.inspector, c.f), " "); got != c.want {
				t.Errorf("%s: %q, want %q", name, got, c.want)
			}
		}
		// Producers see their own lots' records; others' searches find nothing.
		if got := strings.Join(search(b.coop, trace.SamplingFilter{}), " "); got != "S-1" {
			t.Errorf("producer's search: %q", got)
		}
		if got := search(b.other, trace.SamplingFilter{}); len(got) != 0 {
			t.Errorf("other producer's search: %q", got)
		}
		if got := search(b.far, trace.SamplingFilter{}); len(got) != 0 {
			t.Errorf("深圳 inspector's search: %q", got)
		}
		_, err := b.insp.Search(ctx, b.far, trace.SamplingFilter{County: "360734"}, trace.Page{})
		wantErr(t, err, trace.KindForbidden, "forbidden", "county")
		// Every inspector's search is on the record, append-only.
		log, err := b.insp.AuditLog(ctx, b.inspector, trace.Page{Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		if len(log) != 11 || log[0].Action != "search" || log[0].UserID != b.inspector.UserID {
			t.Fatalf("audit log: %d entries, newest %+v", len(log), log[0])
		}
		if _, err := db.Exec(ctx, `UPDATE inspection_audit SET row_count = 0`); err == nil {
			t.Fatal("the audit log was updated")
		}
		if _, err := db.Exec(ctx, `DELETE FROM inspection_audit`); err == nil {
			t.Fatal("the audit log was deleted")
		}
		// Thirty days on, the unreported samples and the undisposed failure are overdue.
		later := trace.NewService(b.st, func() time.Time { return now.AddDate(0, 1, 0) })
		od, err := b.inspection(t, later).Overdue(ctx, b.inspector, trace.Page{Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		if len(od) != 2 {
			t.Fatalf("overdue: %d records, want the two unreported", len(od))
		}
		od, err = b.inspection(t, trace.NewService(b.st, func() time.Time { return now.AddDate(0, 4, 0) })).Overdue(ctx, b.inspector, trace.Page{Limit: 10})
		if err != nil || len(od) != 3 {
			t.Fatalf("overdue after 4 months: %d, %v", len(od), err)
		}
		if what, _, late := od[2].Due(now.AddDate(0, 4, 0)); what != "核查处置" || !late {
			t.Fatalf("S-1 due: %s %v", what, late)
		}
	})
}

func TestLimitsAndWorkingDays(t *testing.T) {
	std, ok := trace.DefaultLimits.InForce(time.Date(2026, 2, 28, 12, 0, 0, 0, time.UTC))
	if !ok || std.Standard != "GB 2763-2021" {
		t.Fatalf("standard in force on 2026-02-28: %v", std)
	}
	std, _ = trace.DefaultLimits.InForce(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	c, ok := std.Commodity("脐橙")
	if !ok || std.Standard != "GB 2763-2026" {
		t.Fatal("脐橙 not in the 2026 table")
	}
	if l, ok := c.Limit("2,4-D"); !ok || l.Limit != 1 || l.Confirmed {
		t.Fatalf("2,4-D: %+v", l)
	}
	// Friday 2026-11-20 + 1 working day ends on Monday.
	fri := time.Date(2026, 11, 20, 15, 0, 0, 0, time.FixedZone("CST", 8*3600))
	if got := trace.AddWorkingDays(fri, 1); got.Format("2006-01-02 15:04") != "2026-11-23 23:59" {
		t.Fatalf("AddWorkingDays(Fri, 1) = %v", got)
	}
	if got := trace.AddWorkingDays(fri, 20); got.Format("2006-01-02") != "2026-12-18" {
		t.Fatalf("AddWorkingDays(Fri, 20) = %v", got)
	}
	for _, c := range []struct {
		b    []byte
		want string
	}{{[]byte{0xFF, 0xD8, 0xFF, 0xE0}, "image/jpeg"}, {[]byte("\x89PNG\r\n\x1a\n"), "image/png"}, {[]byte("RIFF\x00\x00\x00\x00WEBPVP8 "), "image/webp"}, {[]byte("<svg"), ""}} {
		if got := trace.PhotoType(c.b); got != c.want {
			t.Errorf("PhotoType(%q) = %q, want %q", c.b, got, c.want)
		}
	}
}
