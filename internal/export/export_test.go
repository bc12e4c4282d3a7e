package export_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/ganpin/ganpin/internal/export"
)

var when = time.Date(2026, 11, 23, 10, 30, 0, 0, time.FixedZone("CST", 8*3600))

func TestCSV(t *testing.T) {
	var b bytes.Buffer
	w, err := export.New(export.CSV, &b, "抽样", []string{"编号", "时间", "数量"})
	if err != nil {
		t.Fatal(err)
	}
	w.Row("GZ-1, \"引号\"", when, 1.5)
	w.Row("GZ-2", time.Time{}, 2)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	want := "\uFEFF编号,时间,数量\n\"GZ-1, \"\"引号\"\"\",2026-11-23 10:30:00,1.5\nGZ-2,,2\n"
	if b.String() != want {
		t.Fatalf("csv:\n%q\nwant\n%q", b.String(), want)
	}
}

func TestXLSX(t *testing.T) {
	var b bytes.Buffer
	w, err := export.New(export.XLSX, &b, "抽样记录", []string{"编号", "时间", "数量"})
	if err != nil {
		t.Fatal(err)
	}
	w.Row("GZ-1", when.UTC(), 1.5)
	w.Row("GZ-2", time.Time{}, int64(2))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f, err := excelize.OpenReader(&b)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := f.GetRows("抽样记录")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join([]string{strings.Join(rows[0], "|"), strings.Join(rows[1], "|"), strings.Join(rows[2], "|")}, "\n"); got != "编号|时间|数量\nGZ-1|2026-11-23 10:30|1.5\nGZ-2||2" {
		t.Fatalf("rows:\n%s", got)
	}
	panes, err := f.GetPanes("抽样记录")
	if err != nil || !panes.Freeze || panes.YSplit != 1 {
		t.Fatalf("header not frozen: %+v %v", panes, err)
	}
	if dn := f.GetDefinedName(); len(dn) == 0 || !strings.Contains(dn[0].RefersTo, "$A$1:$C$3") {
		t.Fatalf("no auto filter over the table: %+v", dn)
	}
}

func TestJobs(t *testing.T) {
	js := export.NewJobs(time.Minute)
	release := make(chan struct{})
	j, err := js.Start(1, "抽样记录", export.CSV, 10, func(ctx context.Context, w *bytes.Buffer, progress func(int)) error {
		progress(5)
		<-release
		w.WriteString("done")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := js.Get(2, j.ID); ok {
		t.Fatal("another user sees the job")
	}
	for {
		got, _ := js.Get(1, j.ID)
		if got.Done == 5 {
			if got.Finished() || got.Percent() != 50 {
				t.Fatalf("running job %+v", got)
			}
			break
		}
		time.Sleep(time.Millisecond)
	}
	close(release)
	for {
		got, _ := js.Get(1, j.ID)
		if got.Finished() {
			if string(got.File) != "done" || got.Percent() != 100 || got.Err != nil {
				t.Fatalf("finished job %+v", got)
			}
			break
		}
		time.Sleep(time.Millisecond)
	}
	for range 4 {
		if _, err := js.Start(1, "x", export.CSV, 0, func(context.Context, *bytes.Buffer, func(int)) error { return nil }); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := js.Start(1, "x", export.CSV, 0, nil); err != export.ErrBusy {
		t.Fatalf("sixth job: %v", err)
	}
}

// BenchmarkXLSX100k writes 100,000 sampling-record rows as XLSX.
func BenchmarkXLSX100k(b *testing.B) {
	for b.Loop() {
		var buf bytes.Buffer
		w, err := export.New(export.XLSX, &buf, "抽样记录", export.SamplingHeader)
		if err != nil {
			b.Fatal(err)
		}
		for i := range 100_000 {
			w.Row("GZ-2026-"+strings.Repeat("0", 3), when.Add(time.Duration(i)*time.Minute), "监督抽检", "流通", "南康区农产品批发市场12号摊位", "360703 赣州市南康区",
				"赣州市市场监督管理局", "南康区鲜果批发部", "寻乌县果农脐橙专业合作社", "赣南脐橙", "XW-1103-005", int64(i), "GP2600000123",
				"合格", when, when, time.Time{}, time.Time{}, time.Time{})
		}
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(buf.Len())/1e6, "MB")
	}
}
