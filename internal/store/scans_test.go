package store_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ganpin/ganpin/cert"
	"github.com/ganpin/ganpin/internal/sqldb"
	"github.com/ganpin/ganpin/internal/store"
	"github.com/ganpin/ganpin/internal/testdb"
)

// TestScanTallies adds scans in batches larger than one statement and reads them back.
func TestScanTallies(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db sqldb.DB) {
		ctx := context.Background()
		st, err := store.New(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		t0 := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
		var batch []cert.ScanTally
		var codes []string
		for i := range 1200 {
			code := fmt.Sprintf("GP2600000001/%06d", i+1)
			codes = append(codes, code)
			batch = append(batch, cert.ScanTally{Code: code, Scans: 2, First: t0.Add(time.Minute), Last: t0.Add(2 * time.Minute)})
		}
		if err := st.AddScans(ctx, batch); err != nil {
			t.Fatal(err)
		}
		batch[0] = cert.ScanTally{Code: codes[0], Scans: 3, First: t0, Last: t0.Add(time.Hour), Regions: []string{"310000", "440000"}}
		batch[1] = cert.ScanTally{Code: codes[1], Scans: 1, First: t0.Add(time.Hour), Last: t0.Add(time.Hour)}
		if err := st.AddScans(ctx, batch[:2]); err != nil {
			t.Fatal(err)
		}
		ts, err := st.ScanTallies(ctx, append(codes, "GP2600000001/999999"))
		if err != nil {
			t.Fatal(err)
		}
		if len(ts) != 1200 {
			t.Fatalf("%d tallies, want 1200", len(ts))
		}
		got := map[string]cert.ScanTally{}
		for _, x := range ts {
			got[x.Code] = x
		}
		a, b, c := got[codes[0]], got[codes[1]], got[codes[2]]
		if a.Scans != 5 || !a.First.Equal(t0) || !a.Last.Equal(t0.Add(time.Hour)) || strings.Join(a.Regions, ",") != "310000,440000" {
			t.Errorf("first code %+v", a)
		}
		if b.Scans != 3 || !b.First.Equal(t0.Add(time.Minute)) || !b.Last.Equal(t0.Add(time.Hour)) || b.Regions != nil {
			t.Errorf("second code %+v", b)
		}
		if c.Scans != 2 {
			t.Errorf("third code %+v", c)
		}
	})
}
