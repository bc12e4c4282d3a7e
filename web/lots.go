package web

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/ganpin/ganpin/trace"
)

const lotsPerPage = 30

// lotView is a lot as the pages show it.
type lotView struct {
	trace.Lot
	Product string
	Site    string
	Status  string // 在库, 在途, 已用完, 他方持有
	Usable  bool   // held here, not in transit, something left
}

// catalogue caches the names a request needs: products, the party's sites, parties.
type catalogue struct {
	svc      *trace.Service
	a        trace.Actor
	products map[int64]*trace.Product
	sites    map[int64]*trace.Site
	siteList []trace.Site
	parties  map[int64]string
	lots     map[int64]*trace.Lot // lots read for this request; nil entries are unreadable
}

func (s *server) catalogue(ctx context.Context, a trace.Actor) (*catalogue, error) {
	c := &catalogue{svc: s.svc, a: a, products: map[int64]*trace.Product{}, sites: map[int64]*trace.Site{}, parties: map[int64]string{}, lots: map[int64]*trace.Lot{}}
	for p := (trace.Page{Limit: 1000}); ; {
		ps, err := s.svc.Products(ctx, a, p)
		if err != nil {
			return nil, err
		}
		for i := range ps {
			c.products[ps[i].ID] = &ps[i]
		}
		if len(ps) < p.Limit {
			break
		}
		p.After = ps[len(ps)-1].ID
	}
	for p := (trace.Page{Limit: 1000}); ; {
		ss, err := s.svc.Sites(ctx, a, p)
		if err != nil {
			return nil, err
		}
		c.siteList = append(c.siteList, ss...)
		if len(ss) < p.Limit {
			break
		}
		p.After = ss[len(ss)-1].ID
	}
	for i := range c.siteList {
		c.sites[c.siteList[i].ID] = &c.siteList[i]
	}
	return c, nil
}

func (c *catalogue) productName(id int64) string {
	if p, ok := c.products[id]; ok {
		if p.Variety != "" && !strings.Contains(p.Name, p.Variety) {
			return p.Name + "（" + p.Variety + "）"
		}
		return p.Name
	}
	return fmt.Sprintf("产品 #%d", id)
}

// siteName names a site of the party; other parties' sites are not readable and
// show by number.
func (c *catalogue) siteName(id int64) string {
	if st, ok := c.sites[id]; ok {
		return st.Name
	}
	if id == 0 {
		return ""
	}
	return fmt.Sprintf("场所 #%d（其他主体）", id)
}

func (c *catalogue) partyName(ctx context.Context, id int64) string {
	if n, ok := c.parties[id]; ok {
		return n
	}
	n := fmt.Sprintf("主体 #%d", id)
	if p, err := c.svc.Party(ctx, c.a, id); err == nil {
		n = p.Name
	}
	c.parties[id] = n
	return n
}

// lot reads a lot the actor may read, once per request; nil when it may not.
func (c *catalogue) lot(ctx context.Context, id int64) *trace.Lot {
	if l, ok := c.lots[id]; ok {
		return l
	}
	l, err := c.svc.Lot(ctx, c.a, id)
	if err != nil {
		l = nil
	}
	c.lots[id] = l
	return l
}

func (c *catalogue) lotView(l trace.Lot) lotView {
	v := lotView{Lot: l, Product: c.productName(l.ProductID), Site: c.siteName(l.SiteID)}
	switch {
	case l.InTransit != 0:
		v.Status = "在途"
	case l.HolderID != c.a.PartyID:
		v.Status = "他方持有"
	case l.Remaining <= 0:
		v.Status = "已用完"
	default:
		v.Status, v.Usable = "在库", true
	}
	return v
}

type homeData struct {
	Lots []lotView
}

func (s *server) home(w http.ResponseWriter, r *http.Request) error {
	se := sessionFrom(r.Context())
	c, err := s.catalogue(r.Context(), se.actor)
	if err != nil {
		return err
	}
	ls, err := s.svc.Lots(r.Context(), se.actor, trace.Page{Limit: 5})
	if err != nil {
		return err
	}
	d := homeData{}
	for _, l := range ls {
		d.Lots = append(d.Lots, c.lotView(l))
	}
	return s.render(w, r, http.StatusOK, "home", "首页", d)
}

type lotsData struct {
	Lots  []lotView
	Next  int64 // cursor of the next page, 0 on the last
	First bool
}

func (s *server) lots(w http.ResponseWriter, r *http.Request) error {
	se := sessionFrom(r.Context())
	var after int64
	if v := r.URL.Query().Get("after"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return trace.Invalid("after", "malformed_cursor", "翻页参数无效", "invalid cursor")
		}
		after = n
	}
	c, err := s.catalogue(r.Context(), se.actor)
	if err != nil {
		return err
	}
	ls, err := s.svc.Lots(r.Context(), se.actor, trace.Page{After: after, Limit: lotsPerPage + 1})
	if err != nil {
		return err
	}
	d := lotsData{First: after == 0}
	if len(ls) > lotsPerPage {
		ls = ls[:lotsPerPage]
		d.Next = ls[len(ls)-1].ID
	}
	for _, l := range ls {
		d.Lots = append(d.Lots, c.lotView(l))
	}
	return s.render(w, r, http.StatusOK, "lots", "批次", d)
}

func pathID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, errPageNotFound
	}
	return id, nil
}

type lotData struct {
	Lot     lotView
	Cert    *certView // the lot's certificate, if any
	Certify bool      // a certificate can be issued: ours, none yet, something left
	Owner   string
	Holder  string
	GTIN    string
	Events  []eventView
	More    bool
}

func (s *server) lot(w http.ResponseWriter, r *http.Request) error {
	se := sessionFrom(r.Context())
	id, err := pathID(r)
	if err != nil {
		return err
	}
	l, err := s.svc.Lot(r.Context(), se.actor, id)
	if err != nil {
		return err
	}
	c, err := s.catalogue(r.Context(), se.actor)
	if err != nil {
		return err
	}
	const max = 200
	evs, err := s.svc.LotEvents(r.Context(), se.actor, id, trace.Page{Limit: max + 1})
	if err != nil {
		return err
	}
	d := lotData{Lot: c.lotView(*l), Owner: c.partyName(r.Context(), l.OwnerID), Holder: c.partyName(r.Context(), l.HolderID)}
	if p, ok := c.products[l.ProductID]; ok {
		d.GTIN = p.GTIN
	}
	if len(evs) > max {
		evs, d.More = evs[:max], true
	}
	if d.Cert, err = s.lotCert(r, l.ID); err != nil {
		return err
	}
	d.Certify = s.certs != nil && d.Cert == nil && l.OwnerID == se.actor.PartyID && l.Remaining > 0
	// Oldest first: the lot's story from the orchard on.
	for i := len(evs) - 1; i >= 0; i-- {
		d.Events = append(d.Events, s.eventView(r.Context(), c, &evs[i]))
	}
	return s.render(w, r, http.StatusOK, "lot", "批次 "+l.Code, d)
}

// eventView is an event as a timeline entry or an event page shows it.
type eventView struct {
	ID          int64
	Type        trace.EventType
	Label       string
	Time        time.Time
	Recorded    time.Time
	Site        string
	Disposition string
	Details     []detail
	Lots        []eventLot
	Note        string
	Corrects    int64
	Hash        string
}

type detail struct{ Label, Value string }

type eventLot struct {
	ID       int64
	Code     string
	Role     string
	Quantity string
}

// eventLabels names the event types in Chinese.
var eventLabels = map[trace.EventType]string{
	trace.InputApplication: "投入品使用", trace.Harvest: "采收", trace.SelfTest: "自检",
	trace.Transformation: "分选包装", trace.Storing: "入库贮存", trace.Shipping: "发运", trace.Receiving: "收货",
}

var dispositionLabels = map[string]string{
	"active": "有效", "in_progress": "在库", "in_transit": "在途", "conformant": "合格", "non_conformant": "不合格",
	"recalled": "已召回",
}

var roleLabels = map[trace.LotRole]string{trace.RoleInput: "投入", trace.RoleOutput: "产出", trace.RoleObject: "涉及"}

func (s *server) eventView(ctx context.Context, c *catalogue, e *trace.Event) eventView {
	v := eventView{ID: e.ID, Type: e.Spec.Type, Label: eventLabels[e.Spec.Type], Time: e.Time, Recorded: e.Recorded,
		Site: c.siteName(e.Spec.Site), Disposition: dispositionLabels[e.Disposition], Note: e.Spec.Note,
		Corrects: e.Spec.Corrects, Hash: fmt.Sprintf("%x", e.Hash[:8])}
	if v.Label == "" {
		v.Label = string(e.Spec.Type)
	}
	add := func(label, value string) {
		if value != "" {
			v.Details = append(v.Details, detail{label, value})
		}
	}
	sp := &e.Spec
	switch {
	case sp.Input != nil:
		in := sp.Input
		add("产品名称", in.ProductName)
		add("农药登记证号", in.RegistrationNo)
		add("有效成分", in.ActiveIngredient)
		add("用量", in.Dose)
		add("防治对象", in.Target)
		add("安全间隔期", fmt.Sprintf("%d天（%s起可采收）", in.PHIDays, trace.PHIEnd(e.Time.In(cst), in.PHIDays).Format("2006-01-02")))
		if in.AreaMu > 0 {
			add("施药面积", fmtQty(in.AreaMu)+"亩")
		}
	case sp.Harvest != nil:
		h := sp.Harvest.Lot
		add("产品", c.productName(h.Product))
		add("数量", fmtQty(h.Quantity)+" "+h.Unit.ZH())
		add("等级", h.Grade)
	case sp.SelfTest != nil:
		st := sp.SelfTest
		add("检测方法", st.Method)
		add("检测项目", strings.Join(st.Items, "、"))
		add("结果", map[bool]string{true: "合格", false: "不合格"}[st.Passed])
		add("报告编号", st.Report)
	case sp.Transformation != nil:
		if t := sp.Transformation.TolerancePct; t > 0 {
			add("允许误差", fmtQty(t)+"%")
		}
	case sp.Storing != nil:
		add("库房", sp.Storing.Room)
	case sp.Shipping != nil:
		sh := sp.Shipping
		add("目的地", c.siteName(sh.To))
		add("承运人", sh.Carrier)
		add("车牌号", sh.Vehicle)
		add("集装箱/冷藏箱", sh.Container)
	}
	for _, el := range e.Lots {
		lv := eventLot{ID: el.Lot, Code: fmt.Sprintf("#%d", el.Lot), Role: roleLabels[el.Role]}
		if l := c.lot(ctx, el.Lot); l != nil {
			lv.Code = l.Code
			if el.Quantity > 0 {
				lv.Quantity = fmtQty(el.Quantity) + " " + l.Unit.ZH()
			}
		} else {
			lv.ID = 0 // not readable: no link
		}
		v.Lots = append(v.Lots, lv)
	}
	return v
}

type eventData struct {
	Event eventView
}

func (s *server) event(w http.ResponseWriter, r *http.Request) error {
	se := sessionFrom(r.Context())
	id, err := pathID(r)
	if err != nil {
		return err
	}
	e, err := s.svc.Event(r.Context(), se.actor, id)
	if err != nil {
		return err
	}
	c, err := s.catalogue(r.Context(), se.actor)
	if err != nil {
		return err
	}
	v := s.eventView(r.Context(), c, e)
	return s.render(w, r, http.StatusOK, "event", v.Label+" #"+strconv.FormatInt(e.ID, 10), eventData{Event: v})
}
