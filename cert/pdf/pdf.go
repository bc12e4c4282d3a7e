// Package pdf prints 承诺达标合格证 (cert.Certificate) as PDF with go-pdf/fpdf:
// an A6 certificate, an 80×60 mm thermal label, or A4 sheets of labels.
//
// Every layout prints the title 承诺达标合格证 large and bold, every field, the
// commitment of the certificate's template, the three bases as drawn tick boxes,
// the serial, the unit serial of unit-level labels and the QR code (level M,
// vector) with its short URL under it. Text wraps, never clipped; when a label's
// text is long its type shrinks, down to a floor per layout, and a label that
// does not fit even then is refused, naming its longest field. The smallest
// cells, sheet-3x8's 70×37 mm, set the fields in 5 pt (4.5 pt at the least) and
// the commitment in 4.5 pt (4 pt), wrapped beside and under the QR code. A
// buyer's upstream certificates are printed as their count and as many serials
// as fit on two lines, ending in 等 when some are left out.
//
// Text is set in an embedded WenQuanYi Micro Hei cut to GB 2312 (see font/);
// each document embeds only the glyphs it prints.
package pdf

import (
	"fmt"
	"io"
	"math"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-pdf/fpdf"

	"github.com/ganpin/ganpin/cert"
	"github.com/ganpin/ganpin/trace"
)

// Layout is a paper format.
type Layout string

// Layouts.
const (
	A6       Layout = "a6"        // one certificate per A6 page
	Thermal  Layout = "label"     // one 80×60 mm thermal label per page
	Sheet2x5 Layout = "sheet-2x5" // A4 sheets of 10 labels, 105×59.4 mm
	Sheet3x8 Layout = "sheet-3x8" // A4 sheets of 24 labels, 70×37.1 mm
)

// ParseLayout returns the layout named s, or an invalid-input error.
func ParseLayout(s string) (Layout, error) {
	if _, ok := geometries[Layout(s)]; !ok {
		return "", trace.Invalid("layout", "unknown_layout", "未知的打印版式：%q（可用 a6、label、sheet-2x5、sheet-3x8）",
			"unknown layout %q (use a6, label, sheet-2x5 or sheet-3x8)", s)
	}
	return Layout(s), nil
}

// Label is one printed certificate.
type Label struct {
	Cert  *cert.Certificate
	QR    string // what the QR code holds, a full URL
	Short string // printed under the QR code, e.g. trace.example.cn/c/GP26000123
	Unit  string // the unit serial on unit-level labels, else ""
}

// Render writes a PDF of labels to w: a page per label on a6 and label; sheets
// are filled row by row, a new page when full. It returns an invalid-input error
// naming the field when a label's text cannot fit the layout legibly, or when
// there is no label.
func Render(w io.Writer, layout Layout, labels []Label) error {
	g, ok := geometries[layout]
	if !ok {
		_, err := ParseLayout(string(layout))
		return err
	}
	if len(labels) == 0 {
		return trace.Invalid("labels", "no_labels", "没有要打印的合格证", "nothing to print")
	}
	// Lay every label out first, to know it fits and the runes the fonts need; then
	// again as it is drawn, so that memory does not grow with the labels.
	f := embedded()
	scales := make([]float64, len(labels))
	var runes runeSet
	for i := range labels {
		c, err := g.layOut(f, &labels[i])
		if err != nil {
			return err
		}
		scales[i] = c.scale
		runes.add(c.ops)
	}

	doc := fpdf.NewCustom(&fpdf.InitType{UnitStr: "mm", Size: g.page})
	doc.SetAutoPageBreak(false, 0)
	doc.SetMargins(0, 0, 0)
	doc.SetCatalogSort(true)
	doc.SetTitle(title, true)
	doc.SetCreationDate(created(labels))
	doc.SetModificationDate(created(labels))
	// Compressing costs 1 ms a stream, most of the time of a one-page document,
	// and saves little there; sheets shrink to a sixth.
	doc.SetCompression(len(labels) > g.cols*g.rows)
	fonts, err := addFonts(doc, f, runes.list)
	if err != nil {
		return fmt.Errorf("pdf: %w", err)
	}
	per := g.cols * g.rows
	for page := 0; page < len(labels); page += per {
		onPage := labels[page:min(page+per, len(labels))]
		codes, err := encodeAll(onPage)
		if err != nil {
			return err
		}
		doc.AddPage()
		for j := range onPage {
			i := page + j
			fl, _ := g.try(f, &labels[i], codes[j].size, scales[i])
			x := float64(i%g.cols) * g.cell.Wd
			y := float64(i%per/g.cols) * g.cell.Ht
			drawCell(doc, fonts, fl.ops, codes[j], x, y)
		}
	}
	if err := doc.Output(w); err != nil {
		return fmt.Errorf("pdf: %w", err)
	}
	return nil
}

// created is the document date: the latest issue time, so that the same labels
// give the same bytes.
func created(labels []Label) time.Time {
	var t time.Time
	for _, l := range labels {
		if l.Cert.Issued.After(t) {
			t = l.Cert.Issued
		}
	}
	return t
}

// runeSet collects the runes operations print, each once.
type runeSet struct {
	seen map[string]bool
	has  map[rune]bool
	list []rune
}

func (s *runeSet) add(ops []op) {
	if s.seen == nil {
		s.seen, s.has = map[string]bool{}, map[rune]bool{}
	}
	for _, o := range ops {
		if o.text == "" || s.seen[o.text] {
			continue
		}
		s.seen[o.text] = true
		for _, r := range o.text {
			if !s.has[r] {
				s.has[r] = true
				s.list = append(s.list, r)
			}
		}
	}
}

// quantity formats q to at most 3 decimals, without trailing zeros.
func quantity(q float64) string {
	return strconv.FormatFloat(math.Round(q*1000)/1000, 'f', -1, 64)
}

// chinaTime is 中国标准时间 (Asia/Shanghai, UTC+8 without daylight saving since 1991).
var chinaTime = time.FixedZone("CST", 8*3600)

func issued(t time.Time) string { return t.In(chinaTime).Format("2006-01-02 15:04") }

// upstreamLine lists a buyer's upstream certificates: their count and as many
// serials as fit in maxWidth (ending in 等 when some are left out).
func upstreamLine(ups []cert.Upstream, fits func(string) bool) string {
	var serials []string
	for _, u := range ups {
		if u.Serial != "" {
			serials = append(serials, u.Serial)
		}
	}
	head := fmt.Sprintf("已收取上游合格证%d张", len(ups))
	if len(serials) == 0 {
		return head
	}
	for n := len(serials); n > 0; n-- {
		s := head + "：" + strings.Join(serials[:n], "、")
		if n < len(serials) {
			s += "等"
		}
		if fits(s) {
			return s
		}
	}
	return head
}

// encodeAll encodes the labels' QR codes on every core, each distinct content once.
func encodeAll(labels []Label) ([]*qrCode, error) {
	codes := make([]*qrCode, len(labels))
	first := map[string]int{} // content → the label that encodes it
	var todo []int
	for i, l := range labels {
		if _, ok := first[l.QR]; !ok {
			first[l.QR] = i
			todo = append(todo, i)
		}
	}
	errs := make([]error, len(labels))
	var wg sync.WaitGroup
	next := make(chan int)
	for range min(runtime.GOMAXPROCS(0), len(todo)) {
		wg.Go(func() {
			for i := range next {
				codes[i], errs[i] = encodeQR(labels[i].QR)
			}
		})
	}
	for _, i := range todo {
		next <- i
	}
	close(next)
	wg.Wait()
	for i, l := range labels {
		if errs[i] != nil {
			return nil, errs[i]
		}
		codes[i] = codes[first[l.QR]]
	}
	return codes, nil
}
