// Package sqldb is the small interface Ganpin's SQL code runs on, implemented by the
// SQLite (database/sql, modernc.org/sqlite) and PostgreSQL (pgxpool) adapters.
// Queries use $1, $2 … placeholders, which both engines accept.
package sqldb

import (
	"context"
	"errors"
	"io/fs"
)

// Conn runs queries.
type Conn interface {
	Exec(ctx context.Context, sql string, args ...any) (int64, error)
	Query(ctx context.Context, sql string, args ...any) (Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) Row
}

// Rows is a result set; Close must be called.
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close()
}

// Row is a single-row result; Scan returns ErrNoRows when there is none.
type Row interface {
	Scan(dest ...any) error
}

// DB is a database.
type DB interface {
	Conn
	// Tx runs fn in a write transaction that commits when fn returns nil and rolls
	// back otherwise, also when fn panics.
	Tx(ctx context.Context, fn func(Conn) error) error
	Dialect() Dialect
	// Migrations returns the numbered migration files (NNNN_name.sql) of this engine.
	Migrations() fs.FS
	Close() error
}

// Dialect names the engine, for the few statements that differ.
type Dialect string

// Dialects.
const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// Errors the adapters translate engine errors into.
var (
	ErrNoRows = errors.New("no rows")
	ErrUnique = errors.New("unique constraint violated")
)
