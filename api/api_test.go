package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ganpin/ganpin/api"
	"github.com/ganpin/ganpin/cert"
	"github.com/ganpin/ganpin/internal/sqldb"
	"github.com/ganpin/ganpin/internal/store"
	"github.com/ganpin/ganpin/internal/testdb"
	"github.com/ganpin/ganpin/trace"
)

// env is a running API with two cooperatives.
type env struct {
	t              *testing.T
	db             sqldb.DB
	url            string
	coop, other    string // tokens
	orchard, packh int64
	otherOrchard   int64
	fruit          int64
}

func newEnv(t *testing.T, db sqldb.DB) *env {
	t.Helper()
	ctx := context.Background()
	st, err := store.New(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	svc := trace.NewService(st, nil)
	keys, err := cert.LoadKeys(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(api.New(api.Config{Service: svc, Ready: func(ctx context.Context) error { _, err := sqldb.Version(ctx, db); return err },
		Certs: cert.NewService(cert.Config{Store: st, Keys: keys}), Keys: keys, Base: "https://t.example.cn"}))
	t.Cleanup(srv.Close)
	e := &env{t: t, db: db, url: srv.URL}
	root := trace.Actor{Roles: []trace.Role{trace.RoleAdmin}}
	party := func(name, uscc17, user string) (trace.Actor, string) {
		c, _ := trace.USCCCheck(uscc17)
		p := &trace.Party{Kind: trace.Cooperative, Name: name, USCC: uscc17 + string(c), County: "360734"}
		if err := svc.CreateParty(ctx, root, p); err != nil {
			t.Fatal(err)
		}
		u := &trace.User{PartyID: p.ID, Username: user, Roles: []trace.Role{trace.RoleProducerAdmin}}
		if err := svc.CreateUser(ctx, root, u, "a long password"); err != nil {
			t.Fatal(err)
		}
		tok, _, err := svc.Login(ctx, user, "a long password", "")
		if err != nil {
			t.Fatal(err)
		}
		return trace.Actor{UserID: u.ID, PartyID: p.ID, Roles: u.Roles}, tok
	}
	var coop, other trace.Actor
	coop, e.coop = party("寻乌合作社", "93360734MA35XW001", "coop")
	other, e.other = party("安远合作社", "93360726MA35AY001", "other")
	site := func(a trace.Actor, s trace.Site) int64 {
		if err := svc.CreateSite(ctx, a, &s); err != nil {
			t.Fatal(err)
		}
		return s.ID
	}
	e.orchard = site(coop, trace.Site{Kind: trace.Orchard, Name: "1号地块", County: "360734", AreaMu: 10, Lat: 24.9, Lon: 115.6})
	e.packh = site(coop, trace.Site{Kind: trace.Packhouse, Name: "分选中心", County: "360734"})
	e.otherOrchard = site(other, trace.Site{Kind: trace.Orchard, Name: "安远地块", County: "360726", AreaMu: 10, Lat: 25.1, Lon: 115.4})
	p := &trace.Product{Name: "赣南脐橙", Unit: trace.Kg}
	if err := svc.CreateProduct(ctx, coop, p); err != nil {
		t.Fatal(err)
	}
	e.fruit = p.ID
	return e
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("response %d is not JSON: %s", r.status, r.body)
	}
	return m
}

func (e *env) do(method, path, token string, body []byte, header ...string) response {
	e.t.Helper()
	req, _ := http.NewRequest(method, e.url+path, bytes.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return response{res.StatusCode, res.Header, b}
}

func (e *env) events() int {
	var n int
	e.db.QueryRow(context.Background(), `SELECT COUNT(*) FROM events`).Scan(&n)
	return n
}

func (e *env) harvest(code string, kg float64, at time.Time) string {
	return fmt.Sprintf(`{"type":"harvest","time":%q,"site":%d,"harvest":{"lot":{"code":%q,"product":%d,"quantity":%g,"unit":"kg"}}}`,
		at.Format(time.RFC3339), e.orchard, code, e.fruit, kg)
}

var cst = time.FixedZone("CST", 8*3600)

func TestBadInputGetsProblemAndWritesNothing(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db sqldb.DB) {
		e := newEnv(t, db)
		yesterday := time.Now().In(cst).AddDate(0, 0, -1)
		// A lot of the other party and one of ours, and an application with a running interval.
		if r := e.do("POST", "/api/v1/events", e.coop, []byte(e.harvest("OURS", 100, yesterday))); r.status != 201 {
			t.Fatalf("harvest: %d %s", r.status, r.body)
		}
		theirs := e.do("POST", "/api/v1/events", e.other, []byte(fmt.Sprintf(`{"type":"harvest","time":%q,"site":%d,"harvest":{"lot":{"code":"THEIRS","product":%d,"quantity":5,"unit":"kg"}}}`,
			yesterday.Format(time.RFC3339), e.otherOrchard, e.fruit))).json(t)
		theirLot := theirs["lots"].([]any)[0].(map[string]any)["lot"].(float64)
		app := fmt.Sprintf(`{"type":"input_application","time":%q,"site":%d,"input_application":{"product_name":"24%%螺螨酯悬浮剂","registration_no":"PD20121456","active_ingredient":"螺螨酯","dose":"5000倍液","phi_days":30}}`,
			yesterday.Format(time.RFC3339), e.orchard)
		if r := e.do("POST", "/api/v1/events", e.coop, []byte(app)); r.status != 201 {
			t.Fatalf("application: %d %s", r.status, r.body)
		}
		before := e.events()
		now := time.Now().In(cst)
		big := `{"events":[` + strings.Replace(e.harvest("A1", 1, now), `"type"`, `"note":"`+strings.Repeat("x", 17<<20)+`","type"`, 1) + `]}`
		cases := []struct {
			name, path, body string
			status           int
			code, field      string
		}{
			{"malformed JSON", "/api/v1/events", `{"type":"harvest",`, 400, "malformed_json", ""},
			{"not JSON", "/api/v1/events", `harvest please`, 400, "malformed_json", ""},
			{"empty body", "/api/v1/events", ``, 400, "empty_body", ""},
			{"trailing data", "/api/v1/events", e.harvest("A1", 1, now) + `{}`, 400, "malformed_json", ""},
			{"unknown field", "/api/v1/events", strings.Replace(e.harvest("A1", 1, now), `"type"`, `"colour":"orange","type"`, 1), 400, "unknown_field", "colour"},
			{"wrong type", "/api/v1/events", strings.Replace(e.harvest("A1", 1, now), `"quantity":1`, `"quantity":"1"`, 1), 400, "wrong_type", "harvest.lot.quantity"},
			{"missing type", "/api/v1/events", `{"time":"2026-11-01T08:00:00+08:00","site":1}`, 422, "unknown_type", "type"},
			{"missing details", "/api/v1/events", fmt.Sprintf(`{"type":"harvest","time":"2026-11-01T08:00:00+08:00","site":%d}`, e.orchard), 422, "required", "harvest"},
			{"zero quantity", "/api/v1/events", e.harvest("A1", 0, now), 422, "invalid_quantity", "harvest.lot.quantity"},
			{"negative quantity", "/api/v1/events", e.harvest("A1", -3, now), 422, "invalid_quantity", "harvest.lot.quantity"},
			{"unknown unit", "/api/v1/events", strings.Replace(e.harvest("A1", 1, now), `"unit":"kg"`, `"unit":"担"`, 1), 422, "unknown_unit", "harvest.lot.unit"},
			{"unknown site", "/api/v1/events", strings.Replace(e.harvest("A1", 1, now), fmt.Sprintf(`"site":%d`, e.orchard), `"site":99999`, 1), 422, "not_found", "site"},
			{"unknown lot", "/api/v1/events", fmt.Sprintf(`{"type":"self_test","time":%q,"site":%d,"self_test":{"lot":99999,"method":"速测卡","passed":true}}`, now.Format(time.RFC3339), e.packh), 422, "not_found", "self_test.lot"},
			{"another party's lot", "/api/v1/events", fmt.Sprintf(`{"type":"self_test","time":%q,"site":%d,"self_test":{"lot":%d,"method":"速测卡","passed":true}}`, now.Format(time.RFC3339), e.packh, int64(theirLot)), 403, "forbidden", "self_test.lot"},
			{"duplicate lot code", "/api/v1/events", e.harvest("OURS", 1, yesterday.Add(-48*time.Hour)), 409, "duplicate_lot_code", "harvest.lot.code"},
			{"inside pre-harvest interval", "/api/v1/events", e.harvest("A2", 1, now), 422, "pre_harvest_interval", "time"},
			{"batch over the body limit", "/api/v1/events/batch", big, 413, "body_too_large", ""},
			{"single over the body limit", "/api/v1/events", strings.Replace(e.harvest("A1", 1, now), `"type"`, `"note":"`+strings.Repeat("长", 400000)+`","type"`, 1), 413, "body_too_large", ""},
			{"batch with one bad event", "/api/v1/events/batch", `{"events":[` + e.harvest("B1", 1, yesterday.Add(-72*time.Hour)) + `,` + e.harvest("B2", 0, yesterday.Add(-72*time.Hour)) + `]}`, 422, "invalid_quantity", "events[1].harvest.lot.quantity"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				r := e.do("POST", c.path, e.coop, []byte(c.body))
				if r.status != c.status || r.header.Get("Content-Type") != "application/problem+json" {
					t.Fatalf("status %d (%s), want %d problem+json: %s", r.status, r.header.Get("Content-Type"), c.status, r.body)
				}
				p := r.json(t)
				if p["code"] != c.code || (p["field"] != nil && p["field"] != c.field) || (p["field"] == nil && c.field != "") {
					t.Fatalf("problem = %s, want code %s field %q", r.body, c.code, c.field)
				}
				if p["detail_zh"] == "" || p["detail_en"] == "" || p["status"].(float64) != float64(c.status) {
					t.Fatalf("problem lacks a bilingual detail: %s", r.body)
				}
				if n := e.events(); n != before {
					t.Fatalf("events %d → %d after refused request", before, n)
				}
			})
		}
		if r := e.do("POST", "/api/v1/events", "", []byte(e.harvest("A1", 1, now))); r.status != 401 || r.json(t)["code"] != "unauthenticated" {
			t.Fatalf("no token: %d %s", r.status, r.body)
		}
		if r := e.do("POST", "/api/v1/events", "gp_forged", []byte(e.harvest("A1", 1, now))); r.status != 401 {
			t.Fatalf("forged token: %d", r.status)
		}
		if r := e.do("GET", fmt.Sprintf("/api/v1/lots/%d", int64(theirLot)), e.coop, nil); r.status != 404 {
			t.Fatalf("reading another party's lot: %d", r.status)
		}
		if r := e.do("GET", "/api/v1/lots/x", e.coop, nil, "Accept-Language", "en-US"); r.status != 404 || r.json(t)["detail"] != "invalid id" {
			t.Fatalf("bad id: %d %s", r.status, r.body)
		}
	})
}

func TestIdempotencyKey(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db sqldb.DB) {
		e := newEnv(t, db)
		body := []byte(e.harvest("IDEM-1", 10, time.Now().Add(-time.Hour)))
		first := e.do("POST", "/api/v1/events", e.coop, body, "Idempotency-Key", "k-1")
		if first.status != 201 {
			t.Fatalf("first: %d %s", first.status, first.body)
		}
		again := e.do("POST", "/api/v1/events", e.coop, body, "Idempotency-Key", "k-1")
		if again.status != 201 || !bytes.Equal(again.body, first.body) || again.header.Get("Idempotent-Replayed") != "true" {
			t.Fatalf("retry: %d %s, want the first response replayed", again.status, again.body)
		}
		if n := e.events(); n != 1 {
			t.Fatalf("events = %d after a retried request", n)
		}
		other := e.do("POST", "/api/v1/events", e.coop, []byte(e.harvest("IDEM-2", 10, time.Now().Add(-time.Hour))), "Idempotency-Key", "k-1")
		if other.status != 422 || other.json(t)["code"] != "idempotency_key_reused" {
			t.Fatalf("reused key: %d %s", other.status, other.body)
		}
		// Concurrent retries of one request create one event.
		body = []byte(e.harvest("IDEM-3", 10, time.Now().Add(-time.Hour)))
		var wg sync.WaitGroup
		statuses := make([]int, 8)
		for i := range statuses {
			wg.Add(1)
			go func() {
				defer wg.Done()
				statuses[i] = e.do("POST", "/api/v1/events", e.coop, body, "Idempotency-Key", "k-3").status
			}()
		}
		wg.Wait()
		for _, s := range statuses {
			if s != 201 {
				t.Fatalf("concurrent retries answered %v", statuses)
			}
		}
		if n := e.events(); n != 2 {
			t.Fatalf("events = %d after concurrent retries, want 2", n)
		}
		// Keys are per user: the other party's identical key replays nothing of ours,
		// and its request is judged on its own (our orchard is not its site).
		if r := e.do("POST", "/api/v1/events", e.other, body, "Idempotency-Key", "k-3"); r.status != 403 || r.header.Get("Idempotent-Replayed") != "" {
			t.Fatalf("other user with the same key: %d %s", r.status, r.body)
		}
		if r := e.do("DELETE", "/api/v1/events", e.coop, nil); r.status != 405 || r.header.Get("Content-Type") != "application/problem+json" {
			t.Fatalf("DELETE: %d %s", r.status, r.body)
		}
	})
}

func TestListTraceAndOperations(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db sqldb.DB) {
		e := newEnv(t, db)
		var batch []string
		for i := range 5 {
			batch = append(batch, e.harvest(fmt.Sprintf("P-%d", i), 100, time.Now().Add(-time.Hour)))
		}
		if r := e.do("POST", "/api/v1/events/batch", e.coop, []byte(`{"events":[`+strings.Join(batch, ",")+`]}`)); r.status != 201 || len(r.json(t)["items"].([]any)) != 5 {
			t.Fatalf("batch: %d %s", r.status, r.body)
		}
		var codes []string
		cursor := ""
		for pages := 0; ; pages++ {
			r := e.do("GET", "/api/v1/lots?limit=2&cursor="+cursor, e.coop, nil)
			if r.status != 200 || pages > 5 {
				t.Fatalf("page %d: %d %s", pages, r.status, r.body)
			}
			m := r.json(t)
			for _, it := range m["items"].([]any) {
				codes = append(codes, it.(map[string]any)["code"].(string))
			}
			next, _ := m["next_cursor"].(string)
			if next == "" {
				break
			}
			cursor = next
		}
		if strings.Join(codes, ",") != "P-4,P-3,P-2,P-1,P-0" {
			t.Fatalf("paged lots = %v", codes)
		}
		if r := e.do("GET", "/api/v1/lots?limit=2&cursor=zzz", e.coop, nil); r.status != 400 {
			t.Fatalf("bad cursor: %d", r.status)
		}
		if r := e.do("GET", "/api/v1/lots?limit=2", e.other, nil); len(r.json(t)["items"].([]any)) != 0 {
			t.Fatalf("other party lists our lots: %s", r.body)
		}
		lots := e.do("GET", "/api/v1/lots?limit=1", e.coop, nil).json(t)["items"].([]any)
		id := int64(lots[0].(map[string]any)["id"].(float64))
		pack := fmt.Sprintf(`{"type":"transformation","time":%q,"site":%d,"transformation":{"inputs":[{"lot":%d,"quantity":100}],"outputs":[{"code":"P-4-A","product":%d,"quantity":60,"unit":"kg"},{"code":"P-4-B","product":%d,"quantity":40,"unit":"kg"}]}}`,
			time.Now().Add(-time.Minute).Format(time.RFC3339), e.packh, id, e.fruit, e.fruit)
		if r := e.do("POST", "/api/v1/events", e.coop, []byte(pack)); r.status != 201 {
			t.Fatalf("pack: %d %s", r.status, r.body)
		}
		g := e.do("GET", fmt.Sprintf("/api/v1/lots/%d/trace?direction=forward", id), e.coop, nil).json(t)
		if len(g["lots"].([]any)) != 3 || len(g["edges"].([]any)) != 2 {
			t.Fatalf("forward trace: %v", g)
		}
		if r := e.do("GET", fmt.Sprintf("/api/v1/lots/%d/trace", id), e.other, nil); r.status != 404 {
			t.Fatalf("other party traces our lot: %d", r.status)
		}
		if r := e.do("GET", fmt.Sprintf("/api/v1/lots/%d/trace?direction=sideways", id), e.coop, nil); r.status != 422 {
			t.Fatalf("bad direction: %d", r.status)
		}
		for path, want := range map[string]string{"/healthz": "ok", "/readyz": "ready", "/metrics": "ganpin_http_requests_total"} {
			if r := e.do("GET", path, "", nil); r.status != 200 || !strings.Contains(string(r.body), want) {
				t.Fatalf("%s: %d %.200s", path, r.status, r.body)
			}
		}
	})
}
