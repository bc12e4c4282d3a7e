package trace

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"time"
)

// Service is the provenance domain's entry point: every call is authorised here by
// the actor's party and roles, whatever surface it comes from.
type Service struct {
	store  Store
	now    func() time.Time
	tokens sync.Map // token hash (string) → cachedActor
}

type cachedActor struct {
	actor   Actor
	expires time.Time
}

// NewService returns a service over store; now is the clock (time.Now when nil).
func NewService(store Store, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{store: store, now: now}
}

// tokenCacheTTL bounds how long an authenticated token is trusted without a lookup.
const tokenCacheTTL = time.Minute

// Authenticate returns the actor an API token stands for.
func (s *Service) Authenticate(ctx context.Context, token string) (Actor, error) {
	h := TokenHash(token)
	if c, ok := s.tokens.Load(string(h)); ok && s.now().Before(c.(cachedActor).expires) {
		return c.(cachedActor).actor, nil
	}
	a, err := s.store.ActorByToken(ctx, h)
	if KindOf(err) == KindNotFound {
		return Actor{}, ErrUnauthenticated
	} else if err != nil {
		return Actor{}, err
	}
	s.tokens.Store(string(h), cachedActor{a, s.now().Add(tokenCacheTTL)})
	return a, nil
}

// Login checks a username and password and returns a new API token for the user.
func (s *Service) Login(ctx context.Context, username, password, tokenName string) (string, *User, error) {
	u, err := s.store.UserByName(ctx, username)
	if KindOf(err) == KindNotFound {
		CheckPassword(dummyHash(), password) // same work whether or not the user exists
		return "", nil, ErrUnauthenticated
	} else if err != nil {
		return "", nil, err
	}
	if !CheckPassword(u.PasswordHash, password) {
		return "", nil, ErrUnauthenticated
	}
	if err := checkText("name", tokenName, 0, 50); err != nil {
		return "", nil, err
	}
	token, hash := NewToken()
	err = s.store.Write(ctx, func(tx Tx) error { return tx.CreateToken(ctx, u.ID, tokenName, hash) })
	return token, u, err
}

// Logout revokes an API token: it no longer authenticates, here or on any node
// once their caches expire (tokenCacheTTL).
func (s *Service) Logout(ctx context.Context, token string) error {
	h := TokenHash(token)
	s.tokens.Delete(string(h))
	return s.store.Write(ctx, func(tx Tx) error { return tx.DeleteToken(ctx, h) })
}

// dummyHash is hashed once, on the first login of an unknown user, not at start-up.
var dummyHash = sync.OnceValue(func() string { return HashPassword("ganpin") })

// CreateParty registers a party; admins only.
func (s *Service) CreateParty(ctx context.Context, a Actor, p *Party) error {
	if err := a.mustHave(RoleAdmin); err != nil {
		return err
	}
	if err := p.Validate(); err != nil {
		return err
	}
	p.Created = s.now()
	return s.write(ctx, func() any { return p }, func(tx Tx) error { return tx.CreateParty(ctx, p) })
}

// CreateUser adds an account. Admins add any; a producer admin adds producer users
// to its own party.
func (s *Service) CreateUser(ctx context.Context, a Actor, u *User, password string) error {
	switch {
	case a.Has(RoleAdmin):
	case a.Has(RoleProducerAdmin) && u.PartyID == a.PartyID:
		for _, r := range u.Roles {
			if r != RoleProducerAdmin && r != RoleProducerClerk {
				return Forbidden("roles", "只能添加本主体的生产管理员或生产记录员", "a producer admin adds only producer admins and clerks")
			}
		}
	default:
		return Forbidden("party", "无权为该主体添加用户", "you may not add users to this party")
	}
	if err := checkText("username", u.Username, 3, 40); err != nil {
		return err
	}
	if err := checkText("name", u.Name, 0, 50); err != nil {
		return err
	}
	if len(u.Roles) == 0 {
		return Invalid("roles", "required", "至少需要一个角色", "at least one role is required")
	}
	if len(password) < 10 || len(password) > 200 {
		return Invalid("password", "weak_password", "密码长度须为10至200个字符", "a password has 10 to 200 characters")
	}
	if _, err := s.store.Party(ctx, u.PartyID); err != nil {
		return withField(err, "party")
	}
	u.PasswordHash = HashPassword(password)
	u.Created = s.now()
	return s.write(ctx, func() any { return u }, func(tx Tx) error { return tx.CreateUser(ctx, u) })
}

// CreateSite adds a site to the actor's party (admins name the party).
func (s *Service) CreateSite(ctx context.Context, a Actor, site *Site) error {
	if err := s.ownPartyWrite(a, &site.PartyID, RoleProducerAdmin, RoleLogistics); err != nil {
		return err
	}
	if err := site.Validate(); err != nil {
		return err
	}
	site.Created = s.now()
	return s.write(ctx, func() any { return site }, func(tx Tx) error { return tx.CreateSite(ctx, site) })
}

// CreateProduct adds a product to the catalogue, owned by the actor's party.
func (s *Service) CreateProduct(ctx context.Context, a Actor, p *Product) error {
	if err := s.ownPartyWrite(a, &p.PartyID, RoleProducerAdmin); err != nil {
		return err
	}
	if err := p.Validate(); err != nil {
		return err
	}
	p.Created = s.now()
	return s.write(ctx, func() any { return p }, func(tx Tx) error { return tx.CreateProduct(ctx, p) })
}

// ownPartyWrite authorises a write of the actor's own party's master data; admins
// may write for any party they name.
func (s *Service) ownPartyWrite(a Actor, partyID *int64, rs ...Role) error {
	if a.Has(RoleAdmin) {
		if *partyID == 0 {
			return Invalid("party", "required", "请指定主体", "name the party")
		}
		return nil
	}
	if err := a.mustHave(rs...); err != nil {
		return err
	}
	if *partyID != 0 && *partyID != a.PartyID {
		return Forbidden("party", "只能为本主体登记", "you may write only your own party's records")
	}
	*partyID = a.PartyID
	return nil
}

// Capture records events in one transaction: all of them or none.
func (s *Service) Capture(ctx context.Context, a Actor, specs []EventSpec) ([]*Event, error) {
	if err := a.mustHave(RoleProducerAdmin, RoleProducerClerk, RoleLogistics); err != nil {
		return nil, err
	}
	if len(specs) == 0 {
		return nil, Invalid("events", "required", "至少需要一个事件", "at least one event is required")
	}
	if len(specs) > MaxBatch {
		return nil, Invalid("events", "too_many", "每批最多%d个事件", "at most %d events per batch", MaxBatch)
	}
	var out []*Event
	err := s.write(ctx, func() any { return out }, func(tx Tx) error {
		out = out[:0]
		now := s.now()
		fields, err := prepareBatch(ctx, tx, specs)
		if err != nil {
			return err
		}
		var made batch
		for i := range specs {
			prefix := ""
			if len(specs) > 1 {
				prefix = fmt.Sprintf("events[%d].", i)
			}
			spec, err := made.resolve(&specs[i])
			if err != nil {
				return withPrefix(err, prefix)
			}
			e, err := s.capture(ctx, tx, a, spec, now)
			if err != nil {
				return withPrefix(err, prefix)
			}
			made.add(e)
			out = append(out, e)
		}
		if err := tx.Flush(ctx); err != nil {
			if e, ok := err.(*Error); ok && e.Code == "duplicate_lot_code" {
				if derr := duplicateCode(ctx, tx, a, fields); derr != nil {
					return derr
				}
			}
			return err
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// batch is what a capture batch has made so far, for references to it from later
// events: a lot ID of -k names the k-th lot the batch creates, a corrects of -k
// the batch's k-th event.
type batch struct {
	lots, events []int64
}

func (b *batch) add(e *Event) {
	b.events = append(b.events, e.ID)
	for _, l := range e.Lots {
		if l.Role == RoleOutput {
			b.lots = append(b.lots, l.Lot)
		}
	}
}

// resolve returns a copy of spec whose references to the batch are the IDs made
// (the caller's spec is left as it is, for a retried transaction).
func (b *batch) resolve(spec *EventSpec) (*EventSpec, error) {
	var bad string
	ref := func(field string, id int64, made []int64) int64 {
		if id >= 0 {
			return id
		}
		if int(-id) > len(made) {
			bad = field
			return id
		}
		return made[-id-1]
	}
	ids := func(field string, in []int64) []int64 {
		if !slices.ContainsFunc(in, func(id int64) bool { return id < 0 }) {
			return in
		}
		out := make([]int64, len(in))
		for i, id := range in {
			out[i] = ref(fmt.Sprintf("%s[%d]", field, i), id, b.lots)
		}
		return out
	}
	c := *spec
	c.Corrects = ref("corrects", spec.Corrects, b.events)
	switch {
	case spec.SelfTest != nil && spec.SelfTest.Lot < 0:
		st := *spec.SelfTest
		st.Lot = ref("self_test.lot", st.Lot, b.lots)
		c.SelfTest = &st
	case spec.Transformation != nil && slices.ContainsFunc(spec.Transformation.Inputs, func(in LotQuantity) bool { return in.Lot < 0 }):
		tr := *spec.Transformation
		tr.Inputs = slices.Clone(tr.Inputs)
		for i := range tr.Inputs {
			tr.Inputs[i].Lot = ref(fmt.Sprintf("transformation.inputs[%d].lot", i), tr.Inputs[i].Lot, b.lots)
		}
		c.Transformation = &tr
	case spec.Storing != nil:
		st := *spec.Storing
		st.Lots = ids("storing.lots", st.Lots)
		c.Storing = &st
	case spec.Shipping != nil:
		sh := *spec.Shipping
		sh.Lots = ids("shipping.lots", sh.Lots)
		c.Shipping = &sh
	case spec.Receiving != nil:
		rc := *spec.Receiving
		rc.Lots = ids("receiving.lots", rc.Lots)
		c.Receiving = &rc
	}
	if bad != "" {
		return nil, Invalid(bad, "unknown_batch_ref", "引用了本批次中之前未生成的批次或事件", "refers to a lot or event this batch has not made before it")
	}
	return &c, nil
}

// prepareBatch locks every existing lot the batch refers to in one query and checks
// that no new lot code appears twice; it returns the field of each new code. A code
// the owner already has is caught when the batch is written (see duplicateCode), so
// a batch costs a few round trips rather than a few per event.
func prepareBatch(ctx context.Context, tx Tx, specs []EventSpec) (map[string]string, error) {
	var ids []int64
	fields := map[string]string{}
	addCode := func(field, code string) error {
		if _, dup := fields[code]; dup && code != "" {
			return duplicateLot(field, code)
		}
		fields[code] = field
		return nil
	}
	for i := range specs {
		sp := &specs[i]
		prefix := ""
		if len(specs) > 1 {
			prefix = fmt.Sprintf("events[%d].", i)
		}
		switch {
		case sp.Harvest != nil:
			if err := addCode(prefix+"harvest.lot.code", sp.Harvest.Lot.Code); err != nil {
				return nil, err
			}
		case sp.Transformation != nil:
			for j, o := range sp.Transformation.Outputs {
				if err := addCode(fmt.Sprintf("%stransformation.outputs[%d].code", prefix, j), o.Code); err != nil {
					return nil, err
				}
			}
			for _, in := range sp.Transformation.Inputs {
				ids = append(ids, in.Lot)
			}
		case sp.SelfTest != nil:
			ids = append(ids, sp.SelfTest.Lot)
		case sp.Storing != nil:
			ids = append(ids, sp.Storing.Lots...)
		case sp.Shipping != nil:
			ids = append(ids, sp.Shipping.Lots...)
		case sp.Receiving != nil:
			ids = append(ids, sp.Receiving.Lots...)
		}
	}
	if len(ids) > 0 {
		return nil, tx.PrefetchLots(ctx, ids)
	}
	return fields, nil
}

// duplicateCode names the first new lot code of a batch that the owner already has.
func duplicateCode(ctx context.Context, tx Tx, a Actor, fields map[string]string) error {
	codes := make([]string, 0, len(fields))
	for c := range fields {
		codes = append(codes, c)
	}
	taken, err := tx.ExistingLotCodes(ctx, a.PartyID, codes)
	if err != nil || len(taken) == 0 {
		return err
	}
	slices.SortFunc(taken, func(x, y string) int { return strings.Compare(fields[x], fields[y]) })
	return duplicateLot(fields[taken[0]], taken[0])
}

// MaxBatch is the most events one capture call takes.
const MaxBatch = 10000

// write runs fn in a transaction and, when ctx carries an idempotency claim, records
// the response for the value result returns in the same transaction.
func (s *Service) write(ctx context.Context, result func() any, fn func(Tx) error) error {
	claim := IdempotencyFrom(ctx)
	return s.store.Write(ctx, func(tx Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		if claim == nil {
			return nil
		}
		status, body, err := claim.Render(result())
		if err != nil {
			return err
		}
		return tx.SaveReplay(ctx, claim.Principal, claim.Key, Replay{RequestHash: claim.RequestHash, Status: status, Body: body})
	})
}

// Idempotency lets a write record its response in the transaction that makes it, so
// that a retried request is answered from the record and writes nothing twice.
type Idempotency struct {
	Principal   string
	Key         string
	RequestHash []byte
	Render      func(result any) (status int, body []byte, err error)
}

type idemKey struct{}

// WithIdempotency returns a context whose writes record their response under c.
func WithIdempotency(ctx context.Context, c *Idempotency) context.Context {
	return context.WithValue(ctx, idemKey{}, c)
}

// IdempotencyFrom returns the claim ctx carries, or nil; other services' writes
// record their responses under it too.
func IdempotencyFrom(ctx context.Context) *Idempotency {
	c, _ := ctx.Value(idemKey{}).(*Idempotency)
	return c
}

// Replay returns the response recorded under an idempotency key.
func (s *Service) Replay(ctx context.Context, principal, key string) (Replay, bool, error) {
	return s.store.Replay(ctx, principal, key)
}

func (s *Service) capture(ctx context.Context, tx Tx, a Actor, spec *EventSpec, now time.Time) (*Event, error) {
	t, err := time.Parse(time.RFC3339, spec.Time)
	if err != nil {
		return nil, Invalid("time", "invalid_time", "时间格式无效，应为RFC 3339并带时区，如2026-11-20T08:30:00+08:00", "invalid time: use RFC 3339 with an offset, e.g. 2026-11-20T08:30:00+08:00")
	}
	if t.After(now.Add(5 * time.Minute)) {
		return nil, Invalid("time", "time_in_future", "事件时间不能晚于当前时间", "an event cannot happen in the future")
	}
	if t.Year() < 2000 {
		return nil, Invalid("time", "time_too_old", "事件时间早于2000年", "an event cannot happen before 2000")
	}
	if !spec.Type.valid() {
		return nil, Invalid("type", "unknown_type", "事件类型无效：%q", "unknown event type %q", spec.Type)
	}
	if err := spec.checkDetail(); err != nil {
		return nil, err
	}
	if a.Has(RoleLogistics) && !a.Has(RoleProducerAdmin, RoleProducerClerk) && spec.Type != Storing && spec.Type != Shipping && spec.Type != Receiving {
		return nil, Forbidden("type", "物流角色只能记录贮存、发运和收货事件", "the logistics role records only storing, shipping and receiving")
	}
	if err := checkText("note", spec.Note, 0, 500); err != nil {
		return nil, err
	}
	site, err := tx.Site(ctx, spec.Site)
	if err != nil {
		return nil, withField(err, "site")
	}
	if site.PartyID != a.PartyID {
		return nil, Forbidden("site", "只能在本主体的场所记录事件", "events are recorded at your own party's sites")
	}
	if spec.Corrects != 0 {
		if err := s.checkCorrection(ctx, tx, a, spec); err != nil {
			return nil, err
		}
	}
	ids, err := tx.ReserveIDs(ctx, "event", 1)
	if err != nil {
		return nil, err
	}
	e := &Event{ID: ids[0], PartyID: a.PartyID, UserID: a.UserID, Time: t, Recorded: now.Truncate(time.Microsecond), Spec: *spec}
	c := &capture{tx: tx, ctx: ctx, a: a, e: e, site: site}
	switch spec.Type {
	case InputApplication:
		err = c.inputApplication()
	case Harvest:
		err = c.harvest()
	case SelfTest:
		err = c.selfTest()
	case Transformation:
		err = c.transformation()
	case Storing:
		err = c.storing()
	case Shipping:
		err = c.shipping()
	case Receiving:
		err = c.receiving()
	}
	if err != nil {
		return nil, err
	}
	e.Seal()
	if err := tx.InsertEvent(ctx, e, c.newLots); err != nil {
		return nil, err
	}
	for _, l := range c.changed {
		if err := tx.UpdateLot(ctx, l); err != nil {
			return nil, err
		}
	}
	for _, ed := range c.edges {
		if err := tx.InsertEdge(ctx, ed.Parent, ed.Child, e.ID); err != nil {
			return nil, err
		}
	}
	return e, nil
}

func (t EventType) valid() bool { return t.BizStep() != "" }

// checkDetail checks that exactly the detail named by the type is present.
func (spec *EventSpec) checkDetail() error {
	present := map[EventType]bool{
		InputApplication: spec.Input != nil, Harvest: spec.Harvest != nil, SelfTest: spec.SelfTest != nil,
		Transformation: spec.Transformation != nil, Storing: spec.Storing != nil,
		Shipping: spec.Shipping != nil, Receiving: spec.Receiving != nil,
	}
	for t, ok := range present {
		if ok && t != spec.Type {
			return Invalid(string(t), "unexpected_detail", "事件类型为%s，不应包含%s", "a %s event has no %s details", spec.Type, t)
		}
	}
	if !present[spec.Type] {
		return Invalid(string(spec.Type), "required", "缺少%s事件的详细信息", "the %s details are required", spec.Type)
	}
	return nil
}

func (s *Service) checkCorrection(ctx context.Context, tx Tx, a Actor, spec *EventSpec) error {
	old, err := tx.Event(ctx, spec.Corrects)
	if err != nil {
		return withField(err, "corrects")
	}
	if old.PartyID != a.PartyID {
		return Forbidden("corrects", "只能更正本主体记录的事件", "you may correct only your own party's events")
	}
	if old.Spec.Type != spec.Type {
		return Invalid("corrects", "correction_type", "更正事件的类型必须与原事件相同", "a correction has the type of the event it corrects")
	}
	if spec.Type == Harvest || spec.Type == Transformation {
		return Invalid("corrects", "correction_creates_lots", "采收和分选包装事件已生成批次，不能更正；请联系管理员", "harvest and packing events created lots and cannot be corrected by a new event")
	}
	return nil
}

// capture holds the state of one event being captured.
type capture struct {
	tx      Tx
	ctx     context.Context
	a       Actor
	e       *Event
	site    *Site
	newLots []*Lot
	changed []*Lot
	edges   []Edge
}

func (c *capture) inputApplication() error {
	in := c.e.Spec.Input
	if c.site.Kind != Orchard {
		return Invalid("site", "not_orchard", "投入品使用只能记录在果园地块", "inputs are applied on an orchard")
	}
	for _, f := range []struct {
		field, v string
		min, max int
	}{
		{"input_application.product_name", in.ProductName, 1, 100},
		{"input_application.active_ingredient", in.ActiveIngredient, 1, 100},
		{"input_application.dose", in.Dose, 1, 50},
		{"input_application.target", in.Target, 0, 50},
	} {
		if err := checkText(f.field, f.v, f.min, f.max); err != nil {
			return err
		}
	}
	if !validRegistrationNo(in.RegistrationNo) {
		return Invalid("input_application.registration_no", "invalid_registration_no", "农药登记证号格式无效，如PD20080123", "invalid pesticide registration number, e.g. PD20080123")
	}
	if in.PHIDays < 0 || in.PHIDays > 365 {
		return Invalid("input_application.phi_days", "invalid_phi", "安全间隔期应为0至365天", "the pre-harvest interval is 0 to 365 days")
	}
	if in.AreaMu < 0 || in.AreaMu > c.site.AreaMu*1.0001 {
		return Invalid("input_application.area_mu", "invalid_area", "施药面积不能超过地块面积%.1f亩", "the treated area cannot exceed the orchard's %.1f mu", c.site.AreaMu)
	}
	return nil
}

// validRegistrationNo accepts 农药登记证号 such as PD20080123, LS20120345 or PD85150-43.
func validRegistrationNo(s string) bool {
	if len(s) < 4 || len(s) > 20 || s[0] < 'A' || s[0] > 'Z' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// PHIEnd returns the first moment a harvest is permitted after an application at t
// with a pre-harvest interval of days: midnight, local to t, days calendar days later.
func PHIEnd(t time.Time, days int) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d+days, 0, 0, 0, 0, t.Location())
}

func (c *capture) harvest() error {
	if c.site.Kind != Orchard {
		return Invalid("site", "not_orchard", "采收只能记录在果园地块", "a harvest happens on an orchard")
	}
	l, err := c.newLot("harvest.lot", &c.e.Spec.Harvest.Lot)
	if err != nil {
		return err
	}
	app, found, err := c.tx.BlockingApplication(c.ctx, c.site.ID, c.e.Time)
	if err != nil {
		return err
	}
	if found {
		in := app.Spec.Input
		end := PHIEnd(app.Time, in.PHIDays)
		return Invalid("time", "pre_harvest_interval",
			"采收时间在安全间隔期内：%s（%s）于%s施用，安全间隔期%d天，最早可采收日期为%s",
			"harvest inside the pre-harvest interval: %s (%s) applied on %s has a %d-day interval; the first permitted harvest date is %s",
			in.ProductName, in.RegistrationNo, app.Time.Format("2006-01-02"), in.PHIDays, end.Format("2006-01-02"))
	}
	c.e.Disposition = "active"
	c.e.Lots = []EventLot{{Lot: l.ID, Role: RoleOutput, Quantity: l.Quantity}}
	return nil
}

func (c *capture) newLot(field string, ns *NewLotSpec) (*Lot, error) {
	if err := checkLotCode(field+".code", ns.Code); err != nil {
		return nil, err
	}
	p, err := c.tx.Product(c.ctx, ns.Product)
	if err != nil {
		return nil, withField(err, field+".product")
	}
	if err := checkQuantity(field+".quantity", ns.Quantity); err != nil {
		return nil, err
	}
	if !ns.Unit.Valid() {
		return nil, unknownUnit(field+".unit", ns.Unit)
	}
	if ns.Unit.Mass() == 0 && ns.Unit != p.Unit {
		if p.Unit.Mass() != 0 {
			return nil, Invalid(field+".unit", "unit_mismatch", "产品%s按重量计量，不能按%s计数", "product %s is measured by mass, not counted in %s", p.Name, ns.Unit.ZH())
		}
		return nil, Invalid(field+".unit", "unit_mismatch", "产品%s按%s计数，不能按%s计数", "product %s is counted in %s, not %s", p.Name, p.Unit.ZH(), ns.Unit.ZH())
	}
	if !grades[ns.Grade] {
		return nil, Invalid(field+".grade", "invalid_grade", "等级应为特等、一等或二等", "the grade is 特等, 一等 or 二等")
	}
	ids, err := c.tx.ReserveIDs(c.ctx, "lot", 1)
	if err != nil {
		return nil, err
	}
	l := &Lot{ID: ids[0], OwnerID: c.a.PartyID, HolderID: c.a.PartyID, Code: ns.Code, ProductID: p.ID,
		Quantity: ns.Quantity, Remaining: ns.Quantity, Unit: ns.Unit, Grade: ns.Grade, SiteID: c.site.ID,
		EventID: c.e.ID, Created: c.e.Recorded}
	c.newLots = append(c.newLots, l)
	return l, nil
}

func duplicateLot(field, code string) *Error {
	return Conflict(field, "duplicate_lot_code", fmt.Sprintf("批次号%s已存在", code), fmt.Sprintf("lot code %s already exists", code))
}

func checkQuantity(field string, q float64) error {
	if !(q > 0) || q > 1e9 || math.IsInf(q, 0) {
		return Invalid(field, "invalid_quantity", "数量必须大于0且不超过10亿", "a quantity is greater than 0 and at most 1e9")
	}
	return nil
}

// heldLot reads a lot for writing and checks the actor's party holds it and it is not in transit.
func (c *capture) heldLot(field string, id int64) (*Lot, error) {
	l, err := c.tx.LockLot(c.ctx, id)
	if err != nil {
		return nil, withField(err, field)
	}
	if l.HolderID != c.a.PartyID {
		return nil, Forbidden(field, "该批次不在本主体名下", "this lot is not held by your party")
	}
	if l.InTransit != 0 {
		return nil, Conflict(field, "lot_in_transit", "该批次正在运输途中，需先收货", "this lot is in transit; record its receipt first")
	}
	for _, x := range c.changed {
		if x.ID == id {
			return x, nil
		}
	}
	return l, nil
}

func (c *capture) selfTest() error {
	st := c.e.Spec.SelfTest
	l, err := c.heldLot("self_test.lot", st.Lot)
	if err != nil {
		return err
	}
	if err := checkText("self_test.method", st.Method, 1, 100); err != nil {
		return err
	}
	if err := checkText("self_test.report", st.Report, 0, 100); err != nil {
		return err
	}
	if len(st.Items) > 50 {
		return Invalid("self_test.items", "too_many", "检测项目最多50项", "at most 50 items")
	}
	for i, it := range st.Items {
		if err := checkText(fmt.Sprintf("self_test.items[%d]", i), it, 1, 50); err != nil {
			return err
		}
	}
	c.e.Disposition = "conformant"
	if !st.Passed {
		c.e.Disposition = "non_conformant"
	}
	c.e.Lots = []EventLot{{Lot: l.ID, Role: RoleObject}}
	return nil
}

func (c *capture) transformation() error {
	tr := c.e.Spec.Transformation
	if len(tr.Inputs) == 0 || len(tr.Inputs) > 100 {
		return Invalid("transformation.inputs", "required", "需要1至100个投入批次", "1 to 100 input lots are required")
	}
	if len(tr.Outputs) == 0 || len(tr.Outputs) > 100 {
		return Invalid("transformation.outputs", "required", "需要1至100个产出批次", "1 to 100 output lots are required")
	}
	if tr.TolerancePct < 0 || tr.TolerancePct > 10 {
		return Invalid("transformation.tolerance_pct", "invalid_tolerance", "允许误差应为0至10%", "the tolerance is 0 to 10 percent")
	}
	var inKg, outKg float64
	var seen []int64
	for i, in := range tr.Inputs {
		f := fmt.Sprintf("transformation.inputs[%d]", i)
		if slices.Contains(seen, in.Lot) {
			return Invalid(f+".lot", "duplicate_input", "投入批次重复", "an input lot appears twice")
		}
		seen = append(seen, in.Lot)
		l, err := c.heldLot(f+".lot", in.Lot)
		if err != nil {
			return err
		}
		if err := checkQuantity(f+".quantity", in.Quantity); err != nil {
			return err
		}
		if in.Quantity > l.Remaining*(1+1e-9) {
			return Invalid(f+".quantity", "exceeds_remaining", "投入数量超过批次剩余数量%g%s", "the quantity exceeds the lot's remaining %g %s", l.Remaining, l.Unit)
		}
		p, err := c.tx.Product(c.ctx, l.ProductID)
		if err != nil {
			return err
		}
		inKg += p.Kg(in.Quantity, l.Unit)
		l.Remaining = math.Max(0, l.Remaining-in.Quantity)
		c.changed = append(c.changed, l)
		c.e.Lots = append(c.e.Lots, EventLot{Lot: l.ID, Role: RoleInput, Quantity: in.Quantity})
	}
	for i := range tr.Outputs {
		f := fmt.Sprintf("transformation.outputs[%d]", i)
		l, err := c.newLot(f, &tr.Outputs[i])
		if err != nil {
			return err
		}
		p, err := c.tx.Product(c.ctx, l.ProductID)
		if err != nil {
			return err
		}
		outKg += p.Kg(l.Quantity, l.Unit)
		c.e.Lots = append(c.e.Lots, EventLot{Lot: l.ID, Role: RoleOutput, Quantity: l.Quantity})
		for _, in := range tr.Inputs {
			c.edges = append(c.edges, Edge{Parent: in.Lot, Child: l.ID})
		}
	}
	if limit := inKg * (1 + tr.TolerancePct/100); outKg > limit*(1+1e-9) {
		return Invalid("transformation.outputs", "output_exceeds_input",
			"产出%.2f公斤超过投入%.2f公斤（允许误差%g%%）", "outputs of %.2f kg exceed inputs of %.2f kg (tolerance %g%%)", outKg, inKg, tr.TolerancePct)
	}
	c.e.Disposition = "active"
	return nil
}

func (c *capture) objectLots(field string, ids []int64) ([]*Lot, error) {
	if len(ids) == 0 || len(ids) > 1000 {
		return nil, Invalid(field, "required", "需要1至1000个批次", "1 to 1000 lots are required")
	}
	var ls []*Lot
	for i, id := range ids {
		if slices.Contains(ids[:i], id) {
			return nil, Invalid(fmt.Sprintf("%s[%d]", field, i), "duplicate_lot", "批次重复", "a lot appears twice")
		}
		c.e.Lots = append(c.e.Lots, EventLot{Lot: id, Role: RoleObject})
	}
	for i, id := range ids {
		l, err := c.heldLot(fmt.Sprintf("%s[%d]", field, i), id)
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
	}
	return ls, nil
}

func (c *capture) storing() error {
	if k := c.site.Kind; k != ColdStore && k != Warehouse {
		return Invalid("site", "not_store", "贮存只能记录在冷库或仓库", "storing happens in a cold store or warehouse")
	}
	if err := checkText("storing.room", c.e.Spec.Storing.Room, 0, 30); err != nil {
		return err
	}
	_, err := c.objectLots("storing.lots", c.e.Spec.Storing.Lots)
	c.e.Disposition = "in_progress"
	return err
}

func (c *capture) shipping() error {
	sh := c.e.Spec.Shipping
	for _, f := range []struct{ field, v string }{{"shipping.carrier", sh.Carrier}, {"shipping.vehicle", sh.Vehicle}, {"shipping.container", sh.Container}} {
		if err := checkText(f.field, f.v, 0, 50); err != nil {
			return err
		}
	}
	to, err := c.tx.Site(c.ctx, sh.To)
	if err != nil {
		return withField(err, "shipping.to")
	}
	if to.ID == c.site.ID {
		return Invalid("shipping.to", "same_site", "目的地不能与发货地相同", "the destination is the shipping site itself")
	}
	ls, err := c.objectLots("shipping.lots", sh.Lots)
	for _, l := range ls {
		l.InTransit = to.ID
		c.changed = append(c.changed, l)
	}
	c.e.Disposition = "in_transit"
	return err
}

func (c *capture) receiving() error {
	ids := c.e.Spec.Receiving.Lots
	if len(ids) == 0 || len(ids) > 1000 {
		return Invalid("receiving.lots", "required", "需要1至1000个批次", "1 to 1000 lots are required")
	}
	for i, id := range ids {
		f := fmt.Sprintf("receiving.lots[%d]", i)
		if slices.Contains(ids[:i], id) {
			return Invalid(f, "duplicate_lot", "批次重复", "a lot appears twice")
		}
		l, err := c.tx.LockLot(c.ctx, id)
		if err != nil {
			return withField(err, f)
		}
		if l.InTransit != c.site.ID {
			if l.HolderID != c.a.PartyID {
				return Forbidden(f, "该批次未发往本主体的此场所", "this lot was not shipped to this site of your party")
			}
			return Conflict(f, "not_in_transit", "该批次未发往此场所", "this lot was not shipped to this site")
		}
		l.InTransit, l.HolderID = 0, c.a.PartyID
		c.changed = append(c.changed, l)
		c.e.Lots = append(c.e.Lots, EventLot{Lot: id, Role: RoleObject})
	}
	c.e.Disposition = "in_progress"
	return nil
}

func withField(err error, field string) error {
	if e, ok := err.(*Error); ok && e.Field == "" {
		c := *e
		c.Field = field
		return &c
	}
	return err
}

func withPrefix(err error, prefix string) error {
	if e, ok := err.(*Error); ok && prefix != "" {
		c := *e
		c.Field = prefix + c.Field
		return &c
	}
	return err
}
