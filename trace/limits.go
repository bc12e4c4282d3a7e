package trace

import (
	_ "embed"
	"encoding/json"
	"slices"
	"strings"
	"time"
)

// Residue limits (最大残留限量) are data, not code: limits.json holds them keyed by
// standard version and commodity. The shipped values are citrus starter values that
// are to be confirmed against the official text (Confirmed false, shown as 待核实).

// Limit is one maximum residue limit.
type Limit struct {
	Item      string   `json:"item"`
	Aliases   []string `json:"aliases,omitempty"`
	Limit     float64  `json:"limit"`
	Unit      string   `json:"unit"`
	Confirmed bool     `json:"confirmed"` // checked against the official text
}

// Commodity is a commodity group of a standard, with the sample names it covers.
type Commodity struct {
	Commodity string   `json:"commodity"`
	Names     []string `json:"names"`
	Limits    []Limit  `json:"limits"`
}

// Standard is one edition of a limits standard such as GB 2763-2026.
type Standard struct {
	Standard    string      `json:"standard"`
	Effective   string      `json:"effective"` // YYYY-MM-DD
	Commodities []Commodity `json:"commodities"`
}

// Limits is a limits table.
type Limits struct {
	Note      string     `json:"note"`
	Standards []Standard `json:"standards"`
}

//go:embed limits.json
var limitsJSON []byte

// DefaultLimits is the shipped table (limits.json).
var DefaultLimits = func() *Limits {
	var l Limits
	if err := json.Unmarshal(limitsJSON, &l); err != nil {
		panic("trace: limits.json: " + err.Error())
	}
	for _, s := range l.Standards {
		if _, err := time.Parse(time.DateOnly, s.Effective); err != nil {
			panic("trace: limits.json: " + s.Standard + ": " + err.Error())
		}
	}
	return &l
}()

// InForce returns the standard in force on day t: the latest edition effective by then.
func (l *Limits) InForce(t time.Time) (*Standard, bool) {
	var best *Standard
	day := t.In(cst).Format(time.DateOnly)
	for i := range l.Standards {
		s := &l.Standards[i]
		if s.Effective <= day && (best == nil || s.Effective > best.Effective) {
			best = s
		}
	}
	return best, best != nil
}

// Standard returns the edition named name.
func (l *Limits) Standard(name string) (*Standard, bool) {
	i := slices.IndexFunc(l.Standards, func(s Standard) bool { return s.Standard == name })
	if i < 0 {
		return nil, false
	}
	return &l.Standards[i], true
}

// Commodity returns the commodity group a sample name or group name falls in.
func (s *Standard) Commodity(name string) (*Commodity, bool) {
	name = strings.TrimSpace(name)
	for i := range s.Commodities {
		c := &s.Commodities[i]
		if c.Commodity == name || slices.Contains(c.Names, name) {
			return c, true
		}
	}
	return nil, false
}

// Limit returns the limit of an item (by name or alias).
func (c *Commodity) Limit(item string) (*Limit, bool) {
	item = strings.TrimSpace(item)
	for i := range c.Limits {
		l := &c.Limits[i]
		if l.Item == item || slices.Contains(l.Aliases, item) {
			return l, true
		}
	}
	return nil, false
}

var cst = time.FixedZone("CST", 8*3600)
