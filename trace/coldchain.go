package trace

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"
)

// Cold chain: loggers (devices) registered to a party, assigned to a shipment, a
// container or a cold-store room for a time window, streaming readings; every
// custody leg gets a verdict under its product's profile.

// Device is a temperature logger of a party.
type Device struct {
	ID      int64
	PartyID int64
	Serial  string // the logger's own ID; it publishes on ganpin/telemetry/{serial}
	Model   string
	Created time.Time
}

// Validate checks a device before it is registered.
func (d *Device) Validate() error {
	if !validSerial(d.Serial) {
		return Invalid("serial", "invalid_serial", "设备编号须为1至64个字符（字母、数字、-、_、.）", "a device serial has 1 to 64 characters (letters, digits, - _ .)")
	}
	return checkText("model", d.Model, 0, 50)
}

// validSerial accepts serials that are safe as one MQTT topic level.
func validSerial(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// TargetKind is what a device is assigned to.
type TargetKind string

// Assignment targets.
const (
	TargetShipment  TargetKind = "shipment"  // a shipping event: the transport leg it starts
	TargetContainer TargetKind = "container" // a reefer container, matched by the shipping event's container
	TargetRoom      TargetKind = "room"      // a room of a cold store (or the whole store when Room is empty)
)

// Assignment places a device with a target for a time window (an EPCIS
// AssociationEvent: ADD at From, DELETE at To). Its readings in the window count
// for the legs of that target.
type Assignment struct {
	ID        int64
	DeviceID  int64
	PartyID   int64 // the device's party
	Kind      TargetKind
	Shipment  int64  // shipping event (TargetShipment)
	Container string // container code (TargetContainer)
	Site      int64  // cold store or warehouse (TargetRoom)
	Room      string // "" for the whole site
	From      time.Time
	To        time.Time // zero while the device is in place
	Created   time.Time
}

// Covers reports whether the assignment is in force at t.
func (as *Assignment) Covers(t time.Time) bool {
	return !t.Before(as.From) && (as.To.IsZero() || t.Before(as.To))
}

// AssignmentFilter selects assignments; set exactly one field.
type AssignmentFilter struct {
	DeviceID  int64
	Shipment  int64
	Container string
	Site      int64
}

// IngestReport says what an upload of readings did.
type IngestReport struct {
	Received   int `json:"received"`
	Stored     int `json:"stored"`     // new readings
	Duplicates int `json:"duplicates"` // already stored, or repeated in the upload: the first is kept
	Flagged    int `json:"flagged"`    // implausible values, stored and flagged, left out of verdicts
}

// MaxReadings is the most readings one upload takes.
const MaxReadings = 100000

// ColdChainReader holds the cold-chain and order reads both the store and its
// transactions serve. Missing records are KindNotFound *Error.
type ColdChainReader interface {
	Device(ctx context.Context, id int64) (*Device, error)
	// DeviceIDs returns the IDs of the devices with these serials; unknown ones are absent.
	DeviceIDs(ctx context.Context, serials []string) (map[string]int64, error)
	Devices(ctx context.Context, partyID int64, p Page) ([]Device, error)
	Assignment(ctx context.Context, id int64) (*Assignment, error)
	// Assignments returns the assignments f selects, oldest first.
	Assignments(ctx context.Context, f AssignmentFilter) ([]Assignment, error)
	// Readings returns a device's readings in [from, to], oldest first.
	Readings(ctx context.Context, deviceID int64, from, to time.Time) ([]Reading, error)
	// CountReadings returns how many readings a device has in [from, to].
	CountReadings(ctx context.Context, deviceID int64, from, to time.Time) (int, error)
	// LegSummaries returns a leg's summaries, newest version first.
	LegSummaries(ctx context.Context, legID int64) ([]LegSummary, error)
	SalesChannel(ctx context.Context, ownerID, platformID int64) (*SalesChannel, error)
	SalesChannels(ctx context.Context, partyID int64) ([]SalesChannel, error)
	Order(ctx context.Context, id int64) (*Order, error)
	OrderByNumber(ctx context.Context, platformID int64, number string) (*Order, error)
	Orders(ctx context.Context, f OrderFilter, p Page) ([]Order, error)
	// CertificateRef returns what orders need to know of a certificate, by serial.
	CertificateRef(ctx context.Context, serial string) (*CertRef, error)
	Webhook(ctx context.Context, partyID int64) (*Webhook, error)
	// WebhookKey returns the delivery worker's public key (KindNotFound before it ran).
	WebhookKey(ctx context.Context) ([]byte, error)
	Deliveries(ctx context.Context, partyID int64, p Page) ([]Delivery, error)
}

// ColdChainStore is a Store that also keeps cold-chain and order records; the
// service asserts it of its store (internal/store implements both).
type ColdChainStore interface {
	Store
	ColdChainReader
}

// ColdChainTx is a Tx that writes cold-chain and order records. Leg summaries and
// orders become leaves of the tamper-evident log in the same transaction.
type ColdChainTx interface {
	Tx
	ColdChainReader
	// ReserveRecordIDs returns n new IDs of kind "leg_summary" or "order".
	ReserveRecordIDs(ctx context.Context, kind string, n int) ([]int64, error)
	InsertDevice(ctx context.Context, d *Device) error // KindConflict for a serial in use
	InsertAssignment(ctx context.Context, as *Assignment) error
	EndAssignment(ctx context.Context, id int64, to time.Time) error
	// InsertReadings stores readings, ignoring those already stored for their
	// device and instant, and returns how many were new.
	InsertReadings(ctx context.Context, rs []Reading) (int, error)
	InsertLegSummary(ctx context.Context, ls *LegSummary) error
	SaveSalesChannel(ctx context.Context, c *SalesChannel) error // insert, or update its end
	InsertOrder(ctx context.Context, o *Order) error             // KindConflict for a number in use
	SaveWebhook(ctx context.Context, w *Webhook) error
	// EnqueueDeliveries adds webhook deliveries to the outbox, skipping any whose
	// reference the party already has, and returns how many were added.
	EnqueueDeliveries(ctx context.Context, ds []Delivery) (int, error)
}

var errNoColdChain = errors.New("trace: the store keeps no cold-chain records")

func (s *Service) cold() (ColdChainStore, error) {
	cs, ok := s.store.(ColdChainStore)
	if !ok {
		return nil, errNoColdChain
	}
	return cs, nil
}

// coldWrite runs fn in a transaction of the cold-chain store, recording the
// idempotent response like every write.
func (s *Service) coldWrite(ctx context.Context, result func() any, fn func(ColdChainTx) error) error {
	if _, err := s.cold(); err != nil {
		return err
	}
	return s.write(ctx, result, func(tx Tx) error { return fn(tx.(ColdChainTx)) })
}

// RegisterDevice registers a logger to the actor's party (admins name the party).
func (s *Service) RegisterDevice(ctx context.Context, a Actor, d *Device) error {
	if err := s.ownPartyWrite(a, &d.PartyID, RoleProducerAdmin, RoleLogistics); err != nil {
		return err
	}
	if err := d.Validate(); err != nil {
		return err
	}
	d.Created = s.now()
	return s.coldWrite(ctx, func() any { return d }, func(tx ColdChainTx) error { return tx.InsertDevice(ctx, d) })
}

// Device returns a device of the actor's party (any for inspectors and admins).
func (s *Service) Device(ctx context.Context, a Actor, id int64) (*Device, error) {
	cs, err := s.cold()
	if err != nil {
		return nil, err
	}
	d, err := cs.Device(ctx, id)
	if err != nil {
		return nil, err
	}
	if d.PartyID != a.PartyID && !a.ReadsAll() {
		return nil, NotFound("", "device", id)
	}
	return d, nil
}

// Devices lists the actor's party's devices (all for inspectors and admins).
func (s *Service) Devices(ctx context.Context, a Actor, p Page) ([]Device, error) {
	cs, err := s.cold()
	if err != nil {
		return nil, err
	}
	party := a.PartyID
	if a.ReadsAll() {
		party = 0
	}
	return cs.Devices(ctx, party, p)
}

// ownDevice reads a device for a write by its party.
func ownDevice(ctx context.Context, r ColdChainReader, a Actor, field string, id int64) (*Device, error) {
	if err := a.mustHave(RoleProducerAdmin, RoleProducerClerk, RoleLogistics); err != nil {
		return nil, err
	}
	d, err := r.Device(ctx, id)
	if KindOf(err) == KindNotFound {
		return nil, unknownDevice(field, id)
	} else if err != nil {
		return nil, err
	}
	if d.PartyID != a.PartyID {
		return nil, Forbidden(field, "该设备不属于本主体", "this device belongs to another party")
	}
	return d, nil
}

func unknownDevice(field string, id any) *Error {
	return &Error{Kind: KindNotFound, Code: "unknown_device", Field: field,
		ZH: fmt.Sprintf("设备 %v 未登记，请先登记设备", id), EN: fmt.Sprintf("device %v is not registered; register it first", id)}
}

// Assign places one of the actor's party's devices with a target. The party must
// have a stake in it: a shipment it sent or that goes to one of its sites, a
// container (counted only for legs the party sends or receives), a room of its
// own store.
func (s *Service) Assign(ctx context.Context, a Actor, as *Assignment) error {
	as.Created = s.now()
	return s.coldWrite(ctx, func() any { return as }, func(tx ColdChainTx) error {
		d, err := ownDevice(ctx, tx, a, "device", as.DeviceID)
		if err != nil {
			return err
		}
		as.PartyID = d.PartyID
		if err := s.checkTarget(ctx, tx, a, as); err != nil {
			return err
		}
		return tx.InsertAssignment(ctx, as)
	})
}

func (s *Service) checkTarget(ctx context.Context, tx ColdChainTx, a Actor, as *Assignment) error {
	if as.From.IsZero() {
		return Invalid("from", "required", "请填写开始时间", "the start time is required")
	}
	if !as.To.IsZero() && !as.To.After(as.From) {
		return Invalid("to", "invalid_window", "结束时间须晚于开始时间", "the end comes after the start")
	}
	if as.From.After(s.now().Add(24 * time.Hour)) {
		return Invalid("from", "time_in_future", "开始时间不能晚于明天", "an assignment starts at most a day ahead")
	}
	set := 0
	for _, b := range []bool{as.Shipment != 0, as.Container != "", as.Site != 0} {
		if b {
			set++
		}
	}
	if set != 1 || as.Room != "" && as.Site == 0 {
		return Invalid("target", "invalid_target", "须指定且只能指定一个目标：运输（发运事件）、集装箱或冷库库房", "name exactly one target: a shipment (shipping event), a container or a cold-store room")
	}
	switch {
	case as.Shipment != 0:
		as.Kind = TargetShipment
		e, err := tx.Event(ctx, as.Shipment)
		if err != nil || e.Spec.Type != Shipping {
			return NotFound("shipment", "shipment", as.Shipment)
		}
		to, err := tx.Site(ctx, e.Spec.Shipping.To)
		if err != nil {
			return err
		}
		if e.PartyID != a.PartyID && to.PartyID != a.PartyID {
			return Forbidden("shipment", "只能为本主体发出或收货的运输分配设备", "assign devices only to shipments your party sends or receives")
		}
	case as.Container != "":
		as.Kind = TargetContainer
		if err := checkText("container", as.Container, 1, 50); err != nil {
			return err
		}
	default:
		as.Kind = TargetRoom
		site, err := tx.Site(ctx, as.Site)
		if err != nil {
			return withField(err, "site")
		}
		if site.PartyID != a.PartyID {
			return Forbidden("site", "只能为本主体的冷库分配设备", "assign devices only to your own party's stores")
		}
		if site.Kind != ColdStore && site.Kind != Warehouse {
			return Invalid("site", "not_store", "只能分配到冷库或仓库", "a room belongs to a cold store or warehouse")
		}
		if err := checkText("room", as.Room, 0, 30); err != nil {
			return err
		}
	}
	return nil
}

// EndAssignment takes a device off its target at t.
func (s *Service) EndAssignment(ctx context.Context, a Actor, id int64, t time.Time) (*Assignment, error) {
	var out *Assignment
	err := s.coldWrite(ctx, func() any { return out }, func(tx ColdChainTx) error {
		as, err := tx.Assignment(ctx, id)
		if err != nil {
			return err
		}
		if as.PartyID != a.PartyID || !a.Has(RoleProducerAdmin, RoleProducerClerk, RoleLogistics) {
			return NotFound("", "assignment", id)
		}
		if !as.To.IsZero() {
			return Conflict("to", "assignment_ended", "该分配已结束", "this assignment has ended")
		}
		if !t.After(as.From) {
			return Invalid("to", "invalid_window", "结束时间须晚于开始时间", "the end comes after the start")
		}
		as.To = t
		out = as
		return tx.EndAssignment(ctx, id, t)
	})
	return out, err
}

// Assignments lists a device's assignments.
func (s *Service) Assignments(ctx context.Context, a Actor, deviceID int64) ([]Assignment, error) {
	if _, err := s.Device(ctx, a, deviceID); err != nil {
		return nil, err
	}
	cs, err := s.cold()
	if err != nil {
		return nil, err
	}
	return cs.Assignments(ctx, AssignmentFilter{DeviceID: deviceID})
}

// Ingest stores readings of one of the actor's party's devices. Every reading is
// checked first: one bad reading refuses the upload and nothing is written.
func (s *Service) Ingest(ctx context.Context, a Actor, deviceID int64, rs []Reading) (*IngestReport, error) {
	if err := s.checkReadings(rs); err != nil {
		return nil, err
	}
	var rep *IngestReport
	err := s.coldWrite(ctx, func() any { return rep }, func(tx ColdChainTx) error {
		d, err := ownDevice(ctx, tx, a, "device", deviceID)
		if err != nil {
			return err
		}
		rep, err = storeReadings(ctx, tx, map[int64][]Reading{d.ID: rs})
		return err
	})
	return rep, err
}

// Telemetry is readings a transport that authenticates devices itself (the MQTT
// broker: each logger may publish only on its own topic) received from one device.
type Telemetry struct {
	Serial   string
	Readings []Reading
}

// IngestTelemetry stores readings from trusted transports, for many devices in one
// transaction. Unknown devices and bad readings refuse the whole call.
func (s *Service) IngestTelemetry(ctx context.Context, batch []Telemetry) (*IngestReport, error) {
	var all []Reading
	for _, t := range batch {
		all = append(all, t.Readings...)
	}
	if err := s.checkReadings(all); err != nil {
		return nil, err
	}
	var rep *IngestReport
	err := s.coldWrite(ctx, func() any { return rep }, func(tx ColdChainTx) error {
		serials := make([]string, 0, len(batch))
		for _, t := range batch {
			serials = append(serials, t.Serial)
		}
		slices.Sort(serials)
		ids, err := tx.DeviceIDs(ctx, slices.Compact(serials))
		if err != nil {
			return err
		}
		byDevice := map[int64][]Reading{}
		for _, t := range batch {
			id, ok := ids[t.Serial]
			if !ok {
				return unknownDevice("device", t.Serial)
			}
			byDevice[id] = append(byDevice[id], t.Readings...)
		}
		rep, err = storeReadings(ctx, tx, byDevice)
		return err
	})
	return rep, err
}

// checkReadings refuses readings whose time or values are not readings at all;
// implausible values are flagged, not refused.
func (s *Service) checkReadings(rs []Reading) error {
	if len(rs) == 0 {
		return Invalid("readings", "required", "至少需要一条读数", "at least one reading is required")
	}
	if len(rs) > MaxReadings {
		return Invalid("readings", "too_many", "每次最多上传%d条读数", "at most %d readings per upload", MaxReadings)
	}
	limit := s.now().Add(5 * time.Minute)
	for i := range rs {
		if err := checkReading(&rs[i], limit); err != nil {
			return withPrefix(err, fmt.Sprintf("readings[%d].", i))
		}
	}
	return nil
}

func checkReading(r *Reading, limit time.Time) error {
	if r.Time.After(limit) {
		return Invalid("time", "time_in_future", "读数时间不能晚于当前时间", "a reading cannot be in the future")
	}
	if r.Time.Year() < 2000 {
		return Invalid("time", "time_too_old", "读数时间早于2000年", "a reading cannot be before 2000")
	}
	if math.IsNaN(r.Temp) || math.IsInf(r.Temp, 0) {
		return Invalid("temperature", "invalid_temperature", "温度必须是数值", "the temperature must be a number")
	}
	if math.IsInf(r.Humidity, 0) {
		return Invalid("humidity", "invalid_humidity", "湿度必须是数值", "the humidity must be a number")
	}
	r.Time = r.Time.Truncate(time.Microsecond)
	r.Flag()
	return nil
}

// storeReadings writes readings per device, repeated instants once, and reports.
func storeReadings(ctx context.Context, tx ColdChainTx, byDevice map[int64][]Reading) (*IngestReport, error) {
	rep := &IngestReport{}
	var all []Reading
	ids := make([]int64, 0, len(byDevice))
	for id := range byDevice {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		rs := byDevice[id]
		rep.Received += len(rs)
		for i := range rs {
			rs[i].DeviceID = id
		}
		slices.SortStableFunc(rs, func(a, b Reading) int { return a.Time.Compare(b.Time) })
		rs = slices.CompactFunc(rs, func(a, b Reading) bool { return a.Time.Equal(b.Time) })
		all = append(all, rs...)
	}
	for _, r := range all {
		if r.Flags != 0 {
			rep.Flagged++
		}
	}
	n, err := tx.InsertReadings(ctx, all)
	if err != nil {
		return nil, err
	}
	rep.Stored, rep.Duplicates = n, rep.Received-n
	return rep, nil
}

// DeviceReadings returns a device's raw readings in [from, to].
func (s *Service) DeviceReadings(ctx context.Context, a Actor, deviceID int64, from, to time.Time) ([]Reading, error) {
	if _, err := s.Device(ctx, a, deviceID); err != nil {
		return nil, err
	}
	if !to.After(from) {
		return nil, Invalid("to", "invalid_window", "结束时间须晚于开始时间", "the end comes after the start")
	}
	if to.Sub(from) > 92*24*time.Hour {
		return nil, Invalid("to", "window_too_long", "一次最多查询92天的读数", "at most 92 days of readings at a time")
	}
	cs, err := s.cold()
	if err != nil {
		return nil, err
	}
	return cs.Readings(ctx, deviceID, from, to)
}
