package anchor

import (
	"bytes"
	"context"
	"fmt"

	"github.com/transparency-dev/merkle/compact"

	"github.com/ganpin/ganpin/chaincode"
	"github.com/ganpin/ganpin/internal/sqldb"
	"github.com/ganpin/ganpin/internal/tlog"
)

// Audit recomputes every event's leaf from its row and the tree from the leaves, and
// checks them against the stored tree and the checkpoint anchored on the ledger
// (nil: no anchored checkpoint to check against). It calls report for each
// discrepancy, naming the row, and returns how many it found.
func Audit(ctx context.Context, db sqldb.DB, anchored *chaincode.Anchor, report func(string)) (int, error) {
	found := 0
	bad := func(format string, args ...any) {
		found++
		report(fmt.Sprintf(format, args...))
	}
	// Records against their leaves.
	rs, err := db.Query(ctx, `SELECT e.id, e.body, l.idx, l.hash FROM events e
		LEFT JOIN log_leaves l ON l.kind = 'event' AND l.record_id = e.id ORDER BY e.id`)
	if err != nil {
		return 0, err
	}
	for rs.Next() {
		var id int64
		var body, hash []byte
		var idx *int64
		if err := rs.Scan(&id, &body, &idx, &hash); err != nil {
			rs.Close()
			return found, err
		}
		switch {
		case idx == nil:
			bad("event %d: no log leaf records it", id)
		case !bytes.Equal(tlog.Hasher.HashLeaf(body), hash):
			bad("event %d: its row was altered: it no longer matches log leaf %d", id, *idx)
		}
	}
	rs.Close()
	if err := rs.Err(); err != nil {
		return found, err
	}
	orphans, err := db.Query(ctx, `SELECT l.idx, l.record_id FROM log_leaves l
		WHERE l.kind = 'event' AND NOT EXISTS (SELECT 1 FROM events e WHERE e.id = l.record_id) ORDER BY l.idx`)
	if err != nil {
		return found, err
	}
	for orphans.Next() {
		var idx, id int64
		if err := orphans.Scan(&idx, &id); err != nil {
			orphans.Close()
			return found, err
		}
		bad("log leaf %d: event %d was deleted", idx, id)
	}
	orphans.Close()

	// Leaves against the stored subtree roots, then the tree against the ledger.
	tree, err := tlog.Current(ctx, db)
	if err != nil {
		return found, err
	}
	leaves := make([][]byte, 0, tree.Size)
	ls, err := db.Query(ctx, `SELECT idx, hash FROM log_leaves ORDER BY idx`)
	if err != nil {
		return found, err
	}
	for ls.Next() {
		var idx int64
		var h []byte
		if err := ls.Scan(&idx, &h); err != nil {
			ls.Close()
			return found, err
		}
		if idx != int64(len(leaves)) {
			bad("log leaf %d is missing", len(leaves))
			ls.Close()
			return found, nil
		}
		leaves = append(leaves, h)
	}
	ls.Close()
	stored, err := db.Query(ctx, `SELECT idx, hash FROM log_nodes WHERE level = 1 ORDER BY idx`)
	if err != nil {
		return found, err
	}
	for stored.Next() {
		var i int64
		var h []byte
		if err := stored.Scan(&i, &h); err != nil {
			stored.Close()
			return found, err
		}
		if 2*i+1 < int64(len(leaves)) && !bytes.Equal(tlog.Hasher.HashChildren(leaves[2*i], leaves[2*i+1]), h) {
			bad("log leaf %d or %d was altered: they no longer hash to their stored parent", 2*i, 2*i+1)
		}
	}
	stored.Close()
	if anchored == nil {
		return found, nil
	}
	if anchored.Size > uint64(len(leaves)) {
		bad("the ledger anchors %d leaves but the log holds %d: leaves were deleted", anchored.Size, len(leaves))
		return found, nil
	}
	r := (&compact.RangeFactory{Hash: tlog.Hasher.HashChildren}).NewEmptyRange(0)
	for _, h := range leaves[:anchored.Size] {
		if err := r.Append(h, nil); err != nil {
			return found, err
		}
	}
	root, err := r.GetRootHash(nil)
	if err != nil {
		return found, err
	}
	if fmt.Sprintf("%x", root) != anchored.Root {
		bad("the log's first %d leaves do not hash to the root anchored in ledger transaction %s", anchored.Size, anchored.TxID)
	}
	return found, nil
}
