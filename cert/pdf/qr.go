package pdf

import (
	"fmt"
	"strconv"

	qrcode "github.com/skip2/go-qrcode"
)

// qrCode is a QR symbol's dark modules, quiet zone excluded, as horizontal runs.
type qrCode struct {
	size int      // modules per side
	runs [][3]int // row, first column, length
}

const quietZone = 4 // modules

func encodeQR(content string) (*qrCode, error) {
	q, err := qrcode.New(content, qrcode.Medium)
	if err != nil {
		return nil, fmt.Errorf("qr code: %w", err)
	}
	q.DisableBorder = true
	bits := q.Bitmap()
	c := &qrCode{size: len(bits)}
	for y, row := range bits {
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
