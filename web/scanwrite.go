package web

import (
	"bytes"
	"compress/flate"
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
// the compressed ones, and a CRC: no template run and no compression of the page.

// slotMarker marks a per-scan part in a rendered page. Template data cannot contain
// it: html/template escapes every "<" in data.
const slotMarker = "<!--slot-->"

// pageParts is a page around its slots, as it is sent.
type pageParts struct {
	raw  [][]byte // static parts, one more than the slots
	gz   [][]byte // each a deflate stream of its own, flushed, not final
	hash uint64   // of raw
}

// splitPage splits a rendered page at its slot markers and compresses the parts.
func splitPage(page []byte) (*pageParts, error) {
	p := &pageParts{raw: bytes.Split(page, []byte(slotMarker))}
	h := fnv.New64a()
	for _, part := range p.raw {
		h.Write(part)
		var buf bytes.Buffer
		fw, err := flate.NewWriter(&buf, flate.BestCompression)
		if err != nil {
			return nil, err
		}
		if _, err := fw.Write(part); err != nil {
			return nil, err
		}
		if err := fw.Flush(); err != nil { // byte-aligned, not final: more may follow
			return nil, err
		}
		p.gz = append(p.gz, buf.Bytes())
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

// appendBody appends the page with its dynamic parts (len(dyn) = len(raw)-1) to out,
// gzipped (a gzip member whose deflate stream is the parts in turn) or plain.
func (p *pageParts) appendBody(out []byte, dyn [][]byte, gzip bool) []byte {
	n := 0
	for i, part := range p.raw {
		n += len(part)
		if i < len(dyn) {
			n += len(dyn[i])
		}
	}
	if !gzip {
		out = slices.Grow(out, n)
		for i, part := range p.raw {
			out = append(out, part...)
			if i < len(dyn) {
				out = append(out, dyn[i]...)
			}
		}
		return out
	}
	size := 10 + 8 + 2
	for i, part := range p.gz {
		size += len(part)
		if i < len(dyn) {
			size += len(dyn[i]) + 5*(len(dyn[i])/0xffff+1)
		}
	}
	out = slices.Grow(out, size)
	out = append(out, 0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff) // gzip header: deflate, no name, no time
	crc := uint32(0)
	for i, part := range p.gz {
		out = append(out, part...)
		crc = crc32.Update(crc, crc32.IEEETable, p.raw[i])
		if i < len(dyn) {
			out = appendStored(out, dyn[i])
			crc = crc32.Update(crc, crc32.IEEETable, dyn[i])
		}
	}
	out = append(out, 0x03, 0x00) // the final block: empty, fixed Huffman codes
	out = binary.LittleEndian.AppendUint32(out, crc)
	return binary.LittleEndian.AppendUint32(out, uint32(n))
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
