package trace

// County is an administrative division code of GB/T 2260.
type County struct {
	Code string
	Name string
}

// Counties lists the divisions Ganpin names: the 18 counties of 赣州 (the navel-orange
// region) and the destination districts the demo ships to. Codes are to be confirmed
// against the current GB/T 2260 edition.
var Counties = []County{
	{"360702", "赣州市章贡区"}, {"360703", "赣州市南康区"}, {"360704", "赣州市赣县区"},
	{"360722", "赣州市信丰县"}, {"360723", "赣州市大余县"}, {"360724", "赣州市上犹县"},
	{"360725", "赣州市崇义县"}, {"360726", "赣州市安远县"}, {"360728", "赣州市定南县"},
	{"360729", "赣州市全南县"}, {"360730", "赣州市宁都县"}, {"360731", "赣州市于都县"},
	{"360732", "赣州市兴国县"}, {"360733", "赣州市会昌县"}, {"360734", "赣州市寻乌县"},
	{"360735", "赣州市石城县"}, {"360781", "赣州市瑞金市"}, {"360783", "赣州市龙南市"},
	{"310115", "上海市浦东新区"}, {"310104", "上海市徐汇区"},
	{"440305", "深圳市南山区"}, {"440304", "深圳市福田区"},
	{"360111", "南昌市青山湖区"},
}

var countyNames = func() map[string]string {
	m := make(map[string]string, len(Counties))
	for _, c := range Counties {
		m[c.Code] = c.Name
	}
	return m
}()

// CountyName returns the name of a known county code, or "" when it is not in Counties.
func CountyName(code string) string { return countyNames[code] }

// ValidCountyCode reports whether code has the GB/T 2260 shape: six digits with a
// province prefix between 11 and 82 and a non-zero county part.
func ValidCountyCode(code string) bool {
	if len(code) != 6 {
		return false
	}
	for i := 0; i < 6; i++ {
		if code[i] < '0' || code[i] > '9' {
			return false
		}
	}
	p := int(code[0]-'0')*10 + int(code[1]-'0')
	return p >= 11 && p <= 82 && code[4:] != "00"
}
