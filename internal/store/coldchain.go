package store

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/ganpin/ganpin/internal/sqldb"
	"github.com/ganpin/ganpin/internal/tlog"
	"github.com/ganpin/ganpin/trace"
)

// Cold chain and orders: devices, assignments, readings, leg summaries, sales
// channels, orders and the webhook outbox (migration 0004).

var (
	_ trace.ColdChainStore = (*Store)(nil)
	_ trace.ColdChainTx    = (*tx)(nil)
)

const deviceCols = `id, party_id, serial, model, created`

func scanDevice(r sqldb.Row) (*trace.Device, error) {
	var d trace.Device
	var created int64
	err := r.Scan(&d.ID, &d.PartyID, &d.Serial, &d.Model, &created)
	d.Created = fromMicros(created)
	return &d, err
}

func (q queries) Device(ctx context.Context, id int64) (*trace.Device, error) {
	d, err := scanDevice(q.c.QueryRow(ctx, `SELECT `+deviceCols+` FROM devices WHERE id = $1`, id))
	return d, notFound(err, "device", id)
}

func (q queries) DeviceIDs(ctx context.Context, serials []string) (map[string]int64, error) {
	out := make(map[string]int64, len(serials))
	for len(serials) > 0 {
		n := min(len(serials), 500)
		args := make([]any, n)
		for i, s := range serials[:n] {
			args[i] = s
		}
		rs, err := q.c.Query(ctx, `SELECT serial, id FROM devices WHERE serial IN (`+inList(1, n)+`)`, args...)
		if err != nil {
			return nil, err
		}
		for rs.Next() {
			var s string
			var id int64
			if err := rs.Scan(&s, &id); err != nil {
				rs.Close()
				return nil, err
			}
			out[s] = id
		}
		rs.Close()
		if err := rs.Err(); err != nil {
			return nil, err
		}
		serials = serials[n:]
	}
	return out, nil
}

func (q queries) Devices(ctx context.Context, partyID int64, pg trace.Page) ([]trace.Device, error) {
	after, n := limit(pg)
	if partyID == 0 {
		return list(ctx, q.c, scanDevice, `SELECT `+deviceCols+` FROM devices WHERE id < $1 ORDER BY id DESC LIMIT $2`, after, n)
	}
	return list(ctx, q.c, scanDevice, `SELECT `+deviceCols+` FROM devices WHERE party_id = $3 AND id < $1 ORDER BY id DESC LIMIT $2`, after, n, partyID)
}

func (t *tx) InsertDevice(ctx context.Context, d *trace.Device) error {
	if err := t.guard(ctx); err != nil {
		return err
	}
	err := t.c.QueryRow(ctx, `INSERT INTO devices (party_id, serial, model, created) VALUES ($1, $2, $3, $4) RETURNING id`,
		d.PartyID, d.Serial, d.Model, micros(d.Created)).Scan(&d.ID)
	if errors.Is(err, sqldb.ErrUnique) {
		return trace.Conflict("serial", "duplicate_serial", "该设备编号已登记", "a device with this serial is registered")
	}
	return err
}

const assignmentCols = `id, device_id, party_id, kind, COALESCE(shipment_id, 0), COALESCE(container, ''), COALESCE(site_id, 0), COALESCE(room, ''), valid_from, COALESCE(valid_to, 0), created`

func scanAssignment(r sqldb.Row) (*trace.Assignment, error) {
	var a trace.Assignment
	var from, to, created int64
	err := r.Scan(&a.ID, &a.DeviceID, &a.PartyID, &a.Kind, &a.Shipment, &a.Container, &a.Site, &a.Room, &from, &to, &created)
	a.From, a.Created = fromMicros(from), fromMicros(created)
	if to != 0 {
		a.To = fromMicros(to)
	}
	return &a, err
}

func (q queries) Assignment(ctx context.Context, id int64) (*trace.Assignment, error) {
	a, err := scanAssignment(q.c.QueryRow(ctx, `SELECT `+assignmentCols+` FROM assignments WHERE id = $1`, id))
	return a, notFound(err, "assignment", id)
}

func (q queries) Assignments(ctx context.Context, f trace.AssignmentFilter) ([]trace.Assignment, error) {
	var where string
	var arg any
	switch {
	case f.DeviceID != 0:
		where, arg = "device_id = $1", f.DeviceID
	case f.Shipment != 0:
		where, arg = "shipment_id = $1", f.Shipment
	case f.Container != "":
		where, arg = "container = $1", f.Container
	case f.Site != 0:
		where, arg = "site_id = $1", f.Site
	default:
		return nil, errors.New("store: an assignment filter selects nothing")
	}
	return list(ctx, q.c, scanAssignment, `SELECT `+assignmentCols+` FROM assignments WHERE `+where+` ORDER BY id`, arg)
}

func (t *tx) InsertAssignment(ctx context.Context, a *trace.Assignment) error {
	if err := t.guard(ctx); err != nil {
		return err
	}
	var to any
	if !a.To.IsZero() {
		to = micros(a.To)
	}
	return t.c.QueryRow(ctx, `INSERT INTO assignments (device_id, party_id, kind, shipment_id, container, site_id, room, valid_from, valid_to, created)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id`,
		a.DeviceID, a.PartyID, string(a.Kind), nullable(a.Shipment), nullable(a.Container), nullable(a.Site), nullableRoom(a), micros(a.From), to, micros(a.Created)).Scan(&a.ID)
}

// nullableRoom keeps "" as a room name of a room assignment (the whole store).
func nullableRoom(a *trace.Assignment) any {
	if a.Kind == trace.TargetRoom {
		return a.Room
	}
	return nil
}

func (t *tx) EndAssignment(ctx context.Context, id int64, to time.Time) error {
	if err := t.guard(ctx); err != nil {
		return err
	}
	_, err := t.c.Exec(ctx, `UPDATE assignments SET valid_to = $2 WHERE id = $1 AND valid_to IS NULL`, id, micros(to))
	return err
}

var readingCols = []string{"device_id", "t", "temp", "humidity", "flags"}

// Readings reads a device's readings in [from, to]: on PostgreSQL as four arrays
// in one row (a month of readings a minute is 43,200 rows), on SQLite row by row.
func (q queries) Readings(ctx context.Context, deviceID int64, from, to time.Time) ([]trace.Reading, error) {
	if q.dialect == sqldb.Postgres {
		var ts []int64
		var temps, hums []float64
		var flags []int32
		err := q.c.QueryRow(ctx, `SELECT COALESCE(array_agg(t), '{}'), COALESCE(array_agg(temp), '{}'), COALESCE(array_agg(COALESCE(humidity, 'NaN')), '{}'),
			COALESCE(array_agg(flags), '{}') FROM (SELECT t, temp, humidity, flags FROM readings WHERE device_id = $1 AND t >= $2 AND t <= $3 ORDER BY t) r`,
			deviceID, micros(from), micros(to)).Scan(&ts, &temps, &hums, &flags)
		if err != nil {
			return nil, err
		}
		out := make([]trace.Reading, len(ts))
		for i := range ts {
			out[i] = trace.Reading{DeviceID: deviceID, Time: fromMicros(ts[i]), Temp: temps[i], Humidity: hums[i], Flags: int(flags[i])}
		}
		return out, nil
	}
	// NULL humidity comes back as -Inf, which no stored reading holds (infinities are refused).
	rs, err := q.c.Query(ctx, `SELECT t, temp, IFNULL(humidity, -9e999), flags FROM readings WHERE device_id = $1 AND t >= $2 AND t <= $3 ORDER BY t`,
		deviceID, micros(from), micros(to))
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	var out []trace.Reading
	for rs.Next() {
		r := trace.Reading{DeviceID: deviceID}
		var t int64
		if err := rs.Scan(&t, &r.Temp, &r.Humidity, &r.Flags); err != nil {
			return nil, err
		}
		r.Time = fromMicros(t)
		if math.IsInf(r.Humidity, -1) {
			r.Humidity = math.NaN()
		}
		out = append(out, r)
	}
	return out, rs.Err()
}

func (q queries) CountReadings(ctx context.Context, deviceID int64, from, to time.Time) (int, error) {
	var n int
	err := q.c.QueryRow(ctx, `SELECT COUNT(*) FROM readings WHERE device_id = $1 AND t >= $2 AND t <= $3`, deviceID, micros(from), micros(to)).Scan(&n)
	return n, err
}

// copyReadings is the upload size from which PostgreSQL copies readings in bulk.
const copyReadings = 1000

// InsertReadings stores readings, ignoring those already stored. On PostgreSQL a
// small batch (telemetry) is one INSERT of arrays ON CONFLICT DO NOTHING. Otherwise
// the readings already stored are dropped (one range query per device) and the
// rest copied in: on PostgreSQL with COPY, behind a savepoint so that a concurrent
// upload of the same readings falls back to inserting rather than failing; on
// SQLite, the single writer, with one prepared statement.
func (t *tx) InsertReadings(ctx context.Context, rs []trace.Reading) (int, error) {
	if err := t.guard(ctx); err != nil {
		return 0, err
	}
	if t.dialect == sqldb.Postgres && len(rs) < copyReadings {
		ds, ts, temps, hums, flags := make([]int64, len(rs)), make([]int64, len(rs)), make([]float64, len(rs)), make([]float64, len(rs)), make([]int16, len(rs))
		for i, r := range rs {
			ds[i], ts[i], temps[i], hums[i], flags[i] = r.DeviceID, micros(r.Time), r.Temp, r.Humidity, int16(r.Flags)
		}
		n, err := t.c.Exec(ctx, `INSERT INTO readings (device_id, t, temp, humidity, flags)
			SELECT d, t, temp, NULLIF(h, 'NaN'), f FROM unnest($1::bigint[], $2::bigint[], $3::float8[], $4::float8[], $5::int2[]) AS x(d, t, temp, h, f)
			ON CONFLICT (device_id, t) DO NOTHING`, ds, ts, temps, hums, flags)
		return int(n), err
	}
	var fresh []trace.Reading
	for i := 0; i < len(rs); {
		j := i
		for j < len(rs) && rs[j].DeviceID == rs[i].DeviceID {
			j++
		}
		have, err := column[int64](ctx, t.c, `SELECT t FROM readings WHERE device_id = $1 AND t >= $2 AND t <= $3`,
			rs[i].DeviceID, micros(rs[i].Time), micros(rs[j-1].Time))
		if err != nil {
			return 0, err
		}
		stored := make(map[int64]bool, len(have))
		for _, us := range have {
			stored[us] = true
		}
		for _, r := range rs[i:j] {
			if !stored[micros(r.Time)] {
				fresh = append(fresh, r)
			}
		}
		i = j
	}
	if len(fresh) == 0 {
		return 0, nil
	}
	rows := readingRows(fresh)
	if t.dialect == sqldb.SQLite { // the single writer: nothing can slip in between
		return len(rows), t.c.CopyFrom(ctx, "readings", readingCols, rows)
	}
	if _, err := t.c.Exec(ctx, "SAVEPOINT readings"); err != nil {
		return 0, err
	}
	err := t.c.CopyFrom(ctx, "readings", readingCols, rows)
	if err == nil {
		_, err = t.c.Exec(ctx, "RELEASE SAVEPOINT readings")
		return len(rows), err
	}
	if !errors.Is(err, sqldb.ErrUnique) {
		return 0, err
	}
	if _, err := t.c.Exec(ctx, "ROLLBACK TO SAVEPOINT readings"); err != nil {
		return 0, err
	}
	return t.insertIgnoring(ctx, rows)
}

// readingRows returns readings as rows of readingCols, NULL for no humidity.
func readingRows(rs []trace.Reading) [][]any {
	rows := make([][]any, len(rs))
	for i, r := range rs {
		var h any
		if !math.IsNaN(r.Humidity) {
			h = r.Humidity
		}
		rows[i] = []any{r.DeviceID, micros(r.Time), r.Temp, h, r.Flags}
	}
	return rows
}

// insertIgnoring inserts rows of readings in multi-row statements, skipping those
// stored meanwhile, and returns how many it added.
func (t *tx) insertIgnoring(ctx context.Context, rows [][]any) (int, error) {
	n := 0
	for len(rows) > 0 {
		k := min(len(rows), 500)
		st := sqldb.MultiInsert("readings", readingCols, rows[:k])
		added, err := t.c.Exec(ctx, st.SQL+" ON CONFLICT (device_id, t) DO NOTHING", st.Args...)
		if err != nil {
			return 0, err
		}
		n += int(added)
		rows = rows[k:]
	}
	return n, nil
}

// ReserveRecordIDs hands out IDs of leg summaries and orders, which their
// canonical bytes include (see ReserveIDs).
func (t *tx) ReserveRecordIDs(ctx context.Context, kind string, n int) ([]int64, error) {
	table := map[string]string{"leg_summary": "leg_summaries", "order": "orders"}[kind]
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

func (q queries) LegSummaries(ctx context.Context, legID int64) ([]trace.LegSummary, error) {
	return list(ctx, q.c, scanBody(trace.DecodeLegSummary), `SELECT body FROM leg_summaries WHERE leg_id = $1 ORDER BY version DESC`, legID)
}

// scanBody scans a record from its canonical bytes.
func scanBody[T any](decode func([]byte) (*T, error)) func(sqldb.Row) (*T, error) {
	return func(r sqldb.Row) (*T, error) {
		var b []byte
		if err := r.Scan(&b); err != nil {
			return nil, err
		}
		return decode(b)
	}
}

// InsertLegSummary writes a summary and queues its log leaf.
func (t *tx) InsertLegSummary(ctx context.Context, ls *trace.LegSummary) error {
	if err := t.guard(ctx); err != nil {
		return err
	}
	_, err := t.c.Exec(ctx, `INSERT INTO leg_summaries (id, leg_id, version, party_id, created, body) VALUES ($1, $2, $3, $4, $5, $6)`,
		ls.ID, ls.Leg.ID, ls.Version, ls.PartyID, micros(ls.Recorded), ls.Canonical)
	if errors.Is(err, sqldb.ErrUnique) {
		return trace.Conflict("", "leg_sealed_concurrently", "该段正在被同时封存，请重试", "this leg was sealed by a concurrent request; try again")
	}
	if err == nil {
		t.leaves = append(t.leaves, tlog.Leaf{Kind: "leg_summary", RecordID: ls.ID, Data: ls.Canonical})
	}
	return err
}

const channelCols = `id, owner_id, platform_id, created, COALESCE(ended, 0)`

func scanChannel(r sqldb.Row) (*trace.SalesChannel, error) {
	var c trace.SalesChannel
	var created, ended int64
	err := r.Scan(&c.ID, &c.OwnerID, &c.PlatformID, &created, &ended)
	c.Created = fromMicros(created)
	if ended != 0 {
		c.Ended = fromMicros(ended)
	}
	return &c, err
}

func (q queries) SalesChannel(ctx context.Context, ownerID, platformID int64) (*trace.SalesChannel, error) {
	c, err := scanChannel(q.c.QueryRow(ctx, `SELECT `+channelCols+` FROM sales_channels WHERE owner_id = $1 AND platform_id = $2`, ownerID, platformID))
	return c, notFound(err, "sales channel", platformID)
}

func (q queries) SalesChannels(ctx context.Context, partyID int64) ([]trace.SalesChannel, error) {
	return list(ctx, q.c, scanChannel, `SELECT `+channelCols+` FROM sales_channels WHERE owner_id = $1 OR platform_id = $1 ORDER BY id`, partyID)
}

func (t *tx) SaveSalesChannel(ctx context.Context, c *trace.SalesChannel) error {
	if err := t.guard(ctx); err != nil {
		return err
	}
	var ended any
	if !c.Ended.IsZero() {
		ended = micros(c.Ended)
	}
	if c.ID != 0 {
		_, err := t.c.Exec(ctx, `UPDATE sales_channels SET created = $2, ended = $3 WHERE id = $1`, c.ID, micros(c.Created), ended)
		return err
	}
	err := t.c.QueryRow(ctx, `INSERT INTO sales_channels (owner_id, platform_id, created, ended) VALUES ($1, $2, $3, $4) RETURNING id`,
		c.OwnerID, c.PlatformID, micros(c.Created), ended).Scan(&c.ID)
	if errors.Is(err, sqldb.ErrUnique) {
		return trace.Conflict("platform", "channel_exists", "该销售渠道已被同时授权", "this sales channel was granted by a concurrent request")
	}
	return err
}

func (q queries) Order(ctx context.Context, id int64) (*trace.Order, error) {
	o, err := scanBody(trace.DecodeOrder)(q.c.QueryRow(ctx, `SELECT body FROM orders WHERE id = $1`, id))
	return o, notFound(err, "order", id)
}

func (q queries) OrderByNumber(ctx context.Context, platformID int64, number string) (*trace.Order, error) {
	o, err := scanBody(trace.DecodeOrder)(q.c.QueryRow(ctx, `SELECT body FROM orders WHERE platform_id = $1 AND number = $2`, platformID, number))
	return o, notFound(err, "order", number)
}

func (q queries) Orders(ctx context.Context, f trace.OrderFilter, pg trace.Page) ([]trace.Order, error) {
	after, n := limit(pg)
	conds, args := []string{"o.id < $1"}, []any{after, n}
	add := func(cond string, v any) {
		args = append(args, v)
		conds = append(conds, strings.ReplaceAll(cond, "?", "$"+strconv.Itoa(len(args))))
	}
	if f.PlatformID != 0 {
		add("o.platform_id = ?", f.PlatformID)
	}
	if f.LotID != 0 {
		add("o.id IN (SELECT order_id FROM order_items WHERE lot_id = ?)", f.LotID)
	}
	if f.Serial != "" {
		args = append(args, f.Serial, f.Unit)
		conds = append(conds, "o.id IN (SELECT order_id FROM order_items WHERE serial = $"+strconv.Itoa(len(args)-1)+" AND unit = $"+strconv.Itoa(len(args))+")")
	}
	return list(ctx, q.c, scanBody(trace.DecodeOrder), `SELECT o.body FROM orders o WHERE `+strings.Join(conds, " AND ")+` ORDER BY o.id DESC LIMIT $2`, args...)
}

// InsertOrder writes an order with its items and queues its log leaf.
func (t *tx) InsertOrder(ctx context.Context, o *trace.Order) error {
	if err := t.guard(ctx); err != nil {
		return err
	}
	var w sqldb.Writes
	w.Add(sqldb.Stmt{SQL: `INSERT INTO orders (id, platform_id, number, order_time, created, body) VALUES ($1, $2, $3, $4, $5, $6)`,
		Args: []any{o.ID, o.PartyID, o.Spec.Number, micros(o.Time), micros(o.Recorded), o.Canonical}})
	var rows [][]any
	for _, it := range o.Spec.Items {
		if len(it.Units) == 0 {
			rows = append(rows, []any{o.ID, len(rows), it.Lot, nullable(it.Certificate), nil, it.Quantity})
		}
		for _, u := range it.Units {
			rows = append(rows, []any{o.ID, len(rows), it.Lot, it.Certificate, u, 1.0})
		}
	}
	if err := w.Insert(ctx, t.c, "order_items", []string{"order_id", "idx", "lot_id", "serial", "unit", "quantity"}, rows); err != nil {
		return err
	}
	err := w.Run(ctx, t.c)
	var ue *sqldb.UniqueError
	if errors.As(err, &ue) && ue.Table == "orders" {
		return trace.Conflict("number", "order_exists", "该订单号已被同时关联", "this order number was linked by a concurrent request")
	}
	if err == nil {
		t.leaves = append(t.leaves, tlog.Leaf{Kind: "order", RecordID: o.ID, Data: o.Canonical})
	}
	return err
}

// CertificateRef reads a certificate's lot, unit count and revocation.
func (q queries) CertificateRef(ctx context.Context, serial string) (*trace.CertRef, error) {
	var c trace.CertRef
	var body []byte
	var revoked int64
	err := q.c.QueryRow(ctx, `SELECT c.serial, c.lot_id, c.body, (SELECT COUNT(*) FROM revocations r WHERE r.certificate_id = c.id)
		FROM certificates c WHERE c.serial = $1`, serial).Scan(&c.Serial, &c.LotID, &body, &revoked)
	if err != nil {
		return nil, notFound(err, "certificate", serial)
	}
	var units struct {
		Units int `json:"units"`
	}
	if err := json.Unmarshal(body, &units); err != nil {
		return nil, err
	}
	c.Units, c.Revoked = units.Units, revoked > 0
	return &c, nil
}

func scanWebhook(r sqldb.Row) (*trace.Webhook, error) {
	var w trace.Webhook
	var created int64
	err := r.Scan(&w.PartyID, &w.URL, &w.Sealed, &created)
	w.Created = fromMicros(created)
	return &w, err
}

func (q queries) Webhook(ctx context.Context, partyID int64) (*trace.Webhook, error) {
	w, err := scanWebhook(q.c.QueryRow(ctx, `SELECT party_id, url, sealed, created FROM webhooks WHERE party_id = $1`, partyID))
	return w, notFound(err, "webhook", partyID)
}

func (q queries) WebhookKey(ctx context.Context) ([]byte, error) {
	var k []byte
	err := q.c.QueryRow(ctx, `SELECT public_key FROM webhook_key WHERE id = 1`).Scan(&k)
	return k, notFound(err, "webhook key", 1)
}

func (t *tx) SaveWebhook(ctx context.Context, w *trace.Webhook) error {
	if err := t.guard(ctx); err != nil {
		return err
	}
	_, err := t.c.Exec(ctx, `INSERT INTO webhooks (party_id, url, sealed, created) VALUES ($1, $2, $3, $4)
		ON CONFLICT (party_id) DO UPDATE SET url = excluded.url, sealed = excluded.sealed, created = excluded.created`,
		w.PartyID, w.URL, w.Sealed, micros(w.Created))
	return err
}

const deliveryCols = `id, party_id, ref, event, body, created, attempts, next_attempt, COALESCE(delivered, 0), COALESCE(failed, 0), COALESCE(last_status, 0), COALESCE(last_error, '')`

func scanDelivery(r sqldb.Row) (*trace.Delivery, error) {
	var d trace.Delivery
	var created, next, delivered, failed int64
	err := r.Scan(&d.ID, &d.PartyID, &d.Ref, &d.Event, &d.Body, &created, &d.Attempts, &next, &delivered, &failed, &d.LastStatus, &d.LastError)
	d.Created, d.NextAttempt = fromMicros(created), fromMicros(next)
	if delivered != 0 {
		d.Delivered = fromMicros(delivered)
	}
	if failed != 0 {
		d.Failed = fromMicros(failed)
	}
	return &d, err
}

func (q queries) Deliveries(ctx context.Context, partyID int64, pg trace.Page) ([]trace.Delivery, error) {
	after, n := limit(pg)
	return list(ctx, q.c, scanDelivery, `SELECT `+deliveryCols+` FROM webhook_deliveries WHERE party_id = $3 AND id < $1 ORDER BY id DESC LIMIT $2`, after, n, partyID)
}

func (t *tx) EnqueueDeliveries(ctx context.Context, ds []trace.Delivery) (int, error) {
	if err := t.guard(ctx); err != nil {
		return 0, err
	}
	n := 0
	for _, d := range ds {
		added, err := t.c.Exec(ctx, `INSERT INTO webhook_deliveries (party_id, ref, event, body, created, next_attempt) VALUES ($1, $2, $3, $4, $5, $6)
			ON CONFLICT (ref, party_id) DO NOTHING`, d.PartyID, d.Ref, d.Event, d.Body, micros(d.Created), micros(d.NextAttempt))
		if err != nil {
			return n, err
		}
		n += int(added)
	}
	return n, nil
}
