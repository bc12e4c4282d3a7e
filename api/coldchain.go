package api

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/ganpin/ganpin/internal/anchor"
	"github.com/ganpin/ganpin/trace"
)

// Cold chain and orders: devices, readings (JSON, CSV), assignments, legs and
// their summaries, sales channels, orders, webhooks, and the consumer's journey.

type deviceRequest struct {
	Party  int64  `json:"party,omitempty"`
	Serial string `json:"serial"`
	Model  string `json:"model,omitempty"`
}

type deviceView struct {
	ID      int64     `json:"id"`
	Party   int64     `json:"party"`
	Serial  string    `json:"serial"`
	Model   string    `json:"model,omitempty"`
	Topic   string    `json:"mqtt_topic"`
	Created time.Time `json:"created"`
}

func viewDevice(d *trace.Device) deviceView {
	return deviceView{d.ID, d.PartyID, d.Serial, d.Model, "ganpin/telemetry/" + d.Serial, d.Created}
}

type assignmentRequest struct {
	Device    int64  `json:"device"`
	Shipment  int64  `json:"shipment,omitempty"`
	Container string `json:"container,omitempty"`
	Site      int64  `json:"site,omitempty"`
	Room      string `json:"room,omitempty"`
	From      string `json:"from"`
	To        string `json:"to,omitempty"`
}

type assignmentView struct {
	ID        int64      `json:"id"`
	Device    int64      `json:"device"`
	Party     int64      `json:"party"`
	Kind      string     `json:"kind"`
	Shipment  int64      `json:"shipment,omitempty"`
	Container string     `json:"container,omitempty"`
	Site      int64      `json:"site,omitempty"`
	Room      string     `json:"room,omitempty"`
	From      time.Time  `json:"from"`
	To        *time.Time `json:"to,omitempty"`
	Created   time.Time  `json:"created"`
}

func viewAssignment(a *trace.Assignment) assignmentView {
	v := assignmentView{ID: a.ID, Device: a.DeviceID, Party: a.PartyID, Kind: string(a.Kind), Shipment: a.Shipment, Container: a.Container,
		Site: a.Site, Room: a.Room, From: a.From, Created: a.Created}
	if !a.To.IsZero() {
		v.To = &a.To
	}
	return v
}

// parseTime reads an RFC 3339 time with its offset; empty is the zero time.
func parseTime(field, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return t, trace.Invalid(field, "invalid_time", "时间格式无效，应为RFC 3339并带时区，如2026-11-20T08:30:00+08:00", "invalid time: use RFC 3339 with an offset, e.g. 2026-11-20T08:30:00+08:00")
	}
	return t, nil
}

func (s *Server) registerDevice(w http.ResponseWriter, r *http.Request) error {
	var req deviceRequest
	if err := decode(w, r, maxBody, &req); err != nil {
		return err
	}
	return create(s, w, r, func(d *trace.Device) any { return viewDevice(d) }, func(ctx context.Context, a trace.Actor) (*trace.Device, error) {
		d := &trace.Device{PartyID: req.Party, Serial: req.Serial, Model: req.Model}
		return d, s.svc.RegisterDevice(ctx, a, d)
	})
}

func (s *Server) listDevices(w http.ResponseWriter, r *http.Request) error {
	return list(w, r, viewDevice, func(d *trace.Device) int64 { return d.ID }, s.svc.Devices)
}

func (s *Server) getDevice(w http.ResponseWriter, r *http.Request) error {
	return get(w, r, viewDevice, s.svc.Device)
}

func (s *Server) deviceAssignments(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	as, err := s.svc.Assignments(r.Context(), actorFrom(r.Context()), id)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, page[assignmentView]{Items: mapSlice(as, viewAssignment)})
}

func (s *Server) assign(w http.ResponseWriter, r *http.Request) error {
	var req assignmentRequest
	if err := decode(w, r, maxBody, &req); err != nil {
		return err
	}
	from, err := parseTime("from", req.From)
	if err != nil {
		return err
	}
	to, err := parseTime("to", req.To)
	if err != nil {
		return err
	}
	return create(s, w, r, func(a *trace.Assignment) any { return viewAssignment(a) }, func(ctx context.Context, a trace.Actor) (*trace.Assignment, error) {
		as := &trace.Assignment{DeviceID: req.Device, Shipment: req.Shipment, Container: req.Container, Site: req.Site, Room: req.Room, From: from, To: to}
		return as, s.svc.Assign(ctx, a, as)
	})
}

func (s *Server) endAssignment(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	var req struct {
		Time string `json:"time"`
	}
	if err := decode(w, r, maxBody, &req); err != nil {
		return err
	}
	t, err := parseTime("time", req.Time)
	if err != nil || t.IsZero() {
		return trace.Invalid("time", "invalid_time", "请填写结束时间（RFC 3339）", "the end time (RFC 3339) is required")
	}
	return create(s, w, r, func(a *trace.Assignment) any { return viewAssignment(a) }, func(ctx context.Context, a trace.Actor) (*trace.Assignment, error) {
		return s.svc.EndAssignment(ctx, a, id, t)
	})
}

type readingsRequest struct {
	Readings []trace.ReadingInput `json:"readings"`
}

// ingest takes a batch of a device's readings as JSON or as a logger's CSV export
// (Content-Type text/csv; times without an offset in ?tz=, +08:00 by default).
func (s *Server) ingest(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	var rs []trace.Reading
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct == "text/csv" {
		loc, err := zoneOf(r.URL.Query().Get("tz"))
		if err != nil {
			return err
		}
		b, err := readBody(w, r, maxBatchBody)
		if err != nil {
			return err
		}
		if rs, err = trace.ParseReadingsCSV(bytes.NewReader(b), loc, time.Now()); err != nil {
			return err
		}
	} else {
		var req readingsRequest
		if err := decode(w, r, maxBatchBody, &req); err != nil {
			return err
		}
		if rs, err = trace.ReadingsFromInput(req.Readings); err != nil {
			return err
		}
	}
	return create(s, w, r, func(rep *trace.IngestReport) any { return rep }, func(ctx context.Context, a trace.Actor) (*trace.IngestReport, error) {
		return s.svc.Ingest(ctx, a, id, rs)
	})
}

var cst = time.FixedZone("CST", 8*3600)

// zoneOf reads a UTC offset such as +08:00; empty is China Standard Time.
func zoneOf(s string) (*time.Location, error) {
	if s == "" {
		return cst, nil
	}
	t, err := time.Parse("-07:00", s)
	if err != nil {
		return nil, trace.Invalid("tz", "invalid_zone", "时区应为UTC偏移，如+08:00", "tz is a UTC offset such as +08:00")
	}
	_, off := t.Zone()
	return time.FixedZone(s, off), nil
}

type readingView struct {
	Time        time.Time `json:"time"`
	Temperature float64   `json:"temperature"`
	Humidity    *float64  `json:"humidity,omitempty"`
	Implausible bool      `json:"implausible,omitempty"`
}

// deviceReadings answers a device's raw readings in [from, to] as JSON, or as CSV
// (?format=csv) whose lines after the header are those the leg summaries' digests
// are computed over: `tail -n +2 | sha256sum` gives the digest.
func (s *Server) deviceReadings(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	from, err := parseTime("from", q.Get("from"))
	if err != nil {
		return err
	}
	to, err := parseTime("to", q.Get("to"))
	if err != nil {
		return err
	}
	if to.IsZero() {
		to = time.Now()
	}
	if from.IsZero() {
		from = to.Add(-24 * time.Hour)
	}
	rs, err := s.svc.DeviceReadings(r.Context(), actorFrom(r.Context()), id, from, to)
	if err != nil {
		return err
	}
	if q.Get("format") == "csv" {
		b := []byte("time,temperature,humidity,flags\n")
		for _, rd := range rs {
			b = trace.AppendReadingLine(b, rd)
		}
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Write(b)
		return nil
	}
	out := make([]readingView, len(rs))
	for i, rd := range rs {
		out[i] = readingView{Time: rd.Time, Temperature: rd.Temp, Implausible: rd.Flags != 0}
		if !math.IsNaN(rd.Humidity) {
			h := rd.Humidity
			out[i].Humidity = &h
		}
	}
	return writeJSON(w, http.StatusOK, page[readingView]{Items: out})
}

type legView struct {
	trace.Leg
	KindZH   string           `json:"kind_zh"`
	StatusZH string           `json:"status_zh"`
	Profile  trace.Profile    `json:"profile"`
	Sources  []trace.Source   `json:"sources"`
	Verdict  trace.LegVerdict `json:"verdict"`
	Summary  *summaryView     `json:"summary,omitempty"`
}

type summaryView struct {
	ID         int64           `json:"id"`
	Leg        int64           `json:"leg"`
	Version    int             `json:"version"`
	Supersedes int64           `json:"supersedes,omitempty"`
	Party      int64           `json:"party"`
	Recorded   time.Time       `json:"recorded"`
	Status     trace.LegStatus `json:"status"`
	StatusZH   string          `json:"status_zh"`
	Record     []byte          `json:"record"` // the canonical bytes, base64: the log leaf
	Log        *anchor.Status  `json:"log,omitempty"`
}

func legKindZH(k trace.LegKind) string {
	if k == trace.StorageLeg {
		return "冷库贮存"
	}
	return "冷链运输"
}

func (s *Server) viewSummary(ctx context.Context, ls *trace.LegSummary) *summaryView {
	if ls == nil {
		return nil
	}
	v := &summaryView{ID: ls.ID, Leg: ls.Leg.ID, Version: ls.Version, Supersedes: ls.Supersedes, Party: ls.PartyID, Recorded: ls.Recorded,
		Status: ls.Verdict.Status, StatusZH: ls.Verdict.Status.ZH(), Record: ls.Canonical}
	if s.status != nil {
		if st, err := s.status(ctx, "leg_summary", ls.ID); err == nil {
			v.Log = &st
		}
	}
	return v
}

func (s *Server) viewLeg(ctx context.Context, l *trace.LegReport) legView {
	return legView{Leg: l.Leg, KindZH: legKindZH(l.Leg.Kind), StatusZH: l.Verdict.Status.ZH(), Profile: l.Profile, Sources: l.Sources,
		Verdict: l.Verdict, Summary: s.viewSummary(ctx, l.Summary)}
}

func (s *Server) getLeg(w http.ResponseWriter, r *http.Request) error {
	return get(w, r, func(l *trace.LegReport) legView { return s.viewLeg(r.Context(), l) }, s.svc.Leg)
}

func (s *Server) sealLeg(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	return create(s, w, r, func(ls *trace.LegSummary) any { return s.viewSummary(context.Background(), ls) }, func(ctx context.Context, a trace.Actor) (*trace.LegSummary, error) {
		return s.svc.SealLeg(ctx, a, id)
	})
}

func (s *Server) listProfiles(w http.ResponseWriter, r *http.Request) error {
	return writeJSON(w, http.StatusOK, page[trace.Profile]{Items: trace.Profiles()})
}

type orderView struct {
	ID          int64             `json:"id"`
	Platform    int64             `json:"platform"`
	Number      string            `json:"number"`
	Channel     string            `json:"channel"`
	Time        time.Time         `json:"time"`
	Destination trace.Destination `json:"destination"`
	CityName    string            `json:"city_name"`
	Items       []trace.OrderItem `json:"items"`
	Recorded    time.Time         `json:"recorded"`
	Log         *anchor.Status    `json:"log,omitempty"`
}

func (s *Server) viewOrder(ctx context.Context, o *trace.Order) orderView {
	v := orderView{ID: o.ID, Platform: o.PartyID, Number: o.Spec.Number, Channel: o.Spec.Channel, Time: o.Time, Destination: o.Spec.Destination,
		CityName: trace.CityName(o.Spec.Destination.City), Items: o.Spec.Items, Recorded: o.Recorded}
	if s.status != nil {
		if st, err := s.status(ctx, "order", o.ID); err == nil {
			v.Log = &st
		}
	}
	return v
}

// personalFields are field names that would carry personal data: refused as such,
// not merely as unknown.
var personalFields = []string{"name", "phone", "mobile", "tel", "address", "street", "receiver", "recipient", "consignee", "buyer", "contact", "email", "id_card"}

// linkOrder answers 201 with a newly linked order, 200 with the same order linked
// before; with an Idempotency-Key, that response is recorded in the write.
func (s *Server) linkOrder(w http.ResponseWriter, r *http.Request) error {
	var spec trace.OrderSpec
	if err := decode(w, r, maxBody, &spec); err != nil {
		if e, ok := err.(*trace.Error); ok && e.Code == "unknown_field" {
			for _, p := range personalFields {
				if strings.Contains(strings.ToLower(e.Field), p) {
					return trace.Invalid(e.Field, "personal_data", "订单不得包含个人信息（姓名、电话、地址）：字段%s不被接受", "orders carry no personal data (names, phones, addresses): field %s is refused", e.Field)
				}
			}
		}
		return err
	}
	ctx := context.WithoutCancel(r.Context())
	view := func(l *trace.OrderLink) (int, orderView) {
		if l.Created {
			return http.StatusCreated, s.viewOrder(context.Background(), l.Order)
		}
		return http.StatusOK, s.viewOrder(context.Background(), l.Order)
	}
	claim, _ := ctx.Value(claimKey{}).(*trace.Idempotency)
	if claim != nil {
		claim.Render = func(v any) (int, []byte, error) {
			st, body := view(v.(*trace.OrderLink))
			b, err := json.Marshal(body)
			return st, b, err
		}
	}
	l, err := s.svc.LinkOrder(ctx, actorFrom(ctx), spec)
	if claim != nil && err != nil {
		if done, rerr := s.replay(w, r, claim); done || rerr != nil {
			return rerr
		}
	}
	if err != nil {
		return err
	}
	st, body := view(l)
	return writeJSON(w, st, body)
}

func (s *Server) listOrders(w http.ResponseWriter, r *http.Request) error {
	var lot int64
	if l := r.URL.Query().Get("lot"); l != "" {
		id, err := strconv.ParseInt(l, 10, 64)
		if err != nil || id <= 0 {
			return trace.Invalid("lot", "invalid_lot", "批次编号无效", "invalid lot id")
		}
		lot = id
	}
	return list(w, r, func(o *trace.Order) orderView { return s.viewOrder(r.Context(), o) }, func(o *trace.Order) int64 { return o.ID },
		func(ctx context.Context, a trace.Actor, p trace.Page) ([]trace.Order, error) {
			return s.svc.Orders(ctx, a, lot, p)
		})
}

func (s *Server) getOrder(w http.ResponseWriter, r *http.Request) error {
	return get(w, r, func(o *trace.Order) orderView { return s.viewOrder(r.Context(), o) }, s.svc.Order)
}

type journeyView struct {
	Legs   []legView           `json:"legs"`
	Orders []trace.MaskedOrder `json:"orders"` // masked: day and destination city
	Own    []orderView         `json:"own_orders,omitempty"`
}

// lotJourney answers a lot's legs with their verdicts and its orders.
func (s *Server) lotJourney(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	j, err := s.svc.LotJourney(r.Context(), actorFrom(r.Context()), id)
	if err != nil {
		return err
	}
	v := journeyView{Legs: make([]legView, len(j.Legs)), Orders: j.Orders}
	for i := range j.Legs {
		v.Legs[i] = s.viewLeg(r.Context(), &j.Legs[i])
	}
	for i := range j.Own {
		v.Own = append(v.Own, s.viewOrder(r.Context(), &j.Own[i]))
	}
	return writeJSON(w, http.StatusOK, v)
}

type channelView struct {
	ID       int64      `json:"id"`
	Owner    int64      `json:"owner"`
	Platform int64      `json:"platform"`
	Created  time.Time  `json:"created"`
	Ended    *time.Time `json:"ended,omitempty"`
}

func viewChannel(c *trace.SalesChannel) channelView {
	v := channelView{ID: c.ID, Owner: c.OwnerID, Platform: c.PlatformID, Created: c.Created}
	if !c.Ended.IsZero() {
		v.Ended = &c.Ended
	}
	return v
}

func (s *Server) grantChannel(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Platform int64 `json:"platform"`
	}
	if err := decode(w, r, maxBody, &req); err != nil {
		return err
	}
	return create(s, w, r, func(c *trace.SalesChannel) any { return viewChannel(c) }, func(ctx context.Context, a trace.Actor) (*trace.SalesChannel, error) {
		return s.svc.GrantChannel(ctx, a, req.Platform)
	})
}

func (s *Server) endChannel(w http.ResponseWriter, r *http.Request) error {
	id, err := strconv.ParseInt(chi.URLParam(r, "platform"), 10, 64)
	if err != nil || id <= 0 {
		return &trace.Error{Kind: trace.KindNotFound, Code: "not_found", ZH: "编号无效", EN: "invalid id"}
	}
	return create(s, w, r, func(c *trace.SalesChannel) any { return viewChannel(c) }, func(ctx context.Context, a trace.Actor) (*trace.SalesChannel, error) {
		return s.svc.EndChannel(ctx, a, id)
	})
}

func (s *Server) listChannels(w http.ResponseWriter, r *http.Request) error {
	cs, err := s.svc.Channels(r.Context(), actorFrom(r.Context()))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, page[channelView]{Items: mapSlice(cs, viewChannel)})
}

type webhookView struct {
	Party   int64     `json:"party"`
	URL     string    `json:"url"`
	Created time.Time `json:"created"`
	// Secret signs every message (X-Ganpin-Signature); shown only when registered.
	Secret string `json:"secret,omitempty"`
}

func (s *Server) registerWebhook(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		URL string `json:"url"`
	}
	if err := decode(w, r, maxBody, &req); err != nil {
		return err
	}
	return create(s, w, r, func(ws *trace.WebhookSecret) any {
		return webhookView{ws.Webhook.PartyID, ws.Webhook.URL, ws.Webhook.Created, ws.Secret}
	}, func(ctx context.Context, a trace.Actor) (*trace.WebhookSecret, error) {
		return s.svc.RegisterWebhook(ctx, a, req.URL)
	})
}

func (s *Server) getWebhook(w http.ResponseWriter, r *http.Request) error {
	wh, err := s.svc.Webhook(r.Context(), actorFrom(r.Context()))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, webhookView{Party: wh.PartyID, URL: wh.URL, Created: wh.Created})
}

type deliveryView struct {
	ID          int64           `json:"id"`
	Ref         string          `json:"ref"`
	Event       string          `json:"event"`
	State       string          `json:"state"`
	Attempts    int             `json:"attempts"`
	NextAttempt *time.Time      `json:"next_attempt,omitempty"`
	Delivered   *time.Time      `json:"delivered,omitempty"`
	LastStatus  int             `json:"last_status,omitempty"`
	LastError   string          `json:"last_error,omitempty"`
	Created     time.Time       `json:"created"`
	Body        json.RawMessage `json:"body"`
}

func viewDelivery(d *trace.Delivery) deliveryView {
	v := deliveryView{ID: d.ID, Ref: d.Ref, Event: d.Event, State: d.State(), Attempts: d.Attempts, LastStatus: d.LastStatus,
		LastError: d.LastError, Created: d.Created, Body: d.Body}
	switch v.State {
	case "pending":
		v.NextAttempt = &d.NextAttempt
	case "delivered":
		v.Delivered = &d.Delivered
	}
	return v
}

func (s *Server) listDeliveries(w http.ResponseWriter, r *http.Request) error {
	return list(w, r, viewDelivery, func(d *trace.Delivery) int64 { return d.ID }, s.svc.Deliveries)
}

// publicLegView is what anyone may see of a leg: no devices, parties or sites.
type publicLegView struct {
	Kind              trace.LegKind   `json:"kind"`
	KindZH            string          `json:"kind_zh"`
	From              time.Time       `json:"from"`
	To                time.Time       `json:"to"`
	Open              bool            `json:"open,omitempty"`
	Status            trace.LegStatus `json:"status"`
	StatusZH          string          `json:"status_zh"`
	Temperature       *trace.Stats    `json:"temperature,omitempty"`
	OutOfRangeMinutes int64           `json:"out_of_range_minutes"`
	AlarmMinutes      int64           `json:"alarm_minutes"`
	Excursions        int             `json:"excursions"`
	Gaps              int             `json:"gaps"`
	Sealed            bool            `json:"sealed"`
}

type publicJourneyView struct {
	Serial  string              `json:"serial"`
	Unit    string              `json:"unit,omitempty"`
	Revoked bool                `json:"revoked,omitempty"`
	Profile string              `json:"profile,omitempty"`
	Legs    []publicLegView     `json:"legs"`
	Orders  []trace.MaskedOrder `json:"orders"`
}

// publicJourney answers, for anyone, the cold chain and masked orders of a
// certificate's lot (and, with a unit serial, the orders of that unit).
func (s *Server) publicJourney(w http.ResponseWriter, r *http.Request) error {
	j, err := s.svc.PublicJourney(r.Context(), chi.URLParam(r, "serial"), chi.URLParam(r, "unit"))
	if err != nil {
		return err
	}
	v := publicJourneyView{Serial: j.Serial, Unit: j.Unit, Revoked: j.Revoked, Legs: []publicLegView{}, Orders: j.Orders}
	for _, l := range j.Legs {
		v.Profile = l.Profile.Label
		v.Legs = append(v.Legs, publicLegView{Kind: l.Leg.Kind, KindZH: legKindZH(l.Leg.Kind), From: l.Leg.From, To: l.Leg.To, Open: l.Leg.Open,
			Status: l.Verdict.Status, StatusZH: l.Verdict.Status.ZH(), Temperature: l.Verdict.Temp,
			OutOfRangeMinutes: l.Verdict.OutOfRangeSeconds / 60, AlarmMinutes: l.Verdict.AlarmSeconds / 60,
			Excursions: len(l.Verdict.Excursions), Gaps: len(l.Verdict.Gaps), Sealed: l.Summary != nil})
	}
	w.Header().Set("Access-Control-Allow-Origin", "*")
	w.Header().Set("Cache-Control", "public, max-age=60")
	return writeJSON(w, http.StatusOK, v)
}
