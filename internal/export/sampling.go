package export

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/ganpin/ganpin/trace"
)

// SamplingHeader is the header of a sampling-records table.
var SamplingHeader = []string{"抽样单编号 Number", "抽样时间 Sampled", "任务类别 Task type", "抽样环节 Stage", "抽样地点 Place", "行政区划 County",
	"抽样单位 Agency", "被抽样单位 Sampled party", "生产者 Producer", "样品名称 Sample", "批号 Lot code", "批次 Lot ID", "合格证 Certificate",
	"结论 Verdict", "报告录入 Reported", "报告截止 Report due", "处置截止 Disposal due", "处置完成 Closed", "公布 Published"}

// SamplingRow is a sampling record as a table row.
func SamplingRow(s *trace.Sampling) []any {
	sp := &s.Spec
	verdict := string(s.Verdict)
	if verdict == "" {
		verdict = "待检"
	}
	county := sp.Place.County
	if n := trace.CountyName(county); n != "" {
		county += " " + n
	}
	var lot any
	if s.LotID != 0 {
		lot = s.LotID
	}
	return []any{sp.Number, s.Time, sp.TaskType.ZH(), sp.Stage.ZH(), sp.Place.Name, county, sp.Agency, sp.Sampled.Name, sp.Producer.Name,
		sp.Sample.Name, sp.Sample.LotCode, lot, sp.Certificate, verdict, s.Reported, s.ReportDue, s.DisposalDue, s.Closed, s.Published}
}

// Samplings writes the records f selects that a may see, calling progress every
// thousand rows, and logs the export with its row count. It returns the rows written.
func Samplings(ctx context.Context, in *trace.Inspection, a trace.Actor, f trace.SamplingFilter, format Format, w Writer, progress func(int)) (int, error) {
	n := 0
	err := in.Each(ctx, a, f, func(s *trace.Sampling) error {
		n++
		if progress != nil && n%1000 == 0 {
			progress(n)
		}
		return w.Row(SamplingRow(s)...)
	})
	if err == nil {
		err = w.Close()
	}
	if progress != nil {
		progress(n)
	}
	if err != nil {
		return n, err
	}
	return n, in.LogExport(ctx, a, "export_"+string(format), f, n)
}

// FSMAHeader is the header of the key-data-elements sheet: one row per critical
// tracking event and lot, after FSMA 204's electronic sortable spreadsheet.
var FSMAHeader = []string{"追溯批次号 Traceability lot code", "批次 Lot ID", "产品 Product description", "数量 Quantity", "单位 Unit of measure",
	"关键追踪事件 Critical tracking event", "事件时间 Event date and time", "地点 Location", "行政区划 County", "GLN",
	"发货地 Ship-from", "收货地 Ship-to", "投入批次 Input lots", "记录主体 Recorded by", "批次来源地 TLC source", "参考文件 Reference document", "SHA-256"}

// cte names an event's critical tracking event; "" for events that are not one.
func cte(e *trace.Event, firstPacking bool) string {
	switch e.Spec.Type {
	case trace.Harvest:
		return "收获 Harvesting"
	case trace.Transformation:
		if firstPacking {
			return "初次包装 Initial packing"
		}
		return "转化 Transformation"
	case trace.Storing:
		return "冷却贮存 Cooling"
	case trace.Shipping:
		return "发运 Shipping"
	case trace.Receiving:
		return "收货 Receiving"
	}
	return ""
}

// kde resolves the names a KDE row needs, once per export.
type kde struct {
	ctx      context.Context
	svc      *trace.Service
	a        trace.Actor
	lots     map[int64]*trace.Lot
	products map[int64]*trace.Product
	sites    map[int64]*trace.Site
	parties  map[int64]string
}

func newKDE(ctx context.Context, svc *trace.Service, a trace.Actor) *kde {
	return &kde{ctx: ctx, svc: svc, a: a, lots: map[int64]*trace.Lot{}, products: map[int64]*trace.Product{}, sites: map[int64]*trace.Site{}, parties: map[int64]string{}}
}

func (k *kde) lot(id int64) *trace.Lot {
	if l, ok := k.lots[id]; ok {
		return l
	}
	l, err := k.svc.Lot(k.ctx, k.a, id)
	if err != nil {
		l = &trace.Lot{ID: id, Code: fmt.Sprintf("#%d", id)}
	}
	k.lots[id] = l
	return l
}

func (k *kde) product(id int64) string {
	p, ok := k.products[id]
	if !ok {
		p, _ = k.svc.Product(k.ctx, k.a, id)
		k.products[id] = p
	}
	if p == nil {
		return ""
	}
	return strings.TrimSpace(p.Name + " " + p.Variety)
}

func (k *kde) site(id int64) *trace.Site {
	s, ok := k.sites[id]
	if !ok {
		var err error
		if s, err = k.svc.Site(k.ctx, k.a, id); err != nil {
			s = &trace.Site{ID: id, Name: fmt.Sprintf("#%d", id)}
		}
		k.sites[id] = s
	}
	return s
}

func (k *kde) party(id int64) string {
	n, ok := k.parties[id]
	if !ok {
		if p, err := k.svc.Party(k.ctx, k.a, id); err == nil {
			n = p.Name
		}
		k.parties[id] = n
	}
	return n
}

// rows writes the KDE rows of one event.
func (k *kde) rows(w Writer, e *trace.Event) (int, error) {
	var inputs []string
	firstPacking := true
	for _, el := range e.Lots {
		if el.Role == trace.RoleInput {
			l := k.lot(el.Lot)
			inputs = append(inputs, l.Code)
			if src := k.site(l.SiteID); src.Kind != trace.Orchard {
				firstPacking = false
			}
		}
	}
	name := cte(e, firstPacking)
	if name == "" {
		return 0, nil
	}
	at := k.site(e.Spec.Site)
	from, to := "", ""
	if sh := e.Spec.Shipping; sh != nil {
		from, to = at.Name, k.site(sh.To).Name
	}
	n := 0
	for _, el := range e.Lots {
		if el.Role == trace.RoleInput {
			continue
		}
		l := k.lot(el.Lot)
		q := el.Quantity
		if q == 0 {
			q = l.Quantity
		}
		county := at.County
		if cn := trace.CountyName(county); cn != "" {
			county += " " + cn
		}
		if err := w.Row(l.Code, l.ID, k.product(l.ProductID), q, l.Unit.ZH(), name, e.Time, at.Name, county, at.GLN,
			from, to, strings.Join(inputs, "; "), k.party(e.PartyID), k.site(l.SiteID).Name, fmt.Sprintf("event %d", e.ID), fmt.Sprintf("%x", e.Hash)); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// FSMALot writes the KDE sheet of a lot's trace, backward and forward, and logs it.
func FSMALot(ctx context.Context, svc *trace.Service, in *trace.Inspection, a trace.Actor, lotID int64, format Format, w Writer) (int, error) {
	g, err := svc.Trace(ctx, a, lotID, trace.Both)
	if err != nil {
		return 0, err
	}
	k := newKDE(ctx, svc, a)
	for i := range g.Lots {
		k.lots[g.Lots[i].ID] = &g.Lots[i]
	}
	for i := range g.Sites {
		k.sites[g.Sites[i].ID] = &g.Sites[i]
	}
	n := 0
	for i := range g.Events {
		m, err := k.rows(w, &g.Events[i])
		if n += m; err != nil {
			return n, err
		}
	}
	if err := w.Close(); err != nil {
		return n, err
	}
	return n, in.LogExport(ctx, a, "export_fsma", map[string]any{"lot": lotID, "format": format}, n)
}

// FSMARange writes the KDE sheet of the events in [from, to) at the sites of a's
// jurisdiction, calling progress every thousand rows, and logs it.
func FSMARange(ctx context.Context, svc *trace.Service, in *trace.Inspection, a trace.Actor, from, to time.Time, format Format, w Writer, progress func(int)) (int, error) {
	k := newKDE(ctx, svc, a)
	n := 0
	err := in.EachEvent(ctx, a, from, to, func(e *trace.Event) error {
		m, err := k.rows(w, e)
		if n/1000 != (n+m)/1000 && progress != nil {
			progress(n + m)
		}
		n += m
		return err
	})
	if err == nil {
		err = w.Close()
	}
	if progress != nil {
		progress(n)
	}
	if err != nil {
		return n, err
	}
	return n, in.LogExport(ctx, a, "export_fsma", map[string]any{"from": from, "to": to, "format": format}, n)
}

// Filter reads a search's query parameters: county, party (an ID),
// party_name, product, from and to (YYYY-MM-DD, both inclusive), verdict, item, lot.
func Filter(q url.Values) (trace.SamplingFilter, error) {
	f := trace.SamplingFilter{County: q.Get("county"), Party: q.Get("party_name"), Product: q.Get("product"), Verdict: q.Get("verdict"), Item: q.Get("item")}
	for _, p := range []struct {
		name string
		v    *int64
	}{{"party", &f.PartyID}, {"lot", &f.LotID}} {
		if s := q.Get(p.name); s != "" {
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil || n <= 0 {
				return f, trace.Invalid(p.name, "invalid_id", "编号无效", "invalid id")
			}
			*p.v = n
		}
	}
	var err error
	if f.From, err = Day(q, "from", 0); err != nil {
		return f, err
	}
	f.To, err = Day(q, "to", 1)
	return f, err
}

// Day reads a YYYY-MM-DD query parameter as the start of that day in China, plus
// offset days; zero when absent.
func Day(q url.Values, name string, offset int) (time.Time, error) {
	s := q.Get(name)
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.ParseInLocation(time.DateOnly, s, cst)
	if err != nil {
		return t, trace.Invalid(name, "invalid_date", "日期格式应为YYYY-MM-DD", "a date is YYYY-MM-DD")
	}
	return t.AddDate(0, 0, offset), nil
}
