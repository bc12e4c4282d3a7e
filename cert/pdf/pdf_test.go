package pdf

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/draw"
	"image/png"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"unicode"

	"github.com/ganpin/ganpin/cert"
	"github.com/ganpin/ganpin/trace"
)

var layouts = []Layout{A6, Thermal, Sheet2x5, Sheet3x8}

func TestParseLayout(t *testing.T) {
	for _, s := range []string{"a6", "label", "sheet-2x5", "sheet-3x8"} {
		if l, err := ParseLayout(s); err != nil || string(l) != s {
			t.Errorf("ParseLayout(%q) = %q, %v", s, l, err)
		}
	}
	for _, s := range []string{"", "A6", "a4", "sheet-4x10"} {
		_, err := ParseLayout(s)
		wantInvalid(t, err, "layout", "unknown_layout")
	}
}

func TestMissing(t *testing.T) {
	for _, tc := range []struct {
		s    string
		want []rune
	}{
		{"承诺达标合格证 赣南脐橙 ABCxyz 0123456789 ，。、：；（）-/.", nil},
		{"𠀀字", []rune{'𠀀'}},
		{"脐橙🍊🍊好", []rune{'🍊'}},
		{"冷藏5℃", []rune{'℃'}},    // mapped to an empty glyph in the font
		{"韓國", []rune{'韓', '國'}}, // traditional forms, outside GB 2312
	} {
		if got := Missing(tc.s); !slices.Equal(got, tc.want) {
			t.Errorf("Missing(%q) = %q, want %q", tc.s, string(got), string(tc.want))
		}
	}
}

// TestPrintedTextInFont checks every string Render prints for the samples against
// the font, and that each sample has text of every kind that varies.
func TestPrintedTextInFont(t *testing.T) {
	for _, l := range layouts {
		for _, lb := range []Label{unitLabels(producerCert(), 1)[0], label(buyerCert())} {
			c, err := geometries[l].layOut(embedded(), &lb)
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for _, o := range c.ops {
				if o.text == "" {
					continue
				}
				n++
				if m := Missing(o.text); m != nil {
					t.Errorf("%s: %q has runes the font lacks: %q", l, o.text, string(m))
				}
			}
			if n < 20 {
				t.Errorf("%s: only %d strings printed", l, n)
			}
		}
	}
}

// TestRenderText reads each layout back with pdftotext: the title, every field,
// the commitment and the bases are there.
func TestRenderText(t *testing.T) {
	pdftotext := tool(t, "pdftotext")
	p, b := producerCert(), buyerCert()
	for _, l := range layouts {
		for _, tc := range []struct {
			label Label
			want  []string
		}{
			{unitLabels(p, 1)[0], []string{"承诺达标合格证", "产品名称：赣南脐橙 5kg装", "数量：120箱", "产地：江西省赣州市寻乌县澄江镇",
				"开具时间：2026-11-28 09:05", "承诺主体：寻乌县澄江脐橙专业合作社", "联系方式：0797-4000000", cert.ProducerText,
				"承诺依据：", "质量安全控制符合要求", "自行检测合格", "委托检测合格", "检测报告编号：ZJ-20261127-01",
				"编号：GP26000123", "单品码：000001", "trace.example.cn/c/GP26000123"}},
			{label(b), []string{"承诺达标合格证", "产品名称：赣南脐橙（混装）", "数量：2.5吨", "产地：江西省赣州市信丰县",
				"开具时间：2026-12-02 00:30", "承诺主体：赣州果业收购有限公司", cert.BuyerText, "已收取上游合格证3张：GP26000123、JX-0451",
				"质量安全控制符合要求", "编号：GP26000456", "trace.example.cn/c/GP26000456"}},
		} {
			t.Run(string(l)+"/"+tc.label.Cert.Serial, func(t *testing.T) {
				file := render(t, l, []Label{tc.label})
				got := squeeze(string(run(t, pdftotext, file, "-")))
				for _, w := range tc.want {
					if !strings.Contains(got, squeeze(w)) {
						t.Errorf("text lacks %q:\n%s", w, got)
					}
				}
				if printed := strings.Contains(got, "联系方式"); printed != (tc.label.Cert.Contact != "") {
					t.Errorf("联系方式 printed: %v, contact %q", printed, tc.label.Cert.Contact)
				}
			})
		}
	}
}

// TestRenderManyFonts prints a sheet of certificates that together use more
// runes than one font holds (224) and reads them all back.
func TestRenderManyFonts(t *testing.T) {
	pdftotext := tool(t, "pdftotext")
	var hanzi []rune // 288 distinct printable hanzi
	for r := rune(0x4E00); len(hanzi) < 24*12; r++ {
		if Missing(string(r)) == nil {
			hanzi = append(hanzi, r)
		}
	}
	var labels []Label
	var want []string
	for i := range 24 {
		c := producerCert()
		c.Serial = fmt.Sprintf("GP26%06d", i)
		c.Producer = string(hanzi[i*12 : i*12+12])
		labels, want = append(labels, label(c)), append(want, c.Producer)
	}
	var runes runeSet
	for i := range labels {
		c, _ := geometries[Sheet3x8].layOut(embedded(), &labels[i])
		runes.add(c.ops)
	}
	if n := len(runes.list); n <= codesPerFont {
		t.Fatalf("only %d runes: not enough for two fonts", n)
	}
	got := squeeze(string(run(t, pdftotext, render(t, Sheet3x8, labels), "-")))
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("text lacks %q", w)
		}
	}
}

// TestRenderInk renders the A6 page: the title is large and dark, and digits are
// real glyphs (a font without them prints boxes, which pdftotext still reads as
// digits): two serials of different digits print differently.
func TestRenderInk(t *testing.T) {
	tool(t, "pdftoppm")
	const dpi = 150
	page := func(unit string) (*image.Gray, cell) {
		l := unitLabels(producerCert(), 1)[0]
		l.Unit = unit
		c, err := geometries[A6].layOut(embedded(), &l)
		if err != nil {
			t.Fatal(err)
		}
		return rasterize(t, render(t, A6, []Label{l}), 1, dpi), c
	}
	zeros, c := page("000000")
	eights, _ := page("888888")
	title := textBox(c, title)
	if ink := inkRatio(zeros, title, dpi); ink < 0.2 {
		t.Errorf("title %v: %.0f%% inked, want a bold title", title, 100*ink)
	}
	if title.h < 5 {
		t.Errorf("title %.1f mm high, want it large", title.h)
	}
	for _, s := range []string{"产品名称：", "GP26000123", "0797-4000000"} {
		if ink := inkRatio(zeros, textBox(c, s), dpi); ink < 0.05 {
			t.Errorf("%q: %.1f%% inked", s, 100*ink)
		}
	}
	unit := textBox(c, "000000")
	if a, d := inkRatio(zeros, unit, dpi), differ(zeros, eights, unit, dpi); a < 0.05 || d < 0.1 {
		t.Errorf("单品码 000000: %.1f%% inked, %.1f%% of pixels differ from 888888: digits do not render as digits", 100*a, 100*d)
	}
	var boxes []float64
	ticks := 0
	for _, o := range c.ops {
		switch o.kind {
		case 'r':
			boxes = append(boxes, inkRatio(zeros, rect{o.x, o.y, o.w, o.h}, dpi))
		case 'v':
			ticks++
		}
	}
	// Boxes in basis order; the producer ticks the first two of three. An empty box
	// is its drawn outline; a tick adds ink.
	if len(boxes) != 3 || ticks != 2 || boxes[2] < 0.08 || boxes[0] < boxes[2]+0.05 || boxes[1] < boxes[2]+0.05 {
		t.Errorf("tick boxes %.2f inked, %d ticks: want 3 drawn boxes, the first 2 ticked", boxes, ticks)
	}
}

// differ returns the share of pixels in r (mm) that differ between a and b.
func differ(a, b *image.Gray, r rect, dpi int) float64 {
	px := func(mm float64) int { return int(mm / 25.4 * float64(dpi)) }
	n, all := 0, 0
	for y := px(r.y); y < px(r.y+r.h); y++ {
		for x := px(r.x); x < px(r.x+r.w); x++ {
			all++
			if (a.GrayAt(x, y).Y < 128) != (b.GrayAt(x, y).Y < 128) {
				n++
			}
		}
	}
	return float64(n) / float64(max(all, 1))
}

// TestRenderQR decodes every QR code on the first page of each layout.
func TestRenderQR(t *testing.T) {
	zbarimg := tool(t, "zbarimg")
	tool(t, "pdftoppm")
	for _, tc := range []struct {
		layout Layout
		labels []Label
		codes  int // on page 1
	}{
		{A6, []Label{label(buyerCert())}, 1},
		{Thermal, unitLabels(producerCert(), 1), 1},
		{Sheet2x5, unitLabels(producerCert(), 12), 10},
		{Sheet3x8, unitLabels(producerCert(), 30), 24},
	} {
		t.Run(string(tc.layout), func(t *testing.T) {
			got := decodeQR(t, zbarimg, pagePNG(t, render(t, tc.layout, tc.labels), 1, 200))
			var want []string
			for _, l := range tc.labels[:tc.codes] {
				want = append(want, l.QR)
			}
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Errorf("decoded %q\nwant %q", got, want)
			}
		})
	}
}

func TestRenderPages(t *testing.T) {
	pdfinfo := tool(t, "pdfinfo")
	for _, tc := range []struct {
		layout        Layout
		labels, pages int
	}{{A6, 3, 3}, {Thermal, 2, 2}, {Sheet2x5, 10, 1}, {Sheet2x5, 11, 2}, {Sheet3x8, 24, 1}, {Sheet3x8, 49, 3}} {
		info := string(run(t, pdfinfo, render(t, tc.layout, unitLabels(producerCert(), tc.labels))))
		if m := regexp.MustCompile(`(?m)^Pages:\s+(\d+)$`).FindStringSubmatch(info); m == nil || m[1] != strconv.Itoa(tc.pages) {
			t.Errorf("%s of %d labels: want %d pages:\n%s", tc.layout, tc.labels, tc.pages, info)
		}
	}
}

func TestRenderDeterministic(t *testing.T) {
	var a, b bytes.Buffer
	labels := append(unitLabels(producerCert(), 3), label(buyerCert()))
	if err := Render(&a, Sheet2x5, labels); err != nil {
		t.Fatal(err)
	}
	if err := Render(&b, Sheet2x5, labels); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Error("two renderings of the same labels differ")
	}
}

// TestRenderConcurrent renders from several goroutines, as a server does: the
// results are those of a single one.
func TestRenderConcurrent(t *testing.T) {
	labels := append(unitLabels(producerCert(), 3), label(buyerCert()))
	want := map[Layout][]byte{}
	for _, l := range layouts {
		var b bytes.Buffer
		if err := Render(&b, l, labels); err != nil {
			t.Fatal(err)
		}
		want[l] = b.Bytes()
	}
	var wg sync.WaitGroup
	for i := range 8 {
		l := layouts[i%len(layouts)]
		wg.Go(func() {
			var b bytes.Buffer
			if err := Render(&b, l, labels); err != nil || !bytes.Equal(b.Bytes(), want[l]) {
				t.Errorf("%s: concurrent rendering differs (%v)", l, err)
			}
		})
	}
	wg.Wait()
}

// TestRenderLongest prints a certificate with every field at the longest
// cert.Validate allows: it fits A6; where it cannot fit, the error names a field.
func TestRenderLongest(t *testing.T) {
	c := producerCert()
	c.Product, c.Origin, c.Producer = strings.Repeat("橙", 40), strings.Repeat("赣", 60), strings.Repeat("社", 60)
	c.Contact, c.Report = strings.Repeat("9", 40), strings.Repeat("R", 60)
	c.Basis = cert.QualityControl | cert.SelfTested | cert.EntrustedTest
	if err := Render(&bytes.Buffer{}, A6, []Label{unitLabels(c, 1)[0]}); err != nil {
		t.Errorf("a6: %v", err)
	}
	err := Render(&bytes.Buffer{}, Sheet3x8, []Label{label(c)})
	wantInvalid(t, err, "origin", "too_long_for_layout")
}

func TestRenderInvalid(t *testing.T) {
	long := producerCert()
	long.Origin = strings.Repeat("江西省赣州市寻乌县", 6)
	odd := producerCert()
	odd.Producer = "𠀀𠀀合作社"
	for _, tc := range []struct {
		name         string
		layout       Layout
		labels       []Label
		field, code  string
		zhContaining string
	}{
		{"unknown layout", "a5", unitLabels(producerCert(), 1), "layout", "unknown_layout", "打印版式"},
		{"no labels", A6, nil, "labels", "no_labels", "没有"},
		{"no certificate", A6, []Label{{QR: "https://x.cn/c/1"}}, "cert", "required", "合格证"},
		{"origin too long", Sheet3x8, []Label{label(long)}, "origin", "too_long_for_layout", "产地"},
		{"unprintable", A6, []Label{label(odd)}, "producer", "unprintable", "𠀀"},
		{"QR too long", Sheet3x8, []Label{{Cert: producerCert(), QR: strings.Repeat("x", 500)}}, "qr", "too_long_for_layout", "二维码"},
		{"QR too long for any", A6, []Label{{Cert: producerCert(), QR: strings.Repeat("x", 3000)}}, "qr", "too_long", "二维码"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			err := Render(&b, tc.layout, tc.labels)
			e := wantInvalid(t, err, tc.field, tc.code)
			if e != nil && !strings.Contains(e.ZH, tc.zhContaining) {
				t.Errorf("ZH = %q, want it to mention %q", e.ZH, tc.zhContaining)
			}
			if b.Len() != 0 {
				t.Errorf("wrote %d bytes", b.Len())
			}
		})
	}
}

func TestQuantity(t *testing.T) {
	for q, want := range map[float64]string{120: "120", 2.5: "2.5", 0.1 + 0.2: "0.3", 1e9: "1000000000", 12.3456: "12.346"} {
		if got := quantity(q); got != want {
			t.Errorf("quantity(%v) = %q, want %q", q, got, want)
		}
	}
}

func TestUpstreamLine(t *testing.T) {
	ups := make([]cert.Upstream, 12)
	for i := range ups {
		ups[i].Serial = fmt.Sprintf("GP26%06d", i)
	}
	fits := func(s string) bool { return len([]rune(s)) <= 40 }
	got := upstreamLine(ups, fits)
	if !fits(got) || !strings.HasPrefix(got, "已收取上游合格证12张：GP26000000、") || !strings.HasSuffix(got, "等") {
		t.Errorf("upstreamLine = %q", got)
	}
	if got := upstreamLine(ups[:2], fits); got != "已收取上游合格证2张：GP26000000、GP26000001" {
		t.Errorf("upstreamLine of 2 = %q", got)
	}
	if got := upstreamLine([]cert.Upstream{{Issuer: "张三"}}, fits); got != "已收取上游合格证1张" {
		t.Errorf("upstreamLine without serials = %q", got)
	}
}

func wantInvalid(t *testing.T, err error, field, code string) *trace.Error {
	t.Helper()
	var e *trace.Error
	if !errors.As(err, &e) || e.Kind != trace.KindInvalid || e.Field != field || e.Code != code || e.ZH == "" || e.EN == "" {
		t.Errorf("error %#v (%v), want invalid %s: %s", e, err, field, code)
		return nil
	}
	return e
}

// render writes a PDF of labels to a temporary file and returns its path.
func render(t *testing.T, l Layout, labels []Label) string {
	t.Helper()
	var b bytes.Buffer
	if err := Render(&b, l, labels); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "labels.pdf")
	if err := os.WriteFile(file, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return file
}

// pagePNG renders a page of a PDF in grey with pdftoppm and returns the file.
func pagePNG(t *testing.T, file string, page, dpi int) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "page")
	p := strconv.Itoa(page)
	run(t, tool(t, "pdftoppm"), "-gray", "-png", "-singlefile", "-r", strconv.Itoa(dpi), "-f", p, "-l", p, file, out)
	return out + ".png"
}

// rasterize renders a page of a PDF in grey.
func rasterize(t *testing.T, file string, page, dpi int) *image.Gray {
	t.Helper()
	f, err := os.Open(pagePNG(t, file, page, dpi))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	g := image.NewGray(img.Bounds())
	draw.Draw(g, g.Rect, img, img.Bounds().Min, draw.Src)
	return g
}

// textBox returns where the cell prints s: from the cap height to the baseline.
func textBox(c cell, s string) rect {
	for _, o := range c.ops {
		if o.text == s {
			em := o.w * ptmm
			return rect{o.x, o.y - 0.85*em, embedded().width(s) * em, 0.85 * em}
		}
	}
	panic("no text " + s)
}

// inkRatio returns the share of dark pixels in r (mm) of a page rendered at dpi.
func inkRatio(img *image.Gray, r rect, dpi int) float64 {
	px := func(mm float64) int { return int(mm / 25.4 * float64(dpi)) }
	dark, all := 0, 0
	for y := px(r.y); y < px(r.y+r.h); y++ {
		for x := px(r.x); x < px(r.x+r.w); x++ {
			all++
			if img.GrayAt(x, y).Y < 128 {
				dark++
			}
		}
	}
	return float64(dark) / float64(max(all, 1))
}

// squeeze drops white space: pdftotext breaks lines where the layout wrapped.
func squeeze(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) {
			return -1
		}
		return r
	}, s)
}
