package sqldb

import (
	"context"
	"strconv"
	"strings"
)

// copyThreshold is the row count from which Writes inserts with CopyFrom.
const copyThreshold = 64

// Writes collects statements and inserts and runs them in as few round trips as the
// engine allows: queued statements go in one Batch, large inserts by CopyFrom.
type Writes struct {
	stmts []Stmt
}

// Add queues statements.
func (w *Writes) Add(stmts ...Stmt) { w.stmts = append(w.stmts, stmts...) }

// Insert writes rows into table's columns: a large set at once with CopyFrom (after
// the statements queued before it), a small one as queued multi-row INSERTs.
func (w *Writes) Insert(ctx context.Context, c Conn, table string, cols []string, rows [][]any) error {
	if len(rows) >= copyThreshold {
		if err := w.Run(ctx, c); err != nil {
			return err
		}
		return c.CopyFrom(ctx, table, cols, rows)
	}
	for len(rows) > 0 {
		n := min(len(rows), 500)
		w.stmts = append(w.stmts, MultiInsert(table, cols, rows[:n]))
		rows = rows[n:]
	}
	return nil
}

// Run sends the queued statements.
func (w *Writes) Run(ctx context.Context, c Conn) error {
	err := c.Batch(ctx, w.stmts)
	w.stmts = w.stmts[:0]
	return err
}

// MultiInsert returns one INSERT of rows.
func MultiInsert(table string, cols []string, rows [][]any) Stmt {
	var b strings.Builder
	args := make([]any, 0, len(rows)*len(cols))
	b.WriteString("INSERT INTO " + table + " (" + strings.Join(cols, ", ") + ") VALUES ")
	for i, r := range rows {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('(')
		for j := range r {
			if j > 0 {
				b.WriteString(", ")
			}
			b.WriteString("$" + strconv.Itoa(len(args)+j+1))
		}
		b.WriteByte(')')
		args = append(args, r...)
	}
	return Stmt{SQL: b.String(), Args: args}
}
