package pdf

import (
	"fmt"

	"github.com/go-pdf/fpdf"

	"github.com/ganpin/ganpin/cert"
	"github.com/ganpin/ganpin/trace"
)

// geometry is a layout's paper and type: a page of cols×rows cells.
type geometry struct {
	name       Layout
	page       fpdf.SizeType // mm
	cols, rows int
	cell       fpdf.SizeType // mm
	pad        float64       // mm kept blank inside a cell
	title      float64       // pt
	body       float64       // pt: fields
	note       float64       // pt: commitment text, short URL
	minScale   float64       // smallest factor type is shrunk by to fit
	qr         float64       // mm, the QR symbol without its quiet zone
	qrBottom   bool          // QR at the bottom right, else at the top right below the title
	frame      bool          // a border around the certificate
}

func sheet(cols, rows int, g geometry) geometry {
	g.page = fpdf.SizeType{Wd: 210, Ht: 297}
	g.cols, g.rows = cols, rows
	g.cell = fpdf.SizeType{Wd: 210 / float64(cols), Ht: 297 / float64(rows)}
	return g
}

var geometries = map[Layout]geometry{
	A6: {name: A6, page: fpdf.SizeType{Wd: 105, Ht: 148}, cols: 1, rows: 1, cell: fpdf.SizeType{Wd: 105, Ht: 148},
		pad: 8, title: 22, body: 11, note: 10, minScale: 0.7, qr: 34, qrBottom: true, frame: true},
	Thermal: {name: Thermal, page: fpdf.SizeType{Wd: 80, Ht: 60}, cols: 1, rows: 1, cell: fpdf.SizeType{Wd: 80, Ht: 60},
		pad: 3, title: 13, body: 7, note: 6, minScale: 0.8, qr: 20},
	Sheet2x5: sheet(2, 5, geometry{name: Sheet2x5, pad: 4, title: 14, body: 7.5, note: 6.5, minScale: 0.8, qr: 23}),
	Sheet3x8: sheet(3, 8, geometry{name: Sheet3x8, pad: 3, title: 8.5, body: 5, note: 4.5, minScale: 0.9, qr: 16}),
}

const (
	ptmm       = 25.4 / 72 // mm per point
	leading    = 1.3       // line height per font size
	ascent     = 0.88      // of CJK glyphs, per font size
	minModule  = 0.3       // mm, the smallest QR module phones read reliably
	qrGap      = 1.5       // mm between text and the QR quiet zone
	title      = "承诺达标合格证"
	basesLabel = "承诺依据："
)

// op is one drawing operation of a cell, in mm from the cell's top left.
type op struct {
	kind byte    // 't' text, 'T' title text, 'r' tick box, 'v' tick, 'l' rule, 'f' frame, 'q' QR code
	x, y float64 // text: start of the baseline; shapes: top left
	w, h float64 // text: w is the size in pt; shapes: width, height
	text string
}

// cell is a label laid out: its operations, the QR code excepted, and the factor
// its type is scaled by.
type cell struct {
	ops   []op
	scale float64
}

// layOut sets l in a cell, shrinking type down to minScale when needed.
func (g geometry) layOut(f *sfnt, l *Label) (cell, error) {
	c := l.Cert
	if c == nil {
		return cell{}, trace.Invalid("cert", "required", "缺少合格证", "no certificate")
	}
	for _, v := range fields(l) {
		if m := Missing(v.text); len(m) > 0 {
			return cell{}, &trace.Error{Kind: trace.KindInvalid, Code: "unprintable", Field: v.field,
				ZH: fmt.Sprintf("%s含有无法打印的字符：%s", v.label, string(m)),
				EN: fmt.Sprintf("holds characters the certificate font cannot print: %s", string(m))}
		}
	}
	modules, err := qrSize(l.QR)
	if err != nil {
		return cell{}, trace.Invalid("qr", "too_long", "二维码内容过长", "the QR content is too long")
	}
	if g.qr/float64(modules) < minModule {
		return cell{}, trace.Invalid("qr", "too_long_for_layout", "二维码内容过长，无法清晰地印在%s版面上", "the QR content is too long to print legibly on the %s layout", g.name)
	}
	for scale := 1.0; scale > g.minScale-0.01; scale -= 0.05 {
		if fl, ok := g.try(f, l, modules, scale); ok {
			return cell{fl.ops, scale}, nil
		}
	}
	field, label := longest(f, l)
	return cell{}, &trace.Error{Kind: trace.KindInvalid, Code: "too_long_for_layout", Field: field,
		ZH: fmt.Sprintf("合格证%s的%s过长，无法清晰地印在%s版面上", c.Serial, label, g.name),
		EN: fmt.Sprintf("certificate %s: too long to print legibly on the %s layout", c.Serial, g.name)}
}

type field struct{ field, label, text string }

// fields lists the label's variable text: JSON name, printed label, value.
func fields(l *Label) []field {
	c := l.Cert
	fs := []field{
		{"product", "产品名称", c.Product}, {"origin", "产地", c.Origin}, {"producer", "承诺主体", c.Producer},
		{"contact", "联系方式", c.Contact}, {"report", "检测报告编号", c.Report}, {"serial", "编号", c.Serial},
		{"unit", "单品码", l.Unit}, {"short", "短网址", l.Short},
	}
	for i, u := range c.Upstream {
		fs = append(fs, field{fmt.Sprintf("upstream[%d].serial", i), "上游合格证编号", u.Serial})
	}
	return fs
}

// longest names the label's longest variable field, the one to shorten.
func longest(f *sfnt, l *Label) (name, label string) {
	best := -1.0
	for _, v := range fields(l) {
		if w := f.width(v.text); w > best {
			best, name, label = w, v.field, v.label
		}
	}
	return name, label
}

type rect struct{ x, y, w, h float64 }

// flow places text from the top of a box downwards, keeping clear of one
// rectangle (the QR code and its short URL).
type flow struct {
	f                      *sfnt
	left, right, y, bottom float64
	keep                   rect
	ops                    []op
}

// try lays l out, its QR code modules wide, with type scaled by scale and reports
// whether it fits.
func (g geometry) try(f *sfnt, l *Label, modules int, scale float64) (*flow, bool) {
	c := l.Cert
	body, note := g.body*scale, g.note*scale
	fl := &flow{f: f, left: g.pad, right: g.cell.Wd - g.pad, y: g.pad, bottom: g.cell.Ht - g.pad}
	if g.frame {
		fl.ops = append(fl.ops, op{kind: 'f', x: g.pad / 2, y: g.pad / 2, w: g.cell.Wd - g.pad, h: g.cell.Ht - g.pad})
	}
	ts := g.title * scale
	tw := f.width(title) * ts * ptmm
	fl.ops = append(fl.ops, op{kind: 'T', x: (g.cell.Wd - tw) / 2, y: fl.y + ascent*ts*ptmm, w: ts, text: title})
	fl.y += ts * ptmm * 1.2
	if g.frame {
		fl.ops = append(fl.ops, op{kind: 'l', x: fl.left, y: fl.y, w: fl.right - fl.left})
		fl.y += 1.5
	} else {
		fl.y += 0.3
	}

	// The QR code, its quiet zone reaching into the padding, and the short URL under it.
	m := g.qr / float64(modules)
	qx := fl.right - g.qr
	short := fl.lines(l.Short, note, func(int) float64 { return g.qr + 2*quietZone*m })
	sh := float64(len(short)) * note * ptmm * leading
	qy := fl.y + quietZone*m
	if g.qrBottom {
		qy = fl.bottom - sh - g.qr - quietZone*m
	}
	fl.ops = append(fl.ops, op{kind: 'q', x: qx, y: qy, w: g.qr, h: g.qr})
	sy := qy + g.qr + quietZone*m
	for _, s := range short {
		w := f.width(s) * note * ptmm
		fl.ops = append(fl.ops, op{kind: 't', x: qx + (g.qr-w)/2, y: sy + ascent*note*ptmm, w: note, text: s})
		sy += note * ptmm * leading
	}
	fl.keep = rect{qx - quietZone*m - qrGap, qy - quietZone*m, g.qr + 2*quietZone*m + qrGap, sy - qy + quietZone*m}
	if sy > fl.bottom+0.01 {
		return fl, false
	}

	fl.field("产品名称：", c.Product, body)
	fl.field("数量：", quantity(c.Quantity)+c.Unit.ZH(), body)
	fl.field("产地：", c.Origin, body)
	fl.field("开具时间：", issued(c.Issued), body)
	fl.field("承诺主体：", c.Producer, body)
	if c.Contact != "" {
		fl.field("联系方式：", c.Contact, body)
	}
	fl.y += 0.4 * note * ptmm
	fl.text(c.Template.Text(), note, fl.left, fl.left)
	if c.Template == cert.Buyer {
		up := upstreamLine(c.Upstream, func(s string) bool {
			return len(fl.lines(s, note, func(int) float64 { return fl.right - fl.left })) <= 2
		})
		fl.text(up, note, fl.left, fl.left)
	}
	fl.y += 0.4 * note * ptmm
	fl.bases(c.Basis, body)
	if c.Report != "" {
		fl.field("检测报告编号：", c.Report, body)
	}
	fl.field("编号：", c.Serial, body)
	if l.Unit != "" {
		fl.field("单品码：", l.Unit, body)
	}
	return fl, fl.y <= fl.bottom+0.01
}

// width returns the room on a line from top to top+h starting at x.
func (fl *flow) width(x, top, h float64) float64 {
	k := fl.keep
	if top < k.y+k.h && top+h > k.y && x < k.x+k.w {
		return k.x - x
	}
	return fl.right - x
}

// field sets a label and its value, the value's lines hanging after the label.
func (fl *flow) field(label, value string, size float64) {
	fl.ops = append(fl.ops, op{kind: 't', x: fl.left, y: fl.y + ascent*size*ptmm, w: size, text: label})
	x := fl.left + fl.f.width(label)*size*ptmm
	fl.text(value, size, x, x)
}

// text sets s from x on the current line, the following lines from indent.
func (fl *flow) text(s string, size, x, indent float64) {
	lh := size * ptmm * leading
	y := fl.y
	lines := fl.lines(s, size, func(i int) float64 {
		if i == 0 {
			return fl.width(x, y, lh)
		}
		return fl.width(indent, y+float64(i)*lh, lh)
	})
	for i, line := range lines {
		if i > 0 {
			x = indent
		}
		fl.ops = append(fl.ops, op{kind: 't', x: x, y: fl.y + ascent*size*ptmm, w: size, text: line})
		fl.y += lh
	}
}

// lines breaks s into lines, line i at most width(i) mm wide; a line holds at
// least one rune, so nothing is ever cut off.
func (fl *flow) lines(s string, size float64, width func(i int) float64) []string {
	rs := []rune(s)
	var out []string
	for len(rs) > 0 {
		max := width(len(out)) / (size * ptmm)
		w, brk, n := 0.0, 0, 0
		for n < len(rs) {
			if n > 0 && breakable(rs[n-1], rs[n]) {
				brk = n
			}
			w += fl.f.runeWidth(rs[n])
			if w > max && n > 0 {
				break
			}
			n++
		}
		if n < len(rs) && brk > 0 {
			n = brk
		}
		out = append(out, string(trimSpace(rs[:n])))
		rs = rs[n:]
		for len(rs) > 0 && rs[0] == ' ' {
			rs = rs[1:]
		}
	}
	if len(out) == 0 {
		out = append(out, "")
	}
	return out
}

func trimSpace(rs []rune) []rune {
	for len(rs) > 0 && rs[len(rs)-1] == ' ' {
		rs = rs[:len(rs)-1]
	}
	return rs
}

// breakable reports whether a line may break between a and b: after a space, a
// hyphen or a slash, or next to a CJK character, but never before closing or after
// opening punctuation.
func breakable(a, b rune) bool {
	switch b {
	case '，', '。', '、', '；', '：', '！', '？', '）', '》', '」', '』', ',', '.', ';', ':', '!', '?', ')', ']':
		return false
	}
	switch a {
	case '（', '《', '「', '『', '(', '[', '“', '‘':
		return false
	case ' ', '-', '/':
		return true
	}
	return wide(a) || wide(b)
}

// wide reports whether r is a CJK character or symbol.
func wide(r rune) bool { return r >= 0x2E80 }

// bases sets 承诺依据 with a tick box per basis, wrapping between bases.
func (fl *flow) bases(ticked cert.Basis, size float64) {
	em := size * ptmm
	lh := em * leading
	fl.ops = append(fl.ops, op{kind: 't', x: fl.left, y: fl.y + ascent*em, w: size, text: basesLabel})
	indent := fl.left + fl.f.width(basesLabel)*em
	box, gap := 0.78*em, 0.25*em
	x := indent
	for _, b := range cert.Bases {
		w := box + gap + fl.f.width(b.Label)*em
		if x > indent && x+w > indent+fl.width(indent, fl.y, lh) {
			fl.y += lh
			x = indent
		}
		top := fl.y + (ascent-0.8)*em
		fl.ops = append(fl.ops, op{kind: 'r', x: x, y: top, w: box, h: box})
		if ticked&b.Basis != 0 {
			fl.ops = append(fl.ops, op{kind: 'v', x: x, y: top, w: box, h: box})
		}
		line := fl.y
		fl.text(b.Label, size, x+box+gap, x+box+gap)
		if fl.y-line > 1.5*lh { // the label wrapped: go on below it
			x = indent
			continue
		}
		fl.y = line
		x += w + 0.7*em
	}
	if x > indent {
		fl.y += lh
	}
}

// drawCell emits a cell's operations and its QR code, the cell's top left at (x0, y0) mm.
func drawCell(doc *fpdf.Fpdf, fonts *docFonts, ops []op, qr *qrCode, x0, y0 float64) {
	k := doc.GetConversionRatio()
	_, ph := doc.GetPageSize()
	for _, o := range ops {
		x, y := x0+o.x, y0+o.y
		switch o.kind {
		case 't', 'T':
			if o.kind == 'T' { // fill and stroke: bold
				doc.SetTextRenderingMode(2)
				doc.SetLineWidth(o.w * ptmm * 0.04)
			}
			fonts.text(doc, x, y, o.w, o.text)
			if o.kind == 'T' {
				doc.SetTextRenderingMode(0)
			}
		case 'r':
			doc.SetLineWidth(max(0.12, o.w*0.08))
			doc.Rect(x, y, o.w, o.h, "D")
		case 'v':
			doc.SetLineWidth(max(0.2, o.w*0.14))
			doc.MoveTo(x+0.18*o.w, y+0.52*o.h)
			doc.LineTo(x+0.42*o.w, y+0.78*o.h)
			doc.LineTo(x+0.86*o.w, y+0.2*o.h)
			doc.DrawPath("D")
		case 'l':
			doc.SetLineWidth(0.3)
			doc.Line(x, y, x+o.w, y)
		case 'f':
			doc.SetLineWidth(0.4)
			doc.Rect(x, y, o.w, o.h, "D")
		case 'q':
			doc.RawWriteStr(qr.path(x*k, (ph-y)*k, o.w/float64(qr.size)*k))
		}
	}
}
