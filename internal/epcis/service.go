package epcis

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strconv"
	"time"

	"github.com/ganpin/ganpin/cert"
	"github.com/ganpin/ganpin/trace"
)

// Store is what the EPCIS interface keeps and reads; internal/store implements it.
type Store interface {
	Resolver
	LotsByID(ctx context.Context, ids []int64) ([]trace.Lot, error)
	EventsByID(ctx context.Context, ids []int64) ([]trace.Event, error)
	// Kept returns what captures kept beside events, by event.
	Kept(ctx context.Context, eventIDs []int64) (map[int64]Record, error)
	// Certified returns, by event, the serials of the certificates of the event's
	// lots that were in the log before the event and not revoked then.
	Certified(ctx context.Context, evs []trace.Event) (map[int64][]string, error)
	// Corrections returns, for each corrected event among ids, the event correcting it.
	Corrections(ctx context.Context, ids []int64) (map[int64]int64, error)
	// QueryEvents returns the events f selects, in its order.
	QueryEvents(ctx context.Context, f *Filter) ([]trace.Event, error)
	// Unindexed returns up to n events appended to the log after leaf, with the
	// last leaf read; Index records their hash IDs and that leaf.
	Unindexed(ctx context.Context, leaf int64, n int) ([]trace.Event, int64, error)
	Index(ctx context.Context, rs []Record, leaf int64) error
	IndexedLeaf(ctx context.Context) (int64, error)

	CreateJob(ctx context.Context, j *Job, doc []byte) error
	Job(ctx context.Context, id int64) (*Job, error)
	JobDocument(ctx context.Context, id int64) ([]byte, error)
	PendingJobs(ctx context.Context) ([]int64, error)
	// FinishJob records a job's outcome and, when it succeeded, what its events keep
	// and its attachments.
	FinishJob(ctx context.Context, j *Job, kept []Record, atts []Attachment) error
	// Attachments returns the attachments naming lots, each once, with the time
	// they were kept.
	Attachments(ctx context.Context, lots []int64) ([]Attachment, []time.Time, error)
	// LegSummaries returns a custody leg's sealed summaries, newest version first.
	LegSummaries(ctx context.Context, legID int64) ([]trace.LegSummary, error)
	Replay(ctx context.Context, principal, key string) (trace.Replay, bool, error)
}

// Job is a capture job: one document, captured whole or not at all.
type Job struct {
	ID       int64
	PartyID  int64
	UserID   int64
	Roles    []trace.Role
	Created  time.Time
	Finished time.Time // zero while it runs
	Success  bool
	Errors   []Problem
	Events   []int64 // the Ganpin events it captured
}

// Service is the EPCIS 2.0 capture and query interface over Ganpin's provenance.
type Service struct {
	trace  *trace.Service
	store  Store
	mapper *Mapper
	now    func() time.Time
	wake   chan struct{}
}

// New returns the interface; base is the public base URL of Ganpin's identifiers,
// now the clock (time.Now when nil).
func New(svc *trace.Service, st Store, base string, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{trace: svc, store: st, mapper: &Mapper{Base: base}, now: now, wake: make(chan struct{}, 1)}
}

// Mapper returns the service's mapper.
func (s *Service) Mapper() *Mapper { return s.mapper }

// Submit stores a document as a capture job of the actor's; Run captures it.
func (s *Service) Submit(ctx context.Context, a trace.Actor, doc []byte) (*Job, error) {
	if !a.Has(trace.RoleProducerAdmin, trace.RoleProducerClerk, trace.RoleLogistics) {
		return nil, trace.Forbidden("", "当前角色无权提交EPCIS事件", "your role does not capture events")
	}
	if len(doc) > MaxDocument {
		return nil, &trace.Error{Kind: trace.KindTooLarge, Code: "capture_limit_exceeded",
			ZH: fmt.Sprintf("文档超过%d字节上限", MaxDocument), EN: fmt.Sprintf("the document exceeds the %d-byte limit", MaxDocument)}
	}
	j := &Job{PartyID: a.PartyID, UserID: a.UserID, Roles: a.Roles, Created: s.now()}
	if err := s.store.CreateJob(ctx, j, doc); err != nil {
		return nil, err
	}
	select {
	case s.wake <- struct{}{}:
	default:
	}
	return j, nil
}

// Job returns a capture job of the actor's party (any for admins).
func (s *Service) Job(ctx context.Context, a trace.Actor, id int64) (*Job, error) {
	j, err := s.store.Job(ctx, id)
	if err != nil {
		return nil, err
	}
	if j.PartyID != a.PartyID && !a.Has(trace.RoleAdmin) {
		return nil, trace.NotFound("", "capture job", id)
	}
	return j, nil
}

// pollEvery is how often Run looks for work it was not woken for: jobs another
// process stored, events to index.
const pollEvery = 2 * time.Second

// Run captures submitted documents, oldest first, and indexes the hash IDs of new
// events, until ctx ends. One Run per deployment: on start it takes up the jobs a
// stopped process left.
func (s *Service) Run(ctx context.Context) error {
	for {
		if err := s.RunPending(ctx); err != nil && ctx.Err() == nil {
			slog.ErrorContext(ctx, "epcis capture", "err", err)
		}
		if err := s.CatchUp(ctx); err != nil && ctx.Err() == nil {
			slog.ErrorContext(ctx, "epcis index", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-s.wake:
		case <-time.After(pollEvery):
		}
	}
}

// RunPending captures every job not finished yet. A job that fails for want of the
// database stays pending, for the next run; the others go on.
func (s *Service) RunPending(ctx context.Context) error {
	ids, err := s.store.PendingJobs(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, id := range ids {
		if err := s.run(ctx, id); err != nil {
			errs = append(errs, fmt.Errorf("job %d: %w", id, err))
		}
	}
	return errors.Join(errs...)
}

const jobPrincipal = "epcis:job"

// run captures one job. Its events and a note of what they keep are written in one
// transaction (an idempotency record under the job's ID), so that a job whose
// process stopped after capture is finished from that note, never captured twice.
func (s *Service) run(ctx context.Context, id int64) error {
	j, err := s.store.Job(ctx, id)
	if err != nil {
		return err
	}
	key := strconv.FormatInt(id, 10)
	if r, ok, err := s.store.Replay(ctx, jobPrincipal, key); err != nil {
		return err
	} else if ok {
		var done captured
		if err := json.Unmarshal(r.Body, &done); err != nil {
			return err
		}
		return s.finish(ctx, j, nil, done.Kept, done.Attachments)
	}
	doc, err := s.store.JobDocument(ctx, id)
	if err != nil {
		return err
	}
	a := trace.Actor{UserID: j.UserID, PartyID: j.PartyID, Roles: j.Roles}
	c := &Converter{Mapper: s.mapper, Resolver: s.store, Actor: a}
	b, ps, err := c.Convert(ctx, doc)
	if err != nil {
		return err
	}
	if ps != nil {
		return s.finish(ctx, j, ps, nil, nil)
	}
	if len(b.Specs) == 0 {
		return s.finish(ctx, j, nil, nil, b.Attachments)
	}
	sum := sha256.Sum256(doc)
	claim := &trace.Idempotency{Principal: jobPrincipal, Key: key, RequestHash: sum[:], Render: func(v any) (int, []byte, error) {
		evs := v.([]*trace.Event)
		var made []int64
		for i, e := range evs {
			b.Kept[i].Event = e.ID
			for _, l := range e.Lots {
				if l.Role == trace.RoleOutput {
					made = append(made, l.Lot)
				}
			}
		}
		for i := range b.Attachments {
			for j, l := range b.Attachments[i].Lots {
				if l < 0 {
					b.Attachments[i].Lots[j] = made[-l-1]
				}
			}
		}
		body, err := json.Marshal(captured{Kept: b.Kept, Attachments: b.Attachments})
		return 200, body, err
	}}
	_, err = s.trace.Capture(trace.WithIdempotency(ctx, claim), a, b.Specs)
	var te *trace.Error
	if errors.As(err, &te) {
		return s.finish(ctx, j, []Problem{batchProblem(te, b)}, nil, nil)
	} else if err != nil {
		return err
	}
	return s.finish(ctx, j, nil, b.Kept, b.Attachments)
}

// captured is what a job's idempotency record notes: enough to finish the job.
type captured struct {
	Kept        []Record     `json:"kept"`
	Attachments []Attachment `json:"attachments,omitempty"`
}

func (s *Service) finish(ctx context.Context, j *Job, ps []Problem, kept []Record, atts []Attachment) error {
	j.Finished, j.Success, j.Errors = s.now(), len(ps) == 0, ps
	for _, k := range kept {
		j.Events = append(j.Events, k.Event)
	}
	return s.store.FinishJob(ctx, j, kept, atts)
}

var batchField = regexp.MustCompile(`^events\[(\d+)\]\.`)

// batchProblem turns the error trace's rules found in a batch into a problem of
// the document's event.
func batchProblem(te *trace.Error, b *Batch) Problem {
	i, field := 0, te.Field
	if m := batchField.FindStringSubmatch(field); m != nil {
		i, _ = strconv.Atoi(m[1])
		field = field[len(m[0]):]
	}
	p := problem(b.Index[i], "", te.Code, "", "")
	p.DetailZH, p.Detail = te.ZH, te.EN
	if field != "" {
		p.Detail = field + ": " + te.EN
		p.DetailZH = field + "：" + te.ZH
	}
	if te.Kind == trace.KindForbidden {
		p.Type, p.Title, p.Status = "epcisException:SecurityException", "Not permitted", 403
	}
	return p
}

// indexBatch is how many events CatchUp hashes at a time.
const indexBatch = 1000

// CatchUp records the hash IDs of the events appended to the log since it last
// ran, so that they can be found by eventID.
func (s *Service) CatchUp(ctx context.Context) error {
	leaf, err := s.store.IndexedLeaf(ctx)
	if err != nil {
		return err
	}
	for {
		evs, last, err := s.store.Unindexed(ctx, leaf, indexBatch)
		if err != nil || last == leaf {
			return err
		}
		out, err := s.export(ctx, evs, false)
		if err != nil {
			return err
		}
		rs := make([]Record, len(evs))
		for i, e := range evs {
			rs[i] = Record{Event: e.ID, Hash: out[i].hash}
		}
		if err := s.store.Index(ctx, rs, last); err != nil {
			return err
		}
		leaf = last
	}
}

// exported is an event in its EPCIS form.
type exported struct {
	ev   map[string]any
	hash string
}

// export writes events in their EPCIS form; full adds eventID, recordTime and
// errorDeclaration.
func (s *Service) export(ctx context.Context, evs []trace.Event, full bool) ([]exported, error) {
	ids := make([]int64, len(evs))
	for i := range evs {
		ids[i] = evs[i].ID
	}
	kept, err := s.store.Kept(ctx, ids)
	if err != nil {
		return nil, err
	}
	var corr map[int64]int64
	byID := map[int64]*trace.Event{}
	all := evs
	if full {
		if corr, err = s.store.Corrections(ctx, ids); err != nil {
			return nil, err
		}
		for i := range evs {
			byID[evs[i].ID] = &evs[i]
		}
		var need []int64
		for _, c := range corr {
			if byID[c] == nil {
				need = append(need, c)
			}
		}
		if len(need) > 0 {
			extra, err := s.store.EventsByID(ctx, need)
			if err != nil {
				return nil, err
			}
			more, err := s.store.Kept(ctx, need)
			if err != nil {
				return nil, err
			}
			for k, v := range more {
				kept[k] = v
			}
			all = append(slices.Clone(evs), extra...)
			for i := range extra {
				byID[extra[i].ID] = &all[len(evs)+i]
			}
		}
	}
	refs, err := s.refs(ctx, all)
	if err != nil {
		return nil, err
	}
	certified, err := s.store.Certified(ctx, all)
	if err != nil {
		return nil, err
	}
	out := make([]exported, len(all))
	for i := range all {
		e := &all[i]
		certs := kept[e.ID].CertInfo
		if !kept[e.ID].Captured {
			for _, serial := range certified[e.ID] {
				certs = append(certs, (&cert.Certificate{Serial: serial}).ShortURL(s.mapper.Base, 0))
			}
		}
		ev, err := s.mapper.Event(e, refs, certs)
		if err != nil {
			return nil, err
		}
		out[i] = exported{ev: ev, hash: Hash(ev)}
	}
	id := func(i int) string {
		if k := kept[all[i].ID]; k.EventID != "" {
			return k.EventID
		}
		return out[i].hash
	}
	if full {
		index := map[int64]int{}
		for i := range all {
			index[all[i].ID] = i
		}
		for i := range evs {
			ev := out[i].ev
			ev["eventID"] = id(i)
			ev["recordTime"] = evs[i].Recorded.UTC().Format("2006-01-02T15:04:05.000000Z")
			if c, ok := corr[evs[i].ID]; ok {
				ci := index[c]
				ev["errorDeclaration"] = map[string]any{"declarationTime": all[ci].Recorded.UTC().Format("2006-01-02T15:04:05.000000Z"),
					"reason": "incorrect_data", "correctiveEventIDs": []any{id(ci)}}
			}
		}
	}
	return out[:len(evs)], nil
}

// refs loads the sites, lots and products events name.
func (s *Service) refs(ctx context.Context, evs []trace.Event) (*Refs, error) {
	var sites, lots []int64
	for i := range evs {
		e := &evs[i]
		sites = append(sites, e.Spec.Site)
		if e.Spec.Shipping != nil {
			sites = append(sites, e.Spec.Shipping.To)
		}
		for _, l := range e.Lots {
			lots = append(lots, l.Lot)
		}
	}
	return s.load(ctx, sites, lots)
}

// load loads sites, lots and the lots' products.
func (s *Service) load(ctx context.Context, sites, lots []int64) (*Refs, error) {
	r := NewRefs()
	for _, id := range sites {
		if r.Sites[id] == nil {
			st, err := s.store.Site(ctx, id)
			if err != nil {
				return nil, err
			}
			r.Sites[id] = st
		}
	}
	slices.Sort(lots)
	ls, err := s.store.LotsByID(ctx, slices.Compact(lots))
	if err != nil {
		return nil, err
	}
	for i := range ls {
		l := &ls[i]
		r.Lots[l.ID] = l
		if r.Products[l.ProductID] == nil {
			if r.Products[l.ProductID], err = s.store.Product(ctx, l.ProductID); err != nil {
				return nil, err
			}
		}
	}
	return r, nil
}

// LotDocument returns the EPCISDocument of a lot's history: every event of its
// trace backward and forward, as trace.Service.Trace authorises it, the sensor
// reports of their sealed cold-chain legs and the attachments naming their lots,
// in time order.
func (s *Service) LotDocument(ctx context.Context, a trace.Actor, lotID int64) (map[string]any, error) {
	g, err := s.trace.Trace(ctx, a, lotID, trace.Both)
	if err != nil {
		return nil, err
	}
	out, err := s.export(ctx, g.Events, true)
	if err != nil {
		return nil, err
	}
	var all []timed
	for i, o := range out {
		all = append(all, timed{g.Events[i].Time, o.ev})
	}
	reports, err := s.sensorReports(ctx, g.Events)
	if err != nil {
		return nil, err
	}
	all = append(all, reports...)
	var lots []int64
	for _, l := range g.Lots {
		lots = append(lots, l.ID)
	}
	atts, kept, err := s.store.Attachments(ctx, lots)
	if err != nil {
		return nil, err
	}
	for i, at := range atts {
		var ev map[string]any
		d := json.NewDecoder(bytes.NewReader(at.Body))
		d.UseNumber()
		if err := d.Decode(&ev); err != nil {
			return nil, err
		}
		ev["eventID"], ev["recordTime"] = at.Hash, kept[i].UTC().Format("2006-01-02T15:04:05.000000Z")
		if at.EventID != "" {
			ev["eventID"] = at.EventID
		}
		all = append(all, timed{at.Time, ev})
	}
	slices.SortStableFunc(all, func(x, y timed) int { return x.t.Compare(y.t) })
	evs := make([]any, len(all))
	for i, x := range all {
		evs[i] = x.ev
	}
	return Document(evs, s.now()), nil
}

// timed is an exported event with its time, for merging.
type timed struct {
	t  time.Time
	ev map[string]any
}

// sensorReports returns the sensor reports of the sealed legs events start: the
// latest version of each summary.
func (s *Service) sensorReports(ctx context.Context, evs []trace.Event) ([]timed, error) {
	var sums []trace.LegSummary
	for _, e := range evs {
		if e.Spec.Type != trace.Shipping && e.Spec.Type != trace.Storing {
			continue
		}
		ls, err := s.store.LegSummaries(ctx, e.ID)
		if err != nil {
			return nil, err
		}
		if len(ls) > 0 {
			sums = append(sums, ls[0])
		}
	}
	var sites, lots []int64
	for _, ls := range sums {
		sites = append(sites, ls.Leg.Site)
		lots = append(lots, ls.Leg.Lots...)
	}
	refs, err := s.load(ctx, sites, lots)
	if err != nil {
		return nil, err
	}
	var out []timed
	for i := range sums {
		ev, err := s.mapper.SensorReport(&sums[i], refs)
		if err != nil {
			return nil, err
		}
		if ev == nil {
			continue
		}
		ev["eventID"] = Hash(ev)
		ev["recordTime"] = sums[i].Recorded.UTC().Format("2006-01-02T15:04:05.000000Z")
		out = append(out, timed{sums[i].Leg.To, ev})
	}
	return out, nil
}
