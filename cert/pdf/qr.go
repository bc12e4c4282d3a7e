package pdf

import (
	"errors"
	"strconv"

	qrcode "github.com/skip2/go-qrcode"
)

// qrCode is a QR symbol's dark modules, quiet zone excluded, as horizontal runs:
// drawn as one rectangle each, it is crisp on a thermal printer and costs a few
// bytes a run.
type qrCode struct {
	size int      // modules per side
	runs [][3]int // row, first column, length
}

const quietZone = 4 // modules of blank margin a reader needs around the symbol

// qrSize returns the modules a side of content's QR Code (error correction M)
// without encoding it.
func qrSize(content string) (int, error) {
	q, err := qrcode.New(content, qrcode.Medium)
	if err != nil {
		return 0, err
	}
	return 4*q.VersionNumber + 17, nil
}

// encodeQR returns the QR Code of content at error correction level M, from
// go-qrcode's module bitmap.
func encodeQR(content string) (*qrCode, error) {
	q, err := qrcode.New(content, qrcode.Medium)
	if err != nil {
		return nil, err
	}
	q.DisableBorder = true
	bm := q.Bitmap()
	if len(bm) != 4*q.VersionNumber+17 {
		return nil, errors.New("qr code: unexpected bitmap size")
	}
	c := &qrCode{size: len(bm)}
	for y, row := range bm {
		for x := 0; x < len(row); {
			if !row[x] {
				x++
				continue
			}
			start := x
			for x < len(row) && row[x] {
				x++
			}
			c.runs = append(c.runs, [3]int{y, start, x - start})
		}
	}
	return c, nil
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
