package store

import (
	"context"
	"errors"

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
