package store

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ganpin/ganpin/internal/epcis"
	"github.com/ganpin/ganpin/internal/sqldb"
	"github.com/ganpin/ganpin/trace"
)

var _ epcis.Store = (*Store)(nil)

// SiteByGLN returns the site with a GLN.
func (s *Store) SiteByGLN(ctx context.Context, gln string) (*trace.Site, error) {
	st, err := scanSite(s.db.QueryRow(ctx, `SELECT `+siteCols+` FROM sites WHERE gln = $1`, gln))
	return st, notFound(err, "site", gln)
}

// LotsByID returns the lots with the given IDs that exist, by ID.
func (s *Store) LotsByID(ctx context.Context, ids []int64) ([]trace.Lot, error) {
	var out []trace.Lot
	err := chunks(sortedIDs(ids), func(in string, args []any) error {
		ls, err := list(ctx, s.db, scanLot, `SELECT `+lotCols+` FROM lots WHERE id IN (`+in+`) ORDER BY id`, args...)
		out = append(out, ls...)
		return err
	})
	return out, err
}

// LotsByCode returns the lots of the given products and codes.
func (s *Store) LotsByCode(ctx context.Context, keys []epcis.LotKey) ([]trace.Lot, error) {
	var out []trace.Lot
	for len(keys) > 0 {
		n := min(len(keys), 200)
		conds := make([]string, n)
		args := make([]any, 0, 2*n)
		for i, k := range keys[:n] {
			conds[i] = "(product_id = $" + strconv.Itoa(2*i+1) + " AND code = $" + strconv.Itoa(2*i+2) + ")"
			args = append(args, k.Product, k.Code)
		}
		ls, err := list(ctx, s.db, scanLot, `SELECT `+lotCols+` FROM lots WHERE `+strings.Join(conds, " OR "), args...)
		if err != nil {
			return nil, err
		}
		out = append(out, ls...)
		keys = keys[n:]
	}
	return out, nil
}

// EventsByID returns the events with the given IDs that exist.
func (s *Store) EventsByID(ctx context.Context, ids []int64) ([]trace.Event, error) {
	var out []trace.Event
	err := chunks(sortedIDs(ids), func(in string, args []any) error {
		evs, err := list(ctx, s.db, scanEvent, `SELECT body FROM events WHERE id IN (`+in+`) ORDER BY id`, args...)
		out = append(out, evs...)
		return err
	})
	return out, err
}

// Kept returns the EPCIS records of events, by event.
func (s *Store) Kept(ctx context.Context, ids []int64) (map[int64]epcis.Record, error) {
	out := map[int64]epcis.Record{}
	err := chunks(sortedIDs(ids), func(in string, args []any) error {
		rs, err := s.db.Query(ctx, `SELECT event_id, hash, COALESCE(eid, ''), COALESCE(cert_info, ''), job_id IS NOT NULL FROM epcis_events WHERE event_id IN (`+in+`)`, args...)
		if err != nil {
			return err
		}
		defer rs.Close()
		for rs.Next() {
			var r epcis.Record
			var hash []byte
			var certs string
			if err := rs.Scan(&r.Event, &hash, &r.EventID, &certs, &r.Captured); err != nil {
				return err
			}
			r.Hash = "ni:///sha-256;" + hex.EncodeToString(hash) + "?ver=CBV2.0"
			if certs != "" {
				if err := json.Unmarshal([]byte(certs), &r.CertInfo); err != nil {
					return err
				}
			}
			out[r.Event] = r
		}
		return rs.Err()
	})
	return out, err
}

// Certified returns, by event, the serials of the certificates of its lots whose
// log leaves precede the event's, without a revocation before it: the commit order
// the log records, so that the answer never changes.
func (s *Store) Certified(ctx context.Context, evs []trace.Event) (map[int64][]string, error) {
	var lots, ids []int64
	for _, e := range evs {
		ids = append(ids, e.ID)
		for _, l := range e.Lots {
			lots = append(lots, l.Lot)
		}
	}
	type certLeaf struct {
		serial        string
		leaf, revoked int64
	}
	byLot := map[int64][]certLeaf{}
	err := chunks(sortedIDs(lots), func(in string, args []any) error {
		rs, err := s.db.Query(ctx, `SELECT c.lot_id, c.serial, lc.idx, COALESCE(lr.idx, -1) FROM certificates c
			JOIN log_leaves lc ON lc.kind = 'certificate' AND lc.record_id = c.id
			LEFT JOIN log_leaves lr ON lr.kind = 'revocation' AND lr.record_id = c.id
			WHERE c.lot_id IN (`+in+`)`, args...)
		if err != nil {
			return err
		}
		defer rs.Close()
		for rs.Next() {
			var lot int64
			var c certLeaf
			if err := rs.Scan(&lot, &c.serial, &c.leaf, &c.revoked); err != nil {
				return err
			}
			byLot[lot] = append(byLot[lot], c)
		}
		return rs.Err()
	})
	if err != nil || len(byLot) == 0 {
		return nil, err
	}
	leaves := map[int64]int64{}
	err = chunks(sortedIDs(ids), func(in string, args []any) error {
		rs, err := s.db.Query(ctx, `SELECT record_id, idx FROM log_leaves WHERE kind = 'event' AND record_id IN (`+in+`)`, args...)
		if err != nil {
			return err
		}
		defer rs.Close()
		for rs.Next() {
			var id, idx int64
			if err := rs.Scan(&id, &idx); err != nil {
				return err
			}
			leaves[id] = idx
		}
		return rs.Err()
	})
	out := map[int64][]string{}
	for _, e := range evs {
		leaf, ok := leaves[e.ID]
		for _, l := range e.Lots {
			for _, c := range byLot[l.Lot] {
				if ok && c.leaf < leaf && (c.revoked < 0 || c.revoked > leaf) && !slices.Contains(out[e.ID], c.serial) {
					out[e.ID] = append(out[e.ID], c.serial)
				}
			}
		}
		slices.Sort(out[e.ID])
	}
	return out, err
}

// Corrections returns, for each corrected event among ids, the event that corrects it.
func (s *Store) Corrections(ctx context.Context, ids []int64) (map[int64]int64, error) {
	out := map[int64]int64{}
	err := chunks(sortedIDs(ids), func(in string, args []any) error {
		rs, err := s.db.Query(ctx, `SELECT corrected_id, correction_id FROM corrections WHERE corrected_id IN (`+in+`)`, args...)
		if err != nil {
			return err
		}
		defer rs.Close()
		for rs.Next() {
			var a, b int64
			if err := rs.Scan(&a, &b); err != nil {
				return err
			}
			out[a] = b
		}
		return rs.Err()
	})
	return out, err
}

// EventsByEPCISID returns the events stored under EPCIS event IDs: hash IDs by
// their digest, other IDs as captured.
func (s *Store) EventsByEPCISID(ctx context.Context, ids []string) (map[string]int64, error) {
	out := map[string]int64{}
	hashes := map[string]string{}
	var hargs, eargs []any
	for _, id := range ids {
		if sum, ok := epcis.ParseHashID(id); ok {
			hashes[string(sum[:])] = id
			hargs = append(hargs, sum[:])
		} else {
			eargs = append(eargs, id)
		}
	}
	run := func(col string, args []any) error {
		for len(args) > 0 {
			n := min(len(args), 500)
			rs, err := s.db.Query(ctx, `SELECT event_id, hash, COALESCE(eid, '') FROM epcis_events WHERE `+col+` IN (`+inList(1, n)+`)`, args[:n]...)
			if err != nil {
				return err
			}
			for rs.Next() {
				var id int64
				var hash []byte
				var eid string
				if err := rs.Scan(&id, &hash, &eid); err != nil {
					rs.Close()
					return err
				}
				if col == "hash" {
					out[hashes[string(hash)]] = id
				} else {
					out[eid] = id
				}
			}
			rs.Close()
			if err := rs.Err(); err != nil {
				return err
			}
			args = args[n:]
		}
		return nil
	}
	if err := run("hash", hargs); err != nil {
		return nil, err
	}
	return out, run("eid", eargs)
}

// QueryEvents returns the events a query selects.
func (s *Store) QueryEvents(ctx context.Context, f *epcis.Filter) ([]trace.Event, error) {
	var where []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	ids := func(vs []int64) string {
		ph := make([]string, len(vs))
		for i, v := range vs {
			ph[i] = arg(v)
		}
		return strings.Join(ph, ", ")
	}
	types := func(ts []trace.EventType) string {
		ph := make([]string, len(ts))
		for i, t := range ts {
			ph[i] = arg(string(t))
		}
		return strings.Join(ph, ", ")
	}
	if f.Types != nil {
		if len(f.Types) == 0 {
			return nil, nil
		}
		where = append(where, "e.type IN ("+types(f.Types)+")")
	}
	if f.From != 0 {
		where = append(where, "e.event_time >= "+arg(f.From))
	}
	if f.To != 0 {
		where = append(where, "e.event_time < "+arg(f.To))
	}
	if len(f.Sites) > 0 {
		where = append(where, "e.site_id IN ("+ids(f.Sites)+")")
	}
	if len(f.BizSites) > 0 {
		where = append(where, "e.site_id IN ("+ids(f.BizSites)+") AND e.type <> 'shipping'")
	}
	for _, m := range f.Lots {
		var ors []string
		for _, w := range m.Ways {
			c := "e.id IN (SELECT el.event_id FROM event_lots el WHERE el.lot_id IN (" + ids(m.Lots) + ")"
			if w.Role != "" {
				c += " AND el.role = " + arg(string(w.Role))
			}
			c += ")"
			if w.Types != nil {
				c = "(" + c + " AND e.type IN (" + types(w.Types) + "))"
			}
			ors = append(ors, c)
		}
		where = append(where, "("+strings.Join(ors, " OR ")+")")
	}
	if f.Events != nil {
		if len(f.Events) == 0 {
			return nil, nil
		}
		where = append(where, "e.id IN ("+ids(f.Events)+")")
	}
	if f.Corrected {
		where = append(where, "e.id IN (SELECT corrected_id FROM corrections)")
	}
	if f.Party != 0 {
		p := arg(f.Party)
		where = append(where, "(e.site_id IN (SELECT id FROM sites WHERE party_id = "+p+") OR e.id IN (SELECT el.event_id FROM event_lots el JOIN lots l ON l.id = el.lot_id WHERE l.owner_id = "+p+" OR l.holder_id = "+p+"))")
	}
	dir, cmp := "ASC", ">"
	if f.Desc {
		dir, cmp = "DESC", "<"
	}
	order := "e.id " + dir
	if f.ByTime {
		order = "e.event_time " + dir + ", e.id " + dir
		if f.After.ID != 0 {
			where = append(where, "(e.event_time, e.id) "+cmp+" ("+arg(f.After.Time)+", "+arg(f.After.ID)+")")
		}
	} else if f.After.ID != 0 {
		where = append(where, "e.id "+cmp+" "+arg(f.After.ID))
	}
	q := `SELECT e.body FROM events e`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	q += ` ORDER BY ` + order + ` LIMIT ` + arg(f.Limit)
	return list(ctx, s.db, scanEvent, q, args...)
}

// IndexedLeaf returns the last log leaf whose event has its hash ID recorded.
func (s *Store) IndexedLeaf(ctx context.Context) (int64, error) {
	var leaf int64
	err := s.db.QueryRow(ctx, `SELECT leaf FROM epcis_index WHERE id = 1`).Scan(&leaf)
	return leaf, err
}

// Unindexed returns up to n events appended to the log after leaf, and the last
// leaf read (leaf when there are none).
func (s *Store) Unindexed(ctx context.Context, leaf int64, n int) ([]trace.Event, int64, error) {
	rs, err := s.db.Query(ctx, `SELECT l.idx, e.body FROM log_leaves l JOIN events e ON e.id = l.record_id
		WHERE l.kind = 'event' AND l.idx > $1 ORDER BY l.idx LIMIT $2`, leaf, n)
	if err != nil {
		return nil, 0, err
	}
	defer rs.Close()
	var out []trace.Event
	last := leaf
	for rs.Next() {
		var body []byte
		if err := rs.Scan(&last, &body); err != nil {
			return nil, 0, err
		}
		e, err := trace.DecodeCanonicalEvent(body)
		if err != nil {
			return nil, 0, err
		}
		out = append(out, *e)
	}
	return out, last, rs.Err()
}

// Index records events' hash IDs (leaving what captures recorded) and that the
// log is covered up to leaf.
func (s *Store) Index(ctx context.Context, rs []epcis.Record, leaf int64) error {
	return s.db.Tx(ctx, func(c sqldb.Conn) error {
		if err := insertRecords(ctx, c, rs, 0, false); err != nil {
			return err
		}
		_, err := c.Exec(ctx, `UPDATE epcis_index SET leaf = $1 WHERE id = 1 AND leaf < $1`, leaf)
		return err
	})
}

// insertRecords writes EPCIS records; replace overwrites an event's hash ID record
// with what its capture kept.
func insertRecords(ctx context.Context, c sqldb.Conn, rs []epcis.Record, job int64, replace bool) error {
	conflict := ` ON CONFLICT (event_id) DO NOTHING`
	if replace {
		conflict = ` ON CONFLICT (event_id) DO UPDATE SET hash = excluded.hash, eid = excluded.eid, cert_info = excluded.cert_info, job_id = excluded.job_id`
	}
	if c.Dialect() == sqldb.Postgres && len(rs) > 0 {
		// One statement of arrays, whatever the count.
		ids, hashes := make([]int64, len(rs)), make([][]byte, len(rs))
		eids, certs, jobs := make([]*string, len(rs)), make([]*string, len(rs)), make([]*int64, len(rs))
		for i, r := range rs {
			sum, ok := epcis.ParseHashID(r.Hash)
			if !ok {
				return errors.New("store: bad event hash ID " + strconv.Quote(r.Hash))
			}
			ids[i], hashes[i] = r.Event, sum[:]
			if r.EventID != "" {
				eids[i] = &r.EventID
			}
			if len(r.CertInfo) > 0 {
				j, err := json.Marshal(r.CertInfo)
				if err != nil {
					return err
				}
				s := string(j)
				certs[i] = &s
			}
			if job != 0 {
				jobs[i] = &job
			}
		}
		_, err := c.Exec(ctx, `INSERT INTO epcis_events (event_id, hash, eid, cert_info, job_id)
			SELECT * FROM unnest($1::bigint[], $2::bytea[], $3::text[], $4::text[], $5::bigint[])`+conflict, ids, hashes, eids, certs, jobs)
		return err
	}
	for len(rs) > 0 {
		n := min(len(rs), 500)
		var b strings.Builder
		args := make([]any, 0, 5*n)
		for i, r := range rs[:n] {
			sum, ok := epcis.ParseHashID(r.Hash)
			if !ok {
				return errors.New("store: bad event hash ID " + strconv.Quote(r.Hash))
			}
			var certs any
			if len(r.CertInfo) > 0 {
				j, err := json.Marshal(r.CertInfo)
				if err != nil {
					return err
				}
				certs = string(j)
			}
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString("(" + inList(len(args)+1, 5) + ")")
			args = append(args, r.Event, sum[:], nullable(r.EventID), certs, nullable(job))
		}
		if _, err := c.Exec(ctx, `INSERT INTO epcis_events (event_id, hash, eid, cert_info, job_id) VALUES `+b.String()+conflict, args...); err != nil {
			return err
		}
		rs = rs[n:]
	}
	return nil
}

type jobResult struct {
	Events []int64         `json:"events,omitempty"`
	Errors []epcis.Problem `json:"errors,omitempty"`
}

// CreateJob stores a capture job and its document.
func (s *Store) CreateJob(ctx context.Context, j *epcis.Job, doc []byte) error {
	return s.db.Tx(ctx, func(c sqldb.Conn) error {
		return c.QueryRow(ctx, `INSERT INTO epcis_jobs (party_id, user_id, roles, created, document) VALUES ($1, $2, $3, $4, $5) RETURNING id`,
			j.PartyID, j.UserID, trace.JoinRoles(j.Roles), micros(j.Created), doc).Scan(&j.ID)
	})
}

// Job returns a capture job.
func (s *Store) Job(ctx context.Context, id int64) (*epcis.Job, error) {
	var j epcis.Job
	var roles string
	var finished, success *int64
	var result []byte
	var created int64
	err := s.db.QueryRow(ctx, `SELECT id, party_id, user_id, roles, created, finished, success, result FROM epcis_jobs WHERE id = $1`, id).
		Scan(&j.ID, &j.PartyID, &j.UserID, &roles, &created, &finished, &success, &result)
	if err != nil {
		return nil, notFound(err, "capture job", id)
	}
	j.Created = fromMicros(created)
	if j.Roles, err = trace.ParseRoles(roles); err != nil {
		return nil, err
	}
	if finished != nil {
		j.Finished, j.Success = fromMicros(*finished), success != nil && *success == 1
	}
	if result != nil {
		var r jobResult
		if err := json.Unmarshal(result, &r); err != nil {
			return nil, err
		}
		j.Events, j.Errors = r.Events, r.Errors
	}
	return &j, nil
}

// JobDocument returns the document of a job that has not run.
func (s *Store) JobDocument(ctx context.Context, id int64) ([]byte, error) {
	var doc []byte
	err := s.db.QueryRow(ctx, `SELECT document FROM epcis_jobs WHERE id = $1 AND document IS NOT NULL`, id).Scan(&doc)
	return doc, notFound(err, "capture job", id)
}

// PendingJobs returns the jobs not finished yet, oldest first.
func (s *Store) PendingJobs(ctx context.Context) ([]int64, error) {
	return column[int64](ctx, s.db, `SELECT id FROM epcis_jobs WHERE finished IS NULL ORDER BY id`)
}

// FinishJob records a job's outcome, drops its document and keeps its events'
// records and its attachments.
func (s *Store) FinishJob(ctx context.Context, j *epcis.Job, kept []epcis.Record, atts []epcis.Attachment) error {
	result, err := json.Marshal(jobResult{Events: j.Events, Errors: j.Errors})
	if err != nil {
		return err
	}
	success := 0
	if j.Success {
		success = 1
	}
	return s.db.Tx(ctx, func(c sqldb.Conn) error {
		if err := insertRecords(ctx, c, kept, j.ID, true); err != nil {
			return err
		}
		for _, a := range atts {
			sum, ok := epcis.ParseHashID(a.Hash)
			if !ok {
				return errors.New("store: bad event hash ID " + strconv.Quote(a.Hash))
			}
			var id int64
			if err := c.QueryRow(ctx, `INSERT INTO epcis_attachments (party_id, job_id, event_time, hash, eid, body) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
				j.PartyID, j.ID, micros(a.Time), sum[:], nullable(a.EventID), []byte(a.Body)).Scan(&id); err != nil {
				return err
			}
			for _, l := range sortedIDs(a.Lots) {
				if _, err := c.Exec(ctx, `INSERT INTO epcis_attachment_lots (lot_id, attachment_id) VALUES ($1, $2)`, l, id); err != nil {
					return err
				}
			}
		}
		_, err := c.Exec(ctx, `UPDATE epcis_jobs SET finished = $2, success = $3, result = $4, document = NULL WHERE id = $1`,
			j.ID, micros(j.Finished), success, result)
		return err
	})
}

// Attachments returns the attachments naming any of lots, each once, oldest first,
// with when they were kept (their job's end).
func (s *Store) Attachments(ctx context.Context, lots []int64) ([]epcis.Attachment, []time.Time, error) {
	var out []epcis.Attachment
	var kept []time.Time
	seen := map[int64]bool{}
	err := chunks(sortedIDs(lots), func(in string, args []any) error {
		rs, err := s.db.Query(ctx, `SELECT a.id, a.event_time, a.hash, COALESCE(a.eid, ''), a.body, COALESCE(j.finished, j.created) FROM epcis_attachments a
			JOIN epcis_jobs j ON j.id = a.job_id
			WHERE a.id IN (SELECT attachment_id FROM epcis_attachment_lots WHERE lot_id IN (`+in+`)) ORDER BY a.id`, args...)
		if err != nil {
			return err
		}
		defer rs.Close()
		for rs.Next() {
			var id, t, k int64
			var a epcis.Attachment
			var hash, body []byte
			if err := rs.Scan(&id, &t, &hash, &a.EventID, &body, &k); err != nil {
				return err
			}
			if seen[id] {
				continue
			}
			seen[id] = true
			a.Time, a.Hash, a.Body = fromMicros(t), "ni:///sha-256;"+hex.EncodeToString(hash)+"?ver=CBV2.0", body
			out = append(out, a)
			kept = append(kept, fromMicros(k))
		}
		return rs.Err()
	})
	return out, kept, err
}
