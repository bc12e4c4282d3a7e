package store

import (
	"context"
	"slices"

	"github.com/ganpin/ganpin/internal/sqldb"
	"github.com/ganpin/ganpin/trace"
)

// seasonMicros bounds how far before a harvest an input application still belongs to it.
const seasonMicros = 365 * 24 * 3600 * 1e6

const (
	upCTE   = `up(id) AS (SELECT CAST($1 AS BIGINT) UNION SELECT e.parent_id FROM lot_edges e JOIN up ON e.child_id = up.id)`
	downCTE = `down(id) AS (SELECT CAST($1 AS BIGINT) UNION SELECT e.child_id FROM lot_edges e JOIN down ON e.parent_id = down.id)`
)

// Graph walks the lot graph with recursive queries.
func (q queries) Graph(ctx context.Context, lotID int64, d trace.Direction) (*trace.Graph, error) {
	if _, err := q.Lot(ctx, lotID); err != nil {
		return nil, err
	}
	var query string
	switch d {
	case trace.Backward:
		query = `WITH RECURSIVE ` + upCTE + ` SELECT id FROM up`
	case trace.Forward:
		query = `WITH RECURSIVE ` + downCTE + ` SELECT id FROM down`
	default:
		query = `WITH RECURSIVE ` + upCTE + `, ` + downCTE + ` SELECT id FROM up UNION SELECT id FROM down`
	}
	ids, err := column[int64](ctx, q.c, query, lotID)
	if err != nil {
		return nil, err
	}
	slices.Sort(ids)
	g := &trace.Graph{Root: lotID}
	err = chunks(ids, func(in string, args []any) error {
		ls, err := list(ctx, q.c, scanLot, `SELECT `+lotCols+` FROM lots WHERE id IN (`+in+`) ORDER BY id`, args...)
		g.Lots = append(g.Lots, ls...)
		return err
	})
	if err != nil {
		return nil, err
	}
	err = chunks(ids, func(in string, args []any) error {
		rs, err := q.c.Query(ctx, `SELECT parent_id, child_id, event_id FROM lot_edges WHERE child_id IN (`+in+`) ORDER BY parent_id, child_id`, args...)
		if err != nil {
			return err
		}
		defer rs.Close()
		for rs.Next() {
			var e trace.Edge
			if err := rs.Scan(&e.Parent, &e.Child, &e.Event); err != nil {
				return err
			}
			if _, ok := slices.BinarySearch(ids, e.Parent); ok {
				g.Edges = append(g.Edges, e)
			}
		}
		return rs.Err()
	})
	if err != nil {
		return nil, err
	}
	seen := map[int64]bool{}
	err = chunks(ids, func(in string, args []any) error {
		evs, err := list(ctx, q.c, scanEvent, `SELECT body FROM events WHERE id IN (SELECT event_id FROM event_lots WHERE lot_id IN (`+in+`))`, args...)
		for _, e := range evs {
			if !seen[e.ID] {
				seen[e.ID] = true
				g.Events = append(g.Events, e)
			}
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	if d&trace.Backward != 0 {
		if err := q.addInputs(ctx, g, seen); err != nil {
			return nil, err
		}
	}
	slices.SortFunc(g.Events, func(a, b trace.Event) int {
		if c := a.Time.Compare(b.Time); c != 0 {
			return c
		}
		return int(a.ID - b.ID)
	})
	return g, q.addSites(ctx, g)
}

// addInputs adds the input applications on the orchards harvested into the graph's
// lots during the season before each harvest.
func (q queries) addInputs(ctx context.Context, g *trace.Graph, seen map[int64]bool) error {
	for _, e := range g.Events {
		if e.Spec.Type != trace.Harvest {
			continue
		}
		t := micros(e.Time)
		apps, err := list(ctx, q.c, scanEvent, `SELECT body FROM events WHERE site_id = $1 AND type = 'input_application'
			AND event_time <= $2 AND event_time > $3 ORDER BY event_time`, e.Spec.Site, t, t-seasonMicros)
		if err != nil {
			return err
		}
		for _, a := range apps {
			if !seen[a.ID] {
				seen[a.ID] = true
				g.Events = append(g.Events, a)
			}
		}
	}
	return nil
}

func (q queries) addSites(ctx context.Context, g *trace.Graph) error {
	var ids []int64
	for _, l := range g.Lots {
		ids = append(ids, l.SiteID)
	}
	for _, e := range g.Events {
		ids = append(ids, e.Spec.Site)
		if e.Spec.Shipping != nil {
			ids = append(ids, e.Spec.Shipping.To)
		}
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	return chunks(ids, func(in string, args []any) error {
		ss, err := list(ctx, q.c, scanSite, `SELECT `+siteCols+` FROM sites WHERE id IN (`+in+`) ORDER BY id`, args...)
		g.Sites = append(g.Sites, ss...)
		return err
	})
}

// chunks calls fn with placeholders and arguments for ids, 500 at a time.
func chunks(ids []int64, fn func(in string, args []any) error) error {
	for len(ids) > 0 {
		n := min(len(ids), 500)
		args := make([]any, n)
		for i, id := range ids[:n] {
			args[i] = id
		}
		if err := fn(inList(1, n), args); err != nil {
			return err
		}
		ids = ids[n:]
	}
	return nil
}

// column runs a query of one column and returns its values.
func column[T any](ctx context.Context, c sqldb.Conn, query string, args ...any) ([]T, error) {
	rs, err := c.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	var out []T
	for rs.Next() {
		var v T
		if err := rs.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rs.Err()
}
