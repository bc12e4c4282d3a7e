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
