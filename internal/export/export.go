// Package export writes tables for regulators: CSV (UTF-8 with a byte-order mark,
// so that Excel reads the Chinese) and XLSX (excelize's stream writer: sortable,
// filterable, header frozen), and runs long exports as background jobs whose
// progress a page can show.
package export

import (
	"bufio"
	"encoding/csv"
	"fmt"
	"io"
	"time"

	"github.com/xuri/excelize/v2"
)

// Format is a file format.
type Format string

// Formats.
const (
	CSV  Format = "csv"
	XLSX Format = "xlsx"
)

// ContentType returns the media type of f.
func (f Format) ContentType() string {
	if f == XLSX {
		return "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
	}
	return "text/csv; charset=utf-8"
}

// Valid reports whether f is a known format.
func (f Format) Valid() bool { return f == CSV || f == XLSX }

// Writer writes a table row by row; Close finishes the file. Cells are strings,
// numbers (int, int64, float64) or times (written in China's time zone).
type Writer interface {
	Row(cells ...any) error
	Close() error
}

// New returns a writer of a table with header in format f to w; sheet names the
// XLSX worksheet.
func New(f Format, w io.Writer, sheet string, header []string) (Writer, error) {
	if f == XLSX {
		return newXLSX(w, sheet, header)
	}
	return newCSV(w, header)
}

var cst = time.FixedZone("CST", 8*3600)

type csvWriter struct {
	buf *bufio.Writer
	w   *csv.Writer
	rec []string
}

func newCSV(w io.Writer, header []string) (*csvWriter, error) {
	b := bufio.NewWriterSize(w, 64<<10)
	b.WriteString("\uFEFF")
	c := &csvWriter{buf: b, w: csv.NewWriter(b)}
	return c, c.w.Write(header)
}

func (c *csvWriter) Row(cells ...any) error {
	c.rec = c.rec[:0]
	for _, v := range cells {
		c.rec = append(c.rec, text(v))
	}
	return c.w.Write(c.rec)
}

func (c *csvWriter) Close() error {
	c.w.Flush()
	if err := c.w.Error(); err != nil {
		return err
	}
	return c.buf.Flush()
}

// text formats a cell for CSV.
func text(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case time.Time:
		if x.IsZero() {
			return ""
		}
		return x.In(cst).Format("2006-01-02 15:04:05")
	case float64:
		return fmt.Sprintf("%g", x)
	case nil:
		return ""
	}
	return fmt.Sprint(v)
}

type xlsxWriter struct {
	out   io.Writer
	f     *excelize.File
	sw    *excelize.StreamWriter
	sheet string
	cols  int
	row   int
	date  int
	cells []any
}

func newXLSX(w io.Writer, sheet string, header []string) (*xlsxWriter, error) {
	f := excelize.NewFile()
	if err := f.SetSheetName("Sheet1", sheet); err != nil {
		return nil, err
	}
	sw, err := f.NewStreamWriter(sheet)
	if err != nil {
		return nil, err
	}
	bold, err := f.NewStyle(&excelize.Style{Font: &excelize.Font{Bold: true}, Fill: excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{"E8F0E8"}}})
	if err != nil {
		return nil, err
	}
	date, err := f.NewStyle(&excelize.Style{CustomNumFmt: ptr("yyyy-mm-dd hh:mm")})
	if err != nil {
		return nil, err
	}
	if err := sw.SetColWidth(1, len(header), 18); err != nil {
		return nil, err
	}
	if err := sw.SetPanes(&excelize.Panes{Freeze: true, YSplit: 1, TopLeftCell: "A2", ActivePane: "bottomLeft"}); err != nil {
		return nil, err
	}
	cells := make([]any, len(header))
	for i, h := range header {
		cells[i] = excelize.Cell{StyleID: bold, Value: h}
	}
	if err := sw.SetRow("A1", cells); err != nil {
		return nil, err
	}
	return &xlsxWriter{out: w, f: f, sw: sw, sheet: sheet, cols: len(header), row: 1, date: date}, nil
}

func ptr[T any](v T) *T { return &v }

func (x *xlsxWriter) Row(cells ...any) error {
	x.row++
	x.cells = x.cells[:0]
	for _, v := range cells {
		switch t := v.(type) {
		case time.Time:
			if t.IsZero() {
				x.cells = append(x.cells, nil)
				continue
			}
			// Excel has no time zones: the local wall time of China.
			w := t.In(cst)
			x.cells = append(x.cells, excelize.Cell{StyleID: x.date, Value: time.Date(w.Year(), w.Month(), w.Day(), w.Hour(), w.Minute(), w.Second(), 0, time.UTC)})
		default:
			x.cells = append(x.cells, v)
		}
	}
	cell, err := excelize.CoordinatesToCellName(1, x.row)
	if err != nil {
		return err
	}
	return x.sw.SetRow(cell, x.cells)
}

func (x *xlsxWriter) Close() error {
	last, err := excelize.CoordinatesToCellName(x.cols, max(x.row, 2))
	if err != nil {
		return err
	}
	if err := x.sw.Flush(); err != nil {
		return err
	}
	if err := x.f.AutoFilter(x.sheet, "A1:"+last, nil); err != nil {
		return err
	}
	_, err = x.f.WriteTo(x.out)
	if cerr := x.f.Close(); err == nil {
		err = cerr
	}
	return err
}
