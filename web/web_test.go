package web_test

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
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
	"github.com/ganpin/ganpin/internal/sqldb"
	"github.com/ganpin/ganpin/internal/store"
	"github.com/ganpin/ganpin/internal/testdb"
	"github.com/ganpin/ganpin/trace"
	"github.com/ganpin/ganpin/web"
)

// env is a console over a migrated SQLite database holding the demo supply chain.
type env struct {
	t    *testing.T
	db   sqldb.DB
	svc  *trace.Service
	demo *demo.Result
	url  string

	certified *demo.Certified
}

// newEnv starts a console over the demo; with certify, the demo's certificates too.
func newEnv(t *testing.T, certify bool) *env {
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
	var cs *demo.Certified
	if certify {
		if cs, err = demo.Certify(ctx, svc, certs, res.ExampleLot); err != nil {
			t.Fatal(err)
		}
	}
	srv := httptest.NewServer(web.New(web.Config{Service: svc, Certs: certs, Base: "http://127.0.0.1:8080"}))
	t.Cleanup(srv.Close)
	return &env{t: t, db: db, svc: svc, demo: res, certified: cs, url: srv.URL}
}

func (e *env) count(table string) int {
	e.t.Helper()
	var n int
	if err := e.db.QueryRow(context.Background(), `SELECT COUNT(*) FROM `+table).Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n
}

// lotID returns the ID of a lot by its code.
func (e *env) lotID(code string) int64 {
	e.t.Helper()
	var id int64
	if err := e.db.QueryRow(context.Background(), `SELECT id FROM lots WHERE code = $1`, code).Scan(&id); err != nil {
		e.t.Fatalf("lot %s: %v", code, err)
	}
	return id
}

// client is a browser-like HTTP client with a cookie jar that does not follow redirects.
type client struct {
	t   *testing.T
	e   *env
	hc  *http.Client
	jar *cookiejar.Jar
}

func (e *env) client(t *testing.T) *client {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	return &client{t: t, e: e, jar: jar, hc: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

type page struct {
	status int
	header http.Header
	body   string
	doc    *html.Node
}

func (c *client) do(req *http.Request) page {
	c.t.Helper()
	res, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	p := page{status: res.StatusCode, header: res.Header, body: string(b)}
	if strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
		if p.doc, err = html.Parse(strings.NewReader(p.body)); err != nil {
			c.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
		}
	}
	return p
}

func (c *client) get(path string) page {
	c.t.Helper()
	req, _ := http.NewRequest("GET", c.e.url+path, nil)
	return c.do(req)
}

func (c *client) post(path string, form url.Values, header ...string) page {
	c.t.Helper()
	req, _ := http.NewRequest("POST", c.e.url+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return c.do(req)
}

// follow GETs the target of a redirect, failing when p is not a 303.
func (c *client) follow(p page) page {
	c.t.Helper()
	if p.status != http.StatusSeeOther {
		c.t.Fatalf("status %d, want 303; body:\n%s", p.status, text(p.doc))
	}
	return c.get(p.header.Get("Location"))
}

func (c *client) login(user string) {
	c.t.Helper()
	p := c.post("/console/login", url.Values{"username": {user}, "password": {demo.Password}})
	if p.status != http.StatusSeeOther || p.header.Get("Location") != "/console/" {
		c.t.Fatalf("login %s: status %d, location %q", user, p.status, p.header.Get("Location"))
	}
}

// form returns the values a browser would submit with the form whose action is path on
// page p: hidden fields, text inputs, checked boxes and selected options.
func (c *client) form(p page, action string) url.Values {
	c.t.Helper()
	f := first(p.doc, func(n *html.Node) bool { return n.Data == "form" && attr(n, "action") == action })
	if f == nil {
		c.t.Fatalf("no form for %s", action)
	}
	v := url.Values{}
	for _, n := range all(f, func(n *html.Node) bool { return n.Type == html.ElementNode }) {
		name := attr(n, "name")
		if name == "" {
			continue
		}
		switch n.Data {
		case "input":
			switch attr(n, "type") {
			case "checkbox", "radio":
				if hasAttr(n, "checked") {
					v.Add(name, attr(n, "value"))
				}
			case "submit":
			default:
				v.Set(name, attr(n, "value"))
			}
		case "textarea":
			v.Set(name, text(n))
		case "select":
			opts := all(n, func(o *html.Node) bool { return o.Data == "option" })
			for i, o := range opts {
				if hasAttr(o, "selected") || i == 0 {
					v.Set(name, attr(o, "value"))
				}
			}
		}
	}
	return v
}

// HTML helpers.

func all(n *html.Node, match func(*html.Node) bool) []*html.Node {
	var out []*html.Node
	if n == nil {
		return nil
	}
	for d := range n.Descendants() {
		if d.Type == html.ElementNode && match(d) {
			out = append(out, d)
		}
	}
	return out
}

func first(n *html.Node, match func(*html.Node) bool) *html.Node {
	if ns := all(n, match); len(ns) > 0 {
		return ns[0]
	}
	return nil
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

func hasAttr(n *html.Node, key string) bool {
	for _, a := range n.Attr {
		if a.Key == key {
			return true
		}
	}
	return false
}

func hasClass(n *html.Node, class string) bool {
	for _, c := range strings.Fields(attr(n, "class")) {
		if c == class {
			return true
		}
	}
	return false
}

func text(n *html.Node) string {
	if n == nil {
		return ""
	}
	var b strings.Builder
	for d := range n.Descendants() {
		if d.Type == html.TextNode {
			b.WriteString(d.Data)
		}
	}
	if n.Type == html.TextNode {
		b.WriteString(n.Data)
	}
	return strings.Join(strings.Fields(b.String()), " ")
}

func byClass(n *html.Node, class string) []*html.Node {
	return all(n, func(d *html.Node) bool { return hasClass(d, class) })
}

// fieldError returns the error shown in the .field that holds the control named name.
func fieldError(t *testing.T, p page, name string) string {
	t.Helper()
	for _, f := range byClass(p.doc, "field") {
		if attr(f, "data-name") == name {
			if e := byClass(f, "error"); len(e) > 0 {
				return text(e[0])
			}
			return ""
		}
	}
	t.Fatalf("no field %s on the page", name)
	return ""
}

func inputValue(p page, name string) string {
	if n := first(p.doc, func(n *html.Node) bool { return attr(n, "name") == name && n.Data == "input" }); n != nil {
		return attr(n, "value")
	}
	return ""
}

func nowCST() time.Time { return time.Now().In(time.FixedZone("CST", 8*3600)) }

// orchard returns an orchard of xunwu's as a form value.
func (e *env) orchard(i int) string {
	e.t.Helper()
	var id int64
	if err := e.db.QueryRow(context.Background(), `SELECT s.id FROM sites s JOIN users u ON u.party_id = s.party_id WHERE u.username = 'xunwu' AND s.kind = 'orchard' ORDER BY s.id LIMIT 1 OFFSET $1`, i).Scan(&id); err != nil {
		e.t.Fatal(err)
	}
	return strconv.FormatInt(id, 10)
}

func TestConsole(t *testing.T) {
	e := newEnv(t, false)

	t.Run("signed out", func(t *testing.T) {
		c := e.client(t)
		p := c.get("/console/lots")
		if p.status != http.StatusSeeOther || p.header.Get("Location") != "/console/login?next=%2Fconsole%2Flots" {
			t.Errorf("GET /console/lots signed out: %d to %q", p.status, p.header.Get("Location"))
		}
		if p := c.get("/"); p.status != http.StatusSeeOther || p.header.Get("Location") != "/console/" {
			t.Errorf("GET /: %d to %q", p.status, p.header.Get("Location"))
		}
		p = c.get("/console/login")
		if p.status != 200 {
			t.Fatalf("login page: %d", p.status)
		}
		if h := first(p.doc, func(n *html.Node) bool { return n.Data == "html" }); attr(h, "lang") != "zh-CN" {
			t.Errorf("html lang = %q", attr(h, "lang"))
		}
		for _, id := range []string{"username", "password"} {
			if first(p.doc, func(n *html.Node) bool { return n.Data == "label" && attr(n, "for") == id }) == nil {
				t.Errorf("no label for %s", id)
			}
		}
		if csp := p.header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") || strings.Contains(csp, "script-src") {
			t.Errorf("CSP = %q", csp)
		}
		css := c.get(strings.TrimPrefix(attr(first(p.doc, func(n *html.Node) bool { return n.Data == "link" && attr(n, "rel") == "stylesheet" }), "href"), e.url))
		if css.status != 200 || !strings.HasPrefix(css.header.Get("Content-Type"), "text/css") || !strings.Contains(css.body, "@media") {
			t.Errorf("stylesheet: %d %s", css.status, css.header.Get("Content-Type"))
		}
		if p := c.get("/console/nope"); p.status != 404 || !strings.Contains(text(p.doc), "页面不存在") {
			t.Errorf("unknown page: %d", p.status)
		}
	})

	t.Run("login failure", func(t *testing.T) {
		c := e.client(t)
		var msgs []string
		for _, form := range []url.Values{
			{"username": {"xunwu"}, "password": {"wrong password"}},
			{"username": {"nobody-here"}, "password": {"wrong password"}},
		} {
			p := c.post("/console/login", form)
			if p.status != http.StatusUnauthorized {
				t.Errorf("login %s: status %d, want 401", form.Get("username"), p.status)
			}
			if len(p.header.Values("Set-Cookie")) != 0 {
				t.Errorf("login %s set a cookie: %v", form.Get("username"), p.header.Values("Set-Cookie"))
			}
			alert := byClass(p.doc, "alert")
			if len(alert) == 0 {
				t.Fatalf("login %s: no alert", form.Get("username"))
			}
			msgs = append(msgs, text(alert[0]))
			if inputValue(p, "username") != form.Get("username") {
				t.Errorf("username not kept: %q", inputValue(p, "username"))
			}
		}
		if !strings.Contains(msgs[0], "用户名或密码错误") || msgs[0] != msgs[1] {
			t.Errorf("messages for a wrong password and an unknown user: %q, %q; want the same Chinese message", msgs[0], msgs[1])
		}
	})

	t.Run("login and lots", func(t *testing.T) {
		c := e.client(t)
		p := c.post("/console/login", url.Values{"username": {"xunwu"}, "password": {demo.Password}, "next": {"/console/lots"}})
		if p.status != http.StatusSeeOther || p.header.Get("Location") != "/console/lots" {
			t.Fatalf("login: %d to %q", p.status, p.header.Get("Location"))
		}
		ck := p.header.Get("Set-Cookie")
		for _, want := range []string{"ganpin_session=gp_", "HttpOnly", "SameSite=Lax", "Path=/"} {
			if !strings.Contains(ck, want) {
				t.Errorf("session cookie %q lacks %q", ck, want)
			}
		}
		if strings.Contains(ck, "Secure") {
			t.Errorf("cookie Secure without Config.Secure: %q", ck)
		}
		p = c.follow(p)
		cards := byClass(p.doc, "lot")
		if len(cards) != 30 {
			t.Fatalf("lots page shows %d lots, want 30", len(cards))
		}
		for _, card := range cards {
			code := text(byClass(card, "code")[0])
			if !strings.HasPrefix(code, "XW-") {
				t.Errorf("lot %s on xunwu's list", code)
			}
			if q := text(byClass(card, "qty")[0]); !strings.Contains(q, "箱") && !strings.Contains(q, "公斤") {
				t.Errorf("lot %s quantity %q has no Chinese unit", code, q)
			}
		}
		next := first(p.doc, func(n *html.Node) bool { return attr(n, "rel") == "next" })
		if next == nil {
			t.Fatal("no next page link")
		}
		p2 := c.get(attr(next, "href"))
		c2 := byClass(p2.doc, "lot")
		if len(c2) == 0 || text(byClass(c2[0], "code")[0]) == text(byClass(cards[0], "code")[0]) {
			t.Errorf("the second page does not go on from the first")
		}
		if p := c.get("/console/lots?after=x"); p.status != 400 {
			t.Errorf("bad cursor: %d, want 400", p.status)
		}
	})

	t.Run("lot timeline", func(t *testing.T) {
		c := e.client(t)
		c.login("xunwu")
		p := c.get("/console/lots/" + strconv.FormatInt(e.demo.ExampleLot, 10))
		if p.status != 200 {
			t.Fatalf("example lot: %d", p.status)
		}
		var labels []string
		for _, ev := range byClass(p.doc, "ev") {
			labels = append(labels, text(first(ev, func(n *html.Node) bool { return n.Data == "b" })))
		}
		// The box lot is made by packing, then shipped to the cold store, received,
		// stored, shipped to Shanghai and received there.
		want := "分选包装 发运 收货 入库贮存 发运 收货"
		if got := strings.Join(labels, " "); got != want {
			t.Errorf("timeline %q, want %q", got, want)
		}
		if !strings.Contains(text(p.doc), "寻乌县澄江脐橙专业合作社") {
			t.Error("the owner is not named")
		}
	})

	t.Run("other party", func(t *testing.T) {
		c := e.client(t)
		c.login("xunwu")
		other := e.lotID("AY-1103-001")
		if p := c.get("/console/lots/" + strconv.FormatInt(other, 10)); p.status != 404 {
			t.Errorf("another party's lot: %d, want 404", p.status)
		}
		var ev int64
		e.db.QueryRow(context.Background(), `SELECT event_id FROM lots WHERE id = $1`, other).Scan(&ev)
		if p := c.get("/console/events/" + strconv.FormatInt(ev, 10)); p.status != 404 {
			t.Errorf("another party's event: %d, want 404", p.status)
		}
		// Shipping another party's lot is refused next to the lot list, without its
		// code (which xunwu may not read), and nothing is written.
		form := c.form(c.get("/console/record/shipping"), "/console/record/shipping")
		form.Set("shipping.lots", strconv.FormatInt(other, 10))
		form.Set("shipping.to", e.orchard(0))
		before := e.count("events")
		p := c.post("/console/record/shipping", form)
		if p.status != http.StatusForbidden {
			t.Errorf("shipping another party's lot: %d, want 403", p.status)
		}
		if msg := fieldError(t, p, "shipping.lots"); !strings.Contains(msg, "该批次不在本主体名下") || !strings.Contains(msg, "第1项") || strings.Contains(msg, "AY-1103-001") {
			t.Errorf("lots error %q", msg)
		}
		if n := e.count("events"); n != before {
			t.Errorf("events %d → %d", before, n)
		}
	})

	t.Run("not a producer", func(t *testing.T) {
		for _, user := range []string{"coldchain"} { // inspectors have their own pages (inspect_test.go)
			c := e.client(t)
			p := c.post("/console/login", url.Values{"username": {user}, "password": {demo.Password}})
			if p.status != http.StatusForbidden || !strings.Contains(text(p.doc), "没有生产者角色") {
				t.Errorf("%s: %d %q", user, p.status, text(first(p.doc, func(n *html.Node) bool { return hasClass(n, "alert") })))
			}
			if u, _ := url.Parse(e.url); len(c.jar.Cookies(u)) != 0 {
				t.Errorf("%s got a session cookie", user)
			}
		}
	})

	t.Run("harvest", func(t *testing.T) {
		c := e.client(t)
		c.login("xunwu-clerk")
		p := c.get("/console/record/harvest")
		if p.status != 200 {
			t.Fatalf("harvest form: %d", p.status)
		}
		good := c.form(p, "/console/record/harvest")
		if good.Get("csrf") == "" || good.Get("idem") == "" {
			t.Fatalf("form lacks csrf or idem: %v", good)
		}
		if _, err := time.ParseInLocation("2006-01-02T15:04", good.Get("time"), time.UTC); err != nil {
			t.Errorf("time default %q: %v", good.Get("time"), err)
		}
		// Every visible control has a label.
		for _, in := range all(p.doc, func(n *html.Node) bool {
			return (n.Data == "input" && attr(n, "type") != "hidden" && attr(n, "type") != "checkbox") || n.Data == "select" || n.Data == "textarea"
		}) {
			id := attr(in, "id")
			if id == "" || first(p.doc, func(n *html.Node) bool { return n.Data == "label" && attr(n, "for") == id }) == nil {
				t.Errorf("control %s has no label", attr(in, "name"))
			}
		}
		good.Set("site", e.orchard(1))
		good.Set("harvest.lot.code", "XW-T-001")
		var product string
		for _, o := range all(p.doc, func(n *html.Node) bool { return n.Data == "option" }) {
			if strings.HasPrefix(text(o), "赣南脐橙鲜果") {
				product = attr(o, "value")
			}
		}
		if product == "" {
			t.Fatal("no 赣南脐橙鲜果 among the products")
		}
		good.Set("harvest.lot.product", product)
		good.Set("harvest.lot.quantity", "1200")
		good.Set("harvest.lot.grade", "一等")
		good.Set("time", nowCST().Add(-time.Hour).Format("2006-01-02T15:04"))

		type counts struct{ events, lots int }
		now := func() counts { return counts{e.count("events"), e.count("lots")} }
		for _, tc := range []struct {
			name   string
			field  string
			value  string
			status int
			errAt  string
			want   string
		}{
			{"zero quantity", "harvest.lot.quantity", "0", 422, "harvest.lot.quantity", "数量必须大于0"},
			{"not a number", "harvest.lot.quantity", "很多", 400, "harvest.lot.quantity", "请输入数字"},
			{"bad code", "harvest.lot.code", "XW 空格", 422, "harvest.lot.code", "批次号必须为1至20个字符"},
			{"future", "time", nowCST().Add(2 * time.Hour).Format("2006-01-02T15:04"), 422, "time", "事件时间不能晚于当前时间"},
			{"no time", "time", "", 422, "time", "请填写时间"},
			{"no product", "harvest.lot.product", "", 422, "harvest.lot.product", "请选择产品"},
			{"count unit", "harvest.lot.unit", "box", 422, "harvest.lot.unit", "不能按箱计数"},
			{"duplicate code", "harvest.lot.code", "XW-1103-001", 409, "harvest.lot.code", "批次号XW-1103-001已存在"},
			{"no site", "site", "", 422, "site", "请选择场所"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				bad := url.Values{}
				for k, v := range good {
					bad[k] = v
				}
				bad.Set(tc.field, tc.value)
				before := now()
				p := c.post("/console/record/harvest", bad)
				if p.status != tc.status {
					t.Errorf("status %d, want %d", p.status, tc.status)
				}
				if msg := fieldError(t, p, tc.errAt); !strings.Contains(msg, tc.want) {
					t.Errorf("error at %s: %q, want %q", tc.errAt, msg, tc.want)
				}
				if len(byClass(p.doc, "alert")) == 0 {
					t.Error("no alert above the form")
				}
				if tc.field != "harvest.lot.code" && inputValue(p, "harvest.lot.code") != "XW-T-001" {
					t.Errorf("the lot code was not kept: %q", inputValue(p, "harvest.lot.code"))
				}
				if after := now(); after != before {
					t.Errorf("counts %v → %v: a refused form wrote", before, after)
				}
			})
		}

		t.Run("pre-harvest interval", func(t *testing.T) {
			form := c.form(c.get("/console/record/input"), "/console/record/input")
			form.Set("site", e.orchard(2))
			form.Set("time", nowCST().Add(-2*time.Hour).Format("2006-01-02T15:04"))
			form.Set("input_application.product_name", "1.8%阿维菌素乳油")
			form.Set("input_application.registration_no", "pd20080123") // upper-cased for the service
			form.Set("input_application.active_ingredient", "阿维菌素")
			form.Set("input_application.dose", "3000倍液")
			form.Set("input_application.phi_days", "１４") // full-width digits from a Chinese IME
			p := c.follow(c.post("/console/record/input", form))
			if f := text(first(p.doc, func(n *html.Node) bool { return hasClass(n, "flash") })); !strings.Contains(f, "已记录投入品使用") || !strings.Contains(f, "安全间隔期14天") {
				t.Errorf("flash %q", f)
			}
			if !strings.Contains(text(p.doc), "PD20080123") {
				t.Error("the event page does not show the registration number")
			}
			h := url.Values{}
			for k, v := range good {
				h[k] = v
			}
			h.Set("site", e.orchard(2))
			h.Set("harvest.lot.code", "XW-T-PHI")
			before := e.count("events")
			p = c.post("/console/record/harvest", h)
			if p.status != 422 {
				t.Errorf("harvest inside the interval: %d, want 422", p.status)
			}
			if msg := fieldError(t, p, "time"); !strings.Contains(msg, "安全间隔期内") {
				t.Errorf("time error %q", msg)
			}
			if e.count("events") != before {
				t.Error("a refused harvest wrote")
			}
		})

		t.Run("recorded", func(t *testing.T) {
			before := now()
			p := c.post("/console/record/harvest", good)
			if p.status != http.StatusSeeOther || !strings.HasPrefix(p.header.Get("Location"), "/console/lots/") {
				t.Fatalf("good harvest: %d to %q: %s", p.status, p.header.Get("Location"), text(first(p.doc, func(n *html.Node) bool { return hasClass(n, "alert") })))
			}
			if after := now(); after != (counts{before.events + 1, before.lots + 1}) {
				t.Errorf("counts %v → %v, want one event and one lot more", before, after)
			}
			lot := c.follow(p)
			if f := text(first(lot.doc, func(n *html.Node) bool { return hasClass(n, "flash") })); f != "已记录采收，生成批次 XW-T-001" {
				t.Errorf("flash %q", f)
			}
			if h := text(first(lot.doc, func(n *html.Node) bool { return n.Data == "h1" })); h != "XW-T-001" {
				t.Errorf("lot page h1 %q", h)
			}
			if body := text(lot.doc); !strings.Contains(body, "1200 / 共 1200 公斤") || !strings.Contains(body, "一等") {
				t.Errorf("lot page lacks the quantity or grade: %s", body)
			}
			// The datetime-local value is Beijing time: the timeline shows it as entered.
			if got, want := text(first(lot.doc, func(n *html.Node) bool {
				return n.Data == "time" && first(n.Parent, func(m *html.Node) bool { return m.Data == "b" }) != nil
			})), strings.Replace(good.Get("time"), "T", " ", 1); got != want {
				t.Errorf("harvest time on the timeline %q, want %q", got, want)
			}
			var spec string
			e.db.QueryRow(context.Background(), `SELECT e.body FROM events e JOIN lots l ON l.event_id = e.id WHERE l.code = 'XW-T-001'`).Scan(&spec)
			if want := `"time":"` + good.Get("time") + `:00+08:00"`; !strings.Contains(spec, want) {
				t.Errorf("recorded event %s lacks %s", spec, want)
			}
			if again := c.get(p.header.Get("Location")); first(again.doc, func(n *html.Node) bool { return hasClass(n, "flash") }) != nil {
				t.Error("the flash shows twice")
			}
			// The same form again (a double tap, a retry) records nothing more.
			p = c.post("/console/record/harvest", good)
			if p.status != http.StatusSeeOther || e.count("events") != before.events+1 {
				t.Errorf("resubmitted form: %d, events %d", p.status, e.count("events"))
			}
			if f := text(first(c.follow(p).doc, func(n *html.Node) bool { return hasClass(n, "flash") })); !strings.Contains(f, "已经提交过") {
				t.Errorf("flash after a resubmission %q", f)
			}
			// The new lot heads the list.
			list := c.get("/console/lots")
			if code := text(byClass(byClass(list.doc, "lot")[0], "code")[0]); code != "XW-T-001" {
				t.Errorf("first lot on the list %q", code)
			}
		})

		t.Run("packing", func(t *testing.T) {
			raw := strconv.FormatInt(e.lotID("XW-T-001"), 10)
			p := c.get("/console/record/packing?lot=" + raw)
			form := c.form(p, "/console/record/packing")
			if form.Get("transformation.inputs[0].lot") != raw {
				t.Fatalf("?lot= not preselected: %v", form)
			}
			// Another input row, without recording anything.
			form.Set("add", "in")
			p = c.post("/console/record/packing", form)
			if p.status != 200 || inputValue(p, "transformation.inputs[1].quantity") != "" || first(p.doc, func(n *html.Node) bool { return attr(n, "name") == "transformation.inputs[1].lot" }) == nil {
				t.Fatalf("add a row: %d", p.status)
			}
			form = c.form(p, "/console/record/packing")
			var box string
			for _, o := range all(p.doc, func(n *html.Node) bool { return n.Data == "option" }) {
				if strings.HasPrefix(text(o), "赣南脐橙 5kg装") {
					box = attr(o, "value")
				}
			}
			form.Set("site", form.Get("site"))
			// The first input row is left empty; the second holds the lot.
			form.Set("transformation.inputs[0].lot", "")
			form.Set("transformation.inputs[1].lot", raw)
			form.Set("transformation.inputs[1].quantity", "1300")
			form.Set("transformation.outputs[0].code", "XW-T-001-5K")
			form.Set("transformation.outputs[0].product", box)
			form.Set("transformation.outputs[0].quantity", "200")
			before := e.count("events")
			p = c.post("/console/record/packing", form)
			if p.status != 422 {
				t.Errorf("input over remaining: %d, want 422", p.status)
			}
			if msg := fieldError(t, p, "transformation.inputs[1].quantity"); !strings.Contains(msg, "超过批次剩余数量1200") {
				t.Errorf("error at the second input row: %q", msg)
			}
			if e.count("events") != before {
				t.Error("refused packing wrote")
			}
			form.Set("transformation.inputs[1].quantity", "1200")
			p = c.post("/console/record/packing", form)
			if p.status != http.StatusSeeOther || !strings.HasPrefix(p.header.Get("Location"), "/console/events/") {
				t.Fatalf("packing: %d to %q: %s", p.status, p.header.Get("Location"), text(byClass(p.doc, "alert")[0]))
			}
			ev := c.follow(p)
			if body := text(ev.doc); !strings.Contains(body, "已记录分选包装，生成批次 XW-T-001-5K") || !strings.Contains(body, "投入：XW-T-001 · 1200 公斤") || !strings.Contains(body, "产出：XW-T-001-5K · 200 箱") {
				t.Errorf("packing event page: %s", body)
			}
			if body := text(c.get("/console/lots/" + raw).doc); !strings.Contains(body, "剩余 0 / 共 1200 公斤") || !strings.Contains(body, "已用完") {
				t.Errorf("input lot after packing: %s", body)
			}
		})
	})

	t.Run("ship and receive", func(t *testing.T) {
		c := e.client(t)
		c.login("xunwu")
		boxes := strconv.FormatInt(e.lotID("XW-T-001-5K"), 10)
		p := c.get("/console/record/shipping?lot=" + boxes)
		form := c.form(p, "/console/record/shipping")
		if got := form["shipping.lots"]; len(got) != 1 || got[0] != boxes {
			t.Fatalf("?lot= not ticked: %v", got)
		}
		// A quick, if odd, route: from the packhouse to one of xunwu's orchards.
		form.Set("shipping.to", e.orchard(0))
		form.Set("shipping.vehicle", "赣B12345")
		p = c.follow(c.post("/console/record/shipping", form))
		if f := flash(p); f != "已记录发运（1个批次）" || !strings.Contains(text(p.doc), "赣B12345") {
			t.Errorf("shipping: flash %q", f)
		}
		if lot := text(c.get("/console/lots/" + boxes).doc); !strings.Contains(lot, "在途") {
			t.Error("the shipped lot is not in transit")
		}
		p = c.get("/console/record/receiving")
		form = c.form(p, "/console/record/receiving")
		var offered bool
		for _, in := range all(p.doc, func(n *html.Node) bool { return attr(n, "name") == "receiving.lots" }) {
			offered = offered || attr(in, "value") == boxes
		}
		if !offered {
			t.Fatal("the lot in transit is not offered for receiving")
		}
		form.Set("site", e.orchard(0))
		form.Set("receiving.lots", boxes)
		p = c.follow(c.post("/console/record/receiving", form))
		if f := flash(p); f != "已记录收货（1个批次）" {
			t.Errorf("receiving: flash %q", f)
		}
		// xunwu has no cold store: the storing form says so.
		if p := c.get("/console/record/storing"); !strings.Contains(text(first(p.doc, func(n *html.Node) bool { return hasClass(n, "alert") })), "还没有可记录入库贮存的场所") {
			t.Error("storing without a cold store is not explained")
		}
	})

	t.Run("csrf", func(t *testing.T) {
		c := e.client(t)
		c.login("xunwu")
		form := c.form(c.get("/console/record/harvest"), "/console/record/harvest")
		form.Set("site", e.orchard(3))
		form.Set("harvest.lot.code", "XW-CSRF")
		form.Set("harvest.lot.quantity", "100")
		form.Set("harvest.lot.product", strconv.FormatInt(e.productID("赣南脐橙鲜果"), 10))
		before := e.count("events")
		for name, tc := range map[string]struct {
			csrf   string
			header []string
		}{
			"missing token":  {"", nil},
			"wrong token":    {"AAAA" + form.Get("csrf")[4:], nil},
			"cross-site":     {form.Get("csrf"), []string{"Sec-Fetch-Site", "cross-site"}},
			"foreign Origin": {form.Get("csrf"), []string{"Origin", "https://evil.example"}},
		} {
			f := url.Values{}
			for k, v := range form {
				f[k] = v
			}
			f.Set("csrf", tc.csrf)
			p := c.post("/console/record/harvest", f, tc.header...)
			if p.status != http.StatusForbidden {
				t.Errorf("%s: status %d, want 403", name, p.status)
			}
		}
		if e.count("events") != before {
			t.Error("a refused POST wrote")
		}
		// A login from another site is refused too.
		if p := c.post("/console/login", url.Values{"username": {"xunwu"}, "password": {demo.Password}}, "Sec-Fetch-Site", "cross-site"); p.status != http.StatusForbidden {
			t.Errorf("cross-site login: %d", p.status)
		}
		// The same form from this site goes through.
		if p := c.post("/console/record/harvest", form, "Sec-Fetch-Site", "same-origin"); p.status != http.StatusSeeOther {
			t.Errorf("same-origin post: %d: %s", p.status, text(p.doc))
		}
	})

	t.Run("logout", func(t *testing.T) {
		c := e.client(t)
		c.login("xunwu")
		home := c.get("/console/")
		u, _ := url.Parse(e.url)
		var token string
		for _, ck := range c.jar.Cookies(u) {
			if strings.HasPrefix(ck.Value, "gp_") {
				token = ck.Value
			}
		}
		if _, err := e.svc.Authenticate(context.Background(), token); err != nil {
			t.Fatalf("the session's token %q does not authenticate: %v", token, err)
		}
		p := c.post("/console/logout", c.form(home, "/console/logout"))
		if p.status != http.StatusSeeOther || p.header.Get("Location") != "/console/login" {
			t.Fatalf("logout: %d to %q", p.status, p.header.Get("Location"))
		}
		if _, err := e.svc.Authenticate(context.Background(), token); err == nil {
			t.Error("the token still authenticates after logout")
		}
		if p := c.get("/console/lots"); p.status != http.StatusSeeOther {
			t.Errorf("after logout /console/lots: %d, want a redirect to login", p.status)
		}
	})
}

func (e *env) productID(name string) int64 {
	e.t.Helper()
	var id int64
	if err := e.db.QueryRow(context.Background(), `SELECT p.id FROM products p JOIN users u ON u.party_id = p.party_id WHERE u.username = 'xunwu' AND p.name = $1`, name).Scan(&id); err != nil {
		e.t.Fatal(err)
	}
	return id
}

// harvest records a harvest of kg of 赣南脐橙鲜果 through the form and returns the new lot.
func (c *client) harvest(code, orchard string, kg string) int64 {
	c.t.Helper()
	form := c.form(c.get("/console/record/harvest"), "/console/record/harvest")
	form.Set("site", orchard)
	form.Set("time", nowCST().Add(-30*time.Minute).Format("2006-01-02T15:04"))
	form.Set("harvest.lot.code", code)
	form.Set("harvest.lot.product", strconv.FormatInt(c.e.productID("赣南脐橙鲜果"), 10))
	form.Set("harvest.lot.quantity", kg)
	p := c.post("/console/record/harvest", form)
	if p.status != http.StatusSeeOther {
		c.t.Fatalf("harvest %s: %d: %s", code, p.status, text(first(p.doc, func(n *html.Node) bool { return hasClass(n, "alert") })))
	}
	return c.e.lotID(code)
}

func (e *env) certID(serial string) int64 {
	e.t.Helper()
	var id int64
	if err := e.db.QueryRow(context.Background(), `SELECT id FROM certificates WHERE serial = $1`, serial).Scan(&id); err != nil {
		e.t.Fatalf("certificate %s: %v", serial, err)
	}
	return id
}

func flash(p page) string {
	return text(first(p.doc, func(n *html.Node) bool { return hasClass(n, "flash") }))
}

func isPDF(t *testing.T, p page, what string) {
	t.Helper()
	if p.status != 200 || p.header.Get("Content-Type") != "application/pdf" || !strings.HasPrefix(p.body, "%PDF-") {
		t.Errorf("%s: status %d, type %q, starts %q; want a PDF", what, p.status, p.header.Get("Content-Type"), p.body[:min(len(p.body), 40)])
	}
	if !strings.HasPrefix(p.header.Get("Content-Disposition"), "attachment; filename=") {
		t.Errorf("%s: Content-Disposition %q", what, p.header.Get("Content-Disposition"))
	}
}

func TestCertificates(t *testing.T) {
	e := newEnv(t, true)
	c := e.client(t)
	c.login("xunwu")
	units := strconv.FormatInt(e.certID(e.certified.Units), 10)

	t.Run("list", func(t *testing.T) {
		p := c.get("/console/certs")
		if p.status != 200 {
			t.Fatalf("list: %d", p.status)
		}
		cards := byClass(p.doc, "lot")
		if len(cards) != 30 {
			t.Errorf("%d certificates on the first page, want 30", len(cards))
		}
		for _, card := range cards {
			if code := text(byClass(card, "mono")[0]); !strings.HasPrefix(code, "XW-") {
				t.Errorf("certificate of lot %s on xunwu's list", code)
			}
			if st := text(byClass(card, "badge")[0]); st != "有效" {
				t.Errorf("status %q", st)
			}
		}
		if first(p.doc, func(n *html.Node) bool {
			return n.Data == "a" && attr(n, "href") == "/console/certs" && attr(n, "aria-current") == "page"
		}) == nil {
			t.Error("the 合格证 tab is not current")
		}
	})

	t.Run("page and print", func(t *testing.T) {
		p := c.get("/console/certs/" + units)
		if p.status != 200 {
			t.Fatalf("certificate page: %d", p.status)
		}
		if st := text(first(p.doc, func(n *html.Node) bool { return attr(n, "id") == "cert-status" })); st != "有效" {
			t.Errorf("status %q", st)
		}
		body := text(first(p.doc, func(n *html.Node) bool { return hasClass(n, "certificate") }))
		for _, want := range []string{"承诺达标合格证", e.certified.Units, "寻乌县澄江脐橙专业合作社", "寻乌县澄江镇", cert.ProducerText, "127.0.0.1:8080/c/" + e.certified.Units} {
			if !strings.Contains(body, want) {
				t.Errorf("certificate lacks %q: %s", want, body)
			}
		}
		for _, tc := range []struct{ name, query string }{
			{"A6", "layout=a6&copies=2"},
			{"thermal", "layout=label&copies=1"},
			{"sheet 2x5", "layout=sheet-2x5&copies=10"},
			{"unit labels", "layout=sheet-3x8&from=1&to=30"},
		} {
			isPDF(t, c.get("/console/certs/"+units+"/pdf?"+tc.query), tc.name)
		}
		for _, tc := range []struct {
			name, query string
			status      int
			want        string
		}{
			{"bad layout", "layout=a0", 422, "未知的打印版式"},
			{"too many copies", "layout=a6&copies=5000", 422, "份数应为1至1000"},
			{"units out of range", "layout=sheet-3x8&from=1&to=999999", 422, "单品码范围应在1至"},
			{"copies not a number", "layout=a6&copies=两", 400, "请输入整数"},
		} {
			p := c.get("/console/certs/" + units + "/pdf?" + tc.query)
			if p.status != tc.status || !strings.Contains(text(first(p.doc, func(n *html.Node) bool { return hasClass(n, "error") })), tc.want) {
				t.Errorf("%s: %d %q, want %d with %q", tc.name, p.status, text(first(p.doc, func(n *html.Node) bool { return hasClass(n, "error") })), tc.status, tc.want)
			}
		}
		// Several certificates on one sheet.
		list := c.get("/console/certs")
		var ids []string
		for _, in := range all(list.doc, func(n *html.Node) bool { return attr(n, "name") == "id" })[:3] {
			ids = append(ids, attr(in, "value"))
		}
		isPDF(t, c.get("/console/certs/print?layout=sheet-2x5&copies=2&id="+strings.Join(ids, "&id=")), "batch")
		if p := c.get("/console/certs/print?layout=sheet-2x5"); p.status != 422 || !strings.Contains(text(p.doc), "请勾选要打印的合格证") {
			t.Errorf("batch without certificates: %d", p.status)
		}
	})

	t.Run("other party", func(t *testing.T) {
		revoked := strconv.FormatInt(e.certID(e.certified.Revoked), 10) // anyuan's
		for _, path := range []string{"/console/certs/" + revoked, "/console/certs/" + revoked + "/pdf", "/console/certs/print?id=" + revoked + "&id=" + units} {
			if p := c.get(path); p.status != 404 {
				t.Errorf("%s: %d, want 404", path, p.status)
			}
		}
		ay := e.client(t)
		ay.login("anyuan")
		p := ay.get("/console/certs/" + revoked)
		if st := text(first(p.doc, func(n *html.Node) bool { return attr(n, "id") == "cert-status" })); st != "已撤销" || !strings.Contains(text(p.doc), "礼盒标签印错") {
			t.Errorf("revoked certificate shows %q", st)
		}
		if first(p.doc, func(n *html.Node) bool { return attr(n, "id") == "print" }) != nil {
			t.Error("a revoked certificate offers printing")
		}
		if p := ay.get("/console/certs/" + revoked + "/pdf?layout=a6"); p.status != 409 || !strings.Contains(text(p.doc), "已撤销，不能打印") {
			t.Errorf("PDF of a revoked certificate: %d", p.status)
		}
	})

	t.Run("issue", func(t *testing.T) {
		lot := strconv.FormatInt(c.harvest("XW-C-001", e.orchard(5), "500"), 10)
		lp := c.get("/console/lots/" + lot)
		link := first(lp.doc, func(n *html.Node) bool { return attr(n, "href") == "/console/lots/"+lot+"/certify" })
		if link == nil {
			t.Fatal("the new lot's page offers no certificate")
		}
		p := c.get(attr(link, "href"))
		if p.status != 200 {
			t.Fatalf("issue form: %d", p.status)
		}
		good := c.form(p, "/console/lots/"+lot+"/certify")
		if good.Get("quantity") != "500" || good.Get("template") != "producer" || good.Get("basis") != "quality_control" || good.Get("contact") == "" {
			t.Errorf("defaults: %v", good)
		}
		fold := func(p page) *html.Node { return first(p.doc, func(n *html.Node) bool { return n.Data == "details" }) }
		if d := fold(p); d == nil || hasAttr(d, "open") {
			t.Error("the upstream certificates are not folded away for a producer")
		}
		more := url.Values{}
		for k, x := range good {
			more[k] = x
		}
		more.Set("add", "upstream")
		if p := c.post("/console/lots/"+lot+"/certify", more); p.status != 200 || first(p.doc, func(n *html.Node) bool { return attr(n, "name") == "upstream[1].issuer" }) == nil {
			t.Errorf("another upstream row: %d", p.status)
		}
		certs := func() int { return e.count("certificates") }
		before := certs()
		for _, tc := range []struct {
			name  string
			edit  func(url.Values)
			code  int
			field string
			want  string
		}{
			{"no basis", func(v url.Values) { v.Del("basis") }, 422, "basis", "请勾选至少一项承诺依据"},
			{"test without report", func(v url.Values) { v["basis"] = []string{"self_tested"} }, 422, "report", "须填写检测报告编号"},
			{"over remaining", func(v url.Values) { v.Set("quantity", "501") }, 422, "quantity", "超过批次剩余数量500"},
			{"no quantity", func(v url.Values) { v.Set("quantity", "") }, 422, "quantity", "必填项"},
			{"buyer without upstream", func(v url.Values) { v.Set("template", "buyer") }, 422, "upstream", "收购者样式须登记所收取的上游合格证"},
			{"upstream row", func(v url.Values) {
				v.Set("template", "buyer")
				v.Set("upstream[0].issuer", "寻乌县某家庭农场")
				v.Set("upstream[0].product", "脐橙")
				v.Set("upstream[0].quantity", "300")
				v.Set("upstream[0].unit", "kg")
				v.Set("upstream[0].issued_on", "2026-11-30")
			}, 422, "upstream[0].bases", "请登记上游合格证勾选的承诺依据"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				v := url.Values{}
				for k, x := range good {
					v[k] = x
				}
				tc.edit(v)
				v.Set("action", "preview")
				p := c.post("/console/lots/"+lot+"/certify", v)
				if p.status != tc.code {
					t.Errorf("status %d, want %d", p.status, tc.code)
				}
				got := ""
				if tc.field == "upstream" {
					got = text(first(p.doc, func(n *html.Node) bool { return attr(n, "id") == "form-error" }))
				} else {
					got = fieldError(t, p, tc.field)
				}
				if !strings.Contains(got, tc.want) {
					t.Errorf("error %q, want %q", got, tc.want)
				}
				if certs() != before {
					t.Error("a refused preview wrote")
				}
				if d := fold(p); strings.HasPrefix(tc.field, "upstream") && !hasAttr(d, "open") {
					t.Error("the upstream section stays folded over its error")
				}
			})
		}

		// Preview: the certificate as it will print, nothing stored.
		v := url.Values{}
		for k, x := range good {
			v[k] = x
		}
		v["basis"] = []string{"quality_control", "self_tested"}
		v.Set("report", "自检-XW-C-001")
		v.Set("action", "preview")
		p = c.post("/console/lots/"+lot+"/certify", v)
		if p.status != 200 {
			t.Fatalf("preview: %d %s", p.status, text(first(p.doc, func(n *html.Node) bool { return hasClass(n, "alert") })))
		}
		card := text(first(p.doc, func(n *html.Node) bool { return hasClass(n, "certificate") }))
		for _, want := range []string{"承诺达标合格证", "赣南脐橙鲜果 纽荷尔", "500 公斤", "寻乌县澄江镇", "寻乌县澄江脐橙专业合作社", cert.ProducerText, "已勾选：质量安全控制符合要求", "已勾选：自行检测合格", "未勾选：委托检测合格", "自检-XW-C-001"} {
			if !strings.Contains(card, want) {
				t.Errorf("preview lacks %q: %s", want, card)
			}
		}
		if certs() != before {
			t.Error("the preview wrote")
		}
		confirm := c.form(p, "/console/lots/"+lot+"/certify")
		// 返回修改 brings the form back as it was.
		confirm.Set("action", "edit")
		if back := c.post("/console/lots/"+lot+"/certify", confirm); inputValue(back, "report") != "自检-XW-C-001" || back.status != 200 {
			t.Errorf("edit: %d, report %q", back.status, inputValue(back, "report"))
		}
		confirm.Set("action", "issue")
		p = c.post("/console/lots/"+lot+"/certify", confirm)
		if p.status != http.StatusSeeOther || !strings.HasPrefix(p.header.Get("Location"), "/console/certs/") {
			t.Fatalf("issue: %d to %q", p.status, p.header.Get("Location"))
		}
		if certs() != before+1 {
			t.Errorf("certificates %d → %d", before, certs())
		}
		page := c.follow(p)
		if f := flash(page); !strings.HasPrefix(f, "已开具合格证 GP26") {
			t.Errorf("flash %q", f)
		}
		if st := text(first(page.doc, func(n *html.Node) bool { return attr(n, "id") == "cert-status" })); st != "有效" {
			t.Errorf("status %q", st)
		}
		certPath := p.header.Get("Location")
		isPDF(t, c.get(certPath+"/pdf?layout=label&copies=3"), "new certificate")
		// Confirmed twice (a double tap): one certificate.
		if again := c.post("/console/lots/"+lot+"/certify", confirm); again.status != http.StatusSeeOther || again.header.Get("Location") != certPath || certs() != before+1 {
			t.Errorf("second confirm: %d to %q, certificates %d", again.status, again.header.Get("Location"), certs())
		}
		// The lot links its certificate and offers no second one.
		lp = c.get("/console/lots/" + lot)
		if first(lp.doc, func(n *html.Node) bool { return attr(n, "href") == certPath }) == nil || first(lp.doc, func(n *html.Node) bool { return attr(n, "href") == "/console/lots/"+lot+"/certify" }) != nil {
			t.Error("lot page after issuing")
		}
		v.Set("idem", "another-form")
		v.Set("action", "issue")
		if p := c.post("/console/lots/"+lot+"/certify", v); p.status != 409 || !strings.Contains(text(first(p.doc, func(n *html.Node) bool { return attr(n, "id") == "form-error" })), "一个批次一张合格证") {
			t.Errorf("a second certificate: %d", p.status)
		}

		t.Run("revoke", func(t *testing.T) {
			rp := c.get(certPath + "/revoke")
			form := c.form(rp, certPath+"/revoke")
			p := c.post(certPath+"/revoke", form)
			if p.status != 422 || !strings.Contains(fieldError(t, p, "reason"), "必填项") {
				t.Errorf("revoke without a reason: %d", p.status)
			}
			delete(form, "csrf")
			form.Set("reason", "数量录错")
			if p := c.post(certPath+"/revoke", form); p.status != 403 {
				t.Errorf("revoke without the CSRF token: %d", p.status)
			}
			form = c.form(rp, certPath+"/revoke")
			form.Set("reason", "数量录错，重新开具")
			p = c.follow(c.post(certPath+"/revoke", form))
			if st := text(first(p.doc, func(n *html.Node) bool { return attr(n, "id") == "cert-status" })); st != "已撤销" || !strings.Contains(text(p.doc), "数量录错，重新开具") || !strings.HasPrefix(flash(p), "已撤销合格证") {
				t.Errorf("after revoking: %q, flash %q", st, flash(p))
			}
			if p := c.get(certPath + "/pdf?layout=a6"); p.status != 409 {
				t.Errorf("PDF after revoking: %d", p.status)
			}
			if p := c.post(certPath+"/revoke", c.form(rp, certPath+"/revoke")); p.status != 409 && p.status != 422 {
				t.Errorf("revoking twice: %d", p.status)
			}
		})
	})

	t.Run("csrf", func(t *testing.T) {
		lot := strconv.FormatInt(c.harvest("XW-C-002", e.orchard(5), "100"), 10)
		v := c.form(c.get("/console/lots/"+lot+"/certify"), "/console/lots/"+lot+"/certify")
		v.Set("action", "issue")
		v.Set("csrf", "forged")
		before := e.count("certificates")
		if p := c.post("/console/lots/"+lot+"/certify", v); p.status != 403 || e.count("certificates") != before {
			t.Errorf("forged issue: %d", p.status)
		}
	})
}

// Without a certificate service the console works and says the certificate pages are off.
func TestCertificatesOff(t *testing.T) {
	ctx := context.Background()
	st, err := store.New(ctx, testdb.SQLite(t))
	if err != nil {
		t.Fatal(err)
	}
	svc := trace.NewService(st, nil)
	root := trace.Actor{Roles: []trace.Role{trace.RoleAdmin}}
	check, _ := trace.USCCCheck("93360734MA35XW0C1")
	p := &trace.Party{Kind: trace.Cooperative, Name: "寻乌合作社", USCC: "93360734MA35XW0C1" + string(check), County: "360734"}
	if err := svc.CreateParty(ctx, root, p); err != nil {
		t.Fatal(err)
	}
	if err := svc.CreateUser(ctx, root, &trace.User{PartyID: p.ID, Username: "coop", Roles: []trace.Role{trace.RoleProducerClerk}}, demo.Password); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(web.New(web.Config{Service: svc}))
	t.Cleanup(srv.Close)
	c := (&env{t: t, url: srv.URL}).client(t)
	c.login("coop")
	home := c.get("/console/")
	if home.status != 200 || first(home.doc, func(n *html.Node) bool { return attr(n, "href") == "/console/certs" }) != nil {
		t.Errorf("home: %d, with a link to the certificates", home.status)
	}
	if p := c.get("/console/certs"); p.status != 404 || !strings.Contains(text(p.doc), "未启用合格证功能") {
		t.Errorf("certificates off: %d", p.status)
	}
	if p := c.get("/console/lots"); p.status != 200 || len(byClass(p.doc, "empty")) == 0 {
		t.Errorf("empty lots list: %d", p.status)
	}
}
