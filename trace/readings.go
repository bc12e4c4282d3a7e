package trace

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
)

// ReadingInput is a reading as loggers send it in JSON (HTTP batches, MQTT).
type ReadingInput struct {
	Time        string   `json:"time"`        // RFC 3339 with offset
	Temperature *float64 `json:"temperature"` // ℃
	Humidity    *float64 `json:"humidity,omitempty"`
}

// ReadingsFromInput converts readings received as JSON; the error names the
// first bad one (readings[i].field).
func ReadingsFromInput(in []ReadingInput) ([]Reading, error) {
	out := make([]Reading, len(in))
	for i, ri := range in {
		f := fmt.Sprintf("readings[%d].", i)
		t, err := time.Parse(time.RFC3339, ri.Time)
		if err != nil {
			return nil, Invalid(f+"time", "invalid_time", "时间格式无效，应为RFC 3339并带时区，如2026-11-20T08:30:00+08:00", "invalid time: use RFC 3339 with an offset, e.g. 2026-11-20T08:30:00+08:00")
		}
		if ri.Temperature == nil {
			return nil, Invalid(f+"temperature", "required", "缺少温度", "the temperature is required")
		}
		out[i] = Reading{Time: t, Temp: *ri.Temperature, Humidity: math.NaN()}
		if ri.Humidity != nil {
			out[i].Humidity = *ri.Humidity
		}
	}
	return out, nil
}

// Local time layouts common loggers export; times without an offset are read in
// the upload's zone.
var csvLayouts = []string{time.RFC3339, "2006-01-02 15:04:05", "2006-01-02 15:04", "2006/01/02 15:04:05", "2006/01/02 15:04",
	"2006/1/2 15:04:05", "2006/1/2 15:04", "2006-01-02T15:04:05", "2006-01-02T15:04", "2006.01.02 15:04:05"}

func parseCSVTime(s string, loc *time.Location) (time.Time, bool) {
	for _, l := range csvLayouts {
		if l == time.RFC3339 {
			if t, err := time.Parse(l, s); err == nil {
				return t, true
			}
			continue
		}
		if t, err := time.ParseInLocation(l, s, loc); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// csvColumns is where a file keeps each value.
type csvColumns struct {
	time, temp, humidity int // -1 when absent
	fahrenheit           bool
}

// columnsOf reads a header row, or returns false when rec is data.
func columnsOf(rec []string) (csvColumns, bool) {
	c := csvColumns{time: -1, temp: -1, humidity: -1}
	for i, h := range rec {
		h := strings.ToLower(strings.TrimSpace(h))
		switch {
		case c.time < 0 && (strings.Contains(h, "time") || strings.Contains(h, "date") || strings.Contains(h, "时间") || strings.Contains(h, "日期")):
			c.time = i
		case c.temp < 0 && (strings.Contains(h, "temp") || strings.Contains(h, "温度")):
			c.temp = i
			c.fahrenheit = strings.Contains(h, "°f") || strings.Contains(h, "℉") || strings.Contains(h, "(f)")
		case c.humidity < 0 && (strings.Contains(h, "hum") || strings.Contains(h, "湿度") || strings.Contains(h, "rh")):
			c.humidity = i
		}
	}
	return c, c.time >= 0 && c.temp >= 0
}

// ParseReadingsCSV reads a logger's CSV export: a header naming the time,
// temperature and (optional) humidity columns, or none and the columns in that
// order. Commas, semicolons or tabs separate values; a UTF-8 byte-order mark is
// skipped; times without an offset are in loc; temperatures in ℉ are converted.
// Every row is checked like any reading at now: the first bad one refuses the
// file, named by its line number (csv.line[n].column).
func ParseReadingsCSV(r io.Reader, loc *time.Location, now time.Time) ([]Reading, error) {
	br := bufio.NewReader(r)
	if b, err := br.Peek(3); err == nil && bytes.Equal(b, []byte("\xef\xbb\xbf")) {
		br.Discard(3)
	}
	first, _ := br.Peek(4096)
	line, _, _ := bytes.Cut(first, []byte("\n"))
	cr := csv.NewReader(br)
	switch {
	case bytes.Count(line, []byte{'\t'}) > bytes.Count(line, []byte{','}):
		cr.Comma = '\t'
	case bytes.Count(line, []byte{';'}) > bytes.Count(line, []byte{','}):
		cr.Comma = ';'
	}
	cr.FieldsPerRecord, cr.TrimLeadingSpace, cr.ReuseRecord = -1, true, true
	cols := csvColumns{time: 0, temp: 1, humidity: 2}
	limit := now.Add(5 * time.Minute)
	var out []Reading
	for n := 0; ; n++ {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			return nil, csvError(pe.Line, "", "malformed_csv", "CSV格式错误（引号不配对等）", "malformed CSV (unbalanced quotes or similar)")
		} else if err != nil {
			return nil, err
		}
		lineNo, _ := cr.FieldPos(0)
		if n == 0 {
			if c, ok := columnsOf(rec); ok {
				cols = c
				continue
			}
		}
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue
		}
		if len(out) == MaxReadings {
			return nil, Invalid("readings", "too_many", "每次最多上传%d条读数", "at most %d readings per upload", MaxReadings)
		}
		rd, err := csvReading(rec, cols, loc, lineNo)
		if err != nil {
			return nil, err
		}
		if err := checkReading(&rd, limit); err != nil {
			e := err.(*Error)
			return nil, csvError(lineNo, e.Field, e.Code, e.ZH, e.EN)
		}
		out = append(out, rd)
	}
	if len(out) == 0 {
		return nil, Invalid("readings", "required", "CSV中没有读数", "the CSV holds no readings")
	}
	return out, nil
}

func csvReading(rec []string, c csvColumns, loc *time.Location, line int) (Reading, error) {
	cell := func(i int) string {
		if i < 0 || i >= len(rec) {
			return ""
		}
		return strings.TrimSpace(rec[i])
	}
	t, ok := parseCSVTime(cell(c.time), loc)
	if !ok {
		return Reading{}, csvError(line, "time", "invalid_time", "时间无效，应如2026-11-20 08:30:00", "invalid time, expected e.g. 2026-11-20 08:30:00")
	}
	temp, err := strconv.ParseFloat(strings.TrimSpace(strings.NewReplacer("℃", "", "°C", "", "℉", "", "°F", "").Replace(cell(c.temp))), 64)
	if err != nil || math.IsNaN(temp) || math.IsInf(temp, 0) {
		return Reading{}, csvError(line, "temperature", "invalid_temperature", "温度无效", "invalid temperature")
	}
	if c.fahrenheit {
		temp = math.Round((temp-32)*5/9*100) / 100
	}
	rd := Reading{Time: t, Temp: temp, Humidity: math.NaN()}
	if h := strings.TrimSpace(strings.NewReplacer("%RH", "", "%rh", "", "%", "").Replace(cell(c.humidity))); h != "" {
		v, err := strconv.ParseFloat(h, 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			return Reading{}, csvError(line, "humidity", "invalid_humidity", "湿度无效", "invalid humidity")
		}
		rd.Humidity = v
	}
	return rd, nil
}

func csvError(line int, field, code, zh, en string) *Error {
	f := fmt.Sprintf("csv.line[%d]", line)
	if field != "" {
		f += "." + field
	}
	return &Error{Kind: KindInvalid, Code: code, Field: f, ZH: fmt.Sprintf("CSV第%d行：%s；整个文件未导入", line, zh), EN: fmt.Sprintf("CSV line %d: %s; nothing was imported", line, en)}
}
