package api_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ganpin/ganpin/api"
	"github.com/ganpin/ganpin/cert"
	"github.com/ganpin/ganpin/internal/sqldb"
	"github.com/ganpin/ganpin/internal/store"
	"github.com/ganpin/ganpin/internal/testdb"
	"github.com/ganpin/ganpin/internal/webhook"
	"github.com/ganpin/ganpin/trace"
)

// coldEnv is a running API with a cooperative that shipped a certified lot of
// boxes to a cold-chain operator's store, and a sales platform.
type coldEnv struct {
	*env
	svc                    *trace.Service
	cold, platform         string // tokens
	coopActor, coldActor   trace.Actor
	boxes, shipment, store int64
	serial                 string
	shippedAt              time.Time
	db                     sqldb.DB
}

func newColdEnv(t *testing.T, db sqldb.DB) *coldEnv {
	t.Helper()
	ctx := context.Background()
	st, err := store.New(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	svc := trace.NewService(st, nil)
	keys, err := cert.LoadKeys(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	certs := cert.NewService(cert.Config{Store: st, Keys: keys})
	srv := httptest.NewServer(api.New(api.Config{Service: svc, Ready: func(context.Context) error { return nil }, Certs: certs, Keys: keys, Base: "https://t.example.cn"}))
	t.Cleanup(srv.Close)
	e := &coldEnv{env: &env{t: t, db: db, url: srv.URL}, svc: svc, db: db}
	root := trace.Actor{Roles: []trace.Role{trace.RoleAdmin}}
	party := func(kind trace.PartyKind, uscc17, user string, role trace.Role) (trace.Actor, string) {
		c, _ := trace.USCCCheck(uscc17)
		p := &trace.Party{Kind: kind, Name: "主体" + user, USCC: uscc17 + string(c), County: "360702"}
		if err := svc.CreateParty(ctx, root, p); err != nil {
			t.Fatal(err)
		}
		u := &trace.User{PartyID: p.ID, Username: user, Roles: []trace.Role{role}}
		if err := svc.CreateUser(ctx, root, u, "a long password"); err != nil {
			t.Fatal(err)
		}
		tok, _, err := svc.Login(ctx, user, "a long password", "")
		if err != nil {
			t.Fatal(err)
		}
		return trace.Actor{UserID: u.ID, PartyID: p.ID, Roles: u.Roles}, tok
	}
	e.coopActor, e.coop = party(trace.Cooperative, "93360734MA35XW001", "coop", trace.RoleProducerAdmin)
	e.coldActor, e.cold = party(trace.Logistics, "91360702MA35LL001", "cold", trace.RoleLogistics)
	_, e.other = party(trace.Cooperative, "93360726MA35AY001", "other", trace.RoleProducerAdmin)
	_, e.platform = party(trace.Platform, "91360702MA35GNYP1", "shop", trace.RolePlatform)
	site := func(a trace.Actor, s trace.Site) int64 {
		if err := svc.CreateSite(ctx, a, &s); err != nil {
			t.Fatal(err)
		}
		return s.ID
	}
	orchard := site(e.coopActor, trace.Site{Kind: trace.Orchard, Name: "1号地块", County: "360734", AreaMu: 10, Lat: 24.9, Lon: 115.6})
	packh := site(e.coopActor, trace.Site{Kind: trace.Packhouse, Name: "分选中心", County: "360734"})
	e.store = site(e.coldActor, trace.Site{Kind: trace.ColdStore, Name: "水西冷库", County: "360702"})
	fruit := &trace.Product{Name: "赣南脐橙", Unit: trace.Kg, ColdProfile: "navel_orange"}
	box := &trace.Product{Name: "赣南脐橙 5kg装", GTIN: "6901234567892", Unit: trace.Box, NetKg: 5, ColdProfile: "navel_orange"}
	for _, p := range []*trace.Product{fruit, box} {
		if err := svc.CreateProduct(ctx, e.coopActor, p); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now().In(cst)
	e.shippedAt = now.Add(-6 * time.Hour).Truncate(time.Minute)
	capture := func(a trace.Actor, spec trace.EventSpec) *trace.Event {
		evs, err := svc.Capture(ctx, a, []trace.EventSpec{spec})
		if err != nil {
			t.Fatal(err)
		}
		return evs[0]
	}
	h := capture(e.coopActor, trace.EventSpec{Type: trace.Harvest, Time: now.Add(-30 * time.Hour).Format(time.RFC3339), Site: orchard,
		Harvest: &trace.HarvestSpec{Lot: trace.NewLotSpec{Code: "XW-1", Product: fruit.ID, Quantity: 1000, Unit: trace.Kg}}})
	p := capture(e.coopActor, trace.EventSpec{Type: trace.Transformation, Time: now.Add(-28 * time.Hour).Format(time.RFC3339), Site: packh,
		Transformation: &trace.TransformationSpec{Inputs: []trace.LotQuantity{{Lot: h.Lots[0].Lot, Quantity: 1000}},
			Outputs: []trace.NewLotSpec{{Code: "XW-1-B", Product: box.ID, Quantity: 190, Unit: trace.Box}}}})
	e.boxes = p.Lots[1].Lot
	e.shipment = capture(e.coopActor, trace.EventSpec{Type: trace.Shipping, Time: e.shippedAt.Format(time.RFC3339), Site: packh,
		Shipping: &trace.ShippingSpec{Lots: []int64{e.boxes}, To: e.store}}).ID
	c, err := certs.Issue(ctx, e.coopActor, cert.Request{Lot: e.boxes, Quantity: 190, Contact: "0797-4000000", Template: cert.Producer, Basis: cert.QualityControl, Units: 20})
	if err != nil {
		t.Fatal(err)
	}
	e.serial = c.Serial
	return e
}

func (e *coldEnv) post(path, token string, v any, header ...string) response {
	e.t.Helper()
	b, _ := json.Marshal(v)
	return e.do(http.MethodPost, path, token, b, header...)
}

func wantProblem(t *testing.T, r response, status int, code, field string) map[string]any {
	t.Helper()
	m := r.json(t)
	f, _ := m["field"].(string)
	if r.status != status || m["code"] != code || f != field || m["detail_zh"] == "" || m["detail_en"] == "" ||
		!strings.HasPrefix(r.header.Get("Content-Type"), "application/problem+json") {
		t.Fatalf("got %d %s, want %d %s at %q", r.status, r.body, status, code, field)
	}
	return m
}

func (e *coldEnv) readings() int {
	e.t.Helper()
	var n int
	e.db.QueryRow(context.Background(), `SELECT COUNT(*) FROM readings`).Scan(&n)
	return n
}

func TestColdChainOverHTTP(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db sqldb.DB) {
		e := newColdEnv(t, db)
		r := e.post("/api/v1/devices", e.cold, map[string]any{"serial": "TT18-0042", "model": "TT18"})
		if r.status != http.StatusCreated || r.json(t)["mqtt_topic"] != "ganpin/telemetry/TT18-0042" {
			t.Fatalf("register: %d %s", r.status, r.body)
		}
		dev := int64(r.json(t)["id"].(float64))
		path := fmt.Sprintf("/api/v1/devices/%d/readings", dev)
		one := map[string]any{"readings": []map[string]any{{"time": e.shippedAt.Format(time.RFC3339), "temperature": 6}}}
		wantProblem(t, e.post("/api/v1/devices/999/readings", e.cold, one), 422, "unknown_device", "device")

		// A CSV export with a bad row is refused whole, naming the line.
		var csv strings.Builder
		csv.WriteString("时间,温度(℃),湿度(%RH)\n")
		for i := 0; i < 36; i++ {
			temp := "6.2"
			if i == 20 {
				temp = "n/a"
			}
			fmt.Fprintf(&csv, "%s,%s,90\n", e.shippedAt.Add(time.Duration(i)*10*time.Minute).Format("2006-01-02 15:04:05"), temp)
		}
		m := wantProblem(t, e.do(http.MethodPost, path, e.cold, []byte(csv.String()), "Content-Type", "text/csv"), 422, "invalid_temperature", "csv.line[22].temperature")
		if !strings.Contains(m["detail_zh"].(string), "第22行") {
			t.Errorf("detail %q does not name the line", m["detail_zh"])
		}
		if n := e.readings(); n != 0 {
			t.Fatalf("a refused CSV wrote %d readings", n)
		}
		good := strings.Replace(csv.String(), ",n/a,", ",13.5,", 1)
		r = e.do(http.MethodPost, path, e.cold, []byte(good), "Content-Type", "text/csv; charset=utf-8")
		if r.status != http.StatusCreated || r.json(t)["stored"] != 36.0 {
			t.Fatalf("CSV upload: %d %s", r.status, r.body)
		}
		r = e.do(http.MethodPost, path, e.other, []byte(good), "Content-Type", "text/csv")
		wantProblem(t, r, 403, "forbidden", "device")
		wantProblem(t, e.do(http.MethodPost, path, e.cold, []byte(`{"readings":[{"time":"2026-11-20T08:00:00+08:00","temperature":6,"celsius":true}]}`)), 400, "unknown_field", "celsius")
		r = e.post(path, e.cold, map[string]any{"readings": []map[string]any{{"time": e.shippedAt.Add(time.Minute).Format(time.RFC3339), "temperature": 6.4}}})
		if r.status != http.StatusCreated || r.json(t)["stored"] != 1.0 {
			t.Fatalf("JSON batch: %d %s", r.status, r.body)
		}

		// The receiver's logger goes with the shipment.
		r = e.post("/api/v1/assignments", e.cold, map[string]any{"device": dev, "shipment": e.shipment, "from": e.shippedAt.Format(time.RFC3339)})
		if r.status != http.StatusCreated {
			t.Fatalf("assign: %d %s", r.status, r.body)
		}
		r = e.do(http.MethodGet, fmt.Sprintf("/api/v1/legs/%d", e.shipment), e.coop, nil)
		leg := r.json(t)
		v := leg["verdict"].(map[string]any)
		if r.status != 200 || v["status"] != "alarm" || leg["status_zh"] != "温度告警" || len(v["excursions"].([]any)) != 1 || leg["open"] != true {
			t.Fatalf("leg: %d %s", r.status, r.body)
		}
		if r := e.do(http.MethodGet, fmt.Sprintf("/api/v1/legs/%d", e.shipment), e.other, nil); r.status != 404 {
			t.Fatalf("a stranger reads the leg: %d", r.status)
		}
		wantProblem(t, e.post(fmt.Sprintf("/api/v1/legs/%d/summary", e.shipment), e.cold, nil), 409, "leg_open", "")
		evs, err := e.svc.Capture(context.Background(), e.coldActor, []trace.EventSpec{{Type: trace.Receiving, Time: e.shippedAt.Add(355 * time.Minute).Format(time.RFC3339),
			Site: e.store, Receiving: &trace.ReceivingSpec{Lots: []int64{e.boxes}}}})
		if err != nil || len(evs) != 1 {
			t.Fatal(err)
		}
		r = e.post(fmt.Sprintf("/api/v1/legs/%d/summary", e.shipment), e.cold, nil, "Idempotency-Key", "seal-1")
		if r.status != http.StatusCreated || r.json(t)["status"] != "alarm" || r.json(t)["version"] != 1.0 {
			t.Fatalf("seal: %d %s", r.status, r.body)
		}
		var rec struct {
			Sources []trace.Source `json:"sources"`
		}
		raw, _ := json.Marshal(r.json(t)["record"])
		var b []byte
		json.Unmarshal(raw, &b)
		if err := json.Unmarshal(b, &rec); err != nil || len(rec.Sources) != 1 {
			t.Fatalf("the summary's record: %s, %v", b, err)
		}
		// The raw readings export hashes to the summary's digest.
		q := fmt.Sprintf("?from=%s&to=%s&format=csv", rec.Sources[0].From.Format(time.RFC3339), rec.Sources[0].To.Format(time.RFC3339))
		r = e.do(http.MethodGet, path+strings.ReplaceAll(q, "+", "%2B"), e.cold, nil)
		lines := r.body[strings.IndexByte(string(r.body), '\n')+1:]
		sum := sha256.Sum256(lines)
		if r.status != 200 || hex.EncodeToString(sum[:]) != rec.Sources[0].SHA256 {
			t.Fatalf("export %d: digest %x, summary says %s\n%s", r.status, sum, rec.Sources[0].SHA256, r.body)
		}
	})
}

func TestOrdersOverHTTP(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db sqldb.DB) {
		e := newColdEnv(t, db)
		ctx := context.Background()
		order := func(number string) map[string]any {
			return map[string]any{"number": number, "channel": "赣南优品小程序", "time": time.Now().Add(-time.Hour).Format(time.RFC3339),
				"destination": map[string]any{"province": "310000", "city": "310100", "district": "310115"},
				"items":       []map[string]any{{"certificate": e.serial, "units": []string{"000007"}}}}
		}
		wantProblem(t, e.post("/api/v1/orders", e.platform, order("A-1")), 403, "forbidden", "items[0].lot")
		wantProblem(t, e.post("/api/v1/orders", e.coop, order("A-1")), 403, "forbidden", "")
		var me map[string]any
		json.Unmarshal(e.do(http.MethodGet, "/api/v1/me", e.platform, nil).body, &me)
		platformID := me["party"].(map[string]any)["id"]
		if r := e.post("/api/v1/channels", e.coop, map[string]any{"platform": platformID}); r.status != http.StatusCreated {
			t.Fatalf("grant: %d %s", r.status, r.body)
		}
		r := e.post("/api/v1/orders", e.platform, order("A-1"))
		if r.status != http.StatusCreated || r.json(t)["city_name"] != "上海市" {
			t.Fatalf("link: %d %s", r.status, r.body)
		}
		id := r.json(t)["id"]
		r = e.post("/api/v1/orders", e.platform, order("A-1"))
		if r.status != http.StatusOK || r.json(t)["id"] != id {
			t.Fatalf("the same order again: %d %s", r.status, r.body)
		}
		withPhone := order("A-2")
		withPhone["phone"] = "13800138000"
		wantProblem(t, e.post("/api/v1/orders", e.platform, withPhone), 422, "personal_data", "phone")
		withAddress := order("A-2")
		withAddress["destination"].(map[string]any)["address"] = "张江路88号"
		wantProblem(t, e.post("/api/v1/orders", e.platform, withAddress), 422, "personal_data", "address")
		inChannel := order("A-2")
		inChannel["channel"] = "李四13900000000"
		wantProblem(t, e.post("/api/v1/orders", e.platform, inChannel), 422, "personal_data", "channel")
		wantProblem(t, e.post("/api/v1/orders", e.platform, map[string]any{"number": "A-3", "items": []any{}, "extra": 1}), 400, "unknown_field", "extra")

		// Masked in the lot's journey for its owner, and on the consumer side by serial.
		r = e.do(http.MethodGet, fmt.Sprintf("/api/v1/lots/%d/journey", e.boxes), e.coop, nil)
		j := r.json(t)
		if r.status != 200 || len(j["orders"].([]any)) != 1 || len(j["legs"].([]any)) != 1 || strings.Contains(string(r.body), "A-1") {
			t.Fatalf("journey: %d %s", r.status, r.body)
		}
		// And in the lot's trace, masked, for every party that may trace it.
		r = e.do(http.MethodGet, fmt.Sprintf("/api/v1/lots/%d/trace", e.boxes), e.coop, nil)
		var tr struct{ Orders []map[string]any }
		json.Unmarshal(r.body, &tr)
		if r.status != 200 || len(tr.Orders) != 1 || tr.Orders[0]["city"] != "上海市" || tr.Orders[0]["lot"] != float64(e.boxes) || strings.Contains(string(r.body), "A-1") {
			t.Fatalf("trace: %d orders %v", r.status, tr.Orders)
		}
		r = e.do(http.MethodGet, "/api/v1/public/journey/"+e.serial+"/000007", "", nil)
		pj := r.json(t)
		o := pj["orders"].([]any)
		if r.status != 200 || len(o) != 1 || o[0].(map[string]any)["city"] != "上海市" || strings.Contains(string(r.body), "A-1") || strings.Contains(string(r.body), "310115") {
			t.Fatalf("public journey: %d %s", r.status, r.body)
		}
		if r := e.do(http.MethodGet, "/api/v1/public/journey/"+e.serial+"/000008", "", nil); len(r.json(t)["orders"].([]any)) != 0 {
			t.Fatalf("unit 000008 was in no order: %s", r.body)
		}
		if r := e.do(http.MethodGet, "/api/v1/public/journey/GP2699999999", "", nil); r.status != 404 {
			t.Fatalf("unknown serial: %d", r.status)
		}

		// Webhooks: the secret is shown once.
		key, _ := webhook.LoadKey(t.TempDir())
		if err := webhook.New(webhook.Config{DB: db, Key: key}).Publish(ctx); err != nil {
			t.Fatal(err)
		}
		r = e.post("/api/v1/webhook", e.platform, map[string]any{"url": "https://shop.example.cn/ganpin"})
		if r.status != http.StatusCreated || !strings.HasPrefix(fmt.Sprint(r.json(t)["secret"]), "whsec_") {
			t.Fatalf("webhook: %d %s", r.status, r.body)
		}
		r = e.do(http.MethodGet, "/api/v1/webhook", e.platform, nil)
		if r.status != 200 || r.json(t)["secret"] != nil || r.json(t)["url"] != "https://shop.example.cn/ganpin" {
			t.Fatalf("webhook read: %d %s", r.status, r.body)
		}
		wantProblem(t, e.post("/api/v1/webhook", e.coop, map[string]any{"url": "https://x.example.cn/"}), 403, "forbidden", "")
	})
}
