package web_test

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/xuri/excelize/v2"

	"github.com/ganpin/ganpin/internal/demo"
)

// TestInspectorBrowser searches, opens a failed sample with its trace graph and
// exports the search as XLSX in headless Chromium, then reads the file back.
func TestInspectorBrowser(t *testing.T) {
	bctx := startBrowser(t)
	e, sampled := newInspectEnv(t)
	dir := artefacts(t)
	ctx, cancel := context.WithTimeout(bctx, 90*time.Second)
	defer cancel()
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
	shot := func(name string) {
		t.Helper()
		b, err := chromedp.Run(ctx, chromedp.FullScreenshot(90))
		if err == nil {
			err = os.WriteFile(filepath.Join(dir, name), b, 0o644)
		}
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
	}

	do("log in as the inspector",
		chromedp.Navigate(e.url+"/console/login"),
		chromedp.WaitVisible(chromedp.CSS("#username")),
		chromedp.SendKeys(chromedp.CSS("#username"), "inspector"),
		chromedp.SendKeys(chromedp.CSS("#password"), demo.Password),
		chromedp.Click(chromedp.CSS("button.primary")),
		chromedp.WaitVisible(chromedp.CSS("#results")))
	shot("inspect-search.png")
	do("search the failed samples",
		chromedp.SetValue(chromedp.CSS("#f-verdict"), "不合格"),
		chromedp.Click(chromedp.CSS("#search")))
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if loc, _ := chromedp.Run(ctx, chromedp.Location()); strings.Contains(loc, "verdict=") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the search form did not submit")
		}
	}
	do("wait for the results", chromedp.WaitVisible(chromedp.CSS("#results")))
	rows, err := chromedp.Run(ctx, chromedp.Evaluate[int]("document.querySelectorAll('#results tbody tr').length"))
	if err != nil || rows != 1 {
		t.Fatalf("failed samples listed: %d (%v)", rows, err)
	}
	do("open the record", chromedp.Click(chromedp.CSS("#results tbody a")), chromedp.WaitVisible(chromedp.CSS("#trace-graph")))
	if v := textOf("#verdict"); v != "不合格" {
		t.Errorf("verdict %q", v)
	}
	if loc, _ := chromedp.Run(ctx, chromedp.Location()); !strings.HasSuffix(loc, "/console/inspect/"+strconv.FormatInt(sampled.Failed, 10)) {
		t.Errorf("record at %s", loc)
	}
	shot("inspect-record.png")

	do("export the search as XLSX",
		chromedp.Navigate(e.url+"/console/inspect/?verdict=%E5%90%88%E6%A0%BC"),
		chromedp.WaitVisible(chromedp.CSS("#export-xlsx")),
		chromedp.Click(chromedp.CSS("#export-xlsx")),
		chromedp.WaitVisible(chromedp.CSS("#download")))
	shot("inspect-export.png")
	href, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS("#download"), "href"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := chromedp.Run(ctx, chromedp.Action[network.GetCookiesResult](func(ctx context.Context, tg *chromedp.Target) (network.GetCookiesResult, error) {
		return cdp.Call(ctx, tg, network.GetCookies, network.GetCookiesParams{URLs: []string{e.url}})
	}))
	if err != nil {
		t.Fatal(err)
	}
	cookies := got.Cookies
	req, _ := http.NewRequest("GET", e.url+href.Value, nil)
	for _, c := range cookies {
		req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	f, err := excelize.OpenReader(strings.NewReader(string(b)))
	if err != nil {
		t.Fatalf("download %d is not XLSX: %v", res.StatusCode, err)
	}
	xrows, err := f.GetRows("抽样记录")
	if err != nil || len(xrows) != sampled.Records || xrows[1][13] != "合格" {
		t.Fatalf("xlsx rows %d (want header + %d passing), %v", len(xrows), sampled.Records-1, err)
	}
}
