package pdf

import (
	_ "embed"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"sync"
	"unicode"

	"github.com/go-pdf/fpdf"
)

// The embedded font: WenQuanYi Micro Hei cut to GB 2312 (see font/make.sh).
//
//go:embed font/wqy-microhei-gb2312.ttf
var fontData []byte

// sfnt is a TrueType font parsed once: what a per-document subset is cut from.
type sfnt struct {
	tables  map[string][]byte
	glyph   map[rune]uint16 // printable runes only
	advance []uint16        // per glyph, font units
	lsb     []uint16        // left side bearing per glyph, as stored
	bmp     []uint16        // advance per rune of the Basic Multilingual Plane
	loca    []uint32        // glyph offsets into glyf, numGlyphs+1 of them
	upem    float64
}

var embedded = sync.OnceValue(func() *sfnt {
	f, err := parseFont(fontData)
	if err != nil {
		panic(fmt.Sprintf("cert/pdf: embedded font: %v", err))
	}
	return f
})

// Missing returns the runes of s, each once and in order, that the embedded font
// cannot print: absent from it or without an outline (spaces excepted).
func Missing(s string) []rune {
	f := embedded()
	var out []rune
	for _, r := range s {
		if _, ok := f.glyph[r]; !ok && !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	return out
}

func parseFont(b []byte) (*sfnt, error) {
	if len(b) < 12 || binary.BigEndian.Uint32(b) != 0x00010000 {
		return nil, fmt.Errorf("not a TrueType font")
	}
	f := &sfnt{tables: map[string][]byte{}}
	n := int(u16(b, 4))
	for i := range n {
		rec := b[12+16*i:]
		off, size := u32(rec, 8), u32(rec, 12)
		if int(off)+int(size) > len(b) {
			return nil, fmt.Errorf("table %q out of bounds", rec[:4])
		}
		f.tables[string(rec[:4])] = b[off : off+size]
	}
	for _, t := range []string{"head", "hhea", "maxp", "hmtx", "loca", "glyf", "cmap", "OS/2", "name", "post"} {
		if len(f.tables[t]) == 0 {
			return nil, fmt.Errorf("no %s table", t)
		}
	}
	head, hhea, hmtx := f.tables["head"], f.tables["hhea"], f.tables["hmtx"]
	f.upem = float64(u16(head, 18))
	numGlyphs := int(u16(f.tables["maxp"], 4))
	f.loca = make([]uint32, numGlyphs+1)
	loca := f.tables["loca"]
	for i := range f.loca {
		if u16(head, 50) == 0 {
			f.loca[i] = 2 * uint32(u16(loca, 2*i))
		} else {
			f.loca[i] = u32(loca, 4*i)
		}
	}
	nh := int(u16(hhea, 34))
	f.advance, f.lsb = make([]uint16, numGlyphs), make([]uint16, numGlyphs)
	for g := range f.advance {
		f.advance[g] = u16(hmtx, 4*min(g, nh-1))
		if g < nh {
			f.lsb[g] = u16(hmtx, 4*g+2)
		} else {
			f.lsb[g] = u16(hmtx, 4*nh+2*(g-nh))
		}
	}
	cmap, err := unicodeCmap(f.tables["cmap"])
	if err != nil {
		return nil, err
	}
	f.glyph = make(map[rune]uint16, len(cmap))
	for r, g := range cmap {
		if int(g) < numGlyphs && (f.loca[g+1] > f.loca[g] || unicode.IsSpace(r)) {
			f.glyph[r] = g
		}
	}
	f.bmp = make([]uint16, 0x10000)
	for r, g := range f.glyph {
		if r <= 0xFFFF {
			f.bmp[r] = f.advance[g]
		}
	}
	return f, nil
}

// unicodeCmap reads the Windows Unicode BMP (3,1) format 4 subtable.
func unicodeCmap(cmap []byte) (map[rune]uint16, error) {
	for i := range int(u16(cmap, 2)) {
		rec := cmap[4+8*i:]
		if u16(rec, 0) != 3 || u16(rec, 2) != 1 {
			continue
		}
		t := cmap[u32(rec, 4):]
		if u16(t, 0) != 4 {
			break
		}
		segs := int(u16(t, 6)) / 2
		ends, starts, deltas, ranges := t[14:], t[16+2*segs:], t[16+4*segs:], t[16+6*segs:]
		m := map[rune]uint16{}
		for s := range segs {
			start, end, delta, ro := u16(starts, 2*s), u16(ends, 2*s), u16(deltas, 2*s), int(u16(ranges, 2*s))
			for c := int(start); c <= int(end) && c != 0xFFFF; c++ {
				g := uint16(c) + delta
				if ro != 0 {
					g = u16(ranges, 2*s+ro+2*(c-int(start)))
					if g != 0 {
						g += delta
					}
				}
				if g != 0 {
					m[rune(c)] = g
				}
			}
		}
		return m, nil
	}
	return nil, fmt.Errorf("no Unicode BMP cmap (3,1,4)")
}

// width returns the advance of s at size 1.
func (f *sfnt) width(s string) float64 {
	w := 0.0
	for _, r := range s {
		w += f.runeWidth(r)
	}
	return w
}

// runeWidth returns the advance of r at size 1, 0 when the font lacks it.
func (f *sfnt) runeWidth(r rune) float64 {
	if r > 0xFFFF {
		return 0
	}
	return float64(f.bmp[r]) / f.upem
}

// subset returns a TrueType font holding only the glyphs of runes (and the
// components of composite glyphs), small enough for fpdf to parse per document.
func (f *sfnt) subset(runes []rune) []byte {
	// New glyph IDs: .notdef, the runes' glyphs, then components as met.
	newID := map[uint16]uint16{0: 0}
	old := []uint16{0}
	add := func(g uint16) {
		if _, ok := newID[g]; !ok {
			newID[g] = uint16(len(old))
			old = append(old, g)
		}
	}
	runes = slices.Clone(runes)
	slices.Sort(runes)
	runes = slices.Compact(runes)
	var mapped []rune
	for _, r := range runes {
		if g, ok := f.glyph[r]; ok && r <= 0xFFFF {
			add(g)
			mapped = append(mapped, r)
		}
	}
	glyf := f.tables["glyf"]
	for i := 0; i < len(old); i++ { // old grows as components are found
		g := glyf[f.loca[old[i]]:f.loca[old[i]+1]]
		components(g, func(p int) { add(u16(g, p)) })
	}

	size := 0
	for _, g := range old {
		size += int(f.loca[g+1]-f.loca[g]) + 3
	}
	glyfOut, locaOut, hmtxOut := make([]byte, 0, size), make([]byte, 0, 4*len(old)+4), make([]byte, 0, 4*len(old))
	for _, g := range old {
		locaOut = binary.BigEndian.AppendUint32(locaOut, uint32(len(glyfOut)))
		start := len(glyfOut)
		glyfOut = append(glyfOut, glyf[f.loca[g]:f.loca[g+1]]...)
		d := glyfOut[start:]
		components(d, func(p int) { binary.BigEndian.PutUint16(d[p:], newID[u16(d, p)]) })
		for len(glyfOut)%4 != 0 {
			glyfOut = append(glyfOut, 0)
		}
		hmtxOut = binary.BigEndian.AppendUint16(hmtxOut, f.advance[g])
		hmtxOut = binary.BigEndian.AppendUint16(hmtxOut, f.lsb[g])
	}
	locaOut = binary.BigEndian.AppendUint32(locaOut, uint32(len(glyfOut)))

	head := slices.Clone(f.tables["head"])
	binary.BigEndian.PutUint32(head[8:], 0) // checkSumAdjustment, set below
	binary.BigEndian.PutUint16(head[50:], 1)
	hhea := slices.Clone(f.tables["hhea"])
	binary.BigEndian.PutUint16(hhea[34:], uint16(len(old)))
	maxp := slices.Clone(f.tables["maxp"])
	binary.BigEndian.PutUint16(maxp[4:], uint16(len(old)))
	post := slices.Clone(f.tables["post"][:32])
	binary.BigEndian.PutUint32(post, 0x00030000)

	tables := []struct {
		tag  string
		data []byte
	}{ // sorted by tag, as the directory must be
		{"OS/2", f.tables["OS/2"]}, {"cmap", cmap4(mapped, newID, f.glyph)}, {"glyf", glyfOut},
		{"head", head}, {"hhea", hhea}, {"hmtx", hmtxOut}, {"loca", locaOut}, {"maxp", maxp},
		{"name", f.tables["name"]}, {"post", post},
	}
	n := len(tables)
	es := 0
	for 1<<(es+1) <= n {
		es++
	}
	size = 12 + 16*n
	for _, t := range tables {
		size += len(t.data) + 3
	}
	out := binary.BigEndian.AppendUint32(make([]byte, 0, size), 0x00010000)
	out = binary.BigEndian.AppendUint16(out, uint16(n))
	out = binary.BigEndian.AppendUint16(out, uint16(16<<es))
	out = binary.BigEndian.AppendUint16(out, uint16(es))
	out = binary.BigEndian.AppendUint16(out, uint16(16*n-16<<es))
	off := 12 + 16*n
	for _, t := range tables {
		out = append(out, t.tag...)
		out = binary.BigEndian.AppendUint32(out, checksum(t.data))
		out = binary.BigEndian.AppendUint32(out, uint32(off))
		out = binary.BigEndian.AppendUint32(out, uint32(len(t.data)))
		off += (len(t.data) + 3) &^ 3
	}
	headAt := 0
	for _, t := range tables {
		if t.tag == "head" {
			headAt = len(out)
		}
		out = append(out, t.data...)
		for len(out)%4 != 0 {
			out = append(out, 0)
		}
	}
	binary.BigEndian.PutUint32(out[headAt+8:], 0xB1B0AFBA-checksum(out))
	return out
}

// components calls fn with the offset of each component's glyph index in g, when
// g is a composite glyph.
func components(g []byte, fn func(p int)) {
	if len(g) < 10 || int16(u16(g, 0)) >= 0 {
		return
	}
	for p := 10; ; {
		flags := u16(g, p)
		fn(p + 2)
		p += 6 // flags, glyph index, two byte-sized arguments
		if flags&0x1 != 0 {
			p += 2 // word-sized arguments
		}
		switch {
		case flags&0x8 != 0:
			p += 2 // one scale
		case flags&0x40 != 0:
			p += 4 // x and y scales
		case flags&0x80 != 0:
			p += 8 // 2×2 matrix
		}
		if flags&0x20 == 0 { // no more components
			return
		}
	}
}

// cmap4 builds a cmap table with one (3,1) format 4 subtable, a segment per rune.
func cmap4(runes []rune, newID map[uint16]uint16, glyph map[rune]uint16) []byte {
	segs := len(runes) + 1
	es := 0
	for 1<<(es+1) <= segs {
		es++
	}
	t := make([]byte, 0, 16+8*segs)
	for _, v := range []int{4, 16 + 8*segs, 0, 2 * segs, 2 << es, es, 2*segs - 2<<es} {
		t = binary.BigEndian.AppendUint16(t, uint16(v))
	}
	// endCode
	for _, r := range runes {
		t = binary.BigEndian.AppendUint16(t, uint16(r))
	}
	t = binary.BigEndian.AppendUint16(t, 0xFFFF)
	t = binary.BigEndian.AppendUint16(t, 0) // reservedPad
	// startCode
	for _, r := range runes {
		t = binary.BigEndian.AppendUint16(t, uint16(r))
	}
	t = binary.BigEndian.AppendUint16(t, 0xFFFF)
	// idDelta
	for _, r := range runes {
		t = binary.BigEndian.AppendUint16(t, newID[glyph[r]]-uint16(r))
	}
	t = binary.BigEndian.AppendUint16(t, 1)
	t = append(t, make([]byte, 2*segs)...) // idRangeOffset
	head := []byte{0, 0, 0, 1, 0, 3, 0, 1, 0, 0, 0, 12}
	return append(head, t...)
}

func checksum(b []byte) uint32 {
	var sum uint32
	for len(b) >= 4 {
		sum += binary.BigEndian.Uint32(b)
		b = b[4:]
	}
	var tail [4]byte
	copy(tail[:], b)
	return sum + binary.BigEndian.Uint32(tail[:])
}

func u16(b []byte, i int) uint16 { return binary.BigEndian.Uint16(b[i:]) }
func u32(b []byte, i int) uint32 { return binary.BigEndian.Uint32(b[i:]) }

// docFonts are a document's fonts: simple TrueType fonts cut from the embedded
// one, each coding up to 224 runes as the bytes 32–255, embedded uncompressed
// (CJK outlines shrink by a third only). fpdf's UTF-8 fonts would cost 4 ms a
// document whatever their size, chiefly in hashing a 64K-entry width table.
type docFonts struct {
	f    *sfnt
	code map[rune]uint16 // font<<8 | byte
	font int             // selected in the document, and its size
	size float64
	buf  []byte
}

const codesPerFont = 224

// addFonts adds fonts for runes to doc.
func addFonts(doc *fpdf.Fpdf, f *sfnt, runes []rune) (*docFonts, error) {
	d := &docFonts{f: f, code: make(map[rune]uint16, len(runes)), font: -1}
	head, hhea, post := f.tables["head"], f.tables["hhea"], f.tables["post"]
	scale := func(v uint16) int { return int(math.Round(float64(int16(v)) * 1000 / f.upem)) }
	desc := fpdf.FontDescType{Ascent: scale(u16(hhea, 4)), Descent: scale(u16(hhea, 6)), Flags: fpdf.FontFlagNonsymbolic, StemV: 80}
	desc.CapHeight = desc.Ascent
	if os2 := f.tables["OS/2"]; u16(os2, 0) >= 2 {
		desc.CapHeight = scale(u16(os2, 88))
	}
	desc.FontBBox.Xmin, desc.FontBBox.Ymin = scale(u16(head, 36)), scale(u16(head, 38))
	desc.FontBBox.Xmax, desc.FontBBox.Ymax = scale(u16(head, 40)), scale(u16(head, 42))
	for i := 0; i*codesPerFont < len(runes); i++ {
		group := runes[i*codesPerFont : min(len(runes), (i+1)*codesPerFont)]
		def := struct {
			Tp, Name     string
			Desc         fpdf.FontDescType
			Up, Ut       int
			Cw           []int
			Diff, File   string
			OriginalSize int
		}{Tp: "TrueType", Name: subsetTag(i) + "+WenQuanYiMicroHei", Desc: desc,
			Up: scale(u16(post, 8)), Ut: scale(u16(post, 10)), Cw: make([]int, 256), File: subsetTag(i) + ".ttf"}
		diff := []byte("32")
		for j, r := range group {
			d.code[r] = uint16(i)<<8 | uint16(32+j)
			def.Cw[32+j] = int(math.Round(f.runeWidth(r) * 1000))
			diff = append(diff, " /uni"...)
			for s := 12; s >= 0; s -= 4 {
				diff = append(diff, "0123456789ABCDEF"[r>>s&0xF])
			}
		}
		def.Diff = string(diff)
		ttf := f.subset(group)
		def.OriginalSize = len(ttf)
		js, err := json.Marshal(def)
		if err != nil {
			return nil, err
		}
		doc.AddFontFromBytes(family(i), "", js, ttf)
	}
	return d, doc.Error()
}

// subsetTag returns the tag naming font i of a document: six capitals.
func subsetTag(i int) string { return fmt.Sprintf("GPSU%c%c", 'A'+i/26%26, 'A'+i%26) }

func family(i int) string { return fmt.Sprintf("g%d", i) }

// text sets s at (x, y) mm, the start of its baseline, in size pt. It selects
// fonts through fpdf and writes the text operators itself: fpdf.Text formats
// with fmt, a third of the time of a sheet of labels.
func (d *docFonts) text(doc *fpdf.Fpdf, x, y, size float64, s string) {
	k := doc.GetConversionRatio()
	_, h := doc.GetPageSize()
	var run []byte
	font, w := -1, 0.0
	flush := func() {
		if len(run) > 0 {
			if font != d.font || size != d.size {
				doc.SetFont(family(font), "", size)
				d.font, d.size = font, size
			}
			b := append(d.buf[:0], "BT "...)
			b = strconv.AppendFloat(b, x*k, 'f', 2, 64)
			b = append(b, ' ')
			b = strconv.AppendFloat(b, (h-y)*k, 'f', 2, 64)
			b = append(b, " Td ("...)
			for _, c := range run {
				if c == '(' || c == ')' || c == '\\' {
					b = append(b, '\\')
				}
				b = append(b, c)
			}
			d.buf = append(b, ") Tj ET"...)
			doc.RawWriteStr(string(d.buf))
			x += w * size * ptmm
		}
		run, w = run[:0], 0
	}
	for _, r := range s {
		c := d.code[r]
		if int(c>>8) != font {
			flush()
			font = int(c >> 8)
		}
		run = append(run, byte(c))
		w += d.f.runeWidth(r)
	}
	flush()
}
