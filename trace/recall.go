package trace

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// Outcome is what recording a report did: the report, and for a 不合格 verdict the
// lots marked non-compliant and what the recall enforced.
type Outcome struct {
	Report      *Report
	Marked      []int64 // lots marked non-compliant
	Enforcement *Enforcement
}

// Enforcement is what a 不合格 verdict made happen beyond its own transaction:
// certificates revoked and platforms notified. Err is set when some of it failed;
// Enforce runs it again.
type Enforcement struct {
	Revoked  []string // certificate serials revoked now
	Notified int      // webhook messages queued for platforms
	Err      error
}

// RecordReport records a test report for a sampling record and judges it against
// the limits table. A 不合格 verdict marks the sample's lot and every lot made from it
// non-compliant in the same transaction, then revokes their certificates (with the
// sampling number as the reason) and notifies the platforms that sold them.
// A re-test report needs a recorded re-test request; each kind is recorded once.
func (in *Inspection) RecordReport(ctx context.Context, a Actor, samplingID int64, spec ReportSpec) (*Outcome, error) {
	if err := mustInspect(a); err != nil {
		return nil, err
	}
	if err := checkNumber("number", spec.Number); err != nil {
		return nil, err
	}
	if err := checkText("lab", spec.Lab, 1, 100); err != nil {
		return nil, err
	}
	out := &Outcome{}
	err := in.write(ctx, func() any { return out }, func(tx SamplingTx) error {
		*out = Outcome{}
		s, err := in.inspectable(ctx, tx, a, samplingID)
		if err != nil {
			return err
		}
		issued, err := time.ParseInLocation(time.DateOnly, spec.Issued, cst)
		if err != nil || issued.Before(s.Time.In(cst).Truncate(24*time.Hour).Add(-24*time.Hour)) || issued.After(in.now()) {
			return Invalid("issued", "invalid_date", "报告日期应为YYYY-MM-DD，不早于抽样日期且不晚于今天", "the report date is YYYY-MM-DD, between the sampling and today")
		}
		std, ok := in.limits.InForce(s.Time)
		if spec.Standard != "" {
			std, ok = in.limits.Standard(spec.Standard)
		}
		if !ok {
			return Invalid("standard", "unknown_standard", "限量表中没有判定依据%q", "the limits table has no standard %q", spec.Standard)
		}
		commodity := s.Spec.Sample.Commodity
		if commodity == "" {
			commodity = s.Spec.Sample.Name
		}
		items, verdict, err := judge(&spec, std, commodity)
		if err != nil {
			return err
		}
		reports, err := tx.SamplingReports(ctx, s.ID)
		if err != nil {
			return err
		}
		actions, err := tx.SamplingActions(ctx, s.ID)
		if err != nil {
			return err
		}
		if spec.Retest {
			if !slices.ContainsFunc(actions, func(x Action) bool { return x.Spec.Kind == ActionRetestRequest }) {
				return Conflict("retest", "no_retest_request", "尚未记录复检申请，不能录入复检报告", "record the re-test request before the re-test report")
			}
		}
		for _, r := range reports {
			if r.Retest == spec.Retest {
				return Conflict("number", "already_reported", fmt.Sprintf("该抽样已录入%s报告%s", map[bool]string{false: "初检", true: "复检"}[r.Retest], r.Number),
					fmt.Sprintf("the %s report %s is already recorded", map[bool]string{false: "initial", true: "re-test"}[r.Retest], r.Number))
			}
		}
		ids, err := tx.ReserveSamplingIDs(ctx, "sampling_report", 1)
		if err != nil {
			return err
		}
		now := in.now().Truncate(time.Microsecond)
		r := &Report{ID: ids[0], SamplingID: s.ID, PartyID: a.PartyID, UserID: a.UserID, Recorded: now, Number: spec.Number, Lab: spec.Lab,
			Issued: spec.Issued, Retest: spec.Retest, Standard: std.Standard, Commodity: commodity, Items: items, Verdict: verdict}
		r.seal(s)
		if err := tx.InsertReport(ctx, r); err != nil {
			return err
		}
		out.Report = r
		s.Verdict, s.Reported = verdict, now
		if verdict == Fail && s.DisposalDue.IsZero() {
			s.DisposalDue = now.AddDate(0, 0, DisposalDays)
		}
		if err := tx.SetSamplingState(ctx, s); err != nil {
			return err
		}
		if verdict != Fail || s.LotID == 0 {
			return nil
		}
		lots, _, err := tx.Downstream(ctx, []int64{s.LotID})
		if err != nil {
			return err
		}
		m := &Marking{ReportID: r.ID, SamplingID: s.ID, Number: s.Spec.Number, Time: now}
		for _, l := range lots {
			m.Lots = append(m.Lots, l.ID)
		}
		m.seal()
		out.Marked = m.Lots
		return tx.InsertMarking(ctx, m)
	})
	if err != nil {
		return nil, err
	}
	if out.Report.Verdict == Fail && len(out.Marked) > 0 {
		out.Enforcement = in.enforce(ctx, a, samplingID)
	}
	return out, nil
}

// Enforce revokes the certificates still valid of the lots a 不合格 verdict marked
// and notifies the platforms that sold them; running it again does nothing twice.
func (in *Inspection) Enforce(ctx context.Context, a Actor, samplingID int64) (*Enforcement, error) {
	s, err := in.inspectable(ctx, in.store, a, samplingID)
	if err != nil {
		return nil, err
	}
	if s.Verdict != Fail {
		return nil, Conflict("", "not_failed", "该抽样结果不是不合格，无需召回", "this sample did not fail; there is nothing to recall")
	}
	return in.enforce(ctx, a, samplingID), nil
}

func (in *Inspection) enforce(ctx context.Context, a Actor, samplingID int64) *Enforcement {
	// The follow-up writes are their own: the report's idempotency claim is answered.
	ctx = WithIdempotency(ctx, nil)
	e := &Enforcement{}
	s, err := in.store.Sampling(ctx, samplingID)
	if err != nil {
		e.Err = err
		return e
	}
	marks, err := in.marked(ctx, samplingID, s.LotID)
	if err != nil {
		e.Err = err
		return e
	}
	certs, err := in.store.LotCertificates(ctx, marks)
	if err != nil {
		e.Err = err
		return e
	}
	reason := fmt.Sprintf("抽检不合格（抽样单编号%s）", s.Spec.Number)
	for _, c := range certs {
		if c.Revoked {
			continue
		}
		if err := in.revoke(ctx, a, c.Serial, reason); err != nil && KindOf(err) != KindConflict {
			e.Err = fmt.Errorf("revoke certificate %s: %w", c.Serial, err)
			return e
		}
		e.Revoked = append(e.Revoked, c.Serial)
	}
	e.Notified, e.Err = in.svc.NotifyRecall(ctx, a, RecallNotice{Ref: "sampling:" + s.Spec.Number, Lots: []int64{s.LotID}, Reason: reason})
	return e
}

// marked returns the lots a sampling's verdict marked, by the lot it sampled.
func (in *Inspection) marked(ctx context.Context, samplingID, lotID int64) ([]int64, error) {
	lots, _, err := in.store.Downstream(ctx, []int64{lotID})
	if err != nil {
		return nil, err
	}
	ids := make([]int64, 0, len(lots))
	for _, l := range lots {
		ids = append(ids, l.ID)
	}
	ms, err := in.store.NonCompliant(ctx, ids)
	if err != nil {
		return nil, err
	}
	var out []int64
	for _, m := range ms {
		if m.SamplingID == samplingID {
			out = append(out, m.LotID)
		}
	}
	return out, nil
}

// RecallLot is a lot on a recall list.
type RecallLot struct {
	Lot
	Depth int // steps from the sampled lot or the orchard's harvest: 0 for those
}

// RecallList is everything a recall reaches: forward, the lots made from the
// non-compliant one, their certificates, the orders that took them and the
// platforms that sold them, and who holds stock; backward, the orchards and input
// applications it came from and the other lots from those sources in the season.
type RecallList struct {
	Sampling     *Sampling // nil for an orchard's season
	Root         int64     // the sampled lot; 0 for an orchard's season
	Lots         []RecallLot
	Edges        []Edge
	Certificates []CertRef
	Orders       []Order
	Platforms    []Party
	Holders      []Party
	Orchards     []Site
	Inputs       []Event
	Related      []Lot // other lots harvested from the same orchards in the season, with their products
	Sites        []Site
	From, To     time.Time // the season searched
	Took         time.Duration
}

// Season is how far around a harvest a recall looks for lots of the same orchard.
const Season = 120 * 24 * time.Hour

// Recall returns the recall list of a sampling record (audit-logged).
func (in *Inspection) Recall(ctx context.Context, a Actor, samplingID int64) (*RecallList, error) {
	start := time.Now()
	s, err := in.inspectable(ctx, in.store, a, samplingID)
	if err != nil {
		return nil, err
	}
	rl := &RecallList{Sampling: s, Root: s.LotID}
	if s.LotID == 0 {
		return rl, in.audit(ctx, a, "recall", map[string]any{"sampling": s.ID}, 0)
	}
	back, err := in.store.Graph(ctx, s.LotID, Backward)
	if err != nil {
		return nil, err
	}
	if err := in.forward(ctx, rl, []int64{s.LotID}); err != nil {
		return nil, err
	}
	rl.Inputs = slices.DeleteFunc(slices.Clone(back.Events), func(e Event) bool { return e.Spec.Type != InputApplication })
	for _, st := range back.Sites {
		if st.Kind == Orchard {
			rl.Orchards = append(rl.Orchards, st)
		}
	}
	// The season: around the harvests the lot came from.
	for _, e := range back.Events {
		if e.Spec.Type == Harvest {
			if rl.From.IsZero() || e.Time.Add(-Season/2).Before(rl.From) {
				rl.From = e.Time.Add(-Season / 2)
			}
			if e.Time.Add(Season / 2).After(rl.To) {
				rl.To = e.Time.Add(Season / 2)
			}
		}
	}
	inGraph := map[int64]bool{}
	for _, l := range back.Lots {
		inGraph[l.ID] = true
	}
	for _, l := range rl.Lots {
		inGraph[l.ID] = true
	}
	for _, o := range rl.Orchards {
		hs, err := in.store.Harvests(ctx, o.ID, rl.From, rl.To)
		if err != nil {
			return nil, err
		}
		for _, h := range hs {
			if !inGraph[h.ID] {
				rl.Related = append(rl.Related, h)
			}
		}
	}
	rl.Took = time.Since(start)
	return rl, in.audit(ctx, a, "recall", map[string]any{"sampling": s.ID}, len(rl.Lots)+len(rl.Related))
}

// OrchardRecall returns the recall list of everything harvested on an orchard in
// [from, to): its lots and all made from them, their certificates, orders and
// platforms. Inspectors of the orchard's county; audit-logged.
func (in *Inspection) OrchardRecall(ctx context.Context, a Actor, siteID int64, from, to time.Time) (*RecallList, error) {
	start := time.Now()
	if err := mustInspect(a); err != nil {
		return nil, err
	}
	if !to.After(from) || to.Sub(from) > 400*24*time.Hour {
		return nil, Invalid("to", "invalid_window", "结束日期须晚于开始日期，且跨度不超过400天", "the end comes after the start, at most 400 days later")
	}
	site, err := in.store.Site(ctx, siteID)
	if err != nil {
		return nil, withField(err, "orchard")
	}
	if site.Kind != Orchard {
		return nil, Invalid("orchard", "not_orchard", "该场所不是果园地块", "this site is not an orchard")
	}
	j, err := in.Jurisdiction(ctx, a)
	if err != nil {
		return nil, err
	}
	if !covers(j, site.County) {
		return nil, Forbidden("orchard", "该果园不在您的辖区内", "this orchard is outside your jurisdiction")
	}
	hs, err := in.store.Harvests(ctx, siteID, from, to)
	if err != nil {
		return nil, err
	}
	rl := &RecallList{Orchards: []Site{*site}, From: from, To: to}
	roots := make([]int64, len(hs))
	for i, h := range hs {
		roots[i] = h.ID
	}
	if err := in.forward(ctx, rl, roots); err != nil {
		return nil, err
	}
	rl.Took = time.Since(start)
	return rl, in.audit(ctx, a, "recall", map[string]any{"orchard": siteID, "from": from, "to": to}, len(rl.Lots))
}

// forward fills the downstream half of a recall list from roots.
func (in *Inspection) forward(ctx context.Context, rl *RecallList, roots []int64) error {
	if len(roots) == 0 {
		return nil
	}
	lots, edges, err := in.store.Downstream(ctx, roots)
	if err != nil {
		return err
	}
	rl.Edges = edges
	depth := map[int64]int{}
	for _, r := range roots {
		depth[r] = 0
	}
	children := map[int64][]int64{}
	for _, e := range edges {
		children[e.Parent] = append(children[e.Parent], e.Child)
	}
	for queue := slices.Clone(roots); len(queue) > 0; queue = queue[1:] {
		for _, c := range children[queue[0]] {
			if _, ok := depth[c]; !ok {
				depth[c] = depth[queue[0]] + 1
				queue = append(queue, c)
			}
		}
	}
	ids := make([]int64, len(lots))
	holders := map[int64]bool{}
	sites := map[int64]bool{}
	for i, l := range lots {
		ids[i] = l.ID
		rl.Lots = append(rl.Lots, RecallLot{Lot: l, Depth: depth[l.ID]})
		holders[l.HolderID] = true
		sites[l.SiteID] = true
		if l.InTransit != 0 {
			sites[l.InTransit] = true
		}
	}
	if rl.Certificates, err = in.store.LotCertificates(ctx, ids); err != nil {
		return err
	}
	if rl.Orders, err = in.store.LotOrders(ctx, ids); err != nil {
		return err
	}
	platforms := map[int64]bool{}
	for _, o := range rl.Orders {
		platforms[o.PartyID] = true
	}
	if rl.Platforms, err = in.parties(ctx, platforms); err != nil {
		return err
	}
	if rl.Holders, err = in.parties(ctx, holders); err != nil {
		return err
	}
	for id := range sites {
		st, err := in.store.Site(ctx, id)
		if err != nil {
			return err
		}
		rl.Sites = append(rl.Sites, *st)
	}
	slices.SortFunc(rl.Sites, func(x, y Site) int { return int(x.ID - y.ID) })
	return nil
}

func (in *Inspection) parties(ctx context.Context, ids map[int64]bool) ([]Party, error) {
	var out []Party
	for id := range ids {
		p, err := in.store.Party(ctx, id)
		if err != nil {
			return nil, err
		}
		out = append(out, *p)
	}
	slices.SortFunc(out, func(x, y Party) int { return int(x.ID - y.ID) })
	return out, nil
}
