package store_test

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

// TestCertificateByLot finds the demo's certificates by GTIN and lot code, as the
// Digital Link resolver does, and their products by GTIN.
func TestCertificateByLot(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db sqldb.DB) {
		ctx := context.Background()
		st, err := store.New(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		svc := trace.NewService(st, nil)
		res, err := demo.Load(ctx, svc)
		if err != nil {
			t.Fatal(err)
		}
		keys, err := cert.LoadKeys(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		cs, err := demo.Certify(ctx, svc, cert.NewService(cert.Config{Store: st, Keys: keys}), res.ExampleLot)
		if err != nil {
			t.Fatal(err)
		}
		for _, serial := range []string{cs.Units, cs.Revoked} {
			want, err := st.CertificateBySerial(ctx, serial)
			if err != nil {
				t.Fatal(err)
			}
			got, err := st.CertificateByLot(ctx, want.GTIN, want.LotCode)
			if err != nil {
				t.Fatalf("CertificateByLot(%s, %s): %v", want.GTIN, want.LotCode, err)
			}
			if got.ID != want.ID || got.Serial != serial || (got.Revocation != nil) != (want.Revocation != nil) {
				t.Errorf("CertificateByLot(%s, %s) = %s (revoked %v), want %s", want.GTIN, want.LotCode, got.Serial, got.Revocation != nil, serial)
			}
			p, err := st.ProductByGTIN(ctx, want.GTIN)
			if err != nil || p.GTIN != want.GTIN {
				t.Errorf("ProductByGTIN(%s) = %+v, %v", want.GTIN, p, err)
			}
			// This GTIN with a code of no lot, and another product's GTIN with this
			// lot's code, name nothing.
			if _, err := st.CertificateByLot(ctx, want.GTIN, want.LotCode+"X"); trace.KindOf(err) != trace.KindNotFound {
				t.Errorf("unknown lot code: %v, want not found", err)
			}
			var other string
			if err := db.QueryRow(ctx, `SELECT gtin FROM products WHERE gtin IS NOT NULL AND gtin <> $1 ORDER BY id LIMIT 1`, want.GTIN).Scan(&other); err != nil {
				t.Fatal(err)
			}
			if _, err := st.CertificateByLot(ctx, other, want.LotCode); trace.KindOf(err) != trace.KindNotFound {
				t.Errorf("another product's GTIN %s: %v, want not found", other, err)
			}
		}
		if _, err := st.ProductByGTIN(ctx, "06999999999999"); trace.KindOf(err) != trace.KindNotFound {
			t.Errorf("unknown GTIN: %v, want not found", err)
		}
	})
}
