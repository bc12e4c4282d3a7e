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
	// Batch runs statements in order, stopping at the first error; PostgreSQL
	// pipelines them in one round trip.
	Batch(ctx context.Context, stmts []Stmt) error
	// CopyFrom inserts rows into table's columns in bulk (COPY on PostgreSQL).
	CopyFrom(ctx context.Context, table string, cols []string, rows [][]any) error
	// Dialect names the engine.
	Dialect() Dialect
}

// Stmt is a statement with its arguments.
type Stmt struct {
	SQL  string
	Args []any
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

// ErrNoRows is returned by Row.Scan when there is no row.
var ErrNoRows = errors.New("no rows")

// ErrRetry reports a transaction the database aborted to resolve a conflict with
// another (a deadlock or serialization failure); running it again may succeed.
var ErrRetry = errors.New("transaction aborted by a concurrent one; retry")

// ErrUnique matches a *UniqueError with errors.Is.
var ErrUnique = errors.New("unique constraint violated")

// UniqueError reports a unique constraint violated in Table.
type UniqueError struct {
	Table string
	Err   error
}

func (e *UniqueError) Error() string {
	return "unique constraint violated in " + e.Table + ": " + e.Err.Error()
}
func (e *UniqueError) Is(target error) bool { return target == ErrUnique }
func (e *UniqueError) Unwrap() error        { return e.Err }
