package trace

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"time"
)

// LegKind is what a custody leg is.
type LegKind string

// Leg kinds.
const (
	TransportLeg LegKind = "transport" // from a shipping event to the receiving at its destination
	StorageLeg   LegKind = "storage"   // from a storing event until the last of its lots leaves
)

// Leg is a custody leg, named by the event that starts it.
type Leg struct {
	ID          int64     `json:"id"` // the shipping or storing event
	Kind        LegKind   `json:"kind"`
	EndEvent    int64     `json:"end_event,omitempty"` // 0 while open
	From        time.Time `json:"from"`
	To          time.Time `json:"to"` // the end event's time; while open, when the verdict was made
	Open        bool      `json:"open,omitempty"`
	Lots        []int64   `json:"lots"`
	Site        int64     `json:"site"` // transport: where it left; storage: the store
	Destination int64     `json:"destination,omitempty"`
	Room        string    `json:"room,omitempty"`
	Container   string    `json:"container,omitempty"`
	// Parties may assign devices to the leg and seal it: sender and receiver, or the store's party.
	Parties []int64 `json:"parties"`
}

// Source is one device assignment's contribution to a leg: the raw readings in the
// window, linked by their digest (ReadingsDigest).
type Source struct {
	Assignment int64     `json:"assignment"`
	Device     string    `json:"device"`
	Party      int64     `json:"party"`
	From       time.Time `json:"from"`
	To         time.Time `json:"to"`
	Readings   int       `json:"readings"`         // flagged ones included
	SHA256     string    `json:"sha256,omitempty"` // in summaries; live verdicts leave it out
}

// LegReport is a leg with its verdict, made now from the stored readings, and the
// latest sealed summary.
type LegReport struct {
	Leg     Leg
	Profile Profile
	Sources []Source
	Verdict LegVerdict
	Summary *LegSummary // nil until sealed
}

// LegSummary is a sealed LegReport: a record, never changed; readings that arrive
// later make a new version that supersedes it. It is a leaf of the log.
type LegSummary struct {
	ID         int64
	Version    int
	Supersedes int64
	PartyID    int64
	UserID     int64
	Recorded   time.Time
	Leg        Leg
	Profile    Profile
	Sources    []Source
	Verdict    LegVerdict
	Canonical  []byte
}

type canonicalSummary struct {
	Record     string     `json:"record"`
	ID         int64      `json:"id"`
	Version    int        `json:"version"`
	Supersedes int64      `json:"supersedes,omitempty"`
	Party      int64      `json:"party"`
	User       int64      `json:"user"`
	Recorded   string     `json:"recorded"`
	Leg        Leg        `json:"leg"`
	Profile    Profile    `json:"profile"`
	Sources    []Source   `json:"sources"`
	Verdict    LegVerdict `json:"verdict"`
}

// Seal computes the summary's canonical bytes; every field must be final.
func (ls *LegSummary) Seal() {
	b, err := json.Marshal(canonicalSummary{Record: "leg_summary", ID: ls.ID, Version: ls.Version, Supersedes: ls.Supersedes,
		Party: ls.PartyID, User: ls.UserID, Recorded: ls.Recorded.UTC().Format("2006-01-02T15:04:05.000000Z"),
		Leg: ls.Leg, Profile: ls.Profile, Sources: ls.Sources, Verdict: ls.Verdict})
	if err != nil {
		panic(err) // plain values only
	}
	ls.Canonical = b
}

// DecodeLegSummary rebuilds a summary from its canonical bytes.
func DecodeLegSummary(b []byte) (*LegSummary, error) {
	var c canonicalSummary
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, err
	}
	rec, err := time.Parse(time.RFC3339Nano, c.Recorded)
	if err != nil {
		return nil, err
	}
	return &LegSummary{ID: c.ID, Version: c.Version, Supersedes: c.Supersedes, PartyID: c.Party, UserID: c.User, Recorded: rec,
		Leg: c.Leg, Profile: c.Profile, Sources: c.Sources, Verdict: c.Verdict, Canonical: b}, nil
}

// AppendReadingLine appends a reading as one line of its canonical text: RFC 3339
// UTC time with microseconds, temperature, humidity (empty when absent) and
// flags, comma-separated, and a newline.
func AppendReadingLine(b []byte, r Reading) []byte {
	b = r.Time.UTC().AppendFormat(b, "2006-01-02T15:04:05.000000Z")
	b = append(b, ',')
	b = strconv.AppendFloat(b, r.Temp, 'f', -1, 64)
	b = append(b, ',')
	if !math.IsNaN(r.Humidity) {
		b = strconv.AppendFloat(b, r.Humidity, 'f', -1, 64)
	}
	b = append(b, ',')
	b = strconv.AppendInt(b, int64(r.Flags), 10)
	return append(b, '\n')
}

// ReadingsDigest is the SHA-256, in hex, of readings' lines (AppendReadingLine)
// in time order: anyone holding the raw readings can recompute it.
func ReadingsDigest(rs []Reading) string {
	h := sha256.New()
	var b []byte
	for _, r := range rs {
		b = AppendReadingLine(b[:0], r)
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// legReader is what finding and judging a leg reads: the store or a transaction.
type legReader interface {
	Reader
	ColdChainReader
}

// findLeg returns the leg an event starts; a KindNotFound *Error when the event
// starts none (it is neither shipping nor storing).
func findLeg(ctx context.Context, r legReader, id int64, now time.Time) (*Leg, error) {
	e, err := r.Event(ctx, id)
	if err != nil || (e.Spec.Type != Shipping && e.Spec.Type != Storing) {
		return nil, NotFound("", "leg", id)
	}
	leg := &Leg{ID: e.ID, From: e.Time, Site: e.Spec.Site, Parties: []int64{e.PartyID}}
	for _, el := range e.Lots {
		leg.Lots = append(leg.Lots, el.Lot)
	}
	var end *Event
	switch e.Spec.Type {
	case Shipping:
		leg.Kind, leg.Destination, leg.Container = TransportLeg, e.Spec.Shipping.To, e.Spec.Shipping.Container
		to, err := r.Site(ctx, leg.Destination)
		if err != nil {
			return nil, err
		}
		if to.PartyID != e.PartyID {
			leg.Parties = append(leg.Parties, to.PartyID)
		}
		end, err = nextEvent(ctx, r, leg.Lots[0], e.ID, func(x *Event) bool { return x.Spec.Type == Receiving && x.Spec.Site == leg.Destination })
		if err != nil {
			return nil, err
		}
	case Storing:
		leg.Kind, leg.Room = StorageLeg, e.Spec.Storing.Room
		// The stay lasts until the last of its lots leaves: shipped, stored again or repacked.
		for _, lot := range leg.Lots {
			left, err := nextEvent(ctx, r, lot, e.ID, func(x *Event) bool {
				return x.Spec.Type == Shipping || x.Spec.Type == Storing || x.Spec.Type == Transformation
			})
			if err != nil {
				return nil, err
			}
			if left == nil {
				end = nil
				break
			}
			if end == nil || left.Time.After(end.Time) {
				end = left
			}
		}
	}
	if end == nil {
		leg.Open, leg.To = true, now
	} else {
		leg.EndEvent, leg.To = end.ID, end.Time
	}
	return leg, nil
}

// nextEvent returns the first event after the event after that touches lot and
// matches ok, or nil.
func nextEvent(ctx context.Context, r Reader, lot, after int64, ok func(*Event) bool) (*Event, error) {
	var found *Event
	for p := (Page{Limit: 1000}); ; {
		evs, err := r.LotEvents(ctx, lot, p)
		if err != nil {
			return nil, err
		}
		for i := range evs {
			if evs[i].ID > after && ok(&evs[i]) {
				found = &evs[i] // newest first: the last match is the first after
			}
		}
		if len(evs) < p.Limit || evs[len(evs)-1].ID <= after {
			return found, nil
		}
		p.After = evs[len(evs)-1].ID
	}
}

// judgeLeg reads the readings of the devices assigned to a leg and judges them
// under the profile of its first lot's product, or returns the leg's summary when
// nothing changed since it was sealed; digest fills the sources' digests (needed
// to seal, not to look).
func judgeLeg(ctx context.Context, r legReader, leg *Leg, digest bool) (*LegReport, error) {
	lot, err := r.Lot(ctx, slices.Min(leg.Lots))
	if err != nil {
		return nil, err
	}
	prod, err := r.Product(ctx, lot.ProductID)
	if err != nil {
		return nil, err
	}
	rep := &LegReport{Leg: *leg, Profile: ProfileNamed(prod.ColdProfile), Sources: []Source{}}
	var as []Assignment
	switch leg.Kind {
	case TransportLeg:
		if as, err = r.Assignments(ctx, AssignmentFilter{Shipment: leg.ID}); err != nil {
			return nil, err
		}
		if leg.Container != "" {
			byContainer, err := r.Assignments(ctx, AssignmentFilter{Container: leg.Container})
			if err != nil {
				return nil, err
			}
			for _, a := range byContainer {
				if slices.Contains(leg.Parties, a.PartyID) { // only the sender's and receiver's loggers count
					as = append(as, a)
				}
			}
		}
	case StorageLeg:
		all, err := r.Assignments(ctx, AssignmentFilter{Site: leg.Site})
		if err != nil {
			return nil, err
		}
		for _, a := range all {
			if a.Room == "" || a.Room == leg.Room {
				as = append(as, a)
			}
		}
	}
	sums, err := r.LegSummaries(ctx, leg.ID)
	if err != nil {
		return nil, err
	}
	if len(sums) > 0 {
		rep.Summary = &sums[0]
	}
	type window struct {
		a        Assignment
		serial   string
		from, to time.Time
	}
	var ws []window
	for _, a := range as {
		from, to := maxTime(a.From, leg.From).UTC(), leg.To.UTC()
		if !a.To.IsZero() && a.To.Before(to) {
			to = a.To.UTC()
		}
		if to.Before(from) {
			continue
		}
		d, err := r.Device(ctx, a.DeviceID)
		if err != nil {
			return nil, err
		}
		ws = append(ws, window{a, d.Serial, from, to})
	}
	// A closed leg's summary stands while its readings are unchanged: readings are
	// never altered or deleted, so the same windows holding as many readings hold
	// the same ones.
	if sum := rep.Summary; sum != nil && !leg.Open && sum.Leg.EndEvent == leg.EndEvent && sum.Profile == rep.Profile && len(sum.Sources) == len(ws) {
		same := true
		for i, w := range ws {
			src := sum.Sources[i]
			if src.Assignment != w.a.ID || !src.From.Equal(w.from) || !src.To.Equal(w.to) {
				same = false
				break
			}
			n, err := r.CountReadings(ctx, w.a.DeviceID, w.from, w.to)
			if err != nil {
				return nil, err
			}
			if n != src.Readings {
				same = false
				break
			}
		}
		if same {
			rep.Sources, rep.Verdict = sum.Sources, sum.Verdict
			return rep, nil
		}
	}
	byDevice := map[string][]Reading{}
	for _, w := range ws {
		rs, err := r.Readings(ctx, w.a.DeviceID, w.from, w.to)
		if err != nil {
			return nil, err
		}
		src := Source{Assignment: w.a.ID, Device: w.serial, Party: w.a.PartyID, From: w.from, To: w.to, Readings: len(rs)}
		if digest {
			src.SHA256 = ReadingsDigest(rs)
		}
		rep.Sources = append(rep.Sources, src)
		byDevice[w.serial] = append(byDevice[w.serial], rs...)
	}
	series := make([]Series, 0, len(byDevice))
	for dev, rs := range byDevice {
		series = append(series, Series{Device: dev, Readings: rs})
	}
	slices.SortFunc(series, func(a, b Series) int { return cmp.Compare(a.Device, b.Device) })
	rep.Verdict = Judge(rep.Profile, leg.From, leg.To, series)
	return rep, nil
}

// sameSources reports whether two legs' sources hold the same readings.
func sameSources(a, b []Source) bool {
	return slices.EqualFunc(a, b, func(x, y Source) bool {
		return x.Assignment == y.Assignment && x.Device == y.Device && x.Party == y.Party && x.From.Equal(y.From) &&
			x.To.Equal(y.To) && x.Readings == y.Readings && x.SHA256 == y.SHA256
	})
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// mayReadLeg reports whether the actor may see a leg: its parties, readers of one
// of its lots, inspectors and admins.
func (s *Service) mayReadLeg(ctx context.Context, a Actor, leg *Leg) bool {
	if a.ReadsAll() || slices.Contains(leg.Parties, a.PartyID) {
		return true
	}
	for _, l := range leg.Lots {
		if _, err := s.Lot(ctx, a, l); err == nil {
			return true
		}
	}
	return false
}

// Leg returns the leg an event starts, with its verdict made now.
func (s *Service) Leg(ctx context.Context, a Actor, id int64) (*LegReport, error) {
	cs, err := s.cold()
	if err != nil {
		return nil, err
	}
	leg, err := findLeg(ctx, cs, id, s.now())
	if err != nil {
		return nil, err
	}
	if !s.mayReadLeg(ctx, a, leg) {
		return nil, NotFound("", "leg", id)
	}
	return judgeLeg(ctx, cs, leg, false)
}

// LotLegs returns the custody legs of a lot and of the lots it was made from, in
// time order, with their verdicts; readable like the lot's trace.
func (s *Service) LotLegs(ctx context.Context, a Actor, lotID int64) ([]LegReport, error) {
	g, err := s.Trace(ctx, a, lotID, Backward)
	if err != nil {
		return nil, err
	}
	return s.graphLegs(ctx, g)
}

func (s *Service) graphLegs(ctx context.Context, g *Graph) ([]LegReport, error) {
	cs, err := s.cold()
	if err != nil {
		return nil, err
	}
	evs := slices.Clone(g.Events)
	slices.SortFunc(evs, func(a, b Event) int { return cmp.Or(a.Time.Compare(b.Time), cmp.Compare(a.ID, b.ID)) })
	out := []LegReport{}
	now := s.now()
	for _, e := range evs {
		if e.Spec.Type != Shipping && e.Spec.Type != Storing {
			continue
		}
		leg, err := findLeg(ctx, cs, e.ID, now)
		if err != nil {
			return nil, err
		}
		rep, err := judgeLeg(ctx, cs, leg, false)
		if err != nil {
			return nil, err
		}
		out = append(out, *rep)
	}
	return out, nil
}

// SealLeg records the summary of a closed leg, by one of its parties. Sealing
// again returns the latest summary unless readings have changed since, which
// makes a new version superseding it.
func (s *Service) SealLeg(ctx context.Context, a Actor, id int64) (*LegSummary, error) {
	if err := a.mustHave(RoleProducerAdmin, RoleProducerClerk, RoleLogistics); err != nil {
		return nil, err
	}
	var out *LegSummary
	err := s.coldWrite(ctx, func() any { return out }, func(tx ColdChainTx) error {
		now := s.now()
		leg, err := findLeg(ctx, tx, id, now)
		if err != nil {
			return err
		}
		if !slices.Contains(leg.Parties, a.PartyID) {
			if s.mayReadLeg(ctx, a, leg) {
				return Forbidden("", "只有发货方、收货方或冷库方可以封存该段温度记录", "only the sender, the receiver or the store may seal this leg")
			}
			return NotFound("", "leg", id)
		}
		if leg.Open {
			return Conflict("", "leg_open", "该段尚未结束（尚未收货或出库），不能封存", "this leg has not ended yet (not received or still in store)")
		}
		rep, err := judgeLeg(ctx, tx, leg, true)
		if err != nil {
			return err
		}
		version, supersedes := 1, int64(0)
		if prev := rep.Summary; prev != nil {
			if sameSources(prev.Sources, rep.Sources) && prev.Profile == rep.Profile {
				out = prev
				return nil
			}
			version, supersedes = prev.Version+1, prev.ID
		}
		ids, err := tx.ReserveRecordIDs(ctx, "leg_summary", 1)
		if err != nil {
			return err
		}
		out = &LegSummary{ID: ids[0], Version: version, Supersedes: supersedes, PartyID: a.PartyID, UserID: a.UserID,
			Recorded: now.Truncate(time.Microsecond), Leg: rep.Leg, Profile: rep.Profile, Sources: rep.Sources, Verdict: rep.Verdict}
		out.Seal()
		return tx.InsertLegSummary(ctx, out)
	})
	return out, err
}
