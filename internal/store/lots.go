package store

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/ganpin/ganpin/internal/sqldb"
	"github.com/ganpin/ganpin/trace"
)

const lotCols = `id, owner_id, holder_id, code, product_id, quantity, remaining, unit, grade, site_id, event_id, COALESCE(in_transit, 0), created`

func scanLot(r sqldb.Row) (*trace.Lot, error) {
	var l trace.Lot
	var created int64
	err := r.Scan(&l.ID, &l.OwnerID, &l.HolderID, &l.Code, &l.ProductID, &l.Quantity, &l.Remaining, &l.Unit, &l.Grade, &l.SiteID, &l.EventID, &l.InTransit, &created)
	l.Created = fromMicros(created)
	return &l, err
}

func (q queries) Lot(ctx context.Context, id int64) (*trace.Lot, error) {
	l, err := scanLot(q.c.QueryRow(ctx, `SELECT `+lotCols+` FROM lots WHERE id = $1`, id))
	return l, notFound(err, "lot", id)
}

func (q queries) Lots(ctx context.Context, f trace.LotFilter, pg trace.Page) ([]trace.Lot, error) {
	after, n := limit(pg)
	if f.PartyID == 0 {
		return list(ctx, q.c, scanLot, `SELECT `+lotCols+` FROM lots WHERE id < $1 ORDER BY id DESC LIMIT $2`, after, n)
	}
	// Lots a party holds, and lots it made that others hold now.
	return list(ctx, q.c, scanLot, `SELECT `+lotCols+` FROM lots WHERE id IN (
		SELECT id FROM (SELECT id FROM lots WHERE holder_id = $3 AND id < $1 ORDER BY id DESC LIMIT $2) h
		UNION SELECT id FROM (SELECT id FROM lots WHERE owner_id = $3 AND id < $1 ORDER BY id DESC LIMIT $2) o)
		ORDER BY id DESC LIMIT $2`, after, n, f.PartyID)
}

func (q queries) LockLot(ctx context.Context, id int64) (*trace.Lot, error) {
	lock := ""
	if q.dialect == sqldb.Postgres {
		lock = ` FOR UPDATE`
	}
	l, err := scanLot(q.c.QueryRow(ctx, `SELECT `+lotCols+` FROM lots WHERE id = $1`+lock, id))
	return l, notFound(err, "lot", id)
}

func (t *tx) ReserveIDs(ctx context.Context, kind string, n int) ([]int64, error) {
	q := t.queries
	table := map[string]string{"event": "events", "lot": "lots"}[kind]
	if table == "" || n < 1 {
		return nil, errors.New("store: reserve ids: unknown kind")
	}
	ids := make([]int64, 0, n)
	if q.dialect == sqldb.SQLite {
		// The single SQLite writer holds the write lock for the whole transaction, so
		// IDs above the largest stored one are free until it commits.
		if t.next[kind] == 0 {
			var next int64
			if err := q.c.QueryRow(ctx, `SELECT COALESCE(MAX(id), 0) + 1 FROM `+table).Scan(&next); err != nil {
				return nil, err
			}
			t.next[kind] = next
		}
		for range n {
			ids = append(ids, t.next[kind])
			t.next[kind]++
		}
		return ids, nil
	}
	rs, err := q.c.Query(ctx, `SELECT nextval(pg_get_serial_sequence('`+table+`', 'id')) FROM generate_series(1, $1)`, n)
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	for rs.Next() {
		var id int64
		if err := rs.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids, rs.Err()
}

func (q queries) insertLot(ctx context.Context, l *trace.Lot) error {
	_, err := q.c.Exec(ctx, `INSERT INTO lots (id, owner_id, holder_id, code, product_id, quantity, remaining, unit, grade, site_id, event_id, in_transit, created)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
		l.ID, l.OwnerID, l.HolderID, l.Code, l.ProductID, l.Quantity, l.Remaining, l.Unit, l.Grade, l.SiteID, l.EventID, nullable(l.InTransit), micros(l.Created))
	if errors.Is(err, sqldb.ErrUnique) {
		return trace.Conflict("code", "duplicate_lot_code", "批次号"+l.Code+"已存在", "lot code "+l.Code+" already exists")
	}
	return err
}

func (q queries) UpdateLot(ctx context.Context, l *trace.Lot) error {
	_, err := q.c.Exec(ctx, `UPDATE lots SET remaining = $2, holder_id = $3, in_transit = $4 WHERE id = $1`,
		l.ID, l.Remaining, l.HolderID, nullable(l.InTransit))
	return err
}

func (q queries) InsertEdge(ctx context.Context, parent, child, eventID int64) error {
	_, err := q.c.Exec(ctx, `INSERT INTO lot_edges (parent_id, child_id, event_id) VALUES ($1, $2, $3)`, parent, child, eventID)
	return err
}

func (q queries) InsertEvent(ctx context.Context, e *trace.Event, newLots []*trace.Lot) error {
	var phi any
	if e.Spec.Input != nil {
		phi = micros(trace.PHIEnd(e.Time, e.Spec.Input.PHIDays))
	}
	_, err := q.c.Exec(ctx, `INSERT INTO events (id, party_id, type, site_id, event_time, phi_until, body, sha256) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		e.ID, e.PartyID, string(e.Spec.Type), e.Spec.Site, micros(e.Time), phi, e.Canonical, e.Hash[:])
	if err != nil {
		return err
	}
	for _, l := range newLots {
		if err := q.insertLot(ctx, l); err != nil {
			return err
		}
	}
	for _, el := range e.Lots {
		if _, err := q.c.Exec(ctx, `INSERT INTO event_lots (lot_id, event_id, role) VALUES ($1, $2, $3)`, el.Lot, e.ID, string(el.Role)); err != nil {
			return err
		}
	}
	if e.Spec.Corrects != 0 {
		_, err := q.c.Exec(ctx, `INSERT INTO corrections (corrected_id, correction_id) VALUES ($1, $2)`, e.Spec.Corrects, e.ID)
		if errors.Is(err, sqldb.ErrUnique) {
			return trace.Conflict("corrects", "already_corrected", "该事件已被更正，请更正最新的更正事件", "this event was already corrected; correct the latest correction instead")
		}
		return err
	}
	return nil
}

func scanEvent(r sqldb.Row) (*trace.Event, error) {
	var body []byte
	if err := r.Scan(&body); err != nil {
		return nil, err
	}
	return trace.DecodeCanonicalEvent(body)
}

func (q queries) Event(ctx context.Context, id int64) (*trace.Event, error) {
	e, err := scanEvent(q.c.QueryRow(ctx, `SELECT body FROM events WHERE id = $1`, id))
	return e, notFound(err, "event", id)
}

func (q queries) LotEvents(ctx context.Context, lotID int64, pg trace.Page) ([]trace.Event, error) {
	after, n := limit(pg)
	return list(ctx, q.c, scanEvent, `SELECT e.body FROM event_lots el JOIN events e ON e.id = el.event_id
		WHERE el.lot_id = $1 AND el.event_id < $2 ORDER BY el.event_id DESC LIMIT $3`, lotID, after, n)
}

func (q queries) BlockingApplication(ctx context.Context, siteID int64, t time.Time) (*trace.Event, bool, error) {
	e, err := scanEvent(q.c.QueryRow(ctx, `SELECT body FROM events e
		WHERE site_id = $1 AND phi_until > $2 AND event_time <= $2
		  AND NOT EXISTS (SELECT 1 FROM corrections c WHERE c.corrected_id = e.id)
		ORDER BY phi_until DESC LIMIT 1`, siteID, micros(t)))
	if errors.Is(err, sqldb.ErrNoRows) {
		return nil, false, nil
	}
	return e, err == nil, err
}

func (q queries) SaveReplay(ctx context.Context, principal, key string, r trace.Replay) error {
	_, err := q.c.Exec(ctx, `INSERT INTO idempotency (principal, key, request_hash, status, body, created) VALUES ($1, $2, $3, $4, $5, $6)`,
		principal, key, r.RequestHash, r.Status, r.Body, micros(time.Now()))
	if errors.Is(err, sqldb.ErrUnique) {
		return trace.Conflict("Idempotency-Key", "idempotency_key_in_use", "该幂等键已被同时使用", "this idempotency key is in use by a concurrent request")
	}
	return err
}

// Replay returns a response recorded under an idempotency key.
func (s *Store) Replay(ctx context.Context, principal, key string) (trace.Replay, bool, error) {
	var r trace.Replay
	err := s.db.QueryRow(ctx, `SELECT request_hash, status, body FROM idempotency WHERE principal = $1 AND key = $2`, principal, key).
		Scan(&r.RequestHash, &r.Status, &r.Body)
	if errors.Is(err, sqldb.ErrNoRows) {
		return r, false, nil
	}
	return r, err == nil, err
}
