package web

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/ganpin/ganpin/trace"
)

// The record forms. Each form field is named by the path the service uses for it in
// a *trace.Error (harvest.lot.code, transformation.inputs[0].quantity, ...), so that a
// service error lands next to its field. The console parses what it must (numbers,
// times, selections) and leaves every rule to trace.Service.Capture.

type option struct{ Value, Label string }

type hidden struct{ Name, Value string }

// field is one form control.
type field struct {
	Name        string
	Label       string
	Kind        string // text, number, datetime, select, checks, textarea
	Value       string
	Values      []string // checks: the ticked values
	Options     []option
	Required    bool
	Hint        string
	Placeholder string
	Min, Max    string
	Step        string
	MaxLen      int
	InputMode   string
	Empty       string // checks and selects without options: what to say instead
	Err         *trace.Error
	ErrNote     string // which item of a list was at fault
}

// ID is the control's HTML id.
func (f field) ID() string {
	return "f-" + strings.NewReplacer(".", "-", "[", "-", "]", "").Replace(f.Name)
}

// Checked reports whether v is ticked or selected.
func (f field) Checked(v string) bool {
	for _, x := range f.Values {
		if x == v {
			return true
		}
	}
	return f.Value == v
}

type section struct {
	Legend string
	Fields []field
	Add    string // value of the add-a-row button, when the section has rows
	AddLbl string
	Fold   bool // shown folded (<details>) unless Open
	Open   bool
}

type recordData struct {
	Kind     string
	Title    string
	Intro    string
	Sections []section
	Hidden   []hidden
	Err      *trace.Error // the error, shown above the form too
	At       *field       // the field that shows it, if any
	Failed   bool
	Blocked  string // why the form cannot be used now (no suitable site)
}

// formCtx is what building a form needs.
type formCtx struct {
	ctx              context.Context
	s                *server
	k                *recordKind
	se               *sess
	cat              *catalogue
	v                url.Values
	usable, incoming []lotView // lots held here with something left; lots on their way to our sites
}

// recordKind is one of the forms.
type recordKind struct {
	Title string
	Intro string
	Sites func(trace.SiteKind) bool // which sites the event may happen at
	// Lots says which lot lists the form needs.
	Lots     bool
	Incoming bool
	fields   func(fc *formCtx) []section
	build    func(fc *formCtx) (spec trace.EventSpec, rename func(string) string, err error)
	done     func(fc *formCtx, e *trace.Event) (path, flash string)
}

var anySite = func(trace.SiteKind) bool { return true }

var recordKinds = map[string]*recordKind{
	"input": {
		Title: "投入品使用", Intro: "记录在果园地块施用的农药等投入品。安全间隔期按农药标签填写，期内不能采收。",
		Sites:  func(k trace.SiteKind) bool { return k == trace.Orchard },
		fields: inputFields, build: buildInput,
		done: func(fc *formCtx, e *trace.Event) (string, string) {
			in := e.Spec.Input
			return eventPath(e.ID), fmt.Sprintf("已记录投入品使用：%s，安全间隔期%d天，%s起可采收", in.ProductName, in.PHIDays, trace.PHIEnd(e.Time.In(cst), in.PHIDays).Format("2006-01-02"))
		},
	},
	"harvest": {
		Title: "采收", Intro: "记录果园地块的一次采收，生成新的批次。",
		Sites:  func(k trace.SiteKind) bool { return k == trace.Orchard },
		fields: harvestFields, build: buildHarvest,
		done: func(fc *formCtx, e *trace.Event) (string, string) {
			return lotPath(e.Lots[0].Lot), "已记录采收，生成批次 " + e.Spec.Harvest.Lot.Code
		},
	},
	"packing": {
		Title: "分选包装", Intro: "把投入批次分选、包装成新的产出批次（如5kg箱装、礼盒）。产出重量不能超过投入重量加允许误差。",
		Sites: anySite, Lots: true, fields: packingFields, build: buildPacking,
		done: func(fc *formCtx, e *trace.Event) (string, string) {
			var codes []string
			for _, o := range e.Spec.Transformation.Outputs {
				codes = append(codes, o.Code)
			}
			return eventPath(e.ID), "已记录分选包装，生成批次 " + strings.Join(codes, "、")
		},
	},
	"storing": {
		Title: "入库贮存", Intro: "记录批次进入冷库或仓库。",
		Sites: func(k trace.SiteKind) bool { return k == trace.ColdStore || k == trace.Warehouse },
		Lots:  true, fields: storingFields, build: buildStoring,
		done: func(fc *formCtx, e *trace.Event) (string, string) {
			return eventPath(e.ID), fmt.Sprintf("已记录入库贮存（%d个批次）", len(e.Lots))
		},
	},
	"shipping": {
		Title: "发运", Intro: "记录批次从本主体场所发往目的地。收货方记录收货后，批次转由其持有。",
		Sites: anySite, Lots: true, fields: shippingFields, build: buildShipping,
		done: func(fc *formCtx, e *trace.Event) (string, string) {
			return eventPath(e.ID), fmt.Sprintf("已记录发运（%d个批次）", len(e.Lots))
		},
	},
	"receiving": {
		Title: "收货", Intro: "记录发往本主体场所的在途批次已到货。",
		Sites: anySite, Incoming: true, fields: receivingFields, build: buildReceiving,
		done: func(fc *formCtx, e *trace.Event) (string, string) {
			return eventPath(e.ID), fmt.Sprintf("已记录收货（%d个批次）", len(e.Lots))
		},
	},
}

// recordOrder is the order of the forms in menus.
var recordOrder = []string{"input", "harvest", "packing", "storing", "shipping", "receiving"}

func eventPath(id int64) string { return "/console/events/" + strconv.FormatInt(id, 10) }
func lotPath(id int64) string   { return "/console/lots/" + strconv.FormatInt(id, 10) }

var siteKindLabels = map[trace.SiteKind]string{
	trace.Orchard: "果园地块", trace.Packhouse: "分选包装厂", trace.ColdStore: "冷库", trace.Warehouse: "仓库", trace.Retail: "零售点",
}

var unitOptions = []option{{"kg", "公斤"}, {"jin", "斤"}, {"t", "吨"}, {"box", "箱"}, {"piece", "个"}}
var gradeOptions = []option{{"", "不分级"}, {"特等", "特等"}, {"一等", "一等"}, {"二等", "二等"}}

func (fc *formCtx) siteOptions(ok func(trace.SiteKind) bool) []option {
	var os []option
	for _, st := range fc.cat.siteList {
		if ok(st.Kind) {
			os = append(os, option{strconv.FormatInt(st.ID, 10), st.Name + "（" + siteKindLabels[st.Kind] + "）"})
		}
	}
	return os
}

func (fc *formCtx) productOptions() []option {
	os := []option{{"", "请选择产品"}}
	for _, st := range sortedProducts(fc.cat) {
		if st.PartyID != fc.se.actor.PartyID {
			continue
		}
		label := st.Name
		if st.Variety != "" && !strings.Contains(st.Name, st.Variety) {
			label += "（" + st.Variety + "）"
		}
		label += " · 按" + st.Unit.ZH()
		os = append(os, option{strconv.FormatInt(st.ID, 10), label})
	}
	return os
}

func sortedProducts(c *catalogue) []*trace.Product {
	var ps []*trace.Product
	for _, p := range c.products {
		ps = append(ps, p)
	}
	// By ID, as the catalogue lists them.
	for i := 1; i < len(ps); i++ {
		for j := i; j > 0 && ps[j].ID < ps[j-1].ID; j-- {
			ps[j], ps[j-1] = ps[j-1], ps[j]
		}
	}
	return ps
}

func lotOptions(ls []lotView, prompt string) []option {
	var os []option
	if prompt != "" {
		os = append(os, option{"", prompt})
	}
	for _, l := range ls {
		os = append(os, option{strconv.FormatInt(l.ID, 10), fmt.Sprintf("%s · %s · 剩余%s%s", l.Code, l.Product, fmtQty(l.Remaining), l.Unit.ZH())})
	}
	return os
}

func (fc *formCtx) val(name string) field { return field{Name: name, Value: fc.v.Get(name)} }

func (fc *formCtx) common() []field {
	k := fc.k
	t := fc.val("time")
	t.Label, t.Kind, t.Required, t.Hint = "时间", "datetime", true, "北京时间"
	site := fc.val("site")
	site.Label, site.Kind, site.Required, site.Options = "场所", "select", true, fc.siteOptions(k.Sites)
	return []field{t, site}
}

func (fc *formCtx) note() field {
	n := fc.val("note")
	n.Label, n.Kind, n.MaxLen, n.Hint = "备注", "textarea", 500, "选填"
	return n
}

func text(fc *formCtx, name, label string, required bool, maxLen int, placeholder, hint string) field {
	f := fc.val(name)
	f.Label, f.Kind, f.Required, f.MaxLen, f.Placeholder, f.Hint = label, "text", required, maxLen, placeholder, hint
	return f
}

func number(fc *formCtx, name, label string, required bool, min, max, step, hint string) field {
	f := fc.val(name)
	f.Label, f.Kind, f.Required, f.Min, f.Max, f.Step, f.Hint = label, "number", required, min, max, step, hint
	f.InputMode = "decimal"
	if step == "1" {
		f.InputMode = "numeric"
	}
	return f
}

func choice(fc *formCtx, name, label string, required bool, os []option) field {
	f := fc.val(name)
	f.Label, f.Kind, f.Required, f.Options = label, "select", required, os
	return f
}

func checks(fc *formCtx, name, label string, os []option, empty string) field {
	f := field{Name: name, Label: label, Kind: "checks", Values: fc.v[name], Options: os, Required: true, Empty: empty}
	return f
}

func inputFields(fc *formCtx) []section {
	return []section{
		{Legend: "时间和地块", Fields: fc.common()},
		{Legend: "投入品", Fields: []field{
			text(fc, "input_application.product_name", "产品名称（登记名称）", true, 100, "如 1.8%阿维菌素乳油", ""),
			text(fc, "input_application.registration_no", "农药登记证号", true, 20, "如 PD20080123", "见农药标签"),
			text(fc, "input_application.active_ingredient", "有效成分", true, 100, "如 阿维菌素", ""),
			text(fc, "input_application.dose", "用量", true, 50, "如 3000倍液 或 40 mL/亩", ""),
			text(fc, "input_application.target", "防治对象", false, 50, "如 红蜘蛛", "选填"),
			number(fc, "input_application.phi_days", "安全间隔期（天）", true, "0", "365", "1", "按农药标签填写"),
			number(fc, "input_application.area_mu", "施药面积（亩）", false, "0", "", "0.1", "选填，不超过地块面积"),
		}},
		{Legend: "其他", Fields: []field{fc.note()}},
	}
}

func harvestFields(fc *formCtx) []section {
	return []section{
		{Legend: "时间和地块", Fields: fc.common()},
		{Legend: "新批次", Fields: []field{
			text(fc, "harvest.lot.code", "批次号", true, 20, "如 XW-1120-001", "本主体内唯一；字母、数字、-、_、."),
			choice(fc, "harvest.lot.product", "产品", true, fc.productOptions()),
			number(fc, "harvest.lot.quantity", "数量", true, "0", "", "any", ""),
			choice(fc, "harvest.lot.unit", "单位", true, unitOptions),
			choice(fc, "harvest.lot.grade", "等级（GB/T 21488）", false, gradeOptions),
		}},
		{Legend: "其他", Fields: []field{fc.note()}},
	}
}

const maxRows = 20

func rows(v url.Values, name string, def int) int {
	n, err := strconv.Atoi(v.Get(name))
	if err != nil || n < 1 {
		n = def
	}
	return min(n, maxRows)
}

func packingFields(fc *formCtx) []section {
	secs := []section{{Legend: "时间和场所", Fields: fc.common()}}
	in := section{Legend: "投入批次", Add: "in", AddLbl: "增加投入批次"}
	lots := lotOptions(fc.usable, "请选择批次")
	for i := range rows(fc.v, "rows.in", 1) {
		p := fmt.Sprintf("transformation.inputs[%d]", i)
		l := choice(fc, p+".lot", fmt.Sprintf("投入批次 %d", i+1), i == 0, lots)
		if len(fc.usable) == 0 {
			l.Empty = "暂无可用批次（本主体持有、未在途且有剩余的批次）"
		}
		in.Fields = append(in.Fields, l, number(fc, p+".quantity", "投入数量（按该批次单位）", i == 0, "0", "", "any", ""))
	}
	secs = append(secs, in)
	out := section{Legend: "产出批次", Add: "out", AddLbl: "增加产出批次"}
	for i := range rows(fc.v, "rows.out", 2) {
		p := fmt.Sprintf("transformation.outputs[%d]", i)
		out.Fields = append(out.Fields,
			text(fc, p+".code", fmt.Sprintf("产出批次 %d 批次号", i+1), i == 0, 20, "如 XW-1120-001-5K", ""),
			choice(fc, p+".product", "产品", i == 0, fc.productOptions()),
			number(fc, p+".quantity", "数量", i == 0, "0", "", "any", ""),
			choice(fc, p+".unit", "单位", i == 0, unitOptions),
			choice(fc, p+".grade", "等级", false, gradeOptions))
	}
	secs = append(secs, out)
	tol := number(fc, "transformation.tolerance_pct", "允许误差（%）", false, "0", "10", "any", "选填，0至10；产出可比投入重这么多（如加冰、包装计入）")
	secs = append(secs, section{Legend: "其他", Fields: []field{tol, fc.note()}})
	return secs
}

func storingFields(fc *formCtx) []section {
	return []section{
		{Legend: "时间和冷库", Fields: fc.common()},
		{Legend: "入库批次", Fields: []field{
			checks(fc, "storing.lots", "批次", lotOptions(fc.usable, ""), "暂无可入库的批次（本主体持有、未在途且有剩余的批次）"),
			text(fc, "storing.room", "库房", false, 30, "如 A3", "选填"),
		}},
		{Legend: "其他", Fields: []field{fc.note()}},
	}
}

func shippingFields(fc *formCtx) []section {
	to := choice(fc, "shipping.to", "目的地（本主体场所）", false, append([]option{{"", "请选择，或在下方填写其他主体的场所编号"}}, fc.siteOptions(anySite)...))
	other := number(fc, "shipping.to_other", "或：其他主体的场所编号", false, "1", "", "1", "发往冷链、收购商等其他主体时，填写对方提供的场所编号")
	return []section{
		{Legend: "时间和发货场所", Fields: fc.common()},
		{Legend: "发运批次", Fields: []field{
			checks(fc, "shipping.lots", "批次", lotOptions(fc.usable, ""), "暂无可发运的批次（本主体持有、未在途且有剩余的批次）"),
		}},
		{Legend: "目的地和运输", Fields: []field{to, other,
			text(fc, "shipping.carrier", "承运人", false, 50, "如 赣州赣南冷链物流有限公司", "选填"),
			text(fc, "shipping.vehicle", "车牌号", false, 50, "如 赣B12345", "选填"),
			text(fc, "shipping.container", "集装箱/冷藏箱号", false, 50, "", "选填"),
		}},
		{Legend: "其他", Fields: []field{fc.note()}},
	}
}

func receivingFields(fc *formCtx) []section {
	return []section{
		{Legend: "时间和收货场所", Fields: fc.common()},
		{Legend: "到货批次", Fields: []field{
			checks(fc, "receiving.lots", "批次", lotOptions(fc.incoming, ""), "暂无发往本主体场所的在途批次"),
		}},
		{Legend: "其他", Fields: []field{fc.note()}},
	}
}

// Parsing. Errors of form syntax use malformed_ codes (400), missing choices
// required (422); the rest is the service's.

// ascii folds full-width digits and punctuation that Chinese input methods produce.
var ascii = strings.NewReplacer("０", "0", "１", "1", "２", "2", "３", "3", "４", "4", "５", "5", "６", "6", "７", "7", "８", "8", "９", "9", "．", ".", "－", "-", "，", "")

func parseFloat(v url.Values, name string, required bool) (float64, error) {
	s := strings.TrimSpace(ascii.Replace(v.Get(name)))
	if s == "" {
		if required {
			return 0, trace.Invalid(name, "required", "必填项", "required")
		}
		return 0, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, trace.Invalid(name, "malformed_number", "请输入数字", "enter a number")
	}
	return f, nil
}

func parseInt(v url.Values, name string, required bool) (int, error) {
	s := strings.TrimSpace(ascii.Replace(v.Get(name)))
	if s == "" {
		if required {
			return 0, trace.Invalid(name, "required", "必填项", "required")
		}
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, trace.Invalid(name, "malformed_integer", "请输入整数", "enter a whole number")
	}
	return n, nil
}

func parseID(v url.Values, name, what string) (int64, error) {
	s := strings.TrimSpace(v.Get(name))
	if s == "" {
		return 0, &trace.Error{Kind: trace.KindInvalid, Code: "required", Field: name, ZH: "请选择" + what, EN: "choose the " + name}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return 0, &trace.Error{Kind: trace.KindInvalid, Code: "malformed_id", Field: name, ZH: what + "编号无效", EN: "invalid " + name}
	}
	return n, nil
}

func parseIDs(v url.Values, name string) ([]int64, error) {
	var ids []int64
	for _, s := range v[name] {
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil || n <= 0 {
			return nil, trace.Invalid(name, "malformed_id", "批次编号无效", "invalid lot id")
		}
		ids = append(ids, n)
	}
	if len(ids) == 0 {
		return nil, trace.Invalid(name, "required", "请至少选择一个批次", "choose at least one lot")
	}
	return ids, nil
}

// datetimeLocal is how <input type=datetime-local> sends a time, with or without seconds.
var datetimeLocal = []string{"2006-01-02T15:04", "2006-01-02T15:04:05", "2006-01-02 15:04", "2006-01-02 15:04:05"}

// parseTime reads a datetime-local value as Beijing time and returns it in RFC 3339 with +08:00.
func parseTime(v url.Values) (string, error) {
	s := strings.TrimSpace(v.Get("time"))
	if s == "" {
		return "", trace.Invalid("time", "required", "请填写时间", "the time is required")
	}
	for _, layout := range datetimeLocal {
		if t, err := time.ParseInLocation(layout, s, cst); err == nil {
			return t.Format(time.RFC3339), nil
		}
	}
	return "", trace.Invalid("time", "malformed_time", "时间格式无效，应为 年-月-日 时:分", "invalid time; use YYYY-MM-DDTHH:MM")
}

func textValue(v url.Values, name string) string { return strings.TrimSpace(v.Get(name)) }

func baseSpec(t trace.EventType, v url.Values) (trace.EventSpec, error) {
	sp := trace.EventSpec{Type: t, Note: textValue(v, "note")}
	var err error
	if sp.Time, err = parseTime(v); err != nil {
		return sp, err
	}
	sp.Site, err = parseID(v, "site", "场所")
	return sp, err
}

func same(s string) string { return s }

func buildInput(fc *formCtx) (trace.EventSpec, func(string) string, error) {
	v := fc.v
	sp, err := baseSpec(trace.InputApplication, v)
	if err != nil {
		return sp, same, err
	}
	in := &trace.InputSpec{
		ProductName:      textValue(v, "input_application.product_name"),
		RegistrationNo:   strings.ToUpper(ascii.Replace(textValue(v, "input_application.registration_no"))),
		ActiveIngredient: textValue(v, "input_application.active_ingredient"),
		Dose:             textValue(v, "input_application.dose"),
		Target:           textValue(v, "input_application.target"),
	}
	if in.PHIDays, err = parseInt(v, "input_application.phi_days", true); err != nil {
		return sp, same, err
	}
	if in.AreaMu, err = parseFloat(v, "input_application.area_mu", false); err != nil {
		return sp, same, err
	}
	sp.Input = in
	return sp, same, nil
}

func newLot(v url.Values, p string) (trace.NewLotSpec, error) {
	l := trace.NewLotSpec{Code: textValue(v, p+".code"), Unit: trace.Unit(v.Get(p + ".unit")), Grade: v.Get(p + ".grade")}
	var err error
	if l.Product, err = parseID(v, p+".product", "产品"); err != nil {
		return l, err
	}
	l.Quantity, err = parseFloat(v, p+".quantity", true)
	return l, err
}

func buildHarvest(fc *formCtx) (trace.EventSpec, func(string) string, error) {
	sp, err := baseSpec(trace.Harvest, fc.v)
	if err != nil {
		return sp, same, err
	}
	l, err := newLot(fc.v, "harvest.lot")
	sp.Harvest = &trace.HarvestSpec{Lot: l}
	return sp, same, err
}

// buildPacking skips empty rows; rename maps the service's row numbers back to the form's.
func buildPacking(fc *formCtx) (trace.EventSpec, func(string) string, error) {
	v := fc.v
	sp, err := baseSpec(trace.Transformation, v)
	if err != nil {
		return sp, same, err
	}
	tr := &trace.TransformationSpec{}
	sp.Transformation = tr
	var inRows, outRows []int
	rename := func(f string) string {
		for _, x := range []struct {
			prefix string
			rows   []int
		}{{"transformation.inputs[", inRows}, {"transformation.outputs[", outRows}} {
			if rest, ok := strings.CutPrefix(f, x.prefix); ok {
				i, tail, _ := strings.Cut(rest, "]")
				if n, err := strconv.Atoi(i); err == nil && n < len(x.rows) {
					return fmt.Sprintf("%s%d]%s", x.prefix, x.rows[n], tail)
				}
			}
		}
		return f
	}
	for i := range rows(v, "rows.in", 1) {
		p := fmt.Sprintf("transformation.inputs[%d]", i)
		if v.Get(p+".lot") == "" && textValue(v, p+".quantity") == "" {
			continue
		}
		var in trace.LotQuantity
		if in.Lot, err = parseID(v, p+".lot", "投入批次"); err != nil {
			return sp, same, err
		}
		if in.Quantity, err = parseFloat(v, p+".quantity", true); err != nil {
			return sp, same, err
		}
		inRows = append(inRows, i)
		tr.Inputs = append(tr.Inputs, in)
	}
	for i := range rows(v, "rows.out", 2) {
		p := fmt.Sprintf("transformation.outputs[%d]", i)
		if textValue(v, p+".code") == "" && v.Get(p+".product") == "" && textValue(v, p+".quantity") == "" {
			continue
		}
		l, err := newLot(v, p)
		if err != nil {
			return sp, same, err
		}
		outRows = append(outRows, i)
		tr.Outputs = append(tr.Outputs, l)
	}
	if tr.TolerancePct, err = parseFloat(v, "transformation.tolerance_pct", false); err != nil {
		return sp, same, err
	}
	return sp, rename, nil
}

func buildStoring(fc *formCtx) (trace.EventSpec, func(string) string, error) {
	sp, err := baseSpec(trace.Storing, fc.v)
	if err != nil {
		return sp, same, err
	}
	st := &trace.StoringSpec{Room: textValue(fc.v, "storing.room")}
	sp.Storing = st
	st.Lots, err = parseIDs(fc.v, "storing.lots")
	return sp, same, err
}

func buildShipping(fc *formCtx) (trace.EventSpec, func(string) string, error) {
	v := fc.v
	sp, err := baseSpec(trace.Shipping, v)
	if err != nil {
		return sp, same, err
	}
	sh := &trace.ShippingSpec{Carrier: textValue(v, "shipping.carrier"), Vehicle: textValue(v, "shipping.vehicle"), Container: textValue(v, "shipping.container")}
	sp.Shipping = sh
	if sh.Lots, err = parseIDs(v, "shipping.lots"); err != nil {
		return sp, same, err
	}
	if textValue(v, "shipping.to_other") != "" {
		sh.To, err = parseID(v, "shipping.to_other", "目的地场所")
		return sp, func(f string) string {
			if f == "shipping.to" {
				return "shipping.to_other"
			}
			return f
		}, err
	}
	sh.To, err = parseID(v, "shipping.to", "目的地")
	return sp, same, err
}

func buildReceiving(fc *formCtx) (trace.EventSpec, func(string) string, error) {
	sp, err := baseSpec(trace.Receiving, fc.v)
	if err != nil {
		return sp, same, err
	}
	sp.Receiving = &trace.ReceivingSpec{}
	sp.Receiving.Lots, err = parseIDs(fc.v, "receiving.lots")
	return sp, same, err
}

// Handlers.

func (s *server) formCtx(r *http.Request, k *recordKind, v url.Values) (*formCtx, error) {
	se := sessionFrom(r.Context())
	c, err := s.catalogue(r.Context(), se.actor)
	if err != nil {
		return nil, err
	}
	fc := &formCtx{ctx: r.Context(), s: s, k: k, se: se, cat: c, v: v}
	if k.Lots || k.Incoming {
		// The most recent lots of the party; a store filter would serve large parties better.
		p := trace.Page{Limit: 1000}
		for range 2 { // two pages at most
			ls, err := s.svc.Lots(r.Context(), se.actor, p)
			if err != nil {
				return nil, err
			}
			for _, l := range ls {
				lv := c.lotView(l)
				if lv.Usable {
					fc.usable = append(fc.usable, lv)
				}
				if _, ours := c.sites[l.InTransit]; ours && l.InTransit != 0 {
					fc.incoming = append(fc.incoming, lv)
				}
			}
			if len(ls) < p.Limit {
				break
			}
			p.After = ls[len(ls)-1].ID
		}
	}
	return fc, nil
}

func (s *server) kind(r *http.Request) (string, *recordKind, error) {
	name := r.PathValue("kind")
	k, ok := recordKinds[name]
	if !ok {
		return "", nil, errPageNotFound
	}
	return name, k, nil
}

// recordForm shows an empty form: now as the time, the first suitable site, and the
// lot named by ?lot= preselected.
func (s *server) recordForm(w http.ResponseWriter, r *http.Request) error {
	name, k, err := s.kind(r)
	if err != nil {
		return err
	}
	v := url.Values{}
	v.Set("time", time.Now().In(cst).Format("2006-01-02T15:04"))
	v.Set("harvest.lot.unit", "kg")
	v.Set("transformation.outputs[0].unit", "box")
	v.Set("transformation.outputs[1].unit", "box")
	if lot := r.URL.Query().Get("lot"); lot != "" {
		for _, f := range []string{"transformation.inputs[0].lot", "storing.lots", "shipping.lots", "receiving.lots"} {
			v.Set(f, lot)
		}
	}
	fc, err := s.formCtx(r, k, v)
	if err != nil {
		return err
	}
	if os := fc.siteOptions(k.Sites); len(os) > 0 {
		v.Set("site", os[0].Value)
	}
	v.Set("idem", newNonce())
	return s.renderForm(w, r, http.StatusOK, name, k, fc, nil, same, nil)
}

func newNonce() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// record captures the event a form describes. A failure re-renders the form with the
// user's input and the error next to its field; a success redirects with a flash.
// The form's nonce is an idempotency key: a form submitted twice records once.
func (s *server) record(w http.ResponseWriter, r *http.Request) error {
	name, k, err := s.kind(r)
	if err != nil {
		return err
	}
	v := r.PostForm
	fc, err := s.formCtx(r, k, v)
	if err != nil {
		return err
	}
	if add := v.Get("add"); add == "in" || add == "out" { // another row, nothing recorded
		v.Set("rows."+add, strconv.Itoa(min(rows(v, "rows."+add, map[string]int{"in": 1, "out": 2}[add])+1, maxRows)))
		return s.renderForm(w, r, http.StatusOK, name, k, fc, nil, same, nil)
	}
	spec, rename, err := k.build(fc)
	if err != nil {
		return s.formError(w, r, name, k, fc, err, rename, &spec)
	}
	ctx := r.Context()
	claim := s.claim(fc, name, k)
	if claim != nil {
		if rep, ok, err := s.svc.Replay(ctx, claim.Principal, claim.Key); err != nil {
			return err
		} else if ok {
			path, _, _ := strings.Cut(string(rep.Body), "\n")
			s.setFlash(w, "该表单已经提交过，未重复记录")
			http.Redirect(w, r, localNext(path), http.StatusSeeOther)
			return nil
		}
		ctx = trace.WithIdempotency(ctx, claim)
	}
	evs, err := s.svc.Capture(ctx, fc.se.actor, []trace.EventSpec{spec})
	if err != nil {
		return s.formError(w, r, name, k, fc, err, rename, &spec)
	}
	path, flash := k.done(fc, evs[0])
	s.setFlash(w, flash)
	http.Redirect(w, r, path, http.StatusSeeOther)
	return nil
}

// claim makes the idempotency claim of a form submission, nil when the form has no nonce.
func (s *server) claim(fc *formCtx, name string, k *recordKind) *trace.Idempotency {
	key := fc.v.Get("idem")
	if key == "" || len(key) > 64 {
		return nil
	}
	h := sha256.Sum256([]byte("console record " + name))
	return &trace.Idempotency{
		Principal: "console:user:" + strconv.FormatInt(fc.se.actor.UserID, 10), Key: key, RequestHash: h[:],
		Render: func(result any) (int, []byte, error) {
			evs, _ := result.([]*trace.Event)
			if len(evs) == 0 {
				return http.StatusSeeOther, []byte("/console/\n"), nil
			}
			path, flash := k.done(fc, evs[0])
			return http.StatusSeeOther, []byte(path + "\n" + flash), nil
		},
	}
}

// formError re-renders the form with err, or hands an error that is not about the
// input to renderError.
func (s *server) formError(w http.ResponseWriter, r *http.Request, name string, k *recordKind, fc *formCtx, err error, rename func(string) string, spec *trace.EventSpec) error {
	e, ok := err.(*trace.Error)
	if !ok || e.Kind == trace.KindInternal || e.Kind == trace.KindUnauthenticated {
		return err
	}
	c := *e
	c.Field = rename(c.Field)
	return s.renderForm(w, r, statusOf(&c), name, k, fc, &c, rename, spec)
}

func (s *server) renderForm(w http.ResponseWriter, r *http.Request, status int, name string, k *recordKind, fc *formCtx, e *trace.Error, rename func(string) string, spec *trace.EventSpec) error {
	d := recordData{Kind: name, Title: k.Title, Intro: k.Intro, Sections: k.fields(fc), Failed: e != nil}
	if len(fc.siteOptions(k.Sites)) == 0 {
		d.Blocked = "本主体还没有可记录" + k.Title + "的场所，请生产管理员先登记场所。"
	}
	for _, h := range []string{"idem", "rows.in", "rows.out"} {
		if x := fc.v.Get(h); x != "" {
			d.Hidden = append(d.Hidden, hidden{h, x})
		}
	}
	d.Err, d.At = e, placeError(d.Sections, e, fc.lotLabel)
	return s.render(w, r, status, "record", k.Title, d)
}

// placeError shows e at the field it names and returns that field, nil when no
// field of secs shows it. An error about item i of a list of checkboxes (lots[2])
// shows at the list, with item's label.
func placeError(secs []section, e *trace.Error, item func(value string) string) *field {
	if e == nil {
		return nil
	}
	for si := range secs {
		for fi := range secs[si].Fields {
			f := &secs[si].Fields[fi]
			if e.Field == f.Name {
				f.Err = e
				return f
			}
			if rest, ok := strings.CutPrefix(e.Field, f.Name+"["); ok && f.Kind == "checks" {
				f.Err = e
				if i, err := strconv.Atoi(strings.TrimSuffix(rest, "]")); err == nil && i < len(f.Values) && item != nil {
					f.ErrNote = "第" + strconv.Itoa(i+1) + "项：" + item(f.Values[i])
				}
				return f
			}
		}
	}
	return nil
}

func (fc *formCtx) lotLabel(id string) string {
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil {
		return id
	}
	if l, err := fc.s.svc.Lot(fc.ctx, fc.se.actor, n); err == nil {
		return l.Code
	}
	return "批次 #" + id
}
