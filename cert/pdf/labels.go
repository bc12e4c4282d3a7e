package pdf

import (
	"strings"

	"github.com/ganpin/ganpin/cert"
	"github.com/ganpin/ganpin/trace"
)

// Print limits: the labels one request prints.
const (
	MaxCopies = 1000
	MaxLabels = 20000
)

// Selection is what to print of a certificate: copies of it, or its unit-level
// labels From..To (From > 0).
type Selection struct {
	Copies   int
	From, To int
}

// Labels returns the labels that print c as selected; base is the public base URL.
// A revoked certificate is not printed.
func Labels(c *cert.Issued, base string, sel Selection) ([]Label, error) {
	if c.Revocation != nil {
		return nil, trace.Conflict("", "revoked", "合格证"+c.Serial+"已撤销，不能打印", "certificate "+c.Serial+" is revoked and cannot be printed")
	}
	short := func(unit int) string {
		_, rest, _ := strings.Cut(c.ShortURL(base, unit), "://")
		return rest
	}
	if sel.From == 0 && sel.To == 0 {
		if sel.Copies == 0 {
			sel.Copies = 1
		}
		if sel.Copies < 1 || sel.Copies > MaxCopies {
			return nil, trace.Invalid("copies", "invalid_copies", "份数应为1至%d", "copies are 1 to %d", MaxCopies)
		}
		l := Label{Cert: &c.Certificate, QR: c.URL(base, 0), Short: short(0)}
		out := make([]Label, sel.Copies)
		for i := range out {
			out[i] = l
		}
		return out, nil
	}
	if sel.From < 1 || sel.To < sel.From || sel.To > c.Units {
		return nil, trace.Invalid("units", "invalid_units", "单品码范围应在1至%d之间", "unit serials are within 1 to %d", c.Units)
	}
	if sel.To-sel.From+1 > MaxLabels {
		return nil, trace.Invalid("units", "too_many_labels", "一次最多打印%d张标签", "at most %d labels at a time", MaxLabels)
	}
	out := make([]Label, 0, sel.To-sel.From+1)
	for u := sel.From; u <= sel.To; u++ {
		out = append(out, Label{Cert: &c.Certificate, QR: c.URL(base, u), Short: short(u), Unit: cert.UnitSerial(u)})
	}
	return out, nil
}
