package cert

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ganpin/ganpin/trace"
)

// Issued is a certificate as the system of record holds it.
type Issued struct {
	Certificate
	ID         int64
	Signature  []byte      // the issuing party's Ed25519 signature of the canonical bytes
	Canonical  []byte      // the canonical bytes: signed, logged and registered
	Revocation *Revocation // nil while the certificate is valid
	LedgerTx   string      // the ledger transaction that registered it; "" until registered
}

// Status is a certificate's state as people read it.
func (c *Issued) Status() string {
	if c.Revocation != nil {
		return "revoked"
	}
	return "valid"
}

// StatusZH is Status in Chinese: 有效 or 已撤销.
func (c *Issued) StatusZH() string {
	if c.Revocation != nil {
		return "已撤销"
	}
	return "有效"
}

// Hash returns the SHA-256 of the certificate's canonical bytes, as registered on the ledger.
func (c *Issued) Hash() [32]byte { return sha256.Sum256(c.Canonical) }

// Revocation withdraws a certificate, by its issuer or a regulator.
type Revocation struct {
	CertificateID int64     `json:"certificate"`
	Serial        string    `json:"serial"`
	Reason        string    `json:"reason"`
	PartyID       int64     `json:"party"` // the revoking party
	Regulator     bool      `json:"regulator,omitempty"`
	Time          time.Time `json:"time"`
	LedgerTx      string    `json:"-"`
}

// Canonical returns the revocation's canonical bytes, its log leaf.
func (r *Revocation) Canonical() []byte {
	rr := *r
	rr.Time = r.Time.UTC().Truncate(time.Second)
	b, err := json.Marshal(struct {
		Record string `json:"record"`
		*Revocation
	}{"revocation", &rr})
	if err != nil {
		panic(err) // plain values only
	}
	return b
}

// Filter narrows a certificate list.
type Filter struct {
	PartyID int64 // the issuing party; 0 for all
	LotID   int64 // 0 for all
}

// Reader holds the reads both the store and its transactions serve. A missing
// certificate is a KindNotFound *trace.Error.
type Reader interface {
	trace.Reader
	Certificate(ctx context.Context, id int64) (*Issued, error)
	CertificateBySerial(ctx context.Context, serial string) (*Issued, error)
	// CertificateOfLot returns the certificate of a lot, revoked or not.
	CertificateOfLot(ctx context.Context, lotID int64) (*Issued, error)
	// CertificateByLot returns the certificate, revoked or not, of the lot with code
	// lotCode of the product with GTIN-14 gtin: what a GS1 Digital Link names.
	CertificateByLot(ctx context.Context, gtin, lotCode string) (*Issued, error)
	Certificates(ctx context.Context, f Filter, p trace.Page) ([]Issued, error)
	// NonCompliant returns the marks of lots a 不合格 sampling verdict stands against.
	NonCompliant(ctx context.Context, lotIDs []int64) ([]trace.NonCompliance, error)
}

// Store keeps certificates; internal/store implements it.
type Store interface {
	Reader
	// WriteCertificates runs fn in one transaction that commits when fn returns nil.
	WriteCertificates(ctx context.Context, fn func(Tx) error) error
}

// Tx is a write transaction. Each certificate and revocation written becomes a leaf
// of the tamper-evident log in the same transaction.
type Tx interface {
	Reader
	LockLot(ctx context.Context, id int64) (*trace.Lot, error)
	// ReserveIDs returns n new IDs of kind "certificate".
	ReserveIDs(ctx context.Context, kind string, n int) ([]int64, error)
	// InsertCertificate stores a certificate; KindConflict when its lot has one.
	InsertCertificate(ctx context.Context, c *Issued) error
	InsertRevocation(ctx context.Context, r *Revocation) error
	SaveReplay(ctx context.Context, principal, key string, r trace.Replay) error
}

// Config holds the service's dependencies.
type Config struct {
	Store Store
	Keys  *Keys
	// Missing returns the runes of a text the printed certificate cannot show
	// (cert/pdf.Missing); text with such runes is refused at issue.
	Missing func(string) []rune
	Now     func() time.Time // time.Now when nil
}

// Service issues and revokes certificates. Every call is authorised here.
type Service struct {
	store   Store
	keys    *Keys
	missing func(string) []rune
	now     func() time.Time
}

// NewService returns a certificate service.
func NewService(cfg Config) *Service {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Missing == nil {
		cfg.Missing = func(string) []rune { return nil }
	}
	return &Service{store: cfg.Store, keys: cfg.Keys, missing: cfg.Missing, now: cfg.Now}
}

// Request asks for a certificate for a lot. Product, origin and producer come from
// the lot, its orchards and its owner.
type Request struct {
	Lot      int64      `json:"lot"`
	Quantity float64    `json:"quantity"`
	Unit     trace.Unit `json:"unit"` // the lot's unit when empty
	Contact  string     `json:"contact,omitempty"`
	Template Template   `json:"template"`
	Basis    Basis      `json:"basis"`
	Report   string     `json:"report,omitempty"`
	Upstream []Upstream `json:"upstream,omitempty"`
	Units    int        `json:"units,omitempty"` // unit-level serials to reserve
}

// MaxUnits bounds the unit-level serials of one certificate.
const MaxUnits = 1_000_000

// Preview returns the certificate Issue would issue now, checked by every rule, without
// storing it or giving it a serial.
func (s *Service) Preview(ctx context.Context, a trace.Actor, req Request) (*Issued, error) {
	return s.prepare(ctx, s.store, a, req, s.now())
}

// Issue issues a certificate for a lot: checked, signed by the owner's key, stored and
// appended to the log in one transaction; it is registered on the ledger shortly after.
func (s *Service) Issue(ctx context.Context, a trace.Actor, req Request) (*Issued, error) {
	var out *Issued
	err := s.write(ctx, func() any { return out }, func(tx Tx) error {
		now := s.now()
		if _, err := tx.LockLot(ctx, req.Lot); err != nil {
			return withField(err, "lot")
		}
		c, err := s.prepare(ctx, tx, a, req, now)
		if err != nil {
			return err
		}
		ids, err := tx.ReserveIDs(ctx, "certificate", 1)
		if err != nil {
			return err
		}
		c.ID = ids[0]
		c.Serial = Serial(c.Issued, c.ID)
		c.Canonical = c.Certificate.Canonical()
		c.Signature = c.Sign(s.keys.Party(c.PartyID))
		if err := tx.InsertCertificate(ctx, c); err != nil {
			return err
		}
		out = c
		return nil
	})
	return out, err
}

// Serial returns the serial number of certificate id issued at t: GP, the year's last
// two digits and the ID, zero-padded to eight digits.
func Serial(t time.Time, id int64) string {
	return fmt.Sprintf("GP%02d%08d", t.In(china).Year()%100, id)
}

var china = time.FixedZone("CST", 8*3600)

// prepare fills and checks a certificate for req at now.
func (s *Service) prepare(ctx context.Context, r Reader, a trace.Actor, req Request, now time.Time) (*Issued, error) {
	if !a.Has(trace.RoleProducerAdmin, trace.RoleProducerClerk) {
		return nil, trace.Forbidden("", "只有生产主体的管理员或记录员可以开具合格证", "only a producer's admins and clerks issue certificates")
	}
	lot, err := r.Lot(ctx, req.Lot)
	if err != nil {
		return nil, withField(err, "lot")
	}
	if lot.OwnerID != a.PartyID {
		return nil, trace.Forbidden("lot", "只能为本主体生产的批次开具合格证", "only the lot's owner issues its certificate")
	}
	if old, err := r.CertificateOfLot(ctx, lot.ID); err == nil {
		if old.Revocation != nil {
			return nil, trace.Conflict("lot", "lot_revoked", fmt.Sprintf("该批次的合格证%s已撤销，不能再开具", old.Serial), fmt.Sprintf("this lot's certificate %s was revoked; the lot cannot be certified again", old.Serial))
		}
		return nil, trace.Conflict("lot", "already_certified", fmt.Sprintf("该批次已开具合格证%s（一个批次一张合格证）", old.Serial), fmt.Sprintf("this lot already has certificate %s (one certificate per lot)", old.Serial))
	} else if trace.KindOf(err) != trace.KindNotFound {
		return nil, err
	}
	product, err := r.Product(ctx, lot.ProductID)
	if err != nil {
		return nil, err
	}
	owner, err := r.Party(ctx, lot.OwnerID)
	if err != nil {
		return nil, err
	}
	g, err := r.Graph(ctx, lot.ID, trace.Backward)
	if err != nil {
		return nil, err
	}
	if err := checkHistory(g); err != nil {
		return nil, err
	}
	if err := checkSampling(ctx, r, g); err != nil {
		return nil, err
	}
	unit := req.Unit
	if unit == "" {
		unit = lot.Unit
	}
	c := &Issued{Certificate: Certificate{PartyID: owner.ID, LotID: lot.ID, LotCode: lot.Code, GTIN: product.GTIN, Units: req.Units,
		Product: strings.TrimSpace(product.Name + " " + product.Variety), Quantity: req.Quantity, Unit: unit,
		Origin: origin(g), Issued: now.Truncate(time.Second), Producer: owner.Name, Contact: req.Contact,
		Template: req.Template, Basis: req.Basis, Report: req.Report, Upstream: req.Upstream}}
	if utf8.RuneCountInString(c.Product) > 40 {
		c.Product = product.Name
	}
	if err := c.Validate(now); err != nil {
		return nil, err
	}
	if err := checkQuantity(c, lot, product); err != nil {
		return nil, err
	}
	if req.Units < 0 || req.Units > MaxUnits {
		return nil, trace.Invalid("units", "invalid_units", "单品码数量应为0至%d", "unit-level serials are 0 to %d", MaxUnits)
	}
	if unit.Mass() == 0 && float64(req.Units) > c.Quantity {
		return nil, trace.Invalid("units", "too_many_units", "单品码数量不能超过合格证数量%g%s", "unit-level serials cannot exceed the certified %g %s", c.Quantity, unit.ZH())
	}
	if err := s.printable(&c.Certificate); err != nil {
		return nil, err
	}
	return c, nil
}

// checkQuantity checks the certified quantity against what is left of the lot.
func checkQuantity(c *Issued, lot *trace.Lot, p *trace.Product) error {
	if c.Unit.Mass() == 0 && lot.Unit.Mass() == 0 && c.Unit != lot.Unit {
		return trace.Invalid("unit", "unit_mismatch", "该批次按%s计数，合格证不能按%s开具", "the lot is counted in %s, not %s", lot.Unit.ZH(), c.Unit.ZH())
	}
	have, want := p.Kg(lot.Remaining, lot.Unit), p.Kg(c.Quantity, c.Unit)
	if c.Unit == lot.Unit {
		have, want = lot.Remaining, c.Quantity
	}
	if want > have*(1+1e-9) || math.IsNaN(want) {
		return trace.Invalid("quantity", "exceeds_remaining", "合格证数量超过批次剩余数量%g%s", "the quantity exceeds the lot's remaining %g %s", lot.Remaining, lot.Unit.ZH())
	}
	return nil
}

// checkHistory refuses a lot whose history breaks a rule: a harvest inside an input's
// pre-harvest interval, or a failed self-test of the lot or a lot it was made from.
func checkHistory(g *trace.Graph) error {
	corrected := map[int64]bool{}
	for _, e := range g.Events {
		if e.Spec.Corrects != 0 {
			corrected[e.Spec.Corrects] = true
		}
	}
	for _, h := range g.Events {
		if h.Spec.Type != trace.Harvest || corrected[h.ID] {
			continue
		}
		for _, in := range g.Events {
			if in.Spec.Type != trace.InputApplication || corrected[in.ID] || in.Spec.Site != h.Spec.Site {
				continue
			}
			if end := trace.PHIEnd(in.Time, in.Spec.Input.PHIDays); !in.Time.After(h.Time) && h.Time.Before(end) {
				return trace.Invalid("lot", "pre_harvest_interval",
					"该批次来源的采收在安全间隔期内：%s（%s）于%s施用，安全间隔期%d天，采收于%s，不能开具合格证",
					"the lot's harvest fell inside a pre-harvest interval: %s (%s) applied on %s has a %d-day interval, harvested on %s; no certificate can be issued",
					in.Spec.Input.ProductName, in.Spec.Input.RegistrationNo, in.Time.Format("2006-01-02"), in.Spec.Input.PHIDays, h.Time.Format("2006-01-02"))
			}
		}
	}
	for _, e := range g.Events {
		if e.Spec.Type == trace.SelfTest && !corrected[e.ID] && !e.Spec.SelfTest.Passed {
			return trace.Invalid("lot", "failed_self_test", "该批次（或其来源批次）自检不合格（%s，%s），不能开具合格证",
				"the lot or a lot it came from failed a self-test (%s, %s); no certificate can be issued", e.Spec.SelfTest.Method, e.Time.Format("2006-01-02"))
		}
	}
	return nil
}

// checkSampling refuses a lot that a 不合格 sampling verdict stands against, or one
// made from such a lot.
func checkSampling(ctx context.Context, r Reader, g *trace.Graph) error {
	ids := make([]int64, len(g.Lots))
	for i, l := range g.Lots {
		ids[i] = l.ID
	}
	ms, err := r.NonCompliant(ctx, ids)
	if err != nil || len(ms) == 0 {
		return err
	}
	return trace.Invalid("lot", "failed_sampling", "该批次（或其来源批次）抽检不合格（抽样单编号%s），不能开具合格证",
		"the lot or a lot it came from failed official sampling (sampling number %s); no certificate can be issued", ms[0].Number)
}

// origin names where the lot grew (产地): the province, county and town of its
// orchards, as narrowly as they agree; the lot's own site when it has no orchard.
func origin(g *trace.Graph) string {
	var sites []trace.Site
	for _, s := range g.Sites {
		if s.Kind == trace.Orchard {
			sites = append(sites, s)
		}
	}
	if len(sites) == 0 {
		for _, l := range g.Lots {
			if i := slices.IndexFunc(g.Sites, func(s trace.Site) bool { return s.ID == l.SiteID }); l.ID == g.Root && i >= 0 {
				sites = append(sites, g.Sites[i])
			}
		}
	}
	var counties []string
	town := ""
	for i, s := range sites {
		if !slices.Contains(counties, s.County) {
			counties = append(counties, s.County)
		}
		if i == 0 || s.Town == town {
			town = s.Town
		} else {
			town = ""
		}
	}
	if len(counties) == 0 {
		return ""
	}
	names := make([]string, 0, 3)
	for _, c := range counties[:min(3, len(counties))] {
		n := trace.CountyName(c)
		if n == "" {
			n = c
		}
		names = append(names, n)
	}
	out := provinces[counties[0][:2]] + strings.Join(names, "、")
	switch {
	case len(counties) > 3:
		out += "等"
	case len(counties) == 1:
		out += town
	}
	return out
}

// provinces names the provinces of the counties trace.CountyName knows; the
// municipalities' county names carry their city already.
var provinces = map[string]string{"36": "江西省", "44": "广东省"}

// printable refuses text the printed certificate cannot show.
func (s *Service) printable(c *Certificate) error {
	fields := []struct{ name, v string }{{"product", c.Product}, {"origin", c.Origin}, {"producer", c.Producer}, {"contact", c.Contact}, {"report", c.Report}}
	for i, u := range c.Upstream {
		fields = append(fields, struct{ name, v string }{fmt.Sprintf("upstream[%d].issuer", i), u.Issuer}, struct{ name, v string }{fmt.Sprintf("upstream[%d].serial", i), u.Serial})
	}
	for _, f := range fields {
		if m := s.missing(f.v); len(m) > 0 {
			return trace.Invalid(f.name, "unprintable", "含有无法打印的字符“%s”，请改用常用字", "holds characters the certificate font cannot print: %q", string(m))
		}
	}
	return nil
}

// Certificate returns a certificate the actor may read: its issuer's, the parties
// that hold or held the lot, inspectors and admins.
func (s *Service) Certificate(ctx context.Context, a trace.Actor, id int64) (*Issued, error) {
	c, err := s.store.Certificate(ctx, id)
	if err != nil {
		return nil, err
	}
	return c, s.mayRead(ctx, a, c)
}

func (s *Service) mayRead(ctx context.Context, a trace.Actor, c *Issued) error {
	if a.ReadsAll() || c.PartyID == a.PartyID {
		return nil
	}
	if l, err := s.store.Lot(ctx, c.LotID); err == nil && l.HolderID == a.PartyID {
		return nil
	}
	return trace.NotFound("", "certificate", c.ID)
}

// BySerial returns a certificate by its serial, for the public pages; the caller
// shows only what is printed on it.
func (s *Service) BySerial(ctx context.Context, serial string) (*Issued, error) {
	return s.store.CertificateBySerial(ctx, serial)
}

// Certificates lists the certificates of the actor's party (all for inspectors and admins).
func (s *Service) Certificates(ctx context.Context, a trace.Actor, f Filter, p trace.Page) ([]Issued, error) {
	if !a.ReadsAll() {
		f.PartyID = a.PartyID
	}
	return s.store.Certificates(ctx, f, p)
}

// Revoke revokes a certificate with a reason: by its issuer's admins or clerks, or by
// an inspector. The revocation is logged and goes onto the ledger.
func (s *Service) Revoke(ctx context.Context, a trace.Actor, id int64, reason string) (*Issued, error) {
	reason = strings.TrimSpace(reason)
	if err := text("reason", reason, 1, 200); err != nil {
		return nil, err
	}
	var out *Issued
	err := s.write(ctx, func() any { return out }, func(tx Tx) error {
		c, err := tx.Certificate(ctx, id)
		if err != nil {
			return err
		}
		issuer := c.PartyID == a.PartyID && a.Has(trace.RoleProducerAdmin, trace.RoleProducerClerk)
		if !issuer && !a.Has(trace.RoleInspector) {
			if a.ReadsAll() || c.PartyID == a.PartyID {
				return trace.Forbidden("", "只有开具主体或市场监管部门可以撤销合格证", "only the issuer or a regulator revokes a certificate")
			}
			return trace.NotFound("", "certificate", id)
		}
		if c.Revocation != nil {
			return trace.Conflict("", "already_revoked", "该合格证已撤销", "this certificate is already revoked")
		}
		c.Revocation = &Revocation{CertificateID: c.ID, Serial: c.Serial, Reason: reason, PartyID: a.PartyID, Regulator: !issuer, Time: s.now().Truncate(time.Second)}
		if err := tx.InsertRevocation(ctx, c.Revocation); err != nil {
			return err
		}
		out = c
		return nil
	})
	return out, err
}

// write runs fn in a transaction and records the response under the idempotency
// claim ctx carries, in the same transaction.
func (s *Service) write(ctx context.Context, result func() any, fn func(Tx) error) error {
	claim := trace.IdempotencyFrom(ctx)
	return s.store.WriteCertificates(ctx, func(tx Tx) error {
		if err := fn(tx); err != nil || claim == nil {
			return err
		}
		status, body, err := claim.Render(result())
		if err != nil {
			return err
		}
		return tx.SaveReplay(ctx, claim.Principal, claim.Key, trace.Replay{RequestHash: claim.RequestHash, Status: status, Body: body})
	})
}

func withField(err error, field string) error {
	if e, ok := err.(*trace.Error); ok && e.Field == "" {
		c := *e
		c.Field = field
		return &c
	}
	return err
}
