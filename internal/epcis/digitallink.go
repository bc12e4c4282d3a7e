package epcis

import (
	"net/url"
	"strings"

	"github.com/ganpin/ganpin/trace"
)

// GS1 identifiers as URIs. Events carry them as GS1 Digital Link URIs on the
// canonical host id.gs1.org; older EPC URNs are read too.

// GLNURI returns the Digital Link URI of a location's GLN.
func GLNURI(gln string) string { return dlNS + "414/" + gln }

// LotClassURI returns the Digital Link URI of a lot of a product with a GTIN-14.
func LotClassURI(gtin, lot string) string { return dlNS + "01/" + gtin + "/10/" + url.PathEscape(lot) }

// dlPrimary lists the primary keys a canonical Digital Link may start with, and
// the one key qualifier each keeps, finest first (CBV 2.0 event hash, rule 4.III).
var dlPrimary = map[string][]string{
	"00": nil, "01": {"21", "10", "235"}, "253": nil, "255": nil, "401": nil, "402": nil, "414": {"254"},
	"417": nil, "8003": nil, "8004": nil, "8006": {"21", "10"}, "8010": {"8011"}, "8017": nil, "8018": nil,
}

// canonicalDL returns the constrained canonical form of a GS1 identifier URI: EPC
// URNs converted, the host replaced by id.gs1.org, the query dropped and only the
// finest key qualifier kept. It returns "" for URIs that hold no GS1 key.
func canonicalDL(uri string) string {
	if strings.HasPrefix(uri, "urn:epc:") {
		return epcURN(uri)
	}
	rest, ok := strings.CutPrefix(uri, "https://")
	if !ok {
		if rest, ok = strings.CutPrefix(uri, "http://"); !ok {
			return ""
		}
	}
	slash := strings.IndexByte(rest, '/')
	if slash <= 0 {
		return ""
	}
	path := rest[slash:]
	if i := strings.IndexAny(path, "?#"); i >= 0 {
		path = path[:i]
	}
	segs := strings.Split(strings.Trim(path, "/"), "/")
	for i, s := range segs {
		if ai, ok := dlShortNames[s]; ok {
			segs[i] = ai
		}
	}
	for i := 0; i+1 < len(segs); i++ {
		quals, ok := dlPrimary[segs[i]]
		if !ok || len(segs[i+1]) < 4 || !digits(segs[i+1][:4]) {
			continue
		}
		key := segs[i+1]
		if segs[i] == "01" {
			if key = gtin14(key); key == "" {
				return ""
			}
		}
		out := dlNS + segs[i] + "/" + key
		pairs := map[string]string{}
		for j := i + 2; j+1 < len(segs); j += 2 {
			pairs[segs[j]] = segs[j+1]
		}
		for _, q := range quals {
			if v, ok := pairs[q]; ok {
				return out + "/" + q + "/" + percentEncode(v)
			}
		}
		return out
	}
	return ""
}

// dlShortNames are the convenience names older Digital Links use for AIs.
var dlShortNames = map[string]string{"gtin": "01", "itip": "8006", "cpid": "8010", "gln": "414", "party": "417",
	"gsrnp": "8017", "gsrn": "8018", "gcn": "255", "sscc": "00", "gdti": "253", "ginc": "401", "gsin": "402",
	"grai": "8003", "giai": "8004", "cpv": "22", "lot": "10", "ser": "21"}

func digits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// gtin14 pads a GTIN-8, -12 or -13 to 14 digits; "" for any other length.
func gtin14(g string) string {
	switch len(g) {
	case 8, 12, 13, 14:
		return strings.Repeat("0", 14-len(g)) + g
	}
	return ""
}

// epcURN converts EPC URNs (EPC Tag Data Standard) to canonical Digital Link URIs;
// "" for schemes it does not know.
func epcURN(urn string) string {
	i := strings.LastIndexByte(urn[:min(len(urn), 21)], ':')
	scheme, body := urn[:i+1], urn[i+1:]
	f, ok := urnSchemes[scheme]
	switch {
	case scheme == "urn:epc:id:itip:" || scheme == "urn:epc:idpat:itip:":
		return itipURN(scheme, body)
	case scheme == "urn:epc:id:cpi:" || scheme == "urn:epc:idpat:cpi:":
		return cpiURN(scheme, body)
	case !ok:
		return ""
	}
	parts := strings.SplitN(body, ".", 3)
	if len(parts) < 2 || !digits(parts[0]) || (f.serial && len(parts) != 3) || (!f.serial && len(parts) != 2 && !f.pattern) {
		return ""
	}
	cp, ref, rest := parts[0], parts[1], ""
	if len(parts) == 3 {
		rest = parts[2]
	}
	if f.pattern && rest != "*" {
		return ""
	}
	if f.digits > 0 && (len(cp)+len(ref) != f.digits || ref != "" && !digits(ref)) {
		return ""
	}
	key := cp + ref
	if f.digits == 0 {
		key = cp + percentEncode(ref)
	}
	if f.indicator {
		key = ref[:1] + cp + ref[1:]
	}
	key = f.lead + key
	if f.check {
		c, _ := trace.GS1Check(key)
		key += string(c)
	}
	out := dlNS + f.ai + "/" + key
	switch {
	case f.pattern:
	case f.qualifier == "" && rest != "":
		out += percentEncode(rest)
	case rest != "" && !(f.ai == "414" && rest == "0"):
		out += "/" + f.qualifier + "/" + percentEncode(rest)
	}
	return out
}

// itipURN converts an ITIP (company prefix, item reference, piece, total and, for
// an instance, serial) to AI 8006.
func itipURN(scheme, body string) string {
	p := strings.Split(body, ".")
	pattern := scheme == "urn:epc:idpat:itip:"
	if len(p) != 5 || len(p[0])+len(p[1]) != 13 || !digits(p[0]+p[1]+p[2]+p[3]) || len(p[2]) != 2 || len(p[3]) != 2 || pattern != (p[4] == "*") {
		return ""
	}
	g := p[1][:1] + p[0] + p[1][1:]
	c, _ := trace.GS1Check(g)
	out := dlNS + "8006/" + g + string(c) + p[2] + p[3]
	if !pattern {
		out += "/21/" + percentEncode(p[4])
	}
	return out
}

// cpiURN converts a component/part identifier (company prefix, part reference and,
// for an instance, serial) to AIs 8010 and 8011.
func cpiURN(scheme, body string) string {
	cp, rest, ok := strings.Cut(body, ".")
	i := strings.LastIndexByte(rest, '.')
	if !ok || i < 0 || !digits(cp) {
		return ""
	}
	ref, serial := rest[:i], rest[i+1:]
	out := dlNS + "8010/" + percentEncode(cp+ref)
	if scheme == "urn:epc:idpat:cpi:" {
		if serial != "*" {
			return ""
		}
		return out
	}
	return out + "/8011/" + serial
}

// urnScheme says how an EPC URN scheme becomes a Digital Link: the key's digits
// (company prefix and reference, and an indicator digit moved to the front for
// GTINs), a leading zero, the check digit, and where the third part goes.
type urnScheme struct {
	ai        string
	digits    int
	indicator bool
	lead      string
	check     bool
	serial    bool   // a third part is required
	qualifier string // the third part's AI; "" appends it to the key
	pattern   bool   // an ID pattern ending in ".*": the class of the key
}

var urnSchemes = map[string]urnScheme{
	"urn:epc:id:sgtin:":    {ai: "01", digits: 13, indicator: true, check: true, serial: true, qualifier: "21"},
	"urn:epc:class:lgtin:": {ai: "01", digits: 13, indicator: true, check: true, serial: true, qualifier: "10"},
	"urn:epc:idpat:sgtin:": {ai: "01", digits: 13, indicator: true, check: true, pattern: true},
	"urn:epc:id:sscc:":     {ai: "00", digits: 17, indicator: true, check: true},
	"urn:epc:id:sgln:":     {ai: "414", digits: 12, check: true, serial: true, qualifier: "254"},
	"urn:epc:id:pgln:":     {ai: "417", digits: 12, check: true},
	"urn:epc:id:grai:":     {ai: "8003", digits: 12, lead: "0", check: true, serial: true},
	"urn:epc:idpat:grai:":  {ai: "8003", digits: 12, lead: "0", check: true, pattern: true},
	"urn:epc:id:giai:":     {ai: "8004"},
	"urn:epc:id:gsrn:":     {ai: "8018", digits: 17, check: true},
	"urn:epc:id:gsrnp:":    {ai: "8017", digits: 17, check: true},
	"urn:epc:id:gdti:":     {ai: "253", digits: 12, check: true, serial: true},
	"urn:epc:idpat:gdti:":  {ai: "253", digits: 12, check: true, pattern: true},
	"urn:epc:id:sgcn:":     {ai: "255", digits: 12, check: true, serial: true},
	"urn:epc:idpat:sgcn:":  {ai: "255", digits: 12, check: true, pattern: true},
	"urn:epc:id:upui:":     {ai: "01", digits: 13, indicator: true, check: true, serial: true, qualifier: "235"},
	"urn:epc:id:ginc:":     {ai: "401"},
	"urn:epc:id:gsin:":     {ai: "402", digits: 16, check: true},
}

// percentEncode encodes the characters GS1 Digital Link requires to be encoded in
// a value and EPC URNs allow unencoded.
var percentEncode = strings.NewReplacer("!", "%21", "(", "%28", ")", "%29", "*", "%2A", "+", "%2B", ",", "%2C", ":", "%3A").Replace
