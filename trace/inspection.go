package trace

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// SamplingFilter selects sampling records; zero fields match all.
type SamplingFilter struct {
	Counties []string  `json:"-"`                // division prefixes the result is limited to (the jurisdiction); nil: all
	ForParty int64     `json:"-"`                // producers: records on lots the party owns or holds, or naming it
	County   string    `json:"county,omitempty"` // a county, city (…00) or province (…0000) code
	PartyID  int64     `json:"party,omitempty"`  // the sampled party or the producer
	Party    string    `json:"party_name,omitempty"`
	Product  string    `json:"product,omitempty"` // part of the sample's name
	From     time.Time `json:"from,omitzero"`
	To       time.Time `json:"to,omitzero"`
	Verdict  string    `json:"verdict,omitempty"` // 合格, 不合格 or pending (not yet reported)
	Item     string    `json:"item,omitempty"`    // a tested item
	LotID    int64     `json:"lot,omitempty"`
}

// AuditEntry records an inspector's query or export: who, when, what, how many rows.
// Entries are append-only and leaves of the log.
type AuditEntry struct {
	ID        int64           `json:"id"`
	PartyID   int64           `json:"party"`
	UserID    int64           `json:"user"`
	Time      time.Time       `json:"time"`
	Action    string          `json:"action"` // search, export_csv, export_xlsx, export_fsma, recall, overdue
	Filter    json.RawMessage `json:"filter"`
	Rows      int             `json:"rows"`
	Canonical []byte          `json:"-"`
}

func (e *AuditEntry) seal() {
	b, err := json.Marshal(struct {
		Record string          `json:"record"`
		ID     int64           `json:"id"`
		Party  int64           `json:"party"`
		User   int64           `json:"user"`
		Time   string          `json:"time"`
		Action string          `json:"action"`
		Filter json.RawMessage `json:"filter"`
		Rows   int             `json:"rows"`
	}{"inspection_query", e.ID, e.PartyID, e.UserID, micro(e.Time), e.Action, e.Filter, e.Rows})
	if err != nil {
		panic(err)
	}
	e.Canonical = b
}

// DecodeAuditEntry rebuilds an audit entry from its canonical bytes.
func DecodeAuditEntry(b []byte) (*AuditEntry, error) {
	var c struct {
		ID     int64           `json:"id"`
		Party  int64           `json:"party"`
		User   int64           `json:"user"`
		Time   string          `json:"time"`
		Action string          `json:"action"`
		Filter json.RawMessage `json:"filter"`
		Rows   int             `json:"rows"`
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, err
	}
	t, err := time.Parse(time.RFC3339Nano, c.Time)
	return &AuditEntry{ID: c.ID, PartyID: c.Party, UserID: c.User, Time: t, Action: c.Action, Filter: c.Filter, Rows: c.Rows, Canonical: b}, err
}

// SamplingReader holds the inspection reads both the store and its transactions
// serve. Missing records are KindNotFound *Error.
type SamplingReader interface {
	Sampling(ctx context.Context, id int64) (*Sampling, error)
	SamplingByNumber(ctx context.Context, number string) (*Sampling, error)
	SamplingReports(ctx context.Context, samplingID int64) ([]Report, error) // oldest first
	SamplingActions(ctx context.Context, samplingID int64) ([]Action, error) // oldest first
	SamplingPhoto(ctx context.Context, samplingID int64, n int) ([]byte, error)
	// CertificateRef returns what a sampling record needs of a certificate, by serial.
	CertificateRef(ctx context.Context, serial string) (*CertRef, error)
	// SearchSamplings returns the records f selects, newest first.
	SearchSamplings(ctx context.Context, f SamplingFilter, p Page) ([]Sampling, error)
	// OverdueSamplings returns the records in counties (nil: all) whose report or
	// disposal is due before now and not recorded, by due date.
	OverdueSamplings(ctx context.Context, counties []string, now time.Time, p Page) ([]Sampling, error)
	// NonCompliant returns the marks of lots whose sampling's latest verdict is 不合格.
	NonCompliant(ctx context.Context, lotIDs []int64) ([]NonCompliance, error)
	// Downstream returns roots and every lot made from them, with the edges between them.
	Downstream(ctx context.Context, roots []int64) ([]Lot, []Edge, error)
	// Harvests returns the lots harvested on a site in [from, to).
	Harvests(ctx context.Context, siteID int64, from, to time.Time) ([]Lot, error)
	LotCertificates(ctx context.Context, lotIDs []int64) ([]CertRef, error)
	LotOrders(ctx context.Context, lotIDs []int64) ([]Order, error)
	// SiteEvents returns the events at sites in [from, to), by time.
	SiteEvents(ctx context.Context, siteIDs []int64, from, to time.Time, p Page) ([]Event, error)
	AuditEntries(ctx context.Context, partyID int64, p Page) ([]AuditEntry, error)
}

// SamplingStore is a Store that keeps inspection records (internal/store).
type SamplingStore interface {
	Store
	SamplingReader
}

// SamplingTx writes inspection records; each becomes a log leaf in its transaction.
type SamplingTx interface {
	Tx
	SamplingReader
	// ReserveSamplingIDs returns n new IDs of kind sampling, sampling_report, sampling_action or inspection_query.
	ReserveSamplingIDs(ctx context.Context, kind string, n int) ([]int64, error)
	InsertSampling(ctx context.Context, s *Sampling, photos [][]byte) error // KindConflict for a number in use
	InsertReport(ctx context.Context, r *Report) error                      // KindConflict for a second report of its kind
	InsertAction(ctx context.Context, a *Action) error
	InsertMarking(ctx context.Context, m *Marking) error
	// SetSamplingState stores the derived state of s (verdict, reported, due dates, closed, published).
	SetSamplingState(ctx context.Context, s *Sampling) error
	InsertAuditEntry(ctx context.Context, e *AuditEntry) error
}

// InspectionConfig holds the inspection service's dependencies.
type InspectionConfig struct {
	Service *Service
	Limits  *Limits // DefaultLimits when nil
	// Revoke revokes the certificate with a serial as the actor, giving reason
	// (cert.Service.Revoke); a certificate revoked already is no error.
	Revoke func(ctx context.Context, a Actor, serial, reason string) error
	// Jurisdictions adds division codes to inspecting parties, by USCC.
	Jurisdictions map[string][]string
}

// Inspection is the market regulator's side: sampling records, test reports and
// their verdicts, non-compliance and recall, with every inspector's query on the
// record. Every call is authorised here.
type Inspection struct {
	svc    *Service
	store  SamplingStore
	limits *Limits
	revoke func(ctx context.Context, a Actor, serial, reason string) error
	extra  map[string][]string
}

var errNoSampling = errors.New("trace: the store keeps no inspection records")

// NewInspection returns the inspection service over the service's store, which must
// be a SamplingStore.
func NewInspection(cfg InspectionConfig) (*Inspection, error) {
	st, ok := cfg.Service.store.(SamplingStore)
	if !ok {
		return nil, errNoSampling
	}
	if cfg.Revoke == nil {
		return nil, errors.New("trace: inspection needs the certificate service to revoke certificates")
	}
	if cfg.Limits == nil {
		cfg.Limits = DefaultLimits
	}
	for uscc, codes := range cfg.Jurisdictions {
		for _, c := range codes {
			if !validDivision(c) {
				return nil, fmt.Errorf("trace: jurisdiction of %s: %q is not a GB/T 2260 division code", uscc, c)
			}
		}
	}
	return &Inspection{svc: cfg.Service, store: st, limits: cfg.Limits, revoke: cfg.Revoke, extra: cfg.Jurisdictions}, nil
}

// Limits returns the limits table verdicts are judged by.
func (in *Inspection) Limits() *Limits { return in.limits }

func (in *Inspection) now() time.Time { return in.svc.now() }

// write runs fn in a transaction of the sampling store, recording the idempotent
// response like every write.
func (in *Inspection) write(ctx context.Context, result func() any, fn func(SamplingTx) error) error {
	return in.svc.write(ctx, result, func(tx Tx) error { return fn(tx.(SamplingTx)) })
}

// validDivision accepts a GB/T 2260 code of a county, a city (…00) or a province (…0000).
func validDivision(c string) bool {
	if len(c) != 6 || strings.Trim(c, "0123456789") != "" {
		return false
	}
	p := int(c[0]-'0')*10 + int(c[1]-'0')
	return p >= 11 && p <= 82
}

// divisionPrefix is the prefix of the county codes a division code covers.
func divisionPrefix(c string) string {
	switch {
	case strings.HasSuffix(c, "0000"):
		return c[:2]
	case strings.HasSuffix(c, "00"):
		return c[:4]
	}
	return c
}

// Jurisdiction returns the county-code prefixes an actor inspects: nil (everywhere)
// for admins; for an inspector, its party's county, the division of the authority
// that registered a regulator (its USCC's characters 3–8: 360700 for a 赣州市 bureau
// covers every county of 赣州) and the divisions configured for the party.
// Other actors inspect nowhere.
func (in *Inspection) Jurisdiction(ctx context.Context, a Actor) ([]string, error) {
	if a.Has(RoleAdmin) {
		return nil, nil
	}
	if !a.Has(RoleInspector) {
		return []string{}, nil
	}
	p, err := in.store.Party(ctx, a.PartyID)
	if err != nil {
		return nil, err
	}
	codes := []string{p.County}
	if p.Kind == Regulator && len(p.USCC) == 18 && validDivision(p.USCC[2:8]) {
		codes = append(codes, p.USCC[2:8])
	}
	codes = append(codes, in.extra[p.USCC]...)
	var out []string
	for _, c := range codes {
		out = append(out, divisionPrefix(c))
	}
	slices.Sort(out)
	out = slices.Compact(out)
	// A prefix covers the longer ones.
	return slices.DeleteFunc(out, func(x string) bool {
		return slices.ContainsFunc(out, func(y string) bool { return y != x && strings.HasPrefix(x, y) })
	}), nil
}

// covers reports whether a county code is in a jurisdiction (nil covers all).
func covers(j []string, county string) bool {
	if j == nil {
		return true
	}
	return slices.ContainsFunc(j, func(p string) bool { return strings.HasPrefix(county, p) })
}

var errOutside = Forbidden("", "该抽样记录不在您的辖区内", "this sampling record is outside your jurisdiction")

func mustInspect(a Actor) error {
	if a.Has(RoleInspector, RoleAdmin) {
		return nil
	}
	return Forbidden("", "只有市场监管部门的抽检人员可以记录和修改抽检信息", "only market-regulation inspectors record sampling")
}

// inspectable reads a sampling record the actor may act on as an inspector.
func (in *Inspection) inspectable(ctx context.Context, r SamplingReader, a Actor, id int64) (*Sampling, error) {
	if err := mustInspect(a); err != nil {
		return nil, err
	}
	s, err := r.Sampling(ctx, id)
	if err != nil {
		return nil, err
	}
	j, err := in.Jurisdiction(ctx, a)
	if err != nil {
		return nil, err
	}
	if !covers(j, s.Spec.Place.County) {
		return nil, errOutside
	}
	return s, nil
}

// Photo is an uploaded image for a sampling record.
type Photo []byte

// RecordSampling records a sampling record with its photos: inspectors only, in
// their jurisdiction (the sampling place's county).
func (in *Inspection) RecordSampling(ctx context.Context, a Actor, spec SamplingSpec, photos []Photo) (*Sampling, error) {
	if err := mustInspect(a); err != nil {
		return nil, err
	}
	now := in.now()
	t, err := spec.validate(now)
	if err != nil {
		return nil, err
	}
	j, err := in.Jurisdiction(ctx, a)
	if err != nil {
		return nil, err
	}
	if !covers(j, spec.Place.County) {
		return nil, Forbidden("place.county", "抽样地点不在您的辖区内", "the sampling place is outside your jurisdiction")
	}
	if len(photos) > MaxPhotos {
		return nil, Invalid("photos", "too_many", "照片最多%d张", "at most %d photos", MaxPhotos)
	}
	s := &Sampling{PartyID: a.PartyID, UserID: a.UserID, Time: t, Recorded: now.Truncate(time.Microsecond), Spec: spec,
		ReportDue: AddWorkingDays(t, ReportWorkingDays).UTC()}
	s.Photos = make([]PhotoRef, len(photos))
	data := make([][]byte, len(photos))
	for i, p := range photos {
		f := fmt.Sprintf("photos[%d]", i)
		if len(p) > MaxPhotoBytes {
			return nil, &Error{Kind: KindTooLarge, Code: "photo_too_large", Field: f, ZH: fmt.Sprintf("照片不能超过%d MB", MaxPhotoBytes>>20), EN: fmt.Sprintf("a photo is at most %d MB", MaxPhotoBytes>>20)}
		}
		mime := PhotoType(p)
		if mime == "" {
			return nil, Invalid(f, "not_an_image", "照片须为JPEG、PNG或WebP图片", "a photo is a JPEG, PNG or WebP image")
		}
		h := sha256Hex(p)
		s.Photos[i], data[i] = PhotoRef{MIME: mime, Size: len(p), SHA256: h}, p
	}
	err = in.write(ctx, func() any { return s }, func(tx SamplingTx) error {
		if err := in.resolve(ctx, tx, s); err != nil {
			return err
		}
		ids, err := tx.ReserveSamplingIDs(ctx, "sampling", 1)
		if err != nil {
			return err
		}
		s.ID = ids[0]
		s.Seal()
		return tx.InsertSampling(ctx, s, data)
	})
	if err != nil {
		return nil, err
	}
	return s, nil
}

// resolve checks the record's references: the registered parties it names and the
// lot, directly or through the certificate found on the sample.
func (in *Inspection) resolve(ctx context.Context, tx SamplingTx, s *Sampling) error {
	sp := &s.Spec
	for _, e := range []struct {
		field string
		id    int64
	}{{"sampled.party", sp.Sampled.Party}, {"producer.party", sp.Producer.Party}} {
		if e.id != 0 {
			if _, err := tx.Party(ctx, e.id); err != nil {
				return withField(err, e.field)
			}
		}
	}
	if sp.Lot != 0 {
		if _, err := tx.Lot(ctx, sp.Lot); err != nil {
			return withField(err, "lot")
		}
		s.LotID = sp.Lot
	}
	if sp.Certificate != "" {
		c, err := tx.CertificateRef(ctx, sp.Certificate)
		if err != nil {
			return withField(err, "certificate")
		}
		if s.LotID != 0 && c.LotID != s.LotID {
			return Invalid("certificate", "certificate_of_other_lot", "合格证%s属于另一批次", "certificate %s is of another lot", sp.Certificate)
		}
		s.LotID = c.LotID
	}
	return nil
}

func sha256Hex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// Dossier is a sampling record with its reports and follow-ups.
type Dossier struct {
	Sampling *Sampling
	Reports  []Report
	Actions  []Action
	Marked   []int64 // lots its verdict marked non-compliant
}

// BackupUntil is how long the sealed backup portion is kept: 3 months after a
// compliant verdict, 6 after a failed one (zero before a report).
func (d *Dossier) BackupUntil() time.Time {
	switch d.Sampling.Verdict {
	case Pass:
		return d.Sampling.Reported.AddDate(0, 3, 0)
	case Fail:
		return d.Sampling.Reported.AddDate(0, 6, 0)
	}
	return time.Time{}
}

// mayRead reports whether a actor may read a sampling record: inspectors in their
// jurisdiction, admins, and the parties it concerns — the lot's owner and holder,
// the sampled party and the producer when registered.
func (in *Inspection) mayRead(ctx context.Context, a Actor, s *Sampling) error {
	if a.Has(RoleInspector, RoleAdmin) {
		j, err := in.Jurisdiction(ctx, a)
		if err != nil {
			return err
		}
		if !covers(j, s.Spec.Place.County) {
			return errOutside
		}
		return nil
	}
	if a.PartyID != 0 && (s.Spec.Sampled.Party == a.PartyID || s.Spec.Producer.Party == a.PartyID) {
		return nil
	}
	if s.LotID != 0 {
		if l, err := in.store.Lot(ctx, s.LotID); err == nil && (l.OwnerID == a.PartyID || l.HolderID == a.PartyID) {
			return nil
		}
	}
	return &Error{Kind: KindNotFound, Code: "not_found", ZH: fmt.Sprintf("抽样记录%d不存在", s.ID), EN: fmt.Sprintf("sampling record %d not found", s.ID)}
}

// Dossier returns a sampling record with its reports and follow-ups.
func (in *Inspection) Dossier(ctx context.Context, a Actor, id int64) (*Dossier, error) {
	s, err := in.store.Sampling(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := in.mayRead(ctx, a, s); err != nil {
		return nil, err
	}
	d := &Dossier{Sampling: s}
	if d.Reports, err = in.store.SamplingReports(ctx, id); err != nil {
		return nil, err
	}
	if d.Actions, err = in.store.SamplingActions(ctx, id); err != nil {
		return nil, err
	}
	if s.LotID != 0 && s.Verdict == Fail {
		if d.Marked, err = in.marked(ctx, id, s.LotID); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// Photo returns the n-th photo of a sampling record and its media type.
func (in *Inspection) Photo(ctx context.Context, a Actor, id int64, n int) ([]byte, string, error) {
	s, err := in.store.Sampling(ctx, id)
	if err != nil {
		return nil, "", err
	}
	if err := in.mayRead(ctx, a, s); err != nil {
		return nil, "", err
	}
	if n < 0 || n >= len(s.Photos) {
		return nil, "", &Error{Kind: KindNotFound, Code: "not_found", ZH: "照片不存在", EN: "no such photo"}
	}
	b, err := in.store.SamplingPhoto(ctx, id, n)
	return b, s.Photos[n].MIME, err
}

// scope limits a filter to what the actor may see: an inspector's jurisdiction (a
// county asked for outside it is refused), a producer's own records.
func (in *Inspection) scope(ctx context.Context, a Actor, f *SamplingFilter) error {
	if f.County != "" && !validDivision(f.County) {
		return Invalid("county", "invalid_county", "行政区划代码无效（6位GB/T 2260代码）", "invalid division code (six digits of GB/T 2260)")
	}
	switch f.Verdict {
	case "", string(Pass), string(Fail), "pending":
	default:
		return Invalid("verdict", "invalid_verdict", "结论应为合格、不合格或pending（待检）", "the verdict is 合格, 不合格 or pending")
	}
	if !f.From.IsZero() && !f.To.IsZero() && f.To.Before(f.From) {
		return Invalid("to", "invalid_window", "结束日期须晚于开始日期", "the end comes after the start")
	}
	for _, t := range []struct{ field, v string }{{"party_name", f.Party}, {"product", f.Product}, {"item", f.Item}} {
		if err := checkText(t.field, t.v, 0, 50); err != nil {
			return err
		}
	}
	if !a.Has(RoleInspector, RoleAdmin) {
		if a.PartyID == 0 {
			return Forbidden("", "无权查询抽检记录", "you may not search sampling records")
		}
		f.ForParty, f.Counties = a.PartyID, nil
		return nil
	}
	j, err := in.Jurisdiction(ctx, a)
	if err != nil {
		return err
	}
	f.Counties = j
	if f.County != "" {
		p := divisionPrefix(f.County)
		if j != nil && !slices.ContainsFunc(j, func(x string) bool { return strings.HasPrefix(p, x) }) {
			return Forbidden("county", "所选地区不在您的辖区内", "the division asked for is outside your jurisdiction")
		}
	}
	return nil
}

// Search returns a page of the sampling records f selects that the actor may see,
// newest first. An inspector's search is audit-logged with its filter and row count.
func (in *Inspection) Search(ctx context.Context, a Actor, f SamplingFilter, p Page) ([]Sampling, error) {
	if err := in.scope(ctx, a, &f); err != nil {
		return nil, err
	}
	out, err := in.store.SearchSamplings(ctx, f, p)
	if err != nil {
		return nil, err
	}
	return out, in.audit(ctx, a, "search", map[string]any{"filter": f, "after": p.After, "limit": p.Limit}, len(out))
}

// Each calls fn for every record f selects that the actor may see, newest first,
// without logging: an export logs itself once done (LogExport).
func (in *Inspection) Each(ctx context.Context, a Actor, f SamplingFilter, fn func(*Sampling) error) error {
	if err := in.scope(ctx, a, &f); err != nil {
		return err
	}
	for p := (Page{Limit: 1000}); ; {
		ss, err := in.store.SearchSamplings(ctx, f, p)
		if err != nil {
			return err
		}
		for i := range ss {
			if err := fn(&ss[i]); err != nil {
				return err
			}
		}
		if len(ss) < p.Limit {
			return nil
		}
		p.After = ss[len(ss)-1].ID
	}
}

// Scope returns f as the actor's search would run it, or why it may not.
func (in *Inspection) Scope(ctx context.Context, a Actor, f SamplingFilter) (SamplingFilter, error) {
	return f, in.scope(ctx, a, &f)
}

// LogExport records an inspector's export: its kind (export_csv, export_xlsx,
// export_fsma), filter and the rows it held.
func (in *Inspection) LogExport(ctx context.Context, a Actor, kind string, filter any, rows int) error {
	return in.audit(ctx, a, kind, filter, rows)
}

// audit appends an entry for an inspector's or admin's query; others' are not logged.
func (in *Inspection) audit(ctx context.Context, a Actor, action string, filter any, rows int) error {
	if !a.Has(RoleInspector, RoleAdmin) {
		return nil
	}
	b, err := json.Marshal(filter)
	if err != nil {
		return err
	}
	e := &AuditEntry{PartyID: a.PartyID, UserID: a.UserID, Time: in.now().Truncate(time.Microsecond), Action: action, Filter: b, Rows: rows}
	// A query's log entry is its own write, whatever request it serves.
	return in.write(WithIdempotency(ctx, nil), func() any { return e }, func(tx SamplingTx) error {
		ids, err := tx.ReserveSamplingIDs(ctx, "inspection_query", 1)
		if err != nil {
			return err
		}
		e.ID = ids[0]
		e.seal()
		return tx.InsertAuditEntry(ctx, e)
	})
}

// AuditLog lists the query log of the actor's party, newest first: inspectors see
// their bureau's, admins everyone's.
func (in *Inspection) AuditLog(ctx context.Context, a Actor, p Page) ([]AuditEntry, error) {
	if err := mustInspect(a); err != nil {
		return nil, err
	}
	party := a.PartyID
	if a.Has(RoleAdmin) {
		party = 0
	}
	return in.store.AuditEntries(ctx, party, p)
}

// Overdue lists the records in the actor's jurisdiction whose lab report or
// disposal is overdue, most overdue first (audit-logged).
func (in *Inspection) Overdue(ctx context.Context, a Actor, p Page) ([]Sampling, error) {
	if err := mustInspect(a); err != nil {
		return nil, err
	}
	j, err := in.Jurisdiction(ctx, a)
	if err != nil {
		return nil, err
	}
	out, err := in.store.OverdueSamplings(ctx, j, in.now(), p)
	if err != nil {
		return nil, err
	}
	return out, in.audit(ctx, a, "overdue", map[string]any{"after": p.After}, len(out))
}

// Due is the next deadline of a record at now and whether it has passed; zero when
// none runs (reported and, if it failed, disposed of).
func (s *Sampling) Due(now time.Time) (what string, due time.Time, overdue bool) {
	switch {
	case s.Reported.IsZero():
		return "检验报告", s.ReportDue, now.After(s.ReportDue)
	case s.Verdict == Fail && s.Closed.IsZero():
		return "核查处置", s.DisposalDue, now.After(s.DisposalDue)
	}
	return "", time.Time{}, false
}

// RecordAction records a follow-up: a re-test request (after a 不合格 report, once;
// flagged late after 7 working days), a disposal (closes the 90-day deadline) or the
// publication of the verdict for consumers.
func (in *Inspection) RecordAction(ctx context.Context, a Actor, samplingID int64, spec ActionSpec) (*Action, error) {
	if err := mustInspect(a); err != nil {
		return nil, err
	}
	if actionZH[spec.Kind] == "" {
		return nil, Invalid("kind", "invalid_kind", "类型应为retest_request（复检申请）、disposal（核查处置）或publication（结果公布）", "the kind is retest_request, disposal or publication")
	}
	day, err := time.ParseInLocation(time.DateOnly, spec.Date, cst)
	if err != nil || day.After(in.now()) {
		return nil, Invalid("date", "invalid_date", "日期应为YYYY-MM-DD且不晚于今天", "the date is YYYY-MM-DD, not after today")
	}
	if err := checkText("by", spec.By, 0, 100); err != nil {
		return nil, err
	}
	if err := checkText("note", spec.Note, 0, 1000); err != nil {
		return nil, err
	}
	if len(spec.Measures) > 20 {
		return nil, Invalid("measures", "too_many", "处置措施最多20项", "at most 20 measures")
	}
	for i, m := range spec.Measures {
		if err := checkText(fmt.Sprintf("measures[%d]", i), m, 1, 50); err != nil {
			return nil, err
		}
	}
	var out *Action
	err = in.write(ctx, func() any { return out }, func(tx SamplingTx) error {
		s, err := in.inspectable(ctx, tx, a, samplingID)
		if err != nil {
			return err
		}
		if s.Verdict == "" {
			return Conflict("kind", "not_reported", "尚未录入检验报告", "no test report is recorded yet")
		}
		now := in.now().Truncate(time.Microsecond)
		act := &Action{SamplingID: s.ID, PartyID: a.PartyID, UserID: a.UserID, Recorded: now, Spec: spec}
		switch spec.Kind {
		case ActionRetestRequest:
			if s.Verdict != Fail {
				return Conflict("kind", "not_failed", "只有不合格结果可以申请复检", "only a 不合格 result may be re-tested")
			}
			act.Late = day.After(AddWorkingDays(s.Reported, RetestWorkingDays))
			if err := checkText("by", spec.By, 1, 100); err != nil {
				return err
			}
		case ActionDisposal:
			if s.Verdict != Fail {
				return Conflict("kind", "not_failed", "只有不合格结果需要核查处置", "only a 不合格 result is investigated and disposed of")
			}
			if len(spec.Measures) == 0 {
				return Invalid("measures", "required", "请填写处置措施", "name the measures taken")
			}
			if s.Closed.IsZero() {
				s.Closed = now
			}
		case ActionPublication:
			if s.Published.IsZero() {
				s.Published = now
			}
		}
		ids, err := tx.ReserveSamplingIDs(ctx, "sampling_action", 1)
		if err != nil {
			return err
		}
		act.ID = ids[0]
		act.seal()
		if err := tx.InsertAction(ctx, act); err != nil {
			return err
		}
		out = act
		return tx.SetSamplingState(ctx, s)
	})
	return out, err
}

// PublishedVerdict is what consumers see of a sampling record of a lot: only
// published ones, with no personal data.
type PublishedVerdict struct {
	Number    string
	Date      time.Time
	Agency    string
	Verdict   Verdict
	Published time.Time
}

// PublishedVerdicts returns the published verdicts on a lot and the lots it was made from.
func (in *Inspection) PublishedVerdicts(ctx context.Context, lotID int64) ([]PublishedVerdict, error) {
	g, err := in.store.Graph(ctx, lotID, Backward)
	if err != nil {
		return nil, err
	}
	var out []PublishedVerdict
	for _, l := range g.Lots {
		ss, err := in.store.SearchSamplings(ctx, SamplingFilter{LotID: l.ID}, Page{Limit: 100})
		if err != nil {
			return nil, err
		}
		for _, s := range ss {
			if !s.Published.IsZero() {
				out = append(out, PublishedVerdict{Number: s.Spec.Number, Date: s.Time, Agency: s.Spec.Agency, Verdict: s.Verdict, Published: s.Published})
			}
		}
	}
	return out, nil
}

// EachEvent calls fn for every event in [from, to) at the sites in the actor's
// jurisdiction, newest first per batch of sites, for regulators' exports.
func (in *Inspection) EachEvent(ctx context.Context, a Actor, from, to time.Time, fn func(*Event) error) error {
	if err := mustInspect(a); err != nil {
		return err
	}
	if !to.After(from) {
		return Invalid("to", "invalid_window", "结束日期须晚于开始日期", "the end comes after the start")
	}
	j, err := in.Jurisdiction(ctx, a)
	if err != nil {
		return err
	}
	var sites []int64
	for p := (Page{Limit: 1000}); ; {
		ss, err := in.store.Sites(ctx, 0, p)
		if err != nil {
			return err
		}
		for _, s := range ss {
			if covers(j, s.County) {
				sites = append(sites, s.ID)
			}
		}
		if len(ss) < p.Limit {
			break
		}
		p.After = ss[len(ss)-1].ID
	}
	for len(sites) > 0 {
		batch := sites[:min(500, len(sites))]
		sites = sites[len(batch):]
		for p := (Page{Limit: 1000}); ; {
			evs, err := in.store.SiteEvents(ctx, batch, from, to, p)
			if err != nil {
				return err
			}
			for i := range evs {
				if err := fn(&evs[i]); err != nil {
					return err
				}
			}
			if len(evs) < p.Limit {
				break
			}
			p.After = evs[len(evs)-1].ID
		}
	}
	return nil
}
