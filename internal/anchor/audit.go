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

// recordTables names each kind of log leaf's table and the canonical bytes it keeps.
var recordTables = []struct{ kind, query string }{
	{"event", `SELECT id, body FROM events ORDER BY id`},
	{"certificate", `SELECT id, body FROM certificates ORDER BY id`},
	{"revocation", `SELECT certificate_id, body FROM revocations ORDER BY certificate_id`},
	{"leg_summary", `SELECT id, body FROM leg_summaries ORDER BY id`},
	{"order", `SELECT id, body FROM orders ORDER BY id`},
	{"sampling", `SELECT id, body FROM samplings ORDER BY id`},
	{"sampling_report", `SELECT id, body FROM sampling_reports ORDER BY id`},
	{"sampling_action", `SELECT id, body FROM sampling_actions ORDER BY id`},
	{"noncompliance", `SELECT report_id, body FROM noncompliances ORDER BY report_id`},
	{"inspection_query", `SELECT id, body FROM inspection_audit ORDER BY id`},
}

// Audit recomputes every record's leaf (events, certificates, revocations) from its
// row and the tree from the leaves, and checks them against the stored tree and the
// checkpoint anchored on the ledger (nil: no anchored checkpoint to check against).
// It calls report for each discrepancy, naming the row, and returns how many it found.
func Audit(ctx context.Context, db sqldb.DB, anchored *chaincode.Anchor, report func(string)) (int, error) {
	found := 0
	bad := func(format string, args ...any) {
		found++
		report(fmt.Sprintf(format, args...))
	}
	for _, t := range recordTables {
		if err := auditRecords(ctx, db, t.kind, t.query, bad); err != nil {
			return found, err
		}
	}
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

// auditRecords merges a kind's records and its leaves, both in record order, and
// reports each record without its leaf, leaf without its record and altered record.
func auditRecords(ctx context.Context, db sqldb.DB, kind, query string, bad func(string, ...any)) error {
	recs, err := db.Query(ctx, query)
	if err != nil {
		return err
	}
	defer recs.Close()
	lvs, err := db.Query(ctx, `SELECT record_id, idx, hash FROM log_leaves WHERE kind = $1 ORDER BY record_id`, kind)
	if err != nil {
		return err
	}
	defer lvs.Close()
	type leafRow struct {
		id, idx int64
		hash    []byte
	}
	nextLeaf := func() (*leafRow, error) {
		if !lvs.Next() {
			return nil, lvs.Err()
		}
		var l leafRow
		return &l, lvs.Scan(&l.id, &l.idx, &l.hash)
	}
	leaf, err := nextLeaf()
	if err != nil {
		return err
	}
	for recs.Next() {
		var id int64
		var body []byte
		if err := recs.Scan(&id, &body); err != nil {
			return err
		}
		for leaf != nil && leaf.id < id {
			bad("log leaf %d: %s %d was deleted", leaf.idx, kind, leaf.id)
			if leaf, err = nextLeaf(); err != nil {
				return err
			}
		}
		switch {
		case leaf == nil || leaf.id > id:
			bad("%s %d: no log leaf records it", kind, id)
			continue
		case !bytes.Equal(tlog.Hasher.HashLeaf(body), leaf.hash):
			bad("%s %d: its row was altered: it no longer matches log leaf %d", kind, id, leaf.idx)
		}
		if leaf, err = nextLeaf(); err != nil {
			return err
		}
	}
	if err := recs.Err(); err != nil {
		return err
	}
	for ; leaf != nil; leaf, err = nextLeaf() {
		bad("log leaf %d: %s %d was deleted", leaf.idx, kind, leaf.id)
	}
	if err != nil {
		return err
	}

	return nil
}
