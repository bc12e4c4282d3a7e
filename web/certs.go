package web

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/ganpin/ganpin/cert"
	"github.com/ganpin/ganpin/cert/pdf"
	"github.com/ganpin/ganpin/trace"
)

// The certificate pages (承诺达标合格证): a list with batch printing, an issue form
// for a lot with a preview of the certificate as it will print, a certificate page
// with its status, print choices and revocation. Every rule is cert.Service's; the
// PDFs are cert/pdf's.

var errCertsOff = &trace.Error{Kind: trace.KindNotFound, Code: "certificates_off", ZH: "本系统未启用合格证功能", EN: "certificates are not enabled on this server"}

// layouts are the print formats offered, in order.
var layouts = []option{
	{string(pdf.A6), "A6 单张合格证"},
	{string(pdf.Thermal), "80×60 mm 热敏标签"},
	{string(pdf.Sheet2x5), "A4 不干胶 2×5（每页10枚）"},
	{string(pdf.Sheet3x8), "A4 不干胶 3×8（每页24枚）"},
}

var templateOptions = []option{
	{string(cert.Producer), "样式一（生产者）：" + cert.ProducerText},
	{string(cert.Buyer), "样式二（收购者，混装或分装）：" + cert.BuyerText},
}

// certView is a certificate as the pages show it, laid out as it prints.
type certView struct {
	*cert.Issued
	Commitment string
	Bases      []basisView
	URL        string // what the QR code holds
	Short      string // printed under the QR code
	Revoked    bool
}

type basisView struct {
	Label  string
	Ticked bool
}

func (s *server) certView(c *cert.Issued) certView {
	v := certView{Issued: c, Commitment: c.Template.Text(), Revoked: c.Revocation != nil}
	for _, b := range cert.Bases {
		v.Bases = append(v.Bases, basisView{b.Label, c.Basis&b.Basis != 0})
	}
	if c.Serial != "" {
		v.URL = c.URL(s.base, 0)
		_, v.Short, _ = strings.Cut(c.ShortURL(s.base, 0), "://")
	}
	return v
}

func (s *server) needCerts() error {
	if s.certs == nil {
		return errCertsOff
	}
	return nil
}

const certsPerPage = 30

type certsData struct {
	Certs   []certView
	Next    int64
	First   bool
	Layouts []option
	Layout  string
	Copies  string
	Checked map[int64]bool
	Err     *trace.Error
}

func (s *server) certList(w http.ResponseWriter, r *http.Request) error {
	return s.renderCertList(w, r, http.StatusOK, nil)
}

func (s *server) renderCertList(w http.ResponseWriter, r *http.Request, status int, perr *trace.Error) error {
	if err := s.needCerts(); err != nil {
		return err
	}
	se := sessionFrom(r.Context())
	q := r.URL.Query()
	var after int64
	if v := q.Get("after"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return trace.Invalid("after", "malformed_cursor", "翻页参数无效", "invalid cursor")
		}
		after = n
	}
	cs, err := s.certs.Certificates(r.Context(), se.actor, cert.Filter{}, trace.Page{After: after, Limit: certsPerPage + 1})
	if err != nil {
		return err
	}
	d := certsData{First: after == 0, Layouts: layouts, Layout: cmp.Or(q.Get("layout"), string(pdf.Sheet2x5)), Copies: cmp.Or(q.Get("copies"), "1"),
		Checked: map[int64]bool{}, Err: perr}
	for _, id := range q["id"] {
		if n, err := strconv.ParseInt(id, 10, 64); err == nil {
			d.Checked[n] = true
		}
	}
	if len(cs) > certsPerPage {
		cs = cs[:certsPerPage]
		d.Next = cs[len(cs)-1].ID
	}
	for i := range cs {
		d.Certs = append(d.Certs, s.certView(&cs[i]))
	}
	return s.render(w, r, status, "certs", "合格证", d)
}

type certData struct {
	Cert      certView
	Lot       int64
	Layouts   []option
	Layout    string
	Copies    string
	From, To  string
	PrintErr  *trace.Error
	UnitErr   *trace.Error
	UnitsHint string
}

func (s *server) certPage(w http.ResponseWriter, r *http.Request) error {
	return s.renderCert(w, r, http.StatusOK, nil)
}

// renderCert shows a certificate; perr is a print error to show at the print choices.
func (s *server) renderCert(w http.ResponseWriter, r *http.Request, status int, perr *trace.Error) error {
	c, err := s.certFromPath(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	d := certData{Cert: s.certView(c), Lot: c.LotID, Layouts: layouts, Layout: cmp.Or(q.Get("layout"), string(pdf.A6)), Copies: cmp.Or(q.Get("copies"), "1"),
		From: cmp.Or(q.Get("from"), "1"), To: cmp.Or(q.Get("to"), strconv.Itoa(c.Units))}
	if perr != nil {
		if perr.Field == "units" || q.Get("from") != "" {
			d.UnitErr = perr
		} else {
			d.PrintErr = perr
		}
	}
	return s.render(w, r, status, "cert", "合格证 "+c.Serial, d)
}

func (s *server) certFromPath(r *http.Request) (*cert.Issued, error) {
	if err := s.needCerts(); err != nil {
		return nil, err
	}
	id, err := pathID(r)
	if err != nil {
		return nil, err
	}
	return s.certs.Certificate(r.Context(), sessionFrom(r.Context()).actor, id)
}

// certPDF downloads a certificate as PDF: copies of it (?copies=) or its unit-level
// labels (?from=&to=), in the chosen layout.
func (s *server) certPDF(w http.ResponseWriter, r *http.Request) error {
	c, err := s.certFromPath(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	layout, err := pdf.ParseLayout(cmp.Or(q.Get("layout"), string(pdf.A6)))
	if err != nil {
		return s.printFailed(w, r, err, s.renderCert)
	}
	var sel pdf.Selection
	if q.Get("from") != "" || q.Get("to") != "" {
		if sel.From, err = parseInt(q, "from", true); err == nil {
			sel.To, err = parseInt(q, "to", true)
		}
		if err == nil && sel.From < 1 {
			err = trace.Invalid("units", "invalid_units", "单品码范围应在1至%d之间", "unit serials are within 1 to %d", c.Units)
		}
	} else {
		sel.Copies, err = parseInt(q, "copies", false)
		if err == nil && sel.Copies < 0 {
			err = trace.Invalid("copies", "invalid_copies", "份数应为1至%d", "copies are 1 to %d", pdf.MaxCopies)
		}
	}
	if err != nil {
		return s.printFailed(w, r, err, s.renderCert)
	}
	labels, err := pdf.Labels(c, s.base, sel)
	if err != nil {
		return s.printFailed(w, r, err, s.renderCert)
	}
	name := c.Serial + "-" + string(layout)
	if sel.From > 0 {
		name += fmt.Sprintf("-units-%d-%d", sel.From, sel.To)
	}
	return s.writePDF(w, r, layout, labels, name, s.renderCert)
}

// printFailed shows a print error on the page the print choices came from.
func (s *server) printFailed(w http.ResponseWriter, r *http.Request, err error, page func(http.ResponseWriter, *http.Request, int, *trace.Error) error) error {
	e, ok := err.(*trace.Error)
	if !ok {
		return err
	}
	return page(w, r, statusOf(e), e)
}

func (s *server) writePDF(w http.ResponseWriter, r *http.Request, layout pdf.Layout, labels []pdf.Label, name string, page func(http.ResponseWriter, *http.Request, int, *trace.Error) error) error {
	var buf bytes.Buffer
	if err := pdf.Render(&buf, layout, labels); err != nil {
		return s.printFailed(w, r, err, page)
	}
	h := w.Header()
	h.Set("Content-Type", "application/pdf")
	h.Set("Content-Disposition", `attachment; filename="`+name+`.pdf"`)
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	h.Set("Cache-Control", "no-store")
	_, err := w.Write(buf.Bytes())
	return err
}

// printMany downloads several certificates on one document, e.g. an A4 sheet of labels.
func (s *server) printMany(w http.ResponseWriter, r *http.Request) error {
	if err := s.needCerts(); err != nil {
		return err
	}
	se := sessionFrom(r.Context())
	q := r.URL.Query()
	layout, err := pdf.ParseLayout(cmp.Or(q.Get("layout"), string(pdf.Sheet2x5)))
	if err != nil {
		return s.printFailed(w, r, err, s.renderCertList)
	}
	copies, err := parseInt(q, "copies", false)
	if err == nil && copies < 0 {
		err = trace.Invalid("copies", "invalid_copies", "份数应为1至%d", "copies are 1 to %d", pdf.MaxCopies)
	}
	if err != nil {
		return s.printFailed(w, r, err, s.renderCertList)
	}
	ids := q["id"]
	if len(ids) == 0 || len(ids) > 1000 {
		return s.printFailed(w, r, trace.Invalid("id", "required", "请勾选要打印的合格证（1至1000张）", "choose 1 to 1000 certificates"), s.renderCertList)
	}
	var labels []pdf.Label
	for _, v := range ids {
		id, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return s.printFailed(w, r, trace.Invalid("id", "malformed_id", "合格证编号无效", "invalid certificate id"), s.renderCertList)
		}
		c, err := s.certs.Certificate(r.Context(), se.actor, id)
		if err != nil {
			return s.printFailed(w, r, err, s.renderCertList)
		}
		ls, err := pdf.Labels(c, s.base, pdf.Selection{Copies: copies})
		if err != nil {
			return s.printFailed(w, r, err, s.renderCertList)
		}
		if labels = append(labels, ls...); len(labels) > pdf.MaxLabels {
			return s.printFailed(w, r, trace.Invalid("copies", "too_many_labels", "一次最多打印%d张标签", "at most %d labels at a time", pdf.MaxLabels), s.renderCertList)
		}
	}
	return s.writePDF(w, r, layout, labels, fmt.Sprintf("certificates-%d-%s", len(ids), layout), s.renderCertList)
}

// Issuing.

type certifyData struct {
	Lot      lotView
	Sections []section
	Hidden   []hidden
	Err      *trace.Error
	At       *field
	Preview  *certView // set on the preview step
}

const maxUpstream = 20

// certifyFields builds the issue form of lot from v.
func (s *server) certifyFields(fc *formCtx, l *trace.Lot) []section {
	units := unitOptions
	if l.Unit.Mass() == 0 {
		units = []option{{string(l.Unit), l.Unit.ZH()}}
	} else {
		units = []option{{"kg", "公斤"}, {"jin", "斤"}, {"t", "吨"}}
	}
	tpl := fc.val("template")
	tpl.Label, tpl.Kind, tpl.Required, tpl.Options = "承诺内容", "radios", true, templateOptions
	var basisOpts []option
	for _, b := range cert.Bases {
		basisOpts = append(basisOpts, option{b.Key, b.Label})
	}
	basis := checks(fc, "basis", "承诺依据（可多选）", basisOpts, "")
	qty := number(fc, "quantity", "数量", true, "0", "", "any", fmt.Sprintf("不超过批次剩余数量 %s %s", fmtQty(l.Remaining), l.Unit.ZH()))
	unitsHint := "选填：为每件（箱）生成带序号的单品码标签，0 表示不生成"
	if l.Unit.Mass() != 0 {
		unitsHint = "选填：单品码标签的张数，0 表示不生成"
	}
	secs := []section{
		{Legend: "数量", Fields: []field{qty, choice(fc, "unit", "单位", true, units)}},
		{Legend: "承诺", Fields: []field{tpl, basis,
			text(fc, "report", "检测报告编号", false, 60, "如 自检-XW-1120-001", "承诺依据为自行检测或委托检测时必填")}},
		{Legend: "其他", Fields: []field{
			text(fc, "contact", "联系方式", false, 40, "如 0797-4000000", "选填；已印在包装上的可不填"),
			number(fc, "units", "单品码标签数", false, "0", strconv.Itoa(cert.MaxUnits), "1", unitsHint)}},
	}
	up := section{Legend: "上游合格证（仅样式二：收购后混装、分装时登记）", Add: "upstream", AddLbl: "增加一张上游合格证",
		Fold: true, Open: fc.v.Get("template") == string(cert.Buyer) || len(upstreamRows(fc.v)) > 0}
	var upBases []option
	for _, b := range cert.Bases {
		upBases = append(upBases, option{b.Label, b.Label + "（新版）"})
	}
	for _, b := range cert.LegacyBases {
		upBases = append(upBases, option{b, b + "（2026年2月前旧版）"})
	}
	for i := range rows(fc.v, "rows.upstream", 1) {
		p := fmt.Sprintf("upstream[%d]", i)
		legacy := checks(fc, p+".legacy", fmt.Sprintf("上游合格证 %d 版本", i+1), []option{{"true", "2026年2月1日前开具的旧版合格证"}}, "")
		legacy.Required = false
		bases := checks(fc, p+".bases", "所勾选的承诺依据", upBases, "")
		bases.Required = false
		up.Fields = append(up.Fields,
			text(fc, p+".issuer", fmt.Sprintf("上游合格证 %d 承诺主体", i+1), false, 60, "如 寻乌县某某家庭农场", ""),
			text(fc, p+".serial", "合格证编号", false, 40, "", "选填"),
			text(fc, p+".product", "产品名称", false, 40, "", ""),
			number(fc, p+".quantity", "数量", false, "0", "", "any", ""),
			choice(fc, p+".unit", "单位", false, unitOptions),
			withKind(fc.val(p+".issued_on"), "date", "开具日期"),
			legacy, bases)
	}
	return append(secs, up)
}

func withKind(f field, kind, label string) field {
	f.Kind, f.Label = kind, label
	return f
}

// certRequest reads the issue form.
func certRequest(v url.Values, lot int64) (cert.Request, error) {
	req := cert.Request{Lot: lot, Unit: trace.Unit(v.Get("unit")), Contact: textValue(v, "contact"), Template: cert.Template(v.Get("template")), Report: textValue(v, "report")}
	var err error
	if req.Quantity, err = parseFloat(v, "quantity", true); err != nil {
		return req, err
	}
	if req.Units, err = parseInt(v, "units", false); err != nil {
		return req, err
	}
	if req.Basis, err = cert.ParseBasis(v["basis"]); err != nil {
		return req, withFieldName(err, "basis")
	}
	for _, i := range upstreamRows(v) {
		p := fmt.Sprintf("upstream[%d]", i)
		u := cert.Upstream{Serial: textValue(v, p+".serial"), Issuer: textValue(v, p+".issuer"), Product: textValue(v, p+".product"),
			Unit: trace.Unit(v.Get(p + ".unit")), IssuedOn: v.Get(p + ".issued_on"), Legacy: v.Get(p+".legacy") == "true", Bases: v[p+".bases"]}
		if u.Quantity, err = parseFloat(v, p+".quantity", true); err != nil {
			return req, err
		}
		req.Upstream = append(req.Upstream, u)
	}
	return req, nil
}

func rows0(v url.Values) int { return rows(v, "rows.upstream", 1) }

// upstreamRows returns the upstream rows of the form that are filled in.
func upstreamRows(v url.Values) []int {
	var used []int
	for i := range rows0(v) {
		p := fmt.Sprintf("upstream[%d]", i)
		if textValue(v, p+".issuer") != "" || textValue(v, p+".serial") != "" || textValue(v, p+".product") != "" || textValue(v, p+".quantity") != "" {
			used = append(used, i)
		}
	}
	return used
}

// upstreamRename maps the service's upstream[i] (empty rows skipped) back to the form's rows.
func upstreamRename(v url.Values) func(string) string {
	rowsUsed := upstreamRows(v)
	return func(f string) string {
		if rest, ok := strings.CutPrefix(f, "upstream["); ok {
			i, tail, _ := strings.Cut(rest, "]")
			if n, err := strconv.Atoi(i); err == nil && n < len(rowsUsed) {
				return fmt.Sprintf("upstream[%d]%s", rowsUsed[n], tail)
			}
		}
		return f
	}
}

func withFieldName(err error, field string) error {
	if e, ok := err.(*trace.Error); ok {
		c := *e
		c.Field = field
		return &c
	}
	return err
}

// certifyLot reads the lot of an issue form: one the actor's party owns.
func (s *server) certifyLot(r *http.Request) (*trace.Lot, *formCtx, error) {
	if err := s.needCerts(); err != nil {
		return nil, nil, err
	}
	se := sessionFrom(r.Context())
	id, err := pathID(r)
	if err != nil {
		return nil, nil, err
	}
	l, err := s.svc.Lot(r.Context(), se.actor, id)
	if err != nil {
		return nil, nil, err
	}
	c, err := s.catalogue(r.Context(), se.actor)
	if err != nil {
		return nil, nil, err
	}
	return l, &formCtx{ctx: r.Context(), s: s, se: se, cat: c}, nil
}

// certifyForm shows the issue form, filled with the lot's remaining quantity, the
// party's contact, 样式一 and 质量安全控制符合要求.
func (s *server) certifyForm(w http.ResponseWriter, r *http.Request) error {
	l, fc, err := s.certifyLot(r)
	if err != nil {
		return err
	}
	v := url.Values{}
	v.Set("quantity", fmtQty(l.Remaining))
	v.Set("unit", string(l.Unit))
	v.Set("template", string(cert.Producer))
	v.Set("basis", "quality_control")
	v.Set("contact", fc.se.party.Contact)
	v.Set("units", "0")
	v.Set("idem", newNonce())
	fc.v = v
	return s.renderCertify(w, r, http.StatusOK, l, fc, nil, nil)
}

// certify handles the issue form's buttons: preview (validated by the service,
// nothing stored), edit (back to the form), issue (stored, then the certificate's page)
// and another upstream row.
func (s *server) certify(w http.ResponseWriter, r *http.Request) error {
	l, fc, err := s.certifyLot(r)
	if err != nil {
		return err
	}
	v := r.PostForm
	fc.v = v
	switch v.Get("add") {
	case "upstream":
		v.Set("rows.upstream", strconv.Itoa(min(rows0(v)+1, maxUpstream)))
		return s.renderCertify(w, r, http.StatusOK, l, fc, nil, nil)
	}
	action := v.Get("action")
	if action == "edit" {
		return s.renderCertify(w, r, http.StatusOK, l, fc, nil, nil)
	}
	req, err := certRequest(v, l.ID)
	rename := upstreamRename(v)
	if err != nil {
		return s.certifyError(w, r, l, fc, err, rename)
	}
	ctx := r.Context()
	if action != "issue" {
		c, err := s.certs.Preview(ctx, fc.se.actor, req)
		if err != nil {
			return s.certifyError(w, r, l, fc, err, rename)
		}
		cv := s.certView(c)
		return s.renderCertify(w, r, http.StatusOK, l, fc, nil, &cv)
	}
	claim := s.certClaim(fc)
	if claim != nil {
		if rep, ok, err := s.svc.Replay(ctx, claim.Principal, claim.Key); err != nil {
			return err
		} else if ok {
			path, _, _ := strings.Cut(string(rep.Body), "\n")
			s.setFlash(w, "该合格证已经开具过，未重复开具")
			http.Redirect(w, r, localNext(path), http.StatusSeeOther)
			return nil
		}
		ctx = trace.WithIdempotency(ctx, claim)
	}
	c, err := s.certs.Issue(ctx, fc.se.actor, req)
	if err != nil {
		return s.certifyError(w, r, l, fc, err, rename)
	}
	s.setFlash(w, "已开具合格证 "+c.Serial)
	http.Redirect(w, r, certPath(c.ID), http.StatusSeeOther)
	return nil
}

func certPath(id int64) string { return "/console/certs/" + strconv.FormatInt(id, 10) }

func (s *server) certClaim(fc *formCtx) *trace.Idempotency {
	key := fc.v.Get("idem")
	if key == "" || len(key) > 64 {
		return nil
	}
	h := sha256.Sum256([]byte("console certify"))
	return &trace.Idempotency{
		Principal: "console:user:" + strconv.FormatInt(fc.se.actor.UserID, 10), Key: key, RequestHash: h[:],
		Render: func(result any) (int, []byte, error) {
			c, _ := result.(*cert.Issued)
			if c == nil {
				return http.StatusSeeOther, []byte("/console/certs\n"), nil
			}
			return http.StatusSeeOther, []byte(certPath(c.ID) + "\n" + c.Serial), nil
		},
	}
}

func (s *server) certifyError(w http.ResponseWriter, r *http.Request, l *trace.Lot, fc *formCtx, err error, rename func(string) string) error {
	e, ok := err.(*trace.Error)
	if !ok || e.Kind == trace.KindInternal || e.Kind == trace.KindUnauthenticated {
		return err
	}
	c := *e
	c.Field = rename(c.Field)
	return s.renderCertify(w, r, statusOf(&c), l, fc, &c, nil)
}

func (s *server) renderCertify(w http.ResponseWriter, r *http.Request, status int, l *trace.Lot, fc *formCtx, e *trace.Error, preview *certView) error {
	d := certifyData{Lot: fc.cat.lotView(*l), Sections: s.certifyFields(fc, l), Err: e, Preview: preview}
	d.At = placeError(d.Sections, e, nil)
	for i := range d.Sections {
		if d.Sections[i].Fold && e != nil && strings.HasPrefix(e.Field, "upstream") {
			d.Sections[i].Open = true
		}
	}
	if preview != nil {
		// The preview carries the form as hidden fields for 确认开具 and 返回修改.
		for k, vs := range fc.v {
			if k == csrfField || k == "action" || k == "add" {
				continue
			}
			for _, x := range vs {
				d.Hidden = append(d.Hidden, hidden{k, x})
			}
		}
		sortHidden(d.Hidden)
	} else {
		for _, h := range []string{"idem", "rows.upstream"} {
			if x := fc.v.Get(h); x != "" {
				d.Hidden = append(d.Hidden, hidden{h, x})
			}
		}
	}
	title := "开具合格证"
	if preview != nil {
		title = "确认合格证"
	}
	return s.render(w, r, status, "certify", title, d)
}

func sortHidden(hs []hidden) {
	for i := 1; i < len(hs); i++ {
		for j := i; j > 0 && hs[j].Name < hs[j-1].Name; j-- {
			hs[j], hs[j-1] = hs[j-1], hs[j]
		}
	}
}

// Revoking.

type revokeData struct {
	Cert   certView
	Reason field
	Err    *trace.Error
}

func (s *server) revokeForm(w http.ResponseWriter, r *http.Request) error {
	c, err := s.certFromPath(r)
	if err != nil {
		return err
	}
	return s.renderRevoke(w, r, http.StatusOK, c, "", nil)
}

func (s *server) renderRevoke(w http.ResponseWriter, r *http.Request, status int, c *cert.Issued, reason string, e *trace.Error) error {
	f := field{Name: "reason", Label: "撤销原因", Kind: "textarea", Value: reason, Required: true, MaxLen: 200, Hint: "如：标签印错、检测不合格召回；撤销原因会登记上链，扫码可见"}
	if e != nil && (e.Field == "reason" || e.Field == "") {
		f.Err = e
	}
	return s.render(w, r, status, "revoke", "撤销合格证 "+c.Serial, revokeData{Cert: s.certView(c), Reason: f, Err: e})
}

func (s *server) revoke(w http.ResponseWriter, r *http.Request) error {
	c, err := s.certFromPath(r)
	if err != nil {
		return err
	}
	reason := r.PostFormValue("reason")
	out, err := s.certs.Revoke(r.Context(), sessionFrom(r.Context()).actor, c.ID, reason)
	if err != nil {
		e, ok := err.(*trace.Error)
		if !ok || e.Kind == trace.KindInternal {
			return err
		}
		return s.renderRevoke(w, r, statusOf(e), c, reason, e)
	}
	s.setFlash(w, "已撤销合格证 "+out.Serial)
	http.Redirect(w, r, certPath(out.ID), http.StatusSeeOther)
	return nil
}

// lotCert returns the certificate of a lot, nil when it has none or certificates are off.
func (s *server) lotCert(r *http.Request, lot int64) (*certView, error) {
	if s.certs == nil {
		return nil, nil
	}
	cs, err := s.certs.Certificates(r.Context(), sessionFrom(r.Context()).actor, cert.Filter{LotID: lot}, trace.Page{Limit: 1})
	if err != nil || len(cs) == 0 {
		return nil, err
	}
	v := s.certView(&cs[0])
	return &v, nil
}
