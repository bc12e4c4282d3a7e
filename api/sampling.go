package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/ganpin/ganpin/internal/export"
	"github.com/ganpin/ganpin/trace"
)

// Inspection (docs/inspection.md): sampling records, reports, follow-ups, recall
// lists, the overdue view, exports and the inspectors' query log.

// maxSamplingBody bounds a sampling record with its photos, base64-encoded.
const maxSamplingBody = 48 << 20

type samplingRequest struct {
	trace.SamplingSpec
	Photos [][]byte `json:"photos,omitempty"` // base64 in JSON
}

type photoView struct {
	MIME   string `json:"mime"`
	Size   int    `json:"size"`
	SHA256 string `json:"sha256"`
	URL    string `json:"url"`
}

type dueView struct {
	What    string    `json:"what"`
	At      time.Time `json:"at"`
	Overdue bool      `json:"overdue"`
}

type samplingView struct {
	ID          int64              `json:"id"`
	Number      string             `json:"number"`
	Party       int64              `json:"party"`
	Recorded    time.Time          `json:"recorded"`
	Time        time.Time          `json:"time"`
	Lot         int64              `json:"lot,omitempty"`
	Photos      []photoView        `json:"photos"`
	ReportDue   time.Time          `json:"report_due"`
	Verdict     string             `json:"verdict"` // 合格, 不合格 or 待检
	Reported    *time.Time         `json:"reported,omitempty"`
	DisposalDue *time.Time         `json:"disposal_due,omitempty"`
	Closed      *time.Time         `json:"closed,omitempty"`
	Published   *time.Time         `json:"published,omitempty"`
	Due         *dueView           `json:"due,omitempty"`
	Sampling    trace.SamplingSpec `json:"sampling"`
	SHA256      string             `json:"sha256"`
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func viewSampling(s *trace.Sampling) samplingView {
	h := s.Hash()
	v := samplingView{ID: s.ID, Number: s.Spec.Number, Party: s.PartyID, Recorded: s.Recorded, Time: s.Time, Lot: s.LotID, ReportDue: s.ReportDue,
		Verdict: string(s.Verdict), Reported: optTime(s.Reported), DisposalDue: optTime(s.DisposalDue), Closed: optTime(s.Closed),
		Published: optTime(s.Published), Sampling: s.Spec, SHA256: hex.EncodeToString(h[:]), Photos: []photoView{}}
	if v.Verdict == "" {
		v.Verdict = "待检"
	}
	for i, p := range s.Photos {
		v.Photos = append(v.Photos, photoView{p.MIME, p.Size, p.SHA256, fmt.Sprintf("/api/v1/sampling/%d/photos/%d", s.ID, i)})
	}
	if what, at, late := s.Due(time.Now()); what != "" {
		v.Due = &dueView{what, at, late}
	}
	return v
}

type reportView struct {
	ID        int64              `json:"id"`
	Sampling  int64              `json:"sampling"`
	Number    string             `json:"number"`
	Lab       string             `json:"lab"`
	Issued    string             `json:"issued"`
	Retest    bool               `json:"retest"`
	Standard  string             `json:"standard"`
	Commodity string             `json:"commodity"`
	Items     []trace.ItemResult `json:"items"`
	Verdict   trace.Verdict      `json:"verdict"`
	Recorded  time.Time          `json:"recorded"`
	LedgerTx  string             `json:"ledger_tx,omitempty"` // the verdict on the ledger; empty while 待上链
	SHA256    string             `json:"sha256"`
}

func viewReport(r *trace.Report) reportView {
	h := sha256.Sum256(r.Canonical)
	return reportView{r.ID, r.SamplingID, r.Number, r.Lab, r.Issued, r.Retest, r.Standard, r.Commodity, r.Items, r.Verdict, r.Recorded, r.LedgerTx, hex.EncodeToString(h[:])}
}

type actionView struct {
	ID       int64            `json:"id"`
	Sampling int64            `json:"sampling"`
	Kind     trace.ActionKind `json:"kind"`
	KindZH   string           `json:"kind_zh"`
	Recorded time.Time        `json:"recorded"`
	Late     bool             `json:"late,omitempty"`
	Action   trace.ActionSpec `json:"action"`
}

func viewAction(a *trace.Action) actionView {
	return actionView{a.ID, a.SamplingID, a.Spec.Kind, a.Spec.Kind.ZH(), a.Recorded, a.Late, a.Spec}
}

type dossierView struct {
	samplingView
	Reports     []reportView `json:"reports"`
	Actions     []actionView `json:"actions"`
	Marked      []int64      `json:"marked"`
	BackupUntil *time.Time   `json:"backup_until,omitempty"`
}

func viewDossier(d *trace.Dossier) dossierView {
	v := dossierView{samplingView: viewSampling(d.Sampling), Reports: []reportView{}, Actions: []actionView{}, Marked: d.Marked, BackupUntil: optTime(d.BackupUntil())}
	for i := range d.Reports {
		v.Reports = append(v.Reports, viewReport(&d.Reports[i]))
	}
	for i := range d.Actions {
		v.Actions = append(v.Actions, viewAction(&d.Actions[i]))
	}
	if v.Marked == nil {
		v.Marked = []int64{}
	}
	return v
}

type outcomeView struct {
	Report   reportView `json:"report"`
	Marked   []int64    `json:"marked"`
	Revoked  []string   `json:"revoked"`
	Notified int        `json:"notified"`
	// Unfinished says what of the recall failed; POST /sampling/{id}/recall runs it again.
	Unfinished string `json:"unfinished,omitempty"`
}

func viewOutcome(o *trace.Outcome) outcomeView {
	v := outcomeView{Report: viewReport(o.Report), Marked: o.Marked, Revoked: []string{}}
	if v.Marked == nil {
		v.Marked = []int64{}
	}
	if e := o.Enforcement; e != nil {
		v.Revoked, v.Notified = append(v.Revoked, e.Revoked...), e.Notified
		if e.Err != nil {
			v.Unfinished = e.Err.Error()
		}
	}
	return v
}

type recallLotView struct {
	lotView
	Depth int `json:"depth"`
}

type certRefView struct {
	Serial  string `json:"serial"`
	Lot     int64  `json:"lot"`
	Revoked bool   `json:"revoked"`
}

type recallOrderView struct {
	ID          int64             `json:"id"`
	Number      string            `json:"number"`
	Platform    int64             `json:"platform"`
	Channel     string            `json:"channel"`
	Time        time.Time         `json:"time"`
	Destination trace.Destination `json:"destination"`
	Items       []trace.OrderItem `json:"items"`
}

type recallView struct {
	Sampling     *samplingView     `json:"sampling,omitempty"`
	Root         int64             `json:"root,omitempty"`
	Lots         []recallLotView   `json:"lots"`
	Edges        []trace.Edge      `json:"edges"`
	Certificates []certRefView     `json:"certificates"`
	Orders       []recallOrderView `json:"orders"`
	Platforms    []partyView       `json:"platforms"`
	Holders      []partyView       `json:"holders"`
	Orchards     []siteView        `json:"orchards"`
	Inputs       []eventView       `json:"inputs"`
	Related      []lotView         `json:"related"`
	From         *time.Time        `json:"from,omitempty"`
	To           *time.Time        `json:"to,omitempty"`
	TookMS       float64           `json:"took_ms"`
}

func viewRecall(rl *trace.RecallList) recallView {
	v := recallView{Root: rl.Root, Lots: []recallLotView{}, Edges: rl.Edges, Certificates: []certRefView{}, Orders: []recallOrderView{},
		Platforms: []partyView{}, Holders: []partyView{}, Orchards: []siteView{}, Inputs: []eventView{}, Related: []lotView{},
		From: optTime(rl.From), To: optTime(rl.To), TookMS: float64(rl.Took.Microseconds()) / 1000}
	if rl.Sampling != nil {
		sv := viewSampling(rl.Sampling)
		v.Sampling = &sv
	}
	if v.Edges == nil {
		v.Edges = []trace.Edge{}
	}
	for i := range rl.Lots {
		v.Lots = append(v.Lots, recallLotView{viewLot(&rl.Lots[i].Lot), rl.Lots[i].Depth})
	}
	for _, c := range rl.Certificates {
		v.Certificates = append(v.Certificates, certRefView{c.Serial, c.LotID, c.Revoked})
	}
	for _, o := range rl.Orders {
		v.Orders = append(v.Orders, recallOrderView{o.ID, o.Spec.Number, o.PartyID, o.Spec.Channel, o.Time, o.Spec.Destination, o.Spec.Items})
	}
	for i := range rl.Platforms {
		v.Platforms = append(v.Platforms, viewParty(&rl.Platforms[i]))
	}
	for i := range rl.Holders {
		v.Holders = append(v.Holders, viewParty(&rl.Holders[i]))
	}
	for i := range rl.Orchards {
		v.Orchards = append(v.Orchards, viewSite(&rl.Orchards[i]))
	}
	for i := range rl.Inputs {
		v.Inputs = append(v.Inputs, viewEvent(&rl.Inputs[i]))
	}
	for i := range rl.Related {
		v.Related = append(v.Related, viewLot(&rl.Related[i]))
	}
	return v
}

type auditView struct {
	ID     int64     `json:"id"`
	Party  int64     `json:"party"`
	User   int64     `json:"user"`
	Time   time.Time `json:"time"`
	Action string    `json:"action"`
	Filter any       `json:"filter"`
	Rows   int       `json:"rows"`
}

func viewAudit(e *trace.AuditEntry) auditView {
	return auditView{e.ID, e.PartyID, e.UserID, e.Time, e.Action, e.Filter, e.Rows}
}

func (s *Server) needInspection() error {
	if s.insp == nil {
		return &trace.Error{Kind: trace.KindNotFound, Code: "inspection_off", ZH: "本系统未启用抽检功能", EN: "inspection is not enabled on this server"}
	}
	return nil
}

var chinaTZ = time.FixedZone("CST", 8*3600)

func (s *Server) samplingLimits(w http.ResponseWriter, r *http.Request) error {
	if err := s.needInspection(); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, s.insp.Limits())
}

func (s *Server) recordSampling(w http.ResponseWriter, r *http.Request) error {
	if err := s.needInspection(); err != nil {
		return err
	}
	var req samplingRequest
	if err := decode(w, r, maxSamplingBody, &req); err != nil {
		return err
	}
	photos := make([]trace.Photo, len(req.Photos))
	for i, p := range req.Photos {
		photos[i] = p
	}
	return create(s, w, r, func(v *trace.Sampling) any { return viewSampling(v) }, func(ctx context.Context, a trace.Actor) (*trace.Sampling, error) {
		return s.insp.RecordSampling(ctx, a, req.SamplingSpec, photos)
	})
}

func (s *Server) searchSampling(w http.ResponseWriter, r *http.Request) error {
	if err := s.needInspection(); err != nil {
		return err
	}
	f, err := export.Filter(r.URL.Query())
	if err != nil {
		return err
	}
	return list(w, r, viewSampling, func(v *trace.Sampling) int64 { return v.ID }, func(ctx context.Context, a trace.Actor, p trace.Page) ([]trace.Sampling, error) {
		return s.insp.Search(ctx, a, f, p)
	})
}

func (s *Server) getSampling(w http.ResponseWriter, r *http.Request) error {
	if err := s.needInspection(); err != nil {
		return err
	}
	return get(w, r, viewDossier, s.insp.Dossier)
}

func (s *Server) samplingPhoto(w http.ResponseWriter, r *http.Request) error {
	if err := s.needInspection(); err != nil {
		return err
	}
	id, err := pathID(r)
	if err != nil {
		return err
	}
	n, err := strconv.Atoi(chi.URLParam(r, "n"))
	if err != nil {
		return &trace.Error{Kind: trace.KindNotFound, Code: "not_found", ZH: "照片不存在", EN: "no such photo"}
	}
	b, mime, err := s.insp.Photo(r.Context(), actorFrom(r.Context()), id, n)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", mime)
	w.Header().Set("Cache-Control", "private, max-age=86400")
	w.Write(b)
	return nil
}

func (s *Server) recordReport(w http.ResponseWriter, r *http.Request) error {
	if err := s.needInspection(); err != nil {
		return err
	}
	id, err := pathID(r)
	if err != nil {
		return err
	}
	var req trace.ReportSpec
	if err := decode(w, r, maxBody, &req); err != nil {
		return err
	}
	return create(s, w, r, func(o *trace.Outcome) any { return viewOutcome(o) }, func(ctx context.Context, a trace.Actor) (*trace.Outcome, error) {
		return s.insp.RecordReport(ctx, a, id, req)
	})
}

func (s *Server) recordAction(kind trace.ActionKind) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		if err := s.needInspection(); err != nil {
			return err
		}
		id, err := pathID(r)
		if err != nil {
			return err
		}
		var req struct {
			Date     string   `json:"date"`
			By       string   `json:"by,omitempty"`
			Measures []string `json:"measures,omitempty"`
			Note     string   `json:"note,omitempty"`
		}
		if err := decode(w, r, maxBody, &req); err != nil {
			return err
		}
		return create(s, w, r, func(a *trace.Action) any { return viewAction(a) }, func(ctx context.Context, a trace.Actor) (*trace.Action, error) {
			return s.insp.RecordAction(ctx, a, id, trace.ActionSpec{Kind: kind, Date: req.Date, By: req.By, Measures: req.Measures, Note: req.Note})
		})
	}
}

func (s *Server) samplingRecall(w http.ResponseWriter, r *http.Request) error {
	if err := s.needInspection(); err != nil {
		return err
	}
	return get(w, r, viewRecall, s.insp.Recall)
}

// enforceRecall runs a failed sample's revocations and notifications again.
func (s *Server) enforceRecall(w http.ResponseWriter, r *http.Request) error {
	if err := s.needInspection(); err != nil {
		return err
	}
	id, err := pathID(r)
	if err != nil {
		return err
	}
	e, err := s.insp.Enforce(context.WithoutCancel(r.Context()), actorFrom(r.Context()), id)
	if err != nil {
		return err
	}
	v := map[string]any{"revoked": append([]string{}, e.Revoked...), "notified": e.Notified}
	if e.Err != nil {
		v["unfinished"] = e.Err.Error()
	}
	return writeJSON(w, http.StatusOK, v)
}

func (s *Server) orchardRecall(w http.ResponseWriter, r *http.Request) error {
	if err := s.needInspection(); err != nil {
		return err
	}
	q := r.URL.Query()
	site, err := strconv.ParseInt(q.Get("orchard"), 10, 64)
	if err != nil || site <= 0 {
		return trace.Invalid("orchard", "required", "请指定果园地块编号", "name the orchard by its site ID")
	}
	from, err := export.Day(q, "from", 0)
	if err != nil {
		return err
	}
	to, err := export.Day(q, "to", 1)
	if err != nil {
		return err
	}
	rl, err := s.insp.OrchardRecall(r.Context(), actorFrom(r.Context()), site, from, to)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, viewRecall(rl))
}

func (s *Server) overdueSampling(w http.ResponseWriter, r *http.Request) error {
	if err := s.needInspection(); err != nil {
		return err
	}
	return list(w, r, viewSampling, func(v *trace.Sampling) int64 { return v.ID }, s.insp.Overdue)
}

func (s *Server) inspectionAudit(w http.ResponseWriter, r *http.Request) error {
	if err := s.needInspection(); err != nil {
		return err
	}
	return list(w, r, viewAudit, func(e *trace.AuditEntry) int64 { return e.ID }, s.insp.AuditLog)
}

// exportSampling answers the records a search selects as CSV or XLSX.
func (s *Server) exportSampling(w http.ResponseWriter, r *http.Request) error {
	if err := s.needInspection(); err != nil {
		return err
	}
	format, err := formatOf(r)
	if err != nil {
		return err
	}
	f, err := export.Filter(r.URL.Query())
	if err != nil {
		return err
	}
	a := actorFrom(r.Context())
	if _, err := s.insp.Scope(r.Context(), a, f); err != nil {
		return err
	}
	var buf bytes.Buffer
	xw, err := export.New(format, &buf, "抽样记录", export.SamplingHeader)
	if err != nil {
		return err
	}
	if _, err := export.Samplings(r.Context(), s.insp, a, f, format, xw, nil); err != nil {
		return err
	}
	return sendFile(w, format, "sampling", buf.Bytes())
}

// exportKDE answers the FSMA-204-style key data elements of a lot's trace (?lot=) or
// of the events in a date range (?from=&to=) in the caller's jurisdiction.
func (s *Server) exportKDE(w http.ResponseWriter, r *http.Request) error {
	if err := s.needInspection(); err != nil {
		return err
	}
	format, err := formatOf(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	a := actorFrom(r.Context())
	if !a.Has(trace.RoleInspector, trace.RoleAdmin) {
		return trace.Forbidden("", "只有监管人员可以导出关键数据元素表", "only inspectors export key data elements")
	}
	var buf bytes.Buffer
	xw, err := export.New(format, &buf, "KDE", export.FSMAHeader)
	if err != nil {
		return err
	}
	if l := q.Get("lot"); l != "" {
		id, err := strconv.ParseInt(l, 10, 64)
		if err != nil || id <= 0 {
			return trace.Invalid("lot", "invalid_id", "批次编号无效", "invalid lot id")
		}
		if _, err := export.FSMALot(r.Context(), s.svc, s.insp, a, id, format, xw); err != nil {
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
		if from.IsZero() || to.IsZero() {
			return trace.Invalid("from", "required", "请指定批次（lot）或日期范围（from、to）", "name a lot, or a date range with from and to")
		}
		if _, err := export.FSMARange(r.Context(), s.svc, s.insp, a, from, to, format, xw, nil); err != nil {
			return err
		}
	}
	return sendFile(w, format, "kde", buf.Bytes())
}

func formatOf(r *http.Request) (export.Format, error) {
	f := export.Format(r.URL.Query().Get("format"))
	if f == "" {
		f = export.CSV
	}
	if !f.Valid() {
		return f, trace.Invalid("format", "invalid_format", "格式应为csv或xlsx", "the format is csv or xlsx")
	}
	return f, nil
}

func sendFile(w http.ResponseWriter, f export.Format, name string, b []byte) error {
	w.Header().Set("Content-Type", f.ContentType())
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s-%s.%s"`, name, time.Now().In(chinaTZ).Format("20060102-150405"), f))
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	_, err := w.Write(b)
	return err
}

// publishedVerdicts is public: the published sampling verdicts on a lot, for the
// consumer's scan page.
func (s *Server) publishedVerdicts(w http.ResponseWriter, r *http.Request) error {
	if err := s.needInspection(); err != nil {
		return err
	}
	id, err := pathID(r)
	if err != nil {
		return err
	}
	vs, err := s.insp.PublishedVerdicts(r.Context(), id)
	if err != nil {
		return err
	}
	type view struct {
		Number    string        `json:"number"`
		Date      time.Time     `json:"date"`
		Agency    string        `json:"agency"`
		Verdict   trace.Verdict `json:"verdict"`
		Published time.Time     `json:"published"`
	}
	out := []view{}
	for _, v := range vs {
		out = append(out, view{v.Number, v.Date, v.Agency, v.Verdict, v.Published})
	}
	return writeJSON(w, http.StatusOK, map[string]any{"items": out})
}
