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

func TestSample(t *testing.T) {
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
		if _, err := demo.ColdChain(ctx, svc, res.ExampleLot, cs.Units); err != nil {
			t.Fatal(err)
		}
		insp, err := trace.NewInspection(trace.InspectionConfig{Service: svc, Revoke: func(ctx context.Context, a trace.Actor, serial, reason string) error {
			c, err := certs.BySerial(ctx, serial)
			if err == nil {
				_, err = certs.Revoke(ctx, a, c.ID, reason)
			}
			return err
		}})
		if err != nil {
			t.Fatal(err)
		}
		out, err := demo.Sample(ctx, svc, insp, 0)
		if err != nil {
			t.Fatal(err)
		}
		// The failed lot was sold: 赣南优品 hears of the recall, whose list names its orders.
		if out.Records < 6 || out.Failed == 0 || len(out.Revoked) != 1 || out.Notify != 1 {
			t.Fatalf("demo sampling: %+v", out)
		}
		c, err := certs.BySerial(ctx, out.Revoked[0])
		if err != nil || c.Revocation == nil || !c.Revocation.Regulator || c.LotID != out.Lot {
			t.Fatalf("revoked certificate %+v, %v", c, err)
		}
		token, _, _ := svc.Login(ctx, "inspector", demo.Password, "")
		a, _ := svc.Authenticate(ctx, token)
		ss, err := insp.Search(ctx, a, trace.SamplingFilter{Verdict: string(trace.Fail)}, trace.Page{Limit: 10})
		if err != nil || len(ss) != 1 || ss[0].ID != out.Failed {
			t.Fatalf("failed samples %d, %v", len(ss), err)
		}
		rl, err := insp.Recall(ctx, a, out.Failed)
		if err != nil || len(rl.Orders) == 0 || len(rl.Platforms) != 1 {
			t.Fatalf("recall list: %+v, %v", rl, err)
		}
	})
}
