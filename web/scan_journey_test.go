package web_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/ganpin/ganpin/cert"
	"github.com/ganpin/ganpin/trace"
)

func TestScanJourney(t *testing.T) {
	e := newScanEnv(t)
	e.anchor()
	c := e.client(t)
	units := e.bySerial(e.certified.Units)

	t.Run("box", func(t *testing.T) {
		p := c.get(units.URL("", 1))
		if p.status != 200 {
			t.Fatalf("status %d", p.status)
		}
		var kinds []string
		for _, li := range byClass(byID(p.doc, "journey"), "step") {
			kinds = append(kinds, strings.Fields(attr(li, "class"))[1])
		}
		want := "orchard harvest test packing transport storage transport order"
		if got := strings.Join(kinds, " "); got != want {
			t.Errorf("timeline %q, want %q", got, want)
		}
		inputs := all(byID(p.doc, "journey"), func(n *html.Node) bool { return n.Data == "li" && n.Parent != nil && hasClass(n.Parent, "inputs") })
		if len(inputs) == 0 {
			t.Fatal("no input applications on the timeline")
		}
		for _, in := range inputs {
			if !hasClass(in, "ok") || !strings.Contains(text(in), "✓") || !strings.Contains(text(in), "安全间隔期") {
				t.Errorf("input %q not shown as respecting its interval", text(in))
			}
		}
		facts := text(byID(p.doc, "product"))
		for _, want := range []string{"赣南脐橙 5kg装", "纽荷尔", "寻乌县澄江镇", "2026-11-", "寻乌县澄江脐橙专业合作社"} {
			if !strings.Contains(facts, want) {
				t.Errorf("product card lacks %q: %s", want, facts)
			}
		}
		steps := byClass(byID(p.doc, "journey"), "step")
		road := text(steps[6])
		if !strings.Contains(road, "温度告警") || !strings.Contains(road, "上海浦东前置仓") || !strings.Contains(road, "历时") {
			t.Errorf("road leg %q", road)
		}
		if store := text(steps[5]); !strings.Contains(store, "温度合格") || !strings.Contains(store, "冷库") && !strings.Contains(store, "冷链仓储") {
			t.Errorf("storage leg %q", store)
		}
		if first := text(steps[4]); !strings.Contains(first, "无温度数据") {
			t.Errorf("first leg without a logger %q", first)
		}
		if o := text(steps[7]); !strings.Contains(o, "上海市") || !strings.Contains(o, "2026-11-") {
			t.Errorf("order %q", o)
		}
		// No personal data, no order numbers, no vehicles.
		for _, secret := range []string{e.fx.order.Number, "浦东新区" + "310115", "赣B", "RF0", "RF1", "RF2", "RF3", "RF4", "RF5", "RF6", "RF7", "RF8", "RF9"} {
			if strings.Contains(p.body, secret) {
				t.Errorf("the page shows %q", secret)
			}
		}
		// The chart: the readings, the band, the excursion.
		svg := first(byID(p.doc, "chart"), func(n *html.Node) bool { return n.Data == "svg" })
		if svg == nil {
			t.Fatal("no chart")
		}
		line := first(svg, func(n *html.Node) bool { return n.Data == "polyline" })
		if pts := strings.Fields(attr(line, "points")); len(pts) < 50 {
			t.Errorf("the temperature line has %d points", len(pts))
		}
		if len(byClass(svg, "band")) != 1 || len(byClass(svg, "exc")) != 1 || len(byClass(svg, "alarm")) != 2 {
			t.Errorf("chart: %d bands, %d excursions, %d alarm lines", len(byClass(svg, "band")), len(byClass(svg, "exc")), len(byClass(svg, "alarm")))
		}
		if sum := text(byID(p.doc, "chart-summary")); !strings.Contains(sum, "偏高 1") || !strings.Contains(sum, "最高 12.7 ℃") {
			t.Errorf("chart summary %q", sum)
		}
		if first(svg, func(n *html.Node) bool { return n.Data == "title" }) == nil || first(svg, func(n *html.Node) bool { return n.Data == "desc" }) == nil {
			t.Error("the chart has no title and description")
		}
		if v := text(byID(p.doc, "sampling-verdict")); v != "暂无已公布的官方抽检结果。" {
			t.Errorf("sampling %q on an unsampled lot", v)
		}
		if byID(p.doc, "recall") != nil {
			t.Error("a recall banner on a lot never recalled")
		}

		// Another box of the lot was not ordered; the lot's own code shows the order.
		if p := c.get(units.URL("", 2)); len(byClass(p.doc, "order")) != 0 {
			t.Errorf("unit 000002 shows %d orders", len(byClass(p.doc, "order")))
		}
		if p := c.get(units.URL("", 0)); len(byClass(p.doc, "order")) != 1 {
			t.Errorf("the lot shows %d orders, want 1", len(byClass(p.doc, "order")))
		}
	})

	t.Run("sampled and published", func(t *testing.T) {
		pub := e.certOfLot(e.fx.published.LotID)
		p := c.get(pub.URL("", 0))
		if v := text(byID(p.doc, "sampling-verdict")); v != "合格" {
			t.Errorf("published verdict %q", v)
		}
		if s := text(byID(p.doc, "sampling")); !strings.Contains(s, e.fx.published.Spec.Number) || !strings.Contains(s, "赣州市市场监督管理局") {
			t.Errorf("sampling section %q", s)
		}
	})

	t.Run("recalled", func(t *testing.T) {
		failed := e.certOfLot(e.sampled.Lot)
		p := c.get(failed.URL("", 0))
		if p.status != 200 {
			t.Fatalf("status %d", p.status)
		}
		banner := byID(p.doc, "recall")
		if banner == nil || attr(banner, "role") != "alert" || !strings.Contains(text(banner), "召回") {
			t.Fatalf("recall banner %q", text(banner))
		}
		if st := text(byID(p.doc, "cert-status")); st != "已撤销" {
			t.Errorf("status %q, want 已撤销 (the verdict revokes the certificate)", st)
		}
		// The verdict is not published: the page names the recall, not the lab results.
		if v := text(byID(p.doc, "sampling-verdict")); v != "暂无已公布的官方抽检结果。" {
			t.Errorf("unpublished verdict shown: %q", v)
		}
	})

	t.Run("counted", func(t *testing.T) {
		link := units.URL("", 3)
		if p := c.get(link); text(byID(p.doc, "scan-count")) != "这是此码的首次查询。" {
			t.Errorf("first scan %q", text(byID(p.doc, "scan-count")))
		}
		req, _ := http.NewRequest("HEAD", e.url+link, nil)
		c.do(req) // not a scan
		p := c.get(link)
		if sc := text(byID(p.doc, "scan-count")); !strings.Contains(sc, "已被查询 2 次") || !strings.Contains(sc, "首次查询于") {
			t.Errorf("second scan %q", sc)
		}
		if byID(p.doc, "scan-warning") != nil {
			t.Error("a warning after two scans")
		}
		if err := e.counter.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
		ts, err := e.st.ScanTallies(context.Background(), []string{units.Serial + "/" + cert.UnitSerial(3)})
		if err != nil || len(ts) != 1 || ts[0].Scans != 2 {
			t.Fatalf("stored tally %+v, %v; want 2 scans", ts, err)
		}
		for range 9 {
			p = c.get(link)
		}
		if w := text(byID(p.doc, "scan-warning")); !strings.Contains(w, "查询次数异常") || !strings.Contains(text(byID(p.doc, "scan-count")), "11 次") {
			t.Errorf("after 11 scans: %q, %q", text(byID(p.doc, "scan-count")), w)
		}
		if attr(byID(p.doc, "scans"), "role") != "alert" {
			t.Error("the warning is not an alert")
		}
		if err := e.counter.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
		if ts, _ := e.st.ScanTallies(context.Background(), []string{units.Serial + "/" + cert.UnitSerial(3)}); ts[0].Scans != 11 {
			t.Errorf("stored %d scans, want 11", ts[0].Scans)
		}

		// Two regions on one box.
		r := e.client(t)
		r.e = &env{t: t, url: e.regional}
		for i, region := range []string{"310000", "440000"} {
			req, _ := http.NewRequest("GET", e.regional+units.URL("", 4), nil)
			req.Header.Set("X-Test-Region", region)
			p := r.do(req)
			if w := byID(p.doc, "scan-warning"); (w != nil) != (i == 1) {
				t.Errorf("scan from %s: warning %q", region, text(w))
			}
		}
	})

	t.Run("rate limited", func(t *testing.T) {
		l := e.client(t)
		for i := range 5 {
			req, _ := http.NewRequest("GET", e.limited+units.URL("", 5), nil)
			p := l.do(req)
			want := 200
			if i >= 3 {
				want = 429
			}
			if p.status != want {
				t.Fatalf("scan %d: %d, want %d", i+1, p.status, want)
			}
			if want == 429 && (p.header.Get("Retry-After") == "" || !strings.Contains(text(p.doc), "查询过于频繁")) {
				t.Errorf("429 page: Retry-After %q, %q", p.header.Get("Retry-After"), text(byID(p.doc, "error-message")))
			}
		}
		// The refused scans were not counted: the next allowed one elsewhere sees 4.
		p := c.get(units.URL("", 5))
		if sc := text(byID(p.doc, "scan-count")); !strings.Contains(sc, "4 次") {
			t.Errorf("after 3 served and 2 refused scans, then 1: %q", sc)
		}
	})

	t.Run("linkset", func(t *testing.T) {
		req, _ := http.NewRequest("GET", e.url+units.URL("", 1), nil)
		req.Header.Set("Accept", "application/linkset+json")
		p := c.do(req)
		if p.status != 200 || p.header.Get("Content-Type") != "application/linkset+json" || p.header.Get("Access-Control-Allow-Origin") != "*" {
			t.Fatalf("linkset: %d %s", p.status, p.header.Get("Content-Type"))
		}
		var ls struct {
			Linkset []map[string]json.RawMessage `json:"linkset"`
		}
		if err := json.Unmarshal([]byte(p.body), &ls); err != nil || len(ls.Linkset) != 1 {
			t.Fatalf("linkset %s: %v", p.body, err)
		}
		set := ls.Linkset[0]
		var anchor string
		json.Unmarshal(set["anchor"], &anchor)
		if anchor != units.URL("http://127.0.0.1:8080", 1) {
			t.Errorf("anchor %q", anchor)
		}
		for _, lt := range []string{"defaultLink", "pip", "certificationInfo", "traceability", "recallStatus"} {
			var links []struct{ Href, Type string }
			if err := json.Unmarshal(set["https://gs1.org/voc/"+lt], &links); err != nil || len(links) == 0 || links[0].Href == "" {
				t.Errorf("link type %s: %s", lt, set["https://gs1.org/voc/"+lt])
			}
		}
		if c.get(units.URL("", 1)+"?linkType=linkset").header.Get("Content-Type") != "application/linkset+json" {
			t.Error("?linkType=linkset is not the link set")
		}
		if l := c.get(units.URL("", 1)).header.Get("Link"); !strings.Contains(l, `rel="linkset"`) {
			t.Errorf("page Link header %q", l)
		}
	})

	t.Run("gzip and etag", func(t *testing.T) {
		req, _ := http.NewRequest("GET", e.url+units.URL("", 1), nil)
		req.Header.Set("Accept-Encoding", "gzip")
		res, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		zipped, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.Header.Get("Content-Encoding") != "gzip" || res.Header.Get("ETag") == "" || !strings.Contains(res.Header.Get("Vary"), "Accept-Encoding") {
			t.Fatalf("headers %v", res.Header)
		}
		if len(zipped) > 60<<10 {
			t.Errorf("first view %d bytes gzipped, want ≤ 60 KB", len(zipped))
		}
		zr, err := gzip.NewReader(bytes.NewReader(zipped))
		if err != nil {
			t.Fatal(err)
		}
		plain, err := io.ReadAll(zr) // checks the CRC and the length
		if err != nil {
			t.Fatalf("gunzip: %v", err)
		}
		doc, err := html.Parse(bytes.NewReader(plain))
		if err != nil || text(byID(doc, "cert-status")) != "有效" || !strings.Contains(text(byID(doc, "unit")), "000001") {
			t.Errorf("gunzipped page: %v", err)
		}
		t.Logf("scan page: %d bytes, %d gzipped", len(plain), len(zipped))

		// HEAD is no scan: its ETag holds until something changes.
		head := func(etag string) *http.Response {
			req, _ := http.NewRequest("HEAD", e.url+units.URL("", 1), nil)
			if etag != "" {
				req.Header.Set("If-None-Match", etag)
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			return res
		}
		etag := head("").Header.Get("ETag")
		if res := head(etag); res.StatusCode != http.StatusNotModified {
			t.Errorf("If-None-Match %s: %d, want 304", etag, res.StatusCode)
		}
		if cc := head("").Header.Get("Cache-Control"); cc != "no-cache" {
			t.Errorf("Cache-Control %q", cc)
		}
	})
}

// TestScanCache checks that a cached page follows an anchoring and a revocation once
// a sweep has seen them (sweeps run at most every 5 s, started by scans), and that
// every scan counts whatever the cache.
func TestScanCache(t *testing.T) {
	e := newScanEnv(t)
	c := e.client(t)
	c.e = &env{t: t, url: e.cached}
	xunwu := login(t, e.svc, "xunwu")
	cs, err := e.certs.Certificates(context.Background(), xunwu, cert.Filter{}, trace.Page{Limit: 50})
	if err != nil {
		t.Fatal(err)
	}
	var target *cert.Issued
	for i := range cs {
		if cs[i].Revocation == nil && cs[i].Units == 0 {
			target = &cs[i]
			break
		}
	}
	status := func() string { return text(byID(c.get(target.URL("", 0)).doc, "cert-status")) }
	ledger := func() string { return text(byID(c.get(target.URL("", 0)).doc, "ledger-status")) }
	if st := status(); st != "有效" {
		t.Fatalf("status %q", st)
	}
	// Anchoring shows at the next sweep.
	if l := ledger(); l != "待上链" {
		t.Fatalf("ledger %q before anchoring", l)
	}
	time.Sleep(50 * time.Millisecond) // the first scan's sweep
	e.anchor()
	e.clock.Add((6 * time.Second).Microseconds())
	l := ledger() // starts a sweep
	for i := 0; l != "已上链" && i < 40; i++ {
		time.Sleep(50 * time.Millisecond)
		l = ledger()
	}
	if l != "已上链" {
		t.Fatalf("ledger %q after anchoring and a sweep", l)
	}
	e.clock.Add((6 * time.Second).Microseconds())
	status()
	time.Sleep(50 * time.Millisecond) // that scan's sweep, before the revocation
	if _, err := e.certs.Revoke(context.Background(), xunwu, target.ID, "测试撤销"); err != nil {
		t.Fatal(err)
	}
	if st := status(); st != "有效" {
		t.Errorf("before the next sweep: %q, want the cached 有效", st)
	}
	e.clock.Add((6 * time.Second).Microseconds())
	st := status() // starts a sweep
	for i := 0; st != "已撤销" && i < 40; i++ {
		time.Sleep(50 * time.Millisecond)
		st = status()
	}
	if st != "已撤销" {
		t.Fatalf("after a sweep: %q, want 已撤销", st)
	}
	p := c.get(target.URL("", 0))
	if !strings.Contains(text(byID(p.doc, "revocation")), "测试撤销") {
		t.Errorf("revocation %q", text(byID(p.doc, "revocation")))
	}
	// Every scan counted, cached or not.
	var n int
	if _, err := fmt.Sscanf(text(byID(p.doc, "scan-count")), "此码已被查询 %d 次", &n); err != nil || n < 5 {
		t.Errorf("scan count %q", text(byID(p.doc, "scan-count")))
	}
	// The short link shares the Digital Link's state: revoked too, and counted as the same code.
	if p := c.get(target.ShortURL("", 0)); text(byID(p.doc, "cert-status")) != "已撤销" || !strings.Contains(text(byID(p.doc, "scan-count")), strconv.Itoa(n+1)+" 次") {
		t.Errorf("short link: %q, %q", text(byID(p.doc, "cert-status")), text(byID(p.doc, "scan-count")))
	}
}
