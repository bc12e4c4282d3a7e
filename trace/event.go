package trace

import (
	"crypto/sha256"
	"encoding/json"
	"time"
)

// EventType names what happened; each maps to a CBV 2.0 business step.
type EventType string

// Event types.
const (
	InputApplication EventType = "input_application" // 农药/投入品使用
	Harvest          EventType = "harvest"           // 采收 (commissioning)
	SelfTest         EventType = "self_test"         // 自检
	Transformation   EventType = "transformation"    // 分选包装 (packing)
	Storing          EventType = "storing"           // 入库贮存
	Shipping         EventType = "shipping"          // 发运
	Receiving        EventType = "receiving"         // 收货
)

// BizStep returns the CBV 2.0 business step of t.
func (t EventType) BizStep() string {
	switch t {
	case InputApplication:
		return "treating"
	case Harvest:
		return "commissioning"
	case SelfTest:
		return "inspecting"
	case Transformation:
		return "packing"
	case Storing:
		return "storing"
	case Shipping:
		return "shipping"
	case Receiving:
		return "receiving"
	}
	return ""
}

// EventSpec is an event as a party submits it, and the body of its canonical record.
// Exactly one of the detail fields is set, the one named by Type.
type EventSpec struct {
	Type           EventType           `json:"type"`
	Time           string              `json:"time"` // RFC 3339 with the local offset, e.g. 2026-11-20T08:30:00+08:00
	Site           int64               `json:"site"` // where it happened; a site of the recording party
	Corrects       int64               `json:"corrects,omitempty"`
	Note           string              `json:"note,omitempty"`
	Input          *InputSpec          `json:"input_application,omitempty"`
	Harvest        *HarvestSpec        `json:"harvest,omitempty"`
	SelfTest       *SelfTestSpec       `json:"self_test,omitempty"`
	Transformation *TransformationSpec `json:"transformation,omitempty"`
	Storing        *StoringSpec        `json:"storing,omitempty"`
	Shipping       *ShippingSpec       `json:"shipping,omitempty"`
	Receiving      *ReceivingSpec      `json:"receiving,omitempty"`
}

// InputSpec records the application of a registered pesticide or other input on an orchard.
type InputSpec struct {
	ProductName      string  `json:"product_name"`      // registered product name (登记名称)
	RegistrationNo   string  `json:"registration_no"`   // 农药登记证号, e.g. PD20080123
	ActiveIngredient string  `json:"active_ingredient"` // 有效成分
	Dose             string  `json:"dose"`              // e.g. "1500倍液" or "40 mL/亩"
	PHIDays          int     `json:"phi_days"`          // 安全间隔期 from the product label
	Target           string  `json:"target,omitempty"`  // pest or disease
	AreaMu           float64 `json:"area_mu,omitempty"` // treated area
}

// NewLotSpec describes a lot an event creates.
type NewLotSpec struct {
	Code     string  `json:"code"`
	Product  int64   `json:"product"`
	Quantity float64 `json:"quantity"`
	Unit     Unit    `json:"unit"`
	Grade    string  `json:"grade,omitempty"`
}

// HarvestSpec commissions a lot picked from the orchard at the event's site.
type HarvestSpec struct {
	Lot NewLotSpec `json:"lot"`
}

// SelfTestSpec records a producer's own test (自检) of a lot.
type SelfTestSpec struct {
	Lot    int64    `json:"lot"`
	Method string   `json:"method"`          // e.g. 农药残留速测卡
	Items  []string `json:"items,omitempty"` // pesticides tested
	Passed bool     `json:"passed"`
	Report string   `json:"report,omitempty"`
}

// LotQuantity is a quantity taken from an existing lot, in the lot's unit.
type LotQuantity struct {
	Lot      int64   `json:"lot"`
	Quantity float64 `json:"quantity"`
}

// TransformationSpec consumes input lots and creates output lots (packing, grading, re-packing).
type TransformationSpec struct {
	Inputs       []LotQuantity `json:"inputs"`
	Outputs      []NewLotSpec  `json:"outputs"`
	TolerancePct float64       `json:"tolerance_pct,omitempty"` // outputs may weigh up to this much more than inputs
}

// StoringSpec records lots placed in store at the event's site.
type StoringSpec struct {
	Lots []int64 `json:"lots"`
	Room string  `json:"room,omitempty"`
}

// ShippingSpec records lots leaving the event's site for another site.
type ShippingSpec struct {
	Lots      []int64 `json:"lots"`
	To        int64   `json:"to"`
	Carrier   string  `json:"carrier,omitempty"`
	Vehicle   string  `json:"vehicle,omitempty"`
	Container string  `json:"container,omitempty"`
}

// ReceivingSpec records lots arriving at the event's site; custody passes to the receiver.
type ReceivingSpec struct {
	Lots []int64 `json:"lots"`
}

// LotRole is how an event touches a lot.
type LotRole string

// Lot roles.
const (
	RoleObject LotRole = "object" // the event is about the lot
	RoleInput  LotRole = "input"  // consumed by a transformation
	RoleOutput LotRole = "output" // created by the event
)

// EventLot links an event to a lot it touches.
type EventLot struct {
	Lot      int64   `json:"lot"`
	Role     LotRole `json:"role"`
	Quantity float64 `json:"quantity,omitempty"`
}

// Event is a recorded event. Events are append-only: a correction is a new event
// whose Spec.Corrects points at the one it corrects.
type Event struct {
	ID          int64
	PartyID     int64
	UserID      int64
	Time        time.Time // with the submitted offset
	Recorded    time.Time
	Disposition string
	Spec        EventSpec
	Lots        []EventLot
	Canonical   []byte   // the record's canonical bytes (deterministic JSON)
	Hash        [32]byte // SHA-256 of Canonical
}

// canonicalEvent is the deterministic JSON form of an event record: fixed field order,
// UTC recording time in RFC 3339 with microseconds.
type canonicalEvent struct {
	Record      string     `json:"record"`
	ID          int64      `json:"id"`
	Party       int64      `json:"party"`
	User        int64      `json:"user"`
	Recorded    string     `json:"recorded"`
	BizStep     string     `json:"biz_step"`
	Disposition string     `json:"disposition"`
	Lots        []EventLot `json:"lots"`
	Event       EventSpec  `json:"event"`
}

// Seal computes the event's canonical bytes and hash; ID and all fields must be final.
func (e *Event) Seal() {
	b, err := json.Marshal(canonicalEvent{
		Record: "event", ID: e.ID, Party: e.PartyID, User: e.UserID,
		Recorded: e.Recorded.UTC().Format("2006-01-02T15:04:05.000000Z"),
		BizStep:  e.Spec.Type.BizStep(), Disposition: e.Disposition, Lots: e.Lots, Event: e.Spec,
	})
	if err != nil {
		panic(err) // only plain values: cannot fail
	}
	e.Canonical = b
	e.Hash = sha256.Sum256(b)
}

// DecodeCanonicalEvent rebuilds an event from its canonical bytes.
func DecodeCanonicalEvent(b []byte) (*Event, error) {
	var c canonicalEvent
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, err
	}
	rec, err := time.Parse(time.RFC3339Nano, c.Recorded)
	if err != nil {
		return nil, err
	}
	t, err := time.Parse(time.RFC3339, c.Event.Time)
	if err != nil {
		return nil, err
	}
	e := &Event{ID: c.ID, PartyID: c.Party, UserID: c.User, Time: t, Recorded: rec,
		Disposition: c.Disposition, Spec: c.Event, Lots: c.Lots, Canonical: b, Hash: sha256.Sum256(b)}
	return e, nil
}
