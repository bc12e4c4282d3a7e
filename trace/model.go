package trace

import (
	"strings"
	"time"
	"unicode/utf8"
)

// PartyKind is what a 主体 is.
type PartyKind string

// Party kinds.
const (
	Cooperative PartyKind = "cooperative" // 农民专业合作社
	FamilyFarm  PartyKind = "family_farm" // 家庭农场
	Enterprise  PartyKind = "enterprise"  // 农业企业
	Logistics   PartyKind = "logistics"   // 物流/冷链
	Platform    PartyKind = "platform"    // 平台
	Regulator   PartyKind = "regulator"   // 市场监管局
)

var partyKinds = map[PartyKind]bool{Cooperative: true, FamilyFarm: true, Enterprise: true, Logistics: true, Platform: true, Regulator: true}

// Party is a 主体: a legal person that records, holds or inspects lots.
type Party struct {
	ID      int64
	Kind    PartyKind
	Name    string
	USCC    string // 统一社会信用代码
	County  string // GB/T 2260 code
	Contact string
	Created time.Time
}

// Validate checks a party before it is created.
func (p *Party) Validate() error {
	if !partyKinds[p.Kind] {
		return Invalid("kind", "unknown_kind", "主体类型无效：%q", "unknown party kind %q", p.Kind)
	}
	if err := checkText("name", p.Name, 1, 100); err != nil {
		return err
	}
	if !ValidUSCC(p.USCC) {
		return Invalid("uscc", "invalid_uscc", "统一社会信用代码无效（18位，校验位按GB 32100计算）", "invalid unified social credit code (18 characters with a GB 32100 check character)")
	}
	if !ValidCountyCode(p.County) {
		return Invalid("county", "invalid_county", "行政区划代码无效（6位GB/T 2260代码）", "invalid county code (six-digit GB/T 2260 code)")
	}
	return checkText("contact", p.Contact, 0, 100)
}

// SiteKind is what a place is used for.
type SiteKind string

// Site kinds.
const (
	Orchard   SiteKind = "orchard"    // 果园地块
	Packhouse SiteKind = "packhouse"  // 分选包装厂
	ColdStore SiteKind = "cold_store" // 冷库
	Warehouse SiteKind = "warehouse"  // 仓库
	Retail    SiteKind = "retail"     // 零售点
)

var siteKinds = map[SiteKind]bool{Orchard: true, Packhouse: true, ColdStore: true, Warehouse: true, Retail: true}

// Site is a place owned by a party where events happen.
type Site struct {
	ID      int64
	PartyID int64
	Kind    SiteKind
	Name    string
	County  string
	Town    string  // 乡镇
	AreaMu  float64 // orchards: area in 亩
	Lat     float64
	Lon     float64
	GLN     string // optional GS1 Global Location Number
	Created time.Time
}

// Validate checks a site before it is created.
func (s *Site) Validate() error {
	if !siteKinds[s.Kind] {
		return Invalid("kind", "unknown_kind", "场所类型无效：%q", "unknown site kind %q", s.Kind)
	}
	if err := checkText("name", s.Name, 1, 100); err != nil {
		return err
	}
	if !ValidCountyCode(s.County) {
		return Invalid("county", "invalid_county", "行政区划代码无效（6位GB/T 2260代码）", "invalid county code (six-digit GB/T 2260 code)")
	}
	if err := checkText("town", s.Town, 0, 50); err != nil {
		return err
	}
	if s.Kind == Orchard && !(s.AreaMu > 0 && s.AreaMu < 1e6) {
		return Invalid("area_mu", "invalid_area", "果园面积必须大于0亩", "an orchard's area must be a positive number of mu")
	}
	if s.Kind != Orchard && s.AreaMu != 0 {
		return Invalid("area_mu", "invalid_area", "只有果园地块填写面积", "only orchards have an area")
	}
	if s.Lat < -90 || s.Lat > 90 || s.Lon < -180 || s.Lon > 180 {
		return Invalid("lat", "invalid_gps", "GPS坐标超出范围", "GPS coordinates out of range")
	}
	if s.Kind == Orchard && s.Lat == 0 && s.Lon == 0 {
		return Invalid("lat", "missing_gps", "果园地块必须填写GPS坐标", "an orchard needs GPS coordinates")
	}
	if s.GLN != "" && !ValidGLN(s.GLN) {
		return Invalid("gln", "invalid_gln", "GLN无效（13位，校验位错误）", "invalid GLN (13 digits with a GS1 check digit)")
	}
	return nil
}

// Product is something lots are made of, such as 赣南脐橙 纽荷尔 in 5 kg boxes.
type Product struct {
	ID          int64
	PartyID     int64
	Name        string
	Variety     string
	GTIN        string // GTIN-14, empty when the product has none
	Unit        Unit
	NetKg       float64 // mass of one unit when Unit is a count (box, piece)
	ColdProfile string  // cold-chain profile name, e.g. "navel_orange"
	Created     time.Time
}

// Validate checks and normalises a product before it is created.
func (p *Product) Validate() error {
	if err := checkText("name", p.Name, 1, 100); err != nil {
		return err
	}
	if err := checkText("variety", p.Variety, 0, 50); err != nil {
		return err
	}
	if p.GTIN != "" {
		g, ok := NormalizeGTIN(p.GTIN)
		if !ok {
			return Invalid("gtin", "invalid_gtin", "GTIN无效（8/12/13/14位，校验位错误）", "invalid GTIN (8, 12, 13 or 14 digits with a GS1 check digit)")
		}
		p.GTIN = g
	}
	if !p.Unit.Valid() {
		return unknownUnit("unit", p.Unit)
	}
	if p.Unit.Mass() == 0 && !(p.NetKg > 0 && p.NetKg < 1e5) {
		return Invalid("net_kg", "missing_net_kg", "按件计量的产品必须填写每件净重（公斤）", "a product counted in %s needs its net mass per unit in kg", p.Unit)
	}
	if p.Unit.Mass() != 0 && p.NetKg != 0 {
		return Invalid("net_kg", "unexpected_net_kg", "按重量计量的产品不填写每件净重", "a product measured by mass has no net mass per unit")
	}
	return checkText("cold_profile", p.ColdProfile, 0, 50)
}

// Kg converts a quantity of the product in unit u to kilograms.
func (p *Product) Kg(q float64, u Unit) float64 {
	if m := u.Mass(); m != 0 {
		return q * m
	}
	return q * p.NetKg
}

// Lot is a traceability lot (批次): a quantity of one product with a code unique per party.
// Owner is the party that made the lot; Holder is the party that has custody of it now.
type Lot struct {
	ID        int64
	OwnerID   int64
	HolderID  int64
	Code      string
	ProductID int64
	Quantity  float64
	Remaining float64
	Unit      Unit
	Grade     string
	SiteID    int64 // origin site: the orchard of a harvest, the packhouse of a packing run
	EventID   int64 // the event that created the lot
	InTransit int64 // destination site while shipped and not yet received, else 0
	Created   time.Time
}

// Grades of GB/T 21488-2008.
var grades = map[string]bool{"": true, "特等": true, "一等": true, "二等": true}

func checkLotCode(field, code string) error {
	if code == "" || len(code) > 20 {
		return Invalid(field, "invalid_lot_code", "批次号必须为1至20个字符（字母、数字、-、_、.）", "a lot code has 1 to 20 characters (letters, digits, - _ .)")
	}
	for i := 0; i < len(code); i++ {
		c := code[i]
		if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c == '-' || c == '_' || c == '.') {
			return Invalid(field, "invalid_lot_code", "批次号必须为1至20个字符（字母、数字、-、_、.）", "a lot code has 1 to 20 characters (letters, digits, - _ .)")
		}
	}
	return nil
}

func checkText(field, s string, min, max int) error {
	n := utf8.RuneCountInString(s)
	if !utf8.ValidString(s) || strings.ContainsAny(s, "\x00\r") {
		return Invalid(field, "invalid_text", "文本含有无效字符", "text holds invalid characters")
	}
	if n < min {
		return Invalid(field, "required", "必填项", "required")
	}
	if n > max {
		return Invalid(field, "too_long", "不能超过%d个字符", "at most %d characters", max)
	}
	return nil
}
