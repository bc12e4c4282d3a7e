package store_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ganpin/ganpin/internal/sqldb"
	"github.com/ganpin/ganpin/internal/store"
	"github.com/ganpin/ganpin/internal/testdb"
	"github.com/ganpin/ganpin/internal/tlog"
	"github.com/ganpin/ganpin/trace"
)

// TestGroupCommitIsolatesFailures runs many concurrent captures, so that they share
// commit groups, where every third fails in validation and every fifth reuses a lot
// code. Exactly the acknowledged ones are stored, each with its log leaf.
func TestGroupCommitIsolatesFailures(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db sqldb.DB) {
		ctx := context.Background()
		st, err := store.New(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		svc := trace.NewService(st, nil)
		root := trace.Actor{Roles: []trace.Role{trace.RoleAdmin}}
		c, _ := trace.USCCCheck("93360734MA35XW001")
		p := &trace.Party{Kind: trace.Cooperative, Name: "合作社", USCC: "93360734MA35XW001" + string(c), County: "360734"}
		if err := svc.CreateParty(ctx, root, p); err != nil {
			t.Fatal(err)
		}
		coop := trace.Actor{UserID: 1, PartyID: p.ID, Roles: []trace.Role{trace.RoleProducerAdmin}}
		orchard := &trace.Site{Kind: trace.Orchard, Name: "地块", County: "360734", AreaMu: 10, Lat: 25, Lon: 115}
		fruit := &trace.Product{Name: "赣南脐橙", Unit: trace.Kg}
		if err := svc.CreateSite(ctx, coop, orchard); err != nil {
			t.Fatal(err)
		}
		if err := svc.CreateProduct(ctx, coop, fruit); err != nil {
			t.Fatal(err)
		}
		at := time.Now().Add(-time.Hour).Format(time.RFC3339)
		const n = 120
		var wg sync.WaitGroup
		acked := make([]bool, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				q := 10.0
				if i%3 == 0 {
					q = 0 // refused by validation
				}
				code := fmt.Sprintf("G-%d", i)
				if i%5 == 0 {
					code = "SHARED" // at most one of these can be stored
				}
				_, err := svc.Capture(ctx, coop, []trace.EventSpec{{Type: trace.Harvest, Time: at, Site: orchard.ID,
					Harvest: &trace.HarvestSpec{Lot: trace.NewLotSpec{Code: code, Product: fruit.ID, Quantity: q, Unit: trace.Kg}}}})
				acked[i] = err == nil
				if err != nil && trace.KindOf(err) == trace.KindInternal {
					t.Errorf("capture %d: %v", i, err)
				}
			}()
		}
		wg.Wait()
		want, shared := 0, 0
		for i, ok := range acked {
			if ok {
				want++
				if i%5 == 0 {
					shared++
				}
			}
			if ok && i%3 == 0 {
				t.Errorf("capture %d with quantity 0 acknowledged", i)
			}
		}
		if shared != 1 {
			t.Errorf("%d captures of the shared lot code acknowledged, want 1", shared)
		}
		var events, lots, leaves int
		db.QueryRow(ctx, `SELECT COUNT(*) FROM events`).Scan(&events)
		db.QueryRow(ctx, `SELECT COUNT(*) FROM lots`).Scan(&lots)
		db.QueryRow(ctx, `SELECT COUNT(*) FROM log_leaves`).Scan(&leaves)
		if events != want || lots != want || leaves != want {
			t.Fatalf("acknowledged %d, stored %d events, %d lots, %d leaves", want, events, lots, leaves)
		}
		tree, err := tlog.Current(ctx, db)
		if err != nil || tree.Size != uint64(want) {
			t.Fatalf("log size %d, want %d (%v)", tree.Size, want, err)
		}
	})
}
