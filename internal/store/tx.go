package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/ganpin/ganpin/internal/sqldb"
	"github.com/ganpin/ganpin/internal/tlog"
	"github.com/ganpin/ganpin/trace"
)

// tx is a write transaction. Event capture is write-heavy, so its writes are
// buffered and flushed at commit in as few round trips as the engine allows
// (multi-row INSERTs pipelined in one batch, COPY for large batches); the reads
// capture makes are answered from the buffer first.
type tx struct {
	queries
	s    *Store
	next map[string]int64 // SQLite: the next free ID per kind in this transaction

	lots    map[int64]*trace.Lot      // lots locked, created or changed here
	created map[int64]bool            // lots created here
	changed map[int64]bool            // existing lots changed here
	events  map[int64]*trace.Event    // events captured here
	apps    map[int64][]phiWindow     // input applications per site (stored and new)
	loaded  map[int64]bool            // sites whose stored applications are in apps
	newRows map[string][][]any        // buffered inserts per table
	replays []sqldb.Stmt              // idempotency records
	made    map[string]map[int64]bool // sites and products created here: not cached
	direct  bool                      // savepoint "write" guards this function's writes
	leaves  []tlog.Leaf               // records flushed, to append to the log at commit
}

func (s *Store) newTx(c sqldb.Conn) *tx {
	return &tx{queries: queries{c, s.db.Dialect()}, s: s, next: map[string]int64{},
		lots: map[int64]*trace.Lot{}, created: map[int64]bool{}, changed: map[int64]bool{},
		events: map[int64]*trace.Event{}, apps: map[int64][]phiWindow{}, loaded: map[int64]bool{}, newRows: map[string][][]any{},
		made: map[string]map[int64]bool{"site": {}, "product": {}}}
}

// Columns of the buffered tables, in insertion order (parents before children).
var bufferedTables = []struct {
	name string
	cols []string
}{
	{"events", []string{"id", "party_id", "type", "site_id", "event_time", "phi_until", "body", "sha256"}},
	{"lots", []string{"id", "owner_id", "holder_id", "code", "product_id", "quantity", "remaining", "unit", "grade", "site_id", "event_id", "in_transit", "created"}},
	{"event_lots", []string{"lot_id", "event_id", "role"}},
	{"lot_edges", []string{"parent_id", "child_id", "event_id"}},
	{"corrections", []string{"corrected_id", "correction_id"}},
}

// Flush writes the buffered rows inside a savepoint, so that a failure (a lot code
// registered concurrently, say) leaves the transaction usable and nothing written.
func (t *tx) Flush(ctx context.Context) error {
	if len(t.newRows) == 0 && len(t.changed) == 0 && len(t.replays) == 0 {
		return nil
	}
	var w sqldb.Writes
	if !t.direct {
		// Rows flushed now must go if the function fails later.
		w.Add(sqldb.Stmt{SQL: "SAVEPOINT write"})
		t.direct = true
	}
	w.Add(sqldb.Stmt{SQL: "SAVEPOINT flush"})
	err := func() error {
		for _, tb := range bufferedTables {
			rows := t.newRows[tb.name]
			if tb.name == "lots" {
				// Lots created here carry their final state.
				for _, r := range rows {
					l := t.lots[r[0].(int64)]
					r[2], r[6], r[11] = l.HolderID, l.Remaining, nullable(l.InTransit)
				}
			}
			if err := w.Insert(ctx, t.c, tb.name, tb.cols, rows); err != nil {
				return err
			}
		}
		for id := range t.changed {
			l := t.lots[id]
			w.Add(sqldb.Stmt{SQL: `UPDATE lots SET remaining = $2, holder_id = $3, in_transit = $4 WHERE id = $1`,
				Args: []any{l.ID, l.Remaining, l.HolderID, nullable(l.InTransit)}})
		}
		w.Add(t.replays...)
		w.Add(sqldb.Stmt{SQL: "RELEASE SAVEPOINT flush"})
		return w.Run(ctx, t.c)
	}()
	if err != nil {
		if _, rerr := t.c.Exec(ctx, "ROLLBACK TO SAVEPOINT flush"); rerr != nil {
			return errors.Join(err, rerr)
		}
		return t.conflict(err)
	}
	// Every event becomes a leaf of the tamper-evident log when its group commits
	// (see group.go): in the same transaction, or not at all.
	for _, r := range t.newRows["events"] {
		t.leaves = append(t.leaves, tlog.Leaf{Kind: "event", RecordID: r[0].(int64), Data: r[6].([]byte)})
	}
	t.newRows, t.replays = map[string][][]any{}, nil
	clear(t.changed)
	clear(t.created)
	return nil
}

// conflict turns a unique violation at flush into the domain's conflict.
func (t *tx) conflict(err error) error {
	var ue *sqldb.UniqueError
	if !errors.As(err, &ue) {
		return err
	}
	switch ue.Table {
	case "idempotency":
		return trace.Conflict("Idempotency-Key", "idempotency_key_in_use", "该幂等键已被同时使用", "this idempotency key is in use by a concurrent request")
	case "lots":
		return trace.Conflict("code", "duplicate_lot_code", "批次号已存在", "a lot code already exists")
	case "corrections":
		return alreadyCorrected()
	}
	return err
}

func alreadyCorrected() error {
	return trace.Conflict("corrects", "already_corrected", "该事件已被更正，请更正最新的更正事件", "this event was already corrected; correct the latest correction instead")
}

func (t *tx) InsertEvent(ctx context.Context, e *trace.Event, newLots []*trace.Lot) error {
	var phi any
	if e.Spec.Input != nil {
		end := micros(trace.PHIEnd(e.Time, e.Spec.Input.PHIDays))
		phi = end
		t.apps[e.Spec.Site] = append(t.apps[e.Spec.Site], phiWindow{e.ID, micros(e.Time), end})
	}
	t.events[e.ID] = e
	t.newRows["events"] = append(t.newRows["events"], []any{e.ID, e.PartyID, string(e.Spec.Type), e.Spec.Site, micros(e.Time), phi, e.Canonical, e.Hash[:]})
	for _, l := range newLots {
		t.lots[l.ID], t.created[l.ID] = l, true
		t.newRows["lots"] = append(t.newRows["lots"], []any{l.ID, l.OwnerID, l.HolderID, l.Code, l.ProductID, l.Quantity, l.Remaining, string(l.Unit), l.Grade, l.SiteID, l.EventID, nullable(l.InTransit), micros(l.Created)})
	}
	for _, el := range e.Lots {
		t.newRows["event_lots"] = append(t.newRows["event_lots"], []any{el.Lot, e.ID, string(el.Role)})
	}
	if c := e.Spec.Corrects; c != 0 {
		for _, r := range t.newRows["corrections"] {
			if r[0] == c {
				return alreadyCorrected()
			}
		}
		var n int
		if err := t.c.QueryRow(ctx, `SELECT COUNT(*) FROM corrections WHERE corrected_id = $1`, c).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return alreadyCorrected()
		}
		t.newRows["corrections"] = append(t.newRows["corrections"], []any{c, e.ID})
	}
	return nil
}

func (t *tx) UpdateLot(ctx context.Context, l *trace.Lot) error {
	t.lots[l.ID] = l
	if !t.created[l.ID] {
		t.changed[l.ID] = true
	}
	return nil
}

func (t *tx) InsertEdge(ctx context.Context, parent, child, eventID int64) error {
	t.newRows["lot_edges"] = append(t.newRows["lot_edges"], []any{parent, child, eventID})
	return nil
}

func (t *tx) SaveReplay(ctx context.Context, principal, key string, r trace.Replay) error {
	t.replays = append(t.replays, sqldb.Stmt{SQL: `INSERT INTO idempotency (principal, key, request_hash, status, body, created) VALUES ($1, $2, $3, $4, $5, $6)`,
		Args: []any{principal, key, r.RequestHash, r.Status, r.Body, micros(time.Now())}})
	return nil
}

// LockLot returns the transaction's copy of a lot, reading and (on PostgreSQL)
// locking it on first use.
func (t *tx) LockLot(ctx context.Context, id int64) (*trace.Lot, error) {
	if l, ok := t.lots[id]; ok {
		c := *l
		return &c, nil
	}
	if err := t.PrefetchLots(ctx, []int64{id}); err != nil {
		return nil, err
	}
	if l, ok := t.lots[id]; ok {
		c := *l
		return &c, nil
	}
	return nil, trace.NotFound("", "lot", id)
}

// PrefetchLots reads and locks lots in one query, in ID order so that concurrent
// transactions cannot deadlock.
func (t *tx) PrefetchLots(ctx context.Context, ids []int64) error {
	var need []int64
	for _, id := range ids {
		if _, ok := t.lots[id]; !ok {
			need = append(need, id)
		}
	}
	slices.Sort(need)
	need = slices.Compact(need)
	lock := ""
	if t.dialect == sqldb.Postgres {
		lock = ` FOR UPDATE`
	}
	return chunks(need, func(in string, args []any) error {
		ls, err := list(ctx, t.c, scanLot, `SELECT `+lotCols+` FROM lots WHERE id IN (`+in+`) ORDER BY id`+lock, args...)
		for i := range ls {
			t.lots[ls[i].ID] = &ls[i]
		}
		return err
	})
}

// ExistingLotCodes returns which of codes the owner already has.
func (t *tx) ExistingLotCodes(ctx context.Context, owner int64, codes []string) ([]string, error) {
	if t.dialect == sqldb.Postgres {
		// An array parameter keeps the lookup on the (owner_id, code) index.
		return column[string](ctx, t.c, `SELECT code FROM lots WHERE owner_id = $1 AND code = ANY($2)`, owner, codes)
	}
	var out []string
	for len(codes) > 0 {
		n := min(len(codes), 500)
		args := []any{owner}
		for _, c := range codes[:n] {
			args = append(args, c)
		}
		found, err := column[string](ctx, t.c, `SELECT code FROM lots WHERE owner_id = $1 AND code IN (`+inList(2, n)+`)`, args...)
		if err != nil {
			return nil, err
		}
		out = append(out, found...)
		codes = codes[n:]
	}
	return out, nil
}

// phiWindow is when an input application forbids harvesting its orchard.
type phiWindow struct {
	event      int64
	start, end int64 // microseconds: application time, first permitted harvest
}

// BlockingApplication loads the windows of a site's uncorrected input applications
// once per transaction (IDs and times only) and answers from them and the ones
// captured here; only a blocking application is read in full.
func (t *tx) BlockingApplication(ctx context.Context, siteID int64, at time.Time) (*trace.Event, bool, error) {
	if !t.loaded[siteID] {
		rs, err := t.c.Query(ctx, `SELECT id, event_time, phi_until FROM events e WHERE site_id = $1 AND phi_until IS NOT NULL
			AND NOT EXISTS (SELECT 1 FROM corrections c WHERE c.corrected_id = e.id)`, siteID)
		if err != nil {
			return nil, false, err
		}
		for rs.Next() {
			var w phiWindow
			if err := rs.Scan(&w.event, &w.start, &w.end); err != nil {
				rs.Close()
				return nil, false, err
			}
			t.apps[siteID] = append(t.apps[siteID], w)
		}
		rs.Close()
		if err := rs.Err(); err != nil {
			return nil, false, err
		}
		t.loaded[siteID] = true
	}
	corrected := map[int64]bool{}
	for _, r := range t.newRows["corrections"] {
		corrected[r[0].(int64)] = true
	}
	us := micros(at)
	var best *phiWindow
	for i, w := range t.apps[siteID] {
		if corrected[w.event] || w.start > us || w.end <= us {
			continue
		}
		if best == nil || w.end > best.end {
			best = &t.apps[siteID][i]
		}
	}
	if best == nil {
		return nil, false, nil
	}
	e, err := t.Event(ctx, best.event)
	return e, err == nil, err
}

func (t *tx) Event(ctx context.Context, id int64) (*trace.Event, error) {
	if e, ok := t.events[id]; ok {
		return e, nil
	}
	return t.queries.Event(ctx, id)
}

// ReserveIDs hands out IDs of events, lots and certificates: on PostgreSQL from blocks of sequence values kept by the
// store, on SQLite above the largest stored ID (the single writer holds the lock).
func (t *tx) ReserveIDs(ctx context.Context, kind string, n int) ([]int64, error) {
	table := map[string]string{"event": "events", "lot": "lots", "certificate": "certificates"}[kind]
	if table == "" || n < 1 {
		return nil, fmt.Errorf("store: reserve %d ids of kind %q", n, kind)
	}
	if t.dialect == sqldb.Postgres {
		return t.s.ids.take(ctx, t.c, table, n)
	}
	if t.next[kind] == 0 {
		var next int64
		if err := t.c.QueryRow(ctx, `SELECT COALESCE(MAX(id), 0) + 1 FROM `+table).Scan(&next); err != nil {
			return nil, err
		}
		t.next[kind] = next
	}
	ids := make([]int64, n)
	for i := range ids {
		ids[i] = t.next[kind]
		t.next[kind]++
	}
	return ids, nil
}

// idPool keeps blocks of PostgreSQL sequence values per table, drawn through the
// asking transaction's connection (sequences ignore transactions, so values
// reserved by a transaction that rolls back are kept or leave gaps).
type idPool struct {
	mu   sync.Mutex
	free map[string][]int64
}

const idBlock = 1000

func (p *idPool) take(ctx context.Context, c sqldb.Conn, table string, n int) ([]int64, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.free == nil {
		p.free = map[string][]int64{}
	}
	if len(p.free[table]) < n {
		vals, err := column[int64](ctx, c, `SELECT nextval(pg_get_serial_sequence('`+table+`', 'id')) FROM generate_series(1, $1)`, max(n, idBlock))
		if err != nil {
			return nil, err
		}
		p.free[table] = append(p.free[table], vals...)
	}
	ids := slices.Clone(p.free[table][:n])
	p.free[table] = p.free[table][n:]
	return ids, nil
}

// Sites and products never change once created, so the store caches them. A
// transaction reads misses through its own connection and caches only rows it did
// not create itself.

func (s *Store) Site(ctx context.Context, id int64) (*trace.Site, error) {
	return cached(ctx, &s.sites, id, s.queries.Site, true)
}

func (s *Store) Product(ctx context.Context, id int64) (*trace.Product, error) {
	return cached(ctx, &s.products, id, s.queries.Product, true)
}

func (t *tx) Site(ctx context.Context, id int64) (*trace.Site, error) {
	return cached(ctx, &t.s.sites, id, t.queries.Site, !t.made["site"][id])
}

func (t *tx) Product(ctx context.Context, id int64) (*trace.Product, error) {
	return cached(ctx, &t.s.products, id, t.queries.Product, !t.made["product"][id])
}

func cached[T any](ctx context.Context, m *sync.Map, id int64, read func(context.Context, int64) (*T, error), keep bool) (*T, error) {
	if v, ok := m.Load(id); ok {
		return v.(*T), nil
	}
	v, err := read(ctx, id)
	if err == nil && keep {
		m.Store(id, v)
	}
	return v, err
}

// Master data is written directly, behind a savepoint that undoes it should the
// function fail later (its transaction is shared with other writes; see group.go).

func (t *tx) guard(ctx context.Context) error {
	if t.direct {
		return nil
	}
	t.direct = true
	_, err := t.c.Exec(ctx, "SAVEPOINT write")
	return err
}

func (t *tx) CreateSite(ctx context.Context, site *trace.Site) error {
	if err := t.guard(ctx); err != nil {
		return err
	}
	err := t.queries.CreateSite(ctx, site)
	t.made["site"][site.ID] = true
	return err
}

func (t *tx) CreateProduct(ctx context.Context, p *trace.Product) error {
	if err := t.guard(ctx); err != nil {
		return err
	}
	err := t.queries.CreateProduct(ctx, p)
	t.made["product"][p.ID] = true
	return err
}

func (t *tx) CreateParty(ctx context.Context, p *trace.Party) error {
	if err := t.guard(ctx); err != nil {
		return err
	}
	return t.queries.CreateParty(ctx, p)
}

func (t *tx) CreateUser(ctx context.Context, u *trace.User) error {
	if err := t.guard(ctx); err != nil {
		return err
	}
	return t.queries.CreateUser(ctx, u)
}

func (t *tx) CreateToken(ctx context.Context, userID int64, name string, hash []byte) error {
	if err := t.guard(ctx); err != nil {
		return err
	}
	return t.queries.CreateToken(ctx, userID, name, hash)
}

func (t *tx) DeleteToken(ctx context.Context, hash []byte) error {
	if err := t.guard(ctx); err != nil {
		return err
	}
	return t.queries.DeleteToken(ctx, hash)
}
