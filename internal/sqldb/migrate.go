package sqldb

import (
	"context"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
)

// migration is one numbered schema change.
type migration struct {
	version int
	name    string
	sql     string
}

func migrations(db DB) ([]migration, error) {
	files, err := fs.Glob(db.Migrations(), "*.sql")
	if err != nil {
		return nil, err
	}
	var ms []migration
	for _, f := range files {
		n, err := strconv.Atoi(strings.SplitN(f, "_", 2)[0])
		if err != nil {
			return nil, fmt.Errorf("migration %s: name must start with its number", f)
		}
		b, err := fs.ReadFile(db.Migrations(), f)
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{n, f, string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	for i, m := range ms {
		if m.version != i+1 {
			return nil, fmt.Errorf("migration %s: expected number %d", m.name, i+1)
		}
	}
	return ms, nil
}

// Version returns the schema version the database is at (0 when empty).
func Version(ctx context.Context, db DB) (int, error) {
	if _, err := db.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)`); err != nil {
		return 0, fmt.Errorf("schema version: %w", err)
	}
	var v int
	err := db.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_version`).Scan(&v)
	return v, err
}

// Migrate applies the migrations the database lacks, each in its own transaction,
// and returns the versions before and after.
func Migrate(ctx context.Context, db DB) (from, to int, err error) {
	ms, err := migrations(db)
	if err != nil {
		return 0, 0, err
	}
	from, err = Version(ctx, db)
	if err != nil {
		return 0, 0, err
	}
	if from > len(ms) {
		return from, from, fmt.Errorf("database schema version %d is newer than this binary's %d", from, len(ms))
	}
	for _, m := range ms[from:] {
		err := db.Tx(ctx, func(c Conn) error {
			if _, err := c.Exec(ctx, m.sql); err != nil {
				return err
			}
			_, err := c.Exec(ctx, `INSERT INTO schema_version (version) VALUES ($1)`, m.version)
			return err
		})
		if err != nil {
			return from, m.version - 1, fmt.Errorf("migration %s: %w", m.name, err)
		}
	}
	return from, len(ms), nil
}

// Check returns an error unless the database is at this binary's schema version.
func Check(ctx context.Context, db DB) error {
	ms, err := migrations(db)
	if err != nil {
		return err
	}
	v, err := Version(ctx, db)
	if err != nil {
		return err
	}
	if v != len(ms) {
		return fmt.Errorf("database schema version is %d, this binary needs %d: run `ganpin migrate`", v, len(ms))
	}
	return nil
}
