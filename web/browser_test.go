package web_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/ganpin/ganpin/internal/demo"
)

// startBrowser starts Debian's Chromium headless with a phone-sized viewport, skipping
// the test where there is none (failing under CI=true).
func startBrowser(t *testing.T) context.Context {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("chromium not found; CI must run the browser test (apt-get install chromium)")
		}
		t.Skip("browser test skipped: chromium not found (apt-get install chromium)")
	}
	alloc, cancel := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("mute-audio", true),
		chromedp.Flag("lang", "zh-CN"),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(390, 844),
	)
	t.Cleanup(cancel)
	ctx, cancel2 := chromedp.NewContext(alloc)
	t.Cleanup(cancel2)
	// The first call starts the browser and must not carry the test's timeout.
	// A phone in China: 390×844, Chinese locale, Beijing time.
	if err := chromedp.Do(ctx,
		chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile, chromedp.EmulatePortrait),
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			if _, err := cdp.Call(ctx, tg, emulation.SetLocaleOverride, emulation.SetLocaleOverrideParams{Locale: "zh_CN"}); err != nil {
				return err
			}
			_, err := cdp.Call(ctx, tg, emulation.SetTimezoneOverride, emulation.SetTimezoneOverrideParams{TimezoneID: "Asia/Shanghai"})
			return err
		})); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// artefacts returns the directory for screenshots: $GANPIN_ARTIFACTS or a temporary one.
func artefacts(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("GANPIN_ARTIFACTS")
	if dir == "" {
		dir = t.TempDir()
	}
	dir = filepath.Join(dir, "web")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshots in %s", dir)
	return dir
}

func TestBrowser(t *testing.T) {
	bctx := startBrowser(t)
	e := newEnv(t, false)
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
	// shot saves what the phone's screen shows.
	shot := func(name string) {
		t.Helper()
		b, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// shotFull saves the whole page.
	shotFull := func(name string) {
		t.Helper()
		b, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// fits checks that the page needs no sideways scrolling on the phone.
	fits := func(page string) {
		t.Helper()
		w, err := chromedp.Run(ctx, chromedp.Evaluate[int]("document.documentElement.scrollWidth"))
		if err != nil {
			t.Fatal(err)
		}
		if w > 390 {
			t.Errorf("%s is %d px wide on a 390 px screen", page, w)
		}
	}

	// Signed out, the lots page leads to the login form, and back after it.
	do("open lots", chromedp.Navigate(e.url+"/console/lots"), chromedp.WaitVisible(chromedp.CSS("#username")))
	lang, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS("html"), "lang"))
	if err != nil || lang.Value != "zh-CN" {
		t.Errorf("html lang = %q (%v)", lang.Value, err)
	}
	fits("login")
	shot("login.png")
	do("log in",
		chromedp.SendKeys(chromedp.CSS("#username"), "xunwu"),
		chromedp.SendKeys(chromedp.CSS("#password"), demo.Password),
		chromedp.Click(chromedp.CSS("button.primary")),
		chromedp.WaitVisible(chromedp.CSS("ul.lots")))
	if loc, _ := chromedp.Run(ctx, chromedp.Location()); !strings.HasSuffix(loc, "/console/lots") {
		t.Errorf("after login at %s, want /console/lots", loc)
	}
	if code := textOf("ul.lots li .code"); !strings.HasPrefix(code, "XW-") {
		t.Errorf("first lot %q", code)
	}
	if party := textOf(".party"); party != "寻乌县澄江脐橙专业合作社" {
		t.Errorf("party %q", party)
	}
	fits("lots")
	shot("lots.png")

	// A harvest with a bad quantity: the error shows at the field, the input stays.
	product := strconv.FormatInt(e.productID("赣南脐橙鲜果"), 10)
	do("open the harvest form",
		chromedp.Navigate(e.url+"/console/record/harvest"),
		chromedp.WaitVisible(chromedp.CSS("#f-harvest-lot-code")),
		chromedp.SetValue(chromedp.CSS("#f-site"), e.orchard(4)),
		chromedp.SendKeys(chromedp.CSS("#f-harvest-lot-code"), "XW-B-001"),
		chromedp.SetValue(chromedp.CSS("#f-harvest-lot-product"), product),
		chromedp.SendKeys(chromedp.CSS("#f-harvest-lot-quantity"), "0"),
		chromedp.SetValue(chromedp.CSS("#f-harvest-lot-grade"), "特等"),
		chromedp.Click(chromedp.CSS("button.primary")),
		chromedp.WaitVisible(chromedp.CSS(".field.invalid .error")))
	if msg := textOf(`.field[data-name="harvest.lot.quantity"] .error`); !strings.Contains(msg, "数量必须大于0") {
		t.Errorf("quantity error %q", msg)
	}
	if v, _ := chromedp.Run(ctx, chromedp.Value(chromedp.CSS("#f-harvest-lot-code"))); v != "XW-B-001" {
		t.Errorf("lot code after the error: %q", v)
	}
	if msg := textOf("#form-error p"); !strings.Contains(msg, "数量") || !strings.Contains(msg, "数量必须大于0") {
		t.Errorf("error summary %q", msg)
	}
	fits("harvest form")
	shot("harvest-error.png")

	// Corrected, it is recorded and the new lot's page opens with a flash.
	do("correct and submit",
		chromedp.SetValue(chromedp.CSS("#f-harvest-lot-quantity"), "860"),
		chromedp.Click(chromedp.CSS("button.primary")),
		chromedp.WaitVisible(chromedp.CSS(".flash")))
	if f := textOf(".flash"); f != "已记录采收，生成批次 XW-B-001" {
		t.Errorf("flash %q", f)
	}
	if h := textOf("h1"); h != "XW-B-001" {
		t.Errorf("lot page h1 %q", h)
	}
	if q := textOf(".facts"); !strings.Contains(q, "860") || !strings.Contains(q, "公斤") || !strings.Contains(q, "特等") {
		t.Errorf("lot facts %q", q)
	}
	if ev := textOf(".timeline .ev-head b"); ev != "采收" {
		t.Errorf("timeline starts with %q", ev)
	}
	fits("lot")
	shot("lot.png")

	// A certificate for the new lot: the form, the preview as it prints, the confirmation.
	do("open the issue form",
		chromedp.Click(chromedp.CSS(`a[href$="/certify"]`)),
		chromedp.WaitVisible(chromedp.CSS("#preview")))
	fits("issue form")
	shotFull("cert-form-full.png")
	do("preview",
		chromedp.Click(chromedp.CSS(`input[name="basis"][value="self_tested"]`)),
		chromedp.SendKeys(chromedp.CSS("#f-report"), "自检-XW-B-001"),
		chromedp.Click(chromedp.CSS("#preview")),
		chromedp.WaitVisible(chromedp.CSS(".certificate")))
	if card := textOf(".certificate"); !strings.Contains(card, "承诺达标合格证") || !strings.Contains(card, "860 公斤") || !strings.Contains(card, "自检-XW-B-001") {
		t.Errorf("preview %q", card)
	}
	fits("certificate preview")
	shot("cert-preview.png")
	do("confirm", chromedp.Click(chromedp.CSS("#confirm")), chromedp.WaitVisible(chromedp.CSS("#cert-status")))
	if st := textOf("#cert-status"); st != "有效" {
		t.Errorf("status %q", st)
	}
	if f := textOf(".flash"); !strings.HasPrefix(f, "已开具合格证 GP") {
		t.Errorf("flash %q", f)
	}
	fits("certificate")
	shot("cert.png")
	shotFull("cert-full.png")

	// Download it as an 80×60 label.
	downloads := t.TempDir()
	if _, err := chromedp.CallBrowser(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
		Behavior: browser.SetDownloadBehaviorBehaviorAllowAndName, DownloadPath: downloads, EventsEnabled: ptr(true)}); err != nil {
		t.Fatal(err)
	}
	progress := chromedp.BrowserEvents(ctx, browser.DownloadProgress)
	do("download", chromedp.Click(chromedp.CSS(`input[name="layout"][value="label"]`)), chromedp.Click(chromedp.CSS("#download")))
	var file string
	for ev, err := range progress {
		if err != nil {
			t.Fatalf("waiting for the download: %v", err)
		}
		if ev.State == browser.DownloadProgressStateCanceled {
			t.Fatal("download canceled")
		}
		if ev.State == browser.DownloadProgressStateCompleted {
			file = filepath.Join(downloads, ev.GUID)
			break
		}
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(b), "%PDF-") {
		t.Errorf("the download is not a PDF: %q", b[:min(len(b), 20)])
	}
	if err := os.WriteFile(filepath.Join(dir, "cert-label.pdf"), b, 0o644); err != nil {
		t.Fatal(err)
	}

	// It heads the lots list.
	do("back to lots", chromedp.Navigate(e.url+"/console/lots"), chromedp.WaitVisible(chromedp.CSS("ul.lots")))
	if code := textOf("ul.lots li .code"); code != "XW-B-001" {
		t.Errorf("first lot after the harvest %q", code)
	}
	do("home", chromedp.Navigate(e.url+"/console/"), chromedp.WaitVisible(chromedp.CSS("ul.actions")))
	fits("home")
	shot("home.png")
}

func ptr[T any](v T) *T { return &v }
