// Package testdb gives tests migrated databases: a SQLite file always, and a fresh
// PostgreSQL schema where GANPIN_TEST_DATABASE_URL is set. Under CI=true a missing
// PostgreSQL fails the test instead of skipping it.
package testdb

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/ganpin/ganpin/internal/sqldb"
	"github.com/ganpin/ganpin/internal/store/postgres"
	"github.com/ganpin/ganpin/internal/store/sqlite"
)

// Each runs fn once per backend as a subtest named after it.
func Each(t *testing.T, fn func(t *testing.T, db sqldb.DB)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) { fn(t, SQLite(t)) })
	t.Run("postgres", func(t *testing.T) { fn(t, Postgres(t)) })
}

// SQLite returns a migrated SQLite database in a temporary directory.
func SQLite(t testing.TB) sqldb.DB {
	t.Helper()
	db, err := sqlite.Open(filepath.Join(t.TempDir(), "ganpin.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	migrate(t, db)
	return db
}

// PostgresURL returns the test database URL, skipping (or failing under CI) without one.
func PostgresURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv("GANPIN_TEST_DATABASE_URL")
	if u == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("GANPIN_TEST_DATABASE_URL is not set; CI must run the PostgreSQL suite")
		}
		t.Skip("PostgreSQL suite skipped: set GANPIN_TEST_DATABASE_URL=postgres://… to run it")
	}
	return u
}

// Postgres returns a migrated, empty PostgreSQL schema of its own, dropped after the test.
func Postgres(t testing.TB) sqldb.DB {
	t.Helper()
	base := PostgresURL(t)
	ctx := context.Background()
	admin, err := postgres.Open(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 6)
	rand.Read(b)
	schema := "test_" + hex.EncodeToString(b)
	if _, err := admin.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	db, err := postgres.Open(ctx, u.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		db.Close()
		admin.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE")
		admin.Close()
	})
	migrate(t, db)
	return db
}

func migrate(t testing.TB, db sqldb.DB) {
	t.Helper()
	if _, _, err := sqldb.Migrate(context.Background(), db); err != nil {
		t.Fatal(err)
	}
}

// PostgresSchemaURL returns the URL of a migrated, empty PostgreSQL schema of its own,
// dropped after the test, for tests that start the server as a separate process.
func PostgresSchemaURL(t testing.TB) string {
	t.Helper()
	db := Postgres(t).(*postgres.DB)
	return db.Pool.Config().ConnString()
}

// Persistent returns a migrated database that outlives the test run, for benchmarks
// whose data takes long to generate: a SQLite file under the temporary directory or
// a PostgreSQL schema, both named bench_<name>. fresh reports whether it is new;
// a benchmark that finds it stale may Drop it.
func Persistent(b testing.TB, engine, name string) (db sqldb.DB, fresh bool) {
	b.Helper()
	ctx := context.Background()
	switch engine {
	case "sqlite":
		dir := filepath.Join(os.TempDir(), "ganpin-bench")
		os.MkdirAll(dir, 0o700)
		path := filepath.Join(dir, "bench_"+name+".db")
		_, err := os.Stat(path)
		d, err2 := sqlite.Open(path)
		if err2 != nil {
			b.Fatal(err2)
		}
		db, fresh = d, err != nil
	default:
		base := PostgresURL(b)
		u, err := url.Parse(base)
		if err != nil {
			b.Fatal(err)
		}
		admin, err := postgres.Open(ctx, base)
		if err != nil {
			b.Fatal(err)
		}
		defer admin.Close()
		schema := "bench_" + name
		var n int
		admin.QueryRow(ctx, `SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = $1`, schema).Scan(&n)
		if n == 0 {
			if _, err := admin.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
				b.Fatal(err)
			}
		}
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		d, err := postgres.Open(ctx, u.String())
		if err != nil {
			b.Fatal(err)
		}
		db, fresh = d, n == 0
	}
	b.Cleanup(func() { db.Close() })
	migrate(b, db)
	return db, fresh
}
