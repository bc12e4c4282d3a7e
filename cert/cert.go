// Package cert is the 承诺达标合格证 (commitment compliance certificate) of
// 《农产品质量安全承诺达标合格证管理办法》(农业农村部令2025年第4号, in force 2026-02-01):
// its fields and wording, validation, canonical form and signature, QR content, and
// the service that issues and revokes certificates.
package cert

import (
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ganpin/ganpin/trace"
)

// Template is the commitment a certificate carries.
type Template string

// Templates.
const (
	Producer Template = "producer" // 样式一: the producer commits to how it produced
	Buyer    Template = "buyer"    // 样式二: a buyer who mixed or re-packed collected upstream certificates
)

// Commitment texts of the two templates. Several independent implementations print
// them identically; they are to be confirmed against the official text.
const (
	ProducerText = "我承诺生产销售的食用农产品：未使用禁用农药、兽药及其他化合物；使用的常规农药、兽药残留不超标。"
	BuyerText    = "已按规定收取并保存该批次农产品承诺达标合格证或者其他质量安全合格证明；未违规使用保鲜剂、防腐剂、添加剂等。"
)

// Text returns the template's commitment text.
func (t Template) Text() string {
	if t == Buyer {
		return BuyerText
	}
	return ProducerText
}

// Basis is what a commitment rests on (承诺依据); a certificate ticks one or more.
type Basis uint8

// Bases.
const (
	QualityControl Basis = 1 << iota // 质量安全控制符合要求
	SelfTested                       // 自行检测合格
	EntrustedTest                    // 委托检测合格
)

// Bases lists every basis with its name in the API and its printed label, in printing order.
var Bases = []struct {
	Basis      Basis
	Key, Label string
}{{QualityControl, "quality_control", "质量安全控制符合要求"}, {SelfTested, "self_tested", "自行检测合格"}, {EntrustedTest, "entrusted_test", "委托检测合格"}}

// ParseBasis returns the basis named by keys (see Bases).
func ParseBasis(keys []string) (Basis, error) {
	var b Basis
next:
	for _, k := range keys {
		for _, x := range Bases {
			if x.Key == k {
				b |= x.Basis
				continue next
			}
		}
		return 0, trace.Invalid("bases", "unknown_basis", "承诺依据无效：%q", "unknown basis %q (quality_control, self_tested or entrusted_test)", k)
	}
	return b, nil
}

// Keys returns the API names of the bases b ticks.
func (b Basis) Keys() []string {
	var ks []string
	for _, x := range Bases {
		if b&x.Basis != 0 {
			ks = append(ks, x.Key)
		}
	}
	return ks
}

// Tested reports whether the basis includes a test, which then needs a report.
func (b Basis) Tested() bool { return b&(SelfTested|EntrustedTest) != 0 }

// Wording of certificates issued before 2026-02-01, still met on upstream
// certificates a buyer collects.
var (
	LegacyCommitments = []string{"不使用禁用农药兽药、停用兽药和非法添加物", "常规农药兽药残留不超标", "对承诺的真实性负责"}
	LegacyBases       = []string{"委托检测", "自我检测", "内部质量控制", "自我承诺"}
)

// Upstream is a supplier's certificate a buyer collected, as recorded from paper.
type Upstream struct {
	Serial   string     `json:"serial,omitempty"`
	Issuer   string     `json:"issuer"` // 承诺主体
	Product  string     `json:"product"`
	Quantity float64    `json:"quantity"`
	Unit     trace.Unit `json:"unit"`
	IssuedOn string     `json:"issued_on"` // YYYY-MM-DD
	Legacy   bool       `json:"legacy,omitempty"`
	// Bases as printed: the current labels, or LegacyBases on a legacy certificate.
	Bases []string `json:"bases"`
}

// Certificate is a 承诺达标合格证 for one production batch (lot).
type Certificate struct {
	Serial   string     `json:"serial"`
	PartyID  int64      `json:"party"`
	LotID    int64      `json:"lot"`
	LotCode  string     `json:"lot_code"`
	GTIN     string     `json:"gtin,omitempty"`  // the product's GTIN-14, when it has one
	Units    int        `json:"units,omitempty"` // unit-level labels carry serials 1..Units
	Product  string     `json:"product"`         // 产品名称
	Quantity float64    `json:"quantity"`
	Unit     trace.Unit `json:"unit"`
	Origin   string     `json:"origin"`            // 产地
	Issued   time.Time  `json:"issued"`            // 开具时间
	Producer string     `json:"producer"`          // 承诺主体
	Contact  string     `json:"contact,omitempty"` // 联系方式; may be left to the package
	Template Template   `json:"template"`
	Basis    Basis      `json:"basis"`
	Report   string     `json:"report,omitempty"` // the test report, when the basis is a test
	Upstream []Upstream `json:"upstream,omitempty"`
}

// Validate checks a certificate before it is issued at now.
func (c *Certificate) Validate(now time.Time) error {
	for _, f := range []struct {
		field, v string
		min, max int
	}{{"product", c.Product, 1, 40}, {"origin", c.Origin, 1, 60}, {"producer", c.Producer, 1, 60}, {"contact", c.Contact, 0, 40}, {"report", c.Report, 0, 60}} {
		if err := text(f.field, f.v, f.min, f.max); err != nil {
			return err
		}
	}
	if !(c.Quantity > 0) || c.Quantity > 1e9 {
		return trace.Invalid("quantity", "invalid_quantity", "数量必须大于0", "a quantity is greater than 0")
	}
	if !c.Unit.Valid() {
		return trace.Invalid("unit", "unknown_unit", "计量单位无效：%q", "unknown unit %q", c.Unit)
	}
	if c.Issued.IsZero() || c.Issued.After(now.Add(5*time.Minute)) {
		return trace.Invalid("issued", "invalid_issued", "开具时间不能晚于当前时间", "a certificate cannot be issued in the future")
	}
	if c.Template != Producer && c.Template != Buyer {
		return trace.Invalid("template", "no_commitment", "请选择承诺内容（生产者样式一或收购者样式二）", "choose the commitment: producer (样式一) or buyer (样式二)")
	}
	if c.Basis == 0 || c.Basis > QualityControl|SelfTested|EntrustedTest {
		return trace.Invalid("basis", "no_basis", "请勾选至少一项承诺依据", "tick at least one basis of the commitment")
	}
	if c.Basis.Tested() && c.Report == "" {
		return trace.Invalid("report", "report_required", "承诺依据为检测合格时须填写检测报告编号", "a test basis needs the test report's reference")
	}
	if c.Template == Buyer && len(c.Upstream) == 0 {
		return trace.Invalid("upstream", "upstream_required", "收购者样式须登记所收取的上游合格证", "the buyer's commitment needs the upstream certificates it collected")
	}
	if c.Template == Producer && len(c.Upstream) > 0 {
		return trace.Invalid("upstream", "unexpected_upstream", "生产者样式不登记上游合格证", "the producer's commitment has no upstream certificates")
	}
	for i, u := range c.Upstream {
		if err := u.validate(fmt.Sprintf("upstream[%d]", i)); err != nil {
			return err
		}
	}
	return nil
}

func (u *Upstream) validate(field string) error {
	if err := text(field+".issuer", u.Issuer, 1, 60); err != nil {
		return err
	}
	if err := text(field+".product", u.Product, 1, 40); err != nil {
		return err
	}
	if err := text(field+".serial", u.Serial, 0, 40); err != nil {
		return err
	}
	if !(u.Quantity > 0) || !u.Unit.Valid() {
		return trace.Invalid(field+".quantity", "invalid_quantity", "上游合格证的数量和单位无效", "the upstream certificate's quantity or unit is invalid")
	}
	if _, err := time.Parse("2006-01-02", u.IssuedOn); err != nil {
		return trace.Invalid(field+".issued_on", "invalid_date", "开具日期格式应为YYYY-MM-DD", "the issue date is YYYY-MM-DD")
	}
	allowed := map[string]bool{}
	for _, b := range Bases {
		allowed[b.Label] = !u.Legacy
	}
	for _, b := range LegacyBases {
		allowed[b] = u.Legacy
	}
	if len(u.Bases) == 0 {
		return trace.Invalid(field+".bases", "no_basis", "请登记上游合格证勾选的承诺依据", "record the bases ticked on the upstream certificate")
	}
	for _, b := range u.Bases {
		if !allowed[b] {
			return trace.Invalid(field+".bases", "unknown_basis", "承诺依据“%s”不属于该版本合格证", "basis %q is not on this edition of the certificate", b)
		}
	}
	return nil
}

func text(field, s string, min, max int) error {
	n := utf8.RuneCountInString(s)
	switch {
	case !utf8.ValidString(s) || strings.ContainsAny(s, "\x00\r\n"):
		return trace.Invalid(field, "invalid_text", "文本含有无效字符", "text holds invalid characters")
	case n < min:
		return trace.Invalid(field, "required", "必填项", "required")
	case n > max:
		return trace.Invalid(field, "too_long", "不能超过%d个字符（打印版面所限）", "at most %d characters (the printed layout)", max)
	}
	return nil
}

// Canonical returns the certificate's canonical bytes: deterministic JSON with a
// fixed field order and the issue time in UTC, the bytes that are signed, logged and
// registered on the ledger.
func (c *Certificate) Canonical() []byte {
	cc := *c
	cc.Issued = c.Issued.UTC().Truncate(time.Second)
	b, err := json.Marshal(struct {
		Record string `json:"record"`
		Text   string `json:"commitment"`
		*Certificate
	}{"certificate", c.Template.Text(), &cc})
	if err != nil {
		panic(err) // plain values only
	}
	return b
}

// Sign returns the issuing party's Ed25519 signature of the canonical bytes.
func (c *Certificate) Sign(key ed25519.PrivateKey) []byte {
	return ed25519.Sign(key, c.Canonical())
}

// Verify reports whether sig is the party's signature of the certificate.
func (c *Certificate) Verify(pub ed25519.PublicKey, sig []byte) bool {
	return len(pub) == ed25519.PublicKeySize && ed25519.Verify(pub, c.Canonical(), sig)
}

// URL returns what a QR code holds: for the certificate (unit 0) or for unit-level
// label unit (1..Units). With a GTIN it is a GS1 Digital Link URI
// (/01/{gtin}/10/{lot}, plus /21/{serial} for a unit), else a short path by serial
// (/c/{serial}, plus /{unit serial}). base is the public base URL, e.g.
// https://trace.example.cn.
func (c *Certificate) URL(base string, unit int) string {
	if c.GTIN == "" {
		return c.ShortURL(base, unit)
	}
	u := strings.TrimRight(base, "/") + "/01/" + c.GTIN + "/10/" + url.PathEscape(c.LotCode)
	if unit > 0 {
		u += "/21/" + UnitSerial(unit)
	}
	return u
}

// ShortURL returns the short link by serial, /c/{serial} or /c/{serial}/{unit serial},
// printed under the QR code and resolved like the Digital Link.
func (c *Certificate) ShortURL(base string, unit int) string {
	u := strings.TrimRight(base, "/") + "/c/" + url.PathEscape(c.Serial)
	if unit > 0 {
		u += "/" + UnitSerial(unit)
	}
	return u
}

// UnitSerial formats the serial of unit-level label n: at least six digits.
func UnitSerial(n int) string { return fmt.Sprintf("%06d", n) }
