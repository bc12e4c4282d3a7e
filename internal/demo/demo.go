// Package demo loads a deterministic, fictional 赣南脐橙 supply chain: three
// cooperatives in 寻乌, 安远 and 信丰 with orchards, input applications that respect
// their pre-harvest intervals, harvests, packing, a cold store in 章贡区 and
// shipments to Shanghai and Shenzhen, and certificates for the packed lots. Names,
// codes and registrations are invented.
package demo

import (
	"cmp"
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/ganpin/ganpin/cert"
	"github.com/ganpin/ganpin/trace"
)

// Password is the password of every demo account.
const Password = "ganpin-demo-2026"

// Account is a demo login.
type Account struct {
	Username string
	Role     trace.Role
	Party    string
}

// Result describes what was loaded.
type Result struct {
	Accounts []Account
	Events   int
	// ExampleLot is a box lot of the first cooperative (user xunwu) that went from
	// orchard to Shanghai.
	ExampleLot int64
}

var cst = time.FixedZone("CST", 8*3600)

// Season is the demo's harvest season.
var Season = time.Date(2026, 11, 3, 0, 0, 0, 0, cst)

type pesticide struct {
	name, reg, ingredient, dose, target string
	phi                                 int
}

// The products, registration numbers and intervals are realistic in shape, not real labels.
var pesticides = []pesticide{
	{"1.8%阿维菌素乳油", "PD20080123", "阿维菌素", "3000倍液", "红蜘蛛", 14},
	{"24%螺螨酯悬浮剂", "PD20121456", "螺螨酯", "5000倍液", "红蜘蛛", 30},
	{"10%吡虫啉可湿性粉剂", "PD20095678", "吡虫啉", "2000倍液", "蚜虫", 14},
	{"10%苯醚甲环唑水分散粒剂", "PD20102345", "苯醚甲环唑", "1500倍液", "炭疽病", 28},
	{"80%代森锰锌可湿性粉剂", "PD20083456", "代森锰锌", "600倍液", "疮痂病", 21},
	{"25%噻嗪酮可湿性粉剂", "PD20097890", "噻嗪酮", "1500倍液", "介壳虫", 35},
}

type coop struct {
	name, uscc17, county, town, user string
	lat, lon                         float64
	prefix                           string
}

var coops = []coop{
	{"寻乌县澄江脐橙专业合作社", "93360734MA35XW0C1", "360734", "澄江镇", "xunwu", 24.954, 115.652, "XW"},
	{"安远县鹤子脐橙专业合作社", "93360726MA35AY0H2", "360726", "鹤子镇", "anyuan", 25.137, 115.393, "AY"},
	{"信丰县安西脐橙专业合作社", "93360722MA35XF0A3", "360722", "安西镇", "xinfeng", 25.386, 114.922, "XF"},
}

// Exists reports whether the database already holds parties (demo or not).
func Exists(ctx context.Context, svc *trace.Service) (bool, error) {
	ps, err := svc.Parties(ctx, trace.Actor{}, trace.Page{Limit: 1})
	return len(ps) > 0, err
}

// Load loads the demo through the service, so every rule applies to it.
func Load(ctx context.Context, svc *trace.Service) (*Result, error) {
	l := &loader{ctx: ctx, svc: svc, rnd: rand.New(rand.NewPCG(2026, 1103)), res: &Result{}}
	return l.res, l.load()
}

type loader struct {
	ctx context.Context
	svc *trace.Service
	rnd *rand.Rand
	res *Result
	err error
}

var root = trace.Actor{Roles: []trace.Role{trace.RoleAdmin}} // bootstraps the first accounts

func (l *loader) party(kind trace.PartyKind, name, uscc17, county, contact string) trace.Actor {
	c, _ := trace.USCCCheck(uscc17)
	p := &trace.Party{Kind: kind, Name: name, USCC: uscc17 + string(c), County: county, Contact: contact}
	l.check(l.svc.CreateParty(l.ctx, root, p))
	return trace.Actor{PartyID: p.ID}
}

func (l *loader) user(a *trace.Actor, username, name string, role trace.Role, party string) {
	u := &trace.User{PartyID: a.PartyID, Username: username, Name: name, Roles: []trace.Role{role}}
	l.check(l.svc.CreateUser(l.ctx, root, u, Password))
	if a.UserID == 0 {
		a.UserID, a.Roles = u.ID, u.Roles
	}
	l.res.Accounts = append(l.res.Accounts, Account{username, role, party})
}

func (l *loader) site(a trace.Actor, s trace.Site) *trace.Site {
	l.check(l.svc.CreateSite(l.ctx, a, &s))
	return &s
}

func (l *loader) product(a trace.Actor, p trace.Product) *trace.Product {
	l.check(l.svc.CreateProduct(l.ctx, a, &p))
	return &p
}

func (l *loader) capture(a trace.Actor, specs ...trace.EventSpec) []*trace.Event {
	if l.err != nil {
		return nil
	}
	evs, err := l.svc.Capture(l.ctx, a, specs)
	l.check(err)
	l.res.Events += len(evs)
	return evs
}

func (l *loader) check(err error) {
	if err != nil && l.err == nil {
		l.err = fmt.Errorf("demo: %w", err)
	}
}

func ts(t time.Time) string { return t.Format(time.RFC3339) }

func (l *loader) load() error {
	platform := l.party(trace.Platform, "赣南优品电商平台有限公司", "91360702MA35GNYP1", "360702", "0797-8000000")
	l.user(&platform, "admin", "平台管理员", trace.RoleAdmin, "赣南优品")
	regulator := l.party(trace.Regulator, "赣州市市场监督管理局", "11360700MB1530JJ1", "360702", "0797-12315")
	l.user(&regulator, "inspector", "抽检员 王", trace.RoleInspector, "赣州市市场监督管理局")
	cold := l.party(trace.Logistics, "赣州赣南冷链物流有限公司", "91360702MA35LL0W1", "360702", "0797-8111111")
	l.user(&cold, "coldchain", "冷库调度 李", trace.RoleLogistics, "赣州赣南冷链物流")
	coldStore := l.site(cold, trace.Site{Kind: trace.ColdStore, Name: "章贡区水西冷链仓储中心", County: "360702", Town: "水西镇", Lat: 25.862, Lon: 114.885})
	sh := l.site(cold, trace.Site{Kind: trace.Warehouse, Name: "上海浦东前置仓", County: "310115", Town: "川沙新镇", Lat: 31.191, Lon: 121.701})
	sz := l.site(cold, trace.Site{Kind: trace.Warehouse, Name: "深圳南山前置仓", County: "440305", Town: "西丽街道", Lat: 22.582, Lon: 113.958})
	dests := []*trace.Site{sh, sz}

	type farm struct {
		a         trace.Actor
		c         coop
		orchards  []*trace.Site
		packhouse *trace.Site
		fruit     *trace.Product
		box5      *trace.Product
		box10jin  *trace.Product
	}
	var farms []*farm
	for i, c := range coops {
		f := &farm{c: c}
		f.a = l.party(trace.Cooperative, c.name, c.uscc17, c.county, fmt.Sprintf("0797-%07d", 4000000+i*111111))
		l.user(&f.a, c.user, c.name+"管理员", trace.RoleProducerAdmin, c.name)
		clerk := f.a
		clerk.UserID = 0
		l.user(&clerk, c.user+"-clerk", c.name+"记录员", trace.RoleProducerClerk, c.name)
		for j := range 6 {
			f.orchards = append(f.orchards, l.site(f.a, trace.Site{Kind: trace.Orchard, Name: fmt.Sprintf("%s%d号果园", c.town, j+1),
				County: c.county, Town: c.town, AreaMu: float64(20 + l.rnd.IntN(60)),
				Lat: c.lat + float64(l.rnd.IntN(200)-100)/10000, Lon: c.lon + float64(l.rnd.IntN(200)-100)/10000}))
		}
		f.packhouse = l.site(f.a, trace.Site{Kind: trace.Packhouse, Name: c.town + "分选包装中心", County: c.county, Town: c.town,
			Lat: c.lat + 0.01, Lon: c.lon + 0.01})
		f.fruit = l.product(f.a, trace.Product{Name: "赣南脐橙鲜果", Variety: "纽荷尔", Unit: trace.Kg, ColdProfile: "navel_orange"})
		f.box5 = l.product(f.a, trace.Product{Name: "赣南脐橙 5kg装", Variety: "纽荷尔", GTIN: gtin(fmt.Sprintf("69%02d%08d", 10+i, 1)), Unit: trace.Box, NetKg: 5, ColdProfile: "navel_orange"})
		f.box10jin = l.product(f.a, trace.Product{Name: "赣南脐橙 10斤礼盒", Variety: "纽荷尔", GTIN: gtin(fmt.Sprintf("69%02d%08d", 10+i, 2)), Unit: trace.Box, NetKg: 5, ColdProfile: "navel_orange"})
		farms = append(farms, f)

		// The growing season: sprays from June to early October, each orchard's last
		// interval over before the harvest opens.
		for _, o := range f.orchards {
			var apps []trace.EventSpec
			for d := time.Date(2026, 6, 1+l.rnd.IntN(10), 8, 0, 0, 0, cst); d.Before(time.Date(2026, 10, 5, 0, 0, 0, 0, cst)); d = d.AddDate(0, 0, 18+l.rnd.IntN(14)) {
				p := pesticides[l.rnd.IntN(len(pesticides))]
				if trace.PHIEnd(d, p.phi).After(Season) {
					continue
				}
				apps = append(apps, trace.EventSpec{Type: trace.InputApplication, Time: ts(d.Add(time.Duration(l.rnd.IntN(180)) * time.Minute)), Site: o.ID,
					Input: &trace.InputSpec{ProductName: p.name, RegistrationNo: p.reg, ActiveIngredient: p.ingredient, Dose: p.dose, PHIDays: p.phi, Target: p.target, AreaMu: o.AreaMu}})
			}
			l.capture(f.a, apps...)
		}
	}

	// The harvest: every orchard picks every few days; each lot is tested, packed,
	// sent to the cold store in 章贡区 and on to Shanghai or Shenzhen.
	seq := map[string]int{}
	for day := 0; day < 24 && l.err == nil; day++ {
		date := Season.AddDate(0, 0, day)
		for _, f := range farms {
			for oi, o := range f.orchards {
				if (day+oi)%3 == 0 {
					continue
				}
				seq[f.c.prefix]++
				code := fmt.Sprintf("%s-%s-%03d", f.c.prefix, date.Format("0102"), seq[f.c.prefix])
				kg := float64(2000 + 100*l.rnd.IntN(40))
				t := date.Add(7*time.Hour + time.Duration(l.rnd.IntN(120))*time.Minute)
				h := l.capture(f.a, trace.EventSpec{Type: trace.Harvest, Time: ts(t), Site: o.ID,
					Harvest: &trace.HarvestSpec{Lot: trace.NewLotSpec{Code: code, Product: f.fruit.ID, Quantity: kg, Unit: trace.Kg, Grade: []string{"特等", "一等", "一等", "二等"}[l.rnd.IntN(4)]}}})
				if h == nil {
					break
				}
				raw := h[0].Lots[0].Lot
				boxes5 := float64(int(kg*0.6/5) - l.rnd.IntN(5))
				gift := float64(int(kg*0.3/5) - l.rnd.IntN(5))
				packed := l.capture(f.a,
					trace.EventSpec{Type: trace.SelfTest, Time: ts(t.Add(3 * time.Hour)), Site: f.packhouse.ID,
						SelfTest: &trace.SelfTestSpec{Lot: raw, Method: "农药残留速测卡（酶抑制法）", Items: []string{"有机磷类", "氨基甲酸酯类"}, Passed: true}},
					trace.EventSpec{Type: trace.Transformation, Time: ts(t.Add(5 * time.Hour)), Site: f.packhouse.ID,
						Transformation: &trace.TransformationSpec{Inputs: []trace.LotQuantity{{Lot: raw, Quantity: kg}},
							Outputs: []trace.NewLotSpec{
								{Code: code + "-5K", Product: f.box5.ID, Quantity: boxes5, Unit: trace.Box},
								{Code: code + "-GB", Product: f.box10jin.ID, Quantity: gift, Unit: trace.Box}}}})
				if packed == nil {
					break
				}
				outs := []int64{packed[1].Lots[1].Lot, packed[1].Lots[2].Lot}
				l.capture(f.a, trace.EventSpec{Type: trace.Shipping, Time: ts(t.Add(9 * time.Hour)), Site: f.packhouse.ID,
					Shipping: &trace.ShippingSpec{Lots: outs, To: coldStore.ID, Carrier: "赣州赣南冷链物流有限公司", Vehicle: fmt.Sprintf("赣B%05d", 10000+l.rnd.IntN(89999))}})
				arrive := t.Add(12 * time.Hour)
				dest := dests[l.rnd.IntN(2)]
				leave := arrive.Add(time.Duration(24+l.rnd.IntN(72)) * time.Hour)
				specs := []trace.EventSpec{
					{Type: trace.Receiving, Time: ts(arrive), Site: coldStore.ID, Receiving: &trace.ReceivingSpec{Lots: outs}},
					{Type: trace.Storing, Time: ts(arrive.Add(30 * time.Minute)), Site: coldStore.ID, Storing: &trace.StoringSpec{Lots: outs, Room: fmt.Sprintf("%c%d", 'A'+l.rnd.IntN(4), 1+l.rnd.IntN(6))}},
				}
				if leave.Before(time.Date(2026, 11, 27, 0, 0, 0, 0, cst)) {
					specs = append(specs,
						trace.EventSpec{Type: trace.Shipping, Time: ts(leave), Site: coldStore.ID,
							Shipping: &trace.ShippingSpec{Lots: outs, To: dest.ID, Carrier: "赣州赣南冷链物流有限公司", Vehicle: fmt.Sprintf("赣B%05d", 10000+l.rnd.IntN(89999)), Container: fmt.Sprintf("RF%06d", l.rnd.IntN(999999))}},
						trace.EventSpec{Type: trace.Receiving, Time: ts(leave.Add(time.Duration(16+l.rnd.IntN(10)) * time.Hour)), Site: dest.ID, Receiving: &trace.ReceivingSpec{Lots: outs}})
					if l.res.ExampleLot == 0 && dest == sh && f == farms[0] {
						l.res.ExampleLot = outs[0]
					}
				}
				l.capture(cold, specs...)
			}
		}
	}
	return l.err
}

// gtin appends the check digit to 12 digits, giving a GTIN-13.
func gtin(first12 string) string {
	c, _ := trace.GS1Check(first12)
	return first12 + string(c)
}

// Certified describes the certificates Certify issued.
type Certified struct {
	Issued  int
	Revoked string // the serial of the revoked certificate
	Units   string // the serial of the certificate with unit-level labels
}

// Certify issues a certificate for every box lot of the loaded demo, as each
// cooperative's admin: the example lot's with unit-level serials for every box, and one
// revoked, so that every state and layout can be seen.
func Certify(ctx context.Context, svc *trace.Service, certs *cert.Service, example int64) (*Certified, error) {
	out := &Certified{}
	for _, c := range coops {
		token, _, err := svc.Login(ctx, c.user, Password, "demo")
		if err != nil {
			return nil, err
		}
		a, err := svc.Authenticate(ctx, token)
		if err != nil {
			return nil, err
		}
		party, err := svc.Party(ctx, a, a.PartyID)
		if err != nil {
			return nil, err
		}
		var lots []trace.Lot
		for p := (trace.Page{Limit: 1000}); ; {
			page, err := svc.Lots(ctx, a, p)
			if err != nil {
				return nil, err
			}
			lots = append(lots, page...)
			if len(page) < p.Limit {
				break
			}
			p.After = page[len(page)-1].ID
		}
		slices.SortFunc(lots, func(x, y trace.Lot) int { return cmp.Compare(x.ID, y.ID) })
		for _, l := range lots {
			if l.OwnerID != a.PartyID || l.Unit != trace.Box {
				continue
			}
			req := cert.Request{Lot: l.ID, Quantity: l.Quantity, Contact: party.Contact, Template: cert.Producer,
				Basis: cert.QualityControl | cert.SelfTested, Report: "自检-" + strings.TrimSuffix(strings.TrimSuffix(l.Code, "-5K"), "-GB")}
			if l.ID == example {
				req.Units = int(l.Quantity)
			}
			issued, err := certs.Issue(ctx, a, req)
			if err != nil {
				return nil, fmt.Errorf("demo certificate for lot %s: %w", l.Code, err)
			}
			out.Issued++
			if l.ID == example {
				out.Units = issued.Serial
			}
			if out.Revoked == "" && c.user == "anyuan" && strings.HasSuffix(l.Code, "-GB") {
				if _, err := certs.Revoke(ctx, a, issued.ID, "礼盒标签印错，已召回重新包装"); err != nil {
					return nil, err
				}
				out.Revoked = issued.Serial
			}
		}
	}
	return out, nil
}
