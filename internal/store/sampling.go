package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ganpin/ganpin/internal/sqldb"
	"github.com/ganpin/ganpin/internal/tlog"
	"github.com/ganpin/ganpin/trace"
)

// Inspection: sampling records, reports, follow-ups, non-compliance marks and the
// inspectors' query log (migration 0005).

var (
	_ trace.SamplingStore = (*Store)(nil)
	_ trace.SamplingTx    = (*tx)(nil)
)

const samplingCols = `s.body, COALESCE(s.verdict, ''), COALESCE(s.reported, 0), COALESCE(s.disposal_due, 0), COALESCE(s.closed, 0), COALESCE(s.published, 0)`

func scanSampling(r sqldb.Row) (*trace.Sampling, error) {
	var body []byte
	var verdict string
	var reported, due, closed, published int64
	if err := r.Scan(&body, &verdict, &reported, &due, &closed, &published); err != nil {
		return nil, err
	}
	s, err := trace.DecodeSampling(body)
	if err != nil {
		return nil, err
	}
	s.Verdict = trace.Verdict(verdict)
	for _, f := range []struct {
		t  *time.Time
		us int64
	}{{&s.Reported, reported}, {&s.DisposalDue, due}, {&s.Closed, closed}, {&s.Published, published}} {
		if f.us != 0 {
			*f.t = fromMicros(f.us)
		}
	}
	return s, nil
}

func samplingNotFound(err error, id any) error {
	if errors.Is(err, sqldb.ErrNoRows) {
		return &trace.Error{Kind: trace.KindNotFound, Code: "not_found", ZH: fmt.Sprintf("抽样记录%v不存在", id), EN: fmt.Sprintf("sampling record %v not found", id)}
	}
	return err
}

func (q queries) Sampling(ctx context.Context, id int64) (*trace.Sampling, error) {
	s, err := scanSampling(q.c.QueryRow(ctx, `SELECT `+samplingCols+` FROM samplings s WHERE s.id = $1`, id))
	return s, samplingNotFound(err, id)
}

func (q queries) SamplingByNumber(ctx context.Context, number string) (*trace.Sampling, error) {
	s, err := scanSampling(q.c.QueryRow(ctx, `SELECT `+samplingCols+` FROM samplings s WHERE s.number = $1`, number))
	return s, samplingNotFound(err, number)
}

func (q queries) SamplingReports(ctx context.Context, samplingID int64) ([]trace.Report, error) {
	rs, err := q.c.Query(ctx, `SELECT body, COALESCE(ledger_tx, '') FROM sampling_reports WHERE sampling_id = $1 ORDER BY id`, samplingID)
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	var out []trace.Report
	for rs.Next() {
		var body []byte
		var txID string
		if err := rs.Scan(&body, &txID); err != nil {
			return nil, err
		}
		r, err := trace.DecodeReport(body)
		if err != nil {
			return nil, err
		}
		r.LedgerTx = txID
		out = append(out, *r)
	}
	return out, rs.Err()
}

func (q queries) SamplingActions(ctx context.Context, samplingID int64) ([]trace.Action, error) {
	return list(ctx, q.c, scanBody(trace.DecodeAction), `SELECT body FROM sampling_actions WHERE sampling_id = $1 ORDER BY id`, samplingID)
}

func (q queries) SamplingPhoto(ctx context.Context, samplingID int64, n int) ([]byte, error) {
	var b []byte
	err := q.c.QueryRow(ctx, `SELECT data FROM sampling_photos WHERE sampling_id = $1 AND n = $2`, samplingID, n).Scan(&b)
	return b, notFound(err, "photo", n)
}

// divisionRange turns a county-code prefix into the range of codes it covers; codes
// are six digits, which compare alike under every collation.
func divisionRange(prefix string) (lo, hi string) {
	return prefix + strings.Repeat("0", 6-len(prefix)), prefix + strings.Repeat("9", 6-len(prefix))
}

// countyCond selects the records of a county-code prefix: a county by the
// (county, id) index, which keeps the newest-first order; a city or province by a
// range the planner is kept from sorting by (most records match it anyway).
//
// Codes are digits only, so they are written into the SQL as literals: a prepared
// statement's generic plan (PostgreSQL's after five runs) cannot see how selective
// a county or a verdict is and walks the whole key instead.
func countyCond(prefix string) (string, []any) {
	if strings.Trim(prefix, "0123456789") != "" {
		return "FALSE", nil
	}
	if len(prefix) == 6 {
		return "s.county = '" + prefix + "'", nil
	}
	lo, hi := divisionRange(prefix)
	return "s.county || '' BETWEEN '" + lo + "' AND '" + hi + "'", nil
}

// likeContains is a LIKE pattern matching s anywhere, with its wildcards escaped.
func likeContains(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return "%" + r.Replace(s) + "%"
}

// conds builds a WHERE clause: conditions with ? placeholders numbered after args.
type conds struct {
	where []string
	args  []any
}

func (c *conds) add(cond string, vs ...any) {
	for _, v := range vs {
		c.args = append(c.args, v)
		cond = strings.Replace(cond, "?", "$"+strconv.Itoa(len(c.args)), 1)
	}
	c.where = append(c.where, cond)
}

func (q queries) SearchSamplings(ctx context.Context, f trace.SamplingFilter, pg trace.Page) ([]trace.Sampling, error) {
	after, n := limit(pg)
	c := &conds{args: []any{after, n}, where: []string{"s.id < $1"}}
	county := ""
	if f.County != "" {
		county = f.County
		switch {
		case strings.HasSuffix(county, "0000"):
			county = county[:2]
		case strings.HasSuffix(county, "00"):
			county = county[:4]
		}
	}
	// A county asked for within the jurisdiction makes the jurisdiction redundant.
	if f.Counties != nil && (county == "" || !slices.ContainsFunc(f.Counties, func(p string) bool { return strings.HasPrefix(county, p) })) {
		if len(f.Counties) == 0 {
			return nil, nil
		}
		var or []string
		var vs []any
		for _, p := range f.Counties {
			cond, args := countyCond(p)
			or, vs = append(or, cond), append(vs, args...)
		}
		c.add("("+strings.Join(or, " OR ")+")", vs...)
	}
	if county != "" {
		cond, args := countyCond(county)
		c.add(cond, args...)
	}
	if f.ForParty != 0 {
		c.add("(s.sampled_id = ? OR s.producer_id = ? OR s.lot_id IN (SELECT id FROM lots WHERE owner_id = ? OR holder_id = ?))", f.ForParty, f.ForParty, f.ForParty, f.ForParty)
	}
	if f.PartyID != 0 {
		c.add("(s.sampled_id = ? OR s.producer_id = ?)", f.PartyID, f.PartyID)
	}
	if f.Party != "" {
		p := likeContains(f.Party)
		c.add(`(s.sampled_party LIKE ? ESCAPE '\' OR s.producer LIKE ? ESCAPE '\')`, p, p)
	}
	if f.Product != "" {
		c.add(`s.product LIKE ? ESCAPE '\'`, likeContains(f.Product))
	}
	if !f.From.IsZero() { // integer literals, as countyCond's
		c.add("s.sampled_at >= " + strconv.FormatInt(micros(f.From), 10))
	}
	if !f.To.IsZero() {
		c.add("s.sampled_at < " + strconv.FormatInt(micros(f.To), 10))
	}
	switch f.Verdict {
	case "":
	case "pending":
		c.add("s.verdict IS NULL")
	case string(trace.Pass), string(trace.Fail): // a literal, as countyCond's
		c.add("s.verdict = '" + f.Verdict + "'")
	default:
		c.add("s.verdict = ?", f.Verdict)
	}
	if f.Item != "" {
		c.add("EXISTS (SELECT 1 FROM sampling_items i WHERE i.item = ? AND i.sampling_id = s.id)", f.Item)
	}
	if f.LotID != 0 {
		c.add("s.lot_id = ?", f.LotID)
	}
	// Newest first is the primary key's order, which planners like to walk with LIMIT;
	// for a window of a few months the time index finds the rows sooner, so the key
	// is hidden from the planner (+s.id) and the few rows found are sorted.
	order := "s.id"
	if !f.From.IsZero() && !f.To.IsZero() && f.To.Sub(f.From) <= 100*24*time.Hour {
		order = "+s.id"
		c.where[0] = "+s.id < $1"
	}
	return list(ctx, q.c, scanSampling, `SELECT `+samplingCols+` FROM samplings s WHERE `+strings.Join(c.where, " AND ")+` ORDER BY `+order+` DESC LIMIT $2`, c.args...)
}

func (q queries) OverdueSamplings(ctx context.Context, counties []string, now time.Time, pg trace.Page) ([]trace.Sampling, error) {
	after, n := limit(pg)
	c := &conds{args: []any{after, n}, where: []string{"s.id < $1"}}
	if counties != nil {
		if len(counties) == 0 {
			return nil, nil
		}
		var or []string
		var vs []any
		for _, p := range counties {
			cond, args := countyCond(p)
			or, vs = append(or, cond), append(vs, args...)
		}
		c.add("("+strings.Join(or, " OR ")+")", vs...)
	}
	us := micros(now)
	c.add("(s.id IN (SELECT id FROM samplings WHERE reported IS NULL AND report_due < ?) OR s.id IN (SELECT id FROM samplings WHERE disposal_due IS NOT NULL AND closed IS NULL AND disposal_due < ?))", us, us)
	return list(ctx, q.c, scanSampling, `SELECT `+samplingCols+` FROM samplings s WHERE `+strings.Join(c.where, " AND ")+` ORDER BY s.id DESC LIMIT $2`, c.args...)
}

func (q queries) NonCompliant(ctx context.Context, lotIDs []int64) ([]trace.NonCompliance, error) {
	var out []trace.NonCompliance
	err := chunks(sortedIDs(lotIDs), func(in string, args []any) error {
		rs, err := q.c.Query(ctx, `SELECT n.lot_id, n.sampling_id, s.number, COALESCE(s.reported, 0) FROM noncompliant_lots n JOIN samplings s ON s.id = n.sampling_id
			WHERE s.verdict = '不合格' AND n.lot_id IN (`+in+`) ORDER BY n.lot_id, n.sampling_id`, args...)
		if err != nil {
			return err
		}
		defer rs.Close()
		for rs.Next() {
			var m trace.NonCompliance
			var t int64
			if err := rs.Scan(&m.LotID, &m.SamplingID, &m.Number, &t); err != nil {
				return err
			}
			m.Time = fromMicros(t)
			out = append(out, m)
		}
		return rs.Err()
	})
	return out, err
}

func sortedIDs(ids []int64) []int64 {
	s := slices.Clone(ids)
	slices.Sort(s)
	return slices.Compact(s)
}

// Downstream walks the lot graph forward from many roots at once.
func (q queries) Downstream(ctx context.Context, roots []int64) ([]trace.Lot, []trace.Edge, error) {
	seen := map[int64]bool{}
	var ids []int64
	err := chunks(sortedIDs(roots), func(in string, args []any) error {
		found, err := column[int64](ctx, q.c, `WITH RECURSIVE down(id) AS (SELECT id FROM lots WHERE id IN (`+in+`)
			UNION SELECT e.child_id FROM lot_edges e JOIN down ON e.parent_id = down.id) SELECT id FROM down`, args...)
		for _, id := range found {
			if !seen[id] {
				seen[id] = true
				ids = append(ids, id)
			}
		}
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	slices.Sort(ids)
	var lots []trace.Lot
	var edges []trace.Edge
	err = chunks(ids, func(in string, args []any) error {
		ls, err := list(ctx, q.c, scanLot, `SELECT `+lotCols+` FROM lots WHERE id IN (`+in+`) ORDER BY id`, args...)
		lots = append(lots, ls...)
		if err != nil {
			return err
		}
		rs, err := q.c.Query(ctx, `SELECT parent_id, child_id, event_id FROM lot_edges WHERE parent_id IN (`+in+`) ORDER BY parent_id, child_id`, args...)
		if err != nil {
			return err
		}
		defer rs.Close()
		for rs.Next() {
			var e trace.Edge
			if err := rs.Scan(&e.Parent, &e.Child, &e.Event); err != nil {
				return err
			}
			edges = append(edges, e)
		}
		return rs.Err()
	})
	return lots, edges, err
}

func (q queries) Harvests(ctx context.Context, siteID int64, from, to time.Time) ([]trace.Lot, error) {
	return list(ctx, q.c, scanLot, `SELECT `+lotCols+` FROM lots WHERE event_id IN (SELECT id FROM events
		WHERE site_id = $1 AND type = 'harvest' AND event_time >= $2 AND event_time < $3) ORDER BY id`, siteID, micros(from), micros(to))
}

func (q queries) LotCertificates(ctx context.Context, lotIDs []int64) ([]trace.CertRef, error) {
	var out []trace.CertRef
	err := chunks(sortedIDs(lotIDs), func(in string, args []any) error {
		rs, err := q.c.Query(ctx, `SELECT c.serial, c.lot_id, c.body, (SELECT COUNT(*) FROM revocations r WHERE r.certificate_id = c.id)
			FROM certificates c WHERE c.lot_id IN (`+in+`) ORDER BY c.lot_id`, args...)
		if err != nil {
			return err
		}
		defer rs.Close()
		for rs.Next() {
			var c trace.CertRef
			var body []byte
			var revoked int64
			if err := rs.Scan(&c.Serial, &c.LotID, &body, &revoked); err != nil {
				return err
			}
			var units struct {
				Units int `json:"units"`
			}
			if err := json.Unmarshal(body, &units); err != nil {
				return err
			}
			c.Units, c.Revoked = units.Units, revoked > 0
			out = append(out, c)
		}
		return rs.Err()
	})
	return out, err
}

func (q queries) LotOrders(ctx context.Context, lotIDs []int64) ([]trace.Order, error) {
	seen := map[int64]bool{}
	var out []trace.Order
	err := chunks(sortedIDs(lotIDs), func(in string, args []any) error {
		os, err := list(ctx, q.c, scanBody(trace.DecodeOrder), `SELECT body FROM orders WHERE id IN (SELECT order_id FROM order_items WHERE lot_id IN (`+in+`)) ORDER BY id`, args...)
		for _, o := range os {
			if !seen[o.ID] {
				seen[o.ID] = true
				out = append(out, o)
			}
		}
		return err
	})
	slices.SortFunc(out, func(x, y trace.Order) int { return int(x.ID - y.ID) })
	return out, err
}

func (q queries) SiteEvents(ctx context.Context, siteIDs []int64, from, to time.Time, pg trace.Page) ([]trace.Event, error) {
	after, n := limit(pg)
	ids := sortedIDs(siteIDs)
	if len(ids) == 0 || len(ids) > 500 {
		return nil, fmt.Errorf("store: events of %d sites (1 to 500)", len(ids))
	}
	args := []any{after, n, micros(from), micros(to)}
	for _, id := range ids {
		args = append(args, id)
	}
	return list(ctx, q.c, scanEvent, `SELECT body FROM events WHERE id < $1 AND event_time >= $3 AND event_time < $4 AND site_id IN (`+inList(5, len(ids))+`)
		ORDER BY id DESC LIMIT $2`, args...)
}

func (q queries) AuditEntries(ctx context.Context, partyID int64, pg trace.Page) ([]trace.AuditEntry, error) {
	after, n := limit(pg)
	if partyID == 0 {
		return list(ctx, q.c, scanBody(trace.DecodeAuditEntry), `SELECT body FROM inspection_audit WHERE id < $1 ORDER BY id DESC LIMIT $2`, after, n)
	}
	return list(ctx, q.c, scanBody(trace.DecodeAuditEntry), `SELECT body FROM inspection_audit WHERE party_id = $3 AND id < $1 ORDER BY id DESC LIMIT $2`, after, n, partyID)
}

var samplingTables = map[string]string{"sampling": "samplings", "sampling_report": "sampling_reports", "sampling_action": "sampling_actions", "inspection_query": "inspection_audit"}

// ReserveSamplingIDs hands out IDs of inspection records, which their canonical
// bytes include (see ReserveIDs).
func (t *tx) ReserveSamplingIDs(ctx context.Context, kind string, n int) ([]int64, error) {
	table := samplingTables[kind]
	if table == "" || n < 1 {
		return nil, errors.New("store: reserve ids of kind " + strconv.Quote(kind))
	}
	if t.dialect == sqldb.Postgres {
		return t.s.ids.take(ctx, t.c, table, n)
	}
	if t.next[kind] == 0 {
		var next int64
		if err := t.c.QueryRow(ctx, `SELECT COALESCE(MAX(id), 0) + 1 FROM `+table).Scan(&next); err != nil {
			return nil, err
		}
		t.next[kind] = next
	}
	ids := make([]int64, n)
	for i := range ids {
		ids[i] = t.next[kind]
		t.next[kind]++
	}
	return ids, nil
}

// InsertSampling writes a sampling record and its photos and queues its leaf.
func (t *tx) InsertSampling(ctx context.Context, s *trace.Sampling, photos [][]byte) error {
	if err := t.guard(ctx); err != nil {
		return err
	}
	sp := &s.Spec
	_, err := t.c.Exec(ctx, `INSERT INTO samplings (id, number, party_id, county, sampled_at, sampled_party, sampled_id, producer, producer_id, product, lot_id, report_due, created, body)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
		s.ID, sp.Number, s.PartyID, sp.Place.County, micros(s.Time), sp.Sampled.Name, nullable(sp.Sampled.Party), sp.Producer.Name, nullable(sp.Producer.Party),
		sp.Sample.Name, nullable(s.LotID), micros(s.ReportDue), micros(s.Recorded), s.Canonical)
	if errors.Is(err, sqldb.ErrUnique) {
		return trace.Conflict("number", "duplicate_number", "抽样单编号"+sp.Number+"已存在", "sampling number "+sp.Number+" is in use")
	}
	if err != nil {
		return err
	}
	for i, p := range photos {
		if _, err := t.c.Exec(ctx, `INSERT INTO sampling_photos (sampling_id, n, data) VALUES ($1, $2, $3)`, s.ID, i, p); err != nil {
			return err
		}
	}
	t.leaves = append(t.leaves, tlog.Leaf{Kind: "sampling", RecordID: s.ID, Data: s.Canonical})
	return nil
}

// InsertReport writes a report with its items and queues its leaf.
func (t *tx) InsertReport(ctx context.Context, r *trace.Report) error {
	if err := t.guard(ctx); err != nil {
		return err
	}
	retest := 0
	if r.Retest {
		retest = 1
	}
	_, err := t.c.Exec(ctx, `INSERT INTO sampling_reports (id, sampling_id, retest, verdict, created, body) VALUES ($1, $2, $3, $4, $5, $6)`,
		r.ID, r.SamplingID, retest, string(r.Verdict), micros(r.Recorded), r.Canonical)
	if errors.Is(err, sqldb.ErrUnique) {
		return trace.Conflict("number", "already_reported", "该抽样的报告已被同时录入", "this sample's report was recorded by a concurrent request")
	}
	if err != nil {
		return err
	}
	rows := make([][]any, len(r.Items))
	for i, it := range r.Items {
		rows[i] = []any{it.Item, r.SamplingID, r.ID, string(it.Verdict)}
	}
	var w sqldb.Writes
	if err := w.Insert(ctx, t.c, "sampling_items", []string{"item", "sampling_id", "report_id", "verdict"}, rows); err != nil {
		return err
	}
	if err := w.Run(ctx, t.c); err != nil {
		return err
	}
	t.leaves = append(t.leaves, tlog.Leaf{Kind: "sampling_report", RecordID: r.ID, Data: r.Canonical})
	return nil
}

// InsertAction writes a follow-up and queues its leaf.
func (t *tx) InsertAction(ctx context.Context, a *trace.Action) error {
	if err := t.guard(ctx); err != nil {
		return err
	}
	_, err := t.c.Exec(ctx, `INSERT INTO sampling_actions (id, sampling_id, kind, created, body) VALUES ($1, $2, $3, $4, $5)`,
		a.ID, a.SamplingID, string(a.Spec.Kind), micros(a.Recorded), a.Canonical)
	if errors.Is(err, sqldb.ErrUnique) {
		return trace.Conflict("kind", "already_requested", "已记录过复检申请", "a re-test request is already recorded")
	}
	if err == nil {
		t.leaves = append(t.leaves, tlog.Leaf{Kind: "sampling_action", RecordID: a.ID, Data: a.Canonical})
	}
	return err
}

// InsertMarking writes the lots a report marked and queues the marking's leaf.
func (t *tx) InsertMarking(ctx context.Context, m *trace.Marking) error {
	if err := t.guard(ctx); err != nil {
		return err
	}
	if _, err := t.c.Exec(ctx, `INSERT INTO noncompliances (report_id, sampling_id, created, body) VALUES ($1, $2, $3, $4)`,
		m.ReportID, m.SamplingID, micros(m.Time), m.Canonical); err != nil {
		return err
	}
	lots := m.Lots
	for len(lots) > 0 {
		k := min(len(lots), 500)
		rows := make([][]any, k)
		for i, id := range lots[:k] {
			rows[i] = []any{id, m.SamplingID}
		}
		st := sqldb.MultiInsert("noncompliant_lots", []string{"lot_id", "sampling_id"}, rows)
		if _, err := t.c.Exec(ctx, st.SQL+" ON CONFLICT (lot_id, sampling_id) DO NOTHING", st.Args...); err != nil {
			return err
		}
		lots = lots[k:]
	}
	t.leaves = append(t.leaves, tlog.Leaf{Kind: "noncompliance", RecordID: m.ReportID, Data: m.Canonical})
	return nil
}

// SetSamplingState stores a record's derived state; its body never changes.
func (t *tx) SetSamplingState(ctx context.Context, s *trace.Sampling) error {
	if err := t.guard(ctx); err != nil {
		return err
	}
	opt := func(v time.Time) any {
		if v.IsZero() {
			return nil
		}
		return micros(v)
	}
	_, err := t.c.Exec(ctx, `UPDATE samplings SET verdict = $2, reported = $3, disposal_due = $4, closed = $5, published = $6 WHERE id = $1`,
		s.ID, nullable(string(s.Verdict)), opt(s.Reported), opt(s.DisposalDue), opt(s.Closed), opt(s.Published))
	return err
}

// InsertAuditEntry appends to the query log and queues the entry's leaf.
func (t *tx) InsertAuditEntry(ctx context.Context, e *trace.AuditEntry) error {
	if err := t.guard(ctx); err != nil {
		return err
	}
	_, err := t.c.Exec(ctx, `INSERT INTO inspection_audit (id, party_id, user_id, created, action, row_count, body) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		e.ID, e.PartyID, e.UserID, micros(e.Time), e.Action, e.Rows, e.Canonical)
	if err == nil {
		t.leaves = append(t.leaves, tlog.Leaf{Kind: "inspection_query", RecordID: e.ID, Data: e.Canonical})
	}
	return err
}
