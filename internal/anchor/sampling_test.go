package anchor_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/ganpin/ganpin/chaincode"
	"github.com/ganpin/ganpin/internal/anchor"
	"github.com/ganpin/ganpin/internal/ledger/embedded"
	"github.com/ganpin/ganpin/internal/sqldb"
	"github.com/ganpin/ganpin/internal/store"
	"github.com/ganpin/ganpin/internal/testdb"
	"github.com/ganpin/ganpin/trace"
)

// refusing records nothing: a ledger client signing as the operator.
type refusing struct{ calls int }

func (r *refusing) RecordSampling(context.Context, chaincode.Sampling) (chaincode.Receipt, error) {
	r.calls++
	return chaincode.Receipt{}, &chaincode.Error{Code: "forbidden", Reason: "GanpinMSP may not record sampling results"}
}

// TestSamplingVerdictsOnTheLedger records a sample's report and anchors: the verdict
// goes onto the embedded ledger as the regulator, the audit checks its leaves, and a
// regulator that refuses leaves it pending without holding up the checkpoint.
func TestSamplingVerdictsOnTheLedger(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db sqldb.DB) {
		ctx := context.Background()
		st, err := store.New(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		svc := trace.NewService(st, nil)
		admin := trace.Actor{Roles: []trace.Role{trace.RoleAdmin}}
		c, _ := trace.USCCCheck("11360700MB1530JJ1")
		p := &trace.Party{Kind: trace.Regulator, Name: "赣州市市场监督管理局", USCC: "11360700MB1530JJ1" + string(c), County: "360702"}
		if err := svc.CreateParty(ctx, admin, p); err != nil {
			t.Fatal(err)
		}
		inspector := trace.Actor{UserID: 1, PartyID: p.ID, Roles: []trace.Role{trace.RoleInspector}}
		in, err := trace.NewInspection(trace.InspectionConfig{Service: svc, Revoke: func(context.Context, trace.Actor, string, string) error { return errors.New("no certificates here") }})
		if err != nil {
			t.Fatal(err)
		}
		at := time.Now().Add(-48 * time.Hour)
		s, err := in.RecordSampling(ctx, inspector, trace.SamplingSpec{Number: "GZ-L-1", TaskSource: "计划", TaskType: trace.TaskSupervision, Stage: trace.StageCirculation,
			Place: trace.Place{Name: "市场", County: "360703"}, Time: at.Format(time.RFC3339), Agency: "赣州市市场监督管理局", Samplers: []string{"甲", "乙"},
			Sampled: trace.Entity{Name: "摊位"}, Producer: trace.Entity{Name: "合作社"}, Sample: trace.Sample{Name: "脐橙", Unit: trace.Kg, Quantity: 3, Backup: 3}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := in.RecordReport(ctx, inspector, s.ID, trace.ReportSpec{Number: "R-1", Lab: "检验院", Issued: time.Now().Format(time.DateOnly),
			Items: []trace.ItemSpec{{Item: "克百威", Result: "0.01", Unit: "mg/kg", DetectionLimit: 0.002, Method: "GB 23200.113-2018"}}}); err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		key, err := anchor.LoadKey(dir, "ganpin.test/log")
		if err != nil {
			t.Fatal(err)
		}
		ledger, err := embedded.Open(filepath.Join(dir, "ledger.jsonl"), key.Signer, key.Verifier)
		if err != nil {
			t.Fatal(err)
		}
		a := anchor.New(db, key, ledger, time.Second, nil)
		r := &refusing{}
		a.UseRegulator(r)
		if err := a.Once(ctx); err != nil {
			t.Fatalf("a refused verdict holds up anchoring: %v", err)
		}
		var pending int
		db.QueryRow(ctx, `SELECT COUNT(*) FROM sampling_reports WHERE ledger_tx IS NULL`).Scan(&pending)
		if r.calls != 1 || pending != 1 {
			t.Fatalf("refused: %d calls, %d pending", r.calls, pending)
		}
		a.UseRegulator(ledger)
		if err := a.Once(ctx); err != nil {
			t.Fatal(err)
		}
		var tx string
		if err := db.QueryRow(ctx, `SELECT ledger_tx FROM sampling_reports`).Scan(&tx); err != nil || len(tx) != 64 {
			t.Fatalf("verdict not on the ledger: %q %v", tx, err)
		}
		// Every inspection record is a leaf the audit recomputes; an edited one is named.
		if n, err := anchor.Audit(ctx, db, nil, func(string) {}); err != nil || n != 0 {
			t.Fatalf("audit: %d findings, %v", n, err)
		}
		if _, err := db.Exec(ctx, `UPDATE samplings SET body = $1`, []byte(`{"record":"sampling"}`)); err != nil {
			t.Fatal(err)
		}
		var found []string
		if n, _ := anchor.Audit(ctx, db, nil, func(s string) { found = append(found, s) }); n != 1 {
			t.Fatalf("audit after an edit: %v", found)
		}
	})
}
