package epcis

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/ganpin/ganpin/trace"
)

// Refs holds the records an event's EPCIS form names: its sites, lots and their
// products.
type Refs struct {
	Sites    map[int64]*trace.Site
	Products map[int64]*trace.Product
	Lots     map[int64]*trace.Lot
}

// NewRefs returns empty Refs.
func NewRefs() *Refs {
	return &Refs{Sites: map[int64]*trace.Site{}, Products: map[int64]*trace.Product{}, Lots: map[int64]*trace.Lot{}}
}

// Mapper writes Ganpin's records as EPCIS events. Sites without a GLN, products
// without a GTIN and their lots get Ganpin URIs under Base, the public base URL.
type Mapper struct {
	Base string
}

// ganpinURI returns the base of Ganpin's identifiers.
func (m *Mapper) ganpinURI() string { return strings.TrimRight(m.Base, "/") + "/epcis/id/" }

// SiteURI returns a site's identifier: its GLN's Digital Link, else a Ganpin URI.
func (m *Mapper) SiteURI(s *trace.Site) string {
	if s.GLN != "" {
		return GLNURI(s.GLN)
	}
	return m.ganpinURI() + "site/" + strconv.FormatInt(s.ID, 10)
}

// LotURI returns the identifier of a lot as an EPC class: the Digital Link of its
// GTIN and code, else a Ganpin URI of its product and code.
func (m *Mapper) LotURI(code string, p *trace.Product) string {
	if p.GTIN != "" {
		return LotClassURI(p.GTIN, code)
	}
	return m.ganpinURI() + "product/" + strconv.FormatInt(p.ID, 10) + "/lot/" + url.PathEscape(code)
}

// units maps Ganpin's units to EPCIS quantities: the UN/CEFACT code (none for a
// count of the lot's units, as EPCIS counts instances of a class) and the factor
// to it.
var units = map[trace.Unit]struct {
	uom    string
	factor float64
}{trace.Kg: {"KGM", 1}, trace.Jin: {"KGM", 0.5}, trace.Tonne: {"TNE", 1}, trace.Box: {"", 1}, trace.Piece: {"", 1}}

// Disposition returns the CBV disposition Ganpin records for an event spec.
func Disposition(spec *trace.EventSpec) string {
	switch spec.Type {
	case trace.Harvest, trace.Transformation:
		return "active"
	case trace.SelfTest:
		if spec.SelfTest != nil && spec.SelfTest.Passed {
			return "conformant"
		}
		return "non_conformant"
	case trace.Storing, trace.Receiving:
		return "in_progress"
	case trace.Shipping:
		return "in_transit"
	}
	return ""
}

func ext(local string) string { return "ganpin:" + local }

// Event returns the EPCIS form of e without the parts its hash leaves out
// (eventID, recordTime, errorDeclaration), with certificationInfo certs. It fails
// when r lacks a record e names.
func (m *Mapper) Event(e *trace.Event, r *Refs, certs []string) (map[string]any, error) {
	sp := &e.Spec
	site := r.Sites[sp.Site]
	if site == nil {
		return nil, fmt.Errorf("epcis: event %d: site %d not loaded", e.ID, sp.Site)
	}
	ev := map[string]any{
		"type":                "ObjectEvent",
		"action":              "OBSERVE",
		"eventTime":           e.Time.Format(time.RFC3339Nano),
		"eventTimeZoneOffset": e.Time.Format("-07:00"),
		"readPoint":           map[string]any{"id": m.SiteURI(site)},
		"bizLocation":         map[string]any{"id": m.SiteURI(site)},
	}
	if e.Disposition != "" {
		ev["disposition"] = e.Disposition
	}
	if len(certs) > 0 {
		l := make([]any, len(certs))
		for i, c := range certs {
			l[i] = c
		}
		ev["certificationInfo"] = l
	}
	set := func(local string, v any) {
		switch x := v.(type) {
		case string:
			if x == "" {
				return
			}
		case float64:
			if x == 0 {
				return
			}
		case []string:
			if len(x) == 0 {
				return
			}
			l := make([]any, len(x))
			for i, s := range x {
				l[i] = s
			}
			v = l
		}
		ev[ext(local)] = v
	}
	set("note", sp.Note)
	quantities := func(role trace.LotRole, qty bool) ([]any, error) {
		var out []any
		for _, el := range e.Lots {
			if el.Role != role {
				continue
			}
			q, err := m.quantity(el, r, qty)
			if err != nil {
				return nil, fmt.Errorf("epcis: event %d: %w", e.ID, err)
			}
			out = append(out, q)
		}
		return out, nil
	}
	var err error
	switch sp.Type {
	case trace.InputApplication:
		in := sp.Input
		ev["bizStep"] = "ganpin:BizStep-treating"
		ev["epcList"] = []any{}
		set("productName", in.ProductName)
		set("registrationNo", in.RegistrationNo)
		set("activeIngredient", in.ActiveIngredient)
		set("dose", in.Dose)
		ev[ext("phiDays")] = float64(in.PHIDays)
		set("target", in.Target)
		set("areaMu", in.AreaMu)
	case trace.Harvest:
		ev["action"], ev["bizStep"] = "ADD", "commissioning"
		if ev["quantityList"], err = quantities(trace.RoleOutput, true); err != nil {
			return nil, err
		}
		m.ilmd(ev, e, r)
	case trace.SelfTest:
		st := sp.SelfTest
		ev["bizStep"] = "inspecting"
		if ev["quantityList"], err = quantities(trace.RoleObject, false); err != nil {
			return nil, err
		}
		set("method", st.Method)
		set("items", st.Items)
		set("report", st.Report)
	case trace.Transformation:
		delete(ev, "action")
		ev["type"], ev["bizStep"] = "TransformationEvent", "packing"
		if ev["inputQuantityList"], err = quantities(trace.RoleInput, true); err != nil {
			return nil, err
		}
		if ev["outputQuantityList"], err = quantities(trace.RoleOutput, true); err != nil {
			return nil, err
		}
		set("tolerancePct", sp.Transformation.TolerancePct)
		m.ilmd(ev, e, r)
	case trace.Storing:
		ev["bizStep"] = "storing"
		if ev["quantityList"], err = quantities(trace.RoleObject, false); err != nil {
			return nil, err
		}
		set("room", sp.Storing.Room)
	case trace.Shipping:
		sh := sp.Shipping
		to := r.Sites[sh.To]
		if to == nil {
			return nil, fmt.Errorf("epcis: event %d: site %d not loaded", e.ID, sh.To)
		}
		ev["bizStep"] = "shipping"
		delete(ev, "bizLocation") // in transit: at no business location
		ev["destinationList"] = []any{typedRef{kind: "destination", typ: "location", id: m.SiteURI(to)}}
		if ev["quantityList"], err = quantities(trace.RoleObject, false); err != nil {
			return nil, err
		}
		set("carrier", sh.Carrier)
		set("vehicle", sh.Vehicle)
		set("container", sh.Container)
	case trace.Receiving:
		ev["bizStep"] = "receiving"
		if ev["quantityList"], err = quantities(trace.RoleObject, false); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("epcis: event %d: unknown type %q", e.ID, sp.Type)
	}
	return ev, nil
}

// typedRef is a bizTransaction, source or destination, written with its type first
// as GS1's examples are, for hash tools that follow the JSON's key order.
type typedRef struct{ kind, typ, id string }

func (t typedRef) MarshalJSON() ([]byte, error) {
	typ, _ := json.Marshal(t.typ)
	kind, _ := json.Marshal(t.kind)
	id, _ := json.Marshal(t.id)
	return []byte(`{"type":` + string(typ) + `,` + string(kind) + `:` + string(id) + `}`), nil
}

// quantity returns a lot's quantity element, with its quantity when qty is set.
func (m *Mapper) quantity(el trace.EventLot, r *Refs, qty bool) (map[string]any, error) {
	l := r.Lots[el.Lot]
	if l == nil {
		return nil, fmt.Errorf("lot %d not loaded", el.Lot)
	}
	p := r.Products[l.ProductID]
	if p == nil {
		return nil, fmt.Errorf("product %d not loaded", l.ProductID)
	}
	q := map[string]any{"epcClass": m.LotURI(l.Code, p)}
	if qty {
		u := units[l.Unit]
		q["quantity"] = el.Quantity * u.factor
		if u.uom != "" {
			q["uom"] = u.uom
		}
	}
	return q, nil
}

// ilmd records what the lots an event creates have beyond their class and
// quantity: a grade, and the unit when it is 斤 (quantities are in kilograms).
func (m *Mapper) ilmd(ev map[string]any, e *trace.Event, r *Refs) {
	var lots []any
	for _, el := range e.Lots {
		l := r.Lots[el.Lot]
		if el.Role != trace.RoleOutput || l == nil || (l.Grade == "" && l.Unit != trace.Jin) {
			continue
		}
		lm := map[string]any{ext("epcClass"): m.LotURI(l.Code, r.Products[l.ProductID])}
		if l.Grade != "" {
			lm[ext("grade")] = l.Grade
		}
		if l.Unit == trace.Jin {
			lm[ext("unit")] = string(trace.Jin)
		}
		lots = append(lots, lm)
	}
	if len(lots) > 0 {
		ev["ilmd"] = map[string]any{ext("lot"): lots}
	}
}

// SensorReport returns the EPCIS form of a sealed cold-chain leg summary: an
// ObjectEvent sensor_reporting at the leg's end, about its lots, at the site it
// started from, with the leg's temperature and humidity (minimum, maximum, mean;
// an alarm as ALARM_CONDITION) and the devices' readings and digests; nil when
// the leg had no readings. rawData links the leg's report on Ganpin's API.
func (m *Mapper) SensorReport(ls *trace.LegSummary, r *Refs) (map[string]any, error) {
	leg, v := &ls.Leg, &ls.Verdict
	site := r.Sites[leg.Site]
	if site == nil {
		return nil, fmt.Errorf("epcis: leg %d: site %d not loaded", leg.ID, leg.Site)
	}
	var reports []any
	stats := func(typ, uom string, st *trace.Stats, alarm bool) {
		if st == nil {
			return
		}
		rep := map[string]any{"type": typ, "minValue": st.Min, "maxValue": st.Max, "meanValue": st.Mean, "uom": uom}
		if alarm {
			rep["exception"] = "ALARM_CONDITION"
		}
		reports = append(reports, rep)
	}
	stats("Temperature", "CEL", v.Temp, v.Status == trace.LegAlarm)
	stats("RelativeHumidity", "P1", v.Humidity, false)
	if len(reports) == 0 {
		return nil, nil
	}
	var lots []any
	for _, id := range leg.Lots {
		q, err := m.quantity(trace.EventLot{Lot: id, Role: trace.RoleObject}, r, false)
		if err != nil {
			return nil, fmt.Errorf("epcis: leg %d: %w", leg.ID, err)
		}
		lots = append(lots, q)
	}
	var sources []any
	for _, src := range ls.Sources {
		sources = append(sources, map[string]any{ext("device"): src.Device, ext("readings"): float64(src.Readings), ext("sha256"): src.SHA256})
	}
	ev := map[string]any{
		"type": "ObjectEvent", "action": "OBSERVE", "bizStep": "sensor_reporting",
		"eventTime": leg.To.Format(time.RFC3339Nano), "eventTimeZoneOffset": leg.To.Format("-07:00"),
		"readPoint": map[string]any{"id": m.SiteURI(site)}, "quantityList": lots,
		"sensorElementList": []any{map[string]any{
			"sensorMetadata": map[string]any{"startTime": leg.From.Format(time.RFC3339Nano), "endTime": leg.To.Format(time.RFC3339Nano),
				"rawData": strings.TrimRight(m.Base, "/") + "/api/v1/legs/" + strconv.FormatInt(leg.ID, 10)},
			"sensorReport": reports}},
		ext("leg"): string(leg.Kind), ext("legStatus"): string(v.Status), ext("profile"): ls.Profile.Name,
		ext("readings"): float64(v.Readings), ext("summaryVersion"): float64(ls.Version),
	}
	if len(sources) > 0 {
		ev[ext("source")] = sources
	}
	return ev, nil
}

// Hash returns the event hash ID of an event m wrote.
func Hash(ev map[string]any) string { return HashID(ev, ganpinNamespaces) }

var ganpinNamespaces = ContextNamespaces(documentContext())

func documentContext() []any { return []any{Context, map[string]any{"ganpin": NS}} }

// Document returns an EPCISDocument of events created at t.
func Document(events []any, t time.Time) map[string]any {
	return map[string]any{"@context": documentContext(), "type": "EPCISDocument", "schemaVersion": "2.0",
		"creationDate": t.UTC().Format(time.RFC3339Nano), "epcisBody": map[string]any{"eventList": events}}
}

// QueryDocument returns the EPCISQueryDocument answering a SimpleEventQuery with events.
func QueryDocument(events []any, t time.Time) map[string]any {
	return map[string]any{"@context": documentContext(), "type": "EPCISQueryDocument", "schemaVersion": "2.0",
		"creationDate": t.UTC().Format(time.RFC3339Nano),
		"epcisBody": map[string]any{"queryResults": map[string]any{"queryName": "SimpleEventQuery",
			"resultsBody": map[string]any{"eventList": events}}}}
}
