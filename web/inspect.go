package web

import (
	"bytes"
	"context"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/ganpin/ganpin/internal/export"
	"github.com/ganpin/ganpin/trace"
)

// The inspector console (监管抽检) at /console/inspect/: search and filter sampling
// records, record a sample with its photos, enter the lab's report, follow up
// (re-test, disposal, publication), see the recall list and the trace graph, the
// overdue view, the bureau's query log, and export as CSV, XLSX or an FSMA-204-style
// key-data-elements sheet in the background. Every rule is trace.Inspection's.

var errInspectOff = &trace.Error{Kind: trace.KindNotFound, Code: "inspection_off", ZH: "本系统未启用抽检功能", EN: "inspection is not enabled on this server"}

var errNotInspector = &trace.Error{Kind: trace.KindForbidden, Code: "not_inspector", ZH: "监管抽检控制台仅供市场监管部门的抽检人员使用。", EN: "the inspector console is for market-regulation inspectors"}

// inspect wraps an inspector page.
func (s *server) inspect(h handlerFunc) http.Handler {
	return s.sessionFor(isInspector, errNotInspector, func(w http.ResponseWriter, r *http.Request) error {
		if s.insp == nil {
			return errInspectOff
		}
		return h(w, r)
	})
}

const samplingsPerPage = 30

type searchData struct {
	Query     url.Values
	QueryStr  template.URL // the filter, encoded: safe inside a link's query
	Counties  []option
	Verdicts  []option
	Items     []option
	Rows      []samplingRow
	Next      int64
	First     bool
	Err       *trace.Error
	Today     string
	MonthAgo  string
	Formats   []option
	Jurisdict string
}

type samplingRow struct {
	*trace.Sampling
	County  string
	Verdict string
	Due     string
	Late    bool
}

func verdictLabel(v trace.Verdict) string {
	if v == "" {
		return "待检"
	}
	return string(v)
}

func (s *server) samplingRow(x *trace.Sampling) samplingRow {
	row := samplingRow{Sampling: x, County: countyLabel(x.Spec.Place.County), Verdict: verdictLabel(x.Verdict)}
	if what, at, late := x.Due(time.Now()); what != "" {
		row.Due, row.Late = what+"截止 "+at.In(cst).Format("2006-01-02"), late
	}
	return row
}

func countyLabel(c string) string {
	if n := trace.CountyName(c); n != "" {
		return n
	}
	return c
}

// counties offers the divisions of the jurisdiction, the whole city first.
func (s *server) counties(ctx context.Context, a trace.Actor) ([]option, string, error) {
	j, err := s.insp.Jurisdiction(ctx, a)
	if err != nil {
		return nil, "", err
	}
	opts := []option{{"", "辖区内全部"}}
	var names []string
	for _, c := range trace.Counties {
		for _, p := range j {
			if strings.HasPrefix(c.Code, p) {
				opts = append(opts, option{c.Code, c.Name})
				break
			}
		}
		if j == nil {
			opts = append(opts, option{c.Code, c.Name})
		}
	}
	for _, p := range j {
		names = append(names, p)
	}
	return opts, strings.Join(names, "、"), nil
}

func (s *server) inspectHome(w http.ResponseWriter, r *http.Request) error {
	se := sessionFrom(r.Context())
	q := r.URL.Query()
	d := searchData{Query: q, Today: time.Now().In(cst).Format(time.DateOnly), MonthAgo: time.Now().In(cst).AddDate(0, -1, 0).Format(time.DateOnly),
		Verdicts: []option{{"", "全部"}, {"合格", "合格"}, {"不合格", "不合格"}, {"pending", "待检"}},
		Formats:  []option{{"xlsx", "Excel（XLSX）"}, {"csv", "CSV"}}}
	var err error
	if d.Counties, d.Jurisdict, err = s.counties(r.Context(), se.actor); err != nil {
		return err
	}
	d.Items = []option{{"", "全部"}}
	if std, ok := s.insp.Limits().InForce(time.Now()); ok {
		for _, c := range std.Commodities {
			for _, l := range c.Limits {
				d.Items = append(d.Items, option{l.Item, l.Item})
			}
		}
	}
	f, ferr := export.Filter(q)
	filter := url.Values{}
	for _, k := range []string{"county", "party_name", "product", "from", "to", "verdict", "item", "lot"} {
		if v := q.Get(k); v != "" {
			filter.Set(k, v)
		}
	}
	d.QueryStr = template.URL(filter.Encode())
	status := http.StatusOK
	if ferr != nil {
		d.Err, status = asError(ferr), http.StatusUnprocessableEntity
		return s.render(w, r, status, "inspect", "抽检记录", d)
	}
	p := trace.Page{Limit: samplingsPerPage}
	if a, err := strconv.ParseInt(q.Get("after"), 10, 64); err == nil && a > 0 {
		p.After = a
	}
	d.First = p.After == 0
	ss, err := s.insp.Search(r.Context(), se.actor, f, p)
	if k := trace.KindOf(err); k == trace.KindInvalid || k == trace.KindForbidden {
		d.Err = asError(err)
		return s.render(w, r, statusOf(d.Err), "inspect", "抽检记录", d)
	} else if err != nil {
		return err
	}
	for i := range ss {
		d.Rows = append(d.Rows, s.samplingRow(&ss[i]))
	}
	if len(ss) == p.Limit {
		d.Next = ss[len(ss)-1].ID
	}
	return s.render(w, r, status, "inspect", "抽检记录", d)
}

func asError(err error) *trace.Error {
	if e, ok := err.(*trace.Error); ok {
		return e
	}
	return errInternal
}

// photo serves a sampling record's photo to whoever may read the record.
func (s *server) inspectPhoto(w http.ResponseWriter, r *http.Request) error {
	id, err := pathInt(r, "id")
	if err != nil {
		return err
	}
	n, err := strconv.Atoi(r.PathValue("n"))
	if err != nil {
		return errPageNotFound
	}
	b, mime, err := s.insp.Photo(r.Context(), sessionFrom(r.Context()).actor, id, n)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", mime)
	w.Header().Set("Cache-Control", "private, max-age=86400")
	w.Write(b)
	return nil
}

func pathInt(r *http.Request, name string) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue(name), 10, 64)
	if err != nil || id <= 0 {
		return 0, errPageNotFound
	}
	return id, nil
}

type newData struct {
	V        url.Values
	Err      *trace.Error
	Stages   []option
	Tasks    []option
	Counties []option
	Units    []option
}

func (s *server) newForm(ctx context.Context, a trace.Actor, v url.Values, e *trace.Error) (newData, error) {
	cs, _, err := s.counties(ctx, a)
	if err != nil {
		return newData{}, err
	}
	return newData{V: v, Err: e, Counties: cs[1:],
		Stages: []option{{"circulation", "流通"}, {"production", "生产"}, {"catering", "餐饮"}, {"online", "网络"}},
		Tasks:  []option{{"supervision", "监督抽检"}, {"risk_monitoring", "风险监测"}, {"evaluation", "评价性抽检"}},
		Units:  []option{{"kg", "公斤"}, {"jin", "斤"}, {"box", "箱"}, {"piece", "个"}}}, nil
}

func (s *server) inspectNewPage(w http.ResponseWriter, r *http.Request) error {
	se := sessionFrom(r.Context())
	v := url.Values{"time": {time.Now().In(cst).Format("2006-01-02T15:04")}, "agency": {se.party.Name}, "task_type": {"supervision"}, "stage": {"circulation"}, "unit": {"kg"}}
	for _, k := range []string{"lot", "certificate"} {
		if x := r.URL.Query().Get(k); x != "" {
			v.Set(k, x)
		}
	}
	d, err := s.newForm(r.Context(), se.actor, v, nil)
	if err != nil {
		return err
	}
	return s.render(w, r, http.StatusOK, "inspect_new", "新建抽样单", d)
}

func num(v url.Values, k string) float64 {
	f, _ := strconv.ParseFloat(strings.TrimSpace(v.Get(k)), 64)
	return f
}

func (s *server) inspectCreate(w http.ResponseWriter, r *http.Request) error {
	se := sessionFrom(r.Context())
	if err := r.ParseMultipartForm(8 << 20); err != nil && err != http.ErrNotMultipart {
		return err
	}
	v := r.PostForm
	fail := func(e *trace.Error) error {
		d, err := s.newForm(r.Context(), se.actor, v, e)
		if err != nil {
			return err
		}
		return s.render(w, r, statusOf(e), "inspect_new", "新建抽样单", d)
	}
	t, err := time.ParseInLocation("2006-01-02T15:04", v.Get("time"), cst)
	if err != nil {
		return fail(trace.Invalid("time", "invalid_time", "请填写抽样时间", "enter the sampling time"))
	}
	var samplers []string
	for _, p := range strings.FieldsFunc(v.Get("samplers"), func(r rune) bool { return r == '、' || r == ',' || r == '，' || r == '\n' }) {
		if p = strings.TrimSpace(p); p != "" {
			samplers = append(samplers, p)
		}
	}
	lot, _ := strconv.ParseInt(strings.TrimSpace(v.Get("lot")), 10, 64)
	spec := trace.SamplingSpec{Number: strings.TrimSpace(v.Get("number")), TaskSource: v.Get("task_source"), TaskType: trace.TaskType(v.Get("task_type")),
		Stage: trace.Stage(v.Get("stage")), Place: trace.Place{Name: v.Get("place"), Address: v.Get("address"), County: v.Get("county"), URL: v.Get("url")},
		Time: t.Format(time.RFC3339), Agency: v.Get("agency"), Samplers: samplers,
		Sampled:  trace.Entity{Name: v.Get("sampled"), USCC: strings.TrimSpace(v.Get("sampled_uscc")), Address: v.Get("sampled_address"), Phone: v.Get("sampled_phone")},
		Producer: trace.Entity{Name: v.Get("producer")},
		Sample: trace.Sample{Name: v.Get("sample"), Commodity: v.Get("commodity"), Brand: v.Get("brand"), LotCode: v.Get("lot_code"), Spec: v.Get("spec"),
			Unit: trace.Unit(v.Get("unit")), Base: num(v, "base"), Quantity: num(v, "quantity"), Backup: num(v, "backup"), Storage: v.Get("storage"), Standard: v.Get("standard")},
		Lot: lot, Certificate: strings.TrimSpace(v.Get("certificate")), Note: v.Get("note")}
	var photos []trace.Photo
	if r.MultipartForm != nil {
		for i, fh := range r.MultipartForm.File["photos"] {
			if fh.Size == 0 {
				continue
			}
			if fh.Size > trace.MaxPhotoBytes {
				return fail(&trace.Error{Kind: trace.KindTooLarge, Code: "photo_too_large", Field: fmt.Sprintf("photos[%d]", i), ZH: fmt.Sprintf("照片不能超过%d MB", trace.MaxPhotoBytes>>20), EN: "a photo is too large"})
			}
			f, err := fh.Open()
			if err != nil {
				return err
			}
			b, err := io.ReadAll(f)
			f.Close()
			if err != nil {
				return err
			}
			photos = append(photos, b)
		}
	}
	rec, err := s.insp.RecordSampling(context.WithoutCancel(r.Context()), se.actor, spec, photos)
	if k := trace.KindOf(err); k != trace.KindInternal {
		return fail(asError(err))
	} else if err != nil {
		return err
	}
	s.setFlash(w, "已保存抽样单 "+rec.Spec.Number)
	http.Redirect(w, r, fmt.Sprintf("/console/inspect/%d", rec.ID), http.StatusSeeOther)
	return nil
}

type inspectData struct {
	D          *trace.Dossier
	Row        samplingRow
	Graph      *graphSVG
	LotCode    string
	Marked     map[int64]bool
	Today      string
	Actions    []option
	Backup     time.Time
	TaskZH     string
	StageZH    string
	ReportsLen int
}

func (s *server) inspectRecord(w http.ResponseWriter, r *http.Request) error {
	id, err := pathInt(r, "id")
	if err != nil {
		return err
	}
	se := sessionFrom(r.Context())
	d, err := s.insp.Dossier(r.Context(), se.actor, id)
	if err != nil {
		return err
	}
	data := inspectData{D: d, Row: s.samplingRow(d.Sampling), Marked: map[int64]bool{}, Today: time.Now().In(cst).Format(time.DateOnly),
		Backup: d.BackupUntil(), TaskZH: d.Sampling.Spec.TaskType.ZH(), StageZH: d.Sampling.Spec.Stage.ZH(), ReportsLen: len(d.Reports),
		Actions: []option{{"retest_request", "复检申请"}, {"disposal", "核查处置"}, {"publication", "结果公布"}}}
	for _, l := range d.Marked {
		data.Marked[l] = true
	}
	if d.Sampling.LotID != 0 {
		g, err := s.svc.Trace(r.Context(), se.actor, d.Sampling.LotID, trace.Both)
		if err != nil {
			return err
		}
		data.Graph = layoutGraph(g, data.Marked)
		for _, l := range g.Lots {
			if l.ID == g.Root {
				data.LotCode = l.Code
			}
		}
	}
	return s.render(w, r, http.StatusOK, "inspect_record", "抽样单 "+d.Sampling.Spec.Number, data)
}

// reportRows is how many item rows the report form offers.
const reportRows = 10

type reportData struct {
	S      *trace.Sampling
	V      url.Values
	Rows   []int
	Err    *trace.Error
	Retest bool
}

func (s *server) inspectReportPage(w http.ResponseWriter, r *http.Request) error {
	id, err := pathInt(r, "id")
	if err != nil {
		return err
	}
	d, err := s.insp.Dossier(r.Context(), sessionFrom(r.Context()).actor, id)
	if err != nil {
		return err
	}
	v := url.Values{"issued": {time.Now().In(cst).Format(time.DateOnly)}}
	if r.URL.Query().Get("retest") == "1" {
		v.Set("retest", "1")
	}
	for i := range reportRows {
		v.Set(fmt.Sprintf("unit%d", i), "mg/kg")
	}
	return s.render(w, r, http.StatusOK, "inspect_report", "录入检验报告", reportData{S: d.Sampling, V: v, Rows: itemRows(reportRows), Retest: v.Get("retest") == "1"})
}

func itemRows(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

func (s *server) inspectReport(w http.ResponseWriter, r *http.Request) error {
	id, err := pathInt(r, "id")
	if err != nil {
		return err
	}
	se := sessionFrom(r.Context())
	v := r.PostForm
	spec := trace.ReportSpec{Number: strings.TrimSpace(v.Get("number")), Lab: v.Get("lab"), Issued: v.Get("issued"), Retest: v.Get("retest") == "1"}
	for i := range reportRows {
		k := strconv.Itoa(i)
		name := strings.TrimSpace(v.Get("item" + k))
		if name == "" {
			continue
		}
		it := trace.ItemSpec{Item: name, Result: v.Get("result" + k), Unit: strings.TrimSpace(v.Get("unit" + k)), DetectionLimit: num(v, "dl"+k),
			Method: v.Get("method" + k), LimitSource: strings.TrimSpace(v.Get("source" + k))}
		if l := strings.TrimSpace(v.Get("limit" + k)); l != "" {
			f := num(v, "limit"+k)
			it.Limit = &f
		}
		spec.Items = append(spec.Items, it)
	}
	out, err := s.insp.RecordReport(context.WithoutCancel(r.Context()), se.actor, id, spec)
	if k := trace.KindOf(err); k != trace.KindInternal {
		d, derr := s.insp.Dossier(r.Context(), se.actor, id)
		if derr != nil {
			return derr
		}
		e := asError(err)
		// Item errors name the form's row, counting only filled rows.
		return s.render(w, r, statusOf(e), "inspect_report", "录入检验报告", reportData{S: d.Sampling, V: v, Rows: itemRows(reportRows), Err: e, Retest: spec.Retest})
	} else if err != nil {
		return err
	}
	msg := "检验报告已录入：" + string(out.Report.Verdict)
	if e := out.Enforcement; e != nil {
		msg += fmt.Sprintf("；已标记%d个批次不合规，撤销合格证%d张，通知平台%d家", len(out.Marked), len(e.Revoked), e.Notified)
		if e.Err != nil {
			msg += "；部分召回操作未完成，请在召回清单页重试"
		}
	}
	s.setFlash(w, msg)
	http.Redirect(w, r, fmt.Sprintf("/console/inspect/%d", id), http.StatusSeeOther)
	return nil
}

func (s *server) inspectAction(w http.ResponseWriter, r *http.Request) error {
	id, err := pathInt(r, "id")
	if err != nil {
		return err
	}
	v := r.PostForm
	var measures []string
	for _, m := range strings.FieldsFunc(v.Get("measures"), func(r rune) bool { return r == '、' || r == ',' || r == '，' }) {
		if m = strings.TrimSpace(m); m != "" {
			measures = append(measures, m)
		}
	}
	a, err := s.insp.RecordAction(context.WithoutCancel(r.Context()), sessionFrom(r.Context()).actor, id,
		trace.ActionSpec{Kind: trace.ActionKind(v.Get("kind")), Date: v.Get("date"), By: v.Get("by"), Measures: measures, Note: v.Get("note")})
	if err != nil {
		return err
	}
	s.setFlash(w, "已记录"+a.Spec.Kind.ZH())
	http.Redirect(w, r, fmt.Sprintf("/console/inspect/%d", id), http.StatusSeeOther)
	return nil
}

type recallData struct {
	L        *trace.RecallList
	Sites    map[int64]string
	Parties  map[int64]string
	Products map[int64]string
	Enforced *trace.Enforcement
	Valid    int // certificates still valid
}

func (s *server) inspectRecall(w http.ResponseWriter, r *http.Request) error {
	id, err := pathInt(r, "id")
	if err != nil {
		return err
	}
	se := sessionFrom(r.Context())
	var enforced *trace.Enforcement
	if r.Method == http.MethodPost {
		if enforced, err = s.insp.Enforce(context.WithoutCancel(r.Context()), se.actor, id); err != nil {
			return err
		}
	}
	rl, err := s.insp.Recall(r.Context(), se.actor, id)
	if err != nil {
		return err
	}
	d := recallData{L: rl, Sites: map[int64]string{}, Parties: map[int64]string{}, Products: map[int64]string{}, Enforced: enforced}
	for _, st := range append(rl.Sites, rl.Orchards...) {
		d.Sites[st.ID] = st.Name
	}
	for _, p := range append(rl.Holders, rl.Platforms...) {
		d.Parties[p.ID] = p.Name
	}
	for _, l := range rl.Lots {
		if _, ok := d.Products[l.ProductID]; !ok {
			if p, err := s.svc.Product(r.Context(), se.actor, l.ProductID); err == nil {
				d.Products[l.ProductID] = strings.TrimSpace(p.Name + " " + p.Variety)
			}
		}
	}
	for _, c := range rl.Certificates {
		if !c.Revoked {
			d.Valid++
		}
	}
	return s.render(w, r, http.StatusOK, "inspect_recall", "召回清单", d)
}

type overdueData struct {
	Rows []samplingRow
}

func (s *server) inspectOverdue(w http.ResponseWriter, r *http.Request) error {
	ss, err := s.insp.Overdue(r.Context(), sessionFrom(r.Context()).actor, trace.Page{Limit: 200})
	if err != nil {
		return err
	}
	d := overdueData{}
	for i := range ss {
		d.Rows = append(d.Rows, s.samplingRow(&ss[i]))
	}
	return s.render(w, r, http.StatusOK, "inspect_overdue", "逾期事项", d)
}

type auditData struct {
	Entries []trace.AuditEntry
	Next    int64
}

func (s *server) inspectAudit(w http.ResponseWriter, r *http.Request) error {
	p := trace.Page{Limit: 100}
	if a, err := strconv.ParseInt(r.URL.Query().Get("after"), 10, 64); err == nil && a > 0 {
		p.After = a
	}
	es, err := s.insp.AuditLog(r.Context(), sessionFrom(r.Context()).actor, p)
	if err != nil {
		return err
	}
	d := auditData{Entries: es}
	if len(es) == p.Limit {
		d.Next = es[len(es)-1].ID
	}
	return s.render(w, r, http.StatusOK, "inspect_audit", "查询日志", d)
}

// inspectExport starts an export in the background and shows its progress page:
// kind samplings (the search's filter), kde (a lot, or from–to).
func (s *server) inspectExport(w http.ResponseWriter, r *http.Request) error {
	se := sessionFrom(r.Context())
	q := r.URL.Query()
	format := export.Format(q.Get("format"))
	if !format.Valid() {
		return trace.Invalid("format", "invalid_format", "格式应为csv或xlsx", "the format is csv or xlsx")
	}
	a := se.actor
	var name string
	var run export.Run
	switch q.Get("kind") {
	case "kde":
		name = "关键数据元素表（FSMA 204）"
		header := export.FSMAHeader
		if l := q.Get("lot"); l != "" {
			lot, err := strconv.ParseInt(l, 10, 64)
			if err != nil || lot <= 0 {
				return trace.Invalid("lot", "invalid_id", "批次编号无效", "invalid lot id")
			}
			run = func(ctx context.Context, buf *bytes.Buffer, progress func(int)) error {
				xw, err := export.New(format, buf, "KDE", header)
				if err == nil {
					_, err = export.FSMALot(ctx, s.svc, s.insp, a, lot, format, xw)
				}
				return err
			}
		} else {
			from, err := export.Day(q, "from", 0)
			if err != nil {
				return err
			}
			to, err := export.Day(q, "to", 1)
			if err != nil {
				return err
			}
			if from.IsZero() || to.IsZero() || !to.After(from) {
				return trace.Invalid("from", "invalid_window", "请填写开始和结束日期", "enter the start and end dates")
			}
			run = func(ctx context.Context, buf *bytes.Buffer, progress func(int)) error {
				xw, err := export.New(format, buf, "KDE", header)
				if err == nil {
					_, err = export.FSMARange(ctx, s.svc, s.insp, a, from, to, format, xw, progress)
				}
				return err
			}
		}
	default:
		name = "抽检记录"
		f, err := export.Filter(q)
		if err != nil {
			return err
		}
		if _, err := s.insp.Scope(r.Context(), a, f); err != nil {
			return err
		}
		run = func(ctx context.Context, buf *bytes.Buffer, progress func(int)) error {
			xw, err := export.New(format, buf, "抽样记录", export.SamplingHeader)
			if err == nil {
				_, err = export.Samplings(ctx, s.insp, a, f, format, xw, progress)
			}
			return err
		}
	}
	j, err := s.jobs.Start(a.UserID, name, format, 0, run)
	if err == export.ErrBusy {
		return &trace.Error{Kind: trace.KindConflict, Code: "too_many_exports", ZH: "导出任务过多，请等待已有任务完成后再试", EN: err.Error()}
	} else if err != nil {
		return err
	}
	http.Redirect(w, r, "/console/exports/"+j.ID, http.StatusSeeOther)
	return nil
}

var errNoJob = &trace.Error{Kind: trace.KindNotFound, Code: "not_found", ZH: "导出任务不存在或已过期（完成后保留1小时）", EN: "no such export, or it expired"}

func (s *server) inspectJob(w http.ResponseWriter, r *http.Request) error {
	j, ok := s.jobs.Get(sessionFrom(r.Context()).actor.UserID, r.PathValue("job"))
	if !ok {
		return errNoJob
	}
	return s.render(w, r, http.StatusOK, "inspect_export", "导出", jobPage{&j})
}

// jobPage is an export's status page; it reloads itself while the export runs.
type jobPage struct{ *export.Job }

func (p jobPage) RefreshSeconds() int {
	if p.Finished() {
		return 0
	}
	return 2
}

func (s *server) inspectJobFile(w http.ResponseWriter, r *http.Request) error {
	j, ok := s.jobs.Get(sessionFrom(r.Context()).actor.UserID, r.PathValue("job"))
	if !ok || !j.Finished() || j.Err != nil {
		return errNoJob
	}
	base := "sampling"
	if strings.HasPrefix(j.Name, "关键") {
		base = "kde"
	}
	w.Header().Set("Content-Type", j.Format.ContentType())
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s-%s.%s"`, base, j.Started.In(cst).Format("20060102-150405"), j.Format))
	w.Header().Set("Content-Length", strconv.Itoa(len(j.File)))
	w.Write(j.File)
	return nil
}
