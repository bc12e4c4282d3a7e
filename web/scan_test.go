package web_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/ganpin/ganpin/cert"
	"github.com/ganpin/ganpin/cert/pdf"
	"github.com/ganpin/ganpin/internal/anchor"
	"github.com/ganpin/ganpin/internal/demo"
	"github.com/ganpin/ganpin/internal/ledger/embedded"
	"github.com/ganpin/ganpin/internal/store"
	"github.com/ganpin/ganpin/internal/testdb"
	"github.com/ganpin/ganpin/internal/tlog"
	"github.com/ganpin/ganpin/trace"
	"github.com/ganpin/ganpin/web"
)

var _ web.ScanStore = (*store.Store)(nil)

// scanEnv is the scan pages over the certified demo, with receipts from the log and
// an embedded ledger that anchor() brings up to date.
type scanEnv struct {
	*env
	st      *store.Store
	certs   *cert.Service
	anchor  func()
	expired string // the URL of a server whose clock is a year after the demo
	counter *web.ScanCounter
	fx      *fixture
	sampled *demo.Sampled
	// Servers over the same data: with regions from X-Test-Region, with three scans
	// a client, and with the default cache on the clock below.
	regional, limited, cached string
	clock                     atomic.Int64 // µs
}

func newScanEnv(t *testing.T) *scanEnv {
	t.Helper()
	ctx := context.Background()
	db := testdb.SQLite(t)
	st, err := store.New(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	svc := trace.NewService(st, nil)
	res, err := demo.Load(ctx, svc)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	keys, err := cert.LoadKeys(dir)
	if err != nil {
		t.Fatal(err)
	}
	certs := cert.NewService(cert.Config{Store: st, Keys: keys, Missing: pdf.Missing})
	cs, err := demo.Certify(ctx, svc, certs, res.ExampleLot)
	if err != nil {
		t.Fatal(err)
	}
	fx := coldChainFixture(t, svc, res.ExampleLot, cs.Units)
	insp, err := trace.NewInspection(trace.InspectionConfig{Service: svc, Revoke: func(ctx context.Context, a trace.Actor, serial, reason string) error {
		c, err := certs.BySerial(ctx, serial)
		if err == nil {
			_, err = certs.Revoke(ctx, a, c.ID, reason)
		}
		return err
	}})
	if err != nil {
		t.Fatal(err)
	}
	sampled, err := demo.Sample(ctx, svc, insp, 0)
	if err != nil {
		t.Fatal(err)
	}
	fx.published = publishPassing(t, svc, st, insp)
	key, err := anchor.LoadKey(dir, "ganpin.test/log")
	if err != nil {
		t.Fatal(err)
	}
	ledger, err := embedded.Open(filepath.Join(dir, "ledger.jsonl"), key.Signer, key.Verifier)
	if err != nil {
		t.Fatal(err)
	}
	anchorer := anchor.New(db, key, ledger, time.Second, nil)
	var proofs tlog.Prover
	receipt := func(ctx context.Context, kind string, id int64, record []byte) (*anchor.Receipt, error) {
		return anchor.BuildReceipt(ctx, db, &proofs, key, kind, id, record)
	}
	counter := web.NewScanCounter(st, time.Hour)
	// No caching: each request reads what it shows (TestScanCache checks the cache).
	cfg := web.Config{Service: svc, Certs: certs, Base: "http://127.0.0.1:8080", Scan: st, Receipt: receipt, Keys: keys, Counter: counter, Inspection: insp,
		StatusTTL: time.Nanosecond, JourneyTTL: time.Nanosecond, ScanBurst: 1000}
	srv := httptest.NewServer(web.New(cfg))
	t.Cleanup(srv.Close)
	serve := func(cfg web.Config) string {
		srv := httptest.NewServer(web.New(cfg))
		t.Cleanup(srv.Close)
		return srv.URL
	}
	e := &scanEnv{env: &env{t: t, db: db, svc: svc, demo: res, certified: cs, url: srv.URL}, st: st, certs: certs,
		counter: counter, fx: fx, sampled: sampled}
	late := cfg
	late.Now = func() time.Time { return demo.Season.AddDate(1, 0, 0) }
	e.expired = serve(late)
	// Regions from a header; three scans a client; the default cache on a clock of
	// the test's.
	regional := cfg
	regional.Counter = web.NewScanCounter(st, time.Hour)
	regional.Region = func(r *http.Request) string { return r.Header.Get("X-Test-Region") }
	e.regional = serve(regional)
	limited := cfg
	limited.ScanBurst, limited.ScanRate = 3, 0.001
	e.limited = serve(limited)
	e.clock.Store(time.Now().UnixMicro())
	cached := cfg
	cached.StatusTTL, cached.JourneyTTL = 0, 0
	cached.Now = func() time.Time { return time.UnixMicro(e.clock.Load()) }
	e.cached = serve(cached)
	e.anchor = func() {
		t.Helper()
		if err := anchorer.Once(ctx); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

// bySerial returns a demo certificate.
func (e *scanEnv) bySerial(serial string) *cert.Issued {
	e.t.Helper()
	c, err := e.certs.BySerial(context.Background(), serial)
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// certOfLot returns the certificate of a lot.
func (e *scanEnv) certOfLot(lot int64) *cert.Issued {
	e.t.Helper()
	c, err := e.st.CertificateOfLot(context.Background(), lot)
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// path returns the path of a certificate's QR code (unit 0: the certificate's own).
func path(c *cert.Issued, unit int) string { return strings.TrimPrefix(c.URL("", unit), "") }

func byID(n *html.Node, id string) *html.Node {
	return first(n, func(d *html.Node) bool { return attr(d, "id") == id })
}

func TestScanCertificate(t *testing.T) {
	e := newScanEnv(t)
	c := e.client(t)
	units := e.bySerial(e.certified.Units)
	revoked := e.bySerial(e.certified.Revoked)

	// Before the log is anchored, the page says the certificate waits to go on the ledger.
	p := c.get(path(units, 0))
	if p.status != 200 {
		t.Fatalf("GET %s: %d\n%s", path(units, 0), p.status, text(p.doc))
	}
	if st := text(byID(p.doc, "ledger-status")); st != "待上链" {
		t.Errorf("ledger status before anchoring %q, want 待上链", st)
	}
	e.anchor()

	t.Run("valid", func(t *testing.T) {
		p := c.get(path(units, 0))
		if p.status != 200 {
			t.Fatalf("status %d", p.status)
		}
		if h := first(p.doc, func(n *html.Node) bool { return n.Data == "html" }); attr(h, "lang") != "zh-CN" {
			t.Errorf("html lang %q", attr(h, "lang"))
		}
		if st := text(byID(p.doc, "cert-status")); st != "有效" {
			t.Errorf("status %q, want 有效", st)
		}
		card := text(byID(p.doc, "certificate"))
		for _, want := range []string{"承诺达标合格证", units.Serial, units.Product, "箱", units.Origin, units.Producer, units.Contact, units.LotCode,
			cert.ProducerText, "质量安全控制符合要求", "自检-"} {
			if !strings.Contains(card, want) {
				t.Errorf("certificate card lacks %q:\n%s", want, card)
			}
		}
		if !strings.HasPrefix(units.Origin, "江西省") || !strings.Contains(units.Origin, "寻乌县") {
			t.Errorf("origin %q", units.Origin)
		}
		ticked := 0
		for _, b := range byClass(byID(p.doc, "certificate"), "box") {
			if hasClass(b, "on") {
				ticked++
			}
		}
		if ticked != 2 {
			t.Errorf("%d bases ticked, want 2 (quality control and self-tested)", ticked)
		}
		if byID(p.doc, "unit") != nil || byID(p.doc, "revocation") != nil {
			t.Error("a certificate scan shows a unit serial or a revocation")
		}
		if st := text(byID(p.doc, "ledger-status")); st != "已上链" {
			t.Errorf("ledger status after anchoring %q, want 已上链", st)
		}
		if l := text(byID(p.doc, "ledger")); !strings.Contains(l, "检查点") || !strings.Contains(l, "交易") {
			t.Errorf("ledger section %q names no checkpoint and transaction", l)
		}
		for _, h := range []string{"Content-Security-Policy", "Access-Control-Allow-Origin"} {
			if p.header.Get(h) == "" {
				t.Errorf("no %s header", h)
			}
		}
		if csp := p.header.Get("Content-Security-Policy"); strings.Contains(csp, "script-src") || !strings.Contains(csp, "style-src 'sha256-") {
			t.Errorf("CSP %q", csp)
		}
		if first(p.doc, func(n *html.Node) bool {
			return n.Data == "script" || n.Data == "link" && attr(n, "rel") == "stylesheet"
		}) != nil {
			t.Error("the page loads a script or an external stylesheet")
		}

		// The same certificate by its short link.
		s := c.get(strings.TrimPrefix(units.ShortURL("", 0), ""))
		if s.status != 200 || text(byID(s.doc, "cert-status")) != "有效" || !strings.Contains(text(byID(s.doc, "certificate")), units.Serial) {
			t.Errorf("short link %s: %d", units.ShortURL("", 0), s.status)
		}
	})

	t.Run("unit", func(t *testing.T) {
		for _, u := range []int{1, units.Units} {
			for _, link := range []string{units.URL("", u), units.ShortURL("", u)} {
				p := c.get(link)
				if p.status != 200 {
					t.Fatalf("GET %s: %d", link, p.status)
				}
				if got := text(byID(p.doc, "unit")); !strings.Contains(got, cert.UnitSerial(u)) {
					t.Errorf("%s: unit line %q", link, got)
				}
			}
		}
		if !strings.Contains(units.URL("", 1), "/21/000001") {
			t.Fatalf("unit URL %s", units.URL("", 1))
		}
	})

	t.Run("revoked", func(t *testing.T) {
		p := c.get(path(revoked, 0))
		if p.status != 200 {
			t.Fatalf("status %d", p.status)
		}
		if st := text(byID(p.doc, "cert-status")); st != "已撤销" {
			t.Errorf("status %q, want 已撤销", st)
		}
		if r := text(byID(p.doc, "revocation")); !strings.Contains(r, "礼盒标签印错，已召回重新包装") || !strings.Contains(r, "撤销时间") {
			t.Errorf("revocation %q", r)
		}
		if !hasClass(byID(p.doc, "certificate"), "revoked") {
			t.Error("the certificate card is not marked revoked")
		}
	})

	t.Run("expired", func(t *testing.T) {
		p := e.client(t)
		p.e = &env{t: t, url: e.expired}
		pg := p.get(path(units, 0))
		if st := text(byID(pg.doc, "cert-status")); pg.status != 200 || st != "已过期" {
			t.Errorf("a year later: %d %q, want 已过期", pg.status, st)
		}
	})

	t.Run("english", func(t *testing.T) {
		for _, req := range []func() page{
			func() page { return c.get(path(units, 0) + "?lang=en") },
			func() page {
				r, _ := http.NewRequest("GET", e.url+path(units, 0), nil)
				r.Header.Set("Accept-Language", "en-GB,en;q=0.9,zh-CN;q=0.5")
				return c.do(r)
			},
		} {
			p := req()
			if h := first(p.doc, func(n *html.Node) bool { return n.Data == "html" }); attr(h, "lang") != "en" {
				t.Errorf("html lang %q, want en", attr(h, "lang"))
			}
			if st := text(byID(p.doc, "cert-status")); st != "Valid" {
				t.Errorf("status %q, want Valid", st)
			}
			if p.header.Get("Content-Language") != "en" {
				t.Errorf("Content-Language %q", p.header.Get("Content-Language"))
			}
			toggle := first(p.doc, func(n *html.Node) bool { return hasClass(n, "lang") })
			if attr(toggle, "href") != "?lang=zh" {
				t.Errorf("language toggle %q", attr(toggle, "href"))
			}
		}
		r, _ := http.NewRequest("GET", e.url+path(units, 0), nil)
		r.Header.Set("Accept-Language", "zh-CN,zh;q=0.9,en;q=0.8")
		if p := c.do(r); text(byID(p.doc, "cert-status")) != "有效" {
			t.Errorf("Chinese first: %q", text(byID(p.doc, "cert-status")))
		}
	})

	t.Run("product", func(t *testing.T) {
		p := c.get("/01/" + units.GTIN)
		if p.status != 200 || !strings.Contains(text(p.doc), "赣南脐橙 5kg装") || !strings.Contains(text(p.doc), "寻乌县澄江脐橙专业合作社") {
			t.Errorf("product page: %d %s", p.status, text(p.doc))
		}
		if gtin13 := strings.TrimPrefix(units.GTIN, "0"); c.get("/01/"+gtin13+"/10/"+units.LotCode).status != 200 {
			t.Errorf("GTIN-13 %s not resolved", gtin13)
		}
	})
}

func TestScanBadInput(t *testing.T) {
	e := newScanEnv(t)
	c := e.client(t)
	units := e.bySerial(e.certified.Units)
	gtin, lot := units.GTIN, units.LotCode
	bad := gtin[:13] + string('0'+(gtin[13]-'0'+1)%10)
	check, _ := trace.GS1Check("0699999999999")
	unknownGTIN := "0699999999999" + string(check)
	for _, tc := range []struct {
		path   string
		status int
	}{
		{"/01/" + bad + "/10/" + lot, 400},                                     // wrong check digit
		{"/01/123/10/" + lot, 400},                                             // too short
		{"/01/0691000000001X/10/" + lot, 400},                                  // not digits
		{"/01/" + gtin + "0/10/" + lot, 400},                                   // 15 digits
		{"/01/" + gtin + "/10/" + strings.Repeat("A", 21), 400},                // lot over 20
		{"/01/" + gtin + "/10/" + lot + "/21/" + strings.Repeat("1", 21), 400}, // serial over 20
		{"/01/" + gtin + "/10/%E8%84%90%E6%A9%99", 400},                        // not GS1 characters
		{"/01/" + gtin + "/10/%3Cscript%3E", 404},                              // markup: < and > are GS1 characters; escaped, unknown
		{"/01/" + gtin + "/10/a%20b", 400},                                     // space
		{"/c/" + strings.Repeat("G", 21), 400},                                 // serial over 20
		{"/c/GP%27%20OR%201%3D1", 400},                                         // injection: the space is refused
		{"/c/GP'OR'1'='1", 404},                                                // GS1 characters, no such certificate
		{"/01/" + gtin + "/10/..%2F..%2Fetc", 404},                             // traversal: GS1 characters, unknown lot
		{"/01/" + gtin + "/10/" + lot + "/21/0", 404},                          // no unit 0
		{"/01/" + gtin + "/10/" + lot + "/21/1", 404},                          // unit serials have six digits
		{"/01/" + gtin + "/10/" + lot + "/21/999999", 404},                     // beyond the lot's units
		{"/c/" + units.Serial + "/0000001", 404},                               // not as printed
		{"/01/" + gtin + "/10/NO-SUCH-LOT", 404},                               // unknown lot
		{"/01/" + unknownGTIN, 404},                                            // unknown GTIN with a good check digit
		{"/c/GP2600000000", 404},                                               // unknown serial
		{"/01/" + gtin + "/10/" + lot + "/../../../etc/passwd", 400},           // cleaned by the mux to /01/etc/passwd
		{"/01/" + gtin + "/17/261231", 400},                                    // an AI the resolver does not take in the path
		{"/c/" + units.Serial + "/000001/extra", 400},
		{"/c/", 400},
		{"/01/" + gtin + "/21/000001", 404}, // well-formed, but our labels name their lot
		{"/01/" + gtin + "/21/" + strings.Repeat("9", 21), 400},
	} {
		p, at := c.get(tc.path), tc.path
		if p.status == http.StatusMovedPermanently || p.status == http.StatusTemporaryRedirect { // the mux cleans dot segments
			at = p.header.Get("Location")
			p = c.get(at)
		}
		if p.status != tc.status {
			t.Errorf("GET %s: %d, want %d", tc.path, p.status, tc.status)
			continue
		}
		if p.doc == nil {
			t.Errorf("GET %s: no HTML page", tc.path)
			continue
		}
		scan := strings.HasPrefix(at, "/01/") || strings.HasPrefix(at, "/c/")
		if msg := text(p.doc); scan && tc.status == 404 && !strings.Contains(msg, "未找到该编码，谨防假冒") {
			t.Errorf("GET %s: 404 page says %q", tc.path, msg)
		}
		if msg := text(byID(p.doc, "error-message")); scan && tc.status == 400 && !strings.Contains(msg, "无效") && !strings.Contains(msg, "有误") {
			t.Errorf("GET %s: 400 page says %q", tc.path, msg)
		}
		if strings.Contains(p.body, "<script") {
			t.Errorf("GET %s: the page echoes markup", tc.path)
		}
	}

	// Methods: OPTIONS is the CORS preflight, others are refused.
	req, _ := http.NewRequest("OPTIONS", e.url+path(units, 0), nil)
	req.Header.Set("Origin", "https://example.com")
	req.Header.Set("Access-Control-Request-Method", "GET")
	if p := c.do(req); p.status != 204 || p.header.Get("Access-Control-Allow-Origin") != "*" || !strings.Contains(p.header.Get("Access-Control-Allow-Methods"), "HEAD") {
		t.Errorf("OPTIONS: %d %v", p.status, p.header)
	}
	req, _ = http.NewRequest("HEAD", e.url+path(units, 0), nil)
	if p := c.do(req); p.status != 200 || p.body != "" || p.header.Get("Content-Length") == "" {
		t.Errorf("HEAD: %d, %d bytes", p.status, len(p.body))
	}
	req, _ = http.NewRequest("DELETE", e.url+path(units, 0), nil)
	if p := c.do(req); p.status != 405 || !strings.Contains(p.header.Get("Allow"), "OPTIONS") {
		t.Errorf("DELETE: %d", p.status)
	}

	// The resolver describes itself.
	p := c.get("/.well-known/gs1resolver")
	if p.status != 200 || !strings.Contains(p.body, `"resolverRoot":"http://127.0.0.1:8080"`) {
		t.Errorf("gs1resolver: %d %s", p.status, p.body)
	}
}

// fixture is the cold chain and the order the tests add to the demo's example lot,
// and a sampling record published for consumers.
type fixture struct {
	order     trace.OrderSpec // of the example certificate's unit 000001
	published *trace.Sampling // a 合格 sampling record, published
}

// coldChainFixture puts a logger on the example lot's cold store and its reefer to
// Shanghai (all in range but one excursion above the alarm limit on the road), and
// has the platform link an order for unit 000001 of serial.
func coldChainFixture(t *testing.T, svc *trace.Service, example int64, serial string) *fixture {
	t.Helper()
	ctx := context.Background()
	cold := login(t, svc, "coldchain")
	legs, err := svc.LotLegs(ctx, cold, example)
	if err != nil {
		t.Fatal(err)
	}
	var road, store *trace.Leg
	for i := range legs {
		l := &legs[i].Leg
		switch {
		case l.Kind == trace.StorageLeg:
			store = l
		case l.Kind == trace.TransportLeg && l.From.After(legs[0].Leg.From):
			road = l
		}
	}
	if road == nil || store == nil || road.Open || store.Open {
		t.Fatalf("example lot legs: %+v", legs)
	}
	logger := func(serial string, as trace.Assignment, from, to time.Time, temp func(time.Time) float64) {
		d := &trace.Device{Serial: serial, Model: "test logger"}
		if err := svc.RegisterDevice(ctx, cold, d); err != nil {
			t.Fatal(err)
		}
		as.DeviceID, as.From, as.To = d.ID, from, to.Add(time.Second)
		if err := svc.Assign(ctx, cold, &as); err != nil {
			t.Fatal(err)
		}
		var rs []trace.Reading
		for at := from; !at.After(to); at = at.Add(10 * time.Minute) {
			rs = append(rs, trace.Reading{Time: at, Temp: temp(at), Humidity: 90})
		}
		if _, err := svc.Ingest(ctx, cold, d.ID, rs); err != nil {
			t.Fatal(err)
		}
	}
	logger("ROOM-T1", trace.Assignment{Site: store.Site, Room: store.Room}, store.From, store.To, func(at time.Time) float64 {
		return 6.5 + float64(at.Minute()%30)/30
	})
	warm := road.From.Add(4 * time.Hour)
	logger("REEFER-T1", trace.Assignment{Shipment: road.ID}, road.From, road.To, func(at time.Time) float64 {
		if d := at.Sub(warm); d >= 0 && d < 2*time.Hour {
			return 9 + 4*d.Hours()/2 // up to 13 ℃, above the 12 ℃ alarm limit
		}
		return 6.8
	})

	root := trace.Actor{Roles: []trace.Role{trace.RoleAdmin}}
	ps, err := svc.Parties(ctx, root, trace.Page{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var platform int64
	for _, p := range ps {
		if p.Kind == trace.Platform {
			platform = p.ID
		}
	}
	if err := svc.CreateUser(ctx, root, &trace.User{PartyID: platform, Username: "shop-test", Name: "订单接口", Roles: []trace.Role{trace.RolePlatform}}, demo.Password); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.GrantChannel(ctx, login(t, svc, "xunwu"), platform); err != nil {
		t.Fatal(err)
	}
	order := trace.OrderSpec{Number: "GNYP-T-0001", Channel: "赣南优品小程序", Time: road.To.Add(3 * time.Hour).Format(time.RFC3339),
		Destination: trace.Destination{Province: "310000", City: "310100", District: "310115"},
		Items:       []trace.OrderItem{{Certificate: serial, Units: []string{cert.UnitSerial(1)}}}}
	if _, err := svc.LinkOrder(ctx, login(t, svc, "shop-test"), order); err != nil {
		t.Fatal(err)
	}
	return &fixture{order: order}
}

// publishPassing publishes the first 合格 sampling record the demo's inspector made.
func publishPassing(t *testing.T, svc *trace.Service, st *store.Store, insp *trace.Inspection) *trace.Sampling {
	t.Helper()
	ctx := context.Background()
	ss, err := st.SearchSamplings(ctx, trace.SamplingFilter{Verdict: string(trace.Pass)}, trace.Page{Limit: 10})
	if err != nil || len(ss) == 0 {
		t.Fatalf("passing samplings: %v, %v", ss, err)
	}
	s := ss[len(ss)-1]
	if _, err := insp.RecordAction(ctx, login(t, svc, "inspector"), s.ID, trace.ActionSpec{Kind: trace.ActionPublication, Date: nowCST().Format(time.DateOnly)}); err != nil {
		t.Fatal(err)
	}
	return &s
}

func login(t *testing.T, svc *trace.Service, user string) trace.Actor {
	t.Helper()
	token, _, err := svc.Login(context.Background(), user, demo.Password, "test")
	if err != nil {
		t.Fatal(err)
	}
	a, err := svc.Authenticate(context.Background(), token)
	if err != nil {
		t.Fatal(err)
	}
	return a
}
