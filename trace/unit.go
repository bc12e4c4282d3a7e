package trace

// Unit is a unit of quantity.
type Unit string

// Units Ganpin accepts.
const (
	Kg    Unit = "kg"
	Tonne Unit = "t"
	Jin   Unit = "jin" // 斤, 0.5 kg
	Box   Unit = "box"
	Piece Unit = "piece"
)

var units = map[Unit]struct {
	kg     float64 // 0 for counts
	zh     string
	cefact string // UN/CEFACT Recommendation 20/21 code
}{
	Kg: {1, "公斤", "KGM"}, Tonne: {1000, "吨", "TNE"}, Jin: {0.5, "斤", "KGM"},
	Box: {0, "箱", "XBX"}, Piece: {0, "个", "H87"},
}

// Valid reports whether u is a known unit.
func (u Unit) Valid() bool { _, ok := units[u]; return ok }

// Mass returns the kilograms in one u, or 0 when u counts items.
func (u Unit) Mass() float64 { return units[u].kg }

// ZH returns the Chinese name of u.
func (u Unit) ZH() string { return units[u].zh }

// CEFACT returns the UN/CEFACT code of u.
func (u Unit) CEFACT() string { return units[u].cefact }

func unknownUnit(field string, u Unit) *Error {
	return Invalid(field, "unknown_unit", "计量单位无效：%q（可用 kg、t、jin、box、piece）", "unknown unit %q (use kg, t, jin, box or piece)", u)
}
