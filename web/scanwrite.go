package web

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"encoding/binary"
	"hash/crc32"
	"hash/fnv"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// bodies recycles the buffers responses are assembled in.
var bodies = sync.Pool{New: func() any { return new([]byte) }}

// A scan page is rendered once per certificate state and language with markers
// where the per-scan parts go (the unit and its count, the unit's orders), split
// there, and each static part compressed once as a deflate stream of its own. A
// request then costs its small dynamic parts, sent as stored deflate blocks between
// the compressed ones, and a CRC combined from the parts': no template run and no
// compression of the page.

// slotMarker marks a per-scan part in a rendered page. Template data cannot contain
// it: html/template escapes every "<" in data.
const slotMarker = "<!--slot-->"

// pageParts is a page around its slots, as it is sent: its static parts kept
// compressed only (a cache holds thousands of pages), with what the gzip trailer
// needs of them.
type pageParts struct {
	gz     [][]byte   // each static part a deflate stream of its own, flushed, not final
	crcs   []uint32   // CRC-32 of each static part
	shifts []crcShift // appends each static part's length in zero bytes to a CRC
	lens   []int
	hash   uint64 // of the static parts
}

// splitPage splits a rendered page at its slot markers and compresses the parts.
func splitPage(page []byte) (*pageParts, error) {
	p := &pageParts{}
	h := fnv.New64a()
	for _, part := range bytes.Split(page, []byte(slotMarker)) {
		h.Write(part)
		var buf bytes.Buffer
		fw, err := flate.NewWriter(&buf, flate.DefaultCompression)
		if err != nil {
			return nil, err
		}
		if _, err := fw.Write(part); err != nil {
			return nil, err
		}
		if err := fw.Flush(); err != nil { // byte-aligned, not final: more may follow
			return nil, err
		}
		p.gz = append(p.gz, bytes.Clone(buf.Bytes()))
		p.crcs = append(p.crcs, crc32.ChecksumIEEE(part))
		p.shifts = append(p.shifts, newCRCShift(len(part)))
		p.lens = append(p.lens, len(part))
	}
	p.hash = h.Sum64()
	return p, nil
}

// etag returns the weak entity tag of the page with its dynamic parts.
func (p *pageParts) etag(dyn [][]byte) string {
	h := fnv.New64a()
	binary.Write(h, binary.LittleEndian, p.hash)
	for _, d := range dyn {
		h.Write(d)
		h.Write([]byte{0})
	}
	return `W/"` + strconv.FormatUint(h.Sum64(), 36) + `"`
}

// appendBody appends the page with its dynamic parts (one fewer than the static
// ones) to out, gzipped: a gzip member whose deflate stream is the parts in turn.
func (p *pageParts) appendBody(out []byte, dyn [][]byte) []byte {
	size := 10 + 8 + 2
	for i, part := range p.gz {
		size += len(part)
		if i < len(dyn) {
			size += len(dyn[i]) + 5*(len(dyn[i])/0xffff+1)
		}
	}
	out = slices.Grow(out, size)
	out = append(out, 0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff) // gzip header: deflate, no name, no time
	crc, n := uint32(0), 0
	for i, part := range p.gz {
		out = append(out, part...)
		crc = p.shifts[i].apply(crc) ^ p.crcs[i] // the CRC of what precedes, then this part
		n += p.lens[i]
		if i < len(dyn) {
			out = appendStored(out, dyn[i])
			crc = crc32.Update(crc, crc32.IEEETable, dyn[i])
			n += len(dyn[i])
		}
	}
	out = append(out, 0x03, 0x00) // the final block: empty, fixed Huffman codes
	out = binary.LittleEndian.AppendUint32(out, crc)
	return binary.LittleEndian.AppendUint32(out, uint32(n))
}

// appendPlain appends the page uncompressed, for the rare client without gzip.
func (p *pageParts) appendPlain(out []byte, dyn [][]byte) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(p.appendBody(nil, dyn)))
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	buf.Write(out)
	if _, err := buf.ReadFrom(zr); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// crcShift is the linear operator that appends a fixed number of zero bytes to a
// CRC-32 (IEEE) over GF(2), as zlib's crc32_combine builds it: with it, the CRC of
// A then B is shift(len B)(crc A) xor crc B.
type crcShift [32]uint32

func (m *crcShift) apply(v uint32) uint32 {
	var sum uint32
	for i := 0; v != 0; i, v = i+1, v>>1 {
		if v&1 != 0 {
			sum ^= m[i]
		}
	}
	return sum
}

// then returns the operator m followed by o.
func (m *crcShift) then(o *crcShift) crcShift {
	var out crcShift
	for i := range out {
		out[i] = o.apply(m[i])
	}
	return out
}

// newCRCShift returns the operator appending n zero bytes.
func newCRCShift(n int) crcShift {
	var op crcShift // one zero bit
	op[0] = 0xedb88320
	for i := 1; i < 32; i++ {
		op[i] = 1 << (i - 1)
	}
	for range 3 { // eight zero bits
		op = op.then(&op)
	}
	var res crcShift
	for i := range res {
		res[i] = 1 << i
	}
	for ; n > 0; n >>= 1 {
		if n&1 != 0 {
			res = res.then(&op)
		}
		op = op.then(&op)
	}
	return res
}

// appendStored appends b as stored (uncompressed) deflate blocks, not final, at a
// byte boundary.
func appendStored(out, b []byte) []byte {
	for len(b) > 0 {
		k := min(len(b), 0xffff)
		out = append(out, 0, byte(k), byte(k>>8), ^byte(k), ^byte(k>>8))
		out = append(out, b[:k]...)
		b = b[k:]
	}
	return out
}

// acceptsGzip reports whether the request accepts gzip content coding.
func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if !strings.EqualFold(strings.TrimSpace(coding), "gzip") && strings.TrimSpace(coding) != "*" {
			continue
		}
		q, ok := strings.CutPrefix(strings.ReplaceAll(params, " ", ""), "q=")
		if f, err := strconv.ParseFloat(q, 64); ok && err == nil && f == 0 {
			return false
		}
		return true
	}
	return false
}

// matches reports whether an If-None-Match header names etag (weak comparison).
func matches(inm, etag string) bool {
	want := strings.TrimPrefix(etag, "W/")
	for _, t := range strings.Split(inm, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || strings.TrimPrefix(t, "W/") == want {
			return true
		}
	}
	return false
}
