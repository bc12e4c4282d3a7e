package pdf

import (
	"errors"
	"math/bits"
	"slices"
	"strconv"
	"sync"
)

// A QR Code encoder (ISO/IEC 18004): byte mode, error correction level M, the
// smallest version that holds the content, the mask of least penalty. It exists
// for speed: github.com/skip2/go-qrcode takes 0.6–0.9 ms per code here, more than
// the whole budget of an A6 certificate; this one takes about 0.05 ms.

// qrCode is a QR symbol's dark modules, quiet zone excluded, as horizontal runs.
type qrCode struct {
	size int      // modules per side
	runs [][3]int // row, first column, length
}

const quietZone = 4 // modules of blank margin a reader needs around the symbol

// Error correction codewords per block and number of blocks at level M, by version.
var (
	qrECCPerBlock = [41]int{0, 10, 16, 26, 18, 24, 16, 18, 22, 22, 26, 30, 22, 22, 24, 24, 28, 28, 26, 26, 26, 26, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28}
	qrBlocks      = [41]int{0, 1, 1, 1, 2, 2, 4, 4, 4, 5, 5, 5, 8, 9, 9, 10, 10, 11, 13, 14, 16, 17, 17, 18, 20, 21, 23, 25, 26, 28, 29, 31, 33, 35, 37, 38, 40, 43, 45, 47, 49}
)

// encodeQR returns the QR Code of content.
func encodeQR(content string) (*qrCode, error) {
	ver, err := qrVersion(content)
	if err != nil {
		return nil, err
	}
	m := newQRMatrix(ver)
	m.place(m.codewords(qrData(content, ver)))
	m.applyMask(m.bestMask())
	return m.code(), nil
}

// qrVersion returns the smallest version that holds content.
func qrVersion(content string) (int, error) {
	for ver := 1; ver <= 40; ver++ {
		if 4+qrCountBits(ver)+8*len(content) <= 8*qrDataCodewords(ver) {
			return ver, nil
		}
	}
	return 0, errors.New("qr code: content too long")
}

// qrSize returns the modules a side of content's QR Code.
func qrSize(content string) (int, error) {
	ver, err := qrVersion(content)
	return 4*ver + 17, err
}

func qrCountBits(ver int) int {
	if ver <= 9 {
		return 8
	}
	return 16
}

// qrRawModules returns the modules of a symbol left for data and error correction.
func qrRawModules(ver int) int {
	n := (16*ver+128)*ver + 64
	if ver >= 2 {
		a := ver/7 + 2
		n -= (25*a-10)*a - 55
		if ver >= 7 {
			n -= 36
		}
	}
	return n
}

func qrDataCodewords(ver int) int {
	return qrRawModules(ver)/8 - qrECCPerBlock[ver]*qrBlocks[ver]
}

// qrData returns the data codewords: mode, count, content, terminator and padding.
func qrData(content string, ver int) []byte {
	var bits []bool
	put := func(v, n int) {
		for i := n - 1; i >= 0; i-- {
			bits = append(bits, v>>i&1 != 0)
		}
	}
	put(0b0100, 4) // byte mode
	put(len(content), qrCountBits(ver))
	for i := 0; i < len(content); i++ {
		put(int(content[i]), 8)
	}
	capacity := 8 * qrDataCodewords(ver)
	put(0, min(4, capacity-len(bits)))
	put(0, (8-len(bits)%8)%8)
	data := make([]byte, 0, capacity/8)
	for i := 0; i < len(bits); i += 8 {
		var b byte
		for _, bit := range bits[i : i+8] {
			b <<= 1
			if bit {
				b |= 1
			}
		}
		data = append(data, b)
	}
	for pad := byte(0xEC); len(data) < capacity/8; pad ^= 0xEC ^ 0x11 {
		data = append(data, pad)
	}
	return data
}

// GF(256) with the QR polynomial x⁸+x⁴+x³+x²+1.
var gfExp, gfLog = func() (exp [512]byte, log [256]byte) {
	x := 1
	for i := range 255 {
		exp[i], log[x] = byte(x), byte(i)
		if x <<= 1; x >= 256 {
			x ^= 0x11D
		}
	}
	for i := 255; i < 512; i++ {
		exp[i] = exp[i-255]
	}
	return exp, log
}()

func gfMul(a, b byte) byte {
	if a == 0 || b == 0 {
		return 0
	}
	return gfExp[int(gfLog[a])+int(gfLog[b])]
}

// rsGenerator returns the Reed–Solomon generator of degree n, highest power
// first, its leading 1 left out.
func rsGenerator(n int) []byte {
	g := make([]byte, n)
	g[n-1] = 1
	root := byte(1)
	for range n {
		for j := range g {
			g[j] = gfMul(g[j], root)
			if j+1 < n {
				g[j] ^= g[j+1]
			}
		}
		root = gfMul(root, 2)
	}
	return g
}

// rsRemainder returns the error correction codewords of data.
func rsRemainder(data, gen []byte) []byte {
	r := make([]byte, len(gen))
	for _, b := range data {
		f := b ^ r[0]
		copy(r, r[1:])
		r[len(r)-1] = 0
		for i, g := range gen {
			r[i] ^= gfMul(g, f)
		}
	}
	return r
}

// qrMatrix is a symbol being built: dark modules (1) over a version's template.
type qrMatrix struct {
	*qrTemplate
	dark []byte
}

// qrTemplate is what all symbols of a version share, drawn once per version.
type qrTemplate struct {
	size     int
	dark     []byte // the function patterns
	function []bool // finder, timing, alignment, format and version modules
	masks    []byte // per module, bit k set where mask k flips it
	// For up to 64 modules a side, mask k's flips as bits (see bitLines).
	maskRows, maskCols [8][]uint64
	format             [31]int
}

var qrTemplates [41]struct {
	once sync.Once
	t    *qrTemplate
}

func newQRMatrix(ver int) *qrMatrix {
	tt := &qrTemplates[ver]
	tt.once.Do(func() { tt.t = newQRTemplate(ver) })
	return &qrMatrix{tt.t, slices.Clone(tt.t.dark)}
}

func newQRTemplate(ver int) *qrTemplate {
	n := 4*ver + 17
	t := &qrTemplate{size: n, dark: make([]byte, n*n), function: make([]bool, n*n), masks: make([]byte, n*n)}
	set := func(x, y int, dark bool) {
		t.function[y*n+x] = true
		t.dark[y*n+x] = 0
		if dark {
			t.dark[y*n+x] = 1
		}
	}
	for i := range n {
		set(6, i, i%2 == 0)
		set(i, 6, i%2 == 0)
	}
	for _, c := range [][2]int{{3, 3}, {n - 4, 3}, {3, n - 4}} {
		for dy := -4; dy <= 4; dy++ {
			for dx := -4; dx <= 4; dx++ {
				x, y := c[0]+dx, c[1]+dy
				if x >= 0 && x < n && y >= 0 && y < n {
					d := max(abs(dx), abs(dy))
					set(x, y, d != 2 && d != 4)
				}
			}
		}
	}
	pos := qrAlignment(ver)
	for i, x := range pos {
		for j, y := range pos {
			if i == 0 && j == 0 || i == 0 && j == len(pos)-1 || i == len(pos)-1 && j == 0 {
				continue // the finders' corners
			}
			for dy := -2; dy <= 2; dy++ {
				for dx := -2; dx <= 2; dx++ {
					set(x+dx, y+dy, max(abs(dx), abs(dy)) != 1)
				}
			}
		}
	}
	// Format information, bit i at format[i] and format[15+i], and the dark module.
	for i := range 15 {
		var x, y int
		switch {
		case i <= 5:
			x, y = 8, i
		case i <= 7:
			x, y = 8, i+1
		case i == 8:
			x, y = 7, 8
		default:
			x, y = 14-i, 8
		}
		t.format[i] = y*n + x
		if i < 8 {
			x, y = n-1-i, 8
		} else {
			x, y = 8, n-15+i
		}
		t.format[15+i] = y*n + x
	}
	t.format[30] = (n-8)*n + 8
	for _, at := range t.format {
		set(at%n, at/n, true)
	}
	if ver >= 7 {
		r := ver
		for range 12 {
			r = r<<1 ^ (r>>11)*0x1F25
		}
		bits := ver<<12 | r
		for i := range 18 {
			a, b := n-11+i%3, i/3
			set(a, b, bits>>i&1 != 0)
			set(b, a, bits>>i&1 != 0)
		}
	}
	for y := range n {
		for x := range n {
			if t.function[y*n+x] {
				continue
			}
			for k, flip := range [8]bool{
				(x+y)%2 == 0, y%2 == 0, x%3 == 0, (x+y)%3 == 0,
				(x/3+y/2)%2 == 0, x*y%2+x*y%3 == 0, (x*y%2+x*y%3)%2 == 0, ((x+y)%2+x*y%3)%2 == 0,
			} {
				if flip {
					t.masks[y*n+x] |= 1 << k
				}
			}
		}
	}
	if n <= 64 {
		for k := range 8 {
			flips := make([]byte, n*n)
			for i, b := range t.masks {
				flips[i] = b >> k & 1
			}
			t.maskRows[k], t.maskCols[k] = bitLines(flips, n)
		}
	}
	return t
}

// qrAlignment returns the alignment pattern centres on each axis.
func qrAlignment(ver int) []int {
	if ver == 1 {
		return nil
	}
	n := ver/7 + 2
	step := (ver*8 + n*3 + 5) / (n*4 - 4) * 2
	pos := make([]int, n)
	pos[0] = 6
	for i, p := n-1, 4*ver+10; i >= 1; i, p = i-1, p-step {
		pos[i] = p
	}
	return pos
}

// qrFormatBits returns the format information for level M and mask.
func qrFormatBits(mask int) int {
	data := 0b00<<3 | mask // level M
	r := data
	for range 10 {
		r = r<<1 ^ (r>>9)*0x537
	}
	return (data<<10 | r) ^ 0x5412
}

// drawFormat sets the format information for mask in dark.
func (t *qrTemplate) drawFormat(dark []byte, mask int) {
	f := qrFormatBits(mask)
	for i := range 15 {
		b := byte(f >> i & 1)
		dark[t.format[i]], dark[t.format[15+i]] = b, b
	}
}

// codewords splits data into blocks, appends each block's error correction and
// interleaves them.
func (t *qrTemplate) codewords(data []byte) []byte {
	ver := (t.size - 17) / 4
	blocks, ecc := qrBlocks[ver], qrECCPerBlock[ver]
	raw := qrRawModules(ver) / 8
	short := blocks - raw%blocks
	shortLen := raw/blocks - ecc // data codewords of a short block
	gen := rsGenerator(ecc)
	var dat, eccs [][]byte
	for i := range blocks {
		n := shortLen
		if i >= short {
			n++
		}
		dat = append(dat, data[:n])
		eccs = append(eccs, rsRemainder(data[:n], gen))
		data = data[n:]
	}
	out := make([]byte, 0, raw)
	for i := 0; i <= shortLen; i++ {
		for _, d := range dat {
			if i < len(d) {
				out = append(out, d[i])
			}
		}
	}
	for i := range ecc {
		for _, e := range eccs {
			out = append(out, e[i])
		}
	}
	return out
}

// place lays the codewords out in the zigzag order over the non-function modules.
func (m *qrMatrix) place(cw []byte) {
	n, i := m.size, 0
	for right := n - 1; right >= 1; right -= 2 {
		if right == 6 {
			right = 5
		}
		for v := range n {
			for j := range 2 {
				x, y := right-j, v
				if (right+1)&2 == 0 {
					y = n - 1 - v
				}
				if !m.function[y*n+x] && i < 8*len(cw) {
					m.dark[y*n+x] = cw[i>>3] >> (7 - i&7) & 1
					i++
				}
			}
		}
	}
}

// bestMask returns the mask of least penalty.
func (m *qrMatrix) bestMask() int {
	n := m.size
	best, least := 0, -1
	if n > 64 {
		masked := make([]byte, n*n)
		for k := range 8 {
			for i, d := range m.dark {
				masked[i] = d ^ m.masks[i]>>k&1
			}
			m.drawFormat(masked, k)
			if p := penalty(masked, n); least < 0 || p < least {
				best, least = k, p
			}
		}
		return best
	}
	darkRows, darkCols := bitLines(m.dark, n)
	rows, cols := make([]uint64, n), make([]uint64, n)
	for k := range 8 {
		for i := range n {
			rows[i] = darkRows[i] ^ m.maskRows[k][i]
			cols[i] = darkCols[i] ^ m.maskCols[k][i]
		}
		f := qrFormatBits(k)
		for i, at := range m.format {
			x, y := at%n, at/n
			v := uint64(f>>(i%15)&1) | uint64(i/30) // the last is the dark module
			rows[y] = rows[y]&^(1<<x) | v<<x
			cols[x] = cols[x]&^(1<<y) | v<<y
		}
		if p := penalty64(rows, cols, n); least < 0 || p < least {
			best, least = k, p
		}
	}
	return best
}

// bitLines returns the rows and columns of a symbol of up to 64 modules a side
// as bits, module i at bit i.
func bitLines(d []byte, n int) (rows, cols []uint64) {
	rows, cols = make([]uint64, n), make([]uint64, n)
	for y := range n {
		for x, v := range d[y*n : y*n+n] {
			rows[y] |= uint64(v) << x
			cols[x] |= uint64(v) << y
		}
	}
	return rows, cols
}

// applyMask applies mask k and writes its format information.
func (m *qrMatrix) applyMask(k int) {
	for i := range m.dark {
		m.dark[i] ^= m.masks[i] >> k & 1
	}
	m.drawFormat(m.dark, k)
}

// penalty scores a symbol by the four rules of ISO/IEC 18004 §7.8.3: runs of five
// or more alike (3, and 1 per further module), 2×2 blocks alike (3), 1011101
// finder-like patterns with four light modules on one side (40), and the
// proportion of dark modules (10 per 5% off half).
func penalty(d []byte, n int) int {
	p, dark := 0, 0
	for _, tr := range []bool{false, true} {
		for y := range n {
			run, window := 0, 0
			for x := range n {
				v := d[y*n+x]
				if tr {
					v = d[x*n+y]
				}
				if x > 0 && v == byte(window&1) {
					run++
				} else {
					run = 1
				}
				if run == 5 {
					p += 3
				} else if run > 5 {
					p++
				}
				window = window<<1&0x7FF | int(v)
				if x >= 10 && (window == 0b10111010000 || window == 0b00001011101) {
					p += 40
				}
			}
		}
	}
	for y := range n {
		for x := range n {
			v := d[y*n+x]
			dark += int(v)
			if x > 0 && y > 0 && v == d[y*n+x-1] && v == d[(y-1)*n+x] && v == d[(y-1)*n+x-1] {
				p += 3
			}
		}
	}
	return p + abs(dark*20-n*n*10)/(n*n)*10
}

// penalty64 is penalty for symbols of up to 64 modules a side (versions 1–11),
// given as rows and columns of bits, module i at bit i: 20 times as fast.
func penalty64(rows, cols []uint64, n int) int {
	p := 0
	pairs, windows := uint64(1)<<(n-1)-1, uint64(1)<<(n-10)-1
	for _, lines := range [2][]uint64{rows, cols} {
		for _, r := range lines {
			same := ^(r ^ (r >> 1)) & pairs // module i like module i+1
			run5 := same & (same >> 1) & (same >> 2) & (same >> 3)
			p += bits.OnesCount64(run5) + 2*bits.OnesCount64(run5&^(run5>>1)) // a run of k ≥ 5 scores k-2
			// 1011101 then 0000, and 0000 then 1011101, from module i on
			light := ^(r | r>>1 | r>>2 | r>>3)
			fwd := finderCore(r) & (light >> 7) & windows
			back := light & finderCore(r>>4) & windows
			p += 40 * (bits.OnesCount64(fwd) + bits.OnesCount64(back))
		}
	}
	dark := 0
	for y, r := range rows {
		dark += bits.OnesCount64(r)
		if y > 0 {
			a := rows[y-1]
			p += 3 * bits.OnesCount64(^(a^r) & ^(a^(a>>1)) & ^(r^(r>>1)) & pairs)
		}
	}
	return p + abs(dark*20-n*n*10)/(n*n)*10
}

// finderCore marks where 1011101 begins in r.
func finderCore(r uint64) uint64 {
	return r & (^r >> 1) & (r >> 2) & (r >> 3) & (r >> 4) & (^r >> 5) & (r >> 6)
}

func (m *qrMatrix) code() *qrCode {
	c := &qrCode{size: m.size}
	for y := range m.size {
		row := m.dark[y*m.size : (y+1)*m.size]
		for x := 0; x < len(row); {
			if row[x] == 0 {
				x++
				continue
			}
			start := x
			for x < len(row) && row[x] == 1 {
				x++
			}
			c.runs = append(c.runs, [3]int{y, start, x - start})
		}
	}
	return c
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// path returns PDF content drawing the code with its top left corner at (x, y)
// points from the page's bottom left, each module m points wide: one rectangle per
// run, filled at once.
func (c *qrCode) path(x, y, m float64) string {
	b := make([]byte, 0, 64+12*len(c.runs))
	b = append(b, "q 0 g "...)
	b = strconv.AppendFloat(b, m, 'f', 4, 64)
	b = append(b, " 0 0 "...)
	b = strconv.AppendFloat(b, -m, 'f', 4, 64)
	b = append(b, ' ')
	b = strconv.AppendFloat(b, x, 'f', 3, 64)
	b = append(b, ' ')
	b = strconv.AppendFloat(b, y, 'f', 3, 64)
	b = append(b, " cm\n"...)
	for _, r := range c.runs {
		b = strconv.AppendInt(b, int64(r[1]), 10)
		b = append(b, ' ')
		b = strconv.AppendInt(b, int64(r[0]), 10)
		b = append(b, ' ')
		b = strconv.AppendInt(b, int64(r[2]), 10)
		b = append(b, " 1 re\n"...)
	}
	return string(append(b, "f Q"...))
}
