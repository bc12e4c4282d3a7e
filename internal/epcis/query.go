package epcis

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ganpin/ganpin/trace"
)

// Filter selects events for a query; the store turns it into SQL.
type Filter struct {
	Party    int64             // 0: every event; else only those the party may read
	Types    []trace.EventType // nil: every type; empty: none
	From, To int64             // eventTime ≥ From, < To, in microseconds (0: open)
	Sites    []int64           // readPoint is one of these
	BizSites []int64           // bizLocation is one of these (shipping has none)
	Lots     []LotMatch        // each must match
	Events   []int64           // EQ_eventID, resolved (nil: any)
	// Corrected keeps only events with an error declaration.
	Corrected bool
	ByTime    bool // order by eventTime, then ID; else by ID
	Desc      bool
	After     Cursor // zero: from the start
	Limit     int
}

// LotMatch matches events that name one of Lots in one of the ways Ways lists.
type LotMatch struct {
	Lots []int64
	Ways []LotWay
}

// LotWay is a way an event names a lot: with a role, in events of some types (nil: any).
type LotWay struct {
	Role  trace.LotRole // "": any
	Types []trace.EventType
}

// Cursor is where a page ends.
type Cursor struct {
	Time int64 // ByTime: the last event's time
	ID   int64
}

var allTypes = []trace.EventType{trace.InputApplication, trace.Harvest, trace.SelfTest, trace.Transformation, trace.Storing, trace.Shipping, trace.Receiving}

// The MATCH_ parameters and how each names lots: quantityList (an event's objects,
// a harvest's new lot), inputQuantityList, outputQuantityList, or any.
var (
	inQuantityList = []LotWay{{Role: trace.RoleObject}, {Role: trace.RoleOutput, Types: []trace.EventType{trace.Harvest}}}
	matchWays      = map[string][]LotWay{
		"MATCH_epc": inQuantityList, "MATCH_epcClass": inQuantityList, "MATCH_anyEPC": {{}}, "MATCH_anyEPCClass": {{}},
		"MATCH_inputEPCClass":  {{Role: trace.RoleInput}},
		"MATCH_outputEPCClass": {{Role: trace.RoleOutput, Types: []trace.EventType{trace.Transformation}}},
	}
)

// DefaultPerPage and MaxPerPage bound a page of query results.
const (
	DefaultPerPage = 30
	MaxPerPage     = 1000
)

// queryError reports a query parameter Ganpin cannot answer (a QueryParameterException).
func queryError(param, zh, en string, args ...any) error {
	return trace.Invalid(param, "query_parameter", zh, en, args...)
}

// Page is a page of query results.
type Page struct {
	Document map[string]any // the EPCISQueryDocument
	Next     string         // nextPageToken; "" on the last page
}

// postFilter is what a query checks on the events the store returns.
type postFilter struct {
	recordFrom, recordTo time.Time
	passed               *bool // EQ_disposition conformant / non_conformant: self tests that passed / failed
}

// Query answers a SimpleEventQuery given as the REST bindings' URL parameters.
func (s *Service) Query(ctx context.Context, a trace.Actor, params url.Values) (*Page, error) {
	f, pf, err := s.filter(ctx, a, params)
	if err != nil {
		return nil, err
	}
	var evs []trace.Event
	if f.Types == nil || len(f.Types) > 0 {
		if evs, err = s.store.QueryEvents(ctx, f); err != nil {
			return nil, err
		}
	}
	page := &Page{}
	if len(evs) == f.Limit {
		last := evs[len(evs)-1]
		c := Cursor{ID: last.ID}
		if f.ByTime {
			c.Time = last.Time.UnixMicro()
		}
		page.Next = encodeCursor(c)
	}
	kept := evs[:0:0]
	for _, e := range evs {
		if pf.keeps(&e) {
			kept = append(kept, e)
		}
	}
	out, err := s.export(ctx, kept, true)
	if err != nil {
		return nil, err
	}
	list := make([]any, len(out))
	for i, o := range out {
		list[i] = o.ev
	}
	page.Document = QueryDocument(list, s.now())
	return page, nil
}

func (pf *postFilter) keeps(e *trace.Event) bool {
	if !pf.recordFrom.IsZero() && e.Recorded.Before(pf.recordFrom) || !pf.recordTo.IsZero() && !e.Recorded.Before(pf.recordTo) {
		return false
	}
	return pf.passed == nil || e.Spec.SelfTest != nil && e.Spec.SelfTest.Passed == *pf.passed
}

// supported are the query parameters Ganpin answers.
var supported = map[string]bool{"perPage": true, "nextPageToken": true, "eventType": true, "GE_eventTime": true, "LT_eventTime": true,
	"GE_recordTime": true, "LT_recordTime": true, "EQ_action": true, "EQ_bizStep": true, "EQ_disposition": true, "EQ_readPoint": true,
	"EQ_bizLocation": true, "EQ_eventID": true, "EXISTS_errorDeclaration": true, "orderBy": true, "orderDirection": true,
	"MATCH_epc": true, "MATCH_anyEPC": true, "MATCH_epcClass": true, "MATCH_anyEPCClass": true, "MATCH_inputEPCClass": true,
	"MATCH_outputEPCClass": true}

// values returns a parameter's pipe-separated values.
func values(params url.Values, name string) []string {
	var out []string
	for _, v := range params[name] {
		for _, s := range strings.Split(v, "|") {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
	}
	return out
}

func (s *Service) filter(ctx context.Context, a trace.Actor, params url.Values) (*Filter, *postFilter, error) {
	f := &Filter{Limit: DefaultPerPage}
	pf := &postFilter{}
	for k := range params {
		if !supported[k] {
			return nil, nil, queryError(k, "不支持的查询参数%s", "the query parameter %s is not supported", k)
		}
	}
	if !a.ReadsAll() {
		f.Party = a.PartyID
	}
	if v := params.Get("perPage"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxPerPage {
			return nil, nil, queryError("perPage", "perPage应为1至%d", "perPage is 1 to %d", MaxPerPage)
		}
		f.Limit = n
	}
	switch params.Get("orderBy") {
	case "":
	case "eventTime":
		f.ByTime = true
	default:
		return nil, nil, queryError("orderBy", "orderBy只支持eventTime", "orderBy takes eventTime only")
	}
	switch params.Get("orderDirection") {
	case "", "ASC":
	case "DESC":
		f.Desc = true
	default:
		return nil, nil, queryError("orderDirection", "orderDirection应为ASC或DESC", "orderDirection is ASC or DESC")
	}
	if v := params.Get("nextPageToken"); v != "" {
		c, ok := decodeCursor(v)
		if !ok {
			return nil, nil, queryError("nextPageToken", "nextPageToken无效", "invalid nextPageToken")
		}
		f.After = c
	}
	restrict := func(ts []trace.EventType) {
		if f.Types == nil {
			f.Types = slices.Clone(allTypes)
		}
		f.Types = slices.DeleteFunc(f.Types, func(t trace.EventType) bool { return !slices.Contains(ts, t) })
	}
	if vs := values(params, "eventType"); len(vs) > 0 {
		var ts []trace.EventType
		for _, v := range vs {
			switch v {
			case "ObjectEvent":
				ts = append(ts, trace.InputApplication, trace.Harvest, trace.SelfTest, trace.Storing, trace.Shipping, trace.Receiving)
			case "TransformationEvent":
				ts = append(ts, trace.Transformation)
			}
		}
		restrict(ts)
	}
	if vs := values(params, "EQ_bizStep"); len(vs) > 0 {
		var ts []trace.EventType
		h := hasher{ns: ganpinNamespaces}
		for _, v := range vs {
			if t, ok := steps[h.vocab(bizSteps, v)]; ok {
				ts = append(ts, t)
			}
		}
		restrict(ts)
	}
	if vs := values(params, "EQ_action"); len(vs) > 0 {
		var ts []trace.EventType
		for _, v := range vs {
			switch v {
			case "ADD":
				ts = append(ts, trace.Harvest)
			case "OBSERVE":
				ts = append(ts, trace.InputApplication, trace.SelfTest, trace.Storing, trace.Shipping, trace.Receiving)
			}
		}
		restrict(ts)
	}
	if vs := values(params, "EQ_disposition"); len(vs) > 0 {
		var ts []trace.EventType
		h := hasher{ns: ganpinNamespaces}
		for _, v := range vs {
			switch dispositions.compact(h.vocab(dispositions, v)) {
			case "active":
				ts = append(ts, trace.Harvest, trace.Transformation)
			case "conformant", "non_conformant":
				ts = append(ts, trace.SelfTest)
				passed := dispositions.compact(h.vocab(dispositions, v)) == "conformant"
				if pf.passed != nil && *pf.passed != passed {
					pf.passed = nil // both
					continue
				}
				pf.passed = &passed
			case "in_progress":
				ts = append(ts, trace.Storing, trace.Receiving)
			case "in_transit":
				ts = append(ts, trace.Shipping)
			}
		}
		if len(vs) > 1 && pf.passed != nil && slices.ContainsFunc(vs, func(v string) bool { return v != "conformant" && v != "non_conformant" }) {
			return nil, nil, queryError("EQ_disposition", "EQ_disposition不能同时含conformant/non_conformant与其他处置", "EQ_disposition cannot mix conformant or non_conformant with other dispositions")
		}
		restrict(ts)
	}
	var err error
	times := []struct {
		name string
		dst  *int64
		t    *time.Time
	}{{"GE_eventTime", &f.From, nil}, {"LT_eventTime", &f.To, nil}, {"GE_recordTime", nil, &pf.recordFrom}, {"LT_recordTime", nil, &pf.recordTo}}
	for _, p := range times {
		v := params.Get(p.name)
		if v == "" {
			continue
		}
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return nil, nil, queryError(p.name, "%s应为带时区的RFC 3339时间", "%s is an RFC 3339 time with an offset", p.name)
		}
		if p.dst != nil {
			*p.dst = t.UnixMicro()
		} else {
			*p.t = t
		}
	}
	if f.Sites, err = s.sites(ctx, values(params, "EQ_readPoint")); err != nil {
		return nil, nil, err
	}
	if f.BizSites, err = s.sites(ctx, values(params, "EQ_bizLocation")); err != nil {
		return nil, nil, err
	}
	if len(values(params, "EQ_readPoint")) > 0 && len(f.Sites) == 0 || len(values(params, "EQ_bizLocation")) > 0 && len(f.BizSites) == 0 {
		f.Types = []trace.EventType{} // names only sites Ganpin does not know
	}
	for _, name := range []string{"MATCH_epc", "MATCH_anyEPC", "MATCH_epcClass", "MATCH_anyEPCClass", "MATCH_inputEPCClass", "MATCH_outputEPCClass"} {
		vs := values(params, name)
		if len(vs) == 0 {
			continue
		}
		lots, err := s.lots(ctx, name, vs)
		if err != nil {
			return nil, nil, err
		}
		if len(lots) == 0 {
			f.Types = []trace.EventType{}
		}
		f.Lots = append(f.Lots, LotMatch{Lots: lots, Ways: matchWays[name]})
	}
	if vs := values(params, "EQ_eventID"); len(vs) > 0 {
		if err := s.CatchUp(ctx); err != nil {
			return nil, nil, err
		}
		found, err := s.store.EventsByEPCISID(ctx, vs)
		if err != nil {
			return nil, nil, err
		}
		f.Events = []int64{}
		for _, id := range found {
			f.Events = append(f.Events, id)
		}
		if len(f.Events) == 0 {
			f.Types = []trace.EventType{}
		}
	}
	_, f.Corrected = params["EXISTS_errorDeclaration"]
	if f.Party != 0 && len(f.Lots) > 0 {
		// Every event naming a lot the party owns or holds is the party's to read.
		readable, err := s.readable(ctx, a, f.Lots)
		if err != nil {
			return nil, nil, err
		}
		if readable {
			f.Party = 0
		}
	}
	return f, pf, nil
}

// readable reports whether one of the lot matches names only lots the actor owns or holds.
func (s *Service) readable(ctx context.Context, a trace.Actor, ms []LotMatch) (bool, error) {
	for _, m := range ms {
		ls, err := s.store.LotsByID(ctx, m.Lots)
		if err != nil {
			return false, err
		}
		if len(ls) > 0 && !slices.ContainsFunc(ls, func(l trace.Lot) bool { return l.OwnerID != a.PartyID && l.HolderID != a.PartyID }) {
			return true, nil
		}
	}
	return false, nil
}

// sites resolves location URIs to Ganpin sites; unknown ones match nothing.
func (s *Service) sites(ctx context.Context, uris []string) ([]int64, error) {
	c := &Converter{Mapper: s.mapper}
	h := hasher{ns: ganpinNamespaces}
	var ids []int64
	for _, u := range uris {
		gln, id, ok := c.siteRef(h.text(u))
		if !ok {
			continue
		}
		if gln != "" {
			st, err := s.store.SiteByGLN(ctx, gln)
			if trace.KindOf(err) == trace.KindNotFound {
				continue
			} else if err != nil {
				return nil, err
			}
			id = st.ID
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// lots resolves the lots a MATCH_ parameter names. An instance EPC (MATCH_epc,
// MATCH_anyEPC) is a unit-level Digital Link /01/{gtin}/10/{lot}/21/{serial}, as
// printed on unit labels: Ganpin records lots as quantities, so a unit matches the
// events of its lot.
func (s *Service) lots(ctx context.Context, param string, vs []string) ([]int64, error) {
	c := &Converter{Mapper: s.mapper}
	h := hasher{ns: ganpinNamespaces}
	instance := param == "MATCH_epc" || param == "MATCH_anyEPC"
	var keys []LotKey
	for _, v := range vs {
		uri := h.text(v)
		if instance {
			// The canonical form keeps the serial and drops the lot: read the lot first.
			u, err := url.Parse(strings.TrimSpace(v))
			segs := strings.Split(strings.Trim(u.EscapedPath(), "/"), "/")
			if err != nil || len(segs) < 6 || segs[len(segs)-6] != "01" || segs[len(segs)-4] != "10" || segs[len(segs)-2] != "21" {
				return nil, queryError(param, "%s的值应为单件EPC（如箱码 /01/{GTIN}/10/{批次号}/21/{序号}）；批次请用MATCH_epcClass或MATCH_anyEPCClass",
					"%s takes instance EPCs (a unit's /01/{gtin}/10/{lot}/21/{serial}); for lots use MATCH_epcClass or MATCH_anyEPCClass", param)
			}
			uri = LotClassURI(gtin14(segs[len(segs)-5]), segs[len(segs)-3])
			uri, _ = url.PathUnescape(uri)
			uri = h.text(uri)
		}
		k, ok := c.lotKey(uri)
		if !ok {
			continue
		}
		pid := k.product
		if k.gtin != "" {
			p, err := s.store.ProductByGTIN(ctx, k.gtin)
			if trace.KindOf(err) == trace.KindNotFound {
				continue
			} else if err != nil {
				return nil, err
			}
			pid = p.ID
		}
		keys = append(keys, LotKey{pid, k.code})
	}
	ls, err := s.store.LotsByCode(ctx, keys)
	if err != nil {
		return nil, err
	}
	ids := make([]int64, len(ls))
	for i, l := range ls {
		ids[i] = l.ID
	}
	return ids, nil
}

func encodeCursor(c Cursor) string {
	return base64.RawURLEncoding.EncodeToString([]byte(fmt.Sprintf("%d.%d", c.Time, c.ID)))
}

func decodeCursor(s string) (Cursor, bool) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return Cursor{}, false
	}
	t, id, ok := strings.Cut(string(b), ".")
	var c Cursor
	var e1, e2 error
	c.Time, e1 = strconv.ParseInt(t, 10, 64)
	c.ID, e2 = strconv.ParseInt(id, 10, 64)
	return c, ok && e1 == nil && e2 == nil && c.ID > 0
}

// Event returns the EPCISQueryDocument of the events stored under an EPCIS event ID
// (its hash ID or the eventID it was captured with) that the actor may read.
func (s *Service) Event(ctx context.Context, a trace.Actor, eventID string) (map[string]any, []int64, error) {
	if err := s.CatchUp(ctx); err != nil {
		return nil, nil, err
	}
	found, err := s.store.EventsByEPCISID(ctx, []string{eventID})
	if err != nil {
		return nil, nil, err
	}
	id, ok := found[eventID]
	if !ok {
		return nil, nil, trace.NotFound("", "event", eventID)
	}
	e, err := s.trace.Event(ctx, a, id)
	if err != nil {
		return nil, nil, err
	}
	out, err := s.export(ctx, []trace.Event{*e}, true)
	if err != nil {
		return nil, nil, err
	}
	return QueryDocument([]any{out[0].ev}, s.now()), []int64{e.ID}, nil
}
