// Package store implements trace.Store in SQL that runs on both SQLite and PostgreSQL.
package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ganpin/ganpin/internal/sqldb"
	"github.com/ganpin/ganpin/internal/store/postgres"
	"github.com/ganpin/ganpin/internal/store/sqlite"
	"github.com/ganpin/ganpin/trace"
)

// Store is the SQL system of record.
type Store struct {
	queries
	db sqldb.DB
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
	return &Store{queries: queries{db, db.Dialect()}, db: db}, nil
}

// DB returns the underlying database.
func (s *Store) DB() sqldb.DB { return s.db }

// Write runs fn in a transaction.
func (s *Store) Write(ctx context.Context, fn func(trace.Tx) error) error {
	return s.db.Tx(ctx, func(c sqldb.Conn) error { return fn(&tx{queries{c, s.db.Dialect()}, map[string]int64{}}) })
}

type tx struct {
	queries
	next map[string]int64 // SQLite: the next free ID per kind in this transaction
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
