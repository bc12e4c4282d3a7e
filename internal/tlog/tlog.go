// Package tlog keeps Ganpin's tamper-evident log: an RFC 6962/9162 Merkle tree whose
// leaves are records' canonical bytes, stored in the system of record with the roots
// of its perfect subtrees, so that appending, inclusion and consistency proofs cost
// O(log n) reads. Appends join the transaction that writes the records.
package tlog

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"

	"github.com/ganpin/ganpin/internal/sqldb"
)

// Hasher is the log's hash: RFC 6962 with SHA-256.
var Hasher = rfc6962.DefaultHasher

var factory = &compact.RangeFactory{Hash: Hasher.HashChildren}

// Leaf is a record to append.
type Leaf struct {
	Kind     string // event, certificate, revocation, sampling
	RecordID int64
	Data     []byte // the record's canonical bytes
}

// Tree is the state of the log: its size and root hash.
type Tree struct {
	Size uint64
	Root []byte
}

// Log appends to and proves from the tree stored in a database.
type Log struct {
	dialect sqldb.Dialect
	mu      sync.Mutex
	rng     *compact.Range // the tree's perfect subtree roots at rngRoot; a hint
	rngRoot []byte
	partial [2][][]byte // the incomplete tiles at levels 0 and 4, part of the hint
}

// New returns a log for a database of the given dialect.
func New(d sqldb.Dialect) *Log { return &Log{dialect: d} }

// Append appends leaves in the transaction of c and returns the index of the first:
// it locks and reads the tree's state, and writes the leaves, the new subtree roots
// and the new state through w (the caller runs w before committing). Concurrent
// appends wait for the lock.
func (l *Log) Append(ctx context.Context, c sqldb.Conn, w *sqldb.Writes, leaves []Leaf) (uint64, error) {
	lock := ""
	if l.dialect == sqldb.Postgres {
		lock = " FOR UPDATE"
	}
	var t Tree
	var size int64
	if err := c.QueryRow(ctx, `SELECT size, root FROM log_state WHERE id = 1`+lock).Scan(&size, &t.Root); err != nil {
		return 0, fmt.Errorf("tlog: state: %w", err)
	}
	t.Size = uint64(size)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.rng == nil || l.rng.End() != t.Size || !bytes.Equal(l.rngRoot, t.Root) {
		// The hint is stale (another process appended, or a transaction rolled back).
		r, err := l.rangeAt(ctx, c, t.Size)
		if err != nil {
			return 0, err
		}
		if l.partial, err = partialTiles(ctx, c, t.Size); err != nil {
			return 0, err
		}
		l.rng = r
	}
	r := l.rng
	var nodes, tiles [][]any
	// addToTile collects a node of a tile's level and returns the tile when it is full.
	addToTile := func(k int, level uint, index uint64, hash []byte) {
		l.partial[k] = append(l.partial[k], hash)
		if len(l.partial[k]) == tileWidth {
			tiles = append(tiles, []any{int64(level), int64(index / tileWidth), bytes.Join(l.partial[k], nil)})
			l.partial[k] = nil
		}
	}
	visit := func(id compact.NodeID, hash []byte) {
		if id.Level > 0 {
			nodes = append(nodes, []any{int64(id.Level), int64(id.Index), hash})
		}
		if id.Level == tileHeight {
			addToTile(1, id.Level, id.Index, hash)
		}
	}
	leafRows := make([][]any, 0, len(leaves))
	for i, lf := range leaves {
		h := Hasher.HashLeaf(lf.Data)
		idx := t.Size + uint64(i)
		leafRows = append(leafRows, []any{int64(idx), lf.Kind, lf.RecordID, h})
		addToTile(0, 0, idx, h)
		if err := r.Append(h, visit); err != nil {
			return 0, err
		}
	}
	root, err := r.GetRootHash(nil)
	if err != nil {
		return 0, err
	}
	if err := w.Insert(ctx, c, "log_leaves", []string{"idx", "kind", "record_id", "hash"}, leafRows); err != nil {
		return 0, err
	}
	if err := w.Insert(ctx, c, "log_nodes", []string{"level", "idx", "hash"}, nodes); err != nil {
		return 0, err
	}
	if err := w.Insert(ctx, c, "log_tiles", []string{"level", "idx", "hashes"}, tiles); err != nil {
		return 0, err
	}
	w.Add(sqldb.Stmt{SQL: `UPDATE log_state SET size = $1, root = $2 WHERE id = 1`, Args: []any{int64(r.End()), root}})
	l.rngRoot = root
	return t.Size, nil
}

// partialTiles reads the nodes of the incomplete tiles at levels 0 and 4 of a tree of
// size leaves.
func partialTiles(ctx context.Context, c sqldb.Conn, size uint64) ([2][][]byte, error) {
	var p [2][][]byte
	for k, q := range []struct {
		sql   string
		count uint64 // nodes of the level in the tree
	}{
		{`SELECT hash FROM log_leaves WHERE idx >= $1 AND idx < $2 ORDER BY idx`, size},
		{`SELECT hash FROM log_nodes WHERE level = 4 AND idx >= $1 AND idx < $2 ORDER BY idx`, size >> tileHeight},
	} {
		lo := q.count &^ (tileWidth - 1)
		hs, err := hashes(ctx, c, q.sql, int64(lo), int64(q.count))
		if err != nil {
			return p, err
		}
		if uint64(len(hs)) != q.count-lo {
			return p, fmt.Errorf("%w (an incomplete tile at level %d)", ErrMissingNode, 4*k)
		}
		p[k] = hs
	}
	return p, nil
}

func hashes(ctx context.Context, c sqldb.Conn, query string, args ...any) ([][]byte, error) {
	rs, err := c.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	var out [][]byte
	for rs.Next() {
		var h []byte
		if err := rs.Scan(&h); err != nil {
			return nil, err
		}
		out = append(out, h)
	}
	return out, rs.Err()
}

// Current returns the tree's size and root.
func Current(ctx context.Context, c sqldb.Conn) (Tree, error) {
	var t Tree
	var size int64
	err := c.QueryRow(ctx, `SELECT size, root FROM log_state WHERE id = 1`).Scan(&size, &t.Root)
	t.Size = uint64(size)
	return t, err
}

// rangeAt rebuilds the compact range of the first size leaves from stored nodes.
func (l *Log) rangeAt(ctx context.Context, c sqldb.Conn, size uint64) (*compact.Range, error) {
	ids := compact.RangeNodes(0, size, nil)
	hashes, err := fetch(ctx, c, ids)
	if err != nil {
		return nil, err
	}
	return factory.NewRange(0, size, hashes)
}

// RootAt returns the root hash of the tree when it had size leaves.
func RootAt(ctx context.Context, c sqldb.Conn, size uint64) ([]byte, error) {
	if size == 0 {
		return Hasher.EmptyRoot(), nil
	}
	r, err := (&Log{}).rangeAt(ctx, c, size)
	if err != nil {
		return nil, err
	}
	return r.GetRootHash(nil)
}

// Prover reads inclusion and consistency proofs. It keeps the tree's upper nodes
// (level ≥ 8: one for every 256 leaves) and the tiles at level 4 in memory: once
// written they never change, and every proof passes through them. Below, an
// inclusion proof reads one stored tile, the 16 leaf hashes around the leaf, and
// hashes the siblings it needs from it. The zero Prover is ready to use.
type Prover struct {
	upper sync.Map // compact.NodeID → []byte
	tiles sync.Map // index of a level-4 tile → *tile
}

// Tiles: the hashes of 16 consecutive nodes of level 0 (leaves) or 4, stored as
// one row (log_tiles) once all 16 exist.
const (
	cachedLevel = 8 // the lowest level of the nodes a Prover keeps
	tileHeight  = 4
	tileWidth   = 1 << tileHeight
)

// tile is a stored tile: the nodes (level, lo) … (level, lo+15).
type tile struct {
	level  uint
	lo     uint64
	hashes [][]byte
}

// node returns the hash of node id from the tile, or nil when the tile does not
// cover it.
func (t *tile) node(id compact.NodeID) []byte {
	if t == nil || id.Level < t.level || id.Level >= t.level+tileHeight {
		return nil
	}
	d := id.Level - t.level
	lo, hi := id.Index<<d, (id.Index+1)<<d
	if lo < t.lo || hi > t.lo+uint64(len(t.hashes)) {
		return nil
	}
	hs := slices.Clone(t.hashes[lo-t.lo : hi-t.lo])
	for len(hs) > 1 {
		for i := range len(hs) / 2 {
			hs[i] = Hasher.HashChildren(hs[2*i], hs[2*i+1])
		}
		hs = hs[:len(hs)/2]
	}
	return hs[0]
}

// Inclusion returns the proof that leaf index is in the tree of size leaves.
func (p *Prover) Inclusion(ctx context.Context, c sqldb.Conn, index, size uint64) ([][]byte, error) {
	nodes, err := proof.Inclusion(index, size)
	if err != nil {
		return nil, err
	}
	// The tiles above the leaf, where complete in this tree.
	i0, i4 := int64(-1), int64(-1)
	if (index/tileWidth+1)*tileWidth <= size {
		i0 = int64(index / tileWidth)
	}
	var t0, t4 *tile
	if k := (index >> tileHeight) / tileWidth; (k+1)*tileWidth <= size>>tileHeight {
		if v, ok := p.tiles.Load(k); ok {
			t4 = v.(*tile)
		} else {
			i4 = int64(k)
		}
	}
	if i0 >= 0 || i4 >= 0 {
		rs, err := c.Query(ctx, `SELECT level, idx, hashes FROM log_tiles WHERE (level = 0 AND idx = $1) OR (level = 4 AND idx = $2)`, i0, i4)
		if err != nil {
			return nil, err
		}
		for rs.Next() {
			var level, idx int64
			var b []byte
			if err := rs.Scan(&level, &idx, &b); err != nil {
				rs.Close()
				return nil, err
			}
			if len(b) != tileWidth*Hasher.Size() {
				rs.Close()
				return nil, fmt.Errorf("%w (tile %d/%d has %d bytes)", ErrMissingNode, level, idx, len(b))
			}
			t := &tile{level: uint(level), lo: uint64(idx) * tileWidth}
			for h := range slices.Chunk(b, Hasher.Size()) {
				t.hashes = append(t.hashes, h)
			}
			if level == 0 {
				t0 = t
			} else {
				t4 = t
				p.tiles.Store(uint64(idx), t)
			}
		}
		rs.Close()
		if err := rs.Err(); err != nil {
			return nil, err
		}
	}
	hashes := make([][]byte, len(nodes.IDs))
	for i, id := range nodes.IDs {
		if h := t0.node(id); h != nil {
			hashes[i] = h
		} else if h := t4.node(id); h != nil {
			hashes[i] = h
		}
	}
	return p.complete(ctx, c, nodes, hashes)
}

// Consistency returns the proof that the tree of size1 leaves is a prefix of the
// tree of size2 leaves.
func (p *Prover) Consistency(ctx context.Context, c sqldb.Conn, size1, size2 uint64) ([][]byte, error) {
	nodes, err := proof.Consistency(size1, size2)
	if err != nil {
		return nil, err
	}
	return p.rehash(ctx, c, nodes)
}

func (p *Prover) rehash(ctx context.Context, c sqldb.Conn, nodes proof.Nodes) ([][]byte, error) {
	return p.complete(ctx, c, nodes, make([][]byte, len(nodes.IDs)))
}

// complete fills in the hashes of nodes still nil, from the cache or the database,
// and folds them into the proof.
func (p *Prover) complete(ctx context.Context, c sqldb.Conn, nodes proof.Nodes, hashes [][]byte) ([][]byte, error) {
	var missing []compact.NodeID
	for i, id := range nodes.IDs {
		if hashes[i] != nil {
			continue
		}
		if v, ok := p.upper.Load(id); ok {
			hashes[i] = v.([]byte)
		} else {
			missing = append(missing, id)
		}
	}
	fetched, err := fetch(ctx, c, missing)
	if err != nil {
		return nil, err
	}
	for i, k := 0, 0; i < len(hashes); i++ {
		if hashes[i] == nil {
			hashes[i] = fetched[k]
			if id := nodes.IDs[i]; id.Level >= cachedLevel {
				p.upper.Store(id, fetched[k])
			}
			k++
		}
	}
	return nodes.Rehash(hashes, Hasher.HashChildren)
}

// ErrMissingNode reports a node the tree should hold but does not: the log's tables
// were damaged.
var ErrMissingNode = errors.New("tlog: missing tree node")

// Node lookups: one statement of fixed text per engine (so it is prepared once), the
// node keys passed as arrays on PostgreSQL and as JSON on SQLite.
const (
	fetchPostgres = `SELECT 0, idx, hash FROM log_leaves WHERE idx = ANY($1::bigint[])
		UNION ALL SELECT n.level, n.idx, n.hash FROM unnest($2::int[], $3::bigint[]) AS k(level, idx)
		JOIN log_nodes n ON n.level = k.level AND n.idx = k.idx`
	fetchSQLite = `SELECT 0, idx, hash FROM log_leaves WHERE idx IN (SELECT value FROM json_each($1))
		UNION ALL SELECT n.level, n.idx, n.hash FROM json_each($2) k
		JOIN log_nodes n ON n.level = k.value ->> 0 AND n.idx = k.value ->> 1`
)

// fetch reads the hashes of tree nodes: leaves from log_leaves, subtree roots from log_nodes.
func fetch(ctx context.Context, c sqldb.Conn, ids []compact.NodeID) ([][]byte, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	var leaves, levels, idxs []int64
	for _, id := range ids {
		if id.Level == 0 {
			leaves = append(leaves, int64(id.Index))
		} else {
			levels, idxs = append(levels, int64(id.Level)), append(idxs, int64(id.Index))
		}
	}
	var rs sqldb.Rows
	var err error
	if c.Dialect() == sqldb.Postgres {
		lv := make([]int32, len(levels))
		for i, l := range levels {
			lv[i] = int32(l)
		}
		rs, err = c.Query(ctx, fetchPostgres, leaves, lv, idxs)
	} else {
		pairs := make([][2]int64, len(levels))
		for i := range levels {
			pairs[i] = [2]int64{levels[i], idxs[i]}
		}
		lj, _ := json.Marshal(leaves)
		pj, _ := json.Marshal(pairs)
		rs, err = c.Query(ctx, fetchSQLite, string(lj), string(pj))
	}
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	got := make(map[compact.NodeID][]byte, len(ids))
	for rs.Next() {
		var level, idx int64
		var h []byte
		if err := rs.Scan(&level, &idx, &h); err != nil {
			return nil, err
		}
		got[compact.NewNodeID(uint(level), uint64(idx))] = h
	}
	if err := rs.Err(); err != nil {
		return nil, err
	}
	out := make([][]byte, len(ids))
	for i, id := range ids {
		h, ok := got[id]
		if !ok {
			return nil, fmt.Errorf("%w (level %d, index %d)", ErrMissingNode, id.Level, id.Index)
		}
		out[i] = h
	}
	return out, nil
}
