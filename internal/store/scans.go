package store

import (
	"context"
	"strings"
	"time"

	"github.com/ganpin/ganpin/cert"
	"github.com/ganpin/ganpin/internal/sqldb"
)

// Scan counters (migration 0006): written in batches by the consumer pages, outside
// the log (a count is no record anyone signs).

// ScanTallies returns the stored tallies of codes; a code never scanned has none.
func (s *Store) ScanTallies(ctx context.Context, codes []string) ([]cert.ScanTally, error) {
	var out []cert.ScanTally
	for len(codes) > 0 {
		n := min(len(codes), 500)
		args := make([]any, n)
		for i, c := range codes[:n] {
			args[i] = c
		}
		rs, err := s.db.Query(ctx, `SELECT code, scans, first_scan, last_scan, regions FROM scan_counts WHERE code IN (`+inList(1, n)+`)`, args...)
		if err != nil {
			return nil, err
		}
		for rs.Next() {
			var t cert.ScanTally
			var first, last int64
			var regions string
			if err := rs.Scan(&t.Code, &t.Scans, &first, &last, &regions); err != nil {
				rs.Close()
				return nil, err
			}
			t.First, t.Last = fromMicros(first), fromMicros(last)
			if regions != "" {
				t.Regions = strings.Split(regions, ",")
			}
			out = append(out, t)
		}
		rs.Close()
		if err := rs.Err(); err != nil {
			return nil, err
		}
		codes = codes[n:]
	}
	return out, nil
}

// AddScans adds each tally's scans to its code's count in one statement per 500
// codes: the earliest first scan and the latest last scan are kept, and the regions
// replaced by the tally's (which the caller merged with those it read).
func (s *Store) AddScans(ctx context.Context, ts []cert.ScanTally) error {
	least, greatest := "LEAST", "GREATEST"
	if s.db.Dialect() == sqldb.SQLite {
		least, greatest = "MIN", "MAX"
	}
	for len(ts) > 0 {
		n := min(len(ts), 500)
		var b strings.Builder
		args := make([]any, 0, 5*n)
		for i, t := range ts[:n] {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString("(" + inList(5*i+1, 5) + ")")
			args = append(args, t.Code, t.Scans, micros(t.First), micros(t.Last), strings.Join(t.Regions, ","))
		}
		_, err := s.db.Exec(ctx, `INSERT INTO scan_counts (code, scans, first_scan, last_scan, regions) VALUES `+b.String()+`
			ON CONFLICT (code) DO UPDATE SET scans = scan_counts.scans + excluded.scans,
			first_scan = `+least+`(scan_counts.first_scan, excluded.first_scan), last_scan = `+greatest+`(scan_counts.last_scan, excluded.last_scan),
			regions = CASE WHEN excluded.regions = '' THEN scan_counts.regions ELSE excluded.regions END`, args...)
		if err != nil {
			return err
		}
		ts = ts[n:]
	}
	return nil
}

// ScanChanges returns the certificates revoked and the lots marked non-compliant
// (issue 7's markings) from since on, and the tree size of the latest anchored
// checkpoint, for the scan pages' caches. The revocation and marking tables hold a
// row per event, few a day: the scans are cheap without an index.
func (s *Store) ScanChanges(ctx context.Context, since time.Time) (certs, lots []int64, anchored int64, err error) {
	if certs, err = column[int64](ctx, s.db, `SELECT certificate_id FROM revocations WHERE created >= $1`, micros(since)); err != nil {
		return nil, nil, 0, err
	}
	if lots, err = column[int64](ctx, s.db, `SELECT l.lot_id FROM noncompliant_lots l JOIN noncompliances n ON n.sampling_id = l.sampling_id
		WHERE n.created >= $1`, micros(since)); err != nil {
		return nil, nil, 0, err
	}
	err = s.db.QueryRow(ctx, `SELECT COALESCE(MAX(size), 0) FROM checkpoints WHERE ledger_tx IS NOT NULL`).Scan(&anchored)
	return certs, lots, anchored, err
}
