package demo

import (
	"context"
	"fmt"
	"time"

	"github.com/ganpin/ganpin/trace"
)

// Sampled describes the sampling records Sample recorded.
type Sampled struct {
	Records int
	Failed  int64    // the 不合格 sampling record
	Lot     int64    // the lot it failed on
	Revoked []string // certificates its verdict revoked
	Notify  int      // platforms notified
}

// Sample records the demo inspector's sampling: passing samples of box lots from each
// cooperative at markets and an online shop in 赣州, and one 不合格 sample of failLot
// (丙溴磷 over its limit), whose verdict marks the lot and everything made from it,
// revokes their certificates and notifies the platforms that sold them. Call it after
// Load, Certify and ColdChain; failLot 0 picks a box lot of 信丰 that reached a front
// warehouse, which ColdChain's platform sold.
func Sample(ctx context.Context, svc *trace.Service, insp *trace.Inspection, failLot int64) (*Sampled, error) {
	token, _, err := svc.Login(ctx, "inspector", Password, "demo")
	if err != nil {
		return nil, err
	}
	a, err := svc.Authenticate(ctx, token)
	if err != nil {
		return nil, err
	}
	var boxes []trace.Lot
	for p := (trace.Page{Limit: 1000}); ; {
		ls, err := svc.Lots(ctx, a, p)
		if err != nil {
			return nil, err
		}
		for _, l := range ls {
			if l.Unit == trace.Box {
				boxes = append(boxes, l)
			}
		}
		if len(ls) < p.Limit {
			break
		}
		p.After = ls[len(ls)-1].ID
	}
	if len(boxes) == 0 {
		return nil, fmt.Errorf("demo: no box lots to sample")
	}
	for _, l := range boxes {
		if failLot != 0 {
			break
		}
		if len(l.Code) > 2 && l.Code[:2] == "XF" {
			if ok, err := reachedWarehouse(ctx, svc, a, l.ID); err != nil {
				return nil, err
			} else if ok {
				failLot = l.ID
			}
		}
	}
	places := []trace.Place{
		{Name: "赣州市南康区农产品批发市场 12号摊位", County: "360703"},
		{Name: "赣州市章贡区东门鲜果超市", County: "360702"},
		{Name: "寻乌县长宁镇农贸市场", County: "360734"},
		{Name: "安远县欣山镇水果店", County: "360726"},
		{Name: "赣南优品小程序旗舰店（网络抽样）", County: "360702", URL: "https://shop.example.cn/gnyp"},
	}
	out := &Sampled{}
	day := Season.AddDate(0, 0, 25) // after the last harvest; the lab reports two days later
	record := func(i int, l trace.Lot, items []trace.ItemSpec) (*trace.Outcome, error) {
		p := places[i%len(places)]
		stage := trace.StageCirculation
		if p.URL != "" {
			stage = trace.StageOnline
		}
		t := day.Add(time.Duration(9+i) * time.Hour)
		spec := trace.SamplingSpec{Number: fmt.Sprintf("NCP2026360700%04d", i+1), TaskSource: "赣州市2026年食用农产品监督抽检计划",
			TaskType: trace.TaskSupervision, Stage: stage, Place: p, Time: t.Format(time.RFC3339), Agency: "赣州市市场监督管理局",
			Samplers: []string{"王抽检", "刘抽检"}, Sampled: trace.Entity{Name: p.Name}, Producer: trace.Entity{Party: l.OwnerID, Name: "（见批次）"},
			Sample: trace.Sample{Name: "赣南脐橙", Commodity: "脐橙", LotCode: l.Code, Spec: "5kg/箱", Unit: trace.Kg, Base: 500, Quantity: 3, Backup: 3,
				Storage: "常温", Standard: "GB/T 20355-2006"}, Lot: l.ID}
		if owner, err := svc.Party(ctx, a, l.OwnerID); err == nil {
			spec.Producer.Name = owner.Name
		}
		s, err := insp.RecordSampling(ctx, a, spec, nil)
		if err != nil {
			return nil, err
		}
		out.Records++
		rep := trace.ReportSpec{Number: fmt.Sprintf("JXSP2026-%05d", 3100+i), Lab: "江西省食品检验检测研究院",
			Issued: day.AddDate(0, 0, 2).Format(time.DateOnly), Items: items}
		o, err := insp.RecordReport(ctx, a, s.ID, rep)
		if err != nil {
			return nil, err
		}
		if o.Report.Verdict == trace.Fail {
			out.Failed, out.Lot = s.ID, l.ID
			if e := o.Enforcement; e != nil {
				if e.Err != nil {
					return nil, e.Err
				}
				out.Revoked, out.Notify = e.Revoked, e.Notified
			}
		}
		return o, nil
	}
	item := func(name, result string) trace.ItemSpec {
		return trace.ItemSpec{Item: name, Result: result, Unit: "mg/kg", DetectionLimit: 0.005, Method: "GB 23200.113-2018"}
	}
	pass := []trace.ItemSpec{item("克百威", trace.NotDetected), item("水胺硫磷", trace.NotDetected), item("联苯菊酯", "0.012"),
		item("丙溴磷", trace.NotDetected), item("苯醚甲环唑", "0.03"), item("咪鲜胺", "0.41")}
	n := 0
	for i := 0; i < len(boxes) && n < 6; i += max(1, len(boxes)/6) {
		if boxes[i].ID == failLot {
			continue
		}
		if _, err := record(n, boxes[i], pass); err != nil {
			return nil, err
		}
		n++
	}
	for _, l := range boxes {
		if l.ID == failLot {
			fail := []trace.ItemSpec{item("克百威", trace.NotDetected), item("水胺硫磷", trace.NotDetected), item("联苯菊酯", "0.021"),
				item("丙溴磷", "0.35"), item("苯醚甲环唑", "0.05"), item("咪鲜胺", "0.62")}
			if _, err := record(n, l, fail); err != nil {
				return nil, err
			}
			return out, nil
		}
	}
	return nil, fmt.Errorf("demo: lot %d to fail is not a box lot of the demo", failLot)
}

// reachedWarehouse reports whether a lot was received at a warehouse (a front
// warehouse of the demo, from which the platform sells).
func reachedWarehouse(ctx context.Context, svc *trace.Service, a trace.Actor, lot int64) (bool, error) {
	evs, err := svc.LotEvents(ctx, a, lot, trace.Page{Limit: 100})
	if err != nil {
		return false, err
	}
	for _, e := range evs {
		if e.Spec.Type == trace.Receiving {
			s, err := svc.Site(ctx, a, e.Spec.Site)
			if err != nil {
				return false, err
			}
			if s.Kind == trace.Warehouse {
				return true, nil
			}
		}
	}
	return false, nil
}
