package trace

import (
	"bufio"
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Orders. A platform links each order to the lots, certificates and unit-level
// serials it shipped, so that the consumer page can follow the fruit to the order
// and a recall can reach every buyer. Orders carry no personal data: a number, a
// channel, a time and the destination's division codes, never names, phones or
// street addresses.
//
// A platform may link a lot it owns or holds (custody), or one whose owner sells
// through it: the owner granted the platform a sales channel (SalesChannel) that
// had not ended when the order was placed. Any other lot, another platform's
// included, is refused.

// SalesChannel lets a platform link orders for the owner's lots.
type SalesChannel struct {
	ID         int64
	OwnerID    int64
	PlatformID int64
	Created    time.Time
	Ended      time.Time // zero while open
}

// Destination is where an order goes, as GB/T 2260 division codes.
type Destination struct {
	Province string `json:"province"`
	City     string `json:"city"`
	District string `json:"district,omitempty"`
}

// OrderItem is what an order took from a lot: a quantity in the lot's unit,
// optionally the certificate (by serial) and the unit-level serials on it.
type OrderItem struct {
	Lot         int64    `json:"lot,omitempty"`
	Certificate string   `json:"certificate,omitempty"`
	Units       []string `json:"units,omitempty"`
	Quantity    float64  `json:"quantity,omitempty"`
}

// OrderSpec is an order as a platform submits it, and the body of its record.
type OrderSpec struct {
	Number      string      `json:"number"`
	Channel     string      `json:"channel"` // e.g. 赣南优品小程序
	Time        string      `json:"time"`    // RFC 3339 with offset
	Destination Destination `json:"destination"`
	Items       []OrderItem `json:"items"`
}

// Order is a linked order; a leaf of the log.
type Order struct {
	ID        int64
	PartyID   int64 // the platform
	UserID    int64
	Time      time.Time
	Recorded  time.Time
	Spec      OrderSpec
	Canonical []byte
}

type canonicalOrder struct {
	Record   string    `json:"record"`
	ID       int64     `json:"id"`
	Platform int64     `json:"platform"`
	User     int64     `json:"user"`
	Recorded string    `json:"recorded"`
	Order    OrderSpec `json:"order"`
}

// Seal computes the order's canonical bytes; every field must be final.
func (o *Order) Seal() {
	b, err := json.Marshal(canonicalOrder{Record: "order", ID: o.ID, Platform: o.PartyID, User: o.UserID,
		Recorded: o.Recorded.UTC().Format("2006-01-02T15:04:05.000000Z"), Order: o.Spec})
	if err != nil {
		panic(err) // plain values only
	}
	o.Canonical = b
}

// DecodeOrder rebuilds an order from its canonical bytes.
func DecodeOrder(b []byte) (*Order, error) {
	var c canonicalOrder
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, err
	}
	rec, err := time.Parse(time.RFC3339Nano, c.Recorded)
	if err != nil {
		return nil, err
	}
	t, err := time.Parse(time.RFC3339, c.Order.Time)
	if err != nil {
		return nil, err
	}
	return &Order{ID: c.ID, PartyID: c.Platform, UserID: c.User, Time: t, Recorded: rec, Spec: c.Order, Canonical: b}, nil
}

// OrderFilter selects orders; zero fields match all.
type OrderFilter struct {
	PlatformID int64
	LotID      int64
	Serial     string // certificate serial
	Unit       string // unit-level serial on that certificate
}

// CertRef is what orders need to know of a certificate.
type CertRef struct {
	Serial  string
	LotID   int64
	Units   int // unit-level serials 1..Units
	Revoked bool
}

// MaxOrderItems is the most items one order links.
const MaxOrderItems = 200

// GrantChannel lets a platform link orders for the actor's party's lots.
// Granting again reopens an ended channel.
func (s *Service) GrantChannel(ctx context.Context, a Actor, platformID int64) (*SalesChannel, error) {
	if err := a.mustHave(RoleProducerAdmin); err != nil {
		return nil, err
	}
	var out *SalesChannel
	err := s.coldWrite(ctx, func() any { return out }, func(tx ColdChainTx) error {
		p, err := tx.Party(ctx, platformID)
		if err != nil {
			return withField(err, "platform")
		}
		if p.Kind != Platform {
			return Invalid("platform", "not_platform", "该主体不是销售平台", "this party is not a sales platform")
		}
		c, err := tx.SalesChannel(ctx, a.PartyID, platformID)
		switch {
		case KindOf(err) == KindNotFound:
			c = &SalesChannel{OwnerID: a.PartyID, PlatformID: platformID, Created: s.now()}
		case err != nil:
			return err
		case c.Ended.IsZero():
			out = c
			return nil
		default:
			c.Created, c.Ended = s.now(), time.Time{}
		}
		out = c
		return tx.SaveSalesChannel(ctx, c)
	})
	return out, err
}

// EndChannel stops a platform linking new orders for the actor's party's lots.
func (s *Service) EndChannel(ctx context.Context, a Actor, platformID int64) (*SalesChannel, error) {
	if err := a.mustHave(RoleProducerAdmin); err != nil {
		return nil, err
	}
	var out *SalesChannel
	err := s.coldWrite(ctx, func() any { return out }, func(tx ColdChainTx) error {
		c, err := tx.SalesChannel(ctx, a.PartyID, platformID)
		if err != nil {
			return err
		}
		if c.Ended.IsZero() {
			c.Ended = s.now()
			if err := tx.SaveSalesChannel(ctx, c); err != nil {
				return err
			}
		}
		out = c
		return nil
	})
	return out, err
}

// Channels lists the channels the actor's party granted or was granted.
func (s *Service) Channels(ctx context.Context, a Actor) ([]SalesChannel, error) {
	cs, err := s.cold()
	if err != nil {
		return nil, err
	}
	return cs.SalesChannels(ctx, a.PartyID)
}

// OrderLink is the outcome of linking an order: the order, and whether this call
// recorded it (false when the same order was linked before).
type OrderLink struct {
	Order   *Order
	Created bool
}

// LinkOrder records a platform's order. Submitting the same order again returns
// the recorded one; a different order under a number in use is a conflict.
func (s *Service) LinkOrder(ctx context.Context, a Actor, spec OrderSpec) (*OrderLink, error) {
	if err := a.mustHave(RolePlatform); err != nil {
		return nil, err
	}
	t, err := spec.check(s.now())
	if err != nil {
		return nil, err
	}
	out := &OrderLink{}
	err = s.coldWrite(ctx, func() any { return out }, func(tx ColdChainTx) error {
		*out = OrderLink{}
		if err := s.resolveItems(ctx, tx, a, &spec, t); err != nil {
			return err
		}
		prev, err := tx.OrderByNumber(ctx, a.PartyID, spec.Number)
		if err == nil {
			if !sameOrder(&prev.Spec, &spec) {
				return Conflict("number", "order_exists", "该订单号已关联了不同的内容", "this order number is already linked with different content")
			}
			out.Order = prev
			return nil
		} else if KindOf(err) != KindNotFound {
			return err
		}
		ids, err := tx.ReserveRecordIDs(ctx, "order", 1)
		if err != nil {
			return err
		}
		o := &Order{ID: ids[0], PartyID: a.PartyID, UserID: a.UserID, Time: t, Recorded: s.now().Truncate(time.Microsecond), Spec: spec}
		o.Seal()
		*out = OrderLink{o, true}
		return tx.InsertOrder(ctx, o)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func sameOrder(a, b *OrderSpec) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

// check validates what an order says on its own and returns its time.
func (o *OrderSpec) check(now time.Time) (time.Time, error) {
	if o.Number == "" || len(o.Number) > 64 || strings.IndexFunc(o.Number, func(r rune) bool {
		return !(r >= '0' && r <= '9' || r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r == '-' || r == '_' || r == '.')
	}) >= 0 {
		return time.Time{}, Invalid("number", "invalid_order_number", "订单号须为1至64个字符（字母、数字、-、_、.）", "an order number has 1 to 64 characters (letters, digits, - _ .)")
	}
	if err := checkText("channel", o.Channel, 1, 50); err != nil {
		return time.Time{}, err
	}
	for _, f := range []struct{ field, v string }{{"number", o.Number}, {"channel", o.Channel}} {
		if kind := PersonalData(f.v); kind != "" {
			return time.Time{}, personalData(f.field, kind)
		}
	}
	t, err := time.Parse(time.RFC3339, o.Time)
	if err != nil {
		return time.Time{}, Invalid("time", "invalid_time", "时间格式无效，应为RFC 3339并带时区，如2026-11-20T08:30:00+08:00", "invalid time: use RFC 3339 with an offset, e.g. 2026-11-20T08:30:00+08:00")
	}
	if t.After(now.Add(5*time.Minute)) || t.Year() < 2000 {
		return time.Time{}, Invalid("time", "invalid_time", "下单时间不能晚于当前时间或早于2000年", "an order is placed between 2000 and now")
	}
	if err := o.Destination.check(); err != nil {
		return time.Time{}, err
	}
	if len(o.Items) == 0 || len(o.Items) > MaxOrderItems {
		return time.Time{}, Invalid("items", "required", "订单须关联1至%d项", "an order links 1 to %d items", MaxOrderItems)
	}
	return t, nil
}

func (d *Destination) check() error {
	p, c, x := d.Province, d.City, d.District
	if !divisionCode(p) || p[2:] != "0000" || provinceName(p) == "" {
		return Invalid("destination.province", "invalid_division", "省级行政区划代码无效（GB/T 2260，如310000）", "invalid province code (GB/T 2260, e.g. 310000)")
	}
	if !divisionCode(c) || c[:2] != p[:2] || c[2:4] == "00" || c[4:] != "00" {
		return Invalid("destination.city", "invalid_division", "地级行政区划代码无效或不属于该省（GB/T 2260，如310100）", "invalid city code or not in the province (GB/T 2260, e.g. 310100)")
	}
	if x != "" && (!divisionCode(x) || x[:4] != c[:4] || x[4:] == "00") {
		return Invalid("destination.district", "invalid_division", "县级行政区划代码无效或不属于该市（GB/T 2260，如310115）", "invalid district code or not in the city (GB/T 2260, e.g. 310115)")
	}
	return nil
}

func divisionCode(s string) bool {
	if len(s) != 6 {
		return false
	}
	for i := 0; i < 6; i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

//go:embed divisions.txt
var divisionsTxt []byte

var divisionNames = func() map[string]string {
	m := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(divisionsTxt))
	for sc.Scan() {
		code, name, ok := strings.Cut(sc.Text(), " ")
		if ok && !strings.HasPrefix(code, "#") {
			m[code] = name
		}
	}
	return m
}()

func provinceName(code string) string { return divisionNames[code[:2]+"0000"] }

// CityName returns the name of a GB/T 2260 city code; a city Ganpin does not list
// is named by its province.
func CityName(code string) string {
	if n := divisionNames[code]; n != "" {
		return n
	}
	if divisionCode(code) {
		return provinceName(code)
	}
	return ""
}

var (
	mobileRE = regexp.MustCompile(`(^|\D)(\+?86[- ]?)?1[3-9]\d{9}(\D|$)`)
	phoneRE  = regexp.MustCompile(`(^|\D)0\d{2,3}[- ]?\d{7,8}(\D|$)`)
	emailRE  = regexp.MustCompile(`\S+@\S+\.\S+`)
	houseRE  = regexp.MustCompile(`\d+\s*(号|號|栋|幢|单元|室|弄|层|楼)`)
	streetRE = regexp.MustCompile(`路|街|巷|弄|胡同|小区|大厦|公寓|花园|村|组`)
	enAddrRE = regexp.MustCompile(`(?i)\d+\s+\w+(\s+\w+)*\s+(street|st|road|rd|avenue|ave|lane|ln)\b`)
	personRE = regexp.MustCompile(`收货人|收件人|联系人|姓名|电话|手机|地址|身份证`)
	idCardRE = regexp.MustCompile(`(^|\D)\d{17}[\dXx](\D|$)`)
)

// PersonalData reports what kind of personal data s looks like it holds (phone,
// email, address, person, id_card), or "" when none.
func PersonalData(s string) string {
	switch {
	case mobileRE.MatchString(s) || phoneRE.MatchString(s):
		return "phone"
	case emailRE.MatchString(s):
		return "email"
	case houseRE.MatchString(s) && streetRE.MatchString(s), enAddrRE.MatchString(s):
		return "address"
	case personRE.MatchString(s):
		return "person"
	case idCardRE.MatchString(s) && strings.ContainsAny(s, "Xx"):
		return "id_card"
	}
	return ""
}

func personalData(field, kind string) *Error {
	zh := map[string]string{"phone": "电话号码", "email": "电子邮箱", "address": "地址", "person": "收货人信息", "id_card": "身份证号"}[kind]
	return &Error{Kind: KindInvalid, Code: "personal_data", Field: field,
		ZH: fmt.Sprintf("订单不得包含个人信息（此处疑似%s）：只填订单号、渠道、时间和目的地行政区划代码", zh),
		EN: fmt.Sprintf("orders carry no personal data (this looks like a %s): only a number, channel, time and destination division codes", strings.ReplaceAll(kind, "_", " "))}
}

// resolveItems fills each item's lot from its certificate, checks units and
// quantities, and that the platform may sell every lot.
func (s *Service) resolveItems(ctx context.Context, tx ColdChainTx, a Actor, spec *OrderSpec, at time.Time) error {
	for i := range spec.Items {
		it := &spec.Items[i]
		f := fmt.Sprintf("items[%d].", i)
		if it.Certificate != "" {
			ref, err := tx.CertificateRef(ctx, it.Certificate)
			if KindOf(err) == KindNotFound {
				return NotFound(f+"certificate", "certificate", it.Certificate)
			} else if err != nil {
				return err
			}
			if it.Lot != 0 && it.Lot != ref.LotID {
				return Invalid(f+"lot", "lot_mismatch", "批次与合格证不符", "the lot is not the certificate's")
			}
			if ref.Revoked {
				return Invalid(f+"certificate", "certificate_revoked", "该合格证已撤销，不能关联订单", "this certificate is revoked")
			}
			it.Lot = ref.LotID
			for j, u := range it.Units {
				n, err := strconv.Atoi(u)
				if err != nil || len(u) < 6 || n < 1 || n > ref.Units || slices.Contains(it.Units[:j], u) {
					return Invalid(fmt.Sprintf("%sunits[%d]", f, j), "invalid_unit", "该合格证没有此单件序列号（或重复）", "no such unit serial on this certificate (or repeated)")
				}
			}
		} else if len(it.Units) > 0 {
			return Invalid(f+"units", "units_need_certificate", "单件序列号须与合格证编号一起填写", "unit serials need the certificate serial")
		}
		if it.Lot == 0 {
			return Invalid(f+"lot", "required", "请填写批次或合格证编号", "name the lot or the certificate")
		}
		l, err := tx.Lot(ctx, it.Lot)
		if err != nil {
			return withField(err, f+"lot")
		}
		if it.Quantity == 0 && len(it.Units) > 0 {
			it.Quantity = float64(len(it.Units))
		}
		if err := checkQuantity(f+"quantity", it.Quantity); err != nil {
			return err
		}
		if it.Quantity > l.Quantity {
			return Invalid(f+"quantity", "exceeds_lot", "数量超过批次数量%g%s", "the quantity exceeds the lot's %g %s", l.Quantity, l.Unit)
		}
		if len(it.Units) > 0 && l.Unit.Mass() == 0 && it.Quantity != float64(len(it.Units)) {
			return Invalid(f+"quantity", "units_mismatch", "数量与单件序列号个数不符", "the quantity is not the number of unit serials")
		}
		if err := s.maySell(ctx, tx, a, l, at); err != nil {
			return withField(err, f+"lot")
		}
	}
	return nil
}

// maySell authorises a platform to link an order for a lot (see the package rule above).
func (s *Service) maySell(ctx context.Context, tx ColdChainTx, a Actor, l *Lot, at time.Time) error {
	if l.OwnerID == a.PartyID || l.HolderID == a.PartyID {
		return nil
	}
	c, err := tx.SalesChannel(ctx, l.OwnerID, a.PartyID)
	if err == nil && (c.Ended.IsZero() || at.Before(c.Ended)) {
		return nil
	} else if err != nil && KindOf(err) != KindNotFound {
		return err
	}
	return Forbidden("", "该批次未通过本平台销售（货主未授权本平台）", "this lot is not sold through your platform (its owner has not granted you a sales channel)")
}

// Order returns an order of the actor's platform (any for inspectors and admins).
func (s *Service) Order(ctx context.Context, a Actor, id int64) (*Order, error) {
	cs, err := s.cold()
	if err != nil {
		return nil, err
	}
	o, err := cs.Order(ctx, id)
	if err != nil {
		return nil, err
	}
	if o.PartyID != a.PartyID && !a.ReadsAll() {
		return nil, NotFound("", "order", id)
	}
	return o, nil
}

// Orders lists the actor's platform's orders (all for inspectors and admins),
// optionally of one lot.
func (s *Service) Orders(ctx context.Context, a Actor, lotID int64, p Page) ([]Order, error) {
	cs, err := s.cold()
	if err != nil {
		return nil, err
	}
	f := OrderFilter{PlatformID: a.PartyID, LotID: lotID}
	if a.ReadsAll() {
		f.PlatformID = 0
	}
	return cs.Orders(ctx, f, p)
}

// MaskedOrder is what anyone may see of an order: the day and the destination city.
type MaskedOrder struct {
	Date     string `json:"date"` // YYYY-MM-DD, in the order's offset
	City     string `json:"city"`
	CityCode string `json:"city_code"`
}

// Mask returns the order as anyone may see it.
func (o *Order) Mask() MaskedOrder {
	return MaskedOrder{Date: o.Time.Format("2006-01-02"), City: CityName(o.Spec.Destination.City), CityCode: o.Spec.Destination.City}
}

// maskedOrders returns the newest orders f selects, masked.
func maskedOrders(ctx context.Context, cs ColdChainStore, f OrderFilter) ([]MaskedOrder, error) {
	os, err := cs.Orders(ctx, f, Page{Limit: 20})
	if err != nil {
		return nil, err
	}
	out := make([]MaskedOrder, len(os))
	for i := range os {
		out[i] = os[i].Mask()
	}
	return out, nil
}

// LotOrder is a masked order of one lot of a trace.
type LotOrder struct {
	Lot int64 `json:"lot"`
	MaskedOrder
}

// TraceOrders returns the masked orders of a trace's lots (of its first 100 lots, the
// newest 20 orders each); none where the store keeps no orders.
func (s *Service) TraceOrders(ctx context.Context, g *Graph) ([]LotOrder, error) {
	cs, err := s.cold()
	if err != nil {
		return nil, nil
	}
	var out []LotOrder
	for _, l := range g.Lots[:min(len(g.Lots), 100)] {
		os, err := maskedOrders(ctx, cs, OrderFilter{LotID: l.ID})
		if err != nil {
			return nil, err
		}
		for _, o := range os {
			out = append(out, LotOrder{l.ID, o})
		}
	}
	return out, nil
}

// Journey is a lot's way from the orchard to its orders: its custody legs and
// those of the lots it was made from, with their verdicts, and its orders, masked
// unless the reader is the platform that linked them or an inspector.
type Journey struct {
	Legs   []LegReport
	Orders []MaskedOrder
	Own    []Order // orders the reader may see in full
}

// LotJourney returns a lot's journey; readable like its trace.
func (s *Service) LotJourney(ctx context.Context, a Actor, lotID int64) (*Journey, error) {
	legs, err := s.LotLegs(ctx, a, lotID)
	if err != nil {
		return nil, err
	}
	cs, err := s.cold()
	if err != nil {
		return nil, err
	}
	j := &Journey{Legs: legs}
	if j.Orders, err = maskedOrders(ctx, cs, OrderFilter{LotID: lotID}); err != nil {
		return nil, err
	}
	if j.Own, err = s.Orders(ctx, a, lotID, Page{Limit: 100}); err != nil {
		return nil, err
	}
	return j, nil
}

// PublicJourney is what a consumer scanning a certificate's QR code may see of
// the cold chain and the orders: leg verdicts and masked orders.
type PublicJourney struct {
	Serial  string
	Unit    string
	Revoked bool
	Legs    []LegReport
	Orders  []MaskedOrder
}

// PublicJourney returns the journey of a certificate's lot by serial, for anyone;
// with a unit serial, the orders are those that name that unit.
func (s *Service) PublicJourney(ctx context.Context, serial, unit string) (*PublicJourney, error) {
	cs, err := s.cold()
	if err != nil {
		return nil, err
	}
	ref, err := cs.CertificateRef(ctx, serial)
	if err != nil {
		return nil, err
	}
	f := OrderFilter{LotID: ref.LotID}
	if unit != "" {
		if n, err := strconv.Atoi(unit); err != nil || len(unit) < 6 || n < 1 || n > ref.Units {
			return nil, NotFound("", "unit", unit)
		}
		f = OrderFilter{Serial: serial, Unit: unit}
	}
	g, err := cs.Graph(ctx, ref.LotID, Backward)
	if err != nil {
		return nil, err
	}
	j := &PublicJourney{Serial: ref.Serial, Unit: unit, Revoked: ref.Revoked}
	if j.Legs, err = s.graphLegs(ctx, g); err != nil {
		return nil, err
	}
	if j.Orders, err = maskedOrders(ctx, cs, f); err != nil {
		return nil, err
	}
	return j, nil
}
