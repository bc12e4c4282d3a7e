package tlog_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/transparency-dev/merkle/proof"

	"github.com/ganpin/ganpin/internal/sqldb"
	"github.com/ganpin/ganpin/internal/testdb"
	"github.com/ganpin/ganpin/internal/tlog"
)

func appendN(t testing.TB, db sqldb.DB, l *tlog.Log, from, n int) {
	t.Helper()
	ctx := context.Background()
	var leaves []tlog.Leaf
	for i := from; i < from+n; i++ {
		leaves = append(leaves, tlog.Leaf{Kind: "event", RecordID: int64(i), Data: []byte(fmt.Sprintf(`{"id":%d}`, i))})
	}
	err := db.Tx(ctx, func(c sqldb.Conn) error {
		var w sqldb.Writes
		first, err := l.Append(ctx, c, &w, leaves)
		if err != nil {
			return err
		}
		if first != uint64(from) {
			return fmt.Errorf("first index %d, want %d", first, from)
		}
		return w.Run(ctx, c)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestLog(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db sqldb.DB) {
		ctx := context.Background()
		l := tlog.New(db.Dialect())
		var roots [][]byte
		sizes := []int{1, 2, 5, 1, 100, 13, 700}
		total := 0
		for _, n := range sizes {
			appendN(t, db, l, total, n)
			total += n
			tr, err := tlog.Current(ctx, db)
			if err != nil || tr.Size != uint64(total) {
				t.Fatalf("current = %+v, %v; want size %d", tr, err, total)
			}
			roots = append(roots, tr.Root)
		}
		// A fresh log (no cached range) continues the same tree.
		appendN(t, db, tlog.New(db.Dialect()), total, 10)
		total += 10
		cur, _ := tlog.Current(ctx, db)
		at := 0
		for i, n := range sizes {
			at += n
			root, err := tlog.RootAt(ctx, db, uint64(at))
			if err != nil || string(root) != string(roots[i]) {
				t.Fatalf("RootAt(%d) differs from the root then: %v", at, err)
			}
			p, err := new(tlog.Prover).Consistency(ctx, db, uint64(at), cur.Size)
			if err != nil {
				t.Fatal(err)
			}
			if err := proof.VerifyConsistency(tlog.Hasher, uint64(at), cur.Size, p, roots[i], cur.Root); err != nil {
				t.Fatalf("consistency %d → %d: %v", at, cur.Size, err)
			}
		}
		// Every complete tile is stored, whichever batches its leaves came in.
		var tiles0, tiles4 int
		db.QueryRow(ctx, `SELECT COUNT(*) FROM log_tiles WHERE level = 0`).Scan(&tiles0)
		db.QueryRow(ctx, `SELECT COUNT(*) FROM log_tiles WHERE level = 4`).Scan(&tiles4)
		if tiles0 != total/16 || tiles4 != total/256 {
			t.Fatalf("%d leaf tiles and %d level-4 tiles for %d leaves, want %d and %d", tiles0, tiles4, total, total/16, total/256)
		}
		// Inclusion at every tree size, for leaves at the edges of tiles and of the
		// tree, with one prover whose cache fills as it goes.
		var prover tlog.Prover
		for size := 1; size <= total; size++ {
			root, err := tlog.RootAt(ctx, db, uint64(size))
			if err != nil {
				t.Fatal(err)
			}
			for _, idx := range []int{0, 1, 15, 16, 255, 256, 300, 511, 512, size / 2, size - 2, size - 1} {
				if idx < 0 || idx >= size {
					continue
				}
				p, err := prover.Inclusion(ctx, db, uint64(idx), uint64(size))
				if err != nil {
					t.Fatal(err)
				}
				leaf := tlog.Hasher.HashLeaf([]byte(fmt.Sprintf(`{"id":%d}`, idx)))
				if err := proof.VerifyInclusion(tlog.Hasher, uint64(idx), uint64(size), leaf, p, root); err != nil {
					t.Fatalf("inclusion of %d in %d: %v", idx, size, err)
				}
			}
		}
		// A rolled-back append leaves the tree as it was, and the next append is right.
		_ = db.Tx(ctx, func(c sqldb.Conn) error {
			var w sqldb.Writes
			if _, err := l.Append(ctx, c, &w, []tlog.Leaf{{Kind: "event", RecordID: -1, Data: []byte("gone")}}); err != nil {
				return err
			}
			if err := w.Run(ctx, c); err != nil {
				return err
			}
			return fmt.Errorf("roll back")
		})
		appendN(t, db, l, total, 3)
		after, _ := tlog.Current(ctx, db)
		p, _ := new(tlog.Prover).Consistency(ctx, db, cur.Size, after.Size)
		if err := proof.VerifyConsistency(tlog.Hasher, cur.Size, after.Size, p, cur.Root, after.Root); err != nil || after.Size != cur.Size+3 {
			t.Fatalf("after a rollback: size %d, %v", after.Size, err)
		}
	})
}
