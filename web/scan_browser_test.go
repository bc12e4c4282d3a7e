package web_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// TestScanBrowser opens a box's scan page on a phone-sized Chromium, checks its key
// parts and basic accessibility, and saves screenshots (scan-*.png).
func TestScanBrowser(t *testing.T) {
	bctx := startBrowser(t)
	e := newScanEnv(t)
	e.anchor()
	dir := artefacts(t)
	ctx, cancel := context.WithTimeout(bctx, 60*time.Second)
	defer cancel()
	units := e.bySerial(e.certified.Units)

	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	textOf := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return strings.TrimSpace(s)
	}
	eval := func(js string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Evaluate[string](js))
		if err != nil {
			t.Fatalf("%s: %v", js, err)
		}
		return s
	}
	save := func(name string, full bool) {
		t.Helper()
		var b []byte
		var err error
		if full {
			b, err = chromedp.Run(ctx, chromedp.FullScreenshot(100))
		} else {
			b, err = chromedp.Run(ctx, chromedp.CaptureScreenshot())
		}
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	// A phone set to Chinese, as WeChat sends it.
	do("set the language", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		if _, err := cdp.Call(ctx, tg, network.Enable, network.EnableParams{}); err != nil {
			return err
		}
		_, err := cdp.Call(ctx, tg, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{Headers: network.Headers{"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"}})
		return err
	}))
	do("open the box's page", chromedp.Navigate(e.url+units.URL("", 1)), chromedp.WaitVisible(chromedp.CSS("#cert-status")))
	if st := textOf("#cert-status"); st != "有效" {
		t.Errorf("status %q", st)
	}
	if u := textOf("#unit"); !strings.Contains(u, "000001") {
		t.Errorf("unit %q", u)
	}
	if sc := textOf("#scan-count"); !strings.Contains(sc, "首次查询") {
		t.Errorf("scan count %q", sc)
	}
	for _, sel := range []string{"#journey", "#chart svg", "#certificate", "#ledger", "#sampling"} {
		if v := eval(`(() => { const n = document.querySelector(` + "`" + sel + "`" + `); return n ? String(n.getBoundingClientRect().height > 0) : "missing"; })()`); v != "true" {
			t.Errorf("%s: %s", sel, v)
		}
	}
	if o := textOf(".step.order"); !strings.Contains(o, "上海市") {
		t.Errorf("order step %q", o)
	}
	if w := eval("String(document.documentElement.scrollWidth)"); w != "390" {
		t.Errorf("page is %s px wide on a 390 px screen", w)
	}
	// Accessibility: the language, no image without a text alternative, the chart
	// named, and body text dark enough on its background (WCAG AA, 4.5:1).
	if lang := eval("document.documentElement.lang"); lang != "zh-CN" {
		t.Errorf("lang %q", lang)
	}
	if n := eval(`String(document.querySelectorAll("img:not([alt])").length)`); n != "0" {
		t.Errorf("%s images without alt", n)
	}
	if l := eval(`document.querySelector("#chart svg").getAttribute("aria-labelledby")`); l == "" {
		t.Error("the chart has no accessible name")
	}
	contrast := eval(`(() => {
		const lum = c => { const v = c.match(/\d+(\.\d+)?/g).slice(0, 3).map(Number).map(x => x / 255).map(x => x <= 0.03928 ? x / 12.92 : Math.pow((x + 0.055) / 1.055, 2.4)); return 0.2126 * v[0] + 0.7152 * v[1] + 0.0722 * v[2]; };
		const bg = n => { for (; n; n = n.parentElement) { const c = getComputedStyle(n).backgroundColor; if (!c.startsWith("rgba(0, 0, 0, 0)")) return c; } return "rgb(255,255,255)"; };
		let worst = 99, where = "";
		for (const n of document.querySelectorAll("main p, main dd, main dt, main li, main h1, main h2, .status-word")) {
			if (!n.textContent.trim()) continue;
			const a = lum(getComputedStyle(n).color), b = lum(bg(n));
			const r = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
			if (r < worst) { worst = r; where = n.className || n.tagName; }
		}
		return worst.toFixed(2) + " " + where;
	})()`)
	if ratio, where, _ := strings.Cut(contrast, " "); ratio < "4.50" && len(ratio) == 4 {
		t.Errorf("lowest text contrast %s at %s, want ≥ 4.5", ratio, where)
	}
	t.Logf("lowest text contrast: %s", contrast)
	save("scan-box.png", false)
	save("scan-box-full.png", true)

	// The English toggle.
	do("switch to English", chromedp.Click(chromedp.CSS("a.lang")), chromedp.WaitVisible(chromedp.CSS("#cert-status")))
	if st := textOf("#cert-status"); st != "Valid" {
		t.Errorf("English status %q", st)
	}
	if lang := eval("document.documentElement.lang"); lang != "en" {
		t.Errorf("English lang %q", lang)
	}
	save("scan-box-en.png", false)

	// The revoked, recalled lot, and an unknown code.
	failed := e.certOfLot(e.sampled.Lot)
	do("open the recalled lot", chromedp.Navigate(e.url+failed.URL("", 0)), chromedp.WaitVisible(chromedp.CSS("#recall")))
	if st := textOf("#cert-status"); st != "已撤销" {
		t.Errorf("recalled lot's status %q", st)
	}
	save("scan-recalled.png", false)
	do("open an unknown code", chromedp.Navigate(e.url+"/c/GP2699999999"), chromedp.WaitVisible(chromedp.CSS("#error-message")))
	if m := textOf("#error-message"); m != "未找到该编码，谨防假冒" {
		t.Errorf("unknown code %q", m)
	}
	save("scan-unknown.png", false)
}
