// Package postgres is the PostgreSQL adapter (jackc/pgx/v5, pgxpool).
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"runtime"
	"strings"

	"github.com/ganpin/ganpin/internal/sqldb"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

//go:embed migrations/*.sql
var migrations embed.FS

// DB is a PostgreSQL connection pool.
type DB struct {
	Pool *pgxpool.Pool
}

var _ sqldb.DB = (*DB)(nil)

// Open connects to the database at url (postgres://…).
func Open(ctx context.Context, url string) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("database url: %w", err)
	}
	if !strings.Contains(url, "pool_max_conns") {
		// Enough connections for PostgreSQL's group commit to gather concurrent commits.
		cfg.MaxConns = int32(max(8, 4*runtime.NumCPU()))
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to postgres: %w", err)
	}
	return &DB{Pool: pool}, nil
}

// Dialect returns sqldb.Postgres.
func (db *DB) Dialect() sqldb.Dialect { return sqldb.Postgres }

// Migrations returns the PostgreSQL schema migrations.
func (db *DB) Migrations() fs.FS { sub, _ := fs.Sub(migrations, "migrations"); return sub }

// Close closes the pool.
func (db *DB) Close() error { db.Pool.Close(); return nil }

// Exec runs a statement.
func (db *DB) Exec(ctx context.Context, q string, args ...any) (int64, error) {
	return conn{db.Pool}.Exec(ctx, q, args...)
}

// Query runs a query.
func (db *DB) Query(ctx context.Context, q string, args ...any) (sqldb.Rows, error) {
	return conn{db.Pool}.Query(ctx, q, args...)
}

// QueryRow runs a query for one row.
func (db *DB) QueryRow(ctx context.Context, q string, args ...any) sqldb.Row {
	return conn{db.Pool}.QueryRow(ctx, q, args...)
}

// Tx runs fn in a read-committed transaction; rows that must not change underneath
// are locked with SELECT … FOR UPDATE.
func (db *DB) Tx(ctx context.Context, fn func(sqldb.Conn) error) error {
	return mapErr(pgx.BeginFunc(ctx, db.Pool, func(tx pgx.Tx) error { return fn(conn{tx}) }))
}

type querier interface {
	Exec(context.Context, string, ...any) (pgconn.CommandTag, error)
	Query(context.Context, string, ...any) (pgx.Rows, error)
	QueryRow(context.Context, string, ...any) pgx.Row
	SendBatch(context.Context, *pgx.Batch) pgx.BatchResults
	CopyFrom(context.Context, pgx.Identifier, []string, pgx.CopyFromSource) (int64, error)
}

// Batch pipelines stmts in one round trip.
func (db *DB) Batch(ctx context.Context, stmts []sqldb.Stmt) error {
	return conn{db.Pool}.Batch(ctx, stmts)
}

// CopyFrom bulk-inserts with COPY.
func (db *DB) CopyFrom(ctx context.Context, table string, cols []string, rows [][]any) error {
	return conn{db.Pool}.CopyFrom(ctx, table, cols, rows)
}

func (c conn) Batch(ctx context.Context, stmts []sqldb.Stmt) error {
	if len(stmts) == 0 {
		return nil
	}
	var b pgx.Batch
	for _, s := range stmts {
		b.Queue(s.SQL, s.Args...)
	}
	br := c.q.SendBatch(ctx, &b)
	for range stmts {
		if _, err := br.Exec(); err != nil {
			br.Close()
			return mapErr(err)
		}
	}
	return mapErr(br.Close())
}

func (c conn) CopyFrom(ctx context.Context, table string, cols []string, rows [][]any) error {
	_, err := c.q.CopyFrom(ctx, pgx.Identifier{table}, cols, pgx.CopyFromRows(rows))
	return mapErr(err)
}

type conn struct{ q querier }

func (conn) Dialect() sqldb.Dialect { return sqldb.Postgres }

func (c conn) Exec(ctx context.Context, q string, args ...any) (int64, error) {
	tag, err := c.q.Exec(ctx, q, args...)
	if err != nil {
		return 0, mapErr(err)
	}
	return tag.RowsAffected(), nil
}

func (c conn) Query(ctx context.Context, q string, args ...any) (sqldb.Rows, error) {
	rs, err := c.q.Query(ctx, q, args...)
	if err != nil {
		return nil, mapErr(err)
	}
	return rs, nil
}

func (c conn) QueryRow(ctx context.Context, q string, args ...any) sqldb.Row {
	return row{c.q.QueryRow(ctx, q, args...)}
}

type row struct{ r pgx.Row }

func (r row) Scan(dest ...any) error { return mapErr(r.r.Scan(dest...)) }

func mapErr(err error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return sqldb.ErrNoRows
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "23505":
			return &sqldb.UniqueError{Table: pe.TableName, Err: err}
		case "40001", "40P01": // serialization failure, deadlock
			return fmt.Errorf("%w: %v", sqldb.ErrRetry, err)
		}
	}
	return err
}
