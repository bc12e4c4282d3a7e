package trace_test

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/ganpin/ganpin/trace"
)

var cstZone = time.FixedZone("CST", 8*3600)

func TestParseReadingsCSV(t *testing.T) {
	for _, c := range []struct {
		name, in string
		n        int
		first    trace.Reading
	}{
		{"plain, no header", "2026-11-20 08:00:00,6.1,90\n2026-11-20 08:10:00,6.3,91\n", 2,
			trace.Reading{Time: time.Date(2026, 11, 20, 8, 0, 0, 0, cstZone), Temp: 6.1, Humidity: 90}},
		{"Chinese header and BOM, no humidity", "\ufeff时间,温度(℃)\r\n2026/11/20 08:00,5.5\r\n\r\n2026/11/20 08:10,5.6\r\n", 2,
			trace.Reading{Time: time.Date(2026, 11, 20, 8, 0, 0, 0, cstZone), Temp: 5.5, Humidity: math.NaN()}},
		{"index column, units in cells", "No.,Time,Temperature(°C),Humidity(%RH)\n1,2026-11-20T08:00:00+08:00,7.0℃,88%RH\n", 1,
			trace.Reading{Time: time.Date(2026, 11, 20, 8, 0, 0, 0, cstZone), Temp: 7, Humidity: 88}},
		{"semicolons and Fahrenheit", "Date Time;Temp(°F);RH\n2026-11-20 08:00;42.8;90\n", 1,
			trace.Reading{Time: time.Date(2026, 11, 20, 8, 0, 0, 0, cstZone), Temp: 6, Humidity: 90}},
		{"implausible kept", "2026-11-20 08:00:00,85,90\n", 1,
			trace.Reading{Time: time.Date(2026, 11, 20, 8, 0, 0, 0, cstZone), Temp: 85, Humidity: 90, Flags: trace.FlagTemp}},
	} {
		t.Run(c.name, func(t *testing.T) {
			rs, err := trace.ParseReadingsCSV(strings.NewReader(c.in), cstZone, now)
			if err != nil {
				t.Fatal(err)
			}
			r := rs[0]
			if len(rs) != c.n || !r.Time.Equal(c.first.Time) || r.Temp != c.first.Temp || r.Flags != c.first.Flags ||
				!(r.Humidity == c.first.Humidity || math.IsNaN(r.Humidity) && math.IsNaN(c.first.Humidity)) {
				t.Fatalf("got %d readings, first %+v; want %d, %+v", len(rs), r, c.n, c.first)
			}
		})
	}
	for _, c := range []struct {
		name, in, code, field string
	}{
		{"bad temperature on line 3", "time,temperature\n2026-11-20 08:00,6\n2026-11-20 08:10,abc\n", "invalid_temperature", "csv.line[3].temperature"},
		{"bad time", "2026-11-20 08:00,6\n20/11/2026,6\n", "invalid_time", "csv.line[2].time"},
		{"in the future", "2026-11-20 08:00,6\n2027-01-01 08:00,6\n", "time_in_future", "csv.line[2].time"},
		{"bad humidity", "2026-11-20 08:00,6,wet\n", "invalid_humidity", "csv.line[1].humidity"},
		{"missing temperature", "2026-11-20 08:00\n", "invalid_temperature", "csv.line[1].temperature"},
		{"unbalanced quote", "2026-11-20 08:00,6\n\"2026-11-20 08:10,6\n", "malformed_csv", "csv.line[2]"},
		{"empty", "time,temperature\n", "required", "readings"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := trace.ParseReadingsCSV(strings.NewReader(c.in), cstZone, now)
			e := wantErr(t, err, trace.KindInvalid, c.code, c.field)
			if strings.HasPrefix(c.field, "csv.line[") && (!strings.Contains(e.ZH, "整个文件未导入") || !strings.Contains(e.EN, "nothing was imported")) {
				t.Errorf("message %q / %q", e.ZH, e.EN)
			}
		})
	}
}

func TestReadingsFromInput(t *testing.T) {
	var in []trace.ReadingInput
	if err := json.Unmarshal([]byte(`[{"time":"2026-11-20T08:00:00+08:00","temperature":6.5},{"time":"2026-11-20T08:01:00+08:00","temperature":6.6,"humidity":91}]`), &in); err != nil {
		t.Fatal(err)
	}
	rs, err := trace.ReadingsFromInput(in)
	if err != nil || len(rs) != 2 || !math.IsNaN(rs[0].Humidity) || rs[1].Humidity != 91 || rs[1].Temp != 6.6 {
		t.Fatalf("readings = %+v, %v", rs, err)
	}
	_, err = trace.ReadingsFromInput([]trace.ReadingInput{{Time: "2026-11-20 08:00"}})
	wantErr(t, err, trace.KindInvalid, "invalid_time", "readings[0].time")
	_, err = trace.ReadingsFromInput([]trace.ReadingInput{{Time: "2026-11-20T08:00:00Z"}})
	wantErr(t, err, trace.KindInvalid, "required", "readings[0].temperature")
}

// FuzzReadingsCSV: any input either parses into checked readings or is refused
// with a *trace.Error naming a line; it never panics.
func FuzzReadingsCSV(f *testing.F) {
	for _, s := range []string{"2026-11-20 08:00:00,6.1,90\n", "\ufeff时间,温度(℃),湿度\n2026/11/20 08:00,5.5,\n", "No.;Time;Temp(°F)\n1;2026-11-20T08:00:00Z;42\n", "\"a,b\n", "time,temp\n,\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		rs, err := trace.ParseReadingsCSV(strings.NewReader(in), cstZone, now)
		if err != nil {
			if trace.KindOf(err) != trace.KindInvalid {
				t.Fatalf("error %v is not a validation error", err)
			}
			return
		}
		for _, r := range rs {
			if math.IsNaN(r.Temp) || math.IsInf(r.Temp, 0) || r.Time.After(now.Add(5*time.Minute)) || r.Time.Year() < 2000 {
				t.Fatalf("accepted %+v", r)
			}
		}
	})
}
