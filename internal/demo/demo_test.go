package demo_test

import (
	"context"
	"testing"

	"github.com/ganpin/ganpin/cert"
	"github.com/ganpin/ganpin/internal/demo"
	"github.com/ganpin/ganpin/internal/sqldb"
	"github.com/ganpin/ganpin/internal/store"
	"github.com/ganpin/ganpin/internal/testdb"
	"github.com/ganpin/ganpin/trace"
)

func TestDemo(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db sqldb.DB) {
		ctx := context.Background()
		st, err := store.New(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		svc := trace.NewService(st, nil)
		res, err := demo.Load(ctx, svc)
		if err != nil {
			t.Fatal(err)
		}
		keys, err := cert.LoadKeys(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		certs := cert.NewService(cert.Config{Store: st, Keys: keys})
		cs, err := demo.Certify(ctx, svc, certs, res.ExampleLot)
		if err != nil {
			t.Fatal(err)
		}
		if cs.Issued < 100 || cs.Revoked == "" || cs.Units == "" {
			t.Fatalf("demo certificates: %+v", cs)
		}
		for serial, want := range map[string]string{cs.Revoked: "revoked", cs.Units: "valid"} {
			c, err := certs.BySerial(ctx, serial)
			if err != nil || c.Status() != want {
				t.Fatalf("certificate %s: %v, want %s", serial, err, want)
			}
			if serial == cs.Units && (c.LotID != res.ExampleLot || c.Units != int(c.Quantity)) {
				t.Fatalf("unit-level certificate %+v", c.Certificate)
			}
		}
		if res.Events < 2000 || res.ExampleLot == 0 {
			t.Fatalf("demo: %d events, example lot %d", res.Events, res.ExampleLot)
		}
		if ok, _ := demo.Exists(ctx, svc); !ok {
			t.Fatal("Exists = false after Load")
		}
		token, _, err := svc.Login(ctx, "xunwu", demo.Password, "")
		if err != nil {
			t.Fatal(err)
		}
		a, _ := svc.Authenticate(ctx, token)
		g, err := svc.Trace(ctx, a, res.ExampleLot, trace.Both)
		if err != nil {
			t.Fatal(err)
		}
		steps := map[trace.EventType]int{}
		for _, e := range g.Events {
			steps[e.Spec.Type]++
		}
		// Orchard inputs, harvest, test, packing, two legs with receipt, cold storage.
		for typ, n := range map[trace.EventType]int{trace.InputApplication: 1, trace.Harvest: 1, trace.SelfTest: 1, trace.Transformation: 1, trace.Shipping: 2, trace.Receiving: 2, trace.Storing: 1} {
			if steps[typ] < n {
				t.Errorf("example lot's trace has %d %s events, want ≥ %d (all: %v)", steps[typ], typ, n, steps)
			}
		}
		kinds := map[trace.SiteKind]bool{}
		for _, s := range g.Sites {
			kinds[s.Kind] = true
		}
		if !kinds[trace.Orchard] || !kinds[trace.Packhouse] || !kinds[trace.ColdStore] || !kinds[trace.Warehouse] {
			t.Errorf("example trace sites: %v", kinds)
		}
	})
}
