package web_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/ganpin/ganpin/cert"
	"github.com/ganpin/ganpin/cert/pdf"
	"github.com/ganpin/ganpin/internal/demo"
	"github.com/ganpin/ganpin/internal/store"
	"github.com/ganpin/ganpin/internal/testdb"
	"github.com/ganpin/ganpin/trace"
	"github.com/ganpin/ganpin/web"
)

// newInspectEnv starts the console over the certified demo with the demo
// inspector's samples recorded, one of them 不合格.
func newInspectEnv(t *testing.T) (*env, *demo.Sampled) {
	t.Helper()
	ctx := context.Background()
	db := testdb.SQLite(t)
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
	certs := cert.NewService(cert.Config{Store: st, Keys: keys, Missing: pdf.Missing})
	cs, err := demo.Certify(ctx, svc, certs, res.ExampleLot)
	if err != nil {
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
	sampled, err := demo.Sample(ctx, svc, insp, 0)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(web.New(web.Config{Service: svc, Certs: certs, Base: "http://127.0.0.1:8080", Inspection: insp}))
	t.Cleanup(srv.Close)
	return &env{t: t, db: db, svc: svc, demo: res, certified: cs, url: srv.URL}, sampled
}

func (c *client) loginAs(user, want string) {
	c.t.Helper()
	p := c.post("/console/login", url.Values{"username": {user}, "password": {demo.Password}})
	if p.status != http.StatusSeeOther || p.header.Get("Location") != want {
		c.t.Fatalf("login %s: status %d, location %q, want %s", user, p.status, p.header.Get("Location"), want)
	}
}

func rowsOf(p page, id string) []*html.Node {
	tb := first(p.doc, func(n *html.Node) bool { return n.Data == "table" && attr(n, "id") == id })
	if tb == nil {
		return nil
	}
	return all(tb, func(n *html.Node) bool { return n.Data == "tr" && n.Parent.Data == "tbody" })
}

func TestInspectorConsole(t *testing.T) {
	e, sampled := newInspectEnv(t)
	c := e.client(t)
	c.loginAs("inspector", "/console/inspect/")

	p := c.get("/console/inspect/")
	if p.status != 200 || len(rowsOf(p, "results")) != sampled.Records {
		t.Fatalf("search page: %d, %d rows, want %d", p.status, len(rowsOf(p, "results")), sampled.Records)
	}
	if nav := text(first(p.doc, func(n *html.Node) bool { return hasClass(n, "nav") })); !strings.Contains(nav, "抽检记录") || strings.Contains(nav, "批次") {
		t.Errorf("inspector navigation %q", nav)
	}
	p = c.get("/console/inspect/?verdict=" + url.QueryEscape("不合格") + "&item=" + url.QueryEscape("丙溴磷"))
	rs := rowsOf(p, "results")
	if len(rs) != 1 || !strings.Contains(text(rs[0]), "不合格") {
		t.Fatalf("failed samples: %d rows", len(rs))
	}
	if p := c.get("/console/inspect/?county=440305"); p.status != 403 {
		t.Errorf("search outside the jurisdiction: %d", p.status)
	}
	if p := c.get("/console/inspect/?from=yesterday"); p.status != 422 {
		t.Errorf("bad date: %d", p.status)
	}

	// The failed sample's page: its report, the trace graph with the marked lot.
	id := strconv.FormatInt(sampled.Failed, 10)
	p = c.get("/console/inspect/" + id)
	if p.status != 200 || text(first(p.doc, func(n *html.Node) bool { return attr(n, "id") == "verdict" })) != "不合格" {
		t.Fatalf("record page: %d", p.status)
	}
	svg := first(p.doc, func(n *html.Node) bool { return n.Data == "svg" && attr(n, "id") == "trace-graph" })
	if svg == nil || len(all(svg, func(n *html.Node) bool { return n.Data == "rect" && attr(n, "stroke") == "#c0392b" })) == 0 {
		t.Fatal("no trace graph with a marked lot")
	}
	p = c.get("/console/inspect/" + id + "/recall")
	if p.status != 200 || !strings.Contains(text(first(p.doc, func(n *html.Node) bool { return attr(n, "id") == "recall-certs" })), "已撤销") {
		t.Fatalf("recall page: %d", p.status)
	}

	// A sampling record with one sampler is refused and nothing is written; then saved.
	before := e.count("samplings")
	form := c.form(c.get("/console/inspect/new"), "/console/inspect/new")
	for k, v := range map[string]string{"number": "GZ-WEB-1", "task_source": "监督抽检计划", "place": "章贡区东门市场", "county": "360702", "samplers": "王抽检",
		"sampled": "东门鲜果店", "producer": "寻乌县澄江脐橙专业合作社", "sample": "赣南脐橙", "quantity": "3", "backup": "3"} {
		form.Set(k, v)
	}
	p = c.post("/console/inspect/new", form)
	if p.status != 422 || !strings.Contains(text(first(p.doc, func(n *html.Node) bool { return attr(n, "id") == "form-error" })), "抽样人员") {
		t.Fatalf("one sampler: %d", p.status)
	}
	if n := e.count("samplings"); n != before {
		t.Fatalf("samplings %d → %d", before, n)
	}
	form.Set("samplers", "王抽检、刘抽检")
	if p := c.post("/console/inspect/new", form); p.status != http.StatusSeeOther || !strings.HasPrefix(p.header.Get("Location"), "/console/inspect/") {
		t.Fatalf("save: %d %s", p.status, p.header.Get("Location"))
	}

	// An export runs in the background; its page shows progress, then the file.
	p = c.get("/console/inspect/export?kind=samplings&format=csv&verdict=" + url.QueryEscape("不合格"))
	job := p.header.Get("Location")
	if p.status != http.StatusSeeOther || !strings.HasPrefix(job, "/console/exports/") {
		t.Fatalf("export: %d %s", p.status, job)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		p = c.get(job)
		if first(p.doc, func(n *html.Node) bool { return attr(n, "id") == "download" }) != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("export not done: %s", text(p.doc))
		}
		time.Sleep(20 * time.Millisecond)
	}
	f := c.get(job + "/file")
	if f.status != 200 || !strings.HasPrefix(f.body, "\uFEFF抽样单编号") || strings.Count(f.body, "\n") != 2 {
		t.Fatalf("export file: %d %q", f.status, f.body)
	}
	// Two searches, the recall list and the export are on the record; refused ones not.
	if p := c.get("/console/inspect/audit"); len(rowsOf(p, "audit")) != 4 || !strings.Contains(text(rowsOf(p, "audit")[0]), "export_csv") {
		t.Errorf("audit log: %d rows", len(rowsOf(p, "audit")))
	}

	// Producers are kept out; another inspector's export is not theirs.
	pc := e.client(t)
	pc.login("xunwu")
	if p := pc.get("/console/inspect/"); p.status != 403 {
		t.Errorf("producer at the inspector console: %d", p.status)
	}
	if p := pc.get(job); p.status != 403 {
		t.Errorf("producer at an export: %d", p.status)
	}
}
