package epcis

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ganpin/ganpin/trace"
)

// Capture limits, published in the GS1-EPCIS-Capture-Limit and
// GS1-EPCIS-Capture-File-Size-Limit headers.
const (
	MaxEvents   = trace.MaxBatch // events per document
	MaxDocument = 32 << 20       // bytes per document
)

// Problem is one reason a capture job failed, as an RFC 9457 problem: the event
// it concerns (its index in eventList) and a JSON pointer to the field at fault.
type Problem struct {
	Type     string `json:"type"`
	Title    string `json:"title"`
	Status   int    `json:"status"`
	Detail   string `json:"detail"`
	DetailZH string `json:"detail_zh"`
	Code     string `json:"code"`
	Event    *int   `json:"event,omitempty"`
	EventID  string `json:"eventID,omitempty"`
	Pointer  string `json:"pointer,omitempty"`
}

func problem(event int, field, code, zh, en string, args ...any) Problem {
	p := Problem{Type: "epcisException:ValidationException", Title: "Invalid EPCIS event", Status: 400, Code: code,
		Detail: fmt.Sprintf(en, args...), DetailZH: fmt.Sprintf(zh, args...)}
	if event < 0 {
		p.Title, p.Pointer = "Invalid EPCIS document", "/"+field
		return p
	}
	p.Event = &event
	p.Pointer = "/epcisBody/eventList/" + strconv.Itoa(event)
	if field != "" {
		p.Pointer += "/" + field
	}
	return p
}

// Resolver finds the records an EPCIS document names; internal/store implements it.
type Resolver interface {
	Site(ctx context.Context, id int64) (*trace.Site, error)
	SiteByGLN(ctx context.Context, gln string) (*trace.Site, error)
	Product(ctx context.Context, id int64) (*trace.Product, error)
	ProductByGTIN(ctx context.Context, gtin string) (*trace.Product, error)
	// LotsByCode returns the lots of the given products with the given codes.
	LotsByCode(ctx context.Context, keys []LotKey) ([]trace.Lot, error)
	// EventsByEPCISID returns the Ganpin events stored under EPCIS event IDs (an
	// event hash ID or the eventID a capture gave).
	EventsByEPCISID(ctx context.Context, ids []string) (map[string]int64, error)
}

// LotKey names a lot by product and code, as its EPC class does.
type LotKey struct {
	Product int64
	Code    string
}

// Batch is a document converted to Ganpin events.
type Batch struct {
	Specs       []trace.EventSpec
	Index       []int    // each spec's position in the document's eventList
	Kept        []Record // what each event keeps beyond its spec
	Attachments []Attachment
}

// Attachment is an event Ganpin keeps as it was sent, because only the system that
// made it can make it: a cold-chain leg's sensor report, sealed from readings the
// sender holds. It is returned with the lots it names and never judged again.
type Attachment struct {
	Body    json.RawMessage `json:"body"` // without recordTime, which the keeper sets
	Time    time.Time       `json:"time"`
	Hash    string          `json:"hash"`
	EventID string          `json:"eventID,omitempty"`
	Lots    []int64         `json:"lots"` // -k: the k-th lot the document creates, until captured
}

// Record is what Ganpin keeps of a captured event beside the event itself.
type Record struct {
	Event    int64    `json:"event"` // set once captured
	Hash     string   `json:"hash"`  // its event hash ID
	EventID  string   `json:"eventID,omitempty"`
	CertInfo []string `json:"certificationInfo,omitempty"`
	// Captured events keep their certificationInfo as sent; Ganpin's own name the
	// certificates that covered their lots when they were recorded.
	Captured bool `json:"-"`
}

var (
	offsetPattern  = regexp.MustCompile(`^[+-]((0[0-9]|1[0-3]):[0-5][0-9]|14:00)$`)
	versionPattern = regexp.MustCompile(`^2(\.\d+)*$`)
	gs1Contexts    = map[string]bool{Context: true, "https://ref.gs1.org/standards/epcis/epcis-context.jsonld": true,
		"https://gs1.github.io/EPCIS/epcis-context.jsonld": true}
)

// documentFields are the fields of an EPCISDocument (and EPCISQueryDocument).
var documentFields = map[string]bool{"@context": true, "id": true, "type": true, "schemaVersion": true, "creationDate": true,
	"instanceIdentifier": true, "sender": true, "receiver": true, "epcisHeader": true, "epcisBody": true}

// Events reads an EPCIS 2.0 document: it returns the prefixes of its context and
// its events, still encoded, or the problems that make it no document.
func Events(doc []byte) (Namespaces, []json.RawMessage, []Problem) {
	d := json.NewDecoder(bytes.NewReader(doc))
	d.UseNumber()
	var m map[string]json.RawMessage
	if err := d.Decode(&m); err != nil {
		return nil, nil, []Problem{problem(-1, "", "malformed_json", "文档不是有效的JSON对象：%v", "the document is not a valid JSON object: %v", err)}
	}
	if d.More() {
		return nil, nil, []Problem{problem(-1, "", "malformed_json", "JSON之后有多余内容", "unexpected data after the JSON document")}
	}
	var ps []Problem
	bad := func(field, code, zh, en string, args ...any) {
		ps = append(ps, problem(-1, field, code, zh, en, args...))
	}
	field := func(k string) any {
		var v any
		if raw, ok := m[k]; ok {
			d := json.NewDecoder(bytes.NewReader(raw))
			d.UseNumber()
			d.Decode(&v) // the document decoded, so its parts do
		}
		return v
	}
	ctx := field("@context")
	hasGS1 := false
	for _, c := range list(ctx) {
		if s, ok := c.(string); ok && gs1Contexts[s] {
			hasGS1 = true
		}
	}
	if !hasGS1 {
		bad("@context", "missing_context", "@context必须包含GS1 EPCIS 2.0上下文 %s", "@context must name the GS1 EPCIS 2.0 context %s", Context)
	}
	ns := ContextNamespaces(ctx)
	for k := range m {
		if !documentFields[k] && !isIRI(k, ns) {
			bad(k, "unknown_field", "未知的文档字段：%s", "unknown document field %s", k)
		}
	}
	if v, _ := field("schemaVersion").(string); !versionPattern.MatchString(v) {
		bad("schemaVersion", "unsupported_version", "schemaVersion应为2.0", "schemaVersion must be 2.0")
	}
	if v, _ := field("creationDate").(string); !validTime(v) {
		bad("creationDate", "invalid_time", "creationDate应为带时区的RFC 3339时间", "creationDate must be an RFC 3339 time with an offset")
	}
	// The body: its event list, left encoded so that events decode in parallel.
	var body struct {
		EventList    []json.RawMessage `json:"eventList"`
		QueryResults struct {
			ResultsBody struct {
				EventList []json.RawMessage `json:"eventList"`
			} `json:"resultsBody"`
		} `json:"queryResults"`
	}
	if err := json.Unmarshal(m["epcisBody"], &body); err != nil && m["epcisBody"] != nil {
		bad("epcisBody", "invalid_body", "epcisBody格式错误：%v", "epcisBody is malformed: %v", err)
	}
	var evs []json.RawMessage
	switch field("type") {
	case "EPCISDocument":
		evs = body.EventList
	case "EPCISQueryDocument":
		evs = body.QueryResults.ResultsBody.EventList
	default:
		bad("type", "unknown_type", "type应为EPCISDocument或EPCISQueryDocument", "type must be EPCISDocument or EPCISQueryDocument")
	}
	if evs == nil && len(ps) == 0 {
		bad("epcisBody", "missing_events", "epcisBody缺少事件列表eventList", "epcisBody has no eventList")
	}
	if len(evs) > MaxEvents {
		bad("epcisBody", "too_many_events", "每个文档最多%d个事件，本文档有%d个", "a document holds at most %d events; this one has %d", MaxEvents, len(evs))
	}
	if len(ps) > 0 {
		return nil, nil, ps
	}
	return ns, evs, nil
}

// parallel runs fn(i) for i in [0, n) on every core.
func parallel(n int, fn func(i int)) {
	workers := min(runtime.GOMAXPROCS(0), max(1, n/64))
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += workers {
				fn(i)
			}
		}()
	}
	wg.Wait()
}

// isIRI reports whether an extension field's name is an IRI or a CURIE of a known prefix.
func isIRI(k string, ns Namespaces) bool {
	p, rest, ok := strings.Cut(k, ":")
	if !ok {
		return false
	}
	_, known := ns[p]
	return known || strings.HasPrefix(rest, "//") || p == "urn"
}

func validTime(s string) bool {
	_, err := time.Parse(time.RFC3339Nano, s)
	return err == nil
}

// Converter turns EPCIS documents into Ganpin events for one actor.
type Converter struct {
	Mapper   *Mapper
	Resolver Resolver
	Actor    trace.Actor

	received map[int64]bool // lots the document receives, the actor's from then on
}

// event is a document's event as read, before its references are resolved.
type event struct {
	index   int
	raw     map[string]any
	spec    trace.EventSpec
	site    string   // readPoint, canonical
	dest    string   // shipping destination
	lots    []lotRef // in the order of their lists
	ilmd    map[string]ilmdLot
	eventID string
	certs   []string
	decl    *declaration
	skip    bool   // an error declaration of a stored event: nothing to capture
	attach  bool   // a sensor report: kept as sent
	pre     string // its canonical pre-hash string, as sent
	hash    string // its event hash ID
	errs    []Problem

	storedID  int64 // skip: the stored event it declares erroneous
	specIndex int
}

type lotRef struct {
	role   trace.LotRole
	uri    string
	key    lotKey
	qty    float64
	hasQty bool
	uom    string
	field  string
}

type lotKey struct {
	gtin    string
	product int64
	code    string
}

type ilmdLot struct {
	grade string
	unit  trace.Unit
}

type declaration struct {
	corrective []string
}

func (e *event) fail(field, code, zh, en string, args ...any) {
	e.errs = append(e.errs, problem(e.index, field, code, zh, en, args...))
}

// standard event fields Ganpin reads; others it cannot keep.
var readFields = map[string]bool{"type": true, "eventTime": true, "eventTimeZoneOffset": true, "recordTime": true, "eventID": true,
	"certificationInfo": true, "errorDeclaration": true, "action": true, "bizStep": true, "disposition": true, "readPoint": true,
	"bizLocation": true, "epcList": true, "quantityList": true, "inputQuantityList": true, "outputQuantityList": true,
	"destinationList": true, "ilmd": true}

// extensions Ganpin writes, by event type.
var extensions = map[trace.EventType][]string{
	trace.InputApplication: {"productName", "registrationNo", "activeIngredient", "dose", "phiDays", "target", "areaMu"},
	trace.SelfTest:         {"method", "items", "report"},
	trace.Transformation:   {"tolerancePct"},
	trace.Storing:          {"room"},
	trace.Shipping:         {"carrier", "vehicle", "container"},
}

// steps maps business steps to Ganpin's event types.
var steps = map[string]trace.EventType{
	bizTreating: trace.InputApplication, cbvNS + "BizStep-commissioning": trace.Harvest, cbvNS + "BizStep-inspecting": trace.SelfTest,
	cbvNS + "BizStep-packing": trace.Transformation, cbvNS + "BizStep-storing": trace.Storing,
	cbvNS + "BizStep-shipping": trace.Shipping, cbvNS + "BizStep-receiving": trace.Receiving,
}

// read reads one event of a document.
func (c *Converter) read(i int, v any, ns Namespaces) *event {
	e := &event{index: i}
	raw, ok := v.(map[string]any)
	if !ok {
		e.fail("", "invalid_event", "事件必须是JSON对象", "an event is a JSON object")
		return e
	}
	e.raw = raw
	h := hasher{ns: ns}
	str := func(k string) string { s, _ := raw[k].(string); return strings.TrimSpace(s) }

	typ := str("type")
	step := h.vocab(bizSteps, raw["bizStep"])
	gt, known := steps[step]
	switch {
	case typ == "ObjectEvent" && step == cbvNS+"BizStep-sensor_reporting":
		e.attach = true // kept as sent: see Attachment
	case typ != "ObjectEvent" && typ != "TransformationEvent":
		e.fail("type", "unsupported_event_type", "Ganpin只记录ObjectEvent和TransformationEvent，不接受%q", "Ganpin records ObjectEvent and TransformationEvent, not %q", typ)
	case raw["bizStep"] == nil:
		e.fail("bizStep", "missing_biz_step", "缺少bizStep", "bizStep is required")
	case !known:
		e.fail("bizStep", "unknown_biz_step", "未知或Ganpin不记录的bizStep：%v", "unknown bizStep, or one Ganpin has no event for: %v", raw["bizStep"])
	case (gt == trace.Transformation) != (typ == "TransformationEvent"):
		e.fail("type", "wrong_event_type", "bizStep %v 对应的事件类型有误", "bizStep %v comes with the wrong event type %s", raw["bizStep"], typ)
	}
	e.spec.Type = gt

	// When.
	t, err := time.Parse(time.RFC3339Nano, str("eventTime"))
	off := str("eventTimeZoneOffset")
	switch {
	case err != nil:
		e.fail("eventTime", "invalid_time", "eventTime应为带时区的RFC 3339时间", "eventTime must be an RFC 3339 time with an offset")
	case !offsetPattern.MatchString(off):
		e.fail("eventTimeZoneOffset", "invalid_offset", "eventTimeZoneOffset应形如+08:00", "eventTimeZoneOffset must look like +08:00")
	default:
		sign := 1
		if off[0] == '-' {
			sign = -1
		}
		hh, _ := strconv.Atoi(off[1:3])
		mm, _ := strconv.Atoi(off[4:6])
		e.spec.Time = t.In(time.FixedZone("", sign*(hh*3600+mm*60))).Format(time.RFC3339Nano)
	}

	// Fields Ganpin does not keep.
	for k := range raw {
		if readFields[k] || k == "ilmd" || e.attach {
			continue
		}
		key := h.key(k)
		if local, ok := strings.CutPrefix(key, "{"+NS+"}"); ok && (local == "note" || slices.Contains(extensions[gt], local)) {
			continue
		}
		e.fail(k, "unsupported_field", "Ganpin无法保存字段%s（会丢失）", "Ganpin cannot keep the field %s (it would be lost)", k)
	}

	// Where.
	if rp, _ := raw["readPoint"].(map[string]any); rp != nil {
		e.site = h.scalar(rp["id"])
	}
	if e.site == "" {
		e.fail("readPoint", "missing_read_point", "缺少readPoint（记录事件的场所）", "readPoint (the site of the event) is required")
	}

	// What.
	action := str("action")
	wantAction := "OBSERVE"
	if gt == trace.Harvest {
		wantAction = "ADD"
	}
	if gt != trace.Transformation && action != wantAction {
		e.fail("action", "invalid_action", "此类事件的action应为%s", "this event's action must be %s", wantAction)
	}
	e.readLots(c, h, gt)
	if e.attach {
		if l, _ := raw["sensorElementList"].([]any); len(l) == 0 {
			e.fail("sensorElementList", "missing_sensor_elements", "传感器报告事件需要sensorElementList", "a sensor report needs a sensorElementList")
		}
	}
	e.readILMD(h)
	e.readExtensions(h, gt)
	if gt == trace.Shipping {
		for j, d := range list(raw["destinationList"]) {
			dm, _ := d.(map[string]any)
			if h.vocab(sourceDestTypes, dm["type"]) == cbvNS+"SDT-location" {
				e.dest = h.scalar(dm["destination"])
			} else {
				e.fail(fmt.Sprintf("destinationList/%d", j), "unsupported_destination", "Ganpin只记录location类型的目的地", "Ganpin records destinations of type location only")
			}
		}
		if e.dest == "" {
			e.fail("destinationList", "missing_destination", "发运事件需要location类型的目的地", "a shipping event needs a destination of type location")
		}
	}
	if gt == trace.SelfTest {
		e.spec.SelfTest.Passed = h.vocab(dispositions, raw["disposition"]) == cbvNS+"Disp-conformant"
	}

	// Beside the event.
	e.eventID = str("eventID")
	for _, ci := range list(raw["certificationInfo"]) {
		if s, ok := ci.(string); ok && s != "" {
			e.certs = append(e.certs, s)
		}
	}
	if ed, ok := raw["errorDeclaration"].(map[string]any); ok {
		e.decl = &declaration{}
		if h.vocab(errorReasons, ed["reason"]) != cbvNS+"ER-incorrect_data" {
			e.fail("errorDeclaration/reason", "unsupported_reason", "Ganpin以更正事件记录错误声明，原因须为incorrect_data",
				"Ganpin records an error declaration as a correction: its reason must be incorrect_data")
		}
		for _, id := range list(ed["correctiveEventIDs"]) {
			if s, ok := id.(string); ok {
				e.decl.corrective = append(e.decl.corrective, s)
			}
		}
		if len(e.decl.corrective) != 1 {
			e.fail("errorDeclaration/correctiveEventIDs", "one_corrective_event", "更正须恰好指向一个更正事件", "a correction names exactly one corrective event")
		}
	}
	return e
}

// readLots reads the lots of the event's quantity lists.
func (e *event) readLots(c *Converter, h hasher, gt trace.EventType) {
	lists := []struct {
		name string
		role trace.LotRole
	}{{"quantityList", trace.RoleObject}}
	switch gt {
	case trace.Harvest:
		lists[0].role = trace.RoleOutput
	case trace.Transformation:
		lists = []struct {
			name string
			role trace.LotRole
		}{{"inputQuantityList", trace.RoleInput}, {"outputQuantityList", trace.RoleOutput}}
	case trace.InputApplication:
		lists = nil
		if l, ok := e.raw["epcList"].([]any); !ok || len(l) != 0 || e.raw["quantityList"] != nil {
			e.fail("epcList", "unexpected_objects", "投入品使用事件的epcList应为空列表", "an input application names no objects: its epcList is empty")
		}
	}
	if l, ok := e.raw["epcList"].([]any); gt != trace.InputApplication && (ok && len(l) > 0 || e.raw["epcList"] != nil && !ok) {
		e.fail("epcList", "unsupported_field", "Ganpin以批次数量（quantityList）记录货物，不记录单件EPC", "Ganpin records lots as quantities (quantityList), not instance EPCs")
	}
	for _, l := range lists {
		items := list(e.raw[l.name])
		if len(items) == 0 {
			e.fail(l.name, "missing_lots", "缺少%s", "%s is required", l.name)
		}
		for j, it := range items {
			field := fmt.Sprintf("%s/%d", l.name, j)
			q, _ := it.(map[string]any)
			r := lotRef{role: l.role, uri: h.scalar(q["epcClass"]), field: field}
			var ok bool
			if r.key, ok = c.lotKey(r.uri); !ok {
				e.fail(field+"/epcClass", "unknown_lot_class", "无法识别的批次标识：%v（应为GS1数字链接/01/{GTIN}/10/{批次号}或Ganpin批次URI）",
					"unknown lot identifier %v (use a GS1 Digital Link /01/{GTIN}/10/{lot} or a Ganpin lot URI)", q["epcClass"])
			}
			if n, has := q["quantity"]; has {
				f, err := strconv.ParseFloat(h.scalar(n), 64)
				if err != nil {
					e.fail(field+"/quantity", "invalid_quantity", "数量应为数字", "the quantity is a number")
				}
				r.qty, r.hasQty = f, true
			}
			r.uom, _ = q["uom"].(string)
			if r.hasQty != (l.role != trace.RoleObject) {
				e.fail(field+"/quantity", "quantity_mismatch", "采收、分选包装的批次需写数量，其他事件的批次不写数量",
					"lots harvested, packed or consumed have a quantity; the lots other events name have none")
			}
			e.lots = append(e.lots, r)
		}
	}
}

// lotKey parses a lot's EPC class (canonical): a GTIN and lot, or a Ganpin
// product and lot. The product is resolved later.
func (c *Converter) lotKey(uri string) (lotKey, bool) {
	var k lotKey
	var lot string
	var ok bool
	if rest, isDL := strings.CutPrefix(uri, dlNS+"01/"); isDL {
		k.gtin, lot, ok = strings.Cut(rest, "/10/")
		ok = ok && len(k.gtin) == 14 && digits(k.gtin)
	} else if rest, isGanpin := strings.CutPrefix(uri, c.Mapper.ganpinURI()+"product/"); isGanpin {
		var id string
		id, lot, ok = strings.Cut(rest, "/lot/")
		k.product, _ = strconv.ParseInt(id, 10, 64)
		ok = ok && k.product > 0
	}
	code, err := url.PathUnescape(lot)
	k.code = code
	return k, ok && err == nil && code != "" && !strings.Contains(code, "/")
}

// siteRef parses a site's identifier (canonical): a GLN, or a Ganpin site ID.
func (c *Converter) siteRef(uri string) (gln string, id int64, ok bool) {
	if g, isGLN := strings.CutPrefix(uri, dlNS+"414/"); isGLN {
		return g, 0, len(g) == 13 && digits(g)
	}
	if s, isGanpin := strings.CutPrefix(uri, c.Mapper.ganpinURI()+"site/"); isGanpin {
		id, err := strconv.ParseInt(s, 10, 64)
		return "", id, err == nil && id > 0
	}
	return "", 0, false
}

// readILMD reads what the lots an event creates carry beyond class and quantity.
func (e *event) readILMD(h hasher) {
	raw, ok := e.raw["ilmd"]
	if !ok {
		return
	}
	m, _ := raw.(map[string]any)
	e.ilmd = map[string]ilmdLot{}
	for k, v := range m {
		if h.key(k) != "{"+NS+"}lot" {
			e.fail("ilmd/"+k, "unsupported_field", "Ganpin无法保存ILMD字段%s（会丢失）", "Ganpin cannot keep the ILMD field %s (it would be lost)", k)
			continue
		}
		for j, it := range list(v) {
			lm, _ := it.(map[string]any)
			var uri string
			var l ilmdLot
			for lk, lv := range lm {
				s := h.scalar(lv)
				switch h.key(lk) {
				case "{" + NS + "}epcClass":
					uri = s
				case "{" + NS + "}grade":
					l.grade = s
				case "{" + NS + "}unit":
					l.unit = trace.Unit(s)
				default:
					e.fail(fmt.Sprintf("ilmd/%s/%d/%s", k, j, lk), "unsupported_field", "Ganpin无法保存ILMD字段%s", "Ganpin cannot keep the ILMD field %s", lk)
				}
			}
			e.ilmd[uri] = l
		}
	}
}

// readExtensions reads Ganpin's extension fields into the event's details.
func (e *event) readExtensions(h hasher, gt trace.EventType) {
	vals := map[string]any{}
	for k, v := range e.raw {
		if local, ok := strings.CutPrefix(h.key(k), "{"+NS+"}"); ok {
			vals[local] = v
		}
	}
	text := func(local string) string {
		v, ok := vals[local]
		s, isText := v.(string)
		if ok && !isText {
			e.fail("ganpin:"+local, "wrong_type", "字段应为文本", "the field is text")
		}
		return s
	}
	num := func(local string) float64 {
		v, ok := vals[local]
		if !ok {
			return 0
		}
		n, isNum := v.(json.Number)
		f, err := n.Float64()
		if !isNum || err != nil {
			e.fail("ganpin:"+local, "wrong_type", "字段应为数字", "the field is a number")
		}
		return f
	}
	e.spec.Note = text("note")
	switch gt {
	case trace.InputApplication:
		phi := num("phiDays")
		e.spec.Input = &trace.InputSpec{ProductName: text("productName"), RegistrationNo: text("registrationNo"),
			ActiveIngredient: text("activeIngredient"), Dose: text("dose"), PHIDays: int(phi), Target: text("target"), AreaMu: num("areaMu")}
		if phi != float64(int(phi)) {
			e.fail("ganpin:phiDays", "wrong_type", "安全间隔期应为整数天", "the pre-harvest interval is a whole number of days")
		}
	case trace.Harvest:
		e.spec.Harvest = &trace.HarvestSpec{}
	case trace.SelfTest:
		e.spec.SelfTest = &trace.SelfTestSpec{Method: text("method"), Report: text("report")}
		for j, it := range list(vals["items"]) {
			s, ok := it.(string)
			if !ok {
				e.fail(fmt.Sprintf("ganpin:items/%d", j), "wrong_type", "检测项目应为文本", "a test item is text")
			}
			e.spec.SelfTest.Items = append(e.spec.SelfTest.Items, s)
		}
	case trace.Transformation:
		e.spec.Transformation = &trace.TransformationSpec{TolerancePct: num("tolerancePct")}
	case trace.Storing:
		e.spec.Storing = &trace.StoringSpec{Room: text("room")}
	case trace.Shipping:
		e.spec.Shipping = &trace.ShippingSpec{Carrier: text("carrier"), Vehicle: text("vehicle"), Container: text("container")}
	case trace.Receiving:
		e.spec.Receiving = &trace.ReceivingSpec{}
	}
}

// Convert turns a document into a batch of Ganpin events, or returns the problems,
// event by event, that keep it from being captured whole. It fails only when the
// records it names cannot be read.
func (c *Converter) Convert(ctx context.Context, doc []byte) (*Batch, []Problem, error) {
	ns, raws, ps := Events(doc)
	if ps != nil {
		return nil, ps, nil
	}
	evs := make([]*event, len(raws))
	parallel(len(raws), func(i int) {
		d := json.NewDecoder(bytes.NewReader(raws[i]))
		d.UseNumber()
		var v any
		d.Decode(&v)
		e := c.read(i, v, ns)
		if e.raw != nil {
			e.pre = PreHash(e.raw, ns)
			e.hash = hashID(sha256Of(e.pre))
		}
		evs[i] = e
	})
	res, err := c.resolve(ctx, evs)
	if err != nil {
		return nil, nil, err
	}
	b := c.build(evs, res, ns)
	for _, e := range evs {
		ps = append(ps, e.errs...)
	}
	if len(ps) > 0 {
		return nil, ps, nil
	}
	return b, nil, nil
}

// resolved holds the records a document names.
type resolved struct {
	sites    map[string]*trace.Site // by identifier
	products map[lotKey]*trace.Product
	lots     map[LotKey][]trace.Lot
	stored   map[string]int64 // EPCIS IDs Ganpin already has
}

func (c *Converter) resolve(ctx context.Context, evs []*event) (*resolved, error) {
	res := &resolved{sites: map[string]*trace.Site{}, products: map[lotKey]*trace.Product{}, lots: map[LotKey][]trace.Lot{}}
	missing := func(err error) bool { return trace.KindOf(err) == trace.KindNotFound }
	site := func(uri string) error {
		if _, done := res.sites[uri]; done || uri == "" {
			return nil
		}
		gln, id, ok := c.siteRef(uri)
		var s *trace.Site
		var err error
		switch {
		case !ok:
		case gln != "":
			s, err = c.Resolver.SiteByGLN(ctx, gln)
		default:
			s, err = c.Resolver.Site(ctx, id)
		}
		if err != nil && !missing(err) {
			return err
		}
		res.sites[uri] = s
		return nil
	}
	var ids []string
	var keys []LotKey
	created := map[lotKey]bool{} // lots the document creates are looked up only if named before
	for _, e := range evs {
		if err := site(e.site); err != nil {
			return nil, err
		}
		if err := site(e.dest); err != nil {
			return nil, err
		}
		for _, l := range e.lots {
			pk := lotKey{gtin: l.key.gtin, product: l.key.product}
			if _, done := res.products[pk]; !done && (pk.gtin != "" || pk.product != 0) {
				var p *trace.Product
				var err error
				if pk.gtin != "" {
					p, err = c.Resolver.ProductByGTIN(ctx, pk.gtin)
				} else {
					p, err = c.Resolver.Product(ctx, pk.product)
				}
				if err != nil && !missing(err) {
					return nil, err
				}
				res.products[pk] = p
			}
			if p := res.products[pk]; p != nil && l.role != trace.RoleOutput && !created[l.key] {
				keys = append(keys, LotKey{p.ID, l.key.code})
			}
			if l.role == trace.RoleOutput {
				created[l.key] = true
			}
		}
		if e.raw != nil {
			ids = append(ids, e.hash)
		}
		if e.eventID != "" {
			ids = append(ids, e.eventID)
		}
	}
	lots, err := c.Resolver.LotsByCode(ctx, keys)
	if err != nil {
		return nil, err
	}
	for _, l := range lots {
		k := LotKey{l.ProductID, l.Code}
		res.lots[k] = append(res.lots[k], l)
	}
	if res.stored, err = c.Resolver.EventsByEPCISID(ctx, ids); err != nil {
		return nil, err
	}
	return res, nil
}

// build makes the batch's specs, checks what can be checked before capture, and
// that Ganpin would write each event back as it was sent.
func (c *Converter) build(evs []*event, res *resolved, ns Namespaces) *Batch {
	b := &Batch{}
	c.received = map[int64]bool{}
	refs := NewRefs()
	made := map[LotKey]int64{} // lots the document creates: -1, -2, …
	specOf := map[string]int{} // EPCIS ID → spec
	events := make([]*trace.Event, 0, len(evs))
	for _, e := range evs {
		if len(e.errs) > 0 {
			c.claim(e, res, made) // its lots still exist for the events after it
			continue
		}
		if id, dup := res.stored[e.eventID]; dup && e.eventID != "" || res.stored[e.hash] != 0 {
			if e.decl != nil {
				e.skip = true // declares a stored event erroneous
				if id == 0 {
					id = res.stored[e.hash]
				}
				e.storedID = id
				continue
			}
			e.fail("eventID", "already_captured", "该事件已经记录过", "this event was captured before")
			continue
		}
		if e.attach {
			if a := c.attachment(e, res, refs, made); a != nil {
				b.Attachments = append(b.Attachments, *a)
			}
			continue
		}
		ev := c.event(e, res, refs, made)
		if ev == nil {
			continue
		}
		e.specIndex = len(b.Specs)
		specOf[e.hash] = e.specIndex
		if e.eventID != "" {
			specOf[e.eventID] = e.specIndex
		}
		b.Specs = append(b.Specs, e.spec)
		b.Index = append(b.Index, e.index)
		r := Record{Hash: e.hash, CertInfo: e.certs}
		if e.eventID != e.hash {
			r.EventID = e.eventID
		}
		b.Kept = append(b.Kept, r)
		events = append(events, ev)
	}
	// Corrections: the corrective event follows the one it corrects in the batch.
	for _, e := range evs {
		if e.decl == nil || len(e.errs) > 0 || len(e.decl.corrective) != 1 {
			continue
		}
		ci, ok := specOf[e.decl.corrective[0]]
		target := e.storedID
		if !e.skip {
			target = -int64(e.specIndex + 1)
		}
		switch {
		case !ok:
			e.fail("errorDeclaration/correctiveEventIDs", "corrective_not_in_document", "更正事件须在同一文档中", "the corrective event must be in the same document")
		case !e.skip && ci <= e.specIndex:
			e.fail("errorDeclaration/correctiveEventIDs", "corrective_before_corrected", "更正事件须排在被更正事件之后", "the corrective event must come after the event it corrects")
		default:
			b.Specs[ci].Corrects = target
		}
	}
	// Fidelity: what Ganpin would write must hash as what was sent.
	parallel(len(events), func(i int) {
		e := evs[b.Index[i]]
		out, err := c.Mapper.Event(events[i], refs, e.certs)
		if err != nil {
			e.fail("", "unmapped", "无法转换该事件：%v", "cannot map the event: %v", err)
			return
		}
		if got := PreHash(out, ganpinNamespaces); got != e.pre {
			e.fail("", "not_kept_as_sent", "Ganpin无法原样保存该事件（规范化形式不同，自第%d个字符起）",
				"Ganpin cannot keep this event as sent: its canonical form would differ from character %d on", firstDiff(got, e.pre))
		}
	})
	return b
}

// claim registers the lots a failed event would have created.
func (c *Converter) claim(e *event, res *resolved, made map[LotKey]int64) {
	for _, l := range e.lots {
		if p := res.products[lotKey{gtin: l.key.gtin, product: l.key.product}]; p != nil && l.role == trace.RoleOutput {
			if _, ok := made[LotKey{p.ID, l.key.code}]; !ok {
				made[LotKey{p.ID, l.key.code}] = -int64(len(made) + 1)
			}
		}
	}
}

func firstDiff(a, b string) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return n
}

// event resolves an event's site and lots into its spec, and returns the event as
// Ganpin would record it; nil with problems on e when it cannot be.
func (c *Converter) event(e *event, res *resolved, refs *Refs, made map[LotKey]int64) *trace.Event {
	site := res.sites[e.site]
	switch {
	case site == nil:
		e.fail("readPoint/id", "unknown_site", "未知场所：%s", "unknown site %s", e.site)
	case site.PartyID != c.Actor.PartyID:
		e.fail("readPoint/id", "forbidden_site", "只能在本主体的场所记录事件", "events are recorded at your own party's sites")
	default:
		e.spec.Site = site.ID
		refs.Sites[site.ID] = site
	}
	if e.spec.Type == trace.Shipping {
		if to := res.sites[e.dest]; to == nil {
			e.fail("destinationList/0/destination", "unknown_site", "未知场所：%s", "unknown site %s", e.dest)
		} else {
			e.spec.Shipping.To = to.ID
			refs.Sites[to.ID] = to
		}
	}
	t, _ := time.Parse(time.RFC3339Nano, e.spec.Time)
	ev := &trace.Event{Time: t, Spec: e.spec}
	var ids []int64
	for _, l := range e.lots {
		p := res.products[lotKey{gtin: l.key.gtin, product: l.key.product}]
		if p == nil {
			e.fail(l.field+"/epcClass", "unknown_product", "未知产品：%s", "unknown product in %s", l.uri)
			continue
		}
		refs.Products[p.ID] = p
		k := LotKey{p.ID, l.key.code}
		if l.role == trace.RoleOutput {
			ns := c.newLot(e, l, p)
			if _, dup := made[k]; dup {
				e.fail(l.field+"/epcClass", "duplicate_lot", "批次%s在文档中被创建两次", "lot %s is created twice in the document", l.key.code)
				continue
			}
			id := -int64(len(made) + 1)
			made[k] = id
			refs.Lots[id] = &trace.Lot{ID: id, Code: ns.Code, ProductID: p.ID, Unit: ns.Unit, Grade: ns.Grade}
			ev.Lots = append(ev.Lots, trace.EventLot{Lot: id, Role: trace.RoleOutput, Quantity: ns.Quantity})
			if e.spec.Harvest != nil {
				e.spec.Harvest.Lot = ns
			} else {
				e.spec.Transformation.Outputs = append(e.spec.Transformation.Outputs, ns)
			}
			continue
		}
		lot := c.existing(e, l, k, res, made, refs)
		if lot == nil {
			continue
		}
		el := trace.EventLot{Lot: lot.ID, Role: l.role}
		if l.role == trace.RoleInput {
			u := units[lot.Unit]
			if l.uom != u.uom {
				e.fail(l.field+"/uom", "unit_mismatch", "批次%s的计量单位应为%q", "lot %s is measured in %q", lot.Code, u.uom)
			}
			el.Quantity = l.qty / u.factor
			e.spec.Transformation.Inputs = append(e.spec.Transformation.Inputs, trace.LotQuantity{Lot: lot.ID, Quantity: el.Quantity})
		} else {
			ids = append(ids, lot.ID)
		}
		ev.Lots = append(ev.Lots, el)
	}
	switch {
	case e.spec.SelfTest != nil && len(ids) == 1:
		e.spec.SelfTest.Lot = ids[0]
	case e.spec.SelfTest != nil:
		e.fail("quantityList", "one_lot", "自检事件只针对一个批次", "a self test is of one lot")
	case e.spec.Storing != nil:
		e.spec.Storing.Lots = ids
	case e.spec.Shipping != nil:
		e.spec.Shipping.Lots = ids
	case e.spec.Receiving != nil:
		e.spec.Receiving.Lots = ids
	}
	if len(e.errs) > 0 {
		return nil
	}
	ev.Spec = e.spec
	ev.Disposition = Disposition(&e.spec)
	return ev
}

// attachment checks a sensor report: at a site of the actor's, about lots the actor
// has or the document creates.
func (c *Converter) attachment(e *event, res *resolved, refs *Refs, made map[LotKey]int64) *Attachment {
	site := res.sites[e.site]
	switch {
	case site == nil:
		e.fail("readPoint/id", "unknown_site", "未知场所：%s", "unknown site %s", e.site)
	case site.PartyID != c.Actor.PartyID:
		e.fail("readPoint/id", "forbidden_site", "只能在本主体的场所记录事件", "events are recorded at your own party's sites")
	}
	a := &Attachment{Hash: e.hash}
	if e.eventID != e.hash {
		a.EventID = e.eventID
	}
	for _, l := range e.lots {
		p := res.products[lotKey{gtin: l.key.gtin, product: l.key.product}]
		if p == nil {
			e.fail(l.field+"/epcClass", "unknown_product", "未知产品：%s", "unknown product in %s", l.uri)
			continue
		}
		if lot := c.existing(e, l, LotKey{p.ID, l.key.code}, res, made, refs); lot != nil {
			a.Lots = append(a.Lots, lot.ID)
		}
	}
	a.Time, _ = time.Parse(time.RFC3339Nano, e.spec.Time)
	body := make(map[string]any, len(e.raw))
	for k, v := range e.raw {
		if k != "recordTime" {
			body[k] = v
		}
	}
	var err error
	if a.Body, err = json.Marshal(body); err != nil {
		e.fail("", "invalid_event", "无法保存该事件：%v", "cannot keep the event: %v", err)
	}
	if len(e.errs) > 0 {
		return nil
	}
	return a
}

// newLot reads a lot an event creates.
func (c *Converter) newLot(e *event, l lotRef, p *trace.Product) trace.NewLotSpec {
	il := e.ilmd[l.uri]
	ns := trace.NewLotSpec{Code: l.key.code, Product: p.ID, Grade: il.grade}
	switch {
	case l.uom == "KGM" && il.unit == trace.Jin:
		ns.Unit = trace.Jin
	case l.uom == "KGM":
		ns.Unit = trace.Kg
	case l.uom == "TNE":
		ns.Unit = trace.Tonne
	case l.uom == "" && p.Unit.Mass() == 0:
		ns.Unit = p.Unit
	case l.uom == "":
		e.fail(l.field+"/uom", "missing_uom", "按重量计量的产品须写计量单位（KGM或TNE）", "a product measured by mass needs a uom (KGM or TNE)")
	default:
		e.fail(l.field+"/uom", "unsupported_uom", "Ganpin不支持计量单位%s（可用KGM、TNE，计数不写单位）", "Ganpin does not take the uom %s (use KGM or TNE, or none for a count)", l.uom)
	}
	if il.unit != "" && il.unit != trace.Jin {
		e.fail("ilmd", "unsupported_unit", "ILMD中的单位只能是jin", "the only unit ILMD names is jin")
	}
	if u, ok := units[ns.Unit]; ok {
		ns.Quantity = l.qty / u.factor
	}
	return ns
}

// existing finds a lot an event names that Ganpin has or the document creates, and
// checks the actor may name it.
func (c *Converter) existing(e *event, l lotRef, k LotKey, res *resolved, made map[LotKey]int64, refs *Refs) *trace.Lot {
	if id, ok := made[k]; ok {
		if refs.Lots[id] == nil { // made by an event that failed
			return nil
		}
		return refs.Lots[id]
	}
	var pick *trace.Lot
	for i := range res.lots[k] {
		lot := &res.lots[k][i]
		mine := lot.HolderID == c.Actor.PartyID || lot.OwnerID == c.Actor.PartyID || c.received[lot.ID]
		if to := lot.InTransit; to != 0 && e.spec.Type == trace.Receiving && to == e.spec.Site {
			mine = true
		}
		if mine || pick == nil {
			pick = lot
		}
		if mine {
			break
		}
	}
	switch {
	case pick == nil:
		e.fail(l.field+"/epcClass", "unknown_lot", "未知批次：%s", "unknown lot %s", l.uri)
		return nil
	case pick.HolderID != c.Actor.PartyID && pick.OwnerID != c.Actor.PartyID && !c.received[pick.ID] && !(e.spec.Type == trace.Receiving && pick.InTransit == e.spec.Site):
		e.fail(l.field+"/epcClass", "forbidden_lot", "批次%s属于其他主体", "lot %s is another party's", l.key.code)
		return nil
	}
	if e.spec.Type == trace.Receiving {
		c.received[pick.ID] = true
	}
	refs.Lots[pick.ID] = pick
	return pick
}

func sha256Of(s string) [32]byte { return sha256.Sum256([]byte(s)) }
