package tlog_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/ganpin/ganpin/internal/sqldb"
	"github.com/ganpin/ganpin/internal/testdb"
	"github.com/ganpin/ganpin/internal/tlog"
)

// BenchmarkAppend appends batches of 1,000 leaves, each in its own transaction.
func BenchmarkAppend(b *testing.B) {
	for _, engine := range []string{"sqlite", "postgres"} {
		b.Run(engine, func(b *testing.B) {
			var db sqldb.DB
			if engine == "sqlite" {
				db = testdb.SQLite(b)
			} else {
				db = testdb.Postgres(b)
			}
			l := tlog.New(db.Dialect())
			leaves := make([]tlog.Leaf, 1000)
			for i := range leaves {
				leaves[i] = tlog.Leaf{Kind: "event", RecordID: 0, Data: []byte(fmt.Sprintf(`{"record":"event","id":%d,"body":"a few hundred bytes of canonical JSON"}`, i))}
			}
			ctx := context.Background()
			b.ResetTimer()
			next := int64(0)
			for b.Loop() {
				for i := range leaves {
					next++
					leaves[i].RecordID = next
				}
				err := db.Tx(ctx, func(c sqldb.Conn) error {
					var w sqldb.Writes
					if _, err := l.Append(ctx, c, &w, leaves); err != nil {
						return err
					}
					return w.Run(ctx, c)
				})
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*len(leaves))/b.Elapsed().Seconds(), "leaves/s")
		})
	}
}

// logLeaves is the size of the log BenchmarkInclusionProof proves from.
const logLeaves = 10_000_000

// BenchmarkInclusionProof reads inclusion proofs for random leaves of a log of ten
// million leaves (generated once, a few minutes, and kept for later runs).
func BenchmarkInclusionProof(b *testing.B) {
	for _, engine := range []string{"sqlite", "postgres"} {
		b.Run(engine, func(b *testing.B) {
			db, fresh := testdb.Persistent(b, engine, "log_10m")
			ctx := context.Background()
			tree, err := tlog.Current(ctx, db)
			if err != nil {
				b.Fatal(err)
			}
			if fresh || tree.Size < logLeaves {
				l := tlog.New(db.Dialect())
				for n := int(tree.Size); n < logLeaves; n += 10000 {
					appendN(b, db, l, n, 10000)
				}
				db.Exec(ctx, "ANALYZE log_leaves")
				db.Exec(ctx, "ANALYZE log_nodes")
				tree, _ = tlog.Current(ctx, db)
			}
			rnd := uint64(12345)
			var proofs tlog.Prover
			// A serving prover's cache is warm: fill it as a running server would.
			for range 50_000 {
				rnd = rnd*6364136223846793005 + 1442695040888963407
				if _, err := proofs.Inclusion(ctx, db, rnd%tree.Size, tree.Size); err != nil {
					b.Fatal(err)
				}
			}
			b.ResetTimer()
			for b.Loop() {
				rnd = rnd*6364136223846793005 + 1442695040888963407
				if _, err := proofs.Inclusion(ctx, db, rnd%tree.Size, tree.Size); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
