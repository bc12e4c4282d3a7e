package store

import (
	"context"
	"errors"

	"github.com/ganpin/ganpin/internal/sqldb"
	"github.com/ganpin/ganpin/internal/tlog"
	"github.com/ganpin/ganpin/trace"
)

// Group commit. A durable commit costs a disk flush and a round trip, and on a small
// machine that, not the work inside, limits how many writes a second the system takes.
// Writes therefore queue up and run in shared transactions: each function runs on its
// own buffers, its failure is undone alone (its buffered rows are never sent, its
// direct writes roll back to a savepoint), and one commit acknowledges the group.
// Under light load a group is one write; under heavy load groups grow by themselves.

type writeReq struct {
	fn   func(trace.Tx) error
	err  error
	done chan error
}

// maxGroup bounds the writes one transaction takes.
const maxGroup = 128

// Write runs fn in a transaction, possibly shared with other writes, and returns
// once the outcome is durable.
func (s *Store) Write(ctx context.Context, fn func(trace.Tx) error) error {
	r := &writeReq{fn: fn, done: make(chan error, 1)}
	select {
	case s.queue <- r:
	case <-ctx.Done():
		return ctx.Err()
	case <-s.closed:
		return errors.New("store: closed")
	}
	return <-r.done
}

// writers runs groups until the store is closed.
func (s *Store) writers() {
	for {
		var r *writeReq
		select {
		case r = <-s.queue:
		case <-s.closed:
			return
		}
		group := []*writeReq{r}
	more:
		for len(group) < maxGroup {
			select {
			case r := <-s.queue:
				group = append(group, r)
			default:
				break more
			}
		}
		s.runGroup(group)
	}
}

func (s *Store) runGroup(group []*writeReq) {
	ctx := context.Background()
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		err = s.db.Tx(ctx, func(c sqldb.Conn) error {
			var leaves []tlog.Leaf
			for _, r := range group {
				t := s.newTx(c)
				r.err = r.fn(t)
				if r.err == nil {
					r.err = t.Flush(ctx)
				}
				if errors.Is(r.err, sqldb.ErrRetry) {
					return r.err // the whole transaction is lost
				}
				if r.err != nil && t.direct {
					if _, err := c.Exec(ctx, "ROLLBACK TO SAVEPOINT write"); err != nil {
						return err
					}
				}
				if r.err == nil {
					leaves = append(leaves, t.leaves...)
				}
			}
			if len(leaves) == 0 {
				return nil
			}
			// The log is appended last, so that its lock is held only while the group commits.
			var w sqldb.Writes
			if _, err := s.log.Append(ctx, c, &w, leaves); err != nil {
				return err
			}
			return w.Run(ctx, c)
		})
		if !errors.Is(err, sqldb.ErrRetry) {
			break
		}
	}
	for _, r := range group {
		if err != nil {
			r.err = err
		}
		r.done <- r.err
	}
}
