package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ganpin/ganpin/api"
	"github.com/ganpin/ganpin/cert"
	"github.com/ganpin/ganpin/internal/demo"
	"github.com/ganpin/ganpin/internal/sqldb"
	"github.com/ganpin/ganpin/internal/store"
	"github.com/ganpin/ganpin/internal/testdb"
	"github.com/ganpin/ganpin/trace"
)

// newInspectionEnv serves the API over the certified demo, with inspection on; it
// returns the environment and the demo's first certificate's lot.
func newInspectionEnv(t *testing.T, db sqldb.DB) (*env, int64) {
	t.Helper()
	ctx := context.Background()
	st, err := store.New(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	svc := trace.NewService(st, nil)
	res, err := demo.Load(ctx, svc)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := cert.LoadKeys(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	certs := cert.NewService(cert.Config{Store: st, Keys: keys})
	if _, err := demo.Certify(ctx, svc, certs, res.ExampleLot); err != nil {
		t.Fatal(err)
	}
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
	srv := httptest.NewServer(api.New(api.Config{Service: svc, Certs: certs, Keys: keys, Base: "https://t.example.cn", Inspection: insp}))
	t.Cleanup(srv.Close)
	e := &env{t: t, db: db, url: srv.URL}
	login := func(user string) string {
		tok, _, err := svc.Login(ctx, user, demo.Password, "")
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	e.coop, e.other = login("xunwu"), login("inspector")
	return e, res.ExampleLot
}

func count(t *testing.T, db sqldb.DB, table string) int {
	t.Helper()
	var n int
	if err := db.QueryRow(context.Background(), `SELECT COUNT(*) FROM `+table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestSamplingAPI(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db sqldb.DB) {
		e, lot := newInspectionEnv(t, db)
		inspector, producer := e.other, e.coop
		body := func(v any) []byte {
			b, _ := json.Marshal(v)
			return b
		}
		rec := map[string]any{"number": "GZ-API-1", "task_source": "监督抽检计划", "task_type": "supervision", "stage": "circulation",
			"place": map[string]any{"name": "南康区农产品批发市场", "county": "360703"}, "time": "2026-11-28T10:00:00+08:00", "agency": "赣州市市场监督管理局",
			"samplers": []string{"王抽检"}, "sampled": map[string]any{"name": "鲜果批发部"}, "producer": map[string]any{"name": "寻乌县澄江脐橙专业合作社"},
			"sample": map[string]any{"name": "赣南脐橙", "unit": "kg", "quantity": 3, "backup": 3}, "lot": lot,
			"photos": [][]byte{[]byte("\x89PNG\r\n\x1a\n-photo-")}}
		// Bad input: one sampler; a producer writing; an unknown field.
		r := e.do("POST", "/api/v1/sampling", inspector, body(rec))
		if p := r.json(t); r.status != 422 || p["field"] != "samplers" || !strings.Contains(p["detail_zh"].(string), "抽样人员") || p["detail_en"] == "" {
			t.Fatalf("one sampler: %d %s", r.status, r.body)
		}
		rec["samplers"] = []string{"王抽检", "刘抽检"}
		if r := e.do("POST", "/api/v1/sampling", producer, body(rec)); r.status != 403 {
			t.Fatalf("producer writes: %d %s", r.status, r.body)
		}
		rec["lab"] = "x"
		if r := e.do("POST", "/api/v1/sampling", inspector, body(rec)); r.status != 400 {
			t.Fatalf("unknown field: %d %s", r.status, r.body)
		}
		delete(rec, "lab")
		r = e.do("POST", "/api/v1/sampling", inspector, body(rec))
		if r.status != 201 {
			t.Fatalf("record: %d %s", r.status, r.body)
		}
		s := r.json(t)
		id := int64(s["id"].(float64))
		photo := s["photos"].([]any)[0].(map[string]any)
		if r := e.do("GET", photo["url"].(string), inspector, nil); r.status != 200 || r.header.Get("Content-Type") != "image/png" || !strings.HasSuffix(string(r.body), "-photo-") {
			t.Fatalf("photo: %d %s", r.status, r.header)
		}
		// The report: a unit that does not match, then a failing one.
		rep := map[string]any{"number": "BG-API-1", "lab": "江西省食品检验检测研究院", "issued": "2026-11-30",
			"items": []map[string]any{{"item": "丙溴磷", "result": "0.35", "unit": "mg/L", "detection_limit": 0.005, "method": "GB 23200.113-2018"}}}
		if r := e.do("POST", fmt.Sprintf("/api/v1/sampling/%d/report", id), inspector, body(rep)); r.status != 422 || r.json(t)["code"] != "unit_mismatch" {
			t.Fatalf("unit mismatch: %d %s", r.status, r.body)
		}
		rep["items"].([]map[string]any)[0]["unit"] = "mg/kg"
		if r := e.do("POST", fmt.Sprintf("/api/v1/sampling/%d/report", id+99), inspector, body(rep)); r.status != 404 {
			t.Fatalf("report of no sample: %d %s", r.status, r.body)
		}
		r = e.do("POST", fmt.Sprintf("/api/v1/sampling/%d/report", id), inspector, body(rep), "Idempotency-Key", "rep-1")
		o := r.json(t)
		if r.status != 201 || o["report"].(map[string]any)["verdict"] != "不合格" || len(o["revoked"].([]any)) != 1 || len(o["marked"].([]any)) != 1 {
			t.Fatalf("failing report: %d %s", r.status, r.body)
		}
		// A retry with the key gets the report as recorded and writes nothing twice.
		r2 := e.do("POST", fmt.Sprintf("/api/v1/sampling/%d/report", id), inspector, body(rep), "Idempotency-Key", "rep-1")
		if r2.status != 201 || r2.json(t)["report"].(map[string]any)["id"] != o["report"].(map[string]any)["id"] || count(t, e.db, "sampling_reports") != 1 {
			t.Fatalf("replayed report: %d %s", r2.status, r2.body)
		}
		// The certificate on the scanned lot is revoked by the regulator.
		var revoked int
		e.db.QueryRow(context.Background(), `SELECT COUNT(*) FROM revocations r JOIN certificates c ON c.id = r.certificate_id WHERE c.lot_id = $1`, lot).Scan(&revoked)
		if revoked != 1 {
			t.Fatalf("certificate of lot %d not revoked", lot)
		}
		// Search, detail, recall, exports; the producer sees its lot's result.
		for _, c := range []struct {
			token, query string
			want         int
		}{{inspector, "verdict=不合格", 1}, {inspector, "county=360703&item=丙溴磷", 1}, {inspector, "from=2026-11-29", 0}, {producer, "", 1}} {
			r := e.do("GET", "/api/v1/sampling?"+c.query, c.token, nil)
			if r.status != 200 || len(r.json(t)["items"].([]any)) != c.want {
				t.Fatalf("search %q: %d %s", c.query, r.status, r.body)
			}
		}
		if r := e.do("GET", "/api/v1/sampling?county=440305", inspector, nil); r.status != 403 {
			t.Fatalf("search outside the jurisdiction: %d", r.status)
		}
		if r := e.do("GET", fmt.Sprintf("/api/v1/sampling/%d", id), inspector, nil); r.status != 200 || len(r.json(t)["reports"].([]any)) != 1 {
			t.Fatalf("dossier: %d %s", r.status, r.body)
		}
		r = e.do("GET", fmt.Sprintf("/api/v1/sampling/%d/recall", id), inspector, nil)
		rl := r.json(t)
		if r.status != 200 || len(rl["lots"].([]any)) != 1 || len(rl["orchards"].([]any)) != 1 || len(rl["inputs"].([]any)) == 0 || len(rl["holders"].([]any)) != 1 {
			t.Fatalf("recall: %d %s", r.status, r.body)
		}
		r = e.do("GET", "/api/v1/sampling/export?format=csv&verdict=不合格", inspector, nil)
		if r.status != 200 || !strings.HasPrefix(string(r.body), "\uFEFF抽样单编号") || !strings.Contains(string(r.body), "GZ-API-1") {
			t.Fatalf("csv export: %d %s", r.status, r.body)
		}
		r = e.do("GET", "/api/v1/sampling/export?format=xlsx", inspector, nil)
		if r.status != 200 || !strings.HasPrefix(string(r.body), "PK") || r.header.Get("Content-Type") != "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" {
			t.Fatalf("xlsx export: %d %s", r.status, r.header)
		}
		r = e.do("GET", fmt.Sprintf("/api/v1/sampling/kde?lot=%d", lot), inspector, nil)
		if r.status != 200 || !strings.Contains(string(r.body), "收获 Harvesting") || !strings.Contains(string(r.body), "发运 Shipping") {
			t.Fatalf("kde export: %d %s", r.status, r.body)
		}
		if r := e.do("GET", "/api/v1/sampling/kde?from=2026-11-03&to=2026-11-04", producer, nil); r.status != 403 {
			t.Fatalf("producer's kde export: %d", r.status)
		}
		r = e.do("GET", "/api/v1/sampling/audit", inspector, nil)
		if r.status != 200 {
			t.Fatalf("audit: %d %s", r.status, r.body)
		}
		actions := map[string]int{}
		for _, it := range r.json(t)["items"].([]any) {
			actions[it.(map[string]any)["action"].(string)]++
		}
		if actions["search"] != 3 || actions["export_csv"] != 1 || actions["export_xlsx"] != 1 || actions["export_fsma"] != 1 || actions["recall"] != 1 {
			t.Fatalf("audit actions %v", actions)
		}
		// Publication, then the public verdicts of the lot.
		if r := e.do("POST", fmt.Sprintf("/api/v1/sampling/%d/publish", id), inspector, body(map[string]any{"date": "2026-12-01"})); r.status != 201 {
			t.Fatalf("publish: %d %s", r.status, r.body)
		}
		req, _ := http.NewRequest("GET", fmt.Sprintf("%s/api/v1/public/lots/%d/sampling", e.url, lot), nil)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var pub struct{ Items []map[string]any }
		json.NewDecoder(res.Body).Decode(&pub)
		res.Body.Close()
		if len(pub.Items) != 1 || pub.Items[0]["verdict"] != "不合格" || pub.Items[0]["number"] != "GZ-API-1" {
			t.Fatalf("published verdicts %+v", pub)
		}
	})
}
