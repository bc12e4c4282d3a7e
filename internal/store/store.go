// Package store implements trace.Store in SQL that runs on both SQLite and PostgreSQL.
package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/ganpin/ganpin/internal/sqldb"
	"github.com/ganpin/ganpin/internal/store/postgres"
	"github.com/ganpin/ganpin/internal/store/sqlite"
	"github.com/ganpin/ganpin/internal/tlog"
	"github.com/ganpin/ganpin/trace"
)

// Store is the SQL system of record.
type Store struct {
	queries
	db       sqldb.DB
	sites    sync.Map // id → *trace.Site
	products sync.Map // id → *trace.Product
	ids      idPool
	log      *tlog.Log
	queue    chan *writeReq
	closed   chan struct{}
	running  sync.WaitGroup
}

var (
	_ trace.Store = (*Store)(nil)
	_ trace.Tx    = (*tx)(nil)
)

// Open opens the database named by url: a postgres:// URL selects PostgreSQL, an
// empty one the SQLite file ganpin.db under dataDir.
func Open(ctx context.Context, url, dataDir string) (sqldb.DB, error) {
	switch {
	case strings.HasPrefix(url, "postgres://"), strings.HasPrefix(url, "postgresql://"):
		return postgres.Open(ctx, url)
	case url == "":
		if err := os.MkdirAll(dataDir, 0o700); err != nil {
			return nil, err
		}
		return sqlite.Open(filepath.Join(dataDir, "ganpin.db"))
	case strings.HasPrefix(url, "sqlite:"):
		return sqlite.Open(strings.TrimPrefix(url, "sqlite:"))
	}
	return nil, fmt.Errorf("database url %q: use postgres://… or sqlite:PATH", url)
}

// New returns a store over db, whose schema must be current.
func New(ctx context.Context, db sqldb.DB) (*Store, error) {
	if err := sqldb.Check(ctx, db); err != nil {
		return nil, err
	}
	s := &Store{queries: queries{db, db.Dialect()}, db: db, queue: make(chan *writeReq, maxGroup), closed: make(chan struct{}), log: tlog.New(db.Dialect())}
	// SQLite has one writer; PostgreSQL overlaps a few groups' round trips.
	n := 1
	if db.Dialect() == sqldb.Postgres {
		n = 4
	}
	s.running.Add(n)
	for range n {
		go func() { defer s.running.Done(); s.writers() }()
	}
	return s, nil
}

// Close stops the writers once their groups are done; writes still queued fail.
func (s *Store) Close() {
	close(s.closed)
	s.running.Wait()
	for {
		select {
		case r := <-s.queue:
			r.done <- errors.New("store: closed")
		default:
			return
		}
	}
}

// queries holds the SQL; it runs on the database or inside a transaction.
type queries struct {
	c       sqldb.Conn
	dialect sqldb.Dialect
}

func micros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }

func nullable[T comparable](v T) any {
	var zero T
	if v == zero {
		return nil
	}
	return v
}

// notFound turns a missing row into the domain's not-found error.
func notFound(err error, what string, id any) error {
	if errors.Is(err, sqldb.ErrNoRows) {
		return trace.NotFound("", what, id)
	}
	return err
}

func limit(p trace.Page) (after int64, n int) {
	after, n = p.After, p.Limit
	if after <= 0 {
		after = 1<<63 - 1
	}
	if n <= 0 || n > 1000 {
		n = 100
	}
	return after, n
}
