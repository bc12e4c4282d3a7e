package demo_test

import (
	"context"
	"testing"
	"time"

	"github.com/ganpin/ganpin/cert"
	"github.com/ganpin/ganpin/internal/demo"
	"github.com/ganpin/ganpin/internal/sqldb"
	"github.com/ganpin/ganpin/internal/store"
	"github.com/ganpin/ganpin/internal/testdb"
	"github.com/ganpin/ganpin/trace"
)

func TestColdChain(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db sqldb.DB) {
		ctx := context.Background()
		st, err := store.New(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(st.Close)
		svc := trace.NewService(st, nil)
		res, err := demo.Load(ctx, svc)
		if err != nil {
			t.Fatal(err)
		}
		keys, _ := cert.LoadKeys(t.TempDir())
		cs, err := demo.Certify(ctx, svc, cert.NewService(cert.Config{Store: st, Keys: keys}), res.ExampleLot)
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		cc, err := demo.ColdChain(ctx, svc, res.ExampleLot, cs.Units)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("cold chain: %+v in %s", cc, time.Since(start).Round(time.Millisecond))
		if cc.Devices < 100 || cc.Readings < 10000 || cc.Sealed < 100 || cc.Orders < 100 || cc.Excursion == 0 || cc.Account.Username != "youpin" {
			t.Fatalf("cold chain: %+v", cc)
		}
		// Exactly one leg alarms: the example lot's reefer to Shanghai.
		token, _, _ := svc.Login(ctx, "xunwu", demo.Password, "")
		a, _ := svc.Authenticate(ctx, token)
		legs, err := svc.LotLegs(ctx, a, res.ExampleLot)
		if err != nil || len(legs) != 3 {
			t.Fatalf("the example lot's legs: %d, %v", len(legs), err)
		}
		for _, l := range legs {
			want := trace.LegOK
			if l.Leg.ID == cc.Excursion {
				want = trace.LegAlarm
				if len(l.Verdict.Excursions) != 1 || l.Verdict.Excursions[0].Extreme < 13 || l.Verdict.Excursions[0].Seconds < 2*3600 {
					t.Fatalf("the excursion: %+v", l.Verdict.Excursions)
				}
			}
			if l.Verdict.Status != want || l.Summary == nil {
				t.Errorf("leg %d (%s): %s, sealed %v; want %s", l.Leg.ID, l.Leg.Kind, l.Verdict.Status, l.Summary != nil, want)
			}
		}
		admin := trace.Actor{Roles: []trace.Role{trace.RoleAdmin}}
		alarms := 0
		for p := (trace.Page{Limit: 1000}); ; {
			lots, err := svc.Lots(ctx, admin, p)
			if err != nil {
				t.Fatal(err)
			}
			for _, l := range lots {
				if l.Unit != trace.Box {
					continue
				}
				ls, err := svc.LotLegs(ctx, admin, l.ID)
				if err != nil {
					t.Fatal(err)
				}
				for _, x := range ls {
					if x.Verdict.Status == trace.LegAlarm || x.Verdict.Status == trace.LegWarning {
						alarms++
					}
				}
			}
			if len(lots) < p.Limit {
				break
			}
			p.After = lots[len(lots)-1].ID
		}
		if alarms != 2 { // the reefer carried the example lot and its gift-box sibling
			t.Errorf("%d box lot legs out of range, want the one excursion's 2", alarms)
		}
		pj, err := svc.PublicJourney(ctx, cs.Units, "000001")
		if err != nil || len(pj.Orders) != 1 || pj.Orders[0].City != "上海市" {
			t.Fatalf("the example's unit 000001: %+v, %v", pj, err)
		}
	})
}
