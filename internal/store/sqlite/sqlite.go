// Package sqlite is the embedded SQLite adapter (modernc.org/sqlite, pure Go, WAL mode).
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"runtime"
	"strconv"
	"strings"

	"github.com/ganpin/ganpin/internal/sqldb"
	sqlite3 "modernc.org/sqlite"
	sqlite3lib "modernc.org/sqlite/lib"
)

//go:embed migrations/*.sql
var migrations embed.FS

// DB is a SQLite database: one connection writes, a pool reads (WAL lets readers
// run beside the writer).
type DB struct {
	w, r *sql.DB
}

var _ sqldb.DB = (*DB)(nil)

// Open opens or creates the database file at path. Commits are durable against power
// loss (synchronous=FULL), not only against a crash of the process.
func Open(path string) (*DB, error) {
	q := url.Values{}
	for _, p := range []string{"journal_mode(WAL)", "synchronous(FULL)", "foreign_keys(ON)", "busy_timeout(10000)", "cache_size(-65536)", "mmap_size(1073741824)"} {
		q.Add("_pragma", p)
	}
	dsn := "file:" + path + "?" + q.Encode()
	w, err := sql.Open("sqlite", dsn+"&_txlock=immediate")
	if err != nil {
		return nil, err
	}
	w.SetMaxOpenConns(1)
	r, err := sql.Open("sqlite", dsn+"&_pragma=query_only(ON)")
	if err != nil {
		w.Close()
		return nil, err
	}
	r.SetMaxOpenConns(max(4, runtime.NumCPU()*2))
	r.SetMaxIdleConns(max(4, runtime.NumCPU()*2))
	if err := w.Ping(); err != nil {
		w.Close()
		r.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return &DB{w: w, r: r}, nil
}

// Dialect returns sqldb.SQLite.
func (db *DB) Dialect() sqldb.Dialect { return sqldb.SQLite }

// Migrations returns the SQLite schema migrations.
func (db *DB) Migrations() fs.FS { sub, _ := fs.Sub(migrations, "migrations"); return sub }

// Close closes both pools.
func (db *DB) Close() error { return errors.Join(db.r.Close(), db.w.Close()) }

// Exec runs a statement on the writer.
func (db *DB) Exec(ctx context.Context, q string, args ...any) (int64, error) {
	return conn{db.w}.Exec(ctx, q, args...)
}

// Query reads through the reader pool.
func (db *DB) Query(ctx context.Context, q string, args ...any) (sqldb.Rows, error) {
	return conn{db.r}.Query(ctx, q, args...)
}

// QueryRow reads one row through the reader pool.
func (db *DB) QueryRow(ctx context.Context, q string, args ...any) sqldb.Row {
	return conn{db.r}.QueryRow(ctx, q, args...)
}

// Batch runs stmts on the writer.
func (db *DB) Batch(ctx context.Context, stmts []sqldb.Stmt) error {
	return conn{db.w}.Batch(ctx, stmts)
}

// CopyFrom inserts rows on the writer.
func (db *DB) CopyFrom(ctx context.Context, table string, cols []string, rows [][]any) error {
	return conn{db.w}.CopyFrom(ctx, table, cols, rows)
}

// Tx runs fn in an IMMEDIATE transaction on the writer.
func (db *DB) Tx(ctx context.Context, fn func(sqldb.Conn) error) (err error) {
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return mapErr(err)
	}
	defer func() {
		if p := recover(); p != nil {
			tx.Rollback()
			panic(p)
		}
		if err != nil {
			tx.Rollback()
		}
	}()
	if err = fn(conn{tx}); err != nil {
		return err
	}
	return mapErr(tx.Commit())
}

type querier interface {
	PrepareContext(context.Context, string) (*sql.Stmt, error)
	ExecContext(context.Context, string, ...any) (sql.Result, error)
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
	QueryRowContext(context.Context, string, ...any) *sql.Row
}

type conn struct{ q querier }

func (conn) Dialect() sqldb.Dialect { return sqldb.SQLite }

func (c conn) Exec(ctx context.Context, q string, args ...any) (int64, error) {
	res, err := c.q.ExecContext(ctx, q, args...)
	if err != nil {
		return 0, mapErr(err)
	}
	return res.RowsAffected()
}

func (c conn) Query(ctx context.Context, q string, args ...any) (sqldb.Rows, error) {
	rs, err := c.q.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, mapErr(err)
	}
	return rows{rs}, nil
}

func (c conn) QueryRow(ctx context.Context, q string, args ...any) sqldb.Row {
	return row{c.q.QueryRowContext(ctx, q, args...)}
}

func (c conn) Batch(ctx context.Context, stmts []sqldb.Stmt) error {
	for _, s := range stmts {
		if _, err := c.Exec(ctx, s.SQL, s.Args...); err != nil {
			return err
		}
	}
	return nil
}

// CopyFrom inserts rows with one prepared statement; in-process, that is as fast as SQLite goes.
func (c conn) CopyFrom(ctx context.Context, table string, cols []string, rows [][]any) error {
	ph := make([]string, len(cols))
	for i := range cols {
		ph[i] = "$" + strconv.Itoa(i+1)
	}
	st, err := c.q.PrepareContext(ctx, "INSERT INTO "+table+" ("+strings.Join(cols, ", ")+") VALUES ("+strings.Join(ph, ", ")+")")
	if err != nil {
		return mapErr(err)
	}
	defer st.Close()
	for _, r := range rows {
		if _, err := st.ExecContext(ctx, r...); err != nil {
			return mapErr(err)
		}
	}
	return nil
}

type rows struct{ *sql.Rows }

func (r rows) Close() { r.Rows.Close() }

type row struct{ r *sql.Row }

func (r row) Scan(dest ...any) error { return mapErr(r.r.Scan(dest...)) }

func mapErr(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return sqldb.ErrNoRows
	}
	var se *sqlite3.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3lib.SQLITE_CONSTRAINT_UNIQUE, sqlite3lib.SQLITE_CONSTRAINT_PRIMARYKEY:
			// The message names the columns: "UNIQUE constraint failed: lots.owner_id, lots.code".
			table, _, _ := strings.Cut(se.Error()[strings.LastIndex(se.Error(), ": ")+2:], ".")
			return &sqldb.UniqueError{Table: table, Err: err}
		}
	}
	return err
}
